package clock

import (
	"container/heap"
	"sync"
	"sync/atomic"
	"time"
)

// Virtual is a deterministic clock that moves only when told to.
//
// Advance fires due timers one at a time in order of their deadline (ties
// in order of creation), setting Now to each timer's deadline as it fires.
// Between two timers it lets the simulation settle: it waits until every
// Hold taken by work in progress is released, so that a retry scheduled by
// the work of one timer is seen before later timers fire.
type Virtual struct {
	mu     sync.Mutex
	now    time.Time
	timers timerHeap
	seq    uint64

	busy     int
	idle     chan struct{} // closed while busy == 0
	progress atomic.Uint64 // bumps on every Hold/release and Touch, to tell a stuck holder from a working one
}

// NewVirtual returns a virtual clock that reads start.
func NewVirtual(start time.Time) *Virtual {
	v := &Virtual{now: start, idle: make(chan struct{})}
	close(v.idle)
	return v
}

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// NewTimer returns a timer whose channel receives the virtual time once d
// has passed on this clock.
func (v *Virtual) NewTimer(d time.Duration) Timer {
	t := &vtimer{v: v, index: -1, ch: make(chan time.Time, 1)}
	v.schedule(t, d)
	return t
}

// AfterFunc calls f (synchronously, from Advance) once d has passed.
func (v *Virtual) AfterFunc(d time.Duration, f func()) Timer {
	t := &vtimer{v: v, index: -1, fn: f}
	v.schedule(t, d)
	return t
}

// Sleep blocks until d has passed on this clock. The sleeper does not hold
// the clock, so Advance can move past it.
func (v *Virtual) Sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	<-v.NewTimer(d).C()
}

// Hold marks work in progress on the virtual timeline (a delivery attempt
// started by a timer, a message being submitted). Advance waits for all
// holds to be released before firing the next timer. Call the returned
// function exactly once when the work is done.
func (v *Virtual) Hold() (release func()) {
	v.mu.Lock()
	if v.busy == 0 {
		v.idle = make(chan struct{})
	}
	v.busy++
	v.progress.Add(1)
	v.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			v.mu.Lock()
			v.busy--
			v.progress.Add(1)
			if v.busy == 0 {
				close(v.idle)
			}
			v.mu.Unlock()
		})
	}
}

// Touch records that work is progressing (bytes moved on the simulated
// network), so that Settle does not take a slow holder for a stuck one.
func (v *Virtual) Touch() { v.progress.Add(1) }

// Settle waits until no Hold is outstanding. A holder that makes no
// progress for stall (wall time) is taken to be waiting on the clock
// itself, and Settle returns false rather than deadlock.
func (v *Virtual) Settle(stall time.Duration) bool {
	for {
		v.mu.Lock()
		idle, before := v.idle, v.progress.Load()
		v.mu.Unlock()
		select {
		case <-idle:
			return true
		case <-time.After(stall):
			v.mu.Lock()
			stuck := v.progress.Load() == before
			v.mu.Unlock()
			if stuck {
				return false
			}
		}
	}
}

// Advance moves the clock forward by d, firing every timer that falls due
// on the way, in order, and settling after each.
func (v *Virtual) Advance(d time.Duration) {
	v.mu.Lock()
	target := v.now.Add(d)
	v.mu.Unlock()
	v.AdvanceTo(target)
}

// settleStall bounds how long Advance waits for a holder that makes no
// progress; such a holder is usually waiting for a later timer. It is
// wall time, so it must outlast a pause of the whole program: a garbage
// collection in WebAssembly, a busy machine (see stall_js.go).
var settleStall = 100 * time.Millisecond

// AdvanceTo moves the clock forward to t (never backwards).
func (v *Virtual) AdvanceTo(t time.Time) {
	v.Settle(settleStall)
	for v.fireNext(t) {
		v.Settle(settleStall)
	}
	v.mu.Lock()
	if t.After(v.now) {
		v.now = t
	}
	v.mu.Unlock()
}

// Next reports when the earliest pending timer fires.
func (v *Virtual) Next() (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.timers) == 0 {
		return time.Time{}, false
	}
	return v.timers[0].when, true
}

// Pending reports how many timers wait to fire.
func (v *Virtual) Pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.timers)
}

// fireNext fires the earliest timer due at or before limit.
func (v *Virtual) fireNext(limit time.Time) bool {
	v.mu.Lock()
	if len(v.timers) == 0 || v.timers[0].when.After(limit) {
		v.mu.Unlock()
		return false
	}
	t := heap.Pop(&v.timers).(*vtimer)
	if t.when.After(v.now) {
		v.now = t.when
	}
	now := v.now
	v.mu.Unlock()
	if t.fn != nil {
		t.fn()
	} else {
		select {
		case t.ch <- now:
		default:
		}
	}
	return true
}

func (v *Virtual) schedule(t *vtimer, d time.Duration) {
	v.mu.Lock()
	if d <= 0 {
		// Due now: fire at once, as a real timer would, without taking
		// the caller's goroutine (it may hold locks f needs).
		now := v.now
		v.mu.Unlock()
		if t.fn != nil {
			go t.fn()
		} else {
			select {
			case t.ch <- now:
			default:
			}
		}
		return
	}
	t.when = v.now.Add(d)
	v.seq++
	t.seq = v.seq
	heap.Push(&v.timers, t)
	v.mu.Unlock()
}

type vtimer struct {
	v     *Virtual
	when  time.Time
	seq   uint64
	index int // in the heap; -1 when not scheduled
	ch    chan time.Time
	fn    func()
}

func (t *vtimer) C() <-chan time.Time { return t.ch }

func (t *vtimer) Stop() bool {
	t.v.mu.Lock()
	defer t.v.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.v.timers, t.index)
	return true
}

func (t *vtimer) Reset(d time.Duration) bool {
	active := t.Stop()
	t.v.schedule(t, d)
	return active
}

type timerHeap []*vtimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].when.Equal(h[j].when) {
		return h[i].seq < h[j].seq
	}
	return h[i].when.Before(h[j].when)
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*vtimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
