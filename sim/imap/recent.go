package imap

import (
	"bytes"
	"maps"
	"slices"
	"strings"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailhop/mailhop/sim/store"
)

// \Recent (RFC 3501 §2.3.2): a message is recent in the first session
// that selects its mailbox after it arrived, or that is told of it while
// it has the mailbox selected; a session that EXAMINEs sees it recent
// too, but leaves it recent for the next (§6.3.2). The server keeps, per
// user and mailbox, the highest UID a selecting session has been given
// (recentMark); it is not kept across restarts, so after one every
// message is recent again, as RFC 3501 allows. IMAP4rev2 has no \Recent
// (RFC 9051 appendix E): a session that enabled it is not shown the flag.

// recentMark is the highest UID given to a selecting session, for one
// UIDVALIDITY of a mailbox.
type recentMark struct {
	validity uint32
	uid      store.UID
}

// claimRecent returns the UIDs of uids (ascending) that no selecting
// session has been given yet; when claim is set they are this session's
// from now on.
func (s *Server) claimRecent(key boxKey, validity uint32, uids []store.UID, claim bool) []store.UID {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.recent[key]
	if m.validity != validity {
		m = recentMark{validity: validity}
	}
	i, _ := slices.BinarySearch(uids, m.uid+1)
	out := slices.Clone(uids[i:])
	if claim && len(out) > 0 {
		m.uid = out[len(out)-1]
		s.recent[key] = m
	}
	return out
}

// recentCount is the number of recent messages of a mailbox no session
// has selected since they arrived (STATUS RECENT).
func (s *Server) recentCount(key boxKey, st store.Status) (uint32, error) {
	s.mu.Lock()
	m := s.recent[key]
	s.mu.Unlock()
	if m.validity != st.UIDValidity || m.uid == 0 {
		return st.Messages, nil
	}
	if st.UIDNext <= m.uid+1 {
		return 0, nil
	}
	msgs, err := s.Store.List(key.user, key.name)
	if err != nil {
		return 0, err
	}
	i, _ := slices.BinarySearchFunc(msgs, m.uid+1, func(m store.Message, u store.UID) int { return cmpUID(m.UID, u) })
	return uint32(len(msgs) - i), nil
}

// selection is the selected state of a session that Idle's goroutine
// shares.
type selection struct {
	s        *session
	mb       *mailbox
	st       *imapserver.SessionTracker
	validity uint32
	readOnly bool

	// Under mb.mu.
	closed   bool        // unselected: st is closed
	recent   []store.UID // the messages recent in this session, ascending
	seen     store.UID   // the highest UID the session was told of
	deferred []deferredFetch
	// told holds the keywords (lower case) a FLAGS response has named to
	// the session: a FETCH must not show it another (RFC 9051 §7.3.5).
	told map[string]bool
	// toldOf is how many of the mailbox's keywords told holds: they only
	// grow, so while the count is the same there is nothing to copy.
	toldOf int
	// expungesTold counts the mailbox's EXPUNGE responses written to the
	// session, from the mailbox's expunges when it selected it.
	expungesTold uint64
	// drained is the mailbox's expunges when a Poll last emptied the
	// session's queue (or at SELECT): while it has not moved, no EXPUNGE
	// waits in the queue, and any Poll empties it.
	drained uint64
}

