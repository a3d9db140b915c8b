package imap

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailhop/mailhop/sim/store"
)

// uidValidity lets transcripts say {UIDVALIDITY box} for a mailbox of
// bob's.
func (w *world) uidValidity(t *testing.T, r raw) {
	r.Vars = func(name string, args []string) (string, bool) {
		if name == "UIDVALIDITY" && len(args) == 1 {
			return fmt.Sprint(w.Status(t, args[0]).UIDValidity), true
		}
		return "", false
	}
}

// opensInbox is the transcript of a SELECT or EXAMINE (cmd) of INBOX,
// tagged tag, where INBOX holds n messages, UIDs 1 to n, the first
// unseen and all recent here: each response is checked, in order, most
// of their texts loosely.
func opensInbox(tag, cmd string, n int) string {
	return inboxOpening{Tag: tag, Cmd: cmd, Exists: n, Recent: n, UIDNext: n + 1}.String()
}

// inboxOpening is the transcript of a SELECT or EXAMINE of INBOX whose
// first message is unseen, as opensInbox writes it, with what CONDSTORE
// and QRESYNC add: the command's parameters, the [CLOSED] of a mailbox
// selected before, HIGHESTMODSEQ, and the lines before the tagged OK.
type inboxOpening struct {
	Tag, Cmd string
	Params   string // after INBOX: "(CONDSTORE)", "(QRESYNC (...))"
	Closed   bool   // another mailbox was selected: * OK [CLOSED]
	Exists   int
	Recent   int
	Validity string // "" matches any UIDVALIDITY
	Highest  int    // HIGHESTMODSEQ; 0: none is said
	UIDNext  int
	Last     []string // the responses after PERMANENTFLAGS (VANISHED, FETCH)
}

func (o inboxOpening) String() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, "\n\t\t"+format, args...) }
	if o.Params != "" {
		line("C: %s %s INBOX %s", o.Tag, o.Cmd, o.Params)
	} else {
		line("C: %s %s INBOX", o.Tag, o.Cmd)
	}
	if o.Closed {
		line("S: * OK [CLOSED] *")
	}
	line("S: * %d EXISTS", o.Exists)
	line("S: * %d RECENT", o.Recent)
	line("S: * OK [UNSEEN 1] *")
	if o.Validity == "" {
		line("S: * OK [UIDVALIDITY *")
	} else {
		line("S: * OK [UIDVALIDITY %s] *", o.Validity)
	}
	if o.Highest > 0 {
		line("S: * OK [HIGHESTMODSEQ %d] Highest", o.Highest)
	}
	line("S: * OK [UIDNEXT %d] *", o.UIDNext)
	line("S: * FLAGS *")
	access := "READ-WRITE"
	if o.Cmd == "EXAMINE" {
		access = "READ-ONLY"
		line("S: * OK [PERMANENTFLAGS ()] *")
	} else {
		line("S: * OK [PERMANENTFLAGS *")
	}
	for _, l := range o.Last {
		line("S: %s", l)
	}
	line("S: %s OK [%s] %s completed", o.Tag, access, o.Cmd)
	return b.String()
}

