package pcap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/netsim"
)

var _ netsim.Sniffer = (*Capture)(nil)

var (
	t0     = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	client = netip.MustParseAddrPort("192.0.2.10:49152")
	server = netip.MustParseAddrPort("192.0.2.25:25")
)

// rawBlock is a pcapng block as read back.
type rawBlock struct {
	typ  uint32
	body []byte // between the lengths
}

// readBlocks splits a pcapng file into blocks, checking each block's
// framing: lengths that agree, a multiple of four.
func readBlocks(t *testing.T, b []byte) []rawBlock {
	t.Helper()
	var out []rawBlock
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("%d bytes left over", len(b))
		}
		typ, total := le.Uint32(b), le.Uint32(b[4:])
		if total%4 != 0 || total < 12 || int(total) > len(b) {
			t.Fatalf("block %#x: bad length %d (%d left)", typ, total, len(b))
		}
		if end := le.Uint32(b[total-4:]); end != total {
			t.Fatalf("block %#x: trailing length %d, leading %d", typ, end, total)
		}
		out = append(out, rawBlock{typ: typ, body: b[8 : total-4]})
		b = b[total:]
	}
	return out
}

// options parses a block's options.
func options(t *testing.T, b []byte) map[uint16][]byte {
	t.Helper()
	opts := map[uint16][]byte{}
	for len(b) >= 4 {
		code, n := le.Uint16(b), int(le.Uint16(b[2:]))
		if code == optEnd {
			if n != 0 || len(b) != 4 {
				t.Fatalf("opt_endofopt: length %d, %d bytes after", n, len(b)-4)
			}
			return opts
		}
		if 4+pad4(n) > len(b) {
			t.Fatalf("option %d overruns its block", code)
		}
		opts[code] = b[4 : 4+n]
		b = b[4+pad4(n):]
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes after the options", len(b))
	}
	return opts
}

// file is a pcapng file as read back.
type file struct {
	shbOpts, idbOpts, isbOpts map[uint16][]byte
	linkType                  uint16
	secrets                   string
	packets                   []rawPacket
}

type rawPacket struct {
	at      time.Time
	data    []byte
	comment string
}

func parse(t *testing.T, b []byte) file {
	t.Helper()
	blocks := readBlocks(t, b)
	if len(blocks) < 2 || blocks[0].typ != blockSHB || blocks[1].typ != blockIDB {
		t.Fatalf("the file does not start with SHB, IDB")
	}
	var f file
	shb := blocks[0].body
	if le.Uint32(shb) != byteOrderMagic || le.Uint16(shb[4:]) != 1 || le.Uint16(shb[6:]) != 0 || le.Uint64(shb[8:]) != ^uint64(0) {
		t.Fatalf("SHB header % x", shb[:16])
	}
	f.shbOpts = options(t, shb[16:])
	idb := blocks[1].body
	f.linkType = le.Uint16(idb)
	f.idbOpts = options(t, idb[8:])
	seenPacket := false
	for _, bl := range blocks[2:] {
		switch bl.typ {
		case blockDSB:
			if seenPacket {
				t.Fatal("the Decryption Secrets Block comes after packets")
			}
			if le.Uint32(bl.body) != secretsTLS {
				t.Fatalf("DSB secrets type %#x", le.Uint32(bl.body))
			}
			n := int(le.Uint32(bl.body[4:]))
			f.secrets = string(bl.body[8 : 8+n])
			options(t, bl.body[8+pad4(n):])
		case blockEPB:
			seenPacket = true
			body := bl.body
			if le.Uint32(body) != 0 {
				t.Fatal("EPB of an unknown interface")
			}
			ts := int64(le.Uint32(body[4:]))<<32 | int64(le.Uint32(body[8:]))
			capLen, origLen := int(le.Uint32(body[12:])), int(le.Uint32(body[16:]))
			if capLen != origLen {
				t.Fatalf("EPB captured %d of %d", capLen, origLen)
			}
			p := rawPacket{at: time.Unix(0, ts).UTC(), data: body[20 : 20+capLen]}
			p.comment = string(options(t, body[20+pad4(capLen):])[optComment])
			f.packets = append(f.packets, p)
		case blockISB:
			f.isbOpts = options(t, bl.body[12:])
		default:
			t.Fatalf("unexpected block %#x", bl.typ)
		}
	}
	return f
}

