package imap

import (
	"strings"
	"testing"
	"time"
)

// sortMessage is a message of the SORT and THREAD tests: real headers,
// from the fields given ("" leaves a field out).
type sortMessage struct {
	from, to, cc, subject, date, id, refs, inReplyTo string
	arrived                                          time.Time
}

func (m sortMessage) bytes() []byte {
	var b strings.Builder
	for _, f := range [][2]string{{"From", m.from}, {"To", m.to}, {"Cc", m.cc}, {"Subject", m.subject},
		{"Date", m.date}, {"Message-ID", m.id}, {"In-Reply-To", m.inReplyTo}, {"References", m.refs}} {
		if f[1] != "" {
			b.WriteString(f[0] + ": " + f[1] + "\r\n")
		}
	}
	b.WriteString("\r\nHello.\r\n")
	return []byte(b.String())
}

// sortMailbox is INBOX for the SORT and THREAD tests (sequence numbers
// and UIDs 1 to 8). Sent dates, in UTC: 3 (Mar 2 04:00, written Mar 1
// -0500), 1 (10:00), 4 (11:00, written +0100), 2 (11:30, written 09:30
// -0200), 6 (Mar 3 07:00), 5 (08:00), 7 (Mar 4), 8 (no Date: its
// internal date, Mar 5). Arrival: 8, then 1 to 7. Base subjects: budget
// (3, 4 a forward, 8), lunch plans (1, 2 and 7 replies), party food (5)
// and party (6), both replies to a message not in the mailbox.
var sortMailbox = []sortMessage{
	{from: `"Zed" <zed@example.org>`, to: "bob@example.net", subject: "Lunch plans",
		date: "Mon, 2 Mar 2026 10:00:00 +0000", id: "<a@example.org>"},
	{from: "Alice <alice@example.org>", to: "bob@example.net", cc: "carol@example.org", subject: "Re: Lunch plans",
		date: "Mon, 2 Mar 2026 09:30:00 -0200", id: "<b@example.org>", inReplyTo: "<a@example.org>"},
	{from: "bob@example.net", to: "team@example.net", subject: "[team] Budget",
		date: "Sun, 1 Mar 2026 23:00:00 -0500", id: "<c@example.org>"},
	{from: "Carol <carol@example.org>", to: "alice@example.org", cc: "Bob <bob@example.net>", subject: "Fwd: Budget (fwd)",
		date: "Mon, 2 Mar 2026 12:00:00 +0100", id: "<d@example.org>"},
	{from: "dave@example.org", to: "bob@example.net", subject: "Re: Party food",
		date: "Tue, 3 Mar 2026 08:00:00 +0000", id: "<e@example.org>", refs: "<gone@example.org>"},
	{from: "Erin <erin@example.org>", to: "bob@example.net", subject: "Re: [party] Party",
		date: "Tue, 3 Mar 2026 07:00:00 +0000", id: "<f@example.org>", refs: "<gone@example.org>"},
	{from: "Alice <alice@example.org>", to: "bob@example.net", subject: "RE: re: lunch PLANS",
		date: "Wed, 4 Mar 2026 09:00:00 +0000", id: "<g@example.org>", refs: "<a@example.org> <b@example.org>"},
	{from: "Bob <bob@example.net>", to: "zed@example.org", subject: "Budget", id: "<h@example.org>",
		arrived: time.Date(2026, 3, 5, 9, 0, 0, 0, time.UTC)},
}

// fillSortMailbox delivers sortMailbox to bob's INBOX.
func (w *world) fillSortMailbox(t *testing.T) {
	t.Helper()
	w.fillSortMessages(t, sortMailbox)
}

