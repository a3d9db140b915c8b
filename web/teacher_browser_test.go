//go:build browser && !js

// The teacher's tools in Chromium: a link that gives whoever opens it the
// same world, lesson, seed and speed (in a fresh browser context, no
// storage shared); a custom world file through a link; a malformed link;
// going back through the events; projector mode at 1280×720; the
// downloads. Screenshots: testout/teacher-*.png.

package web

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// openFresh loads url in a tab of a new browser context: no cookies, no
// storage, no cache shared with the other tabs (as a student's browser).
func openFresh(t *testing.T, url string, w, h int64) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return openIn(t, ctx, url, w, h)
}

// openIn loads url in the tab of ctx and waits for the page to be ready.
func openIn(t *testing.T, ctx context.Context, url string, w, h int64) *page {
	t.Helper()
	ctx, cancelT := context.WithTimeout(ctx, 100*time.Second)
	t.Cleanup(cancelT)
	p := &page{t: t, ctx: ctx}
	p.do(chromedp.EmulateViewport(w, h))
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				p.fail(m.String() + " " + m.URL)
			}
		}
	}()
	p.do(chromedp.Navigate(url))
	p.waitJS("the page to be ready", `document.body.dataset.ready === 'true' || document.body.dataset.ready === 'failed'`)
	if p.eval(`document.body.dataset.ready`) != "true" {
		t.Fatalf("boot failed: %s", p.eval(`document.getElementById('boot-text').textContent`))
	}
	return p
}

// evalAwait evaluates a JavaScript expression that may be a Promise.
func (p *page) evalAwait(js string) string {
	p.t.Helper()
	out, err := chromedp.Run(p.ctx, chromedp.Evaluate[any](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("eval %s: %v", js, err)
	}
	if out == nil {
		return ""
	}
	return fmt.Sprint(out)
}

// fragment returns the page's link, as its address bar has it.
func (p *page) fragment() string {
	return p.eval(`location.hash`)
}

// copyLink presses "Copy link" and returns the address copied (the
// clipboard may be refused to a headless page: the address bar has it).
func (p *page) copyLink() string {
	p.t.Helper()
	p.eval(`mailhopUI.share.lastCopied = '', true`)
	p.click(`#copy-link`)
	p.waitJS("the link copied", `!!mailhopUI.share.lastCopied`)
	url := p.eval(`mailhopUI.share.lastCopied`)
	if href := p.eval(`location.href`); href != url {
		p.t.Errorf("copied %q, the address bar says %q", url, href)
	}
	return url
}

// packWorld compresses a text as the page's links do: deflate-raw, then
// base64url.
func packWorld(t *testing.T, text string) string {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(text))
	w.Close()
	return base64.RawURLEncoding.EncodeToString(b.Bytes())
}

