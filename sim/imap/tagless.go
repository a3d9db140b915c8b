package imap

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A learner's first IMAP command is often typed without a tag: "LOGIN
// bob bob". go-imap takes "LOGIN" for the tag and "bob" for an unknown
// command, and before login it then says BYE and closes (its defence
// against cross-protocol attacks: an HTTP request sent to port 143). The
// guard reads the client's (decrypted) bytes before go-imap does: a
// command line that starts with an IMAP command's name and has no tag
// gets an untagged BAD that says how a command is written (RFC 9051
// §2.2.1), and the connection stays open. Anything else, an HTTP request
// included, goes to go-imap as it came; a literal's content is never
// looked inside. It also keeps from go-imap what go-imap mishandles (see
// sift): a command longer than maxCommandLine, a literal go-imap would
// neither accept nor refuse, an APPEND literal over APPENDLIMIT sent
// without waiting, a SEARCH that nests too deep to parse; and it answers
// itself, in turn with go-imap, STARTTLS (see transport.go), ID and a
// mailbox name go-imap would mishandle (see held.go), whose LIST it may
// pass on without the patterns that can match nothing, and SORT and
// THREAD, which go-imap reads as a SEARCH (see sortcmd.go).

// taglessReply is the answer to a command without a tag.
const taglessReply = "* BAD Every IMAP command starts with a tag of your choice, then the command: try \"a1 LOGIN user password\" (RFC 9051 §2.2.1)\r\n"

// imapCommands are the names a tagless line may start with.
var imapCommands = map[string]bool{
	"CAPABILITY": true, "NOOP": true, "LOGOUT": true, "STARTTLS": true, "AUTHENTICATE": true, "LOGIN": true,
	"ENABLE": true, "ID": true, "SELECT": true, "EXAMINE": true, "CREATE": true, "DELETE": true, "RENAME": true,
	"SUBSCRIBE": true, "UNSUBSCRIBE": true, "LIST": true, "LSUB": true, "NAMESPACE": true, "STATUS": true,
	"APPEND": true, "IDLE": true, "CHECK": true, "CLOSE": true, "UNSELECT": true, "EXPUNGE": true, "SEARCH": true,
	"FETCH": true, "STORE": true, "COPY": true, "MOVE": true, "UID": true, "SORT": true, "THREAD": true,
}

// isTagless reports whether a command line starts with a command's name
// where its tag should be: "LOGIN bob bob", "CAPABILITY". A line whose
// second word is a command ("LOGIN LOGIN bob bob") has a tag, if an odd
// one.
func isTagless(line []byte) bool {
	f := fields(line, 2)
	if len(f) == 0 || !imapCommands[strings.ToUpper(f[0])] {
		return false
	}
	return len(f) == 1 || !imapCommands[strings.ToUpper(f[1])]
}

// guard is the state of the reading of one connection's commands.
type guard struct {
	say func(string) error // writes a line to the client
	err error              // say failed: the connection is broken

	appendLimit int // APPENDLIMIT (0: none)

	// appends are the APPEND message literals passed to go-imap, which
	// tells the session the size of each but not whether it was a
	// literal8 (RFC 3516 §4.4: "~{n}", which may hold NUL); the session
	// takes them in order (clientConn.appendBinary).
	appends []appendLiteral

	rbuf    []byte // what the client's bytes are read into
	in      []byte // read from the client, not yet looked at
	out     []byte // looked at, for go-imap to read
	literal int    // bytes of a literal still to pass on
	skip    int    // bytes of a refused literal still to drop

	// held: in starts with a command line the guard answers itself
	// (STARTTLS, ID) or decides on (a mailbox name go-imap would
	// mishandle), once go-imap has read all that came before; pass: the
	// line at the start of in was decided on, and goes to go-imap.
	held heldKind
	pass bool

	// The command being read: inCmd after a literal of it went to
	// go-imap (which then holds its beginning), tag and name from its
	// first line, size its bytes outside literals, nest its SEARCH
	// keys that nest (OR, NOT and parentheses).
	inCmd bool
	tag   string
	name  string
	size  int
	nest  int

	// awaitPlus: a synchronising literal of pending bytes was announced;
	// its data comes only if go-imap answered "+" (else the command is
	// over).
	awaitPlus bool
	pending   int

	dropping bool // dropping the rest of a line too long
	rest     bool // dropping the rest of a refused command (after a literal)

	// APPEND: the mailbox as written on its first line (not when a
	// literal) and its name; afterMessage: the last literal passed on was
	// a message, so what follows it on the line is another message
	// (MULTIAPPEND) or nothing. multiAppend registers one more message
	// of a MULTIAPPEND, and reports whether it can be taken, or else why
	// the guard refuses the command; refuseAppend makes a refusal the
	// answer of an APPEND whose messages go-imap stores and answers.
	box, boxName string
	afterMessage bool
	multiAppend  func(tag, box string) (ok bool, why string)
	refuseAppend func(tag, box, why string) bool
}

