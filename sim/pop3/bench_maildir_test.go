package pop3

import (
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/store/maildir"
)

// BenchmarkRETRMaildir is BenchmarkRETR (untraced) on the Maildir store
// `mailhop serve` uses, in a temporary directory: each RETR reads a file.
func BenchmarkRETRMaildir(b *testing.B) {
	const n, size = 1000, 4096
	md, err := maildir.Open(b.TempDir(), maildir.Options{Hostname: "bench", PollInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer md.Close()
	if err := md.AddUser(bob); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if _, err := md.Append(bob, store.Inbox, []byte(bigMessage(i+1, size)), nil, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	w := newWorld(b, nil, untraced(), with(func(s *Server) { s.Store = md }))
	b.ReportAllocs()
	b.SetBytes(n * size)
	for b.Loop() {
		retrAll(b, w, n)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
}
