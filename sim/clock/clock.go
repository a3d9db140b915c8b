// Package clock gives agents their sense of time.
//
// Every agent (queue retries, protocol timeouts, socket deadlines on the
// simulated network) reads time through the Clock interface, so the same
// code runs on the wall clock in `mailhop serve` and on a Virtual clock in
// the simulation, where five days of retries pass in milliseconds.
package clock

import "time"

// Clock is the time source of an agent.
type Clock interface {
	Now() time.Time
	// NewTimer is time.NewTimer on this clock.
	NewTimer(d time.Duration) Timer
	// AfterFunc is time.AfterFunc on this clock. On a Virtual clock f
	// runs synchronously inside Advance, so it must not block: start a
	// goroutine for anything long.
	AfterFunc(d time.Duration, f func()) Timer
	// Sleep pauses the calling goroutine for d of this clock's time.
	Sleep(d time.Duration)
}

// Timer is a timer of a Clock. C is nil for timers made by AfterFunc.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// After is time.After on c.
func After(c Clock, d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

// Since is time.Since on c.
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

// Wall is the real clock of the machine.
type Wall struct{}

func (Wall) Now() time.Time        { return time.Now() }
func (Wall) Sleep(d time.Duration) { time.Sleep(d) }
func (Wall) NewTimer(d time.Duration) Timer {
	return wallTimer{time.NewTimer(d)}
}
func (Wall) AfterFunc(d time.Duration, f func()) Timer {
	return wallTimer{time.AfterFunc(d, f)}
}

type wallTimer struct{ t *time.Timer }

func (w wallTimer) C() <-chan time.Time        { return w.t.C }
func (w wallTimer) Stop() bool                 { return w.t.Stop() }
func (w wallTimer) Reset(d time.Duration) bool { return w.t.Reset(d) }
