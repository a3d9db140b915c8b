package main

import (
	"bufio"
	"encoding/json"
	"io"
	"sync"

	"github.com/mailhop/mailhop/sim/trace"
)

// traceStream writes a world's trace while it is recorded, to each of its
// outputs (the text or JSON lines on stdout, --out-transcript,
// --out-json), so that `mailhop sim` keeps no more of a long run's trace
// than the world's bounded recorder and the events not yet written.
//
// add is the recorder's sink: it only appends to the pending events
// (it runs under the recorder's lock). A goroutine writes them out;
// catchUp waits until it has, and is called between two rounds of a
// long run, when the world is quiet, so that a slow reader of stdout
// holds the run back there rather than inside the simulation.
type traceStream struct {
	mu      sync.Mutex
	more    *sync.Cond // events arrived, or the stream ends
	idle    *sync.Cond // the writer has written all it took
	pending []trace.Event
	spare   []trace.Event
	writing bool
	closed  bool
	outs    []*streamOut
	done    chan struct{}
	n       int64 // events written
}

// streamOut is one destination of the trace.
type streamOut struct {
	w    *bufio.Writer
	json *json.Encoder // nil: text
	err  error
}

func newTraceStream() *traceStream {
	s := &traceStream{done: make(chan struct{})}
	s.more = sync.NewCond(&s.mu)
	s.idle = sync.NewCond(&s.mu)
	return s
}

// add takes an event from the recorder.
func (s *traceStream) add(e trace.Event) {
	s.mu.Lock()
	s.pending = append(s.pending, e)
	s.mu.Unlock()
	s.more.Signal()
}

// text adds an output of the trace as text (trace.WriteText), after the
// heading lines (trace.WriteTranscript's) when there are any.
func (s *traceStream) text(w io.Writer, heading []string) {
	bw := bufio.NewWriterSize(w, 64<<10)
	o := &streamOut{w: bw}
	o.err = trace.WriteTranscript(bw, heading) // into the buffer
	s.outs = append(s.outs, o)
}

// jsonLines adds an output of the trace as JSON lines (trace.WriteJSON).
func (s *traceStream) jsonLines(w io.Writer) {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	s.outs = append(s.outs, &streamOut{w: bw, json: enc})
}

// start begins writing, the events recorded so far first. The outputs
// are added before.
func (s *traceStream) start() { go s.write() }

func (s *traceStream) write() {
	defer close(s.done)
	var line []byte
	for {
		s.mu.Lock()
		for len(s.pending) == 0 && !s.closed {
			s.writing = false
			s.idle.Broadcast()
			s.more.Wait()
		}
		if len(s.pending) == 0 {
			s.writing = false
			s.idle.Broadcast()
			s.mu.Unlock()
			return
		}
		batch := s.pending
		s.pending, s.spare = s.spare[:0], nil
		s.writing = true
		s.mu.Unlock()
		for i := range batch {
			for _, o := range s.outs {
				if o.err != nil {
					continue
				}
				if o.json != nil {
					o.err = o.json.Encode(batch[i])
					continue
				}
				line = append(append(line[:0], trace.FormatText(batch[i])...), '\n')
				_, o.err = o.w.Write(line)
			}
			batch[i] = trace.Event{} // let go of its strings
		}
		s.mu.Lock()
		s.n += int64(len(batch))
		s.spare = batch[:0]
		s.mu.Unlock()
	}
}

// catchUp waits until every event recorded so far is written (to the
// buffers of the outputs).
func (s *traceStream) catchUp() {
	s.mu.Lock()
	for len(s.pending) > 0 || s.writing {
		s.more.Signal()
		s.idle.Wait()
	}
	s.mu.Unlock()
}

// close writes what is pending, flushes the outputs and returns the first
// error of each, in the order they were added. No event may be added
// after (the recorder's sink is removed before).
func (s *traceStream) close() []error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.more.Signal()
	<-s.done
	errs := make([]error, len(s.outs))
	for i, o := range s.outs {
		if o.err == nil {
			o.err = o.w.Flush()
		}
		errs[i] = o.err
	}
	return errs
}

// written returns how many events were written.
func (s *traceStream) written() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}
