package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/mailhop/mailhop/sim/trace"
)

// startLogging makes the trace's sink write every event to --trace-log
// (if set) and the events an operator wants — queue, delivery, fetch,
// hop, DNS errors, the MX's verdict on SPF, DKIM and DMARC — as one log
// line each. A sink, not a follower of the bounded trace: no line is ever
// lost, however busy the server. The returned function stops it and
// flushes the trace log.
func (s *server) startLogging() (stop func()) {
	s.rec.SetSink(func(e trace.Event) {
		if s.traceOut != nil {
			s.traceOut.write(e)
		}
		s.logEvent(e)
	})
	return func() {
		s.rec.SetSink(nil)
		if s.traceOut != nil {
			s.traceOut.close()
		}
	}
}

// logEvent writes one trace event as a log line, if it is one an
// operator wants to see.
func (s *server) logEvent(e trace.Event) {
	switch e.Kind {
	case trace.KindQueue, trace.KindDeliver, trace.KindFetch, trace.KindHop:
	case trace.KindDNS:
		if e.Action != "error" {
			return
		}
	case trace.KindAuth:
		if e.Action != "verdict" {
			return
		}
	default:
		return
	}
	attrs := []any{"kind", string(e.Kind)}
	for _, kv := range [][2]string{{"action", e.Action}, {"host", e.Host}, {"peer", e.Peer}, {"conn", e.Conn}, {"msg", e.Msg}, {"mailbox", e.Mailbox}} {
		if kv[1] != "" {
			attrs = append(attrs, kv[0], kv[1])
		}
	}
	if !e.Next.IsZero() {
		attrs = append(attrs, "next", e.Next.Format(time.RFC3339))
	}
	level := slog.LevelInfo
	switch e.Action {
	case "error":
		level = slog.LevelError
	case "deferred", "bounced", "failed", "expired":
		level = slog.LevelWarn
	case "verdict":
		if !strings.HasPrefix(e.Text, "accepted") {
			level = slog.LevelWarn // refused or deferred
		}
	}
	s.log.Log(mayWait, level, e.Text, attrs...)
}

// traceWriter appends events as JSON lines, flushing when the follower
// has nothing more to write for a moment.
type traceWriter struct {
	f     io.WriteCloser
	w     *bufio.Writer
	flush *time.Timer
	mu    sync.Mutex
}

func (s *server) startTraceLog(stdout io.Writer) error {
	var f io.WriteCloser
	if s.c.traceLog == "-" {
		f = nopCloser{stdout}
	} else {
		file, err := os.OpenFile(s.c.traceLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("--trace-log: %w", err)
		}
		f = file
	}
	tw := &traceWriter{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	tw.flush = time.AfterFunc(time.Hour, func() {
		tw.mu.Lock()
		tw.w.Flush()
		tw.mu.Unlock()
	})
	s.traceOut = tw
	return nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func (t *traceWriter) write(e trace.Event) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	t.mu.Lock()
	t.w.Write(b)
	t.w.WriteByte('\n')
	t.mu.Unlock()
	t.flush.Reset(200 * time.Millisecond)
}

func (t *traceWriter) close() {
	t.flush.Stop()
	t.mu.Lock()
	t.w.Flush()
	t.mu.Unlock()
	t.f.Close()
}

// redactor keeps passwords out of the trace: the arguments of AUTH, PASS,
// LOGIN and APOP, and every client line of a SASL exchange, become
// "***". It runs as the recorder's annotator, under the recorder's lock.
type redactor struct {
	sasl map[string]bool // conn → in a SASL exchange
	// literal: conn → the tag of an IMAP LOGIN whose user name or
	// password travels as a literal ({n}, RFC 9051 §4.3): what the
	// client sends until the tagged answer is hidden.
	literal map[string]string
}

func newRedactor() *redactor {
	return &redactor{sasl: map[string]bool{}, literal: map[string]string{}}
}

// literalMarker matches the end of a line announcing a literal: {15},
// {15+}, ~{15} (RFC 9051 §4.3, RFC 7888).
var literalMarker = regexp.MustCompile(`~?\{[0-9]+\+?\}$`)

func (r *redactor) annotate(e *trace.Event) {
	switch e.Kind {
	case trace.KindConn:
		if e.Action == "close" {
			delete(r.sasl, e.Conn)
			delete(r.literal, e.Conn)
		}
		return
	case trace.KindWire:
	default:
		return
	}
	if e.Dir == trace.Recv {
		if r.sasl[e.Conn] && !strings.HasPrefix(e.Text, "334") && !strings.HasPrefix(e.Text, "+") {
			delete(r.sasl, e.Conn)
		}
		if tag, ok := r.literal[e.Conn]; ok && strings.HasPrefix(e.Text, tag+" ") {
			delete(r.literal, e.Conn)
		}
		return
	}
	if r.sasl[e.Conn] {
		e.Text = "***"
		return
	}
	if _, ok := r.literal[e.Conn]; ok {
		// A literal's content, or the line that carries on after it:
		// only the announcement of the next literal is kept.
		if t := strings.TrimSpace(e.Text); t != "" && literalMarker.FindString(t) == t {
			return
		}
		e.Text = "***"
		return
	}
	words := strings.Fields(e.Text)
	if e.Proto == "imap" && len(words) > 1 {
		words = words[1:] // the tag
	}
	if len(words) == 0 {
		return
	}
	keep := 0
	switch strings.ToUpper(words[0]) {
	case "AUTH", "AUTHENTICATE":
		keep = 2 // the mechanism
		r.sasl[e.Conn] = true
	case "PASS":
		keep = 1
	case "LOGIN", "APOP":
		keep = 2 // the user name
		if e.Proto == "imap" && literalMarker.MatchString(e.Text) {
			r.literal[e.Conn] = strings.Fields(e.Text)[0]
			if len(words) == 2 {
				return // "a1 LOGIN {15}": the user name comes as a literal
			}
		}
	default:
		return
	}
	if len(words) > keep {
		prefix := ""
		if e.Proto == "imap" {
			prefix = strings.Fields(e.Text)[0] + " "
		}
		e.Text = prefix + strings.Join(words[:keep], " ") + " ***"
	}
}
