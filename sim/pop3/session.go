package pop3

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// The states of a session (RFC 1939 §3).
type state int

const (
	stateAuthorization state = iota
	stateTransaction
	stateUpdate
)

// maxFailures ends a session after this many failed logins.
const maxFailures = 3

// maxSASLLine bounds a SASL response line (RFC 5034 §4: the 255-octet
// limit of RFC 2449 does not apply to AUTH).
const maxSASLLine = 4096

// session is one client connection.
type session struct {
	srv *Server

	mu      sync.Mutex // guards c, read by Close
	c       net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	lineBuf []byte

	tls       bool
	loopback  bool
	timestamp string // the APOP timestamp of the greeting (RFC 1939 §7)

	state    state
	failures int
	userArg  string // the name given by USER, valid for the next command only

	// TRANSACTION state
	user     string // the canonical address, the store's user
	unlock   func()
	validity uint32
	msgs     []message // the maildrop as it was at login (RFC 1939 §4)
}

// message is one message of the maildrop as the session sees it.
type message struct {
	uid       store.UID
	size      int64
	deleted   bool // DELE'd, removed at QUIT
	retrieved bool // RETR'd, marked \Seen at QUIT
	seen      bool
}

func newSession(srv *Server, c net.Conn) *session {
	s := &session{srv: srv, c: c}
	s.br = bufio.NewReaderSize(c, 4096)
	s.bw = bufio.NewWriterSize(c, 8192)
	_, s.tls = c.(interface{ ConnectionState() tls.ConnectionState })
	s.loopback = isLoopback(c.RemoteAddr())
	return s
}

