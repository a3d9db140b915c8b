package message

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// FuzzHeader feeds any bytes to the readers: they never panic, the
// header section is bounded, ends every line in CRLF and has no empty
// line, reading it again changes nothing, and the fields read from it
// are those read from the message.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		"From: a@example.org\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n",
		"Subject: folded\r\n\tline\r\n\r\n",
		"Subject: =?utf-8?q?caf=C3=A9?=\n\n",
		"no colon\r\n leading\r\n: empty name\r\n",
		" \r\n\r\n",
		"A: 1\rB: 2\r\r\n\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sec := HeaderSection(raw)
		if len(sec) > MaxHeaderBytes {
			t.Fatalf("a header section of %d bytes", len(sec))
		}
		for i, c := range sec {
			if c == '\n' && (i == 0 || sec[i-1] != '\r') || c == '\r' && (i+1 == len(sec) || sec[i+1] != '\n') {
				t.Fatalf("a line end other than CRLF at %d: %q", i, sec)
			}
		}
		if bytes.HasPrefix(sec, []byte("\r\n")) || bytes.Contains(sec, []byte("\r\n\r\n")) {
			t.Fatalf("an empty line in the header section: %q", sec)
		}
		if len(sec) > 0 && !bytes.HasSuffix(sec, []byte("\r\n")) {
			t.Fatalf("the section's last line has no CRLF: %q", sec)
		}
		if again := HeaderSection(sec); !bytes.Equal(again, sec) {
			t.Fatalf("HeaderSection is not idempotent:\n%q\n%q", sec, again)
		}
		h := ReadHeader(raw)
		if h2 := ReadHeader(sec); !reflect.DeepEqual(h, h2) {
			t.Fatalf("the message and its header section read differently:\n%q\n%q", h, h2)
		}
		for _, fl := range h {
			if fl.Name == "" || strings.ContainsAny(fl.Name, ": \t\r\n") || strings.ContainsAny(fl.Value, "\r\n") || strings.Contains(fl.Raw, "\r") {
				t.Fatalf("a field %q", fl)
			}
			if got := h.Get(fl.Name); got != h.Values(fl.Name)[0] {
				t.Fatalf("Get(%q) = %q, not the first of Values", fl.Name, got)
			}
		}
		if id := h.MessageID(); strings.ContainsAny(id, "\r\n") || strings.Contains(id, ">") && strings.Contains(h.Get("Message-ID"), "<") {
			t.Fatalf("MessageID %q", id)
		}
		if b := Body(raw); b != nil && !bytes.HasSuffix(raw, b) {
			t.Fatalf("Body is not the end of the message")
		}
	})
}

// FuzzDSN writes a DSN with any diagnostic, text and returned message:
// every line of it ends in CRLF, it is a three-part multipart/report
// that a reader other than go-message takes apart, and what it carries
// comes back unchanged (the diagnostic with its white space collapsed).
func FuzzDSN(f *testing.F) {
	f.Add("550-5.1.1 no such user\n550 5.1.1 try another", "text\n", []byte("Subject: s\r\n\r\nbody"), "ID/host")
	f.Add("451 4.3.0\r\n", "\r\n\r\n", []byte("--ID/host\r\n"), "ID/host")
	f.Add("\n\n\r", "--x\n", []byte("A: 1\rB: 2"), "x")
	f.Fuzz(func(t *testing.T, diag, text string, original []byte, boundary string) {
		d := sampleDSN()
		d.Recipients[0].Diagnostic, d.Text, d.Original, d.Boundary = diag, text, original, boundary
		raw, err := d.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		checkCRLF(t, raw)
		r := parseReport(t, raw)
		if want := string(crlfLines(text)); r.text != want {
			t.Fatalf("the human part %q, want %q", r.text, want)
		}
		if want := string(HeaderSection(original)); r.original != want {
			t.Fatalf("the returned header %q, want %q", r.original, want)
		}
		words := strings.FieldsFunc(diag, func(c rune) bool { return c == ' ' || c < 0x20 || c == 0x7f })
		got := r.fields[1].Get("Diagnostic-Code")
		if diag == "" {
			if got != "" {
				t.Fatalf("a Diagnostic-Code %q for none", got)
			}
			return
		}
		if want := strings.TrimSpace("smtp; " + strings.Join(words, " ")); got != want {
			t.Fatalf("Diagnostic-Code %q, want %q", got, want)
		}
	})
}

// FuzzMessageID: the quick scan MessageID and HasField do agrees with
// the whole header read by ReadHeader, on any input.
func FuzzMessageID(f *testing.F) {
	for _, s := range []string{
		"Message-ID: <a@b>\r\n\r\nbody", "Subject: x\r\nMessage-Id:\r\n <a@b>\r\n", "bad line\r\nMessage-ID: <c@d>\r\n",
		" top\r\nMessage-ID: <e@f>\r\n", "X y: z\r\nMessage-ID: <g@h>\r\n", "Message-ID : <i@j> (c)\n", "message-id:<k@l>\rx\r\n",
		"From: a@b\r\nTo: c\r\nfrom:\r\n  d@e \r\n\t(x)\r\n\r\nFrom: f\r\n", "From: a\r\nbad\r\nFrom: b\r\n",
		"Authentication-Results: mx; dmarc=pass\r\nAuthentication-Results : x; spf=none\n\n",
		":\r\nMessage-ID: <m@n>\r\n", "Subject: a\r\n\tb\r\nMessage-ID: o\r\n\r\nMessage-ID: <p@q>\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		h := ReadHeader(raw)
		if got, want := MessageID(raw), h.MessageID(); got != want {
			t.Fatalf("MessageID(%q) = %q, ReadHeader says %q", raw, got, want)
		}
		for _, name := range []string{"Message-ID", "Date"} {
			if got, want := HasField(raw, name), h.Has(name); got != want {
				t.Fatalf("HasField(%q, %s) = %v, ReadHeader says %v", raw, name, got, want)
			}
		}
		for _, name := range []string{"From", "Message-ID", "Authentication-Results"} {
			if got, want := Values(raw, name), h.Values(name); !reflect.DeepEqual(got, want) {
				t.Fatalf("Values(%q, %s) = %q, ReadHeader says %q", raw, name, got, want)
			}
		}
	})
}
