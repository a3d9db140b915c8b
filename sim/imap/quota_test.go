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

// RFC 9208 §4.1.1, §4.1.2, §4.3.1, §4.3.2: a user's one quota root, "",
// holds every mailbox; GETQUOTAROOT names it and gives its QUOTA, with
// STORAGE in units of 1024 octets (§5.1) and MESSAGE (§5.2), counted
// across mailboxes. SETQUOTA is not offered (no QUOTASET, §4.1.3).
func TestGetQuota(t *testing.T) {
	overStores(t, func(t *testing.T, onStore option) {
		w := newWorld(t, onStore, with(func(s *Server) { s.Quota = store.Quota{Storage: 10 << 10, Messages: 50} }))
		w.Deliver(t, "INBOX", msg(1), msg(2))
		w.Deliver(t, "Trash", msg(3))
		if err := w.Store.CreateMailbox(bob, "Café"); err != nil {
			t.Fatal(err)
		}
		r := w.raw(t)
		r.Run(`
			C: a0 GETQUOTAROOT INBOX
			S: a0 BAD [CLIENTBUG] GETQUOTAROOT is valid only after login
			C: a1 LOGIN bob bob
			S~ a1 OK \[CAPABILITY .* QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE .*\] .*
			C: a2 GETQUOTAROOT INBOX
			S: * QUOTAROOT INBOX ""
			S: * QUOTA "" (STORAGE 1 10 MESSAGE 3 50)
			S: a2 OK GETQUOTAROOT completed
			C: a3 GETQUOTA ""
			S: * QUOTA "" (STORAGE 1 10 MESSAGE 3 50)
			S: a3 OK GETQUOTA completed
			C: a4 GETQUOTAROOT "Caf&AOk-"
			S: * QUOTAROOT "Caf&AOk-" ""
			S: * QUOTA "" (STORAGE 1 10 MESSAGE 3 50)
			S: a4 OK GETQUOTAROOT completed
			C: a5 GETQUOTAROOT Nowhere
			S: a5 NO [NONEXISTENT] No such mailbox
			C: a6 GETQUOTAROOT "Caf&AOk"
			S: a6 NO [CANNOT] *
			C: a7 GETQUOTA "other"
			S: a7 NO [NONEXISTENT] *
			C: a8 SETQUOTA "" (STORAGE 512)
			S: a8 NO [NOPERM] *
			C: a9 GETQUOTAROOT
			S: a9 BAD [CLIENTBUG] *
			C: b1 NOOP
			S: b1 OK NOOP completed`)
	})
}

// Without a quota a mailbox has no quota root: QUOTAROOT names none
// (RFC 9208 §4.3.2), and there is no root to ask for.
func TestNoQuotaRoot(t *testing.T) {
	w := newWorld(t)
	w.raw(t).Run(`
		C: a1 LOGIN bob bob
		S: a1 OK *
		C: a2 GETQUOTAROOT INBOX
		S: * QUOTAROOT INBOX
		S: a2 OK GETQUOTAROOT completed
		C: a3 GETQUOTA ""
		S: a3 NO [NONEXISTENT] *`)
}
