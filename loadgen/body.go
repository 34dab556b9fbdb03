package loadgen

import (
	"io"
	"sync"
)

// hookedBody calls done once, when the body is closed.
type hookedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *hookedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}
