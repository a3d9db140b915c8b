// Package terminal is telnet into a world: a connection from one host of
// the world to a port of another, line by line, as a learner's terminal
// shows it. The lines sent and the lines received come in wire order (a
// command before its reply), each with what it means (package explain);
// the session does the TLS handshake after an accepted STARTTLS, STLS or
// "tag STARTTLS" (as openssl s_client -starttls) and on the implicit-TLS
// ports; it tells when the world's clock is paused and when a failed
// login's answer was delayed on purpose. A connection that can not be made
// is a *DialError, worded as telnet words it.
//
// The playground's terminals (wasm/playground) and the headless lesson
// runner (sim/lesson) both talk through it.
package terminal

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/explain"
	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/service"
	"github.com/mailhop/mailhop/sim/trace"
	"github.com/mailhop/mailhop/sim/world"
)

// Session is a terminal's connection. Lines come from Next: those the
// server sends, those the terminal sends (before it sends them), and what
// the terminal itself says.
type Session struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Port   int    `json:"port"`
	Proto  string `json:"proto"`
	Server string `json:"server"` // the server's host name

	clock   clock.Clock
	paused  func() bool
	tlsCfg  func() *tls.Config // made at the handshake: a plain session never waits for the world CA
	noTLS   bool
	timeout time.Duration
	raw     net.Conn
	done    chan struct{} // closed when the connection has ended

	wmu sync.Mutex // one write at a time

	mu      sync.Mutex
	conn    net.Conn // raw, or TLS over it
	tlsOn   bool
	pending string        // the STARTTLS awaiting its answer: "smtp", "pop3", or the IMAP tag
	gate    chan struct{} // closed when the STARTTLS answer is known (nil: none pending)
	inData  bool          // SMTP/LMTP DATA: lines are the message until "."
	lines   []Line
	notify  chan struct{} // closed and replaced when lines or the end arrive
	ended   bool
	reason  string
	byUs    string // why we closed it, if we did
	// login is when a login command was sent and its answer is awaited
	// (zero: none), to tell a failed login's deliberate delay.
	login time.Time
	// challenged: the server's last line asked for more of an AUTH
	// exchange (334, "+ "): the next line is a credential.
	challenged bool
	// pausedTold: the learner was told the clock is paused, and no line
	// was sent while it played since.
	pausedTold bool
}

// Line is one line of a session.
type Line struct {
	// Dir: "recv" (the server sent it), "send" (the terminal sent it),
	// or "info" (what the terminal itself says: connected, TLS started).
	Dir  string `json:"dir"`
	Text string `json:"text"`
	// Note says what the line means, with its RFC section.
	Note string `json:"note,omitempty"`
	TLS  bool   `json:"tls,omitempty"`
	// Data is true while the session is in DATA mode after this line:
	// what is typed is the message, until a line holding only ".".
	Data bool `json:"data,omitempty"`
	// EOL is "lf" for a line sent with a bare LF.
	EOL string `json:"eol,omitempty"`
}

// Options tune a session.
type Options struct {
	// NoTLS makes the session a bare telnet: no TLS on any port, and
	// STARTTLS is left for the learner to see fail.
	NoTLS bool
	// Paused reports whether the world's clock stands still (nil:
	// never): the first line typed then says so.
	Paused func() bool
	// Timeout bounds the dial and each TLS handshake (30 s when 0).
	Timeout time.Duration
}

// ClosedError ends a session's lines.
type ClosedError struct{ Reason string }

func (e *ClosedError) Error() string { return "connection closed: " + e.Reason }

