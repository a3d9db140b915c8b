package web

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func site() fstest.MapFS {
	return fstest.MapFS{
		"index.html":        {Data: []byte("<!doctype html><title>mailhop</title>")},
		"mailhop.wasm":      {Data: []byte("\x00asm raw")},
		"mailhop.wasm.br":   {Data: []byte("brotli bytes")},
		"mailhop.wasm.gz":   {Data: []byte("gzip bytes")},
		"wasm_exec.js":      {Data: []byte("// go")},
		"wasm_exec.js.gz":   {Data: []byte("gz js")},
		"js/app.js":         {Data: []byte("export {}")},
		"css/app.css":       {Data: []byte("body{}")},
		".gitkeep":          {Data: nil},
		"notes.unknownext":  {Data: []byte("?")},
		"index.html.br":     {Data: []byte("br html")},
		"icons/mailhop.svg": {Data: []byte("<svg/>")},
	}
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func handlerFor(t *testing.T) http.Handler {
	t.Helper()
	h, err := Handler(site())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestTypes(t *testing.T) {
	h := handlerFor(t)
	for _, tc := range []struct{ path, ctype string }{
		{"/", "text/html; charset=utf-8"},
		{"/index.html", "text/html; charset=utf-8"},
		{"/mailhop.wasm", "application/wasm"},
		{"/wasm_exec.js", "text/javascript; charset=utf-8"},
		{"/js/app.js", "text/javascript; charset=utf-8"},
		{"/css/app.css", "text/css; charset=utf-8"},
		{"/icons/mailhop.svg", "image/svg+xml"},
	} {
		r := get(t, h, "GET", tc.path, nil)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s: %d %q, want 200 %q", tc.path, r.StatusCode, r.Header.Get("Content-Type"), tc.ctype)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", tc.path)
		}
	}
}

func TestEncodings(t *testing.T) {
	h := handlerFor(t)
	for _, tc := range []struct {
		accept, enc, body string
	}{
		{"", "", "\x00asm raw"},
		{"gzip, deflate, br, zstd", "br", "brotli bytes"},
		{"gzip", "gzip", "gzip bytes"},
		{"br;q=0.5, gzip;q=0.8", "gzip", "gzip bytes"},
		{"br;q=0, gzip;q=0", "", "\x00asm raw"},
		{"identity", "", "\x00asm raw"},
		{"*", "br", "brotli bytes"},
		{"GZIP", "gzip", "gzip bytes"},
	} {
		r := get(t, h, "GET", "/mailhop.wasm", map[string]string{"Accept-Encoding": tc.accept})
		if got := r.Header.Get("Content-Encoding"); got != tc.enc {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", tc.accept, got, tc.enc)
		}
		if got := body(t, r); got != tc.body {
			t.Errorf("Accept-Encoding %q: body %q, want %q", tc.accept, got, tc.body)
		}
		if r.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary %q", tc.accept, r.Header.Get("Vary"))
		}
		if r.Header.Get("Content-Type") != "application/wasm" {
			t.Errorf("Accept-Encoding %q: type %q", tc.accept, r.Header.Get("Content-Type"))
		}
	}
	// Only a gzip copy: br is not invented.
	r := get(t, h, "GET", "/wasm_exec.js", map[string]string{"Accept-Encoding": "br"})
	if r.Header.Get("Content-Encoding") != "" || body(t, r) != "// go" {
		t.Error("wasm_exec.js: sent an encoding the client did not accept")
	}
	// No copies at all: no Vary.
	if r := get(t, h, "GET", "/js/app.js", map[string]string{"Accept-Encoding": "br, gzip"}); r.Header.Get("Vary") != "" {
		t.Errorf("app.js has no copies, yet Vary %q", r.Header.Get("Vary"))
	}
}

func TestCSP(t *testing.T) {
	h := handlerFor(t)
	for _, p := range []string{"/", "/mailhop.wasm", "/nope"} {
		csp := get(t, h, "GET", p, nil).Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "object-src 'none'", "frame-ancestors 'none'", "connect-src 'self' https: data:"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		for _, bad := range []string{"unsafe-inline", "unsafe-eval'", "http:", "*"} {
			if strings.Contains(csp, bad) && !(bad == "unsafe-eval'" && strings.Contains(csp, "wasm-unsafe-eval'") && strings.Count(csp, "unsafe-eval'") == 1) {
				t.Errorf("%s: CSP %q allows %q", p, csp, bad)
			}
		}
		// Only data (a lesson file) may come from elsewhere: code, style,
		// images and fonts only from this origin.
		for _, d := range strings.Split(csp, ";") {
			d = strings.TrimSpace(d)
			if strings.Contains(d, "https:") && !strings.HasPrefix(d, "connect-src ") {
				t.Errorf("%s: CSP directive %q allows another origin", p, d)
			}
		}
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := handlerFor(t)
	for _, p := range []string{"/nope.html", "/mailhop.wasm.br", "/.gitkeep", "/notes.unknownext", "/js/", "/../../etc/passwd", "/js/../../index.htm"} {
		if r := get(t, h, "GET", p, nil); r.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, r.StatusCode)
		}
	}
	r := get(t, h, "POST", "/", nil)
	if r.StatusCode != 405 || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", r.StatusCode, r.Header.Get("Allow"))
	}
	r = get(t, h, "HEAD", "/mailhop.wasm", map[string]string{"Accept-Encoding": "br"})
	if r.StatusCode != 200 || body(t, r) != "" || r.Header.Get("Content-Length") != "12" {
		t.Errorf("HEAD: %d, length %q", r.StatusCode, r.Header.Get("Content-Length"))
	}
}

func TestETag(t *testing.T) {
	h := handlerFor(t)
	r := get(t, h, "GET", "/mailhop.wasm", map[string]string{"Accept-Encoding": "br"})
	tag := r.Header.Get("ETag")
	if tag == "" || r.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", tag, r.Header.Get("Cache-Control"))
	}
	plain := get(t, h, "GET", "/mailhop.wasm", nil).Header.Get("ETag")
	if plain == tag {
		t.Fatalf("the brotli copy and the file share the ETag %s", tag)
	}
	r = get(t, h, "GET", "/mailhop.wasm", map[string]string{"Accept-Encoding": "br", "If-None-Match": tag})
	if r.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d, want 304", r.StatusCode)
	}
}

func TestCheck(t *testing.T) {
	s := site()
	if err := Check(s); err != nil {
		t.Fatal(err)
	}
	delete(s, "mailhop.wasm")
	err := Check(s)
	if !errors.Is(err, ErrNotBuilt) || !strings.Contains(err.Error(), "make wasm") || !strings.Contains(err.Error(), "mailhop.wasm") {
		t.Fatalf("Check without the wasm: %v", err)
	}
	// The embedded site compiles in a fresh checkout (only .gitkeep).
	if _, err := Handler(Dist()); err != nil {
		t.Fatal(err)
	}
}
