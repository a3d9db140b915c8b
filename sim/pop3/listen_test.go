package pop3

import (
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/listen"
	"github.com/mailhop/mailhop/sim/listen/listentest"
	"github.com/mailhop/mailhop/sim/store"
)

// runOn serves a POP3 server on a scripted listener until the test ends.
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
// and accepts again. (It used to return from Serve: the port was dead
// while the process lived on.)
func TestServeSurvivesEMFILE(t *testing.T) {
	ln := listentest.New(listentest.EMFILE(), listentest.EMFILE(), listentest.EMFILE())
	served := runOn(t, &Server{Hostname: "pop.example.net"}, ln)
	if g := firstLine(t, ln, served, "192.0.2.1"); !strings.HasPrefix(g, "+OK ") {
		t.Fatalf("greeting after EMFILE: %q", g)
	}
}

// One address holding MaxConnectionsPerAddr sessions gets -ERR
// [SYS/TEMP] for the next (RFC 3206 §4); another still gets in, until
// MaxConnections.
func TestConnectionCaps(t *testing.T) {
	ln := listentest.New()
	served := runOn(t, &Server{Hostname: "pop.example.net", MaxConnections: 3, MaxConnectionsPerAddr: 2}, ln)
	for range 2 {
		if g := firstLine(t, ln, served, "192.0.2.1"); !strings.HasPrefix(g, "+OK ") {
			t.Fatalf("greeting: %q", g)
		}
	}
	if g := firstLine(t, ln, served, "192.0.2.1"); g != "-ERR [SYS/TEMP] too many connections from your address, try again later" {
		t.Fatalf("over the address's cap: %q", g)
	}
	if g := firstLine(t, ln, served, "192.0.2.2"); !strings.HasPrefix(g, "+OK ") {
		t.Fatalf("another address: %q", g)
	}
	if g := firstLine(t, ln, served, "192.0.2.3"); g != "-ERR [SYS/TEMP] too many connections (3), try again later" {
		t.Fatalf("over the server's cap: %q", g)
	}
}
