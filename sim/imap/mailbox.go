package imap

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailhop/mailhop/sim/store"
)

type boxKey struct{ user, name string }

// mailbox is what the server keeps of one selected mailbox, shared by every
// session that has it selected: the UIDs it holds now, in order (message i
// has sequence number i+1 in the server's view), and the tracker that turns
// the changes the store reports into each session's unsolicited responses.
//
// Lock order: opMu, then mu, then the server's mu. mu is never held while
// calling a store method that changes the store (the store calls back into
// onChange from the goroutine that made the change) nor while writing to a
// client.
type mailbox struct {
	srv   *Server
	key   boxKey
	ready chan struct{} // closed once init is done
	err   error         // why init failed; set before ready is closed
	refs  int           // sessions holding it; the server's mu
	stop  func()        // cancels the store watch

	mu      sync.Mutex
	tracker *imapserver.MailboxTracker
	uids    []store.UID
	gone    bool                       // deleted or renamed away
	loading bool                       // init is between Watch and List
	pending []store.Change             // changes heard while loading
	idlers  map[chan struct{}]struct{} // sessions in IDLE, woken by each change
	// holding: a MOVE into the mailbox itself is under way; the changes
	// it hears but the expunges of messages listed wait in held (see
	// hold).
	holding int
	held    []store.Change
	// keywords are the keywords the mailbox's messages have had since
	// it was loaded, by lower case, as first seen: its FLAGS.
	keywords map[string]string
	// expunges counts the EXPUNGE responses queued to the tracker.
	expunges uint64
	// expunged are the UIDs of the EXPUNGE responses queued to the
	// tracker, the first being the one counted expungedFrom: each
	// session takes them in turn as it writes the responses, whose
	// numbers it turns into UIDs (VANISHED, RFC 7162 §3.2.10). sels are
	// the sessions with the mailbox selected, kept to drop what all
	// have taken.
	expunged     []store.UID
	expungedFrom uint64
	sels         map[*selection]struct{}
	// now is each message's state as last heard, ahead of the tracker:
	// the flags and mod-sequence a FETCH response shows when it is
	// written (see clientConn.flagsNow, condstore.go).
	now map[store.UID]msgNow

	// opMu serialises the flag changes of sessions, so that the change
	// reports of one STORE are known to come from it (source): the session
	// answers itself, and the tracker tells only the others.
	opMu          sync.Mutex
	source        *imapserver.SessionTracker
	sourceUIDs    []store.UID // ascending
	sourceChanged []store.UID // what the source's change did change
}

// acquire returns the shared state of a user's mailbox, creating it (and
// its store watch) for the first session that selects it.
func (s *Server) acquire(user, name string) (*mailbox, error) {
	key := boxKey{user, name}
	s.mu.Lock()
	mb := s.boxes[key]
	if mb != nil {
		mb.refs++
		s.mu.Unlock()
		<-mb.ready
		if mb.err != nil {
			s.release(mb)
			return nil, mb.err
		}
		return mb, nil
	}
	mb = &mailbox{srv: s, key: key, ready: make(chan struct{}), refs: 1}
	s.boxes[key] = mb
	s.mu.Unlock()

	mb.err = mb.init()
	close(mb.ready)
	if mb.err != nil {
		s.release(mb)
		return nil, mb.err
	}
	return mb, nil
}

// release drops a session's hold; the last one stops the store watch.
func (s *Server) release(mb *mailbox) {
	mb.mu.Lock()
	s.mu.Lock()
	mb.refs--
	last := mb.refs == 0
	if last && s.boxes[mb.key] == mb {
		delete(s.boxes, mb.key)
	}
	if last && !mb.gone && mb.keywords != nil {
		s.keywords[mb.key] = maps.Clone(mb.keywords)
	}
	s.mu.Unlock()
	mb.mu.Unlock()
	if last && mb.stop != nil {
		mb.stop()
	}
}

// forget unlists a mailbox that went away, so that the next SELECT of its
// name starts afresh (with the new mailbox's UIDVALIDITY).
func (s *Server) forget(mb *mailbox) {
	s.mu.Lock()
	if s.boxes[mb.key] == mb {
		delete(s.boxes, mb.key)
	}
	delete(s.keywords, mb.key)
	s.mu.Unlock()
}

