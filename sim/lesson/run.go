package lesson

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

	"github.com/mailhop/mailhop/sim/mua"
	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/trace"
	"github.com/mailhop/mailhop/sim/world"
)

// DefaultTimeout bounds how long (wall time) an expect waits for its line.
const DefaultTimeout = 10 * time.Second

// SettleLimit is how much virtual time Verify lets a world run after the
// solution, to finish its deliveries.
const SettleLimit = time.Minute

// Runner performs a lesson's actions on a world, headless: it types into
// connections as the playground's terminal does (with the TLS handshake
// after an accepted STARTTLS, STLS or "tag STARTTLS"), moves the virtual
// clock, sends mail through the MUA and injects faults.
type Runner struct {
	World *world.World
	// Driver, when set, moves the clock (the playground's), so that an
	// advance never races its ticks.
	Driver *world.Driver
	// Timeout bounds each expect (DefaultTimeout when 0).
	Timeout time.Duration

	conns []*termConn
}

// RunSetup performs a lesson's setup on w.
func RunSetup(ctx context.Context, l *Lesson, w *world.World) error {
	r := &Runner{World: w}
	defer r.Close()
	return r.Run(ctx, "setup", l.Setup)
}

// RunSolution performs a lesson's solution on w and closes the
// connections it opened.
func RunSolution(ctx context.Context, l *Lesson, w *world.World) error {
	r := &Runner{World: w}
	defer r.Close()
	return r.Run(ctx, "solution", l.Solution)
}

// Verify checks a lesson the way a teacher would try it: it builds the
// lesson's world, runs the setup and the solution, lets the world settle
// (deliveries, at most SettleLimit of virtual time) and evaluates the
// checks on the events since the setup. An error means the lesson could
// not be run (its world, an action that failed); failing checks are in
// the results.
func Verify(ctx context.Context, l *Lesson) ([]Result, error) {
	if err := l.Check(); err != nil {
		return nil, err
	}
	if len(l.Solution) == 0 {
		return nil, fmt.Errorf("lesson %q has no solution to try", l.ID)
	}
	spec, err := l.Spec()
	if err != nil {
		return nil, err
	}
	w, err := world.New(spec)
	if err != nil {
		return nil, fmt.Errorf("lesson %q: world: %w", l.ID, err)
	}
	defer w.Close()
	w.Settle()
	start := w.Trace.Last()
	if err := RunSetup(ctx, l, w); err != nil {
		return nil, fmt.Errorf("lesson %q: %w", l.ID, err)
	}
	if err := RunSolution(ctx, l, w); err != nil {
		return nil, fmt.Errorf("lesson %q: %w", l.ID, err)
	}
	w.RunUntilQuiet(SettleLimit)
	return l.Evaluate(w.Trace.Since(start), w), nil
}

// Run performs actions in order; what names them in errors ("solution").
func (r *Runner) Run(ctx context.Context, what string, actions []Action) error {
	for i := range actions {
		if err := r.do(ctx, &actions[i]); err != nil {
			return fmt.Errorf("%s action %d (%s): %w", what, i+1, actions[i].String(), err)
		}
	}
	return nil
}

// String describes an action in a few words, for error messages.
func (a *Action) String() string {
	var s string
	switch {
	case a.Connect != nil:
		s = fmt.Sprintf("connect %s → %s:%d", a.Connect.From, a.Connect.To, a.Connect.Port)
	case a.Send != nil:
		s = fmt.Sprintf("send %q", *a.Send)
		if a.EOL == "lf" {
			s += " with a bare LF"
		}
	case a.Close:
		s = "close"
	case a.Advance != "":
		s = "advance " + a.Advance
	case a.Mail != nil:
		s = fmt.Sprintf("mail from %s to %s", a.Mail.From, strings.Join(a.Mail.To, ", "))
	case a.Fault != nil:
		s = fmt.Sprintf("fault %s %s", a.Fault.Kind, a.Fault.Host)
	}
	if a.Expect != "" {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("expect %q", a.Expect)
	}
	return s
}

