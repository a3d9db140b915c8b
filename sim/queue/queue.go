// Package queue is the outbound mail queue of an MTA: it keeps accepted
// messages in a spool, finds where each recipient's mail goes (MX lookup,
// an LMTP hop, or the local mailbox store), delivers, retries temporary
// failures on a schedule driven by the clock, and returns failures to the
// sender as RFC 3464 delivery status notifications.
//
// RFC 5321 §4.5.4.1 (retry strategy), §5.1 (locating the target host),
// §3.6.3 and §4.5.5 (bounces, the null reverse-path, never bouncing a
// bounce); RFC 3464 (DSN format); RFC 3463 (status codes).
package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/trace"
)

// MX is one mail exchanger to try, as a resolver found it.
type MX struct {
	Host     string
	Pref     uint16
	Addrs    []netip.Addr
	Implicit bool // no MX records: the domain's own address (RFC 5321 §5.1)
}

// Resolver finds the mail exchangers of a domain, in the order to try
// them. Its errors say whether they are permanent (a Permanent() bool
// method returning true, e.g. NXDOMAIN); others are retried. A domain
// that accepts no mail (null MX, RFC 7505) is a *dns.Error with NullMX
// set, as sim/dns's resolver returns it: bounced with status 5.1.10.
type Resolver interface {
	LookupMX(ctx context.Context, domain string) ([]MX, error)
}

// RouteKind says how mail for a domain is delivered.
type RouteKind int

// Routes.
const (
	RouteMX    RouteKind = iota // look up MX records and relay by SMTP
	RouteLMTP                   // hand to an MDA by LMTP at Addr
	RouteLocal                  // file into this host's mailboxes (Local)
)

// Route is where mail for a domain goes.
type Route struct {
	Kind RouteKind
	Addr string // host:port for RouteLMTP
	Host string // the name of the host at Addr, for the trace
}

// Queue is an MTA's outbound queue. Set the fields, then call Start.
type Queue struct {
	Hostname string
	Net      netx.Network
	Clock    clock.Clock
	Trace    *trace.Recorder
	Spool    Spool
	Resolver Resolver
	// MXPort is the port dialled on mail exchangers (25).
	MXPort int
	// Route says how mail for a domain is delivered; nil: by MX.
	Route func(domain string) Route
	// Local files a message into a local mailbox (RouteLocal). It returns
	// an error with a Permanent() bool method for a permanent failure.
	// A message is journalled as delivered only after Local returns, so
	// after a crash it may be handed to Local again: ctx carries the
	// delivery's DeliveryKey (mda.WithDeliveryKey), with which an
	// mda.MDA files it once.
	Local func(ctx context.Context, env *Envelope, rcpt string, body []byte) error
	// ClientTLS returns the TLS configuration to use with STARTTLS towards
	// a server; nil: no STARTTLS. TLS is opportunistic (RFC 3207 §4):
	// used when offered, and a failed handshake falls back to cleartext.
	ClientTLS func(serverName string) *tls.Config
	// Schedule is the delays between attempts; the last one repeats.
	Schedule []time.Duration
	// Lifetime is how long a message may wait before it bounces.
	Lifetime time.Duration
	// WarnAfter is when the sender is told of the delay (once); 0: never.
	WarnAfter time.Duration
	// FirstDelay postpones a new message's first attempt. The simulation
	// sets a millisecond so that a trace reads in order: the submission
	// ends (250, QUIT) before the queue starts on the message.
	FirstDelay time.Duration
	// Concurrency bounds delivery attempts at once.
	Concurrency int
	// IdleConn is how long an idle connection to a server is kept for
	// the next message to the same server.
	IdleConn time.Duration

	mu       sync.Mutex
	envs     map[string]*Envelope
	timers   map[string]clock.Timer
	running  map[string]bool
	waiting  map[string]bool // an attempt waits for a delivery slot
	again    map[string]bool // kicked while running: attempt again after
	byDomain map[string]map[string]bool
	seq      uint32
	sem      chan struct{}
	runq     chan func() // to an idle runner (goLocked)
	idle     atomic.Int32
	pool     *connPool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	started  bool
}

// DefaultSchedule follows RFC 5321 §4.5.4.1 in spirit: a few quick
// retries within the first hour, then every hour or two.
var DefaultSchedule = []time.Duration{5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour}

// Defaults applied by Start to unset fields.
const (
	DefaultLifetime  = 5 * 24 * time.Hour // RFC 5321 §4.5.4.1: at least 4–5 days
	DefaultWarnAfter = 4 * time.Hour
)

