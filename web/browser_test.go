//go:build browser && !js

// The playground in a real browser: Debian's headless Chromium, driven by
// chromedp, loads the embedded site (make wasm builds it), boots the
// simulation and is used as a person would, by typing and clicking. Each
// scenario leaves a screenshot in testout/ for a person to look at.
//
//	make test-browser   (go test -tags browser ./web/)
//
// The tests fail, never skip, when Chromium or the built site is missing.
package web

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// waitTimeout bounds every wait for the page.
var waitTimeout = 30 * time.Second

var (
	baseURL  string
	browser  context.Context // the browser all tests open tabs in
	shotsDir string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	chrome, err := findChromium()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	if err := Check(Dist()); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: the browser tests need the built playground:", err)
		return 1
	}
	h, err := Handler(Dist())
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	baseURL = srv.URL
	shotsDir = filepath.Join("..", "testout")
	if err := os.MkdirAll(shotsDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	profile, err := os.MkdirTemp("", "mailhop-chromium-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(profile)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), chromiumFlags(chrome, profile)...)
	defer cancel()
	b, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(b); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: starting chromium:", err)
		return 1
	}
	browser = b
	return m.Run()
}

// findChromium finds Debian's chromium (or $MAILHOP_CHROMIUM).
func findChromium() (string, error) {
	if p := os.Getenv("MAILHOP_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium is missing: the browser tests need it (apt-get install chromium, or run make deps)")
}

func chromiumFlags(chrome, profile string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 720),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
	}
}

// page is one tab with the playground loaded.
type page struct {
	t      *testing.T
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// open loads the playground in a new tab of size w×h and waits for the
// simulation to boot.
func open(t *testing.T, w, h int64) *page {
	t.Helper()
	p := openURL(t, baseURL+"/", w, h)
	// A newcomer meets "Start here" (see the lesson tests); these tests
	// go straight to the tools.
	p.click(`#tab-terminal`)
	return p
}

// openURL loads a page in a new tab of size w×h and waits for it to be
// ready (the simulation booted, or the live view connected).
func openURL(t *testing.T, url string, w, h int64) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	return openIn(t, ctx, url, w, h)
}

func (p *page) fail(msg string) {
	p.mu.Lock()
	p.errors = append(p.errors, msg)
	p.mu.Unlock()
}

// noErrors fails the test if the console showed an error.
func (p *page) noErrors() {
	p.t.Helper()
	time.Sleep(100 * time.Millisecond) // let the last console events arrive
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errors) > 0 {
		p.t.Errorf("the console showed errors:\n%s", strings.Join(p.errors, "\n"))
	}
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.shot("failed-" + safeName(p.t.Name()))
		p.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression and returns it as a string.
func (p *page) eval(js string) string {
	p.t.Helper()
	out, err := chromedp.Run(p.ctx, chromedp.Evaluate[any](js))
	if err != nil {
		p.t.Fatalf("eval %s: %v", js, err)
	}
	if out == nil {
		return ""
	}
	return fmt.Sprint(out)
}

// waitJS waits until a JavaScript expression is true.
func (p *page) waitJS(what, js string) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(waitTimeout)))
	if err != nil {
		p.shot("timeout-" + safeName(p.t.Name()))
		p.mu.Lock()
		errs := strings.Join(p.errors, "\n")
		p.mu.Unlock()
		// Where the page was: its address tells the state a link would
		// give (a fresh context: the test's own may have run out).
		ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 5*time.Second)
		where, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
		cancel()
		p.t.Fatalf("waiting for %s (%s): %v\nthe page was at %s\nconsole errors:\n%s", what, js, err, where, errs)
	}
}

// shot saves a screenshot of the viewport to testout/NAME.png.
func (p *page) shot(name string) {
	buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	writeShot(name, buf)
}

func writeShot(name string, png []byte) {
	if len(png) > 0 {
		_ = os.WriteFile(filepath.Join(shotsDir, name+".png"), png, 0o644)
	}
}

