package store

import (
	"errors"
	"fmt"
)

// ErrOverQuota is returned when adding messages would take a user past
// their Quota.
var ErrOverQuota = errors.New("over quota")

// Quota bounds what one user may keep, across all their mailboxes: the
// STORAGE and MESSAGE resources of IMAP QUOTA (RFC 9208 §5.1, §5.2). A
// zero field is no bound; the zero Quota bounds nothing and costs nothing.
//
// The bound is checked before each append or copy, against what the
// store holds then: two deliveries at the same moment may both pass, so
// it is loose by what is in flight, as in other servers.
type Quota struct {
	Storage  int64 // bytes
	Messages int64
}

// Usage is what one user keeps now.
type Usage struct {
	Storage   int64 // bytes: the sum of the messages' sizes
	Messages  int64
	Mailboxes int
}

// UsageOf sums a user's mailboxes.
func UsageOf(s Store, user string) (Usage, error) {
	boxes, err := s.Mailboxes(user)
	if err != nil {
		return Usage{}, err
	}
	u := Usage{Mailboxes: len(boxes)}
	for _, b := range boxes {
		st, err := s.Status(user, b.Name)
		if errors.Is(err, ErrNoMailbox) {
			continue // deleted since the listing
		}
		if err != nil {
			return Usage{}, err
		}
		u.Storage += st.Size
		u.Messages += int64(st.Messages)
	}
	return u, nil
}

// Admit returns ErrOverQuota (wrapped with what is full) when adding
// messages of bytes in all would take user past q.
func (q Quota) Admit(s Store, user string, messages, bytes int64) error {
	if q == (Quota{}) {
		return nil
	}
	u, err := UsageOf(s, user)
	if err != nil {
		return err
	}
	if q.Storage > 0 && u.Storage+bytes > q.Storage {
		return fmt.Errorf("%w: %d of %d bytes used, %d more do not fit", ErrOverQuota, u.Storage, q.Storage, bytes)
	}
	if q.Messages > 0 && u.Messages+messages > q.Messages {
		return fmt.Errorf("%w: %d of %d messages kept, %d more do not fit", ErrOverQuota, u.Messages, q.Messages, messages)
	}
	return nil
}
