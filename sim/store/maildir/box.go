package maildir

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailhop/mailhop/sim/store"
)

var syscallNameTooLong = syscall.ENAMETOOLONG

// box is a loaded mailbox: its messages as the directory holds them.
//
// Lock order: user.mu, then box.mu (two boxes: by directory name); a box's
// notifyMu is taken before its mu and never while holding another lock.
type box struct {
	s    *Store
	u    *user
	name string
	dir  string

	mu       sync.Mutex
	appends  appender
	gone     bool
	validity uint32
	next     store.UID
	// savedNext is the next UID as mailhop-uidlist has it.
	savedNext store.UID
	// highest is the mailbox's highest mod-sequence (RFC 7162), kept in
	// memory only; reserved is the reserve mailhop-uidlist has, never
	// below it (see "Mod-sequences"). legacy says that file was written
	// before the reserve: its value is a highest as of an expunge, and
	// names may hold higher ones (M=).
	highest   uint64
	reserved  uint64
	legacy    bool
	keywords  []string // keyword i is letter 'a'+i
	msgs      []*message
	byKey     map[string]*message
	byTag     map[string]*message // delivered messages by delivery tag
	watchers  map[int]func(store.Change)
	watchSeq  int
	pending   []queuedChange // changes not yet told to watchers
	changeSeq uint64
	scanNew   time.Time // directory mtimes at the last scan
	scanCur   time.Time
	notifyMu  sync.Mutex
	syncNew   syncer
	syncCur   syncer
}

type queuedChange struct {
	seq uint64
	c   store.Change
}

// message is one message file.
type message struct {
	uid    store.UID
	modseq uint64 // in memory only
	// key is the file name before ":": unique, kept by every rename of a
	// flag change (mailhop's and other programs'); only the scan changes
	// it, to add a U= field to a file that has none or a taken one.
	key   string
	name  string // the file name now
	sub   string // "new" or "cur"
	size  int64  // with CRLF line ends
	disk  int64  // bytes on disk (-1: unknown)
	date  time.Time
	flags []string
	extra string // info letters mailhop does not interpret, kept as they are
}

func (m *message) message() store.Message {
	return store.Message{UID: m.uid, Size: m.size, Flags: slices.Clone(m.flags), Date: m.date, ModSeq: m.modseq}
}

func (m *message) diskSize() int64 {
	if m.disk >= 0 {
		return m.disk
	}
	return m.size
}

func (b *box) path(m *message) string { return filepath.Join(b.dir, m.sub, m.name) }

func (b *box) syncer(sub string) *syncer {
	if sub == "new" {
		return &b.syncNew
	}
	return &b.syncCur
}

