package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/flipbench/flipbench/fixtures"
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
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included.
	DefaultReadTimeout = 2 * time.Minute
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

func (c Config) quality() int   { return orDefault(c.Quality, DefaultQuality) }
func (c Config) maxPixels() int { return orDefault(c.MaxPixels, DefaultMaxPixels) }
func (c Config) maxBody() int64 { return orDefault(c.MaxBody, DefaultMaxBody) }
func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c Config) imageName() string {
	if c.Image == "" {
		return FixturePrefix + fixtures.Default
	}
	return c.Image
}

// source returns an opener for the image flipped when a request has no body:
// the Image file, opened anew for every job as the article's server copies
// it from disk each time, or the embedded default.
func (c Config) source() (func() (io.ReadCloser, error), error) {
	name, embedded := strings.CutPrefix(c.Image, FixturePrefix)
	if c.Image == "" {
		name, embedded = fixtures.Default, true
	}
	if embedded {
		if _, err := fixtures.Bytes(name); err != nil {
			return nil, fmt.Errorf("image: %w (embedded: %s)", err, strings.Join(fixtures.Names(), ", "))
		}
		return func() (io.ReadCloser, error) { return fixtures.Open(name) }, nil
	}
	st, err := os.Stat(c.Image)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("image %s is a directory", c.Image)
	}
	path := c.Image
	return func() (io.ReadCloser, error) { return os.Open(path) }, nil
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

// ImageInfo describes the image a server flips when a request has no body.
type ImageInfo struct {
	// Name is the file's path or "fixture:NAME".
	Name string `json:"name"`
	// SHA256 is the hex digest of the file's bytes, Bytes their count.
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
	// Format, Width, Height and Pixels come from the image header.
	Format string `json:"format"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Pixels int    `json:"pixels"`
}

// ImageInfo reads the configured image (or the embedded default) and
// describes it, so that a benchmark run records exactly what was flipped.
func (c Config) ImageInfo() (ImageInfo, error) {
	open, err := c.source()
	if err != nil {
		return ImageInfo{}, err
	}
	r, err := open()
	if err != nil {
		return ImageInfo{}, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return ImageInfo{}, fmt.Errorf("image %s: %w", c.imageName(), err)
	}
	format, w, h, err := checkHeader(bytes.NewReader(b), c.maxPixels())
	if err != nil {
		return ImageInfo{}, fmt.Errorf("image %s: %w", c.imageName(), err)
	}
	sum := sha256.Sum256(b)
	return ImageInfo{Name: c.imageName(), SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(b)),
		Format: format, Width: w, Height: h, Pixels: w * h}, nil
}
