package pop3

import (
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
	"github.com/mailhop/mailhop/sim/internal/transcripttest"
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
	c.Expect("RETR 1", "+OK 120 octets")
	multi(c)
	c.Expect("TOP 2 0", "+OK")
	multi(c)
	c.Expect("QUIT", "+OK")
	c.ExpectEOF()

	var fetches []trace.Event
	for _, e := range w.Trace.Events() {
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
	for _, e := range w.Trace.Events() {
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
	second.Run(`
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: -ERR [IN-USE] the maildrop of bob@example.net is in use by another POP3 session; try again later
		C: STAT
		S: -ERR STAT is only valid after login *
		C: AUTH PLAIN {PLAIN bob bob}
		S: -ERR [IN-USE] *`)
	first.Expect("DELE 1", "+OK")
	first.Expect("QUIT", "+OK")
	// The lock is released before the answer to QUIT.
	second.Run(`
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: +OK bob@example.net's maildrop has 1 message (200 octets)`)
	// Another user's maildrop is not affected.
	third := w.connect(t)
	third.Expect("USER alice", "+OK")
	third.Expect("PASS alice", "+OK alice@example.net's maildrop has 0 messages")
}

// RFC 1939 §6: a session that ends without QUIT never enters the UPDATE
// state: nothing is deleted, nothing marked \Seen.
func TestDroppedSessionDeletesNothing(t *testing.T) {
	w := newWorld(t, twoMessages)
	before := w.inbox(t)
	c := w.login(t)
	c.Expect("RETR 1", "+OK")
	multi(c)
	c.Expect("DELE 1", "+OK message 1 deleted")
	c.Expect("DELE 2", "+OK message 2 deleted")
	c.Close()
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
	c.Send("UIDL")
	if c.Line() != "+OK unique-id listing follows" {
		t.Fatal("UIDL")
	}
	first := multi(c)
	if _, err := w.Store.Append(bob, store.Inbox, []byte(mkMessage("3@example.org", "third", 300)), nil, start); err != nil {
		t.Fatal(err)
	}
	c.Run(`
		C: STAT
		S: +OK 2 320
		C: LIST 3
		S: -ERR no such message, only 2 messages in maildrop
		C: DELE 1
		S: +OK message 1 deleted
		C: QUIT
		S: +OK store.example.net POP3 server signing off (1 message left)`)
	c = w.login(t)
	c.Run(`
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
	if _, err := w.Store.Expunge(bob, store.Inbox, []store.UID{1}); err != nil {
		t.Fatal(err)
	}
	c.Run(`
		C: RETR 1
		S: -ERR message 1 no longer exists: another session removed it
		C: TOP 1 0
		S: -ERR message 1 no longer exists*
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
	w.Users.AddHash("erin@example.net", string(h))
	w.Store.AddUser("erin@example.net")
	c := w.connect(t)
	c.Run(`
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
	c.Expect("USER bob", "+OK")
	began := time.Now()
	vbegan := w.Clock.Now()
	c.Send("PASS wrong")

	// Wait for the server to start its delay: the next timer is 2s ahead.
	waitForTimer(t, w.Clock, DefaultFailDelay)
	got := make(chan string, 1)
	go func() {
		s, _ := c.Reader().ReadString('\n')
		got <- s
	}()
	w.Clock.Advance(DefaultFailDelay - time.Millisecond)
	select {
	case s := <-got:
		t.Fatalf("answer %q before the delay had passed", s)
	case <-time.After(20 * time.Millisecond):
	}
	w.Clock.Advance(time.Millisecond)
	select {
	case s := <-got:
		if s != "-ERR [AUTH] invalid user name or password\r\n" {
			t.Fatalf("got %q", s)
		}
	case <-time.After(transcripttest.WallLimit()):
		t.Fatal("no answer once the delay had passed")
	}
	if d := w.Clock.Now().Sub(vbegan); d != DefaultFailDelay {
		t.Fatalf("virtual time moved %v", d)
	}
	if d := time.Since(began); d > DefaultFailDelay {
		t.Fatalf("the test took %v of real time: the delay was not virtual", d)
	}
	// The session goes on: the right password works at once.
	c.Expect("USER bob", "+OK")
	c.Expect("PASS bob", "+OK bob@example.net's maildrop has 2 messages")
}

// waitForTimer waits until the clock's next timer is d ahead of now.
func waitForTimer(t *testing.T, clk *clock.Virtual, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(transcripttest.WallLimit())
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
	c.Expect("DELE 1", "+OK")
	w.Clock.Advance(DefaultIdleTimeout - time.Second)
	c.Expect("NOOP", "+OK") // still there, and the timer starts again
	w.Clock.Advance(DefaultIdleTimeout - time.Second)
	c.Send("STAT")
	if got := c.Line(); got != "+OK 1 200" {
		t.Fatalf("STAT: %q", got)
	}
	w.Clock.Advance(DefaultIdleTimeout)
	c.ExpectEOF() // without a reply: RFC 1939 §3
	w.waitUnlocked(t, bob)
	if got := w.inbox(t); len(got) != 2 {
		t.Fatalf("INBOX %q: the autologout must not delete", got)
	}
}

// An idle timeout also ends an AUTH exchange left waiting.
func TestIdleTimeoutInAuth(t *testing.T) {
	w := newWorld(t, nil, with(func(s *Server) { s.IdleTimeout = time.Minute }))
	c := w.connect(t)
	c.Send("AUTH PLAIN")
	if got := c.Line(); got != "+ " {
		t.Fatalf("got %q", got)
	}
	w.Clock.Advance(time.Minute - time.Second)
	c.Send("AGJvYgB3cm9uZw==") // wrong password: the exchange goes on
	if got := c.Line(); got != "-ERR [AUTH] invalid user name or password" {
		t.Fatalf("got %q", got)
	}
	c.Send("AUTH PLAIN")
	c.Line()
	w.Clock.Advance(time.Minute)
	c.ExpectEOF()
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
			c, err := w.Client.DialContext(context.Background(), "tcp", w.Addr)
			if err != nil {
				errc <- err
				return
			}
			watchdog := time.AfterFunc(transcripttest.WallLimit(), func() { c.Close() })
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
		if _, err := bad.Net().Write(append(l, '\r', '\n')); err != nil {
			t.Fatal(err)
		}
		got := bad.Line()
		if !strings.HasPrefix(got, "-ERR ") {
			t.Fatalf("line %.40q: got %q, want -ERR", l, got)
		}
	}
	bad.Run(capa)
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
	c.Run(`
		C: STLS x
		S: -ERR STLS takes no arguments
		C: STLS
		S: +OK Begin TLS negotiation
		T:
		` + capa + `
		C: STLS
		S: -ERR command not permitted when TLS active
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)
		C: RETR 2
		S: +OK 200 octets`)
	multi(c)
	c.Run(`
		C: QUIT
		S: +OK *`)
	var tlsEvents int
	for _, e := range w.Trace.Events() {
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
// answered in cleartext nor run inside TLS. The first answer inside TLS
// is to our NOOP, not to the injected CAPA or USER: the session is in
// AUTHORIZATION still.
func TestSTLSInjectionDiscarded(t *testing.T) {
	w := newWorld(t, twoMessages, withTLS())
	c := w.connect(t)
	c.Run(`
		B: "STLS\r\nCAPA\r\nUSER bob\r\nPASS bob\r\nDELE 1\r\nQUIT\r\n"
		S: +OK Begin TLS negotiation
		T:
		C: NOOP
		S: -ERR NOOP is only valid after login *
		C: QUIT
		S: +OK store.example.net POP3 server signing off
		S: <closed>`)
	for _, e := range w.Trace.Events() {
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
	l, err := w.Host.Listen("tcp", ":995")
	if err != nil {
		t.Fatal(err)
	}
	go w.srv.Serve(tls.NewListener(l, w.ServerTLS))
	raw, err := w.Client.DialContext(context.Background(), "tcp", "198.51.100.30:995")
	if err != nil {
		t.Fatal(err)
	}
	transcripttest.NewConn(t, tls.Client(raw, w.ClientTLS)).Run(`
		S: +OK store.example.net POP3 server ready *
		` + capa + `
		C: STLS
		S: -ERR command not permitted when TLS active
		C: AUTH PLAIN {PLAIN bob bob}
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)`)
}

// Shutdown tells a session waiting for a command that the server goes
// away, ends it without UPDATE, and makes Serve return ErrServerClosed.
func TestShutdown(t *testing.T) {
	w := newWorld(t, twoMessages)
	host := w.Host
	l, err := host.Listen("tcp", ":1110")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- w.srv.Serve(l) }()
	c := w.login(t)
	c.Expect("DELE 1", "+OK")
	ctx, cancel := context.WithTimeout(context.Background(), transcripttest.WallLimit())
	defer cancel()
	if err := w.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := c.Line(); got != "-ERR [SYS/TEMP] server shutting down, try again later" {
		t.Fatalf("got %q", got)
	}
	c.ExpectEOF()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if _, err := w.Client.DialContext(context.Background(), "tcp", w.Addr); err == nil {
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
	d.Send("USER alice")
	d.Line()
	d.Send("PASS wrong")
	waitForTimer(t, w.Clock, DefaultFailDelay)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the context's error", err)
	}
	d.ExpectEOF()
	if got := c.Line(); !strings.HasPrefix(got, "-ERR [SYS/TEMP] server shutting down") {
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
	if got := over.Line(); got != "-ERR [SYS/TEMP] too many connections (1), try again later" {
		t.Fatalf("got %q", got)
	}
	over.ExpectEOF()
	first.Expect("QUIT", "+OK")
	first.ExpectEOF()
	deadline := time.Now().Add(transcripttest.WallLimit())
	for {
		c := w.dial(t)
		if got := c.Line(); strings.HasPrefix(got, "+OK") {
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
	c.Run(`
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: -ERR [SYS/TEMP] unable to read the maildrop: disk on fire  second line`)
	w.waitUnlocked(t, bob)
	fs.set("List", false)
	fs.set("Read", true)
	fs.set("Expunge", true)
	c.Run(`
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
