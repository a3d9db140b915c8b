package queue_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/queue"
	"github.com/mailhop/mailhop/sim/queue/filespool"
	"github.com/mailhop/mailhop/sim/trace"
)

// A queue started on a spool that holds messages takes them on where the
// last one left them: the attempts made, the time of the next, the
// recipients done.
func TestRecoverFromSpool(t *testing.T) {
	type spoolCase struct {
		name string
		// open returns the spool; reopen the same spool as a new process
		// would find it.
		open func(t *testing.T) (sp queue.Spool, reopen func() queue.Spool)
	}
	cases := []spoolCase{
		{"memory", func(t *testing.T) (queue.Spool, func() queue.Spool) {
			sp := queue.NewMemorySpool()
			return sp, func() queue.Spool { return sp }
		}},
		{"filespool", func(t *testing.T) (queue.Spool, func() queue.Spool) {
			dir := t.TempDir()
			open := func() *filespool.Spool {
				sp, err := filespool.Open(dir, filespool.Options{NoSync: true})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { sp.Close() })
				return sp
			}
			sp := open()
			return sp, func() queue.Spool {
				sp.Close()
				sp = open()
				return sp
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			mx := r.server("mx.example.net", "198.51.100.25", 25, false, "example.net")
			mx.rcpt = func(addr string) string {
				if addr == "later@example.net" {
					return "451 4.3.0 try again later"
				}
				return ""
			}
			sp, reopen := c.open(t)
			schedule := []time.Duration{5 * time.Minute, 30 * time.Minute}
			first := r.start(&queue.Queue{Spool: sp, Schedule: schedule})
			id := r.enqueue("alice@example.org", []string{"bob@example.net", "later@example.net"}, message("recovered"))
			r.settle()
			first.Stop()
			if n := len(mx.messages()); n != 1 {
				t.Fatalf("%d deliveries before the stop, want bob's", n)
			}

			sp = reopen()
			envs, err := sp.Load()
			if err != nil {
				t.Fatal(err)
			}
			if len(envs) != 1 || envs[0].ID != id || envs[0].Attempts != 1 || !envs[0].Next.Equal(at(5*time.Minute)) {
				t.Fatalf("the spool holds %+v; want %s after one attempt, next at +5m", envs, id)
			}
			mx.rcpt = nil // later@ takes mail now
			second := r.start(&queue.Queue{Spool: sp, Schedule: schedule})
			r.settle()
			if rec := r.events(trace.KindQueue, "recovered"); len(rec) != 1 || !strings.Contains(rec[0].Text, id) {
				t.Fatalf("recovered events: %v", rec)
			}
			if n := second.Len(); n != 1 {
				t.Fatalf("%d messages after recovery", n)
			}
			r.advance(5*time.Minute - time.Second)
			if n := len(mx.messages()); n != 1 {
				t.Fatalf("%d deliveries before the scheduled retry", n)
			}
			r.advance(time.Second)
			got := mx.messages()
			if len(got) != 2 || len(got[1].to) != 1 || got[1].to[0] != "later@example.net" || !got[1].at.Equal(at(5*time.Minute)) {
				t.Fatalf("after recovery the MX got %+v; want later@ alone (bob had his), at +5m", got)
			}
			var last string
			for _, e := range r.events(trace.KindQueue, "attempt") {
				last = e.Text
			}
			if !strings.Contains(last, "attempt 2 for later@example.net") {
				t.Errorf("the attempt after recovery: %q, want the second, for later@ only", last)
			}
			if second.Len() != 0 {
				t.Errorf("%d messages left", second.Len())
			}
			second.Stop()
			if envs, err := reopen().Load(); err != nil || len(envs) != 0 {
				t.Errorf("the spool after delivery: %v, %v; want it empty", envs, err)
			}
		})
	}
}