// sift moves what it can from in to out, answering tagless lines and
// refusing what go-imap would mishandle; it reports whether it moved
// anything.
func (c *guard) sift() bool {
	moved := false
	for len(c.in) > 0 && c.held == heldNone && !c.awaitPlus {
		if c.literal > 0 {
			n := min(c.literal, len(c.in))
			c.out, c.in = append(c.out, c.in[:n]...), c.in[n:]
			c.literal -= n
			moved = true
			continue
		}
		if c.skip > 0 {
			n := min(c.skip, len(c.in))
			c.in = c.in[n:]
			c.skip -= n
			continue
		}
		i := bytes.IndexByte(c.in, '\n')
		if c.rest {
			if i < 0 {
				if n := len(c.in); n > 64 {
					c.in = append(c.in[:0], c.in[n-32:]...) // may hold a literal's {n+}
				}
				return moved
			}
			text := bytes.TrimRight(c.in[:i], "\r")
			c.in = c.in[i+1:]
			if n, nonSync, ok := literalAt(text); ok && nonSync {
				c.skip = n
			} else {
				c.rest = false
			}
			continue
		}
		if c.dropping {
			if i < 0 {
				c.in = c.in[:0]
				return moved
			}
			c.in = c.in[i+1:]
			c.dropping = false
			moved = c.refuse(tooLongReply) || moved
			continue
		}
		if i < 0 {
			if c.size+len(c.in) > maxCommandLine {
				c.begin(c.in)
				c.in, c.dropping = c.in[:0], true
				continue
			}
			return moved
		}
		line := c.in[:i+1]
		text := bytes.TrimRight(line, "\r\n")
		switch {
		case c.inCmd:
		case c.pass:
			c.pass = false
		default:
			if c.held = heldCommand(text); c.held != heldNone {
				return moved // left in in, for the transport
			}
		}
		c.in = c.in[i+1:]
		if !c.inCmd && isTagless(text) {
			c.reply(taglessReply)
			continue
		}
		if c.inCmd && c.afterMessage && len(text) > 0 && text[0] == ' ' && c.box != "" {
			// MULTIAPPEND (RFC 3502): another message follows. go-imap's
			// APPEND of the one before ends here, and the next is a new
			// APPEND to go-imap (see multiappend.go), bounded with the
			// ones before as one command.
			switch ok, why := c.multiAppend(c.tag, c.boxName); {
			case why != "":
				n, nonSync, lit := literalAt(text)
				moved = c.refuse(why) || moved
				if lit && nonSync {
					c.skip, c.rest = n, true // sent anyway: not commands
				}
				continue
			case !ok:
				goto plain
			}
			c.out = append(c.out, "\r\n"...)
			moved = true
			tag, box, size := c.tag, c.box, c.size
			c.end()
			text = slices.Concat([]byte(tag+" APPEND "+box), text)
			line = slices.Concat(text, []byte("\r\n"))
			c.size = size
		}
	plain:
		c.begin(text)
		if c.size += len(line); c.size > maxCommandLine {
			moved = c.refuse(tooLongReply) || moved
			continue
		}
		if c.name == "SEARCH" || c.name == "UID SEARCH" {
			if c.nest += nesting(text); c.nest > maxSearchKeys {
				moved = c.refuse("BAD [CLIENTBUG] "+searchTooComplex) || moved
				continue
			}
		}
		n, nonSync, ok := literalAt(text)
		if ok && nonSync && c.appendLimit > 0 && n > c.appendLimit && c.appendMessage(text) {
			// go-imap refuses it, and would read its data as commands.
			c.skip, c.rest = n, true
			moved = c.refuse(fmt.Sprintf("NO [TOOBIG] Messages are limited to %d bytes", c.appendLimit)) || moved
			continue
		}
		if ok && n > maxBufferedLiteral && !c.appendMessage(text) {
			if nonSync {
				// Sent anyway, with the rest of the command: not to be
				// read as commands.
				c.skip, c.rest = n, true
				moved = c.refuse(nonSyncTooBigReply) || moved
			} else {
				moved = c.refuse(literalTooBigReply) || moved
			}
			continue
		}
		c.out = append(c.out, line...)
		moved = true
		c.afterMessage = ok && c.appendMessage(text)
		if c.afterMessage {
			if len(c.appends) == maxAppends {
				c.appends = c.appends[1:]
			}
			i := bytes.LastIndexByte(text, '{')
			c.appends = append(c.appends, appendLiteral{size: int64(n), binary: i > 0 && text[i-1] == '~'})
		}
		if ok && nonSync {
			c.literal, c.inCmd = n, true
			continue
		}
		if ok {
			// Its data comes only if go-imap says "+"; the transport
			// asks once go-imap has read the line.
			c.inCmd, c.pending, c.awaitPlus = true, n, true
			return moved
		}
		c.end()
	}
	return moved
}

