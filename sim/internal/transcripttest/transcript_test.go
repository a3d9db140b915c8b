package transcripttest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// toy is a line server for testing the transcripts: it greets, echoes
// what it gets after "+OK ", and knows a few commands.
type toy struct {
	tls *tls.Config

	mu     sync.Mutex
	l      net.Listener
	closed bool
}

var errToyClosed = errors.New("toy: closed")

func (s *toy) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errToyClosed
	}
	s.l = l
	s.mu.Unlock()
	for {
		c, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.closed {
				return errToyClosed
			}
			return err
		}
		go s.session(c)
	}
}

func (s *toy) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.l == nil {
		return nil
	}
	return s.l.Close()
}

func (s *toy) session(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	fmt.Fprint(c, "+OK toy ready\r\n")
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		l = strings.TrimSuffix(l, "\r\n")
		switch l {
		case "QUIT":
			fmt.Fprint(c, "+OK bye\r\n")
			return
		case "STLS", "STLS+":
			if l == "STLS+" {
				fmt.Fprint(c, "+OK go\r\n+OK injected\r\n")
			} else {
				fmt.Fprint(c, "+OK go\r\n")
			}
			tc := tls.Server(c, s.tls)
			if tc.Handshake() != nil {
				return
			}
			c, r = tc, bufio.NewReader(tc)
		case "MULTI":
			fmt.Fprint(c, "250-one\r\n250-two\r\n250 three\r\n")
		case "LF":
			fmt.Fprint(c, "bare\n")
		case "WHO":
			fmt.Fprintf(c, "+OK %s\r\n", c.RemoteAddr())
		default:
			fmt.Fprintf(c, "+OK %s\r\n", l)
		}
	}
}

// fatal stands for a test that a transcript fails: Fatal ends the
// goroutine, as it would the test's.
type fatal struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatal) Helper() {}

func (f *fatal) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fatal) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// play runs script on a new connection to a toy server and returns how
// it failed ("" if it did not).
func play(t *testing.T, script string, set func(*Conn)) string {
	w := NewWorld(t)
	w.Start(110, &toy{tls: w.ServerTLS}, errToyClosed)
	f := &fatal{TB: t}
	c := w.Dial(t)
	c.t = f
	if set != nil {
		set(c)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(script)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		fails        string // in the failure's message; "" for none
	}{
		{"exact, prefix and pattern", `
			# a comment, then a blank line

			S: +OK toy ready
			C: hello
			S: +OK hello
			C: hello world
			S: +OK hello *
			C: a1 LOGIN
			S~ \+OK a[0-9] (LOGIN|AUTH)`, ""},
		{"a final star is all that is free", `
			S: +OK toy*
			C: x
			S: +OK *`, ""},
		{"placeholders", `
			S: +OK *
			C: {LONG 3}{SP}{PLAIN bob bob}
			S: +OK xxx AGJvYgBib2I=
			C: a2 LOGIN bob {9}
			S: +OK a2 LOGIN bob {9}
			C: {SP}
			S: +OK{SP}{SP}`, ""},
		{"raw bytes", `
			S: +OK *
			B: "one\r\ntwo\r\n"
			S: +OK one
			S: +OK two`, ""},
		{"closed", `
			S: +OK *
			C: QUIT
			S: +OK bye
			S: <closed>`, ""},
		{"TLS", `
			S: +OK *
			C: STLS
			S: +OK go
			T:
			C: inside
			S: +OK inside`, ""},
		{"a wrong line", `
			S: +OK toy ready
			C: hello
			S: +OK goodbye`, `want "+OK goodbye"`},
		{"a wrong prefix", `
			S: +OK toy ready
			C: hello
			S: +OK hi*`, `want "+OK hi"…`},
		{"a star is only a wildcard at the end", `
			S: +OK * ready`, `want "+OK * ready"`},
		{"a pattern matches the whole line", `
			S~ \+OK toy`, "want a match"},
		{"a bad pattern", `
			S~ (`, "missing closing )"},
		{"a line, not the end", `
			S: <closed>`, "want the connection closed"},
		{"the end, not a line", `
			S: +OK *
			C: QUIT
			S: +OK bye
			S: +OK more`, "the connection closed"},
		{"a line without its CR", `
			S: +OK *
			C: LF
			S: bare`, "does not end in CRLF"},
		{"an unknown placeholder", `
			C: {NOPE}`, `unknown placeholder "{NOPE}"`},
		{"a placeholder with the wrong arguments", `
			C: {PLAIN bob}`, `unknown placeholder "{PLAIN bob}"`},
		{"an unclosed placeholder", `
			C: {SP`, "no closing brace"},
		{"B: takes Go's quotes", `
			B: one\r\n`, "B: wants a Go string literal"},
		{"W: takes a duration", `
			W: soon`, "W: wants a duration"},
		{"T: takes nothing", `
			T: now`, "T: takes nothing"},
		{"cleartext after the yes to STARTTLS", `
			S: +OK *
			C: STLS+
			S: +OK go
			T:`, `cleartext after the answer to STARTTLS: "+OK injected\r\n"`},
		{"not a transcript line", `
			X: what`, "not a transcript line"},
		{"a line without a colon", `
			S`, "not a transcript line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := play(t, tc.script, nil)
			switch {
			case tc.fails == "" && got != "":
				t.Fatalf("failed: %s", got)
			case tc.fails != "" && !strings.Contains(got, tc.fails):
				t.Fatalf("failed with %q, want %q in it", got, tc.fails)
			}
		})
	}
}

