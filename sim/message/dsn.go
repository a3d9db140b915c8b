package message

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// DSN is a delivery status notification (RFC 3464): a multipart/report
// of report-type delivery-status (RFC 6522) whose parts are a text for
// people, the message/delivery-status fields, and the header of the
// message reported on (text/rfc822-headers).
type DSN struct {
	// From is the From field as written, e.g. "Mail Delivery System
	// <MAILER-DAEMON@mail.example.org>".
	From string
	// To is the address notified: the envelope sender of the message.
	To        string
	Subject   string
	Date      time.Time
	MessageID string // without angle brackets
	// Boundary separates the parts. It must come from data the run is
	// seeded with (the queue id, say), never from a random source, so
	// that a DSN is the same run after run. Characters a boundary may
	// not have are dropped and it is cut to 70; when a line of the parts
	// would start with it, a counter is added until none does.
	Boundary string
	// Text is the part for people; its lines may end in LF or CRLF.
	Text string

	// The per-message fields (RFC 3464 §2.2).
	ReportingMTA string // a host name
	ArrivalDate  time.Time
	// QueueID is written as the extension field X-Queue-ID; "": none.
	QueueID string

	Recipients []Recipient

	// Original is the message reported on, whole or its header alone:
	// its header section (see HeaderSection) is returned.
	Original []byte
}

// Recipient is the per-recipient fields of a DSN (RFC 3464 §2.3).
type Recipient struct {
	// FinalRecipient is the address (type rfc822).
	FinalRecipient string
	// Action is failed, delayed, delivered, relayed or expanded.
	Action string
	// Status is the RFC 3463 code, e.g. "5.1.1".
	Status string
	// RemoteMTA is the host name of the server that gave the
	// diagnostic; "": none.
	RemoteMTA string
	// DiagnosticType is "smtp" for an SMTP reply, or an "x-" name.
	DiagnosticType string
	// Diagnostic is the reply; a reply of several lines is folded with
	// one line of it on each line of the field. "": no Diagnostic-Code.
	Diagnostic     string
	LastAttempt    time.Time // zero: none
	WillRetryUntil time.Time // zero: none (Action delayed only)
}

// maxLine is where a field's line is folded, at white space, when it can
// be (RFC 5322 §2.1.1 asks for 78 characters).
const maxLine = 78