func isLoopback(a net.Addr) bool {
	if a == nil {
		return false
	}
	if t, ok := a.(*net.TCPAddr); ok {
		ip, ok := netip.AddrFromSlice(t.IP)
		return ok && ip.Unmap().IsLoopback()
	}
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

func (s *session) conn() net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

func (s *session) serve() {
	defer func() {
		if s.unlock != nil {
			s.unlock()
		}
		s.conn().Close()
	}()
	s.timestamp = s.newTimestamp()
	// RFC 1939 §4: the greeting; §7: the timestamp for APOP.
	s.reply("+OK %s POP3 server ready %s", s.srv.hostname(), s.timestamp)
	if s.flush() != nil {
		return
	}
	for {
		// Shutdown interrupts a session waiting here; one that has begun
		// sees it before the next command, even one already buffered.
		if s.srv.loop.Draining() {
			s.farewell("-ERR [SYS/TEMP] server shutting down, try again later")
			return
		}
		c := s.conn()
		s.srv.loop.Idle(c, true)
		line, err := readLine(s.br, s.srv.maxLine(), s.lineBuf)
		s.srv.loop.Idle(c, false)
		s.lineBuf = line[:0]
		if err != nil && s.srv.loop.Draining() {
			s.farewell("-ERR [SYS/TEMP] server shutting down, try again later")
			return
		}
		switch {
		case errors.Is(err, errLineTooLong):
			s.reply("-ERR line too long (at most %d octets with CRLF, RFC 2449 §4)", s.srv.maxLine())
		case errors.Is(err, os.ErrDeadlineExceeded):
			// RFC 1939 §3: the autologout timer. The session ends
			// without UPDATE state and without a word to the client.
			return
		case err != nil:
			return // EOF, reset, closed: no UPDATE state (RFC 1939 §6)
		default:
			if !s.command(line) {
				s.flush()
				return
			}
		}
		if s.br.Buffered() == 0 {
			// RFC 2449 §6.6 PIPELINING: answer a batch of commands in
			// one write, once the client has no more queued.
			if s.flush() != nil {
				return
			}
		}
	}
}

// farewell sends a last line on a connection whose deadline may have
// passed.
func (s *session) farewell(line string) {
	c := s.conn()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	s.bw.WriteString(line + "\r\n")
	s.bw.Flush()
}

// newTimestamp makes the "<process-ID.clock@hostname>" of RFC 1939 §7:
// unique per connection (a counter, the clock, random bits), as APOP's
// security rests on it.
func (s *session) newTimestamp() string {
	var bits uint32
	if s.srv.Rand != nil {
		bits = s.srv.Rand()
	} else {
		var r [4]byte
		rand.Read(r[:])
		bits = binary.BigEndian.Uint32(r[:])
	}
	return fmt.Sprintf("<%d.%d.%08x@%s>", s.srv.connSeq.Add(1), s.srv.clock().Now().Unix(), bits, s.srv.hostname())
}

// reply writes one line (buffered until flush).
func (s *session) reply(format string, args ...any) {
	fmt.Fprintf(s.bw, format, args...)
	s.bw.WriteString("\r\n")
}

// flush arms the idle timer (RFC 1939 §3) and sends what is buffered. The
// deadline is armed before the bytes leave, so a client that reads the
// answer finds the timer for its next command already running.
func (s *session) flush() error {
	s.conn().SetDeadline(time.Now().Add(s.srv.idleTimeout()))
	return s.bw.Flush()
}

// command runs one command line; false ends the session.
func (s *session) command(line []byte) bool {
	cmd, err := parseCommand(line)
	if err != nil {
		s.userArg = ""
		s.reply("-ERR %v", err)
		return true
	}
	// RFC 1939 §7: PASS only right after a successful USER.
	userArg := s.userArg
	s.userArg = ""

	switch cmd.Name {
	case "QUIT":
		return s.quit(cmd)
	case "CAPA":
		return s.capa(cmd)
	case "NOOP":
		if !s.need(cmd, stateTransaction, 0, 0) {
			return true
		}
		s.reply("+OK")
		return true
	case "USER", "PASS", "APOP", "AUTH", "STLS":
		if s.state != stateAuthorization {
			s.reply("-ERR %s is only valid before login (AUTHORIZATION state); you are logged in", cmd.Name)
			return true
		}
		switch cmd.Name {
		case "USER":
			return s.cmdUser(cmd)
		case "PASS":
			return s.cmdPass(cmd, userArg)
		case "APOP":
			return s.cmdAPOP(cmd)
		case "AUTH":
			return s.cmdAuth(cmd)
		default:
			return s.cmdSTLS(cmd)
		}
	case "STAT", "LIST", "RETR", "DELE", "RSET", "TOP", "UIDL":
		return s.transaction(cmd)
	}
	s.reply("-ERR unknown command %s", quote([]byte(cmd.Name)))
	return true
}

// need checks the state and the number of arguments of a command, and
// answers -ERR when they are wrong.
func (s *session) need(cmd command, st state, minArgs, maxArgs int) bool {
	if s.state != st {
		if st == stateTransaction {
			s.reply("-ERR %s is only valid after login (TRANSACTION state); log in with USER and PASS, APOP or AUTH first", cmd.Name)
		} else {
			s.reply("-ERR %s is only valid before login (AUTHORIZATION state)", cmd.Name)
		}
		return false
	}
	if n := len(cmd.Args); n < minArgs || n > maxArgs {
		switch {
		case maxArgs == 0:
			s.reply("-ERR %s takes no arguments", cmd.Name)
		case minArgs == maxArgs:
			s.reply("-ERR %s takes %d argument%s", cmd.Name, minArgs, plural(minArgs))
		case minArgs == 0:
			s.reply("-ERR %s takes at most %d argument%s", cmd.Name, maxArgs, plural(maxArgs))
		default:
			s.reply("-ERR %s takes %d to %d arguments", cmd.Name, minArgs, maxArgs)
		}
		return false
	}
	return true
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// capa answers CAPA (RFC 2449 §5). What is offered depends on the state
// and on whether a login would be accepted on this connection.
func (s *session) capa(cmd command) bool {
	if len(cmd.Args) > 0 {
		s.reply("-ERR CAPA takes no arguments")
		return true
	}
	s.reply("+OK Capability list follows")
	s.reply("TOP")
	s.reply("UIDL")
	if s.state == stateAuthorization && s.loginAllowed() {
		s.reply("USER")
		s.reply("SASL PLAIN")
	}
	s.reply("RESP-CODES")
	s.reply("PIPELINING")
	if s.state == stateAuthorization {
		s.reply("AUTH-RESP-CODE") // RFC 3206 §6: valid in AUTHORIZATION
		if s.srv.TLSConfig != nil && !s.tls {
			s.reply("STLS")
		}
	}
	s.reply("IMPLEMENTATION mailhop")
	s.reply(".")
	return true
}

// loginAllowed: passwords travel only inside TLS, from the machine itself,
// or where the operator allowed cleartext.
func (s *session) loginAllowed() bool {
	return s.tls || s.loopback || s.srv.InsecureAuth
}

// refuseCleartext answers a login attempt on a connection where logins
// are not allowed, or from an address the Limiter blocks; false if the
// login may go on.
func (s *session) refuseCleartext() bool {
	if s.loginAllowed() {
		if s.srv.Limiter.Blocked(s.c.RemoteAddr()) {
			s.reply(refusedReply)
			return true
		}
		return false
	}
	if s.srv.TLSConfig != nil {
		s.reply("-ERR [AUTH] login refused on an unencrypted connection: send STLS first, so the password travels inside TLS (RFC 2595)")
	} else {
		s.reply("-ERR [AUTH] login refused on an unencrypted connection, and this server has no TLS to offer: connect to its TLS port")
	}
	return true
}

// refusedReply answers a login from an address the Limiter refuses.
const refusedReply = "-ERR [SYS/TEMP] too many failed logins from your address; try again later"

// begin starts a login with the Limiter, before the password is checked;
// false (after the answer) when the address is refused.
func (s *session) begin() (*auth.Attempt, bool) {
	try, ok := s.srv.Limiter.Begin(s.c.RemoteAddr())
	if !ok {
		s.reply(refusedReply)
	}
	return try, ok
}

func (s *session) cmdUser(cmd command) bool {
	if s.refuseCleartext() {
		return true
	}
	if len(cmd.Args) != 1 {
		s.reply("-ERR USER takes 1 argument: the user name")
		return true
	}
	// Always +OK: telling which names exist would help an attacker.
	s.userArg = cmd.Args[0]
	s.reply("+OK send PASS")
	return true
}

func (s *session) cmdPass(cmd command, user string) bool {
	if s.refuseCleartext() {
		return true
	}
	if user == "" {
		s.reply("-ERR send USER first (PASS must follow USER at once)")
		return true
	}
	if cmd.Rest == "" {
		s.reply("-ERR PASS takes 1 argument: the password")
		return true
	}
	try, ok := s.begin()
	if !ok {
		return true
	}
	defer try.Done()
	addr, err := s.srv.Users.Authenticate(user, cmd.Rest)
	if err != nil {
		return s.failed(try, "[AUTH] invalid user name or password")
	}
	return s.login(addr)
}

// cmdAPOP checks an APOP digest: MD5 of the timestamp and the shared
// secret (RFC 1939 §7).
func (s *session) cmdAPOP(cmd command) bool {
	if s.refuseCleartext() {
		return true
	}
	if len(cmd.Args) != 2 {
		s.reply("-ERR APOP takes 2 arguments: the user name and the MD5 digest")
		return true
	}
	try, ok := s.begin()
	if !ok {
		return true
	}
	defer try.Done()
	name, digest := cmd.Args[0], strings.ToLower(cmd.Args[1])
	addr, known := s.srv.Users.Lookup(name)
	secret, clear := "", false
	if known {
		secret, clear = s.srv.Users.Secret(addr)
	}
	want := APOPDigest(s.timestamp, secret)
	match := subtle.ConstantTimeCompare([]byte(want), []byte(digest)) == 1
	if !known || !clear || !match {
		return s.failed(try, "[AUTH] invalid user name or digest (APOP needs the password kept in clear text on the server)")
	}
	return s.login(addr)
}

// APOPDigest returns the digest an APOP command carries for a greeting's
// timestamp ("<1896.697170952@dbc.mtview.ca.us>") and a shared secret:
// the MD5 of their concatenation in lower-case hex (RFC 1939 §7).
func APOPDigest(timestamp, secret string) string {
	sum := md5.Sum([]byte(timestamp + secret))
	return hex.EncodeToString(sum[:])
}

// cmdAuth runs AUTH (RFC 5034) with the PLAIN mechanism (RFC 4616).
func (s *session) cmdAuth(cmd command) bool {
	if len(cmd.Args) == 0 {
		// Not in RFC 5034, but clients of the RFC 1734 era ask this way.
		s.reply("+OK SASL mechanisms follow")
		if s.loginAllowed() {
			s.reply("PLAIN")
		}
		s.reply(".")
		return true
	}
	if s.refuseCleartext() {
		return true
	}
	if len(cmd.Args) > 2 {
		s.reply("-ERR AUTH takes a mechanism and an optional initial response")
		return true
	}
	if !strings.EqualFold(cmd.Args[0], "PLAIN") {
		s.reply("-ERR unsupported SASL mechanism %s; this server offers PLAIN", quote([]byte(cmd.Args[0])))
		return true
	}
	var resp string
	if len(cmd.Args) == 2 {
		resp = cmd.Args[1]
		if resp == "=" { // RFC 5034 §4: "=" is an empty initial response
			resp = ""
		}
	} else {
		// RFC 5034 §4: an empty challenge, then the client's response.
		s.reply("+ ")
		if s.flush() != nil {
			return false
		}
		line, err := readLine(s.br, max(maxSASLLine, s.srv.maxLine()), s.lineBuf)
		s.lineBuf = line[:0]
		switch {
		case errors.Is(err, errLineTooLong):
			s.reply("-ERR line too long; authentication cancelled")
			return true
		case err != nil:
			return false // the autologout timer (RFC 1939 §3), EOF, ...
		}
		resp = string(line)
		if resp == "*" {
			s.reply("-ERR authentication cancelled by the client")
			return true
		}
	}
	try, ok := s.begin()
	if !ok {
		return true
	}
	defer try.Done()
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return s.failed(try, "[AUTH] the SASL response is not valid base64")
	}
	// RFC 4616 §2: [authzid] NUL authcid NUL passwd
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return s.failed(try, "[AUTH] malformed PLAIN response (want authzid NUL user NUL password)")
	}
	addr, err := s.srv.Users.Authenticate(string(parts[1]), string(parts[2]))
	if err != nil {
		return s.failed(try, "[AUTH] invalid user name or password")
	}
	if len(parts[0]) > 0 {
		// Logging in as someone else is not offered.
		if z, ok := s.srv.Users.Lookup(string(parts[0])); !ok || z != addr {
			return s.failed(try, "[AUTH] authorization identity differs from the user; not allowed here")
		}
	}
	return s.login(addr)
}

