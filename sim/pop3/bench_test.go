package pop3

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// bigMessage is a message of exactly size octets with 72-character lines.
func bigMessage(n, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: message %d\r\nMessage-ID: <%d@example.org>\r\n\r\n", n, n)
	line := strings.Repeat("All work and no play makes Jack a dull boy. ", 2)[:70]
	for b.Len()+72 <= size-2 {
		b.WriteString(line + "\r\n")
	}
	b.WriteString(strings.Repeat(".", size-b.Len()-2) + "\r\n") // a dotted line: stuffing is part of the work
	return b.String()
}

// BenchmarkRETR retrieves 1,000 messages of 4 KiB each over the simulated
// network, one command at a time as a mail client does: log in, RETR 1 to
// RETR 1000, QUIT. One op is the whole session.
func BenchmarkRETR(b *testing.B) {
	const n, size = 1000, 4096
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = bigMessage(i+1, size)
		if len(msgs[i]) != size {
			b.Fatalf("message of %d octets", len(msgs[i]))
		}
	}
	for _, traced := range []bool{false, true} {
		name := "untraced"
		var opts []option
		if traced {
			name = "traced"
		} else {
			opts = append(opts, untraced())
		}
		b.Run(name, func(b *testing.B) {
			w := newWorld(b, msgs, opts...)
			b.ReportAllocs()
			b.SetBytes(n * size)
			for b.Loop() {
				retrAll(b, w, n)
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

func retrAll(b *testing.B, w *world, n int) {
	c := w.login(b)
	r := c.Reader()
	for i := 1; i <= n; i++ {
		fmt.Fprintf(c.Net(), "RETR %d\r\n", i)
		status, err := r.ReadSlice('\n')
		if err != nil || !bytes.HasPrefix(status, []byte("+OK 4096 octets")) {
			b.Fatalf("RETR %d: %q, %v", i, status, err)
		}
		for {
			line, err := r.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull {
				b.Fatalf("RETR %d: %v", i, err)
			}
			if string(line) == ".\r\n" {
				break
			}
		}
	}
	c.Expect("QUIT", "+OK")
	c.Close()
}