// Close closes every connection the runner opened.
func (r *Runner) Close() {
	for _, c := range r.conns {
		c.close()
	}
	r.conns = nil
}

func (r *Runner) current() (*termConn, error) {
	if len(r.conns) == 0 {
		return nil, errors.New("no connection is open: connect first")
	}
	return r.conns[len(r.conns)-1], nil
}

func (r *Runner) do(ctx context.Context, a *Action) error {
	if a.expect == nil && a.Expect != "" || a.Advance != "" && a.Advance != "retry" && a.adv == 0 {
		return errors.New("the lesson was not checked (call Check or Parse first)")
	}
	w := r.World
	switch {
	case a.Connect != nil:
		c, err := r.connect(ctx, a.Connect)
		if err != nil {
			return err
		}
		r.conns = append(r.conns, c)
	case a.Send != nil:
		c, err := r.current()
		if err != nil {
			return err
		}
		eol := "\r\n"
		if a.EOL == "lf" {
			eol = "\n"
		}
		if err := c.send(ctx, *a.Send, eol); err != nil {
			return err
		}
	case a.Close:
		c, err := r.current()
		if err != nil {
			return err
		}
		c.close()
		r.conns = r.conns[:len(r.conns)-1]
	case a.Advance == "retry":
		next, ok := w.NextRetry()
		if !ok {
			return errors.New("no message waits in any queue, so there is no retry to advance to")
		}
		if r.Driver != nil {
			r.Driver.AdvanceTo(next)
		} else {
			w.Clock.AdvanceTo(next)
			w.Settle()
		}
	case a.Advance != "":
		if r.Driver != nil {
			if _, err := r.Driver.Advance(a.adv); err != nil {
				return err
			}
		} else {
			w.Advance(a.adv)
		}
	case a.Mail != nil:
		m := mua.Mail{From: a.Mail.From, To: a.Mail.To, Subject: a.Mail.Subject, Body: a.Mail.Body}
		if _, err := w.Send(ctx, m); err != nil {
			return err
		}
		w.Settle()
	case a.Fault != nil:
		if err := w.Fault(*a.Fault); err != nil {
			return err
		}
		w.Settle()
	}
	if a.expect != nil {
		c, err := r.current()
		if err != nil {
			return err
		}
		timeout := r.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		return c.expect(ctx, a.expect, a.Expect, timeout)
	}
	return nil
}

// termConn is a terminal's connection: lines from the server are kept in
// order; an accepted STARTTLS is followed by the TLS handshake.
type termConn struct {
	proto  string
	server string
	raw    net.Conn
	tlsCfg *tls.Config

	wmu sync.Mutex

	mu      sync.Mutex
	conn    net.Conn
	lines   []string
	pos     int           // the next line an expect looks at
	pending string        // a STARTTLS awaiting its answer: the proto, or the IMAP tag
	gate    chan struct{} // closed once that answer (and handshake) is done
	notify  chan struct{}
	ended   bool
	reason  string
}

func (r *Runner) connect(ctx context.Context, cs *Connect) (*termConn, error) {
	w := r.World
	server := cs.To
	for _, h := range w.Spec.Hosts {
		for _, a := range h.Addrs {
			if a == cs.To {
				server = h.Name
			}
		}
	}
	dctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	raw, err := w.Connect(dctx, cs.From, cs.To, cs.Port)
	if err != nil {
		return nil, err
	}
	c := &termConn{proto: trace.ProtoForPort(cs.Port), server: server, raw: raw, conn: raw,
		tlsCfg: w.CA.ClientConfig(server), notify: make(chan struct{})}
	switch cs.Port {
	case world.PortSubmissions, world.PortIMAPS, world.PortPOP3S:
		if err := c.handshake(dctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS: %w", err)
		}
	}
	go c.read()
	return c, nil
}

