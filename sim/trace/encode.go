package trace

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes events as JSON lines: one object per line.
func WriteJSON(w io.Writer, events ...Event) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

// ReadJSON decodes JSON lines written by WriteJSON. Blank lines are
// skipped; a malformed line is an error naming its line number.
func ReadJSON(r io.Reader) ([]Event, error) {
	var events []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return events, fmt.Errorf("trace line %d: %w", n, err)
		}
		events = append(events, e)
	}
	return events, sc.Err()
}

// WriteText renders events in the style of RFC examples: a connection's
// lines as "C:" and "S:", prefixed with the time and the connection, and
// everything else as one readable line.
//
//	09:00:02.125 c7 mail.example.org → mx.example.net:25 smtp: connected
//	09:00:02.126 c7   S: 220 mx.example.net ESMTP mailhop
//	09:00:02.126 c7   C: EHLO mail.example.org
func WriteText(w io.Writer, events ...Event) error {
	bw := bufio.NewWriter(w)
	for _, e := range events {
		bw.WriteString(FormatText(e))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// WriteTranscript writes a whole trace as a transcript to keep: the
// heading lines (each prefixed "# "), then every event as WriteText
// renders it — the C: and S: lines of each connection, the DNS questions
// with their answers, the queue's decisions — in the order they happened.
func WriteTranscript(w io.Writer, heading []string, events ...Event) error {
	bw := bufio.NewWriter(w)
	for _, h := range heading {
		bw.WriteString("# " + h + "\n")
	}
	if len(heading) > 0 {
		bw.WriteString("#\n# C: is what the client sent, S: what the server answered; 🔒 marks lines that travelled inside TLS.\n\n")
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return WriteText(w, events...)
}

// FormatText renders one event as WriteText does (it may span several
// lines for a summarised block).
func FormatText(e Event) string {
	ts := e.Time.UTC().Format("15:04:05.000")
	var b strings.Builder
	switch e.Kind {
	case KindWire:
		who := "C:"
		if e.Dir == Recv {
			who = "S:"
		}
		if e.TLS {
			who = "🔒" + who
		}
		for i, line := range strings.Split(e.Text, "\n") {
			if i > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "%s %-4s   %s %s", ts, e.Conn, who, line)
		}
		return b.String()
	case KindConn:
		fmt.Fprintf(&b, "%s %-4s %s → %s", ts, e.Conn, e.Host, e.Peer)
		if e.Port != 0 {
			fmt.Fprintf(&b, ":%d", e.Port)
		}
		if e.Proto != "" {
			fmt.Fprintf(&b, " %s", e.Proto)
		}
		fmt.Fprintf(&b, ": %s", e.Action)
		if e.Text != "" {
			fmt.Fprintf(&b, " (%s)", e.Text)
		}
		return b.String()
	case KindDNS:
		fmt.Fprintf(&b, "%s dns  %s → %s: %s %s", ts, e.Host, e.Peer, e.Action, e.Text)
		for _, r := range e.Records {
			fmt.Fprintf(&b, "\n%s          %s", ts, r)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%s %-4s %s", ts, string(e.Kind), e.Host)
	if e.Peer != "" {
		fmt.Fprintf(&b, " → %s", e.Peer)
	}
	if e.Action != "" {
		fmt.Fprintf(&b, ": %s", e.Action)
	}
	if e.Conn != "" {
		fmt.Fprintf(&b, " [%s]", e.Conn)
	}
	if e.Msg != "" {
		fmt.Fprintf(&b, " msg %s", e.Msg)
	}
	if e.Mailbox != "" {
		prep := "into"
		if e.Kind == KindFetch {
			prep = "from"
		}
		fmt.Fprintf(&b, " %s %s", prep, e.Mailbox)
	}
	if e.Text != "" {
		fmt.Fprintf(&b, " — %s", e.Text)
	}
	if !e.Next.IsZero() {
		fmt.Fprintf(&b, " (next attempt %s)", e.Next.UTC().Format("2006-01-02 15:04:05"))
	}
	return b.String()
}
