package dns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	miekg "github.com/miekg/dns"

	"github.com/mailhop/mailhop/sim/trace"
)

func targetStrings(ts []Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

// errKind sums up an error for a table: "", "permanent", "permanent
// nullmx", "temporary timeout", ...
func errKind(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		return "not an *Error: " + err.Error()
	}
	s := "temporary"
	if IsPermanent(err) {
		s = "permanent"
	}
	if e.NullMX {
		s += " nullmx"
	}
	if e.NotFound {
		s += " notfound"
	}
	if e.Timeout {
		s += " timeout"
	}
	return s
}

func TestLookupMX(t *testing.T) {
	w := newWorld(t, false)
	cases := []struct {
		domain string
		want   []string
		err    string // errKind
		reason string // in the error's text
	}{
		{domain: "example.net", want: []string{"10 mx.example.net [198.51.100.25]"}},
		{domain: "EXAMPLE.Net.", want: []string{"10 mx.example.net [198.51.100.25]"}},
		{domain: "example.org", want: []string{"10 mail.example.org [192.0.2.25]"}},
		// RFC 5321 §5.1: by preference; equal preferences by name here.
		{domain: "multi.example.net", want: []string{
			"10 mx.example.net [198.51.100.25]",
			"10 mx2.example.net [198.51.100.26 2001:db8::26]",
			"20 backup.example.net [198.51.100.27]",
		}},
		// No MX: the domain itself, preference 0.
		{domain: "implicit.example.net", want: []string{"0 implicit.example.net [198.51.100.40] (implicit MX)"}},
		// An MX naming an alias: its address is found through the CNAME.
		{domain: "alias.example.net", want: []string{"10 mail.example.net [198.51.100.25]"}},
		// The domain is an alias: the server follows it inside its zone.
		{domain: "www.example.net", want: []string{"10 mx.example.net [198.51.100.25]"}},
		// An alias into the server's other zone, where the name has no
		// MX: implicit MX of the canonical name.
		{domain: "elsewhere.example.net", want: []string{"0 mail.example.org [192.0.2.25] (implicit MX)"}},

		{domain: "nomail.example.net", err: "permanent nullmx", reason: "accepts no mail (null MX, RFC 7505)"},
		{domain: "nosuch.example.net", err: "permanent notfound", reason: "no such domain (NXDOMAIN)"},
		{domain: "txtonly.example.net", err: "permanent notfound", reason: "no MX records and no address"},
		{domain: "deep.example.net", err: "permanent notfound", reason: "no MX records and no address"},
		{domain: "dangling.example.net", err: "permanent notfound", reason: "no mail exchanger of the domain has an address"},
		{domain: "bad..name", err: "permanent", reason: "not a valid domain name"},
		// Outside the server's zones: REFUSED by every server, temporary.
		{domain: "example.com", err: "temporary", reason: "REFUSED from ns.example"},
		// The alias leads out of the server's zones; the resolver asks
		// about its target and is refused.
		{domain: "away.example.net", err: "temporary", reason: "mx.example.com. MX: REFUSED"},
		{domain: "loop1.example.net", err: "temporary", reason: "CNAME loop"},
		{domain: "host.sub.example.net", err: "temporary", reason: "refers to other servers for sub.example.net."},
	}
	for _, c := range cases {
		t.Run(c.domain, func(t *testing.T) {
			got, err := w.resolver.LookupMX(context.Background(), c.domain)
			if k := errKind(err); k != c.err {
				t.Fatalf("error %v: kind %q, want %q", err, k, c.err)
			}
			if err != nil && !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error %q does not say %q", err, c.reason)
			}
			if g := targetStrings(got); !slices.Equal(g, c.want) {
				t.Errorf("targets:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestLookupIP(t *testing.T) {
	w := newWorld(t, false)
	cases := []struct {
		host string
		want string
		err  string
	}{
		{host: "mx.example.net", want: "[198.51.100.25]"},
		{host: "mx2.example.net.", want: "[198.51.100.26 2001:db8::26]"}, // A then AAAA
		{host: "mail.example.net", want: "[198.51.100.25]"},              // CNAME followed
		{host: "192.0.2.7", want: "[192.0.2.7]"},                         // a literal asks nothing
		{host: "[2001:db8::7]", want: "[2001:db8::7]"},
		{host: "nosuch.example.net", want: "[]", err: "permanent notfound"},
		{host: "txtonly.example.net", want: "[]", err: "permanent notfound"},
		{host: "example.com", want: "[]", err: "temporary"},
	}
	for _, c := range cases {
		t.Run(c.host, func(t *testing.T) {
			got, err := w.resolver.LookupIP(context.Background(), c.host)
			if k := errKind(err); k != c.err {
				t.Fatalf("error %v: kind %q, want %q", err, k, c.err)
			}
			if g := fmt.Sprint(got); g != c.want {
				t.Errorf("got %s, want %s", g, c.want)
			}
		})
	}
}

// Answers over 512 bytes come truncated over UDP; the resolver asks again
// over TCP and gets them whole.
func TestTruncationRetriesOverTCP(t *testing.T) {
	cases := []struct {
		name    string
		udpSize uint16
		tcp     bool
	}{
		{"no EDNS0: 512 bytes", 0, true},
		{"EDNS0 4096 bytes", 4096, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, true)
			w.resolver.UDPSize = c.udpSize
			addrs, err := w.resolver.LookupIP(context.Background(), "many.example.net")
			if err != nil {
				t.Fatal(err)
			}
			if len(addrs) != 40 || addrs[0] != netip.MustParseAddr("203.0.113.1") || addrs[39] != netip.MustParseAddr("203.0.113.40") {
				t.Fatalf("got %d addresses %v, want 203.0.113.1 to .40", len(addrs), addrs)
			}
			ev := dnsEvents(w.rec)
			retried := slices.Contains(ev, "query mail.example.org → ns.example: many.example.net. IN A (TCP)")
			if retried != c.tcp {
				t.Fatalf("TCP retry %v, want %v; events:\n%s", retried, c.tcp, strings.Join(ev, "\n"))
			}
			if c.tcp {
				var truncated trace.Event
				for _, e := range w.rec.Events() {
					if e.Kind == trace.KindDNS && strings.HasSuffix(e.Text, ", truncated") {
						truncated = e
					}
				}
				if !strings.Contains(truncated.Note, "TCP") || len(truncated.Records) == 0 || len(truncated.Records) >= 40 {
					t.Errorf("truncated answer event: %+v", truncated)
				}
			}
		})
	}

	// 30 exchangers: the MX answer itself needs TCP.
	w := newWorld(t, false)
	got, err := w.resolver.LookupMX(context.Background(), "big.example.net")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 30 {
		t.Fatalf("%d exchangers, want 30", len(got))
	}
	for i, tg := range got {
		want := fmt.Sprintf("%d mx%d.big.example.net [198.51.100.%d]", i+1, i+1, i+1)
		if tg.String() != want {
			t.Fatalf("target %d = %s, want %s", i, tg, want)
		}
	}
}

// A teacher's faults: SERVFAIL and REFUSED are answers (temporary
// failures, at once); dropped queries and a host that is down give no
// answer at all, and the resolver gives up after Attempts × Timeout of
// virtual time.
func TestFaults(t *testing.T) {
	cases := []struct {
		name    string
		fault   Fault
		down    bool
		domain  string
		err     string
		reason  string
		virtual time.Duration // how long the lookup takes on the clock
	}{
		{name: "servfail everywhere", fault: Fault{Mode: FaultServFail}, domain: "example.net",
			err: "temporary", reason: "SERVFAIL from ns.example"},
		{name: "servfail for example.net", fault: Fault{Mode: FaultServFail, Name: "example.net"}, domain: "example.net",
			err: "temporary", reason: "SERVFAIL"},
		{name: "servfail below example.net", fault: Fault{Mode: FaultServFail, Name: "example.net"}, domain: "multi.example.net",
			err: "temporary", reason: "SERVFAIL"},
		{name: "servfail elsewhere", fault: Fault{Mode: FaultServFail, Name: "example.org"}, domain: "example.net"},
		{name: "refused", fault: Fault{Mode: FaultRefused}, domain: "example.net",
			err: "temporary", reason: "REFUSED"},
		{name: "dropped", fault: Fault{Mode: FaultDrop}, domain: "example.net",
			err: "temporary timeout", reason: "no answer from ns.example within 5s", virtual: 10 * time.Second},
		{name: "dropped for the exchanger's name", fault: Fault{Mode: FaultDrop, Name: "mx.example.net"}, domain: "example.net",
			err: "temporary timeout", reason: "mx.example.net. A: no answer", virtual: 2 * 10 * time.Second},
		{name: "server host down", down: true, domain: "example.net",
			err: "temporary timeout", reason: "no answer from ns.example", virtual: 10 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, true)
			if err := w.ns.SetFault(c.fault); err != nil {
				t.Fatal(err)
			}
			if c.down {
				w.net.SetDown("ns.example", true)
			}
			wall := time.Now()
			err, took := drive(t, w, func() error {
				_, err := w.resolver.LookupMX(context.Background(), c.domain)
				return err
			})
			if k := errKind(err); k != c.err {
				t.Fatalf("error %v: kind %q, want %q", err, k, c.err)
			}
			if err != nil && !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error %q does not say %q", err, c.reason)
			}
			// The deadlines are set from time.Now, so a few
			// microseconds of wall time come off each timeout.
			if took > c.virtual || took < c.virtual-100*time.Millisecond {
				t.Errorf("took %v of virtual time, want %v", took, c.virtual)
			}
			if time.Since(wall) > 3*time.Second {
				t.Errorf("took %v of wall time: timeouts must run on the virtual clock", time.Since(wall))
			}
		})
	}
}

