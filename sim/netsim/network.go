// Package netsim is mailhop's simulated network: hosts with names and IP
// addresses exchanging bytes in memory, with faults a teacher can inject.
//
// Each Host gives agents the netx.Network interface (Listen, ListenPacket,
// DialContext), so a mail server written for real sockets runs on it
// unchanged. Stream connections are full-duplex and buffered, honour
// deadlines on the network's clock, and fail as real sockets do: ECONNREFUSED
// for a closed or refusing port, EHOSTUNREACH for an unknown or downed host or a
// cut link, os.ErrDeadlineExceeded on timeout, io.EOF to the peer on close,
// net.ErrClosed after Close. Packet connections (UDP) carry DNS.
//
// Every connection opened, refused or closed, every line that crosses a
// stream connection and every datagram reaches the trace.
package netsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/trace"
)

// Network is a set of simulated hosts and the links between them.
type Network struct {
	clk   clock.Clock
	trace *trace.Recorder

	// DescribePacket, when set, summarises a datagram for the trace (a DNS
	// query, say); proto is named from the destination port.
	DescribePacket func(proto string, b []byte) string

	mu      sync.Mutex
	hosts   map[string]*Host
	byAddr  map[netip.Addr]*Host
	links   map[[2]string]*link
	connSeq int
	sniffer Sniffer // sees the packets, or nil (SetSniffer)
}

// New returns an empty network on clock clk, reporting to rec (which may
// be nil).
func New(clk clock.Clock, rec *trace.Recorder) *Network {
	return &Network{
		clk:    clk,
		trace:  rec,
		hosts:  map[string]*Host{},
		byAddr: map[netip.Addr]*Host{},
		links:  map[[2]string]*link{},
	}
}

// Clock returns the network's clock.
func (n *Network) Clock() clock.Clock { return n.clk }

// AddHost adds a host with a name and one or more IP addresses.
func (n *Network) AddHost(name string, addrs ...string) (*Host, error) {
	if name == "" {
		return nil, errors.New("netsim: a host needs a name")
	}
	h := &Host{n: n, name: name, listeners: map[int]*Listener{}, packets: map[int]*PacketConn{}, refusing: map[int]bool{}, nextPort: 49152}
	for _, a := range addrs {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("netsim: host %s: bad address %q", name, a)
		}
		h.addrs = append(h.addrs, ip)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.hosts[name]; dup {
		return nil, fmt.Errorf("netsim: host %s exists already", name)
	}
	for _, ip := range h.addrs {
		if other, dup := n.byAddr[ip]; dup {
			return nil, fmt.Errorf("netsim: address %s of %s belongs to %s", ip, name, other.name)
		}
	}
	n.hosts[name] = h
	for _, ip := range h.addrs {
		n.byAddr[ip] = h
	}
	return h, nil
}

// Host returns the host of that name, or nil.
func (n *Network) Host(name string) *Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hosts[name]
}

// Hosts returns every host, sorted by name.
func (n *Network) Hosts() []*Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	hs := make([]*Host, 0, len(n.hosts))
	for _, h := range n.hosts {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, func(a, b *Host) int { return cmpString(a.name, b.name) })
	return hs
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// lookup finds the host an address names: an IP of a host, or a host name
// (the network's hosts table). mu held.
func (n *Network) lookupLocked(from *Host, name string) *Host {
	if ip, err := netip.ParseAddr(name); err == nil {
		return n.lookupAddrLocked(from, ip)
	}
	if name == "localhost" || name == "" {
		return from
	}
	return n.hosts[name]
}

// lookupAddrLocked finds the host at ip, as lookupLocked does for an
// address written out.
func (n *Network) lookupAddrLocked(from *Host, ip netip.Addr) *Host {
	if ip.IsLoopback() || ip.IsUnspecified() {
		return from
	}
	return n.byAddr[ip.Unmap()]
}

