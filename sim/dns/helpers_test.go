package dns

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/trace"
)

var start = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// loadTestZone loads testdata/ORIGIN.zone.
func loadTestZone(t testing.TB, origin string) *Zone {
	t.Helper()
	path := filepath.Join("testdata", origin+".zone")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := LoadZone(f, origin, path)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// world is a small part of the default world: the sending MTA's host,
// and two name servers with the same zones.
type world struct {
	v        *clock.Virtual
	net      *netsim.Network
	rec      *trace.Recorder
	mail     *netsim.Host
	ns, ns2  *Server
	resolver *Resolver
}

func newWorld(t testing.TB, traced bool) *world {
	t.Helper()
	w := &world{v: clock.NewVirtual(start)}
	if traced {
		w.rec = trace.NewRecorder(w.v.Now, 0)
	}
	w.net = netsim.New(w.v, w.rec)
	w.net.DescribePacket = func(proto string, b []byte) string {
		if proto != "dns" {
			return ""
		}
		return DescribePacket(b)
	}
	var err error
	if w.mail, err = w.net.AddHost("mail.example.org", "192.0.2.25"); err != nil {
		t.Fatal(err)
	}
	net, org := loadTestZone(t, "example.net"), loadTestZone(t, "example.org")
	w.ns, w.ns2 = NewServer(net, org), NewServer(net, org)
	w.ns.Name, w.ns2.Name = "ns.example", "ns2.example"
	w.ns.Trace, w.ns2.Trace = w.rec, w.rec
	for _, s := range []struct {
		srv  *Server
		addr string
	}{{w.ns, "192.0.2.53"}, {w.ns2, "192.0.2.54"}} {
		h, err := w.net.AddHost(s.srv.Name, s.addr)
		if err != nil {
			t.Fatal(err)
		}
		serve(t, s.srv, h)
	}
	w.resolver = &Resolver{
		Net:         w.mail,
		Servers:     []string{"192.0.2.53:53"},
		Trace:       w.rec,
		Host:        "mail.example.org",
		ServerNames: map[string]string{"192.0.2.53": "ns.example", "192.0.2.54": "ns2.example"},
	}
	return w
}

// serve runs s on port 53 (UDP and TCP) of h until the test ends.
func serve(t testing.TB, s *Server, h netx.Network) {
	t.Helper()
	pc, err := h.ListenPacket("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.Listen("tcp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	go func() { done <- s.ServePacket(pc) }()
	go func() { done <- s.ServeListener(l) }()
	t.Cleanup(func() {
		s.Shutdown()
		for range 2 {
			select {
			case err := <-done:
				if !errors.Is(err, ErrServerClosed) {
					t.Errorf("serve returned %v, want ErrServerClosed", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Shutdown did not stop the server")
				return
			}
		}
	})
}

// drive runs f, a lookup in w, and whenever the lookup waits for an
// answer that cannot come (its query was lost, or dropped by a fault) it
// moves the virtual clock to the next timer: the resolver's deadline. A
// 5-second timeout so takes 5 virtual seconds and next to no wall time,
// and the clock never moves while an answer is on its way. It returns f's
// result and the virtual time that passed. w must be traced.
func drive[T any](t *testing.T, w *world, f func() T) (T, time.Duration) {
	t.Helper()
	begin := w.v.Now()
	done := make(chan T, 1)
	go func() { done <- f() }()
	wall := time.Now()
	for {
		select {
		case r := <-done:
			return r, w.v.Now().Sub(begin)
		default:
		}
		if time.Since(wall) > 10*time.Second {
			var last []string
			for _, e := range w.rec.Events() {
				last = append(last, trace.FormatText(e))
			}
			next, _ := w.v.Next()
			t.Fatalf("the lookup did not end within 10 s of wall time; %d timers pending, next at %v; the trace:\n%s",
				w.v.Pending(), next.Sub(w.v.Now()), strings.Join(last, "\n"))
		}
		if next, ok := w.v.Next(); ok && w.unanswerable() {
			w.v.AdvanceTo(next)
		} else {
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// unanswerable reports whether the resolver's last query was lost or
// dropped by a fault (and it has not yet given up on it).
func (w *world) unanswerable() bool {
	events := w.rec.Events()
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		if e.Kind != trace.KindDNS || e.Host != w.resolver.Host {
			continue
		}
		if e.Action != "query" {
			return false // answered, or given up
		}
		for _, after := range events[i+1:] {
			switch {
			case after.Kind == trace.KindPacket && strings.Contains(after.Text, " — lost: "):
				return true
			case after.Kind == trace.KindDNS && after.Action == "served" && strings.HasSuffix(after.Text, "dropped (fault)"):
				return true
			}
		}
		return false
	}
	return false
}

// waitFor polls cond (wall clock) for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// dnsEvents renders the resolvers' dns events of rec as lines.
func dnsEvents(rec *trace.Recorder) []string {
	var out []string
	for _, e := range rec.Events() {
		if e.Kind != trace.KindDNS || e.Action == "served" {
			continue
		}
		s := e.Action + " " + e.Host + " → " + e.Peer + ": " + e.Text
		if len(e.Records) > 0 {
			s += " [" + strings.Join(e.Records, " | ") + "]"
		}
		out = append(out, s)
	}
	return out
}
