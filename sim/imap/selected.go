package imap

import (
	"math"
	"slices"
	"sort"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailhop/mailhop/sim/store"
)

// systemFlags are the flags of RFC 9051 §2.3.2 a client may set, sorted.
func systemFlags() []goimap.Flag {
	return []goimap.Flag{goimap.FlagAnswered, goimap.FlagDeleted, goimap.FlagDraft, goimap.FlagFlagged, goimap.FlagSeen}
}

// Select is SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3).
func (s *session) Select(name string, options *goimap.SelectOptions) (*goimap.SelectData, error) {
	cn, err := mailboxName(name)
	if err != nil {
		return nil, err
	}
	var mb *mailbox
	for try := 0; ; try++ {
		if mb, err = s.srv.acquire(s.user, cn); err != nil {
			return nil, s.storeError(err)
		}
		mb.mu.Lock()
		if !mb.gone {
			break
		}
		// Deleted an instant ago, and not yet forgotten: the name may
		// already be a new mailbox.
		mb.mu.Unlock()
		s.srv.forget(mb)
		s.srv.release(mb)
		if try == 1 {
			return nil, errNo(goimap.ResponseCodeNonExistent, "No such mailbox")
		}
	}
	st := mb.tracker.NewSession()
	uids := slices.Clone(mb.uids) // this session's view, for now
	flags := mb.flagList()
	sel := &selection{s: s, mb: mb, st: st, readOnly: options.ReadOnly, told: map[string]bool{}, drained: mb.expunges, expungesTold: mb.expunges}
	if mb.sels == nil {
		mb.sels = map[*selection]struct{}{}
	}
	mb.sels[sel] = struct{}{}
	for k := range mb.keywords {
		sel.told[k] = true // named by this SELECT's FLAGS
	}
	sel.toldOf = len(mb.keywords)
	if n := len(uids); n > 0 {
		sel.seen = uids[n-1]
	}
	mb.mu.Unlock()
	s.sel, s.searchRes = sel, nil
	s.idling.Store(sel)

	status, err := s.srv.Store.Status(s.user, cn)
	if err == nil {
		var msgs []store.Message
		msgs, err = s.srv.Store.List(s.user, cn)
		if err == nil {
			// The messages no selecting session was given are recent
			// here; SELECT takes them, EXAMINE leaves them (RFC 3501
			// §2.3.2, §6.3.2).
			mb.mu.Lock()
			sel.validity = status.UIDValidity
			sel.recent = s.srv.claimRecent(mb.key, status.UIDValidity, uids, !options.ReadOnly)
			mb.mu.Unlock()
			data := selectData(status, uids, msgs, flags, options.ReadOnly)
			data.NumRecent = uint32(len(sel.recent))
			box := &selectedBox{
				modseq: mb.modseq,
				highest: func() (uint64, bool) {
					st, err := s.srv.Store.Status(s.user, cn)
					return st.HighestModSeq, err == nil
				},
				nextExpunged: sel.nextExpunged,
				flagsNow:     sel.flagsNow,
				toldBy:       sel.toldBy,
			}
			if !s.rev2() {
				box.isRecent = sel.isRecent
			}
			s.cc.selected(box)
			if cmd := s.cc.takeCond("SELECT"); cmd != nil && cmd.qresync != nil {
				var recent []store.UID
				if !s.rev2() {
					recent = sel.recent
				}
				extra := resync(cmd.qresync, status, uids, msgs, recent)
				s.cc.wmu.Lock()
				cmd.extra = extra
				s.cc.wmu.Unlock()
			}
			if s.rev2() {
				data.List = s.listData(cn)
			}
			return data, nil
		}
	}
	s.unselect()
	return nil, s.storeError(err)
}

