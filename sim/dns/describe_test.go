package dns

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	miekg "github.com/miekg/dns"
)

func pack(t testing.TB, m *miekg.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDescribePacket(t *testing.T) {
	s := NewServer(loadTestZone(t, "example.net"))
	query := func(name string, qtype uint16) *miekg.Msg {
		m := new(miekg.Msg)
		m.SetQuestion(name, qtype)
		return m
	}
	reply := func(name string, qtype uint16) *miekg.Msg { return s.answer(query(name, qtype)) }
	cases := []struct {
		name string
		msg  *miekg.Msg
		raw  []byte
		want string
	}{
		{name: "query", msg: query("example.net.", miekg.TypeMX), want: "example.net. IN MX"},
		{name: "answer", msg: reply("example.net.", miekg.TypeMX), want: "NOERROR 1 answer"},
		{name: "answers", msg: reply("multi.example.net.", miekg.TypeMX), want: "NOERROR 3 answers"},
		{name: "nodata", msg: reply("mx.example.net.", miekg.TypeMX), want: "NOERROR 0 answers"},
		{name: "nxdomain", msg: reply("nosuch.example.net.", miekg.TypeMX), want: "NXDOMAIN"},
		{name: "refused", msg: reply("example.com.", miekg.TypeMX), want: "REFUSED"},
		{name: "truncated", msg: func() *miekg.Msg {
			m := reply("many.example.net.", miekg.TypeA)
			m.Truncate(512)
			return m
		}(), want: "NOERROR 29 answers, truncated"},
		{name: "notify", msg: func() *miekg.Msg {
			m := query("example.net.", miekg.TypeSOA)
			m.Opcode = miekg.OpcodeNotify
			return m
		}(), want: "NOTIFY example.net. IN SOA"},
		{name: "badvers", msg: func() *miekg.Msg {
			m := query("example.net.", miekg.TypeMX)
			m.SetEdns0(4096, false)
			m.IsEdns0().SetVersion(1)
			return s.answer(m)
		}(), want: "BADVERS"},
		{name: "no question", msg: &miekg.Msg{}, want: "query with no question"},
		{name: "odd name", msg: query("a\x01\nb.example.", miekg.TypeA), want: `a\001\010b.example. IN A`},
		{name: "garbage", raw: []byte{1, 2, 3}, want: "malformed DNS message (3 bytes)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.raw
			if c.msg != nil {
				b = pack(t, c.msg)
			}
			if got := DescribePacket(b); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			// Remembered, and the same under another id.
			describe := PacketDescriber()
			for id := range 3 {
				if len(b) >= 2 {
					b = append([]byte(nil), b...)
					b[0], b[1] = byte(id), byte(id*7)
				}
				if got := describe(b); got != c.want {
					t.Errorf("PacketDescriber, id %d: got %q, want %q", id, got, c.want)
				}
			}
		})
	}
}

// A PacketDescriber that has seen more datagrams than it remembers still
// describes each right.
func TestPacketDescriberForgets(t *testing.T) {
	describe := PacketDescriber()
	for round := range 2 {
		for i := range 1500 {
			m := new(miekg.Msg)
			m.SetQuestion(fmt.Sprintf("host%d.example.net.", i), miekg.TypeA)
			want := fmt.Sprintf("host%d.example.net. IN A", i)
			if got := describe(pack(t, m)); got != want {
				t.Fatalf("round %d: got %q, want %q", round, got, want)
			}
		}
	}
}

// FuzzDescribePacket: whatever arrives in a datagram, the summary is one
// line of valid UTF-8 and nothing panics.
func FuzzDescribePacket(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzDescribePacket.
	m := new(miekg.Msg)
	m.SetQuestion("example.net.", miekg.TypeMX)
	f.Add(pack(f, m))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := DescribePacket(b)
		if s == "" || strings.ContainsAny(s, "\r\n") || !utf8.ValidString(s) {
			t.Fatalf("summary %q", s)
		}
	})
}

// FuzzLoadZone: a zone file either loads into a zone that keeps the rules
// (one SOA at the origin, every name inside it) and that loads again from
// its own text, or fails with a *ZoneError. Nothing panics.
func FuzzLoadZone(f *testing.F) {
	// More seeds are in testdata/fuzz/FuzzLoadZone.
	f.Add("@ SOA ns.example. hostmaster 1 2 3 4 5\n@ MX 10 mx\nmx A 192.0.2.1\n")
	f.Fuzz(func(t *testing.T, text string) {
		z, err := LoadZone(strings.NewReader(text), "example.net.", "fuzz.zone")
		if err != nil {
			var ze *ZoneError
			if !errors.As(err, &ze) || err.Error() == "" {
				t.Fatalf("error %#v is not a *ZoneError", err)
			}
			return
		}
		if z.soa == nil || miekg.CanonicalName(z.soa.Hdr.Name) != "example.net." {
			t.Fatalf("zone without its SOA: %v", z.soa)
		}
		for _, rr := range z.Records() {
			if !miekg.IsSubDomain("example.net.", miekg.CanonicalName(rr.Header().Name)) {
				t.Fatalf("record outside the zone: %v", rr)
			}
		}
		again, err := LoadZone(strings.NewReader(z.String()), "example.net.", "again.zone")
		if err != nil {
			t.Fatalf("the zone's own text does not load: %v\n%s", err, z)
		}
		if len(again.records) != len(z.records) {
			t.Fatalf("%d records after a round trip, want %d", len(again.records), len(z.records))
		}
	})
}
