package lesson

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/mua"
	"github.com/mailhop/mailhop/sim/terminal"
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
		c.Close()
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
		if err := c.send(ctx, *a.Send, a.EOL); err != nil {
			return err
		}
	case a.Close:
		c, err := r.current()
		if err != nil {
			return err
		}
		c.Close()
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

// termConn is a terminal connection (sim/terminal, as the playground's)
// and the server lines an expect has read, for its error messages.
type termConn struct {
	*terminal.Session
	seen []string // the server's lines read so far
}

func (r *Runner) connect(ctx context.Context, cs *Connect) (*termConn, error) {
	s, err := terminal.Dial(ctx, r.World, cs.From, cs.To, cs.Port, terminal.Options{Timeout: DefaultTimeout})
	if err != nil {
		return nil, err
	}
	return &termConn{Session: s}, nil
}

// send types one line; after a STARTTLS the session waits for the answer
// and the handshake, so that nothing cleartext slips in.
func (c *termConn) send(ctx context.Context, text, eol string) error {
	if _, err := c.SendEOL(ctx, text, eol); err != nil {
		var ce *terminal.ClosedError
		if errors.As(err, &ce) {
			return fmt.Errorf("the connection to %s is closed (%s)", c.Server, ce.Reason)
		}
		return fmt.Errorf("writing to %s: %w", c.Server, err)
	}
	return nil
}

// expect waits for a line from the server that matches re, after the
// lines earlier expects took.
func (c *termConn) expect(ctx context.Context, re interface{ MatchString(string) bool }, pattern string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := c.ReadUntil(ctx, func(l terminal.Line) bool {
		if l.Dir != "recv" {
			return false
		}
		c.seen = append(c.seen, l.Text)
		return re.MatchString(l.Text)
	})
	last := c.seen[max(0, len(c.seen)-3):]
	var ce *terminal.ClosedError
	switch {
	case errors.As(err, &ce):
		return fmt.Errorf("%s closed the connection (%s) before a line matching %q; last lines: %s", c.Server, ce.Reason, pattern, quoteLines(last))
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no line from %s matched %q within %v; last lines: %s", c.Server, pattern, timeout, quoteLines(last))
	}
	return err
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
