package playground

import (
	"context"
	"errors"

	"github.com/mailhop/mailhop/sim/terminal"
)

// Session is a terminal of the page: a sim/terminal session on the
// running world, numbered for the page.
type Session struct {
	ID int `json:"id"`
	*terminal.Session
}

// The terminal's types, as the page's API speaks of them.
type (
	Line        = terminal.Line
	ClosedError = terminal.ClosedError
	DialError   = terminal.DialError
)

// ConnectOptions tune a session.
type ConnectOptions struct {
	// NoTLS makes the session a bare telnet: no TLS on any port, and
	// STARTTLS is left for the learner to see fail.
	NoTLS bool `json:"notls,omitempty"`
}

// Connect opens a connection from host from to port of to (a host's name
// or any address) in the running world. While the clock is paused, a line
// typed says so.
func (p *Playground) Connect(ctx context.Context, from, to string, port int, opt ConnectOptions) (*Session, error) {
	r, err := p.current()
	if err != nil {
		return nil, err
	}
	ts, err := terminal.Dial(ctx, r.w, from, to, port, terminal.Options{
		NoTLS: opt.NoTLS, Paused: func() bool { return !r.drv.Playing() }})
	if err != nil {
		return nil, err
	}
	s := &Session{Session: ts}
	p.mu.Lock()
	if p.cur != r {
		p.mu.Unlock()
		ts.Close()
		return nil, errors.New("connect: the world was reset meanwhile")
	}
	p.nextSess++
	s.ID = p.nextSess
	p.sessions[s] = struct{}{}
	p.mu.Unlock()
	go func() {
		<-ts.Done()
		p.mu.Lock()
		delete(p.sessions, s)
		p.mu.Unlock()
	}()
	return s, nil
}
