//go:build browser && !js

package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axePath is axe-core's script, where make deps (.ci/deps) installs it
// with npm, outside the repository: $MAILHOP_AXE_DIR or
// ~/.cache/mailhop/axe.
func axePath() string {
	dir := os.Getenv("MAILHOP_AXE_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "mailhop", "axe")
	}
	return filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
}

// axe runs axe-core over the page as it is and returns its violations,
// one line each: the rule, what it wants, and the first nodes at fault.
func (p *page) axe() []string {
	p.t.Helper()
	if p.eval(`typeof axe`) != "object" {
		src, err := os.ReadFile(axePath())
		if err != nil {
			p.t.Fatalf("axe-core is needed for this test (make deps installs it): %v", err)
		}
		if _, err := chromedp.Run(p.ctx, chromedp.Evaluate[any](string(src)+";true")); err != nil {
			p.t.Fatalf("loading axe-core: %v", err)
		}
	}
	out, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ['violations']}).then(r =>
		r.violations.map(v => v.id + ': ' + v.help + ' — ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')).join('\n'))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("axe: %v", err)
	}
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// axe-core finds no accessibility violation in any view of the
// playground: Start here, a lesson, the terminal, compose, mailboxes, a
// message, an event's details, the world.
func TestAccessibility(t *testing.T) {
	p := openURL(t, baseURL+"/", 1366, 768)
	check := func(view string) {
		t.Helper()
		if v := p.axe(); len(v) > 0 {
			p.shot("axe-" + safeName(view))
			t.Errorf("%s: %d accessibility violations:\n%s", view, len(v), strings.Join(v, "\n"))
		}
	}
	check("start here")
	p.click(`[data-lesson="first-mail"] button`)
	p.waitJS("the lesson", `document.getElementById('lesson-h') !== null`)
	check("lesson")
	p.click(`#tab-terminal`)
	p.click(`.term-new`)
	check("terminal form")
	p.click(`[data-preset="bob-pc>mx.example.net:25"]`)
	p.waitReplies("the banner", 1)
	for _, l := range []string{"HELO bob-pc", "MAIL FROM:<alice@example.org>"} {
		p.typeLine(l)
	}
	p.waitReplies("the replies", 3)
	check("terminal")
	p.click(`#tab-compose`)
	check("compose")
	p.eval(`mailhop.send({from: 'alice@example.org', to: 'bob@example.net', subject: 'a11y', body: 'Hello'}), true`)
	p.click(`#catchup`)
	p.click(`#tab-mailboxes`)
	p.waitJS("bob's message", `!!document.querySelector('[data-user="bob@example.net"] button.link')`)
	check("mailboxes")
	p.click(`[data-user="bob@example.net"] button.link`)
	p.waitJS("the message view", `document.querySelectorAll('#panel-message .received li').length > 0`)
	check("message")
	p.eval(`mailhopUI.timeline.selectSeq(mailhopUI.timeline.rows.find(e => e.kind === 'dns').seq), true`)
	p.waitJS("the details", `!document.getElementById('panel-detail').hidden || document.getElementById('tl-detail') !== null`)
	check("details")
	p.click(`#tab-world`)
	check("world")
	// A connection refused, shown as telnet shows it.
	p.click(`#tab-terminal`)
	p.click(`.term-new`)
	p.eval(`(() => { document.getElementById('term-to').value = 'mx.example.net'; document.getElementById('term-port').value = '26'; return true; })()`)
	p.click(`.term-form button[type=submit]`)
	p.waitJS("the refusal", `[...document.querySelectorAll('.term:not([hidden]) .line.info .text')].some(e => e.textContent.includes('Connection refused'))`)
	check("terminal refused")
}
