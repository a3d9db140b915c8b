package mailauth

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// fakeDNS is an Exchanger over a set of records, answering as an
// authoritative server would: records of the type asked, else a CNAME,
// else NODATA for a name that exists and NXDOMAIN for one that does not.
// Names in servfail fail with a temporary error.
type fakeDNS struct {
	mu       sync.Mutex
	rrs      map[string][]dns.RR
	servfail map[string]bool
	queries  []string
}

func newFakeDNS(t testing.TB, records ...string) *fakeDNS {
	t.Helper()
	f := &fakeDNS{rrs: map[string][]dns.RR{}, servfail: map[string]bool{}}
	for _, text := range records {
		for line := range strings.SplitSeq(text, "\n") {
			if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), ";") {
				continue
			}
			f.add(t, line)
		}
	}
	return f
}

func (f *fakeDNS) add(t testing.TB, line string) {
	t.Helper()
	rr, err := dns.NewRR(line)
	if err != nil {
		t.Fatalf("record %q: %v", line, err)
	}
	key := dns.CanonicalName(rr.Header().Name)
	f.rrs[key] = append(f.rrs[key], rr)
}

func (f *fakeDNS) Exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := dns.CanonicalName(name)
	f.queries = append(f.queries, strings.TrimSuffix(key, ".")+" "+dns.TypeToString[qtype])
	if f.servfail[key] {
		return nil, errors.New("SERVFAIL from the fake server")
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.Response, m.Authoritative = true, true
	rrs, exists := f.rrs[key]
	for _, rr := range rrs {
		if rr.Header().Rrtype == qtype {
			m.Answer = append(m.Answer, rr)
		}
	}
	if len(m.Answer) == 0 {
		for _, rr := range rrs {
			if rr.Header().Rrtype == dns.TypeCNAME {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	if !exists {
		for k := range f.rrs {
			if strings.HasSuffix(k, "."+key) {
				exists = true // an empty non-terminal
				break
			}
		}
	}
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	return m, nil
}

func (f *fakeDNS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.queries)
}

// txt makes a TXT record line with the text as one string, or as
// several when split is given.
func txt(name string, text ...string) string {
	var b strings.Builder
	b.WriteString(name + " 300 IN TXT")
	for _, s := range text {
		b.WriteString(` "` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`)
	}
	return b.String()
}

func osStat(path string) (fs.FileMode, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Mode().Perm(), nil
}

// addTXT adds a TXT record holding any text, split into strings of 255
// bytes, without going through the zone file syntax.
func (f *fakeDNS) addTXT(name, text string) {
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}, Txt: SplitTXT(text)}
	key := dns.CanonicalName(rr.Hdr.Name)
	f.rrs[key] = append(f.rrs[key], rr)
}