// A teacher's link — a lesson, a seed, a speed — opened in a browser that
// shares nothing with the teacher's gives the same lesson, world, seed and
// speed, on the lesson's tab.
func TestShareLink(t *testing.T) {
	p := openURL(t, baseURL+"/", 1366, 768)
	if got := p.fragment(); got != "#w=default&seed=1" {
		t.Errorf("the address at start says %q, want #w=default&seed=1", got)
	}
	// Seed 7: the World tab's seed, then the default world.
	p.click(`#tab-world`)
	p.do(chromedp.SetValue(chromedp.CSS(`#w-seed`), "7"))
	p.do(chromedp.SetValue(chromedp.CSS(`#w-pick`), "default"))
	p.click(`#panel-world .loader form.row button`)
	p.waitJS("seed 7", `mailhopUI.model.live && mailhopUI.model.live?.seed === 7`)
	p.waitJS("the address with seed 7", `location.hash === '#w=default&seed=7'`)
	// The first lesson, at speed 2.
	p.click(`#tab-lessons`)
	p.click(`[data-lesson="first-mail"] button`)
	p.waitJS("the lesson", `document.getElementById('lesson-h') !== null`)
	// The lesson's world is loaded (its seed kept) before the speed moves.
	p.waitJS("the address with the lesson at seed 7", `location.hash === '#lesson=first-mail&seed=7'`)
	p.setSpeed("2")
	p.waitJS("the address with the lesson", `location.hash === '#lesson=first-mail&seed=7&speed=2'`)
	url := p.copyLink()
	p.waitJS("the copy announced", `/Link copied|press Ctrl\+C/.test(document.getElementById('status').textContent)`)
	p.shot("teacher-link-copied")
	// Without a clipboard (refused, or an http address), the link shows
	// selected in a field, for Ctrl+C.
	p.eval(`navigator.clipboard.writeText = () => Promise.reject(new Error('refused')), true`)
	if again := p.copyLink(); again != url {
		t.Errorf("the second copy gave %q, the first %q", again, url)
	}
	p.waitJS("the link in a field", `!document.getElementById('link-box').hidden && document.activeElement.id === 'link-text'`)
	if got := p.eval(`(() => { const f = document.getElementById('link-text'); return f.value === location.href && f.selectionStart === 0 && f.selectionEnd === f.value.length; })()`); got != "true" {
		t.Error("the link's field does not hold the whole link, selected")
	}
	if v := p.axe(); len(v) > 0 {
		t.Errorf("the link's field: accessibility violations:\n%s", strings.Join(v, "\n"))
	}
	p.click(`#link-close`)

	q := openFresh(t, url, 1366, 768)
	q.waitJS("the lesson from the link", `mailhopUI.lessons.status && mailhopUI.lessons.status.id === 'first-mail' && document.getElementById('lesson-h') !== null`)
	if got := q.eval(`document.getElementById('tab-lessons').getAttribute('aria-selected')`); got != "true" {
		t.Error("the link did not open on Start here, the lesson's tab")
	}
	if got := q.eval(`[mailhopUI.model.live.name, mailhopUI.model.live.seed, mailhopUI.model.speed, document.getElementById('speed').value].join(' ')`); got != "default 7 2 2" {
		t.Errorf("the link opened world, seed, speed, speed menu = %q, want \"default 7 2 2\"", got)
	}
	if got := q.eval(`localStorage.getItem('mailhop.lessons')`); strings.Contains(got, "done") {
		t.Errorf("the fresh browser shares the teacher's storage: %q", got)
	}
	if got := q.fragment(); got != "#lesson=first-mail&seed=7&speed=2" {
		t.Errorf("the opened page's address says %q", got)
	}
	if vis := q.eval(`document.getElementById('notice').hidden`); vis != "true" {
		t.Errorf("a good link shows a notice: %q", q.text(`#notice`))
	}
	q.shot("teacher-link-opened")

	// A built-in world (not a lesson) opens on the World tab; the seed
	// makes the same message ids.
	r := openFresh(t, baseURL+"/#w=backup-mx&seed=3", 1366, 768)
	r.waitJS("backup-mx", `document.querySelectorAll('#topology .host').length === 7 && mailhopUI.model.live?.name === 'backup-mx'`)
	if got := r.eval(`mailhopUI.model.live.seed + ' ' + document.getElementById('tab-world').getAttribute('aria-selected') + ' ' + document.getElementById('world-name').textContent`); got != "3 true backup-mx" {
		t.Errorf("#w=backup-mx&seed=3 opened seed, World tab, name = %q", got)
	}
	// Editing the address of an open page follows the new link.
	r.eval(`location.hash = '#w=default&seed=4&speed=16', true`)
	r.waitJS("the edited link followed", `mailhopUI.model.live?.name === 'default' && mailhopUI.model.live?.seed === 4 && mailhopUI.model.speed === 16`)
	p.noErrors()
	q.noErrors()
	r.noErrors()
}

