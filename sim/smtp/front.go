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
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/mailhop/mailhop/sim/netx"
)

// The front door.
//
// go-smtp speaks the protocol; the front owns the client's connection and
// hands go-smtp the cleartext over an in-process pipe. It exists for what
// go-smtp does not do the way a mail server must:
//
//   - commands out of sequence get 503 (RFC 5321 §4.1.4; go-smtp says 502),
//     and HELP gets 214 (go-smtp does not implement it);
//   - STARTTLS is terminated here, so the trace can show the protected lines
//     (marked as encrypted) and bytes pipelined after STARTTLS are discarded,
//     never executed (RFC 3207 §4.2, CVE-2011-0411);
//   - AUTH is offered and accepted only over TLS (or from loopback, or when
//     insecure auth is allowed), else 538 5.7.11 (RFC 4954 §6);
//   - in strict mode (Server.Strict), the syntax go-smtp tolerates is
//     refused with 501 5.5.4 and the rule it breaks: EHLO without a
//     domain, MAIL FROM: and RCPT TO: without <angle brackets> right after
//     the colon (RFC 5321 §4.1.2);
//   - MAIL and RCPT are accepted with 2.1.0 and 2.1.5 (RFC 3463 §3.2), not
//     go-smtp's 2.0.0, and a SASL response that is not base64 gets 501
//     (RFC 4954 §4), not go-smtp's temporary 454;
//   - connection limits, idle timeouts on the network's clock — answered
//     421 4.4.2, in the middle of DATA too — and bounded command lines.
//
// It relays commands as it reads them (pipelining works) and stops to wait
// for go-smtp's reply only at DATA, AUTH, STARTTLS and QUIT, where what the
// client sends next depends on the reply.

// maxCommandLine bounds a command line (RFC 5321 §4.5.3.1.4 says 512
// octets; extensions may add to it: allow more, but not without bound).
const maxCommandLine = 2048

// replyKind says how the front treats the reply to a relayed command.
type replyKind int

const (
	replyPlain    replyKind = iota
	replyBanner             // the greeting
	replySwallow            // a greeting nobody should see (after STARTTLS)
	replyEHLO               // capabilities to adjust
	replyStartTLS           // the reply to the NOOP that stands for STARTTLS
	replyMail               // the reply to MAIL
	replyRcpt               // the reply to RCPT
	replyAuthBad            // the reply to the "*" that stands for a response that is not base64
	replyQuit               // the reply to QUIT: the server closes right after it
)

// connState is what the front knows of a client connection; the backend
// reads it through the inner connection.
type connState struct {
	raw    net.Conn
	conn   net.Conn // raw, or TLS over raw
	tls    *tls.ConnectionState
	remote net.Addr
	id     string // trace connection id
	mu     sync.Mutex
	user   string // authenticated user
}

func (st *connState) isTLS() bool { return st.tls != nil }

// innerConn is go-smtp's end of the pipe; it reports the client's address.
type innerConn struct {
	net.Conn
	st *connState
}

func (c *innerConn) RemoteAddr() net.Addr { return c.st.remote }
func (c *innerConn) LocalAddr() net.Addr  { return c.st.raw.LocalAddr() }

// pipeListener hands inner connections to go-smtp's Serve.
type pipeListener struct {
	ch     chan net.Conn
	once   sync.Once
	closed chan struct{}
	addr   net.Addr
}

func newPipeListener(addr net.Addr) *pipeListener {
	return &pipeListener{ch: make(chan net.Conn), closed: make(chan struct{}), addr: addr}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return l.addr }

// frontSession relays one go-smtp session (a connection has a second one
// after STARTTLS).
type frontSession struct {
	s     *Server
	st    *connState
	outer net.Conn // our end of the pipe to go-smtp

	wmu sync.Mutex // serialises writes to the client

	mu      sync.Mutex
	cond    *sync.Cond
	kinds   []replyKind // one per reply still expected, in order
	last    string      // the last final reply line written
	dead    bool        // the writer stopped
	startTL bool        // the STARTTLS go-ahead was written
}

var errLineTooLong = errors.New("line too long")

