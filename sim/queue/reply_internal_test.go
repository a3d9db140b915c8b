package queue

import (
	"slices"
	"testing"
)

// replyLines gives a multi-line reply back the form it had on the wire.
func TestReplyLines(t *testing.T) {
	cases := []struct {
		reply string
		want  []string
	}{
		{"550 5.1.1 no such user", []string{"550 5.1.1 no such user"}},
		{"no mailbox for ghost@example.org here", []string{"no mailbox for ghost@example.org here"}},
		{"550 5.1.1 one\ntwo\nthree", []string{"550-5.1.1 one", "550-5.1.1 two", "550 5.1.1 three"}},
		{"554 one\ntwo", []string{"554-one", "554 two"}},
		{"550 5.1.1 one\n5.7.1 another code", []string{"550-5.1.1 one", "550 5.7.1 another code"}},
		{"gave up after 1h0m0s: 451 4.3.0 busy\nlater", []string{"gave up after 1h0m0s: 451-4.3.0 busy", "451 4.3.0 later"}},
		{"DNS: lookup failed\nagain", []string{"DNS: lookup failed", "again"}},
		{"550 5.1.1 one\r\ntwo", []string{"550-5.1.1 one", "550 5.1.1 two"}},
	}
	for _, c := range cases {
		if got := replyLines(c.reply); !slices.Equal(got, c.want) {
			t.Errorf("replyLines(%q) = %q, want %q", c.reply, got, c.want)
		}
	}
}