// classroomWorld is a world file of about 5 KB: the default world's
// hosts with a class of students.
func classroomWorld() string {
	var b strings.Builder
	b.WriteString(`name: classroom
description: >
  The default world with a class of forty-eight students at example.net, each
  with a password of their own. Made for a lesson on reading mail.
start: 2026-03-02T08:30:00Z
hosts:
  - {name: alice-pc, addrs: [192.0.2.10], roles: [mua], user: alice@example.org, msa: mail.example.org, mailstore: mail.example.org}
  - {name: mail.example.org, addrs: [192.0.2.25], roles: [msa, mx, mda, pop3, imap], domains: [example.org], resolver: 192.0.2.53}
  - {name: ns.example, addrs: [192.0.2.53], roles: [dns], zones: [example.org, example.net]}
  - {name: mx.example.net, addrs: [198.51.100.25], roles: [mx], domains: [example.net], lmtp: store.example.net, resolver: 192.0.2.53}
  - {name: store.example.net, addrs: [198.51.100.30], roles: [lmtp, pop3, imap], domains: [example.net]}
  - {name: bob-pc, addrs: [198.51.100.10], roles: [mua], user: bob@example.net, mailstore: store.example.net}
users:
  - {address: alice@example.org, password: alice}
  - {address: bob@example.net, password: bob}
`)
	for i := 1; i <= 48; i++ {
		// Passwords that do not compress to nothing.
		pw := strconv.FormatUint(uint64(i)*2654435761%1000000007*97+12345, 36)
		fmt.Fprintf(&b, "  - {address: student%02d@example.net, password: %s-%02d}  # desk %d, row %c\n", i, pw, i*7%100, i, 'A'+rune(i%6))
	}
	b.WriteString(`zones:
  example.org: |
    $ORIGIN example.org.
    $TTL 3600
    @     IN SOA ns.example. hostmaster.example.org. 2026030201 7200 3600 1209600 3600
    @     IN NS  ns.example.
    @     IN MX  10 mail.example.org.
    mail  IN A   192.0.2.25
  example.net: |
    $ORIGIN example.net.
    $TTL 3600
    @     IN SOA ns.example. hostmaster.example.net. 2026030201 7200 3600 1209600 3600
    @     IN NS  ns.example.
    @     IN MX  10 mx.example.net.
    mx    IN A   198.51.100.25
    store IN A   198.51.100.30
`)
	return b.String()
}

// A 5 KB world file of one's own goes through a link and back.
func TestShareWorldFile(t *testing.T) {
	text := classroomWorld()
	if len(text) < 5000 {
		t.Fatalf("the world file is %d bytes, want 5 KB", len(text))
	}
	p := open(t, 1366, 768)
	p.click(`#tab-world`)
	p.do(chromedp.SetValue(chromedp.CSS(`#w-seed`), "9"))
	p.eval(fmt.Sprintf(`(() => { document.getElementById('w-text').value = %q; return true; })()`, text))
	p.click(`.world-file button[type=submit]`)
	p.waitJS("the classroom world", `mailhopUI.model.live && mailhopUI.model.live?.name === 'classroom' && mailhopUI.model.live?.seed === 9`)
	p.waitJS("the world file in the address", `location.hash.startsWith('#wf=') && location.hash.endsWith('&seed=9')`)
	url := p.copyLink()
	frag := url[strings.Index(url, "#"):]
	t.Logf("a %d-byte world file makes a %d-character link", len(text), len(url))
	if len(frag) > len(text)*3/4 {
		t.Errorf("the link's fragment is %d characters for a %d-byte file: not compressed?", len(frag), len(text))
	}
	q := openFresh(t, url, 1366, 768)
	q.waitJS("the classroom world from the link", `mailhopUI.model.live && mailhopUI.model.live?.name === 'classroom'`)
	if got := q.eval(`mailhopUI.model.live.seed + ' ' + mailhopUI.model.live.users.length + ' ' + document.getElementById('tab-world').getAttribute('aria-selected')`); got != "9 50 true" {
		t.Errorf("the world from the link: seed, users, World tab = %q, want \"9 50 true\"", got)
	}
	if got := q.text(`#panel-world table`); !strings.Contains(got, "student48@example.net") {
		t.Errorf("the World tab lacks the last student: %q", got)
	}
	if got := q.fragment(); got != frag {
		t.Errorf("the opened page rewrote its link:\n%s\nwant\n%s", got, frag)
	}
	q.shot("teacher-world-file")
	p.noErrors()
	q.noErrors()
}