// Command lines are bounded: go-imap reads at most 50 KiB of a command
// outside its literals and then takes the rest of the line for a new
// command. A longer command is refused whole, before go-imap sees the
// line that makes it too long (RFC 7162 §4: at least 8 KiB must be
// accepted).
const maxCommandLine = 48 << 10

// go-imap takes literals up to this size in every argument but APPEND's
// message; a larger synchronising literal it neither accepts ("+") nor
// refuses, and a larger non-synchronising one (RFC 7888) it refuses
// without skipping its data.
const maxBufferedLiteral = 4096

// The refusals of the guard, after the command's tag (RFC 9051
// §7.1.3, §7.5; RFC 7888 §4; RFC 4469 TOOBIG).
const (
	tooLongReply       = "BAD Command line too long: at most 49152 bytes outside literals (RFC 7162 §4)"
	literalTooBigReply = "NO [TOOBIG] Literals are limited to 4096 bytes for this command (RFC 9051 §7.5)"
	nonSyncTooBigReply = "BAD Literals are limited to 4096 bytes for this command; its data was skipped (RFC 7888 §4)"
)

// appendLiteral is an APPEND message literal: its size, and whether it
// was a literal8.
type appendLiteral struct {
	size   int64
	binary bool
}

// maxAppends bounds the APPEND literals remembered.
const maxAppends = 64

// begin notes the tag and name of a command from its first line.
func (c *guard) begin(text []byte) {
	if c.inCmd || c.tag != "" {
		return
	}
	f := fields(text[:min(len(text), 200)], 3)
	c.tag = "*"
	if len(f) > 0 && validTag(f[0]) {
		c.tag = f[0]
	}
	if len(f) > 1 {
		c.name = strings.ToUpper(f[1])
		if c.name == "UID" && len(f) > 2 {
			c.name += " " + strings.ToUpper(f[2])
		}
	}
	if c.name == "APPEND" {
		if t := tokens(text, 3); len(t) == 3 && t[2].paren == 0 {
			c.box, c.boxName = string(text[t[2].start:t[2].end]), t[2].text
		}
	}
}

