//go:build js && wasm

package main

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hack-pad/safejs"
	"github.com/mailhop/mailhop/wasm/playground"
)

// api installs the JS API under a name of its own and returns it.
func api(t *testing.T) safejs.Value {
	t.Helper()
	p := playground.New(10 * time.Millisecond)
	if _, err := p.Load("default"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	name := "mailhopTest" + strings.NewReplacer("/", "_").Replace(t.Name())
	if err := install(p, name); err != nil {
		t.Fatal(err)
	}
	v, err := safejs.Global().Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// await waits for a Promise and returns its value, or the message of the
// Error it was rejected with.
func await(t *testing.T, p safejs.Value) (safejs.Value, error) {
	t.Helper()
	type result struct {
		v   safejs.Value
		err error
	}
	ch := make(chan result, 1)
	then, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		ch <- result{v: arg(args, 0)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer then.Release()
	catch, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		e := arg(args, 0)
		errCtor, _ := safejs.Global().Get("Error")
		if ok, _ := e.InstanceOf(errCtor); !ok {
			ch <- result{err: errors.New("rejected with something that is not an Error")}
			return nil
		}
		m, _ := e.Get("message")
		s, _ := m.String()
		ch <- result{err: errors.New(s)}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer catch.Release()
	if p.Type() != safejs.TypeObject {
		t.Fatalf("not a Promise: %s", p.Type())
	}
	if _, err := p.Call("then", then, catch); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(30 * time.Second):
		t.Fatal("the Promise did not settle in 30s")
	}
	return safejs.Value{}, nil
}

func invoke(t *testing.T, obj safejs.Value, method string, args ...any) (safejs.Value, error) {
	t.Helper()
	p, err := obj.Call(method, args...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return await(t, p)
}

func mustCall(t *testing.T, obj safejs.Value, method string, args ...any) safejs.Value {
	t.Helper()
	v, err := invoke(t, obj, method, args...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return v
}

// decode reads a JS value into a Go one through JSON.
func decode(t *testing.T, v safejs.Value, dst any) {
	t.Helper()
	j, _ := safejs.Global().Get("JSON")
	s, err := j.Call("stringify", v)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := s.String()
	if err := json.Unmarshal([]byte(text), dst); err != nil {
		t.Fatalf("%v: %s", err, text)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAPIShape(t *testing.T) {
	m := api(t)
	for _, name := range []string{"worlds", "load", "reset", "state", "clock", "connect", "send", "onEvent", "onEvents",
		"trace", "play", "pause", "step", "speed", "advance", "fault", "explanations", "message", "lessons", "lesson", "lessonStatus",
		"exportTranscript", "exportJSON", "exportEML", "exportPcap"} {
		v, err := m.Get(name)
		if err != nil || v.Type() != safejs.TypeFunction {
			t.Errorf("mailhop.%s is %s, want a function", name, v.Type())
		}
	}
}

func TestStateAndWorlds(t *testing.T) {
	m := api(t)
	var worlds []playground.WorldInfo
	decode(t, mustCall(t, m, "worlds"), &worlds)
	if len(worlds) == 0 || worlds[0].Name != "default" {
		t.Fatalf("worlds %+v", worlds)
	}
	var st playground.State
	decode(t, mustCall(t, m, "state"), &st)
	if len(st.Hosts) != 6 || !st.Clock.Playing {
		t.Fatalf("state: %d hosts, clock %+v", len(st.Hosts), st.Clock)
	}
	var info playground.Info
	decode(t, mustCall(t, m, "load", "default"), &info)
	if info.World != 2 || info.Name != "default" {
		t.Fatalf("load: %+v", info)
	}
	var entries []map[string]string
	decode(t, mustCall(t, m, "explanations"), &entries)
	if len(entries) < 50 || entries[0]["rfc"] == "" {
		t.Fatalf("%d explanations, first %v", len(entries), entries[0])
	}
}

// Every mistake comes back as a rejected Promise holding an Error that
// says what was wrong.
func TestErrors(t *testing.T) {
	m := api(t)
	obj, _ := safejs.Global().Get("Object")
	empty, _ := obj.New()
	bad, _ := obj.New()
	_ = bad.Set("kind", "earthquake")
	_ = bad.Set("host", "mx.example.net")
	for _, tc := range []struct {
		method string
		args   []any
		want   string
	}{
		{"connect", nil, "from (a host name): want a string"},
		{"connect", []any{"nowhere", "mx.example.net", 25}, `no host "nowhere"`},
		{"connect", []any{"bob-pc", "mx.example.net", 26}, "refused"},
		{"connect", []any{"bob-pc", "mx.example.net", 25.5}, "not a whole number"},
		{"speed", []any{"fast"}, `"fast" is not a number`},
		{"speed", []any{0}, "out of range"},
		{"advance", []any{-5}, "positive number of milliseconds"},
		{"advance", []any{"soon"}, "want a positive duration"},
		{"fault", []any{bad}, `unknown fault kind "earthquake"`},
		{"fault", []any{"host-down"}, "want an object"},
		{"send", []any{empty}, "not an address"},
		{"message", []any{"bob@example.net", 0}, "not a message UID"},
		{"message", []any{"bob@example.net", 7}, "UID 7"},
		{"load", []any{42}, "want a world's name"},
		{"load", []any{"atlantis"}, `no built-in world "atlantis"`},
		{"exportEML", []any{"bob@example.net", 9}, "UID 9"},
	} {
		_, err := invoke(t, m, tc.method, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "mailhop."+tc.method+": ") {
			t.Errorf("%s%v: %v, want an Error saying %q", tc.method, tc.args, err, tc.want)
		}
	}
	// onEvent without a function: a rejected Promise, not a crash.
	if _, err := invoke(t, m, "onEvent", 42); err == nil || !strings.Contains(err.Error(), "want a function") {
		t.Errorf("onEvent(42): %v", err)
	}
}

func TestSessionTalksSMTP(t *testing.T) {
	m := api(t)
	s := mustCall(t, m, "connect", "bob-pc", "mx.example.net", 25)
	var mu sync.Mutex
	var lines []string
	var notes []string
	var reason string
	onLine, _ := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		text, _ := arg(args, 0).String()
		var l playground.Line
		decode(t, arg(args, 1), &l)
		mu.Lock()
		lines = append(lines, text)
		notes = append(notes, l.Note)
		mu.Unlock()
		return nil
	})
	defer onLine.Release()
	onClose, _ := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		mu.Lock()
		reason, _ = arg(args, 0).String()
		mu.Unlock()
		return nil
	})
	defer onClose.Release()
	if _, err := s.Call("onLine", onLine); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Call("onClose", onClose); err != nil {
		t.Fatal(err)
	}
	has := func(prefix string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, l := range lines {
				if strings.HasPrefix(l, prefix) {
					return true
				}
			}
			return false
		}
	}
	waitFor(t, "the banner", has("220 "))
	var sent playground.Line
	decode(t, mustCall(t, s, "send", "HELO relay.example.org"), &sent)
	if sent.Dir != "send" || !strings.Contains(sent.Note, "RFC 5321") {
		t.Fatalf("sent line %+v", sent)
	}
	waitFor(t, "250", has("250 "))
	mustCall(t, s, "send", "QUIT")
	waitFor(t, "221", has("221 "))
	waitFor(t, "the close", func() bool { mu.Lock(); defer mu.Unlock(); return reason != "" })
	if reason != "closed by the server" {
		t.Fatalf("reason %q", reason)
	}
	mu.Lock()
	for i, l := range lines {
		if strings.HasPrefix(l, "220 ") && !strings.Contains(notes[i], "RFC") {
			t.Errorf("banner note %q", notes[i])
		}
	}
	mu.Unlock()
	if _, err := invoke(t, s, "send", "NOOP"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("send after close: %v", err)
	}
}

func TestEventsAndSend(t *testing.T) {
	m := api(t)
	var mu sync.Mutex
	var kinds []string
	var batches, worldNo int
	cb, _ := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		k, _ := arg(args, 0).Get("kind")
		s, _ := k.String()
		mu.Lock()
		kinds = append(kinds, s)
		mu.Unlock()
		return nil
	})
	defer cb.Release()
	batchCb, _ := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		w, _ := arg(args, 1).Int()
		mu.Lock()
		batches++
		worldNo = w
		mu.Unlock()
		return nil
	})
	defer batchCb.Release()
	unsub, err := m.Call("onEvent", cb)
	if err != nil || unsub.Type() != safejs.TypeFunction {
		t.Fatalf("onEvent returned %s, %v", unsub.Type(), err)
	}
	if _, err := m.Call("onEvents", batchCb); err != nil {
		t.Fatal(err)
	}
	obj, _ := safejs.Global().Get("Object")
	mail, _ := obj.New()
	_ = mail.Set("from", "alice@example.org")
	_ = mail.Set("to", "bob@example.net")
	_ = mail.Set("subject", "Hi")
	_ = mail.Set("body", "From the JS API.")
	var sent playground.Sent
	decode(t, mustCall(t, m, "send", mail), &sent)
	if sent.QueueID == "" || sent.Msg == "" {
		t.Fatalf("sent %+v", sent)
	}
	waitFor(t, "the delivery event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, k := range kinds {
			if k == "deliver" {
				return true
			}
		}
		return false
	})
	if _, err := unsub.Invoke(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if batches == 0 || worldNo != 1 {
		t.Errorf("onEvents: %d batches, world %d", batches, worldNo)
	}
	mu.Unlock()
	tr := mustCall(t, m, "trace")
	var events []struct {
		Seq  int64  `json:"seq"`
		Kind string `json:"kind"`
	}
	decode(t, tr, &events)
	if len(events) < 50 || events[0].Seq != 1 {
		t.Fatalf("trace: %d events", len(events))
	}
	var view playground.MessageView
	decode(t, mustCall(t, m, "message", "bob@example.net", 1), &view)
	if view.Msg != sent.Msg || len(view.Received) != 3 {
		t.Fatalf("message view: msg %q, %d Received", view.Msg, len(view.Received))
	}
}