// RFC 3501 §2.3.2: \Recent "Message is "recently" arrived in this
// mailbox. This session is the first session to have been notified
// about this message; if the session is read-write, subsequent sessions
// will not see \Recent set for this message." EXAMINE does not take it
// (§6.3.2); SELECT and EXAMINE say how many (§7.3.2 RECENT), so do
// STATUS (§6.3.10) and an untagged RECENT with new mail, and SEARCH
// knows RECENT, NEW and OLD (§6.4.4).
func TestRecent(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), msg(2))
	a, b, c := w.raw(t), w.raw(t), w.raw(t)
	a.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		C: a2 STATUS INBOX (MESSAGES RECENT)
		S: * STATUS INBOX (MESSAGES 2 RECENT 2)
		S: a2 OK STATUS completed
		C: a3 EXAMINE INBOX
		S: * 2 EXISTS
		S: * 2 RECENT
		S: * OK [UNSEEN 1] First unseen message
		S: * OK [UIDVALIDITY *
		S: * OK [UIDNEXT 3] Predicted next UID
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen)
		S: * OK [PERMANENTFLAGS ()] Permanent flags
		S: a3 OK [READ-ONLY] EXAMINE completed
		C: a4 FETCH 1:* FLAGS
		S: * 1 FETCH (FLAGS (\Recent))
		S: * 2 FETCH (FLAGS (\Recent))
		S: a4 OK FETCH completed
		C: a5 SEARCH RECENT
		S: * SEARCH 1 2
		S: a5 OK SEARCH completed`)
	// EXAMINE left them recent: the first SELECT takes them.
	b.Run(`
		C: b1 LOGIN bob bob
		S: b1 OK *
		C: b2 SELECT INBOX
		S: * 2 EXISTS
		S: * 2 RECENT
		S: * OK [UNSEEN 1] First unseen message
		S: * OK [UIDVALIDITY *
		S: * OK [UIDNEXT 3] Predicted next UID
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen)
		S: * OK [PERMANENTFLAGS (\Answered \Deleted \Draft \Flagged \Seen \*)] Permanent flags
		S: b2 OK [READ-WRITE] SELECT completed
		C: b3 STORE 1 +FLAGS (\Seen)
		S: * 1 FETCH (FLAGS (\Seen \Recent))
		S: b3 OK STORE completed`)
	c.Run(`
		C: c1 LOGIN bob bob
		S: c1 OK *
		C: c2 STATUS INBOX (RECENT)
		S: * STATUS INBOX (RECENT 0)
		S: c2 OK STATUS completed
		C: c3 SELECT INBOX
		S: * 2 EXISTS
		S: * 0 RECENT
		S: * OK [UNSEEN 2] First unseen message
		S: * OK [UIDVALIDITY *
		S: * OK [UIDNEXT 3] Predicted next UID
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen)
		S: * OK [PERMANENTFLAGS (\Answered \Deleted \Draft \Flagged \Seen \*)] Permanent flags
		S: c3 OK [READ-WRITE] SELECT completed`)
	// New mail: the first session told of it has it recent, the others
	// not; the EXAMINE session sees it recent without taking it.
	w.Deliver(t, "INBOX", msg(3))
	b.Run(`
		C: b4 NOOP
		S: * 3 EXISTS
		S: * 3 RECENT
		S: b4 OK NOOP completed
		C: b5 SEARCH NEW
		S: * SEARCH 2 3
		S: b5 OK SEARCH completed
		C: b6 SEARCH OLD
		S: * SEARCH
		S: b6 OK SEARCH completed
		C: b7 SEARCH RECENT SEEN
		S: * SEARCH 1
		S: b7 OK SEARCH completed
		C: b8 FETCH 3 FLAGS
		S: * 3 FETCH (FLAGS (\Recent))
		S: b8 OK FETCH completed`)
	c.Run(`
		C: c4 NOOP
		S: * 3 EXISTS
		S: c4 OK NOOP completed
		C: c5 SEARCH OLD
		S: * SEARCH 1 2 3
		S: c5 OK SEARCH completed
		C: c6 FETCH 3 FLAGS
		S: * 3 FETCH (FLAGS ())
		S: c6 OK FETCH completed`)
	a.Run(`
		C: a6 NOOP
		S: * 1 FETCH (UID 1 FLAGS (\Seen \Recent))
		S: * 3 EXISTS
		S: a6 OK NOOP completed
		C: a7 FETCH 3 FLAGS
		S: * 3 FETCH (FLAGS ())
		S: a7 OK FETCH completed`)
	// IMAP4rev2 has no \Recent (RFC 9051 appendix E).
	w.Deliver(t, "INBOX", msg(4))
	d := w.raw(t)
	d.Run(`
		C: d1 LOGIN bob bob
		S: d1 OK *
		C: d2 ENABLE IMAP4rev2
		S: * ENABLED IMAP4rev2
		S: d2 OK ENABLE completed
		C: d3 EXAMINE INBOX
		S: * 4 EXISTS
		S: * OK [UIDVALIDITY *
		S: * OK [UIDNEXT 5] Predicted next UID
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen)
		S: * OK [PERMANENTFLAGS ()] Permanent flags
		S: * LIST (\HasNoChildren) "/" INBOX
		S: d3 OK [READ-ONLY] EXAMINE completed
		C: d4 FETCH 4 FLAGS
		S: * 4 FETCH (FLAGS ())
		S: d4 OK FETCH completed`)
}

// RFC 9051 §7.3.5 (RFC 3501 §7.2.6): FLAGS names the flags defined in
// the mailbox, and PERMANENTFLAGS (§7.1) those a client can change for
// good, with \* for new keywords. A keyword that STORE, APPEND or COPY
// brings into the mailbox is announced by FLAGS to every session that
// has it selected, before a FETCH shows it. Each FETCH shows the flags
// as they are when it is written (the first of two changes told shows
// both).
func TestKeywordsAnnounced(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), msg(2))
	w.Store.SetFlags(bob, "INBOX", []store.UID{2}, store.FlagsAdd, []string{"$Label1"})
	w.Store.CreateMailbox(bob, "Work")
	w.Store.Append(bob, "Work", msg(3), []string{"Urgent"}, start)
	a, b := w.raw(t), w.raw(t)
	w.uidValidity(t, b)
	for i, r := range []raw{a, b} {
		r.Run(fmt.Sprintf(`
			C: %[1]c1 LOGIN bob bob
			S: %[1]c1 OK *
			C: %[1]c2 SELECT INBOX
			S: * 2 EXISTS
			S: * *
			S: * OK [UNSEEN 1] First unseen message
			S: * OK [UIDVALIDITY *
			S: * OK [UIDNEXT 3] Predicted next UID
			S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Label1)
			S: * OK [PERMANENTFLAGS (\Answered \Deleted \Draft \Flagged \Seen $Label1 \*)] Permanent flags
			S: %[1]c2 OK [READ-WRITE] SELECT completed`, 'a'+i))
	}
	a.Run(`
		C: a3 STORE 1 +FLAGS ($Todo)
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Label1 $Todo)
		S: * 1 FETCH (FLAGS ($Todo \Recent))
		S: a3 OK STORE completed
		C: a4 UID STORE 2 +FLAGS.SILENT ($Other)
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Label1 $Other $Todo)
		S: a4 OK UID STORE completed
		C: a5 STORE 2 +FLAGS ($todo)
		S: * 2 FETCH (FLAGS ($Label1 $Other $todo \Recent))
		S: a5 OK STORE completed`)
	b.Run(`
		C: b3 NOOP
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Label1 $Todo)
		S: * 1 FETCH (UID 1 FLAGS ($Todo))
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Label1 $Other $Todo)
		S: * 2 FETCH (UID 2 FLAGS ($Label1 $Other $todo))
		S: * 2 FETCH (UID 2 FLAGS ($Label1 $Other $todo))
		S: b3 OK NOOP completed
		C: b4 APPEND INBOX (Draft-Review) {11}
		S: + *
		C: Subject: x
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Label1 $Other $Todo Draft-Review)
		S: * 3 EXISTS
		S: * 1 RECENT
		S: b4 OK [APPENDUID {UIDVALIDITY INBOX} 3] APPEND completed
		C: b5 UID COPY 1 Work
		S: b5 OK [COPYUID {UIDVALIDITY Work} 1 2] COPY completed
		C: b6 SELECT Work
		S: * OK [CLOSED] Previous mailbox is now closed
		S: * 2 EXISTS
		S: * 2 RECENT
		S: * OK [UNSEEN 1] First unseen message
		S: * OK [UIDVALIDITY *
		S: * OK [UIDNEXT 3] Predicted next UID
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Todo Urgent)
		S: * OK [PERMANENTFLAGS (\Answered \Deleted \Draft \Flagged \Seen $Todo Urgent \*)] Permanent flags
		S: b6 OK [READ-WRITE] SELECT completed`)
	a.Run(`
		C: a6 NOOP
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Label1 $Other $Todo Draft-Review)
		S: * 3 EXISTS
		S: a6 OK NOOP completed`)
}

// RFC 9051 §7.3.5: a keyword another session stored an instant ago,
// which this session has not been told of by FLAGS, is not shown by a
// FETCH before FLAGS names it: the FETCH shows the flags the session
// knows, and the rest follows FLAGS, as an update. (Under load, imaptest
// caught FETCH responses showing such keywords first.)
func TestKeywordNotShownBeforeFlags(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1))
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		C: a2 SELECT INBOX
		S: * 1 EXISTS
		S: * *
		S: * OK [UNSEEN 1] First unseen message
		S: * OK [UIDVALIDITY *
		S: * OK [UIDNEXT 2] Predicted next UID
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen)
		S: * OK [PERMANENTFLAGS (\Answered \Deleted \Draft \Flagged \Seen \*)] Permanent flags
		S: a2 OK [READ-WRITE] SELECT completed`)
	// Another session's STORE, as this session reads.
	w.Store.SetFlags(bob, "INBOX", []store.UID{1}, store.FlagsAdd, []string{"$Fresh", store.FlagFlagged})
	r.Run(`
		C: a3 UID FETCH 1 (FLAGS)
		S: * 1 FETCH (UID 1 FLAGS (\Flagged \Recent))
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Fresh)
		S: * 1 FETCH (UID 1 FLAGS ($Fresh \Flagged \Recent))
		S: * 1 FETCH (UID 1 FLAGS ($Fresh \Flagged \Recent))
		S: a3 OK UID FETCH completed`)
}

