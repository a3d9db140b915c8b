package pop3

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

var start = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

const bob = "bob@example.net"

// wallLimit bounds how long (wall time) a test waits for an answer that
// should come at once; slow builders (race, wasm) get more.
func wallLimit() time.Duration {
	if runtime.GOOS == "js" {
		return 30 * time.Second
	}
	return 10 * time.Second
}

// world is a simulated network with a POP3 server on store.example.net and
// bob's machine as the client.
type world struct {
	t      testing.TB
	clk    *clock.Virtual
	net    *netsim.Network
	client *netsim.Host
	store  store.Store
	users  *auth.Directory
	rec    *trace.Recorder
	srv    *Server
	addr   string
}

// option changes the server of a world before it starts.
type option func(*worldConfig)

type worldConfig struct {
	t        testing.TB
	srv      *Server
	loopback bool // clients seem to come from 127.0.0.1
	untraced bool // no recorder: the network and the server trace nothing
}

// with changes the server's fields.
func with(f func(*Server)) option { return func(c *worldConfig) { f(c.srv) } }

// cleartextRefused is the production policy: no InsecureAuth.
func cleartextRefused() option { return with(func(s *Server) { s.InsecureAuth = false }) }

// withTLS offers STLS with a fresh self-signed certificate.
func withTLS() option {
	return func(c *worldConfig) { c.srv.TLSConfig = selfSigned(c.t) }
}

// fromLoopback makes the server believe its clients come from 127.0.0.1,
// which netsim never does.
func fromLoopback() option { return func(c *worldConfig) { c.loopback = true } }

// untraced runs the world without a trace.
func untraced() option { return func(c *worldConfig) { c.untraced = true } }

