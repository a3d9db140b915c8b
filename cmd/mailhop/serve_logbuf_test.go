package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// writes records each write(2) the log would make.
type writes struct {
	mu  sync.Mutex
	got []string
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.got = append(w.got, string(p))
	return len(p), nil
}

func (w *writes) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.got...)
}

// Lines about messages wait and go out together, within lineDelay; any
// other line goes out at once, after the lines before it.
func TestLineBuffer(t *testing.T) {
	w := &writes{}
	log := newLogger(&serveConfig{logFormat: "text"}, w)

	for i := range 3 {
		log.Log(mayWait, slog.LevelInfo, "delivered", "n", i)
	}
	if got := w.all(); len(got) != 0 {
		t.Fatalf("lines that may wait were written at once: %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(w.all()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got := w.all()
	if len(got) != 1 || strings.Count(got[0], "msg=delivered") != 3 {
		t.Fatalf("want the three lines in one write, got %q", got)
	}

	// A warning takes the waiting lines out with it, in order.
	log.Log(mayWait, slog.LevelInfo, "queued")
	log.Log(mayWait, slog.LevelWarn, "deferred")
	got = w.all()
	if len(got) != 2 || !strings.Contains(got[1], "msg=queued") || strings.Index(got[1], "msg=queued") > strings.Index(got[1], "msg=deferred") {
		t.Fatalf("a warning did not take the waiting line out before it: %q", got)
	}

	// So does a line that is not about a message (the server's own).
	log.Log(mayWait, slog.LevelInfo, "queued")
	log.With("service", "smtp").Info("stopped")
	got = w.all()
	if len(got) != 3 || !strings.Contains(got[2], "msg=queued") || !strings.Contains(got[2], "msg=stopped service=smtp") {
		t.Fatalf("the server's line did not take the waiting line out before it: %q", got)
	}

	// 32 KiB waiting are written without waiting for the timer.
	long := strings.Repeat("x", 1000)
	for range 40 {
		log.Log(mayWait, slog.LevelInfo, long)
	}
	if got := w.all(); len(got) != 4 {
		t.Fatalf("32 KiB of lines waited: %d writes", len(got))
	}
	log.Log(context.Background(), slog.LevelInfo, "end")
	if n := strings.Count(strings.Join(w.all(), ""), long); n != 40 {
		t.Fatalf("%d of 40 long lines written", n)
	}
}
