//go:build !js

package main

import (
	"strings"
	"testing"
	"time"
)

// With --quota-messages, mail for a full mailbox waits in the queue (the
// MDA's 4.2.2 mailbox full is temporary), Python's imaplib sees the quota
// (RFC 9208 GETQUOTAROOT) and has its APPEND refused [OVERQUOTA]; once
// the user expunges a message, the queue's next attempt delivers.
func TestServeQuota(t *testing.T) {
	need(t, "python3")
	m := connServer(t, "127.0.0.1", "--quota-messages", "2", "--retry-schedule", "1s")
	m.start()
	t.Cleanup(m.stop)
	deliver(t, m, "one", "first")
	deliver(t, m, "two", "second")

	hand(t, m, "three", "third")
	time.Sleep(1500 * time.Millisecond) // an attempt or two
	if n := len(inMaildir(m, "three")); n != 0 {
		t.Fatalf("three is in the full mailbox %d times", n)
	}

	out := py(t, m, `
print(m.getquotaroot('INBOX'))
print(m.append('INBOX', None, None, b'Subject: four\r\n\r\nfourth\r\n'))
m.select('INBOX')
m.store('1', '+FLAGS', '\\Deleted')
m.expunge()
`)
	for _, want := range []string{`[b'INBOX ""'], [b'"" (MESSAGE 2 2)']`, "('NO', [b'[OVERQUOTA] Quota exceeded: 2 of 2 messages kept"} {
		if !strings.Contains(out, want) {
			t.Errorf("imaplib printed %q, want %q in it", out, want)
		}
	}
	waitFor(t, 15*time.Second, "three delivered after room was made", func() bool { return len(inMaildir(m, "three")) == 1 })
}