// poll writes the session's pending updates: the tracker's (EXPUNGE,
// EXISTS, FLAGS, FETCH), then RECENT when new messages are recent here.
func (t *selection) poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	// Every keyword the mailbox has now was named by SELECT's FLAGS or
	// queued to the tracker as a FLAGS response when it came: a Poll that
	// empties the queue writes those. One that may not expunge stops at
	// the first EXPUNGE queued, and may leave such a FLAGS behind it.
	// The keywords and the count of expunges are taken together: what
	// was queued before is ahead of any EXPUNGE queued after.
	var known []string
	rev2 := t.s.rev2()
	t.mb.mu.Lock()
	expunges := t.mb.expunges
	empties := allowExpunge || expunges == t.drained
	if empties && len(t.mb.keywords) != t.toldOf {
		known = slices.Collect(maps.Keys(t.mb.keywords))
	}
	t.mb.mu.Unlock()
	if err := t.st.Poll(w, allowExpunge); err != nil {
		return err
	}
	t.mb.mu.Lock()
	if allowExpunge {
		t.drained = expunges
	}
	for _, k := range known {
		t.told[k] = true
	}
	if known != nil {
		t.toldOf = len(known)
	}
	// A deferred FETCH may show a keyword the session has not been told
	// of. When the queue is now empty, its FLAGS has not been queued yet
	// (the store changed, the mailbox has not heard): the session names
	// it itself, and no older FLAGS can follow to take it back. When an
	// EXPUNGE held back a FLAGS, that one names it at a later Poll: the
	// FETCH waits for it.
	var fresh []goimap.Flag
	var write []deferredFetch
	keep := t.deferred[:0:0]
	for _, f := range t.deferred {
		// Written late, it shows the flags as they are now, not as when
		// it was held back: another session's change, told meanwhile by
		// the tracker, would otherwise be undone by it.
		if m, ok := t.mb.now[f.uid]; ok {
			var recent []store.UID
			if !rev2 {
				recent = t.recent
			}
			f.flags = withRecent(m.flags, f.uid, recent)
		}
		var untold []goimap.Flag
		for _, fl := range f.flags {
			if k := strings.ToLower(string(fl)); isKeyword(k) && !t.told[k] {
				untold = append(untold, fl)
			}
		}
		if len(untold) > 0 && !empties {
			keep = append(keep, f)
			continue
		}
		for _, fl := range untold {
			if k := strings.ToLower(string(fl)); !t.told[k] {
				t.told[k] = true
				fresh = append(fresh, fl)
			}
		}
		// Numbered as the session sees the mailbox now; gone, it is not
		// told (its EXPUNGE comes).
		if i := t.mb.index(f.uid); i >= 0 {
			if f.seq = t.st.EncodeSeqNum(uint32(i + 1)); f.seq != 0 {
				write = append(write, f)
			}
		}
	}
	t.deferred = keep
	var flags []goimap.Flag
	if len(fresh) > 0 {
		flags = t.mb.flagList()
		for _, fl := range fresh {
			if !slices.ContainsFunc(flags, func(g goimap.Flag) bool { return strings.EqualFold(string(g), string(fl)) }) {
				flags = append(flags, fl)
			}
		}
	}
	t.mb.mu.Unlock()
	if flags != nil {
		if err := w.WriteMailboxFlags(flags); err != nil {
			return err
		}
	}
	for _, f := range write {
		var uid goimap.UID
		if f.withUID {
			uid = goimap.UID(f.uid)
		}
		if err := w.WriteMessageFlags(f.seq, uid, f.flags); err != nil {
			return err
		}
	}
	n, changed := t.claim()
	if !changed {
		return nil
	}
	return w.WriteNumRecent(uint32(n))
}

// deferredFetch is a FETCH response of the session's own STORE that
// waits for the next poll, behind the FLAGS response that announces a
// new keyword.
type deferredFetch struct {
	uid     store.UID
	withUID bool   // a UID command's: the response names the UID
	seq     uint32 // when written
	flags   []goimap.Flag
}

// shown returns the flags of a message as a FETCH may show them now:
// without the keywords no FLAGS response has named to the session yet,
// in which case untold is set and the caller defers the whole flags to
// the next poll (later), which names them first. A keyword another
// session stored an instant ago is shown this way, one poll late.
func (t *selection) shown(flags []string) (now []string, untold bool) {
	t.mb.mu.Lock()
	defer t.mb.mu.Unlock()
	for i, f := range flags {
		if k := strings.ToLower(f); isKeyword(k) && !t.told[k] {
			if !untold {
				now = slices.Clone(flags[:i])
				untold = true
			}
			continue
		}
		if untold {
			now = append(now, f)
		}
	}
	if !untold {
		return flags, false
	}
	return now, true
}

// isKeyword reports whether a flag is a keyword, not a system flag.
func isKeyword(f string) bool { return f != "" && f[0] != '\\' }

