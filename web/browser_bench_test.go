//go:build browser && !js

package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// BenchmarkDownload reports what a browser downloads for the simulation:
// mailhop.wasm raw, gzip and brotli (goal: brotli ≤ 2.5 MB), and the
// whole site as brotli.
func BenchmarkDownload(b *testing.B) {
	site := Dist()
	size := func(name string) float64 {
		st, err := fs.Stat(site, name)
		if err != nil {
			b.Fatal(err)
		}
		return float64(st.Size())
	}
	var total float64
	err := fs.WalkDir(site, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(name, ".br") {
			total += size(name)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
	}
	raw, gz, br := size("mailhop.wasm"), size("mailhop.wasm.gz"), size("mailhop.wasm.br")
	b.ReportMetric(raw/1e6, "MB-wasm")
	b.ReportMetric(gz/1e6, "MB-wasm-gzip")
	b.ReportMetric(br/1e6, "MB-wasm-brotli")
	b.ReportMetric(total/1e6, "MB-site-brotli")
	b.Logf("mailhop.wasm: %.2f MB raw, %.2f MB gzip, %.2f MB brotli (goal ≤ 2.5); the whole site as brotli: %.2f MB", raw/1e6, gz/1e6, br/1e6, total/1e6)
	// A goal missed is a figure to report, not a failure: make bench goes
	// on to its other benchmarks.
	if br > 2.5e6 {
		b.Logf("the brotli download is %.2f MB, over the 2.5 MB goal", br/1e6)
	}
}

// loadMarks is what one load of the playground measured, in ms from
// navigation: the page's own marks (the WebAssembly ready, the page
// ready, the first reply in a terminal), the longest main-thread task
// before that reply (0: none over 50 ms), and the worker's account of its
// boot (mailhop.boot: how the module was compiled, and when each step
// ended: the response's headers came, the module was compiled, Go's main
// began, the default world was built, the API was ready).
type loadMarks struct {
	Wasm, Ready, Banner, Longest float64
	Boot                         map[string]any
}

// watchLongTasks makes every page loaded in ctx record its long tasks
// (PerformanceObserver, buffered from the start) in window.__long.
func watchLongTasks(ctx context.Context) error {
	_, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.__long = [];
		new PerformanceObserver(l => { for (const e of l.getEntries()) window.__long.push({start: e.startTime, d: e.duration}); })
			.observe({type: 'longtask', buffered: true});`})
	return err
}

// firstBanner loads the playground in ctx (a tab that records long tasks,
// see watchLongTasks), opens the preset terminal to the MX as soon as the
// page is ready and returns the page's marks.
func firstBanner(b *testing.B, ctx context.Context) loadMarks {
	b.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 720), chromedp.Navigate(baseURL+"/")); err != nil {
		b.Fatal(err)
	}
	// In one evaluation, so that no round trip of the driver counts: a
	// newcomer's page opens on "Start here", so the Terminal tab first.
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise((resolve, reject) => {
		const go = () => {
			if (document.body.dataset.ready === 'failed') return reject(new Error('the page did not start'));
			if (document.body.dataset.ready !== 'true') return setTimeout(go, 2);
			document.getElementById('tab-terminal').click();
			document.querySelector('[data-preset="bob-pc>mx.example.net:25"]').click();
			resolve(true);
		};
		go();
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`performance.getEntriesByName('mailhop:first-reply').length > 0`,
		chromedp.WithPollingInterval(5*time.Millisecond), chromedp.WithPollingTimeout(waitTimeout))); err != nil {
		b.Fatal(err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`(() => {
		const at = (n) => performance.getEntriesByName('mailhop:' + n)[0].startTime;
		const banner = at('first-reply');
		// The worker's steps, in ms from navigation too.
		const boot = {...mailhop.boot};
		for (const k of ['fetched', 'compiled', 'main', 'world', 'started']) if (boot.origin && boot[k] !== undefined) boot[k] = Math.round(boot[k] + boot.origin - performance.timeOrigin);
		delete boot.origin;
		return {Wasm: at('wasm-ready'), Ready: at('ready'), Banner: banner, Boot: boot,
			Longest: Math.max(0, ...window.__long.filter(l => l.start < banner).map(l => l.d))};
	})()`))
	if err != nil {
		b.Fatal(err)
	}
	var m loadMarks
	if err := json.Unmarshal(raw, &m); err != nil {
		b.Fatal(err)
	}
	if m.Boot["path"] != "streaming" {
		b.Errorf("the worker did not compile the module as it downloaded: %v", m.Boot)
	}
	return m
}

// median returns the median of xs (the mean of the middle two for an even
// count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// BenchmarkFirstBanner: from navigation to the first 220 banner in a
// terminal (goal ≤ 1.5 s cold, ≤ 0.8 s warm), and the longest main-thread
// task on the way (goal: none over 100 ms); the medians of 5 loads each.
// Cold is a browser with a new profile: nothing cached. Warm is the same
// browser's second navigation to the page, after the first had a few
// seconds to settle (as a visitor coming back would): the HTTP cache and
// the code the browser kept of the compiled WebAssembly are used, and
// what the browser process still holds in memory. Revisit is that
// profile again in a browser started afresh: only what the browser kept
// on disk.
func BenchmarkFirstBanner(b *testing.B) {
	const loads = 5
	chrome, err := findChromium()
	if err != nil {
		b.Fatal(err)
	}
	names := []string{"cold", "warm", "revisit"}
	for b.Loop() {
		b.Logf("load average before: %s", loadAverage())
		var all [3][]loadMarks
		for range loads {
			for i, m := range visits(b, chrome) {
				all[i] = append(all[i], m)
			}
		}
		for i, name := range names {
			var banner, ready, longest []float64
			for _, m := range all[i] {
				b.Logf("%s: WebAssembly ready at %.0f ms, page ready at %.0f ms, 220 at %.0f ms, longest task %.0f ms; in the worker: %v",
					name, m.Wasm, m.Ready, m.Banner, m.Longest, m.Boot)
				banner, ready, longest = append(banner, m.Banner), append(ready, m.Ready), append(longest, m.Longest)
			}
			goal := map[string]string{"cold": " (goal ≤ 1500)", "warm": " (goal ≤ 800)"}[name]
			b.Logf("%s, median of %d: page ready at %.0f ms, 220 at %.0f ms%s, longest main-thread task %.0f ms (goal ≤ 100; the worst %.0f)",
				name, loads, median(ready), median(banner), goal, median(longest), slices.Max(longest))
			b.ReportMetric(median(banner), "ms-"+name+"-220")
			b.ReportMetric(median(longest), "ms-"+name+"-longest-task")
		}
		b.Logf("load average after: %s", loadAverage())
	}
}

// loadAverage is the machine's load average over the last minute (other
// work slows every figure down), or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// visits loads the playground in a browser with a new profile (cold),
// lets it settle and loads it again in the same tab (warm); then closes
// the browser, starts it again on the same profile and loads the page
// once more (revisit).
func visits(b *testing.B, chrome string) [3]loadMarks {
	b.Helper()
	profile := b.TempDir()
	var out [3]loadMarks
	for i := range 2 {
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromiumFlags(chrome, profile)...)
		ctx, cancel := chromedp.NewContext(alloc)
		tctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
		if err := watchLongTasks(tctx); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			out[0] = firstBanner(b, tctx)
			time.Sleep(settle)
			out[1] = firstBanner(b, tctx)
			time.Sleep(settle)
		} else {
			out[2] = firstBanner(b, tctx)
		}
		cancelT()
		// Closed gracefully, so that the browser writes its caches out
		// (the error says the connection ended with it).
		cctx, cancelC := context.WithTimeout(ctx, 20*time.Second)
		_ = chromedp.Cancel(cctx)
		cancelC()
		cancel()
		cancelAlloc()
	}
	return out
}

// settle is how long a visit stays before the next: the browser writes
// the compiled code to its cache once the module has run a little while.
const settle = 5 * time.Second

// BenchmarkThousandMessages sends 1,000 messages through the whole chain
// from the page (16 at a time, as the compose form does) and watches the
// main thread: the longest task (PerformanceObserver long tasks; goal:
// none over 200 ms), how late a message posted to the main thread is
// handled (its input delay), and how fast a click on a tab is answered
// while the mail flows.
func BenchmarkThousandMessages(b *testing.B) {
	const n = 1000
	for b.Loop() {
		ctx, cancel := chromedp.NewContext(browser)
		ctx, cancelT := context.WithTimeout(ctx, 15*time.Minute)
		if err := watchLongTasks(ctx); err != nil {
			b.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 720), chromedp.Navigate(baseURL+"/")); err != nil {
			b.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`document.body.dataset.ready === 'true'`, chromedp.WithPollingTimeout(waitTimeout))); err != nil {
			b.Fatal(err)
		}
		// Start the flow and the main thread's probe: a message posted to
		// the main thread every 100 ms, and how late it runs.
		start := fmt.Sprintf(`(() => {
			window.__lags = []; window.__sent = 0; window.__failed = 0;
			const ch = new MessageChannel(); let posted = 0;
			ch.port1.onmessage = () => window.__lags.push(performance.now() - posted);
			window.__probe = setInterval(() => { posted = performance.now(); ch.port2.postMessage(0); }, 100);
			window.__t0 = performance.now();
			let next = 0;
			const one = async () => {
				while (next < %d) {
					const i = next++;
					try { await mailhop.send({from: 'alice@example.org', to: 'bob@example.net', subject: 'load ' + i, body: 'Message ' + i + ' of the thousand.'}); window.__sent++; }
					catch (e) { window.__failed++; }
				}
			};
			window.__done = Promise.all(Array.from({length: 16}, one));
			return true;
		})()`, n)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](start)); err != nil {
			b.Fatal(err)
		}
		// While the mail flows, click the tabs and time the answer.
		var clicks []time.Duration
		tabs := []string{"#tab-mailboxes", "#tab-compose", "#tab-terminal", "#tab-world"}
		began := time.Now()
		for i := 0; ; i++ {
			delivered, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(mailhopUI.model.view.mail.get('bob@example.net') || 0)`))
			if err != nil {
				b.Fatal(err)
			}
			if delivered >= n {
				break
			}
			if time.Since(began) > 14*time.Minute {
				b.Fatalf("only %d of %d delivered after %v", delivered, n, time.Since(began))
			}
			tab := tabs[i%len(tabs)]
			t0 := time.Now()
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(tab))); err != nil {
				b.Fatal(err)
			}
			if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`document.querySelector('`+tab+`').getAttribute('aria-selected') === 'true'`,
				chromedp.WithPollingInterval(5*time.Millisecond))); err != nil {
				b.Fatal(err)
			}
			clicks = append(clicks, time.Since(t0))
			time.Sleep(500 * time.Millisecond)
		}
		flow := time.Since(began)
		var res struct {
			Sent, Failed int
			T0           float64 // when the flow began, ms from navigation
			Long         []struct{ Start, D float64 }
			Lags         []float64
			Events       int
		}
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`(() => { clearInterval(window.__probe); return {Sent: window.__sent, Failed: window.__failed, T0: window.__t0, Long: window.__long, Lags: window.__lags, Events: mailhopUI.model.events.length + mailhopUI.model.dropped}; })()`))
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			b.Fatal(err)
		}
		shot, _ := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		writeShot("bench-thousand", shot)
		cancelT()
		cancel()
		var longest, flowLongest float64
		over50, over200 := 0, 0
		for _, l := range res.Long {
			longest = max(longest, l.D)
			if l.Start >= res.T0 {
				flowLongest = max(flowLongest, l.D)
				if l.D > 50 {
					over50++
				}
				if l.D > 200 {
					over200++
				}
			}
		}
		var maxLag float64
		for _, l := range res.Lags {
			maxLag = max(maxLag, l)
		}
		var maxClick time.Duration
		for _, c := range clicks {
			maxClick = max(maxClick, c)
		}
		b.ReportMetric(flowLongest, "ms-longest-task")
		b.ReportMetric(maxLag, "ms-max-input-delay")
		b.ReportMetric(float64(n)/flow.Seconds(), "msgs/s")
		b.Logf("%d messages (%d failed), %d trace events in %v (%.1f messages/s)", res.Sent, res.Failed, res.Events, flow.Round(time.Millisecond), float64(n)/flow.Seconds())
		b.Logf("long tasks while the mail flowed: %d over 50 ms, %d over 200 ms, the longest %.0f ms (goal: none over 200); the longest of the whole run, boot included, %.0f ms", over50, over200, flowLongest, longest)
		b.Logf("a message posted to the main thread waited at most %.0f ms (%d probes); a click on a tab was answered in at most %v (%d clicks, CDP round trip included)", maxLag, len(res.Lags), maxClick.Round(time.Millisecond), len(clicks))
		if flowLongest > 200 {
			b.Logf("over the goal: a main-thread task took %.0f ms while the mail flowed (goal: none over 200)", flowLongest)
		}
	}
}

