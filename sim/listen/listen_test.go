package listen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/listen/listentest"
)

// echoLoop is a Loop whose sessions say "hello" and then wait for the
// client to close; refusals say "busy" and the cap.
func echoLoop(maxConns, perAddr int) *Loop {
	return &Loop{
		MaxConns: maxConns, MaxConnsPerAddr: perAddr,
		Handle: func(c net.Conn, done func()) {
			defer done()
			defer c.Close()
			io.WriteString(c, "hello\n")
			io.Copy(io.Discard, c)
		},
		Refuse: func(c net.Conn, why Reason) {
			fmt.Fprintf(c, "busy %d\n", why)
		},
	}
}

// serve runs l.Serve(ln); the function it returns waits for Serve's
// error (5 s at most).
func serve(t *testing.T, l *Loop, ln net.Listener) func() error {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- l.Serve(ln) }()
	var once sync.Once
	var err error
	result := func() error {
		once.Do(func() {
			select {
			case err = <-served:
			case <-time.After(5 * time.Second):
				err = errors.New("Serve did not return")
			}
		})
		return err
	}
	t.Cleanup(func() {
		l.Close()
		if err := result(); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve after Close: %v", err)
		}
	})
	return result
}

// firstLine reads what the server says first.
func firstLine(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [64]byte
	n, err := c.Read(b[:])
	if err != nil {
		return "ERR " + err.Error()
	}
	return strings.TrimSpace(string(b[:n]))
}

// Out of file descriptors, accept4 fails with EMFILE (ENFILE for the
// whole system) until a descriptor is free: the loop pauses and accepts
// again, instead of returning and leaving the port dead while the
// process lives on.
func TestServeRidesOutEMFILE(t *testing.T) {
	enfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ENFILE)}
	fails := []error{listentest.EMFILE(), listentest.EMFILE(), enfile, listentest.EMFILE(), listentest.EMFILE()}
	ln := listentest.New(fails...)
	var logged []string
	var mu sync.Mutex
	l := echoLoop(0, 0)
	l.ErrorLog = logFunc(func(format string, v ...any) {
		mu.Lock()
		logged = append(logged, fmt.Sprintf(format, v...))
		mu.Unlock()
	})
	served := serve(t, l, ln)
	start := time.Now()
	c, err := ln.Dial("192.0.2.7")
	if err != nil {
		t.Fatalf("%v; Serve returned %v after %d accept errors", err, served(), ln.Failed())
	}
	defer c.Close()
	if got := firstLine(t, c); got != "hello" {
		t.Fatalf("after EMFILE: %q, want hello", got)
	}
	if ln.Failed() != len(fails) {
		t.Fatalf("%d accept errors, want %d", ln.Failed(), len(fails))
	}
	// 5+10+20+40+80 ms of pauses.
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("accepted again after %v: no pause between failures", d)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logged) != 2 || !strings.Contains(strings.ToLower(logged[0]), "too many open files") || !strings.Contains(logged[1], "accepting again after 5 failures") {
		t.Errorf("logged %q; want one line for the failures and one for the recovery", logged)
	}
}

type logFunc func(format string, v ...any)

func (f logFunc) Printf(format string, v ...any) { f(format, v...) }

// A pause does not hold up Close; an error that is not temporary ends
// Serve with that error.
func TestServeStops(t *testing.T) {
	many := make([]error, 100)
	for i := range many {
		many[i] = listentest.EMFILE()
	}
	l := echoLoop(0, 0)
	served := make(chan error, 1)
	go func() { served <- l.Serve(listentest.New(many...)) }()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	l.Close()
	select {
	case err := <-served:
		if !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve after Close: %v", err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("Serve returned %v after Close", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still pausing after Close")
	}
	// After Close, Serve closes its listener and returns at once.
	ln := listentest.New()
	if err := l.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve on a closed loop: %v", err)
	}
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the listener given to a closed loop is open: %v", err)
	}
	if err := l.Serve(nil); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve(nil) on a closed loop: %v", err)
	}

	bad := errors.New("listener broken")
	l2 := echoLoop(0, 0)
	if err := l2.Serve(listentest.New(bad)); err != bad {
		t.Errorf("Serve: %v, want %v", err, bad)
	}
}

func TestTemporary(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{listentest.EMFILE(), true},
		{fmt.Errorf("wrapped: %w", syscall.ENFILE), true},
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ENOBUFS)}, true},
		{&net.OpError{Op: "accept", Err: net.ErrClosed}, false},
		{io.EOF, false},
		{errors.New("no"), false},
	} {
		if got := Temporary(c.err); got != c.want {
			t.Errorf("Temporary(%v) = %v", c.err, got)
		}
	}
}

