package smtp

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/mailhop/mailhop/sim/netx"
)

// The server side of one connection: the SMTP (or LMTP) state machine.
//
// It is written here rather than taken from go-smtp's server because a
// teaching server has to answer every command the way the RFCs say and
// name the rule it applies, and go-smtp's server decides part of that
// itself: commands out of sequence get 502 (RFC 5321 §4.1.4 says 503),
// the EHLO reply starts with "Hello" where RFC 5321 §4.1.1.1 wants the
// server's name, STARTTLS is done inside the library (so the trace could
// not show the protected lines), a bad SASL response is a temporary 454
// (RFC 4954 §4 says 501), <postmaster> without a domain can not be
// parsed, and a bare CR inside DATA is read past by its dot reader. Doing
// that by rewriting the library's replies by their text, as an earlier
// version did, breaks silently on an upgrade. POP3 is owned the same way
// (sim/pop3); go-smtp remains the client (sim/queue, sim/mua).
//
// Commands are read one line at a time from a buffered reader and
// answered in order, so pipelining (RFC 2920) needs nothing more.

// maxCommandLine bounds a command line (RFC 5321 §4.5.3.1.4 says 512
// octets; extensions may add to it: allow more, but not without bound).
const maxCommandLine = 2048

// maxDataLine is the longest line of a message, CRLF included (RFC 5321
// §4.5.3.1.6), not counting a dot added for transparency.
const maxDataLine = 1000

var crlf = []byte("\r\n")

var errLineTooLong = errors.New("line too long")

// conn is one client connection and its session.
type conn struct {
	s      *Server
	raw    net.Conn
	c      net.Conn // raw, or TLS over raw
	br     *bufio.Reader
	tls    *tls.ConnectionState
	remote net.Addr
	id     string // the trace's connection id

	helo string // the client's name from EHLO, HELO or LHLO
	user string // the authenticated user's address
	tx   transaction

	line []byte // dataLine's, reused from line to line
	out  []byte // write's, reused from reply to reply
}

// transaction is the mail transaction MAIL opens (RFC 5321 §3.3).
type transaction struct {
	open bool
	from string
	utf8 bool // MAIL had SMTPUTF8 (RFC 6531 §3.4)
	// authFrom: MAIL was checked against the authenticated user, and
	// only such a transaction may relay.
	authFrom bool
	to       []rcpt
	size     int64 // the SIZE MAIL declared (RFC 1870), 0 if none
}

// rcpt is an accepted recipient: the address the client gave, and the
// mailbox the message goes to. They differ only for postmaster.
type rcpt struct{ addr, box string }

func (c *conn) isTLS() bool { return c.tls != nil }

// serveConn runs the session on one connection, until QUIT, an error, a
// timeout or Shutdown.
func (s *Server) serveConn(raw net.Conn) {
	defer raw.Close()
	c := &conn{s: s, raw: raw, c: raw, remote: raw.RemoteAddr()}
	if t := netx.TapOf(raw); t != nil {
		c.id = t.ConnID()
	}
	if s.ImplicitTLS && s.Mode != LMTP && !c.handshake() {
		return
	}
	c.br = bufio.NewReaderSize(c.c, 4096)
	proto := "ESMTP"
	if s.Mode == LMTP {
		proto = "LMTP"
	}
	if c.write(fmt.Sprintf("220 %s %s Service Ready\r\n", s.Hostname, proto)) != nil {
		return
	}
	for {
		line, err := c.command()
		if errors.Is(err, errLineTooLong) {
			if c.write("500 5.5.2 Line too long\r\n") != nil {
				return
			}
			continue
		}
		if err != nil {
			if isTimeout(err) {
				c.timedOut()
			}
			return
		}
		if !c.dispatch(line) {
			return
		}
	}
}

// command reads the next command line, marked idle meanwhile, so that
// Shutdown may interrupt the wait (listen.Loop.Idle).
func (c *conn) command() ([]byte, error) {
	c.armRead()
	c.s.loop.Idle(c.c, true)
	defer c.s.loop.Idle(c.c, false)
	return c.readLine()
}

