package imap

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailhop/mailhop/sim/netx"
)

// The server owns each connection's transport. go-imap (imapserver) only
// ever sees a view: a net.Conn whose reads come through the guard of
// tagless.go and whose writes go to the client, in cleartext or through
// the TLS layer the server runs itself. So the guard reads decrypted
// commands on every transport: a cleartext port, after STARTTLS, and on
// an implicit-TLS port (993).
//
// go-imap decides what a connection may do from the connection's type (a
// *tls.Conn is encrypted) and from its Options, which hold for a whole
// server; it has no per-connection hook. The Server therefore runs three
// go-imap servers and gives each view to the one that fits its transport
// (see Server.pick):
//
//   - strict (InsecureAuth off, TLSConfig set): a cleartext connection
//     from a peer that may not send passwords in clear. It is told
//     STARTTLS and LOGINDISABLED, and LOGIN is answered NO
//     [PRIVACYREQUIRED].
//   - plain (InsecureAuth on, TLSConfig set): a cleartext connection that
//     may log in anyway (a loopback peer, or InsecureAuth): AUTH=PLAIN and
//     STARTTLS.
//   - secure (InsecureAuth on, no TLSConfig): a connection the server
//     runs TLS on: AUTH=PLAIN, and neither STARTTLS nor LOGINDISABLED.
//
// STARTTLS never reaches go-imap. The guard takes the command line, and
// once go-imap has answered every command before it, answers it: BAD with
// an argument, over TLS, without a TLSConfig or after login; otherwise
// "OK Begin TLS negotiation now". Then it drops what the client sent
// after the command (RFC 9051 §6.2.1; the command injection RFC 3207 §4.2
// warns of), runs the TLS handshake on the accepted connection, and gives
// a new view, over the TLS layer, to the secure go-imap server as a new
// connection. The old go-imap connection reads the end of its stream and
// its session ends (before login it holds nothing the client still needs;
// the count of failed logins, which must carry over, is kept here). The
// new one's greeting is not sent: after STARTTLS the client gets none.

// handshakeTimeout bounds a TLS handshake, implicit or after STARTTLS.
const handshakeTimeout = 30 * time.Second

// clientConn is one client connection, from accept to close.
type clientConn struct {
	srv       *Server
	raw       net.Conn // as accepted, beneath any TLS
	done      func()   // frees the connection's slot (more calls do nothing)
	closeOnce sync.Once

	cmu  sync.Mutex
	conn net.Conn // raw, or the TLS layer over it; cmu

	// tls is set (by the reader) before a view over TLS is handed out.
	tls bool

	wmu sync.Mutex // writes to the client, one at a time

	user     atomic.Pointer[string] // who logged in: STARTTLS is refused
	failures int                    // failed logins, across STARTTLS

	// sorting is the SORT or THREAD command go-imap is reading as a
	// SEARCH, until its tagged answer (sortcmd.go); wmu.
	sorting *sortCommand
	// appending is the MULTIAPPEND under way (multiappend.go); wmu.
	appending *multiAppend

	// CONDSTORE and QRESYNC (condstore.go, qresync.go), all wmu:
	// condstore and qresync are on; cond is the command go-imap reads
	// without its CONDSTORE part; enabling is an ENABLE of them under
	// way; modseqAll, every FETCH response of the command gets MODSEQ;
	// box reads the selected mailbox (nil: none); announce is SELECT's
	// HIGHESTMODSEQ line, still to write; lineSuffix ends a SEARCH
	// response written in parts.
	condstore  bool
	qresync    bool
	cond       *condCommand
	enabling   *condCommand
	modseqAll  bool
	box        *selectedBox
	announce   string
	lineSuffix []byte

	// The guard belongs to the goroutine reading the current view.
	guard
}

func newClientConn(s *Server, nc net.Conn, done func()) *clientConn {
	c := &clientConn{srv: s, raw: nc, conn: nc, done: done}
	c.guard.say = c.say
	c.guard.multiAppend = c.multiAppend
	c.guard.refuseAppend = c.refuseAppend
	c.guard.appendLimit = int(s.maxLiteral())
	return c
}

func (c *clientConn) current() net.Conn {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	return c.conn
}

// say writes a line of the server's own (the guard's answers) between
// go-imap's.
func (c *clientConn) say(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.current().Write(c.tagged([]byte(s)))
	return err
}

// close ends the connection and frees its slot.
func (c *clientConn) close() {
	c.closeConn()
	c.done()
}

