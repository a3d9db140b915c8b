package imap

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

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

// decodeMUTF7 decodes a mailbox name from modified UTF-7 (RFC 3501
// §5.1.3); UTF-8 passes as it is. ok is false when it is not valid.
func decodeMUTF7(s string) (string, bool) {
	if !validMUTF7(s) {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '&' {
			b.WriteByte(s[i])
			continue
		}
		end := i + 1 + strings.IndexByte(s[i+1:], '-')
		if end == i+1 {
			b.WriteByte('&')
		} else {
			raw, _ := mutf7.DecodeString(s[i+1 : end])
			units := make([]uint16, len(raw)/2)
			for j := range units {
				units[j] = uint16(raw[2*j])<<8 | uint16(raw[2*j+1])
			}
			b.WriteString(string(utf16.Decode(units)))
		}
		i = end
	}
	return b.String(), true
}