func write(t *testing.T, c *Capture) file {
	t.Helper()
	var buf bytes.Buffer
	n, err := c.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo says %d bytes, wrote %d", n, buf.Len())
	}
	return parse(t, buf.Bytes())
}

// seg is a TCP segment or UDP datagram as read back, its checksums
// checked.
type seg struct {
	src, dst netip.AddrPort
	proto    byte
	seq, ack uint32
	flags    uint8
	opts     []byte
	payload  []byte
}

func (s seg) String() string {
	if s.proto == protoUDP {
		return fmt.Sprintf("UDP %v>%v len=%d", s.src, s.dst, len(s.payload))
	}
	var fl []string
	for _, f := range []struct {
		bit  uint8
		name string
	}{{flagSYN, "SYN"}, {flagFIN, "FIN"}, {flagRST, "RST"}, {flagPSH, "PSH"}, {flagACK, "ACK"}} {
		if s.flags&f.bit != 0 {
			fl = append(fl, f.name)
		}
	}
	return fmt.Sprintf("%d>%d %s seq=%d ack=%d len=%d", s.src.Port(), s.dst.Port(), strings.Join(fl, ","), s.seq, s.ack, len(s.payload))
}

func decode(t *testing.T, p []byte) seg {
	t.Helper()
	var s seg
	var src, dst netip.Addr
	var body []byte
	switch p[0] >> 4 {
	case 4:
		if p[0]&0x0f != 5 || int(binary.BigEndian.Uint16(p[2:])) != len(p) {
			t.Fatalf("IPv4 header % x", p[:20])
		}
		if fold(sum(0, p[:20])) != 0xffff {
			t.Fatalf("IPv4 header checksum wrong: % x", p[:20])
		}
		if p[8] != 64 || binary.BigEndian.Uint16(p[6:]) != 0x4000 {
			t.Fatalf("IPv4 TTL %d, flags %#x", p[8], binary.BigEndian.Uint16(p[6:]))
		}
		s.proto = p[9]
		src, dst = netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20]))
		body = p[20:]
	case 6:
		if int(binary.BigEndian.Uint16(p[4:])) != len(p)-40 {
			t.Fatalf("IPv6 payload length %d of %d", binary.BigEndian.Uint16(p[4:]), len(p)-40)
		}
		s.proto = p[6]
		src, dst = netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40]))
		body = p[40:]
	default:
		t.Fatalf("not an IP packet: % x", p[:4])
	}
	// The checksum over the pseudo-header and the segment, its own
	// checksum included, is all ones.
	var ps uint32
	if src.Is4() {
		a, b := src.As4(), dst.As4()
		ps = sum(sum(0, a[:]), b[:])
	} else {
		a, b := src.As16(), dst.As16()
		ps = sum(sum(0, a[:]), b[:])
	}
	ps += uint32(s.proto) + uint32(len(body))
	if got := fold(sum(ps, body)); got != 0xffff {
		t.Fatalf("proto %d checksum wrong (sum %#x)", s.proto, got)
	}
	s.src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(body))
	s.dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[2:]))
	switch s.proto {
	case protoTCP:
		s.seq, s.ack = binary.BigEndian.Uint32(body[4:]), binary.BigEndian.Uint32(body[8:])
		hl := int(body[12]>>4) * 4
		s.flags = body[13]
		if w := binary.BigEndian.Uint16(body[14:]); w != window {
			t.Fatalf("window %d", w)
		}
		s.opts, s.payload = body[20:hl], body[hl:]
	case protoUDP:
		if int(binary.BigEndian.Uint16(body[4:])) != len(body) {
			t.Fatal("UDP length wrong")
		}
		s.payload = body[8:]
	default:
		t.Fatalf("protocol %d", s.proto)
	}
	return s
}

func segments(t *testing.T, f file) []seg {
	t.Helper()
	var out []seg
	for _, p := range f.packets {
		out = append(out, decode(t, p.data))
	}
	return out
}

