package mailauth

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Resolver is the DNS every check asks: SPF records, DKIM keys and DMARC
// policies are TXT records, and SPF also needs addresses, MX and PTR
// records. Its shape is that of *net.Resolver, which satisfies it; a
// resolver that speaks DNS messages (package sim/dns) gets one from
// FromExchanger.
//
// Names are fully qualified with or without the final dot. "No such
// name" (NXDOMAIN) and "no records of that type" (NODATA) are both an error
// for which IsNotFound is true (a *net.DNSError with IsNotFound set, as
// *net.Resolver reports them), or an empty answer without error; every
// other error is a failure to try again later (temperror).
type Resolver interface {
	// LookupTXT returns the TXT records of name, the strings of each
	// record joined without a separator (RFC 7208 §3.3, RFC 6376
	// §3.6.2.2).
	LookupTXT(ctx context.Context, name string) ([]string, error)
	// LookupNetIP returns the addresses of host: network "ip4" asks for A
	// records, "ip6" for AAAA, "ip" for both.
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	// LookupMX returns the MX records of name, lowest preference first.
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	// LookupAddr returns the names an address's PTR records point to.
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

var _ Resolver = (*net.Resolver)(nil)

// IsNotFound reports whether err says a name has no records of the type
// asked for (NXDOMAIN or NODATA): a "void lookup" in RFC 7208 §4.6.4.
func IsNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// Exchanger asks one DNS question and returns the answer as it came:
// NXDOMAIN is an answer, not an error. *dns.Resolver of package sim/dns
// is one; it reports each question and answer to the trace.
type Exchanger interface {
	Exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error)
}

// FromExchanger makes a Resolver of x. It follows CNAME chains (at most
// MaxCNAMEChain links; a loop or a longer chain is a temporary failure,
// like a resolver that gives up: SERVFAIL), joins the strings of each TXT
// record, and maps NXDOMAIN and NODATA to a not-found *net.DNSError and any
// other failure (an error of x, SERVFAIL, REFUSED) to a temporary one. An
// error of x that has a Permanent method returning true (an invalid name)
// counts as not found.
func FromExchanger(x Exchanger) Resolver { return exchangeResolver{x} }

// MaxCNAMEChain is how many CNAME links FromExchanger follows.
const MaxCNAMEChain = 8

type exchangeResolver struct{ x Exchanger }

func (r exchangeResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out, nil
}

func (r exchangeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	var types []uint16
	switch network {
	case "ip4":
		types = []uint16{dns.TypeA}
	case "ip6":
		types = []uint16{dns.TypeAAAA}
	case "ip":
		types = []uint16{dns.TypeA, dns.TypeAAAA}
	default:
		return nil, &net.DNSError{Err: "unknown network " + network, Name: host}
	}
	var addrs []netip.Addr
	var last error
	for _, t := range types {
		rrs, err := r.query(ctx, host, t)
		if err != nil {
			if !IsNotFound(err) || last == nil {
				last = err
			}
			continue
		}
		for _, rr := range rrs {
			var ip net.IP
			switch rr := rr.(type) {
			case *dns.A:
				ip = rr.A
			case *dns.AAAA:
				ip = rr.AAAA
			}
			if a, ok := netip.AddrFromSlice(ip); ok {
				addrs = append(addrs, a.Unmap())
			}
		}
	}
	if len(addrs) == 0 && last != nil {
		return nil, last
	}
	return addrs, nil
}

func (r exchangeResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	rrs, err := r.query(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]*net.MX, 0, len(rrs))
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	slices.SortStableFunc(out, func(a, b *net.MX) int {
		return cmp.Or(cmp.Compare(a.Pref, b.Pref), strings.Compare(a.Host, b.Host))
	})
	return out, nil
}

func (r exchangeResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	rev, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "not an IP address", Name: addr, IsNotFound: true}
	}
	rrs, err := r.query(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.(*dns.PTR).Ptr)
	}
	return out, nil
}

