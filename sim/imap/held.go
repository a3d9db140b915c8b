package imap

import (
	"encoding/base64"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The commands the guard answers itself, at a command boundary (see
// clientConn.answerHeld): go-imap has no hook for them, or would answer
// them wrong.
type heldKind int

const (
	heldNone heldKind = iota
	// STARTTLS: the server owns the transport (transport.go).
	heldStartTLS
	// ID (RFC 2971): unknown to go-imap, which before login would end
	// the connection.
	heldID
	// A command with a mailbox name or LIST pattern that is not valid
	// modified UTF-7 (go-imap decodes names before the session sees
	// them, and answers a failure NO [SERVERBUG]), or that holds raw
	// 8-bit characters (go-imap takes them as UTF-8 from any client).
	// Whether 8-bit names are allowed depends on an ENABLE the client
	// may have sent just before, so the guard decides at the command
	// boundary (see nameCommand).
	heldName
	// GETQUOTAROOT, GETQUOTA and SETQUOTA (RFC 9208): unknown to go-imap
	// (see quota.go).
	heldQuota
	// SORT and THREAD (RFC 5256): go-imap reads them as a SEARCH (see
	// sortcmd.go).
	heldSort
	// A command using CONDSTORE (RFC 7162): go-imap reads it without
	// (see condstore.go).
	heldCond
)

// The refusals of a mailbox name go-imap would mishandle.
const (
	badNameReply  = "NO [CANNOT] Invalid mailbox name: not valid modified UTF-7 (RFC 3501 §5.1.3)"
	eightBitReply = "NO [CANNOT] Mailbox names are 7-bit: write non-ASCII characters in modified UTF-7 (Caf&AOk- for Café), or ENABLE UTF8=ACCEPT first (RFC 3501 §5.1, RFC 6855 §3)"
)

// heldCommand says whether the guard answers a command line itself, or
// decides at the command boundary what go-imap gets of it.
func heldCommand(line []byte) heldKind {
	f := fields(line[:min(len(line), 200)], 3)
	if len(f) < 2 {
		return heldNone
	}
	switch strings.ToUpper(f[1]) {
	case "STARTTLS":
		return heldStartTLS
	case "ID":
		return heldID
	case "GETQUOTAROOT", "GETQUOTA", "SETQUOTA":
		return heldQuota
	}
	if isSortCommand(f) {
		return heldSort
	}
	if isCondCommand(line, f) {
		return heldCond
	}
	if badNames(line) {
		return heldName
	}
	return heldNone
}

// badNames reports whether a command line has a mailbox name or pattern
// go-imap would mishandle (see heldName).
func badNames(line []byte) bool {
	for _, a := range nameArgs(line) {
		if !validMUTF7(a.text) || !isASCII(a.text) {
			return true
		}
	}
	return false
}

// nameCommand decides, at the command boundary, the fate of a command
// line with a mailbox name or pattern go-imap would mishandle (heldName):
// utf8Names tells whether the client enabled UTF8=ACCEPT or IMAP4rev2, which
// allow raw UTF-8 names (RFC 6855 §3, RFC 9051 §5.1); without, mailbox
// names are 7-bit (RFC 3501 §5.1). It returns the line go-imap gets
// (the same, or a LIST without the patterns dropped), or the answer
// after the tag when the guard answers the command itself.
//
// A name that is not valid is refused, NO [CANNOT]. A LIST or LSUB
// pattern (or reference) that is not valid can match no mailbox: it is
// dropped, as Dovecot does, and a LIST left with no pattern is answered
// OK with no match.
func nameCommand(line []byte, utf8Names bool) ([]byte, string) {
	valid := func(s string) bool { return validMUTF7(s) && (utf8Names || isASCII(s)) }
	args := nameArgs(line)
	if cmd, _ := commandName(line); cmd == "LIST" || cmd == "LSUB" {
		var drop []nameArg
		kept := 0
		for _, a := range args {
			switch {
			case a.ref && !valid(a.text):
				return nil, "OK " + cmd + " completed"
			case a.ref:
			case !valid(a.text):
				drop = append(drop, a)
			default:
				kept++
			}
		}
		if len(drop) == 0 {
			return line, ""
		}
		if _, _, more := literalAt(line); kept == 0 && !more {
			return nil, "OK " + cmd + " completed"
		}
		return cutArgs(line, drop), ""
	}
	for _, a := range args {
		switch {
		case valid(a.text):
		case !utf8Names && !isASCII(a.text) && validMUTF7(a.text):
			return nil, eightBitReply
		default:
			return nil, badNameReply
		}
	}
	return line, ""
}

// cutArgs removes arguments (patterns of a parenthesised list, in
// order) from a command line, each with the space that separated it.
func cutArgs(line []byte, drop []nameArg) []byte {
	out := append([]byte(nil), line...)
	for i := len(drop) - 1; i >= 0; i-- {
		start, end := drop[i].start, drop[i].end
		switch {
		case start > 0 && out[start-1] == ' ' && start > 1 && out[start-2] != '(':
			start--
		case end < len(out) && out[end] == ' ':
			end++
		}
		out = append(out[:start], out[end:]...)
	}
	return out
}

// isASCII reports whether s is 7-bit.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// idReply is the answer to ID (RFC 2971 §3.1): the server's name, for
// any well-formed list of the client's (NIL or a parenthesised list).
func idReply(tag string, line []byte) string {
	f := strings.Fields(string(line))
	arg := strings.TrimSpace(strings.Join(f[2:], " "))
	if !strings.EqualFold(arg, "NIL") && (len(arg) < 2 || arg[0] != '(' || arg[len(arg)-1] != ')') {
		return tag + " BAD [CLIENTBUG] ID takes NIL or a parenthesised list of field and value strings (RFC 2971 §3.1)\r\n"
	}
	return "* ID (\"name\" \"mailhop\")\r\n" + tag + " OK ID completed\r\n"
}

// token is an argument of a command line: an atom, a quoted string
// (unquoted) or a parenthesis, and where it is in the line.
type token struct {
	text       string
	paren      byte // '(' or ')', or 0
	start, end int  // line[start:end] is the token as written
}

// tokens splits the arguments of a command line, up to a literal (whose
// content the guard does not read here), or up to limit tokens when
// limit is more than 0: the rest of the line is not looked at.
func tokens(line []byte, limit int) []token {
	out := make([]token, 0, max(limit, 4))
	for i := 0; i < len(line) && (limit <= 0 || len(out) < limit); {
		switch c := line[i]; {
		case c == ' ':
			i++
		case c == '(' || c == ')':
			out = append(out, token{paren: c, start: i, end: i + 1})
			i++
		case c == '{' || c == '~' && i+1 < len(line) && line[i+1] == '{':
			return out
		case c == '"':
			start := i
			var b strings.Builder
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				b.WriteByte(line[i])
			}
			i = min(i+1, len(line))
			out = append(out, token{text: b.String(), start: start, end: i})
		default:
			j := i
			for j < len(line) && line[j] != ' ' && line[j] != '(' && line[j] != ')' && line[j] != '"' {
				j++
			}
			out = append(out, token{text: string(line[i:j]), start: i, end: j})
			i = j
		}
	}
	return out
}

// commandName is the name of the command of a line, in upper case, after
// UID: "LIST", "COPY". uid tells whether UID came first.
func commandName(line []byte) (name string, uid bool) {
	t := tokens(line, 3)
	if len(t) < 2 {
		return "", false
	}
	name = strings.ToUpper(t[1].text)
	if name == "UID" && len(t) > 2 {
		return strings.ToUpper(t[2].text), true
	}
	return name, false
}

// nameArg is a mailbox name, LIST reference or LIST pattern of a command
// line.
type nameArg struct {
	token
	ref bool // a LIST or LSUB reference
}

// nameArgs returns the mailbox names, LIST references and LIST patterns
// of a command line, as go-imap will decode them, as far as the line
// holds them.
func nameArgs(line []byte) []nameArg {
	// Where the names are among the arguments, from the command's name:
	// the line of a command without one (most) is read no further.
	name, uid := commandName(line)
	var refs, names []int
	switch name {
	case "SELECT", "EXAMINE", "CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "STATUS", "APPEND":
		names = []int{0}
	case "RENAME":
		names = []int{0, 1}
	case "LSUB":
		refs, names = []int{0}, []int{1}
	case "COPY", "MOVE":
		names = []int{1}
	case "LIST": // below
	default:
		return nil
	}
	args := tokens(line, 0)[2:]
	if uid {
		args = args[1:]
	}
	var out []nameArg
	at := func(ref bool, idx ...int) {
		for _, i := range idx {
			if i < len(args) && args[i].paren == 0 {
				out = append(out, nameArg{args[i], ref})
			}
		}
	}
	if name != "LIST" {
		at(true, refs...)
		at(false, names...)
		return out
	}
	i := 0
	if i < len(args) && args[i].paren == '(' { // selection options
		for i < len(args) && args[i].paren != ')' {
			i++
		}
		i++
	}
	at(true, i) // the reference
	i++
	if i < len(args) && args[i].paren == '(' { // patterns
		for i++; i < len(args) && args[i].paren != ')'; i++ {
			at(false, i)
		}
	} else {
		at(false, i)
	}
	return out
}

// mutf7 is modified BASE64 (RFC 3501 §5.1.3: "," for "/", no padding).
var mutf7 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding).Strict()

