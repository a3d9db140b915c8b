//go:build browser && !js

package web

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// startScript loads the built module in Node as the worker does in a
// browser (wasm_exec.js, then the module) and times each step of its
// start to the first 220 from mx.example.net, in ms: the module compiled
// and instantiated, Go's main run until the API is there (the runtime,
// the packages' initialisers, the default world), the first state(), and
// a terminal's connection to its banner. One process is one cold start.
const startScript = `
const fs = require('fs');
require(process.argv[2]);
const bytes = fs.readFileSync(process.argv[3]);
(async () => {
  const t0 = performance.now();
  const go = new Go();
  const { instance } = await WebAssembly.instantiate(bytes, go.importObject);
  const t1 = performance.now();
  go.run(instance);
  const api = globalThis.mailhop;
  const t2 = performance.now();
  await api.state();
  const t3 = performance.now();
  const s = await api.connect('bob-pc', 'mx.example.net', 25);
  await new Promise((resolve) => s.onLine((text) => { if (/^220 /.test(text)) resolve(); }));
  const t4 = performance.now();
  console.log(JSON.stringify({ Compile: t1 - t0, Go: t2 - t1, State: t3 - t2, Banner: t4 - t3, Total: t4 - t0 }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`

// BenchmarkStartNode is the start of the playground's simulation without
// a browser (medians of 5 Node processes): what the module and Go do
// before the first 220, apart from the page, the network and the
// browser's streaming. Its figures move less than BenchmarkFirstBanner's,
// so it shows what a change to the start's Go code is worth.
func BenchmarkStartNode(b *testing.B) {
	node, err := exec.LookPath("node")
	if err != nil {
		b.Fatal("node is needed (make deps installs it): ", err)
	}
	module, err := fs.ReadFile(Dist(), "mailhop.wasm")
	if err != nil {
		b.Fatal("no web/dist/mailhop.wasm: run make wasm first: ", err)
	}
	dir := b.TempDir()
	wasmFile, script := filepath.Join(dir, "mailhop.wasm"), filepath.Join(dir, "start.js")
	if err := os.WriteFile(wasmFile, module, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(startScript), 0o644); err != nil {
		b.Fatal(err)
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Fatal("go env GOROOT: ", err)
	}
	loader := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js")
	type steps struct{ Compile, Go, State, Banner, Total float64 }
	for b.Loop() {
		var runs []steps
		for range 5 {
			out, err := exec.Command(node, script, loader, wasmFile).Output()
			if err != nil {
				b.Fatalf("node: %v: %s", err, out)
			}
			var s steps
			if err := json.Unmarshal(out, &s); err != nil {
				b.Fatalf("node said %q: %v", out, err)
			}
			runs = append(runs, s)
		}
		med := func(f func(steps) float64) float64 {
			xs := make([]float64, len(runs))
			for i, r := range runs {
				xs[i] = f(r)
			}
			return median(xs)
		}
		b.Logf("load average: %s", loadAverage())
		for _, m := range []struct {
			unit string
			f    func(steps) float64
		}{
			{"ms-compile", func(s steps) float64 { return s.Compile }},
			{"ms-go-main-world", func(s steps) float64 { return s.Go }},
			{"ms-first-state", func(s steps) float64 { return s.State }},
			{"ms-first-220", func(s steps) float64 { return s.Banner }},
			{"ms-total", func(s steps) float64 { return s.Total }},
		} {
			b.ReportMetric(med(m.f), m.unit)
		}
	}
}
