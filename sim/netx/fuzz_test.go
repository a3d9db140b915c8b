package netx

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mailhop/mailhop/sim/trace"
)

// FuzzTap feeds arbitrary bytes, in both directions and any protocol, to a
// tap: it must never panic, and every event it reports must be valid
// UTF-8 of bounded size.
func FuzzTap(f *testing.F) {
	seeds := []struct {
		proto  string
		client string
		server string
	}{
		{"smtp", "EHLO a\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n", "220 b\r\n354 go\r\n250 ok\r\n"},
		{"imap", "a1 APPEND INBOX {5}\r\nhello\r\na2 STARTTLS\r\n", "* OK\r\n+ go\r\na2 OK\r\n"},
		{"pop3", "RETR 1\r\nSTLS\r\n", "+OK\r\nline\r\n..dot\r\n.\r\n+OK go\r\n\x16\x03\x01\x00\x05hello"},
		{"dns", "\x00\x05hello\x00", "\x00"},
		{"smtp", "\x16\x03\x01\x02\x00\x01", "\xff\xfe\x00\n"},
	}
	for _, s := range seeds {
		f.Add(s.proto, []byte(s.client), []byte(s.server), uint8(7))
	}
	f.Fuzz(func(t *testing.T, proto string, client, server []byte, split uint8) {
		rec := trace.NewRecorder(time.Now, 0)
		tap := NewTap(rec, trace.Event{Proto: proto, Conn: "c1"})
		tap.Open()
		n := int(split)%8 + 1
		for len(client) > 0 || len(server) > 0 {
			k := min(n, len(client))
			tap.Data(trace.Send, client[:k])
			client = client[k:]
			k = min(n, len(server))
			tap.Data(trace.Recv, server[:k])
			server = server[k:]
		}
		tap.Close("closed by client")
		for _, e := range rec.Events() {
			if !utf8.ValidString(e.Text) {
				t.Fatalf("invalid UTF-8 in %q", e.Text)
			}
			if len(e.Text) > maxTapBlock+4*maxTapLine {
				t.Fatalf("event of %d bytes", len(e.Text))
			}
		}
		if last := rec.Events(); len(last) == 0 || last[len(last)-1].Action != "close" || !strings.HasPrefix(last[len(last)-1].Text, "closed") {
			t.Fatal("no close event last")
		}
	})
}