func (n *Network) link(a, b string) *link {
	if b < a {
		a, b = b, a
	}
	k := [2]string{a, b}
	l := n.links[k]
	if l == nil {
		l = &link{conns: map[*Conn]bool{}}
		n.links[k] = l
	}
	return l
}

// SetDown takes a host down (true) or brings it back up. Going down resets
// every connection of the host; while down it is unreachable and can not
// dial. Its listeners stay, as services start again at boot.
func (n *Network) SetDown(name string, down bool) error {
	n.mu.Lock()
	h := n.hosts[name]
	if h == nil {
		n.mu.Unlock()
		return fmt.Errorf("netsim: no host %s", name)
	}
	if h.down == down {
		n.mu.Unlock()
		return nil
	}
	h.down = down
	var victims []*Conn
	if down {
		for k, l := range n.links {
			if k[0] == name || k[1] == name {
				victims = append(victims, l.all()...)
			}
		}
	}
	n.mu.Unlock()
	for _, c := range victims {
		if !c.onHost(h) {
			c = c.peer // the reset comes from the end that went down
		}
		c.abort()
	}
	action := "up"
	if down {
		action = "down"
	}
	n.trace.Emit(trace.Event{Kind: trace.KindHost, Action: action, Host: name})
	return nil
}

// Cut cuts (true) or restores the link between hosts a and b. While cut,
// bytes already sent on their connections wait (as TCP retransmits) and
// arrive when the link is restored; new connections and datagrams fail.
func (n *Network) Cut(a, b string, cut bool) error {
	n.mu.Lock()
	if n.hosts[a] == nil || n.hosts[b] == nil {
		n.mu.Unlock()
		return fmt.Errorf("netsim: no link %s–%s: unknown host", a, b)
	}
	l := n.link(a, b)
	l.mu.Lock()
	changed := l.cut != cut
	l.cut = cut
	conns := l.allLocked()
	l.mu.Unlock()
	n.mu.Unlock()
	if !changed {
		return nil
	}
	for _, c := range conns {
		c.wr.hold(cut)
		c.rd.hold(cut)
	}
	action := "restored"
	if cut {
		action = "cut"
	}
	n.trace.Emit(trace.Event{Kind: trace.KindLink, Action: action, Host: a, Peer: b})
	return nil
}

// SetLatency makes bytes between a and b take d (on the network's clock)
// to arrive.
func (n *Network) SetLatency(a, b string, d time.Duration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.hosts[a] == nil || n.hosts[b] == nil {
		return fmt.Errorf("netsim: no link %s–%s: unknown host", a, b)
	}
	l := n.link(a, b)
	l.mu.Lock()
	l.delay = d
	l.mu.Unlock()
	return nil
}

// Refuse makes a host refuse connections to a TCP port (true), as a
// firewall's reject rule would, or accept them again.
func (n *Network) Refuse(name string, port int, refuse bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.hosts[name]
	if h == nil {
		return fmt.Errorf("netsim: no host %s", name)
	}
	if refuse {
		h.refusing[port] = true
	} else {
		delete(h.refusing, port)
	}
	return nil
}

// link is the path between two hosts: its faults and its connections.
type link struct {
	mu    sync.Mutex
	cut   bool
	delay time.Duration
	conns map[*Conn]bool // client ends
}

func (l *link) latency() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.delay
}

func (l *link) add(c *Conn) {
	l.mu.Lock()
	l.conns[c] = true
	l.mu.Unlock()
}

func (l *link) forget(c *Conn) {
	l.mu.Lock()
	if c.client {
		delete(l.conns, c)
	}
	l.mu.Unlock()
}

func (l *link) all() []*Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.allLocked()
}

func (l *link) allLocked() []*Conn {
	out := make([]*Conn, 0, len(l.conns))
	for c := range l.conns {
		out = append(out, c)
	}
	return out
}

