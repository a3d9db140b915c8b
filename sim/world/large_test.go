package world

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/message"
	"github.com/mailhop/mailhop/sim/mua"
	"github.com/mailhop/mailhop/sim/trace"
)

// The large world: 50 hosts in five domains. Someone in each domain
// writes to someone in every other domain, and each message arrives in
// its recipient's INBOX by the domain's MX and store, checked on the way.
func TestLargeWorld(t *testing.T) {
	spec, err := Load("large")
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.Hosts) != 50 {
		t.Errorf("%d hosts, want 50", len(spec.Hosts))
	}
	// The domains, and one user of each, in the order of the file.
	var domains []string
	first := map[string]string{}
	for _, u := range spec.Users {
		d := domainOf(u.Address)
		if first[d] == "" {
			first[d] = u.Address
			domains = append(domains, d)
		}
	}
	if len(domains) != 5 {
		t.Fatalf("domains %v, want 5", domains)
	}
	w, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	want := map[string][]string{} // recipient → subjects
	for i, from := range domains {
		// The first user of each domain writes to the second of every
		// other.
		for j, to := range domains {
			if i == j {
				continue
			}
			sender := first[from]
			rcpt := spec.Users[slices.IndexFunc(spec.Users, func(u UserSpec) bool { return u.Address == first[to] })+1].Address
			subject := fmt.Sprintf("From %s to %s", from, to)
			if _, err := w.Send(ctx, mua.Mail{From: sender, To: []string{rcpt}, Subject: subject, Body: "Across the town."}); err != nil {
				t.Fatalf("%s → %s: %v", sender, rcpt, err)
			}
			want[rcpt] = append(want[rcpt], subject)
		}
	}
	w.RunUntilQuiet(time.Hour)
	if n := w.Queued(); n != 0 {
		t.Errorf("%d messages still queued", n)
	}
	for rcpt, subjects := range want {
		var got []string
		for _, m := range inbox(t, w, rcpt) {
			h := message.ReadHeader(m)
			got = append(got, h.Text("Subject"))
			d := domainOf(rcpt)
			// Through the domain's own MX and store, checked there.
			for _, s := range []string{"by store." + d + " (mailhop) with LMTP", "by mx1." + d + " (mailhop) with ESMTPS",
				"Authentication-Results: mx1." + d + ";", "dmarc=pass"} {
				if !strings.Contains(string(m), s) {
					t.Errorf("%s: the message %q lacks %q", rcpt, h.Text("Subject"), s)
				}
			}
		}
		slices.Sort(got)
		slices.Sort(subjects)
		if !slices.Equal(got, subjects) {
			t.Errorf("%s's INBOX: %q, want %q", rcpt, got, subjects)
		}
	}
	if len(want) != 5 {
		t.Errorf("%d recipients, want one in each domain", len(want))
	}
}

// A long journey keeps a bounded trace: the recorder holds about its
// limit, while the sink sees every event, in order, none missed. Every
// user of the large world gets the same share of the messages, and the
// mailboxes hold them all.
func TestJourneyCountBoundedTrace(t *testing.T) {
	const limit = 500
	count := 1000
	if runtime.GOARCH == "wasm" {
		count = 500 // one cycle of the round robin: WebAssembly is slower
	}
	spec, err := Load("large")
	if err != nil {
		t.Fatal(err)
	}
	var seen, last int64
	w, err := New(spec, TraceLimit(limit), TraceSink(func(e trace.Event) {
		if e.Seq != last+1 {
			t.Errorf("the sink got event %d after %d", e.Seq, last)
		}
		last = e.Seq
		seen++
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mails := spec.RoundRobin()
	if len(mails) != 25*20 {
		t.Fatalf("%d messages in a cycle, want each of the 25 users writing to the 20 of the other domains", len(mails))
	}
	for i := range mails {
		mails[i].Subject, mails[i].Body = "Round", "One of many."
	}
	most, pauses := 0, 0
	out, err := w.Run(context.Background(), Journey{Mails: mails, Count: count, Round: 50, Until: time.Hour, Pause: func() {
		pauses++
		most = max(most, len(w.Trace.Events()))
		if w.Queued() != 0 {
			t.Errorf("a round ends with %d messages queued", w.Queued())
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.NSent != count || out.NRefused != 0 || len(out.Sent) != 0 {
		t.Errorf("sent %d (kept %d), refused %d; want %d sent, none kept", out.NSent, len(out.Sent), out.NRefused, count)
	}
	if pauses != count/50 {
		t.Errorf("%d pauses, want one after each of the %d rounds", pauses, count/50)
	}
	if most > limit+1024 || most < limit {
		t.Errorf("the recorder held up to %d events, want about %d", most, limit)
	}
	if seen != w.Trace.Last() || seen < int64(count)*50 {
		t.Errorf("the sink saw %d events, the trace recorded %d", seen, w.Trace.Last())
	}
	for _, u := range spec.Users {
		if n := len(inbox(t, w, u.Address)); n != count/25 {
			t.Errorf("%s has %d messages, want %d", u.Address, n, count/25)
		}
	}
}
