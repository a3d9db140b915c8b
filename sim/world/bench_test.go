package world

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/mailhop/mailhop/sim/smtp"
	"github.com/mailhop/mailhop/sim/store"
)

const (
	burst   = 10000
	clients = 16
)

var benchMsg = []byte("From: <alice@example.org>\r\nTo: <bob@example.net>\r\nSubject: burst\r\nMessage-ID: <%d@alice-pc>\r\n\r\nA message of the burst.\r\n")

// peakHeap samples the live heap while f runs and returns the largest.
func peakHeap(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	return peak.Load()
}

// BenchmarkChainBurst sends a burst of 10,000 messages from alice to bob
// through the whole default world (submission, queue, DNS, relay, LMTP,
// mailbox) with 16 clients, each submitting on one session, and waits
// until all are in bob's INBOX. The trace keeps its newest 10,000 events.
func BenchmarkChainBurst(b *testing.B) { chainBurst(b, true) }

// BenchmarkChainBurstNoDKIM is the same burst in a default world whose
// MSA does not sign, so that the MX has no signature to check: what DKIM
// costs the chain.
func BenchmarkChainBurstNoDKIM(b *testing.B) { chainBurst(b, false) }

func chainBurst(b *testing.B, dkim bool) {
	for i := 0; i < b.N; i++ {
		spec, _ := Load("default")
		for k := range spec.Hosts {
			if spec.Hosts[k].Has("msa") {
				spec.Hosts[k].DKIM = &dkim
			}
		}
		w, err := New(spec, TraceLimit(10000), QueueDelay(0))
		if err != nil {
			b.Fatal(err)
		}
		bobStore, _ := w.StoreOf("bob@example.net")
		var delivered atomic.Int64
		all := make(chan struct{})
		cancel, _ := bobStore.Watch("bob@example.net", store.Inbox, func(c store.Change) {
			if c.Kind == store.Appended && delivered.Add(1) == burst {
				close(all)
			}
		})
		runtime.GC()
		start := time.Now()
		heap := peakHeap(func() {
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- submitMany(w, c, burst/clients)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
			<-all
		})
		elapsed := time.Since(start)
		b.ReportMetric(float64(burst)/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
		cancel()
		w.Close()
	}
}

// submitMany submits n messages over one authenticated session.
func submitMany(w *World, id, n int) error {
	sub, err := w.Submitter("alice@example.org")
	if err != nil {
		return err
	}
	conn, err := sub.Net.DialContext(context.Background(), "tcp", sub.Addr)
	if err != nil {
		return err
	}
	c, _, err := smtp.Start(conn, sub.Hostname, sub.TLS, true)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", sub.User, sub.Password)); err != nil {
		return err
	}
	for i := range n {
		if err := c.SendMail("alice@example.org", []string{"bob@example.net"}, bytes.NewReader(fmt.Appendf(nil, string(benchMsg), id*n+i))); err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
	}
	c.Quit() // the server closes at once; a failed TLS close_notify is no failure
	return nil
}

// BenchmarkGoSMTPPipe is the protocol ceiling: one go-smtp client sending
// the burst to a go-smtp server that discards, over net.Pipe.
func BenchmarkGoSMTPPipe(b *testing.B) {
	for i := 0; i < b.N; i++ {
		srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) { return discard{}, nil }))
		srv.Domain = "sink"
		srv.AllowInsecureAuth = true
		srv.ErrorLog = log.New(io.Discard, "", 0)
		l := &oneConnListener{ch: make(chan net.Conn, 1)}
		cc, sc := net.Pipe()
		l.ch <- sc
		go srv.Serve(l)
		c := gosmtp.NewClient(cc)
		start := time.Now()
		for j := range burst {
			if err := c.SendMail("alice@example.org", []string{"bob@example.net"}, bytes.NewReader(fmt.Appendf(nil, string(benchMsg), j))); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(burst)/time.Since(start).Seconds(), "msgs/s")
		c.Quit()
		srv.Close()
	}
}

type discard struct{}

func (discard) Reset()                                 {}
func (discard) Logout() error                          { return nil }
func (discard) Mail(string, *gosmtp.MailOptions) error { return nil }
func (discard) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (discard) Data(r io.Reader) error                 { _, err := io.Copy(io.Discard, r); return err }

type oneConnListener struct {
	ch   chan net.Conn
	once sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	c, ok := <-l.ch
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (l *oneConnListener) Close() error   { l.once.Do(func() { close(l.ch) }); return nil }
func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{} }