// failed answers a failed login after FailDelay (or the Limiter's
// delay); the third failure ends the session.
func (s *session) failed(try *auth.Attempt, why string) bool {
	s.failures++
	d := s.srv.failDelay()
	if s.srv.Limiter != nil {
		d = try.Failed()
	}
	if d > 0 {
		// Send what came before, so the delay is only this answer's.
		if s.flush() != nil {
			return false
		}
		t := s.srv.clock().NewTimer(d)
		select {
		case <-t.C():
		case <-s.srv.done:
			t.Stop()
			return false
		}
	}
	if s.failures >= maxFailures {
		s.reply("-ERR %s; %d failed logins, closing the connection", why, s.failures)
		return false
	}
	s.reply("-ERR %s", why)
	return true
}

// login takes the maildrop of an authenticated user: its exclusive lock
// and the list of its messages, numbered from 1 (RFC 1939 §4).
func (s *session) login(addr string) bool {
	unlock, err := s.srv.Store.Lock(addr)
	switch {
	case errors.Is(err, store.ErrLocked):
		s.reply("-ERR [IN-USE] the maildrop of %s is in use by another POP3 session; try again later", addr)
		return true
	case errors.Is(err, store.ErrNoUser):
		s.reply("-ERR [SYS/PERM] %s has no maildrop on this server", addr)
		return true
	case err != nil:
		s.reply("-ERR [SYS/TEMP] unable to lock the maildrop: %v", oneLine(err))
		return true
	}
	st, err := s.srv.Store.Status(addr, store.Inbox)
	var list []store.Message
	if err == nil {
		list, err = s.srv.Store.List(addr, store.Inbox)
	}
	if err != nil {
		unlock()
		s.reply("-ERR [SYS/TEMP] unable to read the maildrop: %v", oneLine(err))
		return true
	}
	s.user, s.unlock, s.validity = addr, unlock, st.UIDValidity
	s.msgs = make([]message, len(list))
	for i, m := range list {
		s.msgs[i] = message{uid: m.UID, size: m.Size, seen: store.HasFlag(m.Flags, store.FlagSeen)}
	}
	s.state = stateTransaction
	n, size := s.count()
	s.reply("+OK %s's maildrop has %d message%s (%d octets)", addr, n, plural(n), size)
	return true
}

