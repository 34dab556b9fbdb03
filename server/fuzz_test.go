package server

import (
	"bufio"
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// FuzzFlipRequest sends any bytes, parsed as an HTTP request, through
// the server's handler: request parsing, source picking, the header
// check, decoding, flipping and encoding. It must never panic, leave a
// job file behind, or answer anything but a success or a clear 4xx. The
// seed corpus runs in the normal suite; `go test -fuzz FuzzFlipRequest
// ./server` explores beyond it.
func FuzzFlipRequest(f *testing.F) {
	// Tiny images: under -fuzz every package is instrumented, and a job on
	// the 384x256 fixture takes a second or more an input.
	jpg, png := tinyImage(f, "jpeg"), tinyImage(f, "png")
	post := func(target string, body []byte) []byte {
		var b bytes.Buffer
		b.WriteString("POST " + target + " HTTP/1.1\r\nHost: x\r\n")
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
		b.Write(body)
		return b.Bytes()
	}
	for _, seed := range [][]byte{
		post("/flip", jpg),
		post("/flip?return=image", png),
		post("/flip", jpg[:len(jpg)/2]),                             // truncated
		post("/flip", []byte("GIF89a\x01\x00\x01\x00")),             // a header and no pixels
		post("/flip", []byte("BM\x00\x00\x00\x00\x00\x00\x00\x00")), // a broken BMP
		post("/flip", append([]byte("\xff\xd8\xff\xc0\x00\x11\x08\xff\xff\xff\xff"), make([]byte, 32)...)), // a JPEG claiming 65535x65535
		post("/flip?return=nope", nil),
		[]byte("POST /flip HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
		[]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
		[]byte("GET / HTTP/1.0\r\n\r\n"),
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	fallback := filepath.Join(dir, "tiny.png")
	if err := os.WriteFile(fallback, png, 0o600); err != nil {
		f.Fatal(err)
	}
	s, err := New(Config{Image: fallback, TmpDir: dir, MaxPixels: 1 << 16, MaxBody: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // net/http would answer 400 before any handler runs
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		ok := []int{200, 400, 404, 405, 413, 415, 422}
		if !slices.Contains(ok, rec.Code) {
			t.Errorf("status %d for %q: %s", rec.Code, raw[:min(len(raw), 80)], rec.Body.String())
		}
		if left, _ := filepath.Glob(filepath.Join(s.Dir(), "*")); len(left) > 0 {
			t.Errorf("job files left behind: %v", left)
		}
	})
}

// tinyImage encodes a 12x8 gradient in format.
func tinyImage(tb testing.TB, format string) []byte {
	tb.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 12, 8))
	for y := range 8 {
		for x := range 12 {
			img.Set(x, y, color.NRGBA{uint8(20 * x), uint8(30 * y), 100, 255})
		}
	}
	var b bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, nil)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}
