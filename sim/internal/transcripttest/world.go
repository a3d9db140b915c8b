package transcripttest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/pki"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// Start is when the world's virtual clock starts.
var Start = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// The world's mail server and the address whose mail the tests read.
const (
	ServerName = "store.example.net"
	Bob        = "bob@example.net"

	serverIP = "198.51.100.30"
	clientIP = "198.51.100.10"
)

// accounts of the world's directory: the password is the user's name,
// but for carol's, which has a space.
var accounts = []struct {
	addr, pass string
	maildrop   bool
}{
	{Bob, "bob", true},
	{"alice@example.net", "alice", true},
	{"carol@example.net", "two words", true},
	// dave can log in but has no mailbox in the store.
	{"dave@example.net", "dave", false},
}

// Server is what a World serves: the POP3 or the IMAP server.
type Server interface {
	Serve(net.Listener) error
	Close() error
}

// World is a simulated network on a virtual clock where store.example.net
// serves bob, alice, carol and dave, and bob's machine (bob-pc) is the
// client. Its store is a memory one, with empty mailboxes.
//
// The network is built when the first server starts, with the Trace the
// world has then: until Start a test may set Trace (nil: untraced), Store
// and Loopback.
type World struct {
	T     testing.TB
	Clock *clock.Virtual
	Trace *trace.Recorder
	Store store.Store
	Users *auth.Directory
	// ServerTLS is a TLS configuration for store.example.net, with a
	// certificate of a sim/pki CA; ClientTLS trusts that CA.
	ServerTLS, ClientTLS *tls.Config
	// Loopback makes the server believe its clients come from
	// 127.0.0.1, which netsim never does.
	Loopback bool

	// Set by Start.
	Net    *netsim.Network
	Host   *netsim.Host // store.example.net
	Client *netsim.Host // bob-pc
	Addr   string       // where the server listens, host:port
}

// NewWorld builds a world; its server is not started.
func NewWorld(t testing.TB) *World {
	t.Helper()
	clk := clock.NewVirtual(Start)
	st := store.NewMemory(clk.Now)
	w := &World{T: t, Clock: clk, Trace: trace.NewRecorder(clk.Now, 0), Store: st, Users: auth.NewDirectory("example.net")}
	for _, a := range accounts {
		if err := w.Users.Add(a.addr, a.pass); err != nil {
			t.Fatal(err)
		}
		if a.maildrop {
			if err := st.AddUser(a.addr); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.ServerTLS, w.ClientTLS = TLS(t, ServerName)
	return w
}

// TLS returns a TLS configuration for a server named host, with a
// certificate of a new sim/pki CA, and a client configuration that trusts
// that CA and expects host.
func TLS(t testing.TB, host string) (server, client *tls.Config) {
	t.Helper()
	ca, err := pki.NewCA("mailhop test CA", 1)
	if err != nil {
		t.Fatal(err)
	}
	server, err = ca.ServerConfig(host)
	if err != nil {
		t.Fatal(err)
	}
	return server, ca.ClientConfig(host)
}

// Start serves srv on port of store.example.net until the test ends,
// building the network first if need be, and makes Addr that address.
// When the test ends it closes srv and checks that Serve returned closed;
// the channel gets what Serve returned (a test that takes it puts it
// back).
func (w *World) Start(port int, srv Server, closed error) chan error {
	w.T.Helper()
	if w.Net == nil {
		w.Net = netsim.New(w.Clock, w.Trace)
		var err error
		if w.Host, err = w.Net.AddHost(ServerName, serverIP); err != nil {
			w.T.Fatal(err)
		}
		if w.Client, err = w.Net.AddHost("bob-pc", clientIP); err != nil {
			w.T.Fatal(err)
		}
	}
	l, err := w.Host.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		w.T.Fatal(err)
	}
	if w.Loopback {
		l = loopbackListener{l}
	}
	w.Addr = fmt.Sprintf("%s:%d", serverIP, port)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	w.T.Cleanup(func() {
		srv.Close()
		select {
		case err := <-served:
			if !errors.Is(err, closed) {
				w.T.Errorf("Serve returned %v, want %v", err, closed)
			}
		case <-time.After(WallLimit()):
			w.T.Errorf("Serve did not return after Close")
		}
	})
	return served
}

// NetConn connects bob's machine to the server; the connection is closed
// when the test ends.
func (w *World) NetConn(t testing.TB) net.Conn {
	t.Helper()
	return w.netConn(t, w.Client)
}

func (w *World) netConn(t testing.TB, from *netsim.Host) net.Conn {
	t.Helper()
	c, err := from.DialContext(context.Background(), "tcp", w.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Dial connects bob's machine to the server and reads nothing. The Conn
// moves the world's clock and trusts its CA.
func (w *World) Dial(t testing.TB) *Conn {
	t.Helper()
	return w.DialFrom(t, w.Client)
}

// DialFrom is Dial from another host of the network.
func (w *World) DialFrom(t testing.TB, from *netsim.Host) *Conn {
	t.Helper()
	c := NewConn(t, w.netConn(t, from))
	c.Clock, c.TLS = w.Clock, w.ClientTLS
	return c
}

// Deliver appends messages to a mailbox of bob's, as the MDA does.
func (w *World) Deliver(t testing.TB, mailbox string, msgs ...[]byte) []store.UID {
	t.Helper()
	var uids []store.UID
	for _, m := range msgs {
		uid, err := w.Store.Append(Bob, mailbox, m, nil, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, uid)
	}
	return uids
}

// Flags lists a mailbox of bob's as "uid:flags" strings.
func (w *World) Flags(t testing.TB, mailbox string) []string {
	t.Helper()
	return Flags(t, w.Store, mailbox)
}

// Flags lists a mailbox of bob's in st as "uid:flags" strings.
func Flags(t testing.TB, st store.Store, mailbox string) []string {
	t.Helper()
	list, err := st.List(Bob, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range list {
		out = append(out, fmt.Sprintf("%d:%s", m.UID, strings.Join(m.Flags, ",")))
	}
	return out
}

// Status returns the status of a mailbox of bob's.
func (w *World) Status(t testing.TB, mailbox string) store.Status {
	t.Helper()
	st, err := w.Store.Status(Bob, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// loopbackListener makes the server believe its clients come from
// 127.0.0.1.
type loopbackListener struct{ net.Listener }

func (l loopbackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return loopbackConn{c}, nil
}

type loopbackConn struct{ net.Conn }

func (loopbackConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
