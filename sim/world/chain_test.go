package world

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/mua"
	"github.com/mailhop/mailhop/sim/trace"
)

func send(t *testing.T, w *World, from, to, subject string) string {
	t.Helper()
	sent, err := w.Send(context.Background(), mua.Mail{From: from, To: []string{to}, Subject: subject, Body: "Hello."})
	if err != nil {
		t.Fatal(err)
	}
	return sent.QueueID
}

// dsnFor finds a DSN in alice's INBOX and returns it.
func dsnFor(t *testing.T, w *World) string {
	t.Helper()
	msgs := inbox(t, w, "alice@example.org")
	if len(msgs) != 1 {
		t.Fatalf("alice has %d messages, want one DSN", len(msgs))
	}
	m := string(msgs[0])
	for _, want := range []string{"Content-Type: multipart/report; report-type=delivery-status", "Return-Path: <>", "Content-Type: message/delivery-status", "Action: failed", "Content-Type: text/rfc822-headers"} {
		if !strings.Contains(m, want) {
			t.Fatalf("DSN lacks %q:\n%s", want, m)
		}
	}
	return m
}

func TestUnknownUserBounces(t *testing.T) {
	w := newDefault(t)
	send(t, w, "alice@example.org", "nobody@example.net", "to nobody")
	w.RunUntilQuiet(time.Hour)
	m := dsnFor(t, w)
	for _, want := range []string{"Final-Recipient: rfc822; nobody@example.net", "Status: 5.1.1", "Remote-MTA: dns; mx.example.net", "550 5.1.1"} {
		if !strings.Contains(m, want) {
			t.Errorf("DSN lacks %q:\n%s", want, m)
		}
	}
	// Refused at RCPT: the message never went past the MX.
	for _, e := range w.Trace.Events() {
		if e.Kind == trace.KindQueue && e.Host == "mx.example.net" && strings.Contains(e.Text, "nobody") {
			t.Fatalf("mx.example.net accepted then bounced: %s", e.Text)
		}
	}
}

func TestNXDOMAINBounces(t *testing.T) {
	w := newDefault(t)
	send(t, w, "alice@example.org", "someone@nonexistent.test", "nowhere")
	w.RunUntilQuiet(time.Hour)
	m := dsnFor(t, w)
	if !strings.Contains(m, "Status: 5.1.2") {
		t.Errorf("DSN status:\n%s", m)
	}
}

func TestNullMXBounces(t *testing.T) {
	spec, _ := Load("default")
	spec.Zones["example.com"] = "$ORIGIN example.com.\n@ 3600 IN SOA ns.example. h.example.com. 1 7200 3600 1209600 3600\n@ IN MX 0 .\n"
	spec.Hosts[2].Zones = append(spec.Hosts[2].Zones, "example.com")
	w, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	send(t, w, "alice@example.org", "anyone@example.com", "null mx")
	w.RunUntilQuiet(time.Hour)
	m := dsnFor(t, w)
	if !strings.Contains(m, "Status: 5.1.10") {
		t.Errorf("DSN status:\n%s", m)
	}
}

func TestMXDownRetriesThenDelivers(t *testing.T) {
	w := newDefault(t)
	if err := w.Fault(Fault{Kind: "host-down", Host: "mx.example.net"}); err != nil {
		t.Fatal(err)
	}
	send(t, w, "alice@example.org", "bob@example.net", "patience")
	w.Settle()
	if w.Hosts["mail.example.org"].Queue.Len() != 1 {
		t.Fatal("the message is not waiting in mail.example.org's queue")
	}
	w.Advance(20 * time.Minute) // a few retries, all failing
	if got := len(inbox(t, w, "bob@example.net")); got != 0 {
		t.Fatalf("bob has %d messages while his MX is down", got)
	}
	deferred := 0
	for _, e := range w.Trace.Events() {
		if e.Kind == trace.KindQueue && e.Action == "deferred" {
			deferred++
			if e.Next.IsZero() {
				t.Error("deferred event without the next attempt time")
			}
		}
	}
	if deferred < 2 {
		t.Fatalf("%d deferrals in 20 minutes", deferred)
	}
	w.Fault(Fault{Kind: "host-up", Host: "mx.example.net"})
	w.RunUntilQuiet(24 * time.Hour)
	if got := len(inbox(t, w, "bob@example.net")); got != 1 {
		t.Fatalf("bob has %d messages after the MX came back", got)
	}
	if got := len(inbox(t, w, "alice@example.org")); got != 0 {
		t.Fatalf("alice got %d messages (no bounce expected)", got)
	}
}