func (c *termConn) handshake(ctx context.Context) error {
	tc := tls.Client(c.raw, c.tlsCfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	c.conn = netx.PlainTap(c.raw, tc, true)
	c.mu.Unlock()
	return nil
}

func (c *termConn) read() {
	c.mu.Lock()
	br := bufio.NewReader(c.conn)
	c.mu.Unlock()
	for {
		text, err := br.ReadString('\n')
		if text != "" {
			text = strings.TrimRight(text, "\r\n")
			if c.line(text) {
				ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
				herr := c.handshake(ctx)
				cancel()
				c.mu.Lock()
				if c.gate != nil {
					close(c.gate)
					c.gate = nil
				}
				br = bufio.NewReader(c.conn)
				c.mu.Unlock()
				if herr != nil {
					c.raw.Close()
					c.end("TLS handshake failed: " + herr.Error())
					return
				}
			}
		}
		if err != nil {
			reason := err.Error()
			if errors.Is(err, io.EOF) {
				reason = "closed by the server"
			}
			c.end(reason)
			return
		}
	}
}

// line records a server line and reports whether it accepts a pending
// STARTTLS.
func (c *termConn) line(text string) (upgrade bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, text)
	close(c.notify)
	c.notify = make(chan struct{})
	if c.pending == "" {
		return false
	}
	decided, accept := false, false
	switch c.proto {
	case "smtp", "lmtp":
		if len(text) < 4 || text[3] != '-' {
			decided, accept = true, strings.HasPrefix(text, "220")
		}
	case "pop3":
		if strings.HasPrefix(text, "+OK") || strings.HasPrefix(text, "-ERR") {
			decided, accept = true, strings.HasPrefix(text, "+OK")
		}
	case "imap":
		if tag, rest, ok := strings.Cut(text, " "); ok && tag == c.pending {
			decided, accept = true, strings.HasPrefix(strings.ToUpper(rest), "OK")
		}
	}
	if decided {
		c.pending = ""
		if !accept && c.gate != nil {
			close(c.gate)
			c.gate = nil
		}
	}
	return decided && accept
}

func (c *termConn) end(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	c.ended, c.reason = true, reason
	if c.gate != nil {
		close(c.gate)
		c.gate = nil
	}
	close(c.notify)
	c.notify = make(chan struct{})
}

func (c *termConn) close() {
	c.raw.Close()
	c.end("closed by you")
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

// send writes one line; after a STARTTLS it waits for the answer and the
// handshake, so that nothing cleartext slips in.
func (c *termConn) send(ctx context.Context, text, eol string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for {
		c.mu.Lock()
		if c.ended {
			reason := c.reason
			c.mu.Unlock()
			return fmt.Errorf("the connection to %s is closed (%s)", c.server, reason)
		}
		gate := c.gate
		c.mu.Unlock()
		if gate == nil {
			break
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	if isStartTLS(c.proto, text) {
		c.pending = c.proto
		if c.proto == "imap" {
			c.pending, _, _ = strings.Cut(strings.TrimSpace(text), " ")
		}
		c.gate = make(chan struct{})
	}
	conn := c.conn
	c.mu.Unlock()
	if _, err := io.WriteString(conn, text+eol); err != nil {
		return fmt.Errorf("writing to %s: %w", c.server, err)
	}
	return nil
}

// expect waits for a line from the server that matches re, after the
// lines earlier expects took.
func (c *termConn) expect(ctx context.Context, re interface{ MatchString(string) bool }, pattern string, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for c.pos < len(c.lines) {
			l := c.lines[c.pos]
			c.pos++
			if re.MatchString(l) {
				c.mu.Unlock()
				return nil
			}
		}
		ended, reason, ch := c.ended, c.reason, c.notify
		last := c.lines[max(0, len(c.lines)-3):]
		c.mu.Unlock()
		if ended {
			return fmt.Errorf("%s closed the connection (%s) before a line matching %q; last lines: %s", c.server, reason, pattern, quoteLines(last))
		}
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("no line from %s matched %q within %v; last lines: %s", c.server, pattern, timeout, quoteLines(last))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func quoteLines(ls []string) string {
	if len(ls) == 0 {
		return "(none)"
	}
	q := make([]string, len(ls))
	for i, l := range ls {
		q[i] = fmt.Sprintf("%q", l)
	}
	return strings.Join(q, ", ")
}
