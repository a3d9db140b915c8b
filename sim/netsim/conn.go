package netsim

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/trace"
)

// Conn is one end of a simulated stream (TCP) connection.
type toucher interface{ Touch() }

type Conn struct {
	rd, wr        *pipe
	clk           clock.Clock
	local, remote net.Addr
	link          *link
	client        bool // this end dialled
	tap           *netx.Tap
	peer          *Conn
	sniff         Sniffer // sees this end's packets, or nil
	id            string  // the connection's id, for sniff

	closeOnce sync.Once
	closed    chan struct{}
	readDL    deadline
	writeDL   deadline
}

func newConnPair(clk clock.Clock, l *link, client, server net.Addr, tap *netx.Tap) (*Conn, *Conn) {
	up, down := newPipe(clk), newPipe(clk) // client→server, server→client
	c := &Conn{rd: down, wr: up, clk: clk, local: client, remote: server, link: l, client: true, tap: tap, closed: make(chan struct{})}
	s := &Conn{rd: up, wr: down, clk: clk, local: server, remote: client, link: l, tap: tap, closed: make(chan struct{})}
	c.peer, s.peer = s, c
	c.readDL.init(clk)
	c.writeDL.init(clk)
	s.readDL.init(clk)
	s.writeDL.init(clk)
	return c, s
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.local, Addr: c.remote, Err: err}
}

// Read reads arrived bytes, waiting for some if none are there.
func (c *Conn) Read(b []byte) (int, error) {
	for {
		select {
		case <-c.closed:
			return 0, c.opError("read", net.ErrClosed)
		default:
		}
		if c.readDL.expired() {
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
		n, eof, reset, ok := c.rd.read(b)
		if ok {
			switch {
			case reset:
				signal(c.rd.readable)
				return 0, c.opError("read", syscall.ECONNRESET)
			case eof:
				signal(c.rd.readable)
				return 0, io.EOF
			}
			if len(b) == 0 || n > 0 {
				return n, nil
			}
		}
		select {
		case <-c.rd.readable:
		case <-c.closed:
		case <-c.readDL.wait():
		}
	}
}

// Write writes all of b, waiting for room when the peer reads slowly.
func (c *Conn) Write(b []byte) (int, error) {
	written := 0
	for {
		select {
		case <-c.closed:
			return written, c.opError("write", net.ErrClosed)
		default:
		}
		if c.writeDL.expired() {
			return written, c.opError("write", os.ErrDeadlineExceeded)
		}
		n, broken := c.wr.write(b[written:], c.link.latency(), c.seen)
		written += n
		if broken {
			signal(c.wr.writable)
			return written, c.opError("write", syscall.EPIPE)
		}
		if written == len(b) {
			return written, nil
		}
		select {
		case <-c.wr.writable:
		case <-c.closed:
		case <-c.writeDL.wait():
		}
	}
}

// seen reports written bytes to the tap, and to a virtual clock that
// work is progressing.
func (c *Conn) seen(p []byte) {
	if t, ok := c.clk.(toucher); ok {
		t.Touch()
	}
	if c.tap != nil {
		c.tap.Data(c.dirOut(), p)
	}
	if c.sniff != nil {
		c.sniff.Data(c.id, c.client, p, c.clk.Now())
	}
}

// dirOut is the direction of the bytes this end writes.
func (c *Conn) dirOut() trace.Dir {
	if c.client {
		return trace.Send
	}
	return trace.Recv
}

// Close closes this end: the peer reads EOF once it has read what was
// sent, and its writes fail.
func (c *Conn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.sniffClose(false) // before the peer can see EOF
		close(c.closed)
		c.wr.closeWrite()
		c.rd.closeRead()
		c.readDL.stop()
		c.writeDL.stop()
		if c.tap != nil {
			by := "server"
			if c.client {
				by = "client"
			}
			c.tap.Close("closed by " + by)
		}
		c.link.forget(c)
	})
	if !first {
		return c.opError("close", net.ErrClosed)
	}
	return nil
}

