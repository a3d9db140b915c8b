package playground

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/mailhop/mailhop/sim/explain"
	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/trace"
	"github.com/mailhop/mailhop/sim/world"
)

// Session is a terminal's connection: what a telnet from one host of the
// world to a port of another shows. Lines the server sends come from
// Next, each with what it means (package explain). Once the server
// accepts STARTTLS (SMTP, LMTP), STLS (POP3) or "tag STARTTLS" (IMAP), the
// session does the TLS handshake, as openssl s_client -starttls would, so
// a learner can go on to AUTH; on the implicit-TLS ports (465, 993, 995)
// it starts with TLS.
type Session struct {
	ID     int    `json:"id"`
	From   string `json:"from"`
	To     string `json:"to"`
	Port   int    `json:"port"`
	Proto  string `json:"proto"`
	Server string `json:"server"` // the server's host name

	p      *Playground
	tlsCfg *tls.Config
	noTLS  bool
	raw    net.Conn

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
}

// ConnectOptions tune a session.
type ConnectOptions struct {
	// NoTLS makes the session a bare telnet: no TLS on any port, and
	// STARTTLS is left for the learner to see fail.
	NoTLS bool `json:"notls,omitempty"`
}

// ClosedError ends a session's lines.
type ClosedError struct{ Reason string }

func (e *ClosedError) Error() string { return "connection closed: " + e.Reason }

// Connect opens a connection from host from to port of host to (a name or
// an address of the world).
func (p *Playground) Connect(ctx context.Context, from, to string, port int, opt ConnectOptions) (*Session, error) {
	r, err := p.current()
	if err != nil {
		return nil, err
	}
	src := r.w.Hosts[from]
	if src == nil {
		return nil, fmt.Errorf("connect: no host %q in this world (hosts: %s)", from, strings.Join(hostNames(r.w), ", "))
	}
	dst := hostByNameOrAddr(r.w, to)
	if dst == nil {
		return nil, fmt.Errorf("connect: no host %q in this world (hosts: %s)", to, strings.Join(hostNames(r.w), ", "))
	}
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("connect: %d is not a TCP port (1 to 65535)", port)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := r.w.Connect(dctx, from, to, port)
	if err != nil {
		return nil, fmt.Errorf("connect %s → %s:%d: %w", from, dst.Spec.Name, port, err)
	}
	s := &Session{
		From: from, To: dst.Spec.Name, Port: port, Proto: trace.ProtoForPort(port), Server: dst.Spec.Name,
		p: p, tlsCfg: r.w.CA.ClientConfig(dst.Spec.Name), noTLS: opt.NoTLS, raw: conn, conn: conn,
		notify: make(chan struct{}),
	}
	s.push(Line{Dir: "info", Text: fmt.Sprintf("Trying %s...", addrOf(dst))})
	s.push(Line{Dir: "info", Text: fmt.Sprintf("Connected to %s (port %d) from %s (%s).", dst.Spec.Name, port, from, addrOf(src))})
	if !opt.NoTLS && implicitTLS(port) {
		if err := s.startTLS(dctx, "implicit TLS: this port speaks TLS from the first byte (RFC 8314)"); err != nil {
			conn.Close()
			return nil, fmt.Errorf("connect %s → %s:%d: TLS: %w", from, dst.Spec.Name, port, err)
		}
	}
	p.mu.Lock()
	if p.cur != r {
		p.mu.Unlock()
		conn.Close()
		return nil, errors.New("connect: the world was reset meanwhile")
	}
	p.nextSess++
	s.ID = p.nextSess
	p.sessions[s] = struct{}{}
	p.mu.Unlock()
	go s.read()
	return s, nil
}

func implicitTLS(port int) bool {
	return port == world.PortSubmissions || port == world.PortIMAPS || port == world.PortPOP3S
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
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
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
	s.mu.Unlock()
	s.push(Line{Dir: "recv", Text: text, Note: explain.Line(s.Proto, false, text), TLS: tlsOn})
	return decided && accept && !s.noTLS
}

// startTLS does the client's TLS handshake over the raw connection; its
// cleartext is reported to the trace as the other clients' is.
func (s *Session) startTLS(ctx context.Context, why string) error {
	tc := tls.Client(s.raw, s.tlsCfg)
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
	s.mu.Unlock()
	s.p.mu.Lock()
	delete(s.p.sessions, s)
	s.p.mu.Unlock()
}

// Send sends one line (CRLF is added) and returns it with its meaning.
// While a STARTTLS awaits its answer, Send waits for the handshake, so
// nothing cleartext slips in.
func (s *Session) Send(ctx context.Context, text string) (Line, error) {
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
	if _, err := io.WriteString(conn, text+"\r\n"); err != nil {
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
	s.close("closed by you")
	return nil
}

func (s *Session) close(why string) {
	s.mu.Lock()
	if s.byUs == "" {
		s.byUs = why
	}
	s.mu.Unlock()
	s.raw.Close()
	s.end(net.ErrClosed)
}
