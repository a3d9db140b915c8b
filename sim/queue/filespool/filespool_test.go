package filespool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/queue"
)

func env(id string) *queue.Envelope {
	return &queue.Envelope{ID: id, From: "alice@example.org", Created: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC),
		Rcpts: []*queue.Rcpt{{Addr: "bob@example.net", State: queue.Pending}}}
}

func body(id string) []byte {
	return []byte("Subject: " + id + "\r\n\r\n" + strings.Repeat("x", len(id)*7) + "\r\n")
}

func mustOpen(t *testing.T, dir string, opts Options) *Spool {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ids returns the ids the spool holds, sorted.
func ids(t *testing.T, s *Spool) []string {
	t.Helper()
	envs, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range envs {
		out = append(out, e.ID)
		b, err := s.Body(e.ID)
		if err != nil || !bytes.Equal(b, body(e.ID)) {
			t.Fatalf("body of %s: %q, %v", e.ID, b, err)
		}
	}
	slices.Sort(out)
	return out
}

func TestPutUpdateRemoveRecover(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	for _, id := range []string{"A1", "B2", "C3"} {
		if err := s.Put(env(id), body(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(env("B2"), body("B2")); !errors.Is(err, queue.ErrExists) {
		t.Fatalf("duplicate id: %v, want queue.ErrExists (the queue picks another id on it)", err)
	}
	e := env("B2")
	e.Attempts, e.Rcpts[0].State, e.Rcpts[0].Reply = 3, queue.Pending, "451 try later"
	if err := s.Update(e); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(env("nope")); err == nil {
		t.Fatal("update of an unknown id succeeded")
	}
	s.Remove("A1")
	s.Remove("A1") // twice is harmless
	if got := ids(t, s); !slices.Equal(got, []string{"B2", "C3"}) {
		t.Fatalf("before restart %v", got)
	}
	s.Close()
	if err := s.Put(env("D4"), body("D4")); err == nil {
		t.Fatal("put after close succeeded")
	}

	s = mustOpen(t, dir, Options{})
	defer s.Close()
	if got := ids(t, s); !slices.Equal(got, []string{"B2", "C3"}) {
		t.Fatalf("after restart %v", got)
	}
	envs, _ := s.Load()
	if envs[0].Attempts != 3 || envs[0].Rcpts[0].Reply != "451 try later" {
		t.Fatalf("update lost: %+v", envs[0])
	}
	if err := s.Put(env("E5"), body("E5")); err != nil {
		t.Fatal(err)
	}
}

// A write cut short by a crash is the end of the journal: everything
// before it is recovered, the torn record is dropped (it was never
// acknowledged), and appending resumes cleanly.
func TestTornTail(t *testing.T) {
	for _, cut := range []int{1, 5, 16, 20, 40} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{})
			s.Put(env("A1"), body("A1"))
			s.Put(env("B2"), body("B2"))
			s.Close()
			path := filepath.Join(dir, segName(1))
			data, _ := os.ReadFile(path)
			// A third record, of which only cut bytes reached the disk.
			rec := record(recRemove, "A1")
			os.WriteFile(path, append(data, rec[:min(cut, len(rec)-1)]...), 0o600)
			s = mustOpen(t, dir, Options{})
			if got := ids(t, s); !slices.Equal(got, []string{"A1", "B2"}) {
				t.Fatalf("got %v", got)
			}
			// The torn bytes are gone: what follows the last good
			// record is the zeros written ahead.
			after, _ := os.ReadFile(path)
			if len(after) < len(data) || !bytes.Equal(after[:len(data)], data) || bytes.ContainsFunc(after[len(data):], func(r rune) bool { return r != 0 }) {
				t.Fatalf("not cut back to the last good record (%d bytes): %d bytes, %q after it", len(data), len(after), after[len(data):min(len(after), len(data)+48)])
			}
			s.Put(env("C3"), body("C3"))
			s.Close()
			s = mustOpen(t, dir, Options{})
			defer s.Close()
			if got := ids(t, s); !slices.Equal(got, []string{"A1", "B2", "C3"}) {
				t.Fatalf("after appending again: %v", got)
			}
		})
	}
	// A flipped bit in a record is caught by the checksum.
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	s.Put(env("A1"), body("A1"))
	s.Put(env("B2"), body("B2"))
	s.Close()
	path := filepath.Join(dir, segName(1))
	data, _ := os.ReadFile(path)
	data[len(data)-3] ^= 0x20
	os.WriteFile(path, data, 0o600)
	s = mustOpen(t, dir, Options{})
	if got := ids(t, s); !slices.Equal(got, []string{"A1"}) {
		t.Fatalf("after a bad checksum: %v", got)
	}
	s.Close()
}

// Damage anywhere but at the end is not a crash's doing: Open refuses.
func TestDamageInOlderSegment(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{SegmentSize: 200, MaxSegments: 100})
	for i := range 5 {
		s.Put(env(fmt.Sprint("M", i)), body(fmt.Sprint("M", i)))
	}
	s.Close()
	path := filepath.Join(dir, segName(1))
	data, _ := os.ReadFile(path)
	data[len(fileMagic)+20] ^= 1
	os.WriteFile(path, data, 0o600)
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "000000000001.seg") {
		t.Fatalf("Open of a damaged older segment: %v", err)
	}
}

// Concurrent callers share fsyncs.
func TestGroupCommit(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				id := fmt.Sprintf("G%d.%d", i, j)
				if err := s.Put(env(id), body(id)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	batches, records := s.Stats()
	if records != 640 || batches >= records/2 {
		t.Fatalf("%d records in %d batches: fsyncs are not shared", records, batches)
	}
	t.Logf("%d records in %d batches", records, batches)
}

// Segments come and go: delivered messages free their segment, and a
// message that stays queued is moved forward instead of pinning every
// segment after it.
func TestSegments(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 300, MaxSegments: 3}
	s := mustOpen(t, dir, opts)
	s.Put(env("LONG"), body("LONG"))
	for i := range 40 {
		id := fmt.Sprint("S", i)
		s.Put(env(id), body(id))
		s.Remove(id)
	}
	s.barrier()
	if n := s.Segments(); n > opts.MaxSegments+1 {
		t.Fatalf("%d segments", n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(files) != s.Segments() {
		t.Fatalf("%d files for %d segments", len(files), s.Segments())
	}
	if _, err := os.Stat(filepath.Join(dir, segName(1))); err == nil {
		t.Fatal("the first segment is still there: the long-lived message was not moved")
	}
	s.Close()
	s = mustOpen(t, dir, opts)
	defer s.Close()
	if got := ids(t, s); !slices.Equal(got, []string{"LONG"}) {
		t.Fatalf("after restart %v", got)
	}
}

// records returns where the records of a segment file end, and whether
// the bytes after them are all zeros.
func recordsEnd(t *testing.T, path string) (end int, size int, zeros bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end = len(fileMagic)
	for {
		n, _, _, ok := parseRecord(data[end:])
		if !ok {
			break
		}
		end += n
	}
	return end, len(data), !bytes.ContainsFunc(data[end:], func(r rune) bool { return r != 0 })
}

// The segment being written carries zeros ahead of its last record, so
// that a record's fdatasync has no new size to write; records go over
// them without the file growing, recovery after a crash stops at them,
// and Close and the next segment cut them off.
func TestZerosAhead(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	path := filepath.Join(dir, segName(1))
	s.Put(env("A1"), body("A1"))
	end, size, zeros := recordsEnd(t, path)
	if size < end+zeroAheadSize/2 || !zeros {
		t.Fatalf("records end at %d in a file of %d (zeros after them: %v): want zeros written ahead", end, size, zeros)
	}
	s.Put(env("B2"), body("B2"))
	end2, size2, _ := recordsEnd(t, path)
	if end2 <= end || size2 != size {
		t.Fatalf("a second record: records end %d → %d, file %d → %d: want it written over the zeros", end, end2, size, size2)
	}

	// kill -9 now: the file as it is, zeros included.
	crashed := t.TempDir()
	data, _ := os.ReadFile(path)
	os.WriteFile(filepath.Join(crashed, segName(1)), data, 0o600)
	c := mustOpen(t, crashed, Options{})
	if got := ids(t, c); !slices.Equal(got, []string{"A1", "B2"}) {
		t.Fatalf("after a crash: %v", got)
	}
	c.Put(env("C3"), body("C3"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if end, size, _ := recordsEnd(t, filepath.Join(crashed, segName(1))); end != size {
		t.Fatalf("after Close the records end at %d in a file of %d: want the zeros cut off", end, size)
	}
	c = mustOpen(t, crashed, Options{})
	if got := ids(t, c); !slices.Equal(got, []string{"A1", "B2", "C3"}) {
		t.Fatalf("after a crash and a restart: %v", got)
	}
	c.Close()
	s.Close()

	// Only the last segment ends in zeros.
	dir = t.TempDir()
	opts := Options{SegmentSize: 4096, MaxSegments: 100}
	s = mustOpen(t, dir, opts)
	defer s.Close()
	for i := range 60 {
		id := fmt.Sprint("M", i)
		s.Put(env(id), body(id))
	}
	s.barrier()
	if s.Segments() < 3 {
		t.Fatalf("%d segments: want several", s.Segments())
	}
	for n := 1; n <= s.Segments(); n++ {
		end, size, zeros := recordsEnd(t, filepath.Join(dir, segName(uint64(n))))
		last := n == s.Segments()
		if !last && end != size || last && (int64(size) != opts.SegmentSize || !zeros) {
			t.Errorf("segment %d of %d: records end at %d in a file of %d (zeros after: %v)", n, s.Segments(), end, size, zeros)
		}
	}
}