// linkMarks is one load of a world by its link, in ms from navigation:
// its hosts drawn, the page ready, and the first reply in a terminal
// opened as soon as it was.
type linkMarks struct {
	Drawn, Wasm, Ready, Banner float64
	Boot                       map[string]any
}

// linkedWorld is a built-in world opened by its link, how many hosts it
// draws, and the connection a terminal opens in it.
type linkedWorld struct {
	name     string
	hosts    int
	from, to string
	port     int
}

// linkLoad loads the playground by the link #w=NAME in ctx, opens a
// terminal as soon as the page is ready and returns its marks.
func linkLoad(b *testing.B, ctx context.Context, lw linkedWorld) linkMarks {
	b.Helper()
	// The hosts drawn: watched from the document's start, frame by frame.
	if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: fmt.Sprintf(`
		(function watch() {
			if (document.querySelectorAll('#topology .host').length === %d && document.querySelector('#topology [data-host=%q]')) performance.mark('bench:drawn');
			else requestAnimationFrame(watch);
		})();`, lw.hosts, lw.to)}); err != nil {
		b.Fatal(err)
	}
	// From another page: a second visit loads the page again, where the
	// same address twice would only follow the fragment.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1400, 900), chromedp.Navigate("about:blank"), chromedp.Navigate(baseURL+"/#w="+lw.name)); err != nil {
		b.Fatal(err)
	}
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`new Promise((resolve, reject) => {
		const go = () => {
			if (document.body.dataset.ready === 'failed') return reject(new Error('the page did not start'));
			if (document.body.dataset.ready !== 'true' || mailhopUI.model.live?.name !== %q) return setTimeout(go, 2);
			mailhopUI.selectTab('tab-terminal');
			mailhopUI.terminals.open(%q, %q, %d);
			resolve(true);
		};
		go();
	})`, lw.name, lw.from, lw.to, lw.port), chromedp.EvalAwaitPromise))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`performance.getEntriesByName('mailhop:first-reply').length > 0 && performance.getEntriesByName('bench:drawn').length > 0`,
		chromedp.WithPollingInterval(5*time.Millisecond), chromedp.WithPollingTimeout(waitTimeout))); err != nil {
		b.Fatal(err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`(() => {
		const at = (n) => performance.getEntriesByName(n)[0].startTime;
		const boot = {...mailhop.boot};
		for (const k of ['fetched', 'compiled', 'main', 'world', 'started']) if (boot.origin && boot[k] !== undefined) boot[k] = Math.round(boot[k] + boot.origin - performance.timeOrigin);
		delete boot.origin;
		return {Drawn: at('bench:drawn'), Wasm: at('mailhop:wasm-ready'), Ready: at('mailhop:ready'), Banner: at('mailhop:first-reply'), Boot: boot};
	})()`))
	if err != nil {
		b.Fatal(err)
	}
	var m linkMarks
	if err := json.Unmarshal(raw, &m); err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkLargeWorld: from navigation by the link #w=large (50 hosts,
