package server

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/disintegration/imaging"
)

// Errors a job returns for bad input; the HTTP front maps them to 4xx.
var (
	// ErrUnsupportedFormat means the source is not a JPEG, PNG, GIF, BMP or TIFF.
	ErrUnsupportedFormat = errors.New("unsupported image format (want jpeg, png, gif, bmp or tiff)")
	// ErrCorruptImage means the source has a known format but does not decode.
	ErrCorruptImage = errors.New("corrupt image")
	// ErrTooManyPixels means the image is larger than the pixel limit.
	ErrTooManyPixels = errors.New("image too large")
	// ErrEmptySource means the source had no bytes.
	ErrEmptySource = errors.New("empty image")
	// ErrReadSource means the source could not be read to its end: a
	// request body shorter than its Content-Length, cut off, or too slow.
	ErrReadSource = errors.New("reading the image")
)

// formats maps the names image.DecodeConfig reports to imaging's encoders,
// so the flipped image goes out in the format it came in.
var formats = map[string]imaging.Format{
	"jpeg": imaging.JPEG,
	"png":  imaging.PNG,
	"gif":  imaging.GIF,
	"bmp":  imaging.BMP,
	"tiff": imaging.TIFF,
}

// Job is one flip.
type Job struct {
	// Source is read to the end for the image bytes.
	Source io.Reader
	// Received is when the request reached the server; the job reports
	// the time from it to the job's start as queued. Zero means now.
	Received time.Time
	// Output, when not nil, receives the flipped image, read back from the
	// saved file before it is deleted.
	Output io.Writer
}

// Result describes a finished job.
type Result struct {
	// Format is the image format, as image.DecodeConfig names it ("jpeg").
	Format string `json:"format"`
	// InputBytes and OutputBytes are the sizes of the source and the
	// flipped image files.
	InputBytes  int64 `json:"input_bytes"`
	OutputBytes int64 `json:"output_bytes"`
	// Width and Height are the image's size in pixels.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Timings are the steps of the job, in milliseconds.
	Timings
}

// Timings are the durations of a job's steps in milliseconds.
type Timings struct {
	// QueuedMs is from Job.Received to the job's start. Time spent in the
	// kernel's accept queue, before a worker took the connection, is not
	// visible to the server; clients see it as latency.
	QueuedMs float64 `json:"queued_ms"`
	// CopyMs is copying the source into the temporary directory (for a
	// request body, receiving it).
	CopyMs float64 `json:"copy_ms"`
	// DecodeMs is reading and decoding the copied file.
	DecodeMs float64 `json:"decode_ms"`
	// FlipMs is the vertical flip: a JPEG's planes reversed in place, or
	// imaging.FlipV for the other formats.
	FlipMs float64 `json:"flip_ms"`
	// EncodeMs is encoding the flipped image and saving it to a file.
	EncodeMs float64 `json:"encode_ms"`
	// TotalMs is from the job's start to the flipped file being saved.
	TotalMs float64 `json:"total_ms"`
}

// Flipper runs the article's job in this process, step for step: copy the
// source into Dir, decode it, flip it vertically, encode it in the same
// format, save it, and delete both files.
type Flipper struct {
	// Dir is the directory for job files; it must exist. Every job's files
	// are deleted before Run returns, whatever happens.
	Dir string
	// Quality is the JPEG quality, 1 to 100. Zero means [DefaultQuality].
	Quality int
	// MaxPixels is the largest accepted image. Zero means [DefaultMaxPixels].
	MaxPixels int

	seq atomic.Uint64
}

