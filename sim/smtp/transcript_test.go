package smtp

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/trace"
)

// Transcripts (see sim/internal/transcripttest) in the style of RFC 5321
// §D: "C:" is what the client sends, "S:" the server's reply (the last
// line of a multi-line reply). "C:" lines are sent without waiting for a
// reply, so "C:" lines in a row are pipelined. "B:" sends a Go-quoted
// string as it is: bytes no client should send (a bare CR or LF, a NUL).
//
// Each script runs twice where strict and tolerant servers differ: the
// strict server (the playground's) says what is wrong in every deviation,
// the tolerant one (`mailhop serve` by default) takes what Postfix takes.
var smtpTranscripts = []struct {
	name             string
	strict, tolerant string
}{
	{name: "EHLO and HELO need a domain",
		strict: `
		C: EHLO
		S: 501 5.5.4 Syntax: EHLO hostname (RFC 5321 §4.1.1.1)*
		C: HELO
		S: 501 5.5.4 Syntax: HELO hostname (RFC 5321 §4.1.1.1)*
		C: EHLO client.example.org
		S: 250 *`,
		// The same in both modes (RFC 5321 §4.1.1.1).
		tolerant: `
		C: EHLO
		S: 501 5.5.4 Syntax: EHLO hostname (RFC 5321 §4.1.1.1)*
		C: EHLO client.example.org
		S: 250 *`},
	{name: "MAIL FROM needs angle brackets, no space after the colon",
		strict: `
		C: EHLO client.example.org
		S: 250 *
		C: MAIL FROM: <alice@example.org>
		S: 501 5.5.4 Syntax: MAIL FROM:<address> (RFC 5321 §4.1.2): no space after the colon
		C: MAIL FROM:alice@example.org
		S: 501 5.5.4 Syntax: MAIL FROM:<address> (RFC 5321 §4.1.2): the address goes in angle brackets
		C: MAIL FROM: alice@example.org
		S: 501 5.5.4 Syntax: MAIL FROM:<address> (RFC 5321 §4.1.2): no space after the colon
		C: MAIL FROM:<alice@example.org
		S: 501 5.5.4 Syntax: MAIL FROM:<address> (RFC 5321 §4.1.2): the closing angle bracket is missing
		C: MAIL FROM:<alice@example.org>
		S: 250 2.1.0 Roger, accepting mail from <*`,
		tolerant: `
		C: EHLO client.example.org
		S: 250 *
		C: MAIL FROM: alice@example.org
		S: 250 2.1.0 Roger, accepting mail from <*`},
	{name: "RCPT TO needs angle brackets, no space after the colon",
		strict: `
		C: EHLO client.example.org
		S: 250 *
		C: MAIL FROM:<alice@example.org>
		S: 250 2.1.0 Roger, accepting mail from <*
		C: RCPT TO: <bob@example.net>
		S: 501 5.5.4 Syntax: RCPT TO:<address> (RFC 5321 §4.1.2): no space after the colon
		C: RCPT TO:bob@example.net
		S: 501 5.5.4 Syntax: RCPT TO:<address> (RFC 5321 §4.1.2): the address goes in angle brackets
		C: RCPT TO:<bob@example.net>
		S: 250 2.1.5 *`,
		tolerant: `
		C: EHLO client.example.org
		S: 250 *
		C: MAIL FROM:<alice@example.org>
		S: 250 2.1.0 Roger, accepting mail from <*
		C: RCPT TO: bob@example.net
		S: 250 2.1.5 *`},
	{name: "a strict error in a pipelined group keeps the replies in order",
		strict: `
		C: EHLO client.example.org
		S: 250 *
		C: MAIL FROM:<alice@example.org>
		C: RCPT TO: <bob@example.net>
		C: RCPT TO:<bob@example.net>
		S: 250 2.1.0 *
		S: 501 5.5.4 Syntax: RCPT TO:<address> *
		S: 250 2.1.5 *`},
	{name: "a second MAIL without RSET",
		strict: `
		C: EHLO client.example.org
		S: 250 *
		C: MAIL FROM:<alice@example.org>
		S: 250 2.1.0 Roger, accepting mail from <*
		C: MAIL FROM:<carol@example.org>
		S: 503 5.5.1 Error: nested MAIL command: a transaction is already open, send RSET first (RFC 5321 §4.1.1.2)
		C: RSET
		S: 250 *
		C: MAIL FROM:<carol@example.org>
		S: 250 2.1.0 Roger, accepting mail from <*`,
		tolerant: `
		C: EHLO client.example.org
		S: 250 *
		C: MAIL FROM:<alice@example.org>
		S: 250 2.1.0 Roger, accepting mail from <*
		C: MAIL FROM:<carol@example.org>
		S: 503 5.5.1 Error: nested MAIL command*`},
	{name: "RCPT before MAIL, DATA before RCPT",
		strict: `
		C: EHLO client.example.org
		S: 250 *
		C: RCPT TO:<bob@example.net>
		S: 503 5.5.1 Bad sequence of commands: MAIL FROM comes first
		C: DATA
		S: 503 5.5.1 Bad sequence of commands: no valid RCPT TO yet
		C: MAIL FROM:<alice@example.org>
		S: 250 2.1.0 Roger, accepting mail from <*
		C: DATA
		S: 503 5.5.1 Bad sequence of commands: no valid RCPT TO yet
		C: RCPT TO:<nobody@elsewhere.example>
		S: 550 5.7.1 Relaying denied
		C: DATA
		S: 503 5.5.1 Bad sequence of commands: no valid RCPT TO yet`,
		tolerant: `
		C: EHLO client.example.org
		S: 250 *
		C: RCPT TO:<bob@example.net>
		S: 503 5.5.1 Bad sequence of commands: MAIL FROM comes first
		C: MAIL FROM:<alice@example.org>
		S: 250 2.1.0 Roger, accepting mail from <*
		C: DATA
		S: 503 5.5.1 Bad sequence of commands: no valid RCPT TO yet`},
	{name: "non-ASCII addresses need SMTPUTF8",
		strict: `
		C: EHLO client.example.org
		S: 250 *
		C: MAIL FROM:<ålice@example.org>
		S: 553 5.6.7 Non-ASCII sender address not permitted without SMTPUTF8: send MAIL FROM:<address> SMTPUTF8 (RFC 6531 §3.5)
		C: MAIL FROM:<alice@example.org>
		S: 250 2.1.0 Roger, accepting mail from <*
		C: RCPT TO:<bøb@example.net>
		S: 553 5.6.7 Non-ASCII recipient address not permitted without SMTPUTF8: send MAIL FROM:<address> SMTPUTF8 (RFC 6531 §3.5)
		C: RSET
		S: 250 *
		C: MAIL FROM:<ålice@example.org> SMTPUTF8
		S: 250 2.1.0 Roger, accepting mail from <*
		C: RCPT TO:<bøb@example.net>
		S: 250 2.1.5 *`,
		tolerant: `
		C: EHLO client.example.org
		S: 250 *
		C: MAIL FROM:<ålice@example.org>
		S: 250 2.1.0 Roger, accepting mail from <*
		C: RCPT TO:<bøb@example.net>
		S: 250 2.1.5 *`},
}

