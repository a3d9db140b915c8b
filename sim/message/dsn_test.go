package message

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

var when = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

func sampleDSN() *DSN {
	return &DSN{
		From:         "Mail Delivery System <MAILER-DAEMON@mail.example.org>",
		To:           "alice@example.org",
		Subject:      "Undelivered Mail Returned to Sender",
		Date:         when.Add(time.Minute),
		MessageID:    "8C90A800BF.dsn@mail.example.org",
		Boundary:     "8C90A800BF/mail.example.org",
		Text:         "This is the mail system at host mail.example.org.\n\n<nobody@example.net>: 550-5.1.1 no such user\n    550 5.1.1 try another\n",
		ReportingMTA: "mail.example.org",
		ArrivalDate:  when,
		QueueID:      "8C90A800BF",
		Recipients: []Recipient{{
			FinalRecipient: "nobody@example.net",
			Action:         "failed",
			Status:         "5.1.1",
			RemoteMTA:      "mx.example.net",
			DiagnosticType: "smtp",
			Diagnostic:     "550-5.1.1 no such user\n550 5.1.1 try another",
			LastAttempt:    when.Add(time.Minute),
		}},
		Original: []byte("From: <alice@example.org>\nTo: <nobody@example.net>\nSubject: hello\n\tthere\nMessage-ID: <m1@example.org>\n\nThe body.\n"),
	}
}

// checkCRLF fails the test unless every line of b ends in CRLF: no LF
// without a CR before it, no CR without an LF after it.
func checkCRLF(t *testing.T, b []byte) {
	t.Helper()
	for i, c := range b {
		switch {
		case c == '\n' && (i == 0 || b[i-1] != '\r'):
			t.Fatalf("a bare LF at byte %d: %q", i, b[max(0, i-40):i+1])
		case c == '\r' && (i+1 == len(b) || b[i+1] != '\n'):
			t.Fatalf("a bare CR at byte %d: %q", i, b[max(0, i-40):min(len(b), i+2)])
		}
	}
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatalf("the last line does not end in CRLF: %q", b[max(0, len(b)-40):])
	}
}

// report is a DSN taken apart with the standard library alone.
type report struct {
	header   mail.Header
	params   map[string]string
	text     string
	fields   []textproto.MIMEHeader // the per-message block, then one per recipient
	original string
}

func parseReport(t *testing.T, raw []byte) report {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a message: %v\n%s", err, raw)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type %q (%v)", m.Header.Get("Content-Type"), err)
	}
	r := report{header: m.Header, params: params}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for i, want := range []string{"text/plain", "message/delivery-status", "text/rfc822-headers"} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v\n%s", i+1, err, raw)
		}
		if ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct != want {
			t.Fatalf("part %d is %s, want %s", i+1, ct, want)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0:
			r.text = string(b)
		case 1:
			br := bufio.NewReader(bytes.NewReader(append(b, "\r\n\r\n"...)))
			for {
				h, err := textproto.NewReader(br).ReadMIMEHeader()
				if err != nil && err != io.EOF {
					t.Fatalf("delivery-status block %d: %v\n%q", len(r.fields), err, b)
				}
				if len(h) == 0 {
					break
				}
				r.fields = append(r.fields, h)
			}
		case 2:
			r.original = string(b)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Fatalf("more than three parts (%v)", err)
	}
	return r
}

