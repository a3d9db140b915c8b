package imap

import (
	"io"
	"testing"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/store/maildir"
)

// onMaildir puts the world's mailboxes in a Maildir store (the one
// `mailhop serve` uses) in a temporary directory.
func onMaildir(w *world) {
	md, err := maildir.Open(w.T.TempDir(), maildir.Options{Hostname: "bench", Now: w.Clock.Now, PollInterval: -1})
	if err != nil {
		w.T.Fatal(err)
	}
	for _, u := range []string{bob, "alice@example.net"} {
		if err := md.AddUser(u); err != nil {
			w.T.Fatal(err)
		}
	}
	w.Store, w.srv.Store = md, md
}

// BenchmarkFetchMaildir is BenchmarkFetch (untraced) on the Maildir store.
func BenchmarkFetchMaildir(b *testing.B) {
	const n = 1000
	w := newWorld(b, noTrace(), onMaildir)
	w.srv.ErrorLog = nil
	for i := 1; i <= n; i++ {
		if _, err := w.Store.Append(bob, store.Inbox, bigMsg(i, 4096), nil, start); err != nil {
			b.Fatal(err)
		}
	}
	c, _ := w.selectInbox(b, nil)
	var set goimap.SeqSet
	set.AddRange(1, n)
	opts := &goimap.FetchOptions{BodySection: []*goimap.FetchItemBodySection{{Peek: true}}}
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := c.Fetch(set, opts)
		got := 0
		for m := cmd.Next(); m != nil; m = cmd.Next() {
			for item := m.Next(); item != nil; item = m.Next() {
				if body, ok := item.(imapclient.FetchItemDataBodySection); ok {
					if k, _ := io.CopyBuffer(io.Discard, body.Literal, buf); k < 4096 {
						b.Fatalf("body of %d bytes", k)
					}
				}
			}
			got++
		}
		if err := cmd.Close(); err != nil || got != n {
			b.Fatalf("FETCH: %d messages, %v", got, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
}
