package listen

import (
	"runtime/debug"
	"sync"
	"time"
)

// Memory after a burst of connections.
//
// Each idle SMTP connection costs some 30 KB (three goroutines' stacks,
// go-smtp's and the front's buffers); 2,000 of them take a server from
// 12 MB to 68 MB. When they close, the memory is free but the Go runtime
// keeps it: its background scavenger returns only pages that stayed
// unused for a whole GC cycle, and an idle server collects once in two
// minutes, so the process stays at 68 MB for minutes. After a burst ends
// the loops therefore ask the runtime to return what is free
// (debug.FreeOSMemory: a collection, then every free page back to the
// OS), once the connections have fallen by ReleaseAfterBurst and by half
// since their peak, at most once per releaseGap. It is off until a
// program turns it on: a simulation in a browser has no bursts to speak
// of and no OS to give memory back to.

var burst struct {
	mu      sync.Mutex
	min     int // ReleaseAfterBurst's n; 0: off
	open    int // connections being served, over every Loop
	peak    int // the most open since the last release
	pending bool
	last    time.Time
}

// Hooks for the tests.
var (
	freeOSMemory = debug.FreeOSMemory
	releaseDelay = 2 * time.Second  // lets the rest of a burst close first
	releaseGap   = 30 * time.Second // between two releases
	afterFunc    = time.AfterFunc
	now          = time.Now
)

// ReleaseAfterBurst makes the end of a burst of at least n connections,
// over every Loop of the process, give the memory they used back to the
// operating system. 0 turns it off (the default).
func ReleaseAfterBurst(n int) {
	burst.mu.Lock()
	burst.min = max(n, 0)
	burst.peak = burst.open
	burst.mu.Unlock()
}

func burstOpened() {
	burst.mu.Lock()
	burst.open++
	burst.peak = max(burst.peak, burst.open)
	burst.mu.Unlock()
}

func burstClosed() {
	burst.mu.Lock()
	defer burst.mu.Unlock()
	burst.open--
	if burst.min == 0 || burst.pending || burst.peak-burst.open < burst.min || burst.open > burst.peak/2 {
		return
	}
	burst.pending = true
	wait := releaseDelay
	if next := burst.last.Add(releaseGap); now().Add(wait).Before(next) {
		wait = next.Sub(now())
	}
	afterFunc(wait, release)
}

func release() {
	freeOSMemory()
	burst.mu.Lock()
	burst.pending = false
	burst.last = now()
	burst.peak = burst.open
	burst.mu.Unlock()
}
