package smtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/internal/transcripttest"
	"github.com/mailhop/mailhop/sim/mda"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/store"
)

// brokenQueue fails as a full disk would.
type brokenQueue struct{}

func (brokenQueue) Enqueue(string, []string, []byte) (string, error) {
	return "", errors.New("no space left on device")
}

type okQueue struct{ got [][]byte }

func (q *okQueue) Enqueue(from string, to []string, body []byte) (string, error) {
	q.got = append(q.got, body)
	return fmt.Sprintf("Q%d", len(q.got)), nil
}

// brokenStore refuses every delivery, temporarily or for good.
type brokenStore struct{ permanent bool }

type storeErr struct{ permanent bool }

func (e storeErr) Error() string   { return "mailbox store unavailable" }
func (e storeErr) Permanent() bool { return e.permanent }

func (b brokenStore) Deliver(context.Context, string, string, []byte) error {
	return storeErr(b)
}

// start runs s on port of a netsim host, mx.example.net, until the test
// ends. dial connects a client, 192.0.2.99, and returns its connection
// after the greeting (a "line" of the server is a whole reply); served
// gets what Serve returned.
func start(t *testing.T, s *Server, port int) (dial func() *transcripttest.Conn, served <-chan error) {
	t.Helper()
	n := netsim.New(clock.Wall{}, nil)
	srv, _ := n.AddHost("mx.example.net", "198.51.100.25")
	cli, _ := n.AddHost("client", "192.0.2.99")
	l, err := srv.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() { s.Close() })
	return func() *transcripttest.Conn {
		t.Helper()
		nc, err := cli.DialContext(context.Background(), "tcp", fmt.Sprintf("198.51.100.25:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		c := transcripttest.NewConn(t, nc)
		c.Continued = continued
		c.Reply()
		return c
	}, done
}

// serve runs s (see start) and returns a client's connection to it.
func serve(t *testing.T, s *Server, port int) *transcripttest.Conn {
	t.Helper()
	dial, _ := start(t, s, port)
	return dial()
}

// sendMail is the script of a mail transaction that the server
// accepts up to DATA, and then the data sent (its final "." included,
// or not yet).
func sendMail(from string, to []string, data string) string {
	s := "\nC: MAIL FROM:<" + from + ">\nS: 250 *"
	for _, r := range to {
		s += "\nC: RCPT TO:<" + r + ">\nS: 250 *"
	}
	return s + "\nC: DATA\nS: 354 *\nB: " + strconv.Quote(data)
}

// continued reports whether a line of a reply has more after it
// (RFC 5321 §4.2.1: "250-").
func continued(line string) bool { return len(line) >= 4 && line[3] == '-' }

func isExample(d string) bool { return d == "example.net" }

// mailToBob sends bob a message, up to the final "." of the data.
var mailToBob = "\nC: EHLO client.example.org\nS: 250 *" + sendMail("a@example.org", []string{"bob@example.net"}, "Subject: x\r\n\r\nbody\r\n.\r\n")

// A failure on our side while accepting is temporary (4xx), never a
// bounce: the client keeps the message and tries again.
func TestLocalFailureIsTemporary(t *testing.T) {
	serve(t, &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: brokenQueue{}}, 25).Run(mailToBob + `
		S: 451 4.3.0 *`)
}

func TestLMTPPerRecipientStatus(t *testing.T) {
	for _, c := range []struct {
		permanent bool
		want      string
	}{{false, `451 4\.3\.0`}, {true, `550 5\.1\.1`}} {
		t.Run(fmt.Sprint("permanent=", c.permanent), func(t *testing.T) {
			serve(t, &Server{Mode: LMTP, Hostname: "store.example.net", IsLocal: isExample, Deliver: brokenStore{c.permanent}}, 24).Run(`
				C: LHLO mx.example.net
				S: 250 *` + sendMail("a@example.org", []string{"bob@example.net", "carol@example.net"}, "Subject: x\r\n\r\nbody\r\n.\r\n") + `
				S~ ` + c.want + ` .*bob.*
				S~ ` + c.want + ` .*carol.*`)
		})
	}
}