// fillSortMessages delivers msgs to bob's INBOX, in order: those without
// an arrival time arrive an hour apart on 10 March 2026, in order.
func (w *world) fillSortMessages(t *testing.T, msgs []sortMessage) {
	t.Helper()
	for i, m := range msgs {
		arrived := m.arrived
		if arrived.IsZero() {
			arrived = time.Date(2026, 3, 10, i, 0, 0, 0, time.UTC)
		}
		if _, err := w.Store.Append(bob, "INBOX", m.bytes(), nil, arrived); err != nil {
			t.Fatal(err)
		}
	}
}

// sortTranscript is the SORT, THREAD and ESORT transcript each store
// must pass: after LOGIN and SELECT of sortMailbox.
const sortTranscript = `
	# RFC 5256 §3: the sort criteria, REVERSE before one, ties by
	# sequence number; DATE is the sent date in UTC (§2.2), the
	# internal date without one (message 8).
	C: s1 SORT (DATE) UTF-8 ALL
	S: * SORT 3 1 4 2 6 5 7 8
	S: s1 OK SORT completed
	C: s2 SORT (REVERSE DATE) US-ASCII ALL
	S: * SORT 8 7 5 6 2 4 1 3
	S: s2 OK SORT completed
	C: s3 SORT (ARRIVAL) UTF-8 ALL
	S: * SORT 8 1 2 3 4 5 6 7
	S: s3 OK SORT completed
	# SUBJECT compares base subjects (§2.1): "[team] Budget", "Fwd:
	# Budget (fwd)", "RE: re: lunch PLANS", case aside.
	C: s4 SORT (SUBJECT) UTF-8 ALL
	S: * SORT 3 4 8 1 2 7 6 5
	S: s4 OK SORT completed
	# FROM, TO and CC compare the first mailbox's local part; no Cc
	# sorts first.
	C: s5 SORT (FROM REVERSE DATE) UTF-8 ALL
	S: * SORT 7 2 8 3 4 5 6 1
	S: s5 OK SORT completed
	C: s6 SORT (CC) UTF-8 ALL
	S: * SORT 1 3 5 6 7 8 4 2
	S: s6 OK SORT completed
	C: s7 SORT (TO SUBJECT) UTF-8 ALL
	S: * SORT 4 1 2 7 6 5 3 8
	S: s7 OK SORT completed
	# RFC 5957: the display name, else the address.
	C: s8 SORT (DISPLAYFROM) UTF-8 ALL
	S: * SORT 2 7 8 3 4 5 6 1
	S: s8 OK SORT completed
	# The search keys select as SEARCH's do, a literal included.
	C: s9 SORT (DATE) UTF-8 SUBJECT {6}
	S: + *
	C: budget
	S: * SORT 3 4 8
	S: s9 OK SORT completed
	C: s10 SORT (REVERSE SUBJECT) UTF-8 OR FROM alice TO {11+}
	C: team@exampl SINCE 3-Mar-2026
	S: * SORT 2 7 3
	S: s10 OK SORT completed
	C: s11 UID SORT (SUBJECT) UTF-8 NOT 1:4
	S: * SORT 8 7 6 5
	S: s11 OK UID SORT completed
	C: s12 SORT (DATE) ISO-8859-1 ALL
	S: s12 NO [BADCHARSET (UTF-8 US-ASCII)] *
	C: s13 SORT (DATE) UTF-8 SUBJECT nothing-like-this
	S: * SORT
	S: s13 OK SORT completed

	# RFC 5256 §3 ORDEREDSUBJECT: by base subject, the first message
	# the parent of the rest; threads by their first's sent date.
	C: t1 THREAD ORDEREDSUBJECT UTF-8 ALL
	S: * THREAD (3 (4)(8))(1 (2)(7))(6)(5)
	S: t1 OK THREAD completed
	# REFERENCES: 7 replies to 2 (its last reference), 2 to 1; 5 and
	# 6 to a message not here (a dummy, kept at the top for its two
	# children); 4 (a forward) joins 3's thread, and 8 (not a reply)
	# makes a dummy with it.
	C: t2 THREAD REFERENCES UTF-8 ALL
	S: * THREAD ((3 4)(8))(1 2 7)((6)(5))
	S: t2 OK THREAD completed
	C: t3 UID THREAD REFERENCES UTF-8 NOT SUBJECT budget
	S: * THREAD (1 2 7)((6)(5))
	S: t3 OK UID THREAD completed
	C: t4 THREAD REFERENCES UTF-8 SUBJECT party
	S: * THREAD ((6)(5))
	S: t4 OK THREAD completed
	C: t5 THREAD SUBJECT UTF-8 ALL
	S: t5 BAD *

	# RFC 5267 §3: ESORT answers with ESEARCH; MIN and MAX are the
	# first and last in the sort order, ALL the sort order.
	C: e1 SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL
	S: * ESEARCH (TAG "e1") MIN 3 MAX 8 ALL 3,1,4,2,6,5,7:8 COUNT 8
	S: e1 OK SORT completed
	C: e2 UID SORT RETURN (COUNT) (DATE) UTF-8 SUBJECT nothing-like-this
	S: * ESEARCH (TAG "e2") UID COUNT 0
	S: e2 OK UID SORT completed
	C: e3 SORT RETURN () (REVERSE ARRIVAL) UTF-8 1:3
	S: * ESEARCH (TAG "e3") ALL 3,2,1
	S: e3 OK SORT completed
	# RFC 5182: SAVE alone answers nothing, and keeps the result for "$".
	C: e4 SORT RETURN (SAVE) (DATE) UTF-8 SUBJECT party
	S: e4 OK SORT completed
	C: e5 UID SEARCH UID $
	S: * SEARCH 5 6
	S: e5 OK UID SEARCH completed
	C: e6 SORT (REVERSE SIZE) UTF-8 $
	S: * SORT 6 5
	S: e6 OK SORT completed
`

