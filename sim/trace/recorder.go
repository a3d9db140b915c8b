package trace

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder keeps the events of a world in order and lets many followers
// read them. Emit never blocks on a slow follower: followers read the log
// at their own pace.
//
// Events are kept in fixed-size chunks, so that recording millions of
// events never copies the ones already kept, and Emit's critical section
// stays short: every line of every connection comes through it.
//
// A nil *Recorder is valid and records nothing, so agents can be built
// without a trace.
type Recorder struct {
	now       func() time.Time
	explainer atomic.Pointer[func(Event) (note, say string)]
	annotate  func(*Event) // under mu
	sink      func(Event)  // under mu, after the seq is given

	mu      sync.Mutex
	chunks  [][]Event // each of chunkSize events but the last, which fills
	spare   []Event   // the last chunk dropped by the limit, emptied, for the next
	first   int64     // seq of chunks[0][0]
	n       int64     // events kept
	limit   int
	wake    chan struct{} // closed on the next Emit when a follower waits
	waiting bool
}

const chunkSize = 1024

// NewRecorder returns a recorder that stamps events with now (the world's
// clock). limit > 0 keeps at least the newest limit events (dropping the
// oldest in whole chunks, for long-running servers); 0 keeps all.
func NewRecorder(now func() time.Time, limit int) *Recorder {
	return &Recorder{now: now, first: 1, limit: limit}
}

// SetExplainer installs a pure function that returns the Note of an event
// (what its line means, "" for none) and its Say (one plain sentence
// telling it, "" for none), for an event that lacks either: both in one
// call, for a function that finds both at once. It runs in the emitting
// goroutine, outside the recorder's lock, concurrently with itself.
func (r *Recorder) SetExplainer(f func(Event) (note, say string)) {
	if r == nil {
		return
	}
	r.explainer.Store(&f)
}

// SetAnnotator installs a function that may change an event before it is
// recorded (fill its Note, redact a password). It runs under the
// recorder's lock, one event at a time in the order of the trace, so it
// may keep state between events; it must be quick and must not call the
// recorder.
func (r *Recorder) SetAnnotator(f func(*Event)) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.annotate = f
	r.mu.Unlock()
}

// SetSink installs a function that gets every event once it is recorded,
// in the order of the trace, none missed (unlike a Follower, which may
// fall behind a bounded trace): a log that must be complete. It runs
// under the recorder's lock: it must be quick (buffer, do not wait) and
// must not call the recorder.
func (r *Recorder) SetSink(f func(Event)) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.sink = f
	r.mu.Unlock()
}

// Emit stamps e with the next sequence number and the current time (if e
// has none), records it and returns it.
func (r *Recorder) Emit(e Event) Event {
	if r == nil {
		return e
	}
	// Stamp and annotate outside the lock.
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	if f := r.explainer.Load(); f != nil && (e.Note == "" || e.Say == "") {
		note, say := (*f)(e)
		if e.Note == "" {
			e.Note = note
		}
		if e.Say == "" {
			e.Say = say
		}
	}
	r.mu.Lock()
	if r.annotate != nil {
		// Through a copy, so that e itself stays off the heap when
		// there is no annotator.
		c := e
		r.annotate(&c)
		e = c
	}
	if r.n > 0 {
		lastChunk := r.chunks[len(r.chunks)-1]
		if prev := lastChunk[len(lastChunk)-1].Time; e.Time.Before(prev) {
			// Stamped just before a concurrent event that got in
			// first: keep the trace in time order.
			e.Time = prev
		}
	}
	e.Seq = r.first + r.n
	if len(r.chunks) == 0 || len(r.chunks[len(r.chunks)-1]) == chunkSize {
		c := r.spare
		if c == nil {
			c = make([]Event, 0, chunkSize)
		}
		r.chunks, r.spare = append(r.chunks, c), nil
	}
	last := len(r.chunks) - 1
	r.chunks[last] = append(r.chunks[last], e)
	r.n++
	if r.sink != nil {
		r.sink(e)
	}
	if r.limit > 0 && r.n-chunkSize >= int64(r.limit) && len(r.chunks) > 1 {
		// Readers get copies (sinceLocked), never a chunk: the dropped
		// one is reused rather than left to the garbage collector.
		clear(r.chunks[0])
		r.spare = r.chunks[0][:0]
		r.chunks[0] = nil
		r.chunks = r.chunks[1:]
		r.first += chunkSize
		r.n -= chunkSize
	}
	if r.waiting {
		close(r.wake)
		r.wake, r.waiting = nil, false
	}
	r.mu.Unlock()
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
	return r.sinceLocked(seq, -1)
}

// sinceLocked copies up to max (all when negative) events after seq.
func (r *Recorder) sinceLocked(seq int64, max int) []Event {
	i := max64(seq-r.first+1, 0)
	if i >= r.n {
		return nil
	}
	count := r.n - i
	if max >= 0 && count > int64(max) {
		count = int64(max)
	}
	out := make([]Event, 0, count)
	for c := int(i / chunkSize); c < len(r.chunks) && int64(len(out)) < count; c++ {
		chunk := r.chunks[c]
		if c == int(i/chunkSize) {
			chunk = chunk[i%chunkSize:]
		}
		need := count - int64(len(out))
		if int64(len(chunk)) > need {
			chunk = chunk[:need]
		}
		out = append(out, chunk...)
	}
	return out
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// waitChan returns a channel closed by the next Emit. mu held.
func (r *Recorder) waitChanLocked() chan struct{} {
	if !r.waiting {
		r.wake = make(chan struct{})
		r.waiting = true
	}
	return r.wake
}

// Last returns the sequence number of the newest event (0 if none).
func (r *Recorder) Last() int64 {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first + r.n - 1
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
		f.buf = f.r.sinceLocked(f.next-1, 4096)
		var wake chan struct{}
		if len(f.buf) == 0 {
			wake = f.r.waitChanLocked()
		}
		f.r.mu.Unlock()
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
