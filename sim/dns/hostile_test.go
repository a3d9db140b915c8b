//go:build !js

// These tests probe the server on real sockets of the loopback interface
// as an attacker would: odd queries, amplification, TCP connections held
// open or misused. There is no socket in the browser.

package dns

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	miekg "github.com/miekg/dns"
)

// askLoopback sends m to the server on port over network and returns the
// answer and its size on the wire.
func askLoopback(t *testing.T, network string, port int, m *miekg.Msg) (*miekg.Msg, int) {
	t.Helper()
	c, err := net.DialTimeout(network, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	co := &miekg.Conn{Conn: c, UDPSize: miekg.MaxMsgSize}
	if err := co.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	raw, err := co.ReadMsgHeader(nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp := new(miekg.Msg)
	if err := resp.Unpack(raw); err != nil {
		t.Fatal(err)
	}
	if resp.Id != m.Id || !resp.Response {
		t.Fatalf("not an answer to the query: %v", resp)
	}
	return resp, len(raw)
}

func TestHostileQueries(t *testing.T) {
	s := NewServer(loadTestZone(t, "example.net"), loadTestZone(t, "example.org"), bigZone(t))
	port := serveLoopback(t, s)
	q := func(name string, qtype uint16) *miekg.Msg {
		m := new(miekg.Msg)
		m.SetQuestion(name, qtype)
		return m
	}
	edns := func(m *miekg.Msg, size uint16) *miekg.Msg {
		m.SetEdns0(size, false)
		return m
	}
	cases := []struct {
		name    string
		network string
		req     *miekg.Msg
		rcode   int
		answers int
		opt     bool // the answer carries an OPT record of version 0
		max     int  // the largest the answer may be; 0: no limit
		tc      bool
	}{
		// RFC 8482 §4.1: one RRset, whichever the transport.
		{name: "ANY over UDP", network: "udp", req: q("example.net.", miekg.TypeANY), answers: 1},
		{name: "ANY over TCP", network: "tcp", req: q("example.net.", miekg.TypeANY), answers: 1},
		{name: "ANY with EDNS0", network: "udp", req: edns(q("example.net.", miekg.TypeANY), 4096), answers: 1, opt: true},
		// RFC 1035 §4.2.1: 512 bytes over UDP without EDNS0, the rest
		// cut and TC set, however large the answer.
		{name: "large answer without EDNS0", network: "udp", req: q("many.example.net.", miekg.TypeA),
			answers: 29, max: 512, tc: true},
		{name: "large ANY without EDNS0", network: "udp", req: q("many.example.net.", miekg.TypeANY),
			answers: 29, max: 512, tc: true},
		{name: "16 KB answer without EDNS0", network: "udp", req: q("fat.big.test.", miekg.TypeTXT),
			answers: -1, max: 512, tc: true},
		// RFC 6891 §6.2.5: no more than the server is willing to send.
		{name: "EDNS0 asking for 64 KB", network: "udp", req: edns(q("fat.big.test.", miekg.TypeTXT), 65535),
			answers: -1, opt: true, max: DefaultMaxUDPSize, tc: true},
		{name: "16 KB answer over TCP", network: "tcp", req: q("fat.big.test.", miekg.TypeTXT), answers: 60},
		// RFC 6891 §6.1.3: BADVERS, an OPT of our version, no answer.
		{name: "EDNS version 1", network: "udp", req: func() *miekg.Msg {
			m := edns(q("example.net.", miekg.TypeMX), 4096)
			m.IsEdns0().SetVersion(1)
			return m
		}(), rcode: miekg.RcodeBadVers, opt: true},
		{name: "EDNS version 255 over TCP", network: "tcp", req: func() *miekg.Msg {
			m := edns(q("example.net.", miekg.TypeMX), 4096)
			m.IsEdns0().SetVersion(255)
			return m
		}(), rcode: miekg.RcodeBadVers, opt: true},
		// RFC 6891 §6.1.1: more than one OPT is FORMERR.
		{name: "two OPT records", network: "udp", req: edns(edns(q("example.net.", miekg.TypeMX), 4096), 4096),
			rcode: miekg.RcodeFormatError},
		{name: "two OPT records over TCP", network: "tcp", req: edns(edns(q("example.net.", miekg.TypeMX), 4096), 512),
			rcode: miekg.RcodeFormatError},
		// RFC 9619: QDCOUNT is one in a query; FORMERR otherwise. The
		// answer to an EDNS query has an OPT (RFC 6891 §6.1.1), its
		// error included.
		{name: "no question", network: "udp", req: edns(&miekg.Msg{MsgHdr: miekg.MsgHdr{Id: 53}}, 4096),
			rcode: miekg.RcodeFormatError, opt: true},
		{name: "no question, no EDNS", network: "udp", req: &miekg.Msg{MsgHdr: miekg.MsgHdr{Id: 53}},
			rcode: miekg.RcodeFormatError},
		{name: "two questions", network: "udp", req: func() *miekg.Msg {
			m := edns(q("example.net.", miekg.TypeMX), 4096)
			m.Question = append(m.Question, miekg.Question{Name: "example.org.", Qtype: miekg.TypeMX, Qclass: miekg.ClassINET})
			return m
		}(), rcode: miekg.RcodeFormatError, opt: true},
		// RFC 1035 §4.1.1: NOTIMP for what we do not do.
		{name: "opcode UPDATE", network: "udp", req: func() *miekg.Msg {
			m := edns(q("example.net.", miekg.TypeSOA), 4096)
			m.Opcode = miekg.OpcodeUpdate
			return m
		}(), rcode: miekg.RcodeNotImplemented, opt: true},
		{name: "unassigned opcode", network: "tcp", req: func() *miekg.Msg {
			m := edns(q("example.net.", miekg.TypeSOA), 4096)
			m.Opcode = 15
			return m
		}(), rcode: miekg.RcodeNotImplemented, opt: true},
		{name: "opcode NOTIFY", network: "udp", req: func() *miekg.Msg {
			m := q("example.net.", miekg.TypeSOA)
			m.Opcode = miekg.OpcodeNotify
			return m
		}(), rcode: miekg.RcodeNotImplemented},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, size := askLoopback(t, c.network, port, c.req)
			if resp.Rcode != c.rcode {
				t.Errorf("rcode %s, want %s", rcodeName(resp.Rcode), rcodeName(c.rcode))
			}
			if c.answers >= 0 && len(resp.Answer) != c.answers {
				t.Errorf("%d answers, want %d:\n%v", len(resp.Answer), c.answers, resp)
			}
			opt := resp.IsEdns0()
			switch {
			case c.opt && opt == nil:
				t.Errorf("no OPT record in the answer to an EDNS query")
			case c.opt && opt.Version() != 0:
				t.Errorf("OPT record of version %d, want 0", opt.Version())
			case !c.opt && opt != nil:
				t.Errorf("an OPT record in the answer: %v", opt)
			}
			if c.max > 0 && size > c.max {
				t.Errorf("%d bytes, want at most %d", size, c.max)
			}
			if resp.Truncated != c.tc {
				t.Errorf("TC=%v, want %v", resp.Truncated, c.tc)
			}
		})
	}
}