// With the first server down, the second answers each query after the
// first's timeout: every query of the lookup starts with the first server
// again, as a stub resolver does (resolv.conf without "rotate").
func TestFailoverToSecondServer(t *testing.T) {
	w := newWorld(t, true)
	w.resolver.Servers = []string{"192.0.2.53:53", "192.0.2.54:53"}
	w.net.SetDown("ns.example", true)
	type result struct {
		ts  []Target
		err error
	}
	r, took := drive(t, w, func() result {
		ts, err := w.resolver.LookupMX(context.Background(), "example.net")
		return result{ts, err}
	})
	if r.err != nil || len(r.ts) != 1 || r.ts[0].Host != "mx.example.net" {
		t.Fatalf("got %v, %v", r.ts, r.err)
	}
	if took > 3*DefaultTimeout || took < 3*DefaultTimeout-100*time.Millisecond {
		t.Errorf("took %v of virtual time, want 3 timeouts (MX, A, AAAA)", took)
	}
	ev := dnsEvents(w.rec)
	want := []string{
		"query mail.example.org → ns.example: example.net. IN MX",
		"error mail.example.org → ns.example: no answer from ns.example within 5s",
		"query mail.example.org → ns2.example: example.net. IN MX",
		"answer mail.example.org → ns2.example: NOERROR, 1 answer [example.net.\t3600\tIN\tMX\t10 mx.example.net.]",
		"query mail.example.org → ns.example: mx.example.net. IN A",
	}
	if len(ev) < len(want) || !slices.Equal(ev[:len(want)], want) {
		t.Fatalf("events:\n%s\nwant first:\n%s", strings.Join(ev, "\n"), strings.Join(want, "\n"))
	}
}

