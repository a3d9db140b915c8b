package imap

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mailhop/mailhop/sim/store"
)

// CONDSTORE (RFC 7162 §3.1) is unknown to go-imap: its parser refuses the
// MODSEQ fetch item, the CHANGEDSINCE and UNCHANGEDSINCE modifiers,
// SELECT's (CONDSTORE), STATUS's HIGHESTMODSEQ and SEARCH's MODSEQ key,
// and its writers have no MODSEQ. So the guard holds a command line that
// uses one of them until go-imap has answered every command before it
// (as it holds SORT), takes out what go-imap can not read, notes it in a
// condCommand and gives go-imap the rest: a FETCH without its MODSEQ item
// and modifiers, a STORE without UNCHANGEDSINCE, a SELECT without its
// parameters, a STATUS without HIGHESTMODSEQ, a SEARCH whose MODSEQ keys
// are keywords of a reserved name (so they nest in OR and NOT as any
// key). The session then does what the command asked, and the view adds
// to go-imap's lines what they lack (condLine): MODSEQ in FETCH
// responses, HIGHESTMODSEQ after SELECT and in STATUS, the MODSEQ of a
// SEARCH's matches, MODIFIED in a conditional STORE's tagged OK.
//
// Once a client has used one of these (or ENABLE CONDSTORE), the
// connection has CONDSTORE enabled: SELECT and EXAMINE say the mailbox's
// HIGHESTMODSEQ, every FETCH response with FLAGS (a flag change of
// another session's included) carries the message's MODSEQ, and so does a
// STORE's response, even a .SILENT one (§3.1.3). Every FETCH response
// then names the message's UID, which lets the view find its
// mod-sequence.

// condCommand is a command using CONDSTORE that go-imap reads without
// it, from the guard to the session and the view.
type condCommand struct {
	tag  string
	name string // FETCH, STORE, SELECT, STATUS or SEARCH ("UID" and EXAMINE folded in)

	modseqItem     bool   // FETCH MODSEQ, or CHANGEDSINCE
	changedSince   uint64 // FETCH (CHANGEDSINCE n), when hasChanged
	hasChanged     bool
	unchangedSince uint64 // STORE (UNCHANGEDSINCE n), when hasUnchanged
	hasUnchanged   bool
	statusModSeq   bool // STATUS (... HIGHESTMODSEQ)
	searchModSeq   bool // SEARCH ... MODSEQ n

	// enables: this command enabled CONDSTORE (RFC 7162 §3.1).
	enables bool

	// QRESYNC (qresync.go): ENABLE's extensions; SELECT's QRESYNC
	// parameter; UID FETCH's VANISHED modifier.
	enableCondstore, enableQresync bool
	qresync                        *qresyncParams
	vanished                       bool

	// Set by the session, for the view (wmu).
	taken    bool
	modified string // STORE: the MODIFIED set
	highest  uint64 // STATUS: HIGHESTMODSEQ; SEARCH: the highest of the matches
	extra    string // SELECT (QRESYNC): the lines before its tagged OK
}

// condWords are the words that make the guard look closer at a line.
var condWords = [][]byte{[]byte("MODSEQ"), []byte("CHANGEDSINCE"), []byte("CONDSTORE"), []byte("QRESYNC")}

// isCondCommand reports whether a command line may use CONDSTORE: one of
// its words, in a command that takes them (f: the line's first words).
func isCondCommand(line []byte, f []string) bool {
	if len(f) > 2 && strings.EqualFold(f[1], "UID") {
		f = f[1:]
	}
	if len(f) < 2 {
		return false
	}
	switch strings.ToUpper(f[1]) {
	case "SELECT", "EXAMINE":
		if bytes.HasSuffix(line, []byte(")")) { // parameters (RFC 4466 §2.1)
			return true
		}
	case "FETCH", "STORE", "STATUS", "SEARCH", "ENABLE":
	default:
		return false
	}
	up := bytes.ToUpper(line)
	for _, w := range condWords {
		if bytes.Contains(up, w) {
			return true
		}
	}
	return false
}

// modseqKeyword is the reserved keyword prefix a SEARCH's MODSEQ key
// becomes for go-imap; only a SEARCH the guard rewrote reads it so.
const modseqKeyword = "MAILHOP.MODSEQ."

