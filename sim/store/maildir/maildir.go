// Package maildir is the on-disk store.Store of `mailhop serve`: every
// user's mailboxes as a Maildir (https://cr.yp.to/proto/maildir.html) with
// Maildir++ folders, readable and writable by other Maildir programs (mutt,
// Dovecot's tools, Python's mailbox module) while mailhop runs.
//
// # Layout
//
//	ROOT/DOMAIN/LOCAL/                   bob@example.net's INBOX (a Maildir)
//	ROOT/DOMAIN/LOCAL/{tmp,new,cur}/
//	ROOT/DOMAIN/LOCAL/mailhop-uidlist    INBOX's UIDVALIDITY, UIDNEXT, mod-sequence reserve, keywords
//	ROOT/DOMAIN/LOCAL/mailhop-unsubscribed   mailboxes the user unsubscribed from
//	ROOT/DOMAIN/LOCAL/.Work/             the mailbox "Work" (Maildir++)
//	ROOT/DOMAIN/LOCAL/.Work.2026/        "Work/2026": "/" becomes "."
//
// In folder names "%" is written "%25" and "." is "%2E", so every name
// maps to one directory and back; store.CanonicalName refuses names that
// could leave the user's directory ("..", "/x", NUL, ...).
//
// A message file is named
//
//	<secs>.M<usecs>P<pid>Q<n>.<host>,S=<bytes on disk>,W=<bytes with CRLF>,U=<uid>[:2,<flags>]
//
// or, when the MDA delivered it (AppendOnce, see "Delivering once"),
//
//	<secs>.K<32 hex digits>.<host>,S=<bytes on disk>,W=<bytes with CRLF>,U=<uid>[:2,<flags>]
//
// It holds the message with LF line ends, as Maildir readers expect; Read
// gives it back with CRLF, exactly as appended when the message used CRLF
// throughout (as SMTP, POP3 and IMAP require). The flags after ":2," are
// the Maildir letters D (\Draft), F (\Flagged), R (\Answered), S (\Seen),
// T (\Deleted), and a–z for keywords, numbered in the mailbox's
// mailhop-uidlist. The internal date is the file's modification time.
//
// # UIDs
//
// A message's IMAP UID is part of its file name (",U=7"), given by the
// rename that makes the message visible, under the mailbox's lock and in
// ascending order: a UID is exactly as durable as the message, and the
// mapping survives a crash without any list to replay. Other programs keep
// the name when they move a message from new/ to cur/ or change its flags
// (the Maildir rule), so the UID stays; and so does mailhop: its flag
// change renames only the part after ":". The part before ":" is what
// other Maildir programs (mutt, Python's mailbox module, Dovecot) know a
// message by, and mailhop changes it only to give a file its U= field,
// when the file came without one or with a UID already taken.
// mailhop-uidlist keeps what is not in file names — UIDVALIDITY, the next
// UID (so that the UID of an expunged last message is never reused), the
// mod-sequence reserve (see "Mod-sequences") and the keyword letters —
// and is always replaced atomically: written to a temporary file,
// fsynced, renamed over the old one, and the directory fsynced. It is
// written before a message file is removed when the next UID there is
// behind.
//
// # Mod-sequences
//
// Mod-sequences (RFC 7162 CONDSTORE) are not in file names: each
// message's is kept in memory only, and given as the memory store gives
// it. An append, a copy, a flag change (mailhop's, or one another program
// made by renaming, seen by a scan) gives the message the mailbox's
// highest mod-sequence plus one; an expunge raises the highest by one. A
// new mailbox starts at highest 1, so its messages are numbered 2, 3, 4
// and on.
//
// What is on disk is a reserve, R, in mailhop-uidlist: no mod-sequence
// above R is handed out (to a message, or as HIGHESTMODSEQ) before a
// mailhop-uidlist with a higher R is written. When the next one would
// pass R, mailhop-uidlist is first written with R raised by a block
// (1,024), under the mailbox's lock: one write per block of changes, not
// one per change. So every mod-sequence any client has seen is at most
// the R on disk, whatever happens to the process or the machine.
//
// The first use of a mailbox after a start (its load) gives every message
// the mod-sequence R+1, and the mailbox the highest R+1, once R has been
// raised past it and written. After a restart, a crash included, every
// message thus counts as changed since anything a client saw before: a
// CONDSTORE or QRESYNC client resynchronising with CHANGEDSINCE (or
// SELECT's QRESYNC) fetches every message's flags once, and misses no
// flag change: not one mailhop made and a crash then undid (its rename
// lost before its directory's fsync), not one another program made while
// mailhop was stopped. The highest never goes back, not even when
// another program removed the message that held it, so a client's cached
// HIGHESTMODSEQ is never above the server's. The cost is one refetch of
// flags per mailbox per restart.
//
// Names that carry an M= field (written by a mailhop that kept
// mod-sequences there) are read as any other: the field is ignored, and
// dropped when the scan renames such a file to give it a UID; a flag
// change keeps it, as it keeps the rest of the part before ":". The
// mailhop-uidlist of that version has "highestmodseq", a highest as of its
// last expunge or Close, which names may exceed: the first load after it
// takes R as the largest of that value and every M=. A mailhop-uidlist
// from before mod-sequences has neither, and R is 0.
//
// # Durability
//
// Append writes the message to tmp/, fsyncs it, renames it into new/ (or
// cur/ when it has flags) and fsyncs that directory before it returns:
// when the MDA reports a delivery, the message survives a crash or power
// loss. Directory fsyncs of concurrent appends to one mailbox are shared
// (group commit): one fsync covers every rename made before it started.
//
// # Delivering once
//
// The queue journals a delivery only after the MDA has filed the message:
// a process killed between the two finds the message still queued when
// it restarts, and delivers it again. AppendOnce makes that second filing
// a no-op. Its caller names the delivery with a key (queue.DeliveryKey:
// the queue id, the time the message was queued, the recipient; all kept
// in the spool, so the same after a restart), and the file's unique name
// carries a delivery tag, "K" and the first 128 bits of SHA-256 over the
// key and the message, in place of M<usecs>P<pid>Q<n>. The tag is in the
// name that the rename into new/ makes visible, so the message and the
// record that it was delivered are one atomic step: there is no index to
// write before or after, and so no crash between the two.
//
// Before filing, AppendOnce looks the tag up in an index of the mailbox
// held in memory (byTag), built when the mailbox is loaded from new/ and
// cur/ (the first use after a start, which is when a repeated delivery
// comes) and kept as messages come and go, so the check costs no
// directory listing. It looks again under the mailbox's lock just before
// the rename, for a delivery repeated concurrently. A message found is
// reported as delivered with its UID; its directory is fsynced first, as
// the process that renamed it may have died before its own fsync.
//
// The tag lives in the part of the name before ":", which Maildir
// programs keep: a message moved from new/ to cur/ or given flags (by
// mailhop or by mutt) keeps it, and is still found. So does a message that
// another program renamed without its U= field: the scan gives it the
// next UID and keeps the rest of the name, tag included. A repeated
// delivery takes no UID: it is recognised before one is given. What is
// not found is a message the user moved to another mailbox or expunged
// in the instant between its filing and the crash: it is filed again.
//
// # Other programs
//
// A message another program drops into new/ (with the Maildir tmp/ →
// new/ protocol) is found the next time the mailbox is listed, or within
// PollInterval while an IMAP session watches the mailbox, given the next
// UID and mod-sequence, and renamed to carry its UID. Messages another
// program removes are reported as expunged (the highest mod-sequence
// raised as for an Expunge). Flag changes made by renaming are reported
// too: the scan sees flags in a name that differ from those mailhop knew,
// and gives the message a new mod-sequence; the file keeps the name that
// program gave it.
package maildir

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailhop/mailhop/sim/store"
)

