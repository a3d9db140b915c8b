package world

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/mailhost"
	"github.com/mailhop/mailhop/sim/message"
	"github.com/mailhop/mailhop/sim/mua"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// The built-in worlds of SPF, DKIM and DMARC, each run as `mailhop sim
// --world NAME` runs it: its own messages (Spec.Send), the clock until
// the queues are empty.

func runWorld(t *testing.T, name string) (*World, Outcome) {
	t.Helper()
	w := startWorld(t, name, nil)
	if len(w.Spec.Send) == 0 {
		t.Fatalf("%s says nothing to send", name)
	}
	out, err := w.Run(context.Background(), Journey{Mails: w.Spec.Send, Until: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return w, out
}

// mailbox returns the messages of a user's mailbox (none when it does
// not exist).
func mailbox(t *testing.T, w *World, user, box string) []string {
	t.Helper()
	st, err := w.StoreOf(user)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := st.List(user, box)
	var out []string
	for _, m := range list {
		b, _ := st.Read(user, box, m.UID)
		out = append(out, string(b))
	}
	return out
}

// authResults returns the Authentication-Results fields of a message,
// top first, unfolded.
func authResults(msg string) []string {
	var out []string
	for _, f := range message.ReadHeader([]byte(msg)) {
		if strings.EqualFold(f.Name, "Authentication-Results") {
			out = append(out, f.Value)
		}
	}
	return out
}

// authSteps returns the checks a host made (auth events but its own DKIM
// signing): "action: text".
func authSteps(w *World, host string) []string {
	var out []string
	for _, e := range w.Trace.Events() {
		if e.Kind == trace.KindAuth && e.Host == host && e.Action != "dkim-sign" {
			out = append(out, e.Action+": "+e.Text)
		}
	}
	return out
}

func wantSteps(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("auth steps:\n%s\nwant %d, starting:\n%s", strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("auth step %d: %q, want it to start %q", i+1, got[i], want[i])
		}
	}
}

// spoof: mallory-pc looks up bob's MX and hands it the forgery on port
// 25; SPF fails, nothing is signed, DMARC fails under p=reject: 550
// 5.7.1 at the final dot, the client QUITs, and bob gets nothing. The
// same message from alice's own machine passes.
func TestWorldSpoof(t *testing.T) {
	w, out := runWorld(t, "spoof")
	if len(out.Sent) != 0 || len(out.Refused) != 1 {
		t.Fatalf("outcome %+v", out)
	}
	r := out.Refused[0]
	if r.Server != "mx.example.net" || !strings.HasPrefix(r.Reply(), "550 5.7.1 Message rejected by the DMARC policy of example.org") ||
		!strings.Contains(r.Reply(), "p=reject") {
		t.Fatalf("refused by %s: %q", r.Server, r.Reply())
	}
	wantSteps(t, authSteps(w, "mx.example.net"),
		"spf: SPF fail: 203.0.113.66 is not in example.org's SPF record",
		"dkim: DKIM none: the message carries no DKIM-Signature",
		"dmarc: DMARC fail for example.org",
		"verdict: refused (550 5.7.1)")
	var mx, quit bool
	for _, e := range w.Trace.Events() {
		mx = mx || e.Kind == trace.KindDNS && e.Host == "mallory-pc" && e.Action == "query" && e.Text == "example.net. IN MX"
		quit = quit || e.Kind == trace.KindWire && e.Host == "mallory-pc" && e.Peer == "mx.example.net" && e.Port == 25 && e.Text == "QUIT"
	}
	if !mx || !quit {
		t.Errorf("mallory-pc asked for the MX: %v; said QUIT after the refusal: %v", mx, quit)
	}
	if n := len(mailbox(t, w, "bob@example.net", store.Inbox)); n != 0 {
		t.Fatalf("bob has %d messages", n)
	}

	// From alice-pc, signed by her MSA: all three pass.
	if _, err := w.Send(context.Background(), mua.Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Subject: "The real one", Body: "Hi."}); err != nil {
		t.Fatal(err)
	}
	w.RunUntilQuiet(time.Hour)
	msgs := mailbox(t, w, "bob@example.net", store.Inbox)
	if len(msgs) != 1 {
		t.Fatalf("bob has %d messages", len(msgs))
	}
	ar := authResults(msgs[0])
	if len(ar) != 1 || !strings.Contains(ar[0], "spf=pass") || !strings.Contains(ar[0], "dkim=pass header.d=example.org") || !strings.Contains(ar[0], "dmarc=pass") {
		t.Fatalf("Authentication-Results %q", ar)
	}
}

