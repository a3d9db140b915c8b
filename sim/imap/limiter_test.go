package imap

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/internal/transcripttest"
)

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
	// Every answer is tagged, with no untagged line before it.
	vars := func(name string, args []string) (string, bool) {
		switch name {
		case "FAILED":
			return "NO [AUTHENTICATIONFAILED] Invalid user name or password", true
		case "LAST":
			return "NO [AUTHENTICATIONFAILED] Invalid user name or password; too many failures, this connection accepts no more logins", true
		case "REFUSED":
			return "NO [UNAVAILABLE] Too many failed logins from your address; try again later", true
		}
		return "", false
	}
	run := func(r raw, script string) {
		t.Helper()
		r.Vars = vars
		r.Run(script)
	}
	// Failures 1-3, by LOGIN: the third ends what the connection accepts.
	run(w.raw(t), `
		C: a1 LOGIN bob wrong1
		S: a1 {FAILED}
		C: a2 LOGIN bob@example.net wrong2
		S: a2 {FAILED}
		C: a3 LOGIN bob wrong3
		S: a3 {LAST}`)
	// 4-6, by AUTHENTICATE PLAIN with an initial response (RFC 4959).
	run(w.raw(t), `
		C: b1 AUTHENTICATE PLAIN {PLAIN bob wrong4}
		S: b1 {FAILED}
		C: b2 AUTHENTICATE PLAIN {PLAIN bob wrong5}
		S: b2 {FAILED}
		C: b3 AUTHENTICATE PLAIN {PLAIN alice wrong6}
		S: b3 {LAST}`)
	// 7-9, mixed; a user name that does not exist counts the same.
	run(w.raw(t), `
		C: c1 LOGIN nobody wrong7
		S: c1 {FAILED}
		C: c2 AUTHENTICATE PLAIN {PLAIN bob wrong8}
		S: c2 {FAILED}
		C: c3 LOGIN bob wrong9
		S: c3 {LAST}`)
	// 10: the last guess; from the 11th on, refused, the right password
	// too. The connection has had its three: the next attempt gets BYE.
	run(w.raw(t), `
		C: d1 LOGIN bob wrong10
		S: d1 {FAILED}
		C: d2 LOGIN bob wrong11
		S: d2 {REFUSED}
		C: d3 AUTHENTICATE PLAIN {PLAIN bob bob}
		S: d3 {REFUSED}
		C: d4 LOGIN bob bob
		S: * BYE Too many failed logins
		S: <closed>`)
	// A new connection from the same address: refused at once, the SASL
	// exchange not even begun.
	run(w.raw(t), `
		C: e1 LOGIN bob bob
		S: e1 {REFUSED}
		C: e2 AUTHENTICATE PLAIN
		S: e2 {REFUSED}`)
	// Another address is not concerned. The refusal ends 15 minutes after
	// the last failure, on the server's clock; refused attempts did not
	// lengthen it.
	other, err := w.Net.AddHost("alice-pc", "198.51.100.11")
	if err != nil {
		t.Fatal(err)
	}
	run(w.rawFrom(t, other), `
		C: f1 LOGIN bob bob
		S: f1 OK *
		W: 14m59s`)
	run(w.raw(t), `
		C: g1 LOGIN bob bob
		S: g1 {REFUSED}
		W: 1s`)
	run(w.raw(t), `
		C: g2 LOGIN bob bob
		S: g2 OK *`)
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
			r.Write(fmt.Sprintf("a%d LOGIN bob wrong%d\r\n", i, i))
			l, err := r.Reader().ReadString('\n')
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
		case <-time.After(transcripttest.WallLimit()):
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
	deadline := time.After(transcripttest.WallLimit())
	for n := 0; n < 10; {
		select {
		case got := <-answers:
			if !strings.HasPrefix(got, "NO [AUTHENTICATIONFAILED]") {
				t.Fatalf("a checked login: %q", got)
			}
			n++
		case <-time.After(10 * time.Millisecond):
			w.Clock.Advance(30 * time.Second)
		case <-deadline:
			t.Fatalf("%d delayed answers of 10", n)
		}
	}
}