// Dial opens a connection from host from to port of to (a host's name,
// or any address: one that no host has shows "no route to host").
func Dial(ctx context.Context, w *world.World, from, to string, port int, opt Options) (*Session, error) {
	src := w.Hosts[from]
	if src == nil {
		return nil, fmt.Errorf("connect: no host %q in this world (hosts: %s)", from, strings.Join(hostNames(w), ", "))
	}
	name, addr := to, to
	if dst := hostByNameOrAddr(w, to); dst != nil {
		name, addr = dst.Spec.Name, addrOf(dst)
	} else if _, err := netip.ParseAddr(to); err != nil {
		return nil, fmt.Errorf("connect: no host %q in this world (hosts: %s; or type an IP address)", to, strings.Join(hostNames(w), ", "))
	}
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("connect: %d is not a TCP port (1 to 65535)", port)
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := w.Connect(dctx, from, to, port)
	if err != nil {
		return nil, &DialError{Trying: fmt.Sprintf("Trying %s...", addr), Reason: dialReason(err), Note: dialNote(err, name, port), Err: err}
	}
	s := &Session{
		From: from, To: name, Port: port, Proto: trace.ProtoForPort(port), Server: name,
		tlsCfg: func() *tls.Config { return w.CA.ClientConfig(name) }, noTLS: opt.NoTLS, timeout: timeout, raw: conn, conn: conn,
		clock: w.Clock, paused: opt.Paused, done: make(chan struct{}),
		notify: make(chan struct{}),
	}
	s.push(Line{Dir: "info", Text: fmt.Sprintf("Trying %s...", addr)})
	s.push(Line{Dir: "info", Text: fmt.Sprintf("Connected to %s (port %d) from %s (%s).", name, port, from, addrOf(src))})
	if !opt.NoTLS && implicitTLS(port) {
		if err := s.startTLS(dctx, "implicit TLS: this port speaks TLS from the first byte (RFC 8314)"); err != nil {
			conn.Close()
			return nil, fmt.Errorf("connect %s → %s:%d: TLS: %w", from, name, port, err)
		}
	}
	go s.read()
	return s, nil
}

// Done is closed when the connection has ended (its last lines may still
// wait in Next).
func (s *Session) Done() <-chan struct{} { return s.done }

// DialError is a connection that could not be made, told as telnet tells
// it ("Unable to connect to remote host: Connection refused") with what
// it means.
type DialError struct {
	Trying string `json:"trying"` // "Trying 198.51.100.25..."
	Reason string `json:"reason"` // "Connection refused", "No route to host"
	Note   string `json:"note"`   // why, for a learner
	Err    error  `json:"-"`
}

// Error says what telnet says, then " — " and why.
func (e *DialError) Error() string {
	if e.Note == "" {
		return "Unable to connect to remote host: " + e.Reason
	}
	return "Unable to connect to remote host: " + e.Reason + " — " + e.Note
}

func (e *DialError) Unwrap() error { return e.Err }

func dialReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "Connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "No route to host"
	case errors.Is(err, syscall.ENETDOWN):
		return "Network is down"
	case errors.Is(err, context.DeadlineExceeded):
		return "Connection timed out"
	}
	return err.Error()
}

func dialNote(err error, host string, port int) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("%s answered the TCP handshake with a reset (RST): the host is up, but nothing listens on port %d, or the port refuses connections (RFC 9293 §3.5.2)", host, port)
	case errors.Is(err, syscall.EHOSTUNREACH):
		return fmt.Sprintf("no packet reaches %s: it is down, the link to it is cut, or no host has that address; the network says the host is unreachable (ICMP, RFC 792)", host)
	case errors.Is(err, syscall.ENETDOWN):
		return "the host you dial from is down: it has no network at all"
	}
	return ""
}

// implicitTLS reports whether a port's service starts with TLS.
func implicitTLS(port int) bool {
	for _, s := range service.All {
		if s.Port == port {
			return s.ImplicitTLS
		}
	}
	return false
}

// hostByNameOrAddr finds a host of the world by its name or an address.
func hostByNameOrAddr(w *world.World, s string) *world.Host {
	if h := w.Hosts[s]; h != nil {
		return h
	}
	for _, h := range w.Hosts {
		if slices.Contains(h.Spec.Addrs, s) {
			return h
		}
	}
	return nil
}