// condRewrite reads a command line that may use CONDSTORE and returns the
// line go-imap gets in its place, with what the session must do; cmd is
// nil when the line uses none of it (go-imap gets it as it is). When the
// command is refused, why is the answer after the tag.
func condRewrite(line []byte) (out []byte, cmd *condCommand, why string) {
	toks := tokens(line, 0)
	if len(toks) < 2 || toks[0].paren != 0 {
		return line, nil, ""
	}
	cmd = &condCommand{tag: toks[0].text}
	i := 1
	upper := func(i int) string {
		if i < len(toks) && toks[i].paren == 0 {
			return strings.ToUpper(toks[i].text)
		}
		return ""
	}
	uid := false
	if upper(i) == "UID" {
		uid = true
		i++
	}
	name := upper(i)
	i++
	// cut returns the line without toks[from:to] (and the space before).
	cut := func(from, to int) []byte {
		start := toks[from].start
		for start > 0 && line[start-1] == ' ' {
			start--
		}
		return slices.Concat(line[:start], line[toks[to-1].end:])
	}
	number := func(i int) (uint64, bool) {
		if i >= len(toks) || toks[i].paren != 0 {
			return 0, false
		}
		n, err := strconv.ParseUint(toks[i].text, 10, 63)
		return n, err == nil
	}
	switch name {
	case "ENABLE":
		if uid {
			return line, nil, ""
		}
		for _, t := range toks[i:] {
			switch {
			case t.paren != 0:
			case strings.EqualFold(t.text, "CONDSTORE"):
				cmd.enableCondstore = true
			case strings.EqualFold(t.text, "QRESYNC"):
				cmd.enableQresync = true
			}
		}
		if !cmd.enableCondstore && !cmd.enableQresync {
			return line, nil, ""
		}
		cmd.name = "ENABLE"
		return line, cmd, ""

	case "SELECT", "EXAMINE":
		// tag SELECT mailbox (CONDSTORE)
		if uid || len(toks) < i+2 || toks[i+1].paren != '(' || toks[len(toks)-1].paren != ')' {
			return line, nil, ""
		}
		cmd.name = "SELECT"
		params := toks[i+2 : len(toks)-1]
		for j := 0; j < len(params); j++ {
			switch p := strings.ToUpper(params[j].text); {
			case p == "CONDSTORE" && params[j].paren == 0:
			case p == "QRESYNC" && params[j].paren == 0 && cmd.qresync == nil:
				qr, n, why := parseQresync(params[j+1:])
				if why != "" {
					return nil, nil, "BAD [CLIENTBUG] " + why + " (RFC 7162 §3.2.5)"
				}
				cmd.qresync = qr
				j += n
			default:
				return nil, nil, "BAD [CLIENTBUG] Unknown SELECT parameter: only CONDSTORE and QRESYNC (RFC 7162 §3.1.8, §3.2.5)"
			}
		}
		return cut(i+1, len(toks)), cmd, ""

	case "STATUS":
		// tag STATUS mailbox (items)
		if uid || len(toks) < i+3 || toks[i+1].paren != '(' || toks[len(toks)-1].paren != ')' {
			return line, nil, ""
		}
		cmd.name = "STATUS"
		out = slices.Clone(line)
		for j := len(toks) - 2; j > i+1; j-- {
			if toks[j].paren == 0 && strings.EqualFold(toks[j].text, "HIGHESTMODSEQ") {
				cmd.statusModSeq = true
				start := toks[j].start
				if line[start-1] == ' ' {
					start--
				} else if toks[j+1].paren == 0 && line[toks[j].end] == ' ' {
					toks[j].end++ // the first item: the space after it goes
				}
				out = slices.Concat(out[:start], out[toks[j].end:])
			}
		}
		if !cmd.statusModSeq {
			return line, nil, ""
		}
		return out, cmd, ""

	case "FETCH":
		// tag [UID] FETCH set items [(modifiers)]
		cmd.name = "FETCH"
		if i >= len(toks) {
			return line, nil, ""
		}
		i++ // the set
		itemsFrom := i
		end := skipFetchAtt(toks, i)
		list := i < len(toks) && toks[i].paren == '('
		if list {
			end = i + 1
			for end < len(toks) && toks[end].paren != ')' {
				end = skipFetchAtt(toks, end)
			}
			if end == len(toks) {
				return line, nil, ""
			}
			end++
		}
		// The modifiers, to the end of the line.
		if end < len(toks) {
			if toks[end].paren != '(' || toks[len(toks)-1].paren != ')' {
				return line, nil, ""
			}
			for j := end + 1; j < len(toks)-1; j++ {
				switch strings.ToUpper(toks[j].text) {
				case "CHANGEDSINCE":
					n, ok := number(j + 1)
					if !ok {
						return nil, nil, "BAD [CLIENTBUG] CHANGEDSINCE takes a mod-sequence, a number (RFC 7162 §3.1.4.1)"
					}
					cmd.changedSince, cmd.hasChanged, cmd.modseqItem = n, true, true
					j++
				case "VANISHED":
					if !uid {
						return nil, nil, "BAD [CLIENTBUG] VANISHED is for UID FETCH only (RFC 7162 §3.2.6)"
					}
					cmd.vanished = true
				default:
					return nil, nil, "BAD [CLIENTBUG] Unknown FETCH modifier: only CHANGEDSINCE and VANISHED (RFC 7162 §3.1.4.1, §3.2.6)"
				}
			}
			if !cmd.hasChanged {
				return nil, nil, "BAD [CLIENTBUG] A FETCH modifier list needs CHANGEDSINCE (RFC 7162 §3.1.4.1, §3.2.6)"
			}
		}
		// The MODSEQ item, which go-imap does not know: taken out of the
		// list, or the list made (UID), which every answer has anyway.
		var keep []token
		for j := itemsFrom; j < min(end, len(toks)); j++ {
			if toks[j].paren == 0 && strings.EqualFold(toks[j].text, "MODSEQ") {
				cmd.modseqItem = true
				continue
			}
			keep = append(keep, toks[j])
		}
		if !cmd.modseqItem {
			return line, nil, ""
		}
		var items string
		switch {
		case len(keep) == 0, list && len(keep) == 2:
			items = "(UID)"
		default:
			var b strings.Builder
			for k, t := range keep {
				s := string(line[t.start:t.end])
				if k > 0 && t.paren != ')' && keep[k-1].paren != '(' && line[t.start-1] == ' ' {
					b.WriteByte(' ')
				}
				b.WriteString(s)
			}
			items = b.String()
		}
		start := toks[itemsFrom].start
		return slices.Concat(line[:start], []byte(items)), cmd, ""

	case "STORE":
		// tag [UID] STORE set (UNCHANGEDSINCE n) flags
		cmd.name = "STORE"
		j := i + 1
		if j+3 >= len(toks) || toks[j].paren != '(' || !strings.EqualFold(toks[j+1].text, "UNCHANGEDSINCE") {
			return line, nil, ""
		}
		n, ok := number(j + 2)
		if !ok || toks[j+3].paren != ')' {
			return nil, nil, "BAD [CLIENTBUG] UNCHANGEDSINCE takes a mod-sequence, a number (RFC 7162 §3.1.3)"
		}
		cmd.unchangedSince, cmd.hasUnchanged = n, true
		return cut(j, j+4), cmd, ""

	case "SEARCH":
		// MODSEQ [entry-name entry-type] n, anywhere a search key may be
		// (not as the argument of another key).
		cmd.name = "SEARCH"
		out = slices.Clone(line)
		for j := len(toks) - 1; j >= i; j-- {
			if toks[j].paren != 0 || !strings.EqualFold(toks[j].text, "MODSEQ") || takesArgument(toks, j) {
				continue
			}
			k := j + 1
			if k+2 < len(toks) && line[toks[k].start] == '"' {
				switch strings.ToLower(upper(k + 1)) {
				case "priv", "shared", "all":
					k += 2
				default:
					return nil, nil, "BAD [CLIENTBUG] MODSEQ's entry type is priv, shared or all (RFC 7162 §3.1.5)"
				}
			}
			n, ok := number(k)
			if !ok {
				return nil, nil, "BAD [CLIENTBUG] MODSEQ takes a mod-sequence, a number (RFC 7162 §3.1.5)"
			}
			cmd.searchModSeq = true
			key := fmt.Sprintf("KEYWORD %s%d", modseqKeyword, n)
			out = slices.Concat(out[:toks[j].start], []byte(key), out[toks[k].end:])
		}
		if !cmd.searchModSeq {
			return line, nil, ""
		}
		return out, cmd, ""
	}
	return line, nil, ""
}