// The same when the FLAGS that names the keyword waits behind an EXPUNGE
// that a FETCH by sequence number may not send (RFC 9051 §7.5.1): the
// keyword is shown after that FLAGS, at the next command that may
// expunge, numbered as the session then sees the mailbox. (Naming it in
// a FLAGS of its own would not do: the older FLAGS, sent later, would
// take it back. imaptest with 50 clients caught both.)
func TestKeywordBehindExpunge(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), msg(2))
	r := w.raw(t)
	r.expect("a1", "LOGIN bob bob", "OK")
	r.expect("a2", "SELECT INBOX", "OK")
	// Another session expunges the first message and labels the second.
	w.Store.SetFlags(bob, "INBOX", []store.UID{1}, store.FlagsAdd, []string{store.FlagDeleted})
	w.Store.Expunge(bob, "INBOX", []store.UID{1})
	w.Store.SetFlags(bob, "INBOX", []store.UID{2}, store.FlagsAdd, []string{"$Late"})
	r.Run(`
		C: a3 FETCH 2 (FLAGS)
		S: * 2 FETCH (FLAGS (\Recent))
		S: * 1 FETCH (UID 1 FLAGS (\Deleted \Recent))
		S: a3 OK FETCH completed
		C: a4 NOOP
		S: * 1 EXPUNGE
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Late)
		S: * 1 FETCH (UID 2 FLAGS ($Late \Recent))
		S: * 1 FETCH (FLAGS ($Late \Recent))
		S: a4 OK NOOP completed`)
}

// A keyword once used stays in FLAGS, as in Dovecot, even when no
// message has it any more and no session had the mailbox selected in
// between: a session is never told a keyword is gone that another may
// still show on a message it has not seen expunged.
func TestKeywordStaysInFlags(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1))
	a := w.raw(t)
	a.expect("a1", "LOGIN bob bob", "OK")
	a.expect("a2", "SELECT INBOX", "OK")
	a.expect("a3", "STORE 1 +FLAGS.SILENT ($Old \\Deleted)", "OK")
	a.expect("a4", "EXPUNGE", "OK")
	a.expect("a5", "LOGOUT", "OK")
	b := w.raw(t)
	b.Run(`
		C: b1 LOGIN bob bob
		S: b1 OK *
		C: b2 EXAMINE INBOX
		S: * 0 EXISTS
		S: * 0 RECENT
		S: * OK [UIDVALIDITY *
		S: * OK [UIDNEXT 2] Predicted next UID
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen $Old)
		S: * OK [PERMANENTFLAGS ()] *
		S: b2 OK [READ-ONLY] EXAMINE completed`)
}

// RFC 3501 §5.1.3: mailbox names are in modified UTF-7; "&" opens a
// shift of modified BASE64 that "-" closes, "&-" is "&". A name that is
// not valid modified UTF-7 (an unclosed shift, printable US-ASCII or an
// odd byte count inside one, two shifts in a row) is refused NO (not a
// server bug), in the order the commands came, and the session goes on.
// No mailbox has such a name, so a LIST or LSUB pattern (or reference)
// that is not valid matches nothing: it is dropped, and a LIST left
// without patterns is OK with no match, as in Dovecot.
func TestMailboxNameUTF7(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1))
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		C: a2 SELECT "&Jjo"
		S: a2 NO [CANNOT] Invalid mailbox name: not valid modified UTF-7 (RFC 3501 §5.1.3)
		C: a3 LIST "" &Jjo
		S: a3 OK LIST completed
		C: a4 LIST (SUBSCRIBED) "" ("INBOX" %& "&Jjo" *X) RETURN (CHILDREN)
		S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
		S: a4 OK LIST completed
		C: a5 LSUB "&AGE-" *
		S: a5 OK LSUB completed
		C: a51 LIST "" (%& "IN&Jjo" "inbox")
		S: * LIST (\HasNoChildren) "/" INBOX
		S: a51 OK LIST completed
		C: a52 LIST "" !#$&'+,-.0123456789:;<=>?@^_` + "`" + `|[}%*
		S: a52 OK LIST completed
		C: a53 LIST "" ("&Jjo" %&)
		S: a53 OK LIST completed
		C: a6 RENAME INBOX "&ZeVnLIqe-&ZeVnLIqe-"
		S: a6 NO [CANNOT] Invalid mailbox name*
		C: a7 STATUS &Jj (MESSAGES)
		S: a7 NO [CANNOT] Invalid mailbox name*
		C: a8 APPEND &Jjo {3+}
		B: "abc\r\n"
		S: a8 NO [CANNOT] Invalid mailbox name*
		` + opensInbox("a9", "SELECT", 1) + `
		C: b1 UID MOVE 1 "&Jjo"
		S: b1 NO [CANNOT] Invalid mailbox name*
		# Answered in order, behind what came before.
		B: "b2 NOOP\r\nb3 COPY 1 &Jjo\r\nb4 NOOP\r\n"
		S: b2 OK NOOP completed
		S: b3 NO [CANNOT] Invalid mailbox name*
		S: b4 OK NOOP completed
		# Valid names: ☺ (&Jjo-), "&" (&-), and UTF-8.
		C: b5 CREATE &Jjo-
		S: b5 OK CREATE completed
		C: b6 CREATE "a&-b"
		S: b6 OK CREATE completed
		C: b7 LIST "" "*&-*"
		S: * LIST (\HasNoChildren) "/" "a&-b"
		S: b7 OK LIST completed
		C: b8 LIST "" &Jjo-
		S: * LIST (\HasNoChildren) "/" "&Jjo-"
		S: b8 OK LIST completed`)
	for _, name := range []string{"☺", "a&b"} {
		if _, err := w.Store.Status(bob, name); err != nil {
			t.Errorf("no mailbox %q: %v", name, err)
		}
	}
	if got := w.Flags(t, "INBOX"); len(got) != 1 {
		t.Errorf("INBOX: %q", got)
	}
}

// RFC 3501 §5.1: "Mailbox names are 7-bit. Client implementations
// MUST NOT attempt to create 8-bit mailbox names ... Server
// implementations SHOULD prohibit the creation of 8-bit mailbox names";
// RFC 6855 §3: after ENABLE UTF8=ACCEPT the server MUST accept UTF-8
// mailbox names, as IMAP4rev2 does (RFC 9051 §5.1). A raw 8-bit name
// from a client that enabled neither is refused NO [CANNOT] (go-imap
// would take it, and list it back in modified UTF-7, which the client
// would not know for the name it created); an 8-bit LIST pattern
// matches nothing. ENABLE counts for the commands pipelined after it.
func TestMailboxName8Bit(t *testing.T) {
	w := newWorld(t)
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		C: a2 CREATE "Café"
		S: a2 NO [CANNOT] Mailbox names are 7-bit: write non-ASCII characters in modified UTF-7 (Caf&AOk- for Café), or ENABLE UTF8=ACCEPT first (RFC 3501 §5.1, RFC 6855 §3)
		C: a3 CREATE Caf&AOk-
		S: a3 OK CREATE completed
		C: a4 SELECT Café
		S: a4 NO [CANNOT] Mailbox names are 7-bit*
		C: a5 RENAME Caf&AOk- "Café/Thé"
		S: a5 NO [CANNOT] Mailbox names are 7-bit*
		C: a6 APPEND "Café" {3+}
		B: "abc\r\n"
		S: a6 NO [CANNOT] Mailbox names are 7-bit*
		C: a7 LIST "" Café
		S: a7 OK LIST completed
		C: a8 LIST "" (Café Caf*)
		S: * LIST (\HasNoChildren) "/" "Caf&AOk-"
		S: a8 OK LIST completed
		B: "a9 ENABLE UTF8=ACCEPT\r\nb1 CREATE \"Bücher\"\r\n"
		S: * ENABLED UTF8=ACCEPT
		S: a9 OK ENABLE completed
		S: b1 OK CREATE completed
		C: b2 LIST "" *
		S: * LIST (\HasNoChildren) "/" INBOX
		S: * LIST (\HasNoChildren) "/" "Bücher"
		S: * LIST (\HasNoChildren) "/" "Café"
		S: * LIST (\HasNoChildren \Drafts) "/" "Drafts"
		S: * LIST (\HasNoChildren \Junk) "/" "Junk"
		S: * LIST (\HasNoChildren \Sent) "/" "Sent"
		S: * LIST (\HasNoChildren \Trash) "/" "Trash"
		S: b2 OK LIST completed
		C: b3 STATUS Café (MESSAGES)
		S: * STATUS "Café" (MESSAGES 0)
		S: b3 OK STATUS completed`)
	for _, name := range []string{"Café", "Bücher"} {
		if _, err := w.Store.Status(bob, name); err != nil {
			t.Errorf("no mailbox %q: %v", name, err)
		}
	}
	r = w.raw(t)
	r.Run(`
		C: c1 LOGIN bob bob
		S: c1 OK *
		C: c2 ENABLE IMAP4rev2
		S: * ENABLED IMAP4rev2
		S: c2 OK ENABLE completed
		C: c3 DELETE Bücher
		S: c3 OK DELETE completed`)
}

