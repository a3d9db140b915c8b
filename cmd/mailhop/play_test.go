package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/mailhop/mailhop/web"
)

// syncBuffer is a bytes.Buffer safe to read while play writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func builtSite() fstest.MapFS {
	return fstest.MapFS{
		"index.html":      {Data: []byte(`<!doctype html><meta name="mailhop-wasm" content="mailhop.wasm"><title>mailhop</title>`)},
		"mailhop.wasm":    {Data: []byte("\x00asm")},
		"mailhop.wasm.br": {Data: []byte("br")},
		"wasm_exec.js":    {Data: []byte("// go")},
	}
}

// withSite makes play serve site until the returned stop is called.
func withSite(t *testing.T, site fs.FS) (stop func()) {
	t.Helper()
	oldSite, oldCtx := playSite, playContext
	ctx, cancel := context.WithCancel(context.Background())
	playSite = func() fs.FS { return site }
	playContext = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	t.Cleanup(func() { cancel(); playSite, playContext = oldSite, oldCtx })
	return cancel
}

func TestPlayNotBuilt(t *testing.T) {
	site := builtSite()
	delete(site, "mailhop.wasm")
	withSite(t, site)
	var out, errOut bytes.Buffer
	err := runPlay([]string{"--addr", "127.0.0.1:0"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "make wasm") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("play without the wasm: %v; want a one-line error telling to run make wasm", err)
	}
	if code := run([]string{"play", "--addr", "127.0.0.1:0"}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if line := errOut.String(); !strings.HasPrefix(line, "mailhop play: the playground is not built: run `make wasm` first") || strings.Count(line, "\n") != 1 {
		t.Fatalf("stderr %q", line)
	}
}

func TestPlayServes(t *testing.T) {
	stop := withSite(t, builtSite())
	t.Setenv("MAILHOP_ADDR", "127.0.0.1:0") // the flag reads the environment too
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runPlay(nil, out, io.Discard) }()
	re := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("play printed no address: %q", out.String())
		}
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
	}
	resp, err := http.Get("http://" + addr + "/mailhop.wasm")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/wasm" || resp.Header.Get("Content-Security-Policy") != web.CSP {
		t.Fatalf("GET /mailhop.wasm: %d %q, CSP %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
	}
	resp, err = http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "<title>mailhop</title>") {
		t.Fatalf("GET /: %q", body)
	}
	// The page names the module by its hash, which is cached for good.
	name := web.WasmName([]byte("\x00asm"))
	if !strings.Contains(string(body), `content="`+name+`"`) {
		t.Fatalf("GET /: the page does not name %s: %q", name, body)
	}
	resp, err = http.Get("http://" + addr + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/wasm" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("GET /%s: %d %q, Cache-Control %q", name, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("play ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("play did not stop")
	}
}

func TestPlayBadFlags(t *testing.T) {
	withSite(t, builtSite())
	var out, errOut bytes.Buffer
	if err := runPlay([]string{"--port", "1"}, &out, &errOut); err != errUsage {
		t.Fatalf("unknown flag: %v", err)
	}
	if err := runPlay([]string{"--addr", "no-port-here"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "no-port-here") {
		t.Fatalf("bad address: %v", err)
	}
}