// abort resets the connection, as when its host goes down.
func (c *Conn) abort() {
	c.sniffClose(true)
	c.wr.doReset()
	c.rd.doReset()
	if c.tap != nil {
		c.tap.Close("reset: host down")
	}
}

// ConnTap returns the tap reporting this connection (nil when untraced).
func (c *Conn) ConnTap() *netx.Tap { return c.tap }

// CloseWrite shuts down the sending side (half-close).
func (c *Conn) CloseWrite() error {
	c.sniffClose(false)
	c.wr.closeWrite()
	return nil
}

func (c *Conn) LocalAddr() net.Addr  { return c.local }
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

func (c *Conn) SetDeadline(t time.Time) error {
	c.readDL.set(t)
	c.writeDL.set(t)
	return nil
}
func (c *Conn) SetReadDeadline(t time.Time) error  { c.readDL.set(t); return nil }
func (c *Conn) SetWriteDeadline(t time.Time) error { c.writeDL.set(t); return nil }

// SetReadTimeout sets the read deadline d from now on the network's
// clock: SetReadDeadline(time.Now().Add(d)) without reading the wall
// clock twice (netx.SetReadTimeout).
func (c *Conn) SetReadTimeout(d time.Duration) error { c.readDL.setIn(d); return nil }

// SetWriteTimeout is SetReadTimeout for writes.
func (c *Conn) SetWriteTimeout(d time.Duration) error { c.writeDL.setIn(d); return nil }

// deadline is a read or write deadline on the network's clock. A deadline
// is given as a wall-clock instant (as net.Conn callers compute it from
// time.Now); what counts is the time left until it, which is measured on
// the network's clock, so on a virtual clock a 5-minute timeout passes
// after 5 virtual minutes.
//
// Protocol code moves deadlines on every command; a timer is armed only
// when a read or write actually waits, and re-armed when it fires early
// because the deadline moved.
type deadline struct {
	mu      sync.Mutex
	clk     clock.Clock
	at      time.Time // on clk; zero: none
	done    chan struct{}
	timer   clock.Timer
	armedAt time.Time // when timer fires
}

func (d *deadline) init(clk clock.Clock) {
	d.clk = clk
	d.done = make(chan struct{})
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if isClosed(d.done) {
		d.done = make(chan struct{})
	}
	if t.IsZero() {
		d.at = time.Time{}
		return
	}
	d.inLocked(time.Until(t))
}

// setIn sets the deadline left from now on the clock (left > 0), or
// makes it pass at once.
func (d *deadline) setIn(left time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if isClosed(d.done) {
		d.done = make(chan struct{})
	}
	d.inLocked(left)
}

// inLocked sets the deadline left from now. mu held, done open.
func (d *deadline) inLocked(left time.Duration) {
	if left <= 0 {
		d.at = time.Time{}
		close(d.done)
		return
	}
	d.at = d.clk.Now().Add(left)
	if d.timer != nil && d.armedAt.After(d.at) {
		// The deadline came closer than the armed timer: re-arm.
		d.armLocked()
	}
}

// armLocked arms the timer for the current deadline. mu held.
func (d *deadline) armLocked() {
	if d.timer != nil {
		d.timer.Stop()
	}
	at := d.at
	d.armedAt = at
	d.timer = d.clk.AfterFunc(at.Sub(d.clk.Now()), func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if !d.armedAt.Equal(at) {
			return // re-armed meanwhile
		}
		d.timer = nil
		switch {
		case d.at.IsZero() || isClosed(d.done):
		case d.clk.Now().Before(d.at):
			d.armLocked() // the deadline moved later: wait on
		default:
			close(d.done)
		}
	})
}

func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

// wait returns a channel closed when the deadline passes, arming the
// timer if it is not.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.at.IsZero() && !isClosed(d.done) && d.timer == nil {
		d.armLocked()
	}
	return d.done
}

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if isClosed(d.done) {
		return true
	}
	if !d.at.IsZero() && !d.clk.Now().Before(d.at) {
		close(d.done)
		return true
	}
	return false
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