// five domains) to its topology drawn and to the first 220 in a terminal
// (goal ≤ 2 s), the medians of 5 loads: cold (a browser with a new
// profile) and warm (its second visit, after a few seconds). The same
// for #w=default, loaded the same way in the same browsers, tells what
// the size of the world adds.
func BenchmarkLargeWorld(b *testing.B) {
	const loads = 5
	chrome, err := findChromium()
	if err != nil {
		b.Fatal(err)
	}
	worlds := []linkedWorld{{"large", 50, "ada-pc", "mx1.isp.example", 25}, {"default", 6, "bob-pc", "mx.example.net", 25}}
	for b.Loop() {
		b.Logf("load average before: %s", loadAverage())
		all := map[string][]linkMarks{}
		for range loads {
			alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromiumFlags(chrome, b.TempDir())...)
			ctx, cancel := chromedp.NewContext(alloc)
			tctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
			// Cold and warm for each world: the large one first, with
			// nothing cached.
			for _, lw := range worlds {
				for _, visit := range []string{"cold", "warm"} {
					if visit == "cold" && lw.name != "large" {
						continue // the browser has the page cached by now
					}
					m := linkLoad(b, tctx, lw)
					all[lw.name+" "+visit] = append(all[lw.name+" "+visit], m)
					if lw.name == "large" && visit == "warm" {
						shot, _ := chromedp.Run(tctx, chromedp.CaptureScreenshot())
						writeShot("bench-large-world", shot)
					}
					time.Sleep(settle)
				}
			}
			cancelT()
			cancel()
			cancelAlloc()
		}
		for _, key := range []string{"large cold", "large warm", "default warm"} {
			var drawn, ready, banner []float64
			for _, m := range all[key] {
				b.Logf("%s: WebAssembly ready at %.0f ms, page ready at %.0f ms, hosts drawn at %.0f ms, 220 at %.0f ms; in the worker: %v", key, m.Wasm, m.Ready, m.Drawn, m.Banner, m.Boot)
				drawn, ready, banner = append(drawn, m.Drawn), append(ready, m.Ready), append(banner, m.Banner)
			}
			b.Logf("%s, median of %d: hosts drawn at %.0f ms, page ready at %.0f ms, 220 at %.0f ms (goal for the large world ≤ 2000)",
				key, loads, median(drawn), median(ready), median(banner))
			name := strings.ReplaceAll(key, " ", "-")
			b.ReportMetric(median(drawn), "ms-"+name+"-drawn")
			b.ReportMetric(median(banner), "ms-"+name+"-220")
		}
		b.Logf("load average after: %s", loadAverage())
	}
}
