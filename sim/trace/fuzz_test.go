package trace

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzReadJSON: decoding never panics, and what decodes encodes and
// decodes again to the same events.
func FuzzReadJSON(f *testing.F) {
	var buf bytes.Buffer
	WriteJSON(&buf, exchange()...)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"seq":1,"time":"2026-01-01T09:00:00Z","kind":"wire","text":"\u0000"}`))
	f.Add([]byte("{\"seq\": \n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		events, err := ReadJSON(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteJSON(&out, events...); err != nil {
			t.Fatal(err)
		}
		again, err := ReadJSON(&out)
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if len(events) == 0 && len(again) == 0 {
			return
		}
		for i := range events {
			events[i].Time = events[i].Time.UTC()
			events[i].Next = events[i].Next.UTC()
		}
		for i := range again {
			again[i].Time = again[i].Time.UTC()
			again[i].Next = again[i].Next.UTC()
		}
		if !reflect.DeepEqual(events, again) {
			t.Fatalf("round trip changed the events:\n%+v\n%+v", events, again)
		}
	})
}