// skipFetchAtt returns the index after the fetch item at toks[i]: one
// token, or one whose brackets hold parentheses ("BODY[HEADER.FIELDS
// (FROM)]").
func skipFetchAtt(toks []token, i int) int {
	depth := 0
	for ; i < len(toks); i++ {
		if toks[i].paren == 0 {
			depth += strings.Count(toks[i].text, "[") - strings.Count(toks[i].text, "]")
		}
		if depth <= 0 {
			return i + 1
		}
	}
	return i
}

// takesArgument reports whether the SEARCH key before toks[j] takes it
// as its argument (SUBJECT MODSEQ), or HEADER as its field or value.
func takesArgument(toks []token, j int) bool {
	prev := func(k int) string {
		if k >= 0 && toks[k].paren == 0 {
			return strings.ToUpper(toks[k].text)
		}
		return ""
	}
	switch prev(j - 1) {
	case "BCC", "BODY", "CC", "FROM", "KEYWORD", "SUBJECT", "TEXT", "TO", "UNKEYWORD", "HEADER",
		"LARGER", "SMALLER", "SINCE", "BEFORE", "ON", "SENTSINCE", "SENTBEFORE", "SENTON", "UID", "CHARSET":
		return true
	}
	return prev(j-2) == "HEADER"
}

