package imap

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/netsim"
)

// rawFrom is a hand-driven connection from another host of the network.
func (w *world) rawFrom(t testing.TB, h *netsim.Host) *raw {
	t.Helper()
	c, err := h.DialContext(context.Background(), "tcp", w.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &raw{t: t, c: c, r: bufio.NewReader(c)}
	if g := r.line(); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting %q", g)
	}
	return r
}

// plain is the initial response of AUTHENTICATE PLAIN (RFC 4616).
func plain(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// withLimiter gives the server a Limiter on its clock, its delays off.
func withLimiter() option {
	return with(func(s *Server) { s.Limiter = &auth.Limiter{Delay: -1, Clock: s.Clock} })
}

// Ten wrong passwords from one address, by LOGIN and AUTHENTICATE PLAIN
// over several connections, and the address is refused: NO [UNAVAILABLE]
// (RFC 5530: a temporary failure, saying nothing of the password, which
// is not checked), a right password included, until 15 minutes (virtual)
// have passed since the last failure. Another address logs in meanwhile.
func TestLockoutTranscript(t *testing.T) {
	w := newWorld(t, withLimiter())
	const (
		failed  = "NO [AUTHENTICATIONFAILED] Invalid user name or password"
		last    = failed + "; too many failures, this connection accepts no more logins"
		refused = "NO [UNAVAILABLE] Too many failed logins from your address; try again later"
	)
	type step struct{ send, want string } // want: the tagged answer, after the tag
	run := func(r *raw, script []step) {
		t.Helper()
		for _, s := range script {
			tag, cmd, _ := strings.Cut(s.send, " ")
			untagged, got := r.cmd(tag, cmd)
			if got != tag+" "+s.want || len(untagged) != 0 {
				t.Fatalf("C: %s\nS: %q %s\nwant %s %s", s.send, untagged, got, tag, s.want)
			}
		}
	}
	// Failures 1-3, by LOGIN: the third ends what the connection accepts.
	r := w.raw(t)
	run(r, []step{
		{"a1 LOGIN bob wrong1", failed},
		{"a2 LOGIN bob@example.net wrong2", failed},
		{"a3 LOGIN bob wrong3", last},
	})
	// 4-6, by AUTHENTICATE PLAIN with an initial response (RFC 4959).
	run(w.raw(t), []step{
		{"b1 AUTHENTICATE PLAIN " + plain("bob", "wrong4"), failed},
		{"b2 AUTHENTICATE PLAIN " + plain("bob", "wrong5"), failed},
		{"b3 AUTHENTICATE PLAIN " + plain("alice", "wrong6"), last},
	})
	// 7-9, mixed; a user name that does not exist counts the same.
	run(w.raw(t), []step{
		{"c1 LOGIN nobody wrong7", failed},
		{"c2 AUTHENTICATE PLAIN " + plain("bob", "wrong8"), failed},
		{"c3 LOGIN bob wrong9", last},
	})
	// 10: the last guess; from the 11th on, refused, the right password too.
	r = w.raw(t)
	run(r, []step{
		{"d1 LOGIN bob wrong10", failed},
		{"d2 LOGIN bob wrong11", refused},
		{"d3 AUTHENTICATE PLAIN " + plain("bob", "bob"), refused},
	})
	// The connection has had its three: the next attempt gets BYE.
	r.write("d4 LOGIN bob bob\r\n")
	if closed, lines := r.closed(); !closed || len(lines) == 0 || lines[0] != "* BYE Too many failed logins" {
		t.Fatalf("a fourth attempt on one connection: closed %v, %q", closed, lines)
	}
	// A new connection from the same address: refused at once, the SASL
	// exchange not even begun.
	r = w.raw(t)
	run(r, []step{
		{"e1 LOGIN bob bob", refused},
		{"e2 AUTHENTICATE PLAIN", refused},
	})
	// Another address is not concerned.
	other, err := w.net.AddHost("alice-pc", "198.51.100.11")
	if err != nil {
		t.Fatal(err)
	}
	o := w.rawFrom(t, other)
	if _, got := o.cmd("f1", "LOGIN bob bob"); !strings.HasPrefix(got, "f1 OK ") {
		t.Fatalf("another address: %q", got)
	}
	// The refusal ends 15 minutes after the last failure, on the
	// server's clock; refused attempts did not lengthen it.
	w.clk.Advance(15*time.Minute - time.Second)
	run(w.raw(t), []step{{"g1 LOGIN bob bob", refused}})
	w.clk.Advance(time.Second)
	r = w.raw(t)
	if _, got := r.cmd("g2", "LOGIN bob bob"); !strings.HasPrefix(got, "g2 OK ") {
		t.Fatalf("after 15 minutes: %q", got)
	}
}

// Without a Limiter the server keeps one of its own: the lockout holds
// for a library user who sets none.
func TestLockoutOwnLimiter(t *testing.T) {
	w := newWorld(t) // LoginFailDelay -1: no delays
	for i := range 4 {
		r := w.raw(t)
		for j := range 3 {
			if i*3+j == 10 {
				break
			}
			r.expect(fmt.Sprint("a", j), "LOGIN bob wrong", "NO [AUTHENTICATIONFAILED]")
		}
	}
	w.raw(t).expect("z", "LOGIN bob bob", "NO [UNAVAILABLE]")
}

// Guessing on many connections at once gets no further: the logins being
// checked count, so of 15 sent together 10 are checked (and their NO
// delayed, on the virtual clock) and 5 refused at once.
func TestLockoutParallel(t *testing.T) {
	w := newWorld(t, with(func(s *Server) { s.Limiter = &auth.Limiter{Clock: s.Clock} })) // 1 s doubling to 30 s
	answers := make(chan string, 15)
	for i := range 15 {
		r := w.raw(t)
		go func() {
			r.write(fmt.Sprintf("a%d LOGIN bob wrong%d\r\n", i, i))
			l, err := r.r.ReadString('\n')
			if err != nil {
				l = err.Error()
			}
			answers <- strings.TrimPrefix(strings.TrimRight(l, "\r\n"), fmt.Sprintf("a%d ", i))
		}()
	}
	for range 5 {
		select {
		case got := <-answers:
			if !strings.HasPrefix(got, "NO [UNAVAILABLE]") {
				t.Fatalf("answered before the delay: %q", got)
			}
		case <-time.After(wallLimit()):
			t.Fatal("fewer than 5 refusals")
		}
	}
	select {
	case got := <-answers:
		t.Fatalf("a sixth answer before the clock moved: %q", got)
	case <-time.After(50 * time.Millisecond):
	}
	// Move the clock until the ten delayed answers are in (each delay
	// starts once its password is checked).
	deadline := time.After(wallLimit())
	for n := 0; n < 10; {
		select {
		case got := <-answers:
			if !strings.HasPrefix(got, "NO [AUTHENTICATIONFAILED]") {
				t.Fatalf("a checked login: %q", got)
			}
			n++
		case <-time.After(10 * time.Millisecond):
			w.clk.Advance(30 * time.Second)
		case <-deadline:
			t.Fatalf("%d delayed answers of 10", n)
		}
	}
}
