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

// Out of file descriptors, accept4 fails with EMFILE: the server pauses
// and accepts again.
func TestServeSurvivesEMFILE(t *testing.T) {
	listentest.ServesAfterEMFILE(t, func(ln *listentest.Listener) <-chan error {
		return runOn(t, &Server{Hostname: "imap.example.net"}, ln)
	}, "* OK ")
}

// One address holding MaxConnectionsPerAddr sessions gets BYE
// [UNAVAILABLE] for the next (RFC 9051 §7.1.5); another still gets in,
// until MaxConnections. A session that ends frees its slot.
func TestConnectionCaps(t *testing.T) {
	ln := listentest.New()
	served := runOn(t, &Server{Hostname: "imap.example.net", MaxConnections: 3, MaxConnectionsPerAddr: 2}, ln)
	first, firstR := listentest.ConnectionCaps(t, ln, served, 2, "* OK ",
		"* BYE [UNAVAILABLE] Too many connections from your address, try again later",
		"* BYE [UNAVAILABLE] Too many connections, try again later")
	// A session that logs out frees its slot.
	first.Write([]byte("a1 LOGOUT\r\n"))
	for {
		if _, err := firstR.ReadString('\n'); err != nil {
			break
		}
	}
	if _, _, g := listentest.Greet(t, ln, served, "192.0.2.3", nil); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("after a LOGOUT: %q", g)
	}
}
