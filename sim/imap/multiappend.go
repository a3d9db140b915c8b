package imap

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/mailhop/mailhop/sim/store"
)

// MULTIAPPEND (RFC 3502): one APPEND carries several messages, and they
// are stored all or none. go-imap's APPEND takes one message. So the
// guard ends go-imap's APPEND after each message another follows, and
// hands the next to go-imap as a new APPEND with the same tag and mailbox
// (guard.sift); the view keeps go-imap's answers to all but the last
// from the client and makes the last the answer of the whole: OK with
// the APPENDUID of every message (RFC 4315 §3), or the first failure,
// after the messages stored before it were expunged again. Other
// sessions with the mailbox selected may see those come and go.

// multiAppend is a MULTIAPPEND under way; wmu.
type multiAppend struct {
	tag      string
	user     string
	box      string // canonical
	pending  int    // go-imap answers to keep from the client
	messages int    // the messages taken so far
	validity uint32
	uids     []store.UID
	failed   string // the first failure, its answer after the tag
}

// maxMultiAppend bounds the messages of one APPEND.
const maxMultiAppend = 1000

// multiAppend registers one more message of the APPEND with tag to box
// (as the client wrote it), and reports whether the view can take it:
// after login, to a mailbox name the store can hold (go-imap refuses
// the others itself), at most maxMultiAppend of them (else why is the
// refusal, and the answer of the whole).
func (c *clientConn) multiAppend(tag, box string) (ok bool, why string) {
	ma := c.register(tag, box)
	if ma == nil {
		return false, ""
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if ma.messages >= maxMultiAppend {
		return false, fmt.Sprintf("NO [LIMIT] At most %d messages in one APPEND (RFC 3502): none was stored", maxMultiAppend)
	}
	ma.pending++
	ma.messages++
	return true, ""
}

// register returns the APPEND with tag to box (as the client wrote it)
// under way, made when new; nil when go-imap refuses it itself.
func (c *clientConn) register(tag, box string) *multiAppend {
	u := c.user.Load()
	if u == nil {
		return nil
	}
	name, ok := decodeMUTF7(box)
	if !ok {
		return nil
	}
	cn, err := store.CanonicalName(name)
	if err != nil {
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if ma := c.appending; ma != nil && ma.tag == tag {
		return ma
	}
	c.appending = &multiAppend{tag: tag, user: *u, box: cn, messages: 1}
	return c.appending
}

// refuseAppend makes why the answer of the APPEND with tag to box, whose
// messages go-imap has been given (the last one's line is ended for it):
// go-imap's answers are kept from the client, and what they stored is
// taken back. It reports false when go-imap refuses the APPEND itself
// (before login, an invalid name).
func (c *clientConn) refuseAppend(tag, box, why string) bool {
	ma := c.register(tag, box)
	if ma == nil {
		return false
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ma.pending++ // the refusal is one more answer, the last to come or not
	if ma.failed == "" {
		ma.failed = why
	}
	return true
}

// appended takes go-imap's (or the guard's) answer to one message of a
// MULTIAPPEND: nothing for the client but after the last; wmu held.
func (c *clientConn) appended(ma *multiAppend, line []byte) []byte {
	status := strings.TrimRight(string(line[len(ma.tag)+1:]), "\r\n")
	// The answers come in any order: the guard's refusal of a message
	// may come before go-imap's answer to the one before it.
	v, uid, ok := appendUID(status)
	switch {
	case ok && ma.validity != 0 && v != ma.validity && ma.failed == "":
		ma.failed = "NO [UIDNOTSTICKY] The mailbox changed while the messages were stored"
	case !ok && ma.failed == "":
		ma.failed = status
	}
	if ok && (ma.validity == 0 || v == ma.validity) {
		ma.validity = v
		ma.uids = append(ma.uids, uid)
	}
	if ma.pending > 0 {
		ma.pending--
		return nil
	}
	c.appending = nil
	if ma.failed != "" {
		if len(ma.uids) > 0 {
			if _, err := c.srv.Store.Expunge(ma.user, ma.box, ma.uids); err != nil {
				c.srv.logf("imap: %s: MULTIAPPEND to %q failed, and its first messages could not be taken back: %v", ma.user, ma.box, err)
			}
		}
		return []byte(ma.tag + " " + ma.failed + "\r\n")
	}
	var set goimap.UIDSet
	for _, u := range ma.uids {
		set.AddNum(goimap.UID(u))
	}
	return fmt.Appendf(nil, "%s OK [APPENDUID %d %s] APPEND completed\r\n", ma.tag, ma.validity, set.String())
}

// appendUID reads "OK [APPENDUID validity uid] ..." (RFC 4315 §3).
func appendUID(status string) (validity uint32, uid store.UID, ok bool) {
	rest, found := strings.CutPrefix(status, "OK [APPENDUID ")
	if !found {
		return 0, 0, false
	}
	f := strings.Fields(strings.SplitN(rest, "]", 2)[0])
	if len(f) != 2 {
		return 0, 0, false
	}
	v, err1 := strconv.ParseUint(f[0], 10, 32)
	u, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uint32(v), store.UID(u), true
}

// multiAppended passes a line go-imap (or the guard) writes through the
// MULTIAPPEND under way, if it answers it; wmu held.
func (c *clientConn) multiAppended(line []byte) ([]byte, bool) {
	ma := c.appending
	if ma == nil || !bytes.HasPrefix(line, []byte(ma.tag+" ")) || !bytes.HasSuffix(line, []byte("\r\n")) {
		return line, false
	}
	return c.appended(ma, line), true
}
