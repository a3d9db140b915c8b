package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return store.NewMemory(nil) })
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