// Run runs one job. Errors for bad input wrap [ErrUnsupportedFormat],
// [ErrCorruptImage], [ErrTooManyPixels] or [ErrEmptySource]; an error from
// reading Source is returned wrapped as it is (an *http.MaxBytesError, say).
// Between steps it gives up if ctx is done, to free the worker for someone
// who is still waiting.
func (f *Flipper) Run(ctx context.Context, job Job) (Result, error) {
	start := time.Now()
	var res Result
	if !job.Received.IsZero() {
		res.QueuedMs = ms(start.Sub(job.Received))
	}
	n := f.seq.Add(1)
	src := filepath.Join(f.Dir, fmt.Sprintf("job-%d-src", n))
	defer os.Remove(src)

	// 1. Copy the source into the temporary directory.
	t := time.Now()
	if err := f.copySource(src, job.Source, &res); err != nil {
		return res, err
	}
	res.CopyMs = ms(time.Since(t))
	if err := ctx.Err(); err != nil {
		return res, err
	}

	// 2. Decode it, checking the header first so that a huge image is
	// refused before its pixels are allocated.
	t = time.Now()
	img, err := f.decode(src, &res)
	if err != nil {
		return res, err
	}
	if res.Width*res.Height >= collectAfter {
		// The picture is garbage once the job is done, but the collector
		// would let the heap grow to twice what it held (a picture) before
		// it looks again: the next job's picture would come on top of
		// this one's. Collected now, the next job reuses its memory, and
		// a worker's peak RSS stays at one picture (48 MB for the 20 MP
		// photo, not 116). A collection of a heap with no picture left in
		// it takes well under a millisecond.
		defer runtime.GC()
	}
	res.DecodeMs = ms(time.Since(t))
	if err := ctx.Err(); err != nil {
		return res, err
	}

	// 3. Flip it.
	t = time.Now()
	flipped := f.flip(img, res.Format)
	res.FlipMs = ms(time.Since(t))
	if err := ctx.Err(); err != nil {
		return res, err
	}

	// 4. Encode it in the same format and save it.
	t = time.Now()
	dst := filepath.Join(f.Dir, fmt.Sprintf("job-%d-flipped.%s", n, res.Format))
	defer os.Remove(dst)
	if err := f.encode(dst, flipped, &res); err != nil {
		return res, err
	}
	res.EncodeMs = ms(time.Since(t))
	res.TotalMs = ms(time.Since(start))

	if job.Output != nil {
		if err := copyFrom(job.Output, dst); err != nil {
			return res, fmt.Errorf("send flipped image: %w", err)
		}
	}
	return res, nil
}

// copySource is Run's first step: it copies the source r into the file
// at path and records its size in res. An empty source is
// [ErrEmptySource].
func (f *Flipper) copySource(path string, r io.Reader, res *Result) error {
	size, err := copyTo(path, r)
	if err != nil {
		return err
	}
	if size == 0 {
		return ErrEmptySource
	}
	res.InputBytes = size
	return nil
}

// decode is Run's second step: it decodes the copied file at path,
// refusing a picture over MaxPixels from its header, and records the
// picture's format and size in res.
func (f *Flipper) decode(path string, res *Result) (image.Image, error) {
	img, format, err := decodeFile(path, cmp.Or(f.MaxPixels, DefaultMaxPixels))
	if err != nil {
		return nil, err
	}
	res.Format = format
	res.Width, res.Height = img.Bounds().Dx(), img.Bounds().Dy()
	return img, nil
}

// flip is Run's third step: it flips img, decoded from format, vertically.
// A JPEG decodes to its own planes (YCbCr, or gray), and a vertical flip
// of those is a reversal of each plane's rows, in place: no copy, and no
// conversion to RGBA and back that imaging's FlipV would make (which also
// leaves the encoder without its fast path). Other pictures go through
// imaging.
func (f *Flipper) flip(img image.Image, format string) image.Image {
	flipped, ok := image.Image(nil), false
	if format == "jpeg" {
		flipped, ok = flipPlanes(img)
	}
	if !ok {
		flipped = imaging.FlipV(img)
	}
	return flipped
}

// encode is Run's fourth step: it encodes img in res.Format, the format
// it came in (at Quality for a JPEG), saves it to the file at path and
// records the file's size in res.
func (f *Flipper) encode(path string, img image.Image, res *Result) error {
	size, err := encodeFile(path, img, formats[res.Format], cmp.Or(f.Quality, DefaultQuality))
	if err != nil {
		return err
	}
	res.OutputBytes = size
	return nil
}

// collectAfter is the size of a picture, in pixels, after whose job the
// garbage is collected at once (see Run): 4 MP, about 6 MB of planes.
const collectAfter = 4 << 20

// A worker runs one job after another: the buffers of a job's file I/O
// are kept for the next, not made again for each.
var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}
	copyBuf = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}
)