// no-dmarc: the same forgery, but example.org publishes no DMARC record:
// spf=fail, dkim=none, dmarc=none, and it is filed in bob's INBOX.
func TestWorldNoDMARC(t *testing.T) {
	w, out := runWorld(t, "no-dmarc")
	if len(out.Refused) != 0 || len(out.Sent) != 1 || out.Sent[0].MSA != "mx.example.net" {
		t.Fatalf("outcome %+v", out)
	}
	wantSteps(t, authSteps(w, "mx.example.net"),
		"spf: SPF fail",
		"dkim: DKIM none",
		"dmarc: DMARC none for example.org: example.org publishes no DMARC policy",
		"verdict: accepted: mx.example.net; spf=fail smtp.mailfrom=example.org; dkim=none; dmarc=none header.from=example.org")
	msgs := mailbox(t, w, "bob@example.net", store.Inbox)
	if len(msgs) != 1 || len(mailbox(t, w, "bob@example.net", mailhost.Junk)) != 0 {
		t.Fatalf("bob's INBOX has %d messages; Junk must stay empty", len(msgs))
	}
	// Every user has a Junk; the page lists it once it holds mail.
	for _, h := range w.State().Hosts {
		for _, mb := range h.Mailboxes {
			if mb.Mailbox == mailhost.Junk {
				t.Errorf("the state lists %s's empty Junk", mb.User)
			}
		}
	}
	ar := authResults(msgs[0])
	if len(ar) != 1 || ar[0] != "mx.example.net; spf=fail smtp.mailfrom=example.org; dkim=none; dmarc=none header.from=example.org" {
		t.Fatalf("Authentication-Results %q", ar)
	}
	if !strings.Contains(msgs[0], "Received: from mallory-pc ([203.0.113.66])") {
		t.Errorf("the forgery's first hop is not mallory-pc:\n%s", msgs[0])
	}
}

// forwarded: mx.example.net sends bob's mail on to carol as it is, from
// alice still. At mail.example.com SPF fails (the forwarder's address),
// DKIM passes (the message is unchanged), DMARC passes by DKIM; carol
// has it in her INBOX, with both servers' Authentication-Results.
func TestWorldForwarded(t *testing.T) {
	w, out := runWorld(t, "forwarded")
	if len(out.Refused) != 0 || len(out.Sent) != 1 {
		t.Fatalf("outcome %+v", out)
	}
	if got := w.FinalRecipients("bob@example.net"); strings.Join(got, ",") != "carol@example.com" {
		t.Fatalf("bob's mail ends with %v", got)
	}
	if n := len(mailbox(t, w, "bob@example.net", store.Inbox)); n != 0 {
		t.Fatalf("bob has %d messages: the forward filed a copy", n)
	}
	msgs := mailbox(t, w, "carol@example.com", store.Inbox)
	if len(msgs) != 1 {
		t.Fatalf("carol has %d messages", len(msgs))
	}
	m := msgs[0]
	ar := authResults(m)
	if len(ar) != 2 ||
		!strings.HasPrefix(ar[0], "mail.example.com; spf=fail smtp.mailfrom=example.org; dkim=pass header.d=example.org header.s=mailhop") ||
		!strings.HasSuffix(ar[0], "dmarc=pass header.from=example.org") ||
		!strings.HasPrefix(ar[1], "mx.example.net; spf=pass smtp.mailfrom=example.org; dkim=pass") {
		t.Fatalf("Authentication-Results, top first:\n%s", strings.Join(ar, "\n"))
	}
	if !strings.HasPrefix(m, "Return-Path: <alice@example.org>\r\nDelivered-To: carol@example.com\r\n") {
		t.Errorf("the envelope sender changed:\n%s", m)
	}
	// The forwarder changed nothing below its own fields: what alice's
	// MSA signed arrives byte for byte.
	i := strings.Index(m, "DKIM-Signature:")
	if i < 0 || !strings.HasSuffix(m, "\r\n\r\nHi Bob, lunch on Friday at noon? Alice\r\n") {
		t.Fatalf("message:\n%s", m)
	}
	wantSteps(t, authSteps(w, "mail.example.com"),
		"spf: SPF fail: 198.51.100.25 is not in example.org's SPF record",
		"dkim: DKIM pass for example.org",
		"dmarc: DMARC pass for example.org: a DKIM signature by example.org passed and aligns with example.org",
		"verdict: accepted: mail.example.com")
	forwarded := 0
	for _, e := range w.Trace.Events() {
		if e.Kind == trace.KindQueue && e.Action == "forwarded" && e.Host == "mx.example.net" &&
			strings.HasPrefix(e.Text, "bob@example.net is forwarded to carol@example.com") && e.Say != "" {
			forwarded++
		}
	}
	if forwarded != 1 {
		t.Errorf("%d forward events", forwarded)
	}
}