// Bytes writes the DSN, every line ending in CRLF.
func (d *DSN) Bytes() ([]byte, error) {
	if d.To == "" || d.ReportingMTA == "" || len(d.Recipients) == 0 {
		return nil, errors.New("message: a DSN needs To, ReportingMTA and a recipient")
	}
	text := crlfLines(d.Text)
	var status bytes.Buffer
	perMessage := []rawField{
		field("Reporting-MTA", "dns; "+d.ReportingMTA),
	}
	if !d.ArrivalDate.IsZero() {
		perMessage = append(perMessage, field("Arrival-Date", d.ArrivalDate.Format(time.RFC1123Z)))
	}
	if d.QueueID != "" {
		perMessage = append(perMessage, field("X-Queue-ID", d.QueueID))
	}
	if err := writeFields(&status, perMessage); err != nil {
		return nil, err
	}
	for _, r := range d.Recipients {
		fs := []rawField{
			field("Final-Recipient", "rfc822; "+r.FinalRecipient),
			field("Action", r.Action),
			field("Status", r.Status),
		}
		if r.RemoteMTA != "" {
			fs = append(fs, field("Remote-MTA", "dns; "+r.RemoteMTA))
		}
		if r.Diagnostic != "" {
			kind := r.DiagnosticType
			if kind == "" {
				kind = "smtp"
			}
			lines := strings.Split(strings.TrimRight(string(crlfLines(r.Diagnostic)), "\r\n"), "\r\n")
			lines[0] = kind + "; " + lines[0]
			fs = append(fs, fold("Diagnostic-Code", lines))
		}
		if !r.LastAttempt.IsZero() {
			fs = append(fs, field("Last-Attempt-Date", r.LastAttempt.Format(time.RFC1123Z)))
		}
		if !r.WillRetryUntil.IsZero() {
			fs = append(fs, field("Will-Retry-Until", r.WillRetryUntil.Format(time.RFC1123Z)))
		}
		if err := writeFields(&status, fs); err != nil {
			return nil, err
		}
	}
	original := HeaderSection(d.Original)

	boundary := safeBoundary(d.Boundary, text, status.Bytes(), original)
	top := []rawField{
		field("From", d.From),
		field("To", "<"+d.To+">"),
		field("Subject", d.Subject),
		field("Date", d.Date.Format(time.RFC1123Z)),
		field("Message-ID", "<"+d.MessageID+">"),
		field("Auto-Submitted", "auto-replied"), // RFC 3834
		field("MIME-Version", "1.0"),
		fold("Content-Type", []string{"multipart/report; report-type=delivery-status;", `boundary="` + boundary + `"`}),
	}
	var out bytes.Buffer
	mw, err := gomessage.CreateWriter(&out, gomessage.Header{Header: header(top)})
	if err != nil {
		return nil, err
	}
	// The preamble, for readers that know no MIME (RFC 2046 §5.1.1).
	if _, err := mw.Write([]byte("This is a MIME-encapsulated delivery status notification.\r\n\r\n")); err != nil {
		return nil, err
	}
	parts := []struct {
		contentType string
		body        []byte
	}{
		{"text/plain; charset=utf-8", text},
		// The CRLF before the next boundary belongs to it (RFC 2046
		// §5.1.1): the fields end with the last one's CRLF.
		{"message/delivery-status", bytes.TrimSuffix(status.Bytes(), []byte("\r\n"))},
		{"text/rfc822-headers", original},
	}
	for _, p := range parts {
		pw, err := mw.CreatePart(gomessage.Header{Header: header([]rawField{field("Content-Type", p.contentType)})})
		if err != nil {
			return nil, err
		}
		if _, err := pw.Write(p.body); err != nil {
			return nil, err
		}
		if err := pw.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// rawField is a header field formatted and folded, ending in CRLF.
type rawField []byte

// field formats a field of one line (folded at white space when long); a
// line end in value becomes a space.
func field(name, value string) rawField {
	return fold(name, []string{value})
}

// fold formats a field whose value has several lines: each starts a new
// line of the field, after CRLF and a space, and is folded further at
// white space when long. Line ends and other control characters in a
// line become spaces.
func fold(name string, lines []string) rawField {
	var b bytes.Buffer
	b.WriteString(name)
	b.WriteString(":")
	col := len(name) + 1
	for i, l := range lines {
		words := strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r < 0x20 || r == 0x7f })
		if i > 0 {
			if len(words) == 0 {
				continue // an empty line would end the header
			}
			b.WriteString("\r\n")
			col = 0
		}
		for j, w := range words {
			if j > 0 && col+1+len(w) > maxLine {
				b.WriteString("\r\n")
				col = 0
			}
			b.WriteByte(' ')
			b.WriteString(w)
			col += 1 + len(w)
		}
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// header makes a go-message header of fields in order. (Its Add and
// AddRaw put a field at the top, as a relay adds Received.)
func header(fields []rawField) textproto.Header {
	var h textproto.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.AddRaw(fields[i])
	}
	return h
}

// writeFields writes a block of fields and the empty line after it.
func writeFields(b *bytes.Buffer, fields []rawField) error {
	return textproto.WriteHeader(b, header(fields))
}

// crlfLines returns s with every line ending in CRLF: a line may end in
// CRLF, LF or CR alone, or nothing (the last one).
func crlfLines(s string) []byte {
	if s == "" {
		return nil
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimSuffix(s, "\n")
	return []byte(strings.ReplaceAll(s, "\n", "\r\n") + "\r\n")
}

// safeBoundary returns seed as a valid boundary (RFC 2046 §5.1.1) that
// starts no line of the parts.
func safeBoundary(seed string, parts ...[]byte) string {
	var b strings.Builder
	for _, c := range []byte(seed) {
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("'()+_,-./:=?", c) >= 0 {
			b.WriteByte(c)
		}
	}
	base := b.String()
	if base == "" {
		base = "dsn"
	}
	for n := 0; ; n++ {
		cand := base
		if n > 0 {
			suffix := fmt.Sprintf("=%d", n)
			cand = base[:min(len(base), 70-len(suffix))] + suffix
		} else if len(cand) > 70 {
			cand = cand[:70]
		}
		if !startsALine(cand, parts) {
			return cand
		}
	}
}

func startsALine(boundary string, parts [][]byte) bool {
	delim := []byte("--" + boundary)
	for _, p := range parts {
		for len(p) > 0 {
			line, rest, _ := bytes.Cut(p, []byte("\n"))
			if bytes.HasPrefix(line, delim) {
				return true
			}
			p = rest
		}
	}
	return false
}
