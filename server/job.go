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

// Runner runs flip jobs. The HTTP front calls it for every POST /flip:
// [Flipper] runs the job in this process; a runner that hands jobs to a
// queue and waits for the answer fits the same front.
type Runner interface {
	// Run runs job and blocks until it is done or ctx is cancelled.
	Run(ctx context.Context, job Job) (Result, error)
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
	// FlipMs is imaging.FlipV.
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

var _ Runner = (*Flipper)(nil)

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
	size, err := copyTo(src, job.Source)
	if err != nil {
		return res, err
	}
	if size == 0 {
		return res, ErrEmptySource
	}
	res.InputBytes = size
	res.CopyMs = ms(time.Since(t))
	if err := ctx.Err(); err != nil {
		return res, err
	}

	// 2. Decode it, checking the header first so that a huge image is
	// refused before its pixels are allocated.
	t = time.Now()
	img, format, err := decodeFile(src, cmp.Or(f.MaxPixels, DefaultMaxPixels))
	if err != nil {
		return res, err
	}
	res.Format = format
	res.Width, res.Height = img.Bounds().Dx(), img.Bounds().Dy()
	res.DecodeMs = ms(time.Since(t))
	if err := ctx.Err(); err != nil {
		return res, err
	}

	// 3. Flip it.
	t = time.Now()
	flipped := imaging.FlipV(img)
	res.FlipMs = ms(time.Since(t))
	if err := ctx.Err(); err != nil {
		return res, err
	}

	// 4. Encode it in the same format and save it.
	t = time.Now()
	dst := filepath.Join(f.Dir, fmt.Sprintf("job-%d-flipped.%s", n, format))
	defer os.Remove(dst)
	size, err = encodeFile(dst, flipped, formats[format], cmp.Or(f.Quality, DefaultQuality))
	if err != nil {
		return res, err
	}
	res.OutputBytes = size
	res.EncodeMs = ms(time.Since(t))
	res.TotalMs = ms(time.Since(start))

	if job.Output != nil {
		if err := copyFrom(job.Output, dst); err != nil {
			return res, fmt.Errorf("send flipped image: %w", err)
		}
	}
	return res, nil
}

func copyTo(path string, r io.Reader) (int64, error) {
	out, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("copy source: %w", err)
	}
	src := &trackedReader{r: r}
	n, err := io.Copy(out, src)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if src.err != nil {
		return n, fmt.Errorf("%w: %w", ErrReadSource, src.err)
	}
	if err != nil {
		return n, fmt.Errorf("copy source: %w", err)
	}
	return n, nil
}

// trackedReader keeps the error its reader returned, so that a failed
// read (the client's doing) is told from a failed write (the machine's).
type trackedReader struct {
	r   io.Reader
	err error
}

func (t *trackedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
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
	img, err := imaging.Decode(bufio.NewReaderSize(f, 64<<10))
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
	bw := bufio.NewWriterSize(out, 64<<10)
	err = imaging.Encode(bw, img, format, imaging.JPEGQuality(quality))
	if err == nil {
		err = bw.Flush()
	}
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
