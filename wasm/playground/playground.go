// Package playground is the engine behind the browser playground's JS API
// (design §5), free of any JavaScript: one mail world at a time, its clock
// driven in real time × speed, terminal sessions that behave like telnet
// (and like openssl s_client once STARTTLS is accepted), the MUA path for
// the compose form, batched trace events for subscribers, and views the
// page shows (state with the trace position, a message with its envelope
// and the hop behind each Received line).
//
// Package main in wasm/ binds it to globalThis.mailhop; the tests here run
// natively and under WebAssembly.
package playground

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailhop/mailhop/sim/explain"
	"github.com/mailhop/mailhop/sim/mua"
	"github.com/mailhop/mailhop/sim/pcap"
	"github.com/mailhop/mailhop/sim/trace"
	"github.com/mailhop/mailhop/sim/world"
)

// Tunables of the event pump.
const (
	// MaxBatch is the most events handed to subscribers at once.
	MaxBatch = 512
	// coalesce is how long the pump lets events gather after a batch,
	// so a burst reaches the page in a few messages rather than
	// thousands.
	coalesce = 16 * time.Millisecond
)

// Playground holds the running world and what the page has opened on it.
type Playground struct {
	tick time.Duration

	load     sync.Mutex    // serialises Load and Reset
	ready    chan struct{} // closed after the first Load
	readyErr error

	mu       sync.Mutex
	cur      *run
	epoch    int
	playing  bool
	speed    float64
	seed     uint64 // the seed worlds are loaded with (0: each world's own)
	subs     map[int]func(Batch)
	nextSub  int
	sessions map[*Session]struct{}
	nextSess int
	// lessonStates: each lesson's state in this playground (the page
	// keeps it across visits).
	lessonStates map[string]string
}

// run is one loaded world and what drives it.
type run struct {
	epoch  int
	source string // what Load was given, for Reset
	w      *world.World
	drv    *world.Driver
	stop   context.CancelFunc
	done   chan struct{} // closed when the pump has stopped
	wake   func()        // wakes the pump for a new subscriber (p.mu)
	ctx    context.Context
	lesson *lessonRun    // the lesson running in this world, if any (p.mu)
	pcap   *pcap.Capture // the world's traffic, for the pcapng export
}

// Batch is a run of consecutive trace events of one world. World is the
// number Load returned for it, so a page can drop what an older world
// said.
type Batch struct {
	World  int           `json:"world"`
	Events []trace.Event `json:"events"`
}

// New returns a playground with no world yet; Load the first one. Its
// clock will tick every tick of wall time (100 ms when 0) and plays at
// speed 1 by default.
func New(tick time.Duration) *Playground {
	return &Playground{
		tick: tick, ready: make(chan struct{}), playing: true, speed: 1,
		subs: map[int]func(Batch){}, sessions: map[*Session]struct{}{}, lessonStates: map[string]string{},
	}
}

// CaptureLimit bounds the bytes of traffic a world keeps for the pcapng
// export; what comes later is dropped (and counted in the file).
const CaptureLimit = 16 << 20

