package maildir

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mailhop/mailhop/sim/store"
)

// Concurrent appends are filed in batches, and none returns before its
// file was fsynced, then renamed, then its directory fsynced by an fsync
// that started after the rename: a delivery the MDA reports survives a
// crash.
func TestAppendBatchDurableBeforeReturn(t *testing.T) {
	s := open(t, t.TempDir())
	s.AddUser(bob)
	var mu sync.Mutex
	var log [][]string // steps in order
	s.hook = func(step string, paths ...string) {
		mu.Lock()
		log = append(log, append([]string{step}, paths...))
		mu.Unlock()
	}
	const n = 48
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Appendf(nil, "Subject: %d\r\n\r\nmessage %d\r\n", i, i)
			uid, filed, err := s.AppendOnce(bob, store.Inbox, fmt.Sprintf("Q%d.1.bob@example.net", i), msg, nil, date)
			if err == nil && !filed {
				err = fmt.Errorf("message %d not filed", i)
			}
			mu.Lock()
			log = append(log, []string{"return", fmt.Sprint(uid)})
			mu.Unlock()
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	renames := 0
	for i, e := range log {
		if e[0] != "return" {
			continue
		}
		uid := e[1]
		// Its rename, found by the UID in the new name.
		r := -1
		for j := range i {
			if log[j][0] == "rename" && strings.HasSuffix(log[j][2], ",U="+uid) {
				r = j
			}
		}
		if r < 0 {
			t.Fatalf("UID %s returned before its rename", uid)
		}
		renames++
		tmp, dir := log[r][1], filepath.Dir(log[r][2])
		synced := false
		for j := range r {
			synced = synced || log[j][0] == "fsync" && log[j][1] == tmp
		}
		if !synced {
			t.Fatalf("UID %s renamed before its file was fsynced", uid)
		}
		// A directory fsync that began after the rename, and ended
		// before the return (one runs at a time per directory).
		ok, began := false, false
		for j := r + 1; j < i; j++ {
			began = began || log[j][0] == "dirsync" && log[j][1] == dir
			ok = ok || began && log[j][0] == "dirsynced" && log[j][1] == dir
		}
		if !ok {
			t.Fatalf("UID %s returned before an fsync of %s that began after its rename", uid, dir)
		}
	}
	dirsyncs := 0
	for _, e := range log {
		if e[0] == "dirsync" {
			dirsyncs++
		}
	}
	t.Logf("%d appends, %d directory fsyncs", renames, dirsyncs)
	if list, _ := s.List(bob, store.Inbox); len(list) != n {
		t.Fatalf("%d messages, want %d", len(list), n)
	}
}
