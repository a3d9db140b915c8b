package web

import (
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
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
	req := httptest.NewRequest(method, target, nil) // from 192.0.2.1, another machine
	for k, v := range hdr {
		if k == "RemoteAddr" { // the peer, not a header
			req.RemoteAddr = v
			continue
		}
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
	// A browser on this machine gets the file as it is, unless a proxy
	// speaks for another.
	for _, tc := range []struct {
		peer, proxy, enc string
	}{
		{"127.0.0.1:50000", "", ""},
		{"[::1]:50000", "", ""},
		{"127.0.0.1:50000", "X-Forwarded-For", "br"},
		{"127.0.0.1:50000", "Forwarded", "br"},
		{"[::1]:50000", "Via", "br"},
		{"198.51.100.7:50000", "", "br"},
	} {
		hdr := map[string]string{"Accept-Encoding": "gzip, br", "RemoteAddr": tc.peer}
		if tc.proxy != "" {
			hdr[tc.proxy] = "for=198.51.100.7"
		}
		r := get(t, h, "GET", "/mailhop.wasm", hdr)
		want := map[string]string{"": "\x00asm raw", "br": "brotli bytes"}[tc.enc]
		if got := r.Header.Get("Content-Encoding"); got != tc.enc || body(t, r) != want {
			t.Errorf("from %s (%s): Content-Encoding %q, want %q", tc.peer, tc.proxy, got, tc.enc)
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

// The simulation under its hashed name: cached for good, in every
// encoding, and named in index.html for the page.
func TestWasmName(t *testing.T) {
	s := site()
	page := "<!doctype html><head>" + wasmMeta + "<title>mailhop</title>"
	s["index.html"] = &fstest.MapFile{Data: []byte(page)}
	h, err := Handler(s)
	if err != nil {
		t.Fatal(err)
	}
	name := WasmName([]byte("\x00asm raw"))
	if !regexp.MustCompile(`^mailhop-[0-9a-f]{16}\.wasm$`).MatchString(name) {
		t.Fatalf("WasmName %q", name)
	}
	r := get(t, h, "GET", "/", map[string]string{"Accept-Encoding": "gzip, deflate, br"})
	if r.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("index.html: Content-Encoding %q, want gzip (made again after the name was written in)", r.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(page, `content="mailhop.wasm"`, `content="`+name+`"`, 1); string(b) != want {
		t.Fatalf("index.html %q, want %q", b, want)
	}
	if plain := body(t, get(t, h, "GET", "/index.html", nil)); plain != string(b) {
		t.Fatalf("index.html without encoding %q, gzip %q", plain, b)
	}
	for _, tc := range []struct{ accept, enc, body string }{
		{"gzip, deflate, br", "br", "brotli bytes"},
		{"gzip", "gzip", "gzip bytes"},
		{"", "", "\x00asm raw"},
	} {
		r := get(t, h, "GET", "/"+name, map[string]string{"Accept-Encoding": tc.accept})
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/wasm" || r.Header.Get("Content-Encoding") != tc.enc || body(t, r) != tc.body {
			t.Errorf("%s, Accept-Encoding %q: %d %q %q", name, tc.accept, r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"))
		}
		if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", name, cc)
		}
		if r.Header.Get("Content-Security-Policy") != CSP {
			t.Errorf("%s: no CSP", name)
		}
	}
	// mailhop.wasm stays, revalidated as before.
	if r := get(t, h, "GET", "/mailhop.wasm", nil); r.StatusCode != 200 || r.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("/mailhop.wasm: %d, Cache-Control %q", r.StatusCode, r.Header.Get("Cache-Control"))
	}
	if r := get(t, h, "GET", "/mailhop-0123456789abcdef.wasm", nil); r.StatusCode != 404 {
		t.Errorf("another hash: %d, want 404", r.StatusCode)
	}
	// Without the simulation (the live view's site) nothing is renamed.
	delete(s, "mailhop.wasm")
	h, err = Handler(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, get(t, h, "GET", "/", nil)); got != page {
		t.Errorf("without the wasm, index.html %q", got)
	}
}
