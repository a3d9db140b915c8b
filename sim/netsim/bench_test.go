package netsim

import (
	"context"
	"github.com/mailhop/mailhop/sim/trace"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
)

// The three transports compared side by side: netsim, net.Pipe and
// loopback TCP.
func transports(b *testing.B) map[string]func() (net.Conn, net.Conn, func()) {
	return map[string]func() (net.Conn, net.Conn, func()){
		"netsim": func() (net.Conn, net.Conn, func()) {
			return benchPair(b, nil)
		},
		"netsim+trace": func() (net.Conn, net.Conn, func()) {
			return benchPair(b, trace.NewRecorder(time.Now, 1000))
		},
		"netpipe": func() (net.Conn, net.Conn, func()) {
			c1, c2 := net.Pipe()
			return c1, c2, func() { c1.Close(); c2.Close() }
		},
		"tcp": func() (net.Conn, net.Conn, func()) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			c1, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			c2, err := l.Accept()
			if err != nil {
				b.Fatal(err)
			}
			return c1, c2, func() { c1.Close(); c2.Close(); l.Close() }
		},
	}
}

func benchPair(b *testing.B, rec *trace.Recorder) (net.Conn, net.Conn, func()) {
	n := New(clock.Wall{}, rec)
	h1, _ := n.AddHost("a", "192.0.2.1")
	h2, _ := n.AddHost("b", "192.0.2.2")
	l, err := h2.Listen("tcp", ":25")
	if err != nil {
		b.Fatal(err)
	}
	c1, err := h1.DialContext(context.Background(), "tcp", "192.0.2.2:25")
	if err != nil {
		b.Fatal(err)
	}
	c2, _ := l.Accept()
	return c1, c2, func() { c1.Close(); c2.Close(); l.Close() }
}

var names = []string{"netsim", "netsim+trace", "netpipe", "tcp"}

// BenchmarkThroughput streams 4 KiB writes one way.
func BenchmarkThroughput(b *testing.B) {
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			c1, c2, stop := transports(b)[name]()
			defer stop()
			buf := make([]byte, 4096)
			done := make(chan struct{})
			go func() {
				io.Copy(io.Discard, c2)
				close(done)
			}()
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c1.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			c1.Close()
			<-done
		})
	}
}

// BenchmarkPingPong sends a short command and waits for a short reply, as
// an SMTP client does without pipelining.
func BenchmarkPingPong(b *testing.B) {
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			c1, c2, stop := transports(b)[name]()
			defer stop()
			go func() {
				buf := make([]byte, 64)
				for {
					n, err := c2.Read(buf)
					if err != nil {
						return
					}
					if _, err := c2.Write([]byte("250 2.0.0 Ok\r\n")[:min(n+8, 14)]); err != nil {
						return
					}
				}
			}()
			cmd := []byte("NOOP\r\n")
			buf := make([]byte, 64)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c1.Write(cmd); err != nil {
					b.Fatal(err)
				}
				if _, err := c1.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
