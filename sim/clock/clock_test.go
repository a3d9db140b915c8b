package clock

import (
	"strings"
	"sync"
	"testing"
	"time"
)

var start = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

func TestAdvanceFiresInOrder(t *testing.T) {
	v := NewVirtual(start)
	var mu sync.Mutex
	var got []string
	at := func(name string) func() {
		return func() {
			mu.Lock()
			got = append(got, name+"@"+v.Now().Sub(start).String())
			mu.Unlock()
		}
	}
	v.AfterFunc(3*time.Hour, at("c"))
	v.AfterFunc(time.Hour, at("a"))
	v.AfterFunc(time.Hour, at("a2")) // same instant: order of creation
	stopped := v.AfterFunc(2*time.Hour, at("never"))
	v.AfterFunc(2*time.Hour, at("b"))
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	v.Advance(150 * time.Minute)
	if got := strings.Join(got, " "); got != "a@1h0m0s a2@1h0m0s b@2h0m0s" {
		t.Fatalf("fired %q", got)
	}
	if now := v.Now().Sub(start); now != 150*time.Minute {
		t.Fatalf("Now = +%v after Advance(150m)", now)
	}
	v.Advance(time.Hour)
	if len(got) != 4 || got[3] != "c@3h0m0s" {
		t.Fatalf("fired %q", got)
	}
}

func TestTimerChannelAndReset(t *testing.T) {
	v := NewVirtual(start)
	tm := v.NewTimer(time.Minute)
	v.Advance(59 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("timer fired early")
	default:
	}
	if !tm.Reset(time.Minute) {
		t.Fatal("Reset of a pending timer reported false")
	}
	v.Advance(59 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("reset timer fired at its old time")
	default:
	}
	v.Advance(time.Second)
	select {
	case now := <-tm.C():
		if now.Sub(start) != 119*time.Second {
			t.Fatalf("fired at +%v", now.Sub(start))
		}
	default:
		t.Fatal("timer did not fire")
	}
}

func TestSleepWakesOnAdvance(t *testing.T) {
	v := NewVirtual(start)
	done := make(chan struct{})
	go func() {
		v.Sleep(time.Hour)
		close(done)
	}()
	for v.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	v.Advance(time.Hour)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("sleeper not woken")
	}
}

// Work started by a timer that schedules the next timer (a retry) is seen
// by the same Advance: hours of retries run in one call.
func TestAdvanceSettlesBetweenTimers(t *testing.T) {
	v := NewVirtual(start)
	var mu sync.Mutex
	var attempts []time.Duration
	var attempt func()
	attempt = func() {
		release := v.Hold()
		go func() { // the work runs elsewhere, as a delivery attempt does
			defer release()
			time.Sleep(time.Millisecond)
			mu.Lock()
			attempts = append(attempts, v.Now().Sub(start))
			n := len(attempts)
			mu.Unlock()
			if n < 5 {
				v.AfterFunc(time.Hour, attempt)
			}
		}()
	}
	v.AfterFunc(time.Hour, attempt)
	v.Advance(5 * 24 * time.Hour)
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 5 || attempts[4] != 5*time.Hour {
		t.Fatalf("attempts at %v, want hourly 1h..5h", attempts)
	}
}

func TestZeroTimerFiresAtOnce(t *testing.T) {
	v := NewVirtual(start)
	select {
	case <-v.NewTimer(0).C():
	case <-time.After(time.Second):
		t.Fatal("a zero timer did not fire")
	}
	done := make(chan struct{})
	v.AfterFunc(-time.Second, func() { close(done) })
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("a past AfterFunc did not run")
	}
}

func TestWall(t *testing.T) {
	var c Clock = Wall{}
	before := time.Now()
	<-After(c, time.Millisecond)
	if Since(c, before) < time.Millisecond {
		t.Fatal("wall timer fired early")
	}
}
