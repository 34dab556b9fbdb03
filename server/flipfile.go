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
	// Out, when set, receives the last run's flipped image. It is written
	// through a temporary file and left alone if the run fails.
	Out string
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
		errors.Is(err, ErrTooManyPixels) || errors.Is(err, ErrEmptySource)
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
	var out *os.File
	if last && cfg.Out != "" {
		if out, err = os.CreateTemp(dirOf(cfg.Out), ".flipbench-out-*"); err != nil {
			return Result{}, fmt.Errorf("write %s: %w", cfg.Out, err)
		}
		defer os.Remove(out.Name()) // a no-op once renamed
		job.Output = out
	}
	res, err := f.Run(ctx, job)
	if out != nil {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write %s: %w", cfg.Out, cerr)
		}
		if err == nil {
			if rerr := os.Rename(out.Name(), cfg.Out); rerr != nil {
				err = fmt.Errorf("write %s: %w", cfg.Out, rerr)
			}
		}
	}
	return res, err
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			return path[:i+1]
		}
	}
	return "."
}