// AUTH exchanges that fail, each with the code of its cause (RFC 4954
// §4 and §6): 501 for a response that is not base64 or a malformed one,
// 535 for wrong credentials; never the temporary 454 go-smtp would give.
var authTranscripts = []struct{ name, script string }{
	{"a response to 334 that is not base64", `
		C: EHLO client.example.org
		S: 250 *
		C: AUTH PLAIN
		S: 334{SP}
		C: alice alice
		S: 501 5.5.2 Invalid base64 data: the response to 334 must be base64 (RFC 4954 §4)
		C: NOOP
		S: 250 *`},
	{"an initial response that is not base64", `
		C: EHLO client.example.org
		S: 250 *
		C: AUTH PLAIN alice:alice
		S: 501 5.5.2 Invalid base64 data in the initial response (RFC 4954 §4)`},
	{"a PLAIN message without its NULs", `
		C: EHLO client.example.org
		S: 250 *
		C: AUTH PLAIN YWxpY2U=
		S: 501 5.5.2 Malformed authentication response: *`},
	{"wrong password", `
		C: EHLO client.example.org
		S: 250 *
		C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHdyb25n
		S: 535 5.7.8 Authentication credentials invalid`},
	{"cancelled", `
		C: EHLO client.example.org
		S: 250 *
		C: AUTH LOGIN
		S: 334 VXNlcm5hbWU6
		C: *
		S: 501 5.0.0 Authentication cancelled (RFC 4954 §4)`},
	{"right password", `
		C: EHLO client.example.org
		S: 250 *
		C: AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNl
		S: 235 2.0.0 Authentication succeeded`},
}

func TestAuthTranscripts(t *testing.T) {
	for _, tc := range authTranscripts {
		t.Run(tc.name, func(t *testing.T) {
			users := auth.NewDirectory("example.org")
			if err := users.Add("alice@example.org", "alice"); err != nil {
				t.Fatal(err)
			}
			s := &Server{Mode: Submission, Hostname: "mail.example.org", Queue: &okQueue{}, InsecureAuth: true, Strict: true,
				Users: users, Clock: instant{}}
			serve(t, s, 25).Run(tc.script)
		})
	}
}

