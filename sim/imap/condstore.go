package imap

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
// to go-imap's lines what they lack (amend.go): MODSEQ in FETCH
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
var condWords = []string{"MODSEQ", "CHANGEDSINCE", "CONDSTORE", "QRESYNC"}

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
	for _, w := range condWords {
		if containsFold(line, w) { // no copy of a line of up to 48 KiB
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
