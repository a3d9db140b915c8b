package queue_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/dns"
	"github.com/mailhop/mailhop/sim/queue"
	"github.com/mailhop/mailhop/sim/trace"
)

// A deferred message is tried again at the times of the schedule, on the
// virtual clock, not a second earlier; the last delay repeats.
func TestRetrySchedule(t *testing.T) {
	r := newRig(t)
	mx := r.server("mx.example.net", "198.51.100.25", 25, false, "example.net")
	mx.rcpt = func(string) string { return "451 4.3.0 try again later" }
	r.start(&queue.Queue{Schedule: []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute}, Lifetime: 24 * time.Hour})
	id := r.enqueue("alice@example.org", []string{"bob@example.net"}, message("retry"))
	r.settle()

	// Attempts at 0, +1m, +5m, +10m, then every 10 minutes.
	want := []time.Duration{0, time.Minute, 6 * time.Minute, 16 * time.Minute, 26 * time.Minute, 36 * time.Minute, 46 * time.Minute}
	for i, w := range want {
		if i > 0 {
			r.advance(at(w).Add(-time.Second).Sub(r.clk.Now()))
			if n := len(mx.commands("RCPT")); n != i {
				t.Fatalf("%d attempts a second before %v, want %d", n, w, i)
			}
			r.advance(time.Second)
		}
		rcpts := mx.commands("RCPT")
		if len(rcpts) != i+1 || !rcpts[i].at.Equal(at(w)) {
			t.Fatalf("after +%v: %d attempts, the last at %v; want %d, at %v", w, len(rcpts), rcpts[len(rcpts)-1].at, i+1, at(w))
		}
		if i == len(want)-1 {
			break
		}
		msgs := r.q.Messages()
		if len(msgs) != 1 || msgs[0].ID != id || msgs[0].Attempts != i+1 || !msgs[0].Next.Equal(at(want[i+1])) {
			t.Fatalf("after attempt %d the queue holds %+v; want %s, %d attempts, next at %v", i+1, msgs, id, i+1, at(want[i+1]))
		}
		if rc := msgs[0].Rcpts[0]; rc.State != queue.Pending || rc.Status != "4.3.0" || !strings.Contains(rc.Reply, "451") {
			t.Fatalf("recipient after a 451: %+v", rc)
		}
	}
	var nexts []time.Time
	for _, e := range r.events(trace.KindQueue, "deferred") {
		nexts = append(nexts, e.Next)
	}
	if len(nexts) != len(want) {
		t.Fatalf("%d deferred events for %d attempts", len(nexts), len(want))
	}
	for i, n := range nexts[:len(nexts)-1] {
		if !n.Equal(at(want[i+1])) {
			t.Errorf("deferred event %d says next at %v, the attempt came at %v", i+1, n, at(want[i+1]))
		}
	}
}