// Files a mailbox directory holds besides tmp/, new/ and cur/.
const (
	uidlistFile      = "mailhop-uidlist"
	unsubscribedFile = "mailhop-unsubscribed"
	folderMarker     = "maildirfolder" // Maildir++: this directory is a folder
	trashPrefix      = "mailhop-deleted-"
)

// DefaultPollInterval is how often watched mailboxes are checked for
// changes made by other programs.
const DefaultPollInterval = 2 * time.Second

// Options configure a Store.
type Options struct {
	// Hostname goes into new message file names (os.Hostname when "").
	Hostname string
	// Now stamps messages appended without a date (time.Now when nil).
	Now func() time.Time
	// PollInterval is how often mailboxes that are watched (an IMAP
	// session has them selected) are checked for changes other programs
	// made; 0 means DefaultPollInterval, negative never.
	PollInterval time.Duration
	// NoSync skips every fsync (tests of behaviour only: not durable).
	NoSync bool
}

// Store is a store.Store on disk. Open one per directory: two Stores (or
// two processes) on the same directory are not coordinated beyond what
// the Maildir format itself guarantees.
type Store struct {
	root   string
	host   string
	pid    int
	now    func() time.Time
	noSync bool
	seq    atomic.Uint64

	mu       sync.Mutex
	users    map[string]*user // by lower-case address
	validity uint32
	closed   bool

	stop     chan struct{}
	stopOnce sync.Once
	pollDone chan struct{}

	// hook, in tests, hears each step that makes a message durable:
	// "fsync" (a file, once done), "rename" (from, to), "dirsync" (a
	// directory, as it starts) and "dirsynced" (once done).
	hook func(step string, paths ...string)
}

var _ store.Store = (*Store)(nil)

type user struct {
	addr string
	dir  string

	mu     sync.Mutex // boxes, the unsubscribed file, locked
	boxes  map[string]*box
	locked bool
}

// Open opens (creating it if need be) a store rooted at dir, and finds the
// users already there (every DOMAIN/LOCAL directory that is a Maildir).
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	host := opts.Hostname
	if host == "" {
		host, _ = os.Hostname()
		if host == "" {
			host = "localhost"
		}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{
		root: dir, host: escapeHost(host), pid: os.Getpid(), now: now, noSync: opts.NoSync,
		users: map[string]*user{}, validity: uint32(now().Unix()),
		stop: make(chan struct{}), pollDone: make(chan struct{}),
	}
	domains, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	for _, d := range domains {
		if !d.IsDir() || validPart(d.Name()) != nil {
			continue
		}
		locals, err := os.ReadDir(filepath.Join(dir, d.Name()))
		if err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		for _, l := range locals {
			udir := filepath.Join(dir, d.Name(), l.Name())
			if !l.IsDir() || validPart(l.Name()) != nil || !isMaildir(udir) {
				continue
			}
			addr := l.Name() + "@" + d.Name()
			s.users[strings.ToLower(addr)] = &user{addr: strings.ToLower(addr), dir: udir, boxes: map[string]*box{}}
		}
	}
	interval := opts.PollInterval
	if interval == 0 {
		interval = DefaultPollInterval
	}
	if interval > 0 {
		go s.poll(interval)
	} else {
		close(s.pollDone)
	}
	return s, nil
}

