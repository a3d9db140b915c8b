// Package mda is the mail delivery agent: the last step of a message's
// journey, filing it into the recipient's mailbox. It adds Return-Path
// (RFC 5321 §4.4) and Delivered-To, and reports the delivery to the trace.
// The LMTP server and an all-in-one host's queue both deliver through it.
package mda

import (
	"context"
	"errors"
	"fmt"
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
	Clock  clock.Clock
	Trace  *trace.Recorder
}

// Error is a delivery failure; Permanent failures are bounced, others
// retried.
type Error struct {
	Reason    string
	permanent bool
}

func (e *Error) Error() string   { return e.Reason }
func (e *Error) Permanent() bool { return e.permanent }

// Status returns the RFC 3463 status code of the failure.
func (e *Error) Status() string {
	if e.permanent {
		return "5.1.1"
	}
	return "4.3.0"
}

// Deliver files body for rcpt, sent by from, into rcpt's INBOX.
func (m *MDA) Deliver(ctx context.Context, from, rcpt string, body []byte) error {
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
	head := fmt.Sprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n", from, rcpt)
	msg := make([]byte, 0, len(head)+len(body))
	msg = append(append(msg, head...), body...)
	var now time.Time
	if m.Clock != nil {
		now = m.Clock.Now()
	}
	uid, err := m.Store.Append(rcpt, store.Inbox, msg, nil, now)
	if err != nil {
		if errors.Is(err, store.ErrNoUser) {
			return &Error{Reason: err.Error(), permanent: true}
		}
		return &Error{Reason: "mailbox store: " + err.Error()}
	}
	m.Trace.Emit(trace.Event{Kind: trace.KindDeliver, Host: m.Hostname, Msg: trace.MsgKey(msg),
		Mailbox: rcpt + "/" + store.Inbox, Text: fmt.Sprintf("filed as UID %d, %d bytes", uid, len(msg))})
	return nil
}
