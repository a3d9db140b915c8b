package netx

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mailhop/mailhop/sim/trace"
)

// Limits that keep a tap's memory bounded whatever crosses the wire.
const (
	maxTapLine  = 4096     // a longer line is reported in pieces
	maxTapBlock = 64 << 10 // text kept of a summarised block (message body, literal)
)

// Tap turns the bytes of one stream connection, in both directions, into
// trace events: conn open and close, one wire event per protocol line
// (CRLF stripped), and one event for each block that is data rather than
// commands: an SMTP/LMTP DATA body, a POP3 RETR/TOP answer, an IMAP
// literal. When the connection turns to TLS (STARTTLS, STLS, or a TLS
// ClientHello as the first bytes) the tap reports the handshake as a tls
// event and stops splitting lines; the encrypted bytes are counted and
// reported at close.
type Tap struct {
	// Describe summarises a DNS message (DNS over TCP is binary).
	Describe func(proto string, msg []byte) string

	rec  *trace.Recorder
	base trace.Event

	mu      sync.Mutex
	dirs    [2]tapDir // send, recv
	closed  bool
	tls     tlsState
	tlsSNI  string
	plainBy [2]int    // per direction, which end tells the cleartext: plainWriter or plainReader
	tlsRec  [2][]byte // partial TLS record per direction
	tlsSent [2]int64

	// protocol state, seen from the wire
	lastCmd   string // client's last command verb (upper case)
	dataMode  bool   // SMTP: the client is sending the message
	multiLine bool   // POP3: a multi-line answer is being read as a block
}

type tlsState int

const (
	tlsNone      tlsState = iota
	tlsRequested          // STARTTLS sent, waiting for the server's go-ahead
	tlsReady              // go-ahead seen: the next bytes are a handshake
	tlsOn
)

type tapDir struct {
	line    []byte
	block   bytes.Buffer // summarised block being collected
	blockN  int          // bytes in the block (may exceed what is kept)
	literal int          // IMAP: bytes of literal still to come
	inBlock bool
}

// A nil *Tap reports nothing.
//
// NewTap returns a tap reporting to rec. base gives the fields every event
// of this connection carries: Host (client), Peer (server), Port, Conn and
// Proto.
func NewTap(rec *trace.Recorder, base trace.Event) *Tap {
	return &Tap{rec: rec, base: base}
}

func (t *Tap) emit(e trace.Event) {
	e.Host, e.Peer, e.Port, e.Conn, e.Proto = t.base.Host, t.base.Peer, t.base.Port, t.base.Conn, t.base.Proto
	t.rec.Emit(e)
}

// ConnID returns the connection id events of this tap carry.
func (t *Tap) ConnID() string {
	if t == nil {
		return ""
	}
	return t.base.Conn
}

// Open reports the connection as opened.
func (t *Tap) Open() {
	if t == nil {
		return
	}
	t.emit(trace.Event{Kind: trace.KindConn, Action: "open"})
}

// Close flushes any partial line and reports the connection closed; why
// says by whom ("closed by server").
func (t *Tap) Close(why string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	for i := range t.dirs {
		d := &t.dirs[i]
		dir := dirOf(i)
		if d.inBlock {
			t.flushBlock(dir, d)
		}
		if len(d.line) > 0 {
			t.emitLine(dir, d.line, false)
			d.line = d.line[:0]
		}
	}
	if t.tls == tlsOn {
		why = fmt.Sprintf("%s; %d bytes encrypted sent, %d received", why, t.tlsSent[0], t.tlsSent[1])
	}
	t.emit(trace.Event{Kind: trace.KindConn, Action: "close", Text: why})
}

func dirOf(i int) trace.Dir {
	if i == 0 {
		return trace.Send
	}
	return trace.Recv
}

func index(dir trace.Dir) int {
	if dir == trace.Send {
		return 0
	}
	return 1
}

