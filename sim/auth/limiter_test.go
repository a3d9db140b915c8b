package auth

import (
	"net"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	l := &Limiter{Delay: time.Second, MaxDelay: 5 * time.Second, Max: 4, Window: time.Minute, Now: func() time.Time { return now }}
	a := &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 1000}
	b := &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 2000} // same host, other connection
	c := &net.TCPAddr{IP: net.ParseIP("198.51.100.7"), Port: 1000}
	var got []time.Duration
	for _, addr := range []net.Addr{a, b, a, b} {
		if l.Blocked(addr) {
			t.Fatalf("blocked after %d failures", len(got))
		}
		got = append(got, l.Failed(addr))
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
	if l.Blocked(c) || l.Failed(c) != time.Second {
		t.Fatal("another address pays for the first")
	}
	now = now.Add(2 * time.Minute)
	if l.Blocked(a) {
		t.Fatal("still blocked after the window")
	}
	if d := l.Failed(a); d != time.Second {
		t.Fatalf("delay after the window %v", d)
	}
	// IPv6: one /64 is one client.
	x := &net.TCPAddr{IP: net.ParseIP("2001:db8::1")}
	y := &net.TCPAddr{IP: net.ParseIP("2001:db8::ffff:2")}
	l.Failed(x)
	if d := l.Failed(y); d != 2*time.Second {
		t.Fatalf("IPv6 /64 not counted together: %v", d)
	}
	var nl *Limiter
	if nl.Blocked(a) || nl.Failed(a) != 0 {
		t.Fatal("nil limiter limits")
	}
}
