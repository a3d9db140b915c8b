package netx

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mailhop/mailhop/sim/trace"
)

// Real is the machine's own network: a thin layer over net.ListenConfig and
// net.Dialer. With a Trace set, every stream connection it makes or accepts
// is tapped, so a real server's traffic shows in the same trace as the
// simulation's. `mailhop serve` runs on it.
type Real struct {
	Listener net.ListenConfig
	Dialer   net.Dialer
	// Trace, when set, receives conn and wire events.
	Trace *trace.Recorder
	// Hostname names this machine in the trace.
	Hostname string
	// Describe, when set, summarises a DNS message for the trace (DNS
	// over TCP is binary).
	Describe func(proto string, msg []byte) string

	mu     sync.Mutex
	protos map[int]string // port → protocol, where the port does not say
	conns  atomic.Int64
}

// Speaks names the protocol spoken on a port, for the trace, when the
// port's number does not say (a submission server on 5870, the MX port
// of a test): connections accepted on it, or dialled to it, are named so.
func (r *Real) Speaks(port int, proto string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.protos == nil {
		r.protos = map[int]string{}
	}
	r.protos[port] = proto
}

func (r *Real) protoOf(port int) string {
	r.mu.Lock()
	p := r.protos[port]
	r.mu.Unlock()
	if p == "" {
		p = trace.ProtoForPort(port)
	}
	return p
}

// Listen listens on a real socket.
func (r *Real) Listen(network, address string) (net.Listener, error) {
	return r.listen(r.Listener, network, address)
}

// ListenNoKeepAlive is Listen for a protocol whose sessions are short and
// bounded by the server's own timeouts (SMTP, LMTP): the connections it
// accepts get no TCP keep-alive, which saves four setsockopt(2) calls on
// each. Long sessions (IMAP IDLE) keep it, to find peers that vanished.
func (r *Real) ListenNoKeepAlive(network, address string) (net.Listener, error) {
	lc := r.Listener
	lc.KeepAlive = -1
	lc.KeepAliveConfig.Enable = false
	return r.listen(lc, network, address)
}

func (r *Real) listen(lc net.ListenConfig, network, address string) (net.Listener, error) {
	l, err := lc.Listen(context.Background(), network, address)
	if err != nil || r.Trace == nil {
		return l, err
	}
	return &tappedListener{Listener: l, r: r}, nil
}

// ListenPacket listens on a real datagram socket.
func (r *Real) ListenPacket(network, address string) (net.PacketConn, error) {
	return r.Listener.ListenPacket(context.Background(), network, address)
}

// DialContext dials a real socket.
func (r *Real) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := r.Dialer.DialContext(ctx, network, address)
	if err != nil || r.Trace == nil {
		return c, err
	}
	if _, ok := c.(net.PacketConn); ok {
		return c, nil
	}
	return r.tap(c, r.Hostname, c.RemoteAddr().String(), portOf(c.RemoteAddr()), true), nil
}

func (r *Real) tap(c net.Conn, client, server string, port int, dialled bool) net.Conn {
	id := "c" + strconv.FormatInt(r.conns.Add(1), 10)
	base := trace.Event{Host: client, Peer: server, Port: port, Conn: id, Proto: r.protoOf(port)}
	t := NewTap(r.Trace, base)
	t.Describe = r.Describe
	t.Open()
	return &TappedConn{Conn: c, Tap: t, Client: dialled}
}

type tappedListener struct {
	net.Listener
	r *Real
}

func (l *tappedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return l.r.tap(c, c.RemoteAddr().String(), l.r.Hostname, portOf(c.LocalAddr()), false), nil
}

func portOf(a net.Addr) int {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.Port
	case *net.UDPAddr:
		return a.Port
	}
	_, p, _ := net.SplitHostPort(a.String())
	n, _ := strconv.Atoi(p)
	return n
}

// TappedConn reports the bytes read and written on a connection to a Tap.
// Client says which end this is: the dialler (its writes are "send") or
// the server (its writes are "recv").
type TappedConn struct {
	net.Conn
	Tap    *Tap
	Client bool
	closed atomic.Bool
}

func (c *TappedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.Tap.Data(c.dir(false), b[:n])
	}
	return n, err
}

// Write reports the bytes before writing them: once written, the peer
// may answer at once, and its reply must not reach the trace before the
// line that caused it. Bytes a failed write did not send are not
// reported again.
func (c *TappedConn) Write(b []byte) (int, error) {
	c.Tap.Data(c.dir(true), b)
	return c.Conn.Write(b)
}

func (c *TappedConn) Close() error {
	err := c.Conn.Close()
	if !c.closed.Swap(true) {
		by := "server"
		if c.Client {
			by = "client"
		}
		c.Tap.Close("closed by " + by)
	}
	return err
}

// ConnTap returns the connection's tap.
func (c *TappedConn) ConnTap() *Tap { return c.Tap }

func (c *TappedConn) dir(writing bool) trace.Dir {
	if writing == c.Client {
		return trace.Send
	}
	return trace.Recv
}
