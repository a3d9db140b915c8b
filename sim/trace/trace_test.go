package trace

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 9, 0, 2, 125e6, time.UTC)

func exchange() []Event {
	now := t0
	r := NewRecorder(func() time.Time { now = now.Add(time.Millisecond); return now }, 0)
	base := Event{Host: "mail.example.org", Peer: "mx.example.net", Port: 25, Conn: "c7", Proto: "smtp"}
	with := func(e Event) Event {
		e.Host, e.Peer, e.Port, e.Conn, e.Proto = base.Host, base.Peer, base.Port, base.Conn, base.Proto
		return e
	}
	r.Emit(with(Event{Kind: KindConn, Action: "open"}))
	r.Emit(with(Event{Kind: KindWire, Dir: Recv, Text: "220 mx.example.net ESMTP mailhop"}))
	r.Emit(with(Event{Kind: KindWire, Dir: Send, Text: "MAIL FROM:<alice@example.org>", Msg: "4F2A9C",
		Note: "the envelope sender; bounces go here (RFC 5321 4.1.1.2)"}))
	r.Emit(with(Event{Kind: KindWire, Dir: Recv, Text: "250 2.1.0 Ok", Msg: "4F2A9C"}))
	r.Emit(Event{Kind: KindDNS, Action: "answer", Host: "mail.example.org", Peer: "ns.example",
		Text: "example.net. IN MX", Records: []string{"example.net.\t3600\tIN\tMX\t10 mx.example.net."}})
	r.Emit(Event{Kind: KindQueue, Action: "deferred", Host: "mail.example.org", Msg: "4F2A9C",
		Text: "connection refused", Next: t0.Add(5 * time.Minute)})
	return r.Events()
}

func TestJSONRoundTrip(t *testing.T) {
	events := exchange()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, events...); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(events) {
		t.Fatalf("%d lines for %d events", len(lines), len(events))
	}
	want := `{"seq":3,"time":"2026-01-01T09:00:02.128Z","kind":"wire","host":"mail.example.org","peer":"mx.example.net","port":25,"conn":"c7","proto":"smtp","dir":"send","text":"MAIL FROM:<alice@example.org>","msg":"4F2A9C","note":"the envelope sender; bounces go here (RFC 5321 4.1.1.2)"}`
	if lines[2] != want {
		t.Fatalf("line 3:\n%s\nwant\n%s", lines[2], want)
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, events) {
		t.Fatalf("decoded events differ:\n%+v\n%+v", back, events)
	}
}

