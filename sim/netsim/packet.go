package netsim

import (
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/mailhop/mailhop/sim/trace"
)

// packetQueue is how many datagrams wait for a reader before more are
// dropped, as a socket's receive buffer would.
const packetQueue = 256

type datagram struct {
	data []byte
	from *net.UDPAddr
}

// PacketConn is a simulated UDP socket. It implements net.PacketConn and,
// when made by DialContext("udp", ...), net.Conn too (a connected socket),
// which is what DNS clients expect.
type PacketConn struct {
	host   *Host
	port   int
	local  *net.UDPAddr
	remote *net.UDPAddr // set on a connected socket

	mu      sync.Mutex
	queue   []datagram    // waiting to be read, at most packetQueue
	ready   chan struct{} // signalled when a datagram is queued
	once    sync.Once
	closed  chan struct{}
	readDL  deadline
	writeDL deadline
}

// ListenPacket opens a UDP port of the host ("udp", ":53").
func (h *Host) ListenPacket(network, address string) (net.PacketConn, error) {
	switch network {
	case "udp", "udp4", "udp6":
	default:
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	ip, port, err := h.bindLocked(network, address, func(p int) bool { return h.packets[p] != nil })
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	return h.newPacketConnLocked(ip, port, nil), nil
}

func (h *Host) newPacketConnLocked(ip netip.Addr, port int, remote *net.UDPAddr) *PacketConn {
	pc := &PacketConn{
		host:   h,
		port:   port,
		local:  &net.UDPAddr{IP: ip.AsSlice(), Port: port},
		remote: remote,
		ready:  make(chan struct{}, 1),
		closed: make(chan struct{}),
	}
	pc.readDL.init(h.n.clk)
	pc.writeDL.init(h.n.clk)
	h.packets[port] = pc
	return pc
}

func (h *Host) dialPacket(network, address string) (net.Conn, error) {
	raddr, err := h.resolveUDP(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	ip, port, err := h.bindLocked(network, ":0", func(p int) bool { return h.packets[p] != nil })
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	return h.newPacketConnLocked(ip, port, raddr), nil
}

// resolveUDP turns "host:port" (IP or host name) into an address.
func (h *Host) resolveUDP(address string) (*net.UDPAddr, error) {
	hostPart, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, err
	}
	if ip, err := netip.ParseAddr(hostPart); err == nil {
		return &net.UDPAddr{IP: ip.AsSlice(), Port: port}, nil
	}
	h.n.mu.Lock()
	t := h.n.lookupLocked(h, hostPart)
	h.n.mu.Unlock()
	if t == nil {
		return nil, &net.DNSError{Err: "no such host", Name: hostPart, IsNotFound: true}
	}
	return &net.UDPAddr{IP: t.primary().AsSlice(), Port: port}, nil
}

func (pc *PacketConn) opError(op string, err error) error {
	var addr net.Addr
	if pc.remote != nil {
		addr = pc.remote
	}
	return &net.OpError{Op: op, Net: "udp", Source: pc.local, Addr: addr, Err: err}
}

// ReadFrom reads the next datagram.
func (pc *PacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		if pc.readDL.expired() {
			return 0, nil, pc.opError("read", os.ErrDeadlineExceeded)
		}
		select {
		case <-pc.closed:
			return 0, nil, pc.opError("read", net.ErrClosed)
		default:
		}
		if d, ok := pc.pop(); ok {
			if pc.remote != nil && !(d.from.IP.Equal(pc.remote.IP) && d.from.Port == pc.remote.Port) {
				continue // a connected socket hears only its peer
			}
			return copy(b, d.data), d.from, nil
		}
		select {
		case <-pc.closed:
		case <-pc.ready:
		case <-pc.readDL.wait():
		}
	}
}

// push queues a datagram for the reader; it is dropped, as UDP does,
// when the receive buffer is full.
func (pc *PacketConn) push(d datagram) {
	pc.mu.Lock()
	if len(pc.queue) >= packetQueue {
		pc.mu.Unlock()
		return
	}
	pc.queue = append(pc.queue, d)
	pc.mu.Unlock()
	pc.signal()
}

// pop takes the oldest datagram waiting.
func (pc *PacketConn) pop() (datagram, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if len(pc.queue) == 0 {
		return datagram{}, false
	}
	d := pc.queue[0]
	pc.queue[0] = datagram{}
	pc.queue = pc.queue[1:]
	if len(pc.queue) == 0 {
		pc.queue = nil // let the array go; the next push starts afresh
	} else {
		pc.signal() // for another reader
	}
	return d, true
}