// addrOf returns a host's first address.
func addrOf(h *world.Host) string {
	if len(h.Spec.Addrs) == 0 {
		return ""
	}
	return h.Spec.Addrs[0]
}

func hostNames(w *world.World) []string {
	var out []string
	for _, h := range w.Spec.Hosts {
		out = append(out, h.Name)
	}
	return out
}

func (s *Session) push(l Line) {
	s.mu.Lock()
	l.Data = s.inData
	s.lines = append(s.lines, l)
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

// Next returns the next line of the session, waiting for one. After the
// last line it returns a *ClosedError saying why the connection ended.
func (s *Session) Next(ctx context.Context) (Line, error) {
	for {
		s.mu.Lock()
		if len(s.lines) > 0 {
			l := s.lines[0]
			s.lines = s.lines[1:]
			s.mu.Unlock()
			return l, nil
		}
		if s.ended {
			reason := s.reason
			s.mu.Unlock()
			return Line{}, &ClosedError{Reason: reason}
		}
		ch := s.notify
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Line{}, ctx.Err()
		}
	}
}

// ReadUntil reads lines (with Next) until match takes one, and returns
// it: a script's "wait for the 250".
func (s *Session) ReadUntil(ctx context.Context, match func(Line) bool) (Line, error) {
	for {
		l, err := s.Next(ctx)
		if err != nil {
			return Line{}, err
		}
		if match(l) {
			return l, nil
		}
	}
}

// read reads the server's lines until the connection ends.
func (s *Session) read() {
	s.mu.Lock()
	br := bufio.NewReader(s.conn)
	s.mu.Unlock()
	for {
		text, err := br.ReadString('\n')
		if text != "" {
			text = strings.TrimRight(text, "\r\n")
			if s.reply(text) {
				ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
				herr := s.startTLS(ctx, "")
				cancel()
				s.mu.Lock()
				if s.gate != nil {
					close(s.gate)
					s.gate = nil
				}
				s.mu.Unlock()
				if herr != nil {
					s.push(Line{Dir: "info", Text: "TLS handshake failed: " + herr.Error()})
					s.raw.Close()
					s.end(herr)
					return
				}
				s.mu.Lock()
				br = bufio.NewReader(s.conn)
				s.mu.Unlock()
			}
		}
		if err != nil {
			s.end(err)
			return
		}
	}
}

// reply records a line from the server and reports whether it accepts a
// pending STARTTLS.
func (s *Session) reply(text string) (upgrade bool) {
	s.mu.Lock()
	tlsOn := s.tlsOn
	if (s.Proto == "smtp" || s.Proto == "lmtp") && strings.HasPrefix(text, "354") {
		s.inData = true
	}
	decided, accept := false, false
	if s.pending != "" {
		switch s.Proto {
		case "smtp", "lmtp":
			if len(text) < 4 || text[3] != '-' {
				decided, accept = true, strings.HasPrefix(text, "220")
			}
		case "pop3":
			if strings.HasPrefix(text, "+OK") || strings.HasPrefix(text, "-ERR") {
				decided, accept = true, strings.HasPrefix(text, "+OK")
			}
		case "imap":
			if tag, rest, ok := strings.Cut(text, " "); ok && tag == s.pending {
				decided, accept = true, strings.HasPrefix(strings.ToUpper(rest), "OK")
			}
		}
	}
	if decided {
		s.pending = ""
		if !accept && s.gate != nil {
			close(s.gate)
			s.gate = nil
		}
	}
	s.challenged = (s.Proto == "smtp" || s.Proto == "lmtp") && strings.HasPrefix(text, "334") ||
		(s.Proto == "pop3" || s.Proto == "imap") && strings.HasPrefix(text, "+ ") && !s.inData
	var waited time.Duration
	if !s.login.IsZero() && isFinalReply(s.Proto, text) {
		if loginFailed(s.Proto, text) {
			waited = s.clock.Now().Sub(s.login)
		}
		s.login = time.Time{}
	}
	s.mu.Unlock()
	s.push(Line{Dir: "recv", Text: text, Note: explain.Line(s.Proto, false, text), TLS: tlsOn})
	if waited >= 500*time.Millisecond {
		s.push(Line{Dir: "info", Text: fmt.Sprintf("The server waited %.1f s before this answer.", waited.Seconds()),
			Note: "a deliberate delay after a failed login: each wrong password makes the next answer slower, so guessing passwords is too slow to succeed (RFC 4954 §4, RFC 2595 §5)"})
	}
	return decided && accept && !s.noTLS
}

