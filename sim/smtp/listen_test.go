package smtp

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"github.com/mailhop/mailhop/sim/internal/transcripttest"
	"github.com/mailhop/mailhop/sim/listen"
	"github.com/mailhop/mailhop/sim/listen/listentest"
)

// serveOn runs s on a scripted listener until the test ends, and checks
// that Serve then returns the one closed error (listen's).
func serveOn(t *testing.T, s *Server, ln *listentest.Listener) <-chan error {
	t.Helper()
	return listentest.Serve(t, ln, s.Serve, func() { s.Close() }, listen.ErrServerClosed, ErrServerClosed)
}

func listenServer(mode Mode) *Server {
	return &Server{Mode: mode, Hostname: "mx.example.net", IsLocal: isExample, Recipient: func(string) bool { return true }}
}

// Out of file descriptors, accept4 fails with EMFILE: the server pauses
// and accepts again, on port 25 as for LMTP. (It used to return from
// Serve, leaving the port dead while the process lived on.)
func TestServeSurvivesEMFILE(t *testing.T) {
	for _, mode := range []Mode{MX, Submission, LMTP} {
		t.Run(mode.String(), func(t *testing.T) {
			listentest.ServesAfterEMFILE(t, func(ln *listentest.Listener) <-chan error {
				return serveOn(t, listenServer(mode), ln)
			}, "220 ")
		})
	}
}

// One address holding MaxConnectionsPerAddr connections gets 421 for the
// next; another address still gets in, until MaxConnections.
func TestConnectionCaps(t *testing.T) {
	for _, mode := range []Mode{MX, LMTP} {
		t.Run(mode.String(), func(t *testing.T) {
			ln := listentest.New()
			s := listenServer(mode)
			s.MaxConnections, s.MaxConnectionsPerAddr = 4, 3
			listentest.ConnectionCaps(t, ln, serveOn(t, s, ln), 3, "220 ",
				"421 4.7.0 mx.example.net Too many connections from your address, try again later",
				"421 4.7.0 mx.example.net Too many connections, try again later")
		})
	}
}

// On port 465 the 421 comes inside TLS, where the client reads it.
func TestConnectionCapImplicitTLS(t *testing.T) {
	srvTLS, cliTLS := transcripttest.TLS(t, "mx.example.net")
	ln := listentest.New()
	s := listenServer(Submission)
	s.TLSConfig, s.ImplicitTLS, s.MaxConnectionsPerAddr = srvTLS, true, 1
	served := serveOn(t, s, ln)
	client := func(c net.Conn) net.Conn { return tls.Client(c, cliTLS) }
	if _, _, g := listentest.Greet(t, ln, served, "192.0.2.1", client); !strings.HasPrefix(g, "220 ") {
		t.Fatalf("greeting: %q", g)
	}
	if _, _, g := listentest.Greet(t, ln, served, "192.0.2.1", client); g != "421 4.7.0 mx.example.net Too many connections from your address, try again later" {
		t.Fatalf("over the cap: %q", g)
	}
}
