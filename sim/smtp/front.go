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
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

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
//     421 4.4.2, in the middle of DATA too — and bounded command lines;
//   - a command line must end with CRLF: one that ends in a bare LF is
//     refused with 500 5.5.2, never run (RFC 5321 §2.3.8);
//   - EHLO and HELO must name a domain or an address literal (RFC 5321
//     §4.1.1.1), in both modes: the name goes into the Received header,
//     so control characters (CR, NUL, TAB...) get 501 5.5.4 (heloSyntax);
//   - the message after DATA reaches go-smtp only as well-formed lines:
//     a bare CR or LF, a NUL or a line over 1000 octets, and the rest up
//     to CRLF.CRLF is swallowed and the message refused (relayData), so
//     go-smtp's reader and the front always agree on where it ends;
//   - AUTH inside a mail transaction gets 503 (RFC 4954 §4), and
//     RCPT TO:<postmaster> — no domain, which go-smtp can not parse — is
//     passed on as barePostmaster (RFC 5321 §4.5.1).
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
	replyAuthLF             // the reply to the "*" that stands for a response ending in a bare LF
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
	inMail bool   // a mail transaction is open (MAIL accepted)
	// dataErr is why the front refused the message it is relaying: the
	// backend answers it at the final dot.
	dataErr *gosmtp.SMTPError
}

func (st *connState) isTLS() bool { return st.tls != nil }

func (st *connState) setInMail(v bool) {
	st.mu.Lock()
	st.inMail = v
	st.mu.Unlock()
}

func (st *connState) mailOpen() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.inMail
}

func (st *connState) setDataErr(e *gosmtp.SMTPError) {
	st.mu.Lock()
	st.dataErr = e
	st.mu.Unlock()
}

