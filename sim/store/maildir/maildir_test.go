package maildir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"testing"

	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/store/storetest"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{Hostname: "mx.example.net", PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir()) })
}

const bob = "bob@example.net"

var date = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			out = append(out, sub+"/"+e.Name())
		}
	}
	return out
}

// The layout on disk is the one the package doc promises, and what another
// program would expect of a Maildir.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if err := s.AddUser("Bob@Example.NET"); err != nil {
		t.Fatal(err)
	}
	inbox := filepath.Join(dir, "example.net", "bob")
	for _, sub := range []string{"tmp", "new", "cur", uidlistFile} {
		if _, err := os.Stat(filepath.Join(inbox, sub)); err != nil {
			t.Fatal(err)
		}
	}
	msg := []byte("Subject: hi\r\n\r\nline 1\r\nline 2\r\n")
	uid, err := s.Append(bob, "INBOX", msg, nil, date)
	if err != nil || uid != 1 {
		t.Fatal(uid, err)
	}
	s.Append(bob, "INBOX", msg, []string{`\Seen`, `\Flagged`, "$Label"}, date)
	fs := files(t, inbox)
	if len(fs) != 2 || !regexp.MustCompile(`^new/\d+\.M\d+P\d+Q\d+\.mx\.example\.net,S=27,W=31,U=1$`).MatchString(fs[0]) ||
		!strings.HasSuffix(fs[1], ",U=2:2,FSa") || !strings.HasPrefix(fs[1], "cur/") {
		t.Fatalf("files %q", fs)
	}
	disk, _ := os.ReadFile(filepath.Join(inbox, fs[0]))
	if string(disk) != "Subject: hi\n\nline 1\nline 2\n" {
		t.Fatalf("on disk: %q (Maildir keeps LF line ends)", disk)
	}
	if fi, _ := os.Stat(filepath.Join(inbox, fs[0])); !fi.ModTime().Equal(date) {
		t.Fatalf("mtime %v, want the internal date", fi.ModTime())
	}
	ul, _ := os.ReadFile(filepath.Join(inbox, uidlistFile))
	if !strings.Contains(string(ul), "keyword a $Label\n") {
		t.Fatalf("uidlist:\n%s", ul)
	}
	for _, name := range []string{"Work", "Work/2026", "v1.2/50%"} {
		if err := s.CreateMailbox(bob, name); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{".Work", ".Work.2026", ".v1%2E2.50%25"} {
		if _, err := os.Stat(filepath.Join(inbox, d, "cur")); err != nil {
			t.Fatalf("folder %s: %v", d, err)
		}
		if _, err := os.Stat(filepath.Join(inbox, d, folderMarker)); err != nil {
			t.Fatalf("folder %s has no maildirfolder marker", d)
		}
	}
	boxes, _ := s.Mailboxes(bob)
	var names []string
	for _, b := range boxes {
		names = append(names, b.Name)
	}
	if want := "INBOX Drafts Junk Sent Trash Work Work/2026 v1.2/50%"; strings.Join(names, " ") != want {
		t.Fatalf("mailboxes %q, want %q", names, want)
	}
	// Names that could leave the user's directory never reach the disk.
	for _, bad := range []string{"../x", "a/../../b", "/etc", ".hidden", "a\x00b"} {
		if err := s.CreateMailbox(bob, bad); !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("CreateMailbox(%q) = %v", bad, err)
		}
	}
	for _, bad := range []string{"../../x@example.net", "bob@../..", "a/b@example.net", ".x@example.net"} {
		if err := s.AddUser(bad); err == nil {
			t.Errorf("AddUser(%q) accepted", bad)
		}
	}
}

// Everything survives a restart: UIDs, UIDVALIDITY, flags, keywords,
// subscriptions, and the next UID even when the last message was expunged.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.AddUser(bob)
	for i := 0; i < 3; i++ {
		s.Append(bob, "INBOX", []byte(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)), nil, date)
	}
	s.SetFlags(bob, "INBOX", []store.UID{2}, store.FlagsAdd, []string{`\Answered`, "Work"})
	s.Expunge(bob, "INBOX", []store.UID{3})
	s.CreateMailbox(bob, "Archive")
	s.SetSubscribed(bob, "Archive", false)
	before, _ := s.Status(bob, "INBOX")
	s.Close()

	s2 := open(t, dir)
	if got := s2.Users(); !slices.Equal(got, []string{bob}) {
		t.Fatalf("users %v", got)
	}
	after, err := s2.Status(bob, "INBOX")
	if err != nil || after != before || after.UIDNext != 4 {
		t.Fatalf("status after restart %+v, before %+v, %v", after, before, err)
	}
	list, _ := s2.List(bob, "INBOX")
	if len(list) != 2 || list[1].UID != 2 || !slices.Equal(list[1].Flags, []string{"Work", store.FlagAnswered}) {
		t.Fatalf("list %+v", list)
	}
	if uid, _ := s2.Append(bob, "INBOX", []byte("x\r\n"), nil, date); uid != 4 {
		t.Fatalf("UID after restart %d, want 4 (3 was expunged, never reused)", uid)
	}
	boxes, _ := s2.Mailboxes(bob)
	if len(boxes) != 2+len(store.DefaultMailboxes) || boxes[1].Name != "Archive" || boxes[1].Subscribed {
		t.Fatalf("mailboxes %+v", boxes)
	}
}