func TestBlockLayout(t *testing.T) {
	c := New(0)
	kl := c.KeyLog()
	line1 := "CLIENT_HANDSHAKE_TRAFFIC_SECRET 0a0b 0c0d\n"
	line2 := "SERVER_HANDSHAKE_TRAFFIC_SECRET 0a0b 0e0f\n"
	io.WriteString(kl, line1)
	io.WriteString(kl, line1) // the other end logs the same line
	io.WriteString(kl, line2[:10])
	io.WriteString(kl, line2[10:])
	c.Open("c1", client, server, t0)
	c.Data("c1", false, []byte("220 hello\r\n"), t0.Add(time.Millisecond))
	io.WriteString(kl, line2) // a duplicate, after packets: still in the one block
	f := write(t, c)

	if got := string(f.shbOpts[optUserAppl]); got != "mailhop" {
		t.Errorf("shb_userappl %q", got)
	}
	if strings.Contains(string(f.shbOpts[optComment]), "dropped") {
		t.Errorf("SHB comment speaks of drops: %q", f.shbOpts[optComment])
	}
	if f.linkType != linkRaw {
		t.Errorf("link type %d", f.linkType)
	}
	if got := f.idbOpts[optIfTSResol]; !bytes.Equal(got, []byte{9}) {
		t.Errorf("if_tsresol % x", got)
	}
	if f.secrets != line1+line2 {
		t.Errorf("secrets %q", f.secrets)
	}
	if len(f.packets) != 4 {
		t.Fatalf("%d packets, want the handshake and one segment", len(f.packets))
	}
	if f.packets[0].comment != "mailhop connection c1" {
		t.Errorf("SYN comment %q", f.packets[0].comment)
	}
	if !f.packets[0].at.Equal(t0) || !f.packets[3].at.Equal(t0.Add(time.Millisecond)) {
		t.Errorf("times %v, %v", f.packets[0].at, f.packets[3].at)
	}
	if got := le.Uint64(f.isbOpts[optISBRecv]); got != 4 {
		t.Errorf("isb_ifrecv %d", got)
	}
	if got := le.Uint64(f.isbOpts[optISBDrop]); got != 0 {
		t.Errorf("isb_ifdrop %d", got)
	}
}

func TestEmptyCapture(t *testing.T) {
	f := write(t, New(0))
	if len(f.packets) != 0 || f.secrets != "" || f.isbOpts != nil {
		t.Fatalf("an empty capture wrote %d packets, secrets %q, ISB %v", len(f.packets), f.secrets, f.isbOpts)
	}
}

// TestSequenceNumbers follows one connection: handshake, a reply, a
// write of three segments (acknowledged after the second), closes.
func TestSequenceNumbers(t *testing.T) {
	c := New(0)
	c.Open("c7", client, server, t0)
	c.Data("c7", false, []byte("220 ready\r\n"), t0)
	big := bytes.Repeat([]byte("x"), 2*mss+80)
	c.Data("c7", true, big, t0)
	c.Data("c7", false, []byte("250 ok\r\n"), t0)
	c.Close("c7", true, false, t0)
	c.Close("c7", true, false, t0) // Close after CloseWrite: one FIN
	c.Data("c7", true, []byte("late"), t0)
	c.Close("c7", false, false, t0)
	c.Data("c7", false, []byte("gone"), t0)
	segs := segments(t, write(t, c))

	ci, si := isn("mailhop", "c7", "client"), isn("mailhop", "c7", "server")
	type want struct {
		fromClient bool
		flags      uint8
		seq, ack   uint32
		n          int
	}
	wants := []want{
		{true, flagSYN, ci, 0, 0},
		{false, flagSYN | flagACK, si, ci + 1, 0},
		{true, flagACK, ci + 1, si + 1, 0},
		{false, flagPSH | flagACK, si + 1, ci + 1, 11},
		{true, flagACK, ci + 1, si + 12, mss},
		{true, flagACK, ci + 1 + mss, si + 12, mss},
		{false, flagACK, si + 12, ci + 1 + 2*mss, 0}, // every second segment
		{true, flagPSH | flagACK, ci + 1 + 2*mss, si + 12, 80},
		{false, flagPSH | flagACK, si + 12, ci + 81 + 2*mss, 8},
		{true, flagFIN | flagACK, ci + 81 + 2*mss, si + 20, 0},
		{false, flagACK, si + 20, ci + 82 + 2*mss, 0},
		{false, flagFIN | flagACK, si + 20, ci + 82 + 2*mss, 0},
		{true, flagACK, ci + 82 + 2*mss, si + 21, 0},
	}
	if len(segs) != len(wants) {
		for _, s := range segs {
			t.Log(s)
		}
		t.Fatalf("%d segments, want %d", len(segs), len(wants))
	}
	for i, w := range wants {
		s := segs[i]
		src, dst := server, client
		if w.fromClient {
			src, dst = client, server
		}
		if s.src != src || s.dst != dst || s.flags != w.flags || s.seq != w.seq || s.ack != w.ack || len(s.payload) != w.n {
			t.Errorf("segment %d: %v, want %v>%v flags %#x seq=%d ack=%d len=%d", i, s, src, dst, w.flags, w.seq, w.ack, w.n)
		}
	}
	if !bytes.Equal(segs[0].opts, []byte{2, 4, mss >> 8, mss & 0xff}) || !bytes.Equal(segs[1].opts, segs[0].opts) {
		t.Errorf("SYN options % x, SYN-ACK % x: want MSS %d", segs[0].opts, segs[1].opts, mss)
	}
	got := append(append([]byte(nil), segs[4].payload...), segs[5].payload...)
	got = append(got, segs[7].payload...)
	if !bytes.Equal(got, big) {
		t.Error("the segments do not carry the bytes written")
	}
	if c.Packets() != len(wants) {
		t.Errorf("Packets() = %d", c.Packets())
	}
}