// find returns the message with uid, or nil. mu held.
func (b *box) find(uid store.UID) *message {
	i, ok := slices.BinarySearchFunc(b.msgs, uid, func(m *message, u store.UID) int {
		switch {
		case m.uid < u:
			return -1
		case m.uid > u:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return b.msgs[i]
}

// add appends a message with a UID above all others. mu held.
func (b *box) add(m *message) {
	b.msgs = append(b.msgs, m)
	b.byKey[m.key] = m
	if tag := tagOf(m.key); tag != "" {
		b.byTag[tag] = m
	}
}

// nameFor joins a key and the info part of the name it had ("" and no
// ":" when it had none).
func nameFor(key, oldName, info string) string {
	if info != "" || strings.Contains(oldName, ":") {
		return key + ":" + info
	}
	return key
}

// publish queues a change for the watchers and returns its sequence
// number; flush tells them. mu held.
func (b *box) publish(c store.Change) uint64 {
	b.changeSeq++
	if len(b.watchers) > 0 {
		b.pending = append(b.pending, queuedChange{seq: b.changeSeq, c: c})
	}
	return b.changeSeq
}

// flush tells the watchers every queued change up to seq, in order. Called
// without mu, once the change is durable: watchers hear changes in the
// order they were made, whichever goroutine flushes them.
func (b *box) flush(seq uint64) {
	if seq == 0 {
		return
	}
	b.notifyMu.Lock()
	defer b.notifyMu.Unlock()
	b.mu.Lock()
	n := 0
	for n < len(b.pending) && b.pending[n].seq <= seq {
		n++
	}
	if n == 0 {
		b.mu.Unlock()
		return
	}
	batch := slices.Clone(b.pending[:n])
	b.pending = slices.Delete(b.pending, 0, n)
	ids := make([]int, 0, len(b.watchers))
	for id := range b.watchers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ws := make([]func(store.Change), len(ids))
	for i, id := range ids {
		ws[i] = b.watchers[id]
	}
	b.mu.Unlock()
	for _, q := range batch {
		for _, w := range ws {
			w(q.c)
		}
	}
}

// remove drops the messages with these UIDs from disk (unless keepFile
// says the file is gone already) and from the list, and reports them
// expunged at the mailbox's highest mod-sequence, which the caller has
// raised (expungeModSeq). mu held; the caller syncs the touched
// directories and flushes seq.
func (b *box) remove(uids []store.UID, keepFile func(*message) bool) (removed []store.UID, seq uint64, touched map[string]bool, err error) {
	touched = map[string]bool{}
	drop := map[store.UID]bool{}
	for _, u := range uids {
		drop[u] = true
	}
	kept := b.msgs[:0]
	var gone []*message
	for _, m := range b.msgs {
		if !drop[m.uid] {
			kept = append(kept, m)
			continue
		}
		if keepFile == nil || !keepFile(m) {
			if e := os.Remove(b.path(m)); e != nil && !errors.Is(e, fs.ErrNotExist) {
				if err == nil {
					err = fmt.Errorf("maildir: %w", e)
				}
				kept = append(kept, m)
				continue
			}
			touched[m.sub] = true
		}
		gone = append(gone, m)
	}
	clear(b.msgs[len(kept):])
	b.msgs = kept
	for _, m := range gone {
		delete(b.byKey, m.key)
		if tag := tagOf(m.key); tag != "" && b.byTag[tag] == m {
			delete(b.byTag, tag)
		}
		removed = append(removed, m.uid)
		seq = b.publish(store.Change{Kind: store.Expunged, UID: m.uid, ModSeq: b.highest})
	}
	return removed, seq, touched, err
}

// saveNext writes mailhop-uidlist when the next UID there is behind, so
// that removing the message with the highest UID can not let it be used
// again after a restart. mu held.
func (b *box) saveNext() error {
	if b.savedNext >= b.next {
		return nil
	}
	return b.saveList()
}

// saveList writes mailhop-uidlist: the UIDVALIDITY, the next UID, the
// mod-sequence reserve and the keywords. mu held.
func (b *box) saveList() error {
	ul := uidlist{validity: b.validity, next: b.next, reserve: b.reserved, keywords: b.keywords}
	if err := b.s.writeAtomic(b.dir, uidlistFile, ul.encode()); err != nil {
		return err
	}
	b.savedNext, b.legacy = b.next, false
	return nil
}

// modSeqBlock is how many mod-sequences one write of mailhop-uidlist
// reserves.
const modSeqBlock = 1024

// cover makes sure that mailhop-uidlist's reserve is at least ms before
// ms is handed out: when it is below, the reserve is raised to cover ms
// and a block more, and written. mu held.
func (b *box) cover(ms uint64) error {
	if ms <= b.reserved {
		return nil
	}
	old := b.reserved
	b.reserved = ms + modSeqBlock - 1
	if err := b.saveList(); err != nil {
		b.reserved = old
		return err
	}
	return nil
}

// nextModSeq is the mod-sequence the next change gets, above every other
// of the mailbox, once the reserve covers it. Whoever makes the change
// raises highest to it. mu held.
func (b *box) nextModSeq() (uint64, error) {
	ms := b.highest + 1
	if err := b.cover(ms); err != nil {
		return 0, err
	}
	return ms, nil
}

// expungeModSeq raises the mailbox's highest mod-sequence for an expunge,
// and writes the next UID to mailhop-uidlist when it is behind there,
// before any file is removed. mu held.
func (b *box) expungeModSeq() error {
	ms, err := b.nextModSeq()
	if err != nil {
		return err
	}
	if err := b.saveNext(); err != nil {
		return err
	}
	b.highest = ms
	return nil
}

// holdsAny reports whether any of uids is in the mailbox. mu held.
func (b *box) holdsAny(uids []store.UID) bool {
	return slices.ContainsFunc(uids, func(u store.UID) bool { return b.find(u) != nil })
}

// Maildir flag letters and the IMAP flags they stand for.
var letterFlags = map[byte]string{
	'D': store.FlagDraft,
	'F': store.FlagFlagged,
	'R': store.FlagAnswered,
	'S': store.FlagSeen,
	'T': store.FlagDeleted,
}

// info renders flags as the letters after ":2,", giving new keywords a
// letter (saved in the uidlist first). mu held.
func (b *box) info(flags []string, extra string) (string, error) {
	var letters []byte
	added := false
	for _, f := range flags {
		found := false
		for l, sys := range letterFlags {
			if f == sys {
				letters = append(letters, l)
				found = true
			}
		}
		if found {
			continue
		}
		i := slices.IndexFunc(b.keywords, func(k string) bool { return strings.EqualFold(k, f) })
		if i < 0 {
			if len(b.keywords) >= 26 {
				return "", fmt.Errorf("maildir: mailbox %s has 26 keywords already, the most Maildir can name", b.name)
			}
			if strings.ContainsAny(f, " \r\n") {
				return "", fmt.Errorf("maildir: keyword %q has a space or line end", f)
			}
			b.keywords = append(b.keywords, f)
			i = len(b.keywords) - 1
			added = true
		}
		letters = append(letters, byte('a'+i))
	}
	if added {
		if err := b.saveList(); err != nil {
			return "", err
		}
	}
	letters = append(letters, extra...)
	slices.Sort(letters)
	return string(slices.Compact(letters)), nil
}

// parseInfo reads the flags of a file name's info part.
func (b *box) parseInfo(info string) (flags []string, extra string) {
	letters, ok := strings.CutPrefix(info, "2,")
	if !ok {
		return nil, ""
	}
	var ex []byte
	for i := 0; i < len(letters); i++ {
		c := letters[i]
		switch {
		case letterFlags[c] != "":
			flags = append(flags, letterFlags[c])
		case c >= 'a' && c <= 'z' && int(c-'a') < len(b.keywords):
			flags = append(flags, b.keywords[c-'a'])
		default:
			ex = append(ex, c)
		}
	}
	return store.NormalizeFlags(flags), string(ex)
}

// fileName is what a message file's name says.
type fileName struct {
	key    string // before ":"
	info   string // after ":"
	uid    store.UID
	modseq uint64 // M= (written by an older mailhop), else 0
	size   int64  // W=, else -1
	disk   int64  // S=, else -1
}

func parseName(name string) fileName {
	key, info, _ := strings.Cut(name, ":")
	fn := fileName{key: key, info: info, size: -1, disk: -1}
	fields := strings.Split(key, ",")
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			continue
		}
		switch k {
		case "U":
			if n > 0 && n < 1<<32 {
				fn.uid = store.UID(n)
			}
		case "M":
			if n > 0 {
				fn.modseq = n
			}
		case "W":
			fn.size = int64(n)
		case "S":
			fn.disk = int64(n)
		}
	}
	return fn
}

// withUID returns key with its U= field set to uid, last. An M= field
// (written by an older mailhop) is dropped.
func withUID(key string, uid store.UID) string {
	fields := strings.Split(key, ",")
	out := fields[:1]
	for _, f := range fields[1:] {
		if !strings.HasPrefix(f, "U=") && !strings.HasPrefix(f, "M=") {
			out = append(out, f)
		}
	}
	return strings.Join(out, ",") + uidField(uid)
}

// uidField renders the U= field of a name.
func uidField(uid store.UID) string {
	return ",U=" + strconv.FormatUint(uint64(uid), 10)
}

// deliveryTag names one delivery in a file name: "K" and 32 hex digits,
// the first 128 bits of SHA-256 over the caller's delivery key and the
// message. The same delivery repeated gives the same tag; another message
// under a reused key (a queue id comes round again) gives another.
func deliveryTag(key string, msg []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "mailhop-delivery %d:%s\n", len(key), key)
	h.Write(msg)
	return "K" + hex.EncodeToString(h.Sum(nil)[:16])
}

