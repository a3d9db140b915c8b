package imap

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mailhop/mailhop/sim/store"
)

// RFC 7162 §4 (updating RFC 2683 §3.2.1.5) and RFC 9051 §4: a server
// bounds the length of a command line, and a line over the bound is
// refused whole, never split: what follows the cut must not run as a
// command of its own. The guards read the decrypted commands: the same
// holds after STARTTLS and on an implicit-TLS port.
func TestLongCommandLine(t *testing.T) {
	overTransports(t, func(t *testing.T, tr transport) {
		w := newWorld(t, over(tr))
		r := w.raw(t)
		r.expect("T00", "LOGIN bob bob", "OK")
		r.expect("T01", "SELECT INBOX", "OK")
		r.Run(`
			C: T0 NOOP
			S: T0 OK *
			# go-imap stops reading a command at 50 KiB; "Z CREATE inj" is
			# what lies beyond.
			C: T1 SEARCH SUBJECT "{LONG 51183}Z CREATE inj
			S: T1 BAD Command line too long*
			C: T2 LIST "" inj
			S: T2 OK LIST completed
			# Over the bound after a literal: the command is refused too.
			C: T3 SEARCH SUBJECT {1}
			S: + *
			C: x SUBJECT "{LONG 60000}Z CREATE inj2
			S: T3 BAD*
			C: T4 LIST "" inj*
			S: T4 OK LIST completed
			# A line under the bound is still read.
			C: T5 SEARCH SUBJECT "{LONG 40000}"
			S: * SEARCH
			S: T5 OK SEARCH completed
			# A synchronising literal go-imap refuses (no "+") does not
			# hide what follows from the guards.
			C: T6 APPEND INBOX {99999999}
			S: T6 NO [TOOBIG]*
			C: T7 SEARCH SUBJECT "{LONG 51183}Z CREATE inj3
			S: T7 BAD Command line too long*`)
		for _, name := range []string{"inj", "inj2", "inj3", "Z"} {
			if _, err := w.Store.Status(bob, name); err == nil {
				t.Errorf("the store has a mailbox %q: the rest of a long line ran as a command", name)
			}
		}
	})
}

// RFC 9051 §7.5 and RFC 7888 §4: a synchronising literal the server will
// not take gets a tagged NO or BAD at once, in place of "+", so the client
// does not wait for ever; a non-synchronising literal it refuses is
// skipped, not read as commands.
func TestLiteralRefused(t *testing.T) {
	overTransports(t, func(t *testing.T, tr transport) {
		w := newWorld(t, over(tr))
		r := w.raw(t)
		data := "z1 CREATE inj\r\n" + strings.Repeat("y", 5000)
		r.Run(fmt.Sprintf(`
			C: a1 LOGIN bob {5000}
			S: a1 NO [TOOBIG] Literals are limited to 4096 bytes*
			C: a2 LOGIN bob bob
			S: a2 OK *
			C: a3 CREATE {5000}
			S: a3 NO [TOOBIG] Literals are limited to 4096 bytes*
			C: a4 CREATE {3}
			S: + *
			# After a literal go-imap holds the command's start: it is
			# made to refuse it, as a syntax error.
			C: abc {5000}
			S: a4 BAD [CLIENTBUG] Syntax error*
			B: %q
			B: %q
			S: a5 BAD Literals are limited to 4096 bytes for this command; its data was skipped*
			C: a6 NOOP
			S: a6 OK NOOP completed
			C: a7 APPEND INBOX {5000}
			S: + *
			C: {LONG 4998}
			B: "\r\n"
			S: a7 OK [APPENDUID *`, fmt.Sprintf("a5 CREATE {%d+}\r\n", len(data)), data+"\r\n"))
		for _, name := range []string{"inj", "abc"} {
			if _, err := w.Store.Status(bob, name); err == nil {
				t.Errorf("the store has a mailbox %q", name)
			}
		}
	})
}

// RFC 9051 §6.4.4 lets search keys nest without end; mailhop refuses a
// SEARCH with more than maxSearchKeys keys or nested deeper than
// maxSearchDepth (BAD, RFC 9051 §7.1.3), so that one command's work is
// bounded.
func TestSearchTooComplex(t *testing.T) {
	overTransports(t, func(t *testing.T, tr transport) {
		w := newWorld(t, over(tr))
		w.Deliver(t, "INBOX", msg(1))
		r := w.raw(t)
		deep := strings.Repeat("OR SEEN ", maxSearchDepth) + "ALL"
		fine := strings.Repeat("OR SEEN ", maxSearchDepth-1) + "ALL"
		many := strings.Repeat("UNDELETED ", maxSearchKeys+1)
		r.expect("s1", "LOGIN bob bob", "OK")
		r.expect("s2", "EXAMINE INBOX", "OK")
		r.Run(fmt.Sprintf(`
			C: s3 SEARCH %s
			S: s3 BAD [CLIENTBUG] Search too complex*
			C: s4 SEARCH %s
			S: s4 BAD [CLIENTBUG] Search too complex*
			C: s5 SEARCH %s
			S: * SEARCH 1
			S: s5 OK SEARCH completed
			C: s6 SEARCH %s
			S: s6 BAD [CLIENTBUG] Search too complex*
			C: s7 SEARCH NOT NOT (NOT (NOT ALL))
			S: * SEARCH 1
			S: s7 OK SEARCH completed`, deep, many, fine,
			// Deep by parentheses and NOT.
			strings.Repeat("NOT (", maxSearchDepth)+"ALL"+strings.Repeat(")", maxSearchDepth)))
	})
}

// RFC 5530 §3 LIMIT: a user has at most MaxMailboxes mailboxes; CREATE
// beyond is refused, and so is a CREATE whose missing parents would go
// beyond.
func TestMailboxLimit(t *testing.T) {
	overTransports(t, func(t *testing.T, tr transport) {
		// INBOX and the special-use mailboxes count: 4 more fit.
		max := 1 + len(store.DefaultMailboxes) + 3
		w := newWorld(t, over(tr), with(func(s *Server) { s.MaxMailboxes = max }))
		r := w.raw(t)
		r.Run(`
			C: m1 LOGIN bob bob
			S: m1 OK *
			C: m2 CREATE a
			S: m2 OK CREATE completed
			C: m3 CREATE b/c/d
			S: m3 NO [LIMIT] Too many mailboxes*
			C: m4 CREATE b/c
			S: m4 OK CREATE completed
			C: m5 CREATE e
			S: m5 NO [LIMIT] Too many mailboxes*
			C: m6 DELETE a
			S: m6 OK DELETE completed
			C: m7 CREATE e
			S: m7 OK CREATE completed`)
		boxes, err := w.Store.Mailboxes(bob)
		if err != nil || len(boxes) != max {
			t.Errorf("bob's mailboxes: %v, %v", boxes, err)
		}
		if DefaultMaxMailboxes != 1000 {
			t.Errorf("DefaultMaxMailboxes = %d", DefaultMaxMailboxes)
		}
	})
}