// Start recovers the spool and begins delivering.
func (q *Queue) Start(ctx context.Context) error {
	if q.Clock == nil {
		q.Clock = clock.Wall{}
	}
	if len(q.Schedule) == 0 {
		q.Schedule = DefaultSchedule
	}
	if q.Lifetime == 0 {
		q.Lifetime = DefaultLifetime
	}
	if q.MXPort == 0 {
		q.MXPort = 25
	}
	if q.Concurrency <= 0 {
		q.Concurrency = 16
	}
	if q.IdleConn == 0 {
		q.IdleConn = 5 * time.Second
	}
	q.mu.Lock()
	q.envs = map[string]*Envelope{}
	q.timers = map[string]clock.Timer{}
	q.running = map[string]bool{}
	q.waiting = map[string]bool{}
	q.again = map[string]bool{}
	q.byDomain = map[string]map[string]bool{}
	q.sem = make(chan struct{}, q.Concurrency)
	q.runq = make(chan func())
	q.pool = newConnPool(q.Clock, q.IdleConn)
	// Start each host's sequence elsewhere, so that two hosts of one
	// simulated world, on one clock, never show the same queue id.
	h := fnv.New32a()
	h.Write([]byte(q.Hostname))
	q.seq = h.Sum32() & 0xFFF
	q.ctx, q.cancel = context.WithCancel(ctx)
	q.started = true
	q.mu.Unlock()
	envs, err := q.Spool.Load()
	if err != nil {
		return fmt.Errorf("queue: recovering the spool: %w", err)
	}
	for _, e := range envs {
		q.mu.Lock()
		q.envs[e.ID] = e
		q.indexLocked(e, true)
		q.mu.Unlock()
		q.emit(trace.Event{Kind: trace.KindQueue, Action: "recovered", Msg: e.Key, Text: "queue id " + e.ID + " recovered from the spool"})
		q.schedule(e)
	}
	return nil
}

// Stop stops delivering (the spool keeps what is queued) and waits for
// attempts in progress.
func (q *Queue) Stop() {
	q.mu.Lock()
	if !q.started {
		q.mu.Unlock()
		return
	}
	q.started = false
	for id, t := range q.timers {
		t.Stop()
		delete(q.timers, id)
	}
	q.cancel()
	q.mu.Unlock()
	q.wg.Wait()
	q.pool.closeAll()
}

// Enqueue accepts a message: it is in the spool (durable when the spool
// is) when Enqueue returns its queue id.
func (q *Queue) Enqueue(from string, to []string, body []byte) (string, error) {
	if len(to) == 0 {
		return "", errors.New("queue: no recipients")
	}
	now := q.Clock.Now()
	env := &Envelope{From: from, Created: now, Size: int64(len(body)), Key: trace.MsgKey(body)}
	if q.FirstDelay > 0 {
		env.Next = now.Add(q.FirstDelay)
	}
	seen := map[string]bool{}
	for _, r := range to {
		if seen[strings.ToLower(r)] {
			continue
		}
		seen[strings.ToLower(r)] = true
		env.Rcpts = append(env.Rcpts, &Rcpt{Addr: r, State: Pending})
	}
	for {
		s := q.nextSeq()
		env.ID = newID(now, s, false)
		err := q.Spool.Put(env, body)
		if errors.Is(err, ErrExists) {
			// The short id comes round every 4,096 messages in one
			// millisecond (a burst on a clock that does not move):
			// the long one names the whole sequence number.
			env.ID = newID(now, s, true)
			err = q.Spool.Put(env, body)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, ErrExists) {
			return "", fmt.Errorf("queue: %w", err)
		}
	}
	q.mu.Lock()
	q.envs[env.ID] = env
	q.indexLocked(env, true)
	q.mu.Unlock()
	rcpts := make([]string, len(env.Rcpts))
	for i, r := range env.Rcpts {
		rcpts[i] = r.Addr
	}
	from = "<" + from + ">"
	q.emit(trace.Event{Kind: trace.KindQueue, Action: "queued", Msg: env.Key,
		Text: "queue id " + env.ID + ", from " + from + " to " + strings.Join(rcpts, ", ") + ", " + strconv.FormatInt(env.Size, 10) + " bytes"})
	q.schedule(env)
	return env.ID, nil
}

func (q *Queue) nextSeq() uint32 {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	return q.seq
}

// newID returns a queue id: hex of the time in milliseconds and of the
// low 12 bits of a sequence number, short enough to read aloud in a
// classroom. long adds the rest of the sequence number, for when the
// short id is taken.
func newID(now time.Time, seq uint32, long bool) string {
	ms := uint64(now.UnixMilli()) & 0xFFFFFFF
	// fmt.Sprintf("%07X%03X%X", ms, seq&0xFFF, seq>>12), without fmt.
	var b [24]byte
	out := appendHex(b[:0], ms, 7)
	out = appendHex(out, uint64(seq&0xFFF), 3)
	if long {
		out = appendHex(out, uint64(seq>>12), 1)
	}
	return string(out)
}

// appendHex appends v in upper-case hexadecimal, at least width digits.
func appendHex(b []byte, v uint64, width int) []byte {
	n := 1
	for x := v >> 4; x != 0; x >>= 4 {
		n++
	}
	for ; width > n; width-- {
		b = append(b, '0')
	}
	for shift := 4 * (n - 1); shift >= 0; shift -= 4 {
		b = append(b, "0123456789ABCDEF"[v>>shift&0xF])
	}
	return b
}

