package smtp

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzCheckLines: checkLines accepts exactly the messages made of CRLF
// lines of at most 1000 octets (with CRLF) and nothing else; a bare CR or
// LF is never accepted (SMTP smuggling).
func FuzzCheckLines(f *testing.F) {
	for _, s := range []string{"Subject: a\r\n\r\nbody\r\n", "a\nb\r\n", "a\rb\r\n", "x\r", string(bytes.Repeat([]byte("x"), 999)) + "\r\n", "\r\n.\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		err := checkLines(body)
		ok := true
		for _, line := range bytes.SplitAfter(body, []byte("\r\n")) {
			content := bytes.TrimSuffix(line, []byte("\r\n"))
			if bytes.ContainsAny(content, "\r\n") || len(line) > 1000 {
				ok = false
			}
		}
		if ok != (err == nil) {
			t.Fatalf("checkLines(%q) = %v, want ok=%v", body, err, ok)
		}
	})
}

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
