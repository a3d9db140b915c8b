package world

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/trace"
)

func TestDriverPlayPause(t *testing.T) {
	w := newDefault(t)
	d := NewDriver(w, 5*time.Millisecond)
	defer d.Stop()
	start := w.Clock.Now()

	// Paused: the clock stays.
	time.Sleep(30 * time.Millisecond)
	if !w.Clock.Now().Equal(start) {
		t.Fatalf("paused driver moved the clock to %v", w.Clock.Now())
	}
	if err := d.SetSpeed(600); err != nil {
		t.Fatal(err)
	}
	d.Play()
	if !d.Playing() {
		t.Fatal("Playing() is false after Play")
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.Clock.Now().Sub(start) < 10*time.Second && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if moved := w.Clock.Now().Sub(start); moved < 10*time.Second {
		t.Fatalf("at 600×, the clock moved only %v in seconds of wall time", moved)
	}
	d.Pause()
	time.Sleep(20 * time.Millisecond) // a tick in flight may still land
	at := w.Clock.Now()
	time.Sleep(30 * time.Millisecond)
	if !w.Clock.Now().Equal(at) {
		t.Fatalf("clock moved after Pause: %v → %v", at, w.Clock.Now())
	}
}

func TestDriverSpeedRange(t *testing.T) {
	w := newDefault(t)
	d := NewDriver(w, 0)
	defer d.Stop()
	for _, bad := range []float64{0, -1, 0.1, 3601, math.NaN(), math.Inf(1)} {
		if err := d.SetSpeed(bad); err == nil {
			t.Errorf("SetSpeed(%v) accepted", bad)
		}
	}
	if err := d.SetSpeed(60); err != nil || d.Speed() != 60 {
		t.Fatalf("SetSpeed(60): %v, speed %v", err, d.Speed())
	}
}

// With the MX down, the message waits in the queue; Step moves the clock
// to the retry and, once the MX is back, the retry delivers.
func TestDriverStepToRetry(t *testing.T) {
	w := newDefault(t)
	d := NewDriver(w, 0)
	defer d.Stop()
	if err := w.Fault(Fault{Kind: "host-down", Host: "mx.example.net"}); err != nil {
		t.Fatal(err)
	}
	send(t, w, "alice@example.org", "bob@example.net", "waits")
	w.Settle()
	// The first attempt comes a moment after queueing; step to it.
	for i := 0; i < 5 && !hasEvent(w, trace.KindQueue, "deferred"); i++ {
		if _, err := d.Step(); err != nil {
			t.Fatal(err)
		}
	}
	next, ok := w.NextRetry()
	if !ok {
		t.Fatal("no retry scheduled with the MX down")
	}
	if w.Queued() != 1 {
		t.Fatalf("%d queued, want 1", w.Queued())
	}
	if err := w.Fault(Fault{Kind: "host-up", Host: "mx.example.net"}); err != nil {
		t.Fatal(err)
	}
	// Step until the retry has fired (other timers may come first).
	for i := 0; i < 20 && w.Queued() > 0; i++ {
		if _, err := d.Step(); err != nil {
			t.Fatal(err)
		}
	}
	if w.Clock.Now().Before(next) {
		t.Fatalf("clock at %v, before the retry at %v", w.Clock.Now(), next)
	}
	if n := len(inbox(t, w, "bob@example.net")); n != 1 {
		t.Fatalf("bob has %d messages after the retry", n)
	}
	var deferred bool
	for _, e := range w.Trace.Events() {
		if e.Kind == trace.KindQueue && e.Action == "deferred" {
			deferred = true
		}
	}
	if !deferred {
		t.Fatal("no deferred event in the trace")
	}
}

func TestDriverAdvance(t *testing.T) {
	w := newDefault(t)
	d := NewDriver(w, 0)
	defer d.Stop()
	start := w.Clock.Now()
	now, err := d.Advance(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := now.Sub(start); got != time.Hour {
		t.Fatalf("advanced %v, want 1h", got)
	}
	if _, err := d.Advance(-time.Second); err == nil {
		t.Fatal("Advance(-1s) accepted")
	}
	if got := d.AdvanceTo(start); !got.Equal(now) {
		t.Fatalf("AdvanceTo the past moved the clock to %v", got)
	}
	// Nothing queued, no connection open: nothing to step to, or only
	// the housekeeping of idle agents; either way Step never goes back.
	if t2, err := d.Step(); err != nil && !errors.Is(err, ErrNothingScheduled) {
		t.Fatal(err)
	} else if t2.Before(now) {
		t.Fatalf("Step went back to %v", t2)
	}
	if !strings.Contains(ErrNothingScheduled.Error(), "nothing is scheduled") {
		t.Fatal(ErrNothingScheduled)
	}
}

func hasEvent(w *World, kind trace.Kind, action string) bool {
	for _, e := range w.Trace.Events() {
		if e.Kind == kind && e.Action == action {
			return true
		}
	}
	return false
}