// mailing-list: the list sends each member a copy with a Subject tag and
// a footer, from its own envelope sender. At the members' MX hosts SPF
// passes for lists.example.net (not aligned), alice's DKIM signature
// fails on the body hash, DMARC fails, and p=quarantine files the copies
// into Junk.
func TestWorldMailingList(t *testing.T) {
	w, out := runWorld(t, "mailing-list")
	if len(out.Refused) != 0 || len(out.Sent) != 1 {
		t.Fatalf("outcome %+v", out)
	}
	if got := w.FinalRecipients("list@lists.example.net"); strings.Join(got, ",") != "alice@example.org,bob@example.net" {
		t.Fatalf("the list's mail ends with %v", got)
	}
	for _, c := range []struct{ user, mx string }{{"bob@example.net", "mx.example.net"}, {"alice@example.org", "mail.example.org"}} {
		if n := len(mailbox(t, w, c.user, store.Inbox)); n != 0 {
			t.Errorf("%s's INBOX has %d messages", c.user, n)
		}
		junk := mailbox(t, w, c.user, mailhost.Junk)
		if len(junk) != 1 {
			t.Fatalf("%s's Junk has %d messages", c.user, len(junk))
		}
		m := junk[0]
		h := message.ReadHeader([]byte(m))
		if h.Get("Subject") != "[list] Notes of today's meeting" || h.Get("List-Id") != "<list.lists.example.net>" ||
			h.Get("Return-Path") != "<list-bounces@lists.example.net>" {
			t.Errorf("%s's copy: Subject %q, List-Id %q, Return-Path %q", c.user, h.Get("Subject"), h.Get("List-Id"), h.Get("Return-Path"))
		}
		if !strings.HasSuffix(m, "Alice\r\n_______________________________________________\r\nlist mailing list -- list@lists.example.net\r\n") {
			t.Errorf("%s's copy has no footer:\n%s", c.user, m)
		}
		ar := authResults(m)
		want := c.mx + "; spf=pass smtp.mailfrom=lists.example.net; dkim=fail header.d=example.org"
		if len(ar) != 2 || !strings.HasPrefix(ar[0], want) || !strings.HasSuffix(ar[0], "dmarc=fail header.from=example.org policy.dmarc=quarantine") ||
			!strings.Contains(ar[1], "lists.example.net; spf=pass smtp.mailfrom=example.org; dkim=pass") {
			t.Errorf("%s's copy: Authentication-Results, top first:\n%s\nwant the top one to start %q", c.user, strings.Join(ar, "\n"), want)
		}
		wantSteps(t, authSteps(w, c.mx),
			"spf: SPF pass: 198.51.100.40 is allowed by lists.example.net's SPF record",
			"dkim: DKIM fail for example.org: the body hash does not match",
			"dmarc: DMARC fail for example.org: nothing authenticated example.org: SPF passed for lists.example.net, which does not align",
			"verdict: accepted for the Junk folder (DMARC quarantine)")
	}
	// The page lists the Junk folders beside the INBOXes.
	var boxes []string
	for _, h := range w.State().Hosts {
		for _, mb := range h.Mailboxes {
			if len(mb.Messages) > 0 {
				boxes = append(boxes, mb.User+"/"+mb.Mailbox)
			}
		}
	}
	if got := strings.Join(boxes, " "); got != "alice@example.org/Junk bob@example.net/Junk" {
		t.Errorf("mailboxes with mail in the state: %s", got)
	}
}

