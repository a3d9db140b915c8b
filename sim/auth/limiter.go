package auth

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
)

// Limiter slows down, then stops, password guessing from one client
// address, across sessions and protocols: SMTP AUTH, POP3 and IMAP logins
// share one in `mailhop serve`, so a guess on one counts on the others.
//
// Each failed login from an address makes its answer wait: Delay, then
// twice as long for each further failure, up to MaxDelay. Failures count
// while each comes within Window of the one before. Once Max have counted,
// the address is refused, without its password being checked (a right
// one is refused too), until Window has passed since its last failure;
// then it starts again from nothing. Refused attempts are not failures:
// they neither lengthen the refusal nor cost the server a password check.
//
// A login is counted from its Begin: logins still being checked count as
// failures until they end, so an address that opens many connections at
// once gets no more than Max guesses either. A login begun while Max are
// being checked waits for one to end (at most MaxWait) rather than being
// refused: many right passwords at once from one address (a client that
// opens ten connections, users behind one NAT) all get in.
//
// With the zero values (those of `mailhop serve`): 1 s, doubling to 30 s;
// refused after 10 failures, until 15 minutes pass without one.
//
// IPv6 clients are counted by their /64, which one host usually has to
// itself. A nil *Limiter limits nothing (and delays nothing).
type Limiter struct {
	Delay    time.Duration // first delay (DefaultLimiterDelay when 0, none when negative)
	MaxDelay time.Duration // longest delay (30s when 0)
	Max      int           // failures before refusing (10 when 0)
	Window   time.Duration // how long a failure counts (15 minutes when 0)
	// Clock measures Window (the wall clock when nil). Give it the
	// servers' clock: in a simulation, the virtual one.
	Clock clock.Clock

	mu    sync.Mutex
	peers map[netip.Addr]*failures
	swept time.Time // when a full table was last swept
}

// Defaults of the Limiter's zero-valued fields.
const (
	DefaultLimiterDelay    = time.Second // the delay after a first failed login
	DefaultLimiterMaxDelay = 30 * time.Second
	DefaultLimiterMax      = 10
	DefaultLimiterWindow   = 15 * time.Minute
)

// maxPeers bounds the memory a flood of addresses can take.
const maxPeers = 1 << 16

// failures is what the Limiter knows of one address.
type failures struct {
	n       int           // failures, each within Window of the one before
	last    time.Time     // of the last failure
	pending int           // logins begun and not ended
	ended   chan struct{} // closed when a pending login ends, if a Begin waits
}

// MaxWait is how long a Begin waits for one of the Max logins being
// checked from its address to end; then it is refused. Checking a
// password takes milliseconds: a wait this long means a flood.
const MaxWait = 10 * time.Second

// end ends a pending login of f, waking the Begins that wait; mu held.
func (f *failures) end() {
	f.pending--
	if f.ended != nil {
		close(f.ended)
		f.ended = nil
	}
}

func (l *Limiter) now() time.Time {
	if l.Clock != nil {
		return l.Clock.Now()
	}
	return time.Now()
}

func (l *Limiter) window() time.Duration {
	if l.Window > 0 {
		return l.Window
	}
	return DefaultLimiterWindow
}

func (l *Limiter) max() int {
	if l.Max > 0 {
		return l.Max
	}
	return DefaultLimiterMax
}

// delay is the wait after the nth failure in a row.
func (l *Limiter) delay(n int) time.Duration {
	d := l.Delay
	switch {
	case d < 0:
		return 0
	case d == 0:
		d = DefaultLimiterDelay
	}
	top := l.MaxDelay
	if top <= 0 {
		top = DefaultLimiterMaxDelay
	}
	for i := 1; i < n && d < top; i++ {
		d *= 2
	}
	return min(d, top)
}

