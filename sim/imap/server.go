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
	// TLSConfig, when set, enables STARTTLS (RFC 9051 §6.2.1), or is
	// the configuration of ImplicitTLS.
	TLSConfig *tls.Config
	// ImplicitTLS runs TLS from a connection's first byte, with
	// TLSConfig (port 993, RFC 8314); STARTTLS is then refused. A
	// listener of tls.NewListener serves implicit TLS too, with its own
	// configuration.
	ImplicitTLS bool
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
	// Three go-imap servers share the work, one per kind of transport
	// (see transport.go and pick): go-imap only knows InsecureAuth and
	// STARTTLS for a whole server, and this way each connection is
	// offered what it may do.
	imaps    [numKinds]*imapserver.Server
	ins      [numKinds]*handoff
	imapDone sync.WaitGroup // the imapserver Serve loops
	loop     listen.Loop
	mu       sync.Mutex
	closed   bool
	sessions map[*session]struct{}
	boxes    map[boxKey]*mailbox
	recent   map[boxKey]recentMark      // see recent.go
	gone     map[string]map[string]bool // subscribed names without a mailbox, by user
	// keywords keeps the keywords of a mailbox no session has selected,
	// for the FLAGS of the next SELECT: as in Dovecot, a keyword once
	// used stays in FLAGS, so no session is told it is gone while
	// another may still show it. Each map is replaced, never changed.
	keywords   map[boxKey]map[string]string
	ownLimiter *auth.Limiter // when Limiter is nil
	stopping   chan struct{} // closed by Close and Shutdown: failed logins wait no longer
	stopOnce   sync.Once

	// MaxMailboxes bounds the mailboxes of a user, INBOX included: a
	// CREATE beyond it is answered NO [LIMIT] (RFC 5530 §3)
	// (DefaultMaxMailboxes when 0, no bound when negative).
	MaxMailboxes int
	// Quota bounds what each user keeps: an APPEND or COPY past it is
	// answered NO [OVERQUOTA] (RFC 9208 §4.2; the zero Quota: none).
	Quota store.Quota
}

// capSet returns the capabilities given to imapserver; it adds SASL-IR,
// LITERAL-, STARTTLS, AUTH=, LOGINDISABLED, IDLE, UNSELECT, ENABLE,
// UTF8=ACCEPT and APPENDLIMIT as they apply, and the views add LITERAL+
// before login and ID (see patchCapabilities).
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
		goimap.CapLiteralPlus:  {},
	}
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.sessions = map[*session]struct{}{}
		s.loop = listen.Loop{
			MaxConns: s.MaxConnections, MaxConnsPerAddr: s.MaxConnectionsPerAddr,
			Handle: s.handle, Refuse: refuse, ErrorLog: logAdapter{s},
		}
		s.boxes = map[boxKey]*mailbox{}
		s.recent = map[boxKey]recentMark{}
		s.gone = map[string]map[string]bool{}
		s.keywords = map[boxKey]map[string]string{}
		s.stopping = make(chan struct{})
		if s.Limiter == nil {
			d := s.LoginFailDelay
			if d == 0 {
				d = DefaultLoginFailDelay
			}
			s.ownLimiter = &auth.Limiter{Delay: d, MaxDelay: max(d<<4, 0), Clock: s.clock()}
		}
		for k := range numKinds {
			opts := &imapserver.Options{
				NewSession:   s.newSession,
				Caps:         capSet(),
				Logger:       logAdapter{s},
				InsecureAuth: k != strictKind,
			}
			if k != secureKind {
				// Offered as STARTTLS; the guard answers it.
				opts.TLSConfig = s.TLSConfig
			}
			srv, in := imapserver.New(opts), newHandoff()
			s.imaps[k], s.ins[k] = srv, in
			s.imapDone.Add(1)
			go func() {
				defer s.imapDone.Done()
				srv.Serve(in)
			}()
			// imapserver's Serve registers itself with a WaitGroup.Add
			// after releasing its lock, which races with its Close: only
			// go on once it is accepting.
			<-in.accepting
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

// The kinds of transport, each served by a go-imap server of its own.
const (
	strictKind = iota // cleartext, no password may be sent
	plainKind         // cleartext, passwords accepted (loopback, InsecureAuth)
	secureKind        // TLS, run by the server
	numKinds
)

// pick returns the go-imap server for a connection's transport: TLS (run
// by the server), a cleartext connection that may log in (a loopback
// peer, or InsecureAuth), or one that must start TLS first.
func (s *Server) pick(c *clientConn) *handoff {
	switch {
	case c.tls:
		return s.ins[secureKind]
	case s.InsecureAuth || isLoopback(c.raw.RemoteAddr()):
		return s.ins[plainKind]
	}
	return s.ins[strictKind]
}

// handle serves a connection: the TLS handshake first for implicit TLS,
// then a view of it goes to the go-imap server that suits it. Closing the
// connection frees its slot.
func (s *Server) handle(nc net.Conn, done func()) {
	c := newClientConn(s, nc, done)
	var tc *tls.Conn
	switch {
	case isTLSConn(nc):
		// From a TLS listener: the handshake is still to run.
		tc = nc.(*tls.Conn)
		c.raw, c.conn = tc.NetConn(), tc
	case s.ImplicitTLS:
		if s.TLSConfig == nil {
			s.logf("imap: ImplicitTLS without a TLSConfig")
			c.close()
			return
		}
		tc = tls.Server(nc, s.TLSConfig)
	}
	if tc != nil {
		if err := c.handshake(tc); err != nil {
			c.close()
			return
		}
	}
	c.hand(&view{c: c})
}

func isTLSConn(c net.Conn) bool {
	_, ok := c.(*tls.Conn)
	return ok
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
		conns = append(conns, sess.cc.raw)
	}
	s.mu.Unlock()

	err := s.loop.Close()
	for _, in := range s.ins {
		in.close()
	}
	for _, c := range conns {
		c.Close()
	}
	// imapserver's Close closes the connections it knows; all have
	// stopped accepting (their listeners are closed), so this only waits.
	for _, srv := range s.imaps {
		srv.Close()
	}
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
	for _, in := range s.ins {
		in.close()
	}
	for _, sess := range live {
		go sess.conn.Bye("Server shutting down")
	}
	err := s.loop.Wait(ctx)
	if e := s.Close(); err == nil {
		err = e
	}
	return err
}

// newSession is imapserver's NewSession for every go-imap server; the
// connection is a view of a clientConn.
func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	v, ok := c.NetConn().(*view)
	if !ok {
		return nil, nil, &goimap.Error{Type: goimap.StatusResponseTypeBye, Text: "Connection not served here"}
	}
	sess := &session{srv: s, conn: c, cc: v.c, gv: v}
	v.ic.Store(c)
	if a, ok := addrPort(v.RemoteAddr()); ok {
		sess.peer = a.Addr()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		// imapserver says BYE and closes the connection.
		v.c.done()
		return nil, nil, &goimap.Error{Type: goimap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	s.sessions[sess] = struct{}{}
	return sess, nil, nil
}

// endSession is the end of a session: imapserver closes its connection
// (the view) right after. Unless a session after STARTTLS goes on with
// the connection, this is its end.
func (s *Server) endSession(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	if !sess.gv.retired.Load() {
		sess.cc.close()
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