// A link that can not be followed opens the default world, and a
// message says what was wrong; never a blank page.
func TestShareMalformed(t *testing.T) {
	for _, tc := range []struct{ name, frag, want string }{
		{"bad-base64", "#wf=not*base64!&seed=1", "not base64url"},
		{"bad-deflate", "#wf=" + base64.RawURLEncoding.EncodeToString([]byte("this is not deflate data at all....")) + "&seed=1", "could not be unpacked"},
		{"unknown-world", "#w=atlantis&seed=1", "“atlantis” could not be loaded"},
		{"bad-seed", "#w=default&seed=seven", "the seed “seven” is not a whole number"},
		{"zero-seed", "#w=backup-mx&seed=0", "the seed “0” is not a whole number"},
		{"bad-world-file", "#wf=" + packWorld(t, "name: broken\nhosts: []\n") + "&seed=2", "the world file in the link could not be loaded"},
		{"unknown-lesson", "#lesson=no-such-lesson&seed=1", "the lesson “no-such-lesson” could not be opened"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := openFresh(t, baseURL+"/"+tc.frag, 1280, 720)
			p.waitJS("the notice", `!document.getElementById('notice').hidden`)
			msg := p.text(`#notice-text`)
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "The default world is shown instead") {
				t.Errorf("the notice says %q, want %q and the default world", msg, tc.want)
			}
			p.waitJS("the default world", `document.querySelectorAll('#topology .host').length === 6 && mailhopUI.model.live?.name === 'default' && mailhopUI.model.live?.seed === 1`)
			if got := p.fragment(); got != "#w=default&seed=1" {
				t.Errorf("after a bad link the address says %q, want the default world's", got)
			}
			if got := p.eval(`document.getElementById('notice').getAttribute('role')`); got != "alert" {
				t.Errorf("the notice's role is %q", got)
			}
			if tc.name == "bad-deflate" {
				p.shot("teacher-bad-link")
				if v := p.axe(); len(v) > 0 {
					t.Errorf("the notice: accessibility violations:\n%s", strings.Join(v, "\n"))
				}
			}
			p.click(`#notice-close`)
			p.waitJS("the notice dismissed", `document.getElementById('notice').hidden`)
			p.noErrors()
		})
	}
	// A speed out of range is set aside, the rest of the link followed.
	p := openFresh(t, baseURL+"/#w=backup-mx&seed=5&speed=99999", 1280, 720)
	p.waitJS("backup-mx with seed 5", `mailhopUI.model.live?.name === 'backup-mx' && mailhopUI.model.live?.seed === 5`)
	if msg := p.text(`#notice-text`); !strings.Contains(msg, "the speed “99999”") || strings.Contains(msg, "default world") {
		t.Errorf("a bad speed's notice: %q", msg)
	}
}

// badges returns the topology's badges, "host:badge=count" sorted.
func (p *page) badges() string {
	return p.eval(`[...document.querySelectorAll('#topology [data-badge]')].map(b => b.closest('[data-host]').dataset.host + ':' + b.dataset.badge + '=' + (b.dataset.count || '')).sort().join(' ')`)
}

// seen is what the page shows at one event.
type seen struct {
	Seq       string
	Badges    string
	Bob       string // the Mailboxes panel: bob's messages, by subject
	Narration string
}

func (p *page) seenNow() seen {
	p.t.Helper()
	// Let the views catch up with the model (a frame).
	p.evalAwait(`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
	return seen{
		Seq:       p.eval(`mailhopUI.model.position().seq`),
		Badges:    p.badges(),
		Bob:       p.eval(`[...document.querySelectorAll('#panel-mailboxes [data-user="bob@example.net"] tbody tr')].map(r => r.children[2].textContent).join('|') || 'empty'`),
		Narration: p.text(`#narration .nar-text`),
	}
}

