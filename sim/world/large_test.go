package world

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/message"
	"github.com/mailhop/mailhop/sim/mua"
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
