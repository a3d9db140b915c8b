package queue_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/queue"
)

// bodySpool is a memory spool that keeps a copy of every message put in
// it: the bytes of a DSN as the queue wrote them, before any SMTP client
// touches them.
type bodySpool struct {
	*queue.MemorySpool
	mu     sync.Mutex
	bounce [][]byte // the messages from <>, in order
}

func (s *bodySpool) Put(env *queue.Envelope, body []byte) error {
	if env.From == "" {
		s.mu.Lock()
		s.bounce = append(s.bounce, append([]byte(nil), body...))
		s.mu.Unlock()
	}
	return s.MemorySpool.Put(env, body)
}

func (s *bodySpool) bounces() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bounce...)
}

const multiLine550 = "550-5.1.1 The mailbox nobody@example.net\r\n550-5.1.1 does not exist here;\r\n550 5.1.1 see https://mx.example.net/why"

// bounceMultiLine sends alice's message to nobody@example.net, whose MX
// refuses it with a reply of three lines, and returns the DSN as the
// queue spooled it and as the sender's MX received it.
func bounceMultiLine(t *testing.T) (spooled, received []byte) {
	r := newRig(t)
	mx := r.server("mx.example.net", "198.51.100.25", 25, false, "example.net")
	mx.rcpt = func(string) string { return multiLine550 }
	home := r.server("mx.example.org", "192.0.2.10", 25, false, "example.org")
	sp := &bodySpool{MemorySpool: queue.NewMemorySpool()}
	r.start(&queue.Queue{Spool: sp})
	r.enqueue("alice@example.org", []string{"nobody@example.net"}, message("multi line"))
	r.settle()
	got := home.messages()
	if len(got) != 1 || len(sp.bounces()) != 1 {
		t.Fatalf("%d bounces received, %d spooled; want one", len(got), len(sp.bounces()))
	}
	return sp.bounces()[0], got[0].data
}

// A remote reply of several lines (550-… / 550 …) never puts a bare LF
// into the bounce: the Diagnostic-Code has one reply line on each of its
// lines, folded with CRLF and a space, the human part indents the lines
// after the first, and every line of the DSN, as spooled, ends in CRLF.
func TestMultiLineReplyBounce(t *testing.T) {
	spooled, received := bounceMultiLine(t)
	checkCRLF(t, spooled)
	if !bytes.Equal(spooled, received) {
		t.Errorf("the DSN changed on its way (an SMTP client mends bare LFs, which hides them):\nspooled  %q\nreceived %q", spooled, received)
	}
	d := parseDSN(t, spooled)
	pr := d.perRcpt[0]
	if got, want := pr.Get("Diagnostic-Code"), "smtp; 550-5.1.1 The mailbox nobody@example.net 550-5.1.1 does not exist here; 550 5.1.1 see https://mx.example.net/why"; got != want {
		t.Errorf("Diagnostic-Code, unfolded:\n%q\nwant\n%q", got, want)
	}
	if pr.Get("Status") != "5.1.1" || pr.Get("Action") != "failed" || pr.Get("Remote-MTA") != "dns; mx.example.net" {
		t.Errorf("recipient block: %v", pr)
	}
	folded := "\r\nDiagnostic-Code: smtp; 550-5.1.1 The mailbox nobody@example.net\r\n 550-5.1.1 does not exist here;\r\n 550 5.1.1 see https://mx.example.net/why\r\n"
	if !bytes.Contains(spooled, []byte(folded)) {
		t.Errorf("the DSN lacks the folded field %q:\n%s", folded, spooled)
	}
	human := "<nobody@example.net>: 550-5.1.1 The mailbox nobody@example.net\r\n    550-5.1.1 does not exist here;\r\n    550 5.1.1 see https://mx.example.net/why\r\n"
	if !strings.Contains(d.human, human) {
		t.Errorf("the human part lacks %q:\n%s", human, d.human)
	}
	if !strings.Contains(d.origHeaders, "Subject: multi line\r\n") {
		t.Errorf("the returned header:\n%s", d.origHeaders)
	}
}

// The same journey twice, the same bounce byte for byte: its boundary
// and ids come from the queue id and the clock, nothing random.
func TestBounceRepeats(t *testing.T) {
	a, _ := bounceMultiLine(t)
	b, _ := bounceMultiLine(t)
	if !bytes.Equal(a, b) {
		t.Errorf("two runs, two bounces:\n%s\n----\n%s", a, b)
	}
	if !bytes.Contains(a, []byte(`boundary="`)) || bytes.Count(a, []byte("\r\n--")) != 4 {
		t.Errorf("want a boundary and three parts:\n%s", a)
	}
}

// A 4xx reply of several lines that runs out of time: the delay warning
// and the bounce fold it too, behind the words that say why it failed.
func TestMultiLineReplyExpires(t *testing.T) {
	r := newRig(t)
	mx := r.server("mx.example.net", "198.51.100.25", 25, false, "example.net")
	mx.rcpt = func(string) string { return "451-4.3.0 busy\r\n451 4.3.0 come back later" }
	home := r.server("mx.example.org", "192.0.2.10", 25, false, "example.org")
	sp := &bodySpool{MemorySpool: queue.NewMemorySpool()}
	r.start(&queue.Queue{Spool: sp, Schedule: []time.Duration{10 * time.Minute}, Lifetime: time.Hour, WarnAfter: 25 * time.Minute})
	r.enqueue("alice@example.org", []string{"bob@example.net"}, message("busy"))
	r.settle()
	r.advance(2 * time.Hour)
	dsns := sp.bounces()
	if len(dsns) != 2 || len(home.messages()) != 2 {
		t.Fatalf("%d DSNs spooled, %d received; want a warning and a bounce", len(dsns), len(home.messages()))
	}
	for i, raw := range dsns {
		checkCRLF(t, raw)
		pr := parseDSN(t, raw).perRcpt[0]
		want := []string{"smtp; 451-4.3.0 busy 451 4.3.0 come back later", "smtp; gave up after 1h0m0s: 451-4.3.0 busy 451 4.3.0 come back later"}[i]
		if got := pr.Get("Diagnostic-Code"); got != want {
			t.Errorf("DSN %d: Diagnostic-Code %q, want %q", i, got, want)
		}
		if !bytes.Contains(raw, []byte("busy\r\n 451 4.3.0 come back later\r\n")) {
			t.Errorf("DSN %d does not fold the reply's second line:\n%s", i, raw)
		}
	}
}
