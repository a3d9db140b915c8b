package netsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/trace"
	"golang.org/x/net/nettest"
)

var start = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// world returns a network with two hosts, a client and a server, on clk.
func world(t *testing.T, clk clock.Clock) (*Network, *Host, *Host, *trace.Recorder) {
	t.Helper()
	rec := trace.NewRecorder(clk.Now, 0)
	n := New(clk, rec)
	a, err := n.AddHost("alice-pc", "192.0.2.10")
	if err != nil {
		t.Fatal(err)
	}
	b, err := n.AddHost("mail.example.org", "192.0.2.25")
	if err != nil {
		t.Fatal(err)
	}
	return n, a, b, rec
}

func pair(t *testing.T, clk clock.Clock) (net.Conn, net.Conn, func(), error) {
	_, a, b, _ := world(t, clk)
	l, err := b.Listen("tcp", ":25")
	if err != nil {
		return nil, nil, nil, err
	}
	c1, err := a.DialContext(context.Background(), "tcp", "192.0.2.25:25")
	if err != nil {
		return nil, nil, nil, err
	}
	c2, err := l.Accept()
	if err != nil {
		return nil, nil, nil, err
	}
	stop := func() {
		c1.Close()
		c2.Close()
		l.Close()
	}
	return c1, c2, stop, nil
}

// TestConformance runs x/net's conformance suite for net.Conn
// implementations (deadlines, close, concurrent use) on netsim.
func TestConformance(t *testing.T) {
	nettest.TestConn(t, func() (net.Conn, net.Conn, func(), error) {
		return pair(t, clock.Wall{})
	})
}

func TestRefusedAndUnreachable(t *testing.T) {
	n, a, _, rec := world(t, clock.NewVirtual(start))
	ctx := context.Background()
	_, err := a.DialContext(ctx, "tcp", "192.0.2.25:25")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("closed port: got %v, want ECONNREFUSED", err)
	}
	_, err = a.DialContext(ctx, "tcp", "203.0.113.9:25")
	if !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("unknown host: got %v, want EHOSTUNREACH", err)
	}
	if err := n.SetDown("mail.example.org", true); err != nil {
		t.Fatal(err)
	}
	_, err = a.DialContext(ctx, "tcp", "mail.example.org:25")
	if !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("down host: got %v, want EHOSTUNREACH", err)
	}
	var actions []string
	for _, e := range rec.Events() {
		if e.Kind == trace.KindConn {
			actions = append(actions, e.Action)
		}
	}
	if got := strings.Join(actions, ","); got != "refused,unreachable,unreachable" {
		t.Fatalf("conn events = %s", got)
	}
}

func TestRefusingPort(t *testing.T) {
	n, a, b, _ := world(t, clock.NewVirtual(start))
	l, _ := b.Listen("tcp", ":25")
	defer l.Close()
	n.Refuse("mail.example.org", 25, true)
	if _, err := a.DialContext(context.Background(), "tcp", "192.0.2.25:25"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("got %v, want ECONNREFUSED", err)
	}
	n.Refuse("mail.example.org", 25, false)
	c, err := a.DialContext(context.Background(), "tcp", "192.0.2.25:25")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// A client that pipelines many commands before reading any reply must not
// deadlock: the buffers take them.
func TestPipelining(t *testing.T) {
	c1, c2, stop, err := pair(t, clock.NewVirtual(start))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for i := range 10 {
		if _, err := fmt.Fprintf(c1, "NOOP %d\r\n", i); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(c2)
	for i := range 10 {
		line, err := r.ReadString('\n')
		if err != nil || line != fmt.Sprintf("NOOP %d\r\n", i) {
			t.Fatalf("line %d = %q, %v", i, line, err)
		}
		fmt.Fprintf(c2, "250 ok %d\r\n", i)
	}
	r1 := bufio.NewReader(c1)
	for i := range 10 {
		line, _ := r1.ReadString('\n')
		if line != fmt.Sprintf("250 ok %d\r\n", i) {
			t.Fatalf("reply %d = %q", i, line)
		}
	}
}

func TestCloseGivesEOFAndErrClosed(t *testing.T) {
	c1, c2, stop, err := pair(t, clock.NewVirtual(start))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c1.Write([]byte("221 bye\r\n"))
	c1.Close()
	b, err := io.ReadAll(c2)
	if err != nil || string(b) != "221 bye\r\n" {
		t.Fatalf("peer read %q, %v; want the bytes then EOF", b, err)
	}
	if _, err := c1.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v, want net.ErrClosed", err)
	}
	if _, err := c1.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after close: %v, want net.ErrClosed", err)
	}
	if _, err := c2.Write([]byte("x")); err == nil {
		t.Fatal("write to a closed peer succeeded")
	}
}