func selectData(status store.Status, uids []store.UID, msgs []store.Message, flags []goimap.Flag, readOnly bool) *goimap.SelectData {
	data := &goimap.SelectData{
		NumMessages: uint32(len(uids)),
		UIDNext:     goimap.UID(status.UIDNext),
		UIDValidity: status.UIDValidity,
	}
	if n := len(uids); n > 0 && uids[n-1] >= status.UIDNext {
		data.UIDNext = goimap.UID(uids[n-1] + 1)
	}
	// FLAGS: the system flags and the keywords in use.
	data.Flags = flags
	if !readOnly {
		data.PermanentFlags = append(slices.Clone(data.Flags), goimap.FlagWildcard)
	}
	// [UNSEEN n] (IMAP4rev1 only): the first message without \Seen, by
	// the session's view. A message gone since counts as seen.
	j := 0
	for i, uid := range uids {
		for j < len(msgs) && msgs[j].UID < uid {
			j++
		}
		if j < len(msgs) && msgs[j].UID == uid && !store.HasFlag(msgs[j].Flags, store.FlagSeen) {
			data.FirstUnseenSeqNum = uint32(i + 1)
			break
		}
	}
	return data
}

func (s *session) Unselect() error {
	s.unselect()
	return nil
}

func (s *session) unselect() {
	if s.sel == nil {
		return
	}
	mb := s.sel.mb
	mb.mu.Lock()
	s.sel.st.Close()
	s.sel.closed = true
	delete(mb.sels, s.sel)
	mb.mu.Unlock()
	s.sel, s.searchRes = nil, nil
	s.idling.Store(nil)
	s.cc.selected(nil)
	s.srv.release(mb)
}

// ref is one message of a command: its sequence number in the session's
// view and its UID.
type ref struct {
	seq uint32
	uid store.UID
}

func refUIDs(refs []ref) []store.UID {
	out := make([]store.UID, len(refs))
	for i, r := range refs {
		out[i] = r.uid
	}
	slices.Sort(out)
	return out
}

// clientMax is the largest sequence number the client knows of a message
// still in the mailbox ("*"); mu held.
func (s *session) clientMax() uint32 {
	for i := len(s.sel.mb.uids); i > 0; i-- {
		if c := s.sel.st.EncodeSeqNum(uint32(i)); c != 0 {
			return c
		}
	}
	return 0
}

// resolve turns the message set of a command into the messages it names,
// in the client's view: sequence numbers are the session's (other
// sessions' expunges it has not been told of yet are not applied; messages
// it has not been told of are left out), "*" is the last message or the
// largest UID, "$" is the saved search result (RFC 5182). Sorted by
// sequence number.
func (s *session) resolve(numSet goimap.NumSet) []ref {
	if goimap.IsSearchRes(numSet) {
		numSet = slices.Clone(s.searchRes)
	}
	mb := s.sel.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	n := len(mb.uids)
	if n == 0 {
		return nil
	}
	var refs []ref
	switch set := numSet.(type) {
	case goimap.SeqSet:
		max := s.clientMax()
		var count uint64
		ranges := make([][2]uint32, 0, len(set))
		for _, r := range set {
			lo, hi := static(r.Start, r.Stop, max)
			if lo > max {
				continue
			}
			hi = min(hi, max)
			ranges = append(ranges, [2]uint32{lo, hi})
			count += uint64(hi-lo) + 1
		}
		if count <= uint64(n) {
			for _, r := range ranges {
				for c := r[0]; c <= r[1] && c != 0; c++ {
					if ss := s.sel.st.DecodeSeqNum(c); ss != 0 && int(ss) <= n {
						refs = append(refs, ref{c, mb.uids[ss-1]})
					}
				}
			}
		} else {
			for i := 1; i <= n; i++ {
				c := s.sel.st.EncodeSeqNum(uint32(i))
				if c != 0 && inRanges(ranges, c) {
					refs = append(refs, ref{c, mb.uids[i-1]})
				}
			}
		}
	case goimap.UIDSet:
		maxUID := uint32(mb.uids[n-1])
		for _, r := range set {
			lo, hi := static(uint32(r.Start), uint32(r.Stop), maxUID)
			i, _ := slices.BinarySearch(mb.uids, store.UID(lo))
			for ; i < n && uint32(mb.uids[i]) <= hi; i++ {
				if c := s.sel.st.EncodeSeqNum(uint32(i + 1)); c != 0 {
					refs = append(refs, ref{c, mb.uids[i]})
				}
			}
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].seq < refs[j].seq })
	return slices.CompactFunc(refs, func(a, b ref) bool { return a.seq == b.seq })
}

