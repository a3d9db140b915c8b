//go:build browser && !js

package web

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// termText is the active terminal's conversation as its reader sees it:
// "C: line" and "S: line", one per row, in the order shown.
func (p *page) termText() []string {
	s := p.eval(`[...document.querySelectorAll('.term:not([hidden]) .term-out .line')].filter(l => l.dataset.dir !== 'info').map(l => (l.dataset.dir === 'send' ? 'C: ' : 'S: ') + l.querySelector('.text').textContent).join('\n')`)
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// before fails unless, in the terminal's text, the command comes before
// the reply whose code is given, and no other reply sits between them.
func before(t *testing.T, lines []string, cmd, code string) {
	t.Helper()
	for i, l := range lines {
		if l != "C: "+cmd {
			continue
		}
		for _, r := range lines[i+1:] {
			if strings.HasPrefix(r, "S: ") {
				if !strings.HasPrefix(r, "S: "+code) {
					t.Errorf("after %q the terminal shows %q, want %s…", cmd, r, code)
				}
				return
			}
		}
		t.Errorf("no reply after %q in the terminal:\n%s", cmd, strings.Join(lines, "\n"))
		return
	}
	t.Errorf("the terminal does not show %q:\n%s", cmd, strings.Join(lines, "\n"))
}

// waitReply waits for the n-th final reply line (a code and a space, or
// a tagged or status line) in the active terminal.
func (p *page) waitReplies(what string, n int) {
	p.t.Helper()
	p.waitJS(what, fmt.Sprintf(`[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].filter(e => /^\d\d\d( |$)/.test(e.textContent)).length >= %d`, n))
}

// Each command shows before its reply in the terminal's own text: EHLO
// before 250, STARTTLS before 220, DATA before 354, QUIT before 221.
func TestTerminalWireOrder(t *testing.T) {
	p := open(t, 1366, 768)
	p.click(`[data-preset="alice-pc>mail.example.org:587"]`)
	n := 1
	p.waitReplies("the banner", n)
	for _, c := range []string{"EHLO x", "STARTTLS", "EHLO x", "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNl",
		"MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.net>", "DATA"} {
		p.typeLine(c)
		n++
		p.waitReplies("the reply to "+c, n)
	}
	for _, l := range []string{"Subject: order", "", "In order.", "."} {
		p.typeLine(l)
	}
	n++
	p.waitReplies("the reply to the dot", n)
	p.typeLine("QUIT")
	n++
	p.waitReplies("the reply to QUIT", n)
	lines := p.termText()
	before(t, lines, "EHLO x", "250")
	before(t, lines, "STARTTLS", "220")
	before(t, lines, "DATA", "354")
	before(t, lines, ".", "250")
	before(t, lines, "QUIT", "221")
	p.shot("terminal-order")

	// At 1366×768 the terminal shows twenty protocol lines and more.
	shown := p.eval(`(() => { const out = document.querySelector('.term:not([hidden]) .term-out'); const r = out.getBoundingClientRect();
		return [...out.querySelectorAll('.line:not(.info)')].filter(l => { const b = l.getBoundingClientRect(); return b.top >= r.top - 1 && b.bottom <= r.bottom + 1; }).length; })()`)
	if n, _ := strconv.Atoi(shown); n < 20 {
		t.Errorf("the terminal shows %s protocol lines at 1366×768, want at least 20", shown)
	}
	// Bare mode hides the notes; the same note is not repeated.
	if again := p.eval(`document.querySelectorAll('.term:not([hidden]) .note.again').length > 0`); again != "true" {
		t.Error("a repeated note is shown again in full")
	}
	p.eval(`(() => { const s = document.getElementById('term-mode'); s.value = 'bare'; s.dispatchEvent(new Event('change')); return true; })()`)
	if vis := p.eval(`[...document.querySelectorAll('.term:not([hidden]) .note')].some(n => n.offsetParent !== null)`); vis != "false" {
		t.Error("bare mode still shows notes")
	}
	p.eval(`(() => { const s = document.getElementById('term-mode'); s.value = 'line'; s.dispatchEvent(new Event('change')); return true; })()`)
	p.noErrors()
}

// Any port of any address can be dialled: a refused port and an address
// nobody has are shown as telnet shows them, with what they mean.
func TestTerminalRefusedAndNoRoute(t *testing.T) {
	p := open(t, 1366, 768)
	for _, tc := range []struct{ to, port, want, note string }{
		{"mx.example.net", "26", "telnet: Unable to connect to remote host: Connection refused", "nothing listens on port 26"},
		{"203.0.113.7", "25", "telnet: Unable to connect to remote host: No route to host", "unreachable"},
	} {
		p.click(`.term-new`)
		p.eval(fmt.Sprintf(`(() => { const f = document.getElementById('term-from'); f.value = 'bob-pc';
			const to = document.getElementById('term-to'); to.value = %q; to.dispatchEvent(new Event('input'));
			document.getElementById('term-port').value = %q; return true; })()`, tc.to, tc.port))
		p.click(`.term-form button[type=submit]`)
		p.waitJS(tc.want, fmt.Sprintf(`[...document.querySelectorAll('.term:not([hidden]) .line.info')].some(l => l.querySelector('.text').textContent === %q && l.querySelector('.note') && l.querySelector('.note').textContent.includes(%q))`, tc.want, tc.note))
	}
	// "+ New connection" stays in view with several tabs.
	if vis := p.eval(`(() => { const b = document.querySelector('.term-new').getBoundingClientRect(); return b.right <= window.innerWidth && b.width > 0; })()`); vis != "true" {
		t.Error("+ New connection is out of view")
	}
	p.noErrors()
}

// A newcomer meets "Start here"; lesson 1 typed as a student types it is
// reported done, and remembered.
func TestLessonOneTyped(t *testing.T) {
	p := openURL(t, baseURL+"/", 1366, 768)
	if sel := p.eval(`document.getElementById('tab-lessons').getAttribute('aria-selected')`); sel != "true" {
		t.Fatal("Start here is not the first thing shown")
	}
	if n, _ := strconv.Atoi(p.eval(`document.querySelectorAll('.lesson-item').length`)); n < 12 {
		t.Fatalf("%d lessons listed, want at least 12", n)
	}
	p.shot("start-here")
	p.click(`[data-lesson="first-mail"] button`)
	p.waitJS("the lesson", `document.getElementById('lesson-h') && document.getElementById('lesson-h').textContent.includes('first mail')`)
	p.click(`#tab-terminal`)
	p.click(`.term-new`)
	p.click(`[data-preset="bob-pc>mx.example.net:25"]`)
	n := 1
	p.waitReplies("the banner", n)
	for _, c := range []string{"HELO bob-pc", "MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.net>", "DATA"} {
		p.typeLine(c)
		n++
		p.waitReplies("the reply to "+c, n)
	}
	for _, l := range []string{"From: Alice <alice@example.org>", "To: Bob <bob@example.net>", "Subject: My first mail", "", "Hello Bob!", "."} {
		p.typeLine(l)
	}
	n++
	p.waitReplies("the reply to the dot", n)
	p.typeLine("QUIT")
	p.waitJS("the lesson done", `document.getElementById('lesson-strip').textContent.includes('done')`)
	// Done is said no sooner than the page shows the delivery.
	if n := p.eval(`document.querySelector('[data-badge="mail:bob@example.net"]').dataset.count`); n != "1" {
		t.Errorf("the lesson says done while bob's badge shows %s messages; events: %s", n, p.eval(`mailhopUI.model.events.filter(e => ['deliver','lesson'].includes(e.kind)).map(e => e.seq + ' ' + e.kind + ' ' + (e.action||'') + ' ' + (e.mailbox||'')).join('; ') + ' state seq ' + mailhopUI.model.state.seq + ' mail ' + JSON.stringify([...mailhopUI.model.view.mail])`))
	}
	p.click(`#tab-lessons`)
	p.waitJS("every check ticked", `document.querySelectorAll('.lesson-checks li.todo').length === 0 && document.querySelector('.lesson-done') !== null`)
	p.shot("lesson-1-done")
	p.click(`.lesson-head button`)
	p.waitJS("lesson 1 done in the list", `(document.querySelector('[data-lesson="first-mail"] .lesson-state') || {}).textContent === 'done'`)
	// Remembered by the browser.
	q := openURL(t, baseURL+"/", 1366, 768)
	q.waitJS("lesson 1 still done", `(document.querySelector('[data-lesson="first-mail"] .lesson-state') || {}).textContent === 'done'`)
	p.noErrors()
}

// A wrong attempt: RCPT before MAIL gets 503, and the lesson says
// precisely what is still missing.
func TestLessonOneWrongAttempt(t *testing.T) {
	p := openURL(t, baseURL+"/", 1366, 768)
	p.click(`[data-lesson="first-mail"] button`)
	p.waitJS("the lesson", `document.getElementById('lesson-h') !== null`)
	p.click(`#tab-terminal`)
	p.click(`.term-new`)
	p.click(`[data-preset="bob-pc>mx.example.net:25"]`)
	p.waitReplies("the banner", 1)
	p.typeLine("HELO bob-pc")
	p.waitReplies("250", 2)
	p.typeLine("RCPT TO:<bob@example.net>")
	p.waitReplies("503", 3)
	before(t, p.termText(), "RCPT TO:<bob@example.net>", "503")
	p.click(`#tab-lessons`)
	p.waitJS("the missing MAIL FROM", `[...document.querySelectorAll('.lesson-checks li.todo .missing')].some(e => e.textContent.includes('no MAIL FROM has been accepted yet'))`)
	p.waitJS("the 503 quoted", `[...document.querySelectorAll('.lesson-checks li.todo')].some(e => e.textContent.includes('503'))`)
	if ok := p.eval(`document.querySelectorAll('.lesson-checks li.ok').length`); ok != "1" {
		t.Errorf("%s checks hold after HELO alone, want 1", ok)
	}
	p.shot("lesson-1-wrong")
	p.noErrors()
}

// Every other lesson, done through the page with its own solution ("Show
// me" types it into the terminal).
func TestLessonSolutionsThroughUI(t *testing.T) {
	p := openURL(t, baseURL+"/", 1366, 768)
	p.setSpeed("16")
	ids := strings.Split(p.eval(`[...document.querySelectorAll('.lesson-item')].map(e => e.dataset.lesson).join(' ')`), " ")
	if len(ids) < 12 {
		t.Fatalf("lessons %q", ids)
	}
	for _, id := range ids[1:] {
		t.Run(id, func(t *testing.T) {
			p.t = t
			p.eval(`mailhopUI.selectTab('tab-lessons'), true`)
			p.eval(fmt.Sprintf(`mailhopUI.lessons.open(%q), true`, id))
			p.waitJS("the lesson "+id, fmt.Sprintf(`mailhopUI.lessons.status && mailhopUI.lessons.status.id === %q && document.getElementById('lesson-h') !== null`, id))
			p.eval(`mailhopUI.lessons.showMe(), true`)
			// Done as the student sees it: the strip and the lesson view say so.
			p.waitJS(id+" done", `!mailhopUI.lessons.running && document.getElementById('lesson-strip').textContent.includes('done ✓')`)
			p.click(`#tab-lessons`)
			p.waitJS(id+" every check ticked", `document.querySelector('.lesson-done') !== null && document.querySelectorAll('.lesson-checks li.todo').length === 0`)
		})
	}
}

// The dns-broken scenario: the World tab says what is broken, and
// "answers normally" for every name mends it.
func TestDNSBrokenMends(t *testing.T) {
	p := open(t, 1366, 768)
	p.eval(`mailhopUI.world.actions.load('dns-broken'), true`)
	p.click(`#tab-world`)
	p.waitJS("the broken DNS said", `[...document.querySelectorAll('.dns-state')].some(e => e.textContent.includes('SERVFAIL for example.net'))`)
	// The topology shows it on the DNS server's card, too.
	p.waitJS("the fault on the card", `[...document.querySelectorAll('.badge.fault text')].some(e => e.textContent === 'SERVFAIL example.net')`)
	p.eval(`(() => { const f = document.querySelector('form.dns-fault'); f.querySelector('select').value = ''; f.querySelector('input').value = ''; f.requestSubmit(); return true; })()`)
	p.waitJS("DNS mended", `[...document.querySelectorAll('.dns-state')].some(e => e.textContent === 'ns.example answers normally.')`)
	p.waitJS("the card mended", `document.querySelectorAll('.badge.fault').length === 0`)
	// The world agrees: an MX question is answered.
	p.eval(`mailhop.send({from: 'alice@example.org', to: 'bob@example.net', subject: 'after the mend'}), true`)
	p.waitJS("the MX answered", `mailhopUI.model.events.some(e => e.kind === 'dns' && e.action === 'answer' && (e.records || []).some(r => /\sMX\s/.test(r)))`)
	p.noErrors()
}

// A bounce has no Received field: its message view says why, instead of
// an empty journey.
func TestBounceJourneyExplained(t *testing.T) {
	p := open(t, 1366, 768)
	p.eval(`mailhop.send({from: 'alice@example.org', to: 'nobody@example.net', subject: 'to nobody'}), true`)
	p.setSpeed("16")
	p.click(`#tab-mailboxes`)
	p.waitJS("the bounce in alice's INBOX", `!!document.querySelector('[data-user="alice@example.org"] button.link')`)
	p.click(`[data-user="alice@example.org"] button.link`)
	p.waitJS("the journey explained", `(document.querySelector('#panel-message .note-block') || {textContent: ''}).textContent.includes('this report was made by the mail system itself')`)
	p.noErrors()
}

// The topology's text stays readable wherever the page is shown: 800 px
// wide, 1280×720 at 150% zoom (853×480 CSS pixels), and a 1366 px screen
// where the topology has half the width; nothing runs off the side.
func TestReadableSizes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		w, h  int64
		scale float64
	}{{"800", 800, 900, 1}, {"1280x720-150pct", 853, 480, 1.5}, {"1366", 1366, 768, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			p := openURL(t, baseURL+"/", tc.w, tc.h)
			p.do(chromedp.EmulateViewport(tc.w, tc.h, chromedp.EmulateScale(tc.scale)))
			p.waitJS("the topology", `document.querySelectorAll('#topology svg text').length > 10`)
			small := p.eval(`(() => { let min = 99; for (const e of document.querySelectorAll('#topology svg text')) {
				const r = e.getBoundingClientRect(); if (r.height > 0 && e.textContent.trim()) min = Math.min(min, r.height); } return min.toFixed(1); })()`)
			if v, _ := strconv.ParseFloat(small, 64); v < 9 {
				t.Errorf("the topology's smallest text is %s px high, want 9 px at least", small)
			}
			if w := p.eval(`document.documentElement.scrollWidth <= window.innerWidth`); w != "true" {
				t.Errorf("the page is wider than the window (%s)", p.eval(`document.documentElement.scrollWidth + ' > ' + window.innerWidth`))
			}
			p.shot("readable-" + tc.name)
		})
	}
}