// newWorld starts a server whose store holds msgs in bob's INBOX. By
// default cleartext logins are allowed (the simulated network) and failed
// logins are not delayed; opts change that.
func newWorld(t testing.TB, msgs []string, opts ...option) *world {
	t.Helper()
	clk := clock.NewVirtual(start)
	rec := trace.NewRecorder(clk.Now, 0)
	st := store.NewMemory(clk.Now)
	users := auth.NewDirectory("example.net")
	for _, u := range []struct{ addr, pass string }{
		{bob, "bob"}, {"alice@example.net", "alice"}, {"carol@example.net", "two words"},
	} {
		if err := users.Add(u.addr, u.pass); err != nil {
			t.Fatal(err)
		}
		if err := st.AddUser(u.addr); err != nil {
			t.Fatal(err)
		}
	}
	// dave can log in but has no maildrop in the store.
	users.Add("dave@example.net", "dave")
	for _, m := range msgs {
		if _, err := st.Append(bob, store.Inbox, []byte(m), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	srv := &Server{
		Hostname:     "store.example.net",
		Store:        st,
		Users:        users,
		InsecureAuth: true,
		Clock:        clk,
		Trace:        rec,
		FailDelay:    -1,
	}
	cfg := &worldConfig{t: t, srv: srv}
	for _, o := range opts {
		o(cfg)
	}
	if cfg.untraced {
		rec, srv.Trace = nil, nil
	}
	n := netsim.New(clk, rec)
	srvHost, err := n.AddHost("store.example.net", "198.51.100.30")
	if err != nil {
		t.Fatal(err)
	}
	client, err := n.AddHost("bob-pc", "198.51.100.10")
	if err != nil {
		t.Fatal(err)
	}
	l, err := srvHost.Listen("tcp", ":110")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.loopback {
		l = loopbackListener{l}
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return &world{t: t, clk: clk, net: n, client: client, store: st, users: users, rec: rec, srv: srv, addr: "198.51.100.30:110"}
}

// dial connects bob's machine to the server and reads nothing.
func (w *world) dial(t testing.TB) *client {
	t.Helper()
	c, err := w.client.DialContext(context.Background(), "tcp", w.addr)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	return cl
}

// connect dials and reads the greeting.
func (w *world) connect(t testing.TB) *client {
	t.Helper()
	c := w.dial(t)
	g := c.line()
	if !strings.HasPrefix(g, "+OK ") {
		t.Fatalf("greeting %q", g)
	}
	c.greeting = g
	return c
}

// login connects and logs bob in with USER and PASS.
func (w *world) login(t testing.TB) *client {
	t.Helper()
	c := w.connect(t)
	c.expectPrefix("USER bob", "+OK")
	c.expectPrefix("PASS bob", "+OK")
	return c
}

// validity is the UIDVALIDITY of bob's INBOX.
func (w *world) validity() uint32 {
	st, err := w.store.Status(bob, store.Inbox)
	if err != nil {
		w.t.Fatal(err)
	}
	return st.UIDValidity
}

// inbox lists bob's INBOX as "uid:flags" strings.
func (w *world) inbox(t testing.TB) []string {
	t.Helper()
	list, err := w.store.List(bob, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range list {
		out = append(out, fmt.Sprintf("%d:%s", m.UID, strings.Join(m.Flags, ",")))
	}
	return out
}

// waitUnlocked waits until no session holds bob's maildrop: the session
// before has ended.
func (w *world) waitUnlocked(t testing.TB, user string) {
	t.Helper()
	deadline := time.Now().Add(wallLimit())
	for {
		unlock, err := w.store.Lock(user)
		if err == nil {
			unlock()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the maildrop of %s stays locked: %v", user, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// client is a line-oriented POP3 client for tests.
type client struct {
	t        testing.TB
	c        net.Conn
	r        *bufio.Reader
	greeting string
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, line+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

// readLine reads one line (without CRLF), failing the test if none comes
// within wallLimit. eof reports a closed connection.
func (c *client) readLine() (line string, eof bool) {
	c.t.Helper()
	watchdog := time.AfterFunc(wallLimit(), func() { c.c.Close() })
	s, err := c.r.ReadString('\n')
	if !watchdog.Stop() {
		c.t.Fatalf("no answer within %v (have %q)", wallLimit(), s)
	}
	if err != nil {
		if s == "" && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
			return "", true
		}
		c.t.Fatalf("read: %q, %v", s, err)
	}
	if !strings.HasSuffix(s, "\r\n") {
		c.t.Fatalf("line %q does not end in CRLF", s)
	}
	return strings.TrimSuffix(s, "\r\n"), false
}

func (c *client) line() string {
	c.t.Helper()
	s, eof := c.readLine()
	if eof {
		c.t.Fatal("connection closed, want a line")
	}
	return s
}

// cmd sends a command and returns the status line.
func (c *client) cmd(line string) string {
	c.t.Helper()
	c.send(line)
	return c.line()
}

func (c *client) expectPrefix(line, prefix string) string {
	c.t.Helper()
	got := c.cmd(line)
	if !strings.HasPrefix(got, prefix) {
		c.t.Fatalf("%s: got %q, want %s…", line, got, prefix)
	}
	return got
}

// multi reads the lines of a multi-line answer up to the ".", undoing the
// dot-stuffing.
func (c *client) multi() []string {
	c.t.Helper()
	var out []string
	for {
		s := c.line()
		if s == "." {
			return out
		}
		out = append(out, strings.TrimPrefix(s, "."))
	}
}

// expectEOF checks that the server closed the connection.
func (c *client) expectEOF() {
	c.t.Helper()
	if s, eof := c.readLine(); !eof {
		c.t.Fatalf("got %q, want the connection closed", s)
	}
}

// run plays a transcript in the style of the RFCs:
//
//	C: USER bob          sent (Go escapes such as \x00 allowed)
//	S: +OK send PASS     the next line must be exactly this
//	S: +OK *             ... or start with what comes before the " *" or "*"
//	S: <closed>          the server must have closed the connection
//
// {SP} stands for a space (a line may end in one), {V} for the INBOX's UIDVALIDITY, {APOP user secret} for the APOP
// command answering this session's greeting, {PLAIN user pass} for a
// base64 PLAIN response and {LONG n} for n octets of "x".
func (c *client) run(w *world, script string) {
	c.t.Helper()
	for _, raw := range strings.Split(script, "\n") {
		l := strings.TrimSpace(raw)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		kind, text, ok := strings.Cut(l, ": ")
		if !ok {
			kind, text = strings.TrimSuffix(l, ":"), ""
		}
		text = c.expand(w, text)
		switch kind {
		case "C":
			u, err := strconv.Unquote(`"` + strings.ReplaceAll(text, `"`, `\"`) + `"`)
			if err != nil {
				c.t.Fatalf("bad script line %q: %v", l, err)
			}
			c.send(u)
		case "S":
			if text == "<closed>" {
				c.expectEOF()
				continue
			}
			got, eof := c.readLine()
			if eof {
				c.t.Fatalf("connection closed; want %q", text)
			}
			if p, ok := strings.CutSuffix(text, "*"); ok {
				p = strings.TrimSuffix(p, " ")
				if !strings.HasPrefix(got, p) {
					c.t.Fatalf("got  %q\nwant %q…", got, p)
				}
			} else if got != text {
				c.t.Fatalf("got  %q\nwant %q", got, text)
			}
			if strings.HasPrefix(got, "+OK") && strings.Contains(got, "POP3 server ready") {
				c.greeting = got
			}
		default:
			c.t.Fatalf("bad script line %q", l)
		}
	}
}

func (c *client) expand(w *world, s string) string {
	for {
		i := strings.Index(s, "{")
		if i < 0 {
			return s
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return s
		}
		f := strings.Fields(s[i+1 : i+j])
		var v string
		switch {
		case len(f) == 1 && f[0] == "SP":
			v = " "
		case len(f) == 1 && f[0] == "V":
			v = strconv.FormatUint(uint64(w.validity()), 10)
		case len(f) == 3 && f[0] == "APOP":
			v = "APOP " + f[1] + " " + APOPDigest(timestampOf(c.greeting), f[2])
		case len(f) == 3 && f[0] == "PLAIN":
			v = base64.StdEncoding.EncodeToString([]byte("\x00" + f[1] + "\x00" + f[2]))
		case len(f) == 2 && f[0] == "LONG":
			n, _ := strconv.Atoi(f[1])
			v = strings.Repeat("x", n)
		default:
			c.t.Fatalf("unknown placeholder %q", s[i:i+j+1])
		}
		s = s[:i] + v + s[i+j+1:]
	}
}

// timestampOf finds the APOP timestamp in a greeting.
func timestampOf(greeting string) string {
	i := strings.LastIndex(greeting, "<")
	if i < 0 {
		return ""
	}
	return greeting[i:]
}

// mkMessage builds a CRLF message of exactly size octets (when size is large
// enough for its header), with a Message-ID.
func mkMessage(id, subject string, size int) string {
	head := fmt.Sprintf("From: alice@example.org\r\nTo: bob@example.net\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\n", subject, id)
	body := "Hello Bob.\r\n"
	if pad := size - len(head) - len(body) - 2; pad > 0 {
		body += strings.Repeat("z", pad) + "\r\n"
	}
	return head + body
}

// twoMessages are the maildrop of RFC 1939 §10: 120 and 200 octets.
var twoMessages = []string{
	mkMessage("1@example.org", "first", 120),
	mkMessage("2@example.org", "second", 200),
}

// selfSigned makes a certificate for store.example.net and 127.0.0.1.
func selfSigned(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "store.example.net"},
		DNSNames:     []string{"store.example.net", "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// loopbackListener makes the server believe its clients come from
// 127.0.0.1, which netsim never does.
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
