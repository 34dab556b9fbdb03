package server

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flipbench/flipbench/fixtures"
	"github.com/flipbench/flipbench/httpfront"
)

// Defaults for the zero values of [Config] and [Cluster] fields.
const (
	// DefaultThreads is GOMAXPROCS in a worker: one, so a worker is as
	// single-threaded as a Node.js worker and imaging cannot spread one job
	// over every core behind the benchmark's back.
	DefaultThreads = 1
	// DefaultQuality is the JPEG quality of the flipped image.
	DefaultQuality = 90
	// DefaultMaxBody is the largest request body accepted, in bytes.
	DefaultMaxBody = 64 << 20
	// DefaultMaxPixels is the largest image accepted, in pixels, checked
	// from the image header before any pixel buffer is allocated.
	DefaultMaxPixels = 100_000_000
	// DefaultReadHeaderTimeout bounds how long an accepted connection may
	// hold a job slot before its request headers arrive.
	DefaultReadHeaderTimeout = httpfront.DefaultReadHeaderTimeout
	// DefaultReadTimeout bounds reading a whole request, body included.
	DefaultReadTimeout = httpfront.DefaultReadTimeout
	// DefaultGrace is how long in-flight jobs may run after a stop signal.
	DefaultGrace = 30 * time.Second
)

// FixturePrefix marks an embedded image in [Config.Image]:
// "fixture:small.jpg".
const FixturePrefix = "fixture:"

// Config configures one server process.
type Config struct {
	// Image is the file flipped for a POST /flip without a body, or
	// "fixture:NAME" for an embedded image. Empty means the embedded
	// default photo, [fixtures.Default].
	Image string `json:"image,omitempty"`
	// Threads is the number of job slots, and GOMAXPROCS in a worker
	// process. Zero means one per CPU. The CLI default is [DefaultThreads].
	Threads int `json:"threads"`
	// Quality is the JPEG quality, 1 to 100. Zero means [DefaultQuality].
	Quality int `json:"quality,omitempty"`
	// TmpDir is where each server makes its own temporary directory for
	// job files. Empty means the OS temporary directory.
	TmpDir string `json:"tmp_dir,omitempty"`
	// MaxBody is the largest accepted request body in bytes. Zero means
	// [DefaultMaxBody].
	MaxBody int64 `json:"max_body,omitempty"`
	// MaxPixels is the largest accepted image in pixels. Zero means
	// [DefaultMaxPixels].
	MaxPixels int `json:"max_pixels,omitempty"`
	// ReadTimeout bounds the time a request takes to arrive, body
	// included, from the moment a worker takes it; a body that trickles
	// past it gets 408. Zero means [DefaultReadTimeout].
	ReadTimeout time.Duration `json:"read_timeout,omitempty"`
	// Worker is this process's index in its cluster, reported in responses
	// and logs.
	Worker int `json:"worker"`
	// LogFormat is "text" or "json", for the logger a worker process makes
	// for itself. Empty means "text".
	LogFormat string `json:"log_format,omitempty"`
	// Logger receives the server's events. Nil means no logging.
	Logger *slog.Logger `json:"-"`
}

// Validate checks the configuration and, when Image is set, that the file
// exists and is an image of a supported format within MaxPixels, so that a
// bad --image fails at once instead of in every request.
func (c Config) Validate() error {
	if c.Threads < 0 {
		return fmt.Errorf("threads must be >= 0, got %d", c.Threads)
	}
	if c.Quality < 0 || c.Quality > 100 {
		return fmt.Errorf("quality must be between 1 and 100, got %d", c.Quality)
	}
	if c.MaxBody < 0 {
		return fmt.Errorf("max body must be >= 0, got %d", c.MaxBody)
	}
	if c.MaxPixels < 0 {
		return fmt.Errorf("max pixels must be >= 0, got %d", c.MaxPixels)
	}
	if c.ReadTimeout < 0 {
		return fmt.Errorf("read timeout must be >= 0, got %s", c.ReadTimeout)
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		return fmt.Errorf("log format must be text or json, got %q", c.LogFormat)
	}
	if c.TmpDir != "" {
		if st, err := os.Stat(c.TmpDir); err != nil {
			return fmt.Errorf("tmp dir: %w", err)
		} else if !st.IsDir() {
			return fmt.Errorf("tmp dir %s is not a directory", c.TmpDir)
		}
	}
	src, err := c.source()
	if err != nil {
		return err
	}
	r, err := src()
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer r.Close()
	if _, _, _, err := checkHeader(r, c.maxPixels()); err != nil {
		return fmt.Errorf("image %s: %w", c.imageName(), err)
	}
	return nil
}

