package server

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/flipbench/flipbench/fixtures"
)

// BenchmarkFlipper runs the whole job (copy, decode, flip, encode, save,
// delete) on the embedded images, one at a time as a worker runs them:
//
//	go test ./server -run '^$' -bench Flipper -benchmem
//	go test ./server -run '^$' -bench "Flipper/photo" -benchtime 10x -cpuprofile cpu.out
//
// The JPEGs take the fast path (their planes flipped in place), the PNG
// goes through imaging.
func BenchmarkFlipper(b *testing.B) {
	for _, name := range []string{fixtures.SmallJPEG, fixtures.SmallPNG, fixtures.Default} {
		b.Run(name, func(b *testing.B) {
			src := mustFixture(b, name)
			f := &Flipper{Dir: b.TempDir()}
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Run(context.Background(), Job{Source: bytes.NewReader(src), Output: io.Discard}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