// lineBuffered reports whether the rest of a line is already read from
// the connection: no read, so no read deadline, is needed for it.
func (c *conn) lineBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}

// armRead gives the client the idle timeout to send what comes next.
func (c *conn) armRead() { netx.SetReadTimeout(c.c, c.s.timeout()) }

// timedOut tells the client why the server closes: its timeout (RFC 5321
// §4.5.3.2: the server may close after it, and §3.8 has it send 421
// first), as Postfix does, or Shutdown.
func (c *conn) timedOut() {
	if c.s.loop.Draining() {
		c.write(fmt.Sprintf("421 4.3.2 %s Service shutting down, try again later\r\n", c.s.Hostname))
		return
	}
	c.write(fmt.Sprintf("421 4.4.2 %s Error: timeout exceeded\r\n", c.s.Hostname))
}

// handshake runs the server side of TLS on the connection.
func (c *conn) handshake() bool {
	tc := tls.Server(c.raw, c.s.TLSConfig)
	c.raw.SetDeadline(time.Now().Add(c.s.timeout()))
	err := tc.Handshake()
	c.raw.SetDeadline(time.Time{})
	if err != nil {
		return false
	}
	cs := tc.ConnectionState()
	c.tls = &cs
	c.c = netx.PlainTap(c.raw, tc, false)
	return true
}

func (c *conn) write(s string) error {
	c.out = append(c.out[:0], s...)
	return c.flushOut()
}

// flushOut writes c.out: a buffer kept from write to write (a Write
// does not keep what it is given), so that a reply is not copied to a new
// []byte every time, as io.WriteString would.
func (c *conn) flushOut() error {
	netx.SetWriteTimeout(c.c, c.s.timeout())
	_, err := c.c.Write(c.out)
	return err
}

// reply writes one reply.
func (c *conn) reply(r *response) bool {
	c.out = r.appendWire(c.out[:0])
	return c.flushOut() == nil
}

