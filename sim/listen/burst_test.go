package listen

import (
	"io"
	"net"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/listen/listentest"
)

// The end of a burst of connections returns memory to the OS once, a
// little after the connections fell; bursts closer together than
// releaseGap wait for it; small ups and downs never do.
func TestReleaseAfterBurst(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(1e9, 0)
	var frees int
	var timers []time.Duration
	var fire []func()
	freeOSMemory = func() { mu.Lock(); frees++; mu.Unlock() }
	now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	afterFunc = func(d time.Duration, f func()) *time.Timer {
		mu.Lock()
		timers = append(timers, d)
		fire = append(fire, f)
		mu.Unlock()
		return nil
	}
	defer func() {
		freeOSMemory, now, afterFunc = debug.FreeOSMemory, time.Now, time.AfterFunc
		ReleaseAfterBurst(0)
	}()
	burst.mu.Lock()
	burst.last, burst.pending = time.Time{}, false
	burst.mu.Unlock()
	ReleaseAfterBurst(10)

	ln := listentest.New()
	l := &Loop{MaxConns: -1, MaxConnsPerAddr: -1, Handle: func(c net.Conn, done func()) {
		defer done()
		io.Copy(io.Discard, c) // until the client closes
	}}
	serve(t, l, ln)
	open := func(n int) []net.Conn {
		t.Helper()
		var cs []net.Conn
		for range n {
			c, err := ln.Dial("192.0.2.1")
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		waitFor(t, func() bool { return l.Conns() == n })
		return cs
	}
	closeAll := func(cs []net.Conn, left int) {
		t.Helper()
		for _, c := range cs {
			c.Close()
		}
		waitFor(t, func() bool { return l.Conns() == left })
	}
	pending := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(fire)
	}

	// 8 up and down: too few.
	closeAll(open(8), 0)
	if pending() != 0 {
		t.Fatalf("a release after 8 connections")
	}
	// 30 up, down by 14 to 16: not by half yet; then down to 0.
	cs := open(30)
	closeAll(cs[:14], 16)
	if pending() != 0 {
		t.Fatalf("a release at 16 connections of 30")
	}
	closeAll(cs[14:], 0)
	if pending() != 1 || timers[0] != releaseDelay {
		t.Fatalf("after 30 connections closed: %d releases pending (%v), want 1 in %v", pending(), timers, releaseDelay)
	}
	fire[0]()
	if frees != 1 {
		t.Fatalf("%d frees", frees)
	}
	// Another burst 5 s later: its release waits for the gap.
	mu.Lock()
	clock = clock.Add(5 * time.Second)
	mu.Unlock()
	closeAll(open(20), 0)
	if pending() != 2 || timers[1] != releaseGap-5*time.Second {
		t.Fatalf("second burst: timers %v, want the second in %v", timers, releaseGap-5*time.Second)
	}
	fire[1]()
	// Off: nothing.
	ReleaseAfterBurst(0)
	closeAll(open(40), 0)
	if pending() != 2 || frees != 2 {
		t.Fatalf("released while off: %d pending, %d frees", pending(), frees)
	}
}