// Close stops the poller. The store must not be used after. It has
// nothing to write: mailhop-uidlist is always as a restart needs it (see
// "Mod-sequences").
func (s *Store) Close() error {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.pollDone
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// poll checks the watched mailboxes for changes made by other programs.
func (s *Store) poll(every time.Duration) {
	defer close(s.pollDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for _, b := range s.watchedBoxes() {
			b.refresh()
		}
	}
}

func (s *Store) watchedBoxes() []*box {
	s.mu.Lock()
	users := make([]*user, 0, len(s.users))
	for _, u := range s.users {
		users = append(users, u)
	}
	s.mu.Unlock()
	var out []*box
	for _, u := range users {
		u.mu.Lock()
		for _, b := range u.boxes {
			b.mu.Lock()
			if len(b.watchers) > 0 && !b.gone {
				out = append(out, b)
			}
			b.mu.Unlock()
		}
		u.mu.Unlock()
	}
	return out
}

func isMaildir(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, "cur"))
	return err == nil && fi.IsDir()
}

// validPart checks a domain or local part used as a directory name.
func validPart(p string) error {
	switch {
	case p == "", p == ".", p == "..":
		return fmt.Errorf("%q can not name a directory", p)
	case p[0] == '.':
		return fmt.Errorf("%q starts with a dot", p)
	case len(p) > 200:
		return fmt.Errorf("%q is too long", p)
	case strings.ContainsAny(p, "/\\\x00\r\n"):
		return fmt.Errorf("%q contains a slash, backslash or control character", p)
	}
	return nil
}

// escapeHost makes a host name safe for a file name (Maildir spec: "/"
// as \057 and ":" as \072; mailhop also escapes "," which separates the
// name's fields).
func escapeHost(h string) string {
	r := strings.NewReplacer("/", `\057`, ":", `\072`, ",", `\054`)
	return r.Replace(h)
}

// newValidity hands out UIDVALIDITY values, each larger than the last.
func (s *Store) newValidity() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.validity = max(s.validity+1, uint32(s.now().Unix()))
	return s.validity
}

func (s *Store) AddUser(addr string) error {
	local, domain, ok := strings.Cut(strings.ToLower(addr), "@")
	if !ok || strings.Contains(domain, "@") {
		return fmt.Errorf("maildir: %q is not a user address", addr)
	}
	for _, p := range []string{local, domain} {
		if err := validPart(p); err != nil {
			return fmt.Errorf("maildir: user %q: %w", addr, err)
		}
	}
	key := local + "@" + domain
	s.mu.Lock()
	if s.users[key] != nil {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	udir := filepath.Join(s.root, domain, local)
	made := !isMaildir(udir)
	if made {
		if err := s.makeMaildir(udir, false); err != nil {
			return err
		}
		if err := s.syncDir(filepath.Join(s.root, domain)); err != nil {
			return err
		}
		if err := s.syncDir(s.root); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if s.users[key] == nil {
		s.users[key] = &user{addr: key, dir: udir, boxes: map[string]*box{}}
	}
	s.mu.Unlock()
	if !made {
		return nil
	}
	for _, name := range store.DefaultMailboxes {
		if err := s.CreateMailbox(key, name); err != nil && !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	return nil
}

// makeMaildir creates a Maildir with its uidlist (and the Maildir++ folder
// marker), every part fsynced.
func (s *Store) makeMaildir(dir string, folder bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("maildir: %w", err)
		}
	}
	if folder {
		if err := os.WriteFile(filepath.Join(dir, folderMarker), nil, 0o600); err != nil {
			return fmt.Errorf("maildir: %w", err)
		}
	}
	ul := uidlist{validity: s.newValidity(), next: 1}
	if err := s.writeAtomic(dir, uidlistFile, ul.encode()); err != nil {
		return err
	}
	return s.syncDir(dir)
}

func (s *Store) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u.addr)
	}
	slices.Sort(out)
	return out
}

func (s *Store) user(addr string) (*user, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[strings.ToLower(addr)]
	if u == nil {
		return nil, fmt.Errorf("%w: %s", store.ErrNoUser, addr)
	}
	return u, nil
}

// folderDir returns the directory of a mailbox (canonical name).
func (u *user) folderDir(name string) string {
	if name == store.Inbox {
		return u.dir
	}
	return filepath.Join(u.dir, "."+encodeName(name))
}

// encodeName turns "Work/2026" into "Work.2026" (Maildir++), escaping the
// "." and "%" inside parts.
func encodeName(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		p = strings.ReplaceAll(p, "%", "%25")
		parts[i] = strings.ReplaceAll(p, ".", "%2E")
	}
	return strings.Join(parts, ".")
}

// decodeName reverses encodeName ("" when the directory name is not one).
func decodeName(dir string) string {
	parts := strings.Split(dir, ".")
	for i, p := range parts {
		p = strings.ReplaceAll(p, "%2E", ".")
		p = strings.ReplaceAll(p, "%2e", ".")
		parts[i] = strings.ReplaceAll(p, "%25", "%")
	}
	name, err := store.CanonicalName(strings.Join(parts, "/"))
	if err != nil {
		return ""
	}
	return name
}

// box returns a user's mailbox, loading it on first use.
func (s *Store) box(addr, name string) (*box, error) {
	u, err := s.user(addr)
	if err != nil {
		return nil, err
	}
	cn, err := store.CanonicalName(name)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return s.boxLocked(u, cn)
}

