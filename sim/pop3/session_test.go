package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
	"golang.org/x/crypto/bcrypt"
)

// RETR and TOP report a fetch event; the server does not trace wire lines
// (the network's tap does).
func TestFetchTrace(t *testing.T) {
	w := newWorld(t, twoMessages)
	c := w.login(t)
	c.expectPrefix("RETR 1", "+OK 120 octets")
	c.multi()
	c.expectPrefix("TOP 2 0", "+OK")
	c.multi()
	c.expectPrefix("QUIT", "+OK")
	c.expectEOF()

	var fetches []trace.Event
	for _, e := range w.rec.Events() {
		if e.Kind == trace.KindFetch {
			fetches = append(fetches, e)
		}
	}
	want := []trace.Event{
		{Kind: trace.KindFetch, Host: "store.example.net", Proto: "pop3", Mailbox: "bob@example.net/INBOX", Msg: "1@example.org", Text: "RETR 1 (120 octets)"},
		{Kind: trace.KindFetch, Host: "store.example.net", Proto: "pop3", Mailbox: "bob@example.net/INBOX", Msg: "2@example.org", Text: "TOP 2 0 (94 octets)"},
	}
	if len(fetches) != len(want) {
		t.Fatalf("fetch events %+v, want %+v", fetches, want)
	}
	for i := range want {
		got := fetches[i]
		got.Seq, got.Time = 0, time.Time{}
		if fmt.Sprint(got) != fmt.Sprint(want[i]) {
			t.Errorf("fetch event %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
	// Each wire line appears once: the server adds none of its own.
	n := 0
	for _, e := range w.rec.Events() {
		if e.Kind == trace.KindWire && e.Text == "RETR 1" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d wire events for RETR 1, want the tap's one", n)
	}
}

// RFC 1939 §8: one session at a time holds a maildrop; the second gets
// [IN-USE] (RFC 2449 §8.1.1) and may try again once it is free.
func TestLockContention(t *testing.T) {
	w := newWorld(t, twoMessages)
	first := w.login(t)
	second := w.connect(t)
	second.run(w, `
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: -ERR [IN-USE] the maildrop of bob@example.net is in use by another POP3 session; try again later
		C: STAT
		S: -ERR STAT is only valid after login *
		C: AUTH PLAIN {PLAIN bob bob}
		S: -ERR [IN-USE] *`)
	first.expectPrefix("DELE 1", "+OK")
	first.expectPrefix("QUIT", "+OK")
	// The lock is released before the answer to QUIT.
	second.run(w, `
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: +OK bob@example.net's maildrop has 1 message (200 octets)`)
	// Another user's maildrop is not affected.
	third := w.connect(t)
	third.expectPrefix("USER alice", "+OK")
	third.expectPrefix("PASS alice", "+OK alice@example.net's maildrop has 0 messages")
}

// RFC 1939 §6: a session that ends without QUIT never enters the UPDATE
// state: nothing is deleted, nothing marked \Seen.
func TestDroppedSessionDeletesNothing(t *testing.T) {
	w := newWorld(t, twoMessages)
	before := w.inbox(t)
	c := w.login(t)
	c.expectPrefix("RETR 1", "+OK")
	c.multi()
	c.expectPrefix("DELE 1", "+OK message 1 deleted")
	c.expectPrefix("DELE 2", "+OK message 2 deleted")
	c.c.Close()
	w.waitUnlocked(t, bob)
	if got := w.inbox(t); !slices.Equal(got, before) {
		t.Fatalf("INBOX %q after a dropped session, want %q", got, before)
	}
}

// The maildrop is numbered at login: a delivery during the session shows
// in the next one; UIDL stays the same across sessions.
func TestMaildropFixedAtLoginAndUIDLStable(t *testing.T) {
	w := newWorld(t, twoMessages)
	c := w.login(t)
	c.send("UIDL")
	if c.line() != "+OK unique-id listing follows" {
		t.Fatal("UIDL")
	}
	first := c.multi()
	if _, err := w.store.Append(bob, store.Inbox, []byte(mkMessage("3@example.org", "third", 300)), nil, start); err != nil {
		t.Fatal(err)
	}
	c.run(w, `
		C: STAT
		S: +OK 2 320
		C: LIST 3
		S: -ERR no such message, only 2 messages in maildrop
		C: DELE 1
		S: +OK message 1 deleted
		C: QUIT
		S: +OK store.example.net POP3 server signing off (1 message left)`)
	c = w.login(t)
	c.run(w, `
		C: STAT
		S: +OK 2 500
		C: UIDL
		S: +OK unique-id listing follows
		S: 1 {V}.2
		S: 2 {V}.3
		S: .`)
	if first[1] != fmt.Sprintf("2 %d.2", w.validity()) {
		t.Fatalf("message 2 had UIDL %q in the first session", first[1])
	}
}

// A message removed by another session (IMAP EXPUNGE) while POP3 holds the
// maildrop gets a clear -ERR; QUIT still removes the rest.
func TestMessageRemovedByAnotherSession(t *testing.T) {
	w := newWorld(t, twoMessages)
	c := w.login(t)
	if _, err := w.store.Expunge(bob, store.Inbox, []store.UID{1}); err != nil {
		t.Fatal(err)
	}
	c.run(w, `
		C: RETR 1
		S: -ERR message 1 no longer exists: another session removed it
		C: TOP 1 0
		S: -ERR message 1 no longer exists *
		C: DELE 1
		S: +OK message 1 deleted
		C: DELE 2
		S: +OK message 2 deleted
		C: QUIT
		S: +OK store.example.net POP3 server signing off (maildrop empty)`)
	if got := w.inbox(t); len(got) != 0 {
		t.Fatalf("INBOX %q, want empty", got)
	}
}

// A user whose password is kept only as a bcrypt hash can not use APOP,
// and the answer does not tell whether the user exists.
func TestAPOPNeedsTheSecret(t *testing.T) {
	w := newWorld(t, nil)
	h, err := bcrypt.GenerateFromPassword([]byte("erin"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	w.users.AddHash("erin@example.net", string(h))
	w.store.AddUser("erin@example.net")
	c := w.connect(t)
	c.run(w, `
		C: {APOP erin erin}
		S: -ERR [AUTH] invalid user name or digest (APOP needs the password kept in clear text on the server)
		C: {APOP nobody x}
		S: -ERR [AUTH] invalid user name or digest (APOP needs the password kept in clear text on the server)
		C: USER erin
		S: +OK send PASS
		C: PASS erin
		S: +OK erin@example.net's maildrop has 0 messages (0 octets)`)
}

// A failed login waits FailDelay on the server's clock: on a virtual
// clock the answer comes when the clock has moved 2 seconds, however long
// that takes in real time, and the test never sleeps for seconds.
func TestFailedLoginDelayOnVirtualClock(t *testing.T) {
	w := newWorld(t, twoMessages, with(func(s *Server) { s.FailDelay = 0 })) // the default: 2s
	c := w.connect(t)
	c.expectPrefix("USER bob", "+OK")
	began := time.Now()
	vbegan := w.clk.Now()
	c.send("PASS wrong")

	// Wait for the server to start its delay: the next timer is 2s ahead.
	waitForTimer(t, w.clk, DefaultFailDelay)
	got := make(chan string, 1)
	go func() {
		s, _ := c.r.ReadString('\n')
		got <- s
	}()
	w.clk.Advance(DefaultFailDelay - time.Millisecond)
	select {
	case s := <-got:
		t.Fatalf("answer %q before the delay had passed", s)
	case <-time.After(20 * time.Millisecond):
	}
	w.clk.Advance(time.Millisecond)
	select {
	case s := <-got:
		if s != "-ERR [AUTH] invalid user name or password\r\n" {
			t.Fatalf("got %q", s)
		}
	case <-time.After(wallLimit()):
		t.Fatal("no answer once the delay had passed")
	}
	if d := w.clk.Now().Sub(vbegan); d != DefaultFailDelay {
		t.Fatalf("virtual time moved %v", d)
	}
	if d := time.Since(began); d > DefaultFailDelay {
		t.Fatalf("the test took %v of real time: the delay was not virtual", d)
	}
	// The session goes on: the right password works at once.
	c.expectPrefix("USER bob", "+OK")
	c.expectPrefix("PASS bob", "+OK bob@example.net's maildrop has 2 messages")
}

// waitForTimer waits until the clock's next timer is d ahead of now.
func waitForTimer(t *testing.T, clk *clock.Virtual, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wallLimit())
	for {
		if next, ok := clk.Next(); ok && next.Sub(clk.Now()) == d {
			return
		}
		if time.Now().After(deadline) {
			next, ok := clk.Next()
			t.Fatalf("no timer %v ahead (next: %v, %v)", d, next, ok)
		}
		time.Sleep(time.Millisecond)
	}
}

// RFC 1939 §3: the autologout timer closes an idle session without
// entering the UPDATE state.
func TestIdleTimeout(t *testing.T) {
	w := newWorld(t, twoMessages)
	c := w.login(t)
	c.expectPrefix("DELE 1", "+OK")
	w.clk.Advance(DefaultIdleTimeout - time.Second)
	c.expectPrefix("NOOP", "+OK") // still there, and the timer starts again
	w.clk.Advance(DefaultIdleTimeout - time.Second)
	c.send("STAT")
	if got := c.line(); got != "+OK 1 200" {
		t.Fatalf("STAT: %q", got)
	}
	w.clk.Advance(DefaultIdleTimeout)
	c.expectEOF() // without a reply: RFC 1939 §3
	w.waitUnlocked(t, bob)
	if got := w.inbox(t); len(got) != 2 {
		t.Fatalf("INBOX %q: the autologout must not delete", got)
	}
}

// An idle timeout also ends an AUTH exchange left waiting.
func TestIdleTimeoutInAuth(t *testing.T) {
	w := newWorld(t, nil, with(func(s *Server) { s.IdleTimeout = time.Minute }))
	c := w.connect(t)
	c.send("AUTH PLAIN")
	if got := c.line(); got != "+ " {
		t.Fatalf("got %q", got)
	}
	w.clk.Advance(time.Minute - time.Second)
	c.send("AGJvYgB3cm9uZw==") // wrong password: the exchange goes on
	if got := c.line(); got != "-ERR [AUTH] invalid user name or password" {
		t.Fatalf("got %q", got)
	}
	c.send("AUTH PLAIN")
	c.line()
	w.clk.Advance(time.Minute)
	c.expectEOF()
}

// A client that sends endless bytes without a line end is answered once
// the line ends, with memory bounded meanwhile; the session goes on.
func TestBadInputKeepsServing(t *testing.T) {
	w := newWorld(t, twoMessages)
	before := w.inbox(t)
	bad := w.connect(t)

	// Meanwhile bob reads his mail in another session.
	var wg sync.WaitGroup
	wg.Add(1)
	errc := make(chan error, 1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			c, err := w.client.DialContext(context.Background(), "tcp", w.addr)
			if err != nil {
				errc <- err
				return
			}
			watchdog := time.AfterFunc(wallLimit(), func() { c.Close() })
			io.WriteString(c, "USER bob\r\nPASS bob\r\nSTAT\r\nTOP 2 1\r\nQUIT\r\n")
			all, err := io.ReadAll(c)
			watchdog.Stop()
			c.Close()
			if err != nil || !strings.Contains(string(all), "+OK 2 320\r\n") || !strings.HasSuffix(string(all), "signing off (2 messages left)\r\n") {
				errc <- fmt.Errorf("good session %d: %q, %v", i, all, err)
				return
			}
		}
	}()

	rng := rand.New(rand.NewPCG(1, 2))
	var lines [][]byte
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.IntN(600))
		for j := range b {
			b[j] = byte(rng.IntN(256))
			if b[j] == '\n' {
				b[j] = 0
			}
		}
		lines = append(lines, b)
	}
	lines = append(lines, make([]byte, 100<<10), []byte("NOOP"), []byte("DELE 1"), []byte("QUIT\x00"))
	for _, l := range lines {
		if _, err := bad.c.Write(append(l, '\r', '\n')); err != nil {
			t.Fatal(err)
		}
		got := bad.line()
		if !strings.HasPrefix(got, "-ERR ") {
			t.Fatalf("line %.40q: got %q, want -ERR", l, got)
		}
	}
	bad.run(w, `
		C: CAPA
		S: +OK Capability list follows
		S: TOP *
		S: UIDL
		S: USER
		S: SASL PLAIN
		S: RESP-CODES
		S: PIPELINING
		S: AUTH-RESP-CODE
		S: IMPLEMENTATION mailhop
		S: .`)
	wg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	if got := w.inbox(t); !slices.Equal(got, before) {
		t.Fatalf("INBOX changed by bad input: %q, want %q", got, before)
	}
}

// STLS (RFC 2595 §4) over the simulated network: after the handshake the
// capabilities change and a cleartext-refusing server accepts the login.
func TestSTLS(t *testing.T) {
	w := newWorld(t, twoMessages, withTLS(), cleartextRefused())
	c := w.connect(t)
	c.run(w, `
		C: STLS x
		S: -ERR STLS takes no arguments
		C: STLS
		S: +OK Begin TLS negotiation`)
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true, ServerName: "store.example.net"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.c, c.r = tc, bufio.NewReader(tc)
	c.run(w, `
		C: CAPA
		S: +OK Capability list follows
		S: TOP
		S: UIDL
		S: USER
		S: SASL PLAIN
		S: RESP-CODES
		S: PIPELINING
		S: AUTH-RESP-CODE
		S: IMPLEMENTATION mailhop
		S: .
		C: STLS
		S: -ERR command not permitted when TLS active
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)
		C: RETR 2
		S: +OK 200 octets *`)
	c.multi()
	c.run(w, `
		C: QUIT
		S: +OK *`)
	var tlsEvents int
	for _, e := range w.rec.Events() {
		if e.Kind == trace.KindTLS {
			tlsEvents++
		}
		if e.Kind == trace.KindWire && strings.Contains(e.Text, "PASS") {
			t.Fatalf("the password crossed in cleartext: %+v", e)
		}
	}
	if tlsEvents != 1 {
		t.Fatalf("%d tls events, want 1", tlsEvents)
	}
}

// CVE-2011-0411: commands sent after STLS in the same packet were in
// cleartext and may have been injected; they must be thrown away, neither
// answered in cleartext nor run inside TLS.
func TestSTLSInjectionDiscarded(t *testing.T) {
	w := newWorld(t, twoMessages, withTLS())
	c := w.connect(t)
	if _, err := io.WriteString(c.c, "STLS\r\nCAPA\r\nUSER bob\r\nPASS bob\r\nDELE 1\r\nQUIT\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := c.line(); got != "+OK Begin TLS negotiation" {
		t.Fatalf("got %q", got)
	}
	if n := c.r.Buffered(); n != 0 {
		b, _ := c.r.Peek(n)
		t.Fatalf("cleartext after the STLS answer: %q", b)
	}
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true, ServerName: "store.example.net"})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake (the server read cleartext as TLS?): %v", err)
	}
	c.c, c.r = tc, bufio.NewReader(tc)
	// The first answer inside TLS is to our NOOP, not to the injected
	// CAPA or USER: the session is in AUTHORIZATION still.
	c.run(w, `
		C: NOOP
		S: -ERR NOOP is only valid after login *
		C: QUIT
		S: +OK store.example.net POP3 server signing off
		S: <closed>`)
	for _, e := range w.rec.Events() {
		if e.Kind == trace.KindWire && e.Dir == trace.Recv && (strings.Contains(e.Text, "Capability") || strings.Contains(e.Text, "send PASS")) {
			t.Fatalf("the injected command was answered in cleartext: %q", e.Text)
		}
	}
	w.waitUnlocked(t, bob)
	if got := w.inbox(t); len(got) != 2 {
		t.Fatalf("INBOX %q: the injected DELE ran", got)
	}
}

