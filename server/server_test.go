package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/flipbench/flipbench/fixtures"
)

var responseTimeRE = regexp.MustCompile(`^\d+\.\dms$`)

// newTestServer serves cfg through httptest and checks, when the test
// ends, that no job file was left and that Close removes the temp dir.
func newTestServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	if cfg.TmpDir == "" {
		cfg.TmpDir = t.TempDir()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		assertEmptyDir(t, s.Dir())
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(s.Dir()); !os.IsNotExist(err) {
			t.Errorf("temp dir %s still there after Close: %v", s.Dir(), err)
		}
	})
	return s, ts
}

// do sends a request and checks the headers every response must carry.
func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("X-Worker-Pid"); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("X-Worker-Pid = %q, want %d", got, os.Getpid())
	}
	if got := resp.Header.Get("X-Response-Time"); !responseTimeRE.MatchString(got) {
		t.Errorf("X-Response-Time = %q, want like 1234.5ms", got)
	}
	return resp, body
}

func newRequest(t *testing.T, method, url string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestRootAnswersWithPID(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t, Config{Image: mustWriteFixture(t, fixtures.SmallJPEG), Worker: 3})
	resp, body := do(t, newRequest(t, "GET", ts.URL+"/", nil))
	if resp.StatusCode != 200 {
		t.Fatalf("got %d, want 200", resp.StatusCode)
	}
	if want := "worker 3, pid " + strconv.Itoa(os.Getpid()); !strings.Contains(string(body), want) {
		t.Errorf("got %q, want it to contain %q", body, want)
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t, Config{Image: mustWriteFixture(t, fixtures.SmallJPEG), Worker: 1})
	do(t, newRequest(t, "POST", ts.URL+"/flip", nil))
	resp, body := do(t, newRequest(t, "GET", ts.URL+"/healthz", nil))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %s, want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var h Health
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	want := Health{PID: os.Getpid(), Worker: 1, GOMAXPROCS: runtime.GOMAXPROCS(0), Inflight: 0, Served: 1}
	h.UptimeS = 0
	if h != want {
		t.Errorf("got %+v, want %+v", h, want)
	}
}

func TestFlipWithBody(t *testing.T) {
	t.Parallel()
	// The configured image is the JPEG; the body, a PNG, must win.
	_, ts := newTestServer(t, Config{Image: mustWriteFixture(t, fixtures.SmallJPEG)})
	png := mustFixture(t, fixtures.SmallPNG)
	resp, body := do(t, newRequest(t, "POST", ts.URL+"/flip", png))
	if resp.StatusCode != 200 {
		t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
	}
	var got FlipResponse
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Format != "png" || got.Width != 240 || got.Height != 160 || got.InputBytes != int64(len(png)) || got.PID != os.Getpid() {
		t.Errorf("got %+v, want a 240x160 png of %d bytes from pid %d", got, len(png), os.Getpid())
	}
	if got.OutputBytes == 0 || got.TotalMs <= 0 {
		t.Errorf("got output %d bytes in %.3f ms, want both > 0", got.OutputBytes, got.TotalMs)
	}
}

func TestFlipWithoutBodyUsesImage(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t, Config{Image: mustWriteFixture(t, fixtures.SmallJPEG)})
	for _, tt := range []struct {
		name string
		req  *http.Request
	}{
		{"no body", newRequest(t, "POST", ts.URL+"/flip", nil)},
		{"empty body", newRequest(t, "POST", ts.URL+"/flip", []byte{})},
		{"empty chunked body", func() *http.Request {
			r := newRequest(t, "POST", ts.URL+"/flip", nil)
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader("")), -1
			return r
		}()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.req)
			var got FlipResponse
			if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
				t.Fatalf("got %d %s (%v), want 200", resp.StatusCode, body, err)
			}
			if got.Format != "jpeg" || got.Width != 384 || got.Height != 256 {
				t.Errorf("got %s %dx%d, want the 384x256 jpeg", got.Format, got.Width, got.Height)
			}
		})
	}
}

func TestFlipChunkedBody(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t, Config{Image: mustWriteFixture(t, fixtures.SmallJPEG)})
	req := newRequest(t, "POST", ts.URL+"/flip", nil)
	req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(mustFixture(t, fixtures.SmallPNG))), -1
	resp, body := do(t, req)
	if !strings.Contains(string(body), `"format": "png"`) || resp.StatusCode != 200 {
		t.Errorf("got %d %s, want the PNG body flipped", resp.StatusCode, body)
	}
}

func TestFlipReturnsImage(t *testing.T) {
	t.Parallel()
	_, ts := newTestServer(t, Config{Image: mustWriteFixture(t, fixtures.SmallPNG)})
	src := mustDecode(t, mustFixture(t, fixtures.SmallPNG))
	for _, tt := range []struct {
		name, query, accept string
	}{
		{"query", "?return=image", ""},
		{"accept", "", "image/*"},
		{"accept list", "", "text/html;q=0.9, image/png"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, "POST", ts.URL+"/flip"+tt.query, nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			resp, body := do(t, req)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
				t.Fatalf("got %d %s, want 200 image/png", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if d, _ := meanAbsDiff(t, mustDecode(t, body), imaging.FlipV(src)); d != 0 {
				t.Errorf("returned image differs from the flipped source by %.2f", d)
			}
		})
	}
}

func TestFlipBadInput(t *testing.T) {
	t.Parallel()
	png := mustFixture(t, fixtures.SmallPNG)
	_, ts := newTestServer(t, Config{Image: mustWriteFixture(t, fixtures.SmallPNG), MaxBody: 40_000, MaxPixels: 200 * 200})
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		want   int
	}{
		{"not an image", "POST", "/flip", []byte("hello"), http.StatusUnsupportedMediaType},
		{"truncated", "POST", "/flip", png[:len(png)/4], http.StatusUnprocessableEntity},
		{"body over the limit", "POST", "/flip", png, http.StatusRequestEntityTooLarge},
		{"too many pixels", "POST", "/flip", mustFixture(t, fixtures.SmallJPEG), http.StatusRequestEntityTooLarge},
		{"bad return", "POST", "/flip?return=xml", nil, http.StatusBadRequest},
		{"wrong method", "GET", "/flip", nil, http.StatusMethodNotAllowed},
		{"unknown path", "GET", "/nope", nil, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, newRequest(t, tt.method, ts.URL+tt.path, tt.body))
			if resp.StatusCode != tt.want {
				t.Errorf("got %d %s, want %d", resp.StatusCode, body, tt.want)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	notImage := t.TempDir() + "/notes.txt"
	os.WriteFile(notImage, []byte("hello"), 0o600)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing image", Config{Image: "/does/not/exist.jpg"}, "no such file"},
		{"not an image", Config{Image: notImage}, "unsupported image format"},
		{"image too large", Config{Image: mustWriteFixture(t, fixtures.SmallJPEG), MaxPixels: 10}, "image too large"},
		{"quality", Config{Quality: 101}, "quality"},
		{"threads", Config{Threads: -1}, "threads"},
		{"log format", Config{LogFormat: "xml"}, "log format"},
		{"tmp dir", Config{TmpDir: "/does/not/exist"}, "tmp dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestDefaultImageIsEmbedded(t *testing.T) {
	t.Parallel()
	open, err := Config{}.source()
	if err != nil {
		t.Fatal(err)
	}
	r, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	format, w, h, err := checkHeader(r, DefaultMaxPixels)
	if err != nil || format != "jpeg" || w*h < 19_000_000 {
		t.Errorf("default source is %s %dx%d (%v), want the ~20 MP JPEG", format, w, h, err)
	}
}
