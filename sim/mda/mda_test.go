package mda_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/mda"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/store/maildir"
	"github.com/mailhop/mailhop/sim/trace"
)

var start = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

const msg = "Received: from mx.example.net\r\nFrom: <alice@example.org>\r\nSubject: hi\r\nMessage-ID: <m1@example.org>\r\n\r\nHello Bob.\r\n"

func newMDA(t *testing.T) (*mda.MDA, *store.Memory, *trace.Recorder) {
	t.Helper()
	clk := clock.NewVirtual(start)
	st := store.NewMemory(clk.Now)
	if err := st.AddUser("bob@example.net"); err != nil {
		t.Fatal(err)
	}
	rec := trace.NewRecorder(clk.Now, 0)
	return &mda.MDA{Hostname: "store.example.net", Store: st, Clock: clk, Trace: rec}, st, rec
}

func inbox(t *testing.T, st store.Store, user string) [][]byte {
	t.Helper()
	list, err := st.List(user, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range list {
		b, err := st.Read(user, store.Inbox, m.UID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// A delivered message is filed in the INBOX with Return-Path (RFC 5321
// §4.4) and Delivered-To on top, the rest as it came, dated by the clock.
func TestDeliverFiles(t *testing.T) {
	m, st, rec := newMDA(t)
	if err := m.Deliver(context.Background(), "alice@example.org", "bob@example.net", []byte(msg)); err != nil {
		t.Fatal(err)
	}
	// A bounce has the null reverse-path.
	if err := m.Deliver(context.Background(), "", "bob@example.net", []byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := inbox(t, st, "bob@example.net")
	if len(got) != 2 {
		t.Fatalf("%d messages in the INBOX", len(got))
	}
	want := "Return-Path: <alice@example.org>\r\nDelivered-To: bob@example.net\r\n" + msg
	if string(got[0]) != want {
		t.Errorf("filed:\n%q\nwant:\n%q", got[0], want)
	}
	if !strings.HasPrefix(string(got[1]), "Return-Path: <>\r\nDelivered-To: bob@example.net\r\nReceived: ") {
		t.Errorf("a bounce filed as:\n%s", got[1])
	}
	list, _ := st.List("bob@example.net", store.Inbox)
	if !list[0].Date.Equal(start) {
		t.Errorf("internal date %v, want the clock's %v", list[0].Date, start)
	}

	evs := rec.Events()
	if len(evs) != 2 {
		t.Fatalf("%d trace events, want a deliver event per message", len(evs))
	}
	e := evs[0]
	if e.Kind != trace.KindDeliver || e.Host != "store.example.net" || e.Mailbox != "bob@example.net/INBOX" || e.Msg != "m1@example.org" ||
		e.Text != "filed as UID 1, "+strconv.Itoa(len(want))+" bytes" || !e.Time.Equal(start) {
		t.Errorf("deliver event: %+v", e)
	}
	if evs[1].Text != "filed as UID 2, "+strconv.Itoa(len(got[1]))+" bytes" {
		t.Errorf("second deliver event: %+v", evs[1])
	}
}

// A recipient without a mailbox is a permanent failure (5.1.1, bounced);
// a failing store a temporary one (4.3.0, retried). Nothing is filed and
// nothing traced.
func TestDeliverFailures(t *testing.T) {
	m, st, rec := newMDA(t)
	cases := []struct {
		name      string
		setup     func()
		rcpt      string
		permanent bool
		status    string
	}{
		{"unknown user", func() {}, "nobody@example.net", true, "5.1.1"},
		{"Exists says no", func() { m.Exists = func(string) bool { return false } }, "bob@example.net", true, "5.1.1"},
		{"Exists says yes, the store has no such user", func() { m.Exists = func(string) bool { return true } }, "carol@example.net", true, "5.1.1"},
		{"the store fails", func() { m.Exists = nil; m.Store = failingStore{st} }, "bob@example.net", false, "4.3.0"},
	}
	for _, c := range cases {
		c.setup()
		err := m.Deliver(context.Background(), "alice@example.org", c.rcpt, []byte(msg))
		var me *mda.Error
		if !errors.As(err, &me) {
			t.Fatalf("%s: %v, want an *mda.Error", c.name, err)
		}
		if me.Permanent() != c.permanent || me.Status() != c.status {
			t.Errorf("%s: %v: permanent %v, status %s; want %v, %s", c.name, err, me.Permanent(), me.Status(), c.permanent, c.status)
		}
	}
	if n := len(inbox(t, st, "bob@example.net")); n != 0 {
		t.Errorf("%d messages filed", n)
	}
	if n := len(rec.Events()); n != 0 {
		t.Errorf("%d trace events for failed deliveries", n)
	}
}

// failingStore is a store whose Append fails.
type failingStore struct{ store.Store }

func (failingStore) Append(string, string, []byte, []string, time.Time) (store.UID, error) {
	return 0, errors.New("disk full")
}

// A delivery repeated under its key (a queue that died after filing it
// delivers it again once it restarts) is filed once in a Maildir, across
// a restart of the store, and traced as filed already; the same message
// for another recipient is filed. Without a key (LMTP), or in a store
// that can not tell (memory), every delivery is filed.
func TestDeliverOnce(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewVirtual(start)
	rec := trace.NewRecorder(clk.Now, 0)
	openStore := func() *maildir.Store {
		st, err := maildir.Open(dir, maildir.Options{Hostname: "store.example.net", PollInterval: -1, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		for _, u := range []string{"bob@example.net", "carol@example.net"} {
			if err := st.AddUser(u); err != nil {
				t.Fatal(err)
			}
		}
		return st
	}
	st := openStore()
	m := &mda.MDA{Hostname: "store.example.net", Store: st, Clock: clk, Trace: rec}
	key := func(rcpt string) context.Context {
		return mda.WithDeliveryKey(context.Background(), "8A1B2C3D001.1767258000000000000."+rcpt)
	}
	deliver := func(ctx context.Context, rcpt string) {
		t.Helper()
		if err := m.Deliver(ctx, "alice@example.org", rcpt, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	deliver(key("bob@example.net"), "bob@example.net")
	deliver(key("bob@example.net"), "bob@example.net")
	m.Store = openStore() // the next process
	deliver(key("bob@example.net"), "bob@example.net")
	deliver(key("carol@example.net"), "carol@example.net")
	if n, c := len(inbox(t, m.Store, "bob@example.net")), len(inbox(t, m.Store, "carol@example.net")); n != 1 || c != 1 {
		t.Fatalf("bob has %d messages, carol %d; want 1 each", n, c)
	}
	var texts []string
	for _, e := range rec.Events() {
		texts = append(texts, e.Mailbox+": "+e.Text)
	}
	if len(texts) != 4 || !strings.HasPrefix(texts[0], "bob@example.net/INBOX: filed as UID 1,") ||
		texts[1] != "bob@example.net/INBOX: filed already as UID 1 by an earlier attempt (the queue had not recorded it): not filed twice" ||
		texts[2] != texts[1] || !strings.HasPrefix(texts[3], "carol@example.net/INBOX: filed as UID 1,") {
		t.Fatalf("trace:\n%s", strings.Join(texts, "\n"))
	}
	// No key: filed again.
	deliver(context.Background(), "bob@example.net")
	if n := len(inbox(t, m.Store, "bob@example.net")); n != 2 {
		t.Fatalf("a delivery without a key: bob has %d messages, want 2", n)
	}
	// A store in memory files every delivery, key or not.
	mm, mst, _ := newMDA(t)
	for range 2 {
		if err := mm.Deliver(key("bob@example.net"), "alice@example.org", "bob@example.net", []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(inbox(t, mst, "bob@example.net")); n != 2 {
		t.Fatalf("the memory store holds %d messages, want 2", n)
	}
	if got := mda.DeliveryKeyFrom(key("x")); got != "8A1B2C3D001.1767258000000000000.x" {
		t.Fatalf("DeliveryKeyFrom = %q", got)
	}
}

// Folder files a message elsewhere than the INBOX (quarantine into Junk),
// creating the mailbox on first use; the trace names it.
func TestDeliverFolder(t *testing.T) {
	m, st, rec := newMDA(t)
	m.Folder = func(b []byte) string {
		if strings.Contains(string(b), "Subject: hi") {
			return "Junk"
		}
		return ""
	}
	if err := m.Deliver(context.Background(), "alice@example.org", "bob@example.net", []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := m.Deliver(context.Background(), "alice@example.org", "bob@example.net", []byte("Subject: fine\r\n\r\nok\r\n")); err != nil {
		t.Fatal(err)
	}
	junk, err := st.List("bob@example.net", "Junk")
	if err != nil || len(junk) != 1 {
		t.Fatalf("Junk: %v, %v", junk, err)
	}
	if in := inbox(t, st, "bob@example.net"); len(in) != 1 || !strings.Contains(string(in[0]), "Subject: fine") {
		t.Fatalf("INBOX: %q", in)
	}
	var boxes []string
	for _, e := range rec.Events() {
		if e.Kind == trace.KindDeliver {
			boxes = append(boxes, e.Mailbox)
		}
	}
	if strings.Join(boxes, " ") != "bob@example.net/Junk bob@example.net/INBOX" {
		t.Fatalf("deliver events name %q", boxes)
	}
}