// readLine reads one line, with its line end, of at most maxCommandLine
// bytes; a longer one is read to its end and reported as errLineTooLong.
// The caller sets the read deadline.
func (c *conn) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := c.br.ReadSlice('\n')
		if len(line)+len(chunk) > maxCommandLine {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = c.br.ReadSlice('\n')
			}
			if err != nil {
				return nil, err
			}
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if err == nil {
			return line, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

// helpText answers HELP (RFC 5321 §4.1.1.8).
const helpText = "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS AUTH\r\n" +
	"214-2.0.0 A message: EHLO, MAIL FROM:<sender>, RCPT TO:<recipient> (repeat), DATA,\r\n" +
	"214-2.0.0 the message, a line with a single dot, QUIT.\r\n" +
	"214 2.0.0 See RFC 5321 for the details\r\n"

// dispatch answers one command line; false ends the session.
func (c *conn) dispatch(line []byte) bool {
	if !bytes.HasSuffix(line, crlf) {
		// RFC 5321 §2.3.8: lines end with CRLF, and a server that took
		// LF alone for a line end could be made to read commands where
		// its peers read text (SMTP smuggling).
		return c.reply(errLFOnly)
	}
	verb, arg := splitCommand(line)
	if c.s.Strict {
		if r := strictSyntax(verb, arg, line); r != nil {
			return c.reply(r)
		}
	}
	switch verb {
	case "EHLO", "HELO", "LHLO":
		return c.hello(verb, arg)
	case "MAIL":
		return c.reply(c.mail(arg))
	case "RCPT":
		return c.reply(c.rcpt(arg))
	case "DATA":
		return c.data(arg)
	case "BDAT":
		return c.bdat(arg)
	case "RSET":
		c.reset()
		return c.reply(reply(250, "2.0.0", "Session reset"))
	case "NOOP":
		return c.reply(reply(250, "2.0.0", "I have successfully done nothing"))
	case "VRFY":
		return c.reply(reply(252, "2.5.0", "Cannot VRFY user, but will accept message"))
	case "EXPN":
		return c.reply(reply(502, "5.5.1", "EXPN command not implemented"))
	case "HELP":
		return c.write(helpText) == nil
	case "STARTTLS":
		return c.startTLS(arg)
	case "AUTH":
		return c.auth(arg)
	case "QUIT":
		c.write("221 2.0.0 Bye\r\n")
		// Close at once, as a server does after 221 (RFC 5321
		// §4.1.1.10): the client never gets to close first, so who
		// closed does not depend on timing.
		c.c.Close()
		return false
	}
	if verb == "" || !printable(verb) || len(verb) > 16 {
		return c.reply(reply(500, "5.5.2", "Syntax error, command unrecognized"))
	}
	return c.reply(reply(500, "5.5.2", "Syntax error, command unrecognized: "+verb))
}

// printable reports whether s is printable US-ASCII, safe to repeat in a
// reply.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (c *conn) reset() { c.tx = transaction{} }

// hello answers EHLO, HELO and LHLO (RFC 5321 §4.1.1.1, RFC 2033 §4.1):
// a new session, whatever came before, and the server's extensions.
func (c *conn) hello(verb, arg string) bool {
	switch {
	case c.s.Mode == LMTP && verb != "LHLO":
		return c.reply(reply(500, "5.5.1", "This is an LMTP server, say LHLO (RFC 2033 §4.1)"))
	case c.s.Mode != LMTP && verb == "LHLO":
		return c.reply(reply(500, "5.5.1", "This is an SMTP server, say EHLO (LHLO is LMTP's, RFC 2033 §4.1)"))
	case arg == "":
		return c.reply(reply(501, "5.5.4", "Syntax: "+verb+" hostname (RFC 5321 §4.1.1.1): say who you are, e.g. "+verb+" client.example.org"))
	}
	if why := heloSyntax(verb, arg, c.s.Strict); why != "" {
		return c.reply(reply(501, "5.5.4", "Syntax: "+verb+" hostname (RFC 5321 §4.1.1.1): "+why))
	}
	name, _, _ := strings.Cut(arg, " ")
	c.helo = name
	c.reset()
	// RFC 5321 §4.1.1.1: the reply names the server, then greets.
	greet := c.s.Hostname + " Hello " + name
	if verb == "HELO" {
		return c.write("250 "+greet+"\r\n") == nil
	}
	lines := []string{greet}
	if c.s.Mode != LMTP && c.s.TLSConfig != nil && !c.isTLS() {
		lines = append(lines, "STARTTLS")
	}
	lines = append(lines, "PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES")
	if c.s.Mode != LMTP && c.s.authAllowed(c) {
		lines = append(lines, "AUTH PLAIN LOGIN")
	}
	lines = append(lines, "SMTPUTF8",
		"SIZE "+strconv.FormatInt(c.s.MaxMessageBytes, 10),
		"LIMITS RCPTMAX="+strconv.Itoa(c.s.MaxRecipients))
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		b.WriteString("250" + sep + l + "\r\n")
	}
	return c.write(b.String()) == nil
}

// startTLS answers STARTTLS (RFC 3207) and runs the handshake.
func (c *conn) startTLS(arg string) bool {
	switch {
	case c.s.Mode == LMTP || c.s.TLSConfig == nil:
		return c.reply(reply(502, "5.5.1", "STARTTLS is not offered here"))
	case c.isTLS():
		return c.reply(reply(503, "5.5.1", "Bad sequence of commands: TLS is already active"))
	case arg != "":
		return c.reply(reply(501, "5.5.4", "STARTTLS takes no argument"))
	}
	if !c.reply(reply(220, "2.0.0", "Ready to start TLS")) {
		return false
	}
	// What the client sent after STARTTLS is in the reader's buffer:
	// dropped with it, never executed (RFC 3207 §4.2, CVE-2011-0411).
	c.br = nil
	if !c.handshake() {
		return false
	}
	c.br = bufio.NewReaderSize(c.c, 4096)
	// RFC 3207 §4.2: the server forgets what the client said before,
	// and the client starts again with EHLO.
	c.helo, c.user = "", ""
	c.reset()
	return true
}

