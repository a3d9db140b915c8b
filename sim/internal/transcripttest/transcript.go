// Package transcripttest plays transcripts against the simulator's
// servers in tests: scripts of what a client sends and what the server
// must answer, in the style of the RFCs' examples. It also builds the
// world the POP3 and IMAP tests share (see World).
//
// A transcript is a list of lines, a step each. Blanks around a line do
// not count; blank lines and lines starting with "#" are skipped.
//
//	C: text        the client sends text and CRLF
//	B: "quoted"    the client sends the bytes of a Go string literal, nothing added
//	S: text        the server's next line is text
//	S: text*       the server's next line starts with text (a final "*" stands for the rest)
//	S~ regexp      the server's next line matches the regular expression, whole
//	S:             the server's next line is empty
//	S: <closed>    the server closes the connection, with nothing more to say
//	T:             the client starts TLS (after the server's yes to STARTTLS or STLS)
//	W: 15m         the virtual clock (Conn.Clock) moves on that long
//
// C: and B: lines do not wait for an answer: several in a row are
// pipelined.
//
// In C: and S: lines a capital word in braces is a placeholder: {SP} is a
// space (a line may end in one), {LONG n} n octets of "x", {PLAIN user
// pass} the base64 response of SASL PLAIN (RFC 4616), and Conn.Vars may
// know more. A brace before anything else is itself, as in an IMAP
// literal's {22}.
//
// A "line" of the server is a whole reply where Conn.Continued says which
// lines lead on to another (SMTP's "250-"): those are read and skipped,
// and the reply's last line is the one checked.
package transcripttest

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
)

// WallLimit bounds how long (wall time) a test waits for what should come
// at once; slow builds (race, wasm) get more.
func WallLimit() time.Duration {
	if runtime.GOOS == "js" {
		return 30 * time.Second
	}
	return 10 * time.Second
}

// Conn is the client side of a connection under test.
type Conn struct {
	// Continued reports whether a line leads on to another line of the
	// same reply (SMTP: "250-…"); nil: every line stands alone.
	Continued func(line string) bool
	// Vars expands the placeholders it knows: {NAME args…}.
	Vars func(name string, args []string) (string, bool)
	// Clock is what W: lines move on.
	Clock *clock.Virtual
	// TLS is the client's configuration for T: lines and StartTLS.
	TLS *tls.Config

	t        testing.TB
	raw      net.Conn // the transport, under TLS once it starts
	nc       net.Conn
	r        *bufio.Reader
	greeting string
	read     bool
}

// NewConn wraps a connection; it is closed when the test ends.
func NewConn(t testing.TB, nc net.Conn) *Conn {
	c := &Conn{t: t, raw: nc, nc: nc, r: bufio.NewReader(nc)}
	t.Cleanup(func() { c.raw.Close() })
	return c
}

// T returns the test the connection belongs to.
func (c *Conn) T() testing.TB { return c.t }

// Net returns the connection (the TLS one once TLS has started).
func (c *Conn) Net() net.Conn { return c.nc }

// Reader returns the buffered reader of the connection, for reading
// without the checks of Line.
func (c *Conn) Reader() *bufio.Reader { return c.r }

// Close closes the transport, without TLS's close_notify.
func (c *Conn) Close() error { return c.raw.Close() }

// Greeting returns the first line read from the server.
func (c *Conn) Greeting() string { return c.greeting }

// Write sends s as it is.
func (c *Conn) Write(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("send %q: %v", s, err)
	}
}

// Send sends line and CRLF.
func (c *Conn) Send(line string) {
	c.t.Helper()
	c.Write(line + "\r\n")
}

// ReadLine reads a line, which must end in CRLF, and returns it without;
// eof reports that the server closed the connection instead. It fails the
// test if nothing comes within WallLimit.
func (c *Conn) ReadLine() (line string, eof bool) {
	c.t.Helper()
	raw := c.raw
	watchdog := time.AfterFunc(WallLimit(), func() { raw.Close() })
	s, err := c.r.ReadString('\n')
	if !watchdog.Stop() {
		c.t.Fatalf("no answer within %v (have %q)", WallLimit(), s)
	}
	if err != nil {
		if s == "" && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
			return "", true
		}
		c.t.Fatalf("read: %q, %v", s, err)
	}
	line, ok := strings.CutSuffix(s, "\r\n")
	if !ok {
		c.t.Fatalf("line %q does not end in CRLF", s)
	}
	if !c.read {
		c.greeting, c.read = line, true
	}
	return line, false
}

// Line reads a line; the connection must not close.
func (c *Conn) Line() string {
	c.t.Helper()
	s, eof := c.ReadLine()
	if eof {
		c.t.Fatal("connection closed, want a line")
	}
	return s
}

// readReply reads a reply and returns its last line (see Continued).
func (c *Conn) readReply() (string, bool) {
	c.t.Helper()
	for {
		s, eof := c.ReadLine()
		if eof || c.Continued == nil || !c.Continued(s) {
			return s, eof
		}
	}
}

// Reply reads a reply and returns its last line (see Continued).
func (c *Conn) Reply() string {
	c.t.Helper()
	s, eof := c.readReply()
	if eof {
		c.t.Fatal("connection closed, want a reply")
	}
	return s
}

// Cmd sends a command and returns (the last line of) its reply.
func (c *Conn) Cmd(line string) string {
	c.t.Helper()
	c.Send(line)
	return c.Reply()
}

