package imap

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// Every bad input gets a protocol error, the server keeps serving other
// sessions, and nothing in any mailbox changes.
func TestBadInput(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), msg(2))
	w.Store.CreateMailbox(bob, "Work")
	w.Deliver(t, "Work", msg(3))
	before := snapshot(t, w)

	// Another session, open all along, must keep working.
	other, _ := w.selectInbox(t, nil)
	stillServing := func(what string) {
		t.Helper()
		if err := other.Noop().Wait(); err != nil {
			t.Fatalf("after %s: the other session failed: %v", what, err)
		}
		c := w.login(t, nil)
		if _, err := c.Select("Work", nil).Wait(); err != nil {
			t.Fatalf("after %s: a new session failed: %v", what, err)
		}
	}

	t.Run("unknown command before login", func(t *testing.T) {
		// imapserver's defence against cross-protocol attacks: BYE.
		r := w.raw(t)
		r.Write("GET / HTTP/1.1\r\n")
		closed, lines := r.Drain()
		if !closed || !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "* BYE") }) {
			t.Errorf("closed %v, lines %q", closed, lines)
		}
		stillServing("an unknown command")
	})
	t.Run("unknown command", func(t *testing.T) {
		r := w.raw(t)
		r.expect("a1", "LOGIN bob bob", "OK")
		r.expect("a2", "FROBNICATE INBOX", "BAD Unknown command")
		r.expect("a3", "NOOP", "OK")
	})
	t.Run("wrong state", func(t *testing.T) {
		r := w.raw(t)
		r.expect("a1", "SELECT INBOX", "BAD [CLIENTBUG]")
		r.expect("a2", "LOGIN bob bob", "OK")
		r.expect("a3", "FETCH 1 (FLAGS)", "BAD [CLIENTBUG]")
		r.expect("a4", "STORE 1 +FLAGS (\\Deleted)", "BAD [CLIENTBUG]")
		r.expect("a5", "EXPUNGE", "BAD [CLIENTBUG]")
		r.expect("a6", "LOGIN bob bob", "BAD [CLIENTBUG]")
		r.expect("a7", "EXAMINE INBOX", "OK")
		r.expect("a8", "STORE 1:* +FLAGS (\\Deleted)", "NO [CANNOT]")
		r.expect("a9", "MOVE 1 Work", "NO [CANNOT]")
		r.expect("a10", "EXPUNGE", "NO [CANNOT]")
		r.expect("a11", "FETCH 1 BODY[]", "OK")
	})
	t.Run("syntax", func(t *testing.T) {
		r := w.raw(t)
		r.expect("a1", "LOGIN bob bob", "OK")
		r.expect("a2", "SELECT INBOX", "OK")
		r.expect("a3", "FETCH 1 (FLAGS", "BAD")
		// imapserver answers a malformed set NO [SERVERBUG] (go-imap bug).
		if _, got := r.cmd("a4", "FETCH x FLAGS"); !strings.HasPrefix(got, "a4 BAD") && !strings.HasPrefix(got, "a4 NO") {
			t.Errorf("FETCH x: %q", got)
		}
		r.expect("a5", "STORE 1 +FLAGS (\\Bogus)", "BAD [CLIENTBUG]")
		r.expect("a6", "STORE 1 COLOR red", "BAD")
		if _, got := r.cmd("a7", "SEARCH FLUFFY"); !strings.HasPrefix(got, "a7 BAD") && !strings.HasPrefix(got, "a7 NO") {
			t.Errorf("SEARCH FLUFFY: %q", got)
		}
		r.expect("a8", "UID FETCH 1:* (BODY.PEEK[99])", "OK")
		r.expect("a9", "NOOP", "OK")
	})
	t.Run("bad mailbox names", func(t *testing.T) {
		r := w.raw(t)
		r.expect("a1", "LOGIN bob bob", "OK")
		for i, name := range []string{`a/../b`, `..`, `/etc`, `Work/`, `a//b`, `.hidden`, `"a\\b"`, `"` + strings.Repeat("x", 300) + `"`, `&AAA-`} {
			tag := "n" + string(rune('a'+i))
			for _, cmd := range []string{"CREATE ", "SELECT ", "DELETE ", "RENAME Work ", "APPEND "} {
				line := cmd + name
				if cmd == "APPEND " {
					line += " {1+}\r\nx"
				}
				u, got := r.cmd(tag, line)
				if cmd == "CREATE " && name == "Work/" {
					// A trailing delimiter is allowed on CREATE (it
					// names Work, which exists).
					if !strings.HasPrefix(got, tag+" NO [ALREADYEXISTS]") {
						t.Errorf("%s: %q", line, got)
					}
					continue
				}
				if !strings.HasPrefix(got, tag+" NO [CANNOT] invalid mailbox name") {
					t.Errorf("%s: %q %q", line, u, got)
				}
			}
		}
		// A name that is not valid modified UTF-7 is refused, and the
		// session goes on; a LIST pattern that is not valid matches
		// nothing.
		for _, cmd := range []string{"CREATE &Jjo", "SELECT &Jjo", "LIST \"\" &Jjo", "RENAME Work &-&", "STATUS &U,BTFw- (MESSAGES)"} {
			u, got := r.cmd("u1", cmd)
			if strings.HasPrefix(cmd, "LIST") {
				if got != "u1 OK LIST completed" || len(u) > 0 {
					t.Errorf("%s: %q %q", cmd, u, got)
				}
			} else if !strings.HasPrefix(got, "u1 NO") {
				t.Errorf("%s: %q", cmd, got)
			}
		}
		// Valid modified UTF-7 decodes: &ZeVnLIqe- is 日本語.
		r.expect("u2", "CREATE &ZeVnLIqe-", "OK")
		if u := r.expect("u3", `LIST "" &ZeVnLIqe-`, "OK"); len(u) != 1 || !strings.Contains(u[0], "&ZeVnLIqe-") {
			t.Errorf("LIST of a UTF-7 name: %q", u)
		}
		r.expect("u4", "DELETE &ZeVnLIqe-", "OK")
		r.expect("u5", "NOOP", "OK")
	})
	t.Run("overlong line", func(t *testing.T) {
		// imapserver reads at most 50 KiB of a command: a longer line is
		// answered BAD, and what follows is read as another command,
		// which fails and closes the connection.
		r := w.raw(t)
		r.expect("a1", "LOGIN bob bob", "OK")
		r.Write("a2 SELECT " + strings.Repeat("x", 200<<10) + "\r\n")
		l := r.Line()
		if !strings.HasPrefix(l, "a2 BAD") && !strings.HasPrefix(l, "a2 NO") {
			t.Errorf("overlong line: %q", l)
		}
		stillServing("an overlong line")
	})
	t.Run("literal that lies", func(t *testing.T) {
		// Announce 100 bytes, send 10 and hang up: nothing is appended.
		r := w.raw(t)
		r.expect("a1", "LOGIN bob bob", "OK")
		r.Write("a2 APPEND INBOX {100}\r\n")
		if l := r.Line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("no continuation: %q", l)
		}
		r.Write("Subject: x")
		r.Close()
		time.Sleep(20 * time.Millisecond)
		stillServing("a short literal")
		// The same with a non-synchronising literal (LITERAL-).
		r = w.raw(t)
		r.expect("a1", "LOGIN bob bob", "OK")
		r.Write("a2 APPEND INBOX {100+}\r\nSubject: x")
		r.Close()
		time.Sleep(20 * time.Millisecond)
		stillServing("a short literal")
	})
	t.Run("huge literal", func(t *testing.T) {
		// 100 MB announced: refused before the continuation, without
		// allocating it.
		r := w.raw(t)
		r.expect("a1", "LOGIN bob bob", "OK")
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		r.expect("a2", "APPEND INBOX {104857600}", "NO [TOOBIG]")
		r.expect("a3", "APPEND INBOX (\\Seen) {4000000000}", "NO [TOOBIG]")
		r.expect("a4", "APPEND INBOX {99999999999999999999}", "BAD")
		runtime.ReadMemStats(&m1)
		if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 8<<20 {
			t.Errorf("refusing 100 MB allocated %d bytes", grew)
		}
		r.expect("a5", "NOOP", "OK")
		// A lower limit is honoured the same way, and advertised.
		w2 := newWorld(t, with(func(s *Server) { s.MaxLiteralSize = 1000 }))
		r = w2.raw(t)
		if u := r.expect("a1", "LOGIN bob bob", "OK"); len(u) != 0 {
			t.Fatal(u)
		}
		if u := r.expect("a2", "CAPABILITY", "OK"); len(u) != 1 || !strings.Contains(u[0], "APPENDLIMIT=1000") {
			t.Errorf("CAPABILITY %q", u)
		}
		r.expect("a3", "APPEND INBOX {1001}", "NO [TOOBIG]")
		// Refused, a non-synchronising literal is skipped, not read as
		// commands (nor does a refused synchronising one turn the
		// guards off).
		data := "a3b CREATE inj\r\n" + strings.Repeat("x", 1985)
		r.Write("a3a APPEND INBOX {2000+}\r\n" + data + "\r\n")
		if _, got := r.until("a3a"); !strings.HasPrefix(got, "a3a NO [TOOBIG]") {
			t.Errorf("APPEND of 2000 bytes: %q", got)
		}
		r.expect("a3c", "SEARCH SUBJECT \""+strings.Repeat("y", 51000)+"\" Z CREATE inj", "BAD Command line too long")
		if _, err := w2.Store.Status(bob, "inj"); err == nil {
			t.Errorf("the data of a refused literal ran as a command")
		}
		r.Write("a4 APPEND INBOX {1000}\r\n")
		r.Line()
		r.Write(strings.Repeat("x", 998) + "\r\n\r\n")
		if _, got := r.until("a4"); !strings.HasPrefix(got, "a4 OK [APPENDUID") {
			t.Errorf("APPEND of 1000 bytes: %q", got)
		}
	})
	t.Run("bad messages", func(t *testing.T) {
		r := w.raw(t)
		r.expect("a1", "LOGIN bob bob", "OK")
		r.Write("a2 APPEND INBOX {0}\r\n")
		r.Line()
		r.Write("\r\n")
		if _, got := r.until("a2"); !strings.HasPrefix(got, "a2 BAD") {
			t.Errorf("empty message: %q", got)
		}
		r.Write("a3 APPEND INBOX {3+}\r\na\x00b\r\n")
		if _, got := r.until("a3"); !strings.HasPrefix(got, "a3 BAD") {
			t.Errorf("NUL in a message: %q", got)
		}
		r.expect("a4", "NOOP", "OK")
	})

	if after := snapshot(t, w); !slices.Equal(before, after) {
		t.Errorf("mailboxes changed:\nbefore %q\nafter  %q", before, after)
	}
}

// snapshot describes every mailbox of bob's: names, messages, flags.
func snapshot(t *testing.T, w *world) []string {
	t.Helper()
	infos, err := w.Store.Mailboxes(bob)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mi := range infos {
		out = append(out, mi.Name+": "+strings.Join(w.Flags(t, mi.Name), " "))
	}
	return out
}
