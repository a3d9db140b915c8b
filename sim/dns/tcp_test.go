package dns

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	miekg "github.com/miekg/dns"
)

// These tests hold TCP connections to a server on netsim, whose deadlines
// run on the virtual clock: a timeout of seconds passes in no wall time.

// closedByServer reports whether the server has closed its end of c: on
// netsim, a write of nothing fails once the peer stopped reading.
func closedByServer(c net.Conn) bool {
	_, err := c.Write(nil)
	return err != nil
}

// runUntil moves w's virtual clock on, 100 ms at a time, while a timer is
// pending and until cond holds, letting the server's goroutines run in
// between; it returns the virtual time that passed, to within a step. It
// fails the test when more than limit passes, or 10 seconds of wall time.
func runUntil(t *testing.T, w *world, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	const step = 100 * time.Millisecond
	begin, wall := w.v.Now(), time.Now()
	for !cond() {
		if took := w.v.Now().Sub(begin); took > limit {
			t.Fatalf("%s: not after %v of virtual time", what, took)
		}
		if time.Since(wall) > 10*time.Second {
			t.Fatalf("%s: not after 10 s of wall time (%v virtual), %d timers pending",
				what, w.v.Now().Sub(begin), w.v.Pending())
		}
		next, ok := w.v.Next()
		if !ok {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		// Let the server act on what has arrived first: virtual time
		// must not outrun it (a read that finds its deadline passed
		// fails, data waiting or not).
		time.Sleep(10 * time.Millisecond)
		if end := w.v.Now().Add(step); next.After(end) {
			next = end
		}
		w.v.AdvanceTo(next)
	}
	return w.v.Now().Sub(begin)
}

// about fails the test unless took is d, to within the steps of runUntil
// and the server's own pace.
func about(t *testing.T, what string, took, d time.Duration) {
	t.Helper()
	if took < d-time.Second/10 || took > d+time.Second/2 {
		t.Fatalf("%s after %v, want %v", what, took, d)
	}
}

// dialNS opens a TCP connection from mail.example.org to ns.example.
func dialNS(t *testing.T, w *world) net.Conn {
	t.Helper()
	c, err := w.mail.DialContext(context.Background(), "tcp", "192.0.2.53:53")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// frame is m packed with its two-byte length (RFC 1035 §4.2.2).
func frame(t *testing.T, m *miekg.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

// RFC 7766 §6.2.3 asks servers for an idle timeout; reading each query
// whole within its timeout defeats a client that sends a byte at a time.
func TestTCPTimeouts(t *testing.T) {
	t.Run("a connection that asks nothing", func(t *testing.T) {
		w := newWorld(t, false)
		c := dialNS(t, w)
		took := runUntil(t, w, time.Minute, "closing a silent connection", func() bool { return closedByServer(c) })
		about(t, "closed", took, tcpReadTimeout)
	})
	t.Run("idle after an answer", func(t *testing.T) {
		w := newWorld(t, false)
		c := dialNS(t, w)
		m := new(miekg.Msg)
		m.SetQuestion("example.net.", miekg.TypeMX)
		co := &miekg.Conn{Conn: c}
		if err := co.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
		if _, err := co.ReadMsg(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // for the server to wait for the next query
		took := runUntil(t, w, time.Minute, "closing an idle connection", func() bool { return closedByServer(c) })
		about(t, "closed", took, tcpIdleTimeout)
	})
}

// bigZone has a TXT RRset of about 16 KB at fat.big.test.
func bigZone(t *testing.T) *Zone {
	t.Helper()
	text := "$ORIGIN big.test.\n$TTL 3600\n" +
		"@ SOA ns.big.test. hostmaster.big.test. 1 7200 900 1209600 300\n" +
		"@ NS ns\nns A 192.0.2.53\n" +
		"$GENERATE 1-60 fat TXT \"$ " + strings.Repeat("x", 250) + "\"\n"
	z, err := LoadZone(strings.NewReader(text), "big.test.", "big.test.zone")
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// A client that asks and never reads must not hold the server: without a
// write deadline the server's write blocks for ever once the window is
// full, the connection with it, and Shutdown waits for it (RFC 7766 §10
// asks servers to manage their TCP connections against such abuse).
func TestTCPClientThatDoesNotRead(t *testing.T) {
	w := newWorld(t, false)
	w.ns.SetZone(bigZone(t))
	c := dialNS(t, w)
	m := new(miekg.Msg)
	m.SetQuestion("fat.big.test.", miekg.TypeTXT)
	q := frame(t, m)
	// 40 answers of 16 KB: more than the connection's window holds.
	if _, err := c.Write([]byte(strings.Repeat(string(q), 40))); err != nil {
		t.Fatal(err)
	}
	took := runUntil(t, w, time.Minute, "closing a connection whose client does not read",
		func() bool { return closedByServer(c) })
	about(t, "closed", took, tcpWriteTimeout)
	done := make(chan struct{})
	go func() { w.ns.Shutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown waits for a connection whose client does not read")
	}
	// What the client gets is cut short: the window's worth, not the
	// 40 answers of 16 KB.
	c.SetReadDeadline(time.Now().Add(time.Second))
	if n, _ := io.Copy(io.Discard, c); n >= 400_000 {
		t.Fatalf("the client read %d bytes, every answer", n)
	}
}
