package imap

import (
	"context"
	"crypto/tls"
	"io"
	"math"
	"net"
	"net/netip"
	"sync"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/listen"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// Defaults of the Server's zero-valued fields.
const (
	DefaultMaxLiteralSize   = 64 << 20 // bytes of an APPEND literal
	DefaultLoginFailDelay   = 2 * time.Second
	DefaultMaxLoginFailures = 3
	DefaultMaxMailboxes     = 1000 // mailboxes of a user, INBOX included
)

// ErrServerClosed is returned by Serve after Close or Shutdown: the one
// listen.ErrServerClosed of every server.
var ErrServerClosed = listen.ErrServerClosed

// Logger receives the errors that can not be told to a client (a broken
// connection, a failing store). *log.Logger is one.
type Logger interface {
	Printf(format string, v ...any)
}

// Server is an IMAP server. Set the fields, then call Serve with one or more
// listeners; do not change the fields once Serve has been called.
type Server struct {
	// Hostname names the server in trace events ("localhost" when empty).
	Hostname string
	// Store holds the mailboxes.
	Store store.Store
	// Users checks logins; the canonical address it returns is the store
	// user.
	Users auth.Users
	// TLSConfig, when set, enables STARTTLS (RFC 9051 §6.2.1).
	TLSConfig *tls.Config
	// InsecureAuth allows logins over cleartext connections from peers
	// that are not loopback.
	InsecureAuth bool
	// Clock stamps appended messages and times failed logins (wall clock
	// when nil).
	Clock clock.Clock
	// Limiter, when set, counts failed logins per client address across
	// sessions (and the servers sharing it: `mailhop serve` gives SMTP,
	// POP3 and IMAP one): it sets the delay before each failure's NO in
	// place of LoginFailDelay, and refuses logins from an address that
	// failed too often (NO [UNAVAILABLE]). Its Clock should be the
	// server's. When nil, the server keeps a Limiter of its own, on Clock,
	// whose first delay is LoginFailDelay.
	Limiter *auth.Limiter
	// Trace receives a fetch event per message body read (nil: none).
	Trace *trace.Recorder
	// MaxLiteralSize bounds the message of an APPEND, advertised as
	// APPENDLIMIT (DefaultMaxLiteralSize when 0).
	MaxLiteralSize int64
	// LoginFailDelay is, without a Limiter, how long a first failed login
	// waits before its NO; it doubles with each further failure from the
	// same peer address, up to 16 times (DefaultLoginFailDelay when 0,
	// none when negative).
	LoginFailDelay time.Duration
	// MaxLoginFailures is how many failed (or refused) logins end a
	// connection (DefaultMaxLoginFailures when 0).
	MaxLoginFailures int
	// ErrorLog receives what can not be told to a client (nil: discarded).
	ErrorLog Logger
	// MaxConnections bounds the sessions served at once
	// (0: listen.DefaultMaxConns; negative: no bound), and
	// MaxConnectionsPerAddr those of one client address
	// (0: listen.DefaultMaxConnsPerAddr; negative: no bound). A
	// connection over either gets "* BYE [UNAVAILABLE]" and is closed.
	MaxConnections        int
	MaxConnectionsPerAddr int

	initOnce sync.Once
	// Two go-imap servers share the work: strict for cleartext peers that
	// may only log in after STARTTLS, lax for the others (TLS listeners
	// pass through strict too: imapserver sees their *tls.Conn). go-imap
	// only knows InsecureAuth for a whole server, and this way each
	// connection is offered what it may do (LOGINDISABLED or AUTH=PLAIN).
	strict, lax     *imapserver.Server
	strictIn, laxIn *handoff
	imapDone        sync.WaitGroup // the imapserver Serve loops
	loop            listen.Loop
	mu              sync.Mutex
	closed          bool
	sessions        map[*session]func() // → frees its connection's slot
	handed          map[net.Conn]func() // given to imapserver, no session yet
	boxes           map[boxKey]*mailbox
	ownLimiter      *auth.Limiter // when Limiter is nil
	stopping        chan struct{} // closed by Close and Shutdown: failed logins wait no longer
	stopOnce        sync.Once

	// MaxMailboxes bounds the mailboxes of a user, INBOX included: a
	// CREATE beyond it is answered NO [LIMIT] (RFC 5530 §3)
	// (DefaultMaxMailboxes when 0, no bound when negative).
	MaxMailboxes int
}

// capSet returns the capabilities given to imapserver; it adds SASL-IR,
// LITERAL-, STARTTLS, AUTH=, LOGINDISABLED, IDLE, UNSELECT, ENABLE,
// UTF8=ACCEPT and APPENDLIMIT as they apply.
func capSet() goimap.CapSet {
	return goimap.CapSet{
		goimap.CapIMAP4rev1:    {},
		goimap.CapIMAP4rev2:    {},
		goimap.CapNamespace:    {},
		goimap.CapUIDPlus:      {},
		goimap.CapMove:         {},
		goimap.CapESearch:      {},
		goimap.CapSearchRes:    {},
		goimap.CapListExtended: {},
		goimap.CapListStatus:   {},
		goimap.CapStatusSize:   {},
		goimap.CapChildren:     {},
		goimap.CapSpecialUse:   {},
		goimap.CapBinary:       {},
	}
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.sessions = map[*session]func(){}
		s.handed = map[net.Conn]func(){}
		s.loop = listen.Loop{
			MaxConns: s.MaxConnections, MaxConnsPerAddr: s.MaxConnectionsPerAddr,
			Handle: s.handle, Refuse: refuse, ErrorLog: logAdapter{s},
		}
		s.boxes = map[boxKey]*mailbox{}
		s.stopping = make(chan struct{})
		if s.Limiter == nil {
			d := s.LoginFailDelay
			if d == 0 {
				d = DefaultLoginFailDelay
			}
			s.ownLimiter = &auth.Limiter{Delay: d, MaxDelay: max(d<<4, 0), Clock: s.clock()}
		}
		opts := func(insecure bool) *imapserver.Options {
			return &imapserver.Options{
				NewSession:   s.newSession,
				Caps:         capSet(),
				Logger:       logAdapter{s},
				TLSConfig:    s.TLSConfig,
				InsecureAuth: insecure,
			}
		}
		s.strict, s.lax = imapserver.New(opts(false)), imapserver.New(opts(true))
		s.strictIn, s.laxIn = newHandoff(), newHandoff()
		for _, p := range []struct {
			srv *imapserver.Server
			in  *handoff
		}{{s.strict, s.strictIn}, {s.lax, s.laxIn}} {
			s.imapDone.Add(1)
			go func() {
				defer s.imapDone.Done()
				p.srv.Serve(p.in)
			}()
			// imapserver's Serve registers itself with a WaitGroup.Add
			// after releasing its lock, which races with its Close: only
			// go on once it is accepting.
			<-p.in.accepting
		}
	})
}

