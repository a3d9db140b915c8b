package world

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// In the default world alice's MSA signs with DKIM, and bob's MX finds
// SPF, DKIM and DMARC all pass: its Authentication-Results field (RFC
// 8601) says so in bob's message, and the trace shows each step, its DNS
// questions asked through the world's resolver.
func TestAuthenticationPasses(t *testing.T) {
	w := newDefault(t)
	send(t, w, "alice@example.org", "bob@example.net", "signed")
	w.RunUntilQuiet(time.Hour)
	msgs := inbox(t, w, "bob@example.net")
	if len(msgs) != 1 {
		t.Fatalf("bob has %d messages", len(msgs))
	}
	m := string(msgs[0])
	for _, want := range []string{
		"Authentication-Results: mx.example.net;", "spf=pass smtp.mailfrom=example.org",
		"dkim=pass header.d=example.org header.s=mailhop", "dmarc=pass header.from=example.org",
		"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("bob's message lacks %q:\n%s", want, m)
		}
	}
	var steps []string
	txt := map[string]bool{}
	for _, e := range w.Trace.Events() {
		if e.Kind == trace.KindAuth {
			steps = append(steps, e.Host+" "+e.Action)
		}
		if e.Kind == trace.KindDNS && e.Host == "mx.example.net" {
			txt[e.Text] = true
		}
	}
	want := "mail.example.org dkim-sign,mx.example.net spf,mx.example.net dkim,mx.example.net dmarc,mx.example.net verdict"
	if got := strings.Join(steps, ","); got != want {
		t.Errorf("auth steps %s, want %s", got, want)
	}
	for _, q := range []string{"example.org. IN TXT", "mailhop._domainkey.example.org. IN TXT", "_dmarc.example.org. IN TXT"} {
		found := false
		for text := range txt {
			found = found || strings.Contains(text, q)
		}
		if !found {
			t.Errorf("no DNS event of mx.example.net asks %q", q)
		}
	}
}

// policyWorld is the default world with example.org's DMARC policy p.
func policyWorld(t *testing.T, p string) *World {
	t.Helper()
	return startWorld(t, "default", func(spec *Spec) {
		z := spec.Zones["example.org"]
		spec.Zones["example.org"] = strings.Replace(z, "v=DMARC1; p=none;", "v=DMARC1; p="+p+";", 1)
		if p != "none" && spec.Zones["example.org"] == z {
			t.Fatal("the default world's DMARC record changed: update the test")
		}
	})
}

// forge types a message from "alice" straight to bob's MX from bob-pc:
// SPF fails (bob-pc is no host of example.org) and nothing is signed.
func forge(t *testing.T, w *World, final string) string {
	s := dial(t, w, "bob-pc", "mx.example.net", 25)
	s.cmd("EHLO bob-pc", "250")
	s.cmd("MAIL FROM:<alice@example.org>", "250")
	s.cmd("RCPT TO:<bob@example.net>", "250")
	s.cmd("DATA", "354")
	fmt.Fprintf(s.c, "From: <alice@example.org>\r\nTo: <bob@example.net>\r\nSubject: pay this invoice\r\n\r\nUrgent.\r\n")
	return s.cmd(".", final)
}

// p=reject: the forgery is refused at the final dot, 550 5.7.1 with
// DMARC's reason (RFC 7489 §6.3), and never reaches bob.
func TestSpoofRejectedByDMARC(t *testing.T) {
	w := policyWorld(t, "reject")
	got := forge(t, w, "550")
	for _, want := range []string{"550 5.7.1", "DMARC policy of example.org", "p=reject"} {
		if !strings.Contains(got, want) {
			t.Errorf("reply %q lacks %q", got, want)
		}
	}
	w.RunUntilQuiet(time.Hour)
	if n := len(inbox(t, w, "bob@example.net")); n != 0 {
		t.Fatalf("bob has %d messages", n)
	}
}

// p=quarantine: the forgery is accepted, and the MDA on the mailbox host
// files it into Junk as the MX's Authentication-Results says; p=none:
// into the INBOX, marked dmarc=fail.
func TestSpoofQuarantinedIntoJunk(t *testing.T) {
	for _, p := range []string{"quarantine", "none"} {
		t.Run(p, func(t *testing.T) {
			w := policyWorld(t, p)
			forge(t, w, "250")
			w.RunUntilQuiet(time.Hour)
			box, other := "Junk", store.Inbox
			if p == "none" {
				box, other = other, box
			}
			msgs := mailbox(t, w, "bob@example.net", box)
			if len(msgs) != 1 {
				t.Fatalf("%s has %d messages", box, len(msgs))
			}
			if n := len(mailbox(t, w, "bob@example.net", other)); n != 0 {
				t.Fatalf("%s has %d messages too", other, n)
			}
			if !strings.Contains(msgs[0], "spf=fail") || !strings.Contains(msgs[0], "dmarc=fail") {
				t.Fatalf("the message's Authentication-Results:\n%s", msgs[0])
			}
		})
	}
}