// fullShot saves the whole page, scrolled, to testout/NAME.png.
func (p *page) fullShot(name string) {
	buf, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(filepath.Join(shotsDir, name+".png"), buf, 0o644)
}

func safeName(s string) string { return strings.NewReplacer("/", "-", " ", "_").Replace(s) }

// text returns the text of the first node matching a CSS selector.
func (p *page) text(sel string) string {
	p.t.Helper()
	return p.eval(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel))
}

// typeLine types a line into the active terminal and presses Enter.
func (p *page) typeLine(line string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.CSS(`.term:not([hidden]) .term-in`), line+"\r"))
}

// termLines returns the active terminal's lines as "dir|text".
func (p *page) termLines() []string {
	s := p.eval(`[...document.querySelectorAll('.term:not([hidden]) .term-out .line')].map(l => l.dataset.dir + '|' + l.querySelector('.text').textContent).join('\n')`)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// timelineHas waits for an event the timeline shows (its rows, filtered).
func (p *page) timelineHas(what, js string) {
	p.t.Helper()
	p.waitJS(what, `mailhopUI.timeline.rows.some(e => `+js+`)`)
}

func (p *page) click(sel string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(sel)))
}

// setSpeed chooses a speed as a person does: the value and its change
// event at once (the page shows the clock's speed in the list whenever
// the clock is read, which must not come in between).
func (p *page) setSpeed(x string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(() => { const s = document.getElementById('speed'); s.value = %q; s.dispatchEvent(new Event('change')); return s.value; })()`, x))
	p.waitJS("the speed", `mailhopUI.model.speed === `+x)
}

func TestBoot(t *testing.T) {
	start := time.Now()
	p := open(t, 1280, 720)
	t.Logf("booted in %v", time.Since(start))
	p.waitJS("the hosts", `document.querySelectorAll('#topology .host').length === 6`)
	for _, host := range []string{"alice-pc", "mail.example.org", "ns.example", "mx.example.net", "store.example.net", "bob-pc"} {
		label := p.eval(fmt.Sprintf(`document.querySelector('[data-host=%q]').getAttribute('aria-label')`, host))
		if !strings.HasPrefix(label, host+", ") {
			t.Errorf("host %s: aria-label %q", host, label)
		}
	}
	mx := p.eval(`document.querySelector('[data-host="mail.example.org"]').getAttribute('aria-label')`)
	for _, want := range []string{"192.0.2.25", "MSA", "MTA", "MDA", "POP3", "IMAP", "ports 25 110 143 465 587 993 995", "0 in the queue"} {
		if !strings.Contains(mx, want) {
			t.Errorf("mail.example.org card %q lacks %q", mx, want)
		}
	}
	// The users and their passwords are shown (a teaching world).
	p.click(`#tab-world`)
	users := p.text(`#panel-world table`)
	for _, want := range []string{"alice@example.org", "alice", "bob@example.net", "bob"} {
		if !strings.Contains(users, want) {
			t.Errorf("users table %q lacks %q", users, want)
		}
	}
	p.click(`#tab-terminal`)
	if got := p.eval(`typeof mailhop.connect`); got != "function" {
		t.Errorf("globalThis.mailhop.connect is %s", got)
	}
	p.shot("boot")
	// Another built-in world: a second MX for example.net.
	p.click(`#tab-world`)
	p.waitJS("the list of worlds", `[...document.querySelectorAll('#w-pick option')].some(o => o.value === 'backup-mx')`)
	p.do(chromedp.SetValue(chromedp.CSS(`#w-pick`), "backup-mx"))
	p.click(`#panel-world .loader form.row button`)
	p.waitJS("the backup-mx world", `document.querySelectorAll('#topology .host').length === 7 && !!document.querySelector('[data-host="mx2.example.net"]')`)
	if got := p.text(`#world-name`); got != "backup-mx" {
		t.Errorf("world name %q", got)
	}
	p.shot("world-backup-mx")
	p.noErrors()
}

