// Package action tests the flipbench GitHub Action (action.yml at the
// repository root, and the script it runs, flipbench-action.sh) the way a
// runner would run it, against fake releases laid out like GitHub's.
package action

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

const (
	// release is the version the fake releases carry; the binary is built
	// with goreleaser's -X main.version={{.Version}}, which has no v.
	release = "1.2.3"
	tag     = "v" + release
)

var (
	// flipbench is the real binary, built once by TestMain, and
	// flipbenchArchive that binary packed as a release archive; empty when
	// the tests cannot run here (see skipReason).
	flipbench        string
	flipbenchArchive []byte
	skipReason       string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	switch {
	case runtime.GOOS != "linux" && runtime.GOOS != "darwin":
		skipReason = "flipbench releases are built for linux and darwin only"
	case runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64":
		skipReason = "flipbench releases are built for amd64 and arm64 only"
	}
	if _, err := exec.LookPath("bash"); err != nil && skipReason == "" {
		skipReason = "no bash: " + err.Error()
	}
	if skipReason != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "flipbench-action-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	flipbench = filepath.Join(dir, "flipbench")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+release, "-o", flipbench, "../cmd/flipbench")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	if flipbenchArchive, err = packExe(flipbench); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func skipIfUnsupported(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// archiveName is goreleaser's default archive name for project flipbench.
func archiveName(goos, goarch string) string {
	return fmt.Sprintf("flipbench_%s_%s_%s.tar.gz", release, goos, goarch)
}

// fakeRelease is a release directory laid out as the script expects of
// GitHub: download/TAG/FILE and latest/download/FILE.
type fakeRelease struct {
	dir      string
	archives map[string][]byte // file name -> contents
	// sums overrides an archive's checksum in checksums.txt.
	sums map[string]string
}

// newTestRelease makes archive this platform's, and puts in archives of
// the other platforms that hold no flipbench, so that a script that picks
// the wrong one cannot pass.
func newTestRelease(t *testing.T, archive []byte) *fakeRelease {
	t.Helper()
	r := &fakeRelease{dir: t.TempDir(), archives: map[string][]byte{}, sums: map[string]string{}}
	for _, goos := range []string{"linux", "darwin"} {
		for _, goarch := range []string{"amd64", "arm64"} {
			body := archive
			if goos != runtime.GOOS || goarch != runtime.GOARCH {
				var err error
				if body, err = tarGz("README.md", []byte("not this platform\n")); err != nil {
					t.Fatal(err)
				}
			}
			r.archives[archiveName(goos, goarch)] = body
		}
	}
	return r
}

// write lays the release out on disk.
func (r *fakeRelease) write(t *testing.T) {
	t.Helper()
	var sums strings.Builder
	tagDir := filepath.Join(r.dir, "download", tag)
	for _, d := range []string{tagDir, filepath.Join(r.dir, "latest", "download")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range r.archives {
		sum, ok := r.sums[name]
		if !ok {
			sum = fmt.Sprintf("%x", sha256.Sum256(body))
		}
		fmt.Fprintf(&sums, "%s  %s\n", sum, name)
		mustWrite(t, filepath.Join(tagDir, name), body)
	}
	mustWrite(t, filepath.Join(tagDir, "checksums.txt"), []byte(sums.String()))
	mustWrite(t, filepath.Join(r.dir, "latest", "download", "checksums.txt"), []byte(sums.String()))
}

// packExe packs the executable at path as goreleaser does: a tar.gz with
// the binary, named flipbench, at its root.
func packExe(path string) ([]byte, error) {
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return tarGz("flipbench", bin)
}

func tarGz(name string, body []byte) ([]byte, error) {
	var buf bytes.Buffer
	// BestSpeed: the binary is tens of MB, and the tests pack it each run.
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	hdr := &tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(body); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func mustWrite(t *testing.T, path string, body []byte) {
	t.Helper()
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runnerPlatform is what a GitHub runner of this machine's kind says in
// RUNNER_OS and RUNNER_ARCH.
func runnerPlatform() (osName, arch string) {
	osName, arch = "Linux", "X64"
	if runtime.GOOS == "darwin" {
		osName = "macOS"
	}
	if runtime.GOARCH == "arm64" {
		arch = "ARM64"
	}
	return osName, arch
}

// result is what one run of the action left behind.
type result struct {
	code           int
	stdout, stderr string
	summary        string            // $GITHUB_STEP_SUMMARY
	outputs        map[string]string // $GITHUB_OUTPUT
	path           string            // $GITHUB_PATH
	runnerTemp     string
}

// runAction runs the script as the composite step does: bash, with the
// inputs in INPUT_* and a runner's files in a temp dir. The environment is
// built from scratch, so that neither a real runner's variables nor a
// developer's FLIPBENCH_* settings reach it.
func runAction(t *testing.T, releases string, env ...string) result {
	t.Helper()
	tmp := t.TempDir()
	r := result{runnerTemp: filepath.Join(tmp, "runner-temp"), outputs: map[string]string{}}
	if err := os.Mkdir(r.runnerTemp, 0o755); err != nil {
		t.Fatal(err)
	}
	summaryFile := filepath.Join(tmp, "summary.md")
	outputFile := filepath.Join(tmp, "output")
	pathFile := filepath.Join(tmp, "path")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "flipbench-action.sh")
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + tmp,
		"TMPDIR=" + tmp,
		"RUNNER_TEMP=" + r.runnerTemp,
		"GITHUB_STEP_SUMMARY=" + summaryFile,
		"GITHUB_OUTPUT=" + outputFile,
		"GITHUB_PATH=" + pathFile,
		"FLIPBENCH_ACTION_RELEASES=" + releases,
	}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r.stdout, r.stderr = stdout.String(), stderr.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("running the action: %v\nstderr:\n%s", err, r.stderr)
	}
	if b, err := os.ReadFile(summaryFile); err == nil {
		r.summary = string(b)
	}
	if b, err := os.ReadFile(pathFile); err == nil {
		r.path = string(b)
	}
	if b, err := os.ReadFile(outputFile); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				r.outputs[k] = v
			}
		}
	}
	return r
}