// init watches the mailbox, then lists it. Changes reported between the two
// are replayed over the listing: a UID the listing already has (or has
// passed) is not appended again, an expunge of a UID it lacks is ignored.
func (mb *mailbox) init() error {
	mb.mu.Lock()
	mb.loading = true
	mb.mu.Unlock()
	stop, err := mb.srv.Store.Watch(mb.key.user, mb.key.name, mb.onChange)
	if err != nil {
		return err
	}
	mb.stop = stop
	msgs, err := mb.srv.Store.List(mb.key.user, mb.key.name)
	if err != nil {
		return err
	}
	mb.srv.mu.Lock()
	kept := mb.srv.keywords[mb.key]
	mb.srv.mu.Unlock()
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.uids = make([]store.UID, len(msgs))
	if mb.now == nil { // else changes heard while loading are in it
		mb.now = make(map[store.UID]msgNow, len(msgs))
	}
	mb.keywords = maps.Clone(kept)
	if mb.keywords == nil {
		mb.keywords = map[string]string{}
	}
	for i, m := range msgs {
		mb.uids[i] = m.UID
		mb.heard(m.UID, m.Flags, m.ModSeq)
		mb.addKeywords(m.Flags)
	}
	for _, c := range mb.pending {
		mb.apply(c, false)
	}
	mb.pending, mb.loading = nil, false
	if mb.gone {
		return fmt.Errorf("%w: %s", store.ErrNoMailbox, mb.key.name)
	}
	mb.tracker = imapserver.NewMailboxTracker(uint32(len(mb.uids)))
	return nil
}

// onChange is the store watch: it runs in the goroutine that changed the
// mailbox, after the change.
func (mb *mailbox) onChange(c store.Change) {
	mb.mu.Lock()
	if c.Kind == store.Appended || c.Kind == store.FlagsChanged {
		// Heard at once, even while the change waits (loading, hold).
		if mb.now == nil {
			mb.now = map[store.UID]msgNow{}
		}
		mb.heard(c.UID, c.Flags, c.ModSeq)
	}
	if mb.loading {
		c.Flags = slices.Clone(c.Flags)
		mb.pending = append(mb.pending, c)
		mb.mu.Unlock()
		return
	}
	if mb.holding > 0 && (c.Kind != store.Expunged || mb.index(c.UID) < 0) {
		c.Flags = slices.Clone(c.Flags)
		mb.held = append(mb.held, c)
		mb.mu.Unlock()
		return
	}
	deleted := mb.live(c)
	mb.mu.Unlock()
	if deleted {
		mb.srv.forget(mb)
	}
}

// live applies a change as it happens, and wakes the sessions in IDLE;
// it reports whether the mailbox was deleted. mu held.
func (mb *mailbox) live(c store.Change) bool {
	mb.apply(c, true)
	for wake := range mb.idlers {
		select {
		case wake <- struct{}{}:
		default: // already due to poll
		}
	}
	return c.Kind == store.Deleted
}

// hold makes the mailbox's changes wait, but for the expunges of the
// messages it lists, until resume: during a MOVE into the mailbox itself,
// the expunges of the messages moved are told before the new messages
// exist ("* 1 EXPUNGE" then "* 1 EXISTS", as Dovecot answers), so the
// message count never runs ahead of the mailbox.
func (mb *mailbox) hold() {
	mb.mu.Lock()
	mb.holding++
	mb.mu.Unlock()
}

// resume applies the changes held since hold, in order.
func (mb *mailbox) resume() {
	mb.mu.Lock()
	mb.holding--
	var held []store.Change
	if mb.holding == 0 {
		held, mb.held = mb.held, nil
	}
	deleted := false
	for _, c := range held {
		deleted = mb.live(c) || deleted
	}
	mb.mu.Unlock()
	if deleted {
		mb.srv.forget(mb)
	}
}

// queueExpunge tells the sessions that message i is expunged, and keeps
// its UID for them; mu held.
func (mb *mailbox) queueExpunge(i int) {
	mb.tracker.QueueExpunge(uint32(i + 1))
	mb.expunges++
	mb.expunged = append(mb.expunged, mb.uids[i])
	if len(mb.expunged) >= 1024 {
		mb.trimExpunged()
	}
}

// trimExpunged drops the UIDs of the EXPUNGE responses every session has
// written; mu held.
func (mb *mailbox) trimExpunged() {
	upTo := mb.expunges
	for sel := range mb.sels {
		upTo = min(upTo, sel.expungesTold)
	}
	if n := upTo - mb.expungedFrom; n > 0 {
		mb.expunged = slices.Delete(mb.expunged, 0, int(n))
		mb.expungedFrom = upTo
	}
}