// replyCodes returns the reply codes of the server's final lines in the
// active terminal, in order.
func (p *page) replyCodes() []string {
	var codes []string
	for _, l := range p.termLines() {
		dir, text, _ := strings.Cut(l, "|")
		if dir == "recv" && len(text) >= 4 && text[3] == ' ' {
			codes = append(codes, text[:3])
		}
	}
	return codes
}

// The terminal scenario: telnet to the MX and type a message.
func TestTerminalSMTP(t *testing.T) {
	p := open(t, 1280, 720)
	p.setSpeed("4")
	p.click(`[data-preset="bob-pc>mx.example.net:25"]`)
	p.waitJS("the banner", `[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].some(e => e.textContent.startsWith('220 '))`)
	want := []string{"220"}
	steps := []struct{ line, code string }{
		{"HELO relay.example.org", "250"},
		{"MAIL FROM:<alice@example.org>", "250"},
		{"RCPT TO:<bob@example.net>", "250"},
		{"DATA", "354"},
	}
	for _, s := range steps {
		p.typeLine(s.line)
		want = append(want, s.code)
		n := len(want)
		p.waitJS(s.code+" after "+s.line, fmt.Sprintf(`[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].filter(e => /^\d\d\d /.test(e.textContent)).length >= %d`, n))
	}
	if got := p.eval(`document.querySelector('.term:not([hidden]) .prompt').textContent`); got != "DATA›" {
		t.Errorf("prompt in DATA mode: %q", got)
	}
	for _, line := range []string{"From: Bob <bob@example.net>", "Subject: Typed by hand", "", "Hello Bob,", "this came in by telnet."} {
		p.typeLine(line)
	}
	p.typeLine(".")
	want = append(want, "250")
	p.waitJS("250 after the dot", `[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].filter(e => /^\d\d\d /.test(e.textContent)).length >= 6`)
	p.typeLine("QUIT")
	want = append(want, "221")
	p.waitJS("the close", `[...document.querySelectorAll('.term:not([hidden]) .line.info .text')].some(e => e.textContent === 'Connection closed by foreign host.')`)
	if got := strings.Join(p.replyCodes(), " "); got != strings.Join(want, " ") {
		t.Errorf("reply codes %s, want %s", got, strings.Join(want, " "))
	}
	// Each reply has its meaning and RFC beside it.
	note := p.eval(`[...document.querySelectorAll('.term:not([hidden]) .line.recv')].find(l => l.querySelector('.text').textContent.startsWith('354')).querySelector('.note').textContent`)
	if !strings.Contains(note, "RFC 5321") {
		t.Errorf("354's note %q has no RFC", note)
	}
	p.shot("terminal-smtp")
	p.timelineHas("the LMTP hop", `e.kind === 'hop' && e.host === 'mx.example.net' && e.peer === 'store.example.net'`)
	p.timelineHas("the delivery", `e.kind === 'deliver' && e.mailbox === 'bob@example.net/INBOX'`)
	if got := p.eval(`document.querySelector('#tl-list [data-kind="deliver"]') ? 'shown' : 'scrolled away'`); got != "shown" {
		t.Errorf("the delivery row is %s", got)
	}
	p.shot("terminal-smtp-timeline")
	p.click(`#tab-mailboxes`)
	p.waitJS("bob's message", `[...document.querySelectorAll('[data-user="bob@example.net"] td')].some(td => td.textContent === 'Typed by hand')`)
	p.shot("terminal-smtp-mailbox")
	p.noErrors()
}

// order checks that the timeline shows events matching each predicate, in
// that order, and returns their positions.
func (p *page) order(steps [][2]string) {
	p.t.Helper()
	var preds []string
	for _, s := range steps {
		preds = append(preds, "e => "+s[1])
	}
	got := p.eval(`(() => {
		const preds = [` + strings.Join(preds, ",\n") + `];
		const rows = mailhopUI.timeline.rows;
		let i = 0, out = [];
		for (const p of preds) {
			while (i < rows.length && !p(rows[i])) i++;
			if (i === rows.length) break;
			out.push(rows[i].seq);
			i++;
		}
		return out.length;
	})()`)
	if got != fmt.Sprint(len(steps)) {
		n := 0
		fmt.Sscan(got, &n)
		p.t.Fatalf("the timeline shows the journey only up to %q; missing %q and after", steps[max(n-1, 0)][0], steps[min(n, len(steps)-1)][0])
	}
}

