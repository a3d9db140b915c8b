//go:build browser && !js

package web

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The message view explains how bob's message is authenticated: each
// result of mx.example.net's Authentication-Results, and each tag of
// the DKIM-Signature mail.example.org added, in a line a learner can
// read, b= shortened.
func TestMessageAuthentication(t *testing.T) {
	p := open(t, 1366, 768)
	p.setSpeed("16")
	p.click(`#tab-compose`)
	p.do(chromedp.SetValue(chromedp.CSS(`#c-subject`), "Signed and checked"))
	p.do(chromedp.SetValue(chromedp.CSS(`#c-to`), "bob@example.net"))
	p.click(`#c-send`)
	// As a reader finds it: listed in bob's INBOX (its only message),
	// opened from there.
	p.click(`#tab-mailboxes`)
	const inbox = `[data-user="bob@example.net"][data-mailbox="INBOX"] button.link`
	p.waitJS("the message in bob's INBOX", `[...document.querySelectorAll('`+inbox+`')].some(b => b.textContent === 'Signed and checked')`)
	p.click(inbox)
	p.waitJS("the authentication section", `!!document.querySelector('#panel-message .msg-auth .dkim-tags')`)

	auth := p.text(`#panel-message .msg-auth`)
	for _, want := range []string{
		"Authentication-Results by mx.example.net",
		"spf=pass", "smtp.mailfrom=example.org", "allowed to send mail for example.org",
		"dkim=pass", "header.d=example.org", "verified with the key at mailhop._domainkey.example.org",
		"dmarc=pass", "header.from=example.org", "that From: is genuine",
		"DKIM-Signature by example.org",
	} {
		if !strings.Contains(auth, want) {
			t.Errorf("the authentication section lacks %q:\n%s", want, auth)
		}
	}
	// One row per tag, each explained.
	rows := p.eval(`[...document.querySelectorAll('#panel-message .dkim-tags tbody tr')].map(r => r.dataset.tag + '|' + r.cells[1].textContent + '|' + r.cells[2].textContent).join('\n')`)
	got := map[string][2]string{}
	for _, r := range strings.Split(rows, "\n") {
		f := strings.SplitN(r, "|", 3)
		if len(f) == 3 {
			got[f[0]] = [2]string{f[1], f[2]}
		}
	}
	for tag, want := range map[string]string{
		"v": "version", "a": "Ed25519", "c": "canonicalization", "d": "vouches for the message",
		"s": "mailhop._domainkey.example.org", "h": "header fields the signature covers",
		"bh": "body hash", "b": "the signature itself",
	} {
		if !strings.Contains(got[tag][1], want) {
			t.Errorf("tag %s= explained as %q, want it to say %q", tag, got[tag][1], want)
		}
	}
	if b := got["b"][0]; !strings.Contains(b, "…") || !strings.Contains(b, "characters") || len(b) > 40 {
		t.Errorf("b= is shown as %q: want it shortened", b)
	}
	if v := got["d"][0]; v != "example.org" {
		t.Errorf("d= %q", v)
	}
	p.eval(`document.getElementById('auth-h').scrollIntoView(), true`)
	p.shot("message-authentication")
	if v := p.axe(); len(v) > 0 {
		t.Errorf("the message view with its authentication: %d accessibility violations:\n%s", len(v), strings.Join(v, "\n"))
	}
	p.noErrors()
}