// later defers a FETCH response to a later poll.
func (t *selection) later(uid store.UID, withUID bool, flags []goimap.Flag) {
	t.mb.mu.Lock()
	t.deferred = append(t.deferred, deferredFetch{uid: uid, withUID: withUID, flags: flags})
	t.mb.mu.Unlock()
}

// claim takes the messages the session has now been told of and no
// session was given before as recent here, and returns the count of
// recent messages, and whether it changed.
func (t *selection) claim() (int, bool) {
	mb := t.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if t.closed {
		return 0, false
	}
	i := len(mb.uids)
	for i > 0 && mb.uids[i-1] > t.seen {
		i--
	}
	var known []store.UID
	for j := i; j < len(mb.uids); j++ {
		if t.st.EncodeSeqNum(uint32(j+1)) != 0 {
			known = append(known, mb.uids[j])
		}
	}
	var added []store.UID
	if len(known) > 0 {
		t.seen = known[len(known)-1]
		added = t.s.srv.claimRecent(mb.key, t.validity, known, !t.readOnly)
		t.recent = append(t.recent, added...)
	}
	t.recent = slices.DeleteFunc(t.recent, func(u store.UID) bool { return mb.index(u) < 0 })
	return len(t.recent), len(added) > 0
}

// recentSet returns the session's recent messages.
// flagsNow returns a message's flags as last heard, without the keywords
// no FLAGS response has named to the session yet (RFC 9051 §7.3.5: a
// later FETCH, behind that FLAGS, shows them); ok is false when the
// message is not known.
func (t *selection) flagsNow(uid store.UID) ([]string, bool) {
	t.mb.mu.Lock()
	defer t.mb.mu.Unlock()
	m, ok := t.mb.now[uid]
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(m.flags))
	for _, f := range m.flags {
		if k := strings.ToLower(f); isKeyword(k) && !t.told[k] {
			continue
		}
		out = append(out, f)
	}
	return out, true
}

// toldBy notes the keywords of a FLAGS response written to the session.
func (t *selection) toldBy(line []byte) {
	list, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte("* FLAGS ("))
	if !ok {
		return
	}
	list = bytes.TrimSuffix(list, []byte(")"))
	t.mb.mu.Lock()
	defer t.mb.mu.Unlock()
	for _, f := range strings.Fields(string(list)) {
		if k := strings.ToLower(f); isKeyword(k) {
			t.told[k] = true
		}
	}
}

// nextExpunged returns the UID of the EXPUNGE response the session is
// writing: the next the tracker queued for it.
func (t *selection) nextExpunged() (store.UID, bool) {
	t.mb.mu.Lock()
	defer t.mb.mu.Unlock()
	i := t.expungesTold - t.mb.expungedFrom
	if t.expungesTold < t.mb.expungedFrom || i >= uint64(len(t.mb.expunged)) {
		return 0, false
	}
	t.expungesTold++
	return t.mb.expunged[i], true
}

// isRecent reports whether a message is recent in the session.
func (t *selection) isRecent(uid store.UID) bool {
	t.mb.mu.Lock()
	defer t.mb.mu.Unlock()
	_, ok := slices.BinarySearch(t.recent, uid)
	return ok
}

func (t *selection) recentSet() []store.UID {
	t.mb.mu.Lock()
	defer t.mb.mu.Unlock()
	return slices.Clone(t.recent)
}

// rev2 reports whether the client enabled IMAP4rev2, which has no
// \Recent.
func (s *session) rev2() bool {
	return s.conn.EnabledCaps().Has(goimap.CapIMAP4rev2)
}

// withRecent returns the flags of a message as the session shows them,
// \Recent added when it is recent here (recent: the session's recent
// set, nil for an IMAP4rev2 client).
func withRecent(flags []string, uid store.UID, recent []store.UID) []goimap.Flag {
	out := imapFlags(flags)
	if _, ok := slices.BinarySearch(recent, uid); ok {
		out = append(out, flagRecent)
	}
	return out
}

// flagRecent is \Recent, a flag only the server sets.
const flagRecent goimap.Flag = `\Recent`

// isRecentFlag reports whether a search flag is \Recent.
func isRecentFlag(f goimap.Flag) bool { return strings.EqualFold(string(f), string(flagRecent)) }