// Datagrams that are not queries get nothing back: no reflection, no
// loop with another server.
func TestNotQueriesUnanswered(t *testing.T) {
	s := NewServer(loadTestZone(t, "example.net"))
	port := serveLoopback(t, s)
	response := new(miekg.Msg)
	response.SetQuestion("example.net.", miekg.TypeMX)
	response.Response = true
	packed, err := response.Pack()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"a response": packed, "shorter than a header": packed[:5]} {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(b); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			if n, err := c.Read(make([]byte, 512)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%d bytes back (%v), want nothing", n, err)
			}
		})
	}
}

// dialLoopback opens a TCP connection to the server on port.
func dialLoopback(t *testing.T, port int) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closes c within d, reading and
// discarding what it sends meanwhile.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return !errors.Is(err, os.ErrDeadlineExceeded) // EOF (nil) or a reset
}

// answered reports whether a query on c gets its answer.
func answered(t *testing.T, c net.Conn) bool {
	t.Helper()
	m := new(miekg.Msg)
	m.SetQuestion("example.net.", miekg.TypeMX)
	c.SetDeadline(time.Now().Add(2 * time.Second))
	co := &miekg.Conn{Conn: c}
	if err := co.WriteMsg(m); err != nil {
		return false
	}
	resp, err := co.ReadMsg()
	return err == nil && resp.Id == m.Id && len(resp.Answer) == 1
}

