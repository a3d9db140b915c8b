// Package pop3 is mailhop's POP3 server: the last hop of a message, where a
// mail client downloads what the MDA filed in a user's INBOX.
//
// It is written by hand over a store.Store and an auth.Users, in the shape
// of go-smtp: a Server with exported configuration fields and Serve(l),
// Close and Shutdown(ctx) as in net/http, so the same server runs on the
// simulated network of package netsim and on real sockets.
//
// # What it implements
//
//   - RFC 1939, POP3: the AUTHORIZATION, TRANSACTION and UPDATE states;
//     USER, PASS, APOP (with the banner timestamp of §7), STAT, LIST, RETR,
//     DELE, NOOP, RSET, QUIT, TOP and UIDL; message numbers fixed at login;
//     deletions applied only by QUIT (§6); the exclusive maildrop lock (§4)
//     through store.Lock; the autologout timer of §3 (IdleTimeout), which
//     closes the connection without a reply and without UPDATE.
//   - RFC 2449, the extension mechanism: CAPA (§5) with TOP, UIDL, USER,
//     SASL, RESP-CODES, PIPELINING and IMPLEMENTATION (§6); the [IN-USE]
//     response code (§8.1.1); command lines of at least 255 octets (§4).
//   - RFC 3206: the [AUTH], [SYS/TEMP] and [SYS/PERM] response codes and
//     the AUTH-RESP-CODE capability.
//   - RFC 2595 §4: STLS, with the bytes a client sent after STLS in
//     cleartext thrown away rather than run inside TLS (CVE-2011-0411).
//   - RFC 5034: AUTH with SASL, initial response or "+ " continuation, "*"
//     to cancel; the one mechanism is PLAIN (RFC 4616).
//
// # Policy beyond the RFCs
//
// Passwords are accepted only over TLS (STLS, or a TLS listener for
// port 995), from a loopback peer, or with InsecureAuth (the teaching
// world, where the simulated network carries no secrets). A failed login
// waits FailDelay on the server's clock before its -ERR, and the third
// failure ends the session. Messages retrieved with RETR and left on the
// server are marked \Seen in the UPDATE state, so an IMAP client sees them
// as read. UIDL gives "<UIDVALIDITY>.<UID>" of the INBOX, the pair an IMAP
// client sees, so the id is stable across sessions and protocols.
//
// Wire lines are reported by the network's tap; the server itself emits
// one trace.KindFetch event per RETR and TOP.
package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/listen"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// Defaults of the Server's zero-valued fields.
const (
	DefaultFailDelay     = 2 * time.Second
	DefaultIdleTimeout   = 10 * time.Minute // RFC 1939 §3: "at least 10 minutes"
	DefaultMaxLineLength = 512              // RFC 2449 §4 allows clients 255 octets
)

// ErrServerClosed is returned by Serve after Close or Shutdown: the one
// listen.ErrServerClosed of every server.
var ErrServerClosed = listen.ErrServerClosed