// query asks for name's records of qtype, following CNAMEs in the answers
// and asking again when an answer ends in an alias it does not resolve.
func (r exchangeResolver) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	fq := dns.Fqdn(name)
	typ := dns.TypeToString[qtype]
	notFound := func(why string) error {
		return &net.DNSError{Err: why, Name: fq, IsNotFound: true}
	}
	temp := func(why string) error {
		return &net.DNSError{Err: why, Name: fq, IsTemporary: true}
	}
	if _, ok := dns.IsDomainName(fq); !ok || strings.ContainsAny(name, " \t\r\n") {
		return nil, notFound("not a valid domain name")
	}
	cur := fq
	seen := map[string]bool{dns.CanonicalName(cur): true}
	links := 0
	for {
		resp, err := r.x.Exchange(ctx, cur, qtype)
		if err != nil {
			var p interface{ Permanent() bool }
			if errors.As(err, &p) && p.Permanent() && ctx.Err() == nil {
				return nil, notFound(err.Error())
			}
			return nil, temp(err.Error())
		}
		if resp == nil {
			return nil, temp("no answer")
		}
		asked := cur
		for {
			var rrs []dns.RR
			for _, rr := range resp.Answer {
				if h := rr.Header(); h.Rrtype == qtype && strings.EqualFold(h.Name, cur) {
					rrs = append(rrs, rr)
				}
			}
			if len(rrs) > 0 {
				return rrs, nil
			}
			target := ""
			for _, rr := range resp.Answer {
				if cn, ok := rr.(*dns.CNAME); ok && strings.EqualFold(cn.Hdr.Name, cur) {
					target = dns.Fqdn(cn.Target)
					break
				}
			}
			if target == "" {
				break
			}
			links++
			if seen[dns.CanonicalName(target)] {
				return nil, temp("CNAME loop at " + target)
			}
			if links > MaxCNAMEChain {
				return nil, temp("CNAME chain longer than the limit")
			}
			seen[dns.CanonicalName(target)] = true
			cur = target
		}
		switch resp.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			return nil, notFound("no such domain (NXDOMAIN)")
		default:
			return nil, temp(dns.RcodeToString[resp.Rcode] + " for " + cur + " " + typ)
		}
		if cur == asked {
			return nil, notFound("no " + typ + " records (NODATA)")
		}
		// The chain left what the server knows: ask about its end.
	}
}

// Lookup is one DNS question a check asked, and what came back: the
// steps a learner can follow in the trace.
type Lookup struct {
	Type   string   `json:"type"`             // TXT, A, AAAA, A/AAAA, MX, PTR
	Name   string   `json:"name"`             // the name asked about (an address for PTR)
	Answer []string `json:"answer,omitempty"` // the records found
	Void   bool     `json:"void,omitempty"`   // no such name, or no records of the type
	Error  string   `json:"error,omitempty"`  // a failure other than "no records"
}

// recorder is a Resolver that keeps a log of what it was asked; it is
// safe for the concurrent lookups of a DKIM verification.
type recorder struct {
	r   Resolver
	mu  sync.Mutex
	log []Lookup
}

func record(r Resolver) *recorder { return &recorder{r: r} }

func (rec *recorder) add(typ, name string, answer []string, err error) {
	l := Lookup{Type: typ, Name: name, Answer: answer}
	switch {
	case err != nil && IsNotFound(err):
		l.Void = true
	case err != nil:
		l.Error = err.Error()
	case len(answer) == 0:
		l.Void = true
	}
	rec.mu.Lock()
	rec.log = append(rec.log, l)
	rec.mu.Unlock()
}

func (rec *recorder) lookups() []Lookup {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.log)
}

func (rec *recorder) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, err := rec.r.LookupTXT(ctx, name)
	rec.add("TXT", name, txt, err)
	return txt, err
}

func (rec *recorder) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, err := rec.r.LookupNetIP(ctx, network, host)
	var s []string
	for _, a := range addrs {
		s = append(s, a.String())
	}
	rec.add(addrType(network), host, s, err)
	return addrs, err
}

// addrType names the records LookupNetIP's network asks for.
func addrType(network string) string {
	switch network {
	case "ip4":
		return "A"
	case "ip6":
		return "AAAA"
	}
	return "A/AAAA"
}

func (rec *recorder) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := rec.r.LookupMX(ctx, name)
	var s []string
	for _, mx := range mxs {
		s = append(s, mxString(mx))
	}
	rec.add("MX", name, s, err)
	return mxs, err
}

func (rec *recorder) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	names, err := rec.r.LookupAddr(ctx, addr)
	rec.add("PTR", addr, names, err)
	return names, err
}

func mxString(mx *net.MX) string {
	if mx == nil {
		return ""
	}
	return strconv.Itoa(int(mx.Pref)) + " " + mx.Host
}

// dnsErrText is what went wrong in a lookup, without the name.
func dnsErrText(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) && de.Err != "" {
		return de.Err
	}
	return err.Error()
}

// trimDot removes the final dot of a fully qualified name.
func trimDot(s string) string { return strings.TrimSuffix(s, ".") }