// Deadlines follow the network's clock: on a virtual clock a read times
// out when virtual time passes, not before.
func TestDeadlineOnVirtualClock(t *testing.T) {
	t.Run("SetReadDeadline", func(t *testing.T) {
		testDeadlineOnVirtualClock(t, func(c net.Conn) { c.SetReadDeadline(time.Now().Add(5 * time.Minute)) })
	})
	t.Run("SetReadTimeout", func(t *testing.T) {
		testDeadlineOnVirtualClock(t, func(c net.Conn) { c.(*Conn).SetReadTimeout(5 * time.Minute) })
	})
}

func testDeadlineOnVirtualClock(t *testing.T, arm func(net.Conn)) {
	v := clock.NewVirtual(start)
	c1, _, stop, err := pair(t, v)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	arm(c1)
	done := make(chan error, 1)
	go func() {
		_, err := c1.Read(make([]byte, 10))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("read returned before the virtual deadline: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	v.Advance(4 * time.Minute)
	select {
	case err := <-done:
		t.Fatalf("read returned a minute early: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	v.Advance(2 * time.Minute)
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("got %v, want os.ErrDeadlineExceeded", err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("%v is not a timeout net.Error", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("read did not time out after the virtual deadline")
	}
}

func TestHostDownResetsConnections(t *testing.T) {
	v := clock.NewVirtual(start)
	n, a, b, _ := world(t, v)
	l, _ := b.Listen("tcp", ":25")
	defer l.Close()
	c1, err := a.DialContext(context.Background(), "tcp", "192.0.2.25:25")
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := l.Accept()
	errc := make(chan error, 1)
	go func() {
		_, err := c2.Read(make([]byte, 10))
		errc <- err
	}()
	n.SetDown("alice-pc", true)
	if err := <-errc; !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("server read: %v, want ECONNRESET", err)
	}
	if _, err := c1.Write([]byte("x")); err == nil {
		t.Fatal("write on a reset connection succeeded")
	}
}

func TestCutLinkHoldsBytesUntilRestored(t *testing.T) {
	v := clock.NewVirtual(start)
	n, a, b, _ := world(t, v)
	l, _ := b.Listen("tcp", ":25")
	defer l.Close()
	c1, _ := a.DialContext(context.Background(), "tcp", "192.0.2.25:25")
	c2, _ := l.Accept()
	n.Cut("alice-pc", "mail.example.org", true)
	c1.Write([]byte("HELO\r\n"))
	got := make(chan string, 1)
	go func() {
		buf := make([]byte, 16)
		k, _ := c2.Read(buf)
		got <- string(buf[:k])
	}()
	select {
	case s := <-got:
		t.Fatalf("bytes crossed a cut link: %q", s)
	case <-time.After(20 * time.Millisecond):
	}
	if _, err := a.DialContext(context.Background(), "tcp", "192.0.2.25:25"); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("dial across a cut link: %v", err)
	}
	n.Cut("alice-pc", "mail.example.org", false)
	if s := <-got; s != "HELO\r\n" {
		t.Fatalf("after restore got %q", s)
	}
}

func TestLatencyOnVirtualClock(t *testing.T) {
	v := clock.NewVirtual(start)
	n, a, b, _ := world(t, v)
	n.SetLatency("alice-pc", "mail.example.org", 40*time.Millisecond)
	l, _ := b.Listen("tcp", ":25")
	defer l.Close()
	c1, _ := a.DialContext(context.Background(), "tcp", "192.0.2.25:25")
	c2, _ := l.Accept()
	c1.Write([]byte("ping\n"))
	got := make(chan struct{}, 1)
	go func() {
		c2.Read(make([]byte, 8))
		got <- struct{}{}
	}()
	v.Advance(39 * time.Millisecond)
	select {
	case <-got:
		t.Fatal("bytes arrived before the latency passed")
	case <-time.After(20 * time.Millisecond):
	}
	v.Advance(time.Millisecond)
	select {
	case <-got:
	case <-time.After(2 * time.Second):
		t.Fatal("bytes did not arrive once the latency passed")
	}
}

func TestTraceSplitsLines(t *testing.T) {
	v := clock.NewVirtual(start)
	_, a, b, rec := world(t, v)
	l, _ := b.Listen("tcp", ":25")
	defer l.Close()
	c1, _ := a.DialContext(context.Background(), "tcp", "192.0.2.25:25")
	c2, _ := l.Accept()
	c2.Write([]byte("220 mail.example.org ESMTP\r\n"))
	c1.Write([]byte("EHLO alice-pc\r\nMAIL FROM:<alice@example.org>\r\nRC"))
	c1.Write([]byte("PT TO:<bob@example.net>\r\nDATA\r\n"))
	c2.Write([]byte("354 go ahead\r\n"))
	c1.Write([]byte("Subject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n"))
	c2.Write([]byte("221 bye\r\n"))
	c2.Close()
	c1.Close()
	var got []string
	for _, e := range rec.Events() {
		switch e.Kind {
		case trace.KindWire:
			got = append(got, string(e.Dir)+" "+e.Text)
		case trace.KindConn:
			got = append(got, "conn "+e.Action+" "+e.Text)
		}
	}
	want := []string{
		"conn open ",
		"recv 220 mail.example.org ESMTP",
		"send EHLO alice-pc",
		"send MAIL FROM:<alice@example.org>",
		"send RCPT TO:<bob@example.net>",
		"send DATA",
		"recv 354 go ahead",
		"send Subject: hi\n\nhello",
		"send .",
		"send QUIT",
		"recv 221 bye",
		"conn close closed by server",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("trace:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A connection's open event comes before anything its server writes,
// however soon the server accepts and greets: the trace tells the same
// story on a busy machine as on an idle one.
func TestOpenBeforeGreeting(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	_, a, b, rec := world(t, clock.Wall{})
	l, _ := b.Listen("tcp", ":25")
	defer l.Close()
	const dials = 300
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("220 hi\r\n"))
			c.Close()
		}
	}()
	for range dials {
		c, err := a.DialContext(context.Background(), "tcp", "192.0.2.25:25")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, c)
		c.Close()
	}
	opened := map[string]bool{}
	for _, e := range rec.Events() {
		switch {
		case e.Kind == trace.KindConn && e.Action == "open":
			opened[e.Conn] = true
		case e.Kind == trace.KindWire && !opened[e.Conn]:
			t.Fatalf("%s: %q before the connection's open event", e.Conn, e.Text)
		}
	}
	if len(opened) != dials {
		t.Fatalf("%d open events, want %d", len(opened), dials)
	}
}

func TestPackets(t *testing.T) {
	v := clock.NewVirtual(start)
	n, a, b, rec := world(t, v)
	srv, err := b.ListenPacket("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := a.DialContext(context.Background(), "udp", "192.0.2.25:53")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(net.PacketConn); !ok {
		t.Fatal("a dialled UDP conn must implement net.PacketConn")
	}
	c.Write([]byte("query"))
	buf := make([]byte, 64)
	k, from, err := srv.ReadFrom(buf)
	if err != nil || string(buf[:k]) != "query" {
		t.Fatalf("server got %q, %v", buf[:k], err)
	}
	srv.WriteTo([]byte("answer"), from)
	k, err = c.Read(buf)
	if err != nil || string(buf[:k]) != "answer" {
		t.Fatalf("client got %q, %v", buf[:k], err)
	}
	// A down host loses datagrams; the reader times out on the clock.
	n.SetDown("mail.example.org", true)
	c.Write([]byte("lost"))
	c.SetReadDeadline(time.Now().Add(time.Second))
	errc := make(chan error, 1)
	go func() { _, err := c.Read(buf); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	v.Advance(2 * time.Second)
	if err := <-errc; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want a timeout", err)
	}
	var packets int
	for _, e := range rec.Events() {
		if e.Kind == trace.KindPacket {
			packets++
		}
	}
	if packets != 3 {
		t.Fatalf("%d packet events, want 3", packets)
	}
}

// A socket nobody reads keeps the first 256 datagrams sent to it, in
// order, and drops the rest, as a full receive buffer does; a read after
// Close fails.
func TestPacketReceiveBuffer(t *testing.T) {
	_, a, b, _ := world(t, clock.NewVirtual(start))
	srv, err := b.ListenPacket("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.DialContext(context.Background(), "udp", "192.0.2.25:53")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range packetQueue + 44 {
		if _, err := c.Write([]byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 64)
	for i := range packetQueue {
		k, _, err := srv.ReadFrom(buf)
		if err != nil || string(buf[:k]) != fmt.Sprint(i) {
			t.Fatalf("datagram %d: %q, %v", i, buf[:k], err)
		}
	}
	// The buffer is empty again: the next datagram is kept.
	c.Write([]byte("after"))
	if k, _, err := srv.ReadFrom(buf); err != nil || string(buf[:k]) != "after" {
		t.Fatalf("after draining: %q, %v", buf[:k], err)
	}
	c.Write([]byte("unread"))
	srv.Close()
	if _, _, err := srv.ReadFrom(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v, want net.ErrClosed", err)
	}
}

// A datagram's event names the host it goes to, or its address when no
// host has it, and tells its size unless DescribePacket says more.
func TestPacketEvents(t *testing.T) {
	n, a, _, rec := world(t, clock.NewVirtual(start))
	c, err := a.DialContext(context.Background(), "udp", "192.0.2.25:53")
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("query"))
	c.Close()
	n.DescribePacket = func(proto string, b []byte) string {
		if string(b) == "plain" {
			return ""
		}
		return proto + " " + string(b)
	}
	for _, to := range []string{"192.0.2.25:53", "198.51.100.9:53", "127.0.0.1:53"} {
		c, err := a.DialContext(context.Background(), "udp", to)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("ask"))
		c.Write([]byte("plain"))
		c.Close()
	}
	var got []string
	for _, e := range rec.Events() {
		if e.Kind == trace.KindPacket {
			got = append(got, e.Host+" → "+e.Peer+": "+e.Text)
		}
	}
	want := []string{
		"alice-pc → mail.example.org: 5 bytes — lost: nothing listens on that port",
		"alice-pc → mail.example.org: dns ask — lost: nothing listens on that port",
		"alice-pc → mail.example.org: 5 bytes — lost: nothing listens on that port",
		"alice-pc → 198.51.100.9: dns ask — lost: no such host",
		"alice-pc → 198.51.100.9: 5 bytes — lost: no such host",
		"alice-pc → alice-pc: dns ask — lost: nothing listens on that port",
		"alice-pc → alice-pc: 5 bytes — lost: nothing listens on that port",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("packet events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
