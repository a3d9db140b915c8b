// Package listen is the listener lifecycle of mailhop's servers, written
// once for SMTP, POP3 and IMAP, on the simulated network and on real
// sockets alike: the accept loop, which rides out a temporary failure
// (out of file descriptors: EMFILE, ENFILE) by backing off and keeps
// serving; a cap on the connections served at once and one per client
// address, with the protocol's own answer to a connection over a cap;
// Close, and Shutdown(ctx), which interrupts the sessions waiting for a
// command; and the one ErrServerClosed every server's Serve returns once
// it is closed.
//
// A server sets a Loop's fields (Handle serves one connection, Refuse
// answers one over a cap) and calls Serve with each of its listeners;
// its sessions mark their waits for a command with Idle.
package listen

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// ErrServerClosed is returned by Serve after Close or Shutdown. The
// servers' own ErrServerClosed (pop3, imap, smtp) are this error.
var ErrServerClosed = errors.New("server closed")

// Defaults of a Loop's zero-valued caps. They suit both faces: the
// simulation's hosts open a handful of connections each, and on a real
// server no one address may take more than a small share of the slots
// (Postfix's smtpd_client_connection_count_limit is 50 too).
const (
	DefaultMaxConns        = 1000
	DefaultMaxConnsPerAddr = 50
)

const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
	// refuseTimeout bounds how long the answer to a connection over a
	// cap may take (a TLS handshake first, on an implicit-TLS port).
	refuseTimeout = 10 * time.Second
	// maxRefusing bounds the answers being written at once; further
	// connections over a cap are closed without one, so a flood costs
	// no more than this many goroutines and descriptors.
	maxRefusing = 64
)

// Reason says which cap a refused connection is over.
type Reason int

const (
	// TooMany: the loop serves MaxConns connections already.
	TooMany Reason = iota + 1
	// TooManyFromAddr: the client's address has MaxConnsPerAddr already.
	TooManyFromAddr
)

// Logger receives the accept errors a Loop rides out. *log.Logger is one.
type Logger interface {
	Printf(format string, v ...any)
}

// Loop accepts connections on one or more listeners and hands each to
// Handle. Set the fields before the first Serve and do not change them
// after; the zero Loop (with a Handle) is ready to use.
type Loop struct {
	// MaxConns bounds the connections served at once, over every
	// listener of the loop (0: DefaultMaxConns; negative: no bound).
	MaxConns int
	// MaxConnsPerAddr bounds those of one client IP address
	// (0: DefaultMaxConnsPerAddr; negative: no bound). A peer whose
	// address is not an IP address (a pipe) is not counted.
	MaxConnsPerAddr int
	// Handle serves one connection, in a goroutine of its own. It must
	// call done once the connection is over (more calls do nothing);
	// until then the connection counts against the caps and Shutdown
	// waits for it. Handle may return before the connection is over.
	Handle func(c net.Conn, done func())
	// Refuse writes the protocol's answer to a connection over a cap;
	// the loop then closes it. It runs in a goroutine of its own, the
	// connection's deadline set refuseTimeout ahead. Nil: closed
	// without an answer.
	Refuse func(c net.Conn, why Reason)
	// ErrorLog, when set, is told when accepting fails for a while and
	// when it works again.
	ErrorLog Logger

	mu        sync.Mutex
	closed    bool
	stop      chan struct{} // closed by Close and Shutdown: backoffs end
	listeners map[*net.Listener]struct{}
	conns     map[*slot]struct{}
	perAddr   map[netip.Addr]int
	refusing  int
	idle      chan struct{}         // closed when the last connection is done, if someone waits
	draining  bool                  // Shutdown has begun
	waiting   map[net.Conn]struct{} // connections marked Idle
}

// slot is one admitted connection.
type slot struct {
	c    net.Conn
	addr netip.Addr // invalid: not counted per address
}

func (l *Loop) initLocked() {
	if l.conns == nil {
		l.stop = make(chan struct{})
		l.listeners = map[*net.Listener]struct{}{}
		l.conns = map[*slot]struct{}{}
		l.perAddr = map[netip.Addr]int{}
		l.waiting = map[net.Conn]struct{}{}
	}
}

