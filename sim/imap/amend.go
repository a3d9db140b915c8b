package imap

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mailhop/mailhop/sim/store"
)

// go-imap writes its answers from what the session gives it, and some
// of what a client must read is not in what it can be given: CONDSTORE's
// MODSEQ and HIGHESTMODSEQ, QRESYNC's VANISHED, a session's own \Recent
// in another session's flag change, the flags a message has now rather
// than when a change was queued. The view amends go-imap's lines as
// they are written (amended, called by clientConn.tagged for each line
// start): it reads the selected mailbox through a selectedBox, and the
// command under way through the condCommand the guard noted.

// selectedBox is what the view reads of the mailbox the session
// selected, to add to go-imap's lines what they lack.
type selectedBox struct {
	modseq       func(store.UID) (uint64, bool) // a message's mod-sequence
	highest      func() (uint64, bool)          // the mailbox's HIGHESTMODSEQ
	isRecent     func(store.UID) bool           // \Recent here; nil for an IMAP4rev2 client
	nextExpunged func() (store.UID, bool)       // the UID of the EXPUNGE response being written
	flagsNow     func(store.UID) ([]string, bool)
	toldBy       func(line []byte) // a FLAGS response is written
}

// selected tells the view of the mailbox the session selected (nil:
// none); SELECT's UIDNEXT is then preceded by its HIGHESTMODSEQ when
// CONDSTORE is on.
func (c *clientConn) selected(box *selectedBox) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.box = box
	c.announce = ""
	if box != nil && c.condstore {
		if n, ok := box.highest(); ok {
			c.announce = highestLine(n)
		}
	}
}

// amended adds to a line go-imap writes what it lacks; wmu held. line is
// a whole line, or the start of one that a literal ends.
func (c *clientConn) amended(line []byte) []byte {
	switch {
	case c.enabling != nil && bytes.HasPrefix(line, []byte("* ENABLED")):
		e := c.enabling
		c.enabling = nil
		enables := !c.condstore
		c.condstore = true // QRESYNC implies it (RFC 7162 §3.2.3)
		out := bytes.TrimRight(line, "\r\n")
		if e.enableCondstore {
			out = append(out, " CONDSTORE"...)
		}
		if e.enableQresync {
			out = append(out, " QRESYNC"...)
			c.qresync = true
		}
		out = append(out, "\r\n"...)
		if enables && c.box != nil {
			if n, ok := c.box.highest(); ok {
				out = append(out, highestLine(n)...)
			}
		}
		return out
	case c.enabling != nil && bytes.HasPrefix(line, []byte(c.enabling.tag+" ")):
		c.enabling = nil
		return line
	case c.announce != "" && bytes.HasPrefix(line, []byte("* OK [UIDNEXT ")):
		out := slices.Concat([]byte(c.announce), line)
		c.announce = ""
		return out
	case c.box != nil && isExpunge(line):
		return c.vanish(line)
	case c.box != nil && bytes.HasPrefix(line, []byte("* FLAGS (")):
		c.box.toldBy(line)
		return line
	case bytes.HasPrefix(line, []byte("* ")):
		if c.box != nil {
			line = c.fetchFlags(line)
		}
		if c.condstore {
			return c.fetchModSeq(line)
		}
		return line
	}
	cmd := c.cond
	if cmd == nil || !bytes.HasPrefix(line, []byte(cmd.tag+" ")) {
		return line
	}
	c.cond = nil
	if cmd.extra != "" && bytes.HasPrefix(line[len(cmd.tag)+1:], []byte("OK ")) {
		return slices.Concat([]byte(cmd.extra), line)
	}
	if cmd.modified != "" && bytes.HasPrefix(line[len(cmd.tag)+1:], []byte("OK ")) {
		return fmt.Appendf(nil, "%s OK [MODIFIED %s] Conditional STORE failed\r\n", cmd.tag, cmd.modified)
	}
	return line
}

