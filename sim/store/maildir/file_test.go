package maildir

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestCreateTmp: a new file gets its data and modification time; an
// existing one is refused and left alone.
func TestCreateTmp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m")
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	f, err := createTmp(path, []byte("Subject: hi\n\nbody\n"), mtime)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "Subject: hi\n\nbody\n" {
		t.Errorf("file holds %q", b)
	}
	want := mtime
	if runtime.GOOS == "js" {
		want = mtime.Truncate(time.Second) // Node's file times
	}
	if fi, err := os.Stat(path); err != nil || !fi.ModTime().Equal(want) || fi.Mode().Perm() != 0o600 {
		t.Errorf("stat: %v, %v (want mtime %v, mode 0600)", fi.ModTime(), fi.Mode(), want)
	}
	if _, err := createTmp(path, []byte("other"), mtime); !errors.Is(err, os.ErrExist) {
		t.Errorf("second create: %v, want os.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "Subject: hi\n\nbody\n" {
		t.Errorf("after a refused create the file holds %q", b)
	}
	if err := rename(path, filepath.Join(dir, "n")); err != nil {
		t.Fatal(err)
	}
	if err := rename(path, filepath.Join(dir, "n")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("renaming a missing file: %v, want os.ErrNotExist", err)
	}
	if err := fsyncDir(dir); err != nil {
		t.Error(err)
	}
	if err := fsyncDir(filepath.Join(dir, "n")); err == nil && runtime.GOOS == "linux" {
		t.Error("fsyncDir of a file: no error")
	}
}