// oneLine keeps an error on one reply line.
func oneLine(err error) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, err.Error())
}

// count returns the number and total size of the messages not deleted.
func (s *session) count() (n int, size int64) {
	for _, m := range s.msgs {
		if !m.deleted {
			n++
			size += m.size
		}
	}
	return n, size
}

// cmdSTLS starts TLS (RFC 2595 §4).
func (s *session) cmdSTLS(cmd command) bool {
	switch {
	case s.tls:
		s.reply("-ERR command not permitted when TLS active")
		return true
	case s.srv.TLSConfig == nil:
		s.reply("-ERR STLS is not offered: this server has no TLS certificate")
		return true
	case len(cmd.Args) > 0:
		s.reply("-ERR STLS takes no arguments")
		return true
	}
	s.reply("+OK Begin TLS negotiation")
	if s.flush() != nil {
		return false
	}
	// Whatever the client sent after STLS in the same breath came in the
	// clear and could have been injected by a man in the middle
	// (CVE-2011-0411): throw it away, never run it inside TLS. (The Reset
	// below would drop it too; this says so where it matters.)
	s.br.Discard(s.br.Buffered())
	tc := tls.Server(s.conn(), s.srv.TLSConfig)
	tc.SetDeadline(time.Now().Add(s.srv.idleTimeout()))
	if err := tc.Handshake(); err != nil {
		return false
	}
	s.mu.Lock()
	s.c = tc
	s.mu.Unlock()
	s.br.Reset(tc)
	s.bw.Reset(tc)
	s.tls = true
	s.userArg = ""
	return true
}

// transaction runs the commands of the TRANSACTION state.
func (s *session) transaction(cmd command) bool {
	switch cmd.Name {
	case "STAT":
		if s.need(cmd, stateTransaction, 0, 0) {
			n, size := s.count()
			s.reply("+OK %d %d", n, size)
		}
	case "LIST", "UIDL":
		if !s.need(cmd, stateTransaction, 0, 1) {
			break
		}
		item := func(i int) string {
			if cmd.Name == "LIST" {
				return fmt.Sprintf("%d %d", i+1, s.msgs[i].size)
			}
			return fmt.Sprintf("%d %s", i+1, s.uidl(i))
		}
		if len(cmd.Args) == 1 {
			if i, ok := s.number(cmd.Args[0]); ok {
				s.reply("+OK %s", item(i))
			}
			break
		}
		n, size := s.count()
		if cmd.Name == "LIST" {
			s.reply("+OK %d message%s (%d octets)", n, plural(n), size)
		} else {
			s.reply("+OK unique-id listing follows")
		}
		for i, m := range s.msgs {
			if !m.deleted {
				s.reply("%s", item(i))
			}
		}
		s.reply(".")
	case "RETR":
		if s.need(cmd, stateTransaction, 1, 1) {
			if i, ok := s.number(cmd.Args[0]); ok {
				s.send(i, -1)
			}
		}
	case "TOP":
		if !s.need(cmd, stateTransaction, 2, 2) {
			break
		}
		i, ok := s.number(cmd.Args[0])
		if !ok {
			break
		}
		lines, err := parseNumber(cmd.Args[1])
		if err != nil {
			s.reply("-ERR invalid number of lines %s", quote([]byte(cmd.Args[1])))
			break
		}
		s.send(i, lines)
	case "DELE":
		if s.need(cmd, stateTransaction, 1, 1) {
			if i, ok := s.number(cmd.Args[0]); ok {
				s.msgs[i].deleted = true
				s.reply("+OK message %d deleted", i+1)
			}
		}
	case "RSET":
		if s.need(cmd, stateTransaction, 0, 0) {
			for i := range s.msgs {
				s.msgs[i].deleted = false
			}
			n, size := s.count()
			s.reply("+OK maildrop has %d message%s (%d octets)", n, plural(n), size)
		}
	}
	return true
}

// uidl is the unique-id of message i (RFC 1939 §7): the INBOX's
// UIDVALIDITY and the message's UID, as IMAP shows them.
func (s *session) uidl(i int) string {
	return fmt.Sprintf("%d.%d", s.validity, s.msgs[i].uid)
}

// number finds a message by its number, answering -ERR if there is no
// such message or it is deleted (RFC 1939 §5).
func (s *session) number(arg string) (int, bool) {
	n, err := parseNumber(arg)
	if err != nil {
		s.reply("-ERR %v", err)
		return 0, false
	}
	if n < 1 || n > len(s.msgs) {
		s.reply("-ERR no such message, only %d message%s in maildrop", len(s.msgs), plural(len(s.msgs)))
		return 0, false
	}
	if s.msgs[n-1].deleted {
		s.reply("-ERR message %d already deleted", n)
		return 0, false
	}
	return n - 1, true
}

