package mailauth

import (
	"context"
	mrand "math/rand/v2"
	"strings"
	"testing"
)

func TestParseDMARC(t *testing.T) {
	r, err := ParseDMARC("v=DMARC1; p=reject; sp=quarantine; pct=20; adkim=s; aspf=r; rua=mailto:agg@example.org,mailto:x@example.net!10m; ruf=mailto:f@example.org; fo=1:d; ri=3600; future=yes")
	if err != nil {
		t.Fatal(err)
	}
	if r.Policy != DispositionReject || r.SubdomainPolicy != DispositionQuarantine || r.Percent != 20 ||
		r.DKIMAlignment != Strict || r.SPFAlignment != Relaxed || len(r.AggregateURIs) != 2 ||
		r.AggregateURIs[1] != "mailto:x@example.net!10m" || len(r.FailureURIs) != 1 || r.FailureOptions != "1:d" ||
		r.ReportInterval != 3600 || len(r.Warnings) != 0 {
		t.Errorf("%+v", r)
	}
	r, err = ParseDMARC("v=DMARC1;p=none")
	if err != nil || r.Policy != DispositionNone || r.SubdomainPolicy != DispositionNone || r.Percent != 100 ||
		r.DKIMAlignment != Relaxed || r.SPFAlignment != Relaxed || r.ReportInterval != 86400 {
		t.Errorf("defaults: %+v, %v", r, err)
	}
	// Bad values of optional tags fall back to defaults, with a warning.
	r, err = ParseDMARC("v=DMARC1; p=Quarantine; pct=150; adkim=x; fo=9; ri=-1; rua=nonsense")
	if err != nil || r.Policy != DispositionQuarantine || r.Percent != 100 || r.DKIMAlignment != Relaxed ||
		r.FailureOptions != "0" || len(r.AggregateURIs) != 0 || len(r.Warnings) != 5 {
		t.Errorf("bad optional values: %+v, %v", r, err)
	}
	// No valid p= but a report address: monitoring (RFC 7489 §6.6.3).
	r, err = ParseDMARC("v=DMARC1; p=block; rua=mailto:agg@example.org")
	if err != nil || r.Policy != DispositionNone || len(r.Warnings) != 1 {
		t.Errorf("p=block with rua: %+v, %v", r, err)
	}
	for _, bad := range []string{
		"", "v=DMARC2; p=none", "p=none; v=DMARC1", "v=dmarc1; p=none", "v=DMARC1", "v=DMARC1; p=block",
		"v=DMARC1; p=none; sp=maybe", "v=DMARC1; p=none; p=reject", "v=DMARC1; p=none; junk", "v=DMARC1; =x; p=none",
	} {
		if r, err := ParseDMARC(bad); err == nil {
			t.Errorf("%q parsed: %+v", bad, r)
		}
	}
}