// isFinalReply reports whether a server line ends a reply: SMTP's last
// line, POP3's status line, IMAP's tagged status.
func isFinalReply(proto, text string) bool {
	switch proto {
	case "smtp", "lmtp":
		return len(text) >= 4 && text[3] == ' ' || len(text) == 3
	case "pop3":
		return strings.HasPrefix(text, "+OK") || strings.HasPrefix(text, "-ERR")
	case "imap":
		return !strings.HasPrefix(text, "* ") && !strings.HasPrefix(text, "+ ")
	}
	return true
}

func loginFailed(proto, text string) bool {
	switch proto {
	case "smtp", "lmtp":
		return strings.HasPrefix(text, "535") || strings.HasPrefix(text, "454")
	case "pop3":
		return strings.HasPrefix(text, "-ERR")
	case "imap":
		_, rest, _ := strings.Cut(text, " ")
		return strings.HasPrefix(strings.ToUpper(rest), "NO")
	}
	return false
}

// isLogin reports whether a command line sends a password: the answer may
// be delayed on purpose if it is wrong.
func isLogin(proto, text string, afterChallenge bool) bool {
	f := strings.Fields(strings.ToUpper(text))
	if len(f) == 0 {
		return afterChallenge
	}
	switch proto {
	case "smtp", "lmtp":
		return afterChallenge || f[0] == "AUTH" && len(f) >= 3
	case "pop3":
		return f[0] == "PASS" || f[0] == "APOP" || f[0] == "AUTH" && len(f) >= 3 || afterChallenge
	case "imap":
		return len(f) >= 2 && (f[1] == "LOGIN" || f[1] == "AUTHENTICATE") || afterChallenge
	}
	return false
}

// startTLS does the client's TLS handshake over the raw connection; its
// cleartext is reported to the trace as the other clients' is.
func (s *Session) startTLS(ctx context.Context, why string) error {
	tc := tls.Client(s.raw, s.tlsCfg())
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	cs := tc.ConnectionState()
	s.mu.Lock()
	s.conn = netx.PlainTap(s.raw, tc, true)
	s.tlsOn = true
	s.mu.Unlock()
	text := fmt.Sprintf("TLS started: %s, %s, certificate of %s checked.", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite), s.Server)
	note := why
	if note == "" {
		note = "from here on the wire carries only encrypted records; the terminal shows the cleartext (RFC 3207 §4, RFC 8446)"
		if s.Proto == "smtp" || s.Proto == "lmtp" {
			note += "; say EHLO again: the server forgets what was said before TLS (RFC 3207 §4.2)"
		}
	}
	s.push(Line{Dir: "info", Text: text, Note: note, TLS: true})
	return nil
}

// end records why the connection ended.
func (s *Session) end(err error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	reason := s.byUs
	switch {
	case reason != "":
	case errors.Is(err, io.EOF):
		reason = "closed by the server"
	case errors.Is(err, net.ErrClosed):
		reason = "closed"
	default:
		reason = err.Error()
	}
	s.ended, s.reason = true, reason
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
	close(s.notify)
	s.notify = make(chan struct{})
	close(s.done)
	s.mu.Unlock()
}

// Send sends one line (CRLF is added) and returns it with its meaning.
// While a STARTTLS awaits its answer, Send waits for the handshake, so
// nothing cleartext slips in.
func (s *Session) Send(ctx context.Context, text string) (Line, error) {
	return s.SendEOL(ctx, text, "")
}

