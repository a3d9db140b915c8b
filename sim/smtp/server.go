// Package smtp holds mailhop's SMTP agents, built on go-smtp: the message
// submission agent (MSA, RFC 6409: ports 587 and 465), the inbound MTA of a
// domain's MX (port 25: mail for its own domains only, never an open
// relay), and the LMTP server of a mail delivery agent (RFC 2033).
//
// Each agent is a Server with a Mode; Serve(l) runs it on any listener, of
// the simulated network or of real sockets.
//
// Strict mode (Server.Strict) answers every deviation from RFC 5321 with
// the reply code, enhanced status code and a text naming the rule; the
// default is tolerant, as real servers are.
//
// RFC 5321 (SMTP), RFC 6409 (submission), RFC 3207 (STARTTLS), RFC 4954
// (AUTH), RFC 2033 (LMTP), RFC 3463 (enhanced status codes), RFC 3848
// (the "with" keywords of Received), RFC 6531 (SMTPUTF8).
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/listen"
	"github.com/mailhop/mailhop/sim/trace"
)

// Mode is the role of an SMTP server.
type Mode int

// Modes.
const (
	// MX receives mail from other MTAs for its own domains (port 25).
	// With AUTH (and TLS) a user may relay, as on submission.
	MX Mode = iota
	// Submission takes mail from its users' clients (587, 465): AUTH is
	// required, the sender must be the user, and it relays anywhere.
	Submission
	// LMTP is a delivery agent's LMTP server: one reply per recipient.
	LMTP
)

func (m Mode) String() string {
	return [...]string{"MX", "submission", "LMTP"}[m]
}

// Enqueuer takes accepted messages: a queue. Enqueue returns only once the
// message is safe (durable when the queue's spool is).
type Enqueuer interface {
	Enqueue(from string, to []string, body []byte) (id string, err error)
}

// Deliverer files a message into a mailbox, for LMTP. It returns an error
// with a Permanent() bool method when the failure is permanent.
type Deliverer interface {
	Deliver(ctx context.Context, from, rcpt string, body []byte) error
}

// Server is one SMTP agent. Set the fields, then call Serve.
type Server struct {
	Mode     Mode
	Hostname string
	// Rand, when set, gives the random part of the ids the server makes
	// (Received ids, Message-IDs): a seeded world repeats them run after
	// run. Nil: math/rand/v2.
	Rand func() uint32
	// IsLocal reports whether a domain is one this server receives mail
	// for (MX) or delivers (LMTP).
	IsLocal func(domain string) bool
	// Recipient reports whether a local address exists.
	Recipient func(addr string) bool
	// Postmaster is the mailbox that takes mail for postmaster@ every
	// local domain and for <postmaster> alone (RFC 5321 §4.5.1: they
	// must be accepted). Empty: postmaster@domain when it is a user,
	// else the first user of the domain that Users lists, else the
	// first user of any local domain (see postmasterBox).
	Postmaster string
	// Users checks AUTH logins (Submission; optional on MX).
	Users auth.Users
	// Queue takes accepted messages (MX, Submission).
	Queue Enqueuer
	// Deliver files messages (LMTP).
	Deliver Deliverer

	TLSConfig    *tls.Config
	ImplicitTLS  bool // TLS from the first byte (465)
	InsecureAuth bool // allow AUTH without TLS
	// StrictAuth refuses AUTH on cleartext from loopback peers too (unless
	// InsecureAuth): on a real server any local user reaches loopback.
	StrictAuth bool
	// Strict follows RFC 5321 to the letter and says what is wrong, as a
	// teaching server should: EHLO and HELO need a domain, to the
	// letter of RFC 5321 §4.1.1.1 (501 5.5.4; in either mode a name
	// with control characters is refused),
	// MAIL FROM:<address> and RCPT TO:<address> take their path in angle
	// brackets right after the colon (501 5.5.4, RFC 5321 §4.1.2), a
	// second MAIL needs RSET first (503 5.5.1), and a non-ASCII address
	// needs the SMTPUTF8 parameter on MAIL (553 5.6.7, RFC 6531 §3.5).
	// Without it the server is as tolerant as Postfix's defaults (and
	// go-smtp's parser): "MAIL FROM: alice@example.org" is taken.
	// The playground's worlds are strict; `mailhop serve` is not, unless
	// --strict.
	Strict bool
	// Limiter, when set, delays and then refuses failed logins per
	// client address, across sessions (and servers sharing it); without
	// one a failed login waits a second.
	Limiter *auth.Limiter
	// MaxMessageBytes is announced by SIZE and enforced (552 5.3.4).
	MaxMessageBytes int64
	MaxRecipients   int
	// MaxConnections bounds the sessions served at once
	// (0: listen.DefaultMaxConns; negative: no bound), and
	// MaxConnectionsPerAddr those of one client address
	// (0: listen.DefaultMaxConnsPerAddr; negative: no bound). A
	// connection over either gets 421 4.7.0 and is closed.
	MaxConnections        int
	MaxConnectionsPerAddr int
	// ErrorLog, when set, is told when accepting connections fails for
	// a while (out of file descriptors) and when it works again.
	ErrorLog listen.Logger
	// Timeout is the idle timeout of a session, on Clock (RFC 5321
	// §4.5.3.2.7: 5 minutes).
	Timeout time.Duration
	Clock   clock.Clock
	Trace   *trace.Recorder

	once  sync.Once
	inner *gosmtp.Server
	lis   *pipeListener
	loop  listen.Loop
}