// send answers RETR (lines < 0) or TOP (the header and lines lines of the
// body) with message i, dot-stuffed (RFC 1939 §3).
func (s *session) send(i, lines int) {
	m := &s.msgs[i]
	body, err := s.srv.Store.Read(s.user, store.Inbox, m.uid)
	switch {
	case errors.Is(err, store.ErrNoMessage):
		s.reply("-ERR message %d no longer exists: another session removed it", i+1)
		return
	case err != nil:
		s.reply("-ERR [SYS/TEMP] unable to read message %d: %v", i+1, oneLine(err))
		return
	}
	if lines < 0 {
		s.reply("+OK %d octets", m.size)
		m.retrieved = true
	} else {
		s.reply("+OK top of message follows")
	}
	sent := writeMessage(s.bw, body, lines)
	if s.srv.Trace == nil {
		return
	}
	what := fmt.Sprintf("TOP %d %d (%d octets)", i+1, lines, sent)
	if lines < 0 {
		what = fmt.Sprintf("RETR %d (%d octets)", i+1, m.size) // as the +OK line said
	}
	s.srv.Trace.Emit(trace.Event{
		Kind:    trace.KindFetch,
		Host:    s.srv.hostname(),
		Proto:   "pop3",
		Mailbox: s.user + "/" + store.Inbox,
		Msg:     trace.MsgKey(body),
		Text:    what,
	})
}

// writeMessage writes a message as a multi-line response: CRLF line ends,
// a "." doubled at the start of a line, a last line of "." (RFC 1939 §3).
// With bodyLines >= 0 only the header section, the blank line and that
// many lines of the body are sent (TOP). It returns the octets of the
// message sent, before dot-stuffing.
func writeMessage(w *bufio.Writer, msg []byte, bodyLines int) int {
	sent := 0
	inHeader := true
	for len(msg) > 0 {
		if !inHeader && bodyLines >= 0 {
			if bodyLines == 0 {
				break
			}
			bodyLines--
		}
		var line []byte
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i], msg[i+1:]
		} else {
			line, msg = msg, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			inHeader = false
		}
		if len(line) > 0 && line[0] == '.' {
			w.WriteByte('.')
		}
		w.Write(line)
		w.WriteString("\r\n")
		sent += len(line) + 2
	}
	w.WriteString(".\r\n")
	return sent
}

// quit ends the session; in the TRANSACTION state it enters UPDATE and
// removes the deleted messages (RFC 1939 §6).
func (s *session) quit(cmd command) bool {
	if len(cmd.Args) > 0 {
		s.reply("-ERR QUIT takes no arguments")
		return true
	}
	if s.state == stateAuthorization {
		s.reply("+OK %s POP3 server signing off", s.srv.hostname())
		return false
	}
	s.state = stateUpdate
	var gone, seen []store.UID
	for _, m := range s.msgs {
		switch {
		case m.deleted:
			gone = append(gone, m.uid)
		case m.retrieved && !m.seen:
			seen = append(seen, m.uid)
		}
	}
	if len(seen) > 0 {
		// A courtesy to IMAP readers, not part of POP3: a failure here
		// is no reason to answer -ERR.
		s.srv.Store.SetFlags(s.user, store.Inbox, seen, store.FlagsAdd, []string{store.FlagSeen})
	}
	var err error
	if len(gone) > 0 {
		// Messages another session (IMAP) removed first are gone all the
		// same: only an error counts as failure.
		_, err = s.srv.Store.Expunge(s.user, store.Inbox, gone)
	}
	// Release the lock before answering, so a client that reconnects at
	// once finds the maildrop free.
	s.unlock()
	s.unlock = nil
	switch left, _ := s.count(); {
	case err != nil:
		s.reply("-ERR [SYS/TEMP] some deleted messages not removed: %v", oneLine(err))
	case left == 0:
		s.reply("+OK %s POP3 server signing off (maildrop empty)", s.srv.hostname())
	default:
		s.reply("+OK %s POP3 server signing off (%d message%s left)", s.srv.hostname(), left, plural(left))
	}
	return false
}