// The compose form: the whole journey, in order, in the timeline.
func TestCompose(t *testing.T) {
	p := open(t, 1280, 720)
	p.setSpeed("16")
	p.click(`#tab-compose`)
	p.do(chromedp.SetValue(chromedp.CSS(`#c-subject`), "Sent from the form"))
	if from := p.eval(`document.getElementById('c-from').value`); from != "alice@example.org" {
		t.Fatalf("from %q", from)
	}
	p.do(chromedp.SetValue(chromedp.CSS(`#c-to`), "bob@example.net"))
	p.click(`#c-send`)
	p.waitJS("the queue id", `/queued as/.test(document.querySelector('#panel-compose .result').textContent)`)
	p.timelineHas("the delivery", `e.kind === 'deliver' && e.mailbox === 'bob@example.net/INBOX'`)
	p.shot("compose-journey")
	p.order([][2]string{
		{"the submission", `e.kind === 'hop' && e.action === 'received' && e.host === 'mail.example.org' && e.peer === 'alice-pc'`},
		{"the DNS MX lookup", `e.kind === 'dns' && e.action === 'query' && / IN MX$/.test(e.text)`},
		{"the DNS A lookup", `e.kind === 'dns' && e.action === 'query' && / IN A$/.test(e.text)`},
		{"the relay", `e.kind === 'hop' && e.action === 'received' && e.host === 'mx.example.net' && e.peer === 'mail.example.org'`},
		{"the LMTP hop", `e.kind === 'conn' && e.action === 'open' && e.peer === 'store.example.net' && e.proto === 'lmtp'`},
		{"the delivery", `e.kind === 'deliver' && e.mailbox === 'bob@example.net/INBOX'`},
	})
	// Only this message, without the protocol lines: the summary a
	// teacher shows.
	p.click(`#panel-compose .result button`)
	p.click(`#f-lines`)
	p.waitJS("the filtered timeline", `mailhopUI.timeline.rows.length > 5 && mailhopUI.timeline.rows.every(e => e.kind !== 'wire')`)
	p.timelineHas("the LMTP hop event", `e.kind === 'hop' && e.host === 'mx.example.net' && e.peer === 'store.example.net'`)
	// A DNS answer shows as dig shows it.
	p.eval(`mailhopUI.timeline.selectSeq(mailhopUI.timeline.rows.find(e => e.kind === 'dns' && e.action === 'answer').seq), true`)
	dig := p.text(`#tl-detail pre.dig`)
	for _, want := range []string{";; QUESTION SECTION:", ";; ANSWER SECTION:", "example.net.\t3600\tIN\tMX\t10 mx.example.net."} {
		if !strings.Contains(dig, want) {
			t.Errorf("dig view lacks %q:\n%s", want, dig)
		}
	}
	p.shot("compose-dig")
	// A hop opens its connection's transcript.
	p.eval(`mailhopUI.timeline.selectSeq(mailhopUI.timeline.rows.find(e => e.kind === 'hop' && e.peer === 'store.example.net').seq), true`)
	tr := p.text(`#tl-detail .transcript`)
	for _, want := range []string{"LHLO mx.example.net", "RCPT TO:<bob@example.net>", "250 2.0.0 Ok: delivered to <bob@example.net>"} {
		if !strings.Contains(tr, want) {
			t.Errorf("LMTP transcript lacks %q", want)
		}
	}
	p.shot("compose-transcript")
	// The message view: each Received field tied to its hop.
	p.click(`#tab-mailboxes`)
	p.waitJS("the message in bob's INBOX", `!!document.querySelector('[data-user="bob@example.net"] button.link')`)
	p.click(`[data-user="bob@example.net"] button.link`)
	p.waitJS("the message view", `document.querySelectorAll('#panel-message .received li').length === 3`)
	tags := p.eval(`[...document.querySelectorAll('#panel-message .hop-tag')].map(e => e.textContent).join('\n')`)
	for _, want := range []string{"Added by store.example.net", "Added by mx.example.net", "Added by mail.example.org"} {
		if !strings.Contains(tags, want) {
			t.Errorf("Received fields not tied to their hops: %q lacks %q", tags, want)
		}
	}
	env := p.text(`#panel-message .envelope`)
	if !strings.Contains(env, "<alice@example.org>") || !strings.Contains(env, "<bob@example.net>") {
		t.Errorf("envelope %q", env)
	}
	p.shot("compose-message")
	p.noErrors()
}

