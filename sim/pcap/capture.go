// Package pcap writes a world's simulated traffic as a pcapng file (the
// format of draft-ietf-opsawg-pcapng) so Wireshark and tshark read it: the
// learner can open the journey of a message in the tools used on real
// networks, down to the TCP handshakes and, thanks to the TLS keys the
// file carries, the commands sent inside STARTTLS.
//
// A Capture is a netsim.Sniffer. The simulated network moves bytes, not
// packets, so the capture frames them as real stacks would: each stream
// connection as TCP over IPv4 (or IPv6), with a three-way handshake,
// sequence numbers from an initial number derived from the connection's
// id, segments of at most one MSS, the last segment of a write pushed,
// acknowledgements carried by the data going back (or a bare ACK from the
// receiver once two full segments wait for one), and a FIN from each end
// that closes, acknowledged at once (RST on a reset); each datagram as
// UDP. A connection's SYN carries its trace id as a comment ("mailhop
// connection c3"). The TLS secrets of the world's handshakes (NSS key log
// lines, written to KeyLog) go in a Decryption Secrets Block ahead of the
// packets, so Wireshark decrypts STARTTLS sessions without being told
// where the keys are.
package pcap

import (
	"bytes"
	"hash/fnv"
	"io"
	"net/netip"
	"sync"
	"time"
)

// DefaultLimit is a capture's limit in bytes when New is given none.
const DefaultLimit = 64 << 20

// mss is the largest TCP payload of a segment over IPv4 (an Ethernet
// MTU of 1500 less 40 bytes of headers); over IPv6 it is 20 bytes less.
const mss = 1460

// Capture records a simulated network's packets in memory, up to a limit
// of bytes, for WriteTo. It is safe for concurrent use.
type Capture struct {
	mu      sync.Mutex
	limit   int
	size    int // bytes kept: packet blocks and key log lines
	full    bool
	packets []packet
	dropped int // packets not kept because of the limit
	conns   map[string]*tcpConn
	ipID    uint16
	last    time.Time // of the newest packet: times never go back

	keys        []string // NSS key log lines, without duplicates, in order
	keySeen     map[string]bool
	keyPart     []byte // a line being written
	keysDropped int
}

// packet is one captured IP packet.
type packet struct {
	at      time.Time
	data    []byte // an IPv4 or IPv6 packet
	comment string
}

// tcpConn is what the capture knows of one TCP connection.
type tcpConn struct {
	ends [2]tcpEnd // client, server
	mss  int
}

// tcpEnd is one end's side of a connection.
type tcpEnd struct {
	addr  netip.AddrPort
	nxt   uint32 // sequence number of the next byte it sends
	acked uint32 // the last acknowledgement it sent
	fin   bool   // it sent its FIN
}

// TCP flags.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
)

// New returns an empty capture that keeps at most about limit bytes of
// packets and keys (the size of the file, give or take its headers);
// beyond it, further packets are counted as dropped. limit <= 0 means
// DefaultLimit.
func New(limit int) *Capture {
	if limit <= 0 {
		limit = DefaultLimit
	}
	return &Capture{limit: limit, conns: map[string]*tcpConn{}, keySeen: map[string]bool{}}
}

// Packets returns how many packets the capture holds.
func (c *Capture) Packets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.packets)
}

// Dropped returns how many packets the limit kept out of the capture.
func (c *Capture) Dropped() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// isn returns the initial sequence number of one end of a connection.
func isn(parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum32()
}

// Open records a connection's three-way handshake.
func (c *Capture) Open(id string, client, server netip.AddrPort, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	client, server = sameFamily(client, server)
	t := &tcpConn{mss: mssFor(client)}
	ci, si := isn("mailhop", id, "client"), isn("mailhop", id, "server")
	t.ends[0] = tcpEnd{addr: client, nxt: ci}
	t.ends[1] = tcpEnd{addr: server, nxt: si}
	c.conns[id] = t
	opt := mssOption(t.mss)
	c.segment(at, t, 0, flagSYN, nil, opt, "mailhop connection "+id)
	t.ends[0].nxt++
	c.segment(at, t, 1, flagSYN|flagACK, nil, opt, "")
	t.ends[1].nxt++
	c.segment(at, t, 0, flagACK, nil, nil, "")
}

// Failed records a dial that failed: a SYN, and the RST-ACK that refuses
// it when refused.
func (c *Capture) Failed(client, server netip.AddrPort, refused bool, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	client, server = sameFamily(client, server)
	t := &tcpConn{mss: mssFor(client)}
	t.ends[0] = tcpEnd{addr: client, nxt: isn("mailhop", client.String(), server.String(), at.String())}
	t.ends[1] = tcpEnd{addr: server}
	comment := "mailhop: no answer"
	if refused {
		comment = "mailhop: refused"
	}
	c.segment(at, t, 0, flagSYN, nil, mssOption(t.mss), comment)
	t.ends[0].nxt++
	if refused {
		c.segment(at, t, 1, flagRST|flagACK, nil, nil, "")
	}
}

