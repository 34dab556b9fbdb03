package main

import (
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/flipbench/flipbench/loadgen"
)

// progress shows how far a run has got on stderr: a live bar on a
// terminal, and otherwise (CI logs, files) one line per finished round.
type progress struct {
	w   io.Writer
	tty bool
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

// update is a loadgen Progress callback; label names what is measured.
func (p *progress) update(label string, pr loadgen.Progress) {
	desc := label
	if pr.Rounds > 1 {
		desc = fmt.Sprintf("%s round %d/%d", label, pr.Round, pr.Rounds)
	}
	if !p.tty {
		if pr.Done == pr.Total {
			fmt.Fprintf(p.w, "%s: %d/%d done, %d errors\n", desc, pr.Done, pr.Total, pr.Errors)
		}
		return
	}
	if p.bar == nil || pr.Done == 1 {
		p.finish()
		p.bar = progressbar.NewOptions(pr.Total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionClearOnFinish(),
		)
	}
	p.bar.Set(pr.Done)
}

// finish clears the bar, if any, before results are printed.
func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
