package store

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is a Store held in memory: the simulation's and the browser's.
type Memory struct {
	mu sync.Mutex
	// notifyMu is taken before mu is released by a change, so watchers
	// hear changes in the order they were made.
	notifyMu sync.Mutex
	users    map[string]*memUser
	// validity hands out UIDVALIDITY values; each new mailbox gets a fresh
	// one so a re-created name is never confused with the old one.
	validity uint32
	clock    func() time.Time

	// pack keeps messages deflated once the store has been given
	// packAfter of them (see PackAfter).
	packMu    sync.Mutex
	appended  int
	packAfter int
	pack      *packer
}

type memUser struct {
	boxes  map[string]*memBox
	locked bool
}

type memBox struct {
	name       string
	validity   uint32
	next       UID
	msgs       []*memMsg // ascending UID
	subscribed bool
	modseq     uint64 // the highest mod-sequence given (RFC 7162)
	watchers   map[int]func(Change)
	watchSeq   int
}

type memMsg struct {
	Message
	body   []byte
	packed bool // body is deflated, against the store's dictionary
}

// DefaultPackAfter is how many messages a Memory store keeps as they are
// before it keeps the next ones deflated.
const DefaultPackAfter = 1000

// packer deflates messages with a dictionary: a message the store was
// given, whose header fields (Received, DKIM-Signature,
// Authentication-Results…) the next messages mostly repeat. A message of
// the simulation takes a seventh of its size so, where deflate alone
// halves it.
type packer struct {
	dict []byte
	w    *flate.Writer
	buf  bytes.Buffer
}

// inflaters are flate readers to reuse (flate.Resetter).
var inflaters sync.Pool

// PackAfter sets how many messages the store keeps as they are (they are
// read without a cost); from the next one on, it keeps each message
// deflated, so that a long simulation's mailboxes hold five to seven
// times more in the same memory (DefaultPackAfter unless set; 0 packs
// from the first message). Call it before the first Append.
func (m *Memory) PackAfter(n int) {
	m.packMu.Lock()
	m.packAfter = n
	m.packMu.Unlock()
}

// Kept returns how many bytes the store keeps for the messages it holds
// (deflated ones at their deflated size).
func (m *Memory) Kept() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, u := range m.users {
		for _, b := range u.boxes {
			for _, msg := range b.msgs {
				n += len(msg.body)
			}
		}
	}
	return n
}

// keep returns what the store keeps of a message given to it: a copy,
// or a deflated copy.
func (m *Memory) keep(msg []byte) (body []byte, packed bool) {
	m.packMu.Lock()
	defer m.packMu.Unlock()
	m.appended++
	if m.pack == nil {
		if m.appended <= m.packAfter {
			return append([]byte(nil), msg...), false
		}
		// This message is the dictionary of the ones after it.
		dict := append([]byte(nil), msg...)
		if len(dict) > 32<<10 {
			dict = dict[len(dict)-32<<10:] // what deflate's window holds
		}
		w, err := flate.NewWriterDict(io.Discard, flate.DefaultCompression, dict)
		if err != nil {
			return append([]byte(nil), msg...), false
		}
		m.pack = &packer{dict: dict, w: w}
	}
	p := m.pack
	p.buf.Reset()
	p.w.Reset(&p.buf)
	if _, err := p.w.Write(msg); err != nil || p.w.Close() != nil || p.buf.Len() >= len(msg) {
		return append([]byte(nil), msg...), false
	}
	return bytes.Clone(p.buf.Bytes()), true
}

// unpack returns a message as it was given to the store.
func (m *Memory) unpack(mm *memMsg) ([]byte, error) {
	if !mm.packed {
		return mm.body, nil // never modified in place: safe to share
	}
	m.packMu.Lock()
	dict := m.pack.dict
	m.packMu.Unlock()
	src := bytes.NewReader(mm.body)
	r, _ := inflaters.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReaderDict(src, dict)
	} else if err := r.(flate.Resetter).Reset(src, dict); err != nil {
		return nil, err
	}
	defer inflaters.Put(r)
	var buf bytes.Buffer
	buf.Grow(int(mm.Size) + bytes.MinRead)
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, fmt.Errorf("store: reading a deflated message: %w", err)
	}
	return buf.Bytes(), nil
}

// NewMemory returns an empty store. now stamps the internal date of
// appended messages that come without one (nil: time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{users: map[string]*memUser{}, clock: now, validity: uint32(now().Unix()), packAfter: DefaultPackAfter}
}

