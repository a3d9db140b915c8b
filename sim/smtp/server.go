// Package smtp holds mailhop's SMTP agents: the message submission agent (MSA, RFC 6409: ports 587 and 465), the inbound MTA of a
// domain's MX (port 25: mail for its own domains only, never an open
// relay), and the LMTP server of a mail delivery agent (RFC 2033).
//
// Each agent is a Server with a Mode; Serve(l) runs it on any listener, of
// the simulated network or of real sockets. The server's state machine is
// written here (conn.go says why); go-smtp is the client (Dial, and the
// queue's deliveries).
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
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

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

// Arrival is a message the MX has read, for Server.Check: the client's
// address, what it said in EHLO and MAIL FROM, and the message (with the
// Received field this server adds).
type Arrival struct {
	IP       netip.Addr
	Helo     string
	MailFrom string
	Msg      []byte
}

// Verdict is Server.Check's judgment of an Arrival.
type Verdict struct {
	// Header is added on top of the message (each field ending in CRLF).
	Header []byte
	// Code, when not 0, refuses the message at the final dot with this
	// reply code (550 or 451), enhanced status code (5.7.1, 4.7.0...)
	// and text, which says why.
	Code int
	Enh  string
	Text string
}

// Enqueuer takes accepted messages: a queue. Enqueue returns only once the
// message is safe (durable when the queue's spool is). An error is a
// local failure (451 4.3.0), unless it is a *Refusal.
type Enqueuer interface {
	Enqueue(from string, to []string, body []byte) (id string, err error)
}

// Refusal is an error an Enqueuer returns to refuse a message with a
// reply of its own rather than a local failure's 451: 554 5.4.6 for a
// message that has crossed too many hops (a mail loop, RFC 5321 §6.3).
type Refusal struct {
	Code int
	Enh  string
	Text string
}

func (r *Refusal) Error() string { return fmt.Sprintf("%d %s %s", r.Code, r.Enh, r.Text) }

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
	// Sign, when set, signs each message the MSA accepts (DKIM, RFC
	// 6376): given the sender and the message as it will be queued, less
	// this server's Received field, it returns the header fields to put
	// on top of it. An error leaves the message unsigned and refuses it
	// for now (451 4.7.0): mail that would go out unsigned is not sent.
	Sign func(ctx context.Context, from string, msg []byte) ([]byte, error)
	// Check, when set, judges each message the MX receives from another
	// host before it is queued (SPF, DKIM, DMARC): it may refuse it, and
	// gives the header fields to put on top (Authentication-Results).
	Check func(ctx context.Context, a Arrival) Verdict

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

	once sync.Once
	loop listen.Loop
}

const (
	defaultMaxMessage    = 25 << 20
	defaultMaxRecipients = 100
)

// ErrServerClosed is returned by Serve after Close or Shutdown: it is
// listen.ErrServerClosed, the one error of every mailhop server.
var ErrServerClosed = listen.ErrServerClosed

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
	return s.loop.Serve(l)
}

// handle serves one connection.
func (s *Server) handle(c net.Conn, done func()) {
	defer done()
	s.serveConn(c)
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
	return s.loop.Close()
}

// Shutdown stops listening, tells each session waiting for a command that
// the server is going away (421 4.3.2), lets a session in the middle of
// a command finish it, and waits for every session to end, until ctx
// ends: then Close ends those left and Shutdown returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	err := s.loop.Shutdown(ctx)
	if e := ctx.Err(); e != nil && errors.Is(err, e) {
		s.loop.Close()
	}
	return err
}

// authAllowed: AUTH only over TLS, from loopback (unless StrictAuth), or
// when insecure auth is allowed (RFC 4954 §4 and §14).
func (s *Server) authAllowed(c *conn) bool {
	return s.Users != nil && (c.isTLS() || s.InsecureAuth || (!s.StrictAuth && listen.ClientAddr(c.remote).IsLoopback()))
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}
