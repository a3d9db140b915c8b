//go:build !js

package filespool

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// TestCrashChild is the process that crashes: it puts and removes
// messages from 8 goroutines and prints each call it makes ("T id" for a
// put, "X id" for a remove) and each that returned ("P id", "R id"),
// until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("FILESPOOL_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestKill9")
	}
	s, err := Open(dir, Options{SegmentSize: 64 << 10})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", a...)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("K%d.%d", g, i)
				say("T %s", id)
				if err := s.Put(env(id), body(id)); err != nil {
					say("ERR %v", err)
					return
				}
				say("P %s", id)
				if i%3 == 2 {
					old := fmt.Sprintf("K%d.%d", g, i-1)
					say("X %s", old)
					if err := s.Remove(old); err != nil {
						say("ERR %v", err)
						return
					}
					say("R %s", old)
				}
			}
		}()
	}
	wg.Wait()
}

// kill -9 in the middle of a stream of puts and removes: after recovery
// the spool holds every message whose Put returned and whose Remove was
// not called, none whose Remove returned, and nothing that was never put.
func TestKill9(t *testing.T) {
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), "FILESPOOL_CRASH_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tried, put, removing, removed := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
		sc := bufio.NewScanner(out)
		killed := false
		for sc.Scan() {
			if len(put) >= 600 && !killed {
				// Kill, then read on: what the child said before it died
				// is still in the pipe.
				cmd.Process.Kill()
				killed = true
			}
			kind, id, _ := strings.Cut(sc.Text(), " ")
			switch kind {
			case "T":
				tried[id] = true
			case "P":
				put[id] = true
			case "X":
				removing[id] = true
			case "R":
				removed[id] = true
			case "ERR":
				t.Fatalf("child: %s", id)
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		s, err := Open(dir, Options{SegmentSize: 64 << 10})
		if err != nil {
			t.Fatalf("round %d: recovery: %v", round, err)
		}
		envs, _ := s.Load()
		got := map[string]bool{}
		for _, e := range envs {
			got[e.ID] = true
			if !tried[e.ID] {
				t.Errorf("%s recovered but never put", e.ID)
			}
			if b, err := s.Body(e.ID); err != nil || string(b) != string(body(e.ID)) {
				t.Errorf("%s: body %q, %v", e.ID, b, err)
			}
		}
		lost, back := 0, 0
		for id := range put {
			if !got[id] && !removing[id] {
				lost++
			}
		}
		for id := range removed {
			if got[id] {
				back++
			}
		}
		if lost > 0 || back > 0 {
			t.Fatalf("round %d: %d acknowledged puts lost, %d acknowledged removes undone", round, lost, back)
		}
		t.Logf("round %d: %d puts and %d removes acknowledged before kill -9; %d queued after recovery", round, len(put), len(removed), len(envs))
		// Start over for the next round, so ids do not collide.
		for _, e := range envs {
			s.Remove(e.ID)
		}
		s.Close()
	}
}
