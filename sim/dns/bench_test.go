package dns

import (
	"context"
	"testing"

	miekg "github.com/miekg/dns"

	"github.com/mailhop/mailhop/sim/trace"
)

// BenchmarkLookupMX is one MTA's lookup over netsim: three queries
// (example.net MX, mx.example.net A and AAAA), each a UDP round trip to the
// server's goroutines.
func BenchmarkLookupMX(b *testing.B) {
	for _, traced := range []bool{false, true} {
		name := "untraced"
		if traced {
			name = "traced"
		}
		b.Run(name, func(b *testing.B) {
			w := newWorld(b, false)
			if traced {
				rec := trace.NewRecorder(w.v.Now, 1000)
				w.resolver.Trace = rec
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.resolver.LookupMX(ctx, "example.net"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAnswer is the server's part alone: building one answer.
func BenchmarkAnswer(b *testing.B) {
	s := NewServer(loadTestZone(b, "example.net"))
	req := new(miekg.Msg)
	req.SetQuestion("mail.example.net.", miekg.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		if m := s.answer(req); len(m.Answer) != 2 {
			b.Fatal(m)
		}
	}
}
