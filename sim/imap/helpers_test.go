package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhop/mailhop/sim/internal/transcripttest"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

var start = transcripttest.Start

const bob = transcripttest.Bob

// world is the shared test world (sim/internal/transcripttest) with the
// IMAP server of store.example.net on port 143.
type world struct {
	*transcripttest.World
	srv    *Server
	served chan error // what Serve returned
	tr     transport  // how raw connections reach the server
}

// transport is how a client reaches the server: in cleartext, with
// STARTTLS, or with TLS from the first byte.
type transport int

const (
	cleartext transport = iota
	startTLS
	implicitTLS
)

func (tr transport) String() string {
	return [...]string{"cleartext", "STARTTLS", "implicit TLS"}[tr]
}

// overTransports runs a test over each transport. The world of the TLS
// ones accepts passwords only over TLS (InsecureAuth off).
func overTransports(t *testing.T, test func(t *testing.T, tr transport)) {
	for _, tr := range []transport{cleartext, startTLS, implicitTLS} {
		t.Run(tr.String(), func(t *testing.T) { test(t, tr) })
	}
}

// over makes a world's server and raw connections use a transport.
// Implicit TLS is served on a listener of tls.NewListener, as
// sim/mailhost serves port 993 (TestImplicitTLSField covers
// Server.ImplicitTLS).
func over(tr transport) option {
	return func(w *world) {
		w.tr = tr
		switch tr {
		case startTLS:
			w.srv.TLSConfig, w.srv.InsecureAuth = w.ServerTLS, false
		case implicitTLS:
			w.srv.InsecureAuth = false
		}
	}
}

// tlsListening serves a Server on TLS listeners.
type tlsListening struct {
	*Server
	config *tls.Config
}

func (s tlsListening) Serve(l net.Listener) error {
	return s.Server.Serve(tls.NewListener(l, s.config))
}

// option changes a world before its server starts.
type option func(*world)

// with changes the server's fields before it starts.
func with(f func(*Server)) option { return func(w *world) { f(w.srv) } }

// withTLS gives the server the world's certificate.
func withTLS() option { return func(w *world) { w.srv.TLSConfig = w.ServerTLS } }

// noTrace runs the network without a trace (benchmarks).
func noTrace() option { return func(w *world) { w.Trace = nil } }

// newWorld starts a server for the world's users (bob, password "bob",
// alice, carol; dave has no mailbox yet); the network is cleartext and
// InsecureAuth is on, failed logins are not delayed. opts change that.
func newWorld(t testing.TB, opts ...option) *world {
	t.Helper()
	w := &world{World: transcripttest.NewWorld(t)}
	w.srv = &Server{
		Hostname:       "store.example.net",
		Store:          w.Store,
		Users:          w.Users,
		InsecureAuth:   true,
		Clock:          w.Clock,
		LoginFailDelay: -1,
		ErrorLog:       testLogger{t},
	}
	for _, o := range opts {
		o(w)
	}
	w.srv.Trace = w.Trace
	var srv transcripttest.Server = w.srv
	if w.tr == implicitTLS {
		srv = tlsListening{w.srv, w.ServerTLS}
	}
	w.served = w.Start(143, srv, ErrServerClosed)
	return w
}

type testLogger struct{ t testing.TB }

func (l testLogger) Printf(format string, v ...any) { l.t.Logf("server: "+format, v...) }

// msg is a test message with a Message-ID.
func msg(n int) []byte {
	return fmt.Appendf(nil, "From: Alice <alice@example.org>\r\n"+
		"To: Bob <bob@example.net>\r\n"+
		"Subject: message %d\r\n"+
		"Date: Thu, 01 Jan 2026 09:00:00 +0000\r\n"+
		"Message-ID: <m%d@example.org>\r\n"+
		"\r\n"+
		"Hello Bob, this is message %d.\r\n", n, n, n)
}

// updates collects a client's unsolicited responses.
type updates struct {
	mu      sync.Mutex
	exists  []uint32
	expunge []uint32
	flags   []string // "seq:flag,flag"
	changed chan struct{}
}

func newUpdates() *updates { return &updates{changed: make(chan struct{}, 1000)} }

func (u *updates) handler() *imapclient.UnilateralDataHandler {
	return &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) {
			u.mu.Lock()
			u.expunge = append(u.expunge, seq)
			u.mu.Unlock()
			u.changed <- struct{}{}
		},
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				u.mu.Lock()
				u.exists = append(u.exists, *d.NumMessages)
				u.mu.Unlock()
				u.changed <- struct{}{}
			}
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			buf, err := m.Collect()
			if err != nil {
				return
			}
			var fl []string
			for _, f := range buf.Flags {
				fl = append(fl, string(f))
			}
			u.mu.Lock()
			u.flags = append(u.flags, fmt.Sprintf("%d:%s", buf.SeqNum, strings.Join(fl, ",")))
			u.mu.Unlock()
			u.changed <- struct{}{}
		},
	}
}

