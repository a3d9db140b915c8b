package imap

import (
	"testing"
)

// RFC 7162 §3.1 (CONDSTORE): SELECT (CONDSTORE) enables it and is
// answered with HIGHESTMODSEQ (§3.1.2.1, §3.1.8); FETCH's MODSEQ item and
// CHANGEDSINCE modifier (§3.1.4, §3.1.4.1); STORE's UNCHANGEDSINCE, whose
// failures are MODIFIED, and whose .SILENT form still gives the new
// MODSEQ of what it changed (§3.1.3); SEARCH's MODSEQ key, answered with
// the highest mod-sequence of the matches (§3.1.5); STATUS HIGHESTMODSEQ
// (§3.1.6).
func TestCondStore(t *testing.T) {
	overStores(t, func(t *testing.T, onStore option) {
		w := newWorld(t, onStore)
		w.Deliver(t, "INBOX", msg(1), msg(2), msg(3))
		r := w.raw(t)
		r.Run(`
			C: a1 LOGIN bob bob
			S~ a1 OK \[CAPABILITY .* CONDSTORE( .*)?\] .*
			C: a2 STATUS INBOX (MESSAGES HIGHESTMODSEQ)
			S: * STATUS INBOX (MESSAGES 3 HIGHESTMODSEQ 4)
			S: a2 OK STATUS completed
			` + inboxOpening{Tag: "a3", Cmd: "SELECT", Params: "(CONDSTORE)", Exists: 3, Recent: 3, Highest: 4, UIDNext: 4}.String() + `
			C: a4 FETCH 1:* (FLAGS MODSEQ)
			S: * 1 FETCH (UID 1 MODSEQ (2) FLAGS (\Recent))
			S: * 2 FETCH (UID 2 MODSEQ (3) FLAGS (\Recent))
			S: * 3 FETCH (UID 3 MODSEQ (4) FLAGS (\Recent))
			S: a4 OK FETCH completed
			C: a5 STORE 2 (UNCHANGEDSINCE 3) +FLAGS (\Seen)
			S: * 2 FETCH (UID 2 MODSEQ (5) FLAGS (\Seen \Recent))
			S: a5 OK STORE completed
			C: a6 FETCH 1:* (FLAGS) (CHANGEDSINCE 4)
			S: * 2 FETCH (UID 2 MODSEQ (5) FLAGS (\Seen \Recent))
			S: a6 OK FETCH completed
			C: a7 STORE 1:3 (UNCHANGEDSINCE 4) +FLAGS.SILENT (\Flagged)
			S: * 1 FETCH (UID 1 MODSEQ (6))
			S: * 3 FETCH (UID 3 MODSEQ (7))
			S: a7 OK [MODIFIED 2] Conditional STORE failed
			C: a8 UID STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS (\Deleted)
			S: a8 OK [MODIFIED 1:3] Conditional STORE failed
			C: a9 SEARCH MODSEQ 6
			S: * SEARCH 1 3 (MODSEQ 7)
			S: a9 OK SEARCH completed
			C: b1 SEARCH OR MODSEQ 7 SUBJECT "MODSEQ" NOT MODSEQ "/flags/\\seen" all 8
			S: * SEARCH 3 (MODSEQ 7)
			S: b1 OK SEARCH completed
			C: b2 SEARCH MODSEQ 8
			S: * SEARCH
			S: b2 OK SEARCH completed
			C: b3 UID SEARCH RETURN (MIN COUNT) MODSEQ 1
			S: * ESEARCH (TAG "b3") UID MIN 1 COUNT 3 MODSEQ 7
			S: b3 OK UID SEARCH completed
			C: b4 FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] MODSEQ)
			S: * 1 FETCH (UID 1 MODSEQ (6) BODY[HEADER.FIELDS ("SUBJECT")] {22}
			S: Subject: message 1
			S:
			S: )
			S: b4 OK FETCH completed
			C: b5 FETCH 3 MODSEQ
			S: * 3 FETCH (UID 3 MODSEQ (7))
			S: b5 OK FETCH completed
			C: b6 FETCH 3 (RFC822.SIZE)
			S~ \* 3 FETCH \(UID 3 RFC822\.SIZE \d+\)
			S: b6 OK FETCH completed
			C: b7 STATUS INBOX (HIGHESTMODSEQ)
			S: * STATUS INBOX (HIGHESTMODSEQ 7)
			S: b7 OK STATUS completed`)
	})
}

