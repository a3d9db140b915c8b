package explain

import (
	"testing"

	"github.com/mailhop/mailhop/sim/trace"
)

// What a client sends is remembered only when it can carry no password;
// blocks and other kinds of event are told afresh every time.
func TestMemoKeepsNoCredentials(t *testing.T) {
	wire := func(proto string, dir trace.Dir, text string) trace.Event {
		return trace.Event{Kind: trace.KindWire, Proto: proto, Dir: dir, Text: text, Host: "alice-pc", Peer: "mail.example.org"}
	}
	for _, c := range []struct {
		e    trace.Event
		keep bool
	}{
		{wire("smtp", trace.Send, "MAIL FROM:<alice@example.org>"), true},
		{wire("lmtp", trace.Send, "RCPT TO:<bob@example.net>"), true},
		{wire("smtp", trace.Send, "."), true},
		{wire("smtp", trace.Recv, "250 2.1.5 Ok"), true},
		{wire("smtp", trace.Send, "AUTH PLAIN AGFsaWNlAHNlY3JldA=="), false},
		{wire("smtp", trace.Send, "AGFsaWNlAHNlY3JldA=="), false},
		{wire("smtp", trace.Send, "auth login"), false},
		{wire("pop3", trace.Send, "PASS secret"), false},
		{wire("pop3", trace.Send, "QUIT"), false},
		{wire("imap", trace.Send, "a1 LOGIN bob secret"), false},
		{wire("smtp", trace.Send, "Subject: x\nHello"), false},
		{trace.Event{Kind: trace.KindPacket, Host: "mx.example.net", Peer: "ns.example", Proto: "dns", Text: "example.org. IN TXT"}, true},
		{trace.Event{Kind: trace.KindDNS, Action: "answer", Text: "NOERROR, 1 answer", Records: []string{"a. 1 IN A 192.0.2.1"}}, true},
		{trace.Event{Kind: trace.KindQueue, Action: "queued", Text: "queue id 1"}, false},
	} {
		if _, ok := keyOf(c.e); ok != c.keep {
			t.Errorf("%s %s %q: remembered %v, want %v", c.e.Kind, c.e.Dir, c.e.Text, ok, c.keep)
		}
	}
	// Records are told apart however they would join.
	a, _ := keyOf(trace.Event{Kind: trace.KindDNS, Records: []string{"a:b", "c"}})
	b, _ := keyOf(trace.Event{Kind: trace.KindDNS, Records: []string{"a", "b:c"}})
	if a == b {
		t.Error("two lists of records share a key")
	}
}
