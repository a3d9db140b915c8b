package smtp

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"github.com/mailhop/mailhop/sim/listen"
	"github.com/mailhop/mailhop/sim/listen/listentest"
	"github.com/mailhop/mailhop/sim/pki"
)

// serveOn runs s on a scripted listener until the test ends, and checks
// that Serve then returns the one closed error (listen's).
func serveOn(t *testing.T, s *Server, ln *listentest.Listener) <-chan error {
	t.Helper()
	return listentest.Serve(t, ln, s.Serve, func() { s.Close() }, listen.ErrServerClosed, ErrServerClosed)
}

// greeting connects from ip and returns the server's first line.
func greeting(t *testing.T, ln *listentest.Listener, served <-chan error, ip string, wrap func(net.Conn) net.Conn) (net.Conn, string) {
	t.Helper()
	c, _, line := listentest.Greet(t, ln, served, ip, wrap)
	return c, line
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
			ln := listentest.New(listentest.EMFILE(), listentest.EMFILE(), listentest.EMFILE(), listentest.EMFILE())
			s := listenServer(mode)
			served := serveOn(t, s, ln)
			if _, g := greeting(t, ln, served, "192.0.2.1", nil); !strings.HasPrefix(g, "220 ") {
				t.Fatalf("greeting after EMFILE: %q", g)
			}
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
			served := serveOn(t, s, ln)
			for range 3 {
				if _, g := greeting(t, ln, served, "192.0.2.1", nil); !strings.HasPrefix(g, "220 ") {
					t.Fatalf("greeting: %q", g)
				}
			}
			if _, g := greeting(t, ln, served, "192.0.2.1", nil); g != "421 4.7.0 mx.example.net Too many connections from your address, try again later" {
				t.Fatalf("over the address's cap: %q", g)
			}
			if _, g := greeting(t, ln, served, "192.0.2.2", nil); !strings.HasPrefix(g, "220 ") {
				t.Fatalf("another address: %q", g)
			}
			if _, g := greeting(t, ln, served, "192.0.2.3", nil); g != "421 4.7.0 mx.example.net Too many connections, try again later" {
				t.Fatalf("over the server's cap: %q", g)
			}
		})
	}
}

// On port 465 the 421 comes inside TLS, where the client reads it.
func TestConnectionCapImplicitTLS(t *testing.T) {
	ca, err := pki.NewCA("Test CA", 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.ServerConfig("mx.example.net")
	if err != nil {
		t.Fatal(err)
	}
	ln := listentest.New()
	s := listenServer(Submission)
	s.TLSConfig, s.ImplicitTLS, s.MaxConnectionsPerAddr = cfg, true, 1
	served := serveOn(t, s, ln)
	client := func(c net.Conn) net.Conn {
		return tls.Client(c, &tls.Config{ServerName: "mx.example.net", RootCAs: ca.Pool()})
	}
	if _, g := greeting(t, ln, served, "192.0.2.1", client); !strings.HasPrefix(g, "220 ") {
		t.Fatalf("greeting: %q", g)
	}
	if _, g := greeting(t, ln, served, "192.0.2.1", client); g != "421 4.7.0 mx.example.net Too many connections from your address, try again later" {
		t.Fatalf("over the cap: %q", g)
	}
}
