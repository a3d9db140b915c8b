package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	miekg "github.com/miekg/dns"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netsim"
)

// short renders a record on one line with single spaces.
func short(rr miekg.RR) string { return strings.Join(strings.Fields(rr.String()), " ") }

func shorts(rrs []miekg.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype != miekg.TypeOPT {
			out = append(out, short(rr))
		}
	}
	return out
}

const soaNet = "example.net. 300 IN SOA ns.example. hostmaster.example.net. 2026010101 7200 900 1209600 300"

func TestAnswer(t *testing.T) {
	s := NewServer(loadTestZone(t, "example.net"), loadTestZone(t, "example.org"))
	q := func(name string, qtype uint16) *miekg.Msg {
		m := new(miekg.Msg)
		m.SetQuestion(name, qtype)
		return m
	}
	cases := []struct {
		name   string
		req    *miekg.Msg
		rcode  int
		aa     bool
		answer []string
		ns     []string
		extra  []string
	}{
		{name: "MX", req: q("example.net.", miekg.TypeMX), aa: true,
			answer: []string{"example.net. 3600 IN MX 10 mx.example.net."}},
		{name: "case-insensitive", req: q("MX.Example.NET.", miekg.TypeA), aa: true,
			answer: []string{"mx.example.net. 3600 IN A 198.51.100.25"}},
		{name: "CNAME followed in the zone", req: q("mail.example.net.", miekg.TypeA), aa: true,
			answer: []string{"mail.example.net. 3600 IN CNAME mx.example.net.", "mx.example.net. 3600 IN A 198.51.100.25"}},
		{name: "CNAME asked for", req: q("mail.example.net.", miekg.TypeCNAME), aa: true,
			answer: []string{"mail.example.net. 3600 IN CNAME mx.example.net."}},
		{name: "CNAME into another zone of the server", req: q("elsewhere.example.net.", miekg.TypeA), aa: true,
			answer: []string{"elsewhere.example.net. 3600 IN CNAME mail.example.org.", "mail.example.org. 3600 IN A 192.0.2.25"}},
		{name: "CNAME out of the server's zones", req: q("away.example.net.", miekg.TypeA), aa: true,
			answer: []string{"away.example.net. 3600 IN CNAME mx.example.com."}},
		{name: "CNAME loop", req: q("loop1.example.net.", miekg.TypeA), aa: true,
			answer: []string{"loop1.example.net. 3600 IN CNAME loop2.example.net.", "loop2.example.net. 3600 IN CNAME loop1.example.net."}},
		{name: "NXDOMAIN", req: q("nosuch.example.net.", miekg.TypeA), rcode: miekg.RcodeNameError, aa: true,
			ns: []string{soaNet}},
		{name: "NODATA", req: q("mx.example.net.", miekg.TypeMX), aa: true, ns: []string{soaNet}},
		{name: "empty non-terminal", req: q("deep.example.net.", miekg.TypeA), aa: true, ns: []string{soaNet}},
		{name: "null MX", req: q("nomail.example.net.", miekg.TypeMX), aa: true,
			answer: []string{"nomail.example.net. 3600 IN MX 0 ."}},
		// RFC 8482 §4.1: ANY gets one RRset, the smallest, not all.
		{name: "ANY", req: q("mx2.example.net.", miekg.TypeANY), aa: true,
			answer: []string{"mx2.example.net. 3600 IN A 198.51.100.26"}},
		{name: "ANY at the apex", req: q("example.net.", miekg.TypeANY), aa: true,
			answer: []string{"example.net. 3600 IN NS ns.example."}},
		{name: "ANY at an alias", req: q("mail.example.net.", miekg.TypeANY), aa: true,
			answer: []string{"mail.example.net. 3600 IN CNAME mx.example.net."}},
		{name: "ANY at a large name", req: q("many.example.net.", miekg.TypeANY), aa: true,
			answer: func() []string {
				var a []string
				for i := 1; i <= 40; i++ {
					a = append(a, fmt.Sprintf("many.example.net. 3600 IN A 203.0.113.%d", i))
				}
				return a
			}()},
		{name: "ANY at an empty non-terminal", req: q("deep.example.net.", miekg.TypeANY), aa: true, ns: []string{soaNet}},
		{name: "referral below a zone cut", req: q("host.sub.example.net.", miekg.TypeA),
			ns:    []string{"sub.example.net. 3600 IN NS ns.sub.example.net."},
			extra: []string{"ns.sub.example.net. 3600 IN A 198.51.100.53"}},
		{name: "outside the zones", req: q("example.com.", miekg.TypeA), rcode: miekg.RcodeRefused},
		{name: "zone transfer", req: q("example.net.", miekg.TypeAXFR), rcode: miekg.RcodeRefused},
		{name: "class CHAOS", req: func() *miekg.Msg {
			m := q("version.bind.", miekg.TypeTXT)
			m.Question[0].Qclass = miekg.ClassCHAOS
			return m
		}(), rcode: miekg.RcodeRefused},
		{name: "opcode NOTIFY", req: func() *miekg.Msg {
			m := q("example.net.", miekg.TypeSOA)
			m.Opcode = miekg.OpcodeNotify
			return m
		}(), rcode: miekg.RcodeNotImplemented},
		{name: "EDNS version 1", req: func() *miekg.Msg {
			m := q("example.net.", miekg.TypeMX)
			m.SetEdns0(4096, false)
			m.IsEdns0().SetVersion(1)
			return m
		}(), rcode: miekg.RcodeBadVers},
		{name: "two questions", req: func() *miekg.Msg {
			m := q("example.net.", miekg.TypeMX)
			m.Question = append(m.Question, m.Question[0])
			return m
		}(), rcode: miekg.RcodeFormatError},
		{name: "no question", req: &miekg.Msg{MsgHdr: miekg.MsgHdr{Id: 7}}, rcode: miekg.RcodeFormatError},
		// RFC 6891 §6.1.1: one OPT record at most, in the additional
		// section; §6.1.2: owned by the root.
		{name: "two OPT records", req: func() *miekg.Msg {
			m := q("example.net.", miekg.TypeMX)
			m.SetEdns0(4096, false)
			m.SetEdns0(1232, false) // SetEdns0 adds one more
			return m
		}(), rcode: miekg.RcodeFormatError},
		{name: "OPT in the authority section", req: func() *miekg.Msg {
			m := q("example.net.", miekg.TypeMX)
			m.SetEdns0(4096, false)
			m.Ns, m.Extra = m.Extra, nil
			return m
		}(), rcode: miekg.RcodeFormatError},
		{name: "OPT not owned by the root", req: func() *miekg.Msg {
			m := q("example.net.", miekg.TypeMX)
			m.SetEdns0(4096, false)
			m.IsEdns0().Hdr.Name = "example.net."
			return m
		}(), rcode: miekg.RcodeFormatError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := s.answer(c.req)
			if m.Id != c.req.Id || !m.Response || m.RecursionAvailable {
				t.Errorf("header: id %d (want %d), QR %v, RA %v", m.Id, c.req.Id, m.Response, m.RecursionAvailable)
			}
			if m.Rcode != c.rcode || m.Authoritative != c.aa {
				t.Errorf("rcode %s aa %v, want %s aa %v", rcodeName(m.Rcode), m.Authoritative, rcodeName(c.rcode), c.aa)
			}
			for _, sec := range []struct {
				name      string
				got, want []string
			}{{"answer", shorts(m.Answer), c.answer}, {"authority", shorts(m.Ns), c.ns}, {"additional", shorts(m.Extra), c.extra}} {
				if !slices.Equal(sec.got, sec.want) {
					t.Errorf("%s section:\n%s\nwant:\n%s", sec.name, strings.Join(sec.got, "\n"), strings.Join(sec.want, "\n"))
				}
			}
			if _, err := m.Pack(); err != nil {
				t.Errorf("the answer does not pack: %v", err)
			}
		})
	}
}