func TestValidMUTF7(t *testing.T) {
	for s, want := range map[string]bool{
		"INBOX": true, "&Jjo-": true, "&-": true, "a&-b": true, "&ZeVnLIqe-": true, "Café": true, "%*": true,
		"&Jjo": false, "&": false, "&AGE-": false, "&ZeVnLIqe-&ZeVnLIqe-": false, "&Jj-": false, "&2D3-": false,
		"a\x01b": false, "&Jjp-": false, "\xff": false, "&ZeVnLIqe-x&ZeVnLIqe-": true,
	} {
		if got := validMUTF7(s); got != want {
			t.Errorf("validMUTF7(%q) = %v, want %v", s, got, want)
		}
	}
	for line, want := range map[string]string{
		`a LIST (SUBSCRIBED) "" ("x" y) RETURN (CHILDREN)`: "[ x y]",
		`a LIST "r" p`:                   "[r p]",
		`a UID COPY 1:* "Sent"`:          "[Sent]",
		`a RENAME "a\"b" c`:              `[a"b c]`,
		`a APPEND box (\Seen) {3}`:       "[box]",
		`a APPEND {3}`:                   "[]",
		`a STATUS box (MESSAGES)`:        "[box]",
		`a FETCH 1 (FLAGS)`:              "[]",
		`a LSUB "" "%"`:                  "[ %]",
		`a EXAMINE ~{3+}`:                "[]",
		`a MOVE 1 x`:                     "[x]",
		`a SEARCH SUBJECT "&Jjo" FROM x`: "[]",
	} {
		var names []string
		for _, a := range nameArgs([]byte(line)) {
			names = append(names, a.text)
			if written := line[a.start:a.end]; a.text != strings.Trim(written, `"`) && !strings.Contains(written, `\`) {
				t.Errorf("nameArgs(%q): %q at %d:%d is %q", line, a.text, a.start, a.end, written)
			}
		}
		if got := fmt.Sprint(names); got != want {
			t.Errorf("nameArgs(%q) = %s, want %s", line, got, want)
		}
	}
}

// RFC 2971 §3.1: ID is valid in every state; the server answers with
// its own identification (or NIL) and OK. go-imap does not know ID, and
// before login would end the connection on it. ID is advertised.
func TestID(t *testing.T) {
	w := newWorld(t)
	r := w.raw(t)
	r.Run(`
		C: i1 ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")
		S: * ID ("name" "mailhop")
		S: i1 OK ID completed
		C: i2 CAPABILITY
		S: * CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LITERAL+ LITERAL- AUTH=PLAIN ID
		S: i2 OK CAPABILITY completed
		C: i3 ID foo
		S: i3 BAD [CLIENTBUG] ID takes NIL or a parenthesised list*
		C: i4 LOGIN bob bob
		S~ i4 OK \[CAPABILITY [^]]* LITERAL\+ APPENDLIMIT=67108864 ID\] Logged in
		C: i5 id NIL
		S: * ID ("name" "mailhop")
		S: i5 OK ID completed
		B: "i6 NOOP\r\ni7 ID NIL\r\ni8 NOOP\r\n"
		S: i6 OK NOOP completed
		S: * ID ("name" "mailhop")
		S: i7 OK ID completed
		S: i8 OK NOOP completed`)
	// A SASL response that reads like ID is a SASL response.
	r = w.raw(t)
	r.Run(`
		C: a1 AUTHENTICATE PLAIN
		S: + =
		C: x ID NIL
		S: a1 BAD *
		C: a2 NOOP
		S: a2 OK NOOP completed`)
}

// RFC 7888: LITERAL+ lets a client send any literal without waiting for
// "+" ({n+}), before login as after; LITERAL- (non-synchronising
// literals up to 4096 bytes) is advertised too.
func TestLiteralPlus(t *testing.T) {
	w := newWorld(t)
	r := w.raw(t)
	body := "Subject: big\r\n\r\n" + strings.Repeat("x", 6000) + "\r\n"
	if g := r.Greeting(); g != "* OK [CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LITERAL+ LITERAL- AUTH=PLAIN ID] IMAP server ready" {
		t.Errorf("greeting %q", g)
	}
	r.Run(fmt.Sprintf(`
		C: a1 LOGIN {3+}
		C: bob {3+}
		C: bob
		S: a1 OK *
		C: a2 APPEND INBOX {%d+}
		B: %q
		S: a2 OK [APPENDUID *
		C: a3 CAPABILITY
		S~ \* CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LITERAL- .* LITERAL\+ APPENDLIMIT=67108864 ID
		S: a3 OK CAPABILITY completed`, len(body), body+"\r\n"))
}

// RFC 3516 §4.4 (BINARY): APPEND takes a literal8, ~{n} or ~{n+}, whose
// data may hold NUL; a plain literal may not (RFC 9051 §4.3). RFC 3516
// §4.2: a partial BINARY[1]<0.7> is answered BINARY[1]<0> with the
// octets from that origin, as BODY[]<0.7> is answered BODY[]<0>. §4.4:
// "The server MAY modify the CTE of the appended data, however any such
// transformation MUST NOT result in a loss of data": the binary part is
// stored in base64, which BODYSTRUCTURE and BODY[1] show (§6), and
// BINARY[1] decodes.
func TestAppendBinary(t *testing.T) {
	w := newWorld(t)
	r := w.raw(t)
	w.uidValidity(t, r)
	msg := "Subject: bin\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: binary\r\n\r\nab\x00cdefgh\nij\r\n"
	r.Run(fmt.Sprintf(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		C: a2 APPEND INBOX ~{%[1]d+}
		B: %[2]q
		S: a2 OK [APPENDUID {UIDVALIDITY INBOX} 1] APPEND completed
		C: a3 APPEND INBOX {%[1]d+}
		B: %[2]q
		S: a3 BAD [CLIENTBUG] Message contains a NUL byte
		C: a4 APPEND INBOX (\Seen) ~{%[1]d}
		S: + *
		B: %[2]q
		S: a4 OK [APPENDUID {UIDVALIDITY INBOX} 2] APPEND completed
		`+opensInbox("a5", "EXAMINE", 2)+`
		C: a6 FETCH 1 (BINARY.PEEK[1]<0.7>)
		S: * 1 FETCH (BINARY[1]<0> ~{7}
		S: ab%[3]ccdef)
		S: a6 OK FETCH completed
		C: a7 UID FETCH 2 (FLAGS BINARY.PEEK[1]<3.4> BINARY.SIZE[1])
		S: * 2 FETCH (UID 2 FLAGS (\Seen \Recent) BINARY.SIZE[1] 14)
		S: * 2 FETCH (UID 2 BINARY[1]<3> ~{4}
		S: cdef)
		S: a7 OK UID FETCH completed
		C: a8 FETCH 1 (BINARY.PEEK[1]<12.9> BODY.PEEK[1] BODYSTRUCTURE)
		S: * 1 FETCH (BODYSTRUCTURE ("application" "octet-stream" NIL NIL NIL "base64" 22 NIL NIL NIL NIL) BODY[1] {22}
		S: YWIAY2RlZmdoCmlqDQo=
		S: )
		S: * 1 FETCH (BINARY[1]<12> ~{2}
		S:
		S: )
		S: a8 OK FETCH completed`, len(msg), msg+"\r\n", 0))
	// The binary part is stored in base64 (RFC 3516 §4.4).
	want := strings.Replace(msg, "binary\r\n\r\nab\x00cdefgh\nij\r\n", "base64\r\n\r\nYWIAY2RlZmdoCmlqDQo=\r\n", 1)
	for _, uid := range []store.UID{1, 2} {
		if got, err := w.Store.Read(bob, "INBOX", uid); err != nil || string(got) != want {
			t.Errorf("message %d stored as %q, %v", uid, got, err)
		}
	}
}

// RFC 3516 §4.4 and §6, in a multipart and on the Maildir store (which
// keeps lines, not line ends): each binary part, whatever octets it
// holds (NUL, lone CR and LF), is stored in base64 and BINARY gives it
// back exactly; the other parts, the preamble, the delimiters and the
// epilogue stay as they came.
func TestAppendBinaryParts(t *testing.T) {
	bin := "\x00-\xe4\n\r\n\n"
	msg := "Subject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
		"preamble\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: Binary\r\n (folded)\r\nX-Other: 1\r\n\r\n" + bin +
		"\r\n--b--\r\nepilogue\r\n"
	want := strings.Replace(msg, "Content-Transfer-Encoding: Binary\r\n (folded)\r\nX-Other: 1\r\n\r\n"+bin,
		"Content-Transfer-Encoding: base64\r\nX-Other: 1\r\n\r\nAC3kCg0KCg==", 1)
	overStores(t, func(t *testing.T, onStore option) {
		w := newWorld(t, onStore)
		r := w.raw(t)
		r.Run(fmt.Sprintf(`
				C: a1 LOGIN bob bob
				S: a1 OK *
				C: a2 APPEND INBOX ~{%d+}
				B: %q
				S: a2 OK [APPENDUID *
				`+opensInbox("a3", "EXAMINE", 1)+`
				C: a4 FETCH 1 (BODYSTRUCTURE BINARY.SIZE[2] BODY.PEEK[1] BODY.PEEK[2])
				S: * 1 FETCH (BODYSTRUCTURE (("text" "plain" NIL NIL NIL "7bit" 5 0 NIL NIL NIL NIL)("application" "octet-stream" NIL NIL NIL "base64" 12 NIL NIL NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL) BODY[1] {5}
				S: hello BODY[2] {12}
				S: AC3kCg0KCg== BINARY.SIZE[2] 7)
				S: a4 OK FETCH completed`, len(msg), msg+"\r\n"))
		raw, err := w.Store.Read(bob, "INBOX", 1)
		if err != nil || string(raw) != want {
			t.Fatalf("stored as %q, %v", raw, err)
		}
		got := imapserver.ExtractBinarySection(bytes.NewReader(raw), &goimap.FetchItemBinarySection{Part: []int{2}})
		if string(got) != bin {
			t.Errorf("BINARY[2] = %q, want %q", got, bin)
		}
	})
}

// RFC 3501 §7.4.2 (RFC 9051 §7.5.2) ENVELOPE: "[RFC-2822] group syntax
// is indicated by a special form of address structure in which the host
// name field is NIL. If the mailbox name field is also NIL, this is an
// end of group marker (semi-colon in RFC 822 syntax). If the mailbox
// name field is non-NIL, this is a start of group marker, and the
// mailbox name field holds the group name phrase." A source route
// (RFC 5322 §4.4 obs-route) is the address's at-domain-list, its address
// kept, comments are not
// part of one, and SEARCH FROM (RFC 9051 §6.4.4: "the envelope
// structure's FROM field") finds the address however it was written.
func TestEnvelopeGroups(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", []byte("From: alice(Alice Liddell)@(the kitchen)example.org\r\n"+
		"To: Team: bob@example.net, \"Carol C.\" <carol@example.net>;,\r\n"+
		" Dave <@relay.example.org,@hub.example.org:dave@example.net>\r\n"+
		"Cc: undisclosed-recipients:;\r\n"+
		"Subject: groups\r\nDate: Thu, 01 Jan 2026 09:00:00 +0000\r\nMessage-ID: <g1@example.org>\r\n\r\nHi\r\n"), msg(2))
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		` + opensInbox("a2", "EXAMINE", 2) + `
		C: a3 FETCH 1 ENVELOPE
		S: * 1 FETCH (ENVELOPE ("Thu, 01 Jan 2026 09:00:00 +0000" "groups" ((NIL NIL "alice" "example.org")) ((NIL NIL "alice" "example.org")) ((NIL NIL "alice" "example.org")) ((NIL NIL "Team" NIL) (NIL NIL "bob" "example.net") ("Carol C." NIL "carol" "example.net") (NIL NIL NIL NIL) ("Dave" "@relay.example.org,@hub.example.org" "dave" "example.net")) ((NIL NIL "undisclosed-recipients" NIL) (NIL NIL NIL NIL)) NIL NIL "<g1@example.org>"))
		S: a3 OK FETCH completed
		C: a4 SEARCH FROM alice@example.org
		S: * SEARCH 1 2
		S: a4 OK SEARCH completed
		C: a5 SEARCH FROM "Liddell"
		S: * SEARCH 1
		S: a5 OK SEARCH completed
		C: a6 SEARCH TO dave@example.net
		S: * SEARCH 1
		S: a6 OK SEARCH completed
		C: a7 SEARCH CC bob
		S: * SEARCH
		S: a7 OK SEARCH completed
		C: a8 UID FETCH 1:2 (FLAGS ENVELOPE)
		S: * 1 FETCH (UID 1 FLAGS (\Recent))
		S: * 1 FETCH (UID 1 ENVELOPE ("Thu, 01 Jan 2026 09:00:00 +0000" "groups" *
		S: * 2 FETCH (UID 2 FLAGS (\Recent) ENVELOPE (*
		S: a8 OK UID FETCH completed`)
}

// RFC 5322 §3.4: "Some legacy implementations used the simple form
// where the addr-spec appears without the angle brackets, but included
// the name of the recipient in parentheses as a comment following the
// addr-spec": that comment is the ENVELOPE address's personal name.
// RFC 3501 §7.4.2: "If the Sender or Reply-To lines are absent in the
// [RFC-2822] header, or are present but empty, the server sets the
// corresponding member of the envelope to be the same value as the from
// member". An empty group has its start and end markers only.
func TestEnvelopeLegacyName(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", []byte("Date: Thu, 15 Feb 2007 01:02:03 +0200\r\n"+
		"From: user@domain (Real Name)\r\nSender: \r\nReply-To: \r\n"+
		"To: (nobody) carol@example.net (Carol (the) Cook), dave(not a name)@example.net\r\n"+
		"Cc: group:;, group2: (foo) ;\r\n\r\nbody\r\n"))
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		` + opensInbox("a2", "EXAMINE", 1) + `
		C: a3 FETCH 1 ENVELOPE
		S: * 1 FETCH (ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" NIL (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) (("Carol (the) Cook" NIL "carol" "example.net") (NIL NIL "dave" "example.net")) ((NIL NIL "group" NIL) (NIL NIL NIL NIL) (NIL NIL "group2" NIL) (NIL NIL NIL NIL)) NIL NIL NIL))
		S: a3 OK FETCH completed
		C: a4 SEARCH FROM "real name"
		S: * SEARCH 1
		S: a4 OK SEARCH completed`)
}

func TestAddressList(t *testing.T) {
	for v, want := range map[string]string{
		`Alice <alice@example.org>`:                    `[{Alice alice example.org}]`,
		`alice@example.org (Alice)`:                    `[{Alice alice example.org}]`,
		`a@x (A (the) \) B), b@y(=?utf-8?q?B=C3=A9?=)`: `[{A (the) ) B a x} {Bé b y}]`,
		`a(not a name)@x`:                              `[{ a x}]`,
		`"Smith, John" <john@x>, jane@y`:               `[{Smith, John john x} { jane y}]`,
		`A Group:a@x,b@y;`:                             `[{ A Group } { a x} { b y} {  }]`,
		`Empty:;, c@z`:                                 `[{ Empty } {  } { c z}]`,
		`<@r1,@r2:u@h>`:                                `[{ u h}]`,
		`=?utf-8?q?Caf=C3=A9?= <cafe@example.org>`:     `[{Café cafe example.org}]`,
		`"john doe"@example.org`:                       `[{ "john doe" example.org}]`,
		`postmaster`:                                   `[{ postmaster MISSING_DOMAIN}]`,
		`<>`:                                           `[]`,
		`Unclosed: a@x`:                                `[{ Unclosed } { a x} {  }]`,
		`a@[192.0.2.1]`:                                `[{ a [192.0.2.1]}]`,
		`(only a comment)`:                             `[]`,
		`John Q. Public <jqp@example.com>, ((nested)) b@c`: `[{John Q. Public jqp example.com} { b c}]`,
	} {
		var parts []string
		for _, a := range addressList(v) {
			parts = append(parts, fmt.Sprint(a))
		}
		if got := "[" + strings.Join(parts, " ") + "]"; got != want {
			t.Errorf("addressList(%q) = %s, want %s", v, got, want)
		}
	}
}

// Subscriptions. RFC 3501 §6.3.6: the server "MUST NOT unilaterally
// remove an existing mailbox name from the subscription list even if a
// mailbox by that name no longer exists". §6.3.9 LSUB: "if "foo/bar" ...
// is subscribed but "foo" is not. A "%" wildcard to LSUB must return
// foo, not foo/bar, in the LSUB response, and it MUST be flagged with
// the \Noselect attribute." RFC 5258 §3: LIST (SUBSCRIBED) lists
// subscribed names, \NonExistent when there is no such mailbox, and
// with RECURSIVEMATCH (§3.5) a name with a subscribed descendant the
// pattern does not match, with CHILDINFO ("SUBSCRIBED"); a plain LIST
// lists mailboxes only.
func TestSubscriptions(t *testing.T) {
	w := newWorld(t)
	w.withoutSpecialUse(t)
	for _, name := range []string{"Fruit", "Fruit/Apple", "Fruit/Banana", "Vegetable", "Vegetable/Broccoli", "Tofu/Silken", "Old"} {
		if err := w.Store.CreateMailbox(bob, name); err != nil {
			t.Fatal(err)
		}
	}
	w.Store.SetSubscribed(bob, "Fruit", false)
	w.Store.SetSubscribed(bob, "Fruit/Banana", false)
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		C: a2 DELETE Old
		S: a2 OK DELETE completed
		C: a3 LSUB "" *
		S: * LSUB (\HasNoChildren) "/" INBOX
		S: * LSUB (\HasNoChildren) "/" "Fruit/Apple"
		S: * LSUB (\Noselect) "/" "Old"
		S: * LSUB (\HasNoChildren) "/" "Tofu/Silken"
		S: * LSUB (\HasChildren) "/" "Vegetable"
		S: * LSUB (\HasNoChildren) "/" "Vegetable/Broccoli"
		S: a3 OK LSUB completed
		C: a4 LSUB "" %
		S: * LSUB (\HasNoChildren) "/" INBOX
		S: * LSUB (\Noselect \HasChildren) "/" "Fruit"
		S: * LSUB (\Noselect) "/" "Old"
		S: * LSUB (\Noselect \HasChildren) "/" "Tofu"
		S: * LSUB (\HasChildren) "/" "Vegetable"
		S: a4 OK LSUB completed
		C: a5 LIST (SUBSCRIBED) "" *
		S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
		S: * LIST (\HasNoChildren \Subscribed) "/" "Fruit/Apple"
		S: * LIST (\NonExistent \Subscribed) "/" "Old"
		S: * LIST (\HasNoChildren \Subscribed) "/" "Tofu/Silken"
		S: * LIST (\HasChildren \Subscribed) "/" "Vegetable"
		S: * LIST (\HasNoChildren \Subscribed) "/" "Vegetable/Broccoli"
		S: a5 OK LIST completed
		C: a6 LIST (SUBSCRIBED) "" %
		S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
		S: * LIST (\NonExistent \Subscribed) "/" "Old"
		S: * LIST (\HasChildren \Subscribed) "/" "Vegetable"
		S: a6 OK LIST completed
		C: a7 LIST (SUBSCRIBED RECURSIVEMATCH) "" %
		S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
		S: * LIST (\HasChildren) "/" "Fruit" (CHILDINFO ("SUBSCRIBED"))
		S: * LIST (\NonExistent \Subscribed) "/" "Old"
		S: * LIST (\NonExistent \HasChildren) "/" "Tofu" (CHILDINFO ("SUBSCRIBED"))
		S: * LIST (\HasChildren \Subscribed) "/" "Vegetable" (CHILDINFO ("SUBSCRIBED"))
		S: a7 OK LIST completed
		C: a8 LIST (SUBSCRIBED RECURSIVEMATCH) "" *
		S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
		S: * LIST (\HasNoChildren \Subscribed) "/" "Fruit/Apple"
		S: * LIST (\NonExistent \Subscribed) "/" "Old"
		S: * LIST (\HasNoChildren \Subscribed) "/" "Tofu/Silken"
		S: * LIST (\HasChildren \Subscribed) "/" "Vegetable"
		S: * LIST (\HasNoChildren \Subscribed) "/" "Vegetable/Broccoli"
		S: a8 OK LIST completed
		C: a9 LIST "" % RETURN (SUBSCRIBED)
		S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
		S: * LIST (\HasChildren) "/" "Fruit"
		S: * LIST (\Noselect \HasChildren) "/" "Tofu"
		S: * LIST (\HasChildren \Subscribed) "/" "Vegetable"
		S: a9 OK LIST completed
		C: b1 UNSUBSCRIBE Old
		S: b1 OK UNSUBSCRIBE completed
		C: b2 LSUB "" Old
		S: b2 OK LSUB completed
		C: b3 UNSUBSCRIBE Old
		S: b3 NO [NONEXISTENT] *
		C: b4 SUBSCRIBE Later
		S: b4 OK SUBSCRIBE completed
		C: b5 LIST (SUBSCRIBED) "" Later
		S: * LIST (\NonExistent \Subscribed) "/" "Later"
		S: b5 OK LIST completed
		C: b6 CREATE Later
		S: b6 OK CREATE completed
		C: b7 LIST (SUBSCRIBED) "" Later
		S: * LIST (\HasNoChildren \Subscribed) "/" "Later"
		S: b7 OK LIST completed`)
}

// RFC 9051 §6.3.7: "The SUBSCRIBE command adds the specified mailbox
// name to the server's set of "active" or "subscribed" mailboxes"; CREATE
// (§6.3.4) adds nothing to it, nor do the superiors it creates, so LSUB
// "%" shows the superior of a subscribed mailbox \Noselect (RFC 3501
// §6.3.9) and LIST RETURN (SUBSCRIBED) marks only what the client
// subscribed (RFC 5258 §3.2). A name subscribed before it was created
// stays subscribed (RFC 3501 §6.3.6).
func TestCreateUnsubscribed(t *testing.T) {
	w := newWorld(t)
	w.withoutSpecialUse(t)
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		C: a2 CREATE Box/
		S: a2 OK CREATE completed
		C: a3 CREATE Box/test
		S: a3 OK CREATE completed
		C: a4 CREATE Box/test2/test
		S: a4 OK CREATE completed
		C: a5 SUBSCRIBE Box/test2/test
		S: a5 OK SUBSCRIBE completed
		C: a6 SUBSCRIBE Later
		S: a6 OK SUBSCRIBE completed
		C: a7 CREATE Later
		S: a7 OK CREATE completed
		C: a8 LSUB "" Box/%
		S: * LSUB (\Noselect \HasChildren) "/" "Box/test2"
		S: a8 OK LSUB completed
		C: a9 LIST "" Box/% RETURN (CHILDREN SUBSCRIBED)
		S: * LIST (\HasNoChildren) "/" "Box/test"
		S: * LIST (\HasChildren) "/" "Box/test2"
		S: a9 OK LIST completed
		C: b1 RENAME Box/test2/test Other/test
		S: b1 OK RENAME completed
		C: b2 LSUB "" *
		S: * LSUB (\HasNoChildren) "/" INBOX
		S: * LSUB (\HasNoChildren) "/" "Later"
		S: * LSUB (\HasNoChildren) "/" "Other/test"
		S: b2 OK LSUB completed
		C: b3 LIST (SUBSCRIBED RECURSIVEMATCH) "" %
		S: * LIST (\HasNoChildren \Subscribed) "/" INBOX
		S: * LIST (\HasNoChildren \Subscribed) "/" "Later"
		S: * LIST (\HasChildren) "/" "Other" (CHILDINFO ("SUBSCRIBED"))
		S: b3 OK LIST completed`)
}

// RFC 6851 §3.3: MOVE answers COPYUID (RFC 4315) before the EXPUNGE
// responses of the messages moved. Into the selected mailbox itself it
// succeeds, as in Dovecot: the messages get new UIDs, the old ones are
// expunged, and the EXPUNGE responses come before the EXISTS of the new
// ones, so that the count the client keeps is never more than the
// mailbox holds. On the Maildir store as on the memory one.
func TestMoveSameMailbox(t *testing.T) {
	overStores(t, func(t *testing.T, onStore option) {
		w := newWorld(t, onStore)
		w.Deliver(t, "INBOX", msg(1), msg(2), msg(3))
		w.Store.SetFlags(bob, "INBOX", []store.UID{2}, store.FlagsAdd, []string{store.FlagFlagged})
		r := w.raw(t)
		w.uidValidity(t, r)
		r.Run(`
				C: a1 LOGIN bob bob
				S: a1 OK *
				` + opensInbox("a2", "SELECT", 3) + `
				C: a3 MOVE 1:2 INBOX
				S: * OK [COPYUID {UIDVALIDITY INBOX} 1:2 4:5] *
				S: * 1 EXPUNGE
				S: * 1 EXPUNGE
				S: * 2 EXISTS
				S: * 3 EXISTS
				S: * 3 RECENT
				S: a3 OK MOVE completed
				C: a4 FETCH 1:* (UID FLAGS)
				S: * 1 FETCH (UID 3 FLAGS (\Recent))
				S: * 2 FETCH (UID 4 FLAGS (\Recent))
				S: * 3 FETCH (UID 5 FLAGS (\Flagged \Recent))
				S: a4 OK FETCH completed
				C: a5 UID MOVE 99 INBOX
				S: a5 OK UID MOVE completed`)
	})
}

// RFC 9051 §6.3.2: SELECT's untagged data includes "LIST: The server
// MUST return a LIST response with the mailbox name. The list of mailbox
// attributes MUST be accurate." An IMAP4rev1 client (RFC 3501 §6.3.1)
// gets no LIST, but RECENT and [UNSEEN n].
func TestSelectListRev2(t *testing.T) {
	w := newWorld(t)
	w.Store.CreateMailbox(bob, "Sent")
	w.Store.CreateMailbox(bob, "Work")
	w.Store.CreateMailbox(bob, "Work/2026")
	w.Deliver(t, "Work", msg(1))
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		C: a2 EXAMINE Sent
		S: * 0 EXISTS
		S: * 0 RECENT
		S: * OK [UIDVALIDITY *
		S: * OK [UIDNEXT 1] *
		S: * FLAGS *
		S: * OK [PERMANENTFLAGS ()] *
		S: a2 OK [READ-ONLY] EXAMINE completed
		C: a3 ENABLE IMAP4rev2
		S: * ENABLED IMAP4rev2
		S: a3 OK ENABLE completed
		C: a4 SELECT Sent
		S: * OK [CLOSED] Previous mailbox is now closed
		S: * 0 EXISTS
		S: * OK [UIDVALIDITY *
		S: * OK [UIDNEXT 1] *
		S: * FLAGS *
		S: * OK [PERMANENTFLAGS *
		S: * LIST (\HasNoChildren \Sent) "/" "Sent"
		S: a4 OK [READ-WRITE] SELECT completed
		C: a5 EXAMINE Work
		S: * OK [CLOSED] Previous mailbox is now closed
		S: * 1 EXISTS
		S: * OK [UIDVALIDITY *
		S: * OK [UIDNEXT 2] *
		S: * FLAGS *
		S: * OK [PERMANENTFLAGS ()] *
		S: * LIST (\HasChildren) "/" "Work"
		S: a5 OK [READ-ONLY] EXAMINE completed
		C: a6 SELECT inbox
		S: * OK [CLOSED] Previous mailbox is now closed
		S: * 0 EXISTS
		S: * OK [UIDVALIDITY *
		S: * OK [UIDNEXT 1] *
		S: * FLAGS *
		S: * OK [PERMANENTFLAGS *
		S: * LIST (\HasNoChildren) "/" INBOX
		S: a6 OK [READ-WRITE] SELECT completed`)
}

// A FETCH response held back behind the FLAGS that names its keyword
// (see TestKeywordBehindExpunge) shows the message's flags as they are
// when it is written: another session's change, told before it, is not
// undone by it (RFC 9051 §7.5.2: the last FETCH FLAGS is what the
// client keeps). imaptest's checkpoints caught sessions that disagreed.
func TestHeldFetchShowsFlagsNow(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), msg(2))
	a := w.raw(t)
	a.expect("a1", "LOGIN bob bob", "OK")
	a.expect("a2", "SELECT INBOX", "OK")
	// Another session expunges the second message; this one then labels
	// the first, whose FLAGS waits behind that EXPUNGE.
	w.Store.SetFlags(bob, "INBOX", []store.UID{2}, store.FlagsAdd, []string{store.FlagDeleted})
	w.Store.Expunge(bob, "INBOX", []store.UID{2})
	a.Run(`
		C: a3 STORE 1 +FLAGS ($New)
		S: * 2 FETCH (UID 2 FLAGS (\Deleted \Recent))
		S: a3 OK STORE completed`)
	// Someone takes the label off again.
	w.Store.SetFlags(bob, "INBOX", []store.UID{1}, store.FlagsRemove, []string{"$New"})
	a.Run(`
		C: a4 NOOP
		S: * 2 EXPUNGE
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen $New)
		S: * 1 FETCH (UID 1 FLAGS (\Recent))
		S: * 1 FETCH (FLAGS (\Recent))
		S: a4 OK NOOP completed`)
}

// Another session's change told after this session's own STORE does not
// undo it: go-imap writes the pending updates after the command's
// answer, and each FETCH shows the flags as they are then, so the last
// one the client reads is the message's state. imaptest's checkpoints
// caught clients that kept \Seen off a message that had it.
func TestLateChangeShowsFlagsNow(t *testing.T) {
	overStores(t, func(t *testing.T, onStore option) {
		w := newWorld(t, onStore)
		w.Deliver(t, "INBOX", msg(1))
		a, b := w.raw(t), w.raw(t)
		a.expect("a1", "LOGIN bob bob", "OK")
		a.expect("a2", "SELECT INBOX", "OK")
		b.expect("b1", "LOGIN bob bob", "OK")
		b.expect("b2", "SELECT INBOX", "OK")
		b.expect("b3", "STORE 1 +FLAGS.SILENT (\\Flagged)", "OK")
		a.Run(`
			C: a3 STORE 1 +FLAGS (\Seen)
			S: * 1 FETCH (FLAGS (\Flagged \Seen \Recent))
			S: * 1 FETCH (UID 1 FLAGS (\Flagged \Seen \Recent))
			S: a3 OK STORE completed
			C: a4 UID FETCH 1 (FLAGS)
			S: * 1 FETCH (UID 1 FLAGS (\Flagged \Seen \Recent))
			S: a4 OK UID FETCH completed`)
		b.Run(`
			C: b4 NOOP
			S: * 1 FETCH (UID 1 FLAGS (\Flagged \Seen))
			S: b4 OK NOOP completed`)
	})
}

// The flags a FETCH response shows are its FLAGS item's, right after its
// UID: text that only looks like one (a subject) is left as written.
func TestFlagsLookalikeKept(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", []byte("From: alice@example.org\r\nSubject: about FLAGS (bug)\r\nDate: Thu, 01 Jan 2026 09:00:00 +0000\r\n\r\nHi\r\n"))
	r := w.raw(t)
	r.expect("a1", "LOGIN bob bob", "OK")
	r.expect("a2", "SELECT INBOX", "OK")
	r.Run(`
		C: a3 UID FETCH 1 (ENVELOPE)
		S: * 1 FETCH (UID 1 ENVELOPE ("Thu, 01 Jan 2026 09:00:00 +0000" "about FLAGS (bug)" *
		S: a3 OK UID FETCH completed`)
}