func sortSession(tag string) string {
	return `
		C: ` + tag + `1 LOGIN bob bob
		S: ` + tag + `1 OK *` + opensInbox(tag+"2", "SELECT", len(sortMailbox))
}

// RFC 5256 SORT and THREAD, RFC 5957 SORT=DISPLAY and RFC 5267 ESORT,
// on the memory store and on the Maildir one.
func TestSortThread(t *testing.T) {
	overStores(t, func(t *testing.T, onStore option) {
		w := newWorld(t, onStore)
		w.fillSortMailbox(t)
		r := w.raw(t)
		r.Run(sortSession("a") + sortTranscript)
	})
}

// RFC 5256 §3 (and RFC 9051 §7.5.1, as for SEARCH): SORT answers with
// the session's sequence numbers. An expunge the session has not been
// told of does not renumber its answer, nor is it told during a SORT or
// THREAD by sequence number; a UID SORT may tell it. Its own EXPUNGE
// renumbers at once.
func TestSortSequenceNumbers(t *testing.T) {
	w := newWorld(t)
	w.fillSortMailbox(t)
	a, b := w.raw(t), w.raw(t)
	a.Run(sortSession("a"))
	b.Run(`
		C: b1 LOGIN bob bob
		S: b1 OK *
		C: b2 SELECT INBOX
		S: * 8 EXISTS
		S: * 0 RECENT
		S: * OK [UNSEEN 1] *
		S: * OK [UIDVALIDITY *
		S: * OK [UIDNEXT 9] *
		S: * FLAGS *
		S: * OK [PERMANENTFLAGS *
		S: b2 OK *
		C: b3 STORE 3 +FLAGS.SILENT (\Deleted)
		S: b3 OK STORE completed
		C: b4 EXPUNGE
		S: * 3 EXPUNGE
		S: b4 OK EXPUNGE completed`)
	a.Run(`
		C: a3 SORT (DATE) UTF-8 ALL
		S: * SORT 1 4 2 6 5 7 8
		S: * 3 FETCH (UID 3 FLAGS (\Deleted \Recent))
		S: a3 OK SORT completed
		C: a4 THREAD ORDEREDSUBJECT UTF-8 ALL
		S: * THREAD (1 (2)(7))(4 8)(6)(5)
		S: a4 OK THREAD completed
		C: a5 UID SORT (DATE) UTF-8 ALL
		S: * SORT 1 4 2 6 5 7 8
		S: * 3 EXPUNGE
		S: a5 OK UID SORT completed
		C: a6 SORT (DATE) UTF-8 ALL
		S: * SORT 1 3 2 5 4 6 7
		S: a6 OK SORT completed
		C: a7 STORE 1 +FLAGS.SILENT (\Deleted)
		S: a7 OK STORE completed
		C: a8 EXPUNGE
		S: * 1 EXPUNGE
		S: a8 OK EXPUNGE completed
		C: a9 SORT RETURN (ALL) (DATE) UTF-8 ALL
		S: * ESEARCH (TAG "a9") ALL 2,1,4,3,5:6
		S: a9 OK SORT completed
		C: a10 UID SORT (DATE) UTF-8 ALL
		S: * SORT 4 2 6 5 7 8
		S: a10 OK UID SORT completed`)
}