// serveFront handles one client connection.
func (s *Server) serveFront(raw net.Conn) {
	defer raw.Close()
	st := &connState{raw: raw, conn: raw, remote: raw.RemoteAddr()}
	if t := netx.TapOf(raw); t != nil {
		st.id = t.ConnID()
	}
	if s.ImplicitTLS {
		if !s.handshake(st) {
			return
		}
	}
	swallow := false
	for {
		fs := &frontSession{s: s, st: st}
		fs.cond = sync.NewCond(&fs.mu)
		again := fs.run(swallow)
		if !again {
			return
		}
		if !s.handshake(st) {
			return
		}
		swallow = true
	}
}

// handshake runs the server side of TLS on st.conn.
func (s *Server) handshake(st *connState) bool {
	tc := tls.Server(st.raw, s.TLSConfig)
	st.raw.SetDeadline(time.Now().Add(s.timeout()))
	err := tc.Handshake()
	st.raw.SetDeadline(time.Time{})
	if err != nil {
		return false
	}
	cs := tc.ConnectionState()
	st.tls = &cs
	st.conn = netx.PlainTap(st.raw, tc, false)
	return true
}

// run relays until the client quits or drops (false), or until STARTTLS
// succeeds (true: the caller starts TLS and a new session).
func (fs *frontSession) run(swallowBanner bool) bool {
	outer, inner := net.Pipe()
	fs.outer = outer
	first := replyBanner
	if swallowBanner {
		first = replySwallow
	}
	fs.kinds = []replyKind{first}
	if !fs.s.lis.push(&innerConn{Conn: inner, st: fs.st}) {
		outer.Close()
		return false
	}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		fs.writer()
	}()
	again := fs.reader()
	outer.Close()
	<-writerDone
	return again
}

// writer copies go-smtp's replies to the client, adjusting them.
func (fs *frontSession) writer() {
	defer func() {
		fs.mu.Lock()
		fs.dead = true
		fs.cond.Broadcast()
		fs.mu.Unlock()
	}()
	r := bufio.NewReader(fs.outer)
	var reply []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		reply = append(reply, line)
		if len(line) >= 4 && line[3] == '-' {
			continue // more lines of this reply
		}
		fs.mu.Lock()
		kind := replyPlain
		if len(fs.kinds) > 0 {
			kind = fs.kinds[0]
		}
		fs.mu.Unlock()
		out := fs.adjust(kind, reply)
		reply = reply[:0]
		if len(out) > 0 {
			if fs.write(strings.Join(out, "\r\n")+"\r\n") != nil {
				return
			}
		}
		// Only now is the reply done: settle must not return before the
		// client has it.
		fs.mu.Lock()
		if len(fs.kinds) > 0 {
			fs.kinds = fs.kinds[1:]
		}
		if len(out) > 0 {
			fs.last = out[len(out)-1]
		}
		if kind == replyStartTLS {
			fs.startTL = true
		}
		fs.cond.Broadcast()
		fs.mu.Unlock()
		if kind == replyQuit {
			// Close at once, in this goroutine, as a server does after
			// 221 (RFC 5321 §4.1.1.10): the client never gets to close
			// first, so who closed does not depend on timing.
			fs.st.conn.Close()
			return
		}
	}
}

func (fs *frontSession) write(s string) error {
	fs.wmu.Lock()
	defer fs.wmu.Unlock()
	fs.st.conn.SetWriteDeadline(time.Now().Add(fs.s.timeout()))
	_, err := io.WriteString(fs.st.conn, s)
	return err
}

// fixedReplies are go-smtp replies the front corrects: commands out of
// sequence get 503 (RFC 5321 §4.1.4), a command it can not parse 500.
var fixedReplies = map[string]string{
	"501 5.5.2 Bad command":                              "500 5.5.2 Syntax error, command unrecognized",
	"502 5.5.1 Please introduce yourself first.":         "503 5.5.1 Bad sequence of commands: send EHLO or HELO first",
	"502 5.5.1 Missing MAIL FROM command.":               "503 5.5.1 Bad sequence of commands: MAIL FROM comes first",
	"502 5.5.1 Missing RCPT TO command.":                 "503 5.5.1 Bad sequence of commands: no valid RCPT TO yet",
	"502 5.5.1 MAIL not allowed during message transfer": "503 5.5.1 Bad sequence of commands: a message is being transferred",
	"502 5.5.1 RCPT not allowed during message transfer": "503 5.5.1 Bad sequence of commands: a message is being transferred",
	"502 5.5.1 DATA not allowed during message transfer": "503 5.5.1 Bad sequence of commands: a message is being transferred",
}