func (l *Loop) maxConns() int {
	if l.MaxConns == 0 {
		return DefaultMaxConns
	}
	return l.MaxConns
}

func (l *Loop) maxPerAddr() int {
	if l.MaxConnsPerAddr == 0 {
		return DefaultMaxConnsPerAddr
	}
	return l.MaxConnsPerAddr
}

// Serve accepts connections on ln until Close or Shutdown, then returns
// ErrServerClosed; it returns another error only when ln fails for good
// (ln closed by someone else: an error that is net.ErrClosed). A
// temporary failure — out of file descriptors, out of buffers — is
// retried after a pause that doubles from 5 ms up to 1 s, the
// connections already accepted being served on. After Close, Serve
// closes ln and returns ErrServerClosed at once.
func (l *Loop) Serve(ln net.Listener) error {
	l.mu.Lock()
	l.initLocked()
	if l.closed {
		l.mu.Unlock()
		if ln != nil {
			ln.Close()
		}
		return ErrServerClosed
	}
	key := &ln
	l.listeners[key] = struct{}{}
	stop := l.stop
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.listeners, key)
		l.mu.Unlock()
	}()

	var backoff time.Duration
	failures := 0
	for {
		c, err := ln.Accept()
		if err != nil {
			if l.isClosed() {
				return ErrServerClosed
			}
			if !Temporary(err) {
				return err
			}
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			if failures == 0 && l.ErrorLog != nil {
				l.ErrorLog.Printf("accept on %s: %v; retrying, pausing up to %v", ln.Addr(), err, maxBackoff)
			}
			failures++
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-stop:
				t.Stop()
				return ErrServerClosed
			}
			continue
		}
		if failures > 0 && l.ErrorLog != nil {
			l.ErrorLog.Printf("accept on %s: accepting again after %d failures", ln.Addr(), failures)
		}
		backoff, failures = 0, 0
		l.admit(c)
	}
}

// Temporary reports whether an accept error is worth retrying: the
// process or the system is out of file descriptors (EMFILE, ENFILE),
// the kernel out of buffers or memory, a connection was aborted before
// it was accepted, or the error says it is temporary or a timeout.
func Temporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return true
	}
	var to interface{ Timeout() bool }
	return errors.As(err, &to) && to.Timeout()
}

// admit counts c in, or refuses it.
func (l *Loop) admit(c net.Conn) {
	addr := ClientAddr(c.RemoteAddr())
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		c.Close()
		return
	}
	var why Reason
	if n := l.maxConns(); n > 0 && len(l.conns) >= n {
		why = TooMany
	} else if n := l.maxPerAddr(); n > 0 && addr.IsValid() && l.perAddr[addr] >= n {
		why = TooManyFromAddr
	}
	if why != 0 {
		if l.refusing >= maxRefusing || l.Refuse == nil {
			l.mu.Unlock()
			c.Close()
			return
		}
		l.refusing++
		l.mu.Unlock()
		go l.refuse(c, why)
		return
	}
	s := &slot{c: c, addr: addr}
	l.conns[s] = struct{}{}
	if addr.IsValid() {
		l.perAddr[addr]++
	}
	l.mu.Unlock()
	burstOpened()
	go l.Handle(c, func() { l.done(s) })
}

func (l *Loop) refuse(c net.Conn, why Reason) {
	defer func() {
		l.mu.Lock()
		l.refusing--
		l.mu.Unlock()
	}()
	defer c.Close()
	c.SetDeadline(time.Now().Add(refuseTimeout))
	l.Refuse(c, why)
}

// done frees a connection's slot; once.
func (l *Loop) done(s *slot) {
	l.mu.Lock()
	if _, ok := l.conns[s]; !ok {
		l.mu.Unlock()
		return
	}
	delete(l.conns, s)
	if s.addr.IsValid() {
		if l.perAddr[s.addr]--; l.perAddr[s.addr] <= 0 {
			delete(l.perAddr, s.addr)
		}
	}
	if len(l.conns) == 0 && l.idle != nil {
		close(l.idle)
		l.idle = nil
	}
	l.mu.Unlock()
	burstClosed()
}