// auth answers AUTH (RFC 4954) and runs the SASL exchange.
func (c *conn) auth(arg string) bool {
	switch {
	case c.s.Mode == LMTP || c.s.Users == nil:
		return c.reply(reply(502, "5.5.1", "AUTH is not offered here"))
	case !c.s.authAllowed(c):
		return c.reply(reply(538, "5.7.11", "Encryption required for requested authentication mechanism"))
	case c.tx.open:
		// RFC 4954 §4: AUTH during a mail transaction MUST be refused
		// (a login after MAIL would let a sender nobody checked relay).
		return c.reply(reply(503, "5.5.1", "Bad sequence of commands: AUTH is not permitted during a mail transaction, send RSET first (RFC 4954 §4)"))
	case c.helo == "":
		return c.reply(errNoHello)
	case c.user != "":
		return c.reply(reply(503, "5.5.1", "Already authenticated"))
	case arg == "":
		return c.reply(reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response] (RFC 4954 §4)"))
	}
	f := strings.Fields(arg)
	var resp []byte // nil: no initial response
	if len(f) > 1 {
		var err error
		if resp, err = decodeSASL(f[1]); err != nil {
			return c.reply(reply(501, "5.5.2", "Invalid base64 data in the initial response (RFC 4954 §4)"))
		}
	}
	var srv sasl.Server
	switch strings.ToUpper(f[0]) {
	case sasl.Plain:
		srv = sasl.NewPlainServer(c.login)
	case sasl.Login:
		srv = &loginServer{check: func(u, p string) error { return c.login("", u, p) }}
	default:
		return c.reply(reply(504, "5.7.4", "Unsupported authentication mechanism"))
	}
	for {
		challenge, done, err := srv.Next(resp)
		if err != nil {
			var r *response
			if !errors.As(err, &r) {
				// A response the mechanism can not parse (PLAIN
				// without its two NULs): the client's syntax error.
				r = reply(501, "5.5.2", "Malformed authentication response: "+err.Error()+" (RFC 4954 §4)")
			}
			return c.reply(r)
		}
		if done {
			return c.reply(reply(235, "2.0.0", "Authentication succeeded"))
		}
		if c.write("334 "+base64.StdEncoding.EncodeToString(challenge)+"\r\n") != nil {
			return false
		}
		c.armRead()
		line, err := c.readLine()
		if err != nil {
			return false
		}
		text, ok := bytes.CutSuffix(line, crlf)
		switch {
		case !ok:
			return c.reply(errLFOnly)
		case string(text) == "*":
			return c.reply(reply(501, "5.0.0", "Authentication cancelled (RFC 4954 §4)"))
		}
		if resp, err = decodeSASL(string(text)); err != nil {
			return c.reply(reply(501, "5.5.2", "Invalid base64 data: the response to 334 must be base64 (RFC 4954 §4)"))
		}
	}
}

// data answers DATA, reads the message and answers it (RFC 5321
// §4.1.1.4; LMTP: one reply per recipient, RFC 2033 §4.2).
func (c *conn) data(arg string) bool {
	switch {
	case c.helo == "":
		return c.reply(errNoHello)
	case len(c.tx.to) == 0:
		return c.reply(reply(503, "5.5.1", "Bad sequence of commands: no valid RCPT TO yet"))
	case arg != "":
		return c.reply(reply(501, "5.5.4", "DATA takes no argument"))
	}
	if c.write("354 Go ahead. End your data with <CR><LF>.<CR><LF>\r\n") != nil {
		return false
	}
	body, bad, err := c.readData()
	if err != nil {
		if isTimeout(err) {
			// The client stopped in the middle of the message (the
			// final "." forgotten).
			c.timedOut()
		}
		return false
	}
	defer c.reset()
	if bad != nil {
		if c.s.Mode == LMTP {
			for range c.tx.to {
				if !c.reply(bad) {
					return false
				}
			}
			return true
		}
		return c.reply(bad)
	}
	if c.s.Mode == LMTP {
		for _, r := range c.deliver(body) {
			if !c.reply(r) {
				return false
			}
		}
		return true
	}
	return c.reply(c.accept(body))
}