// SORT and THREAD are commands of the selected state, advertised after
// login; a SORT that is not well formed is answered BAD by the server,
// its literal's data not taken for a command.
func TestSortRefused(t *testing.T) {
	w := newWorld(t)
	w.fillSortMailbox(t)
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S~ a1 OK \[CAPABILITY .* ESEARCH SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES .*\] Logged in
		C: a2 SORT (DATE) UTF-8 ALL
		S: a2 BAD [CLIENTBUG] This command is only valid in the selected state
		C: a3 CAPABILITY
		S~ \* CAPABILITY .* SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES .*
		S: a3 OK CAPABILITY completed
` + opensInbox("a4", "SELECT", len(sortMailbox)) + `
		C: a5 SORT () UTF-8 ALL
		S: a5 BAD *
		C: a6 SORT (DATE SUBJECTS) UTF-8 ALL
		S: a6 BAD *
		C: a7 SORT (REVERSE) UTF-8 ALL
		S: a7 BAD *
		C: a8 SORT DATE UTF-8 ALL
		S: a8 BAD *
		C: a9 SORT (DATE) UTF-8
		S: a9 BAD *
		C: a10 SORT RETURN (MIN FIRST) (DATE) UTF-8 ALL
		S: a10 BAD *
		C: a11 SORT (DATE) UTF-8 SUBJECT
		S: a11 BAD *
		C: a12 SORT (DATE) KOI8-R SUBJECT {3+}
		C: abc
		C: a13 NOOP
		S: a12 NO [BADCHARSET (UTF-8 US-ASCII)] *
		S: a13 OK NOOP completed
		C: a14 SORT (DATE) UTF-8 ` + strings.Repeat("NOT ", 70) + `ALL
		S: a14 BAD *
		C: a15 SEARCH SUBJECT party
		S: * SEARCH 5 6
		S: a15 OK SEARCH completed`)
}

// A pipelined SORT waits for the commands before it, and a SEARCH after
// it is a SEARCH.
func TestSortPipelined(t *testing.T) {
	w := newWorld(t)
	w.fillSortMailbox(t)
	r := w.raw(t)
	r.Run(sortSession("a") + `
		C: p1 STORE 2 +FLAGS (\Flagged)
		C: p2 SORT (REVERSE DATE) UTF-8 FLAGGED
		C: p2 SEARCH FLAGGED
		C: p3 THREAD REFERENCES UTF-8 FLAGGED
		S: * 2 FETCH (FLAGS (\Flagged \Recent))
		S: p1 OK STORE completed
		S: * SORT 2
		S: p2 OK SORT completed
		S: * SEARCH 2
		S: p2 OK SEARCH completed
		S: * THREAD (2)
		S: p3 OK THREAD completed`)
}

// go-imap's answer to the SEARCH a SORT stands for is not left for a
// client that enabled IMAP4rev2 (which gets ESEARCH for SEARCH).
func TestSortIMAP4rev2(t *testing.T) {
	w := newWorld(t)
	w.fillSortMailbox(t)
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		C: a2 ENABLE IMAP4rev2
		S: * ENABLED IMAP4rev2
		S: a2 OK *`)
	r.expect("a3", "EXAMINE INBOX", "OK")
	r.Run(`
		C: a4 SORT (SUBJECT) UTF-8 ALL
		S: * SORT 3 4 8 1 2 7 6 5
		S: a4 OK SORT completed
		C: a5 SEARCH SUBJECT party
		S: * ESEARCH (TAG "a5") ALL 5:6
		S: a5 OK SEARCH completed`)
}