func TestRefusedAndUnanswered(t *testing.T) {
	c := New(0)
	c.Failed(client, server, true, t0)
	other := netip.MustParseAddrPort("192.0.2.10:49153")
	c.Failed(other, server, false, t0)
	f := write(t, c)
	segs := segments(t, f)
	if len(segs) != 3 {
		t.Fatalf("%d segments: %v", len(segs), segs)
	}
	syn, rst, lone := segs[0], segs[1], segs[2]
	if syn.src != client || syn.flags != flagSYN || syn.ack != 0 {
		t.Errorf("SYN: %v", syn)
	}
	if rst.src != server || rst.dst != client || rst.flags != flagRST|flagACK || rst.seq != 0 || rst.ack != syn.seq+1 {
		t.Errorf("refusal: %v, want RST,ACK ack=%d", rst, syn.seq+1)
	}
	if lone.src != other || lone.flags != flagSYN {
		t.Errorf("unanswered SYN: %v", lone)
	}
	if f.packets[0].comment != "mailhop: refused" || f.packets[2].comment != "mailhop: no answer" {
		t.Errorf("comments %q, %q", f.packets[0].comment, f.packets[2].comment)
	}
}

func TestReset(t *testing.T) {
	c := New(0)
	c.Open("c1", client, server, t0)
	c.Data("c1", true, []byte("EHLO a\r\n"), t0)
	c.Close("c1", false, true, t0) // the server's host went down
	c.Data("c1", true, []byte("QUIT\r\n"), t0)
	c.Close("c1", true, false, t0)
	segs := segments(t, write(t, c))
	if len(segs) != 5 {
		t.Fatalf("%d segments: %v", len(segs), segs)
	}
	rst := segs[4]
	if rst.src != server || rst.flags != flagRST|flagACK || rst.seq != segs[1].seq+1 || rst.ack != segs[3].seq+8 {
		t.Errorf("reset: %v", rst)
	}
}

func TestDatagram(t *testing.T) {
	c := New(0)
	from := netip.MustParseAddrPort("192.0.2.25:49160")
	to := netip.MustParseAddrPort("192.0.2.53:53")
	c.Datagram(from, to, []byte("query"), t0)
	c.Datagram(to, from, []byte("answer!"), t0)
	// IPv6, and a v4 host writing to a v6 address: both as IPv6.
	v6a := netip.MustParseAddrPort("[2001:db8::25]:49161")
	v6b := netip.MustParseAddrPort("[2001:db8::53]:53")
	c.Datagram(v6a, v6b, []byte("q6"), t0)
	c.Datagram(from, v6b, []byte("odd"), t0)
	c.Datagram(from, to, make([]byte, 70000), t0) // too big for IP
	f := write(t, c)
	segs := segments(t, f)
	if len(segs) != 4 {
		t.Fatalf("%d datagrams: %v", len(segs), segs)
	}
	if segs[0].src != from || segs[0].dst != to || string(segs[0].payload) != "query" || segs[1].src != to || string(segs[1].payload) != "answer!" {
		t.Errorf("datagrams: %v, %v", segs[0], segs[1])
	}
	if segs[2].src != v6a || segs[2].dst != v6b || f.packets[2].data[0]>>4 != 6 {
		t.Errorf("IPv6 datagram: %v", segs[2])
	}
	if segs[3].src.Addr() != netip.MustParseAddr("::ffff:192.0.2.25") || segs[3].dst != v6b {
		t.Errorf("mixed datagram: %v", segs[3])
	}
	if c.Dropped() != 1 {
		t.Errorf("Dropped() = %d, want the oversized datagram", c.Dropped())
	}
}

