package smtp

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// FuzzReadData: what readData accepts is exactly the data that was sent,
// dot-stuffing undone: lines that end in CRLF, with no other CR or LF,
// no NUL and at most 1000 octets; anything else is refused, and a bare
// CR or LF never ends the data early (SMTP smuggling).
func FuzzReadData(f *testing.F) {
	for _, s := range []string{"Subject: a\r\n\r\nbody\r\n.\r\n", "a\nb\r\n.\r\n", "a\r\n.\rMAIL\r\n.\r\n", "..x\r\n.\r\n", string(bytes.Repeat([]byte("x"), 999)) + "\r\n.\r\n", "\r\n.\n.\r\n", "x\x00\r\n.\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		c := &conn{s: &Server{MaxMessageBytes: 1 << 20}, c: noDeadline{}, br: bufio.NewReaderSize(r, 4096)}
		body, bad, err := c.readData()
		if err != nil || bad != nil {
			return
		}
		read := in[:len(in)-r.Len()-c.br.Buffered()]
		var want bytes.Buffer
		for _, line := range bytes.SplitAfter(body, []byte("\r\n")) {
			if len(line) == 0 {
				continue
			}
			content := bytes.TrimSuffix(line, []byte("\r\n"))
			if len(content) == len(line) || bytes.ContainsAny(content, "\r\n\x00") {
				t.Fatalf("readData(%q) took the line %q", in, line)
			}
			if line[0] == '.' {
				want.WriteByte('.')
			}
			want.Write(line)
		}
		want.WriteString(".\r\n")
		if !bytes.Equal(read, want.Bytes()) {
			t.Fatalf("readData read %q, but its body stuffed again is %q", read, want.Bytes())
		}
	})
}

// noDeadline stands for a connection whose deadlines do not matter.
type noDeadline struct{ net.Conn }

func (noDeadline) SetReadDeadline(time.Time) error { return nil }

// FuzzSplitCommand: the verb is one upper-case word, the line end is gone.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"EHLO a\r\n", "mail FROM:<a@b>\r\n", "\r\n", " x", "STARTTLS x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		verb, arg := splitCommand(line)
		if verb != strings.ToUpper(verb) {
			t.Fatalf("verb %q not upper case", verb)
		}
		if strings.Contains(verb, " ") || strings.HasSuffix(arg, "\r\n") {
			t.Fatalf("split %q into %q, %q", line, verb, arg)
		}
	})
}

// FuzzHeloSyntax: no EHLO or HELO name with a control character is taken
// (it would go into the Received header), and what a strict server takes
// a tolerant one takes too.
func FuzzHeloSyntax(f *testing.F) {
	for _, s := range []string{"client.example.org", "[192.0.2.1]", "[IPv6:2001:db8::1]", "a\rb", "my_pc", "bücher.example", "a b", "\x85"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		for _, verb := range []string{"EHLO", "HELO"} {
			strict, tolerant := heloSyntax(verb, arg, true), heloSyntax(verb, arg, false)
			if tolerant == "" && (strings.ContainsFunc(arg, unicode.IsControl) || !utf8.ValidString(arg)) {
				t.Fatalf("%s %q taken", verb, arg)
			}
			if strict == "" && tolerant != "" {
				t.Fatalf("%s %q: strict takes it, tolerant says %s", verb, arg, tolerant)
			}
		}
	})
}