// One address holding its cap's worth of connections is refused the
// next; another address still gets in; once one closes, the first gets
// in again. The total cap refuses everyone.
func TestCaps(t *testing.T) {
	ln := listentest.New()
	l := echoLoop(5, 3)
	serve(t, l, ln)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	dial := func(ip, want string) net.Conn {
		t.Helper()
		c, err := ln.Dial(ip)
		if err != nil {
			t.Fatal(err)
		}
		if got := firstLine(t, c); got != want {
			t.Fatalf("from %s: %q, want %q", ip, got, want)
		}
		return c
	}
	for range 3 {
		held = append(held, dial("192.0.2.1", "hello"))
	}
	c := dial("192.0.2.1", fmt.Sprintf("busy %d", TooManyFromAddr))
	if got := firstLine(t, c); !strings.HasPrefix(got, "ERR") {
		t.Errorf("a refused connection stays open: %q", got)
	}
	held = append(held, dial("::ffff:192.0.2.2", "hello"), dial("192.0.2.2", "hello"))
	if n := l.Conns(); n != 5 {
		t.Fatalf("Conns() = %d, want 5", n)
	}
	dial("192.0.2.3", fmt.Sprintf("busy %d", TooMany))
	held[0].Close()
	waitFor(t, func() bool { return l.Conns() == 4 })
	held[0] = dial("192.0.2.1", "hello")
}

// Negative caps: no bound.
func TestNoCaps(t *testing.T) {
	ln := listentest.New()
	l := echoLoop(-1, -1)
	serve(t, l, ln)
	for range DefaultMaxConnsPerAddr + 5 {
		c, err := ln.Dial("192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := firstLine(t, c); got != "hello" {
			t.Fatalf("%q", got)
		}
	}
}

// A flood over the cap costs at most maxRefusing answers at once: the
// rest are closed without one.
func TestRefusalsBounded(t *testing.T) {
	ln := listentest.New()
	release := make(chan struct{})
	var refusing sync.WaitGroup
	l := &Loop{
		MaxConns: -1, MaxConnsPerAddr: 1,
		Handle: func(c net.Conn, done func()) {
			defer done()
			io.Copy(io.Discard, c)
		},
		Refuse: func(c net.Conn, why Reason) {
			refusing.Done()
			<-release // a client that never reads
		},
	}
	serve(t, l, ln)
	first, err := ln.Dial("192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	refusing.Add(maxRefusing)
	var clients []net.Conn
	for range maxRefusing {
		c, err := ln.Dial("192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	refusing.Wait()
	c, err := ln.Dial("192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if got := firstLine(t, c); !strings.HasPrefix(got, "ERR") {
		t.Errorf("connection %d over the cap: %q, want it closed without an answer", maxRefusing+1, got)
	}
	close(release)
	for _, c := range clients {
		if got := firstLine(t, c); !strings.HasPrefix(got, "ERR") {
			t.Errorf("a refused connection stays open: %q", got)
		}
	}
}

// Shutdown stops accepting and waits for the sessions (until ctx ends);
// Close closes them.
func TestShutdownAndClose(t *testing.T) {
	ln := listentest.New()
	l := echoLoop(0, 0)
	served := serve(t, l, ln)
	c, err := ln.Dial("192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	firstLine(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := l.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a session open: %v", err)
	}
	if err := served(); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	if _, err := ln.Dial("192.0.2.1"); err == nil {
		t.Fatal("a connection after Shutdown")
	}
	// The session is still there; the client closes it: Shutdown returns.
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.Close()
	}()
	if err := l.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	ln2 := listentest.New()
	l2 := echoLoop(0, 0)
	serve(t, l2, ln2)
	c2, err := ln2.Dial("192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	firstLine(t, c2)
	l2.Close()
	if got := firstLine(t, c2); !strings.HasPrefix(got, "ERR") {
		t.Fatalf("after Close the session's connection says %q", got)
	}
	if err := l2.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Shutdown ends the wait of a session idle when it begins, and of one
// that turns idle after it, finishing a command: each reads a timeout,
// Draining says why, and says bye. Shutdown returns once both are gone.
func TestShutdownInterruptsIdle(t *testing.T) {
	working, release := make(chan struct{}), make(chan struct{})
	l := &Loop{}
	l.Handle = func(c net.Conn, done func()) {
		defer done()
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(time.Minute))
			l.Idle(c, true)
			line, err := br.ReadString('\n')
			l.Idle(c, false)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && l.Draining() {
				io.WriteString(c, "bye\n")
				return
			}
			if err != nil {
				return
			}
			if line == "work\n" {
				working <- struct{}{}
				<-release
				io.WriteString(c, "done\n")
			}
		}
	}
	ln := listentest.New()
	serve(t, l, ln)
	idle, err := ln.Dial("192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	busy, err := ln.Dial("192.0.2.2")
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	defer busy.Close()
	io.WriteString(busy, "work\n")
	<-working
	if l.Draining() {
		t.Fatal("draining before Shutdown")
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- l.Shutdown(ctx)
	}()
	if got := firstLine(t, idle); got != "bye" {
		t.Fatalf("the idle session says %q", got)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v while a command was being answered", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(busy)
	for _, want := range []string{"done\n", "bye\n"} {
		if got, err := br.ReadString('\n'); got != want {
			t.Fatalf("the busy session says %q (%v), want %q", got, err, want)
		}
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClientAddr(t *testing.T) {
	for _, c := range []struct {
		a    net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 1}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1}, "2001:db8::1"},
		{&net.UnixAddr{Name: "@x", Net: "unix"}, "invalid IP"},
		{nil, "invalid IP"},
		{pipeAddr("10.0.0.1:25"), "10.0.0.1"},
		{pipeAddr("pipe"), "invalid IP"},
	} {
		if got := ClientAddr(c.a).String(); got != c.want {
			t.Errorf("ClientAddr(%v) = %s, want %s", c.a, got, c.want)
		}
	}
}

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }
