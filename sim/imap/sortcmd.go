package imap

import (
	"bytes"
	"strings"
)

// SORT and THREAD (RFC 5256) and ESORT (RFC 5267) are unknown to go-imap,
// which has no hook for a new command, and its search-key parser is
// unexported. So the guard holds a SORT or THREAD line until go-imap has
// answered every command before it (like ID and STARTTLS), reads what
// comes before the search keys (sort criteria or algorithm, RETURN
// options, charset), and gives go-imap in its place a SEARCH with the same
// keys: go-imap parses them (literals included, bounded like any SEARCH),
// checks that a mailbox is selected, and calls the session's Search,
// which finds the command waiting (clientConn.sorting), matches the keys
// as SEARCH does, writes the SORT, THREAD or ESEARCH response itself and
// has go-imap's own SEARCH response dropped. go-imap then sends the
// pending updates as it does after a SEARCH (no EXPUNGE after a SORT or
// THREAD by sequence numbers, RFC 9051 §7.5.1) and the tagged OK, whose
// text the view renames.

// sortCommand is a SORT, UID SORT, THREAD or UID THREAD go-imap is
// reading as a SEARCH.
type sortCommand struct {
	tag    string
	uid    bool
	thread string    // the THREAD algorithm; "" for SORT
	keys   []sortKey // SORT's criteria
	esort  bool      // SORT RETURN (...): answered with ESEARCH (RFC 5267 §3)
	ret    sortReturn
	taken  bool // Search took it
}

// sortReturn is the RETURN options of an ESORT.
type sortReturn struct{ min, max, all, count, save bool }

// name is the command's name as its tagged OK says it.
func (c *sortCommand) name() string {
	n := "SORT"
	if c.thread != "" {
		n = "THREAD"
	}
	if c.uid {
		n = "UID " + n
	}
	return n
}

// sortField is what a SORT criterion compares (RFC 5256 §3, RFC 5957).
type sortField int

const (
	sortArrival sortField = iota
	sortCc
	sortDate
	sortFrom
	sortSize
	sortSubject
	sortTo
	sortDisplayFrom
	sortDisplayTo
)

var sortFields = map[string]sortField{
	"ARRIVAL": sortArrival, "CC": sortCc, "DATE": sortDate, "FROM": sortFrom, "SIZE": sortSize,
	"SUBJECT": sortSubject, "TO": sortTo, "DISPLAYFROM": sortDisplayFrom, "DISPLAYTO": sortDisplayTo,
}

type sortKey struct {
	field   sortField
	reverse bool
}

// The THREAD algorithms (RFC 5256 §3).
const (
	threadOrderedSubject = "ORDEREDSUBJECT"
	threadReferences     = "REFERENCES"
)

// sortCapabilities are advertised after login, with the other extensions
// go-imap lists then.
var sortCapabilities = []string{"SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"}

// badCharsetReply refuses a charset other than UTF-8 and US-ASCII, listing
// those (RFC 5256 §3, RFC 9051 §7.1 BADCHARSET).
const badCharsetReply = "NO [BADCHARSET (UTF-8 US-ASCII)] Only UTF-8 and US-ASCII are supported"

// isSortCommand reports whether the first words of a command line are a
// SORT or THREAD command's: tag, [UID], name.
func isSortCommand(f []string) bool {
	if len(f) > 2 && strings.EqualFold(f[1], "UID") {
		f = f[1:]
	}
	return len(f) > 1 && (strings.EqualFold(f[1], "SORT") || strings.EqualFold(f[1], "THREAD"))
}

