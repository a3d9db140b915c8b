package main

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/mailhop/mailhop/sim/dns"
	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/trace"
)

// serveNet is the machine's network as `mailhop serve` uses it: real
// sockets, each stream connection tapped into the trace when there is one
// (--ui, --trace-log), and named by the protocol of the service it belongs
// to whatever the port number (netx.Real names protocols by well-known
// ports only).
type serveNet struct {
	rec    *trace.Recorder // nil: no taps
	host   string
	lc     net.ListenConfig
	dialer net.Dialer
	// dialProto names the protocol spoken to a dialled port.
	dialProto map[int]string
	conns     atomic.Int64
}

var _ netx.Network = (*serveNet)(nil)

func (n *serveNet) Listen(network, address string) (net.Listener, error) {
	return n.lc.Listen(context.Background(), network, address)
}

func (n *serveNet) ListenPacket(network, address string) (net.PacketConn, error) {
	return n.lc.ListenPacket(context.Background(), network, address)
}

func (n *serveNet) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := n.dialer.DialContext(ctx, network, address)
	if err != nil || n.rec == nil {
		return c, err
	}
	if _, ok := c.(net.PacketConn); ok {
		return c, nil
	}
	port := addrPort(c.RemoteAddr())
	proto := n.dialProto[port]
	if proto == "" {
		proto = trace.ProtoForPort(port)
	}
	return n.tap(c, n.host, c.RemoteAddr().String(), port, proto, true), nil
}

// tapped wraps a listener of a service speaking proto.
func (n *serveNet) tapped(l net.Listener, proto string) net.Listener {
	if n.rec == nil {
		return l
	}
	return &tapListener{Listener: l, n: n, proto: proto}
}

func (n *serveNet) tap(c net.Conn, client, server string, port int, proto string, dialled bool) net.Conn {
	id := "c" + strconv.FormatInt(n.conns.Add(1), 10)
	t := netx.NewTap(n.rec, trace.Event{Host: client, Peer: server, Port: port, Conn: id, Proto: proto})
	t.Describe = func(_ string, msg []byte) string { return dns.DescribePacket(msg) }
	t.Open()
	return &netx.TappedConn{Conn: c, Tap: t, Client: dialled}
}

type tapListener struct {
	net.Listener
	n     *serveNet
	proto string
}

func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return l.n.tap(c, c.RemoteAddr().String(), l.n.host, addrPort(c.LocalAddr()), l.proto, false), nil
}

func addrPort(a net.Addr) int {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.Port
	}
	_, p, _ := net.SplitHostPort(a.String())
	n, _ := strconv.Atoi(p)
	return n
}