// closeConn ends the connection. Its slot is freed when its session has
// ended too (endSession), so that Shutdown waits for the session.
func (c *clientConn) closeConn() {
	c.closeOnce.Do(func() {
		conn := c.current()
		conn.Close()
		if conn != c.raw {
			c.raw.Close()
		}
	})
}

// handshake runs the server side of TLS over the accepted connection,
// within handshakeTimeout, and makes the TLS layer the transport. Its
// cleartext is reported to the network's tap, marked as encrypted on the
// wire.
func (c *clientConn) handshake(tc *tls.Conn) error {
	c.raw.SetDeadline(time.Now().Add(handshakeTimeout))
	err := tc.Handshake()
	c.raw.SetDeadline(time.Time{})
	if err != nil {
		return err
	}
	c.cmu.Lock()
	c.conn = netx.PlainTap(c.raw, tc, false)
	c.cmu.Unlock()
	c.tls = true
	return nil
}

// hand gives a view of the connection to the go-imap server that fits its
// transport.
func (c *clientConn) hand(v *view) {
	if !c.srv.pick(c).give(v) {
		c.close()
	}
}

// appendBinary reports whether the APPEND message literal of size bytes
// go-imap is reading was a literal8 ("~{n}"). go-imap reads an APPEND's
// literal after the guard passed its line, in order; an APPEND go-imap
// refused before asking the session left its entry behind, which the
// size tells apart. It runs on the goroutine that reads the view.
func (c *clientConn) appendBinary(size int64) bool {
	g := &c.guard
	for len(g.appends) > 0 {
		a := g.appends[0]
		g.appends = g.appends[1:]
		if a.size == size {
			return a.binary
		}
	}
	return false
}

// read is a view's Read: what the guard passes on of the client's bytes.
func (c *clientConn) read(v *view, p []byte) (int, error) {
	g := &c.guard
	for len(g.out) == 0 {
		if v.retired.Load() {
			return 0, io.EOF
		}
		if g.err != nil {
			return 0, g.err
		}
		if g.awaitPlus {
			// go-imap has read the line of a synchronising literal
			// and asks for more: the literal if it said "+".
			g.awaitPlus = false
			if v.awaitsContinuation() {
				g.literal = g.pending
			} else {
				g.end()
			}
			continue
		}
		if g.held != heldNone {
			// go-imap has read everything before the held line, and
			// asks for more: it has answered every command before.
			if c.answerHeld(v) {
				return 0, io.EOF
			}
			continue
		}
		if g.sift() || g.held != heldNone || g.awaitPlus {
			continue
		}
		if g.rbuf == nil {
			g.rbuf = make([]byte, 4096)
		}
		n, err := c.current().Read(g.rbuf)
		g.in = append(g.in, g.rbuf[:n]...)
		if n == 0 && err != nil {
			if len(g.in) > 0 && !g.dropping { // a last line without its end
				g.out, g.in = g.in, nil
				break
			}
			return 0, err
		}
	}
	n := copy(p, g.out)
	g.out = g.out[n:]
	return n, nil
}

// answerHeld answers the command line the guard held at the start of its
// input. It reports whether the view is done with: TLS started and a new
// view went to go-imap, or the connection failed.
func (c *clientConn) answerHeld(v *view) bool {
	g := &c.guard
	held := g.held
	g.held = heldNone
	i := bytes.IndexByte(g.in, '\n')
	line := g.in[:i+1]
	if v.awaitsContinuation() {
		// go-imap reads this line as the answer to its "+" (a SASL
		// response, or what ends IDLE), not as a command.
		g.out, g.in = append(g.out, line...), g.in[i+1:]
		return false
	}
	g.in = g.in[i+1:]
	text := bytes.TrimRight(line, "\r\n")
	f := strings.Fields(string(text))
	tag := f[0]
	if !validTag(tag) {
		tag = "*"
	}
	switch held {
	case heldStartTLS:
		if c.startTLS(v, tag, len(f) > 2) {
			return true
		}
	case heldID:
		g.reply(idReply(tag, text))
	case heldQuota:
		user := ""
		if u := c.user.Load(); u != nil {
			user = *u
		}
		g.reply(c.srv.quotaReply(tag, text, user))
	case heldName:
		pass, why := nameCommand(text, v.utf8Names())
		if why == "" {
			// go-imap gets the line (without the patterns dropped),
			// read on as any other.
			g.in = slices.Concat(pass, line[len(text):], g.in)
			g.pass = true
			return false
		}
		g.reply(tag + " " + why + "\r\n")
	case heldCond:
		pass, cmd, why := condRewrite(text)
		if why == "" && badNames(pass) {
			pass, why = nameCommand(pass, v.utf8Names())
		}
		if why == "" && cmd != nil && tag != "*" {
			why = c.expectCond(cmd)
		}
		if why == "" {
			g.in = slices.Concat(pass, line[len(text):], g.in)
			g.pass = true
			return false
		}
		g.reply(tag + " " + why + "\r\n")
	case heldSort:
		if tag == "*" {
			// Not a command: go-imap refuses it.
			g.in = slices.Concat(line, g.in)
			g.pass = true
			return false
		}
		search, cmd, why := sortSearch(text)
		if why == "" {
			// go-imap reads the SEARCH that stands for it as any other
			// command.
			c.expectSort(cmd)
			g.in = slices.Concat(search, line[len(text):], g.in)
			g.pass = true
			return false
		}
		g.reply(tag + " " + why + "\r\n")
	}
	// A literal at the end of the line, sent anyway, is not a command.
	if n, nonSync, ok := literalAt(text); ok && nonSync {
		g.skip, g.rest = n, true
	}
	return false
}