// fetchModSeq adds MODSEQ to a FETCH response that names its UID (which
// every FETCH response does once CONDSTORE is on), when it has FLAGS or
// its command asks for MODSEQ; it adds HIGHESTMODSEQ to STATUS and the
// highest mod-sequence of the matches to SEARCH (RFC 7162 §3.1.5). Other
// lines pass as they are. wmu held.
func (c *clientConn) fetchModSeq(line []byte) []byte {
	cmd := c.cond
	whole := bytes.HasSuffix(line, []byte(")\r\n")) && bytes.IndexByte(line, '\n') == len(line)-1
	switch {
	case cmd != nil && cmd.statusModSeq && cmd.highest > 0 && whole && bytes.HasPrefix(line, []byte("* STATUS ")):
		end := len(line) - len(")\r\n")
		sep := " "
		if line[end-1] == '(' {
			sep = ""
		}
		return fmt.Appendf(nil, "%s%sHIGHESTMODSEQ %d)\r\n", line[:end], sep, cmd.highest)
	case cmd != nil && cmd.searchModSeq && cmd.highest > 0 &&
		(bytes.HasPrefix(line, []byte("* SEARCH ")) || bytes.HasPrefix(line, []byte("* ESEARCH "))):
		suffix := fmt.Sprintf(" MODSEQ %d", cmd.highest)
		if line[2] == 'S' {
			suffix = fmt.Sprintf(" (MODSEQ %d)", cmd.highest)
		}
		cmd.highest = 0 // one response
		if body, ok := bytes.CutSuffix(line, []byte("\r\n")); ok {
			return slices.Concat(body, []byte(suffix), []byte("\r\n"))
		}
		// A long result, written in parts: the view ends the line.
		c.lineSuffix = []byte(suffix)
		return line
	}
	if c.box == nil {
		return line
	}
	uid, n, ok := fetchUID(line)
	if !ok {
		return line
	}
	if !c.modseqAll && !bytes.HasPrefix(line[n:], []byte(" FLAGS (")) {
		return line
	}
	m, ok := c.box.modseq(uid)
	if !ok {
		return line
	}
	return slices.Concat(line[:n], fmt.Appendf(nil, " MODSEQ (%d)", m), line[n:])
}

// endLine puts a suffix the line being written awaits (lineSuffix)
// before its CRLF, in a part of it that go-imap writes; wmu held.
func (c *clientConn) endLine(out []byte) []byte {
	if c.lineSuffix == nil {
		return out
	}
	i := bytes.IndexByte(out, '\n')
	switch {
	case i > 0 && out[i-1] == '\r':
		i--
	case i < 0 && len(out) > 0 && out[len(out)-1] == '\r':
		// The CR ends this part, its LF the next: the CR waits.
		c.lineSuffix = append(c.lineSuffix, '\r')
		return out[:len(out)-1]
	case i < 0:
		return out
	}
	out = slices.Concat(out[:i], c.lineSuffix, out[i:])
	c.lineSuffix = nil
	return out
}

// fetchFlags writes the FLAGS of a FETCH response that names its UID as
// the message's flags are now (but the keywords the session has not been
// told of), with \Recent for a message recent in the session. The
// tracker's responses carry the flags of the change they tell, and
// go-imap writes those a session has pending after the command's own
// answer: a change told late would otherwise undo a newer one the
// command showed (another session's flag, then this one's STORE), and
// the client keep flags the message no longer has. And they are alike
// for every session, where \Recent is the session's (RFC 3501 §2.3.2).
// wmu held.
func (c *clientConn) fetchFlags(line []byte) []byte {
	uid, n, ok := fetchUID(line)
	if !ok {
		return line
	}
	// FLAGS right after the UID, as the session and the tracker write
	// them: not a " FLAGS (" in a string further on.
	if !bytes.HasPrefix(line[n:], []byte(" FLAGS (")) {
		return line
	}
	start := n + len(" FLAGS (")
	end := bytes.IndexByte(line[start:], ')')
	if end < 0 {
		return line
	}
	end += start
	flags := strings.Fields(string(line[start:end]))
	if now, ok := c.box.flagsNow(uid); ok {
		flags = now
	}
	if c.box.isRecent != nil && !slices.Contains(flags, string(flagRecent)) && c.box.isRecent(uid) {
		flags = append(flags, string(flagRecent))
	}
	return slices.Concat(line[:start], []byte(strings.Join(flags, " ")), line[end:])
}

// fetchUID reads the UID of a FETCH response that starts with it: "* n
// FETCH (UID u"; n is where the UID ends.
func fetchUID(line []byte) (uid store.UID, n int, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte("* "))
	if !ok {
		return 0, 0, false
	}
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 || !isDigits(rest[:sp]) || !bytes.HasPrefix(rest[sp:], []byte(" FETCH (UID ")) {
		return 0, 0, false
	}
	at := 2 + sp + len(" FETCH (UID ")
	n = at
	for n < len(line) && line[n] >= '0' && line[n] <= '9' {
		n++
	}
	u, err := strconv.ParseUint(string(line[at:n]), 10, 32)
	return store.UID(u), n, err == nil
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
