package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/flipbench/flipbench/loadgen"
)

// progressEvery is how often a line is printed off a terminal while a
// round runs, so that a long CI step is not silent.
const progressEvery = 5 * time.Second

// progress shows how far a run has got on stderr: a live bar on a
// terminal, and otherwise (CI logs, files) a line every progressEvery
// and one per finished round; nothing when quiet.
type progress struct {
	w     io.Writer
	tty   bool
	quiet bool
	// mu orders the bar's updates and the lines printed between them: a
	// capacity search reports a step while the next arm's load runs.
	mu   sync.Mutex
	bar  *progressbar.ProgressBar
	last time.Time // of the last line, off a terminal
}

func newProgress(w io.Writer, quiet bool) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, quiet: quiet, tty: ok && term.IsTerminal(int(f.Fd()))}
}

// update is a loadgen Progress callback; label names what is measured.
// A Total of 0 is a closed loop, whose count is not known in advance.
func (p *progress) update(label string, pr loadgen.Progress) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	desc := label
	if pr.Rounds > 1 {
		desc = fmt.Sprintf("%s round %d/%d", label, pr.Round, pr.Rounds)
	}
	if !p.tty {
		if pr.Done == 1 {
			p.last = time.Now() // a round starts
		}
		switch {
		case pr.Total > 0 && pr.Done == pr.Total && pr.Canceled > 0:
			// Cut short by Ctrl-C: "done" would say they were answered.
			fmt.Fprintf(p.w, "%s: %d/%d ended: %d ok, %d errors, %d cancelled\n", desc, pr.Done, pr.Total, pr.Done-pr.Errors-pr.Canceled, pr.Errors, pr.Canceled)
		case pr.Total > 0 && pr.Done == pr.Total:
			fmt.Fprintf(p.w, "%s: %d/%d done, %d errors\n", desc, pr.Done, pr.Total, pr.Errors)
		case time.Since(p.last) >= progressEvery:
			p.last = time.Now()
			if pr.Total > 0 {
				fmt.Fprintf(p.w, "%s: %d/%d done, %d errors so far\n", desc, pr.Done, pr.Total, pr.Errors)
			} else {
				fmt.Fprintf(p.w, "%s: %d done, %d errors so far\n", desc, pr.Done, pr.Errors)
			}
		}
		return
	}
	if p.bar == nil || pr.Done == 1 {
		p.clear()
		total := pr.Total
		if total == 0 {
			total = -1 // a spinner: the count is not known
		}
		p.bar = progressbar.NewOptions(total,
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
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

// println clears the bar and prints a line; the next update draws the
// bar again.
func (p *progress) println(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintln(p.w, line)
}

func (p *progress) clear() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
