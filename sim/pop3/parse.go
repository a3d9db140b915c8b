package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// command is one command line, parsed (RFC 1939 §3: a keyword of three or
// four characters, then arguments separated by a space).
type command struct {
	Name string   // the keyword in upper case
	Args []string // the arguments, split at spaces
	// Rest is everything after the keyword and the space that follows it,
	// untouched: PASS takes it whole, as a password may hold spaces
	// (RFC 1939 §7).
	Rest string
}

// maxKeyword bounds a keyword: RFC 1939 keywords have 3 or 4 characters,
// extensions (RFC 2449 §3) may be longer.
const maxKeyword = 16

// parseCommand parses a command line without its line ending. Its errors
// are meant for the client: "-ERR " + err.Error().
func parseCommand(line []byte) (command, error) {
	if len(line) == 0 || len(bytes.TrimLeft(line, " \t")) == 0 {
		return command{}, errors.New("empty command line")
	}
	for _, b := range line {
		switch {
		case b == 0:
			return command{}, errors.New("the line holds a NUL byte")
		case b == '\t':
		case b < 0x20 || b == 0x7f:
			return command{}, fmt.Errorf("the line holds a control character (0x%02x)", b)
		}
	}
	name, rest := line, []byte(nil)
	if i := bytes.IndexAny(line, " \t"); i >= 0 {
		name, rest = line[:i], line[i+1:]
	}
	if len(name) == 0 || len(name) > maxKeyword {
		return command{}, fmt.Errorf("unknown command %s", quote(name))
	}
	for _, b := range name {
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z') {
			return command{}, fmt.Errorf("unknown command %s", quote(name))
		}
	}
	cmd := command{Name: keyword(name), Rest: string(rest)}
	cmd.Args = strings.FieldsFunc(cmd.Rest, func(r rune) bool { return r == ' ' || r == '\t' })
	return cmd, nil
}

// keywords are the commands the server knows, so that parsing one does
// not allocate its name.
var keywords = [...]string{"USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "QUIT",
	"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL"}

// keyword returns name in upper case.
func keyword(name []byte) string {
	for _, k := range keywords {
		if len(k) == len(name) && equalFoldASCII(name, k) {
			return k
		}
	}
	return strings.ToUpper(string(name))
}

func equalFoldASCII(b []byte, s string) bool {
	for i := range b {
		if b[i]|0x20 != s[i]|0x20 {
			return false
		}
	}
	return true
}

// quote shows client input in a reply: quoted, printable ASCII only, and
// short, so that nothing a client sends can break or bloat a reply line.
func quote(b []byte) string {
	const limit = 40
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range b {
		if sb.Len() > limit {
			sb.WriteString("…")
			break
		}
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			fmt.Fprintf(&sb, "\\x%02x", c)
			continue
		}
		sb.WriteByte(c)
	}
	sb.WriteByte('"')
	return sb.String()
}

// parseNumber reads a message number (RFC 1939 §3: a decimal number,
// 1 to the number of messages).
func parseNumber(s string) (int, error) {
	if s == "" || len(s) > 10 {
		return 0, fmt.Errorf("invalid message number %s", quote([]byte(s)))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("invalid message number %s", quote([]byte(s)))
		}
	}
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("invalid message number %s", quote([]byte(s)))
	}
	return int(n), nil
}

// errLineTooLong is returned by readLine for a line over the limit; the
// line has been read and thrown away.
var errLineTooLong = errors.New("line too long")

// readLine reads one line of at most limit octets (line ending included)
// and returns it without its CRLF (or bare LF). A longer line is consumed
// to its end and reported as errLineTooLong, so the session can answer
// and go on. buf is reused for the result.
func readLine(r *bufio.Reader, limit int, buf []byte) ([]byte, error) {
	buf = buf[:0]
	n := 0
	tooLong := false
	for {
		frag, err := r.ReadSlice('\n')
		n += len(frag)
		if n > limit {
			tooLong = true
		}
		if !tooLong {
			buf = append(buf, frag...)
		}
		switch err {
		case nil:
			if tooLong {
				return buf, errLineTooLong
			}
			buf = buf[:len(buf)-1] // LF
			if len(buf) > 0 && buf[len(buf)-1] == '\r' {
				buf = buf[:len(buf)-1]
			}
			return buf, nil
		case bufio.ErrBufferFull:
			continue
		default:
			return buf, err
		}
	}
}
