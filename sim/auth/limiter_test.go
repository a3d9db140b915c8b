package auth

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
)

var t0 = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// fail runs a login from addr that fails, and returns its delay; the
// test fails if the address is refused.
func fail(t *testing.T, l *Limiter, addr net.Addr) time.Duration {
	t.Helper()
	a, ok := l.Begin(addr)
	if !ok {
		t.Fatalf("%v refused", addr)
	}
	defer a.Done()
	return a.Failed()
}

func tcp(ip string, port int) *net.TCPAddr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }

func TestLimiter(t *testing.T) {
	clk := clock.NewVirtual(t0)
	l := &Limiter{Delay: time.Second, MaxDelay: 5 * time.Second, Max: 4, Window: time.Minute, Clock: clk}
	a := tcp("192.0.2.10", 1000)
	b := tcp("192.0.2.10", 2000) // same host, other connection
	c := tcp("198.51.100.7", 1000)
	var got []time.Duration
	for _, addr := range []net.Addr{a, b, a, b} {
		if l.Blocked(addr) {
			t.Fatalf("blocked after %d failures", len(got))
		}
		got = append(got, fail(t, l, addr))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	if !l.Blocked(a) || !l.Blocked(b) {
		t.Fatal("not blocked after Max failures")
	}
	if try, ok := l.Begin(a); ok || try != nil {
		t.Fatal("Begin lets a blocked address in")
	}
	if l.Blocked(c) || fail(t, l, c) != time.Second {
		t.Fatal("another address pays for the first")
	}
	// Refused attempts do not lengthen the refusal: it ends a Window
	// after the last failure, on the limiter's clock.
	clk.Advance(59 * time.Second)
	if _, ok := l.Begin(a); ok {
		t.Fatal("let in before the window passed")
	}
	clk.Advance(time.Second)
	if l.Blocked(a) {
		t.Fatal("still blocked after the window")
	}
	if d := fail(t, l, a); d != time.Second {
		t.Fatalf("delay after the window %v, want a fresh start", d)
	}
	// IPv6: one /64 is one client.
	x := tcp("2001:db8::1", 1)
	y := tcp("2001:db8::ffff:2", 2)
	z := tcp("2001:db8:0:1::1", 3)
	fail(t, l, x)
	if d := fail(t, l, y); d != 2*time.Second {
		t.Fatalf("IPv6 /64 not counted together: %v", d)
	}
	if d := fail(t, l, z); d != time.Second {
		t.Fatalf("another /64 counted with the first: %v", d)
	}
	// An IPv4-mapped address is the IPv4 client.
	fail(t, l, tcp("203.0.113.5", 4))
	if d := fail(t, l, tcp("::ffff:203.0.113.5", 5)); d != 2*time.Second {
		t.Fatalf("IPv4-mapped address counted apart: %v", d)
	}
}

// Failures count while each comes within Window of the one before.
func TestLimiterWindowSlides(t *testing.T) {
	clk := clock.NewVirtual(t0)
	l := &Limiter{Delay: -1, Max: 3, Window: time.Minute, Clock: clk}
	a := tcp("192.0.2.1", 1)
	for range 2 {
		if d := fail(t, l, a); d != 0 {
			t.Fatalf("negative Delay delays %v", d)
		}
		clk.Advance(50 * time.Second)
	}
	fail(t, l, a) // the third, 100 s after the first
	if !l.Blocked(a) {
		t.Fatal("failures 50 s apart did not add up")
	}
}

// A login being checked counts: many connections at once get Max
// guesses, no more; a login begun while Max are checked waits for one
// to end, and goes in when it ends well.
func TestLimiterParallel(t *testing.T) {
	l := &Limiter{Delay: -1, Max: 5, Clock: clock.NewVirtual(t0)}
	a := tcp("192.0.2.1", 1)
	var tries []*Attempt
	for i := range 5 {
		try, ok := l.Begin(a)
		if !ok {
			t.Fatalf("refused at %d logins in progress", i)
		}
		tries = append(tries, try)
	}
	if l.Blocked(a) {
		t.Fatal("5 logins in progress, none failed, block the address")
	}
	sixth := make(chan *Attempt)
	go func() {
		try, ok := l.Begin(a)
		if !ok {
			t.Error("a sixth login refused although none failed")
		}
		sixth <- try
	}()
	select {
	case <-sixth:
		t.Fatal("a sixth login begun while five are checked")
	case <-time.After(50 * time.Millisecond):
	}
	tries[0].Done() // a right password
	tries[0].Done()
	tries[0].Failed() // too late: ended
	select {
	case tries[0] = <-sixth:
	case <-time.After(5 * time.Second):
		t.Fatal("the sixth login still waits after one ended")
	}
	for _, try := range tries {
		try.Failed()
		try.Done()
	}
	if !l.Blocked(a) {
		t.Fatal("not blocked after 5 failures")
	}

	// Concurrent goroutines: exactly Max are let in.
	if in, _ := logins(a, 50, 0, func(try *Attempt) { try.Failed() }); in != 10 {
		t.Fatalf("%d of 50 parallel logins checked, want 10", in)
	}
	// Right passwords: 50 at once all get in, Max at a time.
	in, most := logins(a, 50, time.Millisecond, (*Attempt).Done)
	if in != 50 || most > 10 {
		t.Fatalf("%d of 50 right logins went in, at most %d at a time; want 50, at most 10", in, most)
	}
}

// logins runs n logins from addr at once on a Limiter with Max 10, each
// checking its password for check, then ended by end, and returns how
// many were let in and how many at most were in at the same time.
func logins(addr net.Addr, n int, check time.Duration, end func(*Attempt)) (in, most int) {
	l := &Limiter{Delay: -1, Max: 10}
	var wg sync.WaitGroup
	var mu sync.Mutex
	now := 0
	for range n {
		wg.Go(func() {
			try, ok := l.Begin(addr)
			if !ok {
				return
			}
			mu.Lock()
			in++
			now++
			most = max(most, now)
			mu.Unlock()
			time.Sleep(check)
			mu.Lock()
			now--
			mu.Unlock()
			end(try)
		})
	}
	wg.Wait()
	return in, most
}

// The nil Limiter limits nothing; addresses without an IP go uncounted
// but are still delayed; what is remembered is bounded.
func TestLimiterEdges(t *testing.T) {
	var nl *Limiter
	a := tcp("192.0.2.1", 1)
	try, ok := nl.Begin(a)
	if !ok || try != nil || nl.Blocked(a) || try.Failed() != 0 {
		t.Fatal("nil limiter limits")
	}
	try.Done()

	l := &Limiter{Max: 1}
	pipe := &net.UnixAddr{Name: "@x", Net: "unix"}
	for range 3 {
		if d := fail(t, l, pipe); d != DefaultLimiterDelay {
			t.Fatalf("uncounted address delayed %v", d)
		}
	}
	if d := fail(t, l, nil); d != DefaultLimiterDelay {
		t.Fatalf("nil address delayed %v", d)
	}
	// The defaults: 1 s doubling to 30 s, refused after 10.
	l = &Limiter{}
	var got []time.Duration
	for range DefaultLimiterMax {
		got = append(got, fail(t, l, a))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30, 30, 30}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("default delays %v", got)
		}
	}
	if !l.Blocked(a) {
		t.Fatal("not blocked after 10 failures")
	}
	// A successful login from a new address leaves nothing behind.
	b := tcp("192.0.2.2", 1)
	try, _ = l.Begin(b)
	try.Done()
	if _, ok := l.peers[mustKey(t, b)]; ok || len(l.peers) != 1 {
		t.Fatalf("remembered %d addresses", len(l.peers))
	}
}

func mustKey(t *testing.T, a net.Addr) netip.Addr {
	t.Helper()
	k, ok := PeerKey(a)
	if !ok {
		t.Fatalf("no key for %v", a)
	}
	return k
}

// A flood of addresses does not grow the map without bound; stale
// entries make way for new ones.
func TestLimiterBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("fills the table")
	}
	clk := clock.NewVirtual(t0)
	l := &Limiter{Delay: -1, Window: time.Minute, Clock: clk}
	ip := func(i int) *net.TCPAddr { return &net.TCPAddr{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i))} }
	for i := range maxPeers + 10 {
		fail(t, l, ip(i))
	}
	if len(l.peers) != maxPeers {
		t.Fatalf("%d addresses remembered, want %d", len(l.peers), maxPeers)
	}
	clk.Advance(time.Minute)
	fail(t, l, ip(maxPeers+20))
	if len(l.peers) != 1 {
		t.Fatalf("stale addresses kept: %d", len(l.peers))
	}
}
