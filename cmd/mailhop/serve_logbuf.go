package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// lineDelay is how long a delivery's log line may wait to be written with
// the lines after it. At 2,000 messages a second a server logs 10,000
// lines; each would otherwise be a write(2) of its own.
const lineDelay = 20 * time.Millisecond

// lineBuffer gathers log lines and writes them together, at most
// lineDelay after the first of them, or when 32 KiB are waiting.
type lineBuffer struct {
	w     io.Writer
	mu    sync.Mutex
	buf   []byte
	armed bool
	timer *time.Timer
}

func newLineBuffer(w io.Writer) *lineBuffer {
	b := &lineBuffer{w: w}
	b.timer = time.AfterFunc(time.Hour, b.Flush)
	b.timer.Stop()
	return b
}

// Write keeps one line (slog writes each record in one call).
func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) >= 32<<10 {
		b.flushLocked()
	} else if !b.armed {
		b.armed = true
		b.timer.Reset(lineDelay)
	}
	return len(p), nil
}

// Flush writes every waiting line.
func (b *lineBuffer) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *lineBuffer) flushLocked() {
	if b.armed {
		b.timer.Stop()
		b.armed = false
	}
	if len(b.buf) > 0 {
		b.w.Write(b.buf)
		b.buf = b.buf[:0]
	}
}

// mayWaitKey marks, in a log call's context, a line that may wait in the
// lineBuffer: an informational line about one message (logEvent). Every
// other line — the server's start and stop, warnings, errors — is
// written at once, with the lines before it.
type mayWaitKey struct{}

var mayWait = context.WithValue(context.Background(), mayWaitKey{}, true)

// flushingHandler writes through a lineBuffer, flushing it after each
// record that may not wait.
type flushingHandler struct {
	slog.Handler
	buf *lineBuffer
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level > slog.LevelInfo || ctx.Value(mayWaitKey{}) == nil {
		h.buf.Flush()
	}
	return err
}

func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(attrs), h.buf}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.buf}
}
