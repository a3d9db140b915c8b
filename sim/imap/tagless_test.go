package imap

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// RFC 9051 §2.2.1: every command starts with a tag. A learner's "LOGIN
// bob bob" gets an untagged BAD that says so, and the connection stays
// open for the command written right; a literal's content, an odd but
// valid tag and a foreign protocol are not taken for tagless commands.
func TestTaglessCommand(t *testing.T) {
	overTransports(t, func(t *testing.T, tr transport) {
		w := newWorld(t, over(tr))
		r := w.raw(t)
		r.Vars = func(name string, args []string) (string, bool) {
			return strings.TrimRight(taglessReply, "\r\n"), name == "TAGLESS" && len(args) == 0
		}
		// The connection stays open: the same command with a tag works, and a
		// tag that looks like a command is a tag. A literal whose content looks
		// like a tagless command is the literal: LOGIN with a password that
		// reads "LOGIN bob".
		r.Run(`
			C: LOGIN bob@example.net bob
			S: {TAGLESS}
			C: CAPABILITY
			S: * BAD Every IMAP command starts with a tag*
			C: a1 CAPABILITY
			S: * CAPABILITY *
			S: a1 OK *
			C: NOOP NOOP
			S: NOOP OK *
			C: a2 LOGIN bob@example.net {9}
			S: + *
			C: LOGIN bob
			S: a2 NO *
			C: a3 LOGOUT
			S: * BYE *
			S: a3 OK *`)

		// Another protocol is still sent away at once, as go-imap does.
		r = w.raw(t)
		r.Write("GET / HTTP/1.1\r\n")
		var got []string
		for {
			l := r.Line()
			got = append(got, l)
			if strings.HasPrefix(l, "* BYE") {
				break
			}
		}
		if strings.Contains(strings.Join(got, "\n"), "starts with a tag") {
			t.Fatalf("an HTTP request taken for a tagless IMAP command: %q", got)
		}
	})
}

func TestIsTagless(t *testing.T) {
	for line, want := range map[string]bool{
		"LOGIN bob bob": true, "capability": true, "select INBOX": true, "UID": true,
		"a1 LOGIN bob bob": false, "LOGIN LOGIN bob bob": false, "GET / HTTP/1.1": false, "": false,
		"DONE": false, "AGJvYgBib2I=": false,
	} {
		if got := isTagless([]byte(line)); got != want {
			t.Errorf("isTagless(%q) = %v, want %v", line, got, want)
		}
	}
	for line, want := range map[string]int{"a LOGIN x {12}": 12, "a APPEND INBOX {3+}": 3, "no literal": -1, "{x}": -1} {
		n, _, ok := literalAt([]byte(line))
		if !ok {
			n = -1
		}
		if n != want {
			t.Errorf("literalAt(%q) = %d, want %d", line, n, want)
		}
	}
}

// FuzzTagless: whatever the client sends, go-imap gets it in order, less
// only whole lines that were answered as tagless commands; nothing panics.
func FuzzTagless(f *testing.F) {
	for _, s := range []string{"LOGIN bob bob\r\na1 CAPABILITY\r\n", "a1 LOGIN x {5}\r\nLOGIN\r\n\r\n", "a STARTTLS\r\nLOGIN x\r\n",
		"GET / HTTP/1.1\r\n", "a1 APPEND INBOX {3+}\r\nabc\r\nNOOP\r\n", strings.Repeat("A", 9000),
		"a1 LOGIN bob {5000}\r\n", "a1 LOGIN {3}\r\nbob {5000+}\r\nxx\r\n", "a SEARCH " + strings.Repeat("OR ", 1001) + "\r\n",
		"a SEARCH \"" + strings.Repeat("x", 50000) + "\r\nb NOOP\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &guard{say: func(string) error { return nil }}
		c.in = append([]byte(nil), data...)
		c.sift()
		out := append(c.out, c.in...)
		// out is data with some parts taken out, and NUL CRLF (a
		// refusal, for go-imap) put in.
		rest := data
		for _, part := range bytes.SplitAfter(out, []byte("\x00\r\n")) {
			part = bytes.TrimSuffix(part, []byte("\x00\r\n"))
			for _, b := range part {
				i := bytes.IndexByte(rest, b)
				if i < 0 {
					t.Fatalf("go-imap got bytes the client did not send, or not in order: %q", out)
				}
				rest = rest[i+1:]
			}
		}
		if bytes.IndexByte(data, '{') >= 0 {
			return
		}
		// Without literals, go-imap gets whole lines of the client's,
		// none longer than maxCommandLine.
		lines := map[string]bool{}
		for _, l := range bytes.SplitAfter(data, []byte("\n")) {
			lines[string(l)] = true
		}
		for _, l := range bytes.SplitAfter(c.out, []byte("\n")) {
			if len(l) == 0 || bytes.Equal(l, []byte("\x00\r\n")) {
				continue
			}
			if len(l) > maxCommandLine {
				t.Fatalf("go-imap got a line of %d bytes", len(l))
			}
			if !lines[string(l)] {
				t.Fatalf("go-imap got %q, not a line of the client's", l)
			}
		}
	})
}

// FuzzNameCommand: a command line the guard decides on is refused, or
// goes to go-imap as it came or less some of its LIST patterns, and then
// with only names go-imap decodes as the client meant them.
func FuzzNameCommand(f *testing.F) {
	for _, s := range []string{`a LIST "" (%& "IN&Jjo" "inbox")`, `a LIST (SUBSCRIBED) "" ("INBOX" %&) RETURN (CHILDREN)`,
		`a LSUB "&AGE-" *`, `a CREATE "Café"`, `a LIST "" ("&Jjo" {3}`, `a RENAME x "a\"&b"`, `a UID MOVE 1 "Caf&AOk-"`} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, line []byte, utf8Names bool) {
		if bytes.ContainsAny(line, "\r\n") {
			return
		}
		out, reply := nameCommand(line, utf8Names)
		if reply != "" {
			return
		}
		rest := line
		for _, b := range out {
			i := bytes.IndexByte(rest, b)
			if i < 0 {
				t.Fatalf("%q became %q", line, out)
			}
			rest = rest[i+1:]
		}
		for _, a := range nameArgs(out) {
			if !validMUTF7(a.text) || !utf8Names && !isASCII(a.text) {
				t.Fatalf("%q became %q, with %q", line, out, a.text)
			}
		}
	})
}

// FuzzFields: fields is the start of what strings.Fields returns.
func FuzzFields(f *testing.F) {
	for _, s := range []string{"a1 LOGIN bob bob", "  a\t UID\vFETCH 1", "a\u00a0b\u2003c d", "\xff \xc2 x", "", "   "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		all := strings.Fields(string(line))
		for n := range 4 {
			got, want := fields(line, n), all[:min(n, len(all))]
			if !slices.Equal(got, want) {
				t.Fatalf("fields(%q, %d) = %q, want %q", line, n, got, want)
			}
		}
	})
}
