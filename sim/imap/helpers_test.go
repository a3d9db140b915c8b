package imap

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

var start = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

const bob = "bob@example.net"

// wallLimit bounds how long (wall time) a test waits for something that
// should happen at once; slow builds (race, wasm) get more.
func wallLimit() time.Duration {
	if runtime.GOOS == "js" {
		return 30 * time.Second
	}
	return 10 * time.Second
}

// world is a simulated network with the IMAP server of store.example.net
// and bob's machine as the client.
type world struct {
	t      testing.TB
	clk    *clock.Virtual
	net    *netsim.Network
	host   *netsim.Host
	client *netsim.Host
	store  store.Store
	users  *auth.Directory
	rec    *trace.Recorder
	srv    *Server
	addr   string
	served chan error
}

type option func(*world)

// with changes the server's fields before it starts.
func with(f func(*Server)) option { return func(w *world) { f(w.srv) } }

// noTrace runs the network without a trace (benchmarks).
func noTrace() option { return func(w *world) { w.rec = nil } }

// newWorld starts a server; bob (password "bob") and alice exist, the
// network is cleartext and InsecureAuth is on, failed logins are not
// delayed. opts change that.
func newWorld(t testing.TB, opts ...option) *world {
	t.Helper()
	clk := clock.NewVirtual(start)
	w := &world{t: t, clk: clk, rec: trace.NewRecorder(clk.Now, 0)}
	w.store = store.NewMemory(clk.Now)
	w.users = auth.NewDirectory("example.net")
	for _, u := range []struct{ addr, pass string }{{bob, "bob"}, {"alice@example.net", "alice"}} {
		if err := w.users.Add(u.addr, u.pass); err != nil {
			t.Fatal(err)
		}
		if err := w.store.AddUser(u.addr); err != nil {
			t.Fatal(err)
		}
	}
	w.srv = &Server{
		Hostname:       "store.example.net",
		Store:          w.store,
		Users:          w.users,
		InsecureAuth:   true,
		Clock:          clk,
		LoginFailDelay: -1,
		ErrorLog:       testLogger{t},
	}
	for _, o := range opts {
		o(w)
	}
	w.srv.Trace = w.rec
	w.net = netsim.New(clk, w.rec)
	var err error
	if w.host, err = w.net.AddHost("store.example.net", "198.51.100.30"); err != nil {
		t.Fatal(err)
	}
	if w.client, err = w.net.AddHost("bob-pc", "198.51.100.10"); err != nil {
		t.Fatal(err)
	}
	l, err := w.host.Listen("tcp", ":143")
	if err != nil {
		t.Fatal(err)
	}
	w.addr = "198.51.100.30:143"
	w.served = make(chan error, 1)
	go func() { w.served <- w.srv.Serve(l) }()
	t.Cleanup(func() {
		w.srv.Close()
		select {
		case err := <-w.served:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(wallLimit()):
			t.Errorf("Serve did not return after Close")
		}
	})
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

// deliver appends messages to a mailbox of bob's as the MDA does.
func (w *world) deliver(t testing.TB, mailbox string, msgs ...[]byte) []store.UID {
	t.Helper()
	var uids []store.UID
	for _, m := range msgs {
		uid, err := w.store.Append(bob, mailbox, m, nil, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, uid)
	}
	return uids
}

// flags lists a mailbox of bob's as "uid:flags" strings.
func (w *world) flags(t testing.TB, mailbox string) []string {
	t.Helper()
	list, err := w.store.List(bob, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range list {
		out = append(out, fmt.Sprintf("%d:%s", m.UID, strings.Join(m.Flags, ",")))
	}
	return out
}

// dialConn connects bob's machine to the server.
func (w *world) dialConn(t testing.TB) net.Conn {
	t.Helper()
	c, err := w.client.DialContext(context.Background(), "tcp", w.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
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
	deadline := time.After(wallLimit())
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
	c := imapclient.New(w.dialConn(t), opts)
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

// raw is a hand-driven connection: lines in, lines out.
type raw struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func (w *world) raw(t testing.TB) *raw {
	t.Helper()
	c := w.dialConn(t)
	r := &raw{t: t, c: c, r: bufio.NewReader(c)}
	if g := r.line(); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting %q", g)
	}
	return r
}

func (r *raw) write(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// line reads one line (without CRLF), failing the test after wallLimit.
func (r *raw) line() string {
	r.t.Helper()
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := r.r.ReadString('\n')
		ch <- res{s, err}
	}()
	select {
	case x := <-ch:
		if x.err != nil {
			r.t.Fatalf("read: %v (got %q)", x.err, x.s)
		}
		return strings.TrimRight(x.s, "\r\n")
	case <-time.After(wallLimit()):
		r.t.Fatalf("no answer within %v", wallLimit())
	}
	return ""
}

// cmd sends a tagged command and returns the untagged lines and the tagged
// answer.
func (r *raw) cmd(tag, command string) (untagged []string, tagged string) {
	r.t.Helper()
	r.write(tag + " " + command + "\r\n")
	return r.until(tag)
}

// until reads up to the tagged answer of tag.
func (r *raw) until(tag string) (untagged []string, tagged string) {
	r.t.Helper()
	for {
		l := r.line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, l
		}
		untagged = append(untagged, l)
	}
}

// expect sends a command and checks the start of its tagged answer.
func (r *raw) expect(tag, command, want string) []string {
	r.t.Helper()
	u, got := r.cmd(tag, command)
	if !strings.HasPrefix(got, tag+" "+want) {
		r.t.Fatalf("%s: got %q (untagged %q), want %q", command, got, u, tag+" "+want)
	}
	return u
}

// closed reports whether the server closed the connection (EOF) within
// wallLimit, after reading any lines still buffered.
func (r *raw) closed() (bool, []string) {
	var lines []string
	done := make(chan error, 1)
	go func() {
		for {
			s, err := r.r.ReadString('\n')
			if s != "" {
				lines = append(lines, strings.TrimRight(s, "\r\n"))
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case <-done:
		return true, lines
	case <-time.After(wallLimit()):
		return false, nil
	}
}

// selfSigned returns a TLS server configuration with a fresh certificate
// for the names given, and a client configuration that trusts it.
func selfSigned(t testing.TB, names ...string) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("198.51.100.30")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	client = &tls.Config{RootCAs: pool, ServerName: names[0]}
	return server, client
}

// fetchEvents returns the fetch events of the trace.
func (w *world) fetchEvents() []trace.Event {
	var out []trace.Event
	for _, e := range w.rec.Events() {
		if e.Kind == trace.KindFetch {
			out = append(out, e)
		}
	}
	return out
}