// installed lists the flipbench binaries the action unpacked.
func (r result) installed(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(r.runnerTemp, "flipbench-action.*", "bin", "flipbench"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBenchAndCompareAgainstBaseline(t *testing.T) {
	skipIfUnsupported(t)
	t.Parallel()
	rel := newTestRelease(t, flipbenchArchive)
	rel.write(t)

	dir := t.TempDir()
	baseline := filepath.Join(dir, "base.json")
	bench := exec.Command(flipbench, "bench", "--quick", "--out", baseline)
	bench.Env = append(os.Environ(), "TMPDIR="+dir)
	if out, err := bench.CombinedOutput(); err != nil {
		t.Fatalf("baseline bench: %v\n%s", err, out)
	}

	runFile := filepath.Join(dir, "head.json")
	osName, arch := runnerPlatform()
	r := runAction(t, rel.dir,
		"RUNNER_OS="+osName, "RUNNER_ARCH="+arch,
		"INPUT_VERSION=latest",
		// The quotes must group: bench refuses a lone "'speedup".
		"INPUT_ARGS=--quick --assert 'speedup >= 0.01'",
		"INPUT_BASELINE="+baseline,
		"INPUT_OUT="+runFile,
		// One build against itself: the verdict must be a pass, and a 50%
		// threshold keeps a noisy machine from making this test flaky.
		"INPUT_COMPARE_ARGS=--max-regression 50%",
	)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"### flipbench compare: PASS",
		"- base: " + baseline + " (flipbench " + tag,
		"- head: " + runFile + " (flipbench " + tag,
		"| metric ",
		"| speedup ",
		"PASS: no gated regression",
		"<details><summary>flipbench bench: this run</summary>",
		"**flipbench bench**",
	} {
		if !strings.Contains(r.summary, want) {
			t.Errorf("summary lacks %q; summary:\n%s", want, r.summary)
		}
	}

	// The run file must come from the released binary: it records the
	// version that binary was stamped with, with its v.
	var run struct {
		Schema string `json:"schema"`
		Env    struct {
			Version string `json:"version"`
		} `json:"env"`
	}
	b, err := os.ReadFile(runFile)
	if err != nil {
		t.Fatalf("run file: %v", err)
	}
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatalf("run file: %v", err)
	}
	if run.Schema != "flipbench/run/v3" || run.Env.Version != tag {
		t.Errorf("run file schema %q, version %q; want flipbench/run/v3, %s", run.Schema, run.Env.Version, tag)
	}

	want := map[string]string{"version": tag, "run-file": runFile, "verdict": "pass"}
	for k, v := range want {
		if r.outputs[k] != v {
			t.Errorf("output %s = %q, want %q", k, r.outputs[k], v)
		}
	}
	if got := r.installed(t); len(got) != 1 || r.outputs["flipbench"] != got[0] || r.path != filepath.Dir(got[0])+"\n" {
		t.Errorf("installed %v; output flipbench %q, GITHUB_PATH %q", got, r.outputs["flipbench"], r.path)
	}
}

