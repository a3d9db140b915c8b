package dns

import (
	"errors"
	"slices"
	"strings"
	"testing"

	miekg "github.com/miekg/dns"
)

func TestLoadZone(t *testing.T) {
	z := loadTestZone(t, "example.net")
	if z.Origin() != "example.net." || z.File() != "testdata/example.net.zone" {
		t.Fatalf("origin %q file %q", z.Origin(), z.File())
	}
	if soa := z.SOA(); soa.Serial != 2026010101 || soa.Minttl != 300 {
		t.Fatalf("SOA %v", soa)
	}
	// 18 records written out, 30+30+40 from $GENERATE.
	if n := len(z.Records()); n != 26+100 {
		t.Fatalf("%d records", n)
	}
	want := []string{
		"testdata/example.net.zone:32: MX target mail.example.net. is an alias (CNAME); RFC 2181 §10.3 says it must name a host",
		"testdata/example.net.zone:45: MX target nosuchhost.example.net. has no A or AAAA record in this zone",
	}
	if got := z.Warnings(); !slices.Equal(got, want) {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The text form loads back to the same records.
	again, err := LoadZone(strings.NewReader(z.String()), "example.net", "again")
	if err != nil {
		t.Fatal(err)
	}
	a, b := z.Records(), again.Records()
	if len(a) != len(b) {
		t.Fatalf("%d records after a round trip, want %d", len(b), len(a))
	}
	for i := range a {
		if !miekg.IsDuplicate(a[i], b[i]) || a[i].Header().Ttl != b[i].Header().Ttl {
			t.Fatalf("record %d: %v, want %v", i, b[i], a[i])
		}
	}
}

func TestLoadZoneDetails(t *testing.T) {
	z, err := LoadZone(strings.NewReader(`
@ SOA ns.example. hostmaster 1 2 3 4 5
  MX 10 mx.example.net
  MX 10 mx
  MX 10 mx   ; a duplicate: dropped (RFC 2181 §5)
mx A 192.0.2.1
`), "Example.NET", "slip.zone")
	if err != nil {
		t.Fatal(err)
	}
	if z.Origin() != "example.net." {
		t.Errorf("origin %q", z.Origin())
	}
	recs := shorts(z.Records())
	want := []string{
		"example.net. 3600 IN SOA ns.example. hostmaster.example.net. 1 2 3 4 5", // no $TTL: 3600
		"example.net. 3600 IN MX 10 mx.example.net.example.net.",
		"example.net. 3600 IN MX 10 mx.example.net.",
		"mx.example.net. 3600 IN A 192.0.2.1",
	}
	if !slices.Equal(recs, want) {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(recs, "\n"), strings.Join(want, "\n"))
	}
	warn := []string{
		"slip.zone:3: MX: mx.example.net.example.net. ends in the zone's name twice; a missing final dot?",
		"slip.zone:3: MX target mx.example.net.example.net. has no A or AAAA record in this zone",
	}
	if got := z.Warnings(); !slices.Equal(got, warn) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(warn, "\n"))
	}
}

// Errors name the file and line (and column, for syntax) of the record at
// fault, as a compiler does.
func TestLoadZoneErrors(t *testing.T) {
	const soa = "$TTL 3600\n@ SOA ns.example. hostmaster 1 2 3 4 5\n"
	cases := []struct {
		name   string
		origin string
		text   string
		want   string
		line   int
	}{
		{name: "syntax", text: soa + "@ MX ten mx\n",
			want: `t.zone:3:9: bad MX Pref: "ten"`, line: 3},
		{name: "unknown type", text: soa + "\n\nwww IN AA 192.0.2.1\n",
			want: `t.zone:5:`, line: 5},
		{name: "out of zone", text: soa + "www.example.org. A 192.0.2.1\n",
			want: "t.zone:3: www.example.org. A is outside the zone example.net. (a missing or extra final dot?)", line: 3},
		{name: "no SOA", text: "$TTL 60\nwww A 192.0.2.1\n",
			want: "t.zone: no SOA record for example.net.; a zone starts with one (RFC 1035 §5.2)"},
		{name: "empty", text: "",
			want: "t.zone: no SOA record for example.net.; a zone starts with one (RFC 1035 §5.2)"},
		{name: "second SOA", text: soa + "; comment\n\n@ SOA ns2.example. hostmaster 2 2 3 4 5\n",
			want: "t.zone:5: a second SOA record (the first is on line 2); a zone has exactly one (RFC 1035 §5.2)", line: 5},
		{name: "SOA below the origin", text: "www SOA ns.example. hostmaster 1 2 3 4 5\n",
			want: "t.zone:1: SOA for www.example.net.: the SOA record belongs at the zone's origin example.net.", line: 1},
		{name: "data at an alias", text: soa + "www CNAME mx\nwww A 192.0.2.1\n",
			want: "t.zone:4: A record for www.example.net., which is an alias (CNAME); an alias can have no other records (RFC 1034 §3.6.2)", line: 4},
		{name: "alias with data", text: soa + "www TXT hello\nwww CNAME mx\n",
			want: "t.zone:4: CNAME for www.example.net., which has TXT records; an alias can have no other records (RFC 1034 §3.6.2)", line: 4},
		{name: "alias at the apex", text: soa + "@ CNAME example.org.\n",
			want: "t.zone:3: CNAME for example.net., which has SOA records", line: 3},
		{name: "two aliases", text: soa + "www CNAME a\nwww CNAME b\n",
			want: "t.zone:4: a second CNAME for www.example.net.", line: 4},
		{name: "class CH", text: soa + "www CH TXT hello\n",
			want: "t.zone:3: www.example.net. TXT: class CH; only IN is served", line: 3},
		{name: "line after a multi-line record", text: "@ SOA ns.example. hostmaster (\n 1 ; serial\n 2 3 4\n 5 )\n\n$TTL 60\n  ; a comment\nmx.example.org. A 192.0.2.1\n",
			want: "t.zone:8: mx.example.org. A is outside the zone", line: 8},
		{name: "$INCLUDE", text: soa + "$INCLUDE /etc/passwd\n",
			want: "t.zone:3:", line: 3},
		{name: "bad origin", origin: "exa mple..net", text: soa,
			want: `t.zone: bad zone origin "exa mple..net"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			origin := c.origin
			if origin == "" {
				origin = "example.net."
			}
			z, err := LoadZone(strings.NewReader(c.text), origin, "t.zone")
			if err == nil {
				t.Fatalf("loaded:\n%s", z)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("error:\n%s\nwant it to begin:\n%s", err, c.want)
			}
			var ze *ZoneError
			if !errors.As(err, &ze) || ze.Line != c.line || ze.File != "t.zone" {
				t.Errorf("%#v: want a *ZoneError for line %d", err, c.line)
			}
		})
	}
}