// validMUTF7 reports whether a mailbox name is valid modified UTF-7
// (RFC 3501 §5.1.3), or UTF-8 (RFC 9051 §5.1): printable US-ASCII stands
// for itself, "&-" for "&", and "&" opens a shift of modified BASE64 of
// UTF-16 that "-" closes; a shift may not encode printable US-ASCII nor
// follow another shift at once.
func validMUTF7(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	lastShift := -1 // where the last shift ended
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			continue
		case c < 0x20 || c == 0x7f:
			return false
		case c != '&':
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return false
		}
		b64 := s[i+1 : i+1+end]
		if b64 == "" { // "&-"
			i++
			continue
		}
		if lastShift == i {
			return false
		}
		if !validShift(b64) {
			return false
		}
		i += 1 + end
		lastShift = i + 1
	}
	return true
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

// validShift checks the modified BASE64 of a shift: whole UTF-16 code
// units, surrogates in pairs, nothing printable US-ASCII.
func validShift(b64 string) bool {
	b, err := mutf7.DecodeString(b64)
	if err != nil || len(b)%2 != 0 {
		return false
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	for i := 0; i < len(units); i++ {
		u := rune(units[i])
		switch {
		case utf16.IsSurrogate(u):
			if i+1 == len(units) || utf16.DecodeRune(u, rune(units[i+1])) == utf8.RuneError {
				return false
			}
			i++
		case u >= 0x20 && u <= 0x7e:
			return false
		}
	}
	return true
}