// freeAddr is a loopback address free a moment ago: the commands'
// servers need their port before they start.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestPairedBenchOfAnyServer: with base-dir and head-dir, the Action
// runs one paired bench of the commands in both checkouts and compares
// that run alone, as it does for two flipbench builds.
func TestPairedBenchOfAnyServer(t *testing.T) {
	skipIfUnsupported(t)
	t.Parallel()
	rel := newTestRelease(t, flipbenchArchive)
	rel.write(t)
	dir := t.TempDir()
	photo := filepath.Join(dir, "photo.jpg")
	if out, err := exec.Command(flipbench, "flip", "fixture:small.jpg", photo).CombinedOutput(); err != nil {
		t.Fatalf("a photo to flip: %v\n%s", err, out)
	}
	b, err := os.ReadFile(photo)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"base", "head"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(dir, d, "photo.jpg"), b)
	}
	addr := freeAddr(t)
	runFile := filepath.Join(dir, "ab.json")
	osName, arch := runnerPlatform()
	r := runAction(t, rel.dir,
		"RUNNER_OS="+osName, "RUNNER_ARCH="+arch,
		"INPUT_STANDARD_CMD=exec "+flipbench+" standard --addr "+addr+" --image photo.jpg",
		"INPUT_CLUSTER_CMD=exec "+flipbench+" cluster --workers 2 --addr "+addr+" --image photo.jpg",
		"INPUT_URL=http://"+addr+"/flip", "INPUT_WORKERS=2", "INPUT_ROUNDS=6", "INPUT_ARGS=-n 4",
		"INPUT_BASE_DIR="+filepath.Join(dir, "base"), "INPUT_HEAD_DIR="+filepath.Join(dir, "head"),
		"INPUT_OUT="+runFile,
		// One build against itself; a 50% threshold keeps a noisy machine
		// from making this test flaky.
		"INPUT_COMPARE_ARGS=--max-regression 50%",
	)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"- base: " + runFile + " (base) (commands in " + filepath.Join(dir, "base"),
		"- head: " + runFile + " (head) (commands in " + filepath.Join(dir, "head"),
		"paired by round",
		"standard.cpu_per_request",
		"PASS: no gated regression",
	} {
		if !strings.Contains(r.summary, want) {
			t.Errorf("summary lacks %q; summary:\n%s", want, r.summary)
		}
	}
}