// PeerKey returns the key a client address is counted under: the IP
// address (the /64 for IPv6), or false when addr has none.
func PeerKey(addr net.Addr) (netip.Addr, bool) {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case nil:
		return ip, false
	default:
		ap, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return ip, false
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if !ip.IsValid() {
		return ip, false
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, true
}

// counted returns the failures of f that still count at now, and the
// logins in progress.
func (l *Limiter) counted(f *failures, now time.Time) int {
	if f == nil {
		return 0
	}
	if f.n > 0 && now.Sub(f.last) >= l.window() {
		f.n = 0
	}
	return f.n + f.pending
}

// Blocked reports whether logins from addr are refused for now. Begin
// decides for itself; Blocked lets a server refuse before it asks for a
// password.
func (l *Limiter) Blocked(addr net.Addr) bool {
	if l == nil {
		return false
	}
	k, ok := PeerKey(addr)
	if !ok {
		return false
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.peers[k]
	return f != nil && l.counted(f, now)-f.pending >= l.max()
}

// Begin starts a login from addr, before its password is checked. While
// Max logins from the address are being checked it waits for one to end
// (at most MaxWait). It returns false when the address is refused.
// Otherwise the login counts
// as a failure until it ends: call the Attempt's Failed if the password
// was wrong, and its Done in any case (Done after Failed does nothing, so
// `defer a.Done()` will do). The Attempt of a nil Limiter is nil, and its
// methods do nothing.
func (l *Limiter) Begin(addr net.Addr) (*Attempt, bool) {
	if l == nil {
		return nil, true
	}
	a := &Attempt{l: l}
	k, ok := PeerKey(addr)
	if !ok {
		return a, true // not counted, but still delayed
	}
	var deadline *time.Timer
	defer func() {
		if deadline != nil {
			deadline.Stop()
		}
	}()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.peers[k]
	for f != nil && l.counted(f, l.now()) >= l.max() {
		if f.n >= l.max() {
			return nil, false
		}
		// Max logins in flight: wait for one to end.
		if f.ended == nil {
			f.ended = make(chan struct{})
		}
		ended := f.ended
		if deadline == nil {
			deadline = time.NewTimer(MaxWait)
		}
		l.mu.Unlock()
		select {
		case <-ended:
			l.mu.Lock()
		case <-deadline.C:
			l.mu.Lock()
			return nil, false
		}
		f = l.peers[k] // Done may have forgotten it
	}
	now := l.now()
	if f == nil {
		if l.peers == nil {
			l.peers = map[netip.Addr]*failures{}
		}
		if len(l.peers) >= maxPeers && now.Sub(l.swept) >= time.Second {
			// At most once a second: a sweep walks the whole table.
			l.swept = now
			for p, g := range l.peers {
				if g.pending == 0 && now.Sub(g.last) >= l.window() {
					delete(l.peers, p)
				}
			}
		}
		if len(l.peers) >= maxPeers {
			return a, true // a flood of addresses: this one goes uncounted
		}
		f = &failures{}
		l.peers[k] = f
	}
	f.pending++
	a.f, a.key = f, k
	return a, true
}

// Attempt is one login from an address, from Begin until it ends.
type Attempt struct {
	l     *Limiter
	f     *failures // nil when not counted
	key   netip.Addr
	ended bool
}

// Failed ends the attempt as a failed login and returns how long to wait
// before answering it; 0 for a nil Attempt or one already ended.
func (a *Attempt) Failed() time.Duration {
	if a == nil || a.ended {
		return 0
	}
	a.ended = true
	l := a.l
	if a.f == nil {
		return l.delay(1)
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := a.f
	f.end()
	l.counted(f, now) // forget failures that no longer count
	f.n++
	f.last = now
	return l.delay(f.n)
}

// Done ends the attempt; after a successful login it leaves the
// failures of the address as they were.
func (a *Attempt) Done() {
	if a == nil || a.ended {
		return
	}
	a.ended = true
	if a.f == nil {
		return
	}
	l := a.l
	l.mu.Lock()
	defer l.mu.Unlock()
	a.f.end()
	if a.f.pending == 0 && a.f.n == 0 && l.peers[a.key] == a.f {
		delete(l.peers, a.key) // nothing to remember
	}
}
