//go:build browser && !js

package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"
)

// A first visit warms the browser's code cache (codecache.js) without
// touching the page's world, once per version of the module; the next
// visit compiles nothing: Chromium takes the module from its cache.
func TestCodeCacheWarmed(t *testing.T) {
	chrome, err := findChromium()
	if err != nil {
		t.Fatal(err)
	}
	profile := t.TempDir()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromiumFlags(chrome, profile)...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	p := openIn(t, ctx, baseURL+"/", 1280, 720)

	wasm := p.eval(`mailhop.boot.wasm`)
	if !strings.HasPrefix(wasm, "mailhop-") {
		t.Fatalf("the page runs %q, want the module's hashed name", wasm)
	}
	p.waitJS("the code cache warmed", `localStorage.getItem('mailhop:code-cache-warmed') === mailhop.boot.wasm`)
	// The warm-up sent its mail in a world of its own.
	if n := p.eval(`mailhopUI.model.view.mail.get('bob@example.net') || 0`); n != "0" {
		t.Errorf("bob has %s messages in the page's world after the warm-up, want 0", n)
	}
	if got := p.eval(`JSON.stringify(mailhopUI.timeline.rows.filter(e => (e.text || '').includes('warm-up')).length)`); got != "0" {
		t.Errorf("%s events of the warm-up in the page's timeline, want 0", got)
	}
	cache := filepath.Join(profile, "Default", "Code Cache", "wasm")
	deadline := time.Now().Add(waitTimeout)
	for !hasCacheEntry(cache) {
		if time.Now().After(deadline) {
			t.Fatalf("nothing in %s %v after the warm-up", cache, waitTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The next visit: traced, to see where the module came from.
	var mu sync.Mutex
	var names []string
	done := make(chan struct{})
	if err := chromedp.Listen(p.ctx, func(ev any) {
		switch e := ev.(type) {
		case *tracing.EventDataCollected:
			mu.Lock()
			for _, v := range e.Value {
				b, _ := json.Marshal(v)
				var x struct{ Name string }
				if json.Unmarshal(b, &x) == nil && strings.HasPrefix(x.Name, "v8.wasm.") {
					names = append(names, x.Name)
				}
			}
			mu.Unlock()
		case *tracing.EventTracingComplete:
			close(done)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(p.ctx, tracing.Start, tracing.StartParams{TransferMode: tracing.StartTransferModeReportEvents,
		TraceConfig: &tracing.TraceConfig{IncludedCategories: []string{"disabled-by-default-devtools.timeline"}}}); err != nil {
		t.Fatal(err)
	}
	p.do(chromedp.Navigate(baseURL + "/"))
	p.waitJS("the page to be ready again", `document.body.dataset.ready === 'true'`)
	// Long enough for a second warm-up to have begun, were there one.
	time.Sleep(2 * time.Second)
	if _, err := chromedp.Call(p.ctx, tracing.End, struct{}{}); err != nil {
		t.Fatal(err)
	}
	<-done
	mu.Lock()
	defer mu.Unlock()
	hits := strings.Count(strings.Join(names, " "), "v8.wasm.moduleCacheHit")
	if hits != 1 || strings.Contains(strings.Join(names, " "), "v8.wasm.moduleCacheInvalid") {
		t.Errorf("the second visit did not take the module from the code cache: %v", names)
	}
	if n := p.eval(`performance.getEntriesByType('resource').filter(r => r.name.endsWith('/js/warm.js')).length`); n != "0" {
		t.Errorf("the second visit warmed the cache again (%s warm.js loads)", n)
	}
	p.noErrors()
}

// hasCacheEntry reports whether Chromium's code cache directory holds an
// entry (its index aside).
func hasCacheEntry(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), "_0") {
			return true
		}
	}
	return false
}

// A page whose scripts arrive late finds the worker ready before it: the
// messages the worker sent meanwhile ('progress', 'ready') are handled
// once the page's API exists (client.js), and the page starts.
func TestWorkerReadyBeforePage(t *testing.T) {
	h, err := Handler(Dist())
	if err != nil {
		t.Fatal(err)
	}
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/js/client.js" {
			time.Sleep(4 * time.Second) // the worker boots in 1–2 s
		}
		h.ServeHTTP(w, r)
	}))
	defer slow.Close()
	ctx, cancel := chromedp.NewContext(browser)
	defer cancel()
	p := openIn(t, ctx, slow.URL+"/", 1280, 720)
	if got := p.eval(`mailhop.boot && mailhop.boot.path`); got != "streaming" {
		t.Errorf("the worker's boot as the page saw it: %q", got)
	}
	p.noErrors()
}