func TestDSN(t *testing.T) {
	raw, err := sampleDSN().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	checkCRLF(t, raw)
	r := parseReport(t, raw)
	for name, want := range map[string]string{
		"From":           "Mail Delivery System <MAILER-DAEMON@mail.example.org>",
		"To":             "<alice@example.org>",
		"Subject":        "Undelivered Mail Returned to Sender",
		"Date":           "Thu, 01 Jan 2026 09:01:00 +0000",
		"Message-Id":     "<8C90A800BF.dsn@mail.example.org>",
		"Auto-Submitted": "auto-replied",
		"Mime-Version":   "1.0",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if r.params["boundary"] != "8C90A800BF/mail.example.org" {
		t.Errorf("boundary %q, want the one given", r.params["boundary"])
	}
	// The names as the RFCs spell them, and the report type first: what a
	// learner reads, and what the lessons' checks match.
	for _, want := range []string{
		"\r\nMessage-ID: <8C90A800BF.dsn@mail.example.org>\r\n", "\r\nMIME-Version: 1.0\r\n",
		"\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n boundary=\"8C90A800BF/mail.example.org\"\r\n",
		"\r\nDiagnostic-Code: smtp; 550-5.1.1 no such user\r\n 550 5.1.1 try another\r\n",
	} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("the DSN lacks %q:\n%s", want, raw)
		}
	}
	if want := "This is the mail system at host mail.example.org.\r\n\r\n<nobody@example.net>: 550-5.1.1 no such user\r\n    550 5.1.1 try another\r\n"; r.text != want {
		t.Errorf("the human part %q, want %q", r.text, want)
	}
	if len(r.fields) != 2 {
		t.Fatalf("%d delivery-status blocks, want per-message and one recipient", len(r.fields))
	}
	for name, want := range map[string]string{
		"Reporting-MTA": "dns; mail.example.org",
		"Arrival-Date":  "Thu, 01 Jan 2026 09:00:00 +0000",
		"X-Queue-Id":    "8C90A800BF",
	} {
		if got := r.fields[0].Get(name); got != want {
			t.Errorf("per-message %s: %q, want %q", name, got, want)
		}
	}
	for name, want := range map[string]string{
		"Final-Recipient":   "rfc822; nobody@example.net",
		"Action":            "failed",
		"Status":            "5.1.1",
		"Remote-MTA":        "dns; mx.example.net",
		"Diagnostic-Code":   "smtp; 550-5.1.1 no such user 550 5.1.1 try another",
		"Last-Attempt-Date": "Thu, 01 Jan 2026 09:01:00 +0000",
	} {
		if got := r.fields[1].Get(name); got != want {
			t.Errorf("per-recipient %s: %q, want %q", name, got, want)
		}
	}
	if r.fields[1].Get("Will-Retry-Until") != "" {
		t.Error("Will-Retry-Until without one")
	}
	if want := "From: <alice@example.org>\r\nTo: <nobody@example.net>\r\nSubject: hello\r\n\tthere\r\nMessage-ID: <m1@example.org>\r\n"; r.original != want {
		t.Errorf("text/rfc822-headers %q, want %q", r.original, want)
	}
	if bytes.Contains(raw, []byte("The body.")) {
		t.Error("the DSN returns the original's body")
	}

	// The same DSN, the same bytes: nothing random in it.
	again, _ := sampleDSN().Bytes()
	if !bytes.Equal(raw, again) {
		t.Error("two DSNs from the same data differ")
	}
}