// With the MX down, the message waits in the queue; once the host is up
// and the clock has moved to the retry, it is delivered.
func TestDeferredDelivery(t *testing.T) {
	p := open(t, 1280, 720)
	p.setSpeed("4")
	p.click(`#tab-world`)
	p.click(`button[aria-label="Take down mx.example.net"]`)
	p.waitJS("mx.example.net down", `document.querySelector('[data-host="mx.example.net"]').classList.contains('is-down')`)
	p.click(`#tab-compose`)
	p.do(chromedp.SetValue(chromedp.CSS(`#c-subject`), "Wait for it"))
	p.click(`#c-send`)
	p.timelineHas("the deferral", `e.kind === 'queue' && e.action === 'deferred' && e.host === 'mail.example.org'`)
	p.waitJS("the queue badge", `document.querySelector('[data-host="mail.example.org"] [data-badge="queue"]').dataset.count === '1'`)
	if c := p.text(`[data-host="mail.example.org"] .caption`); !strings.HasPrefix(c, "waiting: next try") {
		t.Errorf("mail.example.org caption %q", c)
	}
	p.shot("deferred")
	p.click(`#tab-world`)
	p.click(`button[aria-label="Bring up mx.example.net"]`)
	p.waitJS("mx.example.net up", `!document.querySelector('[data-host="mx.example.net"]').classList.contains('is-down')`)
	p.waitJS("the retry button", `!document.getElementById('retry').disabled`)
	p.click(`#retry`)
	p.timelineHas("the delivery after the retry", `e.kind === 'deliver' && e.mailbox === 'bob@example.net/INBOX'`)
	p.waitJS("the queue emptied", `document.querySelector('[data-host="mail.example.org"] [data-badge="queue"]').dataset.count === '0'`)
	p.waitJS("bob's badge", `document.querySelector('[data-host="store.example.net"] [data-badge="mail:bob@example.net"]').dataset.count === '1'`)
	p.shot("deferred-delivered")
	p.noErrors()
}