// helpText answers HELP (RFC 5321 §4.1.1.8).
var helpText = []string{
	"214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
	"214-2.0.0 A message: EHLO, MAIL FROM:<sender>, RCPT TO:<recipient> (repeat), DATA,",
	"214-2.0.0 the message, a line with a single dot, QUIT.",
	"214 2.0.0 See RFC 5321 for the details",
}

// adjust rewrites one reply (its lines) for the client.
func (fs *frontSession) adjust(kind replyKind, reply []string) []string {
	switch kind {
	case replySwallow:
		return nil
	case replyStartTLS:
		if strings.HasPrefix(reply[0], "250") {
			return []string{"220 2.0.0 Ready to start TLS"}
		}
		return reply
	case replyEHLO:
		if !strings.HasPrefix(reply[0], "250") {
			return reply
		}
		var keep []string
		for i, l := range reply {
			text := l[4:]
			if i > 0 {
				up := strings.ToUpper(text)
				if up == "CHUNKING" || (strings.HasPrefix(up, "AUTH") && !fs.s.authAllowed(fs.st)) {
					continue
				}
			}
			keep = append(keep, text)
		}
		if fs.s.TLSConfig != nil && !fs.st.isTLS() {
			keep = append(keep[:1], append([]string{"STARTTLS"}, keep[1:]...)...)
		}
		out := make([]string, len(keep))
		for i, t := range keep {
			sep := "-"
			if i == len(keep)-1 {
				sep = " "
			}
			out[i] = "250" + sep + t
		}
		return out
	}
	if len(reply) == 1 {
		// go-smtp accepts MAIL and RCPT with 2.0.0; RFC 3463 §3.2 has
		// the codes that say what was accepted (as Postfix sends them).
		switch {
		case kind == replyMail && strings.HasPrefix(reply[0], "250 2.0.0 "):
			return []string{"250 2.1.0 " + reply[0][len("250 2.0.0 "):]}
		case kind == replyRcpt && strings.HasPrefix(reply[0], "250 2.0.0 "):
			return []string{"250 2.1.5 " + reply[0][len("250 2.0.0 "):]}
		case kind == replyAuthBad:
			// go-smtp answers 454 to a response that is not base64;
			// RFC 4954 §4 wants 501.
			return []string{"501 5.5.2 Invalid base64 data: the response to 334 must be base64 (RFC 4954 §4)"}
		}
		if r, ok := fixedReplies[reply[0]]; ok {
			return []string{r}
		}
		if reply[0] == "502 5.5.1 HELP command not implemented" {
			return helpText
		}
	}
	return reply
}

// expect records the kind of the reply to a command about to be relayed.
func (fs *frontSession) expect(k replyKind) {
	fs.mu.Lock()
	fs.kinds = append(fs.kinds, k)
	fs.mu.Unlock()
}

// settle waits until every relayed command has its reply; it returns the
// last reply line, and false if the session is over.
func (fs *frontSession) settle() (string, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for len(fs.kinds) > 0 && !fs.dead {
		fs.cond.Wait()
	}
	return fs.last, !fs.dead
}

func (fs *frontSession) relay(line []byte) error {
	_, err := fs.outer.Write(line)
	return err
}