// boxLocked is box with u.mu held.
func (s *Store) boxLocked(u *user, cn string) (*box, error) {
	if b := u.boxes[cn]; b != nil {
		return b, nil
	}
	dir := u.folderDir(cn)
	if !isMaildir(dir) {
		if cn == store.Inbox {
			if err := s.makeMaildir(dir, false); err != nil {
				return nil, err
			}
		} else {
			return nil, fmt.Errorf("%w: %s", store.ErrNoMailbox, cn)
		}
	}
	b := &box{s: s, u: u, name: cn, dir: dir, watchers: map[int]func(store.Change){}}
	b.syncNew.dir = filepath.Join(dir, "new")
	b.syncCur.dir = filepath.Join(dir, "cur")
	b.syncNew.s, b.syncCur.s = s, s
	if err := b.load(); err != nil {
		return nil, err
	}
	u.boxes[cn] = b
	return b, nil
}

// forget drops a loaded mailbox (deleted or renamed away) and tells its
// watchers. u.mu held.
func (u *user) forget(b *box) {
	b.mu.Lock()
	b.gone = true
	seq := b.publish(store.Change{Kind: store.Deleted})
	b.mu.Unlock()
	delete(u.boxes, b.name)
	b.flush(seq)
}

func (s *Store) Mailboxes(addr string) ([]store.MailboxInfo, error) {
	u, err := s.user(addr)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	unsub, err := u.unsubscribed()
	if err != nil {
		return nil, err
	}
	out := []store.MailboxInfo{{Name: store.Inbox, Subscribed: !unsub[store.Inbox]}}
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || len(n) < 2 || n[0] != '.' || n == ".." {
			continue
		}
		name := decodeName(n[1:])
		if name == "" || name == store.Inbox || !isMaildir(filepath.Join(u.dir, n)) {
			continue
		}
		out = append(out, store.MailboxInfo{Name: name, Subscribed: !unsub[name], SpecialUse: store.SpecialUse(name)})
	}
	store.SortMailboxes(out)
	return out, nil
}

// unsubscribed reads the names the user unsubscribed from. u.mu held.
func (u *user) unsubscribed() (map[string]bool, error) {
	data, err := os.ReadFile(filepath.Join(u.dir, unsubscribedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	out := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" {
			out[l] = true
		}
	}
	return out, nil
}

func (s *Store) writeUnsubscribed(u *user, set map[string]bool) error {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + "\n")
	}
	return s.writeAtomic(u.dir, unsubscribedFile, []byte(b.String()))
}

func (s *Store) CreateMailbox(addr, name string) error {
	cn, err := store.CanonicalName(name)
	if err != nil {
		return err
	}
	u, err := s.user(addr)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	dir := u.folderDir(cn)
	if cn == store.Inbox || isMaildir(dir) {
		return fmt.Errorf("%w: %s", store.ErrExists, cn)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", store.ErrExists, cn)
		}
		if errors.Is(err, syscallNameTooLong) {
			return fmt.Errorf("%w %q: too long for a directory name", store.ErrInvalidName, cn)
		}
		return fmt.Errorf("maildir: %w", err)
	}
	if err := s.makeMaildir(dir, true); err != nil {
		return err
	}
	return s.syncDir(u.dir)
}