func TestOrganizationalDomain(t *testing.T) {
	for in, want := range map[string]string{
		"example.org": "example.org", "mail.example.org": "example.org", "a.b.example.co.uk": "example.co.uk",
		"Mail.Example.ORG.": "example.org", "org": "org", "ns.example": "ns.example", "co.uk": "co.uk",
	} {
		if got := OrganizationalDomain(in); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	if !Aligned("mail.example.org", "example.org", Relaxed) || Aligned("mail.example.org", "example.org", Strict) ||
		!Aligned("EXAMPLE.org", "example.org.", Strict) || Aligned("example.com", "example.org", Relaxed) ||
		Aligned("", "example.org", Relaxed) || Aligned("evil.co.uk", "example.co.uk", Relaxed) {
		t.Error("Aligned")
	}
}

func TestFromDomain(t *testing.T) {
	if d, err := FromDomain([]byte(testMsg)); err != nil || d != "example.org" {
		t.Errorf("%q, %v", d, err)
	}
	for _, bad := range []string{
		"To: b@example.net\r\n\r\n",
		"From: a@example.org\r\nFrom: b@example.com\r\n\r\n",
		"From: a@example.org, b@example.com\r\n\r\n",
		"From: nobody\r\n\r\n",
	} {
		if d, err := FromDomain([]byte(bad)); err == nil {
			t.Errorf("%q: %q", bad, d)
		}
	}
	if d, err := FromDomain([]byte("From: \"Alice\"\r\n <Alice@Mail.Example.ORG>\r\n\r\n")); err != nil || d != "mail.example.org" {
		t.Errorf("folded From: %q, %v", d, err)
	}
}

func TestCheckDMARC(t *testing.T) {
	spfPass := func(d string) *SPFResult { return &SPFResult{Result: Pass, Domain: d} }
	dkimPass := func(d string) []DKIMResult { return []DKIMResult{{Result: Pass, Domain: d}} }
	zone := []string{
		txt("_dmarc.example.org.", "v=DMARC1; p=reject; sp=quarantine; adkim=s"),
		txt("_dmarc.example.net.", "v=DMARC1; p=quarantine; pct=0"),
		txt("_dmarc.example.com.", "v=DMARC1; p=reject; pct=50"),
		txt("_dmarc.broken.example.", "v=DMARC1; p=maybe"),
		txt("_dmarc.twice.example.", "v=DMARC1; p=none"), txt("_dmarc.twice.example.", "v=DMARC1; p=reject"),
		txt("_dmarc.other.example.", "v=spf1 -all"),
		txt("_dmarc.sub.example.org.", "v=DMARC1; p=none"),
		txt("_dmarc.monitor.example.", "v=DMARC1; p=none"),
	}
	cases := []struct {
		name   string
		in     DMARCInput
		want   Result
		disp   Disposition
		reason string
	}{
		{"spf aligned", DMARCInput{FromDomain: "example.org", SPF: spfPass("example.org")}, Pass, DispositionNone, "SPF passed for example.org"},
		{"spf relaxed subdomain", DMARCInput{FromDomain: "example.org", SPF: spfPass("bounce.example.org")}, Pass, DispositionNone, ""},
		{"dkim strict", DMARCInput{FromDomain: "example.org", DKIM: dkimPass("example.org")}, Pass, DispositionNone, "DKIM signature by example.org"},
		{"dkim strict misaligned", DMARCInput{FromDomain: "example.org", DKIM: dkimPass("mail.example.org")}, Fail, DispositionReject, "adkim=s"},
		{"both", DMARCInput{FromDomain: "example.org", SPF: spfPass("example.org"), DKIM: dkimPass("example.org")}, Pass, DispositionNone, "both"},
		{"unaligned spf", DMARCInput{FromDomain: "example.org", SPF: spfPass("example.com")}, Fail, DispositionReject, "does not align"},
		{"spf fail", DMARCInput{FromDomain: "example.org", SPF: &SPFResult{Result: Fail, Domain: "example.org"}}, Fail, DispositionReject, "SPF did not pass (fail)"},
		{"dkim fail", DMARCInput{FromDomain: "example.org", DKIM: []DKIMResult{{Result: Fail, Domain: "example.org"}}}, Fail, DispositionReject, "no DKIM signature passed"},
		{"subdomain uses sp", DMARCInput{FromDomain: "news.example.org"}, Fail, DispositionQuarantine, "sp=quarantine"},
		{"subdomain with own record", DMARCInput{FromDomain: "sub.example.org"}, Fail, DispositionNone, "asks only for reports"},
		{"pct=0 downgrades", DMARCInput{FromDomain: "example.net"}, Fail, DispositionNone, "pct=0"},
		{"no record", DMARCInput{FromDomain: "example.edu", SPF: spfPass("example.edu")}, None, DispositionNone, "publishes no DMARC policy"},
		{"not a DMARC record", DMARCInput{FromDomain: "other.example"}, None, DispositionNone, ""},
		{"broken record", DMARCInput{FromDomain: "broken.example"}, PermError, DispositionNone, "malformed"},
		{"two records", DMARCInput{FromDomain: "twice.example"}, PermError, DispositionNone, "2 DMARC records"},
		{"dns failure", DMARCInput{FromDomain: "down.example"}, TempError, DispositionNone, "may work later"},
		{"bad domain", DMARCInput{FromDomain: "not a domain"}, None, DispositionNone, ""},
		{"monitor", DMARCInput{FromDomain: "monitor.example"}, Fail, DispositionNone, ""},
	}
	for _, c := range cases {
		f := newFakeDNS(t, zone...)
		f.servfail["_dmarc.down.example."] = true
		res := CheckDMARC(context.Background(), FromExchanger(f), c.in)
		if res.Result != c.want || res.Disposition != c.disp || !strings.Contains(res.Reason, c.reason) {
			t.Errorf("%s: %s/%s (%s), want %s/%s (…%s…)", c.name, res.Result, res.Disposition, res.Reason, c.want, c.disp, c.reason)
		}
	}
	// The fallback asks the From domain first, then the organizational one.
	f := newFakeDNS(t, zone...)
	res := CheckDMARC(context.Background(), FromExchanger(f), DMARCInput{FromDomain: "a.b.example.org"})
	if res.RecordDomain != "example.org" || len(res.Lookups) != 2 || res.Lookups[0].Name != "_dmarc.a.b.example.org" || !res.Lookups[0].Void {
		t.Errorf("lookups %+v in %s", res.Lookups, res.RecordDomain)
	}
}

// TestDMARCPercent: pct= sampling is the same for the same seed, and
// about pct% of failing messages get the full policy.
func TestDMARCPercent(t *testing.T) {
	f := newFakeDNS(t, txt("_dmarc.example.com.", "v=DMARC1; p=reject; pct=30"))
	run := func(seed uint64) (full int, pattern string) {
		rng := mrand.New(mrand.NewPCG(seed, 0))
		var b strings.Builder
		for range 1000 {
			res := CheckDMARC(context.Background(), FromExchanger(f), DMARCInput{FromDomain: "example.com", Rand: rng})
			switch res.Disposition {
			case DispositionReject:
				full++
				b.WriteByte('R')
			case DispositionQuarantine:
				b.WriteByte('q')
			default:
				t.Fatalf("disposition %s", res.Disposition)
			}
		}
		return full, b.String()
	}
	n1, p1 := run(7)
	n2, p2 := run(7)
	if n1 != n2 || p1 != p2 {
		t.Error("the same seed gave other dispositions")
	}
	if n1 < 250 || n1 > 350 {
		t.Errorf("%d of 1000 rejected with pct=30", n1)
	}
	if _, p3 := run(8); p3 == p1 {
		t.Error("another seed gave the same dispositions")
	}
}

func TestAuthResults(t *testing.T) {
	spf := &SPFResult{Result: Pass, Domain: "example.org", Identity: "mailfrom"}
	dkim := []DKIMResult{{Result: Pass, Domain: "example.org", Selector: "sel", Signature: "abcd1234efgh"}}
	dmarc := &DMARCResult{Result: Pass, FromDomain: "example.org"}
	a := NewAuthResults("mx.example.net", spf, dkim, dmarc)
	want := "Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org header.s=sel header.b=abcd1234; dmarc=pass header.from=example.org"
	if got := a.String(); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	field := a.Field()
	if !strings.HasPrefix(field, "Authentication-Results: mx.example.net;\r\n\tspf=pass") || !strings.HasSuffix(field, "\r\n") {
		t.Errorf("folded: %q", field)
	}
	for l := range strings.SplitSeq(strings.TrimSuffix(field, "\r\n"), "\r\n") {
		if len(l) > 78 {
			t.Errorf("line of %d characters", len(l))
		}
	}
	if got := NewAuthResults("mx.example.net", nil, nil, nil).Field(); got != "Authentication-Results: mx.example.net; none\r\n" {
		t.Errorf("nothing checked: %q", got)
	}
	helo := &SPFResult{Result: SoftFail, Domain: "client.example", Identity: "helo"}
	bad := DKIMResult{Result: PermError}
	m := ARMethod{Method: "x", Result: Fail, Reason: `a "quoted" reason`, Props: []ARProp{{"header", "b", "ab/c="}, {"smtp", "mailfrom", "a@example.org"}}}
	got := AuthResults{ServID: "mx", Methods: []ARMethod{helo.ARMethod(), bad.ARMethod(), m}}.String()
	if got != `Authentication-Results: mx; spf=softfail smtp.helo=client.example; dkim=permerror; x=fail reason="a \"quoted\" reason" header.b="ab/c=" smtp.mailfrom=a@example.org` {
		t.Errorf("%s", got)
	}
}