// RFC 5256, Internationalization Considerations: SORT and THREAD
// "MUST collate strings in accordance with the requirements of
// I18NLEVEL=1", whose comparator is i;unicode-casemap (RFC 5255),
// which compares "titlecased canonicalized UTF-8" (RFC 5051 §2): in
// title case, a base subject that is only a blob (§2.1 (4)) or starts
// with "_" sorts after the letters, not before them as in lower case.
// The base subject is taken after "(1) Convert any RFC 2047
// encoded-words in the subject to [UTF-8] ... Convert all multiple
// spaces to a single space": an encoded space alone is an empty
// subject, as no Subject is; encoded words in ISO-8859-1, UTF-8 and
// US-ASCII (base64) are read; THREAD groups the same base subjects.
func TestSortCollation(t *testing.T) {
	w := newWorld(t)
	w.fillSortMessages(t, []sortMessage{
		{subject: "apple pie"},
		{subject: "[draft]"},
		{subject: "=?utf-8?q?Re:_zebra_crossing?="},
		{subject: "_notes_"},
		{},
		{subject: "=?iso-8859-1?q?=C9clair?="},
		{subject: "=?us-ascii?b?IA==?="},
		{subject: "Fwd: =?us-ascii?B?QVBQTEUgUElF?="},
		{subject: "zebra  crossing (fwd)"},
	})
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *` + opensInbox("a2", "SELECT", 9) + `
		C: a3 SORT (SUBJECT) UTF-8 ALL
		S: * SORT 5 7 1 8 3 9 2 4 6
		S: a3 OK SORT completed
		C: a4 SORT (REVERSE SUBJECT) US-ASCII ALL
		S: * SORT 6 4 2 3 9 1 8 5 7
		S: a4 OK SORT completed
		C: a5 THREAD ORDEREDSUBJECT UTF-8 ALL
		S: * THREAD (1 8)(2)(3 9)(4)(5 7)(6)
		S: a5 OK THREAD completed
		C: a6 THREAD REFERENCES UTF-8 ALL
		S: * THREAD (1 8)(2)((3)(9))(4)(5)(6)(7)
		S: a6 OK THREAD completed`)
}

// RFC 5256 §3: "CC [IMAP] addr-mailbox of the first "cc" address", and
// so for FROM and TO; RFC 5957 §3: the DISPLAY sort value of an address
// is its addr-name, else "addr-mailbox@addr-host", else, "if the
// address structure's [IMAP] addr-mailbox is non-NIL", its addr-mailbox.
// The first address of a field that starts with a group is the group's
// start marker, whose addr-mailbox is the group's name (RFC 3501
// §7.4.2), as ENVELOPE shows it: the group sorts by its name, an empty
// group too, not by its first member. A field missing sorts as "".
func TestSortGroups(t *testing.T) {
	w := newWorld(t)
	w.fillSortMessages(t, []sortMessage{
		{from: "Team: zoe@example.org;", to: "undisclosed-recipients:;",
			cc: "crew: zoe@example.org, amy@example.org;"},
		{from: "Bob <bob@example.net>", to: "Bob <bob@example.net>", cc: "mia@example.org"},
		{from: "kim@example.org", to: "kim@example.org"},
		{from: "lee@example.org", to: "Friends: xena@example.org;", cc: "Lee <lee@example.org>"},
	})
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *` + opensInbox("a2", "SELECT", 4) + `
		C: a3 FETCH 1 ENVELOPE
		S: * 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL "Team" NIL) *
		S: a3 OK FETCH completed
		C: a4 SORT (CC) US-ASCII ALL
		S: * SORT 3 1 4 2
		S: a4 OK SORT completed
		C: a5 SORT (REVERSE CC) US-ASCII ALL
		S: * SORT 2 4 1 3
		S: a5 OK SORT completed
		C: a6 SORT (TO) US-ASCII ALL
		S: * SORT 2 4 3 1
		S: a6 OK SORT completed
		C: a7 SORT (FROM) US-ASCII ALL
		S: * SORT 2 3 4 1
		S: a7 OK SORT completed
		C: a8 SORT (DISPLAYTO) US-ASCII ALL
		S: * SORT 2 4 3 1
		S: a8 OK SORT completed
		C: a9 SORT (DISPLAYFROM) US-ASCII ALL
		S: * SORT 2 3 4 1
		S: a9 OK SORT completed`)
}