// startTLS answers STARTTLS (RFC 9051 §6.2.1) and, unless refused,
// starts TLS. It reports whether the view is done with.
func (c *clientConn) startTLS(v *view, tag string, args bool) bool {
	g := &c.guard
	var why string
	switch {
	case args:
		why = "BAD [CLIENTBUG] STARTTLS takes no arguments"
	case c.tls:
		why = "BAD [CLIENTBUG] TLS is already active"
	case c.srv.TLSConfig == nil:
		why = "BAD STARTTLS is not available on this server"
	case c.user.Load() != nil:
		why = "BAD [CLIENTBUG] STARTTLS is only valid before login (RFC 9051 §6.2.1)"
	}
	if why != "" {
		g.reply(tag + " " + why + "\r\n")
		return false
	}

	// From the go-ahead on, the old view writes nothing more: no
	// cleartext may follow it.
	c.wmu.Lock()
	v.retired.Store(true)
	_, err := io.WriteString(c.current(), tag+" OK Begin TLS negotiation now\r\n")
	c.wmu.Unlock()
	// What the client sent after the command is dropped: it was sent
	// before TLS protected anything.
	g.reset()
	if err != nil {
		c.close()
		return true
	}
	if err := c.handshake(tls.Server(c.raw, c.srv.TLSConfig)); err != nil {
		c.close()
		return true
	}
	c.hand(&view{c: c, dropLine: true})
	return true
}

// view is a clientConn as one go-imap connection sees it.
type view struct {
	c *clientConn

	// ic is the go-imap connection reading the view, once its session
	// is made.
	ic atomic.Pointer[imapserver.Conn]

	// retired: STARTTLS went ahead and a new view took over; this one
	// reads the end of its stream and writes nothing.
	retired atomic.Bool

	// Under the clientConn's wmu: dropLine drops the next line go-imap
	// writes (its greeting, after STARTTLS); midLine, contLine, tail
	// and literal follow go-imap's lines and the literals in them,
	// lastCont telling whether the last whole line asked for a
	// continuation ("+").
	dropLine bool
	midLine  bool
	contLine bool
	lastCont bool
	tail     []byte // the end of the line being written
	literal  int64  // bytes of a literal still to come
}

func (v *view) Read(p []byte) (int, error) { return v.c.read(v, p) }