func (s *Server) hostname() string {
	if s.Hostname == "" {
		return "localhost"
	}
	return s.Hostname
}

func (s *Server) clock() clock.Clock {
	if s.Clock == nil {
		return clock.Wall{}
	}
	return s.Clock
}

func (s *Server) maxLiteral() int64 {
	n := s.MaxLiteralSize
	if n <= 0 {
		n = DefaultMaxLiteralSize
	}
	return min(n, math.MaxUint32)
}

func (s *Server) limiter() *auth.Limiter {
	if s.Limiter != nil {
		return s.Limiter
	}
	return s.ownLimiter
}

// loginDelay waits d on the server's clock, or until Close or Shutdown.
func (s *Server) loginDelay(d time.Duration) {
	if d <= 0 {
		return
	}
	t := s.clock().NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
	case <-s.stopping:
	}
}

func (s *Server) maxMailboxes() int {
	if s.MaxMailboxes == 0 {
		return DefaultMaxMailboxes
	}
	return s.MaxMailboxes
}

func (s *Server) maxFailures() int {
	if s.MaxLoginFailures <= 0 {
		return DefaultMaxLoginFailures
	}
	return s.MaxLoginFailures
}

func (s *Server) logf(format string, v ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, v...)
	}
}

type logAdapter struct{ s *Server }

func (l logAdapter) Printf(format string, v ...any) { l.s.logf("imap: "+format, v...) }

// Serve accepts connections on l and serves each in its own goroutine. It
// returns ErrServerClosed after Close or Shutdown, or the error that made
// Accept fail for good (see listen.Loop.Serve).
func (s *Server) Serve(l net.Listener) error {
	s.init()
	return s.loop.Serve(l)
}