func (l *Loop) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Closed reports whether Close or Shutdown has been called.
func (l *Loop) Closed() bool { return l.isClosed() }

// Conns returns the number of connections being served.
func (l *Loop) Conns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Stop stops accepting: it closes every listener, and Serve returns
// ErrServerClosed. The connections being served go on. It returns the
// first error of closing a listener.
func (l *Loop) Stop() error {
	l.mu.Lock()
	l.initLocked()
	if !l.closed {
		l.closed = true
		close(l.stop)
	}
	lns := make([]net.Listener, 0, len(l.listeners))
	for k := range l.listeners {
		lns = append(lns, *k)
	}
	l.mu.Unlock()
	var err error
	for _, ln := range lns {
		if e := ln.Close(); e != nil && err == nil && !errors.Is(e, net.ErrClosed) {
			err = e
		}
	}
	return err
}

// Wait waits until no connection is being served, or ctx is done (then
// it returns ctx's error).
func (l *Loop) Wait(ctx context.Context) error {
	l.mu.Lock()
	l.initLocked()
	if len(l.conns) == 0 {
		l.mu.Unlock()
		return nil
	}
	if l.idle == nil {
		l.idle = make(chan struct{})
	}
	idle := l.idle
	l.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Idle marks c, the connection a session reads from (TLS over the one
// Handle was given, after STARTTLS), as waiting for the client's next
// command; with idle false, as busy with one, which Shutdown lets the
// session finish. Shutdown ends the wait of a session idle when it
// begins, or that turns idle after, by moving c's read deadline to the
// past: the session's read fails with a timeout, and Draining tells it
// to say goodbye as its protocol has it. Set c's read deadline for the
// wait before marking it idle, not after; mark it busy again before the
// session ends. c must be comparable (a pointer).
func (l *Loop) Idle(c net.Conn, idle bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.initLocked()
	switch {
	case !idle:
		delete(l.waiting, c)
	case l.draining:
		interrupt(c)
	default:
		l.waiting[c] = struct{}{}
	}
}

// interrupt ends a read waiting on c. The deadline is long past on any
// clock, the simulated network's too.
func interrupt(c net.Conn) { c.SetReadDeadline(time.Unix(1, 0)) }

// Draining reports whether Shutdown has begun.
func (l *Loop) Draining() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.draining
}

// Shutdown stops accepting, interrupts the sessions waiting for a command
// (see Idle), and waits for the connections being served to end, or for
// ctx to be done. It closes no connection: a server tells its sessions
// to end as its protocol has it, and calls Close when ctx is done.
func (l *Loop) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	l.initLocked()
	l.draining = true
	for c := range l.waiting {
		interrupt(c)
	}
	l.mu.Unlock()
	err := l.Stop()
	if e := l.Wait(ctx); e != nil {
		return e
	}
	return err
}

// Close stops accepting and closes every connection being served (the
// connection beneath TLS, so that no close alert waits on a peer that
// does not read). Handle's goroutines then see their connections fail.
func (l *Loop) Close() error {
	err := l.Stop()
	l.mu.Lock()
	cs := make([]net.Conn, 0, len(l.conns))
	for s := range l.conns {
		cs = append(cs, s.c)
	}
	l.mu.Unlock()
	for _, c := range cs {
		if u, ok := c.(interface{ NetConn() net.Conn }); ok {
			c = u.NetConn()
		}
		c.Close()
	}
	return err
}

// ClientAddr is the IP address of a peer (a connection's RemoteAddr),
// IPv4 in IPv6 unmapped; the zero Addr when a is no IP address.
func ClientAddr(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case nil:
		return netip.Addr{}
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return netip.Addr{}
		}
		return ip.Unmap()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	if ip, err := netip.ParseAddr(a.String()); err == nil {
		return ip.Unmap()
	}
	return netip.Addr{}
}
