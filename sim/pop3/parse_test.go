package pop3

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mailhop/mailhop/sim/internal/transcripttest"
)

func TestParseCommand(t *testing.T) {
	cases := []struct {
		line string
		want command
		err  string
	}{
		{line: "STAT", want: command{Name: "STAT"}},
		{line: "list 2", want: command{Name: "LIST", Args: []string{"2"}, Rest: "2"}},
		{line: "TOP 1 10", want: command{Name: "TOP", Args: []string{"1", "10"}, Rest: "1 10"}},
		{line: "PASS  two words ", want: command{Name: "PASS", Args: []string{"two", "words"}, Rest: " two words "}},
		{line: "USER\tbob", want: command{Name: "USER", Args: []string{"bob"}, Rest: "bob"}},
		{line: "LIST 1\t2", want: command{Name: "LIST", Args: []string{"1", "2"}, Rest: "1\t2"}},
		{line: "PASS pässwörd", want: command{Name: "PASS", Args: []string{"pässwörd"}, Rest: "pässwörd"}},
		{line: "", err: "empty command line"},
		{line: " \t ", err: "empty command line"},
		{line: " STAT", err: `unknown command ""`},
		{line: "ST\x00AT", err: "the line holds a NUL byte"},
		{line: "STAT\r", err: "the line holds a control character (0x0d)"},
		{line: "STAT\x7f", err: "the line holds a control character (0x7f)"},
		{line: "ST4T", err: `unknown command "ST4T"`},
		{line: strings.Repeat("A", 17), err: `unknown command "AAAAAAAAAAAAAAAAA"`},
		{line: strings.Repeat("A", 16), want: command{Name: strings.Repeat("A", 16)}},
		{line: "\"QUIT\"", err: `unknown command "\x22QUIT\x22"`},
	}
	for _, c := range cases {
		got, err := parseCommand([]byte(c.line))
		if c.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), c.err) {
				t.Errorf("parseCommand(%q) = %+v, %v; want error %q", c.line, got, err, c.err)
			}
			continue
		}
		if err != nil || got.Name != c.want.Name || got.Rest != c.want.Rest || !slices.Equal(got.Args, c.want.Args) {
			t.Errorf("parseCommand(%q) = %+v, %v; want %+v", c.line, got, err, c.want)
		}
	}
}

func TestParseNumber(t *testing.T) {
	good := map[string]int{"1": 1, "007": 7, "2147483647": 2147483647}
	for s, want := range good {
		if n, err := parseNumber(s); err != nil || n != want {
			t.Errorf("parseNumber(%q) = %d, %v", s, n, err)
		}
	}
	for _, s := range []string{"", "-1", "+1", "1.0", "0x1", "2147483648", "99999999999", " 1", "١"} {
		if n, err := parseNumber(s); err == nil {
			t.Errorf("parseNumber(%q) = %d, want an error", s, n)
		}
	}
}

func TestReadLine(t *testing.T) {
	const limit = 10   // octets with the line end
	in := "STAT\r\n" + // fits
		"bare LF\n" + // a bare LF ends a line too
		"12345678\r\n" + // exactly the limit
		"123456789\r\n" + // one over
		strings.Repeat("y", 5000) + "\r\n" + // far over, longer than the reader's buffer
		"NOOP\r\n" +
		"partial" // no line end: EOF
	r := bufio.NewReaderSize(strings.NewReader(in), 16)
	want := []struct {
		line string
		err  error
	}{
		{"STAT", nil}, {"bare LF", nil}, {"12345678", nil}, {"", errLineTooLong}, {"", errLineTooLong}, {"NOOP", nil}, {"", io.EOF},
	}
	var buf []byte
	for i, w := range want {
		line, err := readLine(r, limit, buf)
		if !errors.Is(err, w.err) || (w.err == nil && string(line) != w.line) {
			t.Fatalf("line %d: %q, %v; want %q, %v", i, line, err, w.line, w.err)
		}
		if len(line) > limit {
			t.Fatalf("line %d: kept %d octets over a limit of %d", i, len(line), limit)
		}
		buf = line[:0]
	}
}