// Paused, five events forward and three back: the badges, the mailboxes
// and the message are as the page showed them at that event going
// forward; the world is not touched.
func TestRewind(t *testing.T) {
	p := open(t, 1366, 768)
	p.click(`#tab-mailboxes`)
	p.click(`#play`)
	p.waitJS("paused", `!mailhopUI.model.playing`)
	p.waitJS("the step bar", `!document.getElementById('stepbar').hidden`)
	p.eval(`mailhop.send({from: 'alice@example.org', to: 'bob@example.net', subject: 'Rewind me', body: 'Hello'}), true`)
	// Step (.) until bob's delivery is the second event to come; a step
	// with no event waiting moves the clock on.
	p.do(chromedp.Focus(chromedp.CSS(`#reset`)), chromedp.Blur(chromedp.CSS(`#reset`)))
	next := `mailhopUI.model.pending.slice(mailhopUI.model.head).findIndex(e => e.kind === 'deliver' && e.mailbox === 'bob@example.net/INBOX')`
	for i := 0; ; i++ {
		if i > 400 {
			t.Fatal("bob's delivery never came within 400 steps")
		}
		k, _ := strconv.Atoi(p.eval(next))
		if k == 1 {
			break
		}
		if k == 0 {
			t.Fatal("stepped past the moment before the delivery")
		}
		before := p.eval(`mailhopUI.model.events.length + ' ' + mailhopUI.model.clock.time`)
		p.do(chromedp.KeyEvent("."))
		p.waitJS("a step", `(mailhopUI.model.events.length + ' ' + mailhopUI.model.clock.time) !== `+strconv.Quote(before)+` || `+next+` >= 0`)
	}
	p.waitJS("five events waiting", `mailhopUI.model.pendingCount() >= 5`)
	var fwd []seen
	for i := 0; i < 5; i++ {
		n := p.eval(`mailhopUI.model.events.length`)
		p.do(chromedp.KeyEvent("."))
		p.waitJS("one more event", `mailhopUI.model.events.length === `+n+` + 1`)
		if i == 1 {
			// The delivery: bob's message shows in the Mailboxes panel.
			p.waitJS("bob's message listed", `[...document.querySelectorAll('#panel-mailboxes [data-user="bob@example.net"] tbody tr')].length === 1`)
		}
		fwd = append(fwd, p.seenNow())
	}
	if fwd[0].Bob != "empty" || fwd[1].Bob != "Rewind me" || !strings.Contains(fwd[1].Badges, "mail:bob@example.net=1") || !strings.Contains(fwd[0].Badges, "mail:bob@example.net=0") {
		t.Fatalf("going forward the page showed %+v, want bob's message from the 2nd event on", fwd)
	}
	// Open bob's message at the 5th event, as it is then.
	p.click(`[data-user="bob@example.net"] button.link`)
	p.waitJS("the message view", `document.querySelectorAll('#panel-message .received li').length === 3`)
	live := p.eval(`mailhopUI.model.live.seq + ' ' + mailhopUI.model.events.length`)
	msgFwd := p.text(`#panel-message .received`)

	// Three back, with the key: the 2nd event, bob's delivery.
	for i := 0; i < 3; i++ {
		p.do(chromedp.KeyEvent(","))
	}
	p.waitJS("rewound to the 2nd", `mailhopUI.model.position().seq === `+fwd[1].Seq)
	p.waitJS("the indicator", `document.getElementById('where').textContent.startsWith('Viewing event `+fwd[1].Seq+` of `+fwd[4].Seq+`') && !document.getElementById('to-now').hidden`)
	p.click(`#tab-mailboxes`)
	if got := p.seenNow(); got != fwd[1] {
		t.Errorf("rewound to event %s the page shows\n%+v\ngoing forward it showed\n%+v", fwd[1].Seq, got, fwd[1])
	}
	if !strings.Contains(p.text(`#panel-mailboxes .rewound-note`), "As they were at event "+fwd[1].Seq) {
		t.Errorf("the Mailboxes panel does not say it shows the past: %q", p.text(`#panel-mailboxes`))
	}
	p.click(`#tab-message`)
	if got := p.text(`#panel-message .received`); got != msgFwd {
		t.Errorf("the message's journey at its delivery:\n%s\nat the 5th event:\n%s", got, msgFwd)
	}
	p.shot("teacher-rewound")
	if v := p.axe(); len(v) > 0 {
		t.Errorf("rewound: accessibility violations:\n%s", strings.Join(v, "\n"))
	}
	// One more back: before the delivery, the message is not there yet.
	p.do(chromedp.KeyEvent(","))
	p.waitJS("rewound to the 1st", `mailhopUI.model.position().seq === `+fwd[0].Seq)
	if note := p.text(`#msg-at`); !strings.Contains(note, "not in bob@example.net’s INBOX yet") {
		t.Errorf("before its delivery the message view says %q", note)
	}
	p.click(`#tab-mailboxes`)
	if got := p.seenNow(); got != fwd[0] {
		t.Errorf("rewound to event %s the page shows\n%+v\ngoing forward it showed\n%+v", fwd[0].Seq, got, fwd[0])
	}
	// The future rows are dimmed in the timeline; the world went on untouched.
	if n := p.eval(`document.querySelectorAll('#tl-list .tl-row.is-future').length > 0 && !!document.querySelector('#tl-list .tl-row.is-cursor')`); n != "true" {
		t.Error("the timeline does not show the moment and its future")
	}
	if got := p.eval(`mailhopUI.model.live.seq + ' ' + mailhopUI.model.events.length`); got != live {
		t.Errorf("going back changed the world: %s, was %s", got, live)
	}
	// The scrubber, by keyboard: End is the present.
	p.do(chromedp.Focus(chromedp.CSS(`#scrubber`)), chromedp.KeyEvent("\u0305")) // End
	p.waitJS("back at the present", `mailhopUI.model.cursor === null && document.getElementById('to-now').hidden`)
	if got := p.seenNow(); got.Badges != fwd[4].Badges {
		t.Errorf("at the present the badges are %s, want %s", got.Badges, fwd[4].Badges)
	}
	// Forward through the past first, then on: '.' from two back.
	p.do(chromedp.Focus(chromedp.CSS(`#scrubber`)), chromedp.KeyEvent("\u0302"), chromedp.KeyEvent("\u0302")) // ←←
	p.waitJS("two back", `mailhopUI.model.position().seq === `+fwd[2].Seq)
	p.do(chromedp.Blur(chromedp.CSS(`#scrubber`)), chromedp.KeyEvent("."))
	p.waitJS("one forward", `mailhopUI.model.position().seq === `+fwd[3].Seq)
	// Clicking a row (paused) goes there.
	p.eval(`mailhopUI.timeline.selectSeq(` + fwd[1].Seq + `), true`)
	p.waitJS("the row's moment", `mailhopUI.model.position().seq === `+fwd[1].Seq)
	// Play: the present, and on.
	p.click(`#play`)
	p.waitJS("playing at the present", `mailhopUI.model.playing && mailhopUI.model.cursor === null && document.getElementById('stepbar').hidden`)
	// Back while playing pauses; "Back to now" plays on.
	p.do(chromedp.Focus(chromedp.CSS(`#reset`)), chromedp.Blur(chromedp.CSS(`#reset`)), chromedp.KeyEvent(","))
	p.waitJS("paused in the past", `!mailhopUI.model.playing && mailhopUI.model.cursor !== null && !document.getElementById('to-now').hidden`)
	p.click(`#to-now`)
	p.waitJS("playing again", `mailhopUI.model.playing && mailhopUI.model.cursor === null`)
	p.noErrors()
}