// Server is a POP3 server. Set the fields, then call Serve with one or more
// listeners; do not change the fields once Serve has been called.
type Server struct {
	// Rand, when set, gives the random bits of the APOP timestamp: a seeded
	// world repeats its greetings run after run. Nil: crypto/rand.
	Rand func() uint32
	// Hostname names the server in the greeting and the APOP timestamp
	// ("localhost" when empty).
	Hostname string
	// Store holds the maildrops: a user's INBOX.
	Store store.Store
	// Users checks logins; the canonical address it returns is the store
	// user.
	Users auth.Users
	// TLSConfig, when set, enables STLS (RFC 2595).
	TLSConfig *tls.Config
	// InsecureAuth allows logins over cleartext connections from peers
	// that are not loopback.
	InsecureAuth bool
	// Clock is the time source for the failed-login delay (nil: the wall
	// clock). Use the network's clock: netsim measures deadlines on it.
	Clock clock.Clock
	// Trace, when set, receives a fetch event for each RETR and TOP.
	Trace *trace.Recorder
	// FailDelay is how long a failed login waits before its answer
	// (0: DefaultFailDelay; negative: no delay).
	FailDelay time.Duration
	// IdleTimeout closes a session that sends no command for this long
	// (0: DefaultIdleTimeout). It is set as the connection's deadline,
	// time.Now().Add(IdleTimeout) as net.Conn wants, each time the server
	// answers; netsim measures that deadline on its own clock.
	IdleTimeout time.Duration
	// MaxLineLength bounds a command line, CRLF included
	// (0: DefaultMaxLineLength). A longer line gets "-ERR line too long".
	MaxLineLength int
	// Limiter, when set, counts failed logins per client address across
	// sessions (and servers sharing it): it sets the delay before each
	// failure's answer in place of FailDelay, and refuses logins from an
	// address that failed too often. Its Clock should be the server's.
	Limiter *auth.Limiter
	// MaxConnections bounds the sessions served at once
	// (0: listen.DefaultMaxConns; negative: no bound), and
	// MaxConnectionsPerAddr those of one client address
	// (0: listen.DefaultMaxConnsPerAddr; negative: no bound). A
	// connection over either gets "-ERR [SYS/TEMP]" and is closed.
	MaxConnections        int
	MaxConnectionsPerAddr int
	// ErrorLog, when set, is told when accepting connections fails for
	// a while (out of file descriptors) and when it works again.
	ErrorLog listen.Logger

	mu       sync.Mutex
	loop     *listen.Loop
	sessions map[*session]struct{}
	closed   bool
	done     chan struct{} // closed by Close: ends a failed login's delay
	connSeq  atomic.Uint64 // for the APOP timestamps
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

func (s *Server) failDelay() time.Duration {
	if s.FailDelay == 0 {
		return DefaultFailDelay
	}
	return max(s.FailDelay, 0)
}

func (s *Server) idleTimeout() time.Duration {
	if s.IdleTimeout <= 0 {
		return DefaultIdleTimeout
	}
	return s.IdleTimeout
}

func (s *Server) maxLine() int {
	if s.MaxLineLength <= 0 {
		return DefaultMaxLineLength
	}
	return s.MaxLineLength
}

// init makes the server's bookkeeping; mu held.
func (s *Server) initLocked() {
	if s.loop == nil {
		s.sessions = map[*session]struct{}{}
		s.done = make(chan struct{})
		s.loop = &listen.Loop{
			MaxConns: s.MaxConnections, MaxConnsPerAddr: s.MaxConnectionsPerAddr,
			Handle: func(c net.Conn, done func()) {
				defer done()
				s.serveConn(c)
			},
			Refuse: s.refuse, ErrorLog: s.ErrorLog,
		}
	}
}

// refuse answers a connection over a cap (RFC 3206 §4: SYS/TEMP, a
// problem that should go away).
func (s *Server) refuse(c net.Conn, why listen.Reason) {
	if why == listen.TooManyFromAddr {
		fmt.Fprintf(c, "-ERR [SYS/TEMP] too many connections from your address, try again later\r\n")
		return
	}
	n := s.MaxConnections
	if n == 0 {
		n = listen.DefaultMaxConns
	}
	fmt.Fprintf(c, "-ERR [SYS/TEMP] too many connections (%d), try again later\r\n", n)
}

// lifecycle returns the listener loop.
func (s *Server) lifecycle() *listen.Loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	return s.loop
}

// Serve accepts connections on l and serves each in its own goroutine. It
// returns ErrServerClosed after Close or Shutdown, or the listener's error
// (see listen.Loop.Serve).
func (s *Server) Serve(l net.Listener) error {
	if s.Store == nil || s.Users == nil {
		return errors.New("pop3: Server needs a Store and Users")
	}
	return s.lifecycle().Serve(l)
}

// serveConn runs one session.
func (s *Server) serveConn(c net.Conn) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return
	}
	sess := newSession(s, c)
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, sess)
		s.mu.Unlock()
	}()
	sess.serve()
}

// Close stops the listeners and closes every connection at once. Sessions
// that had not sent QUIT delete nothing (RFC 1939 §6).
func (s *Server) Close() error {
	s.mu.Lock()
	s.initLocked()
	s.closed = true
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	var conns []net.Conn
	for sess := range s.sessions {
		conns = append(conns, sess.conn())
	}
	s.mu.Unlock()
	err := s.loop.Close()
	for _, c := range conns {
		c.Close()
	}
	return err
}

// Shutdown stops the listeners, tells sessions waiting for a command that
// the server is going away, lets sessions in the middle of a command finish
// it, and waits for every session to end or ctx to be done; then it closes
// what is left, as Close does, and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.initLocked()
	s.closed = true
	s.mu.Unlock()
	err := s.loop.Shutdown(ctx)
	if e := ctx.Err(); e != nil && errors.Is(err, e) {
		s.Close()
	}
	return err
}