// Two addresses forwarded to each other: each pass through an MX adds a
// Received field, and at mailhost.MaxHops the MX refuses the message
// (554 5.4.6); the sender gets it back in a bounce.
func TestForwardLoopRefused(t *testing.T) {
	w := startWorld(t, "forwarded", func(spec *Spec) {
		for i, u := range spec.Users {
			if u.Address == "carol@example.com" {
				spec.Users[i].ForwardTo = []string{"bob@example.net"}
			}
		}
	})
	send(t, w, "alice@example.org", "bob@example.net", "Round and round")
	w.RunUntilQuiet(time.Hour)
	loops := 0
	for _, e := range w.Trace.Events() {
		if e.Kind == trace.KindQueue && e.Action == "loop" {
			loops++
		}
	}
	if loops != 1 {
		t.Fatalf("%d loop events", loops)
	}
	dsn := dsnFor(t, w)
	if !strings.Contains(dsn, "Status: 5.4.6") || !strings.Contains(dsn, fmt.Sprintf("Too many hops (%d Received fields)", mailhost.MaxHops)) {
		t.Fatalf("the bounce:\n%s", dsn)
	}
}

// World files say what is wrong with a forward, a list, a direct host or
// a message of their own, in words a teacher can act on.
func TestSpecAliasAndSendErrors(t *testing.T) {
	for _, c := range []struct {
		edit func(s *Spec)
		want string
	}{
		{func(s *Spec) { s.Users[1].ForwardTo = []string{"carol"} }, `user bob@example.net: forward_to: "carol" is not an address`},
		{func(s *Spec) {
			s.Users[1].ForwardTo = []string{"carol@example.com"}
			s.Users[1].List = &ListSpec{Members: []string{"alice@example.org"}}
		}, "forward_to and list"},
		{func(s *Spec) { s.Users[1].List = &ListSpec{} }, "user bob@example.net: the list has no members"},
		{func(s *Spec) {
			s.Users = append(s.Users, UserSpec{Address: "x@nowhere.example", ForwardTo: []string{"bob@example.net"}})
		}, "forward_to needs a host with role mx for nowhere.example"},
		{func(s *Spec) { s.Hosts[1].Direct = true }, "host mail.example.org: direct is for a mua host"},
		{func(s *Spec) { s.Hosts[0].Direct = true }, "host alice-pc: direct and msa"},
		{func(s *Spec) { s.Send = []MailSpec{{From: "alice@example.org"}} }, "send 1: no recipient"},
		{func(s *Spec) {
			s.Send = []MailSpec{{From: "alice@example.org", To: []string{"bob@example.net"}, Host: "nope"}}
		}, `send 1: host "nope" is not a host`},
		{func(s *Spec) { s.Send = []MailSpec{{From: "bob@example.net", To: []string{"alice@example.org"}}} }, "send 1: host bob-pc has neither an msa to submit to nor direct: true"},
		{func(s *Spec) { s.Send = []MailSpec{{From: "eve@example.org", To: []string{"bob@example.net"}}} }, "send 1: no mua host is eve@example.org's machine"},
	} {
		spec, err := Load("default")
		if err != nil {
			t.Fatal(err)
		}
		c.edit(spec)
		if err := spec.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// A direct host that reaches no MX: the message is not sent, and the
// outcome says why, with no reply to quote.
func TestDirectSendUnreachable(t *testing.T) {
	w := startWorld(t, "spoof", func(spec *Spec) {
		spec.Faults = []Fault{{Kind: "host-down", Host: "mx.example.net"}}
	})
	out, err := w.Run(context.Background(), Journey{Mails: w.Spec.Send, Until: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Refused) != 1 {
		t.Fatalf("outcome %+v", out)
	}
	r := out.Refused[0]
	if r.Reply() != "" || r.Server != "mx.example.net" || !strings.Contains(r.Error(), "was not sent") {
		t.Fatalf("refused by %q, reply %q: %v", r.Server, r.Reply(), r)
	}
}