// A message that can not be delivered within Lifetime is bounced to its
// sender: a DSN from <> (RFC 5321 §4.5.5) in the form of RFC 3464, with a
// single delay warning before it.
func TestExpiryBounces(t *testing.T) {
	r := newRig(t)
	mx := r.server("mx.example.net", "198.51.100.25", 25, false, "example.net")
	mx.rcpt = func(string) string { return "451 4.3.0 try again later" }
	home := r.server("mx.example.org", "192.0.2.10", 25, false, "example.org")
	r.start(&queue.Queue{Schedule: []time.Duration{10 * time.Minute}, Lifetime: time.Hour, WarnAfter: 25 * time.Minute})
	id := r.enqueue("alice@example.org", []string{"bob@example.net"}, message("expiry"))
	r.settle()
	r.advance(2 * time.Hour)

	if n := len(mx.commands("RCPT")); n != 7 {
		t.Errorf("%d attempts in the hour (every 10 minutes from 0 to 60), want 7", n)
	}
	if r.q.Len() != 0 {
		t.Fatalf("%d messages left in the queue", r.q.Len())
	}
	if len(r.events(trace.KindQueue, "expired")) != 1 {
		t.Error("no expired event")
	}
	got := home.messages()
	if len(got) != 2 {
		t.Fatalf("the sender's MX got %d messages, want a delay warning and a bounce", len(got))
	}
	for i, m := range got {
		if m.from != "" || !slices.Equal(m.to, []string{"alice@example.org"}) {
			t.Errorf("DSN %d went from <%s> to %v, want from <> to alice", i, m.from, m.to)
		}
	}
	if mails := home.commands("MAIL"); len(mails) != 2 || mails[0].line != "MAIL FROM:<>" || mails[1].line != "MAIL FROM:<>" {
		t.Errorf("the DSNs' MAIL commands: %v, want MAIL FROM:<>", mails)
	}

	warn, bounce := got[0], got[1]
	if !warn.at.Equal(at(30*time.Minute)) || !bounce.at.Equal(at(time.Hour)) {
		t.Errorf("warning at %v, bounce at %v; want the first attempt past WarnAfter (+30m) and the end of Lifetime (+1h)", warn.at, bounce.at)
	}
	d := parseDSN(t, warn.data)
	if a := d.perRcpt[0].Get("Action"); a != "delayed" || d.perRcpt[0].Get("Will-Retry-Until") == "" {
		t.Errorf("the warning's recipient block: %v", d.perRcpt[0])
	}

	d = parseDSN(t, bounce.data)
	if got := d.header.Get("To"); got != "<alice@example.org>" {
		t.Errorf("DSN To: %q", got)
	}
	if got := d.header.Get("From"); !strings.Contains(got, "MAILER-DAEMON@mail.example.org") {
		t.Errorf("DSN From: %q", got)
	}
	if got := d.header.Get("Auto-Submitted"); got != "auto-replied" {
		t.Errorf("DSN Auto-Submitted: %q (RFC 3834)", got)
	}
	pm := d.perMessage
	if pm.Get("Reporting-MTA") != "dns; mail.example.org" || pm.Get("X-Queue-Id") != id || pm.Get("Arrival-Date") != start.Format(time.RFC1123Z) {
		t.Errorf("per-message fields: %v", pm)
	}
	if len(d.perRcpt) != 1 {
		t.Fatalf("%d recipient blocks", len(d.perRcpt))
	}
	pr := d.perRcpt[0]
	for field, want := range map[string]string{
		"Final-Recipient":   "rfc822; bob@example.net",
		"Action":            "failed",
		"Status":            "4.3.0",
		"Remote-MTA":        "dns; mx.example.net",
		"Last-Attempt-Date": at(time.Hour).Format(time.RFC1123Z),
	} {
		if got := pr.Get(field); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	if dc := pr.Get("Diagnostic-Code"); !strings.HasPrefix(dc, "smtp; ") || !strings.Contains(dc, "451 4.3.0 try again later") {
		t.Errorf("Diagnostic-Code: %q", dc)
	}
	if !strings.Contains(d.origHeaders, "Subject: expiry") || strings.Contains(string(bounce.data), "The body of expiry") {
		t.Errorf("the DSN should return the original's header and not its body:\n%s", bounce.data)
	}
	if !strings.Contains(d.human, "<bob@example.net>: gave up after 1h0m0s") {
		t.Errorf("the human part:\n%s", d.human)
	}
}

// A 5xx reply bounces that recipient at once; the others are delivered.
func TestPermanentFailureBouncesAtOnce(t *testing.T) {
	r := newRig(t)
	mx := r.server("mx.example.net", "198.51.100.25", 25, false, "example.net")
	mx.rcpt = func(addr string) string {
		if addr == "nobody@example.net" {
			return "550 5.1.1 no such user"
		}
		return ""
	}
	home := r.server("mx.example.org", "192.0.2.10", 25, false, "example.org")
	r.start(&queue.Queue{})
	r.enqueue("alice@example.org", []string{"bob@example.net", "nobody@example.net"}, message("partly"))
	r.settle()

	if got := mx.messages(); len(got) != 1 || !slices.Equal(got[0].to, []string{"bob@example.net"}) {
		t.Fatalf("mx.example.net got %+v, want the message for bob only", got)
	}
	bounces := home.messages()
	if len(bounces) != 1 || !bounces[0].at.Equal(start) {
		t.Fatalf("%d bounces, want one at once (at %v)", len(bounces), start)
	}
	d := parseDSN(t, bounces[0].data)
	if len(d.perRcpt) != 1 {
		t.Fatalf("%d recipients in the DSN, want nobody only", len(d.perRcpt))
	}
	pr := d.perRcpt[0]
	if pr.Get("Final-Recipient") != "rfc822; nobody@example.net" || pr.Get("Action") != "failed" || pr.Get("Status") != "5.1.1" ||
		pr.Get("Diagnostic-Code") != "smtp; 550 5.1.1 no such user" || pr.Get("Remote-MTA") != "dns; mx.example.net" {
		t.Errorf("recipient block: %v", pr)
	}
	if n := len(r.events(trace.KindQueue, "deferred")); n != 0 {
		t.Errorf("%d deferrals", n)
	}
	if r.q.Len() != 0 {
		t.Errorf("%d messages left in the queue", r.q.Len())
	}
}

// A bounce (from <>) that fails is dropped, never bounced (RFC 5321
// §4.5.5), whether it fails for good or runs out of time; nor is its
// sender warned of a delay.
func TestBounceOfBounceIsDropped(t *testing.T) {
	r := newRig(t)
	mx := r.server("mx.example.net", "198.51.100.25", 25, false, "example.net")
	mx.rcpt = func(addr string) string {
		if addr == "nobody@example.net" {
			return "550 5.1.1 no such user"
		}
		return "451 4.3.0 try again later"
	}
	r.start(&queue.Queue{Schedule: []time.Duration{10 * time.Minute}, Lifetime: time.Hour, WarnAfter: 15 * time.Minute})
	r.enqueue("", []string{"nobody@example.net"}, message("bounce one"))
	r.enqueue("", []string{"bob@example.net"}, message("bounce two"))
	r.advance(2 * time.Hour)

	if n := len(r.events(trace.KindQueue, "discarded")); n != 2 {
		t.Errorf("%d discarded, want both", n)
	}
	if n := len(r.events(trace.KindQueue, "queued")); n != 2 {
		t.Errorf("%d messages queued, want the two bounces and nothing more", n)
	}
	for _, a := range []string{"bounced", "warned"} {
		if n := len(r.events(trace.KindQueue, a)); n != 0 {
			t.Errorf("%d %s events", n, a)
		}
	}
	for _, m := range mx.commands("MAIL") {
		if m.line != "MAIL FROM:<>" {
			t.Errorf("%q: a bounce goes from <>", m.line)
		}
	}
	if r.q.Len() != 0 {
		t.Errorf("%d messages left in the queue", r.q.Len())
	}
}

// Mail goes to the first mail exchanger the resolver lists (the lowest
// preference), and to the next at once when the first can not be
// reached; when none can, it waits for a retry.
func TestMXOrderAndFallback(t *testing.T) {
	r := newRig(t)
	primary := r.server("mx1.example.net", "198.51.100.1", 25, false, "")
	backup := r.server("mx2.example.net", "198.51.100.2", 25, false, "")
	r.res.set("example.net",
		queue.MX{Host: "mx1.example.net", Pref: 10, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.1")}},
		queue.MX{Host: "mx2.example.net", Pref: 20, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.2")}})
	q := r.start(&queue.Queue{IdleConn: time.Second})

	r.enqueue("alice@example.org", []string{"bob@example.net"}, message("first"))
	r.settle()
	if len(primary.messages()) != 1 || len(backup.messages()) != 0 {
		t.Fatalf("mx1 got %d, mx2 %d; want the first at mx1", len(primary.messages()), len(backup.messages()))
	}
	r.advance(time.Minute) // the idle connection is closed

	for _, fault := range []struct {
		name        string
		break_, fix func() error
	}{
		{"host down", func() error { return r.net.SetDown("mx1.example.net", true) }, func() error { return r.net.SetDown("mx1.example.net", false) }},
		{"port refused", func() error { return r.net.Refuse("mx1.example.net", 25, true) }, func() error { return r.net.Refuse("mx1.example.net", 25, false) }},
	} {
		if err := fault.break_(); err != nil {
			t.Fatal(err)
		}
		before := len(backup.messages())
		sent := r.clk.Now()
		r.enqueue("alice@example.org", []string{"bob@example.net"}, message(fault.name))
		r.settle()
		got := backup.messages()
		if len(got) != before+1 || !got[before].at.Equal(sent) {
			t.Fatalf("%s: mx2 has %d messages, want %d, the last taken at once", fault.name, len(got), before+1)
		}
		if len(primary.messages()) != 1 {
			t.Fatalf("%s: mx1 took a message", fault.name)
		}
		if err := fault.fix(); err != nil {
			t.Fatal(err)
		}
		r.advance(time.Minute)
	}
	hops := r.events(trace.KindHop, "")
	if len(hops) != 3 || hops[0].Peer != "mx1.example.net" || hops[1].Peer != "mx2.example.net" || hops[2].Peer != "mx2.example.net" {
		t.Errorf("hops: %v", hops)
	}

	// Neither can be reached: deferred, 4.4.1 (no answer from host).
	r.net.SetDown("mx1.example.net", true)
	r.net.SetDown("mx2.example.net", true)
	r.enqueue("alice@example.org", []string{"bob@example.net"}, message("nowhere"))
	r.settle()
	msgs := q.Messages()
	if len(msgs) != 1 || msgs[0].Rcpts[0].Status != "4.4.1" || msgs[0].Rcpts[0].State != queue.Pending {
		t.Fatalf("queue: %+v", msgs)
	}
	if reply := msgs[0].Rcpts[0].Reply; !strings.Contains(reply, "mx2.example.net") {
		t.Errorf("the reply names the last exchanger tried: %q", reply)
	}
}

// A session kept in the pool may die while it idles. The message is
// then not deferred for it: the host is tried again on a new connection,
// and the next exchanger when the host is gone.
func TestStalePooledSession(t *testing.T) {
	r := newRig(t)
	primary := r.server("mx1.example.net", "198.51.100.1", 25, false, "")
	backup := r.server("mx2.example.net", "198.51.100.2", 25, false, "")
	r.res.set("example.net",
		queue.MX{Host: "mx1.example.net", Pref: 10, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.1")}},
		queue.MX{Host: "mx2.example.net", Pref: 20, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.2")}})
	q := r.start(&queue.Queue{IdleConn: time.Minute})
	r.enqueue("alice@example.org", []string{"bob@example.net"}, message("first"))
	r.settle()

	primary.hangUp()
	r.enqueue("alice@example.org", []string{"bob@example.net"}, message("after a hang-up"))
	r.settle()
	if n, c := len(primary.messages()), len(primary.connections()); n != 2 || c != 2 {
		t.Fatalf("mx1: %d messages on %d connections, want the second on a new one", n, c)
	}

	r.net.SetDown("mx1.example.net", true)
	r.enqueue("alice@example.org", []string{"bob@example.net"}, message("after a crash"))
	r.settle()
	if n := len(backup.messages()); n != 1 {
		t.Fatalf("mx2 got %d messages, want the one mx1 could not take", n)
	}
	if q.Len() != 0 || len(r.events(trace.KindQueue, "deferred")) != 0 {
		t.Errorf("%d messages wait, %d deferrals; want none", q.Len(), len(r.events(trace.KindQueue, "deferred")))
	}
}

// The queue takes a DNS failure for what it is from the resolver's
// typed error, never from its words: a null MX (RFC 7505) bounces with
// 5.1.10 at once, another permanent failure with 5.1.2, a temporary
// one waits (4.4.3).
func TestDNSFailures(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status string
		state  queue.State
	}{
		{"null MX", fmt.Errorf("lookup: %w", &dns.Error{Name: "example.com.", Type: "MX", NullMX: true, Reason: "nothing to see"}), "5.1.10", queue.Failed},
		{"NXDOMAIN that talks of a null mx", &dns.Error{Name: "example.com.", Type: "MX", NotFound: true, Reason: "no such domain; not a null mx, it does not accept mail"}, "5.1.2", queue.Failed},
		{"SERVFAIL", &dns.Error{Name: "example.com.", Type: "MX", Temporary: true, Reason: "SERVFAIL from ns"}, "4.4.3", queue.Pending},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			home := r.server("mx.example.org", "192.0.2.10", 25, false, "example.org")
			r.res.fail("example.com", c.err)
			r.start(&queue.Queue{})
			r.enqueue("alice@example.org", []string{"anyone@example.com"}, message(c.name))
			r.settle()
			bounces := home.messages()
			if c.state == queue.Pending {
				msgs := r.q.Messages()
				if len(bounces) != 0 || len(msgs) != 1 || msgs[0].Rcpts[0].Status != c.status {
					t.Fatalf("%d bounces, queue %+v; want the message waiting with %s", len(bounces), msgs, c.status)
				}
				return
			}
			if len(bounces) != 1 {
				t.Fatalf("%d bounces, want one at once", len(bounces))
			}
			if st := parseDSN(t, bounces[0].data).perRcpt[0].Get("Status"); st != c.status {
				t.Errorf("Status: %s, want %s", st, c.status)
			}
		})
	}
}

// Messages for one domain that are due together travel on one
// connection, one transaction after another; a message queued while the
// connection idles in the pool takes it too.
func TestBatchingOnOneConnection(t *testing.T) {
	r := newRig(t)
	mx := r.server("mx.example.net", "198.51.100.25", 25, false, "example.net")
	r.start(&queue.Queue{FirstDelay: time.Millisecond, IdleConn: 10 * time.Second})
	for i := range 4 {
		r.enqueue("alice@example.org", []string{fmt.Sprintf("user%d@example.net", i)}, message(fmt.Sprintf("burst %d", i)))
	}
	r.advance(time.Millisecond)
	if n := len(mx.connections()); n != 1 {
		t.Fatalf("%d connections for the burst, want 1", n)
	}
	if n := len(mx.messages()); n != 4 {
		t.Fatalf("%d messages delivered, want 4", n)
	}
	if n := len(mx.commands("EHLO")); n != 1 {
		t.Errorf("%d EHLOs", n)
	}
	if n := len(r.res.questions()); n != 1 {
		t.Errorf("%d MX lookups for the burst, want 1", n)
	}
	onOpen := 0
	for _, e := range r.events(trace.KindQueue, "attempt") {
		if strings.Contains(e.Text, "on the open connection") {
			onOpen++
		}
	}
	if onOpen != 3 {
		t.Errorf("%d attempts on the open connection, want 3", onOpen)
	}
	if r.q.IdleConns() != 1 {
		t.Fatalf("%d idle connections, want the one kept for reuse", r.q.IdleConns())
	}

	r.advance(5 * time.Second)
	r.enqueue("alice@example.org", []string{"late@example.net"}, message("late"))
	r.advance(time.Millisecond)
	if n, m := len(mx.connections()), len(mx.messages()); n != 1 || m != 5 {
		t.Fatalf("%d connections, %d messages; want the late message on the pooled connection", n, m)
	}
	if r.q.Len() != 0 {
		t.Errorf("%d messages left", r.q.Len())
	}
}

// An idle connection is closed with QUIT once it has idled IdleConn, and
// each use starts the wait again; Stop closes the rest with QUIT too.
func TestIdleConnectionQuits(t *testing.T) {
	r := newRig(t)
	mx := r.server("mx.example.net", "198.51.100.25", 25, false, "example.net")
	q := r.start(&queue.Queue{IdleConn: 30 * time.Second})
	r.enqueue("alice@example.org", []string{"bob@example.net"}, message("one"))
	r.settle()
	r.advance(20 * time.Second)
	r.enqueue("alice@example.org", []string{"bob@example.net"}, message("two"))
	r.settle()
	second := r.clk.Now()
	r.advance(29 * time.Second)
	if quits := mx.commands("QUIT"); len(quits) != 0 || q.IdleConns() != 1 {
		t.Fatalf("%d QUITs and %d idle connections 29s after the last use", len(quits), q.IdleConns())
	}
	r.advance(time.Second)
	conns := mx.connections()
	if len(conns) != 1 || len(mx.messages()) != 2 {
		t.Fatalf("%d connections for %d messages, want both on one", len(conns), len(mx.messages()))
	}
	last := conns[0][len(conns[0])-1]
	if last.line != "QUIT" || !last.at.Equal(second.Add(30*time.Second)) {
		t.Fatalf("the connection ends with %q at %v, want QUIT at %v", last.line, last.at, second.Add(30*time.Second))
	}
	if q.IdleConns() != 0 {
		t.Errorf("%d idle connections after the QUIT", q.IdleConns())
	}

	r.enqueue("alice@example.org", []string{"bob@example.net"}, message("three"))
	r.settle()
	q.Stop()
	conns = mx.connections()
	if len(conns) != 2 || conns[1][len(conns[1])-1].line != "QUIT" {
		t.Fatalf("Stop: connections %v, want the second closed with QUIT", conns)
	}
}

// The LMTP route hands mail to a delivery agent at a fixed address (LHLO,
// no MX lookup) and takes its reply for each recipient after the data.
func TestLMTPRoute(t *testing.T) {
	r := newRig(t)
	store := r.server("store.example.net", "198.51.100.30", 24, true, "")
	store.data = func(rcpt string) string {
		switch rcpt {
		case "full@example.net":
			return "452 4.2.2 mailbox full"
		case "gone@example.net":
			return "550 5.1.1 no such mailbox"
		}
		return "250 2.0.0 Ok: delivered to " + rcpt
	}
	home := r.server("mx.example.org", "192.0.2.10", 25, false, "example.org")
	q := r.start(&queue.Queue{Route: func(domain string) queue.Route {
		if domain == "example.net" {
			return queue.Route{Kind: queue.RouteLMTP, Addr: "198.51.100.30:24", Host: "store.example.net"}
		}
		return queue.Route{Kind: queue.RouteMX}
	}})
	r.enqueue("alice@example.org", []string{"bob@example.net", "full@example.net", "gone@example.net"}, message("lmtp"))
	r.settle()

	if n := len(store.commands("LHLO")); n != 1 || len(store.commands("EHLO")) != 0 {
		t.Errorf("%d LHLOs, want LMTP's greeting", n)
	}
	if slices.Contains(r.res.questions(), "example.net") {
		t.Error("the LMTP route looked up MX records")
	}
	if got := store.messages(); len(got) != 1 || len(got[0].to) != 3 {
		t.Fatalf("the store got %+v, want one transaction for the three", got)
	}
	msgs := q.Messages()
	if len(msgs) != 1 {
		t.Fatalf("queue %+v, want the message waiting for full@", msgs)
	}
	for _, rc := range msgs[0].Rcpts {
		want := map[string]queue.State{"bob@example.net": queue.Delivered, "full@example.net": queue.Pending, "gone@example.net": queue.Failed}[rc.Addr]
		if rc.State != want || rc.Remote != "store.example.net" {
			t.Errorf("%s: %s at %s (%s), want %s", rc.Addr, rc.State, rc.Remote, rc.Reply, want)
		}
	}
	bounces := home.messages()
	if len(bounces) != 1 {
		t.Fatalf("%d bounces", len(bounces))
	}
	if pr := parseDSN(t, bounces[0].data).perRcpt; len(pr) != 1 || pr[0].Get("Final-Recipient") != "rfc822; gone@example.net" || pr[0].Get("Status") != "5.1.1" {
		t.Errorf("DSN recipients: %v", pr)
	}
	var hop string
	for _, e := range r.events(trace.KindHop, "") {
		hop += e.Text + "\n"
	}
	if !strings.Contains(hop, "bob@example.net handed to store.example.net by LMTP") {
		t.Errorf("hop events: %s", hop)
	}
}

// The local route files through Local, which says for each recipient
// whether it worked, failed for good or should be tried again.
func TestLocalRoute(t *testing.T) {
	r := newRig(t)
	mx := r.server("mx.example.net", "198.51.100.25", 25, false, "example.net")
	type filed struct{ from, rcpt, body string }
	var got []filed
	q := r.start(&queue.Queue{
		Route: func(domain string) queue.Route {
			if domain == "example.org" {
				return queue.Route{Kind: queue.RouteLocal}
			}
			return queue.Route{Kind: queue.RouteMX}
		},
		Local: func(_ context.Context, env *queue.Envelope, rcpt string, body []byte) error {
			got = append(got, filed{env.From, rcpt, string(body)})
			switch rcpt {
			case "ghost@example.org":
				return permanentErr("no mailbox for ghost@example.org here")
			case "busy@example.org":
				return temporaryErr("mailbox locked")
			}
			return nil
		},
	})
	r.enqueue("bob@example.net", []string{"alice@example.org", "ghost@example.org", "busy@example.org"}, message("local"))
	r.settle()

	if len(got) != 3 || got[0] != (filed{"bob@example.net", "alice@example.org", message("local")}) {
		t.Fatalf("Local got %+v", got)
	}
	msgs := q.Messages()
	if len(msgs) != 1 {
		t.Fatalf("queue %+v, want the message waiting for busy@", msgs)
	}
	for _, rc := range msgs[0].Rcpts {
		want := map[string]queue.State{"alice@example.org": queue.Delivered, "ghost@example.org": queue.Failed, "busy@example.org": queue.Pending}[rc.Addr]
		if rc.State != want {
			t.Errorf("%s: %s (%s), want %s", rc.Addr, rc.State, rc.Reply, want)
		}
		if rc.Addr == "busy@example.org" && rc.Status != "4.2.1" {
			t.Errorf("busy's status %q, want the error's", rc.Status)
		}
	}
	bounces := mx.messages()
	if len(bounces) != 1 || !slices.Equal(bounces[0].to, []string{"bob@example.net"}) {
		t.Fatalf("bounces to the sender: %+v", bounces)
	}
	pr := parseDSN(t, bounces[0].data).perRcpt
	if len(pr) != 1 || pr[0].Get("Status") != "5.1.1" || pr[0].Get("Diagnostic-Code") != "x-mailhop; no mailbox for ghost@example.org here" || pr[0].Get("Remote-MTA") != "" {
		t.Errorf("DSN recipients: %v", pr)
	}
}

// Enqueue picks another queue id when the spool has the one it chose,
// as the spool says with ErrExists; another error of the spool fails it.
func TestEnqueueSpoolErrors(t *testing.T) {
	r := newRig(t)
	r.server("mx.example.net", "198.51.100.25", 25, false, "example.net")
	sp := &flakySpool{MemorySpool: queue.NewMemorySpool(), errs: []error{fmt.Errorf("%w: X", queue.ErrExists), fmt.Errorf("%w: Y", queue.ErrExists)}}
	r.start(&queue.Queue{Spool: sp, FirstDelay: time.Hour})
	id := r.enqueue("alice@example.org", []string{"bob@example.net"}, message("collide"))
	if len(sp.ids) != 3 || sp.ids[2] != id || sp.ids[0] == sp.ids[1] || sp.ids[1] == id {
		t.Fatalf("ids tried %v, want three different, the last %s", sp.ids, id)
	}
	sp.errs = []error{errors.New("disk full, whatever it says about what exists")}
	if _, err := r.q.Enqueue("alice@example.org", []string{"bob@example.net"}, []byte(message("full"))); err == nil {
		t.Fatal("a spool failure was not reported")
	}
	if r.q.Len() != 1 {
		t.Errorf("%d messages queued", r.q.Len())
	}
	m := queue.NewMemorySpool()
	env := &queue.Envelope{ID: "A1", Rcpts: []*queue.Rcpt{{Addr: "bob@example.net", State: queue.Pending}}}
	if err := m.Put(env, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Put(env, nil); !errors.Is(err, queue.ErrExists) {
		t.Errorf("MemorySpool.Put of a queued id: %v, want ErrExists", err)
	}
}

// flakySpool fails Put with the errors in errs, one per call, and
// records the ids it was given.
type flakySpool struct {
	*queue.MemorySpool
	errs []error
	ids  []string
}

func (s *flakySpool) Put(env *queue.Envelope, body []byte) error {
	s.ids = append(s.ids, env.ID)
	if len(s.errs) > 0 {
		err := s.errs[0]
		s.errs = s.errs[1:]
		return err
	}
	return s.MemorySpool.Put(env, body)
}

// More than 4,096 messages queued in one millisecond (a burst on a clock
// that does not move) each get their own queue id: once the short ids
// come round, a longer one that names the whole sequence number.
func TestQueueIDsOfALongBurst(t *testing.T) {
	r := newRig(t)
	r.start(&queue.Queue{FirstDelay: time.Hour})
	const n = 4096 + 10
	done := make(chan []string, 1)
	go func() {
		var ids []string
		for i := range n {
			id, err := r.q.Enqueue("alice@example.org", []string{"bob@example.net"}, []byte(message(fmt.Sprint("burst ", i))))
			if err != nil {
				t.Error(err)
				break
			}
			ids = append(ids, id)
		}
		done <- ids
	}()
	var ids []string
	select {
	case ids = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Enqueue still looking for a free queue id after a minute")
	}
	if len(ids) != n {
		t.Fatalf("%d messages queued, want %d", len(ids), n)
	}
	seen := map[string]bool{}
	for i, id := range ids {
		if seen[id] {
			t.Fatalf("queue id %s given twice", id)
		}
		seen[id] = true
		long := i >= 4096
		if want := 10; !long && len(id) != want || long && len(id) <= want {
			t.Errorf("message %d has queue id %q (%d characters)", i, id, len(id))
		}
	}
	if got := r.q.Len(); got != n {
		t.Errorf("the queue holds %d messages, want %d", got, n)
	}
}