// static resolves "*" (0) in a range and orders it.
func static(lo, hi, max uint32) (uint32, uint32) {
	if lo == 0 {
		lo = max
	}
	if hi == 0 {
		hi = max
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi
}

func inRanges(ranges [][2]uint32, c uint32) bool {
	for _, r := range ranges {
		if r[0] <= c && c <= r[1] {
			return true
		}
	}
	return false
}

// view is every message of the session's view, in order; for SEARCH.
func (s *session) view() []ref {
	mb := s.sel.mb
	mb.mu.Lock()
	defer mb.mu.Unlock()
	out := make([]ref, 0, len(mb.uids))
	for i, uid := range mb.uids {
		if c := s.sel.st.EncodeSeqNum(uint32(i + 1)); c != 0 {
			out = append(out, ref{c, uid})
		}
	}
	return out
}

// setFlags changes flags in the store as this session: the tracker tells
// the other sessions, and this one answers with its own FETCH responses.
// It returns the messages with their flags now, and the UIDs of those whose
// flags this call changed; only messages whose mod-sequence is at most
// unchangedSince are changed, the UIDs of the others returned as
// modified (RFC 7162 §3.1.3).
func (s *session) setFlags(uids []store.UID, op store.FlagOp, flags []string, unchangedSince uint64) (msgs []store.Message, changed, modified []store.UID, err error) {
	mb := s.sel.mb
	mb.opMu.Lock()
	defer mb.opMu.Unlock()
	mb.mu.Lock()
	mb.source, mb.sourceUIDs, mb.sourceChanged = s.sel.st, uids, nil
	mb.mu.Unlock()
	msgs, modified, err = s.srv.Store.SetFlagsIf(s.user, mb.key.name, uids, op, flags, unchangedSince)
	mb.mu.Lock()
	changed = mb.sourceChanged
	mb.source, mb.sourceUIDs, mb.sourceChanged = nil, nil, nil
	mb.mu.Unlock()
	slices.Sort(changed)
	return msgs, changed, modified, err
}

func (s *session) errReadOnly() error {
	return errNo(goimap.ResponseCodeCannot, "The mailbox is read-only (EXAMINE); SELECT it to change it")
}

// Store is STORE and UID STORE (RFC 9051 §6.4.6).
func (s *session) Store(w *imapserver.FetchWriter, numSet goimap.NumSet, flags *goimap.StoreFlags, options *goimap.StoreOptions) error {
	if s.sel.readOnly {
		return s.errReadOnly()
	}
	fl, err := storeFlags(flags.Flags)
	if err != nil {
		return err
	}
	cmd := s.cc.takeCond("STORE")
	if err := s.announceHighest(cmd); err != nil {
		return err
	}
	refs := s.resolve(numSet)
	if len(refs) == 0 {
		return nil
	}
	op := map[goimap.StoreFlagsOp]store.FlagOp{
		goimap.StoreFlagsSet: store.FlagsSet,
		goimap.StoreFlagsAdd: store.FlagsAdd,
		goimap.StoreFlagsDel: store.FlagsRemove,
	}[flags.Op]
	unchangedSince := uint64(math.MaxUint64)
	if cmd != nil && cmd.hasUnchanged {
		unchangedSince = cmd.unchangedSince
	}
	msgs, changed, modified, err := s.setFlags(refUIDs(refs), op, fl, unchangedSince)
	if err != nil {
		return s.storeError(err)
	}
	_, byUID := numSet.(goimap.UIDSet)
	if len(modified) > 0 {
		// MODIFIED: the messages changed since UNCHANGEDSINCE, which
		// this STORE left as they were (RFC 7162 §3.1.3).
		s.cc.wmu.Lock()
		cmd.modified = modifiedSet(refs, modified, byUID)
		s.cc.wmu.Unlock()
	}
	// With CONDSTORE on, every FETCH response names the UID and gets the
	// new MODSEQ, even for .SILENT: then only of those changed.
	condstore := s.cc.condstoreOn()
	if flags.Silent && !condstore {
		return nil
	}
	if condstore {
		s.cc.withModSeq(true)
		defer s.cc.withModSeq(false)
	}
	var recent []store.UID
	if !s.rev2() {
		recent = s.sel.recentSet()
	}
	for _, r := range refs {
		i, ok := slices.BinarySearchFunc(msgs, r.uid, func(m store.Message, u store.UID) int { return cmpUID(m.UID, u) })
		if !ok {
			continue // expunged meanwhile, or changed since UNCHANGEDSINCE
		}
		if flags.Silent {
			if _, ok := slices.BinarySearch(changed, r.uid); ok {
				mw := w.CreateMessage(r.seq)
				mw.WriteUID(goimap.UID(r.uid))
				if err := mw.Close(); err != nil {
					return err
				}
			}
			continue
		}
		// A keyword the session has not been told of by FLAGS (this
		// STORE's own, new to the mailbox, or another session's) is
		// announced first (RFC 9051 §7.3.5), in the poll that follows:
		// the FETCH response waits for it.
		if _, untold := s.sel.shown(msgs[i].Flags); untold {
			s.sel.later(r.uid, byUID || condstore, withRecent(msgs[i].Flags, r.uid, recent))
			continue
		}
		mw := w.CreateMessage(r.seq)
		if byUID || condstore {
			mw.WriteUID(goimap.UID(r.uid))
		}
		mw.WriteFlags(withRecent(msgs[i].Flags, r.uid, recent))
		if err := mw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// modifiedSet is the MODIFIED set of a STORE: the UIDs of the messages
// that changed since its UNCHANGEDSINCE, or their sequence numbers
// (RFC 7162 §3.1.3).
func modifiedSet(refs []ref, modified []store.UID, byUID bool) string {
	if byUID {
		var set goimap.UIDSet
		for _, u := range modified {
			set.AddNum(goimap.UID(u))
		}
		return set.String()
	}
	var set goimap.SeqSet
	for _, r := range refs {
		if _, ok := slices.BinarySearch(modified, r.uid); ok {
			set.AddNum(r.seq)
		}
	}
	return set.String()
}

func cmpUID(a, b store.UID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Copy is COPY and UID COPY (RFC 9051 §6.4.7, RFC 4315 COPYUID).
func (s *session) Copy(numSet goimap.NumSet, dest string) (*goimap.CopyData, error) {
	dst, err := mailboxName(dest)
	if err != nil {
		return nil, err
	}
	refs := s.resolve(numSet)
	if len(refs) == 0 {
		if _, err := s.srv.Store.Status(s.user, dst); err != nil {
			return nil, s.destError(err)
		}
		return nil, nil
	}
	if err := s.admitCopy(refs); err != nil {
		return nil, err
	}
	src, dstUIDs, validity, err := s.srv.Store.Copy(s.user, s.sel.mb.key.name, refUIDs(refs), dst)
	if err != nil {
		return nil, s.destError(err)
	}
	return copyData(src, dstUIDs, validity), nil
}

// admitCopy refuses a COPY that would take the user past their quota.
// (MOVE keeps what the user has, so it is not bounded.)
func (s *session) admitCopy(refs []ref) error {
	q := s.srv.Quota
	if q == (store.Quota{}) {
		return nil
	}
	msgs, err := s.srv.Store.List(s.user, s.sel.mb.key.name)
	if err != nil {
		return s.storeError(err)
	}
	var n, size int64
	for _, r := range refs {
		i, ok := slices.BinarySearchFunc(msgs, r.uid, func(m store.Message, u store.UID) int { return cmpUID(m.UID, u) })
		if ok {
			n++
			size += msgs[i].Size
		}
	}
	if err := q.Admit(s.srv.Store, s.user, n, size); err != nil {
		return s.storeError(err)
	}
	return nil
}

func (s *session) destError(err error) error {
	if _, e := s.srv.Store.Status(s.user, s.sel.mb.key.name); e == nil && errNoMailbox(err) {
		return errNo(goimap.ResponseCodeTryCreate, "No such destination mailbox; create it first")
	}
	return s.storeError(err)
}

func copyData(src, dst []store.UID, validity uint32) *goimap.CopyData {
	if len(src) == 0 {
		return nil // COPYUID with empty sets would not parse
	}
	data := &goimap.CopyData{UIDValidity: validity}
	for i := range src {
		data.SourceUIDs.AddNum(goimap.UID(src[i]))
		data.DestUIDs.AddNum(goimap.UID(dst[i]))
	}
	return data
}

// Move is MOVE and UID MOVE (RFC 6851). The EXPUNGE responses come from
// the tracker, in the poll imapserver runs before the tagged OK.
func (s *session) Move(w *imapserver.MoveWriter, numSet goimap.NumSet, dest string) error {
	if s.sel.readOnly {
		return s.errReadOnly()
	}
	dst, err := mailboxName(dest)
	if err != nil {
		return err
	}
	refs := s.resolve(numSet)
	if dst == s.sel.mb.key.name && len(refs) > 0 {
		// Into the mailbox itself, as Dovecot does: the messages get
		// new UIDs (COPYUID says which) and the old ones are expunged,
		// the EXPUNGE responses before the EXISTS.
		s.sel.mb.hold()
		defer s.sel.mb.resume()
		src, dstUIDs, validity, err := s.srv.Store.Copy(s.user, dst, refUIDs(refs), dst)
		if err != nil {
			return s.destError(err)
		}
		if data := copyData(src, dstUIDs, validity); data != nil {
			if err := w.WriteCopyData(data); err != nil {
				return err
			}
		}
		if _, err := s.srv.Store.Expunge(s.user, dst, src); err != nil {
			return s.storeError(err)
		}
		return nil
	}
	if len(refs) == 0 {
		if _, err := s.srv.Store.Status(s.user, dst); err != nil {
			return s.destError(err)
		}
		return nil
	}
	src, dstUIDs, validity, err := s.srv.Store.Move(s.user, s.sel.mb.key.name, refUIDs(refs), dst)
	if err != nil {
		return s.destError(err)
	}
	if data := copyData(src, dstUIDs, validity); data != nil {
		return w.WriteCopyData(data)
	}
	return nil
}

// Expunge is EXPUNGE, UID EXPUNGE (RFC 4315) and the expunge of CLOSE. The
// EXPUNGE responses come from the tracker.
func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *goimap.UIDSet) error {
	// CLOSE passes a writer that writes nothing; imapserver offers no
	// other way to tell it from EXPUNGE.
	closing := *w == (imapserver.ExpungeWriter{})
	if s.sel.readOnly {
		if closing {
			return nil // CLOSE of an EXAMINEd mailbox: nothing, and no error
		}
		return s.errReadOnly()
	}
	mb := s.sel.mb
	mb.mu.Lock()
	gone := mb.gone
	mb.mu.Unlock()
	msgs, err := s.srv.Store.List(s.user, mb.key.name)
	if gone || errNoMailbox(err) {
		// Deleted or renamed away (and maybe created again: that one is
		// not this session's to expunge). CLOSE still leaves it.
		if closing {
			return nil
		}
		return errNo(goimap.ResponseCodeNonExistent, "The selected mailbox was deleted or renamed")
	}
	if err != nil {
		return s.storeError(err)
	}
	var set goimap.UIDSet
	if uids != nil {
		var maxUID uint32
		if n := len(msgs); n > 0 {
			maxUID = uint32(msgs[n-1].UID)
		}
		for _, r := range *uids {
			lo, hi := static(uint32(r.Start), uint32(r.Stop), maxUID)
			set.AddRange(goimap.UID(lo), goimap.UID(hi))
		}
	}
	var doomed []store.UID
	mb.mu.Lock()
	for _, m := range msgs {
		if store.HasFlag(m.Flags, store.FlagDeleted) && (uids == nil || set.Contains(goimap.UID(m.UID))) && mb.index(m.UID) >= 0 {
			doomed = append(doomed, m.UID)
		}
	}
	mb.mu.Unlock()
	if len(doomed) == 0 {
		return nil
	}
	if _, err := s.srv.Store.Expunge(s.user, mb.key.name, doomed); err != nil {
		return s.storeError(err)
	}
	return nil
}
