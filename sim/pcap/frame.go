package pcap

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers.
const (
	protoTCP = 6
	protoUDP = 17
)

// window is what every segment advertises: the simulated network's
// buffers are larger, and acknowledgements keep the bytes in flight far
// below it.
const window = 65535

func ipHeaderLen(a netip.Addr) int {
	if a.Is4() {
		return 20
	}
	return 40
}

// tcp returns an IP packet carrying a TCP segment. opts must be a
// multiple of four bytes long. mu held (the IPv4 identification).
func (c *Capture) tcp(src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload, opts []byte) []byte {
	hl := 20 + len(opts)
	seg := make([]byte, hl+len(payload))
	binary.BigEndian.PutUint16(seg[0:], src.Port())
	binary.BigEndian.PutUint16(seg[2:], dst.Port())
	binary.BigEndian.PutUint32(seg[4:], seq)
	binary.BigEndian.PutUint32(seg[8:], ack)
	seg[12] = byte(hl/4) << 4
	seg[13] = flags
	binary.BigEndian.PutUint16(seg[14:], window)
	copy(seg[20:], opts)
	copy(seg[hl:], payload)
	binary.BigEndian.PutUint16(seg[16:], transportChecksum(src.Addr(), dst.Addr(), protoTCP, seg))
	return c.ip(src.Addr(), dst.Addr(), protoTCP, seg)
}

// udp returns an IP packet carrying a UDP datagram. mu held.
func (c *Capture) udp(src, dst netip.AddrPort, payload []byte) []byte {
	d := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(d[0:], src.Port())
	binary.BigEndian.PutUint16(d[2:], dst.Port())
	binary.BigEndian.PutUint16(d[4:], uint16(len(d)))
	copy(d[8:], payload)
	sum := transportChecksum(src.Addr(), dst.Addr(), protoUDP, d)
	if sum == 0 {
		sum = 0xffff // 0 would mean no checksum (RFC 768)
	}
	binary.BigEndian.PutUint16(d[6:], sum)
	return c.ip(src.Addr(), dst.Addr(), protoUDP, d)
}

// ip wraps a transport segment in an IPv4 header (don't fragment, TTL 64,
// identification counting up) or an IPv6 one (hop limit 64). mu held.
func (c *Capture) ip(src, dst netip.Addr, proto byte, payload []byte) []byte {
	if src.Is4() {
		p := make([]byte, 20+len(payload))
		p[0] = 0x45
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
		c.ipID++
		binary.BigEndian.PutUint16(p[4:], c.ipID)
		binary.BigEndian.PutUint16(p[6:], 0x4000) // DF
		p[8] = 64
		p[9] = proto
		s4, d4 := src.As4(), dst.As4()
		copy(p[12:], s4[:])
		copy(p[16:], d4[:])
		binary.BigEndian.PutUint16(p[10:], ^fold(sum(0, p[:20])))
		copy(p[20:], payload)
		return p
	}
	p := make([]byte, 40+len(payload))
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(len(payload)))
	p[6] = proto
	p[7] = 64
	s16, d16 := src.As16(), dst.As16()
	copy(p[8:], s16[:])
	copy(p[24:], d16[:])
	copy(p[40:], payload)
	return p
}

// transportChecksum returns the TCP or UDP checksum of seg (its checksum
// field zero) with the pseudo-header of RFC 793 / RFC 8200 §8.1.
func transportChecksum(src, dst netip.Addr, proto byte, seg []byte) uint16 {
	var s uint32
	if src.Is4() {
		s4, d4 := src.As4(), dst.As4()
		s = sum(s, s4[:])
		s = sum(s, d4[:])
	} else {
		s16, d16 := src.As16(), dst.As16()
		s = sum(s, s16[:])
		s = sum(s, d16[:])
	}
	s += uint32(proto)
	s += uint32(len(seg)) // fits: segments are under 64 KiB
	return ^fold(sum(s, seg))
}

// sum adds b to a one's-complement sum of 16-bit words (RFC 1071).
func sum(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
		if s >= 1<<31 {
			s = s&0xffff + s>>16
		}
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
