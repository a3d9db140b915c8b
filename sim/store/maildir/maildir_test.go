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
	if err != nil || after.HighestModSeq <= before.HighestModSeq {
		t.Fatalf("status after restart %+v, before %+v, %v", after, before, err)
	}
	after.HighestModSeq = before.HighestModSeq // see TestModSeqReopen
	if after != before || after.UIDNext != 4 {
		t.Fatalf("status after restart %+v, before %+v", after, before)
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

// byUID maps each message file of a mailbox directory to its UID.
func byUID(t *testing.T, dir string) map[store.UID]string {
	t.Helper()
	out := map[store.UID]string{}
	for _, f := range files(t, dir) {
		out[parseName(filepath.Base(f)).uid] = f
	}
	return out
}

// keyOf is a file name's part before ":", what other Maildir programs
// take as the message's identity.
func keyOf(f string) string {
	key, _, _ := strings.Cut(filepath.Base(f), ":")
	return key
}

// Mod-sequences are kept in memory, not in names: a name has no M=, and
// mailhop's flag change keeps the part before ":". After a restart, a
// crash (a store opened again without Close) included, every message has
// the new highest mod-sequence, above every one seen before; so too after
// more changes than one reserve of mailhop-uidlist holds. A name with M=
// (from the mailhop that kept mod-sequences in names) is read with its
// UID and flags, the M= ignored. A flag change another program makes is
// seen with a new, higher mod-sequence.
func TestModSeqReopen(t *testing.T) {
	dir := t.TempDir()
	inbox := filepath.Join(dir, "example.net", "bob")
	s := open(t, dir)
	s.AddUser(bob)
	// seen is the highest mod-sequence any call has shown.
	var seen uint64
	saw := func(ms ...store.Message) {
		for _, m := range ms {
			seen = max(seen, m.ModSeq)
		}
	}
	state := func(s *Store) (map[store.UID]uint64, uint64) {
		t.Helper()
		l, err := s.List(bob, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		saw(l...)
		m := map[store.UID]uint64{}
		for _, msg := range l {
			m[msg.UID] = msg.ModSeq
		}
		st, err := s.Status(bob, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		seen = max(seen, st.HighestModSeq)
		return m, st.HighestModSeq
	}
	// reopened checks a store just opened on dir: every message at the
	// highest, which is above everything seen before.
	reopened := func(s *Store) uint64 {
		t.Helper()
		before := seen
		ms, h := state(s)
		if h <= before {
			t.Fatalf("highest after a reopen %d, not above %d seen before", h, before)
		}
		for uid, m := range ms {
			if m != h {
				t.Fatalf("after a reopen UID %d has mod-sequence %d, want the highest %d: %v", uid, m, h, ms)
			}
		}
		return h
	}

	// A new mailbox numbers as the memory store does.
	if ms, h := state(s); len(ms) != 0 || h != 1 {
		t.Fatalf("new mailbox: %v, highest %d; want highest 1", ms, h)
	}
	for i := 0; i < 3; i++ {
		s.Append(bob, "INBOX", []byte(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)), nil, date)
	}
	if ms, h := state(s); !maps.Equal(ms, map[store.UID]uint64{1: 2, 2: 3, 3: 4}) || h != 4 {
		t.Fatalf("mod-sequences %v, highest %d; want 2, 3, 4 and 4", ms, h)
	}
	names := byUID(t, inbox)
	for _, f := range names {
		if strings.Contains(f, ",M=") {
			t.Fatalf("a name carries M=: %q", files(t, inbox))
		}
	}
	got, _ := s.SetFlags(bob, "INBOX", []store.UID{1}, store.FlagsAdd, []string{store.FlagSeen})
	saw(got...)
	got, _ = s.SetFlags(bob, "INBOX", []store.UID{2}, store.FlagsAdd, []string{store.FlagFlagged, "Work"})
	saw(got...)
	if ms, h := state(s); !maps.Equal(ms, map[store.UID]uint64{1: 5, 2: 6, 3: 4}) || h != 6 {
		t.Fatalf("after flag changes: %v, highest %d", ms, h)
	}
	now := byUID(t, inbox)
	for uid, f := range names {
		if keyOf(now[uid]) != keyOf(f) || strings.Contains(now[uid], ",M=") {
			t.Fatalf("UID %d: %q became %q; the part before \":\" must stay", uid, f, now[uid])
		}
	}
	if !strings.HasSuffix(now[2], ":2,Fa") {
		t.Fatalf("UID 2's flags are not in its name: %q", now[2])
	}

	// A crash: the next process opens the directory, the last never
	// closed it.
	s2 := open(t, dir)
	h := reopened(s2)
	// UID 2 expunged: the highest is raised; then a clean restart.
	if removed, err := s2.Expunge(bob, "INBOX", []store.UID{2}); err != nil || len(removed) != 1 {
		t.Fatalf("expunge: %v %v", removed, err)
	}
	if _, h2 := state(s2); h2 != h+1 {
		t.Fatalf("highest after the expunge %d, want %d", h2, h+1)
	}
	s2.Close()
	s3 := open(t, dir)
	if ms := reopened(s3); ms == 0 {
		t.Fatal("no highest")
	}

	// More flag changes than one reserve holds, then a crash.
	for i := range 1500 {
		op := store.FlagsAdd
		if i%2 == 1 {
			op = store.FlagsRemove
		}
		got, err := s3.SetFlags(bob, "INBOX", []store.UID{3}, op, []string{store.FlagFlagged})
		if err != nil || len(got) != 1 {
			t.Fatalf("flag change %d: %v %v", i, got, err)
		}
		saw(got...)
	}
	state(s3)
	if seen < modSeqBlock+1500 {
		t.Fatalf("highest %d after 1500 changes", seen)
	}
	s4 := open(t, dir)
	reopened(s4)

	// A name from the mailhop that kept mod-sequences in names: its UID
	// and flags are read, its M= is not.
	old := "1700000000.P1Q1.elsewhere,S=16,W=19,U=9,M=5"
	os.WriteFile(filepath.Join(inbox, "cur", old+":2,S"), []byte("Subject: old\n\nx\n"), 0o600)
	l, _ := s4.List(bob, "INBOX")
	saw(l...)
	if n := len(l); n != 3 || l[2].UID != 9 || !slices.Equal(l[2].Flags, []string{store.FlagSeen}) || l[2].ModSeq <= modSeqBlock {
		t.Fatalf("a name with M=5: %+v", l)
	}
	s4.Close()
	s5 := open(t, dir)
	reopened(s5)
	if _, err := os.Stat(filepath.Join(inbox, "cur", old+":2,S")); err != nil {
		t.Fatalf("the name with M= was renamed: %q", files(t, inbox))
	}
	// mailhop's flag change on it renames the info part only.
	s5.SetFlags(bob, "INBOX", []store.UID{9}, store.FlagsAdd, []string{store.FlagAnswered})
	if _, err := os.Stat(filepath.Join(inbox, "cur", old+":2,RS")); err != nil {
		t.Fatalf("the flag change on a name with M=: %q", files(t, inbox))
	}

	// Another program marks UID 1 flagged (a rename, as mutt makes it):
	// the next List gives it a new mod-sequence, above all, and mailhop
	// leaves the name as that program made it.
	_, h = state(s5)
	f := byUID(t, inbox)[1]
	theirs := filepath.Join(inbox, "cur", keyOf(f)+":2,FS")
	os.Rename(filepath.Join(inbox, f), theirs)
	l, _ = s5.List(bob, "INBOX")
	if len(l) != 3 || l[0].UID != 1 || l[0].ModSeq != h+1 || !slices.Equal(l[0].Flags, []string{store.FlagFlagged, store.FlagSeen}) {
		t.Fatalf("after another program's flag change: %+v, want UID 1 flagged and seen at %d", l, h+1)
	}
	if st, _ := s5.Status(bob, "INBOX"); st.HighestModSeq != h+1 {
		t.Fatalf("highest %d, want %d", st.HighestModSeq, h+1)
	}
	if _, err := os.Stat(theirs); err != nil {
		t.Fatalf("mailhop renamed the file another program named: %q", files(t, inbox))
	}
}

// The first start after the mailhop that kept mod-sequences in names
// (M=, and mailhop-uidlist's highestmodseq as of its last expunge or
// Close) begins above every M= and that highest; one after a mailhop
// without mod-sequences begins at 1. Neither renames a file.
func TestModSeqFromOlderMailhop(t *testing.T) {
	for _, c := range []struct {
		uidlist string
		names   []string
		want    uint64
	}{
		{"mailhop-uidlist 1\nuidvalidity 7\nuidnext 4\nhighestmodseq 7\n",
			[]string{"cur/1700000000.P1Q1.a,U=1,M=12:2,S", "new/1700000000.P1Q2.a,U=3,M=4"}, 13},
		{"mailhop-uidlist 1\nuidvalidity 7\nuidnext 4\nhighestmodseq 20\n",
			[]string{"cur/1700000000.P1Q1.a,U=1,M=12:2,S", "new/1700000000.P1Q2.a,U=3,M=4"}, 21},
		{"mailhop-uidlist 1\nuidvalidity 7\nuidnext 4\n",
			[]string{"cur/1700000000.P1Q1.a,U=1:2,S", "new/1700000000.P1Q2.a,U=3"}, 1},
	} {
		dir := t.TempDir()
		inbox := filepath.Join(dir, "example.net", "bob")
		for _, sub := range []string{"tmp", "new", "cur"} {
			os.MkdirAll(filepath.Join(inbox, sub), 0o700)
		}
		os.WriteFile(filepath.Join(inbox, uidlistFile), []byte(c.uidlist), 0o600)
		for _, n := range c.names {
			os.WriteFile(filepath.Join(inbox, n), []byte("Subject: x\n\nx\n"), 0o600)
		}
		s := open(t, dir)
		l, err := s.List(bob, "INBOX")
		if err != nil || len(l) != 2 || l[0].UID != 1 || l[1].UID != 3 {
			t.Fatalf("%q: %+v %v", c.uidlist, l, err)
		}
		st, _ := s.Status(bob, "INBOX")
		if l[0].ModSeq != c.want || l[1].ModSeq != c.want || st.HighestModSeq != c.want || st.UIDNext != 4 {
			t.Fatalf("%q: %+v, %+v; want every mod-sequence %d", c.uidlist, l, st, c.want)
		}
		if got := files(t, inbox); !slices.Equal(got, []string{c.names[1], c.names[0]}) {
			t.Fatalf("files %q, want %q", got, c.names)
		}
		data, _ := os.ReadFile(filepath.Join(inbox, uidlistFile))
		if ul, err := decodeUidlist(data); err != nil || !ul.hasReserve || ul.reserve < c.want {
			t.Fatalf("uidlist after the start: %q", data)
		}
	}
}

// mailhop-uidlist keeps the reserve; files from before it decode, the
// highestmodseq of the mailhop that kept mod-sequences in names as a
// reserve to be checked against the names.
func TestUidlistReserve(t *testing.T) {
	ul, err := decodeUidlist([]byte("mailhop-uidlist 1\nuidvalidity 7\nuidnext 4\nkeyword a Work\n"))
	if err != nil || ul.validity != 7 || ul.next != 4 || ul.reserve != 0 || ul.hasReserve || !slices.Equal(ul.keywords, []string{"Work"}) {
		t.Fatalf("%+v %v", ul, err)
	}
	ul, err = decodeUidlist([]byte("mailhop-uidlist 1\nuidvalidity 7\nuidnext 4\nhighestmodseq 12\n"))
	if err != nil || ul.reserve != 12 || ul.hasReserve {
		t.Fatalf("%+v %v", ul, err)
	}
	again, err := decodeUidlist(uidlist{validity: 7, next: 4, reserve: 2048, keywords: []string{"Work"}}.encode())
	if err != nil || again.reserve != 2048 || !again.hasReserve || !slices.Equal(again.keywords, []string{"Work"}) {
		t.Fatalf("%+v %v", again, err)
	}
}

// Mail dropped into new/ by another program (an MDA such as procmail,
// or a person) shows up with the next UID and mod-sequence; files another
// program renames or removes show as flag changes (with a new
// mod-sequence) and expunges. mailhop renames a file only to give it a
// UID.
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
	st, _ := s.Status(bob, "INBOX")
	h := st.HighestModSeq
	if list[0].ModSeq != h {
		t.Fatalf("after a restart: mod-sequence %d, highest %d", list[0].ModSeq, h)
	}
	cancel, _ := s.Watch(bob, "INBOX", func(c store.Change) {
		mu.Lock()
		changes = append(changes, fmt.Sprintf("%d:%d:%v@%d", c.Kind, c.UID, c.Flags, c.ModSeq))
		mu.Unlock()
	})
	defer cancel()
	os.WriteFile(filepath.Join(inbox, "new", "1700000001.P1Q2.elsewhere"), []byte("Subject: 3\n\n3\n"), 0o600)
	os.Rename(filepath.Join(inbox, "cur", "1700000000.P1Q1.elsewhere,U=2:2,S"), filepath.Join(inbox, "cur", "1700000000.P1Q1.elsewhere,U=2:2,FS"))
	want := []string{fmt.Sprintf("%d:2:[\\Flagged \\Seen]@%d", store.FlagsChanged, h+1), fmt.Sprintf("%d:3:[]@%d", store.Appended, h+2)}
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
	if _, err := os.Stat(filepath.Join(inbox, "cur", "1700000000.P1Q1.elsewhere,U=2:2,FS")); err != nil {
		t.Fatalf("the flag change renamed the file: %v", files(t, inbox))
	}
	data, _ := os.ReadFile(filepath.Join(inbox, "new", "1700000001.P1Q2.elsewhere,U=3"))
	os.WriteFile(filepath.Join(inbox, "new", "1700000002.P1Q3.elsewhere,U=3"), data, 0o600)
	list, _ = s.List(bob, "INBOX")
	if len(list) != 3 || list[2].UID != 4 || list[2].ModSeq != h+3 {
		t.Fatalf("copy with a taken UID: %+v", list)
	}
}