func (pc *PacketConn) signal() {
	select {
	case pc.ready <- struct{}{}:
	default:
	}
}

// WriteTo sends a datagram. As with UDP, a datagram to nowhere (no host,
// host down, link cut, closed port) is silently lost.
func (pc *PacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-pc.closed:
		return 0, pc.opError("write", net.ErrClosed)
	default:
	}
	if pc.writeDL.expired() {
		return 0, pc.opError("write", os.ErrDeadlineExceeded)
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		var err error
		if ua, err = pc.host.resolveUDP(addr.String()); err != nil {
			return 0, pc.opError("write", err)
		}
	}
	n := pc.host.n
	ip, _ := netip.AddrFromSlice(ua.IP)
	n.mu.Lock()
	src := pc.host
	if src.down {
		n.mu.Unlock()
		return 0, pc.opError("write", &os.SyscallError{Syscall: "sendto", Err: syscall.ENETDOWN})
	}
	dst := n.lookupAddrLocked(src, ip.Unmap())
	var target *PacketConn
	var delay time.Duration
	lost := ""
	switch {
	case dst == nil:
		lost = "no such host"
	case dst.down:
		lost = dst.name + " is down"
	default:
		l := n.link(src.name, dst.name)
		l.mu.Lock()
		if l.cut {
			lost = "the link is cut"
		}
		delay = l.delay
		l.mu.Unlock()
		target = dst.packets[ua.Port]
		if lost == "" && target == nil {
			lost = "nothing listens on that port"
		}
	}
	sniffer := n.sniffer
	n.mu.Unlock()
	if sniffer != nil {
		// Sent, whether it arrives or not; seen before any reply.
		from := pc.local.AddrPort()
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		sniffer.Datagram(from, netip.AddrPortFrom(ip.Unmap(), uint16(ua.Port)), b, n.clk.Now())
	}

	proto := trace.ProtoForPort(ua.Port)
	if proto == "tcp" {
		proto = trace.ProtoForPort(pc.port)
	}
	ev := trace.Event{Kind: trace.KindPacket, Host: src.name, Port: ua.Port, Proto: proto}
	if dst != nil {
		ev.Peer = dst.name
	} else {
		ev.Peer = ua.IP.String()
	}
	if n.DescribePacket != nil {
		ev.Text = n.DescribePacket(proto, b)
	}
	if ev.Text == "" {
		ev.Text = strconv.Itoa(len(b)) + " bytes"
	}
	if lost != "" {
		ev.Text += " — lost: " + lost
	}
	n.trace.Emit(ev)
	if lost != "" {
		return len(b), nil
	}
	if t, ok := n.clk.(toucher); ok {
		t.Touch() // a datagram sent is progress, as bytes on a stream are
	}
	d := datagram{data: append([]byte(nil), b...), from: pc.local}
	if delay > 0 {
		n.clk.AfterFunc(delay, func() { target.push(d) })
	} else {
		target.push(d)
	}
	return len(b), nil
}

// Read reads a datagram from the peer of a connected socket.
func (pc *PacketConn) Read(b []byte) (int, error) {
	n, _, err := pc.ReadFrom(b)
	return n, err
}

// Write sends a datagram to the peer of a connected socket.
func (pc *PacketConn) Write(b []byte) (int, error) {
	if pc.remote == nil {
		return 0, pc.opError("write", syscall.EDESTADDRREQ)
	}
	return pc.WriteTo(b, pc.remote)
}

// Close closes the socket and frees its port.
func (pc *PacketConn) Close() error {
	first := false
	pc.once.Do(func() {
		first = true
		close(pc.closed)
		pc.readDL.stop()
		pc.writeDL.stop()
		h := pc.host
		h.n.mu.Lock()
		if h.packets[pc.port] == pc {
			delete(h.packets, pc.port)
		}
		h.n.mu.Unlock()
	})
	if !first {
		return pc.opError("close", net.ErrClosed)
	}
	return nil
}

func (pc *PacketConn) LocalAddr() net.Addr { return pc.local }

// RemoteAddr returns the peer of a connected socket, or nil.
func (pc *PacketConn) RemoteAddr() net.Addr {
	if pc.remote == nil {
		return nil
	}
	return pc.remote
}

func (pc *PacketConn) SetDeadline(t time.Time) error {
	pc.readDL.set(t)
	pc.writeDL.set(t)
	return nil
}
func (pc *PacketConn) SetReadDeadline(t time.Time) error  { pc.readDL.set(t); return nil }
func (pc *PacketConn) SetWriteDeadline(t time.Time) error { pc.writeDL.set(t); return nil }
