// Package storetest checks that a store.Store keeps the promises POP3 and
// IMAP rely on. Every implementation runs the same suite.
package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/store"
)

const user = "bob@example.net"

var date = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

func msg(n int) []byte {
	return fmt.Appendf(nil, "From: alice@example.org\r\nSubject: %d\r\n\r\nbody %d\r\n", n, n)
}

// Run runs the suite on stores made by newStore (each call a fresh one).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	fresh := func(t *testing.T) store.Store {
		s := newStore(t)
		if err := s.AddUser(user); err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("AppendListRead", func(t *testing.T) {
		s := fresh(t)
		for i := 1; i <= 3; i++ {
			uid, err := s.Append(user, "inbox", msg(i), []string{`\seen`}, date)
			if err != nil || uid != store.UID(i) {
				t.Fatalf("append %d: uid %d, %v", i, uid, err)
			}
		}
		list, err := s.List(user, "INBOX")
		if err != nil || len(list) != 3 {
			t.Fatalf("list: %v, %v", list, err)
		}
		for i, m := range list {
			if m.UID != store.UID(i+1) || m.Size != int64(len(msg(i+1))) || !m.Date.Equal(date) || !slices.Equal(m.Flags, []string{store.FlagSeen}) {
				t.Fatalf("message %d: %+v", i, m)
			}
		}
		body, err := s.Read(user, "INBOX", 2)
		if err != nil || string(body) != string(msg(2)) {
			t.Fatalf("read: %q, %v", body, err)
		}
		if _, err := s.Read(user, "INBOX", 9); !errors.Is(err, store.ErrNoMessage) {
			t.Fatalf("read missing: %v", err)
		}
		st, _ := s.Status(user, "INBOX")
		if st.Messages != 3 || st.UIDNext != 4 || st.Unseen != 0 || st.UIDValidity == 0 {
			t.Fatalf("status %+v", st)
		}
	})
	t.Run("UnknownUserAndMailbox", func(t *testing.T) {
		s := fresh(t)
		if _, err := s.List("nobody@example.net", "INBOX"); !errors.Is(err, store.ErrNoUser) {
			t.Fatalf("unknown user: %v", err)
		}
		if _, err := s.List(user, "Nope"); !errors.Is(err, store.ErrNoMailbox) {
			t.Fatalf("unknown mailbox: %v", err)
		}
		if err := s.CreateMailbox(user, "../../etc"); !errors.Is(err, store.ErrInvalidName) {
			t.Fatalf("path escape: %v", err)
		}
	})
	t.Run("UIDsNeverReused", func(t *testing.T) {
		s := fresh(t)
		s.Append(user, "INBOX", msg(1), nil, date)
		s.Append(user, "INBOX", msg(2), nil, date)
		if got, _ := s.Expunge(user, "INBOX", []store.UID{2, 7}); !slices.Equal(got, []store.UID{2}) {
			t.Fatalf("expunged %v", got)
		}
		uid, _ := s.Append(user, "INBOX", msg(3), nil, date)
		if uid != 3 {
			t.Fatalf("uid after expunge = %d, want 3", uid)
		}
	})
	t.Run("Flags", func(t *testing.T) {
		s := fresh(t)
		s.Append(user, "INBOX", msg(1), nil, date)
		s.Append(user, "INBOX", msg(2), []string{"$Label"}, date)
		got, err := s.SetFlags(user, "INBOX", []store.UID{1, 2, 5}, store.FlagsAdd, []string{`\Deleted`, `\SEEN`})
		if err != nil || len(got) != 2 {
			t.Fatalf("add: %v, %v", got, err)
		}
		if !slices.Equal(got[1].Flags, []string{"$Label", store.FlagDeleted, store.FlagSeen}) {
			t.Fatalf("flags %v", got[1].Flags)
		}
		got, _ = s.SetFlags(user, "INBOX", []store.UID{2}, store.FlagsRemove, []string{`\deleted`})
		if !slices.Equal(got[0].Flags, []string{"$Label", store.FlagSeen}) {
			t.Fatalf("after remove %v", got[0].Flags)
		}
		got, _ = s.SetFlags(user, "INBOX", []store.UID{1}, store.FlagsSet, []string{`\Flagged`})
		if !slices.Equal(got[0].Flags, []string{store.FlagFlagged}) {
			t.Fatalf("after set %v", got[0].Flags)
		}
		st, _ := s.Status(user, "INBOX")
		if st.Unseen != 1 || st.Deleted != 0 {
			t.Fatalf("status %+v", st)
		}
	})
	t.Run("NewUserDefaults", func(t *testing.T) {
		// RFC 6154: a new user finds Drafts, Sent, Trash and Junk,
		// subscribed, with their attributes; adding them again makes
		// nothing, and a deleted one stays deleted.
		s := fresh(t)
		want := []string{"INBOX", `Drafts\Drafts`, `Junk\Junk`, `Sent\Sent`, `Trash\Trash`}
		listed := func() []string {
			bs, err := s.Mailboxes(user)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, b := range bs {
				if !b.Subscribed {
					t.Errorf("%s is not subscribed", b.Name)
				}
				out = append(out, b.Name+b.SpecialUse)
			}
			return out
		}
		if got := listed(); !slices.Equal(got, want) {
			t.Fatalf("a new user's mailboxes: %v, want %v", got, want)
		}
		for _, name := range store.DefaultMailboxes {
			if st, err := s.Status(user, name); err != nil || st.Messages != 0 || st.UIDValidity == 0 {
				t.Fatalf("%s: %+v, %v", name, st, err)
			}
		}
		if err := s.DeleteMailbox(user, "Trash"); err != nil {
			t.Fatal(err)
		}
		if err := s.AddUser(user); err != nil {
			t.Fatal(err)
		}
		if got := listed(); !slices.Equal(got, slices.Delete(slices.Clone(want), 4, 5)) {
			t.Fatalf("after deleting Trash and adding the user again: %v", got)
		}
	})
	t.Run("Mailboxes", func(t *testing.T) {
		s := fresh(t)
		for _, name := range store.DefaultMailboxes {
			if name != "Sent" {
				s.DeleteMailbox(user, name)
			}
		}
		for _, name := range []string{"Work", "Work/2026"} {
			if err := s.CreateMailbox(user, name); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateMailbox(user, "work/2026/../x"); !errors.Is(err, store.ErrInvalidName) {
			t.Fatalf("dot-dot: %v", err)
		}
		if err := s.CreateMailbox(user, "Sent"); !errors.Is(err, store.ErrExists) {
			t.Fatalf("duplicate: %v", err)
		}
		s.Append(user, "Work/2026", msg(1), nil, date)
		v1, _ := s.Status(user, "Work/2026")
		if err := s.RenameMailbox(user, "Work", "Job"); err != nil {
			t.Fatal(err)
		}
		names := func() []string {
			bs, _ := s.Mailboxes(user)
			var out []string
			for _, b := range bs {
				out = append(out, b.Name+b.SpecialUse)
			}
			return out
		}
		if got := names(); !slices.Equal(got, []string{"INBOX", "Job", "Job/2026", `Sent\Sent`}) {
			t.Fatalf("after rename: %v", got)
		}
		if v2, _ := s.Status(user, "Job/2026"); v2.Messages != 1 || v2.UIDValidity != v1.UIDValidity {
			t.Fatalf("renamed child status %+v (was %+v)", v2, v1)
		}
		if err := s.DeleteMailbox(user, "INBOX"); !errors.Is(err, store.ErrInbox) {
			t.Fatalf("delete INBOX: %v", err)
		}
		if err := s.DeleteMailbox(user, "Sent"); err != nil {
			t.Fatal(err)
		}
		s.CreateMailbox(user, "Sent")
		if v, _ := s.Status(user, "Sent"); v.UIDValidity == 0 {
			t.Fatal("no UIDVALIDITY")
		}
		// Renaming INBOX moves its messages and leaves it empty.
		s.Append(user, "INBOX", msg(1), nil, date)
		if err := s.RenameMailbox(user, "INBOX", "Old"); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Status(user, "INBOX"); st.Messages != 0 {
			t.Fatalf("INBOX after rename: %+v", st)
		}
		if st, _ := s.Status(user, "Old"); st.Messages != 1 {
			t.Fatalf("Old after rename: %+v", st)
		}
	})
	t.Run("CopyMove", func(t *testing.T) {
		s := fresh(t)
		s.CreateMailbox(user, "Archive")
		for i := 1; i <= 3; i++ {
			s.Append(user, "INBOX", msg(i), []string{store.FlagSeen}, date)
		}
		src, dst, validity, err := s.Copy(user, "INBOX", []store.UID{3, 1, 9}, "Archive")
		if err != nil || !slices.Equal(src, []store.UID{1, 3}) || !slices.Equal(dst, []store.UID{1, 2}) || validity == 0 {
			t.Fatalf("copy: %v %v %d %v", src, dst, validity, err)
		}
		body, _ := s.Read(user, "Archive", 2)
		if string(body) != string(msg(3)) {
			t.Fatalf("copied body %q", body)
		}
		src, dst, _, err = s.Move(user, "INBOX", []store.UID{2}, "Archive")
		if err != nil || !slices.Equal(src, []store.UID{2}) || !slices.Equal(dst, []store.UID{3}) {
			t.Fatalf("move: %v %v %v", src, dst, err)
		}
		if l, _ := s.List(user, "INBOX"); len(l) != 2 {
			t.Fatalf("INBOX after move has %d", len(l))
		}
		if l, _ := s.List(user, "Archive"); len(l) != 3 || !store.HasFlag(l[2].Flags, store.FlagSeen) {
			t.Fatalf("Archive after move: %+v", l)
		}
	})
	t.Run("WatchInOrder", func(t *testing.T) {
		s := fresh(t)
		var mu sync.Mutex
		var got []string
		cancel, err := s.Watch(user, "INBOX", func(c store.Change) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%d:%d", c.Kind, c.UID))
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.Append(user, "INBOX", msg(i), nil, date)
			}()
		}
		wg.Wait()
		s.SetFlags(user, "INBOX", []store.UID{3}, store.FlagsAdd, []string{store.FlagSeen})
		s.Expunge(user, "INBOX", []store.UID{4})
		cancel()
		s.Append(user, "INBOX", msg(99), nil, date)
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 22 {
			t.Fatalf("%d changes: %v", len(got), got)
		}
		for i := 0; i < 20; i++ {
			if got[i] != fmt.Sprintf("%d:%d", store.Appended, i+1) {
				t.Fatalf("change %d = %s: appends out of order: %v", i, got[i], got)
			}
		}
		if got[20] != fmt.Sprintf("%d:3", store.FlagsChanged) || got[21] != fmt.Sprintf("%d:4", store.Expunged) {
			t.Fatalf("tail %v", got[20:])
		}
	})
	// CONDSTORE (RFC 7162 §3.1): every change gets a mod-sequence above
	// all before it, and a conditional STORE changes only what has not.
	t.Run("ModSeq", func(t *testing.T) {
		s := fresh(t)
		s.CreateMailbox(user, "Archive")
		highest := func(name string) uint64 {
			t.Helper()
			st, err := s.Status(user, name)
			if err != nil || st.HighestModSeq == 0 {
				t.Fatalf("status of %s: %+v, %v", name, st, err)
			}
			return st.HighestModSeq
		}
		modseqs := func() map[store.UID]uint64 {
			l, _ := s.List(user, "INBOX")
			m := map[store.UID]uint64{}
			for _, msg := range l {
				m[msg.UID] = msg.ModSeq
			}
			return m
		}
		var mu sync.Mutex
		var changes []store.Change
		cancel, err := s.Watch(user, "INBOX", func(c store.Change) {
			mu.Lock()
			changes = append(changes, c)
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		last := func() store.Change {
			mu.Lock()
			defer mu.Unlock()
			return changes[len(changes)-1]
		}

		h := highest("INBOX")
		for i := 1; i <= 3; i++ {
			s.Append(user, "INBOX", msg(i), nil, date)
			m := modseqs()[store.UID(i)]
			if m <= h || highest("INBOX") != m || last().ModSeq != m {
				t.Fatalf("append %d: modseq %d after %d, highest %d, change %+v", i, m, h, highest("INBOX"), last())
			}
			h = m
		}
		before := modseqs()

		got, err := s.SetFlags(user, "INBOX", []store.UID{2}, store.FlagsAdd, []string{store.FlagSeen})
		if err != nil || len(got) != 1 || got[0].ModSeq <= h || highest("INBOX") != got[0].ModSeq || last().ModSeq != got[0].ModSeq {
			t.Fatalf("flag change: %+v %v (highest was %d, change %+v)", got, err, h, last())
		}
		h = got[0].ModSeq
		// A STORE that changes nothing changes no mod-sequence.
		if got, _ := s.SetFlags(user, "INBOX", []store.UID{2}, store.FlagsAdd, []string{`\seen`}); got[0].ModSeq != h || highest("INBOX") != h {
			t.Fatalf("a STORE that changed nothing: %+v, highest %d want %d", got, highest("INBOX"), h)
		}

		// UNCHANGEDSINCE the mod-sequence of message 3: 1 and 3 have not
		// changed since, 2 has.
		got, modified, err := s.SetFlagsIf(user, "INBOX", []store.UID{3, 1, 2, 9}, store.FlagsAdd, []string{store.FlagFlagged}, before[3])
		if err != nil || !slices.Equal(modified, []store.UID{2}) || len(got) != 2 {
			t.Fatalf("SetFlagsIf: %+v, modified %v, %v", got, modified, err)
		}
		now := modseqs()
		if now[2] != h || now[1] <= h || now[3] <= h || now[1] == now[3] || highest("INBOX") != max(now[1], now[3]) {
			t.Fatalf("mod-sequences after a conditional STORE: %v (before %v, 2 at %d)", now, before, h)
		}
		for _, m := range got {
			if !store.HasFlag(m.Flags, store.FlagFlagged) || m.ModSeq != now[m.UID] {
				t.Fatalf("changed %+v, now %v", m, now)
			}
		}
		if l, _ := s.List(user, "INBOX"); store.HasFlag(l[1].Flags, store.FlagFlagged) {
			t.Fatalf("message 2 changed since, and was changed: %+v", l[1])
		}
		// UNCHANGEDSINCE 0 fails for every message (RFC 7162 §3.1.3).
		if got, modified, _ := s.SetFlagsIf(user, "INBOX", []store.UID{1, 2, 3}, store.FlagsSet, nil, 0); len(got) != 0 || !slices.Equal(modified, []store.UID{1, 2, 3}) {
			t.Fatalf("UNCHANGEDSINCE 0: %+v, modified %v", got, modified)
		}

		// An expunge raises the highest mod-sequence too.
		h = highest("INBOX")
		if removed, _ := s.Expunge(user, "INBOX", []store.UID{1}); len(removed) != 1 {
			t.Fatalf("expunge: %v", removed)
		}
		if e := highest("INBOX"); e <= h || last().Kind != store.Expunged || last().ModSeq != e {
			t.Fatalf("after an expunge: highest %d (was %d), change %+v", e, h, last())
		}

		// A copy gets mod-sequences of its new mailbox.
		ha := highest("Archive")
		_, dst, _, err := s.Copy(user, "INBOX", []store.UID{2, 3}, "Archive")
		if err != nil || len(dst) != 2 {
			t.Fatalf("copy: %v %v", dst, err)
		}
		l, _ := s.List(user, "Archive")
		if len(l) != 2 || l[0].ModSeq <= ha || l[1].ModSeq <= l[0].ModSeq || highest("Archive") != l[1].ModSeq {
			t.Fatalf("copied: %+v, highest %d was %d", l, highest("Archive"), ha)
		}
	})
	// IMAP QUOTA (RFC 9208) and the MDA's "mailbox full" count a user's
	// messages and bytes across all their mailboxes.
	t.Run("Quota", func(t *testing.T) {
		s := fresh(t)
		s.Append(user, "INBOX", msg(1), nil, date)
		if err := s.CreateMailbox(user, "Work"); err != nil {
			t.Fatal(err)
		}
		s.Append(user, "Work", msg(2), nil, date)
		s.Append(user, "Work", msg(3), nil, date)
		boxes, _ := s.Mailboxes(user)
		u, err := store.UsageOf(s, user)
		size := int64(len(msg(1)) + len(msg(2)) + len(msg(3)))
		if err != nil || u != (store.Usage{Storage: size, Messages: 3, Mailboxes: len(boxes)}) {
			t.Fatalf("usage %+v, %v; want %d bytes, 3 messages, %d mailboxes", u, err, size, len(boxes))
		}
		if err := (store.Quota{}).Admit(s, user, 1000, 1<<40); err != nil {
			t.Fatalf("no quota refused: %v", err)
		}
		q := store.Quota{Storage: size + 10, Messages: 4}
		if err := q.Admit(s, user, 1, 10); err != nil {
			t.Fatalf("a message that fits exactly refused: %v", err)
		}
		if err := q.Admit(s, user, 1, 11); !errors.Is(err, store.ErrOverQuota) {
			t.Fatalf("one byte too many: %v", err)
		}
		if err := q.Admit(s, user, 2, 1); !errors.Is(err, store.ErrOverQuota) {
			t.Fatalf("one message too many: %v", err)
		}
		s.Expunge(user, "Work", []store.UID{1, 2})
		if err := q.Admit(s, user, 3, 10); err != nil {
			t.Fatalf("after expunge: %v", err)
		}
	})
	t.Run("Lock", func(t *testing.T) {
		s := fresh(t)
		unlock, err := s.Lock(user)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lock(user); !errors.Is(err, store.ErrLocked) {
			t.Fatalf("second lock: %v", err)
		}
		unlock()
		unlock() // twice is harmless
		again, err := s.Lock(user)
		if err != nil {
			t.Fatalf("lock after unlock: %v", err)
		}
		again()
	})
}