func TestMXDownForeverBouncesAfterFiveDays(t *testing.T) {
	w := newDefault(t)
	w.Fault(Fault{Kind: "host-down", Host: "mx.example.net"})
	send(t, w, "alice@example.org", "bob@example.net", "lost")
	start := time.Now()
	spent := w.RunUntilQuiet(6 * 24 * time.Hour)
	if wall := time.Since(start); wall > 20*time.Second {
		t.Errorf("5 virtual days took %v of wall time", wall)
	}
	if spent < 5*24*time.Hour-time.Hour || spent > 6*24*time.Hour {
		t.Errorf("gave up after %v of virtual time", spent)
	}
	msgs := inbox(t, w, "alice@example.org")
	if len(msgs) != 2 {
		t.Fatalf("alice has %d messages, want a delay warning and a bounce", len(msgs))
	}
	if !strings.Contains(string(msgs[0]), "Action: delayed") {
		t.Errorf("first DSN is not the delay warning:\n%s", msgs[0])
	}
	if !strings.Contains(string(msgs[1]), "Action: failed") || !strings.Contains(string(msgs[1]), "Status: 4.") {
		t.Errorf("second DSN:\n%s", msgs[1])
	}
}

// A raw SMTP session to a server of the world, as telnet would show it.
type session struct {
	t    *testing.T
	c    net.Conn
	r    *bufio.Reader
	last string
}

func dial(t *testing.T, w *World, from, to string, port int) *session {
	t.Helper()
	h := w.Hosts[from]
	c, err := h.Net.DialContext(context.Background(), "tcp", fmt.Sprintf("%s:%d", to, port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &session{t: t, c: c, r: bufio.NewReader(c)}
	s.expect("220")
	return s
}

// reply reads one whole reply and returns its last line.
func (s *session) reply() string {
	s.t.Helper()
	s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading reply: %v", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 || line[3] != '-' {
			s.last = line
			return line
		}
	}
}

func (s *session) expect(prefix string) string {
	s.t.Helper()
	line := s.reply()
	if !strings.HasPrefix(line, prefix) {
		s.t.Fatalf("got %q, want %s", line, prefix)
	}
	return line
}

func (s *session) cmd(line, want string) string {
	s.t.Helper()
	fmt.Fprintf(s.c, "%s\r\n", line)
	return s.expect(want)
}

func TestNoOpenRelay(t *testing.T) {
	w := newDefault(t)
	tricks := []string{
		"<bob@example.net>",
		"<bob%example.net@example.org>",
		"<@mail.example.org:bob@example.net>",
		`<"bob@example.net"@example.org>`,
		"<example.net!bob@example.org>",
	}
	s := dial(t, w, "bob-pc", "mail.example.org", 25)
	s.cmd("EHLO bob-pc", "250")
	for _, rcpt := range tricks {
		s.cmd("MAIL FROM:<eve@example.com>", "250")
		if got := s.cmd("RCPT TO:"+rcpt, "550"); !strings.Contains(got, "5.7.1") {
			t.Errorf("RCPT TO:%s got %q, want 550 5.7.1", rcpt, got)
		}
		s.cmd("RSET", "250")
	}
	// Its own domain is welcome; an unknown user is refused at RCPT.
	s.cmd("MAIL FROM:<eve@example.com>", "250")
	s.cmd("RCPT TO:<alice@example.org>", "250")
	if got := s.cmd("RCPT TO:<nobody@example.org>", "550"); !strings.Contains(got, "5.1.1") {
		t.Errorf("unknown user: %q", got)
	}
	s.cmd("QUIT", "221")
}