// RFC 5256 §2.1: the base subject.
func TestBaseSubject(t *testing.T) {
	for _, c := range []struct {
		in, base string
		reply    bool
	}{
		{"Hello", "Hello", false},
		{"Re: Hello", "Hello", true},
		{"RE:re: Fwd:  Hello  world ", "Hello world", true},
		{"Fw: Hello", "Hello", true},
		{"Re [2]: Hello", "Hello", true},
		{"[list] Re: Hello", "Hello", true},
		{"[list] Hello", "Hello", false},
		{"[list]", "[list]", false},
		{"Hello (fwd) (FWD)", "Hello", true},
		{"[Fwd: Re: Hello]", "Hello", true},
		{"[fwd: [list] Hello (fwd)]", "Hello", true},
		{"Research: results", "Research: results", false},
		{"Re:", "", true},
		{"\tHello\r\n there", "Hello there", false},
		{"", "", false},
	} {
		base, reply := baseSubject(c.in)
		if base != c.base || reply != c.reply {
			t.Errorf("baseSubject(%q) = %q, %v; want %q, %v", c.in, base, reply, c.base, c.reply)
		}
	}
}

// The line go-imap gets for a SORT or THREAD: a SEARCH with the same
// keys, the rest of the line as it was.
func TestSortSearchLine(t *testing.T) {
	for _, c := range []struct{ in, search, why string }{
		{"a SORT (DATE) UTF-8 ALL", "a SEARCH CHARSET UTF-8 ALL", ""},
		{`a uid sort (reverse subject) "utf-8" SUBJECT {5}`, "a UID SEARCH CHARSET UTF-8 SUBJECT {5}", ""},
		{"a SORT RETURN (SAVE COUNT) (SIZE) US-ASCII OR 1 2", "a SEARCH RETURN (SAVE) CHARSET US-ASCII OR 1 2", ""},
		{"a THREAD REFERENCES UTF-8 (FLAGGED)", "a SEARCH CHARSET UTF-8 (FLAGGED)", ""},
		{"a SORT (DATE) LATIN1 ALL", "", badCharsetReply},
		{"a SORT (DATE) {5}", "", "BAD *"},
		{"a THREAD", "", "BAD *"},
		{"a SORT RETURN MIN (DATE) UTF-8 ALL", "", "BAD *"},
	} {
		search, _, why := sortSearch([]byte(c.in))
		if string(search) != c.search || !matchWhy(why, c.why) {
			t.Errorf("sortSearch(%q) = %q, %q; want %q, %q", c.in, search, why, c.search, c.why)
		}
	}
}