// The lesson "A full mailbox", done as a student would: its setup fills
// bob's mailbox (World tab: FULL); the message sent from Compose gets 452
// 4.2.2 on the LMTP wire and waits in mx.example.net's queue; Make room
// and the retry file it, and every check is ticked. A teacher's Fill up
// button then fills it again.
func TestMailboxFull(t *testing.T) {
	p := openURL(t, baseURL+"/", 1366, 768)
	p.setSpeed("4")
	p.click(`[data-lesson="mailbox-full"] button`)
	p.waitJS("the lesson", `document.getElementById('lesson-h') && document.getElementById('lesson-h').textContent.includes('full mailbox')`)
	p.click(`#tab-world`)
	p.waitJS("bob's mailbox full", `!!document.querySelector('button[aria-label="Make room in the mailbox of bob@example.net"]')`)
	p.waitJS("FULL on store.example.net's card", `document.querySelector('[data-host="store.example.net"] [data-badge="mail:bob@example.net"]').classList.contains('full')`)
	p.click(`#tab-compose`)
	p.do(chromedp.SetValue(chromedp.CSS(`#c-subject`), "No room"))
	p.click(`#c-send`)
	p.timelineHas("the 452 on the LMTP wire", `e.kind === 'wire' && e.text.startsWith('452 4.2.2 <bob@example.net> Mailbox full')`)
	p.timelineHas("the deferral", `e.kind === 'queue' && e.action === 'deferred' && e.host === 'mx.example.net'`)
	p.waitJS("the queue badge", `document.querySelector('[data-host="mx.example.net"] [data-badge="queue"]').dataset.count === '1'`)
	p.click(`#tab-mailboxes`)
	p.waitJS("FULL beside bob's INBOX", `document.querySelector('[data-user="bob@example.net"][data-mailbox="INBOX"] h4').textContent.includes('FULL')`)
	p.shot("mailbox-full")
	p.click(`#tab-world`)
	p.click(`button[aria-label="Make room in the mailbox of bob@example.net"]`)
	p.waitJS("the retry button", `!document.getElementById('retry').disabled`)
	p.click(`#retry`)
	p.timelineHas("the delivery after the retry", `e.kind === 'deliver' && e.mailbox === 'bob@example.net/INBOX'`)
	p.waitJS("the lesson done", `document.getElementById('lesson-strip').textContent.includes('done')`)
	p.click(`#tab-lessons`)
	p.waitJS("every check ticked", `document.querySelectorAll('.lesson-checks li.todo').length === 0 && document.querySelector('.lesson-done') !== null`)
	p.click(`#tab-mailboxes`)
	p.waitJS("FULL gone", `!document.querySelector('[data-user="bob@example.net"][data-mailbox="INBOX"] h4').textContent.includes('FULL')`)
	p.waitJS("FULL gone from the card", `!document.querySelector('[data-host="store.example.net"] [data-badge="mail:bob@example.net"]').classList.contains('full')`)
	p.click(`#tab-world`)
	p.click(`button[aria-label="Fill up the mailbox of bob@example.net"]`)
	p.waitJS("full again", `!!document.querySelector('button[aria-label="Make room in the mailbox of bob@example.net"]')`)
	p.noErrors()
}

// Submission by hand: STARTTLS, then AUTH PLAIN with the helper.
func TestTerminalAuthPlain(t *testing.T) {
	p := open(t, 1280, 720)
	p.click(`[data-preset="alice-pc>mail.example.org:587"]`)
	count := func(n int) string {
		return fmt.Sprintf(`[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].filter(e => /^\d\d\d /.test(e.textContent)).length >= %d`, n)
	}
	p.waitJS("the banner", count(1))
	p.typeLine("EHLO alice-pc")
	p.waitJS("the EHLO reply", count(2))
	p.typeLine("STARTTLS")
	p.waitJS("TLS", `[...document.querySelectorAll('.term:not([hidden]) .line.info .text')].some(e => e.textContent.startsWith('TLS started'))`)
	p.typeLine("EHLO alice-pc")
	p.waitJS("AUTH offered", `[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].some(e => e.textContent.includes('AUTH PLAIN'))`)
	p.click(`.term:not([hidden]) .term-head button[aria-expanded]`)
	out := p.text(`.term:not([hidden]) .auth-out`)
	if out != "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNl" {
		t.Fatalf("AUTH PLAIN helper: %q", out)
	}
	p.click(`.term:not([hidden]) .auth button.primary`)
	p.do(chromedp.SendKeys(chromedp.CSS(`.term:not([hidden]) .term-in`), "\r"))
	p.waitJS("235", `[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].some(e => e.textContent.startsWith('235 '))`)
	p.shot("terminal-auth")
	// A second terminal at once: IMAP on the store.
	p.click(`.term-new`)
	p.click(`[data-preset="bob-pc>store.example.net:143"]`)
	p.waitJS("two terminals", `document.querySelectorAll('.term-tabs [role=tab]').length === 2`)
	p.waitJS("the IMAP greeting", `[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].some(e => e.textContent.startsWith('* OK'))`)
	p.typeLine("a1 CAPABILITY")
	p.waitJS("a1 OK", `[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].some(e => e.textContent.startsWith('a1 OK'))`)
	// ↑ recalls the last line.
	p.do(chromedp.SendKeys(chromedp.CSS(`.term:not([hidden]) .term-in`), "\u0304"))
	if got := p.eval(`document.querySelector('.term:not([hidden]) .term-in').value`); got != "a1 CAPABILITY" {
		t.Errorf("↑ recalled %q", got)
	}
	p.noErrors()
}

