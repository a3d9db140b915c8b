// Package mda is the mail delivery agent: the last step of a message's
// journey, filing it into the recipient's mailbox. It adds Return-Path
// (RFC 5321 §4.4) and Delivered-To, and reports the delivery to the trace.
// The LMTP server and an all-in-one host's queue both deliver through it.
package mda

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// MDA files messages into a store.
type MDA struct {
	Hostname string
	Store    store.Store
	// Exists reports whether a recipient has a mailbox here; nil: every
	// user of the store.
	Exists func(addr string) bool
	// Folder, when set, names the mailbox a message is filed into ("":
	// INBOX), from the message as it arrives: quarantined mail goes to
	// Junk (RFC 7489 §6.3, p=quarantine), as the MX that checked it said
	// in its Authentication-Results field. A mailbox that does not exist
	// yet is created.
	Folder func(msg []byte) string
	// Quota bounds what each user may keep; a delivery that would pass
	// it fails, temporarily, "mailbox full" (RFC 3463 X.2.2: the sender
	// retries, and the user may make room meanwhile).
	Quota store.Quota
	Clock clock.Clock
	Trace *trace.Recorder

	mu   sync.Mutex
	full map[string]bool // SetFull: users whose mailbox takes no more mail
}

// SetFull makes a user's mailbox full (or gives it room again), as if it
// were over its quota whatever it holds: the fault a teacher injects to
// show "452 4.2.2 mailbox full" and the retries it causes.
func (m *MDA) SetFull(user string, full bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.full == nil {
		m.full = map[string]bool{}
	}
	if full {
		m.full[strings.ToLower(user)] = true
	} else {
		delete(m.full, strings.ToLower(user))
	}
}

// IsFull reports whether SetFull made a user's mailbox full.
func (m *MDA) IsFull(user string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.full[strings.ToLower(user)]
}

// Error is a delivery failure; Permanent failures are bounced, others
// retried.
type Error struct {
	Reason    string
	permanent bool
	status    string // RFC 3463; "" for the default of its class
}

func (e *Error) Error() string   { return e.Reason }
func (e *Error) Permanent() bool { return e.permanent }

// Status returns the RFC 3463 status code of the failure.
func (e *Error) Status() string {
	if e.status != "" {
		return e.status
	}
	if e.permanent {
		return "5.1.1"
	}
	return "4.3.0"
}

// OnceStore is a store that files a message at most once per delivery
// key (maildir.Store): the first AppendOnce with a key files it, a later
// one with the same key and message finds it and returns its UID with
// filed false.
type OnceStore interface {
	AppendOnce(user, name, key string, msg []byte, flags []string, date time.Time) (uid store.UID, filed bool, err error)
}

type keyCtx struct{}

// WithDeliveryKey returns ctx carrying key, the name of a delivery that
// may be repeated: the queue hands each local delivery to its Local
// function so (queue.DeliveryKey), whatever wires the two together.
func WithDeliveryKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyCtx{}, key)
}

// DeliveryKeyFrom returns the delivery key ctx carries, or "".
func DeliveryKeyFrom(ctx context.Context) string {
	k, _ := ctx.Value(keyCtx{}).(string)
	return k
}

// Deliver files body for rcpt, sent by from, into rcpt's INBOX (or the
// mailbox Folder names).
//
// A delivery may be repeated: a queue that died after the message was
// filed and before it journalled that delivers it again when it recovers
// its spool. When ctx carries a delivery key (WithDeliveryKey) and the
// store is a OnceStore, a delivery filed already under that key is not
// filed again: it is reported done, and the trace says so. Other stores
// (in memory, which a crash loses whole) file every delivery; so does a
// delivery without a key (LMTP: the client has no key to give).
func (m *MDA) Deliver(ctx context.Context, from, rcpt string, body []byte) error {
	key := DeliveryKeyFrom(ctx)
	exists := m.Exists
	if exists == nil {
		exists = func(a string) bool {
			_, err := m.Store.Status(a, store.Inbox)
			return err == nil
		}
	}
	if !exists(rcpt) {
		return &Error{Reason: fmt.Sprintf("no mailbox for %s here", rcpt), permanent: true}
	}
	// RFC 5321 §4.4: the delivering server records the reverse-path.
	const rp, dt = "Return-Path: <", ">\r\nDelivered-To: "
	msg := make([]byte, 0, len(rp)+len(from)+len(dt)+len(rcpt)+2+len(body))
	msg = append(append(append(append(append(msg, rp...), from...), dt...), rcpt...), "\r\n"...)
	msg = append(msg, body...)
	var now time.Time
	if m.Clock != nil {
		now = m.Clock.Now()
	}
	box := store.Inbox
	if m.Folder != nil {
		if f := m.Folder(body); f != "" {
			box = f
			if _, err := m.Store.Status(rcpt, box); errors.Is(err, store.ErrNoMailbox) {
				m.Store.CreateMailbox(rcpt, box) // a race with the user's own CREATE is no failure
			}
		}
	}
	if m.IsFull(rcpt) {
		return &Error{Reason: "mailbox full", status: "4.2.2"}
	}
	if err := m.Quota.Admit(m.Store, rcpt, 1, int64(len(msg))); err != nil {
		if errors.Is(err, store.ErrOverQuota) {
			return &Error{Reason: "mailbox full", status: "4.2.2"}
		}
		return &Error{Reason: "mailbox store: " + err.Error()}
	}
	var uid store.UID
	filed := true
	var err error
	if once, ok := m.Store.(OnceStore); ok && key != "" {
		uid, filed, err = once.AppendOnce(rcpt, box, key, msg, nil, now)
	} else {
		uid, err = m.Store.Append(rcpt, box, msg, nil, now)
	}
	if err != nil {
		if errors.Is(err, store.ErrNoUser) {
			return &Error{Reason: err.Error(), permanent: true}
		}
		return &Error{Reason: "mailbox store: " + err.Error()}
	}
	text := "filed as UID " + strconv.FormatUint(uint64(uid), 10) + ", " + strconv.Itoa(len(msg)) + " bytes"
	if !filed {
		text = fmt.Sprintf("filed already as UID %d by an earlier attempt (the queue had not recorded it): not filed twice", uid)
	}
	m.Trace.Emit(trace.Event{Kind: trace.KindDeliver, Host: m.Hostname, Msg: trace.MsgKey(msg),
		Mailbox: rcpt + "/" + box, Text: text})
	return nil
}
