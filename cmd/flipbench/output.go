package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flipbench/flipbench/report"
)

// writeJSONFile writes v as JSON to path, atomically.
func writeJSONFile(path string, v any) error {
	return writeFileAtomic(path, func(w io.Writer) error { return report.WriteJSON(w, v) })
}

// writePlot draws to path in the format its extension names, atomically.
func writePlot(path string, draw func(io.Writer, string) error) error {
	format, err := report.PlotFormatOf(path)
	if err != nil {
		return usageErrorf("--plot: %w", err)
	}
	return writeFileAtomic(path, func(w io.Writer) error { return draw(w, format) })
}

// writeFileAtomic writes path through a temporary file in the same
// directory, renamed into place, so that a crash, a failed write or a
// full disk never leaves half a file where a previous result was.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp := fmt.Sprintf("%s.tmp-%d", path, time.Now().UnixNano())
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// stdoutPath is the --out value that means standard output.
const stdoutPath = "-"

// Kinds of JSON file, by the prefix of their schema: an existing file of
// another kind is not overwritten.
const (
	kindLoad = "flipbench/load/"
	kindRun  = "flipbench/run/"
)

// checkOutput makes sure path can be written before the work starts, so
// that minutes of measurements are never lost to a typo at the end: its
// directory exists and takes a new file, and it is not a directory. With
// kind set, an existing non-empty file there must be a flipbench JSON file
// of that kind (a run file is not written over a load file, a source
// file or a photo). "-" (standard output) is always fine where allowed.
func checkOutput(flag, path, kind string, dashOK bool) error {
	if path == "" {
		return nil
	}
	if path == stdoutPath {
		if dashOK {
			return nil
		}
		return usageErrorf("%s: - (standard output) is not possible here: give a file", flag)
	}
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return usageErrorf("%s %s: is a directory", flag, path)
		}
		if kind != "" && fi.Size() > 0 {
			if got := schemaOf(path); !strings.HasPrefix(got, kind) {
				what := "not a flipbench JSON file"
				if got != "" {
					what = "a " + got + " file"
				}
				return usageErrorf("%s %s: refusing to overwrite %s with a %s file; remove it or choose another path", flag, path, what, strings.TrimSuffix(kind, "/"))
			}
		}
	}
	dir := filepath.Dir(path)
	probe, err := os.CreateTemp(dir, ".flipbench-probe-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return usageErrorf("%s %s: cannot write in %s: %w", flag, path, dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// schemaOf is the "schema" of a JSON file, "" if it has none or is not
// JSON.
func schemaOf(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var doc struct {
		Schema string `json:"schema"`
	}
	if json.NewDecoder(io.LimitReader(f, 64<<20)).Decode(&doc) != nil {
		return ""
	}
	return doc.Schema
}

// output is a file a command will write: its flag, path, kind (for
// checkOutput) and whether "-" may mean standard output.
type output struct {
	flag, path, kind string
	dashOK           bool
}

// checkOutputs checks every output before the work starts; two outputs
// may not share a path.
func checkOutputs(outs ...output) error {
	seen := map[string]string{}
	for _, o := range outs {
		if o.path == "" {
			continue
		}
		if err := checkOutput(o.flag, o.path, o.kind, o.dashOK); err != nil {
			return err
		}
		if prev, ok := seen[filepath.Clean(o.path)]; ok {
			return usageErrorf("%s and %s both write %s", prev, o.flag, o.path)
		}
		seen[filepath.Clean(o.path)] = o.flag
	}
	return nil
}

// writeResultJSON writes v, the command's JSON result, where --out says: nowhere
// (""), standard output ("-"), or a file. It returns where the table goes
// now: stdout, or stderr when stdout is the JSON document. A file that
// cannot be written is an error for later: the caller still prints its
// table. Only a failed write to stdout stops it at once (fatal).
func writeResultJSON(out string, v any, stdout, stderr io.Writer) (tableOut io.Writer, werr, fatal error) {
	switch out {
	case "":
		return stdout, nil, nil
	case stdoutPath:
		if err := report.WriteJSON(stdout, v); err != nil {
			return nil, nil, err
		}
		return stderr, nil, nil
	}
	return stdout, writeJSONFile(out, v), nil
}

// lazyFile is a file made on its first write (or by make): an output
// that is only written once the work has begun.
type lazyFile struct {
	path string
	f    *os.File
}

// make creates the file if no write has yet; nothing for a nil file.
func (l *lazyFile) make() error {
	if l == nil || l.f != nil {
		return nil
	}
	f, err := os.Create(l.path)
	if err != nil {
		return err
	}
	l.f = f
	return nil
}

func (l *lazyFile) Write(p []byte) (int, error) {
	if err := l.make(); err != nil {
		return 0, err
	}
	return l.f.Write(p)
}

// Close closes the file, if it was made.
func (l *lazyFile) Close() error {
	if l == nil || l.f == nil {
		return nil
	}
	return l.f.Close()
}