func TestSequenceAndHelp(t *testing.T) {
	w := newDefault(t)
	s := dial(t, w, "bob-pc", "mx.example.net", 25)
	s.cmd("MAIL FROM:<a@example.com>", "503")
	s.cmd("HELO bob-pc", "250")
	s.cmd("RCPT TO:<bob@example.net>", "503")
	s.cmd("DATA", "503")
	s.cmd("HELP", "214")
	s.cmd("NOOP", "250")
	s.cmd("VRFY bob", "252")
	s.cmd("RSET", "250")
	s.cmd("AUTH PLAIN AGJvYgBib2I=", "538") // cleartext, not loopback
	s.cmd("BOGUS", "500")
	s.cmd("QUIT", "221")
	// The server closes the connection after 221.
	s.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := s.r.ReadByte(); err == nil {
		t.Fatal("connection still open after QUIT")
	}
}

func TestDataChecks(t *testing.T) {
	w := newDefault(t)
	s := dial(t, w, "bob-pc", "mx.example.net", 25)
	s.cmd("EHLO bob-pc", "250")
	begin := func() {
		s.cmd("MAIL FROM:<eve@example.com>", "250")
		s.cmd("RCPT TO:<bob@example.net>", "250")
		s.cmd("DATA", "354")
	}
	// SMTP smuggling: a bare LF before a dot is neither the end of data
	// nor accepted.
	begin()
	fmt.Fprintf(s.c, "Subject: a\r\n\r\nbody\n.\nMAIL FROM:<x@example.com>\r\n.\r\n")
	if got := s.expect("500"); !strings.Contains(got, "bare") {
		t.Errorf("bare LF: %q", got)
	}
	begin()
	fmt.Fprintf(s.c, "Subject: a\r\n\r\nbody\r.\r\n.\r\n")
	s.expect("500")
	begin()
	fmt.Fprintf(s.c, "Subject: a\r\n\r\n%s\r\n.\r\n", strings.Repeat("x", 1200))
	if got := s.expect("500"); !strings.Contains(got, "1000") {
		t.Errorf("long line: %q", got)
	}
	// SIZE over the limit is refused at MAIL.
	if got := s.cmd("MAIL FROM:<eve@example.com> SIZE=999999999", "552"); !strings.Contains(got, "5.3.4") {
		t.Errorf("SIZE: %q", got)
	}
	// A command line over the limit.
	s.cmd("NOOP "+strings.Repeat("x", 5000), "500")
	s.cmd("QUIT", "221")
	if n := len(inbox(t, w, "bob@example.net")); n != 0 {
		t.Fatalf("%d messages delivered from refused transactions", n)
	}
}

func TestSubmissionRules(t *testing.T) {
	w := newDefault(t)
	s := dial(t, w, "alice-pc", "mail.example.org", 587)
	s.cmd("EHLO alice-pc", "250")
	s.cmd("MAIL FROM:<alice@example.org>", "530") // no AUTH yet
	s.cmd("AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNl", "538")
	s.c.Close()
	// Over TLS, via the MUA: sending as somebody else is refused.
	sub, _ := w.Submitter("alice@example.org")
	_, err := sub.Submit(context.Background(), "bob@example.net", []string{"bob@example.net"}, []byte("Subject: x\r\n\r\nx\r\n"))
	if err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("forged sender: %v", err)
	}
	// A wrong password is answered after a delay on the world's clock:
	// the answer comes only once a virtual second has passed.
	sub.Password = "wrong"
	errc := make(chan error, 1)
	go func() {
		_, err := sub.Submit(context.Background(), "alice@example.org", []string{"bob@example.net"}, []byte("Subject: x\r\n\r\nx\r\n"))
		errc <- err
	}()
	begin := w.Clock.Now()
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case err := <-errc:
			if err == nil || !strings.Contains(err.Error(), "535") {
				t.Fatalf("wrong password: %v", err)
			}
			if waited := w.Clock.Now().Sub(begin); waited < time.Second {
				t.Fatalf("a failed login was answered after %v of virtual time", waited)
			}
			return
		case <-time.After(10 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no answer to a wrong password")
			}
			w.Advance(250 * time.Millisecond)
		}
	}
}