func copyTo(path string, r io.Reader) (int64, error) {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("copy source: %w", err)
	}
	src := &TrackedReader{R: r}
	buf := copyBuf.Get().(*[]byte)
	defer copyBuf.Put(buf)
	// io.CopyBuffer, not io.Copy: the file's ReadFrom would make its own
	// buffer each time for a reader that is not a file or a socket.
	n, err := io.CopyBuffer(onlyWriter{out}, src, *buf)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if src.Err != nil {
		return n, fmt.Errorf("%w: %w", ErrReadSource, src.Err)
	}
	if err != nil {
		return n, fmt.Errorf("copy source: %w", err)
	}
	return n, nil
}

// onlyWriter hides a file's ReadFrom, so that io.CopyBuffer uses the
// buffer it is given.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

// TrackedReader keeps the error its reader returned, so that a failed
// read (the client's doing: its upload) is told from a failed write (the
// machine's, or the broker's) when both end one copy.
type TrackedReader struct {
	R io.Reader
	// Err is the last error the reader returned other than io.EOF.
	Err error
}

func (t *TrackedReader) Read(p []byte) (int, error) {
	n, err := t.R.Read(p)
	if err != nil && err != io.EOF {
		t.Err = err
	}
	return n, err
}

func decodeFile(path string, maxPixels int) (image.Image, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("decode: %w", err)
	}
	defer f.Close()
	format, _, _, err := checkHeader(bufio.NewReader(f), maxPixels)
	if err != nil {
		return nil, "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, "", fmt.Errorf("decode: %w", err)
	}
	br := readers.Get().(*bufio.Reader)
	defer readers.Put(br)
	br.Reset(f)
	img, err := imaging.Decode(br)
	br.Reset(nil) // no file kept alive in the pool
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrCorruptImage, err)
	}
	return img, format, nil
}

func encodeFile(path string, img image.Image, format imaging.Format, quality int) (int64, error) {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("save: %w", err)
	}
	bw := writers.Get().(*bufio.Writer)
	defer writers.Put(bw)
	bw.Reset(out)
	err = imaging.Encode(bw, img, format, imaging.JPEGQuality(quality))
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("encode: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("save: %w", err)
	}
	return st.Size(), nil
}

// flipPlanes flips a decoded JPEG vertically in place, in its own
// colour model, and reports whether it knew how: *image.YCbCr (any
// subsampling) and *image.Gray. A picture whose chroma is subsampled
// vertically (4:2:0, 4:4:0, 4:1:0) and whose height is odd shares its
// last chroma row with one luma row only; after the flip that row comes
// first, so the picture is moved down one row (its bounds start at y = 1)
// for every luma row to find its own chroma again. The encoder reads the
// picture through its bounds, so it writes the same size.
func flipPlanes(img image.Image) (image.Image, bool) {
	switch m := img.(type) {
	case *image.Gray:
		reverseRows(m.Pix, m.Stride, m.Rect.Dy())
		return m, true
	case *image.YCbCr:
		r := m.Rect
		h := r.Dy()
		reverseRows(m.Y, m.YStride, h)
		ch := h
		vertical := false
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio410:
			ch, vertical = (r.Max.Y+1)/2-r.Min.Y/2, true
		case image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio411:
		default:
			return nil, false
		}
		if r.Min.Y != 0 || len(m.Cb) < ch*m.CStride || len(m.Cr) < ch*m.CStride {
			return nil, false // not as image/jpeg lays a picture out
		}
		reverseRows(m.Cb, m.CStride, ch)
		reverseRows(m.Cr, m.CStride, ch)
		if vertical && h%2 == 1 {
			m.Rect = image.Rect(r.Min.X, 1, r.Max.X, h+1)
		}
		return m, true
	}
	return nil, false
}

// reverseRows reverses the order of the first n rows of stride bytes in
// pix, swapping each pair through one row's buffer.
func reverseRows(pix []byte, stride, n int) {
	tmp := make([]byte, stride)
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		a, b := pix[i*stride:(i+1)*stride], pix[j*stride:(j+1)*stride]
		copy(tmp, a)
		copy(a, b)
		copy(b, tmp)
	}
}

func copyFrom(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// ms converts a duration to milliseconds, rounded to microseconds so that
// JSON output stays short.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