// Keyboard only: the skip link, the tabs, the timeline.
func TestKeyboard(t *testing.T) {
	p := open(t, 1280, 720)
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		p.do(chromedp.KeyEvent("\t"))
		id := p.eval(`(() => { const a = document.activeElement; return a.id || a.getAttribute('aria-label') || a.textContent.trim().slice(0, 30); })()`)
		seen[id] = true
	}
	for _, want := range []string{"play", "step", "speed", "reset", "tl-list", "tab-terminal"} {
		if !seen[want] {
			t.Errorf("Tab never reached #%s (reached: %v)", want, seen)
		}
	}
	// Arrow keys move between the tool tabs.
	p.do(chromedp.Focus(chromedp.CSS(`#tab-terminal`)), chromedp.KeyEvent("\u0303"))
	if got := p.eval(`document.activeElement.id + ' ' + document.getElementById('tab-compose').getAttribute('aria-selected')`); got != "tab-compose true" {
		t.Fatalf("ArrowRight on the tabs: %q", got)
	}
	// Send by keyboard: focus the subject and press Enter.
	p.do(chromedp.Focus(chromedp.CSS(`#c-subject`)), chromedp.KeyEvent("\r"))
	p.waitJS("the queue id", `/queued as/.test(document.querySelector('#panel-compose .result').textContent)`)
	// "k" pauses (focus outside a field).
	p.do(chromedp.Focus(chromedp.CSS(`#reset`)), chromedp.Blur(chromedp.CSS(`#reset`)), chromedp.KeyEvent("k"))
	p.waitJS("paused", `document.getElementById('play').getAttribute('aria-pressed') === 'false'`)
	// Step shows one event at a time; "." steps.
	p.waitJS("events waiting", `mailhopUI.model.pendingCount() > 2`)
	before := p.eval(`mailhopUI.model.events.length`)
	p.do(chromedp.KeyEvent("."))
	p.waitJS("one more event", `mailhopUI.model.events.length === `+before+` + 1`)
	// The timeline: End, then Enter opens the details.
	p.do(chromedp.Focus(chromedp.CSS(`#tl-list`)), chromedp.KeyEvent("\u0305"), chromedp.KeyEvent("\r"))
	p.waitJS("the details", `!document.getElementById('tl-detail').hidden`)
	p.shot("keyboard")
	p.noErrors()
}

// A phone-sized screen: nothing wider than the screen, hosts stacked.
func TestNarrow(t *testing.T) {
	p := open(t, 375, 740)
	p.waitJS("the stacked topology", `document.querySelector('#topology svg').viewBox.baseVal.width < 500`)
	p.shot("narrow-start")
	if w := p.eval(`document.documentElement.scrollWidth`); w != "375" {
		t.Errorf("the page is %s px wide at 375", w)
	}
	p.click(`[data-preset="bob-pc>mx.example.net:25"]`)
	p.waitJS("the banner", `[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].some(e => e.textContent.startsWith('220 '))`)
	p.typeLine("EHLO phone")
	p.waitJS("250", `[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].some(e => e.textContent.startsWith('250 '))`)
	if w := p.eval(`document.documentElement.scrollWidth`); w != "375" {
		t.Errorf("with a terminal open, the page is %s px wide at 375", w)
	}
	p.shot("narrow-top")
	p.fullShot("narrow")
	p.noErrors()
}