// A TLS listener (POP3S, port 995, RFC 8314) counts as TLS: logins are
// allowed and STLS is neither offered nor accepted.
func TestImplicitTLS(t *testing.T) {
	w := newWorld(t, twoMessages, cleartextRefused())
	host := w.net.Host("store.example.net")
	l, err := host.Listen("tcp", ":995")
	if err != nil {
		t.Fatal(err)
	}
	go w.srv.Serve(tls.NewListener(l, selfSigned(t)))
	raw, err := w.client.DialContext(context.Background(), "tcp", "198.51.100.30:995")
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
	defer tc.Close()
	c := &client{t: t, c: tc, r: bufio.NewReader(tc)}
	c.run(w, `
		S: +OK store.example.net POP3 server ready *
		C: CAPA
		S: +OK Capability list follows
		S: TOP
		S: UIDL
		S: USER
		S: SASL PLAIN
		S: RESP-CODES
		S: PIPELINING
		S: AUTH-RESP-CODE
		S: IMPLEMENTATION mailhop
		S: .
		C: STLS
		S: -ERR command not permitted when TLS active
		C: AUTH PLAIN {PLAIN bob bob}
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)`)
}

// Shutdown tells a session waiting for a command that the server goes
// away, ends it without UPDATE, and makes Serve return ErrServerClosed.
func TestShutdown(t *testing.T) {
	w := newWorld(t, twoMessages)
	host := w.net.Host("store.example.net")
	l, err := host.Listen("tcp", ":1110")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- w.srv.Serve(l) }()
	c := w.login(t)
	c.expectPrefix("DELE 1", "+OK")
	ctx, cancel := context.WithTimeout(context.Background(), wallLimit())
	defer cancel()
	if err := w.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := c.line(); got != "-ERR [SYS/TEMP] server shutting down, try again later" {
		t.Fatalf("got %q", got)
	}
	c.expectEOF()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := w.client.DialContext(context.Background(), "tcp", w.addr); err == nil {
		t.Fatal("dial after Shutdown succeeded")
	}
	if got := w.inbox(t); len(got) != 2 {
		t.Fatalf("INBOX %q after shutdown", got)
	}
	if err := w.srv.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

