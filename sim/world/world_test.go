package world

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/mua"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

func newDefault(t *testing.T) *World { return startWorld(t, "default", nil) }

// startWorld loads a built-in world, lets edit change its spec (when not
// nil), and runs it until the test ends.
func startWorld(t *testing.T, name string, edit func(*Spec)) *World {
	t.Helper()
	spec, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(spec)
	}
	w, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

func inbox(t *testing.T, w *World, user string) [][]byte {
	t.Helper()
	st, err := w.StoreOf(user)
	if err != nil {
		t.Fatal(err)
	}
	list, err := st.List(user, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range list {
		b, _ := st.Read(user, store.Inbox, m.UID)
		out = append(out, b)
	}
	return out
}

func TestAliceToBob(t *testing.T) {
	w := newDefault(t)
	sent, err := w.Send(context.Background(), mua.Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Subject: "Hello Bob", Body: "Lunch at noon?"})
	if err != nil {
		t.Fatal(err)
	}
	if sent.QueueID == "" || sent.MSA != "mail.example.org" || !strings.HasSuffix(sent.MessageID, "@example.org") {
		t.Fatalf("sent %+v: want a queue id, the MSA mail.example.org and alice's client's Message-ID", sent)
	}
	w.RunUntilQuiet(time.Hour)
	msgs := inbox(t, w, "bob@example.net")
	if os.Getenv("SHOW") != "" {
		trace.WriteText(os.Stdout, w.Trace.Events()...)
	}
	if len(msgs) != 1 {
		t.Fatalf("bob has %d messages", len(msgs))
	}
	m := string(msgs[0])
	if n := strings.Count(m, "Received: from"); n != 3 {
		t.Fatalf("%d Received headers:\n%s", n, m)
	}
	if n := strings.Count(m, "Message-ID:"); n != 1 || trace.MsgKey(msgs[0]) != sent.MessageID {
		t.Errorf("%d Message-IDs, the first %q; want the one Send returned, %q:\n%s", n, trace.MsgKey(msgs[0]), sent.MessageID, m)
	}
	for _, want := range []string{"Return-Path: <alice@example.org>", "Delivered-To: bob@example.net", "by mx.example.net", "by mail.example.org", "with ESMTPSA", "Subject: Hello Bob", "Lunch at noon?"} {
		if !strings.Contains(m, want) {
			t.Errorf("message lacks %q:\n%s", want, m)
		}
	}
}

// The state carries the services table: the page names ports from it.
func TestStateHasServices(t *testing.T) {
	spec, err := Load("default")
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	b, err := json.Marshal(w.State())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `{"name":"submission","port":587,"proto":"smtp","role":"msa"`) {
		t.Errorf("the state lacks the services table:\n%.600s", b)
	}
}