// sortSearch reads the line of a SORT or THREAD command up to its search
// keys and returns the SEARCH line go-imap gets in its place, with the
// same keys (and the rest of the command, literals included). When the
// command is refused, why is the answer after the tag.
func sortSearch(line []byte) (search []byte, cmd *sortCommand, why string) {
	toks := tokens(line, 0)
	at := func(i int) string {
		if i < len(toks) && toks[i].paren == 0 {
			return strings.ToUpper(toks[i].text)
		}
		return ""
	}
	isParen := func(i int, p byte) bool { return i < len(toks) && toks[i].paren == p }
	if len(toks) < 2 {
		return nil, nil, "BAD [CLIENTBUG] Syntax error"
	}
	cmd = &sortCommand{tag: toks[0].text}
	i := 1
	if at(i) == "UID" {
		cmd.uid = true
		i++
	}
	name := at(i)
	i++
	switch name {
	case "SORT", "THREAD":
	default:
		return nil, nil, "BAD [CLIENTBUG] Syntax error"
	}
	if name == "THREAD" {
		switch alg := at(i); alg {
		case threadOrderedSubject, threadReferences:
			cmd.thread = alg
			i++
		default:
			return nil, nil, "BAD [CLIENTBUG] THREAD takes an algorithm: ORDEREDSUBJECT or REFERENCES (RFC 5256 §3)"
		}
	} else {
		if at(i) == "RETURN" {
			cmd.esort = true
			if i++; !isParen(i, '(') {
				return nil, nil, "BAD [CLIENTBUG] RETURN takes a parenthesised list of MIN, MAX, ALL, COUNT and SAVE (RFC 5267 §3)"
			}
			for i++; !isParen(i, ')'); i++ {
				switch at(i) {
				case "MIN":
					cmd.ret.min = true
				case "MAX":
					cmd.ret.max = true
				case "ALL":
					cmd.ret.all = true
				case "COUNT":
					cmd.ret.count = true
				case "SAVE":
					cmd.ret.save = true
				default:
					return nil, nil, "BAD [CLIENTBUG] RETURN takes a parenthesised list of MIN, MAX, ALL, COUNT and SAVE (RFC 5267 §3)"
				}
			}
			i++
			if cmd.ret == (sortReturn{}) {
				cmd.ret.all = true // RFC 4731 §3.1: RETURN () is ALL
			}
		}
		if !isParen(i, '(') {
			return nil, nil, "BAD [CLIENTBUG] SORT takes a parenthesised list of sort criteria, then a charset and search keys: SORT (DATE) UTF-8 ALL (RFC 5256 §3)"
		}
		for i++; !isParen(i, ')'); i++ {
			key := sortKey{}
			if at(i) == "REVERSE" {
				key.reverse = true
				i++
			}
			f, ok := sortFields[at(i)]
			if !ok {
				return nil, nil, "BAD [CLIENTBUG] Unknown sort criterion: ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, DISPLAYFROM and DISPLAYTO may follow REVERSE (RFC 5256 §3, RFC 5957)"
			}
			key.field = f
			cmd.keys = append(cmd.keys, key)
		}
		i++
		if len(cmd.keys) == 0 {
			return nil, nil, "BAD [CLIENTBUG] SORT needs at least one sort criterion (RFC 5256 §3)"
		}
	}
	charset := at(i)
	if charset == "" {
		return nil, nil, "BAD [CLIENTBUG] " + name + " takes a charset (UTF-8) before its search keys, as an atom or quoted string (RFC 5256 §3)"
	}
	if charset != "UTF-8" && charset != "US-ASCII" {
		return nil, nil, badCharsetReply
	}
	rest := line[toks[i].end:]
	if len(bytes.TrimSpace(rest)) == 0 || rest[0] != ' ' {
		return nil, nil, "BAD [CLIENTBUG] " + name + " needs search keys after the charset: ALL for every message (RFC 5256 §3)"
	}
	search = append(search, toks[0].text...)
	if cmd.uid {
		search = append(search, " UID"...)
	}
	search = append(search, " SEARCH"...)
	if cmd.ret.save {
		search = append(search, " RETURN (SAVE)"...) // go-imap's Search keeps the result for "$"
	}
	search = append(search, " CHARSET "+charset...)
	return append(search, rest...), cmd, ""
}

// expectSort notes the SORT or THREAD command go-imap is about to read as
// a SEARCH.
func (c *clientConn) expectSort(cmd *sortCommand) {
	c.wmu.Lock()
	c.sorting = cmd
	c.wmu.Unlock()
}

// takeSort returns the SORT or THREAD command that go-imap's SEARCH
// stands for, if any, once.
func (c *clientConn) takeSort() *sortCommand {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	cmd := c.sorting
	if cmd == nil || cmd.taken {
		return nil
	}
	cmd.taken = true
	return cmd
}

// answerSort writes the response of a SORT or THREAD command in place of
// the SEARCH response go-imap writes next, which is dropped.
func (v *view) answerSort(resp string) error {
	c := v.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if v.retired.Load() {
		return nil
	}
	if resp != "" {
		if _, err := c.current().Write([]byte(resp)); err != nil {
			return err
		}
	}
	v.dropLine = true
	return nil
}

// sorted renames the tagged OK of the SEARCH that stood for a SORT or
// THREAD command, which it ends; other lines pass as they are. wmu held.
func (c *clientConn) sorted(line []byte) []byte {
	cmd := c.sorting
	if cmd == nil || !bytes.HasPrefix(line, []byte(cmd.tag+" ")) {
		return line
	}
	c.sorting = nil
	search := "SEARCH completed\r\n"
	if cmd.uid {
		search = "UID " + search
	}
	if rest := line[len(cmd.tag)+1:]; string(rest) == "OK "+search {
		return []byte(cmd.tag + " OK " + cmd.name() + " completed\r\n")
	}
	return line
}