// Once CONDSTORE is on, a flag change made by another session comes with
// its MODSEQ (RFC 7162 §3.1.4), and an expunge raises HIGHESTMODSEQ; a
// session without it sees neither. ENABLE CONDSTORE while a mailbox is
// selected says its HIGHESTMODSEQ (§3.1, §3.1.2.1), and so does every
// SELECT after it.
func TestCondStoreOtherSessions(t *testing.T) {
	overStores(t, func(t *testing.T, onStore option) {
		w := newWorld(t, onStore)
		w.Deliver(t, "INBOX", msg(1), msg(2))
		a, b := w.raw(t), w.raw(t)
		a.Run(`
			C: a1 LOGIN bob bob
			S: a1 OK *
			` + inboxOpening{Tag: "a2", Cmd: "EXAMINE", Exists: 2, Recent: 2, UIDNext: 3}.String() + `
			C: a3 ENABLE CONDSTORE
			S: * ENABLED CONDSTORE
			S: * OK [HIGHESTMODSEQ 3] Highest
			S: a3 OK ENABLE completed`)
		b.Run(`
			C: b1 LOGIN bob bob
			S: b1 OK *
			` + inboxOpening{Tag: "b2", Cmd: "SELECT", Exists: 2, Recent: 2, UIDNext: 3}.String() + `
			C: b3 STORE 2 +FLAGS (\Answered)
			S: * 2 FETCH (FLAGS (\Answered \Recent))
			S: b3 OK STORE completed
			C: b4 FETCH 2 (FLAGS)
			S: * 2 FETCH (FLAGS (\Answered \Recent))
			S: b4 OK FETCH completed`)
		a.Run(`
			C: a4 NOOP
			S: * 2 FETCH (UID 2 MODSEQ (4) FLAGS (\Answered \Recent))
			S: a4 OK NOOP completed`)
		b.Run(`
			C: b5 STORE 1 +FLAGS (\Deleted)
			S: * 1 FETCH (FLAGS (\Deleted \Recent))
			S: b5 OK STORE completed
			C: b6 EXPUNGE
			S: * 1 EXPUNGE
			S: b6 OK EXPUNGE completed`)
		a.Run(`
			C: a5 NOOP
			S: * 1 FETCH (UID 1 MODSEQ (5) FLAGS (\Deleted \Recent))
			S: * 1 EXPUNGE
			S: a5 OK NOOP completed
			C: a6 STATUS INBOX (HIGHESTMODSEQ MESSAGES)
			S: * STATUS INBOX (MESSAGES 1 HIGHESTMODSEQ 6)
			S: a6 OK STATUS completed
			` + inboxOpening{Tag: "a7", Cmd: "EXAMINE", Closed: true, Exists: 1, Recent: 0, Highest: 6, UIDNext: 3}.String())
	})
}

// What CONDSTORE does not allow is refused BAD, with what is wrong
// (RFC 7162 §3.1.3, §3.1.4.1, §3.1.5, §3.1.8), and so is QRESYNC before
// ENABLE QRESYNC (§3.2.3).
func TestCondStoreRefusals(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1))
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		C: a2 SELECT INBOX (FOO)
		S: a2 BAD [CLIENTBUG] Unknown SELECT parameter: only CONDSTORE and QRESYNC (RFC 7162 §3.1.8, §3.2.5)
		C: a3 SELECT INBOX (CONDSTORE QRESYNC)
		S: a3 BAD [CLIENTBUG] QRESYNC takes (uidvalidity mod-sequence [known-uids]) (RFC 7162 §3.2.5)
		` + inboxOpening{Tag: "a4", Cmd: "SELECT", Exists: 1, Recent: 1, UIDNext: 2}.String() + `
		C: a5 FETCH 1 (FLAGS) (CHANGEDSINCE x)
		S: a5 BAD [CLIENTBUG] CHANGEDSINCE takes a mod-sequence, a number (RFC 7162 §3.1.4.1)
		C: a6 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)
		S: a6 BAD [CLIENTBUG] QRESYNC is not enabled: ENABLE QRESYNC first (RFC 7162 §3.2.3)
		C: a7 FETCH 1 (FLAGS) (MODSEQ 3)
		S: a7 BAD [CLIENTBUG] Unknown FETCH modifier: only CHANGEDSINCE and VANISHED (RFC 7162 §3.1.4.1, §3.2.6)
		C: a8 STORE 1 (UNCHANGEDSINCE) +FLAGS (\Seen)
		S: a8 BAD [CLIENTBUG] UNCHANGEDSINCE takes a mod-sequence*
		C: a9 SEARCH MODSEQ
		S: a9 BAD [CLIENTBUG] MODSEQ takes a mod-sequence*
		C: b1 SEARCH MODSEQ "/flags/\\seen" sometimes 3
		S: b1 BAD [CLIENTBUG] MODSEQ's entry type is priv, shared or all (RFC 7162 §3.1.5)
		C: b2 FETCH 1 (FLAGS)
		S: * 1 FETCH (FLAGS (\Recent))
		S: b2 OK FETCH completed`)
}

// An ESEARCH that returns only MIN or MAX gives the MODSEQ of those
// messages, not of every match (RFC 7162 §3.1.5, RFC 4731 §3.2).
func TestCondStoreESearchMinMax(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), msg(2), msg(3))
	r := w.raw(t)
	r.Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		` + inboxOpening{Tag: "a2", Cmd: "SELECT", Exists: 3, Recent: 3, UIDNext: 4}.String() + `
		C: a3 FETCH 1 MODSEQ
		S: * OK [HIGHESTMODSEQ 4] Highest
		S: * 1 FETCH (UID 1 MODSEQ (2))
		S: a3 OK FETCH completed
		C: a4 STORE 2 +FLAGS (\Seen)
		S: * 2 FETCH (UID 2 MODSEQ (5) FLAGS (\Seen \Recent))
		S: a4 OK STORE completed
		C: a5 SEARCH RETURN (MIN) MODSEQ 1
		S: * ESEARCH (TAG "a5") MIN 1 MODSEQ 2
		S: a5 OK SEARCH completed
		C: a6 SEARCH RETURN (MAX) 1:3 MODSEQ 1
		S: * ESEARCH (TAG "a6") MAX 3 MODSEQ 4
		S: a6 OK SEARCH completed
		C: a7 SEARCH RETURN (MIN MAX) MODSEQ 1
		S: * ESEARCH (TAG "a7") MIN 1 MAX 3 MODSEQ 4
		S: a7 OK SEARCH completed
		C: a8 SEARCH RETURN () MODSEQ 1
		S: * ESEARCH (TAG "a8") ALL 1:3 MODSEQ 5
		S: a8 OK SEARCH completed
		C: a9 SEARCH RETURN (MIN COUNT) MODSEQ 1
		S: * ESEARCH (TAG "a9") MIN 1 COUNT 3 MODSEQ 5
		S: a9 OK SEARCH completed`)
}