// A lookup whose context ends stops at once, without waiting for the
// timeout.
func TestLookupCancelled(t *testing.T) {
	w := newWorld(t, false)
	w.ns.SetFault(Fault{Mode: FaultDrop})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := w.resolver.LookupMX(ctx, "example.net")
		done <- err
	}()
	waitFor(t, "the query to be waiting", func() bool { return w.v.Pending() >= 1 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || IsPermanent(err) {
			t.Fatalf("got %v, want a temporary error wrapping context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the lookup went on after its context was cancelled")
	}
	if now := w.v.Now(); !now.Equal(start) {
		t.Fatalf("the clock moved to %v", now)
	}
}

// A teacher changes the answers while the world runs.
func TestSetZoneAtRunTime(t *testing.T) {
	w := newWorld(t, false)
	z, err := LoadZone(strings.NewReader(`$TTL 60
@  SOA ns.example. hostmaster 1 2 3 4 5
@  MX  5 new-mx
new-mx A 198.51.100.99
`), "example.net", "changed.zone")
	if err != nil {
		t.Fatal(err)
	}
	w.ns.SetZone(z)
	got, err := w.resolver.LookupMX(context.Background(), "example.net")
	if err != nil || len(got) != 1 || got[0].String() != "5 new-mx.example.net [198.51.100.99]" {
		t.Fatalf("after SetZone: %v, %v", got, err)
	}
	if !w.ns.RemoveZone("example.net.") {
		t.Fatal("RemoveZone found no zone")
	}
	if _, err := w.resolver.LookupMX(context.Background(), "example.net"); errKind(err) != "temporary" {
		t.Fatalf("after RemoveZone: %v, want REFUSED (temporary)", err)
	}
}

// Every query and answer is a trace event, with the records as dig prints
// them and the message's queue id.
func TestTraceEvents(t *testing.T) {
	w := newWorld(t, true)
	ctx := WithMsg(context.Background(), "4F2A9C")
	if _, err := w.resolver.LookupMX(ctx, "example.net"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"query mail.example.org → ns.example: example.net. IN MX",
		"answer mail.example.org → ns.example: NOERROR, 1 answer [example.net.\t3600\tIN\tMX\t10 mx.example.net.]",
		"query mail.example.org → ns.example: mx.example.net. IN A",
		"answer mail.example.org → ns.example: NOERROR, 1 answer [mx.example.net.\t3600\tIN\tA\t198.51.100.25]",
		"query mail.example.org → ns.example: mx.example.net. IN AAAA",
		// NODATA: the SOA, its TTL the negative caching TTL (RFC 2308 §3).
		"answer mail.example.org → ns.example: NOERROR, 0 answers [example.net.\t300\tIN\tSOA\tns.example. hostmaster.example.net. 2026010101 7200 900 1209600 300]",
	}
	if got := dnsEvents(w.rec); !slices.Equal(got, want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var packets, served []string
	for _, e := range w.rec.Events() {
		switch {
		case e.Kind == trace.KindDNS && e.Action == "served":
			served = append(served, e.Host+" ← "+e.Peer+": "+e.Text)
		case e.Kind == trace.KindDNS:
			if e.Msg != "4F2A9C" || e.Proto != "dns" || e.Port != 53 {
				t.Errorf("event %+v: want msg 4F2A9C, proto dns, port 53", e)
			}
			if e.Action == "answer" && strings.Contains(e.Text, "1 answer") && strings.Contains(e.Records[0], "MX") &&
				!strings.Contains(e.Note, "RFC 5321") {
				t.Errorf("MX answer without a note: %+v", e)
			}
		case e.Kind == trace.KindPacket:
			packets = append(packets, e.Host+" → "+e.Peer+": "+e.Text)
		}
	}
	wantServed := []string{
		"ns.example ← 192.0.2.25: example.net. IN MX → NOERROR, 1 answer",
		"ns.example ← 192.0.2.25: mx.example.net. IN A → NOERROR, 1 answer",
		"ns.example ← 192.0.2.25: mx.example.net. IN AAAA → NOERROR, 0 answers",
	}
	if !slices.Equal(served, wantServed) {
		t.Errorf("server events:\n%s\nwant:\n%s", strings.Join(served, "\n"), strings.Join(wantServed, "\n"))
	}
	wantPackets := []string{
		"mail.example.org → ns.example: example.net. IN MX",
		"ns.example → mail.example.org: NOERROR 1 answer",
		"mail.example.org → ns.example: mx.example.net. IN A",
		"ns.example → mail.example.org: NOERROR 1 answer",
		"mail.example.org → ns.example: mx.example.net. IN AAAA",
		"ns.example → mail.example.org: NOERROR 0 answers",
	}
	if !slices.Equal(packets, wantPackets) {
		t.Fatalf("packets:\n%s\nwant:\n%s", strings.Join(packets, "\n"), strings.Join(wantPackets, "\n"))
	}
}

// Notes explain the answers a learner meets on a mail's way.
func TestTraceNotes(t *testing.T) {
	cases := []struct {
		domain string
		note   string // in the note of the MX answer
	}{
		{"implicit.example.net", "implicit MX (RFC 5321 §5.1)"},
		{"nomail.example.net", "null MX"},
		{"nosuch.example.net", "NXDOMAIN"},
		{"www.example.net", "alias (CNAME)"},
	}
	for _, c := range cases {
		t.Run(c.domain, func(t *testing.T) {
			w := newWorld(t, true)
			w.resolver.LookupMX(context.Background(), c.domain)
			for _, e := range w.rec.Events() {
				if e.Kind == trace.KindDNS && e.Action == "answer" {
					if !strings.Contains(e.Note, c.note) {
						t.Fatalf("first answer %q has note %q, want one about %q", e.Text, e.Note, c.note)
					}
					return
				}
			}
			t.Fatal("no answer event")
		})
	}
}

func TestResolverMisconfigured(t *testing.T) {
	r := &Resolver{}
	_, err := r.LookupMX(context.Background(), "example.net")
	if k := errKind(err); k != "temporary" || !strings.Contains(err.Error(), "no DNS server configured") {
		t.Fatalf("got %v (%s)", err, k)
	}
	var e *Error
	if !errors.As(err, &e) || e.Permanent() {
		t.Fatalf("%v: want a temporary *Error", err)
	}
	if IsTemporary(nil) || IsPermanent(nil) || !IsTemporary(errors.New("odd")) {
		t.Fatal("IsTemporary/IsPermanent of nil or foreign errors")
	}
}

func TestExchange(t *testing.T) {
	w := newWorld(t, false)
	m, err := w.resolver.Exchange(context.Background(), "nosuch.example.net", miekg.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rcode != miekg.RcodeNameError || !m.Authoritative || m.RecursionAvailable || len(m.Ns) != 1 {
		t.Fatalf("NXDOMAIN answer:\n%v", m)
	}
}

// Every query the resolver sends asks one question of class IN with
// recursion desired, under an id of its own (RFC 5452 §9.2), across
// more queries than the resolver draws random bytes for at once.
func TestQueryHeaderAndIDs(t *testing.T) {
	w := newWorld(t, false)
	h, err := w.net.AddHost("listener.example", "192.0.2.99")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := h.ListenPacket("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	queries := make(chan *miekg.Msg, 1)
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(miekg.Msg)
			if err := q.Unpack(buf[:n]); err != nil {
				t.Error(err)
				return
			}
			queries <- q
			resp := new(miekg.Msg)
			resp.SetRcode(q, miekg.RcodeNameError)
			b, _ := resp.Pack()
			pc.WriteTo(b, from)
		}
	}()
	r := &Resolver{Net: w.mail, Servers: []string{"192.0.2.99:53"}}
	const n = 600
	ids := map[uint16]bool{}
	for i := range n {
		done := make(chan error, 1)
		go func() {
			_, err := r.Exchange(context.Background(), fmt.Sprintf("q%d.example.net", i), miekg.TypeTXT)
			done <- err
		}()
		q := <-queries
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !q.RecursionDesired || q.Opcode != miekg.OpcodeQuery || q.Response || len(q.Question) != 1 ||
			q.Question[0].Qclass != miekg.ClassINET || q.Question[0].Qtype != miekg.TypeTXT ||
			q.Question[0].Name != fmt.Sprintf("q%d.example.net.", i) {
			t.Fatalf("query %d: %v", i, q)
		}
		ids[q.Id] = true
	}
	// 600 draws from 65,536 ids: about 3 repeats are to be expected.
	if len(ids) < n-20 {
		t.Errorf("%d different ids in %d queries", len(ids), n)
	}
}
