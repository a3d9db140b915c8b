package imap

import (
	"strings"
	"testing"
)

// RFC 9051 §2.2.1: every command starts with a tag. A learner's "LOGIN
// bob bob" gets an untagged BAD that says so, and the connection stays
// open for the command written right; a literal's content, an odd but
// valid tag and a foreign protocol are not taken for tagless commands.
func TestTaglessCommand(t *testing.T) {
	w := newWorld(t)
	r := w.raw(t)
	r.write("LOGIN bob@example.net bob\r\n")
	if l := r.line(); l != strings.TrimRight(taglessReply, "\r\n") {
		t.Fatalf("S: %s\nwant the tag explained", l)
	}
	r.write("CAPABILITY\r\n")
	if l := r.line(); !strings.HasPrefix(l, "* BAD Every IMAP command starts with a tag") {
		t.Fatalf("S: %s", l)
	}
	// Still open: the same command with a tag works.
	if _, tagged := r.cmd("a1", "CAPABILITY"); !strings.HasPrefix(tagged, "a1 OK") {
		t.Fatalf("after the BAD: %q", tagged)
	}
	// A tag that looks like a command is a tag.
	if _, tagged := r.cmd("NOOP", "NOOP"); !strings.HasPrefix(tagged, "NOOP OK") {
		t.Fatalf("NOOP NOOP: %q", tagged)
	}
	// A literal whose content looks like a tagless command is the
	// literal: LOGIN with a password that reads "LOGIN bob".
	r.write("a2 LOGIN bob@example.net {9}\r\n")
	if l := r.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("literal: %q", l)
	}
	r.write("LOGIN bob\r\n")
	if _, tagged := r.until("a2"); !strings.HasPrefix(tagged, "a2 NO") {
		t.Fatalf("a wrong password sent as a literal: %q, want NO", tagged)
	}
	if _, tagged := r.cmd("a3", "LOGOUT"); !strings.HasPrefix(tagged, "a3 OK") {
		t.Fatalf("LOGOUT: %q", tagged)
	}

	// Another protocol is still sent away at once, as go-imap does.
	r = w.raw(t)
	r.write("GET / HTTP/1.1\r\n")
	var got []string
	for {
		l := r.line()
		got = append(got, l)
		if strings.HasPrefix(l, "* BYE") {
			break
		}
	}
	if strings.Contains(strings.Join(got, "\n"), "starts with a tag") {
		t.Fatalf("an HTTP request taken for a tagless IMAP command: %q", got)
	}
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
		n, ok := literalAt([]byte(line))
		if !ok {
			n = -1
		}
		if n != want {
			t.Errorf("literalAt(%q) = %d, want %d", line, n, want)
		}
	}
}