// Data records bytes one end of a connection wrote, as segments of at
// most one MSS, the last pushed.
func (c *Capture) Data(id string, fromClient bool, p []byte, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.conns[id]
	if t == nil || len(p) == 0 {
		return
	}
	from := side(fromClient)
	s, r := &t.ends[from], &t.ends[1-from]
	if s.fin {
		return // nothing is sent after a FIN
	}
	for len(p) > 0 {
		n := min(len(p), t.mss)
		flags := uint8(flagACK)
		if n == len(p) {
			flags |= flagPSH
		}
		c.segment(at, t, from, flags, p[:n], nil, "")
		s.nxt += uint32(n)
		p = p[n:]
		if s.nxt-r.acked >= uint32(2*t.mss) {
			// The receiver acknowledges every second full segment.
			c.segment(at, t, 1-from, flagACK, nil, nil, "")
		}
	}
}

// Close records one end's FIN and the peer's acknowledgement of it, or a
// reset.
func (c *Capture) Close(id string, byClient, reset bool, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.conns[id]
	if t == nil {
		return
	}
	from := side(byClient)
	s, r := &t.ends[from], &t.ends[1-from]
	if reset {
		c.segment(at, t, from, flagRST|flagACK, nil, nil, "")
		delete(c.conns, id)
		return
	}
	if s.fin {
		return
	}
	c.segment(at, t, from, flagFIN|flagACK, nil, nil, "")
	s.nxt++
	s.fin = true
	c.segment(at, t, 1-from, flagACK, nil, nil, "")
	if r.fin {
		delete(c.conns, id)
	}
}

// Datagram records a UDP datagram.
func (c *Capture) Datagram(from, to netip.AddrPort, p []byte, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	from, to = sameFamily(from, to)
	if len(p) > 65535-8-ipHeaderLen(from.Addr()) {
		c.dropped++ // too big for one IP packet
		return
	}
	c.add(at, c.udp(from, to, p), "")
}

func side(client bool) int {
	if client {
		return 0
	}
	return 1
}

// segment records a TCP segment from end from of t, with the current
// sequence and acknowledgement numbers. mu held.
func (c *Capture) segment(at time.Time, t *tcpConn, from int, flags uint8, payload, opts []byte, comment string) {
	s, r := &t.ends[from], &t.ends[1-from]
	var ack uint32
	if flags&flagACK != 0 {
		ack = r.nxt
		s.acked = ack
	}
	c.add(at, c.tcp(s.addr, r.addr, s.nxt, ack, flags, payload, opts), comment)
}

// add keeps a packet unless the limit is reached. mu held.
func (c *Capture) add(at time.Time, data []byte, comment string) {
	if at.Before(c.last) {
		at = c.last
	}
	c.last = at
	size := epbSize(len(data), comment)
	if c.full || c.size+size > c.limit {
		c.full = true
		c.dropped++
		return
	}
	c.size += size
	c.packets = append(c.packets, packet{at: at, data: data, comment: comment})
}

// KeyLog returns a writer for NSS key log lines (what crypto/tls writes
// to a Config's KeyLogWriter); the capture keeps each line once, for the
// Decryption Secrets Block.
func (c *Capture) KeyLog() io.Writer { return keyLog{c} }

type keyLog struct{ c *Capture }

func (k keyLog) Write(p []byte) (int, error) {
	c := k.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keyPart = append(c.keyPart, p...)
	for {
		i := bytes.IndexByte(c.keyPart, '\n')
		if i < 0 {
			break
		}
		line := string(bytes.TrimRight(c.keyPart[:i], "\r"))
		c.keyPart = c.keyPart[i+1:]
		if line == "" || line[0] == '#' || c.keySeen[line] {
			continue
		}
		if c.full || c.size+len(line)+1 > c.limit {
			c.full = true
			c.keysDropped++
			continue
		}
		c.keySeen[line] = true
		c.keys = append(c.keys, line)
		c.size += len(line) + 1
	}
	if len(c.keyPart) > 4096 {
		c.keyPart = c.keyPart[:0] // not a key log
	}
	if len(c.keyPart) == 0 {
		c.keyPart = nil
	}
	return len(p), nil
}

// mssFor returns the MSS of a connection between such addresses.
func mssFor(a netip.AddrPort) int {
	if a.Addr().Is4() {
		return mss
	}
	return mss - 20
}

func mssOption(n int) []byte {
	return []byte{2, 4, byte(n >> 8), byte(n)}
}

// sameFamily returns the addresses as both IPv4 or both IPv6 (an IPv4
// address mapped, when the other is IPv6).
func sameFamily(a, b netip.AddrPort) (netip.AddrPort, netip.AddrPort) {
	if a.Addr().Is4() == b.Addr().Is4() {
		return a, b
	}
	a6 := netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
	b6 := netip.AddrPortFrom(netip.AddrFrom16(b.Addr().As16()), b.Port())
	return a6, b6
}