func TestTranscripts(t *testing.T) {
	for _, tc := range smtpTranscripts {
		for _, mode := range []struct {
			name   string
			strict bool
			script string
		}{{"strict", true, tc.strict}, {"tolerant", false, tc.tolerant}} {
			if mode.script == "" {
				continue
			}
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				s := &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: &okQueue{}, Strict: mode.strict}
				serve(t, s, 25).Run(mode.script)
			})
		}
	}
}

// instant is a clock whose Sleep returns at once: a failed login costs
// no time in these tests.
type instant struct{ clock.Wall }

func (instant) Sleep(time.Duration) {}

// virtualClient serves s on mx.example.net:25 of a network on the
// virtual clock v and connects a client to it. The client reads on its
// own goroutine, without deadlines (they would run on the virtual clock
// too): lines has each line the server sends, next the next whole reply.
func virtualClient(t *testing.T, s *Server, v *clock.Virtual, rec *trace.Recorder) (c net.Conn, lines <-chan string, next func() string) {
	t.Helper()
	n := netsim.New(v, rec)
	srvHost, _ := n.AddHost("mx.example.net", "198.51.100.25")
	cliHost, _ := n.AddHost("client", "192.0.2.99")
	l, err := srvHost.Listen("tcp", ":25")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	c, err = cliHost.DialContext(context.Background(), "tcp", "198.51.100.25:25")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch := make(chan string, 16)
	go func() {
		defer close(ch)
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			ch <- strings.TrimRight(l, "\r\n")
		}
	}()
	next = func() string {
		t.Helper()
		for {
			select {
			case l, ok := <-ch:
				if !ok {
					t.Fatalf("connection closed at %v", v.Now())
				}
				if len(l) < 4 || l[3] != '-' {
					return l
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no reply")
			}
		}
	}
	return c, ch, next
}

// toData reads the greeting and opens a mail transaction up to DATA's 354.
func toData(c net.Conn, next func() string) {
	next() // greeting
	for _, cmd := range []string{"EHLO client.example.org", "MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.net>", "DATA"} {
		fmt.Fprintf(c, "%s\r\n", cmd)
		next()
	}
}

// A client that stops in the middle of DATA (it forgot the final ".")
// gets 421 4.4.2 once the idle timeout passes on the network's clock —
// a reply on the wire, traced like any other — and the connection closes.
func TestDataTimeout(t *testing.T) {
	for _, strict := range []bool{true, false} {
		t.Run(fmt.Sprint("strict=", strict), func(t *testing.T) {
			start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
			v := clock.NewVirtual(start)
			rec := trace.NewRecorder(v.Now, 0)
			s := &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: &okQueue{}, Clock: v, Timeout: 5 * time.Minute, Strict: strict}
			c, lines, next := virtualClient(t, s, v, rec)
			toData(c, next)
			fmt.Fprintf(c, "Subject: hello\r\n\r\nand then nothing more\r\n")
			sent := v.Now()

			// Move the clock a minute at a time until the server speaks.
			var got string
			for i := 0; got == "" && i < 10; i++ {
				v.Advance(time.Minute)
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("closed without a reply after %v", v.Now().Sub(sent))
					}
					got = l
				case <-time.After(200 * time.Millisecond):
				}
			}
			want := "421 4.4.2 mx.example.net Error: timeout exceeded"
			if got != want {
				t.Fatalf("after %v: got %q, want %q", v.Now().Sub(sent), got, want)
			}
			if idle := v.Now().Sub(sent); idle < 5*time.Minute {
				t.Errorf("421 after %v of silence, before the 5-minute timeout", idle)
			}
			select {
			case l, ok := <-lines:
				if ok {
					t.Fatalf("after 421: %q", l)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the connection stays open after 421")
			}
			// The trace shows the reply as the server sent it.
			var traced bool
			for _, e := range rec.Events() {
				if e.Kind == trace.KindWire && e.Dir == trace.Recv && e.Text == want && e.Proto == "smtp" {
					traced = true
				}
			}
			if !traced {
				t.Errorf("no wire event for %q in the trace", want)
			}
		})
	}
}

// The idle timeout runs from line to line of a message: a client that
// sends each line of it four minutes after the last (under the 5-minute
// timeout) has its message taken, in lines read one by one or several
// at a time.
func TestDataTimeoutPerLine(t *testing.T) {
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	v := clock.NewVirtual(start)
	s := &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: &okQueue{}, Clock: v, Timeout: 5 * time.Minute}
	c, _, next := virtualClient(t, s, v, nil)
	toData(c, next)
	for _, part := range []string{"Subject: slow\r\n", "\r\n", "first line\r\nsecond ", "line\r\n", "third line\r\n", ".\r\n"} {
		time.Sleep(20 * time.Millisecond) // the server reads what came and waits
		v.Advance(4 * time.Minute)
		fmt.Fprint(c, part)
	}
	if got := next(); !strings.HasPrefix(got, "250 ") {
		t.Fatalf("after a slow message: %q", got)
	}
}
