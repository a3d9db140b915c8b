package queue_test

import (
	"strings"
	"testing"

	"github.com/mailhop/mailhop/sim/dns"
	"github.com/mailhop/mailhop/sim/queue"
	"github.com/mailhop/mailhop/sim/trace"
)

const zones = `
$ORIGIN example.org.
@       3600 IN SOA ns.example. hostmaster.example.org. 1 7200 3600 1209600 3600
@       IN MX 10 mx
mx      IN A 192.0.2.10
---
$ORIGIN example.net.
@       3600 IN SOA ns.example. hostmaster.example.net. 1 7200 3600 1209600 3600
; the backup first: the preference orders them, not the zone
@       IN MX 20 backup
@       IN MX 10 mx
mx      IN A 198.51.100.1
backup  IN A 198.51.100.2
---
$ORIGIN example.com.
@       3600 IN SOA ns.example. hostmaster.example.com. 1 7200 3600 1209600 3600
; no MX: the domain's own address is its implicit MX
@       IN A 198.51.100.77
---
$ORIGIN example.edu.
@       3600 IN SOA ns.example. hostmaster.example.edu. 1 7200 3600 1209600 3600
; a null MX: no mail accepted here
@       IN MX 0 .
@       IN A 198.51.100.88
`

// withDNS gives the rig a name server with the zones above, and makes the
// queue ask it through sim/dns's resolver (queue.DNS), as a world does.
func withDNS(t *testing.T, r *rig) queue.Resolver {
	t.Helper()
	srv := &dns.Server{Name: "ns.example"}
	for _, text := range strings.Split(zones, "---") {
		origin := strings.TrimSuffix(strings.Fields(strings.TrimSpace(text))[1], ".")
		z, err := dns.LoadZone(strings.NewReader(text), origin, "zone "+origin)
		if err != nil {
			t.Fatal(err)
		}
		srv.SetZone(z)
	}
	ns := r.host("ns.example", "192.0.2.53")
	pc, err := ns.ListenPacket("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServePacket(pc)
	t.Cleanup(srv.Shutdown)
	return queue.DNS(&dns.Resolver{Net: r.mta, Servers: []string{"192.0.2.53:53"}, Trace: r.rec, Host: "mail.example.org"})
}

// Through DNS: the exchanger of lowest preference first, whatever the
// order of the records, and the next one when it is down.
func TestDNSPreferenceOrder(t *testing.T) {
	r := newRig(t)
	res := withDNS(t, r)
	mx := r.server("mx.example.net", "198.51.100.1", 25, false, "")
	backup := r.server("backup.example.net", "198.51.100.2", 25, false, "")
	r.start(&queue.Queue{Resolver: res})
	r.enqueue("alice@example.org", []string{"bob@example.net"}, message("preferred"))
	r.settle()
	if len(mx.messages()) != 1 || len(backup.messages()) != 0 {
		t.Fatalf("mx got %d, backup %d; want the MX of preference 10", len(mx.messages()), len(backup.messages()))
	}
	if err := r.net.SetDown("mx.example.net", true); err != nil {
		t.Fatal(err)
	}
	r.advance(r.q.IdleConn) // the pooled connection to mx is gone
	r.enqueue("alice@example.org", []string{"bob@example.net"}, message("fallback"))
	r.settle()
	if len(backup.messages()) != 1 {
		t.Fatalf("backup got %d messages while mx was down, want 1", len(backup.messages()))
	}
}

// A domain without MX records takes mail at its own address (RFC 5321
// §5.1).
func TestDNSImplicitMX(t *testing.T) {
	r := newRig(t)
	res := withDNS(t, r)
	own := r.server("example.com", "198.51.100.77", 25, false, "")
	r.start(&queue.Queue{Resolver: res})
	r.enqueue("alice@example.org", []string{"carol@example.com"}, message("implicit"))
	r.settle()
	if got := own.messages(); len(got) != 1 || got[0].to[0] != "carol@example.com" {
		t.Fatalf("example.com's own host got %+v", got)
	}
	if r.q.Len() != 0 {
		t.Errorf("%d messages left", r.q.Len())
	}
}

// A null MX (RFC 7505) bounces at once with 5.1.10, and no connection
// is tried to the domain, not even to its A record.
func TestDNSNullMX(t *testing.T) {
	r := newRig(t)
	res := withDNS(t, r)
	own := r.server("example.edu", "198.51.100.88", 25, false, "")
	home := r.server("mx.example.org", "192.0.2.10", 25, false, "")
	r.start(&queue.Queue{Resolver: res})
	r.enqueue("alice@example.org", []string{"dan@example.edu"}, message("null"))
	r.settle()
	if len(own.connections()) != 0 {
		t.Error("a connection was made to a domain with a null MX")
	}
	bounces := home.messages()
	if len(bounces) != 1 || !bounces[0].at.Equal(start) {
		t.Fatalf("%d bounces, want one at once", len(bounces))
	}
	pr := parseDSN(t, bounces[0].data).perRcpt[0]
	if pr.Get("Status") != "5.1.10" || !strings.HasPrefix(pr.Get("Diagnostic-Code"), "x-mailhop; DNS: ") {
		t.Errorf("recipient block: %v", pr)
	}
	if n := len(r.events(trace.KindQueue, "deferred")); n != 0 {
		t.Errorf("%d deferrals", n)
	}
}