func TestClock(t *testing.T) {
	m := api(t)
	var cs playground.ClockState
	decode(t, mustCall(t, m, "pause"), &cs)
	if cs.Playing {
		t.Fatal("still playing after pause")
	}
	start := cs.Time
	decode(t, mustCall(t, m, "advance", "+1h"), &cs)
	if cs.Time.Sub(start) != time.Hour {
		t.Fatalf("advance +1h moved %v", cs.Time.Sub(start))
	}
	decode(t, mustCall(t, m, "advance", 60000), &cs)
	if cs.Time.Sub(start) != time.Hour+time.Minute {
		t.Fatalf("advance 60000 ms moved to %v", cs.Time.Sub(start))
	}
	decode(t, mustCall(t, m, "speed", 16), &cs)
	decode(t, mustCall(t, m, "play"), &cs)
	if !cs.Playing || cs.Speed != 16 {
		t.Fatalf("clock %+v", cs)
	}
}

// A refused connection rejects with an Error that says, as data, what
// telnet would say: the page shows it without reading the message.
func TestConnectRefusedDial(t *testing.T) {
	m := api(t)
	p, err := m.Call("connect", "bob-pc", "mx.example.net", 26)
	if err != nil {
		t.Fatal(err)
	}
	fn, _ := safejs.Global().Get("Function")
	pick, err := fn.New("e", "return e.dial")
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.Call("catch", pick)
	if err != nil {
		t.Fatal(err)
	}
	v, err := await(t, q)
	if err != nil {
		t.Fatal(err)
	}
	var d struct{ Trying, Reason, Note string }
	decode(t, v, &d)
	if d.Trying != "Trying 198.51.100.25..." || d.Reason != "Connection refused" || !strings.Contains(d.Note, "nothing listens on port 26") {
		t.Fatalf("dial = %+v", d)
	}
}