// Data reports bytes that crossed the connection in direction dir.
func (t *Tap) Data(dir trace.Dir, p []byte) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	d := &t.dirs[index(dir)]
	if t.base.Proto == "dns" {
		t.dnsData(dir, d, p)
		return
	}
	if t.tls == tlsOn || (t.tls == tlsReady && len(d.line) == 0) ||
		(len(d.line) == 0 && !d.inBlock && d.literal == 0 && len(p) >= 2 && p[0] == 0x16 && p[1] == 3) {
		// TLS records: nothing more is readable as lines here. A server
		// that terminates TLS may report the plaintext with Plain.
		t.tlsData(dir, p)
		return
	}
	t.lines(dir, p)
}

// Plain reports the cleartext of bytes that crossed the connection inside
// TLS, as seen by an end that encrypted or decrypted them; client says
// which end. Each direction is told by one end only, so each line shows
// once: by the end that wrote it when that end reports (it reports before
// writing), else by the end that read it. A writer that reports tells a
// line before its reader can act on it, so a reply always comes before
// what it causes — a server's "221 Bye" before its close — whichever
// goroutine runs first: a world's trace repeats. Its lines are marked TLS.
func (t *Tap) Plain(client bool, dir trace.Dir, p []byte) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	writing := client == (dir == trace.Send)
	by := &t.plainBy[index(dir)]
	switch {
	case *by == plainNone && writing:
		*by = plainWriter
	case *by == plainNone:
		*by = plainReader
	}
	if (*by == plainWriter) != writing {
		return
	}
	t.tls = tlsOn
	t.lines(dir, p)
}

// Which end tells a direction's cleartext (Tap.Plain).
const (
	plainNone = iota
	plainWriter
	plainReader
)

// lines splits bytes into protocol lines and blocks. mu held.
func (t *Tap) lines(dir trace.Dir, p []byte) {
	d := &t.dirs[index(dir)]
	for len(p) > 0 {
		if d.literal > 0 {
			n := min(d.literal, len(p))
			d.addBlock(p[:n])
			d.literal -= n
			p = p[n:]
			if d.literal == 0 {
				t.flushBlock(dir, d)
			}
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			d.line = append(d.line, p...)
			if len(d.line) >= maxTapLine {
				t.lineDone(dir, d, d.line, false)
				d.line = d.line[:0]
			}
			return
		}
		d.line = append(d.line, p[:i+1]...)
		p = p[i+1:]
		t.lineDone(dir, d, d.line, true)
		d.line = d.line[:0]
	}
}

func (d *tapDir) addBlock(p []byte) {
	d.blockN += len(p)
	if room := maxTapBlock - d.block.Len(); room > 0 {
		d.block.Write(p[:min(room, len(p))])
	}
}

// lineDone handles one complete line (ending in LF when complete).
func (t *Tap) lineDone(dir trace.Dir, d *tapDir, line []byte, complete bool) {
	if d.inBlock {
		// SMTP DATA or POP3 multi-line: a lone "." ends the block.
		if bytes.Equal(bytes.TrimRight(line, "\r\n"), []byte(".")) {
			t.flushBlock(dir, d)
			t.emitLine(dir, line, complete)
			t.dataMode, t.multiLine = false, false
			return
		}
		d.addBlock(line)
		return
	}
	text := trimEOL(line)
	t.emitText(dir, text, line, complete)
	if dir == trace.Send {
		t.clientLine(text, d)
	} else {
		t.serverLine(text, d)
	}
}

func (t *Tap) clientLine(text string, d *tapDir) {
	verb, _, _ := strings.Cut(text, " ")
	verb = strings.ToUpper(verb)
	switch t.base.Proto {
	case "imap":
		// "a1 STARTTLS": the verb is the second word.
		_, rest, _ := strings.Cut(text, " ")
		verb, _, _ = strings.Cut(rest, " ")
		verb = strings.ToUpper(verb)
		if n, ok := literalSize(text); ok {
			d.literal = n
			d.inBlock = true
		}
	}
	t.lastCmd = verb
	if verb == "STARTTLS" || verb == "STLS" {
		t.tls = tlsRequested
	}
}

