package imap

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mailhop/mailhop/sim/store"
)

// QUOTA (RFC 9208): each user has one quota root, "", over all their
// mailboxes, with the resources the Server's Quota bounds: STORAGE (in
// units of 1024 bytes) and MESSAGE. Without a bound, a mailbox has no
// quota root. go-imap knows none of the commands, so the guard answers
// them, at a command boundary (heldQuota). SETQUOTA is not offered: the
// operator sets quotas (mailhop serve --quota-storage, --quota-messages).

// quotaCapabilities are advertised after login.
var quotaCapabilities = []string{"QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"}

// quotaReply answers GETQUOTAROOT, GETQUOTA or SETQUOTA for user ("":
// not logged in), with its tagged answer.
func (s *Server) quotaReply(tag string, line []byte, user string) string {
	name, _ := commandName(line)
	if user == "" {
		return tag + " BAD [CLIENTBUG] " + name + " is valid only after login\r\n"
	}
	if name == "SETQUOTA" {
		return tag + " NO [NOPERM] Quotas are set by the server's operator, not over IMAP (no QUOTASET)\r\n"
	}
	args := tokens(line, 4)[2:]
	if len(args) != 1 || args[0].paren != 0 {
		return tag + " BAD [CLIENTBUG] " + name + " takes one argument, as a quoted string or an atom (RFC 9208 §4.1)\r\n"
	}
	arg := args[0]
	written := string(line[arg.start:arg.end])
	if name == "GETQUOTA" {
		if arg.text != "" || s.Quota == (store.Quota{}) {
			return tag + " NO [NONEXISTENT] No such quota root: the only one is \"\", when a quota is set\r\n"
		}
		q, err := s.quotaLine(user)
		if err != nil {
			return tag + " NO [UNAVAILABLE] Mailbox store failed, try again later\r\n"
		}
		return q + tag + " OK GETQUOTA completed\r\n"
	}
	// GETQUOTAROOT
	decoded, ok := decodeMUTF7(arg.text)
	if !ok {
		return tag + " " + badNameReply + "\r\n"
	}
	cn, err := store.CanonicalName(decoded)
	if err == nil {
		_, err = s.Store.Status(user, cn)
	}
	switch {
	case errors.Is(err, store.ErrNoMailbox), errors.Is(err, store.ErrInvalidName):
		return tag + " NO [NONEXISTENT] No such mailbox\r\n"
	case err != nil:
		return tag + " NO [UNAVAILABLE] Mailbox store failed, try again later\r\n"
	}
	if s.Quota == (store.Quota{}) {
		return "* QUOTAROOT " + written + "\r\n" + tag + " OK GETQUOTAROOT completed\r\n"
	}
	q, err := s.quotaLine(user)
	if err != nil {
		return tag + " NO [UNAVAILABLE] Mailbox store failed, try again later\r\n"
	}
	return "* QUOTAROOT " + written + ` ""` + "\r\n" + q + tag + " OK GETQUOTAROOT completed\r\n"
}

// quotaLine is the QUOTA response of a user's root (RFC 9208 §5.1):
// each bounded resource, its usage and its limit.
func (s *Server) quotaLine(user string) (string, error) {
	u, err := store.UsageOf(s.Store, user)
	if err != nil {
		return "", err
	}
	kib := func(n int64) int64 { return (n + 1023) / 1024 }
	var res []string
	if q := s.Quota.Storage; q > 0 {
		res = append(res, fmt.Sprintf("STORAGE %d %d", kib(u.Storage), kib(q)))
	}
	if q := s.Quota.Messages; q > 0 {
		res = append(res, fmt.Sprintf("MESSAGE %d %d", u.Messages, q))
	}
	return `* QUOTA "" (` + strings.Join(res, " ") + ")\r\n", nil
}