// fields returns the first n fields of a line as strings.Fields splits
// it (at runs of white space), reading no further: the guard looks at
// the first words of every command line, which may be long.
func fields(line []byte, n int) []string {
	bounds := make([][2]int, 0, 4)
	for i := 0; i < len(line) && len(bounds) < n; {
		if r, size := utf8.DecodeRune(line[i:]); unicode.IsSpace(r) {
			i += size
			continue
		}
		start := i
		for i < len(line) {
			r, size := utf8.DecodeRune(line[i:])
			if unicode.IsSpace(r) {
				break
			}
			i += size
		}
		bounds = append(bounds, [2]int{start, i})
	}
	if len(bounds) == 0 {
		return nil
	}
	from := bounds[0][0]
	s := string(line[from:bounds[len(bounds)-1][1]]) // one copy for all
	out := make([]string, len(bounds))
	for i, b := range bounds {
		out[i] = s[b[0]-from : b[1]-from]
	}
	return out
}

// end forgets the command.
func (c *guard) end() {
	c.inCmd, c.tag, c.name, c.size, c.nest = false, "", "", 0, 0
	c.box, c.boxName, c.afterMessage = "", "", false
}

// refuse refuses the command being read. When go-imap has none of it,
// the line is dropped and the refusal said here; else go-imap gets a NUL
// and CRLF in place of the line, which no command's syntax allows, and
// answers BAD itself. It reports whether go-imap got something.
func (c *guard) refuse(why string) bool {
	defer c.end()
	if c.inCmd && c.afterMessage && c.box != "" && c.refuseAppend(c.tag, c.boxName, why) {
		// go-imap answers nothing to an APPEND whose line goes on with
		// anything but its end after the message (and stores it): the
		// line ends, and the refusal is the answer of the whole APPEND,
		// which takes the message back (multiappend.go).
		c.out = append(c.out, "\r\n"...)
		c.reply(c.tag + " " + why + "\r\n")
		return true
	}
	if c.inCmd {
		c.out = append(c.out, "\x00\r\n"...)
		return true
	}
	c.reply(c.tag + " " + why + "\r\n")
	return false
}

// reply writes a line of the server's, between go-imap's.
func (c *guard) reply(s string) {
	if c.err != nil {
		return
	}
	c.err = c.say(s)
}

// reset forgets what the client sent and the command being read: the
// transport starts TLS.
func (c *guard) reset() {
	c.end()
	c.in, c.out, c.literal, c.skip = nil, nil, 0, 0
	c.dropping, c.rest, c.held, c.pass, c.awaitPlus = false, false, heldNone, false, false
}

// appendMessage reports whether the literal that ends text is APPEND's
// message, which go-imap takes up to the APPENDLIMIT: any literal of
// APPEND but its mailbox name ("a APPEND {5}").
func (c *guard) appendMessage(text []byte) bool {
	if c.name != "APPEND" {
		return false
	}
	return c.inCmd || len(strings.Fields(string(text))) > 3
}

// validTag reports whether s may be a tag (RFC 9051 §9: astring chars but
// "+").
func validTag(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte("(){%*\"\\+", b) >= 0 {
			return false
		}
	}
	return s != ""
}

// nesting counts the SEARCH keys of a line that nest others (OR, NOT and
// "("), outside quoted strings: more of them than maxSearchKeys make a
// search too complex before go-imap parses it (recursively, a stack
// frame per level).
func nesting(text []byte) int {
	n := 0
	quoted := false
	for i := 0; i < len(text); i++ {
		b := text[i]
		switch {
		case quoted && b == '\\':
			i++
		case b == '"':
			quoted = !quoted
		case quoted:
		case b == '(':
			n++
		case (b == 'O' || b == 'o' || b == 'N' || b == 'n') && (i == 0 || text[i-1] == ' ' || text[i-1] == '('):
			w := text[i:]
			if j := bytes.IndexAny(w, " ()"); j >= 0 {
				w = w[:j]
			}
			if bytes.EqualFold(w, []byte("OR")) || bytes.EqualFold(w, []byte("NOT")) {
				n++
			}
		}
	}
	return n
}

// literalAt reads the literal that ends a line: "{12}" or "{12+}".
func literalAt(line []byte) (n int, nonSync, ok bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false, false
	}
	num, nonSync := strings.CutSuffix(string(line[i+1:len(line)-1]), "+")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, false, false
	}
	return n, nonSync, true
}