// SendEOL is Send with a choice of line end: "" or "crlf" (CRLF, as the
// protocols demand), or "lf" (a bare LF, as nc without -C sends: the
// smuggling lesson shows what a strict server does with it).
func (s *Session) SendEOL(ctx context.Context, text, eol string) (Line, error) {
	end := "\r\n"
	switch eol {
	case "", "crlf":
	case "lf":
		end = "\n"
	default:
		return Line{}, fmt.Errorf("send: line end %q: want crlf or lf", eol)
	}
	if strings.ContainsAny(text, "\r\n") {
		return Line{}, errors.New("send: one line at a time (no CR or LF inside)")
	}
	for {
		s.mu.Lock()
		if s.ended {
			reason := s.reason
			s.mu.Unlock()
			return Line{}, &ClosedError{Reason: reason}
		}
		gate := s.gate
		s.mu.Unlock()
		if gate == nil {
			break
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return Line{}, ctx.Err()
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	l := Line{Dir: "send", Text: text, TLS: s.tlsOn}
	if s.inData {
		if text == "." {
			s.inData = false
			l.Note = "a line holding only a dot ends the message; the server answers for the whole message (RFC 5321 §4.1.1.4)"
		} else {
			l.Note = "a line of the message itself: header fields, then an empty line, then the body (RFC 5322 §2.1); a line starting with a dot must be sent with one more dot (RFC 5321 §4.5.2)"
		}
	} else {
		l.Note = explain.Line(s.Proto, true, text)
		if !s.noTLS && isStartTLS(s.Proto, text) {
			s.pending = s.Proto
			if s.Proto == "imap" {
				s.pending, _, _ = strings.Cut(strings.TrimSpace(text), " ")
			}
			s.gate = make(chan struct{})
		}
	}
	l.Data = s.inData
	conn := s.conn
	s.mu.Unlock()
	if end == "\n" {
		l.Note = "this line ends with a bare LF, not CRLF: a strict server refuses it, since servers that took LF alone for a line end could be fooled into reading a second, smuggled message (RFC 5321 §2.3.8, §4.1.1.4)"
		l.EOL = "lf"
	}
	return s.write(conn, l, text+end)
}

// write shows a line the terminal sends, then sends it: the session's
// lines are in wire order, each command before its reply.
func (s *Session) write(conn net.Conn, l Line, wire string) (Line, error) {
	s.mu.Lock()
	if l.Dir == "send" && !l.Data && isLogin(s.Proto, l.Text, s.challenged) {
		s.login = s.clock.Now()
	}
	paused := s.paused != nil && s.paused()
	tell := paused && !s.pausedTold
	s.pausedTold = paused // once per pause
	s.mu.Unlock()
	s.push(l)
	if tell {
		s.push(Line{Dir: "info", Text: "The clock is paused: the server still answers, but whatever takes time waits for Play or Step.",
			Note: "the whole world runs on a virtual clock: while it is paused, nothing scheduled happens — a delayed answer (after a failed login), a timeout, the queue's next attempt"})
	}
	if _, err := io.WriteString(conn, wire); err != nil {
		return Line{}, fmt.Errorf("send: %w", err)
	}
	return l, nil
}

func isStartTLS(proto, text string) bool {
	f := strings.Fields(strings.ToUpper(text))
	switch proto {
	case "smtp", "lmtp":
		return len(f) == 1 && f[0] == "STARTTLS"
	case "pop3":
		return len(f) == 1 && f[0] == "STLS"
	case "imap":
		return len(f) == 2 && f[1] == "STARTTLS"
	}
	return false
}

// Close closes the connection from the terminal's side.
func (s *Session) Close() error {
	s.Hangup("closed by you")
	return nil
}

// Hangup closes the connection, saying why ("the world was reset").
func (s *Session) Hangup(why string) {
	s.mu.Lock()
	if s.byUs == "" {
		s.byUs = why
	}
	s.mu.Unlock()
	s.raw.Close()
	s.end(net.ErrClosed)
}