func TestChecksumMismatch(t *testing.T) {
	skipIfUnsupported(t)
	t.Parallel()
	rel := newTestRelease(t, flipbenchArchive)
	name := archiveName(runtime.GOOS, runtime.GOARCH)
	good := fmt.Sprintf("%x", sha256.Sum256(rel.archives[name]))
	// One digit off: the archive is the real one, checksums.txt disagrees.
	bad := []byte(good)
	if bad[0] == '0' {
		bad[0] = '1'
	} else {
		bad[0] = '0'
	}
	rel.sums[name] = string(bad)
	rel.write(t)

	baseline := filepath.Join(t.TempDir(), "base.json")
	mustWrite(t, baseline, []byte("{}"))
	// No RUNNER_OS or RUNNER_ARCH: the script falls back on uname.
	r := runAction(t, rel.dir, "INPUT_VERSION="+tag, "INPUT_ARGS=--quick", "INPUT_BASELINE="+baseline)
	if r.code != 1 {
		t.Errorf("exit %d, want 1\nstderr:\n%s", r.code, r.stderr)
	}
	wantErr := fmt.Sprintf("flipbench-action: checksum mismatch for %s: checksums.txt says %s, the download is %s\n", name, bad, good)
	if r.stderr != wantErr {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, wantErr)
	}
	if len(r.installed(t)) != 0 || r.summary != "" || r.outputs["run-file"] != "" {
		t.Errorf("something ran after the checksum failed: installed %v, summary %q, outputs %v", r.installed(t), r.summary, r.outputs)
	}
}

func TestMissingPlatformArchive(t *testing.T) {
	skipIfUnsupported(t)
	t.Parallel()
	name := archiveName(runtime.GOOS, runtime.GOARCH)
	rel := newTestRelease(t, flipbenchArchive)
	delete(rel.archives, name)
	rel.write(t)
	osName, arch := runnerPlatform()

	tests := []struct {
		version, wantErr string
	}{
		{"latest", fmt.Sprintf("flipbench-action: the latest release has no flipbench_VERSION_%s_%s.tar.gz in its checksums.txt (releases are for Linux and macOS, amd64 and arm64)\n", runtime.GOOS, runtime.GOARCH)},
		{release, fmt.Sprintf("flipbench-action: release %s has no %s in its checksums.txt (releases are for Linux and macOS, amd64 and arm64)\n", tag, name)},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			t.Parallel()
			r := runAction(t, rel.dir, "RUNNER_OS="+osName, "RUNNER_ARCH="+arch, "INPUT_VERSION="+tt.version)
			if r.code != 1 || r.stderr != tt.wantErr {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", r.code, r.stderr, tt.wantErr)
			}
			if len(r.installed(t)) != 0 {
				t.Errorf("installed %v", r.installed(t))
			}
		})
	}
}

func TestUnsupportedPlatform(t *testing.T) {
	skipIfUnsupported(t)
	t.Parallel()
	tests := []struct {
		runnerOS, runnerArch, wantErr string
	}{
		{"Windows", "X64", "flipbench-action: unsupported platform: Windows (flipbench releases are for Linux and macOS)\n"},
		{"Linux", "ARM", "flipbench-action: unsupported platform: Linux ARM (flipbench releases are for amd64 and arm64)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.runnerOS+"/"+tt.runnerArch, func(t *testing.T) {
			t.Parallel()
			// Nothing is fetched before the platform is known: the
			// releases directory does not even exist.
			r := runAction(t, filepath.Join(t.TempDir(), "none"), "RUNNER_OS="+tt.runnerOS, "RUNNER_ARCH="+tt.runnerArch)
			if r.code != 1 || r.stderr != tt.wantErr {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", r.code, r.stderr, tt.wantErr)
			}
		})
	}
}