// A remote reply of many lines, some long, with bare LFs, CRs and CRLFs:
// the Diagnostic-Code keeps one reply line on each of its lines, folds
// long ones at white space, and no line of the DSN ends otherwise than
// in CRLF.
func TestDSNFoldsDiagnostic(t *testing.T) {
	d := sampleDSN()
	long := "The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces."
	d.Recipients[0].Diagnostic = "550-5.1.1 " + long + "\r\n550-5.1.1 \n550-5.1.1\tsecond\rline\n550 5.1.1 https://support.example/mail/?p=NoSuchUser-" + strings.Repeat("x", 100) + "\n"
	d.Recipients = append(d.Recipients, Recipient{FinalRecipient: "ghost@example.net", Action: "delayed", Status: "4.4.1", DiagnosticType: "x-mailhop",
		Diagnostic: "mx.example.net (198.51.100.25:25):\nconnection refused", WillRetryUntil: when.Add(5 * 24 * time.Hour)})
	d.Text = "one\rtwo\r\nthree\nfour"
	raw, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	checkCRLF(t, raw)
	r := parseReport(t, raw)
	if r.text != "one\r\ntwo\r\nthree\r\nfour\r\n" {
		t.Errorf("the human part %q", r.text)
	}
	dc := r.fields[1].Get("Diagnostic-Code")
	want := "smtp; 550-5.1.1 " + long + " 550-5.1.1 550-5.1.1 second line 550 5.1.1 https://support.example/mail/?p=NoSuchUser-" + strings.Repeat("x", 100)
	if dc != want {
		t.Errorf("Diagnostic-Code unfolded:\n%q\nwant\n%q", dc, want)
	}
	_, after, _ := bytes.Cut(raw, []byte("Diagnostic-Code:"))
	field, _, _ := bytes.Cut(after, []byte("\r\nLast-Attempt-Date"))
	lines := strings.Split(string(field), "\r\n")
	for i, l := range lines {
		if i > 0 && !strings.HasPrefix(l, " ") {
			t.Errorf("line %d of Diagnostic-Code is not folded: %q", i, l)
		}
		if len(l) > maxLine && strings.Contains(strings.TrimSpace(l), " ") {
			t.Errorf("line %d of Diagnostic-Code is %d long and could have been folded: %q", i, len(l), l)
		}
	}
	// A CR alone ends a line, as LF alone does.
	for _, reply := range []string{" 550-5.1.1\r\n", " 550-5.1.1 second\r\n line\r\n", " 550 5.1.1\r\n https://"} {
		if !bytes.Contains(field, []byte("\r\n"+reply)) {
			t.Errorf("the reply line %q does not start a line of the field:\n%s", reply, field)
		}
	}
	if got := r.fields[2].Get("Diagnostic-Code"); got != "x-mailhop; mx.example.net (198.51.100.25:25): connection refused" {
		t.Errorf("the second recipient's Diagnostic-Code %q", got)
	}
	if r.fields[2].Get("Remote-MTA") != "" || r.fields[2].Get("Last-Attempt-Date") != "" || r.fields[2].Get("Will-Retry-Until") != "Tue, 06 Jan 2026 09:00:00 +0000" {
		t.Errorf("the second recipient's block: %v", r.fields[2])
	}
}

// The boundary comes from the seed given, made valid, and changes when
// a line of a part would start with it.
func TestDSNBoundary(t *testing.T) {
	cases := []struct {
		seed, original, want string
	}{
		{"ID/mail.example.org", "Subject: s\r\n", "ID/mail.example.org"},
		{"ID <bad> \"chars\"@host", "Subject: s\r\n", "IDbadcharshost"},
		{strings.Repeat("h", 80), "Subject: s\r\n", strings.Repeat("h", 70)},
		{"", "Subject: s\r\n", "dsn"},
		{"ID/host", "Subject: s\r\n--ID/host\r\n", "ID/host=1"},
		{"ID/host", "--ID/host\r\n--ID/host=1--\r\nTo: x\r\n", "ID/host=2"},
		{strings.Repeat("h", 70), "--" + strings.Repeat("h", 70) + "\r\n", strings.Repeat("h", 68) + "=1"},
	}
	for _, c := range cases {
		d := sampleDSN()
		d.Boundary, d.Original = c.seed, []byte(c.original)
		raw, err := d.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		checkCRLF(t, raw)
		r := parseReport(t, raw)
		if r.params["boundary"] != c.want {
			t.Errorf("seed %q with %q: boundary %q, want %q", c.seed, c.original, r.params["boundary"], c.want)
		}
		if r.original != c.original {
			t.Errorf("seed %q: the returned header %q, want %q", c.seed, r.original, c.original)
		}
	}
}

func TestDSNNeedsItsFields(t *testing.T) {
	for _, mod := range []func(*DSN){
		func(d *DSN) { d.To = "" },
		func(d *DSN) { d.ReportingMTA = "" },
		func(d *DSN) { d.Recipients = nil },
	} {
		d := sampleDSN()
		mod(d)
		if _, err := d.Bytes(); err == nil {
			t.Errorf("no error for %+v", d)
		}
	}
}

// Field values never carry a line end into the DSN: one in a value
// written on one line becomes a space.
func TestDSNValuesOnOneLine(t *testing.T) {
	d := sampleDSN()
	d.Subject = "two\r\nlines"
	d.From = "evil\nInjected: yes <x@y>"
	d.Recipients[0].Status = "5.1.1\r\nX-Evil: 1"
	raw, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	checkCRLF(t, raw)
	r := parseReport(t, raw)
	if r.header.Get("Subject") != "two lines" || r.header.Get("Injected") != "" || r.fields[1].Get("X-Evil") != "" {
		t.Errorf("a line end in a value started a field:\n%s", raw)
	}
}
