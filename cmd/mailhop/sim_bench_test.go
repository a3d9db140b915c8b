package main

import (
	"flag"
	"io"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var simMessages = flag.Int("sim-messages", 100000, "how many messages BenchmarkSimLargeWorld sends")

// BenchmarkSimLargeWorld is `mailhop sim --world large --messages
// 100000`, its text output discarded: the users of the 50-host world
// write to each other through submission, DNS, MX and LMTP, and the
// mailboxes keep every message. It reports the messages per second and
// the peak of the live heap while it runs (the trace is written as it
// is recorded; the world keeps its end only).
func BenchmarkSimLargeWorld(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		start := time.Now()
		var err error
		heap := peakHeap(func() {
			err = runSim([]string{"--world", "large", "--messages", strconv.Itoa(*simMessages)}, io.Discard, io.Discard)
		})
		elapsed := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(*simMessages)/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
	}
}

// peakHeap samples the heap's objects (live, and dead ones not yet
// swept) while f runs and returns the largest.
func peakHeap(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	return peak.Load()
}
