package maildir

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mailhop/mailhop/sim/store"
)

// Keys as queue.DeliveryKey makes them: queue id, time queued, recipient.
const (
	keyBob   = "8A1B2C3D001.1767258000000000000.bob@example.net"
	keyAlias = "8A1B2C3D001.1767258000000000000.robert@example.net" // same message, another address of bob's
)

var delivered = []byte("Return-Path: <alice@example.org>\r\nDelivered-To: bob@example.net\r\nSubject: once\r\n\r\nHello Bob.\r\n")

func appendOnce(t *testing.T, s *Store, key string, msg []byte) (store.UID, bool) {
	t.Helper()
	uid, filed, err := s.AppendOnce(bob, store.Inbox, key, msg, nil, date)
	if err != nil {
		t.Fatal(err)
	}
	return uid, filed
}

// File, crash (the store opened again on the same directory, as the next
// process finds it), file again with the same key: one message. Another
// recipient's key files another.
func TestAppendOnceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.AddUser(bob)
	inbox := filepath.Join(dir, "example.net", "bob")
	if uid, filed := appendOnce(t, s, keyBob, delivered); uid != 1 || !filed {
		t.Fatalf("first delivery: UID %d, filed %v", uid, filed)
	}
	fs := files(t, inbox)
	if len(fs) != 1 || !regexp.MustCompile(`^new/\d+\.K[0-9a-f]{32}\.mx\.example\.net,S=\d+,W=\d+,U=1$`).MatchString(fs[0]) {
		t.Fatalf("files %q: want one named by its delivery tag", fs)
	}
	// Repeated by the same process (an attempt retried).
	if uid, filed := appendOnce(t, s, keyBob, delivered); uid != 1 || filed {
		t.Fatalf("repeated delivery: UID %d, filed %v; want UID 1, not filed", uid, filed)
	}
	// No Close: a process killed does not close its store.
	s2 := open(t, dir)
	if uid, filed := appendOnce(t, s2, keyBob, delivered); uid != 1 || filed {
		t.Fatalf("delivery repeated after a restart: UID %d, filed %v; want UID 1, not filed", uid, filed)
	}
	if fs := files(t, inbox); len(fs) != 1 {
		t.Fatalf("files after the repeated delivery: %q", fs)
	}
	// The same message for another recipient (an alias of bob's) is
	// another delivery: filed, with the next UID (the repeats took none).
	if uid, filed := appendOnce(t, s2, keyAlias, delivered); uid != 2 || !filed {
		t.Fatalf("another recipient: UID %d, filed %v; want UID 2, filed", uid, filed)
	}
	// A key that comes round again with another message (a queue id
	// reused days later) is another delivery too.
	other := []byte(strings.Replace(string(delivered), "Hello Bob.", "Hello again.", 1))
	if uid, filed := appendOnce(t, s2, keyBob, other); uid != 3 || !filed {
		t.Fatalf("the key with another message: UID %d, filed %v; want UID 3, filed", uid, filed)
	}
	// Without a key, AppendOnce is Append: every call files.
	if uid, filed := appendOnce(t, s2, "", delivered); uid != 4 || !filed {
		t.Fatalf("no key: UID %d, filed %v", uid, filed)
	}
	s3 := open(t, dir)
	list, err := s3.List(bob, store.Inbox)
	if err != nil || len(list) != 4 {
		t.Fatalf("after another restart: %+v, %v; want 4 messages", list, err)
	}
	for _, key := range []string{keyBob, keyAlias} {
		if _, filed := appendOnce(t, s3, key, delivered); filed {
			t.Fatalf("%s filed again after the second restart", key)
		}
	}
	if body, _ := s3.Read(bob, store.Inbox, 1); string(body) != string(delivered) {
		t.Fatalf("UID 1 reads %q", body)
	}
}