// wait waits until cond holds (checked under the lock after each update).
func (u *updates) wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(transcripttest.WallLimit())
	for {
		u.mu.Lock()
		ok := cond()
		u.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-u.changed:
		case <-deadline:
			u.mu.Lock()
			defer u.mu.Unlock()
			t.Fatalf("timed out waiting for %s; exists %v expunge %v flags %v", what, u.exists, u.expunge, u.flags)
		}
	}
}

// client connects an imapclient to the server; u (may be nil) receives its
// unsolicited responses.
func (w *world) connect(t testing.TB, u *updates) *imapclient.Client {
	t.Helper()
	opts := &imapclient.Options{}
	if u != nil {
		opts.UnilateralDataHandler = u.handler()
	}
	c := imapclient.New(w.NetConn(t), opts)
	t.Cleanup(func() { c.Close() })
	if err := c.WaitGreeting(); err != nil {
		t.Fatal(err)
	}
	return c
}

// login connects and logs bob in.
func (w *world) login(t testing.TB, u *updates) *imapclient.Client {
	t.Helper()
	c := w.connect(t, u)
	if err := c.Login(bob, "bob").Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

// selectInbox logs in and selects INBOX.
func (w *world) selectInbox(t testing.TB, u *updates) (*imapclient.Client, *goimap.SelectData) {
	t.Helper()
	c := w.login(t, u)
	data, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	return c, data
}

// responseCode returns the response code of an IMAP error.
func responseCode(err error) goimap.ResponseCode {
	var ie *goimap.Error
	if errors.As(err, &ie) {
		return ie.Code
	}
	return ""
}

// raw is a hand-driven connection: lines in, lines out, and transcripts.
type raw struct{ *transcripttest.Conn }

// raw connects bob's machine and reads the greeting; over STARTTLS it
// starts TLS too.
func (w *world) raw(t testing.TB) raw { return w.rawFrom(t, w.Client) }

// rawFrom is raw from another host of the network.
func (w *world) rawFrom(t testing.TB, h *netsim.Host) raw {
	t.Helper()
	nc, err := h.DialContext(context.Background(), "tcp", w.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if w.tr == implicitTLS {
		nc = tls.Client(nc, w.ClientTLS)
	}
	r := raw{transcripttest.NewConn(t, nc)}
	r.Clock, r.TLS = w.Clock, w.ClientTLS
	r.Run("S: * OK *")
	if w.tr == startTLS {
		r.Run(`
			C: tls0 STARTTLS
			S: tls0 OK Begin TLS negotiation now
			T:`)
	}
	return r
}

// cmd sends a tagged command and returns the untagged lines and the tagged
// answer.
func (r raw) cmd(tag, command string) (untagged []string, tagged string) {
	r.T().Helper()
	r.Send(tag + " " + command)
	return r.until(tag)
}

// until reads up to the tagged answer of tag.
func (r raw) until(tag string) (untagged []string, tagged string) {
	r.T().Helper()
	for {
		l := r.Line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, l
		}
		untagged = append(untagged, l)
	}
}

// expect sends a command and checks the start of its tagged answer.
func (r raw) expect(tag, command, want string) []string {
	r.T().Helper()
	u, got := r.cmd(tag, command)
	if !strings.HasPrefix(got, tag+" "+want) {
		r.T().Fatalf("%s: got %q (untagged %q), want %q", command, got, u, tag+" "+want)
	}
	return u
}

// fetchEvents returns the fetch events of the trace.
func (w *world) fetchEvents() []trace.Event {
	var out []trace.Event
	for _, e := range w.Trace.Events() {
		if e.Kind == trace.KindFetch {
			out = append(out, e)
		}
	}
	return out
}

// overStores runs a test on the memory store and on the Maildir one (the
// one `mailhop serve` uses): onStore puts the world on it.
func overStores(t *testing.T, test func(t *testing.T, onStore option)) {
	for _, onDisk := range []bool{false, true} {
		t.Run(fmt.Sprint("maildir=", onDisk), func(t *testing.T) {
			onStore := func(*world) {}
			if onDisk {
				onStore = onMaildir
			}
			test(t, onStore)
		})
	}
}

// withoutSpecialUse deletes the special-use mailboxes the store made for
// bob, for tests about other mailboxes.
func (w *world) withoutSpecialUse(t testing.TB) {
	t.Helper()
	for _, name := range store.DefaultMailboxes {
		if err := w.Store.DeleteMailbox(bob, name); err != nil {
			t.Fatal(err)
		}
	}
}