// msgNow is a message's state as last heard.
type msgNow struct {
	flags  []string
	modseq uint64
}

// heard notes a message's state, unless an older one; mu held.
func (mb *mailbox) heard(uid store.UID, flags []string, modseq uint64) {
	if old, ok := mb.now[uid]; ok && modseq < old.modseq {
		return
	}
	mb.now[uid] = msgNow{flags: slices.Clone(flags), modseq: modseq}
}

// dropExpungedNow keeps the state of the messages listed only; mu held.
func (mb *mailbox) dropExpungedNow() {
	for uid := range mb.now {
		if mb.index(uid) < 0 {
			delete(mb.now, uid)
		}
	}
}

// modseq returns a message's mod-sequence as last heard.
func (mb *mailbox) modseq(uid store.UID) (uint64, bool) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	m, ok := mb.now[uid]
	return m.modseq, ok && m.modseq > 0
}

// index returns the position of uid in the mailbox, or -1; mu held.
func (mb *mailbox) index(uid store.UID) int {
	i, ok := slices.BinarySearch(mb.uids, uid)
	if !ok {
		return -1
	}
	return i
}

// apply brings the UID list (and, when live, the tracker) up to date with
// one change; mu held.
func (mb *mailbox) apply(c store.Change, live bool) {
	if mb.gone {
		return
	}
	if c.Kind == store.Expunged && len(mb.now) > 2*len(mb.uids)+1024 {
		// Kept until then: a flag change told before the EXPUNGE still
		// shows the message's state.
		mb.dropExpungedNow()
	}
	if (c.Kind == store.Appended || c.Kind == store.FlagsChanged) && mb.addKeywords(c.Flags) && live {
		// A keyword new to the mailbox: every session learns it from
		// FLAGS before a FETCH shows it (RFC 9051 §7.3.5).
		mb.tracker.QueueMailboxFlags(mb.flagList())
	}
	switch c.Kind {
	case store.Appended:
		if n := len(mb.uids); n > 0 && c.UID <= mb.uids[n-1] {
			return // already listed, or listed and gone since
		}
		mb.uids = append(mb.uids, c.UID)
		if live {
			mb.tracker.QueueNumMessages(uint32(len(mb.uids)))
		}
	case store.Expunged:
		i := mb.index(c.UID)
		if i < 0 {
			return
		}
		if live {
			mb.queueExpunge(i)
		}
		mb.uids = slices.Delete(mb.uids, i, i+1)
	case store.FlagsChanged:
		i := mb.index(c.UID)
		if i < 0 || !live {
			return
		}
		var src *imapserver.SessionTracker
		if mb.source != nil {
			if _, ok := slices.BinarySearch(mb.sourceUIDs, c.UID); ok {
				src = mb.source
				mb.sourceChanged = append(mb.sourceChanged, c.UID)
			}
		}
		mb.tracker.QueueMessageFlags(uint32(i+1), goimap.UID(c.UID), imapFlags(c.Flags), src)
	case store.Deleted:
		// Every session with it selected sees it emptied.
		if live {
			for i := len(mb.uids) - 1; i >= 0; i-- {
				mb.queueExpunge(i)
			}
		}
		mb.uids = nil
		clear(mb.now)
		mb.gone = true
	}
}

// addKeywords notes the keywords of flags; it reports whether one was
// new. mu held (or init's).
func (mb *mailbox) addKeywords(flags []string) bool {
	added := false
	for _, f := range flags {
		if f == "" || f[0] == '\\' {
			continue
		}
		k := strings.ToLower(f)
		if _, ok := mb.keywords[k]; !ok {
			mb.keywords[k] = f
			added = true
		}
	}
	return added
}

// flagList is the mailbox's FLAGS: the system flags and its keywords,
// sorted; mu held.
func (mb *mailbox) flagList() []goimap.Flag {
	flags := systemFlags()
	n := len(flags)
	for _, k := range mb.keywords {
		flags = append(flags, goimap.Flag(k))
	}
	slices.Sort(flags[n:])
	return flags
}

// imapFlags converts store flags to IMAP flags.
func imapFlags(flags []string) []goimap.Flag {
	out := make([]goimap.Flag, len(flags))
	for i, f := range flags {
		out[i] = goimap.Flag(f)
	}
	return out
}