// The tag is in the part of the name Maildir programs keep: a message a
// mail reader moved to cur/ and flagged, or that mailhop flagged, or that
// another program renamed without its U= field, is still found after a
// restart, and keeps its flags.
func TestAppendOnceFindsRenamed(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.AddUser(bob)
	inbox := filepath.Join(dir, "example.net", "bob")
	keys := []string{"Q1.1.bob@example.net", "Q2.2.bob@example.net", "Q3.3.bob@example.net"}
	for _, k := range keys {
		appendOnce(t, s, k, delivered)
	}
	// UID 1: mailhop marks it seen (IMAP STORE): cur/...:2,S.
	if _, err := s.SetFlags(bob, store.Inbox, []store.UID{1}, store.FlagsAdd, []string{store.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	// UID 2: mutt moves it to cur/ and flags it.
	// UID 3: a tool renames it without the U= field.
	for _, f := range files(t, inbox) {
		switch {
		case strings.HasSuffix(f, ",U=2"):
			name := strings.TrimPrefix(f, "new/")
			os.Rename(filepath.Join(inbox, f), filepath.Join(inbox, "cur", name+":2,F"))
		case strings.HasSuffix(f, ",U=3"):
			os.Rename(filepath.Join(inbox, f), filepath.Join(inbox, strings.TrimSuffix(f, ",U=3")))
		}
	}
	s2 := open(t, dir)
	for i, k := range keys {
		uid, filed := appendOnce(t, s2, k, delivered)
		if filed {
			t.Fatalf("%s filed again: %q", k, files(t, inbox))
		}
		if i < 2 && uid != store.UID(i+1) {
			t.Fatalf("%s: UID %d, want %d", k, uid, i+1)
		}
		if i == 2 && uid != 3 {
			t.Fatalf("%s: UID %d, want 3 (renamed without its UID: given the next, which is 3 again)", k, uid)
		}
	}
	list, _ := s2.List(bob, store.Inbox)
	var flags []string
	for _, m := range list {
		flags = append(flags, strings.Join(m.Flags, " "))
	}
	if len(list) != 3 || !slices.Equal(flags, []string{store.FlagSeen, store.FlagFlagged, ""}) {
		t.Fatalf("list %+v", list)
	}
	if fs := files(t, inbox); len(fs) != 3 {
		t.Fatalf("files %q", fs)
	}
}

// A crash before the rename leaves a file in tmp/ only: the delivery was
// not made, and the next files it. One expunged is gone: a repeat files
// it again (the index follows the directory).
func TestAppendOnceNotFiled(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.AddUser(bob)
	inbox := filepath.Join(dir, "example.net", "bob")
	os.WriteFile(filepath.Join(inbox, "tmp", "1767258000.M1P1Q1.mx.example.net,S=10,W=12"), []byte("half\nwritten"), 0o600)
	s2 := open(t, dir)
	if uid, filed := appendOnce(t, s2, keyBob, delivered); uid != 1 || !filed {
		t.Fatalf("after a crash before the rename: UID %d, filed %v", uid, filed)
	}
	if _, err := s2.Expunge(bob, store.Inbox, []store.UID{1}); err != nil {
		t.Fatal(err)
	}
	if uid, filed := appendOnce(t, s2, keyBob, delivered); uid != 2 || !filed {
		t.Fatalf("after an expunge: UID %d, filed %v; want UID 2, filed", uid, filed)
	}
}

// Concurrent deliveries under one key file one message; all report its
// UID.
func TestAppendOnceConcurrent(t *testing.T) {
	s := open(t, t.TempDir())
	s.AddUser(bob)
	var wg sync.WaitGroup
	uids := make([]store.UID, 16)
	filed := make([]bool, 16)
	errs := make([]error, 16)
	for i := range uids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uids[i], filed[i], errs[i] = s.AppendOnce(bob, store.Inbox, keyBob, delivered, nil, date)
		}()
	}
	wg.Wait()
	n := 0
	for i := range uids {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if uids[i] != uids[0] {
			t.Fatalf("UIDs %v: want one", uids)
		}
		if filed[i] {
			n++
		}
	}
	if list, _ := s.List(bob, store.Inbox); n != 1 || len(list) != 1 {
		t.Fatalf("%d calls say they filed, %d messages: want 1 and 1", n, len(list))
	}
}

func TestTagOf(t *testing.T) {
	tag := deliveryTag(keyBob, delivered)
	if tag != deliveryTag(keyBob, delivered) || tag == deliveryTag(keyAlias, delivered) || len(tag) != 33 {
		t.Fatalf("deliveryTag %q: not a function of key and message alone", tag)
	}
	for name, want := range map[string]string{
		"1767258000." + tag + ".mx.example.net,S=1,W=2,U=7": tag,
		"1767258000." + tag + ".mx.example.net":             tag,
		"1767258000.M5P6Q7.mx.example.net,S=1,W=2,U=7":      "",
		"1700000000.P1Q1.elsewhere":                         "",
		"1767258000." + strings.ToUpper(tag) + ".h":         "",
		"1767258000." + tag[:32] + ".h":                     "",
		tag + ".h":                                          "",
		"x":                                                 "",
	} {
		if got := tagOf(name); got != want {
			t.Errorf("tagOf(%q) = %q, want %q", name, got, want)
		}
	}
}