// tagOf returns the delivery tag in a file name's key, "" when it has
// none: the second dot-separated field of the unique part (before the
// first ","), when it is "K" and 32 lower-case hex digits.
func tagOf(key string) string {
	unique, _, _ := strings.Cut(key, ",")
	_, rest, ok := strings.Cut(unique, ".")
	if !ok {
		return ""
	}
	tag, _, ok := strings.Cut(rest, ".")
	if !ok || len(tag) != 33 || tag[0] != 'K' {
		return ""
	}
	for _, c := range []byte(tag[1:]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return ""
		}
	}
	return tag
}

// diskEntry is one file found in new/ or cur/.
type diskEntry struct {
	sub  string
	name string
	fn   fileName
}

// readEntries lists new/ and cur/, and returns their modification times
// as they were before the listing.
func (b *box) readEntries() ([]diskEntry, time.Time, time.Time, error) {
	var out []diskEntry
	var mt [2]time.Time
	for i, sub := range []string{"new", "cur"} {
		dir := filepath.Join(b.dir, sub)
		if fi, err := os.Stat(dir); err == nil {
			mt[i] = fi.ModTime()
		}
		f, err := os.Open(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, mt[0], mt[1], fmt.Errorf("%w: %s", store.ErrNoMailbox, b.name)
			}
			return nil, mt[0], mt[1], fmt.Errorf("maildir: %w", err)
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return nil, mt[0], mt[1], fmt.Errorf("maildir: %w", err)
		}
		for _, n := range names {
			if n == "" || n[0] == '.' {
				continue // Maildir: names starting with a dot are not messages
			}
			out = append(out, diskEntry{sub: sub, name: n, fn: parseName(n)})
		}
	}
	return out, mt[0], mt[1], nil
}