// CheckImage decodes the whole image once, so that a truncated or
// corrupt file fails before a server or a bench starts instead of in
// every request: Validate reads the header alone, which a file cut short
// still has. Decoding costs what a job's decode does (half a second for a
// 20 MP photo), so the CLI calls it once, not every worker; the embedded
// fixtures, decoded by their tests, are not decoded again.
func (c Config) CheckImage() error {
	if c.Image == "" || strings.HasPrefix(c.Image, FixturePrefix) {
		return nil
	}
	if _, _, err := decodeFile(c.Image, c.maxPixels()); err != nil {
		return fmt.Errorf("image %s: %w", c.Image, err)
	}
	return nil
}

func (c Config) quality() int         { return cmp.Or(c.Quality, DefaultQuality) }
func (c Config) maxPixels() int       { return cmp.Or(c.MaxPixels, DefaultMaxPixels) }
func (c Config) maxBody() int64       { return cmp.Or(c.MaxBody, DefaultMaxBody) }
func (c Config) logger() *slog.Logger { return cmp.Or(c.Logger, slog.New(slog.DiscardHandler)) }

func (c Config) imageName() string { return cmp.Or(c.Image, FixturePrefix+fixtures.Default) }

// source returns an opener for the image flipped when a request has no
// body (see [ImageOpener]).
func (c Config) source() (func() (io.ReadCloser, error), error) {
	open, err := ImageOpener(c.imageName())
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return open, nil
}

// ImageOpener returns an opener for an image: "fixture:NAME" for an
// embedded one, else a file, opened anew at every call as the article's
// server copies its photo from disk for every job. It fails at once for
// an unknown fixture, a missing file or a directory.
func ImageOpener(name string) (func() (io.ReadCloser, error), error) {
	if fixture, ok := strings.CutPrefix(name, FixturePrefix); ok {
		// Opened, not read: a copy of the photo would cost every process
		// that checks its configuration 6.6 MB, and touching the binary's
		// copy would map its pages into the process.
		f, err := fixtures.Open(fixture)
		if err != nil {
			return nil, fmt.Errorf("%w (embedded: %s)", err, strings.Join(fixtures.Names(), ", "))
		}
		f.Close()
		return func() (io.ReadCloser, error) { return fixtures.Open(fixture) }, nil
	}
	st, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not an image", name)
	}
	return func() (io.ReadCloser, error) { return os.Open(name) }, nil
}

// checkHeader reads an image header and returns its format and size,
// refusing unknown formats and images over maxPixels before any pixel
// buffer exists.
func checkHeader(r io.Reader, maxPixels int) (format string, w, h int, err error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return "", 0, 0, ErrUnsupportedFormat
		}
		return "", 0, 0, fmt.Errorf("%w: %w", ErrCorruptImage, err)
	}
	if _, ok := formats[format]; !ok {
		return "", 0, 0, fmt.Errorf("%w: %s", ErrUnsupportedFormat, format)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return "", 0, 0, fmt.Errorf("%w: %dx%d pixels", ErrCorruptImage, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return "", 0, 0, fmt.Errorf("%w: %dx%d is over the limit of %d pixels", ErrTooManyPixels, cfg.Width, cfg.Height, maxPixels)
	}
	return format, cfg.Width, cfg.Height, nil
}

func orDefault[T int | int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Image is the image a server flips when a request has no body.
type Image struct {
	// Name is the file's path or "fixture:NAME".
	Name string
	// Data is the file's bytes.
	Data []byte
	// Format, Width and Height come from the image header.
	Format        string
	Width, Height int
}

// ReadImage reads the configured image (or the embedded default) and
// checks its header as a job would, so that a benchmark can record
// exactly what was flipped.
func (c Config) ReadImage() (Image, error) {
	open, err := c.source()
	if err != nil {
		return Image{}, err
	}
	r, err := open()
	if err != nil {
		return Image{}, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", c.imageName(), err)
	}
	format, w, h, err := checkHeader(bytes.NewReader(b), c.maxPixels())
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", c.imageName(), err)
	}
	return Image{Name: c.imageName(), Data: b, Format: format, Width: w, Height: h}, nil
}

// ResolveImage checks an image name as [Config.Image] takes it ("",
// "fixture:NAME" or a file) and returns it as a process started in
// another directory finds it: a file's path made absolute.
func ResolveImage(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	if _, err := ImageOpener(name); err != nil {
		return "", err
	}
	if strings.HasPrefix(name, FixturePrefix) {
		return name, nil
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", err
	}
	return abs, nil
}
