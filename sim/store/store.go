// Package store holds users' mailboxes: the one place where delivered mail
// lives, read by POP3 and IMAP alike.
//
// The Store interface is shaped by what both readers need: mailboxes with a
// UIDVALIDITY and strictly ascending UIDs (RFC 9051 §2.3.1.1), flags,
// append, expunge, copy and move, change notifications (so an IMAP IDLE
// session sees a delivery at once, and a POP3 DELE shows in IMAP), and a
// maildrop lock for POP3 (RFC 1939 §8). Memory is the implementation the
// simulation and the browser use; the Maildir implementation keeps the
// same promises on disk.
//
// Users are named by their address ("bob@example.net"). Mailbox names use
// "/" as the hierarchy separator; "INBOX" is case-insensitive and always
// exists once the user does.
package store

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors the store returns (wrapped with detail); test with errors.Is.
var (
	ErrNoUser      = errors.New("no such user")
	ErrNoMailbox   = errors.New("no such mailbox")
	ErrExists      = errors.New("mailbox exists already")
	ErrNoMessage   = errors.New("no such message")
	ErrLocked      = errors.New("maildrop is locked by another session")
	ErrInvalidName = errors.New("invalid mailbox name")
	ErrInbox       = errors.New("INBOX can not be deleted")
)

// Store is the mailbox store. Every method is safe for concurrent use.
type Store interface {
	// AddUser creates a user with an empty INBOX and the empty,
	// subscribed DefaultMailboxes; adding an existing user is not an
	// error and creates nothing.
	AddUser(user string) error
	// Users returns every user, sorted.
	Users() []string

	// Mailboxes lists a user's mailboxes, sorted by name, INBOX first.
	Mailboxes(user string) ([]MailboxInfo, error)
	CreateMailbox(user, name string) error
	// DeleteMailbox removes a mailbox and its messages (never INBOX).
	DeleteMailbox(user, name string) error
	// RenameMailbox renames a mailbox and its children. Renaming INBOX
	// moves its messages to the new mailbox and leaves INBOX empty
	// (RFC 9051 §6.3.6).
	RenameMailbox(user, from, to string) error
	SetSubscribed(user, name string, subscribed bool) error

	// Status summarises a mailbox.
	Status(user, name string) (Status, error)
	// List returns the messages of a mailbox in ascending UID order.
	List(user, name string) ([]Message, error)
	// Read returns the full message (RFC 5322, CRLF line endings).
	Read(user, name string, uid UID) ([]byte, error)
	// Append adds a message and returns its UID.
	Append(user, name string, msg []byte, flags []string, date time.Time) (UID, error)
	// SetFlags changes the flags of the messages with these UIDs (missing
	// UIDs are skipped) and returns them as they are now.
	SetFlags(user, name string, uids []UID, op FlagOp, flags []string) ([]Message, error)
	// SetFlagsIf is SetFlags for the messages whose ModSeq is at most
	// unchangedSince, decided and done in one step (RFC 7162 §3.1.3,
	// STORE UNCHANGEDSINCE). It also returns, ascending, the UIDs of the
	// messages it left alone because they changed since.
	SetFlagsIf(user, name string, uids []UID, op FlagOp, flags []string, unchangedSince uint64) (msgs []Message, modified []UID, err error)
	// Expunge removes the messages with these UIDs and returns the UIDs
	// actually removed, ascending.
	Expunge(user, name string, uids []UID) ([]UID, error)
	// Copy copies messages (with their flags and dates) to another mailbox
	// of the same user. It returns the source UIDs copied and the new
	// UIDs, pairwise, and the destination's UIDVALIDITY (RFC 4315 COPYUID).
	Copy(user, from string, uids []UID, to string) (src, dst []UID, validity uint32, err error)
	// Move is Copy then Expunge of the source, as one step.
	Move(user, from string, uids []UID, to string) (src, dst []UID, validity uint32, err error)

	// Watch calls fn with every change to one mailbox, in order, from the
	// goroutine that made it, after the change is done. fn must be quick
	// and must not change the store. Call cancel to stop.
	Watch(user, name string, fn func(Change)) (cancel func(), err error)
	// Lock takes the user's maildrop for one POP3 session (RFC 1939 §8);
	// ErrLocked if another session holds it.
	Lock(user string) (unlock func(), err error)
}

// UID is a message's unique identifier within one mailbox's UIDVALIDITY.
type UID uint32

// MailboxInfo describes a mailbox in a listing.
type MailboxInfo struct {
	Name       string
	Subscribed bool
	// SpecialUse is a RFC 6154 attribute such as `\Sent`, or "".
	SpecialUse string
}

// Status is the state of a mailbox.
type Status struct {
	Messages    uint32
	Unseen      uint32 // messages without \Seen
	Deleted     uint32 // messages with \Deleted
	Size        int64  // sum of message sizes
	UIDNext     UID
	UIDValidity uint32
	// HighestModSeq is the highest mod-sequence of the mailbox (RFC 7162
	// §3.1.2.1): at least 1, never lower than before, and raised by every
	// append, flag change and expunge.
	HighestModSeq uint64
}