// load reads the mailbox from disk. Called before the box is shared.
func (b *box) load() error {
	b.byKey = map[string]*message{}
	b.byTag = map[string]*message{}
	path := filepath.Join(b.dir, uidlistFile)
	data, err := os.ReadFile(path)
	var ul uidlist
	switch {
	case err == nil:
		if ul, err = decodeUidlist(data); err != nil {
			return fmt.Errorf("maildir: %s: %w", path, err)
		}
		b.validity, b.next, b.savedNext, b.keywords = ul.validity, max(ul.next, 1), ul.next, ul.keywords
		b.reserved, b.legacy = ul.reserve, !ul.hasReserve
	case errors.Is(err, fs.ErrNotExist):
		// A Maildir made by another program: its UIDs start now, its
		// mod-sequences from a reserve of 0. The scan writes the file.
		b.validity, b.next = b.s.newValidity(), 1
	default:
		return fmt.Errorf("maildir: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.scanLocked(true)
}

// refresh brings the mailbox up to date with its directories when they
// may have changed behind mailhop's back: when their modification times
// moved since the last scan, or are too recent to trust (the file system
// clock is coarse).
func (b *box) refresh() error {
	b.mu.Lock()
	if b.gone {
		b.mu.Unlock()
		return nil
	}
	newFI, err1 := os.Stat(filepath.Join(b.dir, "new"))
	curFI, err2 := os.Stat(filepath.Join(b.dir, "cur"))
	if err1 == nil && err2 == nil {
		recent := time.Since(newFI.ModTime()) < 2*time.Second || time.Since(curFI.ModTime()) < 2*time.Second
		if !recent && newFI.ModTime().Equal(b.scanNew) && curFI.ModTime().Equal(b.scanCur) {
			b.mu.Unlock()
			return nil
		}
	}
	err := b.scanLocked(false)
	seq := b.changeSeq
	b.mu.Unlock()
	b.flush(seq)
	return err
}

// scanLocked reconciles the list with the directories: new files get UIDs
// (renamed to carry them when need be) and mod-sequences, missing ones
// are expunged, renamed ones change flags and get a new mod-sequence.
// The first scan (initial) gives every message the mod-sequence one above
// the reserve in mailhop-uidlist, once the reserve is raised past it. mu
// held; the caller flushes.
func (b *box) scanLocked(initial bool) error {
	entries, mtNew, mtCur, err := b.readEntries()
	if err != nil {
		return err
	}
	if initial {
		// Above every mod-sequence handed out before (all within the
		// reserve): every message counts as changed since. A reserve
		// written by a mailhop that kept M= in names was a highest as of
		// an expunge, and those names may hold higher ones.
		base := b.reserved
		if b.legacy {
			for _, e := range entries {
				base = max(base, e.fn.modseq)
			}
		}
		if err := b.cover(base + 1); err != nil {
			return err
		}
		b.highest = base + 1
	}
	// retry says a rename failed: scan again next time, whatever the
	// directories' modification times say.
	retry := false
	type flagChange struct {
		m     *message
		e     diskEntry
		flags []string
		extra string
	}
	seen := map[string]bool{}
	var fresh []diskEntry
	var flagged []flagChange
	for _, e := range entries {
		if seen[e.fn.key] {
			continue // the same message in new/ and cur/ at once: mid-rename
		}
		seen[e.fn.key] = true
		m := b.byKey[e.fn.key]
		if m == nil {
			fresh = append(fresh, e)
			continue
		}
		if m.sub != e.sub || m.name != e.name {
			flags, extra := b.parseInfo(e.fn.info)
			if slices.Equal(flags, m.flags) {
				m.sub, m.name, m.extra = e.sub, e.name, extra
			} else {
				flagged = append(flagged, flagChange{m, e, flags, extra})
			}
		}
	}
	// Messages gone from disk: removed by another program.
	var gone []store.UID
	for _, m := range b.msgs {
		if !seen[m.key] {
			gone = append(gone, m.uid)
		}
	}
	if len(gone) > 0 {
		if err := b.expungeModSeq(); err != nil {
			return err
		}
		b.remove(gone, func(*message) bool { return true })
	}
	// Flags another program changed: a new mod-sequence.
	for _, f := range flagged {
		m, e := f.m, f.e
		modseq, err := b.nextModSeq()
		if err != nil {
			return err
		}
		b.highest = modseq
		m.sub, m.name = e.sub, e.name
		m.flags, m.extra, m.modseq = f.flags, f.extra, modseq
		b.publish(store.Change{Kind: store.FlagsChanged, UID: m.uid, Flags: slices.Clone(m.flags), ModSeq: modseq})
	}
	var renamed []string
	// New files: those that carry a UID above every UID in use keep it
	// (in order); the others are given the next UIDs, in name order.
	slices.SortFunc(fresh, func(x, y diskEntry) int {
		switch {
		case x.fn.uid != y.fn.uid:
			if x.fn.uid == 0 {
				return 1
			}
			if y.fn.uid == 0 {
				return -1
			}
			if x.fn.uid < y.fn.uid {
				return -1
			}
			return 1
		}
		return strings.Compare(x.name, y.name)
	})
	for _, e := range fresh {
		m := &message{key: e.fn.key, name: e.name, sub: e.sub, size: e.fn.size, disk: e.fn.disk}
		m.flags, m.extra = b.parseInfo(e.fn.info)
		path := filepath.Join(b.dir, e.sub, e.name)
		fi, err := os.Stat(path)
		if err != nil {
			continue // gone meanwhile
		}
		m.date = fi.ModTime()
		if m.disk < 0 || m.disk != fi.Size() {
			m.disk = fi.Size()
			m.size = -1
		}
		if m.size < 0 {
			data, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			m.size = crlfLen(data)
		}
		last := store.UID(0)
		if n := len(b.msgs); n > 0 {
			last = b.msgs[n-1].uid
		}
		modseq := b.highest // the first scan's, for every message
		if !initial {
			// New to the mailbox: above every other.
			if modseq, err = b.nextModSeq(); err != nil {
				return err
			}
		}
		if e.fn.uid != 0 && e.fn.uid > last && (initial || e.fn.uid >= b.next) {
			m.uid = e.fn.uid
		} else {
			// No UID yet, or one already taken: the next, carried in
			// the name from now on.
			m.uid = b.next
			key := withUID(e.fn.key, m.uid)
			name := nameFor(key, e.name, e.fn.info)
			if err := rename(path, filepath.Join(b.dir, e.sub, name)); err != nil {
				retry = true
				continue
			}
			m.key, m.name = key, name
			renamed = append(renamed, e.sub)
		}
		b.next = max(b.next, m.uid+1)
		b.highest, m.modseq = modseq, modseq
		b.add(m)
		b.publish(store.Change{Kind: store.Appended, UID: m.uid, Flags: slices.Clone(m.flags), Size: m.size, ModSeq: m.modseq})
	}
	for _, sub := range slices.Compact(slices.Sorted(slices.Values(renamed))) {
		if err := b.syncer(sub).sync(); err != nil {
			return err
		}
	}
	b.scanNew, b.scanCur = mtNew, mtCur
	if retry {
		b.scanNew, b.scanCur = time.Time{}, time.Time{}
	}
	return nil
}

// syncer shares directory fsyncs between goroutines (group commit): a
// caller that made a change in the directory calls sync, which returns
// once an fsync that started after the call has finished.
type syncer struct {
	s    *Store
	dir  string
	mu   sync.Mutex
	cond *sync.Cond
	// requested counts calls; done is the count covered by the last
	// completed fsync; busy says one is running.
	requested, done uint64
	busy            bool
}

func (y *syncer) sync() error {
	if y.s.noSync {
		return nil
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	if y.cond == nil {
		y.cond = sync.NewCond(&y.mu)
	}
	y.requested++
	mine := y.requested
	for y.done < mine {
		if y.busy {
			y.cond.Wait()
			continue
		}
		y.busy = true
		target := y.requested
		y.mu.Unlock()
		err := y.s.syncDir(y.dir)
		y.mu.Lock()
		y.busy = false
		if err != nil {
			y.cond.Broadcast()
			return err
		}
		y.done = max(y.done, target)
		y.cond.Broadcast()
	}
	return nil
}

// uidlist is what mailhop-uidlist holds.
type uidlist struct {
	validity uint32
	next     store.UID
	// reserve is the highest mod-sequence mailhop may hand out before
	// it writes the file again (see "Mod-sequences"). hasReserve says
	// the file had it; when not, reserve is the "highestmodseq" of a
	// mailhop that kept mod-sequences in names (a highest as of its last
	// expunge or Close), or 0 from before mod-sequences.
	reserve    uint64
	hasReserve bool
	keywords   []string
}

func (u uidlist) encode() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "mailhop-uidlist 1\nuidvalidity %d\nuidnext %d\nmodseqreserve %d\n", u.validity, u.next, u.reserve)
	for i, k := range u.keywords {
		fmt.Fprintf(&b, "keyword %c %s\n", 'a'+i, k)
	}
	return []byte(b.String())
}

func decodeUidlist(data []byte) (uidlist, error) {
	var u uidlist
	var oldHighest uint64
	lines := strings.Split(string(data), "\n")
	if len(lines) == 0 || lines[0] != "mailhop-uidlist 1" {
		return u, errors.New("not a mailhop-uidlist (version 1)")
	}
	for n, l := range lines[1:] {
		if l == "" {
			continue
		}
		f := strings.SplitN(l, " ", 3)
		bad := fmt.Errorf("line %d: %q", n+2, l)
		switch f[0] {
		case "uidvalidity":
			v, err := strconv.ParseUint(f[1], 10, 32)
			if err != nil || v == 0 {
				return u, bad
			}
			u.validity = uint32(v)
		case "uidnext":
			v, err := strconv.ParseUint(f[1], 10, 32)
			if err != nil {
				return u, bad
			}
			u.next = store.UID(v)
		case "modseqreserve", "highestmodseq":
			if len(f) < 2 {
				return u, bad
			}
			v, err := strconv.ParseUint(f[1], 10, 63)
			if err != nil {
				return u, bad
			}
			if f[0] == "highestmodseq" {
				oldHighest = v
			} else {
				u.reserve, u.hasReserve = v, true
			}
		case "keyword":
			if len(f) != 3 || len(f[1]) != 1 || f[1][0] != byte('a'+len(u.keywords)) {
				return u, bad
			}
			u.keywords = append(u.keywords, f[2])
		}
	}
	if u.validity == 0 {
		return u, errors.New("no uidvalidity")
	}
	if !u.hasReserve {
		u.reserve = oldHighest
	}
	return u, nil
}
