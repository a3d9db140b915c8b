package world

import (
	"context"
	"github.com/mailhop/mailhop/sim/dns"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/mua"
	"github.com/mailhop/mailhop/sim/trace"
)

// Every built-in world loads, starts, and tells what it is for.
func TestBuiltinWorlds(t *testing.T) {
	names := Builtin()
	if len(names) < 5 {
		t.Fatalf("built-in worlds: %v", names)
	}
	for _, name := range names {
		spec, err := Load(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if spec.Name != name || strings.TrimSpace(spec.Description) == "" {
			t.Errorf("%s: name %q, description %q", name, spec.Name, spec.Description)
		}
		w, err := New(spec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w.Close()
	}
}

func run(t *testing.T, name, to string, d time.Duration) (*World, []trace.Event) {
	t.Helper()
	spec, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	if _, err := w.Send(context.Background(), mua.Mail{From: "alice@example.org", To: []string{to}, Subject: name, Body: "x"}); err != nil {
		t.Fatal(err)
	}
	w.Advance(d)
	return w, w.Trace.Events()
}

func TestScenarioBackupMX(t *testing.T) {
	w, ev := run(t, "backup-mx", "bob@example.net", time.Second)
	if len(inbox(t, w, "bob@example.net")) != 1 {
		t.Fatal("not delivered through the backup MX")
	}
	var tried []string
	for _, e := range ev {
		if e.Kind == trace.KindConn && e.Host == "mail.example.org" && e.Port == 25 && e.Action != "close" {
			tried = append(tried, e.Peer+" "+e.Action)
		}
	}
	if strings.Join(tried, ", ") != "mx.example.net unreachable, mx2.example.net open" {
		t.Fatalf("tried %v, want the preference-10 MX, then the backup", tried)
	}
}

func TestScenarioDNSBroken(t *testing.T) {
	w, ev := run(t, "dns-broken", "bob@example.net", time.Minute)
	if len(inbox(t, w, "bob@example.net")) != 0 || w.Hosts["mail.example.org"].Queue.Len() != 1 {
		t.Fatal("with DNS broken the message must wait in the queue")
	}
	deferred := false
	for _, e := range ev {
		if e.Kind == trace.KindQueue && e.Action == "deferred" && strings.Contains(e.Text, "temporary") {
			deferred = true
		}
	}
	if !deferred {
		t.Fatal("no deferral for the temporary DNS failure")
	}
	// The state says what the DNS server does now.
	dnsFaults := func() []dns.Fault {
		for _, h := range w.State().Hosts {
			if h.Name == "ns.example" {
				return h.DNSFaults
			}
		}
		t.Fatal("no ns.example in the state")
		return nil
	}
	if got := dnsFaults(); len(got) != 1 || got[0] != (dns.Fault{Mode: dns.FaultServFail, Name: "example.net."}) {
		t.Fatalf("DNS faults in the state: %+v, want SERVFAIL for example.net.", got)
	}
	// Mend DNS, for every name (as the World tab does): the next attempt
	// delivers.
	if err := w.Fault(Fault{Kind: "dns", Host: "ns.example"}); err != nil {
		t.Fatal(err)
	}
	if got := dnsFaults(); len(got) != 0 {
		t.Fatalf("DNS faults after the mend: %+v", got)
	}
	w.RunUntilQuiet(time.Hour)
	if len(inbox(t, w, "bob@example.net")) != 1 {
		t.Fatal("not delivered once DNS was mended")
	}
}

func TestScenarioMXDown(t *testing.T) {
	w, _ := run(t, "mx-down", "bob@example.net", 30*time.Minute)
	if w.Hosts["mail.example.org"].Queue.Len() != 1 {
		t.Fatal("the message is not waiting in the queue")
	}
	st := w.State()
	for _, h := range st.Hosts {
		if h.Name == "mx.example.net" && !h.Down {
			t.Error("state does not show mx.example.net down")
		}
		if h.Name == "mail.example.org" && (len(h.Queue) != 1 || h.Queue[0].Attempts < 2 || h.Queue[0].Next.IsZero()) {
			t.Errorf("queue state %+v", h.Queue)
		}
	}
}

func TestScenarioNullMX(t *testing.T) {
	w, _ := run(t, "null-mx", "anyone@example.com", time.Second)
	msgs := inbox(t, w, "alice@example.org")
	if len(msgs) != 1 || !strings.Contains(string(msgs[0]), "Status: 5.1.10") {
		t.Fatalf("alice's INBOX: %d messages", len(msgs))
	}
}
