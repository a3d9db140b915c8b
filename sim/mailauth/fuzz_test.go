package mailauth

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func FuzzParseSPF(f *testing.F) {
	for _, s := range []string{
		"v=spf1 -all",
		"v=spf1 a mx ptr -all",
		"v=spf1 a:example.org/24//64 mx:%{d}/28 ~all",
		"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ?all",
		"v=spf1 include:_spf.example.org redirect=example.net",
		"v=spf1 include:example.org -all",
		"v=spf1 exists:%{ir}.%{l1r+}.%{d} exp=explain.%{d}",
		"v=spf1 exists:%{S}.%{L2r-}.%{O}.%{D}.%{I}.%{P}.%{H}.%{V}.x.example -all",
		"v=spf1 a:%{d99999}.%{dr-+,/_=}.example %%%_%-.x -all",
		"v=spf1 foo=bar -all",
		"v=spf1 redirect=%{d}",
		"v=spf1 " + strings.Repeat("a:x.example.org ", 12),
		"v=spf1 ip4:1.2.3.4/33",
		"v=spf1 %{",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, record string) {
		rec, err := ParseSPF(record)
		if err != nil {
			return
		}
		for _, term := range rec.Terms {
			if term.Text == "" || !strings.Contains("+-~?", string(term.Qualifier)) {
				t.Fatalf("term %+v", term)
			}
		}
		// Evaluate it against a zone where every name points back at it.
		z := newFakeDNS(t, "example.org. IN MX 10 mail.example.org.", "mail.example.org. IN A 192.0.2.25",
			"25.2.0.192.in-addr.arpa. IN PTR mail.example.org.")
		for _, n := range []string{"example.org", "_spf.example.org", "example.net", "explain.example.org"} {
			z.addTXT(n, record)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q := SPFQuery{IP: netip.MustParseAddr("192.0.2.25"), Helo: "mail.example.org", MailFrom: "a.b-c+d@example.org", Now: time.Unix(0, 0)}
		res := CheckSPF(ctx, FromExchanger(z), q)
		if res.Result == "" || res.Reason == "" {
			t.Fatalf("empty result %+v", res)
		}
		if res.DNSTerms > MaxDNSTerms+1 || res.VoidLookups > MaxVoidLookups+1 || z.count() > 400 {
			t.Fatalf("limits: %d terms, %d voids, %d queries", res.DNSTerms, res.VoidLookups, z.count())
		}
	})
}

func FuzzVerifyDKIM(f *testing.F) {
	for _, s := range []string{
		"v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=ed; h=from:to; bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=example.org; s=rsa; h=From : To; l=3; bh=AAAA; b=AAAA",
		"v=1; a=rsa-sha256; d=example.org; s=missing; h=from; bh=; b=; x=1; t=2; i=@example.org",
		"v=1; a=rsa-sha1; q=dns/txt; c=simple; d=example.org; s=rsa; h=" + strings.Repeat("from:", 300) + "; bh=AAAA; b=AAAA",
		"d=example.org;;; b",
		"v=1; d=example.org; d=example.org",
		"",
	} {
		f.Add(s, "Hello\r\n")
	}
	f.Fuzz(func(t *testing.T, sig, body string) {
		msg := []byte("DKIM-Signature: " + sig + "\r\n" + strings.SplitAfter(testMsg, "\r\n\r\n")[0] + body)
		z := keyZone(t)
		res := verify(t, z, msg)
		fields, _, _ := splitHeader(msg)
		n := 0
		for _, fl := range fields {
			if strings.EqualFold(fl.name, "DKIM-Signature") {
				n++
			}
		}
		if len(res) != n {
			t.Fatalf("%d results for %d signatures", len(res), n)
		}
		for _, r := range res {
			if r.Result == "" || r.Reason == "" {
				t.Fatalf("empty result %+v", r)
			}
		}
		// The whole fuzzed text as a message, too.
		_ = verify(t, z, []byte(sig+"\r\n\r\n"+body))
		_, _ = FromDomain([]byte(sig + "\r\n\r\n"))
	})
}

func FuzzParseDMARC(f *testing.F) {
	for _, s := range []string{
		"v=DMARC1; p=reject",
		"v=DMARC1; p=quarantine; sp=none; pct=50; adkim=s; aspf=s; rua=mailto:a@example.org!10m,mailto:b@example.net; ruf=mailto:c@example.org; fo=1:d:s; ri=3600",
		"v=DMARC1; p=bogus; rua=mailto:a@example.org",
		"v=DMARC1; p=none; p=none",
		"v=DMARC1;;;",
		"v=DMARC1; pct=-1; ri=99999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, record string) {
		rec, err := ParseDMARC(record)
		if err == nil {
			if rec.Percent < 0 || rec.Percent > 100 || rec.Policy == "" || rec.SubdomainPolicy == "" {
				t.Fatalf("%+v", rec)
			}
		}
		z := newFakeDNS(t)
		z.addTXT("_dmarc.example.org", record)
		res := CheckDMARC(context.Background(), FromExchanger(z), DMARCInput{FromDomain: "mail.example.org",
			SPF: &SPFResult{Result: Pass, Domain: "example.com"}})
		if res.Result == "" || res.Reason == "" || res.Disposition == "" {
			t.Fatalf("%+v", res)
		}
		if (err == nil) != (res.Record != nil) {
			t.Fatalf("parse error %v but record %+v", err, res.Record)
		}
	})
}