// A seed given to load stays the world's, shows in its state, and the
// exports read the same run: transcript, JSON lines, .eml.
func TestSeedAndExports(t *testing.T) {
	m := api(t)
	obj, _ := safejs.Global().Get("Object")
	opts, _ := obj.New()
	_ = opts.Set("seed", 42)
	var info playground.Info
	decode(t, mustCall(t, m, "load", "default", opts), &info)
	if info.Seed != 42 || !info.Builtin || info.Name != "default" {
		t.Fatalf("load with a seed: %+v", info)
	}
	bad, _ := obj.New()
	_ = bad.Set("seed", 1.5)
	if _, err := invoke(t, m, "load", "default", bad); err == nil || !strings.Contains(err.Error(), "seed: 1.5") {
		t.Errorf("load with seed 1.5: %v", err)
	}
	mail, _ := obj.New()
	_ = mail.Set("from", "alice@example.org")
	_ = mail.Set("to", "bob@example.net")
	_ = mail.Set("subject", "Exported")
	_ = mail.Set("body", "Take this home.")
	mustCall(t, m, "send", mail)
	waitFor(t, "the delivery", func() bool {
		var st playground.State
		decode(t, mustCall(t, m, "state"), &st)
		for _, h := range st.Hosts {
			for _, mb := range h.Mailboxes {
				if mb.User == "bob@example.net" && len(mb.Messages) == 1 {
					return st.Seed == 42
				}
			}
		}
		return false
	})
	decode(t, mustCall(t, m, "reset"), &info)
	if info.Seed != 42 {
		t.Errorf("reset lost the seed: %+v", info)
	}
	mustCall(t, m, "send", mail)
	waitFor(t, "the delivery after reset", func() bool {
		_, err := invoke(t, m, "exportEML", "bob@example.net", 1)
		return err == nil
	})
	eml, _ := mustCall(t, m, "exportEML", "bob@example.net", 1).String()
	if !strings.HasPrefix(eml, "Return-Path: <alice@example.org>\r\n") || !strings.Contains(eml, "\r\nSubject: Exported\r\n") {
		t.Errorf(".eml:\n%s", eml)
	}
	text, _ := mustCall(t, m, "exportTranscript").String()
	for _, want := range []string{`# mailhop transcript of the world "default", seed 42`, "C: EHLO alice-pc", "S: 250 2.0.0 Ok: queued as", "example.net.\t3600\tIN\tMX\t10 mx.example.net."} {
		if !strings.Contains(text, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	lines, _ := mustCall(t, m, "exportJSON").String()
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(lines), "\n") {
		var e struct {
			Seq int64 `json:"seq"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Seq != int64(n+1) {
			t.Fatalf("JSON line %d: %v: %s", n+1, err, l)
		}
		n++
	}
	if n < 50 {
		t.Errorf("%d JSON lines", n)
	}
	// The traffic as pcapng: a Uint8Array that starts with a Section
	// Header Block and holds the TLS keys (a Decryption Secrets Block).
	pc := mustCall(t, m, "exportPcap")
	u8, _ := safejs.Global().Get("Uint8Array")
	if ok, _ := pc.InstanceOf(u8); !ok {
		t.Fatalf("exportPcap did not give a Uint8Array")
	}
	size, _ := pc.Length()
	data := make([]byte, size)
	safejs.CopyBytesToGo(data, pc)
	if size < 4096 || string(data[:4]) != "\x0a\x0d\x0d\x0a" || !strings.Contains(string(data), "CLIENT_TRAFFIC_SECRET_0") {
		t.Errorf("exportPcap: %d bytes, starting % x", size, data[:min(size, 8)])
	}
}

// The worker's address names the world a link asked for (start.js): the
// simulation starts with it, a built-in world only, with its seed.
func TestFirstWorld(t *testing.T) {
	g := safejs.Global()
	old, _ := g.Get("location")
	defer g.Set("location", old)
	obj, _ := g.Get("Object")
	for _, c := range []struct {
		hash string
		name string
		seed uint64
	}{
		{"", "default", 0},
		{"#wasm=mailhop-0123456789abcdef.wasm", "default", 0},
		{"#wasm=mailhop-0123456789abcdef.wasm&world=large", "large", 0},
		{"#wasm=mailhop.wasm&world=backup-mx&seed=7", "backup-mx", 7},
		{"#world=no-such-world&seed=7", "default", 0},
		{"#world=..%2Fdefault", "default", 0},
	} {
		loc, _ := obj.New()
		loc.Set("hash", c.hash)
		g.Set("location", loc)
		if name, seed := firstWorld(); name != c.name || seed != c.seed {
			t.Errorf("%q: %s, seed %d; want %s, seed %d", c.hash, name, seed, c.name, c.seed)
		}
	}
}
