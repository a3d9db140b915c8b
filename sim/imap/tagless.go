package imap

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync"
)

// A learner's first IMAP command is often typed without a tag: "LOGIN bob
// bob". go-imap takes "LOGIN" for the tag and "bob" for an unknown
// command, and before login it then says BYE and closes (its defence
// against cross-protocol attacks: an HTTP request sent to port 143). The
// tagless conn sits between the client and go-imap: a command line that
// starts with an IMAP command's name and has no tag gets an untagged BAD
// that says how a command is written (RFC 9051 §2.2.1), and the
// connection stays open. Anything else, an HTTP request included, goes to
// go-imap as it came. It reads only what precedes STARTTLS (what follows
// is TLS), never looks inside a literal, and gives up on a line longer
// than maxTaglessLine. On the implicit-TLS port it is not used: go-imap
// learns that a connection is encrypted from its type (*tls.Conn).

// taglessReply is the answer to a command without a tag.
const taglessReply = "* BAD Every IMAP command starts with a tag of your choice, then the command: try \"a1 LOGIN user password\" (RFC 9051 §2.2.1)\r\n"

const maxTaglessLine = 8 << 10

// imapCommands are the names a tagless line may start with.
var imapCommands = map[string]bool{
	"CAPABILITY": true, "NOOP": true, "LOGOUT": true, "STARTTLS": true, "AUTHENTICATE": true, "LOGIN": true,
	"ENABLE": true, "ID": true, "SELECT": true, "EXAMINE": true, "CREATE": true, "DELETE": true, "RENAME": true,
	"SUBSCRIBE": true, "UNSUBSCRIBE": true, "LIST": true, "LSUB": true, "NAMESPACE": true, "STATUS": true,
	"APPEND": true, "IDLE": true, "CHECK": true, "CLOSE": true, "UNSELECT": true, "EXPUNGE": true, "SEARCH": true,
	"FETCH": true, "STORE": true, "COPY": true, "MOVE": true, "UID": true,
}

// isTagless reports whether a command line starts with a command's name
// where its tag should be: "LOGIN bob bob", "CAPABILITY". A line whose
// second word is a command ("LOGIN LOGIN bob bob") has a tag, if an odd
// one.
func isTagless(line []byte) bool {
	f := strings.Fields(string(line))
	if len(f) == 0 || !imapCommands[strings.ToUpper(f[0])] {
		return false
	}
	return len(f) == 1 || !imapCommands[strings.ToUpper(f[1])]
}

// taglessConn is the client's connection as go-imap sees it.
type taglessConn struct {
	net.Conn
	wmu sync.Mutex // go-imap's writes and ours, one at a time

	in      []byte // read from the client, not yet looked at
	out     []byte // looked at, for go-imap to read
	literal int    // bytes of a literal still to pass on
	inCmd   bool   // within a command (after a literal)
	off     bool   // STARTTLS seen, or a line too long: pass everything
}

func newTaglessConn(c net.Conn) *taglessConn { return &taglessConn{Conn: c} }

func (c *taglessConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.Write(p)
}

func (c *taglessConn) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.off && len(c.in) == 0 {
			return c.Conn.Read(p)
		}
		if c.sift() {
			continue
		}
		buf := make([]byte, 4096)
		n, err := c.Conn.Read(buf)
		c.in = append(c.in, buf[:n]...)
		if n == 0 && err != nil {
			if len(c.in) > 0 { // a last line without its end
				c.out, c.in = c.in, nil
				break
			}
			return 0, err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// sift moves what it can from in to out, answering tagless lines; it
// reports whether it moved anything.
func (c *taglessConn) sift() bool {
	moved := false
	for len(c.in) > 0 {
		if c.off {
			c.out, c.in = append(c.out, c.in...), nil
			return true
		}
		if c.literal > 0 {
			n := min(c.literal, len(c.in))
			c.out, c.in = append(c.out, c.in[:n]...), c.in[n:]
			c.literal -= n
			moved = true
			continue
		}
		i := bytes.IndexByte(c.in, '\n')
		if i < 0 {
			if len(c.in) > maxTaglessLine {
				c.off = true // go-imap judges a line that long
				continue
			}
			return moved
		}
		line := c.in[:i+1]
		c.in = c.in[i+1:]
		moved = true
		text := bytes.TrimRight(line, "\r\n")
		if !c.inCmd && isTagless(text) {
			c.wmu.Lock()
			_, err := c.Conn.Write([]byte(taglessReply))
			c.wmu.Unlock()
			if err != nil {
				c.off = true
			}
			continue
		}
		c.out = append(c.out, line...)
		if n, ok := literalAt(text); ok {
			c.literal, c.inCmd = n, true
			continue
		}
		if !c.inCmd {
			if f := strings.Fields(string(text)); len(f) == 2 && strings.EqualFold(f[1], "STARTTLS") {
				c.off = true // TLS from here on
			}
		}
		c.inCmd = false
	}
	return moved
}

// literalAt reads the literal that ends a line: "{12}" or "{12+}".
func literalAt(line []byte) (int, bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	num := strings.TrimSuffix(string(line[i+1:len(line)-1]), "+")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
