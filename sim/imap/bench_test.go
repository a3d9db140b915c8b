package imap

import (
	"fmt"
	"io"
	"strings"
	"testing"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// bigMsg is a message of about size bytes.
func bigMsg(n, size int) []byte {
	head := fmt.Sprintf("From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: message %d\r\n"+
		"Date: Thu, 01 Jan 2026 09:00:00 +0000\r\nMessage-ID: <b%d@example.org>\r\n\r\n", n, n)
	line := "All work and no play makes Jack a dull boy.\r\n"
	var b strings.Builder
	b.WriteString(head)
	for b.Len() < size {
		b.WriteString(line)
	}
	return []byte(b.String())
}

// BenchmarkFetch fetches BODY[] of 1,000 messages of 4 KiB over netsim with
// go-imap's client, which reads every literal.
func BenchmarkFetch(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []option
	}{
		{"trace=off", []option{noTrace()}},
		{"trace=on", []option{func(w *world) { w.Trace = trace.NewRecorder(w.Clock.Now, 10000) }}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const n = 1000
			w := newWorld(b, tc.opts...)
			w.srv.ErrorLog = nil
			for i := 1; i <= n; i++ {
				if _, err := w.Store.Append(bob, "INBOX", bigMsg(i, 4096), nil, start); err != nil {
					b.Fatal(err)
				}
			}
			c, _ := w.selectInbox(b, nil)
			var set goimap.SeqSet
			set.AddRange(1, n)
			opts := &goimap.FetchOptions{BodySection: []*goimap.FetchItemBodySection{{}}}
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
		})
	}
}

// BenchmarkSearch searches 10,000 messages over netsim: by flag (the
// listing only), by subject (every header read) and by body text.
func BenchmarkSearch(b *testing.B) {
	const n = 10000
	w := newWorld(b, noTrace())
	w.srv.ErrorLog = nil
	var seen []store.UID
	for i := 1; i <= n; i++ {
		uid, err := w.Store.Append(bob, "INBOX", bigMsg(i, 1024), nil, start)
		if err != nil {
			b.Fatal(err)
		}
		if i%3 != 0 {
			seen = append(seen, uid)
		}
	}
	w.Store.SetFlags(bob, "INBOX", seen, store.FlagsAdd, []string{store.FlagSeen})
	c, _ := w.selectInbox(b, nil)
	for _, tc := range []struct {
		name     string
		criteria *goimap.SearchCriteria
		want     int
	}{
		{"UNSEEN", &goimap.SearchCriteria{NotFlag: []goimap.Flag{goimap.FlagSeen}}, n / 3},
		{"SUBJECT", &goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "Subject", Value: "message 9999"}}}, 1},
		{"UNSEEN_FROM", &goimap.SearchCriteria{NotFlag: []goimap.Flag{goimap.FlagSeen}, Header: []goimap.SearchCriteriaHeaderField{{Key: "From", Value: "alice"}}}, n / 3},
		{"BODY", &goimap.SearchCriteria{Body: []string{"dull girl"}}, 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				data, err := c.Search(tc.criteria, nil).Wait()
				if err != nil || len(data.AllSeqNums()) != tc.want {
					b.Fatalf("SEARCH: %d, %v", len(data.AllSeqNums()), err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
