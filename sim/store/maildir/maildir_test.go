package maildir

import (
	"errors"
	"fmt"
	"maps"
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
	if len(fs) != 2 || !regexp.MustCompile(`^new/\d+\.M\d+P\d+Q\d+\.mx\.example\.net,S=27,W=31,U=1,M=2$`).MatchString(fs[0]) ||
		!strings.HasSuffix(fs[1], ",U=2,M=3:2,FSa") || !strings.HasPrefix(fs[1], "cur/") {
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

// Mod-sequences live in the file names (M=) and the highest in
// mailhop-uidlist: both survive a restart, a crash (a store opened again
// without Close) included; an expunge of the message with the highest M=
// does not lower the highest; a flag change another program makes gets a
// new, higher mod-sequence, carried in the name; a file without M= has
// mod-sequence 1.
func TestModSeqReopen(t *testing.T) {
	dir := t.TempDir()
	inbox := filepath.Join(dir, "example.net", "bob")
	s := open(t, dir)
	s.AddUser(bob)
	for i := 0; i < 3; i++ {
		s.Append(bob, "INBOX", []byte(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)), nil, date)
	}
	s.SetFlags(bob, "INBOX", []store.UID{1}, store.FlagsAdd, []string{store.FlagSeen})
	s.SetFlags(bob, "INBOX", []store.UID{2}, store.FlagsAdd, []string{store.FlagFlagged, "Work"})
	state := func(s *Store) (map[store.UID]uint64, uint64) {
		t.Helper()
		l, err := s.List(bob, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		m := map[store.UID]uint64{}
		for _, msg := range l {
			m[msg.UID] = msg.ModSeq
		}
		st, err := s.Status(bob, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		return m, st.HighestModSeq
	}
	ms, h := state(s)
	if want := map[store.UID]uint64{1: 5, 2: 6, 3: 4}; !maps.Equal(ms, want) || h != 6 {
		t.Fatalf("mod-sequences %v, highest %d; want %v, 6", ms, h, want)
	}

	// A crash: the next process opens the directory, the last never
	// closed it.
	s2 := open(t, dir)
	if ms2, h2 := state(s2); !maps.Equal(ms2, ms) || h2 != h {
		t.Fatalf("after a restart: %v, highest %d; before %v, %d", ms2, h2, ms, h)
	}
	// UID 2 holds the highest M=: expunged, the highest is raised, and
	// stays raised after the next crash although no name holds it.
	if removed, err := s2.Expunge(bob, "INBOX", []store.UID{2}); err != nil || len(removed) != 1 {
		t.Fatalf("expunge: %v %v", removed, err)
	}
	if _, h2 := state(s2); h2 != 7 {
		t.Fatalf("highest after the expunge %d, want 7", h2)
	}
	s3 := open(t, dir)
	if ms3, h3 := state(s3); h3 != 7 || !maps.Equal(ms3, map[store.UID]uint64{1: 5, 3: 4}) {
		t.Fatalf("after the expunge and a restart: %v, highest %d; want highest 7", ms3, h3)
	}

	// Another program marks UID 3 seen (a rename, as mutt makes it): the
	// next List gives it a mod-sequence above all, in its name.
	old, _ := filepath.Glob(filepath.Join(inbox, "new", "*,U=3,M=4"))
	if len(old) != 1 {
		t.Fatalf("UID 3's file: %q in %q", old, files(t, inbox))
	}
	os.Rename(old[0], filepath.Join(inbox, "cur", filepath.Base(old[0])+":2,S"))
	l, _ := s3.List(bob, "INBOX")
	if len(l) != 2 || l[1].UID != 3 || l[1].ModSeq != 8 || !slices.Equal(l[1].Flags, []string{store.FlagSeen}) {
		t.Fatalf("after another program's flag change: %+v, want UID 3 seen at mod-sequence 8", l)
	}
	if now, _ := filepath.Glob(filepath.Join(inbox, "cur", "*,U=3,M=8:2,S")); len(now) != 1 {
		t.Fatalf("UID 3's new mod-sequence is not in its name: %q", files(t, inbox))
	}
	s3.Close()
	s4 := open(t, dir)
	if ms4, h4 := state(s4); h4 != 8 || !maps.Equal(ms4, map[store.UID]uint64{1: 5, 3: 8}) {
		t.Fatalf("after a restart: %v, highest %d", ms4, h4)
	}
	s4.Close()

	// A file named without M= (filed before mod-sequences, or by a
	// program that knows U= only): mod-sequence 1, after every restart.
	os.WriteFile(filepath.Join(inbox, "cur", "1700000000.P1Q1.elsewhere,U=9:2,S"), []byte("Subject: old\n\nx\n"), 0o600)
	for range 2 {
		s5 := open(t, dir)
		if ms5, h5 := state(s5); h5 != 8 || !maps.Equal(ms5, map[store.UID]uint64{1: 5, 3: 8, 9: 1}) {
			t.Fatalf("with a file without M=: %v, highest %d", ms5, h5)
		}
		s5.Close()
	}
	if _, err := os.Stat(filepath.Join(inbox, "cur", "1700000000.P1Q1.elsewhere,U=9:2,S")); err != nil {
		t.Fatalf("the file without M= was renamed: %q", files(t, inbox))
	}

	// Close saved the highest: another program removing the message with
	// the highest M= while mailhop is stopped does not lower it.
	gone, _ := filepath.Glob(filepath.Join(inbox, "cur", "*,U=3,M=8:2,S"))
	os.Remove(gone[0])
	if ms6, h6 := state(open(t, dir)); h6 != 8 || !maps.Equal(ms6, map[store.UID]uint64{1: 5, 9: 1}) {
		t.Fatalf("after a removal while stopped: %v, highest %d; want 8", ms6, h6)
	}
}

// mailhop-uidlist files from before mod-sequences decode, with no
// highest: the names give it.
func TestUidlistWithoutModSeq(t *testing.T) {
	ul, err := decodeUidlist([]byte("mailhop-uidlist 1\nuidvalidity 7\nuidnext 4\nkeyword a Work\n"))
	if err != nil || ul.validity != 7 || ul.next != 4 || ul.highest != 0 || !slices.Equal(ul.keywords, []string{"Work"}) {
		t.Fatalf("%+v %v", ul, err)
	}
	again, err := decodeUidlist(uidlist{validity: 7, next: 4, highest: 12, keywords: []string{"Work"}}.encode())
	if err != nil || again.highest != 12 {
		t.Fatalf("%+v %v", again, err)
	}
}

// Mail dropped into new/ by another program (an MDA such as procmail,
// or a person) shows up with the next UID and mod-sequence; files another
// program renames or removes show as flag changes (with a new
// mod-sequence) and expunges.
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
	if _, err := os.Stat(filepath.Join(inbox, "new", "1700000000.P1Q1.elsewhere,U=2,M=3")); err != nil {
		t.Fatalf("the foreign file does not carry its UID and mod-sequence: %v", files(t, inbox))
	}
	// A mail reader moves it to cur/ and marks it seen; it removes ours.
	os.Rename(filepath.Join(inbox, "new", "1700000000.P1Q1.elsewhere,U=2,M=3"), filepath.Join(inbox, "cur", "1700000000.P1Q1.elsewhere,U=2,M=3:2,S"))
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
		changes = append(changes, fmt.Sprintf("%d:%d:%v@%d", c.Kind, c.UID, c.Flags, c.ModSeq))
		mu.Unlock()
	})
	defer cancel()
	os.WriteFile(filepath.Join(inbox, "new", "1700000001.P1Q2.elsewhere"), []byte("Subject: 3\n\n3\n"), 0o600)
	os.Rename(filepath.Join(inbox, "cur", "1700000000.P1Q1.elsewhere,U=2,M=3:2,S"), filepath.Join(inbox, "cur", "1700000000.P1Q1.elsewhere,U=2,M=3:2,FS"))
	want := []string{fmt.Sprintf("%d:2:[\\Flagged \\Seen]@4", store.FlagsChanged), fmt.Sprintf("%d:3:[]@5", store.Appended)}
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
	data, _ := os.ReadFile(filepath.Join(inbox, "new", "1700000001.P1Q2.elsewhere,U=3,M=5"))
	os.WriteFile(filepath.Join(inbox, "new", "1700000002.P1Q3.elsewhere,U=3,M=5"), data, 0o600)
	list, _ = s.List(bob, "INBOX")
	if len(list) != 3 || list[2].UID != 4 || list[2].ModSeq != 6 {
		t.Fatalf("copy with a taken UID: %+v", list)
	}
}
