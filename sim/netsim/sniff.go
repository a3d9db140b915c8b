package netsim

import (
	"net"
	"net/netip"
	"syscall"
	"time"
)

// Sniffer sees the network's packets as a capture on every link would:
// what each end of a stream connection sends, in the order the bytes are
// sent, and every datagram that leaves a host. sim/pcap turns what it
// sees into TCP segments and UDP datagrams.
//
// Its methods are called from the goroutines that use the network, some
// with a connection's lock held: they must be quick, safe for concurrent
// use, and must not call back into the network. Times are the network
// clock's.
type Sniffer interface {
	// Open reports a connection established (SYN, SYN-ACK, ACK); id
	// names it in the calls that follow, as in the trace ("c7").
	Open(id string, client, server netip.AddrPort, at time.Time)
	// Failed reports a dial that got nowhere: refused (a SYN answered by
	// RST-ACK), or unanswered (a SYN to a host that is down or beyond a
	// cut link).
	Failed(client, server netip.AddrPort, refused bool, at time.Time)
	// Data reports bytes one end wrote, before the peer can read them.
	// p is valid only during the call.
	Data(id string, fromClient bool, p []byte, at time.Time)
	// Close reports that one end closed (a FIN from that end; more than
	// one call for the same end is possible and means one FIN), or reset
	// the connection (RST, after which nothing more of it is reported).
	Close(id string, byClient, reset bool, at time.Time)
	// Datagram reports a UDP datagram sent, whether it arrives or is lost
	// on the way. p is valid only during the call.
	Datagram(from, to netip.AddrPort, p []byte, at time.Time)
}

// SetSniffer makes s see the network's traffic from now on (nil stops
// it). Connections already open stay unseen.
func (n *Network) SetSniffer(s Sniffer) {
	n.mu.Lock()
	n.sniffer = s
	n.mu.Unlock()
}

// sniffClose reports this end closing (or resetting) the connection.
func (c *Conn) sniffClose(reset bool) {
	if c.sniff != nil {
		c.sniff.Close(c.id, c.client, reset, c.clk.Now())
	}
}

// sniffFailedLocked returns what the sniffer sees of a dial from h to
// port on hostPart (target, when known) that failed with errno: nil when
// no sniffer listens or nothing left h. A SYN needs a source port, so one
// is taken from h's ephemeral range. n.mu held.
func (n *Network) sniffFailedLocked(h, target *Host, hostPart string, port int, errno syscall.Errno) func() {
	if n.sniffer == nil || h.down {
		return nil
	}
	ip, err := netip.ParseAddr(hostPart)
	switch {
	case err == nil && !ip.IsLoopback() && !ip.IsUnspecified():
		ip = ip.Unmap()
	case target != nil:
		ip = target.primary()
	default:
		return nil // a name no host has: nothing to send to
	}
	lport := h.nextPort
	h.nextPort++
	if h.nextPort > 65535 {
		h.nextPort = 49152
	}
	s, at := n.sniffer, n.clk.Now()
	client := netip.AddrPortFrom(h.primary(), uint16(lport))
	server := netip.AddrPortFrom(ip, uint16(port))
	refused := errno == syscall.ECONNREFUSED
	return func() { s.Failed(client, server, refused, at) }
}

// tcpAddrPort returns a stream address as an AddrPort.
func tcpAddrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// onHost reports whether this end of the connection is on h.
func (c *Conn) onHost(h *Host) bool {
	a := tcpAddrPort(c.local).Addr()
	for _, x := range h.addrs {
		if x == a {
			return true
		}
	}
	return false
}
