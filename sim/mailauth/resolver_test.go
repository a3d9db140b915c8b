package mailauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

type exchangeFunc func(ctx context.Context, name string, qtype uint16) (*dns.Msg, error)

func (f exchangeFunc) Exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	return f(ctx, name, qtype)
}

type permErr struct{}

func (permErr) Error() string   { return "not a valid domain name" }
func (permErr) Permanent() bool { return true }

func TestFromExchanger(t *testing.T) {
	f := newFakeDNS(t,
		txt("split.example.", "v=spf1 ", "ip4:192.0.2.1", " -all"),
		txt("two.example.", "first"), txt("two.example.", "second"),
		"alias.example. IN CNAME a2.example.", "a2.example. IN CNAME split.example.",
		"loop1.example. IN CNAME loop2.example.", "loop2.example. IN CNAME loop1.example.",
		"host.example. IN A 192.0.2.1", "host.example. IN AAAA 2001:db8::1",
		"v4.example. IN A 192.0.2.2",
		"mx.example. IN MX 20 b.example.", "mx.example. IN MX 10 z.example.", "mx.example. IN MX 10 a.example.",
		"1.2.0.192.in-addr.arpa. IN PTR host.example.",
		"deep.sub.empty.example. IN A 192.0.2.3",
	)
	for i := range MaxCNAMEChain + 1 {
		f.add(t, fmt.Sprintf("c%d.example. IN CNAME c%d.example.", i, i+1))
	}
	f.add(t, fmt.Sprintf("c%d.example. IN A 192.0.2.9", MaxCNAMEChain+1))
	f.servfail["down.example."] = true
	r := FromExchanger(f)
	ctx := context.Background()

	if got, err := r.LookupTXT(ctx, "split.example"); err != nil || !slices.Equal(got, []string{"v=spf1 ip4:192.0.2.1 -all"}) {
		t.Errorf("split TXT: %q, %v", got, err)
	}
	if got, err := r.LookupTXT(ctx, "two.example."); err != nil || len(got) != 2 {
		t.Errorf("two TXT: %q, %v", got, err)
	}
	if got, err := r.LookupTXT(ctx, "alias.example"); err != nil || len(got) != 1 {
		t.Errorf("through CNAMEs: %q, %v", got, err)
	}
	for name, want := range map[string]string{
		"nosuch.example": "notfound", "host.example": "notfound", "empty.example": "notfound",
		"down.example": "temp", "loop1.example": "temp", "c0.example": "temp", "bad name.example": "notfound",
	} {
		_, err := r.LookupTXT(ctx, name)
		var de *net.DNSError
		got := "ok"
		switch {
		case IsNotFound(err):
			got = "notfound"
		case errors.As(err, &de) && de.Temporary():
			got = "temp"
		}
		if got != want {
			t.Errorf("TXT %s: %v (%s), want %s", name, err, got, want)
		}
	}
	if got, err := r.LookupNetIP(ctx, "ip4", "c1.example"); err != nil || len(got) != 1 {
		t.Errorf("chain of %d links: %v, %v", MaxCNAMEChain, got, err)
	}
	if got, err := r.LookupNetIP(ctx, "ip", "host.example"); err != nil || len(got) != 2 {
		t.Errorf("ip: %v, %v", got, err)
	}
	if got, err := r.LookupNetIP(ctx, "ip6", "host.example"); err != nil || len(got) != 1 || !got[0].Is6() {
		t.Errorf("ip6: %v, %v", got, err)
	}
	if got, err := r.LookupNetIP(ctx, "ip", "v4.example"); err != nil || len(got) != 1 {
		t.Errorf("ip with A only: %v, %v", got, err)
	}
	if _, err := r.LookupNetIP(ctx, "ip6", "v4.example"); !IsNotFound(err) {
		t.Errorf("ip6 with A only: %v", err)
	}
	if _, err := r.LookupNetIP(ctx, "ip", "down.example"); IsNotFound(err) || err == nil {
		t.Errorf("ip, down: %v", err)
	}
	mxs, err := r.LookupMX(ctx, "mx.example")
	if err != nil || len(mxs) != 3 || mxs[0].Host != "a.example." || mxs[1].Host != "z.example." || mxs[2].Pref != 20 {
		t.Errorf("MX: %v, %v", mxs, err)
	}
	if names, err := r.LookupAddr(ctx, "192.0.2.1"); err != nil || !slices.Equal(names, []string{"host.example."}) {
		t.Errorf("PTR: %v, %v", names, err)
	}
	if _, err := r.LookupAddr(ctx, "not an address"); !IsNotFound(err) {
		t.Errorf("PTR of garbage: %v", err)
	}

	// Answers with other codes, and errors of the exchanger.
	for _, c := range []struct {
		x    exchangeFunc
		want string
	}{
		{func(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
			m := new(dns.Msg)
			m.SetRcode(m.SetQuestion(name, qtype), dns.RcodeServerFailure)
			return m, nil
		}, "temp"},
		{func(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
			m := new(dns.Msg)
			m.SetRcode(m.SetQuestion(name, qtype), dns.RcodeRefused)
			return m, nil
		}, "temp"},
		{func(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) { return nil, permErr{} }, "notfound"},
		{func(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) { return nil, nil }, "temp"},
		{func(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
			return nil, errors.New("no answer within 5s")
		}, "temp"},
	} {
		_, err := FromExchanger(c.x).LookupTXT(ctx, "example.org")
		got := "temp"
		if IsNotFound(err) {
			got = "notfound"
		}
		if err == nil || got != c.want {
			t.Errorf("%v: %s, want %s", err, got, c.want)
		}
	}
}