func TestWriteMessage(t *testing.T) {
	cases := []struct {
		name  string
		msg   string
		lines int
		want  string
	}{
		{"plain", "A: b\r\n\r\nbody\r\n", -1, "A: b\r\n\r\nbody\r\n.\r\n"},
		{"dots", ".\r\n..x\r\n", -1, "..\r\n...x\r\n.\r\n"},
		{"bare LF", "A: b\n\nbody\n", -1, "A: b\r\n\r\nbody\r\n.\r\n"},
		{"no final line end", "A: b\r\n\r\nlast", -1, "A: b\r\n\r\nlast\r\n.\r\n"},
		{"empty", "", -1, ".\r\n"},
		{"TOP 0", "A: b\r\nC: d\r\n\r\n1\r\n2\r\n", 0, "A: b\r\nC: d\r\n\r\n.\r\n"},
		{"TOP 1", "A: b\r\n\r\n.1\r\n2\r\n", 1, "A: b\r\n\r\n..1\r\n.\r\n"},
		{"TOP past the end", "A: b\r\n\r\n1\r\n", 5, "A: b\r\n\r\n1\r\n.\r\n"},
		{"TOP, no body", "A: b\r\nC: d\r\n", 0, "A: b\r\nC: d\r\n.\r\n"},
		{"TOP, empty header", "\r\nbody\r\n", 0, "\r\n.\r\n"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		writeMessage(w, []byte(c.msg), c.lines)
		w.Flush()
		if b.String() != c.want {
			t.Errorf("%s: wrote %q, want %q", c.name, b.String(), c.want)
		}
	}
}

// FuzzParseCommand: the parser never panics; what it accepts is a keyword
// of letters and arguments without spaces or control characters, and
// parsing it again gives the same; what it refuses has an error that fits
// on a reply line.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"USER bob", "USER bob@example.net", "PASS bob", "PASS two words", "APOP mrose c4c9334bac560ecc979e58001b3e22fb",
		"STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET", "QUIT", "TOP 1 0", "TOP 1 10", "UIDL", "UIDL 2",
		"CAPA", "STLS", "AUTH", "AUTH PLAIN", "AUTH PLAIN AGJvYgBib2I=", "AUTH PLAIN =", "*", "AUTH LOGIN",
		"", " ", "list  1", "retr\t1", "NO\x00OP", "STAT\r", "GET / HTTP/1.1", "\x16\x03\x01\x02\x00",
		"LIST 99999999999999999999", "USER " + strings.Repeat("x", 600), "\xff\xfe\xfd", "XTND XMIT",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := parseCommand([]byte(line))
		if err != nil {
			msg := err.Error()
			if len(msg) > 120 || strings.ContainsAny(msg, "\r\n\x00") || !utf8.ValidString(msg) {
				t.Fatalf("error %q is not fit for a reply line", msg)
			}
			return
		}
		if cmd.Name == "" || len(cmd.Name) > maxKeyword || strings.Trim(cmd.Name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			t.Fatalf("keyword %q from %q", cmd.Name, line)
		}
		for _, a := range cmd.Args {
			if a == "" || strings.ContainsFunc(a, func(r rune) bool { return r == ' ' || r < 0x20 || r == 0x7f }) {
				t.Fatalf("argument %q from %q", a, line)
			}
		}
		if n := len(cmd.Name); !strings.EqualFold(line[:n], cmd.Name) || len(line) > n && line[n+1:] != cmd.Rest {
			t.Fatalf("%q parsed as %+v: Rest is not the rest of the line", line, cmd)
		}
		again, err := parseCommand([]byte(cmd.Name + " " + strings.Join(cmd.Args, " ")))
		if err != nil || again.Name != cmd.Name || !slices.Equal(again.Args, cmd.Args) {
			t.Fatalf("%q parsed as %+v, its normal form as %+v, %v", line, cmd, again, err)
		}
	})
}

// FuzzSession feeds arbitrary bytes to a whole session: whatever comes,
// the server answers, never panics, and ends the session when the input
// ends.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"USER bob\r\nPASS bob\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 2 0\r\nDELE 1\r\nRSET\r\nDELE 2\r\nQUIT\r\n",
		"CAPA\r\nAUTH PLAIN\r\nAGJvYgBib2I=\r\nLIST 1\r\nNOOP\r\nQUIT\r\n",
		"AUTH PLAIN\r\n*\r\nAUTH PLAIN\r\n",
		"APOP bob 0123456789abcdef0123456789abcdef\r\nUSER bob\r\nPASS x\r\nPASS y\r\n",
		"STLS\r\nCAPA\r\n",
		"USER bob\nPASS bob\nRETR 1\nTOP 1 99999999999\n",
		strings.Repeat("x", 3000) + "\r\nNOOP\r\n",
		"\x00\x01\x02\r\n\xff\r\n",
		"USER bob\r\nPASS bob\r\nLIST 0\r\nRETR 3\r\nDELE\r\nTOP 1\r\nQUIT x\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		w := newWorld(t, twoMessages, withTLS())
		c, err := w.Client.DialContext(context.Background(), "tcp", w.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		watchdog := time.AfterFunc(transcripttest.WallLimit(), func() { c.Close() })
		defer watchdog.Stop()
		go func() {
			c.Write(input)
			c.(interface{ CloseWrite() error }).CloseWrite()
		}()
		out, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("session did not end cleanly: %v (after %q)", err, out)
		}
		if !bytes.HasPrefix(out, []byte("+OK store.example.net POP3 server ready <")) {
			t.Fatalf("no greeting: %q", out)
		}
	})
}