// What the page got wrong before, each checked where the user sees it: a
// DNS answer row goes from the server to the asker; a failed send clears
// the success before it; a world file's mistake stays beside the text; a
// lesson opens from an address.
func TestPageFixes(t *testing.T) {
	p := open(t, 1366, 768)
	p.setSpeed("16")

	// Compose: a success, then a failure: only the failure shows.
	p.click(`#tab-compose`)
	p.click(`#c-send`)
	p.waitJS("the success", `document.querySelector('#panel-compose .result').textContent.includes('queued as')`)
	p.eval(`(() => { document.getElementById('c-to').value = 'not an address'; return true; })()`)
	p.click(`#c-send`)
	p.waitJS("the failure", `!document.querySelector('#panel-compose .error').hidden`)
	if r := p.eval(`document.querySelector('#panel-compose .result').textContent`); r != "" {
		t.Errorf("an old success beside the new error: %q", r)
	}

	// The DNS answer of that first message: ns.example → mail.example.org.
	p.click(`#catchup`)
	p.waitJS("the DNS filter", `[...document.getElementById('f-proto').options].some(o => o.value === 'dns')`)
	p.do(chromedp.SetValue(chromedp.CSS(`#f-proto`), "dns"))
	p.eval(`document.getElementById('f-proto').dispatchEvent(new Event('change')), true`)
	p.waitJS("a DNS answer row", `[...document.querySelectorAll('#tl-list [role=option]')].some(r => /dns answer/i.test(r.querySelector('.c-kind').textContent))`)
	// An answer goes from the server to the host that asked:
	// mail.example.org for the MX, mx.example.net for SPF, DKIM and
	// DMARC.
	ends := p.eval(`[...document.querySelectorAll('#tl-list [role=option]')].filter(r => /dns answer/i.test(r.querySelector('.c-kind').textContent)).map(r => r.querySelector('.c-ends').textContent).join(' | ')`)
	for _, row := range strings.Split(ends, " | ") {
		if row != "ns.example → mail.example.org" && row != "ns.example → mx.example.net" {
			t.Errorf("a DNS answer row reads %q, want ns.example → the host that asked", row)
		}
	}

	// A world file with a mistake: the reason stays beside the text.
	p.click(`#tab-world`)
	p.eval(`(() => { document.getElementById('w-text').value = 'name: broken\nhosts: []\n'; return true; })()`)
	p.click(`.world-file button[type=submit]`)
	p.waitJS("the reason beside the text", `!document.getElementById('w-text-error').hidden && document.getElementById('w-text-error').textContent.includes('no hosts')`)
	p.eval(`new Promise(r => setTimeout(r, 10000 / 16)).then(() => true)`)
	if vis := p.eval(`!document.getElementById('w-text-error').hidden`); vis != "true" {
		t.Error("the world file's error vanished")
	}

	// A teacher's lesson, opened from an address.
	lessonFile := "id: mine\ntitle: My own lesson\ngoal: Say hello to the MX.\nworld: default\nsteps: [{text: Say EHLO to mx.example.net}]\n" +
		"checks:\n  - name: EHLO answered\n    reply: {peer: mx.example.net, port: 25, send: \"^EHLO \", reply: \"^250\"}\n"
	p.click(`#tab-lessons`)
	p.eval(`document.querySelector('.lesson-own').open = true, true`)
	p.eval(fmt.Sprintf(`(() => { document.getElementById('lesson-url').value = 'data:text/yaml;base64,' + btoa(%q); return true; })()`, lessonFile))
	p.click(`.lesson-own form button[type=submit]`)
	p.waitJS("the teacher's lesson", `(document.getElementById('lesson-h') || {textContent: ''}).textContent === 'My own lesson'`)
	p.noErrors()
}

// IMAP typed without a tag: the server says how a command is written, the
// terminal explains it, and the connection stays open.
func TestIMAPWithoutTag(t *testing.T) {
	p := open(t, 1366, 768)
	p.click(`[data-preset="bob-pc>store.example.net:143"]`)
	p.waitJS("the greeting", `[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].some(e => e.textContent.startsWith('* OK'))`)
	p.typeLine("LOGIN bob@example.net bob")
	p.waitJS("the tag explained", `[...document.querySelectorAll('.term:not([hidden]) .line.recv')].some(l => l.querySelector('.text').textContent.startsWith('* BAD Every IMAP command starts with a tag') && l.querySelector('.note').textContent.includes('keeps the connection open'))`)
	p.typeLine("a1 CAPABILITY")
	p.waitJS("a1 OK", `[...document.querySelectorAll('.term:not([hidden]) .line.recv .text')].some(e => e.textContent.startsWith('a1 OK'))`)
	if st := p.text(`.term:not([hidden]) .term-status`); st != "connected" {
		t.Errorf("the terminal says %q after a command without a tag, want connected", st)
	}
	p.noErrors()
}
