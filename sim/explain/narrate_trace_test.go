package explain_test

import (
	"context"
	"encoding/base64"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/explain"
	"github.com/mailhop/mailhop/sim/mua"
	"github.com/mailhop/mailhop/sim/terminal"
	"github.com/mailhop/mailhop/sim/trace"
	"github.com/mailhop/mailhop/sim/world"
)

// Passwords no sentence may hold: each world's users get one of these
// instead of the password in its file, so that the check does not trip
// over a password that is also a user's name ("bob").
var secrets = map[string]string{
	"alice@example.org": "Al1ce-s3cret",
	"bob@example.net":   "B0b-s3cret",
}

// wrongSecret is a wrong password typed by hand; it must not show
// either.
const wrongSecret = "Wr0ng-guess"

// newWorld builds a built-in world with the test's passwords.
func newWorld(t *testing.T, name string) *world.World {
	t.Helper()
	spec, err := world.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range spec.Users {
		if p, ok := secrets[u.Address]; ok {
			spec.Users[i].Password = p
		}
	}
	w, err := world.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// Every event of real journeys gets a sentence (the world's explainer on the
// recorder sees each event as it is emitted, before any redaction), and
// no sentence tells a password or its base64.
func TestNarrateJourneys(t *testing.T) {
	for _, c := range []struct {
		name, world, from, to, read string
	}{
		{"imap", "default", "alice@example.org", "bob@example.net", "imap"},
		{"pop3", "default", "alice@example.org", "bob@example.net", "pop3"},
		{"unknown user", "default", "alice@example.org", "nobody@example.net", ""},
		{"no such domain", "default", "alice@example.org", "bob@nowhere.example", ""},
		{"mx-down", "mx-down", "alice@example.org", "bob@example.net", ""},
		{"dns-broken", "dns-broken", "alice@example.org", "bob@example.net", ""},
		{"null-mx", "null-mx", "alice@example.org", "anyone@example.com", ""},
		{"backup-mx", "backup-mx", "alice@example.org", "bob@example.net", "imap"},
		{"forwarded", "forwarded", "alice@example.org", "bob@example.net", ""},
		{"mailing-list", "mailing-list", "alice@example.org", "list@lists.example.net", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, c.world)
			journey(t, w, mua.Mail{From: c.from, To: []string{c.to}, Subject: "Hello", Body: "Hello! This message travelled the whole chain."}, 1, c.read)
			events := w.Trace.Events()
			checkEvents(t, events, trace.KindConn, trace.KindWire, trace.KindDNS, trace.KindQueue, trace.KindPacket)
			if os.Getenv("SHOW") != "" {
				for _, e := range events {
					t.Logf("%4d %-7s %s", e.Seq, e.Kind, e.Say)
				}
			}
		})
	}
}

// checkEvents checks the sentence of every event, and that the kinds
// want are all there.
// journey sends m times times, lets the world run until it is quiet
// (retries and bounces included), and then reads the recipient's
// mailbox with read ("pop3", "imap", or "": not read).
func journey(t *testing.T, w *world.World, m mua.Mail, times int, read string) {
	t.Helper()
	ctx := context.Background()
	for range times {
		if _, err := w.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	w.RunUntilQuiet(144 * time.Hour)
	if read == "" {
		return
	}
	r, err := w.Reader(m.To[0], read)
	if err != nil {
		t.Fatal(err)
	}
	release := w.Clock.Hold()
	if read == "pop3" {
		_, err = r.POP3(ctx)
	} else {
		_, err = r.IMAP(ctx)
	}
	release()
	if err != nil {
		t.Fatal(err)
	}
	w.Settle()
}

func checkEvents(t *testing.T, events []trace.Event, want ...trace.Kind) {
	t.Helper()
	if len(events) < 20 {
		t.Fatalf("only %d events", len(events))
	}
	var forbidden []string
	for _, p := range append(mapValues(secrets), wrongSecret) {
		forbidden = append(forbidden, p, b64(p))
	}
	for _, e := range events {
		// The credentials as they crossed the wire.
		if e.Kind == trace.KindWire && e.Dir == trace.Send {
			f := strings.Fields(e.Text)
			for i, w := range f {
				if i > 0 && (strings.EqualFold(f[i-1], "PLAIN") || strings.EqualFold(f[i-1], "PASS")) {
					forbidden = append(forbidden, w)
				}
			}
		}
	}
	kinds := map[trace.Kind]bool{}
	for _, e := range events {
		kinds[e.Kind] = true
		s := explain.Narrate(e)
		if e.Say != "" && e.Say != s {
			t.Errorf("seq %d: Say %q, Narrate %q", e.Seq, e.Say, s)
		}
		if s == "" {
			t.Errorf("seq %d %s %s %q: no sentence", e.Seq, e.Kind, e.Action, e.Text)
			continue
		}
		switch {
		case len([]rune(s)) > 140:
			t.Errorf("seq %d: %d characters: %s", e.Seq, len([]rune(s)), s)
		case strings.Contains(s, "RFC"), strings.HasSuffix(s, "."), strings.Contains(s, "\n"):
			t.Errorf("seq %d: not a projected sentence: %q", e.Seq, s)
		}
		for _, f := range forbidden {
			if strings.Contains(s, f) {
				t.Errorf("seq %d %q: sentence tells a credential (%q): %s", e.Seq, e.Text, f, s)
			}
		}
	}
	for _, k := range want {
		if !kinds[k] {
			t.Errorf("no %s event in the journey", k)
		}
	}
}

// Logins typed by hand, right and wrong, in every way the servers take
// them: AUTH LOGIN's base64 steps, AUTH PLAIN's continuation, POP3 PASS,
// IMAP LOGIN with and without its tag, AUTHENTICATE.
func TestNarrateTypedLogins(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the clock on the wall clock")
	}
	w := newWorld(t, "default")
	d := world.NewDriver(w, 10*time.Millisecond)
	if err := d.SetSpeed(20); err != nil {
		t.Fatal(err)
	}
	d.Play()
	t.Cleanup(d.Stop)
	alice, bob := secrets["alice@example.org"], secrets["bob@example.net"]

	session(t, w, "alice-pc", "mail.example.org", 465, "220 ", []step{
		{"EHLO alice-pc", "250 "},
		{"AUTH LOGIN", "334 "},
		{b64("alice@example.org"), "334 "},
		{b64(wrongSecret), "535 "},
		{"AUTH LOGIN", "334 "},
		{b64("alice@example.org"), "334 "},
		{b64(alice), "235 "},
		{"QUIT", "221 "},
	})
	session(t, w, "bob-pc", "store.example.net", 995, "+OK", []step{
		{"USER bob@example.net", "+OK"},
		{"PASS " + wrongSecret, "-ERR"},
		{"AUTH PLAIN", "+"},
		{b64("\x00bob@example.net\x00" + bob), "+OK"},
		{"QUIT", "+OK"},
	})
	// A tagless line: the server may answer BAD and hang up.
	session(t, w, "bob-pc", "store.example.net", 993, "* OK", []step{
		{"LOGIN bob@example.net " + bob, "BAD"},
	})
	session(t, w, "bob-pc", "store.example.net", 993, "* OK", []step{
		{"a1 LOGIN bob@example.net " + wrongSecret, "a1 NO"},
		{"a2 AUTHENTICATE PLAIN", "+"},
		{b64("\x00bob@example.net\x00" + bob), "a2 OK"},
		{"a3 LOGOUT", "a3 OK"},
	})
	d.Pause()
	w.Settle()
	events := w.Trace.Events()
	checkEvents(t, events, trace.KindConn, trace.KindWire, trace.KindTLS)
	var told int
	for _, e := range events {
		if strings.HasSuffix(explain.Narrate(e), "the password itself is not shown") {
			told++
		}
	}
	if told < 9 {
		t.Errorf("only %d sentences say a password was sent but not shown", told)
	}
	if os.Getenv("SHOW") != "" {
		for _, e := range events {
			t.Logf("%4d %-5s %-40.40q %s", e.Seq, e.Kind, e.Text, explain.Narrate(e))
		}
	}
}

