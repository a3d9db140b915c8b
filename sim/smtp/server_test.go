package smtp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netsim"
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

// serve runs s on a netsim host and returns a client connection to it,
// after its greeting.
func serve(t *testing.T, s *Server, port int) (net.Conn, *bufio.Reader) {
	t.Helper()
	n := netsim.New(clock.Wall{}, nil)
	srv, _ := n.AddHost("mx.example.net", "198.51.100.25")
	cli, _ := n.AddHost("client", "192.0.2.99")
	l, err := srv.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	c, err := cli.DialContext(context.Background(), "tcp", fmt.Sprintf("198.51.100.25:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	reply(t, c, r)
	return c, r
}

// reply reads one reply and returns its last line.
func reply(t *testing.T, c net.Conn, r *bufio.Reader) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a reply: %v", err)
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

func send(t *testing.T, c net.Conn, r *bufio.Reader, line string) string {
	t.Helper()
	fmt.Fprintf(c, "%s\r\n", line)
	return reply(t, c, r)
}

func isExample(d string) bool { return d == "example.net" }

// A failure on our side while accepting is temporary (4xx), never a
// bounce: the client keeps the message and tries again.
func TestLocalFailureIsTemporary(t *testing.T) {
	c, r := serve(t, &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: brokenQueue{}}, 25)
	send(t, c, r, "EHLO client")
	send(t, c, r, "MAIL FROM:<a@example.org>")
	send(t, c, r, "RCPT TO:<bob@example.net>")
	send(t, c, r, "DATA")
	got := send(t, c, r, "Subject: x\r\n\r\nbody\r\n.")
	if !strings.HasPrefix(got, "451 4.3.0") {
		t.Fatalf("got %q, want 451 4.3.0", got)
	}
}

func TestLMTPPerRecipientStatus(t *testing.T) {
	for _, c := range []struct {
		permanent bool
		want      string
	}{{false, "451 4.3.0"}, {true, "550 5.1.1"}} {
		conn, r := serve(t, &Server{Mode: LMTP, Hostname: "store.example.net", IsLocal: isExample, Deliver: brokenStore{c.permanent}}, 24)
		send(t, conn, r, "LHLO mx.example.net")
		send(t, conn, r, "MAIL FROM:<a@example.org>")
		send(t, conn, r, "RCPT TO:<bob@example.net>")
		send(t, conn, r, "RCPT TO:<carol@example.net>")
		send(t, conn, r, "DATA")
		fmt.Fprintf(conn, "Subject: x\r\n\r\nbody\r\n.\r\n")
		for _, rcpt := range []string{"bob", "carol"} {
			got := reply(t, conn, r)
			if !strings.HasPrefix(got, c.want) || !strings.Contains(got, rcpt) {
				t.Errorf("permanent=%v: %s got %q, want %s", c.permanent, rcpt, got, c.want)
			}
		}
	}
}

// The queue id reaches the client, and the message gains a Received line.
func TestQueuedAs(t *testing.T) {
	q := &okQueue{}
	c, r := serve(t, &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: q}, 25)
	send(t, c, r, "EHLO client.example.org")
	send(t, c, r, "MAIL FROM:<a@example.org>")
	send(t, c, r, "RCPT TO:<bob@example.net>")
	send(t, c, r, "DATA")
	if got := send(t, c, r, "Subject: x\r\n\r\nbody\r\n."); got != "250 2.0.0 Ok: queued as Q1" {
		t.Fatalf("got %q", got)
	}
	if len(q.got) != 1 || !strings.HasPrefix(string(q.got[0]), "Received: from client.example.org ([192.0.2.99])\r\n\tby mx.example.net (mailhop) with ESMTP id ") {
		t.Fatalf("queued %q", q.got)
	}
}

// A client that sends commands after STARTTLS in the same packet gets
// none of them executed (RFC 3207 §4.2, CVE-2011-0411).
func TestSTARTTLSInjectionDiscarded(t *testing.T) {
	q := &okQueue{}
	s := &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: q, TLSConfig: testTLS(t)}
	c, r := serve(t, s, 25)
	send(t, c, r, "EHLO client")
	fmt.Fprintf(c, "STARTTLS\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<bob@example.net>\r\n")
	if got := reply(t, c, r); !strings.HasPrefix(got, "220") {
		t.Fatalf("STARTTLS: %q", got)
	}
	// Whatever comes next must be the TLS handshake, not replies to the
	// injected commands.
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if line, err := r.ReadString('\n'); err == nil {
		t.Fatalf("the injected commands were answered: %q", line)
	}
}
