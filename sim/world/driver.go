package world

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Driver moves a world's virtual clock along with the wall clock, as the
// playground's play, pause, step and speed controls do: while playing,
// every tick of wall time moves the world's clock by that time × speed,
// firing what falls due (queue retries, timeouts). Advance and Step jump.
//
// All clock moves go through the driver, one at a time, so a jump never
// races a tick.
type Driver struct {
	w    *World
	tick time.Duration

	move sync.Mutex // serialises clock moves

	mu       sync.Mutex
	playing  bool
	speed    float64
	lastWall time.Time // wall time of the last tick while playing
	stop     chan struct{}
	done     chan struct{}
}

// Speed limits: a quarter of real time up to one virtual hour per second.
const (
	MinSpeed = 0.25
	MaxSpeed = 3600
)

// maxTickLag bounds the wall time one tick accounts for: after a pause of
// the host (a browser tab in the background), the clock does not leap.
const maxTickLag = time.Second

// NewDriver returns a driver for w that ticks every tick of wall time
// (100 ms when tick <= 0). It starts paused at speed 1; call Play. Stop
// ends it.
func NewDriver(w *World, tick time.Duration) *Driver {
	if tick <= 0 {
		tick = 100 * time.Millisecond
	}
	d := &Driver{w: w, tick: tick, speed: 1, stop: make(chan struct{}), done: make(chan struct{})}
	go d.run()
	return d
}

func (d *Driver) run() {
	defer close(d.done)
	t := time.NewTicker(d.tick)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case now := <-t.C:
			d.mu.Lock()
			if !d.playing {
				d.mu.Unlock()
				continue
			}
			lag := min(now.Sub(d.lastWall), maxTickLag)
			d.lastWall = now
			v := time.Duration(float64(lag) * d.speed)
			d.mu.Unlock()
			if v > 0 {
				d.move.Lock()
				d.w.Clock.Advance(v)
				d.move.Unlock()
			}
		}
	}
}

// Play starts moving the clock with the wall clock.
func (d *Driver) Play() {
	d.mu.Lock()
	if !d.playing {
		d.playing = true
		d.lastWall = time.Now()
	}
	d.mu.Unlock()
}

// Pause stops the clock; nothing scheduled on it fires until Play, Step
// or Advance. When it returns, a tick that was moving the clock has
// finished: the clock stands still from then on.
func (d *Driver) Pause() {
	d.mu.Lock()
	d.playing = false
	d.mu.Unlock()
	// Wait out a tick in flight: it read "playing" before we changed it.
	d.move.Lock()
	//lint:ignore SA2001 the empty critical section is the barrier.
	d.move.Unlock()
}

// Playing reports whether the clock moves with the wall clock.
func (d *Driver) Playing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.playing
}

// SetSpeed sets how many virtual seconds pass per wall second while
// playing, from MinSpeed to MaxSpeed.
func (d *Driver) SetSpeed(x float64) error {
	if !(x >= MinSpeed && x <= MaxSpeed) { // also rejects NaN
		return fmt.Errorf("speed %g is out of range: from %g (slow motion) to %g (an hour a second)", x, float64(MinSpeed), float64(MaxSpeed))
	}
	d.mu.Lock()
	d.speed = x
	d.mu.Unlock()
	return nil
}

// Speed returns the current speed.
func (d *Driver) Speed() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.speed
}

// ErrNothingScheduled is Step's answer when no timer is pending.
var ErrNothingScheduled = errors.New("nothing is scheduled on the clock: no retry, no timeout is waiting")

// Step moves the clock to the next thing scheduled on it (a queue retry,
// a timeout), fires it and waits for the world to settle. It returns the
// new time.
func (d *Driver) Step() (time.Time, error) {
	d.move.Lock()
	defer d.move.Unlock()
	next, ok := d.w.Clock.Next()
	if !ok {
		return d.w.Clock.Now(), ErrNothingScheduled
	}
	d.w.Clock.AdvanceTo(next)
	d.w.Settle()
	return d.w.Clock.Now(), nil
}

// Advance jumps the clock forward by dur, firing in order everything that
// falls due, and waits for the world to settle. It returns the new time.
func (d *Driver) Advance(dur time.Duration) (time.Time, error) {
	if dur < 0 {
		return d.w.Clock.Now(), fmt.Errorf("the clock only moves forward (asked to move %v)", dur)
	}
	d.move.Lock()
	defer d.move.Unlock()
	d.w.Clock.Advance(dur)
	d.w.Settle()
	return d.w.Clock.Now(), nil
}

// AdvanceTo jumps the clock to t (never backwards), as Advance does.
func (d *Driver) AdvanceTo(t time.Time) time.Time {
	d.move.Lock()
	defer d.move.Unlock()
	d.w.Clock.AdvanceTo(t)
	d.w.Settle()
	return d.w.Clock.Now()
}

// NextRetry reports when the earliest queued message of the world is due
// for its next delivery attempt.
func (w *World) NextRetry() (time.Time, bool) {
	var next time.Time
	for _, h := range w.Hosts {
		if h.Queue == nil {
			continue
		}
		for _, e := range h.Queue.Messages() {
			if !e.Next.IsZero() && (next.IsZero() || e.Next.Before(next)) {
				next = e.Next
			}
		}
	}
	return next, !next.IsZero()
}

// Stop ends the driver's ticking; the clock stays where it is.
func (d *Driver) Stop() {
	d.mu.Lock()
	select {
	case <-d.stop:
	default:
		close(d.stop)
	}
	d.playing = false
	d.mu.Unlock()
	<-d.done
}
