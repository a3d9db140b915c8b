package imap

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mailhop/mailhop/sim/store"
)

// RFC 3502 §6.3.11: "the APPEND command [may] append multiple messages
// ... in a single command", each with its own flags and date, as
// synchronising and non-synchronising literals; RFC 4315 §3 gives the
// UIDs of them all in one APPENDUID.
func TestMultiAppend(t *testing.T) {
	overStores(t, func(t *testing.T, onStore option) {
		w := newWorld(t, onStore)
		m1, m2, m3 := string(msg(1))+"\r\n", string(msg(2))+"\r\n", string(msg(3))+"\r\n"
		r := w.raw(t)
		r.Run(fmt.Sprintf(`
			C: a1 LOGIN bob bob
			S~ a1 OK \[CAPABILITY .* MULTIAPPEND .*\] .*
			C: a2 APPEND Sent (\Seen) {%d+}
			B: %q
			B: " (\\Flagged) \"05-Jan-2026 10:00:00 +0100\" {%d}\r\n"
			S~ \+ .*
			B: %q
			B: " {%d+}\r\n"
			B: %q
			B: "\r\n"
			S~ a2 OK \[APPENDUID [0-9]+ 1:3\] APPEND completed
			C: a3 EXAMINE Sent
			S: * 3 EXISTS
			S: * 3 RECENT
			S~ .*
			S~ .*
			S~ .*
			S~ .*
			S~ .*
			S: a3 OK *
			C: a4 FETCH 1:3 (FLAGS INTERNALDATE RFC822.SIZE)
			S~ \* 1 FETCH \(FLAGS \(\\Seen \\Recent\) INTERNALDATE ".*" RFC822.SIZE %d\)
			S: * 2 FETCH (FLAGS (\Flagged \Recent) INTERNALDATE " 5-Jan-2026 10:00:00 +0100" RFC822.SIZE %d)
			S~ \* 3 FETCH \(FLAGS \(\\Recent\) INTERNALDATE ".*" RFC822.SIZE %d\)
			S: a4 OK FETCH completed`,
			len(m1), m1, len(m2), m2, len(m3), m3, len(m1), len(m2), len(m3)))
	})
}

// RFC 3502 §6.3.11: "If the server returns an error, none of the messages
// are appended": one message over the quota, or too big, fails them all,
// and the mailbox has none (their UIDs are not given again, RFC 9051
// §2.3.1.1: the next that succeed get 4 and 5).
func TestMultiAppendAllOrNone(t *testing.T) {
	overStores(t, func(t *testing.T, onStore option) {
		w := newWorld(t, onStore, with(func(s *Server) {
			s.Quota = store.Quota{Messages: 2}
			s.MaxLiteralSize = 200
		}))
		m := string(msg(1)) + "\r\n"
		big := make([]byte, 300)
		for i := range big {
			big[i] = 'x'
		}
		r := w.raw(t)
		r.Run(fmt.Sprintf(`
			C: a1 LOGIN bob bob
			S: a1 OK *
			C: a2 APPEND Sent {%[1]d+}
			B: %[2]q
			B: " {%[1]d+}\r\n"
			B: %[2]q
			B: " {%[1]d+}\r\n"
			B: %[2]q
			B: "\r\n"
			S: a2 NO [OVERQUOTA] *
			C: a3 STATUS Sent (MESSAGES)
			S: * STATUS "Sent" (MESSAGES 0)
			S: a3 OK *
			C: a4 APPEND Sent {%[1]d+}
			B: %[2]q
			B: " {%[3]d+}\r\n"
			B: %[4]q
			B: "\r\n"
			S: a4 NO [TOOBIG] *
			C: a5 STATUS Sent (MESSAGES)
			S: * STATUS "Sent" (MESSAGES 0)
			S: a5 OK *
			C: a6 APPEND Sent {%[1]d+}
			B: %[2]q
			B: " {%[1]d+}\r\n"
			B: %[2]q
			B: "\r\n"
			S~ a6 OK \[APPENDUID [0-9]+ 4:5\] APPEND completed`, len(m), m, len(big)+2, string(big)+"\r\n"))
	})
}

// One APPEND takes at most maxMultiAppend messages: one more gets NO
// [LIMIT], none is stored, the data sent after it is not read as
// commands, and the session goes on.
func TestMultiAppendLimit(t *testing.T) {
	w := newWorld(t)
	m := "Subject: s\r\n\r\nx\r\n"
	var b strings.Builder
	fmt.Fprintf(&b, "a2 APPEND Sent {%d+}\r\n%s", len(m), m)
	for range maxMultiAppend {
		fmt.Fprintf(&b, " {%d+}\r\n%s", len(m), m)
	}
	b.WriteString("\r\n")
	r := w.raw(t)
	r.Run(fmt.Sprintf(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		B: %q
		S: a2 NO [LIMIT] At most 1000 messages in one APPEND (RFC 3502): none was stored
		C: a3 STATUS Sent (MESSAGES)
		S: * STATUS "Sent" (MESSAGES 0)
		S: a3 OK *`, b.String()))
}

// An APPEND whose line goes on too long after its message (RFC 7162 §4's
// bound) is refused whole: the message is not kept (go-imap would store
// it and answer nothing, and the client would wait for ever), and the
// session goes on.
func TestAppendRefusedAfterMessage(t *testing.T) {
	w := newWorld(t)
	m := "Subject: s\r\n\r\nx\r\n"
	r := w.raw(t)
	r.Run(fmt.Sprintf(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		B: %q
		S: a2 BAD Command line too long: *
		C: a3 STATUS INBOX (MESSAGES)
		S: * STATUS INBOX (MESSAGES 0)
		S: a3 OK *`, fmt.Sprintf("a2 APPEND INBOX {%d+}\r\n%s%s\r\n", len(m), m, strings.Repeat("x", maxCommandLine))))
}