// Message is what the store knows of a message without reading it.
type Message struct {
	UID   UID
	Size  int64
	Flags []string  // sorted
	Date  time.Time // internal date: when the store received it
	// ModSeq is the message's mod-sequence (RFC 7162 §3.1): given by
	// the append and raised by every change of its flags, each time above
	// every other of the mailbox.
	ModSeq uint64
}

// FlagOp says how SetFlags combines flags.
type FlagOp int

// The ways of changing flags (IMAP STORE FLAGS, +FLAGS, -FLAGS).
const (
	FlagsSet FlagOp = iota
	FlagsAdd
	FlagsRemove
)

// ChangeKind says what changed in a mailbox.
type ChangeKind int

// Kinds of change.
const (
	Appended ChangeKind = iota + 1
	FlagsChanged
	Expunged
	Deleted // the mailbox itself was deleted or renamed away
)

// Change is one change to a mailbox, as Watch reports it.
type Change struct {
	Kind  ChangeKind
	UID   UID
	Flags []string // FlagsChanged: the flags now; Appended: the initial flags
	Size  int64    // Appended
	// ModSeq is the message's mod-sequence now (Appended, FlagsChanged)
	// or the mailbox's highest after the expunge (Expunged).
	ModSeq uint64
}

// Standard IMAP system flags (RFC 9051 §2.3.2).
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// Inbox is the name of the mailbox mail is delivered to.
const Inbox = "INBOX"

// MaxNameLen bounds a mailbox name in bytes.
const MaxNameLen = 255

// CanonicalName validates a mailbox name and returns its canonical form
// ("inbox" → "INBOX", including as the first part of a path). It refuses
// what could escape a directory on disk or confuse a client: empty names or
// parts, ".", "..", leading or trailing "/", NUL and control characters,
// backslashes, invalid UTF-8, and names over MaxNameLen bytes.
func CanonicalName(name string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidName, name, why)
	}
	switch {
	case name == "":
		return bad("empty")
	case len(name) > MaxNameLen:
		return bad(fmt.Sprintf("longer than %d bytes", MaxNameLen))
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '\\' || unicode.Is(unicode.Cc, r) {
			return bad("contains a control character or backslash")
		}
	}
	parts := strings.Split(name, "/")
	for _, p := range parts {
		switch p {
		case "":
			return bad("empty part (leading, trailing or double /)")
		case ".", "..":
			return bad(`"." and ".." are not mailbox names`)
		}
		if p[0] == '.' {
			// Maildir keeps folders as ".name" directories: a part that
			// starts with a dot would collide with that scheme.
			return bad("a part may not start with a dot")
		}
	}
	if strings.EqualFold(parts[0], Inbox) {
		parts[0] = Inbox
	}
	return strings.Join(parts, "/"), nil
}

// HasFlag reports whether flags holds f (system flags compare without case).
func HasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}

// NormalizeFlags returns flags deduplicated and sorted, with system flags
// in their canonical case.
func NormalizeFlags(flags []string) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if f == "" {
			continue
		}
		for _, sys := range []string{FlagSeen, FlagAnswered, FlagFlagged, FlagDeleted, FlagDraft, `\Recent`} {
			if strings.EqualFold(f, sys) {
				f = sys
			}
		}
		if f == `\Recent` { // session state, never stored (RFC 9051 removed it)
			continue
		}
		if !HasFlag(out, f) {
			out = append(out, f)
		}
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// ApplyFlags combines current flags with a change.
func ApplyFlags(cur []string, op FlagOp, flags []string) []string {
	switch op {
	case FlagsAdd:
		return NormalizeFlags(append(append([]string(nil), cur...), flags...))
	case FlagsRemove:
		var out []string
		for _, f := range cur {
			if !HasFlag(flags, f) {
				out = append(out, f)
			}
		}
		return NormalizeFlags(out)
	}
	return NormalizeFlags(flags)
}

// DefaultMailboxes are the mailboxes AddUser makes for a new user beside
// INBOX, each named so that SpecialUse gives it its RFC 6154 attribute:
// where clients file the drafts, the sent and the deleted mail, and where
// the MDA files what DMARC quarantines. Clients that find them use them
// rather than making their own ("Sent Items", "Deleted Messages", ...).
var DefaultMailboxes = []string{"Drafts", "Sent", "Trash", "Junk"}

// SpecialUse returns the RFC 6154 attribute conventionally meant by a
// top-level mailbox name ("Sent" → `\Sent`), or "".
func SpecialUse(name string) string {
	switch strings.ToLower(name) {
	case "sent", "sent messages", "sent items":
		return `\Sent`
	case "drafts":
		return `\Drafts`
	case "trash", "deleted messages":
		return `\Trash`
	case "junk", "spam":
		return `\Junk`
	case "archive":
		return `\Archive`
	}
	return ""
}