// Host is a simulated machine. It implements netx.Network for the agents
// that run on it.
type Host struct {
	n         *Network
	name      string
	addrs     []netip.Addr
	down      bool
	listeners map[int]*Listener
	packets   map[int]*PacketConn
	refusing  map[int]bool
	nextPort  int
}

var _ netx.Network = (*Host)(nil)

// Name returns the host's name.
func (h *Host) Name() string { return h.name }

// Addrs returns the host's IP addresses.
func (h *Host) Addrs() []netip.Addr { return slices.Clone(h.addrs) }

// Down reports whether the host is down.
func (h *Host) Down() bool {
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	return h.down
}

// Ports returns the TCP ports the host listens on, sorted.
func (h *Host) Ports() []int {
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	var ps []int
	for p := range h.listeners {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// PacketPorts returns the UDP ports the host listens on, sorted.
func (h *Host) PacketPorts() []int {
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	var ps []int
	for p, pc := range h.packets {
		if pc.remote == nil {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return ps
}

func (h *Host) primary() netip.Addr {
	if len(h.addrs) == 0 {
		return netip.MustParseAddr("127.0.0.1")
	}
	return h.addrs[0]
}

// bindLocked checks a local address and returns its port (allocating one
// for port 0). inUse tells whether a port is taken.
func (h *Host) bindLocked(network, address string, inUse func(int) bool) (netip.Addr, int, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return netip.Addr{}, 0, err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return netip.Addr{}, 0, fmt.Errorf("invalid port %q", portStr)
	}
	ip := h.primary()
	if host != "" && host != h.name && host != "localhost" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return netip.Addr{}, 0, fmt.Errorf("%s is not an address of %s", host, h.name)
		}
		if !a.IsUnspecified() && !a.IsLoopback() {
			if !slices.Contains(h.addrs, a.Unmap()) {
				return netip.Addr{}, 0, &os.SyscallError{Syscall: "bind", Err: syscall.EADDRNOTAVAIL}
			}
			ip = a.Unmap()
		}
	}
	if port == 0 {
		for i := 0; i < 16384; i++ {
			p := h.nextPort
			h.nextPort++
			if h.nextPort > 65535 {
				h.nextPort = 49152
			}
			if !inUse(p) {
				return ip, p, nil
			}
		}
		return netip.Addr{}, 0, &os.SyscallError{Syscall: "bind", Err: syscall.EADDRINUSE}
	}
	if inUse(port) {
		return netip.Addr{}, 0, &os.SyscallError{Syscall: "bind", Err: syscall.EADDRINUSE}
	}
	return ip, port, nil
}

// Listen listens on a TCP port of the host ("tcp", ":25" or "192.0.2.25:25").
func (h *Host) Listen(network, address string) (net.Listener, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	ip, port, err := h.bindLocked(network, address, func(p int) bool { return h.listeners[p] != nil })
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	l := &Listener{
		host:   h,
		port:   port,
		addr:   &net.TCPAddr{IP: ip.AsSlice(), Port: port},
		queue:  make(chan *Conn, 128),
		closed: make(chan struct{}),
	}
	h.listeners[port] = l
	return l, nil
}

// DialContext connects to address ("198.51.100.25:25", or a host name of
// the network) over "tcp" or "udp".
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return h.dialStream(ctx, network, address)
	case "udp", "udp4", "udp6":
		return h.dialPacket(network, address)
	}
	return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
}

