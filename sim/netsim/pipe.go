package netsim

import (
	"sync"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
)

// pipeCap is how many bytes one direction of a connection holds before
// writers block: a window, as TCP has, large enough for any pipelined
// conversation and small enough to bound memory.
const pipeCap = 256 << 10

// pipe is one direction of a stream connection: a bounded byte buffer that
// the writing end fills and the reading end drains, with bytes in flight
// (latency, a cut link) held back until they arrive.
type pipe struct {
	mu       sync.Mutex
	buf      []byte // readable now; buf[head:] is unread
	head     int
	inflight []chunk // written, not yet arrived
	held     bool    // the link is cut: nothing arrives
	timer    clock.Timer
	clk      clock.Clock

	eof    bool // the writer closed: EOF once drained
	broken bool // the reader closed: writes fail
	reset  bool // the connection was reset: both ends fail

	readable chan struct{} // signalled when data, EOF or reset arrives
	writable chan struct{} // signalled when room is made or the reader goes
}

type chunk struct {
	data []byte
	due  time.Time
}

func newPipe(clk clock.Clock) *pipe {
	return &pipe{
		clk:      clk,
		readable: make(chan struct{}, 1),
		writable: make(chan struct{}, 1),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// buffered reports the bytes in the pipe, arrived or in flight. mu held.
func (p *pipe) buffered() int {
	n := len(p.buf) - p.head
	for _, c := range p.inflight {
		n += len(c.data)
	}
	return n
}

// read copies arrived bytes into b. ok is false when nothing is readable.
func (p *pipe) read(b []byte) (n int, eof, reset, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reset {
		return 0, false, true, true
	}
	if p.head < len(p.buf) {
		n = copy(b, p.buf[p.head:])
		p.head += n
		if p.head == len(p.buf) {
			p.buf, p.head = p.buf[:0], 0
		} else {
			signal(p.readable) // let another reader take the rest
		}
		signal(p.writable)
		return n, false, false, true
	}
	if p.eof && len(p.inflight) == 0 {
		return 0, true, false, true
	}
	return 0, false, false, false
}

// write adds as much of b as there is room for; latency delays arrival.
// seen, if set, is told of the bytes before the reader can have them, so
// the trace shows a command before the reply it causes.
func (p *pipe) write(b []byte, latency time.Duration, seen func([]byte)) (n int, broken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken || p.reset {
		return 0, true
	}
	room := pipeCap - p.buffered()
	if room <= 0 {
		return 0, false
	}
	n = min(room, len(b))
	if seen != nil {
		seen(b[:n])
	}
	if latency <= 0 && !p.held && len(p.inflight) == 0 {
		if p.head > 0 && p.head == len(p.buf) {
			p.buf, p.head = p.buf[:0], 0
		}
		p.buf = append(p.buf, b[:n]...)
		signal(p.readable)
	} else {
		data := append([]byte(nil), b[:n]...)
		p.inflight = append(p.inflight, chunk{data: data, due: p.clk.Now().Add(latency)})
		p.arriveLocked()
	}
	if n < len(b) || room > n {
		// Room remains, or the writer will wait for it: let a
		// concurrent writer re-check.
		if room > n {
			signal(p.writable)
		}
	}
	return n, false
}

// arriveLocked moves due chunks into buf and arms a timer for the next.
func (p *pipe) arriveLocked() {
	if p.held {
		return
	}
	now := p.clk.Now()
	moved := false
	for len(p.inflight) > 0 && !p.inflight[0].due.After(now) {
		p.buf = append(p.buf, p.inflight[0].data...)
		p.inflight[0] = chunk{}
		p.inflight = p.inflight[1:]
		moved = true
	}
	if moved {
		signal(p.readable)
	}
	if len(p.inflight) > 0 {
		if p.timer != nil {
			p.timer.Stop()
		}
		p.timer = p.clk.AfterFunc(p.inflight[0].due.Sub(now), func() {
			p.mu.Lock()
			p.arriveLocked()
			p.mu.Unlock()
		})
	} else if p.eof {
		signal(p.readable)
	}
}

// hold stops (true) or resumes (false) arrivals, for a cut link.
func (p *pipe) hold(h bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = h
	if !h {
		p.arriveLocked()
	}
}

func (p *pipe) closeWrite() {
	p.mu.Lock()
	p.eof = true
	p.mu.Unlock()
	signal(p.readable)
}

func (p *pipe) closeRead() {
	p.mu.Lock()
	p.broken = true
	p.buf, p.head, p.inflight = nil, 0, nil
	p.mu.Unlock()
	signal(p.writable)
}

func (p *pipe) doReset() {
	p.mu.Lock()
	p.reset = true
	p.buf, p.head, p.inflight = nil, 0, nil
	p.mu.Unlock()
	signal(p.readable)
	signal(p.writable)
}