// reader reads the client's commands and relays them.
func (fs *frontSession) reader() (startTLS bool) {
	br := bufio.NewReaderSize(fs.st.conn, 4096)
	for {
		line, err := fs.readLine(br, maxCommandLine)
		if errors.Is(err, errLineTooLong) {
			if _, ok := fs.settle(); !ok {
				return false
			}
			fs.write("500 5.5.2 Line too long\r\n")
			continue
		}
		if err != nil {
			if isTimeout(err) {
				if _, ok := fs.settle(); ok {
					fs.timedOut()
				}
			}
			return false
		}
		verb, arg := splitCommand(line)
		if fs.s.Strict {
			if r := strictSyntax(verb, arg, line); r != "" {
				if _, ok := fs.settle(); !ok {
					return false
				}
				fs.write(r + "\r\n")
				continue
			}
		}
		switch verb {
		case "MAIL", "RCPT":
			kind := replyMail
			if verb == "RCPT" {
				kind = replyRcpt
			}
			fs.expect(kind)
			if fs.relay(line) != nil {
				return false
			}
		case "EHLO":
			fs.expect(replyEHLO)
			if fs.relay(line) != nil {
				return false
			}
		case "STARTTLS":
			if _, ok := fs.settle(); !ok {
				return false
			}
			switch {
			case fs.st.isTLS():
				fs.write("503 5.5.1 Bad sequence of commands: TLS is already active\r\n")
				continue
			case fs.s.TLSConfig == nil:
				fs.write("502 5.5.1 STARTTLS is not offered here\r\n")
				continue
			case arg != "":
				fs.write("501 5.5.4 STARTTLS takes no argument\r\n")
				continue
			}
			// go-smtp answers a NOOP in the place of STARTTLS, keeping
			// its session in step; the front turns the reply into 220.
			fs.expect(replyStartTLS)
			if fs.relay([]byte("NOOP\r\n")) != nil {
				return false
			}
			if _, ok := fs.settle(); !ok {
				return false
			}
			fs.mu.Lock()
			ok := fs.startTL
			fs.mu.Unlock()
			// Whatever the client sent after STARTTLS is in br's buffer:
			// dropped with it, never executed.
			return ok
		case "AUTH":
			if _, ok := fs.settle(); !ok {
				return false
			}
			if !fs.s.authAllowed(fs.st) {
				fs.write("538 5.7.11 Encryption required for requested authentication mechanism\r\n")
				continue
			}
			if f := strings.Fields(arg); len(f) > 1 && !isBase64(f[1]) {
				// RFC 4954 §4: an initial response that is not base64
				// gets 501 (go-smtp says 454, a temporary failure).
				fs.write("501 5.5.2 Invalid base64 data in the initial response (RFC 4954 §4)\r\n")
				continue
			}
			fs.expect(replyPlain)
			if fs.relay(line) != nil {
				return false
			}
			for {
				last, ok := fs.settle()
				if !ok {
					return false
				}
				if !strings.HasPrefix(last, "334") {
					break
				}
				resp, err := fs.readLine(br, maxCommandLine)
				if err != nil {
					return false
				}
				kind := replyPlain
				if r := strings.TrimRight(string(resp), "\r\n"); r != "*" && !isBase64(r) {
					// go-smtp would answer 454, a temporary failure:
					// cancel its exchange, and the cancel's reply
					// becomes the 501 of RFC 4954 §4.
					kind, resp = replyAuthBad, []byte("*\r\n")
				}
				fs.expect(kind)
				if fs.relay(resp) != nil {
					return false
				}
			}
		case "DATA":
			fs.expect(replyPlain)
			if fs.relay(line) != nil {
				return false
			}
			last, ok := fs.settle()
			if !ok {
				return false
			}
			if strings.HasPrefix(last, "354") {
				fs.expect(replyPlain)
				if err := fs.relayData(br); err != nil {
					if isTimeout(err) {
						// The client stopped in the middle of the
						// message (the final "." forgotten): go-smtp
						// still waits for data and has nothing to say,
						// the front says why it closes.
						fs.timedOut()
					}
					return false
				}
			}
		case "BDAT":
			// CHUNKING is not offered (the front would have to frame
			// binary chunks); a client that sends BDAT anyway has its
			// chunk read and dropped.
			size, err := strconv.ParseInt(strings.Fields(arg + " x")[0], 10, 64)
			if _, ok := fs.settle(); !ok {
				return false
			}
			if err != nil || size < 0 {
				fs.write("501 5.5.4 BDAT needs a chunk size\r\n")
				continue
			}
			if _, err := io.CopyN(io.Discard, br, size); err != nil {
				return false
			}
			fs.write("502 5.5.1 CHUNKING is not offered here: use DATA\r\n")
		case "QUIT":
			fs.expect(replyQuit)
			fs.relay(line)
			fs.settle()
			return false
		default:
			fs.expect(replyPlain)
			if fs.relay(line) != nil {
				return false
			}
		}
	}
}