// A recipient whose mailbox is full gets 452 4.2.2 (RFC 3463 X.2.2,
// RFC 2033 §4.2: one reply per recipient), the sender keeps the message
// for later, and the other recipient has it.
func TestLMTPMailboxFull(t *testing.T) {
	st := store.NewMemory(nil)
	for _, u := range []string{"bob@example.net", "carol@example.net"} {
		st.AddUser(u)
	}
	st.Append("bob@example.net", store.Inbox, bytes.Repeat([]byte("x"), 900), nil, time.Time{})
	m := &mda.MDA{Hostname: "store.example.net", Store: st, Quota: store.Quota{Storage: 1000}}
	serve(t, &Server{Mode: LMTP, Hostname: "store.example.net", IsLocal: isExample, Deliver: m}, 24).Run(`
		C: LHLO mx.example.net
		S: 250 *` + sendMail("a@example.org", []string{"bob@example.net", "carol@example.net"}, "Subject: x\r\n\r\nbody\r\n.\r\n") + `
		S: 452 4.2.2 <bob@example.net> Mailbox full: try again later
		S: 250 2.0.0 Ok: delivered to <carol@example.net>`)
	if got, _ := st.List("carol@example.net", store.Inbox); len(got) != 1 {
		t.Fatalf("carol has %d messages", len(got))
	}
	if got, _ := st.List("bob@example.net", store.Inbox); len(got) != 1 {
		t.Fatalf("bob has %d messages, want the 1 he had", len(got))
	}
}

// The queue id reaches the client, and the message gains a Received line.
func TestQueuedAs(t *testing.T) {
	q := &okQueue{}
	serve(t, &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: q}, 25).Run(mailToBob + `
		S: 250 2.0.0 Ok: queued as Q1`)
	if len(q.got) != 1 || !strings.HasPrefix(string(q.got[0]), "Received: from client.example.org ([192.0.2.99])\r\n\tby mx.example.net (mailhop) with ESMTP id ") {
		t.Fatalf("queued %q", q.got)
	}
}

// A client that sends commands after STARTTLS in the same packet gets
// none of them executed (RFC 3207 §4.2, CVE-2011-0411): what comes after
// the 220 is the TLS handshake, not replies to the injected commands, and
// inside TLS the session starts afresh.
func TestSTARTTLSInjectionDiscarded(t *testing.T) {
	srvTLS, cliTLS := transcripttest.TLS(t, "mx.example.net")
	q := &okQueue{}
	c := serve(t, &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: q, TLSConfig: srvTLS}, 25)
	c.TLS = cliTLS
	c.Run(`
		C: EHLO client
		S: 250 *
		B: "STARTTLS\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@example.net>\r\n"
		S: 220 *
		T:
		C: RCPT TO:<bob@example.net>
		S: 503 5.5.1 *`)
	if len(q.got) != 0 {
		t.Fatalf("queued %q", q.got)
	}
}

// Shutdown tells a session waiting for a command that the server goes
// away (421 4.3.2, RFC 5321 §3.8), lets a session in the middle of a
// message finish it and have its 250, and returns once both are gone.
func TestShutdownDrainsSessions(t *testing.T) {
	q := &okQueue{}
	s := &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Recipient: func(string) bool { return true }, Queue: q}
	dial, served := start(t, s, 25)
	idle, busy := dial(), dial()
	idle.Run(`
		C: EHLO idle.example.org
		S: 250 *`)
	busy.Run(`
		C: EHLO busy.example.org
		S: 250 *` + sendMail("a@example.org", []string{"bob@example.net"}, "Subject: half\r\n\r\n"))
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	idle.Run(`
		S: 421 4.3.2 mx.example.net Service shutting down, try again later`)
	idle.ExpectEOF()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a message was half sent", err)
	case <-time.After(100 * time.Millisecond):
	}
	busy.Run(`
		B: "the rest\r\n.\r\n"
		S: 250 2.0.0 Ok: queued as *
		S: 421 4.3.2 *`)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if len(q.got) != 1 {
		t.Fatalf("%d messages queued, want the one finished during Shutdown", len(q.got))
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
}
