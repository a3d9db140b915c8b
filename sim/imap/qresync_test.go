package imap

import (
	"strings"
	"testing"
)

// RFC 7162 §3.2 (QRESYNC): after ENABLE QRESYNC (§3.2.3, which turns
// CONDSTORE on), every expunge is told as VANISHED with its UID, another
// session's and the session's own, a MOVE's too (§3.2.10, RFC 6851 §4.3);
// UID FETCH (CHANGEDSINCE n VANISHED) names the UIDs gone before the
// messages changed (§3.2.6); SELECT (QRESYNC (uidvalidity modseq
// known-uids)) ends with what changed and what vanished since (§3.2.5),
// and with another UIDVALIDITY with neither.
func TestQresync(t *testing.T) {
	overStores(t, func(t *testing.T, onStore option) {
		w := newWorld(t, onStore)
		w.Deliver(t, "INBOX", msg(1), msg(2), msg(3), msg(4), msg(5))
		a, b := w.raw(t), w.raw(t)
		a.Run(`
			C: a1 LOGIN bob bob
			S~ a1 OK \[CAPABILITY .* CONDSTORE QRESYNC( .*)?\] .*
			C: a2 ENABLE QRESYNC
			S: * ENABLED QRESYNC
			S: a2 OK ENABLE completed
			` + inboxOpening{Tag: "a3", Cmd: "SELECT", Exists: 5, Recent: 5, Highest: 6, UIDNext: 6}.String())
		b.Run(`
			C: b1 LOGIN bob bob
			S: b1 OK *
			` + inboxOpening{Tag: "b2", Cmd: "SELECT", Exists: 5, Recent: 0, UIDNext: 6}.String() + `
			C: b3 STORE 2 +FLAGS.SILENT (\Seen)
			S: b3 OK STORE completed
			C: b4 STORE 3 +FLAGS.SILENT (\Deleted)
			S: b4 OK STORE completed
			C: b5 EXPUNGE
			S: * 3 EXPUNGE
			S: b5 OK EXPUNGE completed`)
		a.Run(`
			C: a4 NOOP
			S: * 2 FETCH (UID 2 MODSEQ (7) FLAGS (\Seen \Recent))
			S: * 3 FETCH (UID 3 MODSEQ (8) FLAGS (\Deleted \Recent))
			S: * VANISHED 3
			S: a4 OK NOOP completed
			C: a5 STORE 3 +FLAGS (\Deleted)
			S: * 3 FETCH (UID 4 MODSEQ (10) FLAGS (\Deleted \Recent))
			S: a5 OK STORE completed
			C: a6 EXPUNGE
			S: * VANISHED 4
			S: a6 OK EXPUNGE completed
			C: a7 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 6 VANISHED)
			S: * VANISHED (EARLIER) 3:4
			S: * 2 FETCH (UID 2 MODSEQ (7) FLAGS (\Seen \Recent))
			S: a7 OK UID FETCH completed
			C: a8 UID FETCH 1:2 (FLAGS) (CHANGEDSINCE 1 VANISHED)
			S: * 1 FETCH (UID 1 MODSEQ (2) FLAGS (\Recent))
			S: * 2 FETCH (UID 2 MODSEQ (7) FLAGS (\Seen \Recent))
			S: a8 OK UID FETCH completed
			C: a9 UID MOVE 5 Trash
			S: * OK [COPYUID *
			S: * VANISHED 5
			S: a9 OK UID MOVE completed`)
		b.Run(`
			C: b6 NOOP
			S: * 3 FETCH (UID 4 FLAGS (\Deleted))
			S: * 3 EXPUNGE
			S: * 3 EXPUNGE
			S: b6 OK NOOP completed`)

		// A client back with what it knew: UIDVALIDITY, the mod-sequence
		// and the UIDs 1 to 5.
		c := w.raw(t)
		c.Run(`
			C: c1 LOGIN bob bob
			S: c1 OK *
			C: c2 ENABLE QRESYNC CONDSTORE
			S: * ENABLED CONDSTORE QRESYNC
			S: c2 OK ENABLE completed`)
		u, _ := c.cmd("c3", "STATUS INBOX (UIDVALIDITY)")
		validity := strings.TrimSuffix(strings.TrimPrefix(u[0], "* STATUS INBOX (UIDVALIDITY "), ")")
		c.Run(inboxOpening{Tag: "c4", Cmd: "EXAMINE", Params: "(QRESYNC (" + validity + " 6 1:5))", Exists: 2, Recent: 0, Validity: validity, Highest: 12, UIDNext: 6,
			Last: []string{`* VANISHED (EARLIER) 3:5`, `* 2 FETCH (UID 2 FLAGS (\Seen) MODSEQ (7))`}}.String() +
			inboxOpening{Tag: "c5", Cmd: "SELECT", Params: "(QRESYNC (" + validity + " 7 2:4 (1:2 1:2)))", Closed: true, Exists: 2, Recent: 0, Validity: validity, Highest: 12, UIDNext: 6,
				Last: []string{`* VANISHED (EARLIER) 3:4`}}.String() +
			inboxOpening{Tag: "c6", Cmd: "SELECT", Params: "(QRESYNC (1 2))", Closed: true, Exists: 2, Recent: 0, Validity: validity, Highest: 12, UIDNext: 6}.String())
	})
}