func (s *Store) DeleteMailbox(addr, name string) error {
	cn, err := store.CanonicalName(name)
	if err != nil {
		return err
	}
	u, err := s.user(addr)
	if err != nil {
		return err
	}
	if cn == store.Inbox {
		return store.ErrInbox
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	dir := u.folderDir(cn)
	if !isMaildir(dir) {
		return fmt.Errorf("%w: %s", store.ErrNoMailbox, cn)
	}
	trash := filepath.Join(u.dir, trashPrefix+randomHex())
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	if err := s.syncDir(u.dir); err != nil {
		return err
	}
	if b := u.boxes[cn]; b != nil {
		u.forget(b)
	}
	if unsub, err := u.unsubscribed(); err == nil && unsub[cn] {
		delete(unsub, cn)
		s.writeUnsubscribed(u, unsub)
	}
	os.RemoveAll(trash)
	return nil
}

func (s *Store) RenameMailbox(addr, from, to string) error {
	src, err := store.CanonicalName(from)
	if err != nil {
		return err
	}
	dst, err := store.CanonicalName(to)
	if err != nil {
		return err
	}
	u, err := s.user(addr)
	if err != nil {
		return err
	}
	if src == store.Inbox {
		return s.renameInbox(u, dst)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !isMaildir(u.folderDir(src)) {
		return fmt.Errorf("%w: %s", store.ErrNoMailbox, src)
	}
	if dst == store.Inbox || isMaildir(u.folderDir(dst)) {
		return fmt.Errorf("%w: %s", store.ErrExists, dst)
	}
	if strings.HasPrefix(dst, src+"/") {
		return fmt.Errorf("%w: can not move %s inside itself", store.ErrInvalidName, src)
	}
	// The mailbox and its children, each its own directory.
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || len(n) < 2 || n[0] != '.' {
			continue
		}
		if name := decodeName(n[1:]); name == src || strings.HasPrefix(name, src+"/") {
			names = append(names, name)
		}
	}
	unsub, _ := u.unsubscribed()
	for _, name := range names {
		newName := dst + strings.TrimPrefix(name, src)
		if err := os.Rename(u.folderDir(name), u.folderDir(newName)); err != nil {
			return fmt.Errorf("maildir: %w", err)
		}
		if b := u.boxes[name]; b != nil {
			u.forget(b)
		}
		if unsub[name] {
			delete(unsub, name)
			unsub[newName] = true
		}
	}
	if err := s.syncDir(u.dir); err != nil {
		return err
	}
	return s.writeUnsubscribed(u, unsub)
}

// renameInbox moves INBOX's messages into a new mailbox and leaves INBOX
// empty (RFC 9051 §6.3.6).
func (s *Store) renameInbox(u *user, dst string) error {
	if dst == store.Inbox {
		return fmt.Errorf("%w: %s", store.ErrExists, dst)
	}
	if err := s.CreateMailbox(u.addr, dst); err != nil {
		return err
	}
	in, err := s.box(u.addr, store.Inbox)
	if err != nil {
		return err
	}
	in.mu.Lock()
	uids := make([]store.UID, len(in.msgs))
	for i, m := range in.msgs {
		uids[i] = m.uid
	}
	in.mu.Unlock()
	_, _, _, err = s.Move(u.addr, store.Inbox, uids, dst)
	return err
}

func (s *Store) SetSubscribed(addr, name string, subscribed bool) error {
	cn, err := store.CanonicalName(name)
	if err != nil {
		return err
	}
	u, err := s.user(addr)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !isMaildir(u.folderDir(cn)) {
		return fmt.Errorf("%w: %s", store.ErrNoMailbox, cn)
	}
	unsub, err := u.unsubscribed()
	if err != nil {
		return err
	}
	if unsub[cn] == !subscribed {
		return nil
	}
	if subscribed {
		delete(unsub, cn)
	} else {
		unsub[cn] = true
	}
	return s.writeUnsubscribed(u, unsub)
}

func (s *Store) Status(addr, name string) (store.Status, error) {
	b, err := s.box(addr, name)
	if err != nil {
		return store.Status{}, err
	}
	if err := b.refresh(); err != nil {
		return store.Status{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gone {
		return store.Status{}, fmt.Errorf("%w: %s", store.ErrNoMailbox, name)
	}
	st := store.Status{Messages: uint32(len(b.msgs)), UIDNext: b.next, UIDValidity: b.validity, HighestModSeq: b.highest}
	for _, m := range b.msgs {
		st.Size += m.size
		if !store.HasFlag(m.flags, store.FlagSeen) {
			st.Unseen++
		}
		if store.HasFlag(m.flags, store.FlagDeleted) {
			st.Deleted++
		}
	}
	return st, nil
}

func (s *Store) List(addr, name string) ([]store.Message, error) {
	b, err := s.box(addr, name)
	if err != nil {
		return nil, err
	}
	if err := b.refresh(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gone {
		return nil, fmt.Errorf("%w: %s", store.ErrNoMailbox, name)
	}
	out := make([]store.Message, len(b.msgs))
	for i, m := range b.msgs {
		out[i] = m.message()
	}
	return out, nil
}

func (s *Store) Read(addr, name string, uid store.UID) ([]byte, error) {
	b, err := s.box(addr, name)
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		b.mu.Lock()
		m := b.find(uid)
		var path string
		if m != nil {
			path = b.path(m)
		}
		b.mu.Unlock()
		if m == nil {
			return nil, fmt.Errorf("%w: UID %d in %s", store.ErrNoMessage, uid, b.name)
		}
		data, err := os.ReadFile(path)
		if err == nil {
			return toCRLF(data), nil
		}
		if !errors.Is(err, fs.ErrNotExist) || try > 0 {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		// Another program renamed or removed it: look again.
		if err := b.refresh(); err != nil {
			return nil, err
		}
	}
}

func (s *Store) Append(addr, name string, msg []byte, flags []string, date time.Time) (store.UID, error) {
	b, err := s.box(addr, name)
	if err != nil {
		return 0, err
	}
	uid, _, err := s.appendTo(b, msg, flags, date, "")
	return uid, err
}

// AppendOnce is Append for a delivery that may be repeated: key names the
// delivery (the MDA gives the queue id, the time the message was queued
// and the recipient), the same for every attempt and across restarts. The
// first call with a key files msg, in a file whose name carries the
// key's delivery tag; a later call with the same key and message, by this
// process or by the next after a crash, finds that file in new/ or cur/
// and returns its UID with filed false, after an fsync of its directory
// (the process that filed it may have died before its own). A key of ""
// is Append's.
func (s *Store) AppendOnce(addr, name, key string, msg []byte, flags []string, date time.Time) (uid store.UID, filed bool, err error) {
	b, err := s.box(addr, name)
	if err != nil {
		return 0, false, err
	}
	if key == "" {
		uid, _, err := s.appendTo(b, msg, flags, date, "")
		return uid, err == nil, err
	}
	tag := deliveryTag(key, msg)
	// Checked before the write as well as before the rename: a repeated
	// delivery costs no write.
	b.mu.Lock()
	m := b.byTag[tag]
	var sub string
	if m != nil {
		uid, sub = m.uid, m.sub
	}
	b.mu.Unlock()
	if m != nil {
		if err := b.syncer(sub).sync(); err != nil {
			return 0, false, err
		}
		return uid, false, nil
	}
	uid, dup, err := s.appendTo(b, msg, flags, date, tag)
	return uid, err == nil && !dup, err
}

// appendTo files msg into b: written to tmp/, fsynced, renamed into new/
// (cur/ with flags) under a new UID, the directory fsynced. With a tag,
// the file is named by it, unless a message with that tag is there
// already: then nothing is filed, and its UID is returned with dup true.
//
// Concurrent appends to one mailbox are filed in batches (group commit):
// the first caller leads, files every append waiting by then (each file
// written and fsynced, then all renamed, then one directory fsync) and
// answers them; one that came meanwhile leads the next batch. One thread
// per mailbox does the file system work, rather than one per delivery
// contending for the directory's lock in the kernel, and the others wait
// without a thread of their own.
func (s *Store) appendTo(b *box, msg []byte, flags []string, date time.Time, tag string) (uid store.UID, dup bool, err error) {
	if date.IsZero() {
		date = s.now()
	}
	r := &appendReq{flags: store.NormalizeFlags(flags), date: date, tag: tag, done: make(chan bool, 1)}
	r.disk = toLF(msg)
	r.size = crlfLen(r.disk)
	sizes := fmt.Sprintf(",S=%d,W=%d", len(r.disk), r.size)
	base := s.uniqueName() + sizes
	r.final = base
	if tag != "" {
		r.final = fmt.Sprintf("%d.%s.%s%s", time.Now().Unix(), tag, s.host, sizes)
	}
	r.tmp = filepath.Join(b.dir, "tmp", base)
	a := &b.appends
	a.mu.Lock()
	a.reqs = append(a.reqs, r)
	lead := !a.busy
	a.busy = true
	a.mu.Unlock()
	if !lead && !<-r.done {
		return r.uid, r.dup, r.err
	}
	a.mu.Lock()
	batch := a.reqs
	if len(batch) > maxAppendBatch {
		batch = batch[:maxAppendBatch]
	}
	a.reqs = a.reqs[len(batch):]
	a.mu.Unlock()
	s.fileBatch(b, batch)
	a.mu.Lock()
	var next *appendReq
	if len(a.reqs) > 0 {
		next = a.reqs[0]
	} else {
		a.busy = false
	}
	a.mu.Unlock()
	for _, o := range batch {
		if o != r {
			o.done <- false
		}
	}
	if next != nil {
		next.done <- true
	}
	return r.uid, r.dup, r.err
}

// maxAppendBatch bounds a batch, and so the wait of its last append.
const maxAppendBatch = 64

// fsyncWorkers is how many of a batch's files are fsynced at once.
const fsyncWorkers = 4

// appender gathers the appends to one mailbox into batches (appendTo).
type appender struct {
	mu   sync.Mutex
	reqs []*appendReq // waiting; the first leads the next batch
	busy bool         // a batch is being filed
}

// appendReq is one append waiting in a batch, and its outcome.
type appendReq struct {
	disk  []byte // the message with LF line ends
	size  int64  // with CRLF
	flags []string
	date  time.Time
	tag   string
	final string // the file's name, but for its UID and flags
	tmp   string

	uid  store.UID
	dup  bool
	err  error
	done chan bool // answered (false), or to lead the next batch (true)
}

// fileBatch files a batch of appends into b: each file written to tmp/
// and fsynced, then all renamed under one hold of the mailbox's lock,
// then each directory that gained a name fsynced once. An append is
// answered only after its file and its name are on disk.
func (s *Store) fileBatch(b *box, batch []*appendReq) {
	// Every file written first and its writeback started, then the
	// fsyncs, a few side by side: each waits for the disk several times
	// (data, inode, flush), and one after the other those waits add up
	// when the CPU is busy.
	files := make([]tmpFile, len(batch))
	for i, r := range batch {
		if files[i], r.err = s.createFile(r.tmp, r.disk, r.date); r.err == nil && !s.noSync {
			files[i].startWriteback()
		}
	}
	var next atomic.Int64
	fsyncs := func() {
		for i := int(next.Add(1)) - 1; i < len(batch); i = int(next.Add(1)) - 1 {
			if batch[i].err == nil {
				batch[i].err = s.finishFile(batch[i].tmp, files[i])
			}
		}
	}
	var wg sync.WaitGroup
	for range min(len(batch), fsyncWorkers) - 1 {
		wg.Go(fsyncs)
	}
	fsyncs()
	wg.Wait()
	var seq uint64
	subs := map[string][]*appendReq{} // directory to fsync → its appends
	b.mu.Lock()
	for _, r := range batch {
		if r.err != nil {
			continue
		}
		if b.gone {
			os.Remove(r.tmp)
			r.err = fmt.Errorf("%w: %s", store.ErrNoMailbox, b.name)
			continue
		}
		if m := b.byTag[r.tag]; r.tag != "" && m != nil {
			// Filed meanwhile by another call with the same key.
			os.Remove(r.tmp)
			r.uid, r.dup = m.uid, true
			subs[m.sub] = append(subs[m.sub], r)
			continue
		}
		info, err := b.info(r.flags, "")
		if err != nil {
			os.Remove(r.tmp)
			r.err = err
			continue
		}
		modseq, err := b.nextModSeq()
		if err != nil {
			os.Remove(r.tmp)
			r.err = err
			continue
		}
		m := &message{uid: b.next, modseq: modseq, size: r.size, date: r.date, flags: r.flags}
		m.key = r.final + uidField(m.uid)
		m.sub, m.name = "new", m.key
		if info != "" {
			m.sub, m.name = "cur", m.key+":2,"+info
		}
		if err := rename(r.tmp, b.path(m)); err != nil {
			os.Remove(r.tmp)
			r.err = fmt.Errorf("maildir: %w", err)
			continue
		}
		if s.hook != nil {
			s.hook("rename", r.tmp, b.path(m))
		}
		b.next++
		b.highest = m.modseq
		b.add(m)
		seq = b.publish(store.Change{Kind: store.Appended, UID: m.uid, Flags: slices.Clone(r.flags), Size: r.size, ModSeq: m.modseq})
		r.uid = m.uid
		subs[m.sub] = append(subs[m.sub], r)
	}
	b.mu.Unlock()
	for sub, rs := range subs {
		if err := b.syncer(sub).sync(); err != nil {
			for _, r := range rs {
				r.uid, r.dup, r.err = 0, false, err
			}
		}
	}
	b.flush(seq)
}

// uniqueName makes the unique part of a new message's file name.
func (s *Store) uniqueName() string {
	n := s.seq.Add(1)
	now := time.Now()
	return fmt.Sprintf("%d.M%dP%dQ%d.%s", now.Unix(), now.Nanosecond()/1000, s.pid, n, s.host)
}

// writeFile creates path (which must not exist), writes data, sets its
// modification time and fsyncs it, the time included.
func (s *Store) writeFile(path string, data []byte, mtime time.Time) error {
	f, err := s.createFile(path, data, mtime)
	if err != nil {
		return err
	}
	return s.finishFile(path, f)
}

// createFile is writeFile but for the fsync and the close (finishFile).
func (s *Store) createFile(path string, data []byte, mtime time.Time) (tmpFile, error) {
	f, err := createTmp(path, data, mtime)
	if err != nil {
		return f, fmt.Errorf("maildir: %w", err)
	}
	return f, nil
}

func (s *Store) finishFile(path string, f tmpFile) error {
	var err error
	if !s.noSync {
		err = f.sync()
	}
	if cerr := f.close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("maildir: %w", err)
	}
	if s.hook != nil {
		s.hook("fsync", path)
	}
	return nil
}

func (s *Store) SetFlags(addr, name string, uids []store.UID, op store.FlagOp, flags []string) ([]store.Message, error) {
	out, _, err := s.SetFlagsIf(addr, name, uids, op, flags, math.MaxUint64)
	return out, err
}

// SetFlagsIf decides and renames under the mailbox's lock, so that no
// change comes between the test of a message's mod-sequence and its new
// flags. The rename changes only the name's info part (after ":").
func (s *Store) SetFlagsIf(addr, name string, uids []store.UID, op store.FlagOp, flags []string, unchangedSince uint64) ([]store.Message, []store.UID, error) {
	b, err := s.box(addr, name)
	if err != nil {
		return nil, nil, err
	}
	b.mu.Lock()
	var out []store.Message
	var modified []store.UID
	var seq uint64
	touched := map[string]bool{}
	fail := func(err error) ([]store.Message, []store.UID, error) {
		b.mu.Unlock()
		for sub := range touched {
			b.syncer(sub).sync()
		}
		b.flush(seq)
		return nil, nil, err
	}
	for _, uid := range uids {
		m := b.find(uid)
		if m == nil {
			continue
		}
		if m.modseq > unchangedSince {
			modified = append(modified, uid)
			continue
		}
		nf := store.ApplyFlags(m.flags, op, flags)
		if !slices.Equal(nf, m.flags) {
			info, err := b.info(nf, m.extra)
			if err != nil {
				return fail(err)
			}
			modseq, err := b.nextModSeq()
			if err != nil {
				return fail(err)
			}
			newName := m.key + ":2," + info
			if err := rename(b.path(m), filepath.Join(b.dir, "cur", newName)); err != nil {
				return fail(fmt.Errorf("maildir: %w", err))
			}
			touched[m.sub], touched["cur"] = true, true
			b.highest = modseq
			m.sub, m.name, m.flags, m.modseq = "cur", newName, nf, modseq
			seq = b.publish(store.Change{Kind: store.FlagsChanged, UID: uid, Flags: slices.Clone(nf), ModSeq: modseq})
		}
		out = append(out, m.message())
	}
	b.mu.Unlock()
	var firstErr error
	for sub := range touched {
		if err := b.syncer(sub).sync(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	b.flush(seq)
	slices.Sort(modified)
	return out, slices.Compact(modified), firstErr
}

func (s *Store) Expunge(addr, name string, uids []store.UID) ([]store.UID, error) {
	b, err := s.box(addr, name)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	if b.holdsAny(uids) {
		if err := b.expungeModSeq(); err != nil {
			b.mu.Unlock()
			return nil, err
		}
	}
	removed, seq, touched, err := b.remove(uids, nil)
	b.mu.Unlock()
	for sub := range touched {
		if e := b.syncer(sub).sync(); e != nil && err == nil {
			err = e
		}
	}
	b.flush(seq)
	return removed, err
}

func (s *Store) Copy(addr, from string, uids []store.UID, to string) ([]store.UID, []store.UID, uint32, error) {
	return s.copyMove(addr, from, uids, to, false)
}

func (s *Store) Move(addr, from string, uids []store.UID, to string) ([]store.UID, []store.UID, uint32, error) {
	return s.copyMove(addr, from, uids, to, true)
}

func (s *Store) copyMove(addr, from string, uids []store.UID, to string, move bool) ([]store.UID, []store.UID, uint32, error) {
	sb, err := s.box(addr, from)
	if err != nil {
		return nil, nil, 0, err
	}
	db, err := s.box(addr, to)
	if err != nil {
		return nil, nil, 0, err
	}
	sorted := slices.Clone(uids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	if sb == db {
		sb.mu.Lock()
		if move {
			var same []store.UID
			for _, uid := range sorted {
				if sb.find(uid) != nil {
					same = append(same, uid)
				}
			}
			sb.mu.Unlock()
			return same, same, sb.validity, nil
		}
	} else {
		// Lock order: by directory.
		first, second := sb, db
		if db.dir < sb.dir {
			first, second = db, sb
		}
		first.mu.Lock()
		second.mu.Lock()
	}
	unlock := func() {
		sb.mu.Unlock()
		if sb != db {
			db.mu.Unlock()
		}
	}
	if sb.gone || db.gone {
		unlock()
		return nil, nil, 0, fmt.Errorf("%w: %s", store.ErrNoMailbox, to)
	}
	if move && sb.holdsAny(sorted) {
		// The files leave sb with the renames below.
		if err := sb.expungeModSeq(); err != nil {
			unlock()
			return nil, nil, 0, err
		}
	}
	var src, dst []store.UID
	var dseq uint64
	var firstErr error
	dtouched := map[string]bool{}
	for _, uid := range sorted {
		m := sb.find(uid)
		if m == nil {
			continue
		}
		info, err := db.info(m.flags, m.extra)
		if err != nil {
			firstErr = err
			break
		}
		modseq, err := db.nextModSeq()
		if err != nil {
			firstErr = err
			break
		}
		base := fmt.Sprintf("%s,S=%d,W=%d", s.uniqueName(), m.diskSize(), m.size)
		nm := &message{uid: db.next, modseq: modseq, key: base + uidField(db.next),
			size: m.size, date: m.date, flags: slices.Clone(m.flags), extra: m.extra}
		nm.sub, nm.name = "new", nm.key
		if info != "" {
			nm.sub, nm.name = "cur", nm.key+":2,"+info
		}
		if move && sb != db {
			err = rename(sb.path(m), db.path(nm))
		} else {
			err = s.linkOrCopy(sb.path(m), filepath.Join(db.dir, "tmp", base), db.path(nm), m.date)
		}
		if err != nil {
			firstErr = fmt.Errorf("maildir: %w", err)
			break
		}
		db.next++
		db.highest = nm.modseq
		db.add(nm)
		dtouched[nm.sub] = true
		dseq = db.publish(store.Change{Kind: store.Appended, UID: nm.uid, Flags: slices.Clone(nm.flags), Size: nm.size, ModSeq: nm.modseq})
		src = append(src, uid)
		dst = append(dst, nm.uid)
	}
	var sseq uint64
	stouched := map[string]bool{}
	if move && sb != db && len(src) > 0 {
		for _, uid := range src {
			if m := sb.find(uid); m != nil {
				stouched[m.sub] = true
			}
		}
		_, sseq, _, _ = sb.remove(src, func(*message) bool { return true })
	}
	validity := db.validity
	unlock()
	for sub := range dtouched {
		if err := db.syncer(sub).sync(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for sub := range stouched {
		if err := sb.syncer(sub).sync(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	db.flush(dseq)
	if sb != db {
		sb.flush(sseq)
	}
	return src, dst, validity, firstErr
}

// linkOrCopy makes a new file at final with the content of src: a hard
// link when the file system allows (the message is already on disk), else
// a copy through tmp.
func (s *Store) linkOrCopy(src, tmp, final string, date time.Time) error {
	if err := os.Link(src, final); err == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := s.writeFile(tmp, data, date); err != nil {
		return err
	}
	if err := rename(tmp, final); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func (s *Store) Watch(addr, name string, fn func(store.Change)) (func(), error) {
	b, err := s.box(addr, name)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gone {
		return nil, fmt.Errorf("%w: %s", store.ErrNoMailbox, name)
	}
	b.watchSeq++
	id := b.watchSeq
	b.watchers[id] = fn
	return func() {
		b.mu.Lock()
		delete(b.watchers, id)
		b.mu.Unlock()
	}, nil
}

func (s *Store) Lock(addr string) (func(), error) {
	u, err := s.user(addr)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.locked {
		return nil, store.ErrLocked
	}
	u.locked = true
	var once sync.Once
	return func() {
		once.Do(func() {
			u.mu.Lock()
			u.locked = false
			u.mu.Unlock()
		})
	}, nil
}

// writeAtomic replaces dir/name with data: temporary file, fsync, rename,
// directory fsync.
func (s *Store) writeAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp."+randomHex())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	_, err = f.Write(data)
	if err == nil && !s.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("maildir: %w", err)
	}
	return s.syncDir(dir)
}

// syncDir fsyncs a directory, making the names in it durable.
func (s *Store) syncDir(dir string) error {
	if s.noSync {
		return nil
	}
	if s.hook != nil {
		s.hook("dirsync", dir)
	}
	if err := fsyncDir(dir); err != nil {
		return fmt.Errorf("maildir: fsync %s: %w", dir, err)
	}
	if s.hook != nil {
		s.hook("dirsynced", dir)
	}
	return nil
}

func randomHex() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// toLF turns CRLF line ends into LF, the Maildir convention.
func toLF(b []byte) []byte {
	if bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
}

// crlfLen is len(toCRLF(b)).
func crlfLen(b []byte) int64 {
	n := int64(len(b))
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			n++
		}
	}
	return n
}

// toCRLF turns every LF not after a CR into CRLF.
func toCRLF(b []byte) []byte {
	out := make([]byte, 0, crlfLen(b))
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}