// exchange sends m to ns.example from mail.example.org over network and
// returns the answer and its size on the wire.
func exchange(t *testing.T, w *world, network string, m *miekg.Msg) (*miekg.Msg, int) {
	t.Helper()
	c, err := w.mail.DialContext(context.Background(), network, "192.0.2.53:53")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	co := &miekg.Conn{Conn: c, UDPSize: miekg.MaxMsgSize}
	if err := co.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	raw, err := co.ReadMsgHeader(nil)
	if err != nil {
		t.Fatal(err)
	}
	resp := new(miekg.Msg)
	if err := resp.Unpack(raw); err != nil {
		t.Fatal(err)
	}
	return resp, len(raw)
}

// RFC 1035 §4.2.1 and RFC 6891: a UDP answer fits 512 bytes, or what the
// client advertised (within the server's limit); the rest is cut and TC
// set. TCP carries it all.
func TestUDPTruncation(t *testing.T) {
	cases := []struct {
		name      string
		network   string
		edns      uint16 // 0: none
		serverMax int
		limit     int // the largest the answer may be
		tc        bool
	}{
		{name: "UDP without EDNS0", network: "udp", limit: 512, tc: true},
		{name: "UDP, EDNS0 600", network: "udp", edns: 600, limit: 600, tc: true},
		{name: "UDP, EDNS0 below 512 counts as 512", network: "udp", edns: 100, limit: 512, tc: true},
		{name: "UDP, EDNS0 4096", network: "udp", edns: 4096, limit: 4096},
		{name: "UDP, EDNS0 4096, server max 600", network: "udp", edns: 4096, serverMax: 600, limit: 600, tc: true},
		{name: "TCP", network: "tcp", limit: miekg.MaxMsgSize},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, false)
			w.ns.MaxUDPSize = c.serverMax
			m := new(miekg.Msg)
			m.SetQuestion("many.example.net.", miekg.TypeA)
			if c.edns > 0 {
				m.SetEdns0(c.edns, false)
			}
			resp, size := exchange(t, w, c.network, m)
			if resp.Truncated != c.tc || size > c.limit {
				t.Fatalf("TC=%v and %d bytes, want TC=%v and at most %d", resp.Truncated, size, c.tc, c.limit)
			}
			if n := len(resp.Answer); c.tc && n >= 40 || !c.tc && n != 40 {
				t.Fatalf("%d answers with TC=%v", n, resp.Truncated)
			}
			if c.edns > 0 {
				opt := resp.IsEdns0()
				if opt == nil || int(opt.UDPSize()) != w.ns.maxUDPSize() {
					t.Fatalf("answer's OPT %v, want the server's size %d", opt, w.ns.maxUDPSize())
				}
			}
		})
	}
}

