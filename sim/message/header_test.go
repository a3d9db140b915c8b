package message

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestReadHeader(t *testing.T) {
	huge := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
	cases := []struct {
		name string
		in   string
		want Header
	}{
		{
			name: "folded fields",
			in:   "Subject: a long\r\n  subject\r\n\tline\r\nReceived: from a\r\n\tby b; Thu, 1 Jan 2026 09:00:00 +0000\r\n\r\nbody\r\n",
			want: Header{
				{Name: "Subject", Value: "a long subject line", Raw: "Subject: a long\n  subject\n\tline"},
				{Name: "Received", Value: "from a by b; Thu, 1 Jan 2026 09:00:00 +0000", Raw: "Received: from a\n\tby b; Thu, 1 Jan 2026 09:00:00 +0000"},
			},
		},
		{
			name: "a field folded right after its colon",
			in:   "Message-ID:\r\n <x@y>\r\n\r\n",
			want: Header{{Name: "Message-ID", Value: "<x@y>", Raw: "Message-ID:\n <x@y>"}},
		},
		{
			name: "encoded words left alone",
			in:   "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nFrom: =?iso-8859-1?q?J=F6rg?= <j@example.org>\r\n\r\n",
			want: Header{
				{Name: "Subject", Value: "=?utf-8?q?Gr=C3=BC=C3=9Fe?=", Raw: "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?="},
				{Name: "From", Value: "=?iso-8859-1?q?J=F6rg?= <j@example.org>", Raw: "From: =?iso-8859-1?q?J=F6rg?= <j@example.org>"},
			},
		},
		{
			name: "no header/body separator: all of it is header",
			in:   "From: a@example.org\r\nSubject: s",
			want: Header{{Name: "From", Value: "a@example.org", Raw: "From: a@example.org"}, {Name: "Subject", Value: "s", Raw: "Subject: s"}},
		},
		{
			name: "LF-only input",
			in:   "From: a@example.org\nSubject: one\n two\n\nSubject: not a field\n",
			want: Header{{Name: "From", Value: "a@example.org", Raw: "From: a@example.org"}, {Name: "Subject", Value: "one two", Raw: "Subject: one\n two"}},
		},
		{
			name: "mixed line ends",
			in:   "A: 1\nB: 2\r\nC: 3\n\r\nD: body",
			want: Header{{Name: "A", Value: "1", Raw: "A: 1"}, {Name: "B", Value: "2", Raw: "B: 2"}, {Name: "C", Value: "3", Raw: "C: 3"}},
		},
		{
			name: "duplicate fields, in order",
			in:   "Received: one\r\nReceived: two\r\nreceived: three\r\n\r\n",
			want: Header{{Name: "Received", Value: "one", Raw: "Received: one"}, {Name: "Received", Value: "two", Raw: "Received: two"}, {Name: "received", Value: "three", Raw: "received: three"}},
		},
		{
			name: "names as written, blanks around them trimmed",
			in:   "message-ID: <a@b>\r\nX-MAILER : mutt\r\n\r\n",
			want: Header{{Name: "message-ID", Value: "<a@b>", Raw: "message-ID: <a@b>"}, {Name: "X-MAILER", Value: "mutt", Raw: "X-MAILER : mutt"}},
		},
		{
			name: "lines that are no field are skipped",
			in:   " leading continuation\r\nFrom: a\r\nnot a field\r\n with its continuation\r\nBad Name: x\r\n: no name\r\nTo: b\r\n\r\n",
			want: Header{{Name: "From", Value: "a", Raw: "From: a"}, {Name: "To", Value: "b", Raw: "To: b"}},
		},
		{
			name: "an empty value",
			in:   "Subject:\r\nCc:   \r\n\r\n",
			want: Header{{Name: "Subject", Value: "", Raw: "Subject:"}, {Name: "Cc", Value: "", Raw: "Cc:   "}},
		},
		{
			name: "a CR that ends no line is a space",
			in:   "Subject: a\rb\r\n\r\n",
			want: Header{{Name: "Subject", Value: "a b", Raw: "Subject: a b"}},
		},
		{
			name: "empty input",
			in:   "",
			want: Header{},
		},
		{
			name: "a body alone",
			in:   "\r\nFrom: not a field\r\n",
			want: Header{},
		},
		{
			name: "a huge header is read up to MaxHeaderBytes",
			in:   "From: a\r\n" + strings.Repeat(huge, MaxHeaderBytes/len(huge)+10) + "To: lost\r\n\r\n",
			want: append(Header{{Name: "From", Value: "a", Raw: "From: a"}}, repeatField(Field{Name: "X-Filler", Value: strings.Repeat("a", 1000), Raw: strings.TrimSuffix(huge, "\r\n")}, (MaxHeaderBytes-9)/len(huge))...),
		},
		{
			name: "a single line longer than MaxHeaderBytes",
			in:   "X-Huge: " + strings.Repeat("b", MaxHeaderBytes) + "\r\nTo: lost\r\n\r\n",
			want: Header{},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ReadHeader([]byte(c.in))
			if !reflect.DeepEqual(got, c.want) {
				if len(got) > 5 || len(c.want) > 5 {
					t.Fatalf("%d fields, want %d", len(got), len(c.want))
				}
				t.Fatalf("ReadHeader(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}

func repeatField(f Field, n int) Header {
	out := make(Header, n)
	for i := range out {
		out[i] = f
	}
	return out
}

func TestHeaderLookups(t *testing.T) {
	h := ReadHeader([]byte("Received: one\r\nSUBJECT: =?utf-8?b?SGVsbG8sIHfDtnJsZA==?=\r\nreceived: two\r\nFrom: =?bogus?q?x?=\r\n\r\n"))
	if got := h.Get("subject"); got != "=?utf-8?b?SGVsbG8sIHfDtnJsZA==?=" {
		t.Errorf("Get(subject) = %q", got)
	}
	if got := h.Text("Subject"); got != "Hello, wörld" {
		t.Errorf("Text(Subject) = %q", got)
	}
	if got := h.Text("From"); got != "=?bogus?q?x?=" {
		t.Errorf("Text of an encoded word in an unknown charset = %q, want it as written", got)
	}
	if got := h.Get("RECEIVED"); got != "one" {
		t.Errorf("Get(RECEIVED) = %q, want the first", got)
	}
	if got := h.Values("Received"); !reflect.DeepEqual(got, []string{"one", "two"}) {
		t.Errorf("Values(Received) = %q", got)
	}
	if !h.Has("from") || h.Has("Date") || h.Get("Date") != "" || h.Values("Date") != nil {
		t.Error("Has/Get/Values of a field that is there, or not")
	}
}

func TestMessageID(t *testing.T) {
	cases := map[string]string{
		"From: a\r\nMessage-ID: <4F2A9C@mail.example.org>\r\n\r\nbody": "4F2A9C@mail.example.org",
		"message-id:\r\n <x@y>\r\nSubject: s\r\n\r\n":                  "x@y",
		"Subject: s\r\n\r\nMessage-ID: <not@header>\r\n":               "",
		"Message-Id: <a@b> (comment)\n\n":                              "a@b",
		"MESSAGE-ID: (a comment first) <c@d>\r\n\r\n":                  "c@d",
		"Message-ID: bare@id\r\n\r\n":                                  "bare@id",
		"Message-ID: <first@x>\r\nMessage-ID: <second@x>\r\n\r\n":      "first@x",
		"Message-ID:\r\n\r\n":                                          "",
		"Message-ID: <unclosed@x\r\n\r\n":                              "unclosed@x",
		"":                                                             "",
	}
	for in, want := range cases {
		if got := MessageID([]byte(in)); got != want {
			t.Errorf("MessageID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHeaderSection(t *testing.T) {
	cases := []struct{ in, want string }{
		{"From: a\r\nTo: b\r\n\r\nbody\r\n", "From: a\r\nTo: b\r\n"},
		{"From: a\nTo: b\n\nbody\n", "From: a\r\nTo: b\r\n"},
		{"From: a\n\tfolded\nTo: b", "From: a\r\n\tfolded\r\nTo: b\r\n"},
		{"Subject: x\r\r\n\r\n", "Subject: x \r\n"},
		{"\r\nbody", ""},
		{"", ""},
		{"not a field\r\nFrom: a\r\n\r\n", "not a field\r\nFrom: a\r\n"},
	}
	for _, c := range cases {
		if got := string(HeaderSection([]byte(c.in))); got != c.want {
			t.Errorf("HeaderSection(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// A section that is CRLF already is raw's own memory, and appending to
	// it leaves raw alone.
	raw := []byte("From: a\r\nTo: b\r\n\r\nbody")
	sec := HeaderSection(raw)
	if &sec[0] != &raw[0] {
		t.Error("a clean header section was copied")
	}
	if grown := append(sec, "X: y\r\n"...); string(grown) != "From: a\r\nTo: b\r\nX: y\r\n" || string(raw) != "From: a\r\nTo: b\r\n\r\nbody" {
		t.Errorf("appending to the section changed the message: %q", raw)
	}
	huge := []byte(strings.Repeat("X-A: "+strings.Repeat("a", 90)+"\n", 10000))
	got := HeaderSection(huge)
	if len(got) > MaxHeaderBytes || len(got) < MaxHeaderBytes-100 || !bytes.HasSuffix(got, []byte("a\r\n")) {
		t.Errorf("a header section of %d bytes gives %d, ending %q; want a whole line short of %d", len(huge), len(got), got[len(got)-10:], MaxHeaderBytes)
	}
	crlf := bytes.ReplaceAll(huge, []byte("\n"), []byte("\r\n"))
	if got2 := HeaderSection(crlf); !bytes.Equal(got, got2) {
		t.Errorf("the same huge header with CRLF gives %d bytes, with LF %d", len(got2), len(got))
	}
}

func TestBody(t *testing.T) {
	cases := []struct {
		in   string
		want string
		none bool
	}{
		{in: "From: a\r\n\r\nbody\r\n\r\nmore\r\n", want: "body\r\n\r\nmore\r\n"},
		{in: "From: a\n\nbody\n", want: "body\n"},
		{in: "From: a\r\n\r\n", want: ""},
		{in: "\r\nbody", want: "body"},
		{in: "From: a\r\nTo: b\r\n", none: true},
		{in: "From: a", none: true},
	}
	for _, c := range cases {
		got := Body([]byte(c.in))
		if c.none && got != nil || !c.none && (got == nil || string(got) != c.want) {
			t.Errorf("Body(%q) = %q (nil: %v), want %q (nil: %v)", c.in, got, got == nil, c.want, c.none)
		}
	}
}

// A delivered message's header as the agents read it on every hop.
var benchMessage = []byte("Return-Path: <alice@example.org>\r\nDelivered-To: bob@example.net\r\n" +
	"Received: from mail.example.org (mail.example.org [192.0.2.25])\r\n\tby mx.example.net (mailhop) with ESMTPS id 67A1B2C3.0000BEEF\r\n\t(using TLS 1.3)\r\n\tfor <bob@example.net>; Thu, 01 Jan 2026 09:00:01 +0000\r\n" +
	"Received: from alice-pc ([192.0.2.10])\r\n\tby mail.example.org (mailhop) with ESMTPSA id 69563790.3502CB64\r\n\t(using TLS 1.3)\r\n\tfor <bob@example.net>; Thu, 01 Jan 2026 09:00:00 +0000\r\n" +
	"Date: Thu, 01 Jan 2026 09:00:00 +0000\r\nFrom: <alice@example.org>\r\nTo: <bob@example.net>\r\nSubject: Hello\r\nMessage-ID: <69563790.9D13FCCD@example.org>\r\n" +
	"MIME-Version: 1.0\r\nUser-Agent: mailhop-mua\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + strings.Repeat("The body of the message.\r\n", 400))

func BenchmarkMessageID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if MessageID(benchMessage) == "" {
			b.Fatal("no Message-ID")
		}
	}
}
