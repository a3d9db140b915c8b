package world

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/mua"
)

// captureJourney runs the default world's journey with a capture on:
// alice writes to bob, the queues deliver, bob reads by IMAP then by
// POP3. It returns the capture as a pcapng file.
func captureJourney(t *testing.T) []byte {
	t.Helper()
	w := newDefault(t)
	c := w.StartCapture(0)
	ctx := context.Background()
	if _, err := w.Send(ctx, mua.Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Subject: "Hello Bob", Body: "Lunch at noon?"}); err != nil {
		t.Fatal(err)
	}
	w.RunUntilQuiet(time.Hour)
	for _, proto := range []string{"imap", "pop3"} {
		r, err := w.Reader("bob@example.net", proto)
		if err != nil {
			t.Fatal(err)
		}
		release := w.Clock.Hold()
		var msgs [][]byte
		if proto == "pop3" {
			msgs, err = r.POP3(ctx)
		} else {
			msgs, err = r.IMAP(ctx)
		}
		release()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("bob reading by %s: %d messages, %v", proto, len(msgs), err)
		}
	}
	w.Settle()
	w.StopCapture()
	if c.Dropped() != 0 {
		t.Fatalf("%d packets dropped", c.Dropped())
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCapture checks what any platform can: the capture holds the
// journey's packets and its TLS keys, once each (tshark reads it in
// TestCaptureInTshark).
func TestCapture(t *testing.T) {
	b := captureJourney(t)
	if !bytes.HasPrefix(b, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		t.Fatalf("not a pcapng file: % x", b[:min(len(b), 8)])
	}
	for _, want := range []string{"mailhop", "KSLT" /* the TLSK secrets type, little-endian */, "CLIENT_HANDSHAKE_TRAFFIC_SECRET ", "SERVER_TRAFFIC_SECRET_0 ", "EHLO alice-pc\r\n", "LHLO mx.example.net\r\n"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the capture lacks %q", want)
		}
	}
	// Both ends of a handshake log its secrets: each line is kept once.
	lines := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.Index(l, "CLIENT_TRAFFIC_SECRET_0 "); i >= 0 {
			lines[l[i:]]++
		}
	}
	// 587, 25, 143 and 110 each shook hands once.
	if len(lines) != 4 {
		t.Errorf("%d client traffic secrets, want 4", len(lines))
	}
	for l, n := range lines {
		if n != 1 {
			t.Errorf("%dx %s", n, l)
		}
	}
}
