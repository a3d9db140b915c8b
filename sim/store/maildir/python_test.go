//go:build !js

package maildir

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhop/mailhop/sim/store"
)

// Python's mailbox module (a Maildir reader other than mailhop) reads
// what mailhop wrote: folders, messages and flags.
func TestPythonReadsIt(t *testing.T) {
	py := needPython(t)
	dir := t.TempDir()
	s := open(t, dir)
	s.AddUser(bob)
	s.Append(bob, "INBOX", []byte("Subject: one\r\n\r\nfirst\r\n"), []string{`\Seen`, `\Answered`}, date)
	s.CreateMailbox(bob, "Work")
	s.Append(bob, "Work", []byte("Subject: two\r\n\r\nsecond\r\n"), nil, date)
	script := `
import mailbox, sys
md = mailbox.Maildir(sys.argv[1], factory=None, create=False)
for key in sorted(md.keys()):
    m = md[key]
    print("INBOX", m["Subject"], m.get_flags(), repr(m.get_payload()))
print("folders", sorted(md.list_folders()))
w = md.get_folder("Work")
for key in w.keys():
    print("Work", w[key]["Subject"], repr(w[key].get_payload()))
`
	out, err := exec.Command(py, "-c", script, filepath.Join(dir, "example.net", "bob")).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "INBOX one RS 'first\\n'\nfolders ['Drafts', 'Junk', 'Sent', 'Trash', 'Work']\nWork two 'second\\n'\n"
	if string(out) != want {
		t.Fatalf("python read:\n%s\nwant:\n%s", out, want)
	}
}

// Python's mailbox module knows a message by the part of its name before
// ":": a flag change mailhop makes keeps it, so the message keeps its key
// there (it is not seen as removed and another added).
func TestPythonKeepsKeys(t *testing.T) {
	py := needPython(t)
	dir := t.TempDir()
	s := open(t, dir)
	s.AddUser(bob)
	s.Append(bob, "INBOX", []byte("Subject: one\r\n\r\nfirst\r\n"), nil, date)
	s.Append(bob, "INBOX", []byte("Subject: two\r\n\r\nsecond\r\n"), []string{store.FlagSeen}, date)
	script := `
import mailbox, sys
md = mailbox.Maildir(sys.argv[1], factory=None, create=False)
for key in sorted(md.keys()):
    print(key, md[key]["Subject"], md[key].get_flags())
`
	list := func() []string {
		t.Helper()
		out, err := exec.Command(py, "-c", script, filepath.Join(dir, "example.net", "bob")).CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	before := list()
	if _, err := s.SetFlags(bob, "INBOX", []store.UID{1, 2}, store.FlagsAdd, []string{store.FlagFlagged}); err != nil {
		t.Fatal(err)
	}
	after := list()
	if len(before) != 2 || len(after) != 2 {
		t.Fatalf("python listed %q, then %q", before, after)
	}
	for i := range before {
		key, _, _ := strings.Cut(before[i], " ")
		if want := key + " " + []string{"one F", "two FS"}[i]; after[i] != want {
			t.Fatalf("python listed %q after the flag change, want %q (before: %q)", after[i], want, before[i])
		}
	}
}

// needPython finds python3, which CI installs: missing, the test fails.
func needPython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed for this test (Debian package python3)")
	}
	return py
}
