package trace

import (
	"context"
	"sync"
	"time"
)

// Recorder keeps the events of a world in order and lets many followers
// read them. Emit never blocks on a slow follower: followers read the log
// at their own pace.
//
// A nil *Recorder is valid and records nothing, so agents can be built
// without a trace.
type Recorder struct {
	mu       sync.Mutex
	now      func() time.Time
	events   []Event
	first    int64 // seq of events[0]
	limit    int
	wake     chan struct{} // closed and replaced on every Emit
	annotate func(*Event)
}

// NewRecorder returns a recorder that stamps events with now (the world's
// clock). limit > 0 keeps at least the newest limit events and at most
// twice as many (for long-running servers); 0 keeps all.
func NewRecorder(now func() time.Time, limit int) *Recorder {
	return &Recorder{now: now, first: 1, limit: limit, wake: make(chan struct{})}
}

// SetAnnotator installs a function that may fill in an event's Note before
// it is recorded.
func (r *Recorder) SetAnnotator(f func(*Event)) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.annotate = f
	r.mu.Unlock()
}

// Emit stamps e with the next sequence number and the current time (if e
// has none), records it and returns it.
func (r *Recorder) Emit(e Event) Event {
	if r == nil {
		return e
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	if r.annotate != nil && e.Note == "" {
		r.annotate(&e)
	}
	e.Seq = r.first + int64(len(r.events))
	r.events = append(r.events, e)
	if r.limit > 0 && len(r.events) >= 2*r.limit {
		// Trim in bulk so that Emit stays O(1) amortised.
		drop := len(r.events) - r.limit
		r.events = append(r.events[:0:0], r.events[drop:]...)
		r.first += int64(drop)
	}
	close(r.wake)
	r.wake = make(chan struct{})
	return e
}

// Events returns a copy of every event kept.
func (r *Recorder) Events() []Event {
	return r.Since(0)
}

// Since returns a copy of the kept events with Seq > seq.
func (r *Recorder) Since(seq int64) []Event {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i := max(seq-r.first+1, 0)
	if i >= int64(len(r.events)) {
		return nil
	}
	return append([]Event(nil), r.events[i:]...)
}

// Last returns the sequence number of the newest event (0 if none).
func (r *Recorder) Last() int64 {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first + int64(len(r.events)) - 1
}

// Follow returns a follower that reads events with Seq > after, in order,
// and then waits for new ones.
func (r *Recorder) Follow(after int64) *Follower {
	return &Follower{r: r, next: after + 1}
}

// Follower reads a recorder's events in order.
type Follower struct {
	r    *Recorder
	next int64
	buf  []Event
}

// Next returns the next event, waiting for one if need be, until ctx ends.
// Events dropped by the recorder's limit before the follower read them are
// skipped (their absence shows as a gap in Seq).
func (f *Follower) Next(ctx context.Context) (Event, error) {
	for len(f.buf) == 0 {
		f.r.mu.Lock()
		wake := f.r.wake
		f.r.mu.Unlock()
		f.buf = f.r.Since(f.next - 1)
		if len(f.buf) > 0 {
			break
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return Event{}, ctx.Err()
		}
	}
	e := f.buf[0]
	f.buf = f.buf[1:]
	f.next = e.Seq + 1
	return e, nil
}

// Subscribe calls fn with every event after seq after, in order, from its
// own goroutine, until the returned cancel is called.
func (r *Recorder) Subscribe(after int64, fn func(Event)) (cancel func()) {
	ctx, cancel := context.WithCancel(context.Background())
	f := r.Follow(after)
	go func() {
		for {
			e, err := f.Next(ctx)
			if err != nil {
				return
			}
			fn(e)
		}
	}()
	return cancel
}

type msgKeyCtx struct{}

// WithMsg returns a context that carries a message key, so that events
// emitted on behalf of that message (a DNS lookup by the queue, say) can
// carry it in their Msg field.
func WithMsg(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, msgKeyCtx{}, key)
}

// MsgFrom returns the message key carried by ctx, or "".
func MsgFrom(ctx context.Context) string {
	s, _ := ctx.Value(msgKeyCtx{}).(string)
	return s
}