// Close ends every session at once; a Shutdown whose context ends does.
func TestCloseAndShutdownTimeout(t *testing.T) {
	w := newWorld(t, twoMessages, with(func(s *Server) { s.FailDelay = 0 }))
	c := w.login(t)
	// A second session is in the middle of a failed login's delay, which
	// only the virtual clock can end: Shutdown can not wait for it.
	d := w.connect(t)
	d.send("USER alice")
	d.line()
	d.send("PASS wrong")
	waitForTimer(t, w.clk, DefaultFailDelay)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the context's error", err)
	}
	d.expectEOF()
	if got := c.line(); !strings.HasPrefix(got, "-ERR [SYS/TEMP] server shutting down") {
		t.Fatalf("got %q", got)
	}
	w.waitUnlocked(t, bob)
	if err := w.srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestMaxConnections(t *testing.T) {
	w := newWorld(t, twoMessages, with(func(s *Server) { s.MaxConnections = 1 }))
	first := w.connect(t)
	over := w.dial(t)
	if got := over.line(); got != "-ERR [SYS/TEMP] too many connections (1), try again later" {
		t.Fatalf("got %q", got)
	}
	over.expectEOF()
	first.expectPrefix("QUIT", "+OK")
	first.expectEOF()
	deadline := time.Now().Add(wallLimit())
	for {
		c := w.dial(t)
		if got := c.line(); strings.HasPrefix(got, "+OK") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no session accepted after the first ended")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestServeNeedsStoreAndUsers(t *testing.T) {
	h, _ := netsim.New(clock.Wall{}, nil).AddHost("h", "192.0.2.1")
	l, err := h.Listen("tcp", ":110")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := (&Server{}).Serve(l); err == nil || !strings.Contains(err.Error(), "Store") {
		t.Fatalf("Serve without a store: %v", err)
	}
}

// faultyStore fails the methods named in fail, as a broken disk would.
type faultyStore struct {
	store.Store
	mu   sync.Mutex
	fail map[string]bool
}

func (f *faultyStore) set(method string, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = fail
}

func (f *faultyStore) err(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[method] {
		return errors.New("disk on fire\r\nsecond line")
	}
	return nil
}

func (f *faultyStore) List(user, name string) ([]store.Message, error) {
	if err := f.err("List"); err != nil {
		return nil, err
	}
	return f.Store.List(user, name)
}

func (f *faultyStore) Read(user, name string, uid store.UID) ([]byte, error) {
	if err := f.err("Read"); err != nil {
		return nil, err
	}
	return f.Store.Read(user, name, uid)
}

func (f *faultyStore) Expunge(user, name string, uids []store.UID) ([]store.UID, error) {
	if err := f.err("Expunge"); err != nil {
		return nil, err
	}
	return f.Store.Expunge(user, name, uids)
}

// Store trouble is answered with [SYS/TEMP] (RFC 3206), on one line; a
// lock taken for a login that fails is released (RFC 1939 §4).
func TestStoreTrouble(t *testing.T) {
	var fs *faultyStore
	w := newWorld(t, twoMessages, with(func(s *Server) {
		fs = &faultyStore{Store: s.Store, fail: map[string]bool{}}
		s.Store = fs
	}))
	fs.set("List", true)
	c := w.connect(t)
	c.run(w, `
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: -ERR [SYS/TEMP] unable to read the maildrop: disk on fire  second line`)
	w.waitUnlocked(t, bob)
	fs.set("List", false)
	fs.set("Read", true)
	fs.set("Expunge", true)
	c.run(w, `
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: +OK *
		C: RETR 1
		S: -ERR [SYS/TEMP] unable to read message 1: disk on fire  second line
		C: TOP 2 0
		S: -ERR [SYS/TEMP] unable to read message 2: *
		C: DELE 1
		S: +OK message 1 deleted
		C: QUIT
		S: -ERR [SYS/TEMP] some deleted messages not removed: disk on fire  second line
		S: <closed>`)
	w.waitUnlocked(t, bob)
	if got := w.inbox(t); len(got) != 2 {
		t.Fatalf("INBOX %q", got)
	}
}
