//go:build browser && !js

// The live view in a real browser: `mailhop serve --ui` (mail.example.org
// on 127.0.0.2) relays to a second `mailhop serve` (mx.example.net on
// 127.0.0.3) found through `mailhop dns`; headless Chromium opens the
// page the UI address serves, swaks sends real mail, and the page must
// show it cross the real servers hop by hop. Screenshots: testout/live*.png.

package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mailhop/mailhop/sim/listen/listentest"
)

// buildMailhop builds cmd/mailhop into dir, with the site as make wasm
// left it embedded.
func buildMailhop(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "mailhop")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/mailhop/mailhop/cmd/mailhop").CombinedOutput()
	if err != nil {
		t.Fatalf("building mailhop: %v\n%s", err, out)
	}
	return bin
}

// syncLog collects a process's output.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is a mailhop process of the test.
type proc struct {
	t    *testing.T
	args []string
	cmd  *exec.Cmd
	log  *syncLog
	done chan struct{}
}

// start runs it and waits until its log says ready.
func (p *proc) start(bin, ready string) {
	p.t.Helper()
	p.cmd = exec.Command(bin, p.args...)
	p.log = &syncLog{}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan struct{})
	cmd, done := p.cmd, p.done
	go func() {
		cmd.Wait()
		close(done)
	}()
	p.t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(p.log.String(), ready) {
		select {
		case <-done:
			p.t.Fatalf("mailhop %s exited at start:\n%s", p.args[0], p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("mailhop %s did not start:\n%s", p.args[0], p.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends it with SIGTERM, as an operator would.
func (p *proc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Fatalf("mailhop %s did not stop on SIGTERM:\n%s", p.args[0], p.log.String())
	}
}

func TestLiveView(t *testing.T) {
	start := time.Now()
	for _, prog := range []string{"swaks"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Fatalf("%s is needed for this test (apt-get install swaks, or make deps)", prog)
		}
	}
	dir := t.TempDir()
	bin := buildMailhop(t, dir)
	t.Logf("mailhop built in %v", time.Since(start).Round(time.Millisecond))
	zone := func(origin, host, ip string) string {
		path := filepath.Join(dir, origin+".zone")
		text := fmt.Sprintf("$ORIGIN %s.\n$TTL 300\n@ IN SOA ns.example. hostmaster.%s. 1 7200 3600 1209600 300\n@ IN MX 10 %s.%s.\n%s IN A %s\n",
			origin, origin, host, origin, host, ip)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	dnsPort := listentest.FreePort(t, "127.0.0.1", true)
	dns := &proc{t: t, args: []string{"dns", "--listen", fmt.Sprintf("127.0.0.1:%d", dnsPort),
		"--zone", zone("example.org", "mail", "127.0.0.2"), "--zone", zone("example.net", "mx", "127.0.0.3")}}
	dns.start(bin, "serving DNS")
	mxPort := listentest.FreePort(t, "127.0.0.3", false)
	b := &proc{t: t, args: []string{"serve", "--hostname", "mx.example.net", "--domain", "example.net",
		"--data", filepath.Join(dir, "b"), "--user", "bob@example.net:bob", "--smtp", fmt.Sprintf("127.0.0.3:%d", mxPort),
		"--submission", "", "--submissions", "", "--imap", "", "--imaps", "", "--pop3", "", "--pop3s", "",
		"--resolver", fmt.Sprintf("127.0.0.1:%d", dnsPort), "--shutdown-timeout", "2s"}}
	b.start(bin, "msg=serving")
	sub := listentest.FreePort(t, "127.0.0.2", false)
	uiAddr := fmt.Sprintf("127.0.0.2:%d", listentest.FreePort(t, "127.0.0.2", false))
	a := &proc{t: t, args: []string{"serve", "--hostname", "mail.example.org", "--domain", "example.org",
		"--data", filepath.Join(dir, "a"), "--user", "alice@example.org:alice", "--user", "carol@example.org:carol",
		"--smtp", fmt.Sprintf("127.0.0.2:%d", listentest.FreePort(t, "127.0.0.2", false)), "--submission", fmt.Sprintf("127.0.0.2:%d", sub),
		"--submissions", "", "--imap", fmt.Sprintf("127.0.0.2:%d", listentest.FreePort(t, "127.0.0.2", false)), "--imaps", "",
		"--pop3", "", "--pop3s", "", "--resolver", fmt.Sprintf("127.0.0.1:%d", dnsPort), "--mx-port", fmt.Sprint(mxPort),
		"--retry-schedule", "1s", "--shutdown-timeout", "2s", "--ui", uiAddr}}
	a.start(bin, "msg=serving")
	t.Logf("servers up at %v", time.Since(start).Round(time.Millisecond))

	// What a teacher types: the UI address; the browser is sent on to
	// the page.
	p := openURL(t, "http://"+uiAddr+"/", 1280, 800)
	t.Logf("live page ready at %v", time.Since(start).Round(time.Millisecond))
	if got := p.eval(`location.pathname`); got != "/live" {
		t.Errorf("the UI address led to %s, want /live", got)
	}
	if got := p.text(`.brand .world`); !strings.Contains(got, "live view of mail.example.org — watching real traffic") {
		t.Errorf("the header says %q", got)
	}
	// No simulation: no WebAssembly fetched, no worker; what needs one
	// is gone or hidden.
	if got := p.eval(`performance.getEntriesByType('resource').map(r => r.name).filter(n => /wasm|worker/.test(n)).join(' ')`); got != "" {
		t.Errorf("the live page fetched %s", got)
	}
	if got := p.eval(`['#tab-terminal', '#tab-compose', '#tab-message', '#panel-terminal'].filter(s => document.querySelector(s)).join(' ')`); got != "" {
		t.Errorf("the live page still has %s", got)
	}
	if got := p.eval(`['#reset', '.advance', '.clock-box'].filter(s => !document.querySelector(s).hidden).join(' ')`); got != "" {
		t.Errorf("the live page shows %s", got)
	}
	refused, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`mailhop.connect('a', 'b', 25).then(() => 'connected', e => e.message)`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.Contains(refused, "watches a real server") {
		t.Errorf("mailhop.connect in the live view: %q %v", refused, err)
	}
	// The server, as its state says.
	p.waitJS("the server's card", `!!document.querySelector('#topology [data-host="mail.example.org"]')`)
	card := p.eval(`document.querySelector('[data-host="mail.example.org"]').getAttribute('aria-label')`)
	for _, want := range []string{"mail.example.org, 127.0.0.2", "MSA", "MTA", "MDA", "IMAP", fmt.Sprint(sub), "0 in the queue"} {
		if !strings.Contains(card, want) {
			t.Errorf("the server's card %q lacks %q", card, want)
		}
	}
	if got := p.text(`#panel-world [data-service="submission"]`); !strings.Contains(got, fmt.Sprintf("127.0.0.2:%d", sub)) {
		t.Errorf("the Server panel's submission row: %q", got)
	}
	p.setSpeed("16")

	// Real mail: alice-pc (127.0.0.10) submits to mail.example.org, which
	// relays to mx.example.net; then mail for carol, filed here.
	swaks := func(to, subject string) {
		t.Helper()
		out, err := exec.Command("swaks", "--server", fmt.Sprintf("127.0.0.2:%d", sub), "--local-interface", "127.0.0.10",
			"--ehlo", "alice-pc", "--tls", "--auth", "PLAIN", "--auth-user", "alice@example.org", "--auth-password", "alice",
			"--from", "alice@example.org", "--to", to, "--header", "Subject: "+subject, "--body", "Watched live.",
			"--timeout", "15").CombinedOutput()
		if err != nil || !regexp.MustCompile(`(?m)^<~ +250 2\.0\.0 Ok: queued as \w+`).Match(out) {
			t.Fatalf("swaks to %s: %v\n%s", to, err, out)
		}
	}
	swaks("bob@example.net", "live-1")
	swaks("carol@example.org", "live-2")
	t.Logf("mail sent at %v", time.Since(start).Round(time.Millisecond))

	p.timelineHas("alice-pc's EHLO", `e.kind === 'wire' && e.dir === 'send' && e.text === 'EHLO alice-pc' && e.host === '127.0.0.10' && e.peer === 'mail.example.org'`)
	p.timelineHas("AUTH, its password hidden", `e.kind === 'wire' && e.text === 'AUTH PLAIN ***' && e.tls`)
	p.timelineHas("the queue id", `e.kind === 'wire' && e.dir === 'recv' && /^250 2\.0\.0 Ok: queued as \w+/.test(e.text) && e.host === '127.0.0.10'`)
	p.timelineHas("the MX question", `e.kind === 'dns' && e.action === 'query' && e.text === 'example.net. IN MX' && e.peer === '127.0.0.1'`)
	p.timelineHas("the relay's RCPT", `e.kind === 'wire' && e.text === 'RCPT TO:<bob@example.net>' && e.host === 'mail.example.org' && e.peer === 'mx.example.net' && e.tls`)
	p.timelineHas("the hop to mx.example.net", `e.kind === 'hop' && e.host === 'mail.example.org' && e.peer === 'mx.example.net'`)
	p.timelineHas("the relay delivered", `e.kind === 'queue' && e.action === 'delivered' && /via mx\.example\.net/.test(e.text)`)
	p.timelineHas("the delivery to carol", `e.kind === 'deliver' && e.mailbox === 'carol@example.org/INBOX'`)
	t.Logf("the journey shown at %v", time.Since(start).Round(time.Millisecond))
	// Each message named after its subject and envelope, as they crossed the wire.
	if got := p.eval(`[...document.querySelectorAll('#f-msg option')].map(o => o.textContent).join('|')`); !strings.Contains(got, "live-1 — alice@example.org → bob@example.net|live-2 — alice@example.org → carol@example.org") {
		t.Errorf("the Message filter offers %q", got)
	}
	// Each line explained, with its RFC.
	if got := p.eval(`mailhopUI.model.events.find(e => e.kind === 'wire' && e.text === 'RCPT TO:<bob@example.net>').note || ''`); !strings.Contains(got, "RFC 5321") {
		t.Errorf("RCPT TO's note: %q", got)
	}

	// The hosts seen on the wire, on their cards.
	p.waitJS("the peers' cards", `['127.0.0.10', 'mx.example.net', '127.0.0.1'].every(n => document.querySelector('#topology [data-host="' + n + '"]'))`)
	for host, want := range map[string][]string{
		"127.0.0.10":     {"alice-pc (127.0.0.10)", "MUA"},
		"mx.example.net": {"mx.example.net, 127.0.0.3", "MTA", fmt.Sprintf("ports %d", mxPort)},
		"127.0.0.1":      {"DNS"},
	} {
		label := p.eval(fmt.Sprintf(`document.querySelector('[data-host=%q]').getAttribute('aria-label')`, host))
		for _, w := range want {
			if !strings.Contains(label, w) {
				t.Errorf("card %s: %q lacks %q", host, label, w)
			}
		}
	}
	if got := p.eval(`document.querySelector('[data-host="127.0.0.10"] .host-name').textContent`); got != "alice-pc" {
		t.Errorf("alice-pc's card is named %q", got)
	}
	p.waitJS("carol's badge", `document.querySelector('[data-host="mail.example.org"] [data-badge="mail:carol@example.org"]')?.dataset.count === '1'`)
	p.waitJS("the queue emptied", `document.querySelector('[data-host="mail.example.org"] [data-badge="queue"]').dataset.count === '0'`)
	if got := p.eval(`[...document.querySelectorAll('#topology .link-g')].length`); got != "3" {
		t.Errorf("%s links drawn, want 3 (alice-pc, DNS, MX)", got)
	}
	p.shot("live")

	// Downloads from the server itself: the transcript and the trace (no
	// capture: the page has no simulated traffic to give).
	p.click(`#export-btn`)
	links := p.eval(`[...document.querySelectorAll('#export-menu a')].map(a => a.href + ' ' + a.getAttribute('download')).join('|')`)
	wantLinks := fmt.Sprintf("http://%s/export/transcript.txt mailhop-live-mail.example.org.txt|http://%s/export/trace.jsonl mailhop-live-mail.example.org.jsonl", uiAddr, uiAddr)
	if links != wantLinks {
		t.Errorf("the live view's downloads:\n%s\nwant\n%s", links, wantLinks)
	}
	if got := p.eval(`document.querySelectorAll('#export-menu button, #copy-link:not([hidden])').length`); got != "0" {
		t.Errorf("the live view offers %s downloads or links it can not make", got)
	}
	p.shot("live-export")
	p.do(chromedp.KeyEvent("\u001b")) // Escape
	for _, x := range []struct{ path, want string }{
		{"export/transcript.txt", "EHLO alice-pc"},
		{"export/trace.jsonl", `"kind":"deliver"`},
	} {
		got, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](fmt.Sprintf(`fetch(new URL(%q, location.href)).then(async r => r.status + '\n' + await r.text())`, x.path), chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		status, body, _ := strings.Cut(got, "\n")
		if status != "200" || !strings.Contains(body, x.want) {
			t.Errorf("GET %s: %s, want %q in:\n%.400s", x.path, status, x.want, body)
		}
		if strings.HasSuffix(x.path, ".jsonl") {
			for i, l := range strings.Split(strings.TrimSpace(body), "\n") {
				if !json.Valid([]byte(l)) {
					t.Errorf("GET %s: line %d is not JSON: %.200s", x.path, i+1, l)
					break
				}
			}
		}
	}

	// The mailboxes: counts, and no way to open a message.
	p.click(`#tab-mailboxes`)
	p.waitJS("carol's count", `document.querySelector('#panel-mailboxes tr[data-user="carol@example.org"] .messages')?.textContent === '1'`)
	if got := p.eval(`document.querySelectorAll('#panel-mailboxes button').length`); got != "0" {
		t.Errorf("the Mailboxes panel has %s buttons", got)
	}
	p.eval(`mailhopUI.timeline.selectSeq(mailhopUI.timeline.rows.find(e => e.kind === 'deliver').seq), true`)
	if got := p.text(`#tl-detail .detail-actions`); strings.Contains(got, "Open the message") {
		t.Errorf("a delivery offers to open the message: %q", got)
	}
	// A DNS answer as dig shows it, from the real resolver.
	p.eval(`mailhopUI.timeline.selectSeq(mailhopUI.timeline.rows.find(e => e.kind === 'dns' && e.action === 'answer' && (e.records || []).some(r => /\tMX\t/.test(r))).seq), true`)
	dig := p.text(`#tl-detail pre.dig`)
	for _, want := range []string{";; ANSWER SECTION:", "example.net.\t300\tIN\tMX\t10 mx.example.net.", fmt.Sprintf(";; SERVER: 127.0.0.1#%d", dnsPort)} {
		if !strings.Contains(dig, want) {
			t.Errorf("dig view lacks %q:\n%s", want, dig)
		}
	}
	// The relay's transcript, from its hop.
	p.eval(`mailhopUI.timeline.selectSeq(mailhopUI.timeline.rows.find(e => e.kind === 'hop' && e.peer === 'mx.example.net').seq), true`)
	tr := p.text(`#tl-detail .transcript`)
	for _, want := range []string{"EHLO mail.example.org", "STARTTLS", "MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.net>", "250 2.0.0 Ok: queued as"} {
		if !strings.Contains(tr, want) {
			t.Errorf("the relay's transcript lacks %q:\n%s", want, tr)
		}
	}
	p.shot("live-transcript")
	p.noErrors()

	// Opened later, on a phone: the past is there at once, on the same
	// cards, and nothing is wider than the screen.
	q := openURL(t, "http://"+uiAddr+"/live", 375, 740)
	if got := q.eval(`mailhopUI.model.pendingCount() + ' ' + mailhopUI.timeline.rows.filter(e => e.kind === 'deliver' || e.kind === 'hop').length`); got != "0 4" {
		t.Errorf("the page opened later shows the past as %q (events waiting, hops and deliveries), want \"0 4\" (two hops in, one out, one delivery)", got)
	}
	if got := q.eval(`[...document.querySelectorAll('#topology .host')].map(g => g.dataset.host).sort().join(' ')`); got != "127.0.0.1 127.0.0.10 mail.example.org mx.example.net" {
		t.Errorf("the page opened later has the cards %q", got)
	}
	if w := q.eval(`document.documentElement.scrollWidth`); w != "375" {
		t.Errorf("the live page is %s px wide at 375", w)
	}
	q.fullShot("live-narrow")
	q.noErrors()

	// The server restarts: the page reconnects, sees another run, and
	// starts afresh with it.
	a.stop()
	p.waitJS("the page noticing", `document.getElementById('live-status').textContent === 'reconnecting…'`)
	a.start(bin, "msg=serving")
	p.waitJS("the page reconnected", `document.getElementById('live-status').textContent === 'connected' && mailhopUI.model.world === 2`)
	swaks("carol@example.org", "live-3")
	p.timelineHas("the delivery after the restart", `e.kind === 'deliver' && e.mailbox === 'carol@example.org/INBOX' && / UID 2,/.test(e.text)`)
	if got := p.eval(`mailhopUI.timeline.rows.filter(e => e.kind === 'deliver').length`); got != "1" {
		t.Errorf("after the restart the timeline shows %s deliveries, want only the new run's", got)
	}
	p.waitJS("carol's badge after the restart", `document.querySelector('[data-host="mail.example.org"] [data-badge="mail:carol@example.org"]')?.dataset.count === '2'`)
	p.noErrors()
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}