// handle gives a connection to the go-imap server that suits it; the
// session's end (endSession) frees its slot.
func (s *Server) handle(c net.Conn, done func()) {
	in := s.strictIn
	if s.InsecureAuth || isLoopback(c.RemoteAddr()) {
		in = s.laxIn
	}
	// Implicit TLS stays a *tls.Conn: go-imap reads TLS from the type.
	if _, ok := c.(*tls.Conn); !ok {
		c = newTaglessConn(c)
	}
	s.mu.Lock()
	s.handed[c] = done
	s.mu.Unlock()
	if !in.give(c) {
		s.mu.Lock()
		delete(s.handed, c)
		s.mu.Unlock()
		c.Close()
		done()
	}
}

// refuse answers a connection over a cap (RFC 9051 §7.1.5: BYE as the
// greeting; §7.1 UNAVAILABLE, try again later).
func refuse(c net.Conn, why listen.Reason) {
	from := ""
	if why == listen.TooManyFromAddr {
		from = " from your address"
	}
	io.WriteString(c, "* BYE [UNAVAILABLE] Too many connections"+from+", try again later\r\n")
}

// Close stops the listeners and closes every connection at once.
func (s *Server) Close() error {
	s.init()
	s.stopOnce.Do(func() { close(s.stopping) })
	s.mu.Lock()
	s.closed = true
	var conns []net.Conn
	for sess := range s.sessions {
		conns = append(conns, sess.raw)
	}
	s.mu.Unlock()

	err := s.loop.Close()
	s.strictIn.close()
	s.laxIn.close()
	for _, c := range conns {
		c.Close()
	}
	// imapserver's Close closes the connections it knows; both have
	// stopped accepting (their listeners are closed), so this only waits.
	s.strict.Close()
	s.lax.Close()
	s.imapDone.Wait()
	return err
}

// Shutdown stops the listeners, says BYE to every session (between two
// responses, never inside one) and waits for the sessions to end, or for
// ctx to be done, whichever comes first; then it closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.stopOnce.Do(func() { close(s.stopping) })
	s.mu.Lock()
	s.closed = true
	var live []*session
	for sess := range s.sessions {
		live = append(live, sess)
	}
	s.mu.Unlock()
	s.loop.Stop()
	s.strictIn.close()
	s.laxIn.close()
	for _, sess := range live {
		go sess.conn.Bye("Server shutting down")
	}
	err := s.loop.Wait(ctx)
	if e := s.Close(); err == nil {
		err = e
	}
	return err
}

// newSession is imapserver's NewSession for both go-imap servers.
func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	raw := c.NetConn()
	sess := &session{srv: s, conn: c, raw: raw}
	if a, ok := addrPort(raw.RemoteAddr()); ok {
		sess.peer = a.Addr()
	}
	s.mu.Lock()
	done := s.handed[raw]
	delete(s.handed, raw)
	if done == nil {
		done = func() {}
	}
	if s.closed {
		s.mu.Unlock()
		done() // imapserver says BYE and closes the connection
		return nil, nil, &goimap.Error{Type: goimap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	s.sessions[sess] = done
	s.mu.Unlock()
	return sess, nil, nil
}

// endSession is the end of a session: imapserver closes its connection
// right after.
func (s *Server) endSession(sess *session) {
	s.mu.Lock()
	done, ok := s.sessions[sess]
	delete(s.sessions, sess)
	s.mu.Unlock()
	if ok {
		done()
	}
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort(), true
	case nil:
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap, err == nil
}

func isLoopback(a net.Addr) bool {
	ap, ok := addrPort(a)
	return ok && ap.Addr().Unmap().IsLoopback()
}

// handoff is the listener a go-imap server accepts from: Serve gives it
// the connections it accepted on the real listeners.
type handoff struct {
	ch        chan net.Conn
	done      chan struct{}
	once      sync.Once
	accepting chan struct{} // closed at the first Accept
	acceptOne sync.Once
}

func newHandoff() *handoff {
	return &handoff{ch: make(chan net.Conn), done: make(chan struct{}), accepting: make(chan struct{})}
}

func (h *handoff) give(c net.Conn) bool {
	select {
	case <-h.done:
		return false
	default:
	}
	select {
	case h.ch <- c:
		return true
	case <-h.done:
		return false
	}
}

func (h *handoff) Accept() (net.Conn, error) {
	h.acceptOne.Do(func() { close(h.accepting) })
	select {
	case c := <-h.ch:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) close() { h.once.Do(func() { close(h.done) }) }

func (h *handoff) Close() error { h.close(); return nil }

func (h *handoff) Addr() net.Addr { return handoffAddr{} }

type handoffAddr struct{}

func (handoffAddr) Network() string { return "imap-handoff" }
func (handoffAddr) String() string  { return "imap-handoff" }