func matchWhy(got, want string) bool {
	if p, ok := strings.CutSuffix(want, "*"); ok {
		return strings.HasPrefix(got, p)
	}
	return got == want
}

// sortSearch never panics, and what go-imap gets is a SEARCH that ends
// with the rest of the line.
func FuzzSortSearch(f *testing.F) {
	for _, s := range []string{"a SORT (DATE) UTF-8 ALL", "a UID SORT RETURN (MIN MAX) (REVERSE DATE SUBJECT) UTF-8 SUBJECT {5}",
		"a THREAD REFERENCES US-ASCII OR (FLAGGED) NOT 1:*", `a SORT ("DATE") "UTF-8" TEXT "x y"`, "a SORT (", "a SORT RETURN (",
		"a UID THREAD", "a SORT (REVERSE REVERSE DATE) UTF-8 ALL", "a SORT () () UTF-8", `a SORT (DATE) "UTF-8"ALL`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if !isSortCommand(strings.Fields(line)) {
			return
		}
		search, cmd, why := sortSearch([]byte(line))
		if why != "" {
			if search != nil || cmd != nil {
				t.Fatalf("refused %q with a SEARCH %q", line, search)
			}
			return
		}
		head, rest, ok := strings.Cut(string(search), " CHARSET ")
		_, rest, _ = strings.Cut(rest, " ")
		want := cmd.tag + " SEARCH"
		if cmd.uid {
			want = cmd.tag + " UID SEARCH"
		}
		if cmd.ret.save {
			want += " RETURN (SAVE)"
		}
		if !ok || head != want || !strings.HasSuffix(line, " "+rest) {
			t.Fatalf("SEARCH %q for %q", search, line)
		}
		if cmd.thread == "" && len(cmd.keys) == 0 {
			t.Fatalf("SORT without criteria accepted: %q", line)
		}
	})
}

// Threading any References, loops and duplicate Message-IDs included,
// shows every message exactly once.
func FuzzThread(f *testing.F) {
	f.Add([]byte("a-b.ba.cab"), []byte("rrx.."))
	f.Add([]byte("aa.a.ab.ba"), []byte("r..rr"))
	f.Fuzz(func(t *testing.T, spec, subjects []byte) {
		// Each message: its Message-ID (a letter, "." for none), then
		// its references, to "-".
		var msgs []*sortMsg
		for i, part := range strings.Split(string(spec), "-") {
			if len(msgs) == 50 || part == "" {
				break
			}
			m := &sortMsg{ref: ref{seq: uint32(i + 1)}, num: uint32(i + 1)}
			m.sent = time.Unix(int64(i%3), 0)
			if part[0] != '.' {
				m.msgID = part[:1]
			}
			for _, r := range part[1:] {
				m.refs = append(m.refs, string(r))
			}
			if i < len(subjects) {
				m.subject, m.reply = string(subjects[i]&3+'a'), subjects[i]&4 != 0
			}
			msgs = append(msgs, m)
		}
		for _, threads := range []func([]*sortMsg) []*threadNode{references, orderedSubject} {
			seen := map[uint32]int{}
			var walk func(n *threadNode, top bool)
			walk = func(n *threadNode, top bool) {
				if n.msg == nil && (!top && len(n.children) < 2 || len(n.children) == 0) {
					t.Fatalf("dummy with %d children (top %v)", len(n.children), top)
				}
				if n.msg != nil {
					seen[n.msg.num]++
				}
				for _, c := range n.children {
					walk(c, false)
				}
			}
			for _, n := range threads(msgs) {
				walk(n, true)
			}
			for _, m := range msgs {
				if seen[m.num] != 1 {
					t.Fatalf("message %d shown %d times", m.num, seen[m.num])
				}
			}
		}
	})
}