// Many clients pipelining at once never deadlock the simulation.
func TestManyPipeliningClients(t *testing.T) {
	w := newDefault(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := w.Hosts["bob-pc"].Net.DialContext(context.Background(), "tcp", "mx.example.net:25")
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			var b strings.Builder
			b.WriteString("EHLO bob-pc\r\n")
			for j := range 5 {
				fmt.Fprintf(&b, "MAIL FROM:<c%d@example.com>\r\nRCPT TO:<bob@example.net>\r\nRSET\r\n", j)
			}
			b.WriteString("NOOP\r\nQUIT\r\n")
			c.Write([]byte(b.String()))
			r := bufio.NewReader(c)
			replies := 0
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					break
				}
				if len(line) >= 4 && line[3] == ' ' {
					replies++
				}
			}
			if replies != 1+1+15+2 {
				errs <- fmt.Errorf("client %d: %d replies", i, replies)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Several messages to one domain share one connection to its MX, and one
// MX lookup, as a real MTA reuses its connections.
func TestConnectionReuse(t *testing.T) {
	w := newDefault(t)
	for i := range 3 {
		send(t, w, "alice@example.org", "bob@example.net", fmt.Sprintf("message %d", i))
	}
	w.RunUntilQuiet(time.Hour)
	if n := len(inbox(t, w, "bob@example.net")); n != 3 {
		t.Fatalf("bob has %d messages", n)
	}
	opens, lookups := 0, 0
	for _, e := range w.Trace.Events() {
		if e.Kind == trace.KindConn && e.Action == "open" && e.Host == "mail.example.org" && e.Port == 25 {
			opens++
		}
		if e.Kind == trace.KindDNS && e.Action == "query" && e.Host == "mail.example.org" && strings.Contains(e.Text, "IN MX") {
			lookups++
		}
	}
	if opens != 1 || lookups != 1 {
		t.Fatalf("%d connections and %d MX lookups for 3 messages, want 1 and 1", opens, lookups)
	}
}

// A teacher fills bob's mailbox: mx.example.net's LMTP delivery gets
// "452 4.2.2" (RFC 3463: mailbox full, temporary), the message waits in
// its queue and is tried again, the page shows the mailbox full; given
// room, the next attempt files it.
func TestMailboxFullDefersThenDelivers(t *testing.T) {
	w := newDefault(t)
	full := Fault{Kind: "mailbox-full", Host: "store.example.net", Name: "bob@example.net"}
	if err := w.Fault(full); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Fault{
		{Kind: "mailbox-full", Host: "store.example.net"},
		{Kind: "mailbox-full", Host: "mx.example.net", Name: "bob@example.net"},
		{Kind: "mailbox-full", Host: "store.example.net", Name: "nobody@example.net"},
	} {
		if err := w.Fault(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	send(t, w, "alice@example.org", "bob@example.net", "no room")
	w.Advance(20 * time.Minute)
	if got := len(inbox(t, w, "bob@example.net")); got != 0 {
		t.Fatalf("bob has %d messages in a full mailbox", got)
	}
	if q := w.Hosts["mx.example.net"].Queue.Messages(); len(q) != 1 || q[0].Attempts < 2 {
		t.Fatalf("mx.example.net's queue: %+v, want the message, tried more than once", q)
	}
	said := false
	for _, e := range w.Trace.Events() {
		if e.Kind == trace.KindWire && strings.HasPrefix(e.Text, "452 4.2.2 <bob@example.net> Mailbox full") {
			said = true
		}
	}
	if !said {
		t.Error("no 452 4.2.2 on the LMTP wire")
	}
	if !mailboxFull(w, "bob@example.net") {
		t.Error("the state does not show bob's mailbox full")
	}
	w.Fault(Fault{Kind: "mailbox-room", Host: "store.example.net", Name: "bob@example.net"})
	if mailboxFull(w, "bob@example.net") {
		t.Error("the state still shows bob's mailbox full")
	}
	w.RunUntilQuiet(24 * time.Hour)
	if got := len(inbox(t, w, "bob@example.net")); got != 1 {
		t.Fatalf("bob has %d messages after room was made", got)
	}
}

func mailboxFull(w *World, user string) bool {
	for _, h := range w.State().Hosts {
		for _, mb := range h.Mailboxes {
			if mb.User == user && mb.Full {
				return true
			}
		}
	}
	return false
}