// Expect sends a command and checks that its reply starts with prefix.
func (c *Conn) Expect(line, prefix string) string {
	c.t.Helper()
	got := c.Cmd(line)
	if !strings.HasPrefix(got, prefix) {
		c.t.Fatalf("%s: got %q, want %s…", line, got, prefix)
	}
	return got
}

// ExpectEOF checks that the server closes the connection without another
// line.
func (c *Conn) ExpectEOF() {
	c.t.Helper()
	if s, eof := c.ReadLine(); !eof {
		c.t.Fatalf("got %q, want the connection closed", s)
	}
}

// Drain reads whatever the server still sends, up to the end of the
// connection: closed reports whether the end came within WallLimit, and
// lines are what came before it (the last one perhaps without its CRLF).
func (c *Conn) Drain() (closed bool, lines []string) {
	raw := c.raw
	watchdog := time.AfterFunc(WallLimit(), func() { raw.Close() })
	for {
		s, err := c.r.ReadString('\n')
		if s != "" {
			lines = append(lines, strings.TrimRight(s, "\r\n"))
		}
		if err != nil {
			break
		}
	}
	if !watchdog.Stop() {
		return false, nil
	}
	return true, lines
}

// StartTLS starts TLS as the client, with the TLS configuration. Nothing
// the server sent may be left unread: cleartext after the answer to
// STARTTLS is an injection (RFC 3207 §4.2 tells servers the same).
func (c *Conn) StartTLS() {
	c.t.Helper()
	if c.TLS == nil {
		c.t.Fatal("StartTLS: the Conn has no TLS configuration")
	}
	if n := c.r.Buffered(); n > 0 {
		b, _ := c.r.Peek(n)
		c.t.Fatalf("cleartext after the answer to STARTTLS: %q", b)
	}
	tc := tls.Client(c.nc, c.TLS)
	raw := c.raw
	watchdog := time.AfterFunc(WallLimit(), func() { raw.Close() })
	err := tc.Handshake()
	if !watchdog.Stop() {
		c.t.Fatalf("no TLS handshake within %v", WallLimit())
	}
	if err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.nc, c.r = tc, bufio.NewReader(tc)
}

// Run plays a transcript (see the package documentation) and fails the
// test at the first step that goes otherwise.
func (c *Conn) Run(script string) {
	c.t.Helper()
	for n, raw := range strings.Split(script, "\n") {
		l := strings.TrimSpace(raw)
		if l == "" || l[0] == '#' {
			continue
		}
		fail := func(format string, args ...any) {
			c.t.Helper()
			c.t.Fatalf("transcript line %d %q:\n"+format, append([]any{n + 1, l}, args...)...)
		}
		kind, text := l, ""
		if len(l) >= 2 {
			kind, text = l[:2], strings.TrimSpace(l[2:])
		}
		switch kind {
		case "C:":
			c.Send(c.expand(text, fail))
		case "B:":
			s, err := strconv.Unquote(text)
			if err != nil {
				fail("B: wants a Go string literal: %v", err)
			}
			c.Write(s)
		case "S:":
			want := c.expand(text, fail)
			if want == "<closed>" {
				if got, eof := c.ReadLine(); !eof {
					fail("got  %q\nwant the connection closed", got)
				}
				continue
			}
			got, eof := c.readReply()
			if eof {
				fail("the connection closed")
			}
			if p, ok := strings.CutSuffix(want, "*"); ok && !strings.HasPrefix(got, p) {
				fail("got  %q\nwant %q…", got, p)
			} else if !ok && got != want {
				fail("got  %q\nwant %q", got, want)
			}
		case "S~":
			re, err := regexp.Compile("^(?:" + text + ")$")
			if err != nil {
				fail("%v", err)
			}
			got, eof := c.readReply()
			if eof {
				fail("the connection closed")
			}
			if !re.MatchString(got) {
				fail("got  %q\nwant a match of %s", got, re)
			}
		case "T:":
			if text != "" {
				fail("T: takes nothing")
			}
			c.StartTLS()
		case "W:":
			d, err := time.ParseDuration(text)
			if err != nil || d < 0 {
				fail("W: wants a duration: %v", err)
			}
			if c.Clock == nil {
				fail("W: the Conn has no virtual clock")
			}
			c.Clock.Advance(d)
		default:
			fail("not a transcript line")
		}
	}
}

// expand replaces the placeholders of s.
func (c *Conn) expand(s string, fail func(string, ...any)) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 || i+1 == len(s) || s[i+1] < 'A' || s[i+1] > 'Z' {
			if i < 0 {
				return b.String() + s
			}
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			fail("placeholder %q has no closing brace", s[i:])
		}
		f := strings.Fields(s[i+1 : i+j])
		v, ok := c.placeholder(f[0], f[1:])
		if !ok {
			fail("unknown placeholder %q", s[i:i+j+1])
		}
		b.WriteString(s[:i] + v)
		s = s[i+j+1:]
	}
}

func (c *Conn) placeholder(name string, args []string) (string, bool) {
	switch {
	case name == "SP" && len(args) == 0:
		return " ", true
	case name == "LONG" && len(args) == 1:
		n, err := strconv.Atoi(args[0])
		return strings.Repeat("x", n), err == nil && n >= 0
	case name == "PLAIN" && len(args) == 2:
		return Plain(args[0], args[1]), true
	case c.Vars != nil:
		return c.Vars(name, args)
	}
	return "", false
}

// Plain is the response of SASL PLAIN (RFC 4616) for user and password,
// without an authorization identity.
func Plain(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}