// Info describes a loaded world.
type Info struct {
	World       int    `json:"world"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Seed is the world's seed: with it and the same actions, the world
	// does exactly the same again.
	Seed uint64 `json:"seed"`
	// Builtin says the world was loaded by a built-in name (a link can
	// name it rather than carry its text).
	Builtin bool `json:"builtin"`
}

// WorldInfo is a built-in world.
type WorldInfo struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Worlds lists the built-in worlds, the default one first.
func Worlds() []WorldInfo {
	var out []WorldInfo
	names := world.Builtin()
	slices.SortStableFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "default":
			return -1
		case b == "default":
			return 1
		}
		return strings.Compare(a, b)
	})
	for _, name := range names {
		wi := WorldInfo{Name: name}
		if s, err := loadSpec(name); err == nil {
			wi.Description = strings.TrimSpace(s.Description)
		}
		out = append(out, wi)
	}
	return out
}

// Load replaces the running world by a built-in one (by name) or by a
// world file's text (JSON or YAML). Open sessions are closed; the clock
// keeps its play state and speed. On error the running world stays.
func (p *Playground) Load(nameOrText string) (Info, error) {
	p.load.Lock()
	defer p.load.Unlock()
	info, err := p.loadLocked(nameOrText)
	select {
	case <-p.ready:
	default:
		p.readyErr = err
		close(p.ready)
	}
	return info, err
}

// LoadSeeded loads as Load does, with a seed that replaces the world
// file's (0: the file's own, or world.DefaultSeed). The seed stays for
// later loads (a lesson's world, Reset) until another LoadSeeded.
func (p *Playground) LoadSeeded(nameOrText string, seed uint64) (Info, error) {
	p.mu.Lock()
	old := p.seed
	p.seed = seed
	p.mu.Unlock()
	info, err := p.Load(nameOrText)
	if err != nil {
		p.mu.Lock()
		p.seed = old
		p.mu.Unlock()
	}
	return info, err
}

// Reset starts the running world afresh from what it was loaded from.
func (p *Playground) Reset() (Info, error) {
	r, err := p.current()
	if err != nil {
		return Info{}, err
	}
	return p.Load(r.source)
}

func (p *Playground) loadLocked(nameOrText string) (Info, error) {
	src := strings.TrimSpace(nameOrText)
	if src == "" {
		return Info{}, errors.New("load: give the name of a built-in world (" + strings.Join(world.Builtin(), ", ") + ") or a world file's text (JSON or YAML)")
	}
	spec, err := loadSpec(src)
	if err != nil {
		return Info{}, err
	}
	p.mu.Lock()
	if p.seed != 0 {
		spec.Seed = p.seed
	}
	p.mu.Unlock()
	w, err := world.New(spec)
	if err != nil {
		return Info{}, fmt.Errorf("world %q: %w", spec.Name, err)
	}

	p.mu.Lock()
	old := p.cur
	var sessions []*Session
	for s := range p.sessions {
		sessions = append(sessions, s)
	}
	p.mu.Unlock()
	for _, s := range sessions {
		s.Hangup("the world was reset")
	}
	if old != nil {
		old.stop()
		<-old.done
		old.drv.Stop()
		old.w.Close()
	}

	p.mu.Lock()
	p.epoch++
	ctx, stop := context.WithCancel(context.Background())
	r := &run{epoch: p.epoch, source: src, w: w, drv: world.NewDriver(w, p.tick), stop: stop, done: make(chan struct{}), ctx: ctx,
		pcap: w.StartCapture(CaptureLimit)}
	_ = r.drv.SetSpeed(p.speed)
	if p.playing {
		r.drv.Play()
	}
	p.cur = r
	p.mu.Unlock()
	go p.pump(ctx, r)
	return Info{World: r.epoch, Name: spec.Name, Description: strings.TrimSpace(spec.Description),
		Seed: w.Seed(), Builtin: slices.Contains(world.Builtin(), src)}, nil
}

// current returns the running world, waiting for the first Load.
func (p *Playground) current() (*run, error) {
	<-p.ready
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		if p.readyErr != nil {
			return nil, fmt.Errorf("no world is loaded: %w", p.readyErr)
		}
		return nil, errors.New("no world is loaded")
	}
	return p.cur, nil
}

// Close stops the running world and every session.
func (p *Playground) Close() {
	p.load.Lock()
	defer p.load.Unlock()
	p.mu.Lock()
	r := p.cur
	p.cur = nil
	var sessions []*Session
	for s := range p.sessions {
		sessions = append(sessions, s)
	}
	p.mu.Unlock()
	for _, s := range sessions {
		s.Hangup("the playground was closed")
	}
	if r != nil {
		r.stop()
		<-r.done
		r.drv.Stop()
		r.w.Close()
	}
}

// World returns the running world (for tests and tools).
func (p *Playground) World() (*world.World, error) {
	r, err := p.current()
	if err != nil {
		return nil, err
	}
	return r.w, nil
}

// --- events ---

// Subscribe calls fn with every event of the running world and of every
// world loaded later, in batches, in order, from one goroutine at a time.
// A new subscriber first gets what the running world recorded so far.
// fn must not block for long: it holds up the other subscribers.
func (p *Playground) Subscribe(fn func(Batch)) (cancel func()) {
	p.mu.Lock()
	id := p.nextSub
	p.nextSub++
	p.subs[id] = fn
	if p.cur != nil && p.cur.wake != nil {
		p.cur.wake()
	}
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		delete(p.subs, id)
		p.mu.Unlock()
	}
}

// pump hands the events of one world to the subscribers until stopped.
// A subscriber that joins late first gets what it missed.
func (p *Playground) pump(ctx context.Context, r *run) {
	defer close(r.done)
	seen := map[int]bool{}
	var last int64
	for {
		wctx, wake := context.WithCancel(ctx)
		p.mu.Lock()
		r.wake = wake
		newcomer := false
		for id := range p.subs {
			newcomer = newcomer || !seen[id]
		}
		p.mu.Unlock()
		var evs []trace.Event
		if newcomer {
			evs = r.w.Trace.Since(last)
		} else if e, err := r.w.Trace.Follow(last).Next(wctx); err == nil {
			evs = append([]trace.Event{e}, r.w.Trace.Since(e.Seq)...)
		}
		wake()
		if ctx.Err() != nil {
			return
		}
		prev := last
		if len(evs) > 0 {
			last = evs[len(evs)-1].Seq
		}
		p.mu.Lock()
		ids := make([]int, 0, len(p.subs))
		for id := range p.subs {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		fns := make([]func(Batch), len(ids))
		for i, id := range ids {
			fns[i] = p.subs[id]
		}
		p.mu.Unlock()
		for i, id := range ids {
			out := evs
			if !seen[id] {
				// Everything so far, up to where the others are.
				out = r.w.Trace.Since(0)
				if j := slices.IndexFunc(out, func(e trace.Event) bool { return e.Seq > last }); j >= 0 {
					out = out[:j]
				}
				seen[id] = true
			}
			for len(out) > 0 {
				if ctx.Err() != nil {
					return
				}
				n := min(len(out), MaxBatch)
				fns[i](Batch{World: r.epoch, Events: out[:n]})
				out = out[n:]
			}
		}
		for id := range seen {
			if !slices.Contains(ids, id) {
				delete(seen, id)
			}
		}
		if last == prev {
			continue // woken for a new subscriber only
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(coalesce):
		}
	}
}

// Events returns every event of the running world so far.
func (p *Playground) Events() ([]trace.Event, error) {
	r, err := p.current()
	if err != nil {
		return nil, err
	}
	evs := r.w.Trace.Events()
	if evs == nil {
		evs = []trace.Event{}
	}
	return evs, nil
}

// --- state ---

// State is a world's snapshot for the page: world.State, plus which
// world it is, how far the trace had gone when it was taken, and the
// clock.
type State struct {
	world.State
	World int        `json:"world"`
	Seq   int64      `json:"seq"`
	Clock ClockState `json:"clock"`
}

// ClockState is the virtual clock as the controls show it.
type ClockState struct {
	Time    time.Time `json:"time"`
	Playing bool      `json:"playing"`
	Speed   float64   `json:"speed"`
	// Next is when the next thing scheduled fires (a retry, a timeout).
	Next time.Time `json:"next,omitzero"`
	// Retry is when the earliest queued message is next tried.
	Retry time.Time `json:"retry,omitzero"`
}

// Warm does ahead of time what the first connection in the running world
// would otherwise do: the world CA's key and certificate, which every
// terminal and mail client trusts, and the tables that explain its lines.
// A page calls it when it waits for its user; a WebAssembly program
// compiles code the first time it runs, so this takes a good part of a
// first connection's time.
func (p *Playground) Warm() {
	explain.Prepare()
	if r, err := p.current(); err == nil {
		r.w.CA.Pool()
	}
}

// State takes a snapshot of the running world.
func (p *Playground) State() (State, error) {
	r, err := p.current()
	if err != nil {
		return State{}, err
	}
	seq := r.w.Trace.Last()
	st := State{State: r.w.State(), World: r.epoch, Seq: seq, Clock: clockState(r)}
	// Lists are lists in JSON, never null: the page reads them as arrays.
	for i := range st.Hosts {
		h := &st.Hosts[i]
		h.Ports = nonNil(h.Ports)
		h.Roles = nonNil(h.Roles)
		h.Addrs = nonNil(h.Addrs)
	}
	if st.Faults == nil {
		st.Faults = []world.Fault{}
	}
	if st.Users == nil {
		st.Users = []world.UserSpec{}
	}
	return st, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Clock returns the clock's state.
func (p *Playground) Clock() (ClockState, error) {
	r, err := p.current()
	if err != nil {
		return ClockState{}, err
	}
	return clockState(r), nil
}

func clockState(r *run) ClockState {
	cs := ClockState{Time: r.w.Clock.Now(), Playing: r.drv.Playing(), Speed: r.drv.Speed()}
	cs.Next, _ = r.w.Clock.Next()
	cs.Retry, _ = r.w.NextRetry()
	return cs
}

// --- time ---

// Play lets the virtual clock run with the wall clock × speed.
func (p *Playground) Play() (ClockState, error) {
	r, err := p.current()
	if err != nil {
		return ClockState{}, err
	}
	p.mu.Lock()
	p.playing = true
	p.mu.Unlock()
	r.drv.Play()
	return clockState(r), nil
}

// Pause stops the virtual clock. Agents still answer (a terminal gets its
// replies), but nothing scheduled fires: no retry, no timeout, and a
// failed login waits.
func (p *Playground) Pause() (ClockState, error) {
	r, err := p.current()
	if err != nil {
		return ClockState{}, err
	}
	p.mu.Lock()
	p.playing = false
	p.mu.Unlock()
	r.drv.Pause()
	return clockState(r), nil
}

// Step moves the clock to the next thing scheduled and fires it.
func (p *Playground) Step() (ClockState, error) {
	r, err := p.current()
	if err != nil {
		return ClockState{}, err
	}
	if _, err := r.drv.Step(); err != nil {
		return clockState(r), err
	}
	return clockState(r), nil
}

// Speed sets how fast the clock runs while playing (virtual seconds per
// wall second).
func (p *Playground) Speed(x float64) (ClockState, error) {
	r, err := p.current()
	if err != nil {
		return ClockState{}, err
	}
	if err := r.drv.SetSpeed(x); err != nil {
		return clockState(r), err
	}
	p.mu.Lock()
	p.speed = x
	p.mu.Unlock()
	return clockState(r), nil
}

// MaxAdvance is the longest single jump of the clock.
const MaxAdvance = 30 * 24 * time.Hour

// Advance jumps the clock: by a duration ("+1h", "90s", "1h30m", "2d"),
// to the next thing scheduled ("next"), or to the next queue retry
// ("retry").
func (p *Playground) Advance(spec string) (ClockState, error) {
	r, err := p.current()
	if err != nil {
		return ClockState{}, err
	}
	switch s := strings.TrimSpace(spec); s {
	case "next":
		return p.Step()
	case "retry":
		t, ok := r.w.NextRetry()
		if !ok {
			return clockState(r), errors.New("advance to the next retry: no message is waiting in a queue")
		}
		r.drv.AdvanceTo(t)
		return clockState(r), nil
	}
	d, err := ParseDuration(spec)
	if err != nil {
		return clockState(r), err
	}
	if _, err := r.drv.Advance(d); err != nil {
		return clockState(r), err
	}
	return clockState(r), nil
}

// ParseDuration reads a jump of the clock: Go's durations ("90s",
// "1h30m"), days ("2d"), an optional leading "+"; from 1ms to MaxAdvance.
func ParseDuration(s string) (time.Duration, error) {
	in := s
	s = strings.TrimPrefix(strings.TrimSpace(s), "+")
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n float64
		n, err = strconv.ParseFloat(days, 64)
		d = time.Duration(n * float64(24*time.Hour))
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("advance %q: want a positive duration such as +1m, +1h, 90s or 2d (or \"next\", \"retry\")", in)
	}
	if d > MaxAdvance {
		return 0, fmt.Errorf("advance %q: at most %v at once", in, MaxAdvance)
	}
	return d, nil
}

// --- faults and mail ---

// Fault injects or mends a fault (world.Fault's kinds).
func (p *Playground) Fault(f world.Fault) (State, error) {
	r, err := p.current()
	if err != nil {
		return State{}, err
	}
	if err := r.w.Fault(f); err != nil {
		return State{}, err
	}
	return p.State()
}

// Mail is what the compose form sends.
type Mail struct {
	From    string   `json:"from"`
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Body    string   `json:"body"`
}

// Sent tells where a submitted message went.
type Sent struct {
	QueueID string `json:"queue_id"`
	// Msg is the Message-ID (without <>) the sender's mail client gave
	// the message: it ties the message's events together (their msg
	// field).
	Msg string `json:"msg,omitempty"`
	MSA string `json:"msa"`
}

// Send submits a message the way the sender's mail client does: from the
// sender's machine to their MSA on port 587 (EHLO, STARTTLS, AUTH PLAIN,
// MAIL, RCPT, DATA).
func (p *Playground) Send(ctx context.Context, m Mail) (Sent, error) {
	r, err := p.current()
	if err != nil {
		return Sent{}, err
	}
	from := cleanAddr(m.From)
	if !isAddr(from) {
		return Sent{}, fmt.Errorf("send: from %q is not an address like alice@example.org", m.From)
	}
	var to []string
	for _, t := range m.To {
		for _, a := range strings.FieldsFunc(t, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
			a = cleanAddr(a)
			if !isAddr(a) {
				return Sent{}, fmt.Errorf("send: recipient %q is not an address like bob@example.net", a)
			}
			to = append(to, a)
		}
	}
	if len(to) == 0 {
		return Sent{}, errors.New("send: say who the message is for (to)")
	}
	if _, err := r.w.Submitter(from); err != nil {
		return Sent{}, fmt.Errorf("send: %w (the senders of this world: %s)", err, strings.Join(senders(r.w), ", "))
	}
	sent, err := r.w.Send(ctx, mua.Mail{From: from, To: to, Subject: m.Subject, Body: m.Body})
	if err != nil {
		return Sent{}, fmt.Errorf("send: %w", err)
	}
	return Sent{QueueID: sent.QueueID, Msg: sent.MessageID, MSA: sent.MSA}, nil
}

// senders lists the users of a world who have a machine to send from.
func senders(w *world.World) []string {
	var out []string
	for _, u := range w.Spec.Users {
		if h, err := w.MUA(u.Address); err == nil && h.Spec.MSA != "" {
			out = append(out, u.Address)
		}
	}
	return out
}

func cleanAddr(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		s = strings.TrimSuffix(s, ">")
	}
	return strings.TrimSpace(s)
}

func isAddr(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.ContainsAny(s, " \t\r\n<>,;")
}

// Explanations returns the table of commands, replies and codes with
// their RFC sections (package explain).
func Explanations() []explain.Entry { return explain.Entries() }
