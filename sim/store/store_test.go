package store_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return store.NewMemory(nil) })
}

// A store that keeps its messages deflated from the first behaves the
// same.
func TestMemoryPacked(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		m := store.NewMemory(nil)
		m.PackAfter(0)
		return m
	})
}

// Past DefaultPackAfter messages, the store keeps each one deflated
// against an earlier one: a long run's mailboxes take a fraction of the
// memory, and every message reads back byte for byte.
func TestMemoryPacksLongMailboxes(t *testing.T) {
	m := store.NewMemory(nil)
	m.AddUser("bob@example.net")
	msg := func(i int) []byte {
		return fmt.Appendf(nil, "Return-Path: <alice@example.org>\r\nDelivered-To: bob@example.net\r\n"+
			"Received: from mx.example.net ([198.51.100.25])\r\n\tby store.example.net (mailhop) with LMTP id %08X\r\n\tfor <bob@example.net>; Thu, 01 Jan 2026 09:00:00 +0000\r\n"+
			"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=mailhop;\r\n\tb=%x\r\n"+
			"Message-ID: <%d.%08X@example.org>\r\nSubject: Hello\r\n\r\nHello! This message travelled the whole chain.\r\n",
			i*7919, sha256.Sum256([]byte{byte(i), byte(i >> 8)}), i, i*104729)
	}
	n := store.DefaultPackAfter + 1000
	var givenBefore, given, keptBefore int
	for i := range n {
		if i == store.DefaultPackAfter {
			keptBefore = m.Kept()
		}
		if i < store.DefaultPackAfter {
			givenBefore += len(msg(i))
		} else {
			given += len(msg(i))
		}
		if _, err := m.Append("bob@example.net", store.Inbox, msg(i), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	kept := m.Kept() - keptBefore
	if keptBefore != givenBefore {
		t.Errorf("the first %d messages: %d bytes kept for %d given, want them as they are", store.DefaultPackAfter, keptBefore, givenBefore)
	}
	list, _ := m.List("bob@example.net", store.Inbox)
	if len(list) != n {
		t.Fatalf("%d messages, want %d", len(list), n)
	}
	for i, e := range list {
		got, err := m.Read("bob@example.net", store.Inbox, e.UID)
		if err != nil || !bytes.Equal(got, msg(i)) || e.Size != int64(len(msg(i))) {
			t.Fatalf("message %d (size %d) reads back as %q, %v", i, e.Size, got, err)
		}
	}
	// COPY keeps them readable too.
	m.CreateMailbox("bob@example.net", "Archive")
	_, dst, _, err := m.Copy("bob@example.net", store.Inbox, []store.UID{list[n-1].UID}, "Archive")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Read("bob@example.net", "Archive", dst[0]); err != nil || !bytes.Equal(got, msg(n-1)) {
		t.Fatalf("the copy reads back as %q, %v", got, err)
	}
	t.Logf("the last 1000 messages: %d bytes given, %d kept", given, kept)
	if kept > given/3 {
		t.Errorf("the store keeps %d bytes of the last 1000 messages for %d given", kept, given)
	}
}

func TestCanonicalName(t *testing.T) {
	ok := map[string]string{
		"INBOX":        "INBOX",
		"inbox":        "INBOX",
		"Inbox/Work":   "INBOX/Work",
		"Sent":         "Sent",
		"Work/2026/Q1": "Work/2026/Q1",
		"Entwürfe":     "Entwürfe",
		"a b":          "a b",
		"&AMk-t&AOk-":  "&AMk-t&AOk-", // modified UTF-7 stays as given: the IMAP layer decodes
		"x.y":          "x.y",
		"inboxes":      "inboxes",
	}
	for in, want := range ok {
		got, err := store.CanonicalName(in)
		if err != nil || got != want {
			t.Errorf("CanonicalName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{"", "..", ".", "../x", "a/../b", "/abs", "trail/", "a//b", "a\x00b", "a\nb",
		`a\b`, ".hidden", "a/.b", "\xff", strings.Repeat("x", 256)}
	for _, in := range bad {
		if _, err := store.CanonicalName(in); !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("CanonicalName(%q) accepted: %v", in, err)
		}
	}
}

// FuzzCanonicalName: whatever the name, an accepted one has no part that
// could leave a directory, and canonicalising is idempotent.
func FuzzCanonicalName(f *testing.F) {
	for _, s := range []string{"INBOX", "a/b", "../etc/passwd", "a/./b", "Work/2026", "&Jjo-", "inbox/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c, err := store.CanonicalName(name)
		if err != nil {
			return
		}
		for _, p := range strings.Split(c, "/") {
			if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "\x00\\") || strings.HasPrefix(p, ".") {
				t.Fatalf("%q accepted as %q with part %q", name, c, p)
			}
		}
		if again, err := store.CanonicalName(c); err != nil || again != c {
			t.Fatalf("not idempotent: %q → %q → %q, %v", name, c, again, err)
		}
	})
}