func (v *view) Write(p []byte) (int, error) {
	c := v.c
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if v.retired.Load() {
		return 0, net.ErrClosed
	}
	out := p
	if !v.midLine && v.literal == 0 {
		out = c.tagged(patchCapabilities(p))
	} else {
		out = c.endLine(out)
	}
	v.follow(p)
	if v.dropLine {
		i := bytes.IndexByte(out, '\n')
		if i < 0 {
			return len(p), nil
		}
		v.dropLine, out = false, out[i+1:]
		if len(out) == 0 {
			return len(p), nil
		}
	}
	if _, err := c.current().Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// tagged sees each line written to the client, go-imap's or the
// guard's (wmu held; go-imap flushes each line whole): the commands the
// guard hands go-imap in other forms get their own answers back
// (multiappend.go, sortcmd.go).
func (c *clientConn) tagged(line []byte) []byte {
	if out, ok := c.multiAppended(line); ok {
		return out
	}
	return c.amended(c.sorted(line))
}

// follow notes the lines go-imap writes, and the literals in them; wmu
// held.
func (v *view) follow(p []byte) {
	for len(p) > 0 {
		if v.literal > 0 {
			n := min(v.literal, int64(len(p)))
			v.literal -= n
			p = p[n:]
			continue
		}
		if !v.midLine {
			v.contLine, v.midLine, v.tail = p[0] == '+', true, v.tail[:0]
		}
		i := bytes.IndexByte(p, '\n')
		seg := p
		if i >= 0 {
			seg = p[:i]
		}
		v.tail = append(v.tail, seg[max(0, len(seg)-24):]...)
		if n := len(v.tail); n > 24 {
			v.tail = append(v.tail[:0], v.tail[n-24:]...)
		}
		if i < 0 {
			return
		}
		v.lastCont, v.midLine = v.contLine, false
		if n, _, ok := literalAt(bytes.TrimRight(v.tail, "\r")); ok {
			v.literal = int64(n)
		}
		p = p[i+1:]
	}
}

// patchCapabilities adds to a capability list go-imap writes (CAPABILITY,
// or the greeting's or a login's [CAPABILITY ...]) what go-imap can not
// advertise: LITERAL+ before login (RFC 7888; go-imap lists it only
// after), ID (RFC 2971), and after login SORT, THREAD and ESORT (RFC
// 5256, RFC 5267, with ESEARCH), QUOTA (RFC 9208) and MULTIAPPEND (RFC
// 3502). p is a whole line or is returned as it is.
func patchCapabilities(p []byte) []byte {
	if !bytes.HasSuffix(p, []byte("\r\n")) || bytes.IndexByte(p, '\n') != len(p)-1 ||
		!bytes.Contains(p, []byte("CAPABILITY ")) { // most lines, looked at no further
		return p
	}
	line := string(p[:len(p)-2])
	f := strings.SplitN(line, " ", 4)
	start := 0
	switch {
	case len(f) >= 3 && f[1] == "CAPABILITY" && f[0] == "*":
		start = len(f[0]) + len(" CAPABILITY ")
	case len(f) >= 4 && (f[1] == "OK" || f[1] == "PREAUTH") && f[2] == "[CAPABILITY":
		start = len(f[0]) + len(f[1]) + len(" ") + len(" [CAPABILITY ")
	default:
		return p
	}
	end := len(line)
	if line[start-len("CAPABILITY ")-1] == '[' {
		end = strings.IndexByte(line, ']')
		if end < start {
			return p
		}
	}
	caps := strings.Fields(line[start:end])
	var out []string
	for _, c := range caps {
		if c == "LITERAL-" && !slices.Contains(caps, "LITERAL+") {
			out = append(out, "LITERAL+")
		}
		out = append(out, c)
		if c == "ESEARCH" && !slices.Contains(caps, "SORT") { // after login
			out = append(out, sortCapabilities...)
			out = append(out, quotaCapabilities...)
			out = append(out, "MULTIAPPEND", "CONDSTORE", "QRESYNC")
		}
	}
	if !slices.Contains(caps, "ID") {
		out = append(out, "ID")
	}
	return []byte(line[:start] + strings.Join(out, " ") + line[end:] + "\r\n")
}

// utf8Names reports whether the client enabled UTF8=ACCEPT (RFC 6855)
// or IMAP4rev2, which take mailbox names in UTF-8.
func (v *view) utf8Names() bool {
	ic := v.ic.Load()
	if ic == nil {
		return false
	}
	caps := ic.EnabledCaps()
	return caps.Has(goimap.CapUTF8Accept) || caps.Has(goimap.CapIMAP4rev2)
}

// awaitsContinuation reports whether go-imap's last line asked the client
// for a continuation.
func (v *view) awaitsContinuation() bool {
	v.c.wmu.Lock()
	defer v.c.wmu.Unlock()
	return v.lastCont
}

// Close closes the connection, unless the view was retired: then the
// connection goes on under a new view.
func (v *view) Close() error {
	if !v.retired.Load() {
		v.c.closeConn()
	}
	return nil
}

func (v *view) LocalAddr() net.Addr  { return v.c.raw.LocalAddr() }
func (v *view) RemoteAddr() net.Addr { return v.c.raw.RemoteAddr() }

func (v *view) SetDeadline(t time.Time) error {
	if v.retired.Load() {
		return nil
	}
	return v.c.current().SetDeadline(t)
}

func (v *view) SetReadDeadline(t time.Time) error {
	if v.retired.Load() {
		return nil
	}
	return v.c.current().SetReadDeadline(t)
}

func (v *view) SetWriteDeadline(t time.Time) error {
	if v.retired.Load() {
		return nil
	}
	return v.c.current().SetWriteDeadline(t)
}
