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
	return &plainConn{Conn: tlsConn, tap: t, client: client}
}

type plainConn struct {
	net.Conn
	tap    *Tap
	client bool
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
