//go:build !js

package maildir

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// Python's mailbox module (a Maildir reader other than mailhop) reads
// what mailhop wrote: folders, messages and flags.
func TestPythonReadsIt(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is needed for this test (Debian package python3)")
	}
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