// A TCP frame too short to hold a DNS header (RFC 1035 §4.1.1: 12
// bytes) is no message: the server closes the connection, rather than let
// a client hold it with empty frames.
func TestTCPShortFrames(t *testing.T) {
	s := NewServer(loadTestZone(t, "example.net"))
	port := serveLoopback(t, s)
	for name, b := range map[string][]byte{
		"zero length":   {0, 0},
		"zero lengths":  {0, 0, 0, 0, 0, 0, 0, 0},
		"five bytes":    {0, 5, 1, 2, 3, 4, 5},
		"eleven bytes":  {0, 11, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0},
		"after a query": nil,
	} {
		t.Run(name, func(t *testing.T) {
			c := dialLoopback(t, port)
			if b == nil {
				if !answered(t, c) {
					t.Fatal("the first query got no answer")
				}
				b = []byte{0, 0}
			}
			if _, err := c.Write(b); err != nil {
				t.Fatal(err)
			}
			if !closedWithin(c, time.Second) {
				t.Fatal("the server keeps the connection open after a frame too short for a message")
			}
		})
	}
}

// RFC 7766 §10: a cap on the queries of one connection. The client that
// has asked that many is answered, then the server closes (at once, not
// after the idle timeout); a client asks more on a new connection.
func TestTCPQueriesPerConnection(t *testing.T) {
	s := NewServer(loadTestZone(t, "example.net"))
	port := serveLoopback(t, s)
	c := dialLoopback(t, port)
	var pipelined []byte
	for i := range tcpMaxQueries {
		m := new(miekg.Msg)
		m.SetQuestion("example.net.", miekg.TypeMX)
		m.Id = uint16(i)
		pipelined = append(pipelined, frame(t, m)...)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(pipelined); err != nil {
		t.Fatal(err)
	}
	co := &miekg.Conn{Conn: c}
	for i := range tcpMaxQueries {
		if _, err := co.ReadMsg(); err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
	}
	if !closedWithin(c, time.Second) {
		t.Fatalf("the connection stays open after %d queries", tcpMaxQueries)
	}
}

// RFC 7766 §6.2.2 and §10: a client can hold only so many connections,
// and all clients together so many more; a connection over either limit
// is closed as soon as it is accepted.
func TestTCPConnectionLimits(t *testing.T) {
	t.Run("per client", func(t *testing.T) {
		s := NewServer(loadTestZone(t, "example.net"))
		port := serveLoopback(t, s)
		held := make([]net.Conn, tcpMaxConnsPerClient)
		for i := range held {
			held[i] = dialLoopback(t, port)
			if !answered(t, held[i]) {
				t.Fatalf("connection %d: no answer", i+1)
			}
		}
		extra := dialLoopback(t, port)
		if !closedWithin(extra, time.Second) {
			t.Fatalf("connection %d of one client stays open", tcpMaxConnsPerClient+1)
		}
		if !answered(t, held[0]) {
			t.Fatal("a connection within the limit was closed")
		}
		held[0].Close()
		// Once the server has seen the close, a new one is let in.
		for deadline := time.Now().Add(2 * time.Second); !answered(t, dialLoopback(t, port)); {
			if time.Now().After(deadline) {
				t.Fatal("connections are still refused after one closed")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("in all", func(t *testing.T) {
		s := NewServer(loadTestZone(t, "example.net"))
		s.tcpMaxConns = 3
		port := serveLoopback(t, s)
		for i := range 3 {
			if !answered(t, dialLoopback(t, port)) {
				t.Fatalf("connection %d: no answer", i+1)
			}
		}
		if !closedWithin(dialLoopback(t, port), time.Second) {
			t.Fatal("connection 4 stays open, over the limit of 3")
		}
	})
}

// dig's view of ANY and of EDNS versions (RFC 8482, RFC 6891 §6.1.3).
func TestDigHostile(t *testing.T) {
	s := NewServer(loadTestZone(t, "example.net"), loadTestZone(t, "example.org"))
	port := serveLoopback(t, s)
	cases := []struct {
		name    string
		args    []string
		status  string
		answer  []string
		says    []string
		notSays []string
	}{
		{name: "ANY over UDP", args: []string{"+notcp", "example.net", "ANY"}, status: "NOERROR",
			answer: []string{"example.net. 3600 IN NS ns.example."}, says: []string{"(UDP)"}},
		{name: "ANY over TCP (dig's default)", args: []string{"example.net", "ANY"}, status: "NOERROR",
			answer: []string{"example.net. 3600 IN NS ns.example."}, says: []string{"(TCP)"}},
		{name: "ANY at an address", args: []string{"+notcp", "mx2.example.net", "ANY"}, status: "NOERROR",
			answer: []string{"mx2.example.net. 3600 IN A 198.51.100.26"}},
		{name: "EDNS version 1", args: []string{"+edns=1", "+noednsnegotiation", "example.net", "MX"}, status: "BADVERS",
			says: []string{"; EDNS: version: 0,"}},
		{name: "EDNS version 1, dig negotiates", args: []string{"+edns=1", "example.net", "MX"}, status: "NOERROR",
			answer: []string{"example.net. 3600 IN MX 10 mx.example.net."},
			says:   []string{";; BADVERS, retrying with EDNS version 0."}},
		{name: "opcode UPDATE", args: []string{"+opcode=5", "example.net", "SOA"}, status: "NOTIMP",
			says: []string{"; EDNS: version: 0,"}, notSays: []string{"WARNING: EDNS query returned status NOTIMP"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := dig(t, port, c.args...)
			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf(format+"\ndig said:\n%s", append(args, r.out)...)
			}
			if r.status != c.status {
				fail("status %s, want %s", r.status, c.status)
			}
			if got := strings.Join(r.sections["ANSWER"], "\n"); got != strings.Join(c.answer, "\n") {
				fail("answer section:\n%s\nwant:\n%s", got, strings.Join(c.answer, "\n"))
			}
			for _, s := range c.says {
				if !strings.Contains(r.out, s) {
					fail("dig does not say %q", s)
				}
			}
			for _, s := range c.notSays {
				if strings.Contains(r.out, s) {
					fail("dig says %q", s)
				}
			}
		})
	}
}

// A simulated socket is served by the server's own loop, a real one by
// miekg's: any datagram gets the same bytes back from both, or nothing
// from both.
func TestPacketLoopAnswersAsMiekg(t *testing.T) {
	s := NewServer(loadTestZone(t, "example.net"), loadTestZone(t, "example.org"), bigZone(t))
	port := serveLoopback(t, s)
	w := newWorld(t, false)
	h, err := w.net.AddHost("ns3.example", "192.0.2.55")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, s, h)
	sim, err := w.mail.DialContext(context.Background(), "udp", "192.0.2.55:53")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	real, err := net.Dial("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	ask := func(c net.Conn, b []byte, wait time.Duration) []byte {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		if wait > 0 {
			c.SetReadDeadline(time.Now().Add(wait))
		}
		buf := make([]byte, 65535)
		n, err := c.Read(buf)
		if err != nil {
			return nil
		}
		return buf[:n]
	}
	pack := func(m *miekg.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	q := func(name string, qtype uint16) *miekg.Msg {
		m := new(miekg.Msg)
		m.SetQuestion(name, qtype)
		return m
	}
	mx := pack(q("example.net.", miekg.TypeMX))
	edns := q("many.example.net.", miekg.TypeA)
	edns.SetEdns0(4096, false)
	resp := q("example.net.", miekg.TypeMX)
	resp.Response = true
	cases := map[string][]byte{
		"query":                   mx,
		"truncated answer":        pack(q("many.example.net.", miekg.TypeA)),
		"EDNS0":                   pack(edns),
		"nxdomain":                pack(q("nosuch.example.net.", miekg.TypeA)),
		"refused":                 pack(q("example.com.", miekg.TypeA)),
		"cut in the question":     mx[:len(mx)-3],
		"an answer count, no RRs": append(append([]byte(nil), mx[:7]...), append([]byte{1}, mx[8:]...)...),
		"trailing garbage":        append(append([]byte(nil), mx...), 1, 2, 3),
		"no question":             pack(&miekg.Msg{MsgHdr: miekg.MsgHdr{Id: 9}}),
		"header only, opcode 5":   {0, 1, 5 << 3, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"a response":              pack(resp),
		"shorter than a header":   mx[:5],
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			want := ask(real, b, 300*time.Millisecond)
			var got []byte
			if want == nil {
				// Nothing back from the real server: nothing from the
				// simulated one either (its socket keeps what comes).
				done := make(chan []byte, 1)
				go func() { done <- ask(sim, b, 0) }()
				select {
				case got = <-done:
				case <-time.After(300 * time.Millisecond):
					sim.SetReadDeadline(time.Now()) // ends the read
					<-done
					sim.SetReadDeadline(time.Time{})
				}
			} else {
				got = ask(sim, b, 0)
			}
			if silent := name == "a response" || name == "shorter than a header"; silent != (want == nil) {
				t.Fatalf("the real server answered %x", want)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("simulated socket: %x\nreal socket:      %x", got, want)
			}
		})
	}
}
