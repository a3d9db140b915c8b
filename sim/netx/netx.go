// Package netx is the seam between mail agents and the network they run on.
//
// Every agent is given a Network and never knows whether it is the
// simulated network of package netsim or the machine's real sockets
// (Real). A Tap turns the bytes of a stream connection into trace events,
// line by line, for either kind of network.
package netx

import (
	"context"
	"net"
	"time"

	"github.com/mailhop/mailhop/sim/trace"
)

// Network is what every agent is given to listen and dial with.
type Network interface {
	Listen(network, address string) (net.Listener, error)
	ListenPacket(network, address string) (net.PacketConn, error)
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Tapped is a connection whose traffic a Tap reports. A server that
// terminates TLS on such a connection reports the cleartext through
// ConnTap().Plain, so the trace shows the protected lines.
type Tapped interface {
	ConnTap() *Tap
}

// TapOf returns the tap of a connection, or nil.
func TapOf(c net.Conn) *Tap {
	if t, ok := c.(Tapped); ok {
		return t.ConnTap()
	}
	return nil
}

// PlainTap wraps a TLS connection made over raw so that its cleartext is
// reported to raw's tap, marked as encrypted on the wire. client says
// which end this is. Without a tap on raw, tlsConn is returned as is.
func PlainTap(raw, tlsConn net.Conn, client bool) net.Conn {
	t := TapOf(raw)
	if t == nil {
		return tlsConn
	}
	return &plainConn{Conn: tlsConn, raw: raw, tap: t, client: client}
}

type plainConn struct {
	net.Conn
	raw    net.Conn // under the TLS, which sets its deadlines on it
	tap    *Tap
	client bool
}

// SetReadTimeout sets the read deadline on raw, where crypto/tls sets
// its deadlines too.
func (c *plainConn) SetReadTimeout(d time.Duration) error { return SetReadTimeout(c.raw, d) }

// SetWriteTimeout sets the write deadline on raw, as SetReadTimeout.
func (c *plainConn) SetWriteTimeout(d time.Duration) error { return SetWriteTimeout(c.raw, d) }

// timeouts is a connection that sets a deadline as a time from now, on
// its own clock (netsim's conns, on the network's).
type timeouts interface {
	SetReadTimeout(d time.Duration) error
	SetWriteTimeout(d time.Duration) error
}

// SetReadTimeout sets c's read deadline d from now:
// c.SetReadDeadline(time.Now().Add(d)), without reading the wall clock
// when c measures its deadlines on a clock of its own (a netsim conn, or
// TLS over one), which under WebAssembly is a call out to JavaScript.
func SetReadTimeout(c net.Conn, d time.Duration) error {
	if t, ok := c.(timeouts); ok {
		return t.SetReadTimeout(d)
	}
	return c.SetReadDeadline(time.Now().Add(d))
}

// SetWriteTimeout is SetReadTimeout for the write deadline.
func SetWriteTimeout(c net.Conn, d time.Duration) error {
	if t, ok := c.(timeouts); ok {
		return t.SetWriteTimeout(d)
	}
	return c.SetWriteDeadline(time.Now().Add(d))
}

func (c *plainConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		dir := trace.Send // what a server reads, the client sent
		if c.client {
			dir = trace.Recv
		}
		c.tap.Plain(c.client, dir, b[:n])
	}
	return n, err
}

// Write reports before writing, as TappedConn.Write does.
func (c *plainConn) Write(b []byte) (int, error) {
	dir := trace.Recv
	if c.client {
		dir = trace.Send
	}
	c.tap.Plain(c.client, dir, b)
	return c.Conn.Write(b)
}

// ConnTap keeps the tap reachable through the wrapper.
func (c *plainConn) ConnTap() *Tap { return c.tap }

// Unwrap returns the TLS connection (so callers can reach its state).
func (c *plainConn) Unwrap() net.Conn { return c.Conn }
