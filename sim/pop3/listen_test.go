package pop3

import (
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

// Out of file descriptors, accept4 fails with EMFILE: the server pauses
// and accepts again. (It used to return from Serve: the port was dead
// while the process lived on.)
func TestServeSurvivesEMFILE(t *testing.T) {
	listentest.ServesAfterEMFILE(t, func(ln *listentest.Listener) <-chan error {
		return runOn(t, &Server{Hostname: "pop.example.net"}, ln)
	}, "+OK ")
}

// One address holding MaxConnectionsPerAddr sessions gets -ERR
// [SYS/TEMP] for the next (RFC 3206 §4); another still gets in, until
// MaxConnections.
func TestConnectionCaps(t *testing.T) {
	ln := listentest.New()
	served := runOn(t, &Server{Hostname: "pop.example.net", MaxConnections: 3, MaxConnectionsPerAddr: 2}, ln)
	listentest.ConnectionCaps(t, ln, served, 2, "+OK ",
		"-ERR [SYS/TEMP] too many connections from your address, try again later",
		"-ERR [SYS/TEMP] too many connections (3), try again later")
}