func TestFaultsChoice(t *testing.T) {
	s := NewServer(loadTestZone(t, "example.net"), loadTestZone(t, "example.org"))
	for _, f := range []Fault{{Mode: "broken"}, {Mode: FaultDrop, Name: "bad..name"}} {
		if err := s.SetFault(f); err == nil {
			t.Errorf("SetFault(%+v) accepted", f)
		}
	}
	s.SetFault(Fault{Mode: FaultServFail})
	s.SetFault(Fault{Mode: FaultDrop, Name: "Example.NET"})
	s.SetFault(Fault{Mode: FaultRefused, Name: "mx2.example.net."})
	if got := s.Faults(); len(got) != 3 || got[1] != (Fault{Mode: FaultDrop, Name: "example.net."}) {
		t.Fatalf("Faults() = %+v", got)
	}
	ask := func(name string) string {
		m := new(miekg.Msg)
		m.SetQuestion(name, miekg.TypeA)
		r := s.answer(m)
		if r == nil {
			return "dropped"
		}
		return rcodeName(r.Rcode)
	}
	cases := map[string]string{
		"example.org.":      "SERVFAIL", // the fault for every name
		"example.net.":      "dropped",
		"mx.example.net.":   "dropped", // below example.net
		"mx2.example.net.":  "REFUSED", // the most specific fault
		"a.mx2.example.net": "REFUSED",
	}
	for name, want := range cases {
		if got := ask(name); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	s.SetFault(Fault{Name: "example.net"}) // no mode: cleared
	if got := ask("mx.example.net."); got != "SERVFAIL" {
		t.Errorf("after clearing example.net: %s", got)
	}
	s.ClearFaults()
	if got := ask("mx.example.net."); got != "NOERROR" || len(s.Faults()) != 0 {
		t.Errorf("after ClearFaults: %s, %v", got, s.Faults())
	}
	// Mending with no name mends every name (the World tab's "answers
	// normally" for every name; dns-broken starts with a named fault).
	s.SetFault(Fault{Mode: FaultServFail, Name: "example.net"})
	s.SetFault(Fault{Mode: FaultRefused})
	s.SetFault(Fault{})
	if got := ask("mx.example.net."); got != "NOERROR" || len(s.Faults()) != 0 {
		t.Errorf("after mending every name: %s, %v", got, s.Faults())
	}
}

func TestServeAfterShutdown(t *testing.T) {
	n := netsim.New(clock.NewVirtual(start), nil)
	h, _ := n.AddHost("ns.example", "192.0.2.53")
	s := NewServer()
	s.Shutdown()
	pc, err := h.ListenPacket("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ServePacket(pc); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("ServePacket after Shutdown: %v", err)
	}
	if _, _, err := pc.ReadFrom(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the conn is still open: %v", err)
	}
	if got := s.Zones(); len(got) != 0 {
		t.Fatalf("zones %v", got)
	}
}