func (h *Host) dialStream(ctx context.Context, network, address string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	hostPart, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("invalid port %q", portStr)}
	}
	n := h.n
	n.mu.Lock()
	target := n.lookupLocked(h, hostPart)
	n.connSeq++
	id := "c" + strconv.Itoa(n.connSeq)
	ev := trace.Event{Kind: trace.KindConn, Host: h.name, Peer: hostPart, Port: port, Conn: id, Proto: trace.ProtoForPort(port)}
	fail := func(errno syscall.Errno, action, why string) (net.Conn, error) {
		sniff := n.sniffFailedLocked(h, target, hostPart, port, errno)
		n.mu.Unlock()
		if sniff != nil {
			sniff()
		}
		ev.Action, ev.Text = action, why
		n.trace.Emit(ev)
		raddr := &net.TCPAddr{Port: port}
		if ip, err := netip.ParseAddr(hostPart); err == nil {
			raddr.IP = ip.AsSlice()
		}
		return nil, &net.OpError{Op: "dial", Net: network, Addr: raddr, Err: &os.SyscallError{Syscall: "connect", Err: errno}}
	}
	if h.down {
		return fail(syscall.ENETDOWN, "unreachable", h.name+" is down")
	}
	if target == nil {
		return fail(syscall.EHOSTUNREACH, "unreachable", "no such host on the network")
	}
	ev.Peer = target.name
	if target.down {
		return fail(syscall.EHOSTUNREACH, "unreachable", target.name+" is down")
	}
	l := n.link(h.name, target.name)
	l.mu.Lock()
	cut := l.cut
	l.mu.Unlock()
	if cut {
		return fail(syscall.EHOSTUNREACH, "unreachable", "the link is cut")
	}
	ln := target.listeners[port]
	if ln == nil {
		return fail(syscall.ECONNREFUSED, "refused", "nothing listens on that port")
	}
	if target.refusing[port] {
		return fail(syscall.ECONNREFUSED, "refused", "the port refuses connections")
	}
	lport := h.nextPort
	h.nextPort++
	if h.nextPort > 65535 {
		h.nextPort = 49152
	}
	sniffer := n.sniffer
	n.mu.Unlock()

	local := &net.TCPAddr{IP: h.primary().AsSlice(), Port: lport}
	if target == h {
		local.IP = ln.addr.IP
	}
	var tap *netx.Tap
	if n.trace != nil {
		tap = netx.NewTap(n.trace, ev)
		tap.Describe = n.DescribePacket
	}
	client, server := newConnPair(n.clk, l, local, ln.addr, tap)
	if sniffer != nil {
		// Seen before the server can accept and write its greeting.
		client.sniff, server.sniff, client.id, server.id = sniffer, sniffer, id, id
		sniffer.Open(id, tcpAddrPort(local), tcpAddrPort(ln.addr), n.clk.Now())
	}
	// The open event goes before the server can accept and write its
	// greeting: queued first, the greeting could come before it on a
	// busy machine, and a seeded world would not tell the same story.
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if len(ln.queue) == cap(ln.queue) {
		// The backlog is full: refused, as a real SYN queue overflow
		// (which a capture shows as a reset after the handshake).
		server.sniffClose(true)
		ev.Action, ev.Text = "refused", "the listen queue is full"
		n.trace.Emit(ev)
		return nil, &net.OpError{Op: "dial", Net: network, Addr: ln.addr, Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	}
	l.add(client)
	if tap != nil {
		tap.Open()
	}
	ln.queue <- server // never blocks: only dials, under mu, fill it
	return client, nil
}

// Listener accepts simulated TCP connections on one port of a host.
type Listener struct {
	host   *Host
	port   int
	addr   *net.TCPAddr
	queue  chan *Conn
	mu     sync.Mutex // a dial's look at the backlog, its open event and its queueing: one step
	once   sync.Once
	closed chan struct{}
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.queue:
		return c, nil
	case <-l.closed:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close stops listening; connections not yet accepted are reset.
func (l *Listener) Close() error {
	first := false
	l.once.Do(func() {
		first = true
		close(l.closed)
		h := l.host
		h.n.mu.Lock()
		if h.listeners[l.port] == l {
			delete(h.listeners, l.port)
		}
		h.n.mu.Unlock()
		for {
			select {
			case c := <-l.queue:
				c.abort()
			default:
				return
			}
		}
	})
	if !first {
		return &net.OpError{Op: "close", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	}
	return nil
}

// Addr returns the listening address.
func (l *Listener) Addr() net.Addr { return l.addr }