// takeDataErr returns the front's verdict on the message just read, and
// forgets it. It returns an error, nil when there is none (a nil
// *SMTPError in an error would not be nil).
func (st *connState) takeDataErr() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	e := st.dataErr
	st.dataErr = nil
	if e == nil {
		return nil
	}
	return e
}

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
	// A new go-smtp session (after STARTTLS too): no transaction open.
	fs.st.setInMail(false)
	fs.st.setDataErr(nil)
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
	// go-smtp's replies are short lines, and ReadString collects a
	// longer one: a small buffer, as each idle connection holds it.
	r := bufio.NewReaderSize(fs.outer, 512)
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
			// The client said <postmaster>, not what go-smtp got.
			text := strings.Replace(reply[0][len("250 2.0.0 "):], "<"+barePostmaster+">", "<postmaster>", 1)
			return []string{"250 2.1.5 " + text}
		case kind == replyAuthBad:
			// go-smtp answers 454 to a response that is not base64;
			// RFC 4954 §4 wants 501.
			return []string{"501 5.5.2 Invalid base64 data: the response to 334 must be base64 (RFC 4954 §4)"}
		case kind == replyAuthLF:
			return []string{errLFOnly}
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
		refusal := ""
		switch {
		case !bytes.HasSuffix(line, crlf):
			// RFC 5321 §2.3.8: lines end with CRLF, and a server that
			// took LF alone for a line end could be made to read
			// commands where its peers read text (SMTP smuggling).
			refusal = errLFOnly
		case fs.s.Strict:
			refusal = strictSyntax(verb, arg, line)
		}
		if refusal == "" && (verb == "EHLO" || verb == "HELO") && arg != "" {
			if why := heloSyntax(verb, arg, fs.s.Strict); why != "" {
				refusal = "501 5.5.4 Syntax: " + verb + " hostname (RFC 5321 §4.1.1.1): " + why
			}
		}
		if refusal != "" {
			if _, ok := fs.settle(); !ok {
				return false
			}
			fs.write(refusal + "\r\n")
			continue
		}
		switch verb {
		case "MAIL", "RCPT":
			kind := replyMail
			if verb == "RCPT" {
				kind = replyRcpt
				line = rewriteBarePostmaster(line, arg)
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
			if fs.st.mailOpen() {
				// RFC 4954 §4: AUTH during a mail transaction MUST
				// be refused with 503 (a login after MAIL would
				// let a sender nobody checked relay).
				fs.write("503 5.5.1 Bad sequence of commands: AUTH is not permitted during a mail transaction, send RSET first (RFC 4954 §4)\r\n")
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
				if r := strings.TrimRight(string(resp), "\r\n"); !bytes.HasSuffix(resp, crlf) {
					// A line end of LF alone: cancel the exchange,
					// its reply says why (RFC 5321 §2.3.8).
					kind, resp = replyAuthLF, []byte("*\r\n")
				} else if r != "*" && !isBase64(r) {
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
// with a single dot. Only CRLF "." CRLF ends the data (RFC 5321
// §4.1.1.4: a dot after a bare LF or before a bare CR does not).
//
// Each line is checked before go-smtp sees it, and only complete lines
// that end in CRLF and hold no other CR or LF, no NUL and at most 1000
// octets are relayed. go-smtp's reader then ends the data exactly where
// the front does: fed a bare CR, it drops "." CR at the start of a line
// (so the checks after it never see the CR) and can miss the CRLF that
// follows, reading on as message what the front took for commands — a
// message acknowledged 250 with a smuggled one inside. At the first bad
// line the front stops relaying, reads on to the end of the data, and
// hands go-smtp the final dot with its verdict (connState.dataErr), which
// the backend answers: the whole message is refused, and nothing in it
// is ever run as a command.
//
// The codes: a bare CR or LF breaks SMTP's own line syntax (RFC 5321
// §2.3.8), 500 5.5.2 as the README has it (Postfix refuses it with
// 5.5.2 too, as 550 by default); a NUL is a content error: mail text can
// not carry it (RFC 5322 §2.3, RFC 2045 §2.8), 554 5.6.0 — 554, "transaction
// failed", is a reply RFC 5321 §4.3.2 lists for the final dot.
//
// It returns nil at the end of the data, else the error that stopped it
// (a timeout when the client went quiet).
func (fs *frontSession) relayData(br *bufio.Reader) error {
	fs.st.setDataErr(nil)
	var bad *gosmtp.SMTPError
	atLineStart := true // the previous line ended with CRLF
	for {
		line, long, err := fs.dataLine(br)
		if err != nil {
			return err
		}
		if atLineStart && !long && bytes.Equal(line, []byte(".\r\n")) {
			fs.st.setDataErr(bad)
			return fs.relay(line)
		}
		atLineStart = bytes.HasSuffix(line, crlf)
		if bad == nil {
			bad = badDataLine(line, long)
		}
		if bad == nil {
			if err := fs.relay(line); err != nil {
				return err
			}
		}
	}
}

// maxDataLine is the longest line of a message, CRLF included (RFC 5321
// §4.5.3.1.6), not counting a dot added for transparency.
const maxDataLine = 1000

// dataLine reads one line of the message, with its line end (always an
// LF). A line longer than maxDataLine is read to its end, but only its
// last two octets are kept, and long is true.
func (fs *frontSession) dataLine(br *bufio.Reader) (line []byte, long bool, err error) {
	for {
		fs.st.conn.SetReadDeadline(time.Now().Add(fs.s.timeout()))
		chunk, err := br.ReadSlice('\n')
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
func badDataLine(line []byte, long bool) *gosmtp.SMTPError {
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

var crlf = []byte("\r\n")

// errLFOnly answers a command line (or SASL response) that ends in a bare
// LF. It names no "bare" message: the line is a command.
const errLFOnly = "500 5.5.2 Syntax error: the line ends in LF alone, commands must end with CRLF (RFC 5321 §2.3.8)"

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

// heloSyntax checks the argument of EHLO or HELO (not empty), and returns
// what is wrong with it, or "". RFC 5321 §4.1.1.1 wants a domain (HELO)
// or a domain or address literal (EHLO); the name goes into the Received
// header of every message of the session, so no mode takes control
// characters, or anything else that could not be a host's name.
//
// A strict server wants the grammar: one argument, a Domain of
// letter-digit-hyphen labels (RFC 5321 §4.1.2; U-labels, RFC 6531 §3.3)
// or, after EHLO only, an address literal (§4.1.3). A tolerant one takes what real clients
// say: underscores, a bare IP address, a trailing dot, more words (go-smtp
// keeps the first).
func heloSyntax(verb, arg string, strict bool) string {
	for i := 0; i < len(arg); i++ {
		if c := arg[i]; c < 0x20 || c == 0x7f {
			return fmt.Sprintf("control character %s in the name: a host's name is letters, digits, hyphens and dots", controlName(c))
		}
	}
	if !utf8.ValidString(arg) {
		return "the name is not valid UTF-8"
	}
	for _, r := range arg {
		if unicode.IsControl(r) {
			return fmt.Sprintf("control character %U in the name", r)
		}
	}
	name, rest, _ := strings.Cut(arg, " ")
	if strict && strings.TrimSpace(rest) != "" {
		return "one argument only, the client's domain name or address literal"
	}
	if strings.HasPrefix(name, "[") {
		if strict && verb == "HELO" {
			return "HELO takes a domain name; an address literal needs EHLO"
		}
		return addressLiteralSyntax(name, strict)
	}
	if strict {
		if ip, err := netip.ParseAddr(name); err == nil {
			lit := "[" + name + "]"
			if !ip.Is4() {
				lit = "[IPv6:" + name + "]"
			}
			return "an IP address goes in square brackets, as an address literal (RFC 5321 §4.1.3): " + lit
		}
		return domainSyntax(name)
	}
	for _, c := range name {
		if !nameRune(c) && !strings.ContainsRune("-._:", c) {
			return fmt.Sprintf("%q can not be in a host's name", c)
		}
	}
	return ""
}

// nameRune reports whether c is a letter or digit of a host's name: of
// US-ASCII, or of a U-label, where marks go with letters; no spaces,
// symbols or format characters (a U+202E could turn the header around).
func nameRune(c rune) bool {
	if c < 0x80 {
		return isLetDig(byte(c))
	}
	return unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.IsMark(c)
}

// domainSyntax checks a Domain (RFC 5321 §4.1.2): sub-domains of letters,
// digits and hyphens, not starting or ending with a hyphen, separated by
// single dots; non-ASCII labels are taken as U-labels (RFC 6531 §3.3).
func domainSyntax(name string) string {
	if len(name) > 255 {
		return "the name is longer than 255 octets (RFC 5321 §4.5.3.1.2)"
	}
	for _, label := range strings.Split(name, ".") {
		switch {
		case label == "":
			return "an empty label: no dot at the start or the end, nor two in a row"
		case len(label) > 63:
			return "a label longer than 63 octets (RFC 1035 §2.3.4)"
		case label[0] == '-' || label[len(label)-1] == '-':
			return "a label can not start or end with a hyphen"
		}
		for _, c := range label {
			if !nameRune(c) && c != '-' {
				return fmt.Sprintf("%q can not be in a domain name: letters, digits and hyphens only", c)
			}
		}
	}
	return ""
}

// addressLiteralSyntax checks an address literal (RFC 5321 §4.1.3):
// [IPv4], [IPv6:address], or a standardized tag and its content.
func addressLiteralSyntax(lit string, strict bool) string {
	inner, ok := strings.CutSuffix(lit[1:], "]")
	if !ok || inner == "" {
		return "an address literal is an address in square brackets, e.g. [192.0.2.1]"
	}
	for _, c := range []byte(inner) {
		// dcontent: printable US-ASCII but "[", "\" and "]".
		if c < 33 || c > 126 || c == '[' || c == '\\' || c == ']' {
			return fmt.Sprintf("%q can not be in an address literal", c)
		}
	}
	if !strict {
		return ""
	}
	tag, addr, general := strings.Cut(inner, ":")
	switch {
	case !general:
		if ip, err := netip.ParseAddr(inner); err != nil || !ip.Is4() {
			return "not an IPv4 address: an IPv6 address is written [IPv6:2001:db8::1]"
		}
	case strings.EqualFold(tag, "IPv6"):
		if ip, err := netip.ParseAddr(addr); err != nil || !ip.Is6() || ip.Zone() != "" {
			return "not an IPv6 address after IPv6:"
		}
	default:
		if domainSyntax(tag) != "" || strings.Contains(tag, ".") {
			return "an address literal is [IPv4], [IPv6:address] or [tag:address]"
		}
	}
	return ""
}

func isLetDig(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// controlName names a control character for a reply.
func controlName(c byte) string {
	switch c {
	case 0:
		return "NUL"
	case '\t':
		return "TAB"
	case '\r':
		return "CR"
	case '\n':
		return "LF"
	case 0x7f:
		return "DEL"
	}
	return fmt.Sprintf("0x%02X", c)
}

// rewriteBarePostmaster turns RCPT TO:<postmaster> into a path go-smtp
// parses (it wants a domain), barePostmaster, which the backend knows
// (RFC 5321 §4.5.1: <postmaster> with no domain MUST be accepted).
// Other lines come back as they were.
func rewriteBarePostmaster(line []byte, arg string) []byte {
	const bare = "<postmaster>"
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		return line
	}
	rest = strings.TrimLeft(rest, " ")
	if len(rest) < len(bare) || !strings.EqualFold(rest[:len(bare)], bare) {
		return line
	}
	return []byte("RCPT TO:<" + barePostmaster + ">" + rest[len(bare):] + "\r\n")
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
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