// stub is a flipbench that benches nothing and gives the verdict it is
// told to in STUB_COMPARE_EXIT: the verdict's exit codes, without the
// noise of a real comparison.
const stub = `#!/bin/sh
case $1 in
version) echo "flipbench v1.2.3 (stub)" ;;
bench)
	while [ $# -gt 0 ]; do
		if [ "$1" = --out ]; then echo '{}' >"$2"; fi
		shift
	done
	echo "**flipbench bench**: stub"
	exit "${STUB_BENCH_EXIT:-0}"
	;;
compare)
	if [ "$STUB_COMPARE_EXIT" = 2 ]; then
		echo "flipbench: head.json: not a run file" >&2
		exit 2
	fi
	echo "### flipbench compare: stub $STUB_COMPARE_EXIT"
	exit "$STUB_COMPARE_EXIT"
	;;
esac
`

func mustStubArchive(t *testing.T) []byte {
	t.Helper()
	archive, err := tarGz("flipbench", []byte(stub))
	if err != nil {
		t.Fatal(err)
	}
	return archive
}

func TestVerdictExitCodes(t *testing.T) {
	skipIfUnsupported(t)
	t.Parallel()
	rel := newTestRelease(t, mustStubArchive(t))
	rel.write(t)
	baseline := filepath.Join(t.TempDir(), "base.json")
	mustWrite(t, baseline, []byte("{}"))
	osName, arch := runnerPlatform()

	tests := []struct {
		name        string
		env         []string
		wantCode    int
		wantVerdict string
		wantErr     string // the last line of stderr
		wantSummary string
	}{
		{"pass", []string{"STUB_COMPARE_EXIT=0"}, 0, "pass", "", "### flipbench compare: stub 0"},
		{"regression", []string{"STUB_COMPARE_EXIT=1"}, 1, "regression",
			"flipbench-action: flipbench compare: a gated metric regressed or head had failed requests (see the job summary)",
			"### flipbench compare: stub 1"},
		{"bad input", []string{"STUB_COMPARE_EXIT=2"}, 2, "error",
			"flipbench-action: flipbench compare could not judge (exit 2): flipbench: head.json: not a run file",
			"### flipbench compare: error\n\n~~~\nflipbench: head.json: not a run file\n~~~\n"},
		{"failed requests, compare passes", []string{"STUB_COMPARE_EXIT=0", "STUB_BENCH_EXIT=1"}, 1, "pass",
			"flipbench-action: flipbench bench: some requests failed or an --assert failed",
			"### flipbench compare: stub 0"},
		{"bench refuses its flags", []string{"STUB_COMPARE_EXIT=0", "STUB_BENCH_EXIT=2"}, 2, "",
			"flipbench-action: flipbench bench exited 2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := append([]string{"RUNNER_OS=" + osName, "RUNNER_ARCH=" + arch, "INPUT_BASELINE=" + baseline}, tt.env...)
			r := runAction(t, rel.dir, env...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if r.outputs["verdict"] != tt.wantVerdict {
				t.Errorf("verdict %q, want %q", r.outputs["verdict"], tt.wantVerdict)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if last := lines[len(lines)-1]; tt.wantErr != "" && last != tt.wantErr {
				t.Errorf("stderr ends with %q, want %q", last, tt.wantErr)
			}
			if !strings.Contains(r.summary, tt.wantSummary) {
				t.Errorf("summary:\n%s\nwant it to contain:\n%s", r.summary, tt.wantSummary)
			}
			if tt.wantSummary == "" && r.summary != "" {
				t.Errorf("summary %q, want none", r.summary)
			}
		})
	}
}

func TestInstallOnly(t *testing.T) {
	skipIfUnsupported(t)
	t.Parallel()
	rel := newTestRelease(t, mustStubArchive(t))
	rel.write(t)
	// STUB_BENCH_EXIT would fail the step if bench ran.
	r := runAction(t, rel.dir, "INPUT_INSTALL_ONLY=true", "INPUT_VERSION="+tag, "STUB_BENCH_EXIT=1")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\nstderr:\n%s", r.code, r.stderr)
	}
	got := r.installed(t)
	if len(got) != 1 || r.path != filepath.Dir(got[0])+"\n" || r.outputs["version"] != tag {
		t.Errorf("installed %v, GITHUB_PATH %q, outputs %v", got, r.path, r.outputs)
	}
	if r.summary != "" || r.outputs["run-file"] != "" {
		t.Errorf("bench ran: summary %q, outputs %v", r.summary, r.outputs)
	}
}

