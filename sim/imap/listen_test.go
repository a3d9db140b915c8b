package imap

import (
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/listen"
	"github.com/mailhop/mailhop/sim/listen/listentest"
	"github.com/mailhop/mailhop/sim/store"
)

// runOn serves an IMAP server on a scripted listener until the test ends.
func runOn(t *testing.T, s *Server, ln *listentest.Listener) <-chan error {
	t.Helper()
	s.Store, s.Users = store.NewMemory(time.Now), auth.NewDirectory("example.net")
	return listentest.Serve(t, ln, s.Serve, func() { s.Close() }, ErrServerClosed, listen.ErrServerClosed)
}

func firstLine(t *testing.T, ln *listentest.Listener, served <-chan error, ip string) string {
	t.Helper()
	_, _, line := listentest.Greet(t, ln, served, ip, nil)
	return line
}

// Out of file descriptors, accept4 fails with EMFILE: the server pauses
// and accepts again.
func TestServeSurvivesEMFILE(t *testing.T) {
	ln := listentest.New(listentest.EMFILE(), listentest.EMFILE(), listentest.EMFILE())
	served := runOn(t, &Server{Hostname: "imap.example.net"}, ln)
	if g := firstLine(t, ln, served, "192.0.2.1"); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting after EMFILE: %q", g)
	}
}

// One address holding MaxConnectionsPerAddr sessions gets BYE
// [UNAVAILABLE] for the next (RFC 9051 §7.1.5); another still gets in,
// until MaxConnections. A session that ends frees its slot.
func TestConnectionCaps(t *testing.T) {
	ln := listentest.New()
	s := &Server{Hostname: "imap.example.net", MaxConnections: 3, MaxConnectionsPerAddr: 2}
	served := runOn(t, s, ln)
	first, firstR, g := listentest.Greet(t, ln, served, "192.0.2.1", nil)
	if !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting: %q", g)
	}
	if g := firstLine(t, ln, served, "192.0.2.1"); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting: %q", g)
	}
	if g := firstLine(t, ln, served, "192.0.2.1"); g != "* BYE [UNAVAILABLE] Too many connections from your address, try again later" {
		t.Fatalf("over the address's cap: %q", g)
	}
	if g := firstLine(t, ln, served, "192.0.2.2"); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("another address: %q", g)
	}
	if g := firstLine(t, ln, served, "192.0.2.3"); g != "* BYE [UNAVAILABLE] Too many connections, try again later" {
		t.Fatalf("over the server's cap: %q", g)
	}
	// A session that logs out frees its slot.
	first.Write([]byte("a1 LOGOUT\r\n"))
	for {
		if _, err := firstR.ReadString('\n'); err != nil {
			break
		}
	}
	if g := firstLine(t, ln, served, "192.0.2.3"); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("after a LOGOUT: %q", g)
	}
}
