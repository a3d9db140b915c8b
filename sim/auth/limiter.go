package auth

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Limiter slows down, then stops, password guessing from one client
// address, across sessions and protocols (SMTP AUTH, POP3 and IMAP
// logins may share one). Each failed login from an address makes the
// answer wait: Delay, then twice as long for each further failure within
// Window, up to MaxDelay. After Max failures within Window the address
// is refused without its password being checked, until Window passes
// without a failure. IPv6 clients are counted by their /64, which one
// host usually has to itself. A nil *Limiter limits nothing.
type Limiter struct {
	Delay    time.Duration // first delay (DefaultLimiterDelay when 0)
	MaxDelay time.Duration // longest delay (30s when 0)
	Max      int           // failures before refusing (10 when 0)
	Window   time.Duration // how long failures count (15 minutes when 0)
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu    sync.Mutex
	peers map[netip.Addr]*failures
}

// DefaultLimiterDelay is the delay after a first failed login.
const DefaultLimiterDelay = time.Second

// maxPeers bounds the memory a flood of addresses can take.
const maxPeers = 1 << 16

type failures struct {
	n    int
	last time.Time
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Limiter) window() time.Duration {
	if l.Window > 0 {
		return l.Window
	}
	return 15 * time.Minute
}

func (l *Limiter) max() int {
	if l.Max > 0 {
		return l.Max
	}
	return 10
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

// Blocked reports whether logins from addr are refused for now.
func (l *Limiter) Blocked(addr net.Addr) bool {
	if l == nil {
		return false
	}
	k, ok := PeerKey(addr)
	if !ok {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.peers[k]
	return f != nil && l.now().Sub(f.last) < l.window() && f.n >= l.max()
}

// Failed records a failed login from addr and returns how long to wait
// before answering it.
func (l *Limiter) Failed(addr net.Addr) time.Duration {
	if l == nil {
		return 0
	}
	base := l.Delay
	if base == 0 {
		base = DefaultLimiterDelay
	}
	top := l.MaxDelay
	if top == 0 {
		top = 30 * time.Second
	}
	k, ok := PeerKey(addr)
	if !ok {
		return base
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.peers == nil {
		l.peers = map[netip.Addr]*failures{}
	}
	f := l.peers[k]
	if f == nil || now.Sub(f.last) >= l.window() {
		if len(l.peers) >= maxPeers {
			for a, g := range l.peers {
				if now.Sub(g.last) >= l.window() {
					delete(l.peers, a)
				}
			}
		}
		f = &failures{}
		if len(l.peers) < maxPeers {
			l.peers[k] = f
		}
	}
	f.n++
	f.last = now
	d := base << min(f.n-1, 20)
	return min(d, top)
}