// A reply of several lines is one "line" where Continued says so: its last
// line is checked.
func TestRunContinued(t *testing.T) {
	continued := func(l string) bool { return len(l) >= 4 && l[3] == '-' }
	script := `
		S: +OK *
		C: MULTI
		S: 250 three
		C: x
		S: +OK x`
	if got := play(t, script, func(c *Conn) { c.Continued = continued }); got != "" {
		t.Fatalf("failed: %s", got)
	}
	if got := play(t, script, nil); !strings.Contains(got, `got  "250-one"`) {
		t.Fatalf("without Continued: %q", got)
	}
}

// W: moves the Conn's clock; Vars adds placeholders.
func TestRunClockAndVars(t *testing.T) {
	var c *Conn
	got := play(t, `
		W: 90s
		W: 1h
		S: +OK toy ready
		C: {ECHO hi there}
		S: +OK hi there`, func(cc *Conn) {
		c = cc
		c.Vars = func(name string, args []string) (string, bool) {
			return strings.Join(args, " "), name == "ECHO"
		}
	})
	if got != "" {
		t.Fatalf("failed: %s", got)
	}
	if d := c.Clock.Now().Sub(Start); d != time.Hour+90*time.Second {
		t.Fatalf("the clock moved %v", d)
	}
	if got := play(t, "W: 1s", func(c *Conn) { c.Clock = nil }); !strings.Contains(got, "no virtual clock") {
		t.Fatalf("W: without a clock: %q", got)
	}
}

// The world's accounts log in, dave has no maildrop, and the greeting is
// the first line read.
func TestWorld(t *testing.T) {
	w := NewWorld(t)
	for _, a := range accounts {
		if _, err := w.Users.Authenticate(a.addr, a.pass); err != nil {
			t.Errorf("%s: %v", a.addr, err)
		}
		if _, err := w.Store.Status(a.addr, "INBOX"); (err == nil) != a.maildrop {
			t.Errorf("%s: maildrop %v, err %v", a.addr, a.maildrop, err)
		}
	}
	w.Deliver(t, "INBOX", []byte("Subject: one\r\n\r\n"), []byte("Subject: two\r\n\r\n"))
	if got := w.Flags(t, "INBOX"); strings.Join(got, " ") != "1: 2:" {
		t.Errorf("INBOX %q", got)
	}
	w.Loopback = true
	w.Start(110, &toy{tls: w.ServerTLS}, errToyClosed)
	c := w.Dial(t)
	if got := c.Cmd("x"); got != "+OK toy ready" || c.Greeting() != got {
		t.Errorf("first line %q, greeting %q", got, c.Greeting())
	}
	c.Run(`
		S: +OK x
		C: WHO
		S: +OK 127.0.0.1:*`)
	c.Expect("y", "+OK y")
	c.Send("QUIT")
	if closed, lines := c.Drain(); !closed || strings.Join(lines, "|") != "+OK bye" {
		t.Errorf("drain: %v %q", closed, lines)
	}
}