// luminance is the relative luminance of a CSS rgb() colour (WCAG 2).
func luminance(rgb string) float64 {
	var r, g, b float64
	fmt.Sscanf(strings.TrimPrefix(strings.TrimPrefix(rgb, "rgba("), "rgb("), "%f, %f, %f", &r, &g, &b)
	lin := func(c float64) float64 {
		c /= 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// Projector mode at 1280×720: the narration on top, large and in high
// contrast; the topology big; the timeline out of the way.
func TestProjector(t *testing.T) {
	p := open(t, 1280, 720)
	p.setSpeed("16")
	p.eval(`mailhop.send({from: 'alice@example.org', to: 'bob@example.net', subject: 'For the room'}), true`)
	p.timelineHas("the delivery", `e.kind === 'deliver'`)
	p.click(`#play`)
	p.waitJS("paused", `!mailhopUI.model.playing`)
	// Back to the MX question: the sentence a class hears.
	p.eval(`mailhopUI.model.seek(mailhopUI.model.events.find(e => e.kind === 'dns' && e.action === 'query' && / IN MX$/.test(e.text)).seq), true`)
	p.do(chromedp.Focus(chromedp.CSS(`#reset`)), chromedp.Blur(chromedp.CSS(`#reset`)), chromedp.KeyEvent("p"))
	p.waitJS("projector mode", `document.body.classList.contains('projector') && document.getElementById('projector').getAttribute('aria-pressed') === 'true'`)
	p.waitJS("the address keeps it", `location.hash.includes('proj=1')`)
	p.evalAwait(`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
	p.shot("teacher-projector")
	p.fullShot("teacher-projector-full")
	nar := p.eval(`(() => { const n = document.getElementById('narration'); const r = n.getBoundingClientRect(); const cs = getComputedStyle(n);
		const bg = getComputedStyle(document.getElementById('stepbar')).backgroundColor;
		return JSON.stringify({top: r.top, bottom: r.bottom, h: r.height, size: parseFloat(cs.fontSize), color: cs.color, bg, text: n.textContent,
			topo: document.getElementById('topology').getBoundingClientRect().top, timeline: document.getElementById('timeline').offsetParent !== null}); })()`)
	var n struct {
		Top, Bottom, H, Size float64
		Color, Bg, Text      string
		Topo                 float64
		Timeline             bool
	}
	if err := json.Unmarshal([]byte(nar), &n); err != nil {
		t.Fatal(err)
	}
	t.Logf("narration: %s", n.Text)
	if n.Size < 28 {
		t.Errorf("the narration's type is %.0f px, want 28 px at least", n.Size)
	}
	if n.H == 0 || n.Top > 60 || n.Bottom > n.Topo {
		t.Errorf("the narration is not on top: %+v", n)
	}
	if !strings.Contains(n.Text, "MX") {
		t.Errorf("the narration of the MX question: %q", n.Text)
	}
	l1, l2 := luminance(n.Color), luminance(n.Bg)
	if l1 < l2 {
		l1, l2 = l2, l1
	}
	if c := (l1 + 0.05) / (l2 + 0.05); c < 7 {
		t.Errorf("the narration's contrast is %.1f:1 (%s on %s), want 7:1 (AAA)", c, n.Color, n.Bg)
	}
	if n.Timeline {
		t.Error("the timeline still takes room in projector mode")
	}
	// The topology's text, readable from the back: 14 px and more for
	// the host names, nothing under 11 px.
	small := p.eval(`(() => { let min = 99, name = 0; for (const e of document.querySelectorAll('#topology svg text')) {
		const r = e.getBoundingClientRect(); if (r.height > 0 && e.textContent.trim()) min = Math.min(min, r.height);
		if (e.classList.contains('host-name')) name = Math.max(name, r.height); } return min.toFixed(1) + ' ' + name.toFixed(1); })()`)
	var minH, nameH float64
	fmt.Sscan(small, &minH, &nameH)
	if minH < 11 || nameH < 16 {
		t.Errorf("projector mode: the topology's smallest text is %.1f px, the host names %.1f px", minH, nameH)
	}
	if w := p.eval(`document.documentElement.scrollWidth <= window.innerWidth`); w != "true" {
		t.Error("projector mode is wider than the window")
	}
	if v := p.axe(); len(v) > 0 {
		t.Errorf("projector mode: accessibility violations:\n%s", strings.Join(v, "\n"))
	}
	// p again: back to the ordinary page.
	p.do(chromedp.KeyEvent("p"))
	p.waitJS("projector off", `!document.body.classList.contains('projector') && !location.hash.includes('proj=1')`)
	p.noErrors()
}

// The downloads, caught as the page makes them (its Blob and the <a
// download> it clicks).
func TestExports(t *testing.T) {
	p := open(t, 1366, 768)
	p.setSpeed("16")
	p.eval(`mailhop.send({from: 'alice@example.org', to: 'bob@example.net', subject: 'Take this home', body: 'Hello Bob'}), true`)
	p.timelineHas("the delivery", `e.kind === 'deliver' && e.mailbox === 'bob@example.net/INBOX'`)
	p.click(`#catchup`)
	// Catch each download: the Blob made and the name of the link clicked.
	p.eval(`(() => {
		window.caught = [];
		const make = URL.createObjectURL;
		URL.createObjectURL = (b) => { const u = make.call(URL, b); window.caught.push({ url: u, blob: b, name: '' }); return u; };
		document.addEventListener('click', (e) => {
			const a = e.target.closest && e.target.closest('a[download]');
			if (!a) return;
			e.preventDefault();
			const c = window.caught.find(x => x.url === a.href);
			if (c) c.name = a.download;
		}, true);
		return true;
	})()`)
	got := func(i int) (name string, data []byte) {
		t.Helper()
		p.waitJS(fmt.Sprintf("download %d", i+1), fmt.Sprintf(`window.caught.length > %d && window.caught[%d].name !== ''`, i, i))
		out := p.evalAwait(fmt.Sprintf(`window.caught[%d].blob.arrayBuffer().then(b => { let s = ''; for (const x of new Uint8Array(b)) s += String.fromCharCode(x); return window.caught[%d].name + '\n' + btoa(s); })`, i, i))
		name, b64, _ := strings.Cut(out, "\n")
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		// For a person to open: testout/download-NAME.
		_ = os.WriteFile(filepath.Join(shotsDir, "download-"+filepath.Base(name)), data, 0o644)
		return name, data
	}
	p.click(`#export-btn`)
	if got := p.eval(`document.getElementById('export-btn').getAttribute('aria-expanded') + ' ' + document.activeElement.id`); got != "true ex-transcript" {
		t.Errorf("the Export menu opened as %q", got)
	}
	p.shot("teacher-export-menu")
	if v := p.axe(); len(v) > 0 {
		t.Errorf("the Export menu: accessibility violations:\n%s", strings.Join(v, "\n"))
	}
	p.click(`#ex-transcript`)
	name, data := got(0)
	if name != "mailhop-default-seed1.txt" || !bytes.Contains(data, []byte("C: EHLO")) || !bytes.Contains(data, []byte("Take this home")) {
		t.Errorf("the transcript %s:\n%.600s", name, data)
	}
	p.click(`#export-btn`)
	p.click(`#ex-trace`)
	name, data = got(1)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if name != "mailhop-default-seed1.jsonl" || len(lines) < 20 {
		t.Errorf("the trace %s: %d lines", name, len(lines))
	}
	kinds := map[string]bool{}
	for i, l := range lines {
		var e struct {
			Seq  int64  `json:"seq"`
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("the trace's line %d is not JSON: %v\n%s", i+1, err, l)
		}
		kinds[e.Kind] = true
	}
	if !kinds["deliver"] || !kinds["wire"] || !kinds["dns"] {
		t.Errorf("the trace's kinds: %v", kinds)
	}
	p.click(`#export-btn`)
	p.click(`#ex-pcap`)
	name, data = got(2)
	if name != "mailhop-default-seed1.pcapng" || !bytes.HasPrefix(data, []byte{0x0A, 0x0D, 0x0D, 0x0A}) || len(data) < 1000 {
		t.Errorf("the capture %s: %d bytes, starts % x", name, len(data), data[:min(8, len(data))])
	}
	// The message, as bob's store keeps it.
	p.click(`#tab-mailboxes`)
	p.waitJS("bob's message", `!!document.querySelector('[data-user="bob@example.net"] button.link')`)
	p.click(`[data-user="bob@example.net"] button.link`)
	p.waitJS("the message view", `!!document.getElementById('msg-eml')`)
	p.click(`#msg-eml`)
	name, data = got(3)
	if name != "bob-INBOX-1.eml" || !bytes.HasPrefix(data, []byte("Return-Path: ")) && !bytes.HasPrefix(data, []byte("Received: ")) && !bytes.HasPrefix(data, []byte("Delivered-To: ")) {
		t.Errorf("the message %s starts %.200q", name, data)
	}
	if !bytes.Contains(data, []byte("\r\n\r\n")) && !bytes.Contains(data, []byte("\n\n")) || !bytes.Contains(data, []byte("Subject: Take this home")) {
		t.Errorf("the message %s has no header and body: %.400q", name, data)
	}
	p.noErrors()
}
