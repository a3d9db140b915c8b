package mailauth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// appendixA is the DNS of RFC 7208 Appendix A, without example.com's
// SPF record.
const appendixA = `
example.com. 600 IN MX 10 mail-a.example.com.
example.com. 600 IN MX 20 mail-b.example.com.
example.com. 600 IN A 192.0.2.10
example.com. 600 IN A 192.0.2.11
amy.example.com. 600 IN A 192.0.2.65
bob.example.com. 600 IN A 192.0.2.66
mail-a.example.com. 600 IN A 192.0.2.129
mail-b.example.com. 600 IN A 192.0.2.130
www.example.com. 600 IN CNAME example.com.
example.org. 600 IN MX 10 mail-c.example.org.
mail-c.example.org. 600 IN A 192.0.2.140
10.2.0.192.in-addr.arpa. 600 IN PTR example.com.
11.2.0.192.in-addr.arpa. 600 IN PTR example.com.
65.2.0.192.in-addr.arpa. 600 IN PTR amy.example.com.
66.2.0.192.in-addr.arpa. 600 IN PTR bob.example.com.
129.2.0.192.in-addr.arpa. 600 IN PTR mail-a.example.com.
130.2.0.192.in-addr.arpa. 600 IN PTR mail-b.example.com.
140.2.0.192.in-addr.arpa. 600 IN PTR mail-c.example.org.
4.0.0.10.in-addr.arpa. 600 IN PTR bob.example.com.
`