// readData reads the message after 354, up to the line with a single
// dot, and undoes the dot-stuffing (RFC 5321 §4.5.2). Only CRLF "." CRLF
// ends the data (RFC 5321 §4.1.1.4: a dot after a bare LF or before a
// bare CR does not).
//
// It checks each line: a bare CR or LF breaks SMTP's own line syntax
// (RFC 5321 §2.3.8) and is how SMTP smuggling hides a second message,
// so the message is refused, 500 5.5.2 as Postfix has it; a NUL is a
// content error, mail text can not carry it (RFC 5322 §2.3, RFC 2045
// §2.8), 554 5.6.0; a line over 1000 octets, 500 5.5.2; a message over
// MaxMessageBytes, 552 5.3.4. After the first fault it reads on to the
// end of the data without keeping it, and returns the fault: nothing in
// a refused message is ever run as a command.
//
// err is the read error that stopped it (a timeout when the client went
// quiet).
func (c *conn) readData() (body []byte, bad *response, err error) {
	var buf bytes.Buffer
	// Room for the size MAIL declared, up to maxSizeHint (a hint only: a
	// client may declare more than it sends), so that the buffer is not
	// grown and copied from 64 bytes up.
	buf.Grow(int(min(c.tx.size, maxSizeHint)))
	atLineStart := true // the previous line ended with CRLF
	for {
		line, long, err := c.dataLine()
		if err != nil {
			return nil, nil, err
		}
		if atLineStart && !long && bytes.Equal(line, []byte(".\r\n")) {
			return buf.Bytes(), bad, nil
		}
		if bad == nil {
			bad = badDataLine(line, long)
		}
		if atLineStart && len(line) > 0 && line[0] == '.' {
			line = line[1:] // the transparency dot
		}
		atLineStart = bytes.HasSuffix(line, crlf)
		if bad == nil && int64(buf.Len()+len(line)) > c.s.MaxMessageBytes {
			bad = errTooBig
		}
		if bad == nil {
			buf.Write(line)
		}
	}
}

// maxSizeHint bounds the room readData makes for a declared SIZE.
const maxSizeHint = 64 << 10

// dataLine reads one line of the message, with its line end (always an
// LF). A line longer than maxDataLine is read to its end, but only its
// last two octets are kept, and long is true. The line is good until the
// next call.
func (c *conn) dataLine() (line []byte, long bool, err error) {
	line = c.line[:0]
	defer func() { c.line = line[:0] }()
	for {
		if !c.lineBuffered() {
			c.armRead() // the line is read from the connection
		}
		chunk, err := c.br.ReadSlice('\n')
		line = append(line, chunk...)
		limit := maxDataLine
		if len(line) > 0 && line[0] == '.' {
			limit++ // RFC 5321 §4.5.2: the transparency dot
		}
		if len(line) > limit {
			long = true
		}
		if long && len(line) > 2 {
			line = append(line[:0], line[len(line)-2:]...)
		}
		if err == nil {
			return line, long, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, false, err
		}
	}
}

// badDataLine returns why a line of a message is refused, or nil.
func badDataLine(line []byte, long bool) *response {
	if long {
		return errLongLine
	}
	text, ok := bytes.CutSuffix(line, crlf)
	switch {
	case !ok, bytes.IndexByte(text, '\r') >= 0:
		return errBareNewline
	case bytes.IndexByte(text, 0) >= 0:
		return errNUL
	}
	return nil
}

// bdat answers BDAT (RFC 3030). CHUNKING is not offered; a client that
// sends BDAT anyway has its chunk read and dropped, never run as
// commands.
func (c *conn) bdat(arg string) bool {
	size, err := strconv.ParseInt(strings.Fields(arg + " x")[0], 10, 64)
	if err != nil || size < 0 {
		return c.reply(reply(501, "5.5.4", "BDAT needs a chunk size"))
	}
	c.armRead()
	if _, err := io.CopyN(io.Discard, c.br, size); err != nil {
		return false
	}
	return c.reply(reply(502, "5.5.1", "CHUNKING is not offered here: use DATA"))
}
