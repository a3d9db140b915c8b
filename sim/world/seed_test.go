package world

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/trace"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.jsonl from this run")

// seededJourney runs the default world with a seed, alice → bob and bob
// reading by IMAP, and returns its trace as JSON lines.
func seededJourney(t *testing.T, seed uint64) []byte {
	t.Helper()
	spec, err := Load("default")
	if err != nil {
		t.Fatal(err)
	}
	spec.Seed = seed
	w, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	out, err := w.Run(context.Background(), Journey{
		Mails: []MailSpec{{From: "alice@example.org", To: []string{"bob@example.net"}, Subject: "Seeded", Body: "Same again."}},
		Read:  "imap", Until: time.Hour,
	})
	if err != nil || len(out.ReadErrs) > 0 || len(out.Refused) > 0 {
		t.Fatal(err, out.ReadErrs, out.Refused)
	}
	var b bytes.Buffer
	if err := trace.WriteJSON(&b, w.Trace.Events()...); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The same seed and the same actions give the same trace, byte for byte:
// ids, Message-IDs, TLS byte counts, times (the clock is virtual). The
// golden file is the same journey as run natively; under WebAssembly
// (make test-wasm) this test compares the browser's build with it.
func TestSeedRepeatsTrace(t *testing.T) {
	// One thread, as in the browser (and `mailhop sim`).
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	first := seededJourney(t, 7)
	second := seededJourney(t, 7)
	if !bytes.Equal(first, second) {
		t.Fatalf("two runs with seed 7 differ:\n%s", firstDiff(first, second))
	}
	other := seededJourney(t, 8)
	if bytes.Equal(first, other) {
		t.Fatal("seeds 7 and 8 gave the same trace: the seed is not used")
	}
	golden := filepath.Join("testdata", "default-seed7.golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, first, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./sim/world -run TestSeedRepeatsTrace -update writes it)", err)
	}
	// Go's TLS picks AES-GCM only on a CPU with AES instructions and
	// ChaCha20-Poly1305 otherwise (crypto/tls, no setting changes it for
	// TLS 1.3): WebAssembly has none. Both make records of the same size,
	// so the suite's name is the one thing a CPU may change.
	first = bytes.ReplaceAll(first, []byte("TLS_CHACHA20_POLY1305_SHA256"), []byte("TLS_AES_128_GCM_SHA256"))
	if !bytes.Equal(first, want) {
		t.Fatalf("the trace differs from %s (%s/%s; if the change is meant, rerun natively with -update):\n%s",
			golden, runtime.GOOS, runtime.GOARCH, firstDiff(want, first))
	}
}

// firstDiff shows the first line where a and b differ.
func firstDiff(a, b []byte) string {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return "line " + strconv.Itoa(i+1) + ":\n- " + string(la[i]) + "\n+ " + string(lb[i])
		}
	}
	return "one is a prefix of the other: " + strconv.Itoa(len(la)) + " and " + strconv.Itoa(len(lb)) + " lines"
}