var _ Store = (*Memory)(nil)

func userKey(u string) string { return strings.ToLower(u) }

func (m *Memory) newBox(name string) *memBox {
	m.validity++
	return &memBox{name: name, validity: m.validity, next: 1, modseq: 1, subscribed: true, watchers: map[int]func(Change){}}
}

func (m *Memory) AddUser(user string) error {
	if user == "" {
		return fmt.Errorf("store: empty user name")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := userKey(user)
	if m.users[k] == nil {
		u := &memUser{boxes: map[string]*memBox{Inbox: m.newBox(Inbox)}}
		for _, name := range DefaultMailboxes {
			u.boxes[name] = m.newBox(name)
		}
		m.users[k] = u
	}
	return nil
}

func (m *Memory) Users() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.users))
	for u := range m.users {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// box finds a mailbox. mu held.
func (m *Memory) box(user, name string) (*memUser, *memBox, error) {
	u := m.users[userKey(user)]
	if u == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNoUser, user)
	}
	cn, err := CanonicalName(name)
	if err != nil {
		return u, nil, err
	}
	b := u.boxes[cn]
	if b == nil {
		return u, nil, fmt.Errorf("%w: %s", ErrNoMailbox, name)
	}
	return u, b, nil
}

func (m *Memory) Mailboxes(user string) ([]MailboxInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.users[userKey(user)]
	if u == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoUser, user)
	}
	out := make([]MailboxInfo, 0, len(u.boxes))
	for name, b := range u.boxes {
		out = append(out, MailboxInfo{Name: name, Subscribed: b.subscribed, SpecialUse: SpecialUse(name)})
	}
	SortMailboxes(out)
	return out, nil
}