// Mail dropped into new/ by another program (an MDA such as procmail,
// or a person) shows up with the next UID; files another program
// renames or removes show as flag changes and expunges.
func TestOtherPrograms(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.AddUser(bob)
	s.Append(bob, "INBOX", []byte("Subject: ours\r\n\r\nx\r\n"), nil, date)
	inbox := filepath.Join(dir, "example.net", "bob")
	// The Maildir delivery protocol: write in tmp/, rename into new/.
	os.WriteFile(filepath.Join(inbox, "tmp", "1700000000.P1Q1.elsewhere"), []byte("Subject: theirs\n\nhello\n"), 0o600)
	os.Rename(filepath.Join(inbox, "tmp", "1700000000.P1Q1.elsewhere"), filepath.Join(inbox, "new", "1700000000.P1Q1.elsewhere"))
	list, err := s.List(bob, "INBOX")
	if err != nil || len(list) != 2 || list[1].UID != 2 || list[1].Size != int64(len("Subject: theirs\r\n\r\nhello\r\n")) {
		t.Fatalf("list %+v %v", list, err)
	}
	body, _ := s.Read(bob, "INBOX", 2)
	if string(body) != "Subject: theirs\r\n\r\nhello\r\n" {
		t.Fatalf("read %q", body)
	}
	if _, err := os.Stat(filepath.Join(inbox, "new", "1700000000.P1Q1.elsewhere,U=2")); err != nil {
		t.Fatalf("the foreign file does not carry its UID: %v", files(t, inbox))
	}
	// A mail reader moves it to cur/ and marks it seen; it removes ours.
	os.Rename(filepath.Join(inbox, "new", "1700000000.P1Q1.elsewhere,U=2"), filepath.Join(inbox, "cur", "1700000000.P1Q1.elsewhere,U=2:2,S"))
	for _, f := range files(t, inbox) {
		if strings.Contains(f, "mx.example.net") {
			os.Remove(filepath.Join(inbox, f))
		}
	}
	var mu sync.Mutex
	var changes []string
	s.Close()
	s = open(t, dir) // watchers are told by the poller: use one that polls
	s.Close()
	s, _ = Open(dir, Options{PollInterval: 20 * time.Millisecond})
	defer s.Close()
	list, _ = s.List(bob, "INBOX")
	if len(list) != 1 || list[0].UID != 2 || !slices.Equal(list[0].Flags, []string{store.FlagSeen}) {
		t.Fatalf("after the reader: %+v", list)
	}
	cancel, _ := s.Watch(bob, "INBOX", func(c store.Change) {
		mu.Lock()
		changes = append(changes, fmt.Sprintf("%d:%d:%v", c.Kind, c.UID, c.Flags))
		mu.Unlock()
	})
	defer cancel()
	os.WriteFile(filepath.Join(inbox, "new", "1700000001.P1Q2.elsewhere"), []byte("Subject: 3\n\n3\n"), 0o600)
	os.Rename(filepath.Join(inbox, "cur", "1700000000.P1Q1.elsewhere,U=2:2,S"), filepath.Join(inbox, "cur", "1700000000.P1Q1.elsewhere,U=2:2,FS"))
	want := []string{fmt.Sprintf("%d:2:[\\Flagged \\Seen]", store.FlagsChanged), fmt.Sprintf("%d:3:[]", store.Appended)}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := slices.Clone(changes)
		mu.Unlock()
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("watcher heard %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A file with a UID that is taken (a copy made by another program)
	// gets a new one.
	data, _ := os.ReadFile(filepath.Join(inbox, "new", "1700000001.P1Q2.elsewhere,U=3"))
	os.WriteFile(filepath.Join(inbox, "new", "1700000002.P1Q3.elsewhere,U=3"), data, 0o600)
	list, _ = s.List(bob, "INBOX")
	if len(list) != 3 || list[2].UID != 4 {
		t.Fatalf("copy with a taken UID: %+v", list)
	}
}
