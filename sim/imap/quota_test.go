package imap

import (
	"fmt"
	"testing"

	"github.com/mailhop/mailhop/sim/store"
)

// RFC 9208 §4.2: "If an APPEND, COPY, or MOVE command fails because the
// target mailbox would exceed a quota ... the server MUST return a tagged
// NO response with the OVERQUOTA response code". MOVE keeps what the
// user has, so only APPEND and COPY can pass the bound. Nothing is
// stored by a refused command, and expunging makes room again.
func TestOverQuota(t *testing.T) {
	overStores(t, func(t *testing.T, onStore option) {
		w := newWorld(t, onStore, with(func(s *Server) { s.Quota = store.Quota{Messages: 3} }))
		w.Deliver(t, "INBOX", msg(1), msg(2))
		r := w.raw(t)
		m := string(msg(3))
		r.Run(fmt.Sprintf(`
			C: a1 LOGIN bob bob
			S: a1 OK *
			C: a2 APPEND INBOX {%d+}
			B: %q
			S: a2 OK [APPENDUID *
			C: a3 APPEND Sent {%d+}
			B: %q
			S: a3 NO [OVERQUOTA] Quota exceeded: 3 of 3 messages kept, 1 more do not fit; delete or expunge some mail first
			`+opensInbox("a4", "SELECT", 3)+`
			C: a5 COPY 1 Trash
			S: a5 NO [OVERQUOTA] *
			C: a6 MOVE 1 Trash
			S: * OK [COPYUID *
			S: * 1 EXPUNGE
			S: a6 OK *
			C: a7 STATUS Trash (MESSAGES)
			S: * STATUS "Trash" (MESSAGES 1)
			S: a7 OK *
			C: a8 STORE 1 +FLAGS.SILENT (\Deleted)
			S: a8 OK *
			C: a9 EXPUNGE
			S: * 1 EXPUNGE
			S: a9 OK *
			C: b1 COPY 1 Trash
			S: b1 OK [COPYUID *
		`, len(m), m+"\r\n", len(m), m+"\r\n"))
	})
}