func TestReadJSONNamesBadLine(t *testing.T) {
	_, err := ReadJSON(strings.NewReader("{\"seq\":1}\n\nnot json\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("got %v", err)
	}
}

func TestText(t *testing.T) {
	var buf bytes.Buffer
	WriteText(&buf, exchange()...)
	want := `09:00:02.126 c7   mail.example.org → mx.example.net:25 smtp: open
09:00:02.127 c7     S: 220 mx.example.net ESMTP mailhop
09:00:02.128 c7     C: MAIL FROM:<alice@example.org>
09:00:02.129 c7     S: 250 2.1.0 Ok
09:00:02.130 dns  mail.example.org → ns.example: answer example.net. IN MX
09:00:02.130          example.net.	3600	IN	MX	10 mx.example.net.
09:00:02.131 queue mail.example.org: deferred msg 4F2A9C — connection refused (next attempt 2026-01-01 09:05:02)
`
	if buf.String() != want {
		t.Fatalf("text:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestFollowersSeeEveryEventInOrder(t *testing.T) {
	r := NewRecorder(time.Now, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	const n = 1000
	results := make(chan []int64, 3)
	for range 3 {
		f := r.Follow(0)
		go func() {
			var seqs []int64
			for len(seqs) < n {
				e, err := f.Next(ctx)
				if err != nil {
					break
				}
				seqs = append(seqs, e.Seq)
			}
			results <- seqs
		}()
	}
	for range n {
		r.Emit(Event{Kind: KindWire})
	}
	for range 3 {
		seqs := <-results
		if len(seqs) != n {
			t.Fatalf("follower got %d events", len(seqs))
		}
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("event %d has seq %d", i, s)
			}
		}
	}
}

func TestLimitKeepsNewest(t *testing.T) {
	r := NewRecorder(time.Now, 2000)
	for range 5000 {
		r.Emit(Event{Kind: KindWire})
	}
	ev := r.Events()
	if len(ev) < 2000 || len(ev) > 2000+2*chunkSize || ev[len(ev)-1].Seq != 5000 {
		t.Fatalf("kept %d events ending at %d", len(ev), ev[len(ev)-1].Seq)
	}
	for i := 1; i < len(ev); i++ {
		if ev[i].Seq != ev[i-1].Seq+1 {
			t.Fatalf("gap at %d", i)
		}
	}
	if got := r.Since(4990); len(got) != 10 || got[0].Seq != 4991 {
		t.Fatalf("Since(4990) = %d events", len(got))
	}
	// A follower that fell behind the limit skips to what is kept.
	f := r.Follow(0)
	e, err := f.Next(context.Background())
	if err != nil || e.Seq != ev[0].Seq {
		t.Fatalf("first event for a late follower: %d, %v", e.Seq, err)
	}
}

func TestNilRecorder(t *testing.T) {
	var r *Recorder
	r.Emit(Event{Kind: KindHost})
	if r.Events() != nil || r.Last() != 0 {
		t.Fatal("a nil recorder kept something")
	}
}

func TestMsgKey(t *testing.T) {
	cases := map[string]string{
		"From: a\r\nMessage-ID: <4F2A9C@mail.example.org>\r\n\r\nbody": "4F2A9C@mail.example.org",
		"message-id:\r\n <x@y>\r\nSubject: s\r\n\r\n":                  "x@y",
		"Subject: s\r\n\r\nMessage-ID: <not@header>\r\n":               "",
		"Message-Id: <a@b> (comment)\n\n":                              "a@b",
	}
	for in, want := range cases {
		if got := MsgKey([]byte(in)); got != want {
			t.Errorf("MsgKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// A sink gets every event in order, even those a bounded recorder has
// already dropped and a slow follower would miss.
func TestSinkMissesNothing(t *testing.T) {
	r := NewRecorder(time.Now, 10)
	var got []int64
	r.SetSink(func(e Event) { got = append(got, e.Seq) })
	f := r.Follow(0)
	for range 5000 {
		r.Emit(Event{Kind: KindWire, Text: "NOOP"})
	}
	for i, seq := range got {
		if seq != int64(i+1) {
			t.Fatalf("the sink's event %d has seq %d", i, seq)
		}
	}
	if len(got) != 5000 {
		t.Fatalf("the sink got %d events of 5000", len(got))
	}
	e, err := f.Next(context.Background())
	if err != nil || e.Seq == 1 {
		t.Fatalf("the follower (which fell behind) read seq %d, %v: the test lost its point", e.Seq, err)
	}
	r.SetSink(nil)
	r.Emit(Event{Kind: KindWire})
	if len(got) != 5000 {
		t.Fatal("the sink was called after SetSink(nil)")
	}
}

// The events a reader got stay as they were while the recorder drops
// old chunks and fills new ones (it reuses the memory of a dropped one).
func TestLimitLeavesReadEventsAlone(t *testing.T) {
	r := NewRecorder(time.Now, chunkSize)
	text := func(seq int64) string { return fmt.Sprint("line ", seq) }
	var seq int64
	next := func(n int) {
		for range n {
			seq++
			r.Emit(Event{Kind: KindWire, Text: text(seq)})
		}
	}
	next(3 * chunkSize)
	read := r.Events()
	f := r.Follow(0)
	first, err := f.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	next(5 * chunkSize)
	check := func(what string, ev []Event) {
		t.Helper()
		for _, e := range ev {
			if e.Text != text(e.Seq) {
				t.Fatalf("%s: event %d reads %q", what, e.Seq, e.Text)
			}
		}
	}
	check("read before", read)
	// The follower read a copy of what was kept then; it goes on with it.
	got := []Event{first}
	for range len(read) - 1 {
		e, err := f.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	check("followed", got)
	if got[len(got)-1].Seq != read[len(read)-1].Seq {
		t.Fatalf("the follower read up to %d, want %d", got[len(got)-1].Seq, read[len(read)-1].Seq)
	}
	now := r.Events()
	check("read after", now)
	if now[len(now)-1].Seq != seq || now[0].Seq <= read[len(read)-1].Seq {
		t.Fatalf("kept %d..%d after %d events", now[0].Seq, now[len(now)-1].Seq, seq)
	}
}

// An explainer fills the Note and the Say an event lacks, in one call; a
// Note or Say given with the event stays, and one the explainer leaves
// empty stays empty.
func TestExplainer(t *testing.T) {
	r := NewRecorder(func() time.Time { return t0 }, 0)
	calls := 0
	r.SetExplainer(func(e Event) (string, string) {
		calls++
		if e.Kind == KindQueue {
			return "", "queued: " + e.Text
		}
		return "note: " + e.Text, "say: " + e.Text
	})
	got := []Event{
		r.Emit(Event{Kind: KindWire, Text: "a"}),
		r.Emit(Event{Kind: KindWire, Text: "b", Note: "given"}),
		r.Emit(Event{Kind: KindWire, Text: "c", Note: "given", Say: "told"}),
		r.Emit(Event{Kind: KindQueue, Text: "d"}),
	}
	want := [][2]string{{"note: a", "say: a"}, {"given", "say: b"}, {"given", "told"}, {"", "queued: d"}}
	for i, e := range got {
		if e.Note != want[i][0] || e.Say != want[i][1] {
			t.Errorf("event %d: note %q, say %q; want %q, %q", i, e.Note, e.Say, want[i][0], want[i][1])
		}
	}
	if calls != 3 {
		t.Errorf("the explainer ran %d times, want 3 (not for an event that has both)", calls)
	}
}