func checkIP(t *testing.T, f *fakeDNS, ip, sender string) *SPFResult {
	t.Helper()
	q := SPFQuery{IP: netip.MustParseAddr(ip), Helo: "client.example", MailFrom: sender, Now: time.Unix(1700000000, 0)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return CheckSPF(ctx, FromExchanger(f), q)
}

// TestSPFAppendixA runs the simple examples of RFC 7208 Appendix A.1.
func TestSPFAppendixA(t *testing.T) {
	cases := []struct {
		record string
		want   map[string]Result // client address → result
	}{
		{"v=spf1 +all", map[string]Result{"192.0.2.1": Pass, "198.51.100.7": Pass}},
		{"v=spf1 a -all", map[string]Result{"192.0.2.10": Pass, "192.0.2.11": Pass, "192.0.2.65": Fail}},
		{"v=spf1 a:example.org -all", map[string]Result{"192.0.2.10": Fail, "192.0.2.140": Fail}},
		{"v=spf1 mx -all", map[string]Result{"192.0.2.129": Pass, "192.0.2.130": Pass, "192.0.2.10": Fail}},
		{"v=spf1 mx:example.org -all", map[string]Result{"192.0.2.140": Pass, "192.0.2.129": Fail}},
		{"v=spf1 mx mx:example.org -all", map[string]Result{
			"192.0.2.129": Pass, "192.0.2.130": Pass, "192.0.2.140": Pass, "192.0.2.10": Fail}},
		{"v=spf1 mx/30 mx:example.org/30 -all", map[string]Result{
			"192.0.2.128": Pass, "192.0.2.131": Pass, "192.0.2.141": Pass, "192.0.2.143": Pass,
			"192.0.2.132": Fail, "192.0.2.144": Fail}},
		{"v=spf1 ptr -all", map[string]Result{"192.0.2.65": Pass, "192.0.2.140": Fail, "10.0.0.4": Fail}},
		{"v=spf1 ip4:192.0.2.128/28 -all", map[string]Result{"192.0.2.65": Fail, "192.0.2.129": Pass}},
	}
	for _, c := range cases {
		f := newFakeDNS(t, appendixA, txt("example.com.", c.record))
		for ip, want := range c.want {
			res := checkIP(t, f, ip, "sender@example.com")
			if res.Result != want {
				t.Errorf("%q from %s = %s (%s), want %s", c.record, ip, res.Result, res.Reason, want)
			}
		}
	}
}

// TestSPFAppendixA3 is the DNS blacklist style example of RFC 7208
// Appendix A.3, with macros and include.
func TestSPFAppendixA3(t *testing.T) {
	f := newFakeDNS(t, appendixA,
		txt("example.com.", "v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all"),
		txt("mobile-users._spf.example.com.", "v=spf1 exists:%{l1r+}.%{d}"),
		txt("remote-users._spf.example.com.", "v=spf1 exists:%{ir}.%{l1r+}.%{d}"),
		"mary.mobile-users._spf.example.com. IN A 127.0.0.2",
		"fred.mobile-users._spf.example.com. IN A 127.0.0.2",
		"15.15.168.192.joel.remote-users._spf.example.com. IN A 127.0.0.2",
		"16.15.168.192.joel.remote-users._spf.example.com. IN A 127.0.0.2",
	)
	cases := []struct {
		ip, sender string
		want       Result
	}{
		{"203.0.113.9", "mary@example.com", Pass},
		{"203.0.113.9", "fred+lists@example.com", Pass}, // l1r+ keeps "fred"
		{"192.168.15.15", "joel@example.com", Pass},
		{"192.168.15.16", "joel@example.com", Pass},
		{"192.168.15.17", "joel@example.com", Fail},
		{"203.0.113.9", "eve@example.com", Fail},
		{"192.0.2.129", "eve@example.com", Pass}, // mx
	}
	for _, c := range cases {
		res := checkIP(t, f, c.ip, c.sender)
		if res.Result != c.want {
			t.Errorf("%s from %s = %s (%s), want %s", c.sender, c.ip, res.Result, res.Reason, c.want)
		}
	}
}

// TestSPFMacros checks the expansions of RFC 7208 §7.4.
func TestSPFMacros(t *testing.T) {
	env := &macroEnv{
		sender: "strong-bad@email.example.com", local: "strong-bad", domainOf: "email.example.com",
		domain: "email.example.com", ip: netip.MustParseAddr("192.0.2.3"), helo: "mx.example.org",
		receiver: "mx.example.net", now: time.Unix(1700000000, 0),
	}
	cases := map[string]string{
		"%{s}":                              "strong-bad@email.example.com",
		"%{o}":                              "email.example.com",
		"%{d}":                              "email.example.com",
		"%{d4}":                             "email.example.com",
		"%{d3}":                             "email.example.com",
		"%{d2}":                             "example.com",
		"%{d1}":                             "com",
		"%{dr}":                             "com.example.email",
		"%{d2r}":                            "example.email",
		"%{l}":                              "strong-bad",
		"%{l-}":                             "strong.bad",
		"%{lr}":                             "strong-bad",
		"%{lr-}":                            "bad.strong",
		"%{l1r-}":                           "strong",
		"%{ir}.%{v}._spf.%{d2}":             "3.2.0.192.in-addr._spf.example.com",
		"%{lr-}.lp._spf.%{d2}":              "bad.strong.lp._spf.example.com",
		"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}":   "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
		"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}":  "3.2.0.192.in-addr.strong.lp._spf.example.com",
		"%{d2}.trusted-domains.example.net": "example.com.trusted-domains.example.net",
		"%{S}":                              "strong-bad%40email.example.com",
		"%%%_%-%{h}":                        "% %20mx.example.org",
		"%{d99999999999999}":                "email.example.com",
	}
	for in, want := range cases {
		parts, err := parseMacros(in, false)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got := env.expand(parts); got != want {
			t.Errorf("%q = %q, want %q", in, got, want)
		}
	}
	env.ip = netip.MustParseAddr("2001:db8::cb01")
	parts, _ := parseMacros("%{ir}.%{v}._spf.%{d2}", false)
	want := "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
	if got := env.expand(parts); got != want {
		t.Errorf("IPv6 %%{ir} = %q, want %q", got, want)
	}
	parts, _ = parseMacros("%{c} is not allowed by %{r} at %{t}", true)
	if got := env.expand(parts); got != "2001:db8::cb01 is not allowed by mx.example.net at 1700000000" {
		t.Errorf("exp macros = %q", got)
	}
	for _, bad := range []string{"%{c}", "%{x}", "%{d0}", "%", "%a", "%{d", "%{d2r!}", "%{}"} {
		if _, err := parseMacros(bad, false); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	// A name over 253 characters loses labels on the left.
	env.domain = strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + ".example.com"
	name, err := env.expandDomain("%{d}.%{d}")
	if err != nil || len(name) > 253 || !strings.HasSuffix(name, ".example.com") {
		t.Errorf("long name = %q (%d), %v", name, len(name), err)
	}
}

func TestParseSPF(t *testing.T) {
	good := []string{
		"v=spf1",
		"v=spf1 ",
		"V=SPF1 MX -ALL",
		"v=spf1  a  mx  ~all ",
		"v=spf1 a/24 mx//64 a:example.org/24//64 mx:example.org//0",
		"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ip6:::1 ip4:0.0.0.0/0 -all",
		"v=spf1 include:_spf.example.org ?include:%{d}.example.net ~all",
		"v=spf1 exists:%{ir}.%{l1r+}.%{d} -all",
		"v=spf1 ptr ptr:example.org -all",
		"v=spf1 redirect=_spf.example.org",
		"v=spf1 -all exp=explain._spf.%{d}",
		"v=spf1 foo.bar=baz unknown-mod=%{d} -all",
		"v=spf1 a:example.org. -all",
	}
	for _, s := range good {
		if _, err := ParseSPF(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	bad := []string{
		"v=spf10",
		"spf1 -all",
		"v=spf1 foo",
		"v=spf1 all:example.org",
		"v=spf1 all/24",
		"v=spf1 include",
		"v=spf1 include:",
		"v=spf1 exists",
		"v=spf1 ip4",
		"v=spf1 ip4:192.0.2.1/33",
		"v=spf1 ip4:192.0.2.1/024",
		"v=spf1 ip4:2001:db8::1",
		"v=spf1 ip6:192.0.2.1",
		"v=spf1 ip6:::1/129",
		"v=spf1 ip4:192.0.2.300",
		"v=spf1 a:example.org/33",
		"v=spf1 a:localhost",
		"v=spf1 a:example.123",
		"v=spf1 a:example.org/",
		"v=spf1 mx:",
		"v=spf1 ptr/24",
		"v=spf1 redirect=a redirect=b",
		"v=spf1 redirect=example.org redirect=example.org",
		"v=spf1 exp=a.example exp=b.example",
		"v=spf1 -redirect=example.org",
		"v=spf1 1foo=bar",
		"v=spf1 include:%{x}.example.org",
		"v=spf1 exists:%{c}.example.org",
		"v=spf1 a:%{d",
		"v=spf1 foo=%",
		"v=spf1 a:exa\x01mple.org",
	}
	for _, s := range bad {
		if rec, err := ParseSPF(s); err == nil {
			t.Errorf("%q parsed: %+v", s, rec)
		}
	}
	rec, err := ParseSPF("v=spf1 -a:example.org/24//64 ~ip6:2001:db8::1/48 redirect=_spf.%{d2}")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Terms) != 2 || rec.Redirect != "_spf.%{d2}" {
		t.Fatalf("%+v", rec)
	}
	a, ip6 := rec.Terms[0], rec.Terms[1]
	if a.Qualifier != '-' || a.Mechanism != "a" || a.Domain != "example.org" || a.CIDR4 != 24 || a.CIDR6 != 64 {
		t.Errorf("a term = %+v", a)
	}
	if ip6.Result() != SoftFail || ip6.Net.String() != "2001:db8::/48" {
		t.Errorf("ip6 term = %+v", ip6)
	}
}

// TestSPFEdgeCases covers the errors and limits of RFC 7208 §4 in the
// manner of the openspf test suite.
func TestSPFEdgeCases(t *testing.T) {
	nineAs := strings.Repeat("a:h.example.org ", 9)
	cases := []struct {
		name    string
		records []string
		servf   []string
		ip      string
		sender  string
		want    Result
		reason  string // a part of the reason
	}{
		{name: "no record", records: []string{"example.org. IN A 192.0.2.1"}, want: None, reason: "publishes no SPF record"},
		{name: "nxdomain", records: []string{"example.net. IN A 192.0.2.1"}, want: None},
		{name: "malformed domain", sender: "x@example..org", want: None, reason: "not a valid domain"},
		{name: "single label", sender: "x@localhost", want: None},
		{name: "not spf", records: []string{txt("example.org.", "v=spf10 -all"), txt("example.org.", "hello")}, want: None},
		{name: "two records", records: []string{txt("example.org.", "v=spf1 -all"), txt("example.org.", "v=spf1 +all")},
			want: PermError, reason: "2 SPF records"},
		{name: "syntax error", records: []string{txt("example.org.", "v=spf1 ip4:192.0.2.7 foo:bar -all")},
			want: PermError, reason: "unknown mechanism"},
		{name: "syntax error after match", records: []string{txt("example.org.", "v=spf1 +all ip4:1.2.3.4/99")},
			want: PermError},
		{name: "split TXT", records: []string{txt("example.org.", "v=spf1 ", "ip4:198.51.100.0/24", " -all")}, want: Pass},
		{name: "TXT in 60 strings", records: []string{txt("example.org.", strings.Split("v=spf1 ip4:198.51.100.7 -all", "")...)}, want: Pass},
		{name: "ends in -all", records: []string{txt("example.org.", "v=spf1 ip4:192.0.2.0/24 -all")}, want: Fail,
			reason: "198.51.100.7 is not in example.org's SPF record, which ends in -all"},
		{name: "softfail", records: []string{txt("example.org.", "v=spf1 ~all")}, want: SoftFail},
		{name: "neutral", records: []string{txt("example.org.", "v=spf1 ?all")}, want: Neutral},
		{name: "no match", records: []string{txt("example.org.", "v=spf1 ip4:192.0.2.1")}, want: Neutral, reason: "no term"},
		{name: "unknown modifier", records: []string{txt("example.org.", "v=spf1 moo.cow-far_out=man:dog/cat ip4:198.51.100.7 -all")}, want: Pass},
		{name: "include pass", records: []string{
			txt("example.org.", "v=spf1 include:_spf.example.net -all"),
			txt("_spf.example.net.", "v=spf1 ip4:198.51.100.0/24 -all")}, want: Pass, reason: "include:_spf.example.net"},
		{name: "include fail is no match", records: []string{
			txt("example.org.", "v=spf1 include:_spf.example.net ?all"),
			txt("_spf.example.net.", "v=spf1 -all")}, want: Neutral},
		{name: "include none", records: []string{txt("example.org.", "v=spf1 include:nothing.example.net -all")},
			want: PermError, reason: "has no SPF record"},
		{name: "include temperror", records: []string{txt("example.org.", "v=spf1 include:down.example.net -all")},
			servf: []string{"down.example.net."}, want: TempError},
		{name: "include permerror", records: []string{
			txt("example.org.", "v=spf1 include:bad.example.net -all"),
			txt("bad.example.net.", "v=spf1 bogus")}, want: PermError, reason: "included by example.org"},
		{name: "include loop", records: []string{txt("example.org.", "v=spf1 include:example.org -all")},
			want: PermError, reason: "limit is 10"},
		{name: "mutual include loop", records: []string{
			txt("example.org.", "v=spf1 include:b.example.org -all"),
			txt("b.example.org.", "v=spf1 include:example.org -all")}, want: PermError},
		{name: "redirect loop", records: []string{txt("example.org.", "v=spf1 redirect=example.org")}, want: PermError},
		{name: "redirect", records: []string{
			txt("example.org.", "v=spf1 redirect=_spf.example.net"),
			txt("_spf.example.net.", "v=spf1 ip4:198.51.100.7 -all")}, want: Pass, reason: "redirects to _spf.example.net"},
		{name: "redirect none", records: []string{txt("example.org.", "v=spf1 redirect=nothing.example.net")},
			want: PermError},
		{name: "redirect ignored with all", records: []string{
			txt("example.org.", "v=spf1 redirect=_spf.example.net -all"),
			txt("_spf.example.net.", "v=spf1 +all")}, want: Fail},
		{name: "ten lookups", records: []string{
			txt("example.org.", "v=spf1 "+nineAs+"mx -all"), "h.example.org. IN A 192.0.2.1",
			"example.org. IN MX 10 h.example.org."}, want: Fail},
		{name: "eleven lookups", records: []string{
			txt("example.org.", "v=spf1 "+nineAs+"mx exists:h.example.org -all"), "h.example.org. IN A 192.0.2.1",
			"example.org. IN MX 10 h.example.org."}, want: PermError, reason: "DNS-querying term number 11"},
		{name: "lookups counted through include", records: []string{
			txt("example.org.", "v=spf1 include:i.example.org "+strings.Repeat("a:h.example.org ", 6)+"-all"),
			txt("i.example.org.", "v=spf1 "+strings.Repeat("a:h.example.org ", 4)+"-all"),
			"h.example.org. IN A 192.0.2.1"}, want: PermError},
		{name: "ip4 does not count", records: []string{
			txt("example.org.", "v=spf1 "+strings.Repeat("ip4:192.0.2.1 ", 30)+"ip4:198.51.100.7 -all")}, want: Pass},
		{name: "two void lookups", records: []string{
			txt("example.org.", "v=spf1 a:none1.example.org mx:none2.example.org -all")}, want: Fail},
		{name: "three void lookups", records: []string{
			txt("example.org.", "v=spf1 a:none1.example.org mx:none2.example.org exists:none3.example.org -all")},
			want: PermError, reason: "found nothing"},
		{name: "a temperror", records: []string{txt("example.org.", "v=spf1 a:down.example.org -all")},
			servf: []string{"down.example.org."}, want: TempError},
		{name: "txt temperror", servf: []string{"example.org."}, want: TempError},
		{name: "mx temperror", records: []string{txt("example.org.", "v=spf1 mx -all")},
			servf: []string{"example.org."}, want: TempError},
		{name: "mx over ten", records: append([]string{txt("example.org.", "v=spf1 mx -all")},
			mxRecords("example.org.", 11)...), want: PermError, reason: "11 MX records"},
		{name: "mx ten", records: append([]string{txt("example.org.", "v=spf1 mx -all")},
			mxRecords("example.org.", 10)...), want: Pass},
		{name: "null MX", records: []string{txt("example.org.", "v=spf1 mx -all"), "example.org. IN MX 0 ."}, want: Fail},
		{name: "ptr error is no match", records: []string{txt("example.org.", "v=spf1 ptr ?all")},
			servf: []string{"7.100.51.198.in-addr.arpa."}, want: Neutral},
		{name: "ptr eleventh name ignored", records: append([]string{txt("example.org.", "v=spf1 ptr -all")},
			ptrRecords(11)...), want: Fail},
		{name: "ptr tenth name", records: append([]string{txt("example.org.", "v=spf1 ptr -all")},
			ptrRecords(10)...), want: Pass},
		{name: "CNAME loop", records: []string{"example.org. IN CNAME loop.example.net.", "loop.example.net. IN CNAME example.org."},
			want: TempError, reason: "CNAME loop"},
		{name: "CNAME to record", records: []string{"example.org. IN CNAME spf.example.net.",
			txt("spf.example.net.", "v=spf1 ip4:198.51.100.7 -all")}, want: Pass},
		{name: "exists with macro", records: []string{txt("example.org.", "v=spf1 exists:%{i}.%{l}.allow.example.org -all"),
			"198.51.100.7.alice.allow.example.org. IN A 127.0.0.2"}, sender: "alice@example.org", want: Pass},
		{name: "exists always A", ip: "2001:db8::7", records: []string{txt("example.org.", "v=spf1 exists:%{d} -all"),
			"example.org. IN A 127.0.0.2"}, want: Pass},
		{name: "ipv6 a", ip: "2001:db8::25", records: []string{txt("example.org.", "v=spf1 a//64 -all"),
			"example.org. IN AAAA 2001:db8::1", "example.org. IN A 198.51.100.7"}, want: Pass},
		{name: "ipv6 not ip4", ip: "2001:db8::25", records: []string{txt("example.org.", "v=spf1 ip4:0.0.0.0/0 ip6:2001:db8::/32 -all")}, want: Pass},
		{name: "ipv6 no match", ip: "2001:db9::25", records: []string{txt("example.org.", "v=spf1 ip4:0.0.0.0/0 ip6:2001:db8::/32 -all")}, want: Fail},
		{name: "mapped ipv4", ip: "::ffff:198.51.100.7", records: []string{txt("example.org.", "v=spf1 ip4:198.51.100.7 -all")}, want: Pass},
		{name: "case", records: []string{txt("example.org.", "V=SPF1 IP4:198.51.100.7 -ALL")}, want: Pass},
		{name: "macro domain", records: []string{txt("example.org.", "v=spf1 include:%{o}.spf.example.net -all"),
			txt("example.org.spf.example.net.", "v=spf1 +all")}, want: Pass},
		{name: "percent p", records: []string{txt("example.org.", "v=spf1 exists:%{p}.ok.example.net -all"),
			"7.100.51.198.in-addr.arpa. IN PTR mail.example.org.", "mail.example.org. IN A 198.51.100.7",
			"mail.example.org.ok.example.net. IN A 127.0.0.2"}, want: Pass},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeDNS(t, c.records...)
			for _, n := range c.servf {
				f.servfail[n] = true
			}
			ip, sender := c.ip, c.sender
			if ip == "" {
				ip = "198.51.100.7"
			}
			if sender == "" {
				sender = "alice@example.org"
			}
			res := checkIP(t, f, ip, sender)
			if res.Result != c.want || !strings.Contains(res.Reason, c.reason) {
				t.Errorf("= %s (%s), want %s (…%s…)", res.Result, res.Reason, c.want, c.reason)
			}
			if res.Reason == "" {
				t.Error("no reason")
			}
			if res.DNSTerms > MaxDNSTerms+1 || res.VoidLookups > MaxVoidLookups+1 {
				t.Errorf("limits passed: %d terms, %d voids", res.DNSTerms, res.VoidLookups)
			}
			if f.count() > 200 {
				t.Errorf("%d queries", f.count())
			}
		})
	}
}

func mxRecords(domain string, n int) []string {
	var out []string
	for i := range n {
		addr := fmt.Sprintf("192.0.2.%d", i+1)
		if i == n-1 {
			addr = "198.51.100.7"
		}
		out = append(out, fmt.Sprintf("%s IN MX %d mx%d.%s", domain, i, i, domain),
			fmt.Sprintf("mx%d.%s IN A %s", i, domain, addr))
	}
	return out
}

// ptrRecords gives 198.51.100.7 n PTR names, each valid, the last one
// in example.org.
func ptrRecords(n int) []string {
	var out []string
	for i := range n {
		name := fmt.Sprintf("h%d.example.net.", i)
		if i == n-1 {
			name = "mail.example.org."
		}
		out = append(out, "7.100.51.198.in-addr.arpa. IN PTR "+name, name+" IN A 198.51.100.7")
	}
	return out
}

func TestSPFExplanation(t *testing.T) {
	f := newFakeDNS(t,
		txt("example.org.", "v=spf1 mx -all exp=explain.%{d}"),
		txt("explain.example.org.", "%{i} is not one of %{d}'s designated mail servers; see https://example.org/why?s=%{S}"),
		"example.org. IN MX 10 mail.example.org.",
		"mail.example.org. IN A 192.0.2.25",
	)
	res := checkIP(t, f, "198.51.100.7", "alice@example.org")
	want := "198.51.100.7 is not one of example.org's designated mail servers; see https://example.org/why?s=alice%40example.org"
	if res.Result != Fail || res.Explanation != want {
		t.Errorf("= %s, explanation %q, want %q", res.Result, res.Explanation, want)
	}
	if res.Mechanism != "-all" || res.Record != "v=spf1 mx -all exp=explain.%{d}" || res.Identity != "mailfrom" {
		t.Errorf("%+v", res)
	}
	// A broken explanation is no explanation; the result stands.
	f = newFakeDNS(t, txt("example.org.", "v=spf1 -all exp=explain.example.org"), txt("explain.example.org.", "bad %{x}"))
	if res := checkIP(t, f, "198.51.100.7", "alice@example.org"); res.Result != Fail || res.Explanation != "" {
		t.Errorf("broken exp: %s %q", res.Result, res.Explanation)
	}
}

func TestSPFNullSenderAndHelo(t *testing.T) {
	f := newFakeDNS(t, txt("mail.example.org.", "v=spf1 a -all"), "mail.example.org. IN A 192.0.2.25")
	q := SPFQuery{IP: netip.MustParseAddr("192.0.2.25"), Helo: "mail.example.org"}
	res := CheckSPF(context.Background(), FromExchanger(f), q)
	if res.Result != Pass || res.Sender != "postmaster@mail.example.org" || res.Domain != "mail.example.org" {
		t.Errorf("null sender: %+v", res)
	}
	res = CheckHelo(context.Background(), FromExchanger(f), q)
	if res.Result != Pass || res.Identity != "helo" {
		t.Errorf("helo: %+v", res)
	}
	q.IP = netip.MustParseAddr("192.0.2.26")
	if res := CheckHelo(context.Background(), FromExchanger(f), q); res.Result != Fail {
		t.Errorf("helo from another address: %+v", res)
	}
	// Lookups are recorded in order, for the trace.
	if len(res.Lookups) != 2 || res.Lookups[0].Type != "TXT" || res.Lookups[1].Type != "A" ||
		res.Lookups[1].Answer[0] != "192.0.2.25" {
		t.Errorf("lookups = %+v", res.Lookups)
	}
}

// TestSPFContextDone: a check that runs out of time is a temperror.
func TestSPFContextDone(t *testing.T) {
	f := newFakeDNS(t, txt("example.org.", "v=spf1 a mx -all"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q := SPFQuery{IP: netip.MustParseAddr("192.0.2.25"), MailFrom: "a@example.org"}
	if res := CheckSPF(ctx, FromExchanger(f), q); res.Result != TempError {
		t.Errorf("= %+v", res)
	}
}

func TestSPFNoAddress(t *testing.T) {
	f := newFakeDNS(t, txt("example.org.", "v=spf1 -all"))
	res := CheckSPF(context.Background(), FromExchanger(f), SPFQuery{MailFrom: "a@example.org"})
	if res.Result != None || f.count() != 0 {
		t.Errorf("%+v", res)
	}
}
