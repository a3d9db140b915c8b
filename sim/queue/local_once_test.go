package queue_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/mda"
	"github.com/mailhop/mailhop/sim/queue"
	"github.com/mailhop/mailhop/sim/queue/filespool"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/store/maildir"
	"github.com/mailhop/mailhop/sim/trace"
)

// dyingSpool is the spool of a process that dies at a moment the test
// chooses: from then on nothing reaches the journal.
type dyingSpool struct {
	queue.Spool
	dead atomic.Bool
}

var errDead = errors.New("the process is dead")

func (s *dyingSpool) Put(env *queue.Envelope, body []byte) error {
	if s.dead.Load() {
		return errDead
	}
	return s.Spool.Put(env, body)
}

func (s *dyingSpool) Update(env *queue.Envelope) error {
	if s.dead.Load() {
		return nil // lost with the process
	}
	return s.Spool.Update(env)
}

func (s *dyingSpool) Remove(id string) error {
	if s.dead.Load() {
		return nil
	}
	return s.Spool.Remove(id)
}

// A process dies after filing bob's copy of a message for bob and carol,
// before carol's and before the journal said so. The next process
// recovers the message with both recipients pending, and files it for
// carol and not again for bob: the queue hands Local the delivery's key
// (in its context), and the MDA's Maildir finds bob's copy by it.
func TestRecoverLocalDeliversOnce(t *testing.T) {
	r := newRig(t)
	spoolDir, mailDir := t.TempDir(), t.TempDir()
	const bob, carol = "bob@example.net", "carol@example.net"
	openProcess := func() (*filespool.Spool, *mda.MDA) {
		sp, err := filespool.Open(spoolDir, filespool.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		st, err := maildir.Open(mailDir, maildir.Options{Hostname: "mail.example.net", PollInterval: -1, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		for _, u := range []string{bob, carol} {
			if err := st.AddUser(u); err != nil {
				t.Fatal(err)
			}
		}
		return sp, &mda.MDA{Hostname: "mail.example.net", Store: st, Clock: r.clk, Trace: r.rec}
	}
	local := func(string) queue.Route { return queue.Route{Kind: queue.RouteLocal} }

	sp1, m1 := openProcess()
	dying := &dyingSpool{Spool: sp1}
	var keys []string
	first := r.start(&queue.Queue{Hostname: "mail.example.net", Spool: dying, Route: local,
		Local: func(ctx context.Context, env *queue.Envelope, rcpt string, body []byte) error {
			keys = append(keys, mda.DeliveryKeyFrom(ctx))
			if dying.dead.Load() {
				return errDead
			}
			err := m1.Deliver(ctx, env.From, rcpt, body)
			if rcpt == bob {
				dying.dead.Store(true)
			}
			return err
		}})
	id := r.enqueue("alice@example.org", []string{bob, carol}, message("once"))
	r.settle()
	first.Stop()
	sp1.Close()
	if len(keys) != 2 || keys[0] == keys[1] || !strings.HasPrefix(keys[0], id+".") || !strings.HasSuffix(keys[0], "."+bob) {
		t.Fatalf("the delivery keys Local was given: %q", keys)
	}

	sp2, m2 := openProcess()
	t.Cleanup(func() { sp2.Close() })
	envs, _ := sp2.Load()
	if len(envs) != 1 || len(envs[0].Pending()) != 2 {
		t.Fatalf("the spool after the crash holds %+v; want the message, both recipients pending", envs)
	}
	if k := queue.DeliveryKey(envs[0], bob); k != keys[0] {
		t.Fatalf("the key after recovery %q, before %q: must not change", k, keys[0])
	}
	second := r.start(&queue.Queue{Hostname: "mail.example.net", Spool: sp2, Route: local,
		Local: func(ctx context.Context, env *queue.Envelope, rcpt string, body []byte) error {
			return m2.Deliver(ctx, env.From, rcpt, body)
		}})
	r.settle()
	for _, u := range []string{bob, carol} {
		list, err := m2.Store.List(u, store.Inbox)
		if err != nil || len(list) != 1 {
			t.Errorf("%s's INBOX: %d messages, %v; want 1", u, len(list), err)
		}
	}
	var repeated []string
	for _, e := range r.rec.Events() {
		if e.Kind == trace.KindDeliver && strings.Contains(e.Text, "not filed twice") {
			repeated = append(repeated, e.Mailbox)
		}
	}
	if len(repeated) != 1 || repeated[0] != bob+"/INBOX" {
		t.Errorf("deliveries recognised as filed: %q; want bob's", repeated)
	}
	if second.Len() != 0 || sp2.Len() != 0 {
		t.Errorf("queue %d, spool %d after recovery; want both empty", second.Len(), sp2.Len())
	}
}

// DeliveryKey is one per message and recipient: the queue id, the time
// the message was queued (an id comes round again), the recipient in
// lower case (the queue takes each address once, in any case).
func TestDeliveryKey(t *testing.T) {
	env := &queue.Envelope{ID: "8A1B2C3D001", Created: time.Date(2026, 1, 1, 9, 0, 0, 123, time.UTC)}
	k := queue.DeliveryKey(env, "Bob@Example.NET")
	if k != "8A1B2C3D001.1767258000000000123.bob@example.net" {
		t.Fatalf("DeliveryKey = %q", k)
	}
	later := env.Clone()
	later.Created = later.Created.Add(74 * time.Hour)
	if queue.DeliveryKey(env, "carol@example.net") == k || queue.DeliveryKey(later, "bob@example.net") == k {
		t.Fatal("DeliveryKey does not tell recipients or queueing times apart")
	}
}