// Messages returns a snapshot of the queued envelopes, oldest first.
func (q *Queue) Messages() []*Envelope {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]*Envelope, 0, len(q.envs))
	for _, e := range q.envs {
		out = append(out, e.Clone())
	}
	slices.SortFunc(out, func(a, b *Envelope) int { return a.Created.Compare(b.Created) })
	return out
}

// Len returns how many messages wait in the queue.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.envs)
}

// schedule arms a timer for the envelope's next attempt.
func (q *Queue) schedule(env *Envelope) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.started {
		return
	}
	if t := q.timers[env.ID]; t != nil {
		t.Stop()
	}
	d := env.Next.Sub(q.Clock.Now())
	id := env.ID
	if d <= 0 {
		delete(q.timers, id)
		q.startAttemptLocked(id)
		return
	}
	q.timers[id] = q.Clock.AfterFunc(d, func() { q.kick(id) })
}

func (q *Queue) kick(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.timers, id)
	if !q.started || q.envs[id] == nil {
		return
	}
	q.startAttemptLocked(id)
}

// startAttemptLocked runs an attempt in its own goroutine once a delivery
// slot is free, holding a virtual clock (if that is the clock) until it is
// done, so that fast-forwarding sees its outcome before moving on. A
// message waiting for a slot may meanwhile be taken by another attempt
// that has a connection open to the same destination (see sibling). mu
// held.
func (q *Queue) startAttemptLocked(id string) {
	if q.running[id] {
		q.again[id] = true
		return
	}
	if q.waiting[id] {
		return
	}
	q.waiting[id] = true
	release := hold(q.Clock)
	q.wg.Add(1)
	q.goLocked(func() {
		defer q.wg.Done()
		defer release()
		select {
		case q.sem <- struct{}{}:
		case <-q.ctx.Done():
			q.mu.Lock()
			delete(q.waiting, id)
			q.mu.Unlock()
			return
		}
		defer func() { <-q.sem }()
		q.mu.Lock()
		delete(q.waiting, id)
		env := q.envs[id]
		if env == nil || q.running[id] || env.Next.After(q.Clock.Now()) {
			// Delivered, being delivered, or deferred by a sibling's
			// attempt while this one waited: its timer takes it on.
			q.mu.Unlock()
			return
		}
		q.running[id] = true
		q.mu.Unlock()
		q.attempt(id)
		q.done(id)
	})
}

// goLocked runs f in a goroutine of its own, as go f() does, but in one
// that ran an attempt before when one is idle: an attempt runs deep
// (SMTP, TLS, the trace), and a fresh goroutine would grow its stack, by
// copying it, every time. At most Concurrency goroutines wait idle, until
// the queue stops. mu held.
func (q *Queue) goLocked(f func()) {
	select {
	case q.runq <- f:
	default:
		go q.runner(q.ctx, f)
	}
}

func (q *Queue) runner(ctx context.Context, f func()) {
	for {
		f()
		f = nil // what the attempt held is not kept while idle
		if q.idle.Add(1) > int32(q.Concurrency) {
			q.idle.Add(-1)
			return
		}
		select {
		case f = <-q.runq:
			q.idle.Add(-1)
		case <-ctx.Done():
			q.idle.Add(-1)
			return
		}
	}
}

// done ends an envelope's attempt and starts the next if one was asked
// for meanwhile.
func (q *Queue) done(id string) {
	q.mu.Lock()
	delete(q.running, id)
	again := q.again[id]
	delete(q.again, id)
	env := q.envs[id]
	q.mu.Unlock()
	if again && env != nil {
		q.schedule(env)
	}
}

// maxBatch bounds how many messages one connection carries in a row.
const maxBatch = 100

// sibling takes a due message whose every pending recipient is in domain
// and that no attempt is delivering, for delivery on a connection already
// open to that domain: one MX lookup and one session serve a burst, as a
// real MTA reuses its connections. The caller must call done(id).
func (q *Queue) sibling(domain, not string) *Envelope {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.Clock.Now()
	for id := range q.byDomain[domain] {
		env := q.envs[id]
		if id == not || env == nil || q.running[id] || env.Next.After(now) {
			continue
		}
		q.running[id] = true
		if t := q.timers[id]; t != nil {
			t.Stop()
			delete(q.timers, id)
		}
		return env.Clone()
	}
	return nil
}

// index records which single-domain envelopes wait for which domain. mu
// held.
func (q *Queue) indexLocked(env *Envelope, add bool) {
	d := ""
	for _, r := range env.Pending() {
		rd := domainOf(r.Addr)
		if d != "" && rd != d {
			d = ""
			break
		}
		d = rd
	}
	if d == "" {
		return
	}
	if !add {
		delete(q.byDomain[d], env.ID)
		return
	}
	if q.byDomain[d] == nil {
		q.byDomain[d] = map[string]bool{}
	}
	q.byDomain[d][env.ID] = true
}

// hold takes a hold on a virtual clock; a no-op on other clocks.
func hold(c clock.Clock) func() {
	if h, ok := c.(interface{ Hold() func() }); ok {
		return h.Hold()
	}
	return func() {}
}

func (q *Queue) emit(e trace.Event) {
	if e.Host == "" {
		e.Host = q.Hostname
	}
	q.Trace.Emit(e)
}