const (
	defaultMaxMessage    = 25 << 20
	defaultMaxRecipients = 100
)

// ErrServerClosed is returned by Serve after Close or Shutdown. It is
// listen.ErrServerClosed, and errors.Is takes it for go-smtp's
// ErrServerClosed too, as callers of an earlier Serve tested.
var ErrServerClosed error = closedError{}

type closedError struct{}

func (closedError) Error() string { return "smtp: " + listen.ErrServerClosed.Error() }

func (closedError) Is(target error) bool {
	return target == listen.ErrServerClosed || target == gosmtp.ErrServerClosed
}

func (s *Server) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 5 * time.Minute
}

func (s *Server) init() {
	s.once.Do(func() {
		if s.Clock == nil {
			s.Clock = clock.Wall{}
		}
		if s.MaxMessageBytes == 0 {
			s.MaxMessageBytes = defaultMaxMessage
		}
		if s.MaxRecipients == 0 {
			s.MaxRecipients = defaultMaxRecipients
		}
		in := gosmtp.NewServer(&backend{s: s})
		in.Domain = s.Hostname
		in.MaxMessageBytes = s.MaxMessageBytes
		in.MaxRecipients = s.MaxRecipients
		in.MaxLineLength = maxCommandLine
		in.EnableSMTPUTF8 = true
		in.ErrorLog = log.New(io.Discard, "", 0)
		if s.Mode == LMTP {
			in.LMTP = true
			in.ReadTimeout = s.timeout()
			in.WriteTimeout = s.timeout()
		} else {
			// The front decides when AUTH is allowed and does TLS.
			in.AllowInsecureAuth = true
		}
		s.inner = in
		s.lis = newPipeListener(nil)
		go in.Serve(s.lis)
		s.loop = listen.Loop{
			MaxConns: s.MaxConnections, MaxConnsPerAddr: s.MaxConnectionsPerAddr,
			Handle: s.handle, Refuse: s.refuse, ErrorLog: s.ErrorLog,
		}
	})
}

// Serve accepts connections on l until Close or Shutdown, and then
// returns ErrServerClosed (see listen.Loop.Serve).
func (s *Server) Serve(l net.Listener) error {
	s.init()
	if err := s.loop.Serve(l); !errors.Is(err, listen.ErrServerClosed) {
		return err
	}
	return ErrServerClosed
}

// handle serves one connection: through the front, or for LMTP, which
// runs between trusted hosts (no TLS, no AUTH), by go-smtp alone.
func (s *Server) handle(c net.Conn, done func()) {
	if s.Mode == LMTP {
		if !s.lis.push(&leavingConn{Conn: c, done: done}) {
			c.Close()
			done()
		}
		return
	}
	defer done()
	s.serveFront(c)
}

// refuse answers a connection over a cap (RFC 5321 §3.1: 421 in place of
// the greeting). On an implicit-TLS port the answer comes after the
// handshake, where the client can read it.
func (s *Server) refuse(c net.Conn, why listen.Reason) {
	if s.ImplicitTLS && s.Mode != LMTP {
		tc := tls.Server(c, s.TLSConfig)
		if tc.Handshake() != nil {
			return
		}
		c = tc
	}
	from := ""
	if why == listen.TooManyFromAddr {
		from = " from your address"
	}
	io.WriteString(c, "421 4.7.0 "+s.Hostname+" Too many connections"+from+", try again later\r\n")
}

// Close stops listening and closes every session.
func (s *Server) Close() error {
	s.init()
	err := s.loop.Close()
	s.lis.Close()
	if e := s.inner.Close(); err == nil && !errors.Is(e, gosmtp.ErrServerClosed) {
		err = e // go-smtp's own server is closed once, by Close or Shutdown
	}
	return err
}

// Shutdown stops listening and waits for sessions to end, until ctx ends
// (then it returns ctx's error); Close ends those left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	err := s.loop.Shutdown(ctx)
	s.lis.Close()
	if e := s.inner.Shutdown(ctx); err == nil && e != ctx.Err() && !errors.Is(e, gosmtp.ErrServerClosed) {
		err = e
	}
	return err
}

// leavingConn is an LMTP connection, served by go-smtp, which closes it
// at the end of the session: that frees its slot.
type leavingConn struct {
	net.Conn
	done func()
	once sync.Once
}

func (c *leavingConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.done)
	return err
}

// authAllowed: AUTH only over TLS, from loopback (unless StrictAuth), or
// when insecure auth is allowed (RFC 4954 §4 and §14).
func (s *Server) authAllowed(st *connState) bool {
	return s.Users != nil && (st.isTLS() || s.InsecureAuth || (!s.StrictAuth && isLoopback(st.remote)))
}

func isLoopback(a net.Addr) bool {
	if a == nil {
		return false
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}
