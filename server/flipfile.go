package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// FlipFileConfig describes `flipbench flip`: the server's job run on a file.
type FlipFileConfig struct {
	// Open opens the source image; it is called once per run, as the
	// server opens its image once per request.
	Open func() (io.ReadCloser, error)
	// Output, when set, receives the last run's flipped image.
	Output io.Writer
	// Runs is how many times to run the job. Zero means one.
	Runs int
	// Quality is the JPEG quality. Zero means [DefaultQuality].
	Quality int
	// TmpDir is where the job's temporary directory goes. Empty means
	// the OS temporary directory.
	TmpDir string
}

// IsBadInput reports whether err means the image itself is unusable
// (unknown format, corrupt, too large, empty), as opposed to a failure of
// the machine.
func IsBadInput(err error) bool {
	return errors.Is(err, ErrUnsupportedFormat) || errors.Is(err, ErrCorruptImage) ||
		errors.Is(err, ErrTooManyPixels) || errors.Is(err, ErrEmptySource) || errors.Is(err, ErrReadSource)
}

// FlipFile runs the flip job cfg.Runs times with the same [Flipper] a
// worker uses and returns each run's result. When ctx is cancelled it
// stops after the current step and returns the runs that finished with
// ctx's error, so the caller can still report them.
func FlipFile(ctx context.Context, cfg FlipFileConfig) ([]Result, error) {
	dir, err := os.MkdirTemp(cfg.TmpDir, "flipbench-flip-")
	if err != nil {
		return nil, fmt.Errorf("make temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	f := &Flipper{Dir: dir, Quality: cfg.Quality}
	runs := max(cfg.Runs, 1)
	var results []Result
	for i := range runs {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		res, err := flipOnce(ctx, f, cfg, i == runs-1)
		if err != nil {
			return results, err
		}
		results = append(results, res)
	}
	return results, nil
}

func flipOnce(ctx context.Context, f *Flipper, cfg FlipFileConfig, last bool) (Result, error) {
	in, err := cfg.Open()
	if err != nil {
		return Result{}, err
	}
	defer in.Close()
	job := Job{Source: in}
	if last {
		job.Output = cfg.Output
	}
	return f.Run(ctx, job)
}
