package netsim

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/trace"
)

// logSniffer writes down what it is told, one line a call.
type logSniffer struct {
	mu    sync.Mutex
	lines []string
	times []time.Time
}

func (s *logSniffer) add(at time.Time, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, fmt.Sprintf(format, args...))
	s.times = append(s.times, at)
}

func (s *logSniffer) Open(id string, client, server netip.AddrPort, at time.Time) {
	s.add(at, "open %s %v>%v", id, client, server)
}

func (s *logSniffer) Failed(client, server netip.AddrPort, refused bool, at time.Time) {
	s.add(at, "failed %v>%v refused=%v", client, server, refused)
}

func (s *logSniffer) Data(id string, fromClient bool, p []byte, at time.Time) {
	s.add(at, "data %s client=%v %q", id, fromClient, p)
}

func (s *logSniffer) Close(id string, byClient, reset bool, at time.Time) {
	s.add(at, "close %s client=%v reset=%v", id, byClient, reset)
}

func (s *logSniffer) Datagram(from, to netip.AddrPort, p []byte, at time.Time) {
	s.add(at, "udp %v>%v %q", from, to, p)
}

func (s *logSniffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.lines, "\n")
}

func TestSnifferStream(t *testing.T) {
	v := clock.NewVirtual(start)
	n, a, b, _ := world(t, v)
	s := &logSniffer{}
	n.SetSniffer(s)
	l, err := b.Listen("tcp", ":25")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c1, err := a.DialContext(context.Background(), "tcp", "192.0.2.25:25")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	v.Advance(time.Second)
	io.WriteString(c2, "220 hi\r\n")
	c1.Read(make([]byte, 64))
	io.WriteString(c1, "QUIT\r\n")
	c1.(*Conn).CloseWrite()
	c1.Close()
	io.ReadAll(c2)
	c2.Close()
	want := `open c1 192.0.2.10:49152>192.0.2.25:25
data c1 client=false "220 hi\r\n"
data c1 client=true "QUIT\r\n"
close c1 client=true reset=false
close c1 client=true reset=false
close c1 client=false reset=false`
	if got := s.String(); got != want {
		t.Fatalf("sniffer saw:\n%s\nwant:\n%s", got, want)
	}
	if !s.times[0].Equal(start) || !s.times[1].Equal(start.Add(time.Second)) {
		t.Errorf("times %v, %v: want the network's clock", s.times[0], s.times[1])
	}
	if c1.LocalAddr().String() != "192.0.2.10:49152" {
		t.Errorf("the client's address %v is not what the sniffer saw", c1.LocalAddr())
	}
}

func TestSnifferFailedDials(t *testing.T) {
	n, a, b, _ := world(t, clock.NewVirtual(start))
	s := &logSniffer{}
	n.SetSniffer(s)
	ctx := context.Background()
	a.DialContext(ctx, "tcp", "192.0.2.25:25")      // nothing listens: refused
	a.DialContext(ctx, "tcp", "203.0.113.9:25")     // no such host: a SYN into the void
	a.DialContext(ctx, "tcp", "nowhere.example:25") // a name no host has: nothing sent
	l, _ := b.Listen("tcp", ":25")
	defer l.Close()
	n.Refuse("mail.example.org", 25, true)
	a.DialContext(ctx, "tcp", "mail.example.org:25") // refused by the firewall
	n.Refuse("mail.example.org", 25, false)
	n.SetDown("mail.example.org", true)
	a.DialContext(ctx, "tcp", "192.0.2.25:25") // down: no answer
	n.SetDown("mail.example.org", false)
	n.SetDown("alice-pc", true)
	a.DialContext(ctx, "tcp", "192.0.2.25:25") // the caller is down: nothing leaves it
	want := `failed 192.0.2.10:49152>192.0.2.25:25 refused=true
failed 192.0.2.10:49153>203.0.113.9:25 refused=false
failed 192.0.2.10:49154>192.0.2.25:25 refused=true
failed 192.0.2.10:49155>192.0.2.25:25 refused=false`
	if got := s.String(); got != want {
		t.Fatalf("sniffer saw:\n%s\nwant:\n%s", got, want)
	}
}

// A host that goes down resets its connections: the reset comes from its
// end.
func TestSnifferHostDownResets(t *testing.T) {
	for _, down := range []string{"mail.example.org", "alice-pc"} {
		n, a, b, _ := world(t, clock.NewVirtual(start))
		s := &logSniffer{}
		n.SetSniffer(s)
		l, _ := b.Listen("tcp", ":25")
		c1, err := a.DialContext(context.Background(), "tcp", "192.0.2.25:25")
		if err != nil {
			t.Fatal(err)
		}
		c2, _ := l.Accept()
		n.SetDown(down, true)
		c1.Close()
		c2.Close()
		l.Close()
		want := fmt.Sprintf("open c1 192.0.2.10:49152>192.0.2.25:25\nclose c1 client=%v reset=true", down == "alice-pc")
		// The ends' closes after the reset are reported too; a capture
		// ignores them.
		got := strings.Join(strings.Split(s.String(), "\n")[:2], "\n")
		if got != want {
			t.Errorf("%s down: sniffer saw:\n%s\nwant first:\n%s", down, s, want)
		}
	}
}

func TestSnifferDatagrams(t *testing.T) {
	n, a, b, _ := world(t, clock.NewVirtual(start))
	s := &logSniffer{}
	n.SetSniffer(s)
	srv, err := b.ListenPacket("udp", ":53")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := a.DialContext(context.Background(), "udp", "192.0.2.25:53")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("q1"))
	buf := make([]byte, 64)
	_, from, _ := srv.ReadFrom(buf)
	srv.WriteTo([]byte("a1"), from)
	c.Read(buf)
	n.SetDown("mail.example.org", true)
	c.Write([]byte("q2")) // lost, but sent
	n.SetDown("mail.example.org", false)
	n.SetDown("alice-pc", true)
	c.Write([]byte("q3")) // never sent
	want := `udp 192.0.2.10:49152>192.0.2.25:53 "q1"
udp 192.0.2.25:53>192.0.2.10:49152 "a1"
udp 192.0.2.10:49152>192.0.2.25:53 "q2"`
	if got := s.String(); got != want {
		t.Fatalf("sniffer saw:\n%s\nwant:\n%s", got, want)
	}
}

// The sniffer changes nothing of the trace.
func TestSnifferLeavesTraceAlone(t *testing.T) {
	run := func(sniff bool) string {
		v := clock.NewVirtual(start)
		n, a, b, rec := world(t, v)
		if sniff {
			n.SetSniffer(&logSniffer{})
		}
		ctx := context.Background()
		a.DialContext(ctx, "tcp", "192.0.2.25:25")
		l, _ := b.Listen("tcp", ":25")
		defer l.Close()
		c1, err := a.DialContext(ctx, "tcp", "192.0.2.25:25")
		if err != nil {
			t.Fatal(err)
		}
		c2, _ := l.Accept()
		io.WriteString(c2, "220 hi\r\n")
		c1.Read(make([]byte, 64))
		io.WriteString(c1, "QUIT\r\n")
		c1.Close()
		c2.Close()
		pc, _ := a.DialContext(ctx, "udp", "192.0.2.25:53")
		pc.Write([]byte("x"))
		pc.Close()
		var out strings.Builder
		trace.WriteText(&out, rec.Events()...)
		return out.String()
	}
	without, with := run(false), run(true)
	if without != with {
		t.Fatalf("the trace changed with a sniffer:\n%s\nwithout:\n%s", with, without)
	}
}
