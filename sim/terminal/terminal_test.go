package terminal

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/world"
)

// newWorld runs the default world on its virtual clock, as fast as the
// wall clock (as the playground does by default).
func newWorld(t *testing.T) *world.World {
	t.Helper()
	spec, err := world.Load("default")
	if err != nil {
		t.Fatal(err)
	}
	w, err := world.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	d := world.NewDriver(w, 10*time.Millisecond)
	d.Play()
	t.Cleanup(func() { d.Stop(); w.Close() })
	return w
}

// expect reads lines until one from the server starts with prefix; an
// other final reply fails the test when a reply code is awaited.
func expect(t *testing.T, s *Session, prefix string) Line {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := s.ReadUntil(ctx, func(l Line) bool {
		if l.Dir != "recv" {
			return false
		}
		if strings.HasPrefix(l.Text, prefix) {
			return true
		}
		if isFinalReply(s.Proto, l.Text) && prefix[0] >= '0' && prefix[0] <= '9' {
			t.Fatalf("waiting for %q, got %q", prefix, l.Text)
		}
		return false
	})
	if err != nil {
		t.Fatalf("waiting for %q: %v", prefix, err)
	}
	return l
}

// dial connects in a new default world and waits for the greeting.
func dial(t *testing.T, from, to string, port int, greeting string) *Session {
	t.Helper()
	s, err := Dial(context.Background(), newWorld(t), from, to, port, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	expect(t, s, greeting)
	return s
}

func send(t *testing.T, s *Session, line string) Line {
	t.Helper()
	l, err := s.Send(context.Background(), line)
	if err != nil {
		t.Fatalf("send %q: %v", line, err)
	}
	return l
}

// A connection that can not be made says so as telnet does, and why.
func TestDialErrors(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, tc := range []struct {
		from, to string
		port     int
		want     string
	}{
		{"nowhere", "mx.example.net", 25, `no host "nowhere"`},
		{"bob-pc", "mx.example.com", 25, `no host "mx.example.com"`},
		{"bob-pc", "mx.example.net", 0, "not a TCP port"},
		{"bob-pc", "mx.example.net", 26, "Unable to connect to remote host: Connection refused — mx.example.net answered the TCP handshake with a reset"},
		{"bob-pc", "203.0.113.9", 25, "Unable to connect to remote host: No route to host — no packet reaches 203.0.113.9"},
	} {
		_, err := Dial(ctx, w, tc.from, tc.to, tc.port, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Dial(%s, %s, %d) = %v, want %q", tc.from, tc.to, tc.port, err, tc.want)
		}
	}
	_, err := Dial(ctx, w, "bob-pc", "mx.example.net", 26, Options{})
	var de *DialError
	if !errors.As(err, &de) || de.Reason != "Connection refused" || de.Trying != "Trying 198.51.100.25..." {
		t.Errorf("refused: %#v, want a DialError", err)
	}
}

// While the clock stands still, the first line typed says so, once per
// pause; the server still answers.
func TestPausedNotice(t *testing.T) {
	w := newWorld(t)
	var mu sync.Mutex
	paused := true
	s, err := Dial(context.Background(), w, "bob-pc", "mx.example.net", 25, Options{Paused: func() bool {
		mu.Lock()
		defer mu.Unlock()
		return paused
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	expect(t, s, "220 ")
	setPaused := func(p bool) {
		mu.Lock()
		paused = p
		mu.Unlock()
	}
	told := func() int {
		n := 0
		for _, l := range drain(t, s, "250 ", 2) {
			if l.Dir == "info" && strings.HasPrefix(l.Text, "The clock is paused: the server still answers") {
				n++
			}
		}
		return n
	}
	send(t, s, "NOOP")
	send(t, s, "NOOP")
	if n := told(); n != 1 {
		t.Fatalf("paused: told %d times, want once", n)
	}
	setPaused(false)
	send(t, s, "NOOP")
	send(t, s, "NOOP")
	if n := told(); n != 0 {
		t.Fatalf("playing: told %d times, want never", n)
	}
	setPaused(true)
	send(t, s, "NOOP")
	send(t, s, "NOOP")
	if n := told(); n != 1 {
		t.Fatalf("paused again: told %d times, want once", n)
	}
}

// drain reads lines until n server lines start with prefix.
func drain(t *testing.T, s *Session, prefix string, n int) []Line {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []Line
	for n > 0 {
		l, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("%v after %+v", err, out)
		}
		out = append(out, l)
		if l.Dir == "recv" && strings.HasPrefix(l.Text, prefix) {
			n--
		}
	}
	return out
}

func TestTerminalSTARTTLSAuth(t *testing.T) {
	s := dial(t, "alice-pc", "mail.example.org", 587, "220 ")
	send(t, s, "EHLO alice-pc")
	expect(t, s, "250 ")
	send(t, s, "STARTTLS")
	expect(t, s, "220 ")
	send(t, s, "EHLO alice-pc") // waits for the handshake
	var sawAuth, sawInfo bool
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		l, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l.Dir == "info" && strings.HasPrefix(l.Text, "TLS started") {
			sawInfo = true
		}
		if l.Dir == "recv" {
			if !l.TLS {
				t.Fatalf("%q after STARTTLS not marked TLS", l.Text)
			}
			sawAuth = sawAuth || strings.Contains(l.Text, "AUTH PLAIN")
			if strings.HasPrefix(l.Text, "250 ") {
				break
			}
		}
	}
	if !sawInfo || !sawAuth {
		t.Fatalf("TLS info line %v, AUTH offered %v", sawInfo, sawAuth)
	}
	cred := base64.StdEncoding.EncodeToString([]byte("\x00alice@example.org\x00alice"))
	send(t, s, "AUTH PLAIN "+cred)
	expect(t, s, "235 ")
}

func TestTerminalImplicitTLS(t *testing.T) {
	s, err := Dial(context.Background(), newWorld(t), "bob-pc", "store.example.net", 993, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := expect(t, s, "* OK")
	if !l.TLS {
		t.Fatal("greeting on 993 not marked TLS")
	}
	send(t, s, "a1 LOGIN bob@example.net bob")
	expect(t, s, "a1 OK")
}

// A session's lines are in wire order: each line typed comes before the
// server's reply to it, pipelined lines included.
func TestSessionWireOrder(t *testing.T) {
	s := dial(t, "bob-pc", "mx.example.net", 25, "220 ")
	// Typed without waiting for the replies, as a paste does.
	for _, l := range []string{"EHLO bob-pc", "MAIL FROM:<bob@example.net>", "RCPT TO:<bob@example.net>", "DATA"} {
		send(t, s, l)
	}
	var got []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "S: 354") {
		l, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("%v after %q", err, got)
		}
		switch l.Dir {
		case "send":
			got = append(got, "C: "+l.Text)
		case "recv":
			if isFinalReply("smtp", l.Text) {
				got = append(got, "S: "+l.Text[:3])
			}
		}
	}
	// A reply may come before the next command is typed, never before
	// its own command: at every point, no more replies than commands.
	var cmds, replies []string
	for _, l := range got {
		if strings.HasPrefix(l, "C: ") {
			cmds = append(cmds, l)
		} else {
			replies = append(replies, l)
		}
		if len(replies) > len(cmds) {
			t.Fatalf("a reply before its command:\n%s", strings.Join(got, "\n"))
		}
	}
	if strings.Join(cmds, "|") != "C: EHLO bob-pc|C: MAIL FROM:<bob@example.net>|C: RCPT TO:<bob@example.net>|C: DATA" ||
		strings.Join(replies, "|") != "S: 250|S: 250|S: 250|S: 354" {
		t.Fatalf("lines:\n%s", strings.Join(got, "\n"))
	}
}

// A failed login's answer is delayed on purpose; the terminal says so.
func TestSessionLoginDelay(t *testing.T) {
	s := dial(t, "alice-pc", "mail.example.org", 465, "220 ")
	send(t, s, "EHLO alice-pc")
	expect(t, s, "250 ")
	send(t, s, "AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice@example.org\x00wrong")))
	expect(t, s, "535 ")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The delay is 1 s on the world's clock, which moves with the wall
	// clock here: a loaded machine may see 1.1 s.
	var waited float64
	if _, err := fmt.Sscanf(l.Text, "The server waited %f s", &waited); err != nil || waited < 1 || waited > 2 ||
		l.Dir != "info" || !strings.Contains(l.Note, "deliberate delay") {
		t.Fatalf("after the 535: %+v, want the delay explained", l)
	}
}