type step struct{ line, want string }

// session types steps into a terminal, waiting after each line for the
// server's line that starts with want (for "BAD": any BAD).
func session(t *testing.T, w *world.World, from, to string, port int, greeting string, steps []step) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := terminal.Dial(ctx, w, from, to, port, terminal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	await := func(prefix string) {
		t.Helper()
		if _, err := s.ReadUntil(ctx, func(l terminal.Line) bool {
			return l.Dir == "recv" && (strings.HasPrefix(l.Text, prefix) || prefix == "BAD" && strings.Contains(l.Text, " BAD "))
		}); err != nil {
			t.Fatalf("%s → %s:%d: waiting for %q: %v", from, to, port, prefix, err)
		}
	}
	await(greeting)
	for _, st := range steps {
		if _, err := s.Send(ctx, st.line); err != nil {
			t.Fatalf("sending %q: %v", st.line, err)
		}
		await(st.want)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// The sentences remembered for events that repeat are those made afresh,
// and what they are remembered by (the memo's key) holds all they depend
// on: the seq, time, conn, msg, mailbox and next of a wire, packet or DNS
// event do not change them.
func TestMemoAgrees(t *testing.T) {
	for _, c := range []struct{ world, to, read string }{
		{"default", "bob@example.net", "imap"},
		{"default", "bob@example.net", "pop3"},
		{"default", "nobody@example.net", ""},
		{"dns-broken", "bob@example.net", ""},
		{"backup-mx", "bob@example.net", ""},
	} {
		w := newWorld(t, c.world)
		journey(t, w, mua.Mail{From: "alice@example.org", To: []string{c.to}, Subject: "Hello", Body: "Hi."}, 2, c.read)
		events := w.Trace.Events()
		for _, e := range events {
			say := explain.NarrateAfresh(e)
			variants := []trace.Event{e}
			switch e.Kind {
			case trace.KindWire, trace.KindPacket, trace.KindDNS:
				other := e
				other.Seq, other.Time, other.Conn, other.Msg, other.Mailbox = e.Seq+1000, e.Time.Add(time.Hour), "c999", "other@id", "x@y/INBOX"
				other.Next = e.Time.Add(2 * time.Hour)
				if e.Kind == trace.KindPacket {
					other.Port = e.Port + 1 // the client's ephemeral port is not in the key
				}
				variants = append(variants, other)
				if explain.NarrateAfresh(other) != say {
					t.Errorf("%s: seq %d %s: the sentence depends on more than the memo's key", c.world, e.Seq, e.Kind)
				}
			}
			for round := range 2 {
				for _, ev := range variants {
					if got := explain.Narrate(ev); got != say {
						t.Errorf("%s, round %d: seq %d %s: Narrate %q, afresh %q", c.world, round, ev.Seq, ev.Kind, got, say)
					}
					note, got := explain.Explain(ev)
					if got != say || note != explain.Note(ev) {
						t.Errorf("%s, round %d: seq %d %s: Explain %q, %q; want %q, %q", c.world, round, ev.Seq, ev.Kind, note, got, explain.Note(ev), say)
					}
				}
			}
		}
	}
}