// timedOut tells an idle client that the server closes the connection
// (RFC 5321 §4.5.3.2: the server may close after its timeout, and §3.8
// has it send 421 first), as Postfix does.
func (fs *frontSession) timedOut() {
	fs.write(fmt.Sprintf("421 4.4.2 %s Error: timeout exceeded\r\n", fs.s.Hostname))
}

// relayData relays the message after 354, up to and including the line
// with a single dot. It ends where go-smtp does: only CRLF "." CRLF ends
// the data (a dot after a bare LF does not). It returns nil at the end of
// the data, else the error that stopped it (a timeout when the client
// went quiet).
func (fs *frontSession) relayData(br *bufio.Reader) error {
	atLineStart := true // the previous line ended with CRLF
	for {
		fs.st.conn.SetReadDeadline(time.Now().Add(fs.s.timeout()))
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			end := err == nil && atLineStart && bytes.Equal(chunk, []byte(".\r\n"))
			if err := fs.relay(chunk); err != nil {
				return err
			}
			if end {
				return nil
			}
			if err == nil {
				atLineStart = bytes.HasSuffix(chunk, []byte("\r\n"))
			} else {
				atLineStart = false
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// readLine reads one line, with its line end, of at most max bytes; a
// longer one is read to its end and reported as errLineTooLong.
func (fs *frontSession) readLine(br *bufio.Reader, max int) ([]byte, error) {
	fs.st.conn.SetReadDeadline(time.Now().Add(fs.s.timeout()))
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > max {
			line = nil
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
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

// strictSyntax returns the reply of a strict server to a command whose
// syntax RFC 5321 does not allow, or "" when the front lets go-smtp judge
// it. go-smtp takes "MAIL FROM: alice@example.org" as Postfix does by
// default; a strict server wants the grammar of RFC 5321 §4.1.2.
func strictSyntax(verb, arg string, line []byte) string {
	switch verb {
	case "EHLO", "HELO":
		// RFC 5321 §4.1.1.1: "EHLO" SP ( Domain / address-literal ).
		if arg == "" {
			return "501 5.5.4 Syntax: " + verb + " hostname (RFC 5321 §4.1.1.1): say who you are, e.g. " + verb + " client.example.org"
		}
	case "MAIL":
		if why := pathSyntax(line, "MAIL FROM:"); why != "" {
			return "501 5.5.4 Syntax: MAIL FROM:<address> (RFC 5321 §4.1.2): " + why
		}
	case "RCPT":
		if why := pathSyntax(line, "RCPT TO:"); why != "" {
			return "501 5.5.4 Syntax: RCPT TO:<address> (RFC 5321 §4.1.2): " + why
		}
	}
	return ""
}

// pathSyntax checks a MAIL or RCPT line against RFC 5321 §4.1.2:
// `"MAIL FROM:" Reverse-path [SP Mail-parameters]`, the path in angle
// brackets straight after the colon. It returns what is wrong, or "".
func pathSyntax(line []byte, head string) string {
	s := strings.TrimRight(string(line), "\r\n")
	if len(s) < len(head) || !strings.EqualFold(s[:len(head)], head) {
		return "exactly one space before " + head[5:] + " and no space before the colon"
	}
	s = s[len(head):]
	switch {
	case s == "":
		return "the address is missing"
	case s[0] == ' ' || s[0] == '\t':
		return "no space after the colon"
	case s[0] != '<':
		return "the address goes in angle brackets"
	}
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '>' && !quoted:
			if rest := s[i+1:]; rest != "" && rest[0] != ' ' {
				return "a space must separate the address from its parameters"
			}
			return ""
		case (c == ' ' || c == '\t') && !quoted:
			return "no space inside the angle brackets"
		}
	}
	return "the closing angle bracket is missing"
}

func splitCommand(line []byte) (verb, arg string) {
	s := strings.TrimRight(string(line), "\r\n")
	verb, arg, _ = strings.Cut(s, " ")
	return strings.ToUpper(verb), strings.TrimSpace(arg)
}

// isBase64 reports whether s is a SASL response go-smtp can decode: "="
// (empty) or standard base64.
func isBase64(s string) bool {
	if s == "=" {
		return true
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return err == nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

var _ gosmtp.Backend = (*backend)(nil)
