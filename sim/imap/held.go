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
	// A command whose mailbox name (or LIST pattern) is not valid
	// modified UTF-7: go-imap decodes names before the session sees
	// them and answers a failure NO [SERVERBUG].
	heldBadName
)

// badNameReply refuses a mailbox name go-imap can not decode.
const badNameReply = "NO [CANNOT] Invalid mailbox name: not valid modified UTF-7 (RFC 3501 §5.1.3)"

// heldCommand says whether the guard answers a command line itself.
func heldCommand(line []byte) (heldKind, string) {
	f := strings.Fields(string(line[:min(len(line), 200)]))
	if len(f) < 2 {
		return heldNone, ""
	}
	switch strings.ToUpper(f[1]) {
	case "STARTTLS":
		return heldStartTLS, ""
	case "ID":
		return heldID, ""
	}
	for _, name := range mailboxArgs(line) {
		if !validMUTF7(name) {
			return heldBadName, badNameReply
		}
	}
	return heldNone, ""
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
// (unquoted) or a parenthesis.
type token struct {
	text  string
	paren byte // '(' or ')', or 0
}

// tokens splits the arguments of a command line, up to a literal (whose
// content the guard does not read here).
func tokens(line []byte) []token {
	var out []token
	s := string(line)
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ':
			i++
		case c == '(' || c == ')':
			out = append(out, token{paren: c})
			i++
		case c == '{' || c == '~' && i+1 < len(s) && s[i+1] == '{':
			return out
		case c == '"':
			var b strings.Builder
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			i++
			out = append(out, token{text: b.String()})
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '(' && s[j] != ')' && s[j] != '"' {
				j++
			}
			out = append(out, token{text: s[i:j]})
			i = j
		}
	}
	return out
}

// mailboxArgs returns the mailbox names and LIST patterns of a command
// line, as go-imap will decode them, as far as the line holds them.
func mailboxArgs(line []byte) []string {
	t := tokens(line)
	if len(t) < 2 {
		return nil
	}
	name := strings.ToUpper(t[1].text)
	args := t[2:]
	if name == "UID" && len(args) > 0 {
		name, args = strings.ToUpper(args[0].text), args[1:]
	}
	at := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			if i < len(args) && args[i].paren == 0 {
				out = append(out, args[i].text)
			}
		}
		return out
	}
	switch name {
	case "SELECT", "EXAMINE", "CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "STATUS", "APPEND":
		return at(0)
	case "RENAME", "LSUB":
		return at(0, 1)
	case "COPY", "MOVE":
		return at(1)
	case "LIST":
		i := 0
		if i < len(args) && args[i].paren == '(' { // selection options
			for i < len(args) && args[i].paren != ')' {
				i++
			}
			i++
		}
		out := at(i) // the reference
		i++
		if i < len(args) && args[i].paren == '(' { // patterns
			for i++; i < len(args) && args[i].paren != ')'; i++ {
				out = append(out, at(i)...)
			}
			return out
		}
		return append(out, at(i)...)
	}
	return nil
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
