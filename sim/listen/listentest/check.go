package listentest

import (
	"bufio"
	"net"
	"strings"
	"testing"
)

// The checks every server built on package listen must pass, whatever
// its protocol: each takes how the server greets ("* OK ", "+OK ") and,
// whole, the lines it refuses a connection with.

// ServesAfterEMFILE checks that a server rides out Accept failing with
// EMFILE (out of file descriptors): start serves it on a Listener that
// fails so three times first (with Serve), and a client that then
// connects is greeted, its first line starting with greeting. (A server
// that returned from Serve there left its port dead while the process
// lived on.)
func ServesAfterEMFILE(t testing.TB, start func(*Listener) <-chan error, greeting string) {
	t.Helper()
	ln := New(EMFILE(), EMFILE(), EMFILE())
	served := start(ln)
	if _, _, g := Greet(t, ln, served, "192.0.2.1", nil); !strings.HasPrefix(g, greeting) {
		t.Fatalf("greeting after EMFILE: %q", g)
	}
}

// ConnectionCaps checks the caps of a server serving ln (see Serve) with
// MaxConnectionsPerAddr perAddr and MaxConnections perAddr+1: perAddr
// connections from 192.0.2.1 are greeted (their first line starts with
// greeting) and the next one from it gets the line fromAddr; one from
// 192.0.2.2 is greeted, which fills the server, and one from 192.0.2.3
// gets the line tooMany. It returns the first connection, still open,
// and its reader.
func ConnectionCaps(t testing.TB, ln *Listener, served <-chan error, perAddr int, greeting, fromAddr, tooMany string) (net.Conn, *bufio.Reader) {
	t.Helper()
	var first net.Conn
	var firstR *bufio.Reader
	for i := range perAddr {
		c, r, g := Greet(t, ln, served, "192.0.2.1", nil)
		if !strings.HasPrefix(g, greeting) {
			t.Fatalf("greeting: %q", g)
		}
		if i == 0 {
			first, firstR = c, r
		}
	}
	if _, _, g := Greet(t, ln, served, "192.0.2.1", nil); g != fromAddr {
		t.Fatalf("over the address's cap: %q", g)
	}
	if _, _, g := Greet(t, ln, served, "192.0.2.2", nil); !strings.HasPrefix(g, greeting) {
		t.Fatalf("another address: %q", g)
	}
	if _, _, g := Greet(t, ln, served, "192.0.2.3", nil); g != tooMany {
		t.Fatalf("over the server's cap: %q", g)
	}
	return first, firstR
}