// TestInputsReachTheScript checks that action.yml passes every input it
// declares to the script as INPUT_NAME, and that the script reads each one:
// a misspelt variable would silently drop an input.
func TestInputsReachTheScript(t *testing.T) {
	t.Parallel()
	yml, err := os.ReadFile("../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("flipbench-action.sh")
	if err != nil {
		t.Fatal(err)
	}
	inputsBlock := regexp.MustCompile(`(?ms)^inputs:\n(.*?)^\S`).FindSubmatch(yml)
	if inputsBlock == nil {
		t.Fatal("action.yml has no inputs")
	}
	names := regexp.MustCompile(`(?m)^  ([a-z-]+):$`).FindAllSubmatch(inputsBlock[1], -1)
	if len(names) == 0 {
		t.Fatal("no inputs found in action.yml")
	}
	for _, m := range names {
		name := string(m[1])
		env := "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if want := fmt.Sprintf("        %s: ${{ inputs.%s }}\n", env, name); !bytes.Contains(yml, []byte(want)) {
			t.Errorf("action.yml does not pass input %s as %s", name, env)
		}
		if !bytes.Contains(script, []byte("${"+env)) {
			t.Errorf("flipbench-action.sh never reads %s", env)
		}
	}
}

// TestHistoryInput: with history, each run is added to the history (its
// commit and branch from GitHub's variables) and the history checked, its
// verdict in the job summary and in history-verdict.
func TestHistoryInput(t *testing.T) {
	skipIfUnsupported(t)
	t.Parallel()
	rel := newTestRelease(t, flipbenchArchive)
	rel.write(t)
	db := filepath.Join(t.TempDir(), "history.db")
	osName, arch := runnerPlatform()
	for i, sha := range []string{"1111111111111111", "2222222222222222"} {
		r := runAction(t, rel.dir,
			"RUNNER_OS="+osName, "RUNNER_ARCH="+arch,
			"INPUT_VERSION=latest", "INPUT_ARGS=--quick --rounds 2",
			"INPUT_HISTORY="+db, "INPUT_HISTORY_ARGS=--branch main",
			"GITHUB_SHA="+sha, "GITHUB_REF_NAME=main", "GITHUB_RUN_ID=9",
		)
		if r.code != 0 || r.outputs["history-verdict"] != "pass" || !strings.Contains(r.summary, "### flipbench history check: PASS") {
			t.Fatalf("run %d: exit %d, history-verdict %q; want 0 and pass\nsummary:\n%s\nstderr:\n%s", i+1, r.code, r.outputs["history-verdict"], r.summary, r.stderr)
		}
	}
	out, err := exec.Command(flipbench, "history", "list", "--db", db, "--format", "csv").Output()
	if err != nil || !strings.Contains(string(out), ",111111111111,main,") || !strings.Contains(string(out), ",222222222222,main,") {
		t.Errorf("history after two runs: %v\n%s", err, out)
	}
	// A history that cannot be opened is an error, said, not a pass.
	r := runAction(t, rel.dir, "RUNNER_OS="+osName, "RUNNER_ARCH="+arch, "INPUT_VERSION=latest", "INPUT_ARGS=--quick --rounds 2",
		"INPUT_HISTORY="+filepath.Join(t.TempDir(), "missing", "h.db"), "GITHUB_SHA=3", "GITHUB_REF_NAME=main")
	if r.code != 2 || !strings.Contains(r.stderr, "history add") {
		t.Errorf("a history in a missing directory: exit %d, want 2\n%s", r.code, r.stderr)
	}
}