func TestIPv6Connection(t *testing.T) {
	c := New(0)
	a := netip.MustParseAddrPort("[2001:db8::10]:49152")
	b := netip.MustParseAddrPort("[2001:db8::25]:587")
	c.Open("c1", a, b, t0)
	c.Data("c1", true, bytes.Repeat([]byte("y"), 1500), t0)
	segs := segments(t, write(t, c))
	if len(segs) != 5 {
		t.Fatalf("%d segments: %v", len(segs), segs)
	}
	if mssV6 := mss - 20; len(segs[3].payload) != mssV6 || len(segs[4].payload) != 1500-mssV6 {
		t.Errorf("IPv6 segments of %d and %d bytes, want an MSS of %d", len(segs[3].payload), len(segs[4].payload), mssV6)
	}
}

func TestLimit(t *testing.T) {
	c := New(600)
	c.Open("c1", client, server, t0)                       // 3 small packets
	c.Data("c1", true, bytes.Repeat([]byte("z"), 400), t0) // does not fit
	c.Data("c1", false, []byte("250 ok\r\n"), t0)          // would fit, but the capture is full
	c.Close("c1", true, false, t0)
	io.WriteString(c.KeyLog(), "CLIENT_RANDOM 00 11\n")
	if c.Packets() != 3 || c.Dropped() != 4 {
		t.Fatalf("kept %d, dropped %d; want 3 and 4", c.Packets(), c.Dropped())
	}
	f := write(t, c)
	if len(f.packets) != 3 || f.secrets != "" {
		t.Fatalf("file: %d packets, secrets %q", len(f.packets), f.secrets)
	}
	comment := string(f.shbOpts[optComment])
	if !strings.Contains(comment, "4 packets and 1 TLS key lines were dropped") || !strings.Contains(comment, "limit of 600 bytes") {
		t.Errorf("SHB comment: %q", comment)
	}
	if got := le.Uint64(f.isbOpts[optISBDrop]); got != 4 {
		t.Errorf("isb_ifdrop %d", got)
	}
	var buf bytes.Buffer
	n, _ := c.WriteTo(&buf)
	if n > 600+400 {
		t.Errorf("a capture limited to 600 bytes wrote %d", n)
	}
}

// TestConcurrent records from many goroutines (run with -race) and
// checks each connection's sequence numbers follow on.
func TestConcurrent(t *testing.T) {
	c := New(0)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("c%d", i)
			cl := netip.AddrPortFrom(client.Addr(), uint16(50000+i))
			c.Open(id, cl, server, t0)
			var inner sync.WaitGroup
			for _, fromClient := range []bool{true, false} {
				inner.Add(1)
				go func() {
					defer inner.Done()
					for range 50 {
						c.Data(id, fromClient, []byte("line\r\n"), t0)
					}
					c.Close(id, fromClient, false, t0)
				}()
			}
			inner.Wait()
		}()
	}
	go c.WriteTo(io.Discard)
	wg.Wait()
	next := map[[2]netip.AddrPort]uint32{} // by direction
	for _, s := range segments(t, write(t, c)) {
		dir := [2]netip.AddrPort{s.src, s.dst}
		if s.flags&flagSYN != 0 {
			next[dir] = s.seq + 1
			continue
		}
		if s.seq != next[dir] {
			t.Fatalf("%v: seq %d, want %d", s, s.seq, next[dir])
		}
		next[dir] += uint32(len(s.payload))
		if s.flags&flagFIN != 0 {
			next[dir]++
		}
	}
	if len(next) != 16 {
		t.Errorf("%d directions, want 16", len(next))
	}
}
