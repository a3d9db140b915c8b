package queue

import (
	"context"

	"github.com/mailhop/mailhop/sim/dns"
)

// DNS adapts sim/dns's resolver to the queue's Resolver, for the
// simulation and the real server alike.
func DNS(r *dns.Resolver) Resolver { return dnsResolver{r} }

type dnsResolver struct{ r *dns.Resolver }

func (d dnsResolver) LookupMX(ctx context.Context, domain string) ([]MX, error) {
	ts, err := d.r.LookupMX(ctx, domain)
	if err != nil {
		return nil, err
	}
	out := make([]MX, len(ts))
	for i, t := range ts {
		out[i] = MX{Host: t.Host, Pref: t.Pref, Addrs: t.Addrs, Implicit: t.Implicit}
	}
	return out, nil
}