// SortMailboxes sorts by name with INBOX first.
func SortMailboxes(bs []MailboxInfo) {
	slices.SortFunc(bs, func(a, b MailboxInfo) int {
		switch {
		case a.Name == b.Name:
			return 0
		case a.Name == Inbox:
			return -1
		case b.Name == Inbox:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
}

func (m *Memory) CreateMailbox(user, name string) error {
	cn, err := CanonicalName(name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.users[userKey(user)]
	if u == nil {
		return fmt.Errorf("%w: %s", ErrNoUser, user)
	}
	if u.boxes[cn] != nil {
		return fmt.Errorf("%w: %s", ErrExists, cn)
	}
	u.boxes[cn] = m.newBox(cn)
	return nil
}

func (m *Memory) DeleteMailbox(user, name string) error {
	m.mu.Lock()
	u, b, err := m.box(user, name)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	if b.name == Inbox {
		m.mu.Unlock()
		return ErrInbox
	}
	delete(u.boxes, b.name)
	m.publish(b.watcherList(), Change{Kind: Deleted})
	return nil
}

func (m *Memory) RenameMailbox(user, from, to string) error {
	dst, err := CanonicalName(to)
	if err != nil {
		return err
	}
	m.mu.Lock()
	u, b, err := m.box(user, from)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	if u.boxes[dst] != nil {
		m.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrExists, dst)
	}
	var watchers []func(Change)
	if b.name == Inbox {
		// RFC 9051 §6.3.6: renaming INBOX moves its messages to a new
		// mailbox and leaves INBOX empty.
		nb := m.newBox(dst)
		for _, msg := range b.msgs {
			c := *msg
			c.UID = nb.next
			nb.next++
			c.ModSeq = nb.nextModSeq()
			nb.msgs = append(nb.msgs, &c)
		}
		u.boxes[dst] = nb
		var gone []Change
		if len(b.msgs) > 0 {
			seq := b.nextModSeq()
			for _, msg := range b.msgs {
				gone = append(gone, Change{Kind: Expunged, UID: msg.UID, ModSeq: seq})
			}
		}
		b.msgs = nil
		m.publish(b.watcherList(), gone...)
		return nil
	}
	old := b.name
	prefix := old + "/"
	if strings.HasPrefix(dst, prefix) {
		m.mu.Unlock()
		return fmt.Errorf("%w: can not move %s inside itself", ErrInvalidName, old)
	}
	for name, child := range u.boxes {
		if name == old || strings.HasPrefix(name, prefix) {
			newName := dst + strings.TrimPrefix(name, old)
			delete(u.boxes, name)
			child.name = newName
			u.boxes[newName] = child
			watchers = append(watchers, child.watcherList()...)
		}
	}
	m.publish(watchers, Change{Kind: Deleted})
	return nil
}

func (m *Memory) SetSubscribed(user, name string, subscribed bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, b, err := m.box(user, name)
	if err != nil {
		return err
	}
	b.subscribed = subscribed
	return nil
}

func (m *Memory) Status(user, name string) (Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, b, err := m.box(user, name)
	if err != nil {
		return Status{}, err
	}
	s := Status{Messages: uint32(len(b.msgs)), UIDNext: b.next, UIDValidity: b.validity, HighestModSeq: b.modseq}
	for _, msg := range b.msgs {
		s.Size += msg.Size
		if !HasFlag(msg.Flags, FlagSeen) {
			s.Unseen++
		}
		if HasFlag(msg.Flags, FlagDeleted) {
			s.Deleted++
		}
	}
	return s, nil
}

func (m *Memory) List(user, name string) ([]Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, b, err := m.box(user, name)
	if err != nil {
		return nil, err
	}
	out := make([]Message, len(b.msgs))
	for i, msg := range b.msgs {
		out[i] = msg.Message
		out[i].Flags = slices.Clone(msg.Flags)
	}
	return out, nil
}

// nextModSeq raises the mailbox's highest mod-sequence and returns it;
// mu held.
func (b *memBox) nextModSeq() uint64 {
	b.modseq++
	return b.modseq
}

// find returns the index of uid in msgs, or -1.
func (b *memBox) find(uid UID) int {
	i, ok := slices.BinarySearchFunc(b.msgs, uid, func(m *memMsg, u UID) int {
		switch {
		case m.UID < u:
			return -1
		case m.UID > u:
			return 1
		}
		return 0
	})
	if !ok {
		return -1
	}
	return i
}

func (m *Memory) Read(user, name string, uid UID) ([]byte, error) {
	m.mu.Lock()
	_, b, err := m.box(user, name)
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	i := b.find(uid)
	if i < 0 {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: UID %d in %s", ErrNoMessage, uid, b.name)
	}
	mm := b.msgs[i]
	m.mu.Unlock()
	return m.unpack(mm) // the message itself never changes
}

func (m *Memory) Append(user, name string, msg []byte, flags []string, date time.Time) (UID, error) {
	if date.IsZero() {
		date = m.clock()
	}
	body, packed := m.keep(msg)
	m.mu.Lock()
	_, b, err := m.box(user, name)
	if err != nil {
		m.mu.Unlock()
		return 0, err
	}
	mm := &memMsg{Message: Message{UID: b.next, Size: int64(len(msg)), Flags: NormalizeFlags(flags), Date: date, ModSeq: b.nextModSeq()}, body: body, packed: packed}
	b.next++
	b.msgs = append(b.msgs, mm)
	m.publish(b.watcherList(), Change{Kind: Appended, UID: mm.UID, Flags: slices.Clone(mm.Flags), Size: mm.Size, ModSeq: mm.ModSeq})
	return mm.UID, nil
}

func (m *Memory) SetFlags(user, name string, uids []UID, op FlagOp, flags []string) ([]Message, error) {
	out, _, err := m.SetFlagsIf(user, name, uids, op, flags, math.MaxUint64)
	return out, err
}

func (m *Memory) SetFlagsIf(user, name string, uids []UID, op FlagOp, flags []string, unchangedSince uint64) ([]Message, []UID, error) {
	m.mu.Lock()
	_, b, err := m.box(user, name)
	if err != nil {
		m.mu.Unlock()
		return nil, nil, err
	}
	var out []Message
	var modified []UID
	var changes []Change
	for _, uid := range uids {
		i := b.find(uid)
		if i < 0 {
			continue
		}
		msg := b.msgs[i]
		if msg.ModSeq > unchangedSince {
			modified = append(modified, uid)
			continue
		}
		nf := ApplyFlags(msg.Flags, op, flags)
		if !slices.Equal(nf, msg.Flags) {
			msg.Flags = nf
			msg.ModSeq = b.nextModSeq()
			changes = append(changes, Change{Kind: FlagsChanged, UID: uid, Flags: slices.Clone(nf), ModSeq: msg.ModSeq})
		}
		c := msg.Message
		c.Flags = slices.Clone(nf)
		out = append(out, c)
	}
	m.publish(b.watcherList(), changes...)
	slices.Sort(modified)
	return out, slices.Compact(modified), nil
}

func (m *Memory) Expunge(user, name string, uids []UID) ([]UID, error) {
	m.mu.Lock()
	_, b, err := m.box(user, name)
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	removed := b.remove(uids)
	changes := make([]Change, len(removed))
	for i, uid := range removed {
		changes[i] = Change{Kind: Expunged, UID: uid, ModSeq: b.modseq}
	}
	m.publish(b.watcherList(), changes...)
	return removed, nil
}

// remove drops the messages with these UIDs; mu held.
func (b *memBox) remove(uids []UID) []UID {
	drop := make(map[UID]bool, len(uids))
	for _, u := range uids {
		drop[u] = true
	}
	var removed []UID
	kept := b.msgs[:0]
	for _, msg := range b.msgs {
		if drop[msg.UID] {
			removed = append(removed, msg.UID)
			continue
		}
		kept = append(kept, msg)
	}
	clear(b.msgs[len(kept):])
	b.msgs = kept
	if len(removed) > 0 {
		b.nextModSeq()
	}
	return removed
}

func (m *Memory) Copy(user, from string, uids []UID, to string) ([]UID, []UID, uint32, error) {
	return m.copyMove(user, from, uids, to, false)
}

func (m *Memory) Move(user, from string, uids []UID, to string) ([]UID, []UID, uint32, error) {
	return m.copyMove(user, from, uids, to, true)
}

func (m *Memory) copyMove(user, from string, uids []UID, to string, move bool) ([]UID, []UID, uint32, error) {
	m.mu.Lock()
	_, sb, err := m.box(user, from)
	if err != nil {
		m.mu.Unlock()
		return nil, nil, 0, err
	}
	_, db, err := m.box(user, to)
	if err != nil {
		m.mu.Unlock()
		return nil, nil, 0, err
	}
	sorted := slices.Clone(uids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	if move && sb == db {
		// Moving into the same mailbox changes nothing.
		var same []UID
		for _, uid := range sorted {
			if sb.find(uid) >= 0 {
				same = append(same, uid)
			}
		}
		m.mu.Unlock()
		return same, same, sb.validity, nil
	}
	var src, dst []UID
	var added []Change
	for _, uid := range sorted {
		i := sb.find(uid)
		if i < 0 {
			continue
		}
		c := *sb.msgs[i]
		c.Flags = slices.Clone(c.Flags)
		c.UID = db.next
		db.next++
		c.ModSeq = db.nextModSeq()
		db.msgs = append(db.msgs, &c)
		src = append(src, uid)
		dst = append(dst, c.UID)
		added = append(added, Change{Kind: Appended, UID: c.UID, Flags: slices.Clone(c.Flags), Size: c.Size, ModSeq: c.ModSeq})
	}
	var removed []Change
	if move && sb != db {
		for _, uid := range sb.remove(src) {
			removed = append(removed, Change{Kind: Expunged, UID: uid, ModSeq: sb.modseq})
		}
	}
	validity := db.validity
	m.notifyMu.Lock()
	dws, sws := db.watcherList(), sb.watcherList()
	m.mu.Unlock()
	defer m.notifyMu.Unlock()
	notify(dws, added...)
	notify(sws, removed...)
	return src, dst, validity, nil
}

func (m *Memory) Watch(user, name string, fn func(Change)) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, b, err := m.box(user, name)
	if err != nil {
		return nil, err
	}
	b.watchSeq++
	id := b.watchSeq
	b.watchers[id] = fn
	return func() {
		m.mu.Lock()
		delete(b.watchers, id)
		m.mu.Unlock()
	}, nil
}

func (m *Memory) Lock(user string) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.users[userKey(user)]
	if u == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoUser, user)
	}
	if u.locked {
		return nil, ErrLocked
	}
	u.locked = true
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			u.locked = false
			m.mu.Unlock()
		})
	}, nil
}

// watcherList snapshots the watchers in registration order; mu held.
func (b *memBox) watcherList() []func(Change) {
	if len(b.watchers) == 0 {
		return nil
	}
	ids := make([]int, 0, len(b.watchers))
	for id := range b.watchers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]func(Change), len(ids))
	for i, id := range ids {
		out[i] = b.watchers[id]
	}
	return out
}

// publish releases mu (held by the caller) and tells the watchers of the
// changes, in order with every other change.
func (m *Memory) publish(ws []func(Change), changes ...Change) {
	m.notifyMu.Lock()
	m.mu.Unlock()
	defer m.notifyMu.Unlock()
	notify(ws, changes...)
}

func notify(ws []func(Change), changes ...Change) {
	for _, c := range changes {
		for _, w := range ws {
			w(c)
		}
	}
}