func (t *Tap) serverLine(text string, d *tapDir) {
	switch t.base.Proto {
	case "smtp", "lmtp":
		if t.lastCmd == "DATA" && strings.HasPrefix(text, "354") {
			t.dataMode = true
			t.dirs[0].inBlock = true
		}
		if t.tls == tlsRequested {
			if strings.HasPrefix(text, "220") {
				t.tls = tlsReady
			} else if len(text) > 3 && text[3] == ' ' {
				t.tls = tlsNone
			}
		}
	case "pop3":
		if strings.HasPrefix(text, "+OK") && (t.lastCmd == "RETR" || t.lastCmd == "TOP") {
			t.multiLine = true
			d.inBlock = true
		}
		if t.tls == tlsRequested {
			if strings.HasPrefix(text, "+OK") {
				t.tls = tlsReady
			} else {
				t.tls = tlsNone
			}
		}
	case "imap":
		if n, ok := literalSize(text); ok {
			d.literal = n
			d.inBlock = true
		}
		if t.tls == tlsRequested && !strings.HasPrefix(text, "* ") && !strings.HasPrefix(text, "+") {
			_, rest, _ := strings.Cut(text, " ")
			if strings.HasPrefix(strings.ToUpper(rest), "OK") {
				t.tls = tlsReady
			} else {
				t.tls = tlsNone
			}
		}
	}
}

// literalSize reports an IMAP literal announced at the end of a line:
// {123} or {123+}.
func literalSize(line string) (int, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	num := strings.TrimSuffix(line[i+1:len(line)-1], "+")
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

func (t *Tap) flushBlock(dir trace.Dir, d *tapDir) {
	text := blockText(d.block.Bytes())
	if d.blockN > d.block.Len() {
		text += fmt.Sprintf("\n… (%d more bytes)", d.blockN-d.block.Len())
	}
	if d.blockN > 0 {
		t.emit(trace.Event{Kind: trace.KindWire, Dir: dir, Text: text, TLS: t.tls == tlsOn})
	}
	d.block.Reset()
	d.blockN = 0
	d.inBlock = false
}

// blockText is the text of a block: its CRLFs as LFs, without the last
// line end (strings.ReplaceAll and TrimSuffix, copying once).
func blockText(p []byte) string {
	var b strings.Builder
	b.Grow(len(p))
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			b.Write(p)
			break
		}
		if i > 0 && p[i-1] == '\r' {
			b.Write(p[:i-1])
			b.WriteByte('\n')
		} else {
			b.Write(p[:i+1])
		}
		p = p[i+1:]
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (t *Tap) emitLine(dir trace.Dir, line []byte, complete bool) {
	t.emitText(dir, trimEOL(line), line, complete)
}

// emitText reports one line whose text is already known.
func (t *Tap) emitText(dir trace.Dir, text string, line []byte, complete bool) {
	if complete && !bytes.HasSuffix(line, []byte("\r\n")) {
		text += " ⟨bare LF⟩"
	}
	t.emit(trace.Event{Kind: trace.KindWire, Dir: dir, Text: text, TLS: t.tls == tlsOn})
}

func trimEOL(line []byte) string {
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if utf8.Valid(line) {
		return string(line)
	}
	return strings.ToValidUTF8(string(line), "\uFFFD")
}

// dnsData reports DNS over TCP: each message is framed by a two-byte
// length (RFC 1035 §4.2.2) and described, not split into lines.
func (t *Tap) dnsData(dir trace.Dir, d *tapDir, p []byte) {
	d.line = append(d.line, p...)
	for len(d.line) >= 2 {
		n := int(d.line[0])<<8 | int(d.line[1])
		if len(d.line) < 2+n {
			break
		}
		msg := d.line[2 : 2+n]
		text := fmt.Sprintf("DNS message, %d bytes", n)
		if t.Describe != nil {
			if s := t.Describe("dns", msg); s != "" {
				text = s
			}
		}
		t.emit(trace.Event{Kind: trace.KindWire, Dir: dir, Text: text})
		d.line = append(d.line[:0], d.line[2+n:]...)
	}
	if len(d.line) > 1<<17 {
		d.line = d.line[:0]
	}
}