// modseqKey reads a keyword the guard made of a SEARCH's MODSEQ key.
func modseqKey(f string) (uint64, bool) {
	if len(f) <= len(modseqKeyword) || !strings.EqualFold(f[:len(modseqKeyword)], modseqKeyword) {
		return 0, false
	}
	n, err := strconv.ParseUint(f[len(modseqKeyword):], 10, 64)
	return n, err == nil
}

// expectCond notes the CONDSTORE command go-imap reads next, and enables
// CONDSTORE; it refuses (the answer after the tag) a use of QRESYNC
// before ENABLE QRESYNC (RFC 7162 §3.2.3). wmu.
func (c *clientConn) expectCond(cmd *condCommand) (why string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if (cmd.qresync != nil || cmd.vanished) && !c.qresync {
		return "BAD [CLIENTBUG] QRESYNC is not enabled: ENABLE QRESYNC first (RFC 7162 §3.2.3)"
	}
	if cmd.name == "ENABLE" {
		c.enabling = cmd // enabled when go-imap says ENABLED
		return ""
	}
	cmd.enables = !c.condstore
	c.condstore = true
	c.cond = cmd
	return ""
}

// takeCond returns the CONDSTORE command go-imap is running, if it is
// named name, once.
func (c *clientConn) takeCond(name string) *condCommand {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	cmd := c.cond
	if cmd == nil || cmd.taken || cmd.name != name {
		return nil
	}
	cmd.taken = true
	return cmd
}

// condstoreOn reports whether the connection has CONDSTORE enabled.
func (c *clientConn) condstoreOn() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.condstore
}

// withModSeq sets whether every FETCH response written until it is
// called again gets a MODSEQ (a FETCH that asked for it, a STORE), not
// only those with FLAGS.
func (c *clientConn) withModSeq(on bool) {
	c.wmu.Lock()
	c.modseqAll = on
	c.wmu.Unlock()
}

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

// announceHighest writes the selected mailbox's HIGHESTMODSEQ when cmd
// enabled CONDSTORE (RFC 7162 §3.1: the first enabling command while a
// mailbox is selected).
func (s *session) announceHighest(cmd *condCommand) error {
	if cmd == nil || !cmd.enables || s.sel == nil {
		return nil
	}
	st, err := s.srv.Store.Status(s.user, s.sel.mb.key.name)
	if err != nil {
		return nil // the command itself says what is wrong
	}
	_, err = s.gv.Write([]byte(highestLine(st.HighestModSeq)))
	return err
}

func highestLine(n uint64) string {
	return fmt.Sprintf("* OK [HIGHESTMODSEQ %d] Highest\r\n", n)
}

// condLine adds to a line go-imap writes what CONDSTORE needs of it; wmu
// held. line is a whole line, or the start of one that a literal ends.
func (c *clientConn) condLine(line []byte) []byte {
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
