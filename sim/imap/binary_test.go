package imap

import (
	"bytes"
	"testing"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

func TestEncodeBinaryParts(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no binary part",
			"Subject: x\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n", ""},
		{"quoted-printable holding NUL: not binary, kept",
			"Content-Transfer-Encoding: quoted-printable\r\n\r\na\x00b\r\n", ""},
		{"no encoding, NUL",
			"Subject: x\r\n\r\na\x00b",
			"Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\nYQBi\r\n"},
		{"LF line ends, two encoding fields",
			"Content-Transfer-Encoding: binary\nSubject: x\ncontent-transfer-encoding: 7bit\n\n\x00",
			"Content-Transfer-Encoding: base64\nSubject: x\n\nAA==\r\n"},
		{"a message in a multipart, no close delimiter",
			"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n" +
				"Subject: in\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\r\n",
			"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n" +
				"Subject: in\r\nContent-Transfer-Encoding: base64\r\n\r\nAAENCg=="},
		{"an empty binary part and a delimiter with padding",
			"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x \r\nContent-Transfer-Encoding: binary\r\n\r\n\r\n--x--\r\n", ""},
		{"a multipart without boundary",
			"Content-Type: multipart/mixed\r\n\r\n--x\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\r\n--x--\r\n", ""},
		{"a long part",
			"Content-Transfer-Encoding: binary\r\n\r\n" + string(bytes.Repeat([]byte{0}, 60)),
			"Content-Transfer-Encoding: base64\r\n\r\n" + string(bytes.Repeat([]byte("A"), 76)) + "\r\nAAAA\r\n"},
	} {
		got := encodeBinaryParts([]byte(tc.in))
		want := tc.want
		if want == "" {
			want = tc.in
		}
		if string(got) != want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, want)
		}
	}
}

// FuzzEncodeBinaryParts: whatever the message, encoding it again changes
// nothing, and every BINARY section of it decodes as before.
func FuzzEncodeBinaryParts(f *testing.F) {
	for _, s := range []string{
		"Content-Transfer-Encoding: binary\r\n\r\n\x00-\xe4\n\r\n\n",
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\r\n--b\r\n\r\nx\r\n--b--\r\n",
		"Content-Type: message/rfc822\r\n\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00",
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\n\x00\r\n--c--\r\n--b--",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		enc := encodeBinaryParts(msg)
		if again := encodeBinaryParts(enc); !bytes.Equal(again, enc) {
			t.Fatalf("encoded twice:\n%q\n%q", enc, again)
		}
		if bytes.Equal(enc, msg) {
			return
		}
		bodyStructure(enc).Walk(func(path []int, part goimap.BodyStructure) bool {
			leaf, ok := part.(*goimap.BodyStructureSinglePart)
			if !ok || leaf.MessageRFC822 != nil || leaf.Encoding != "base64" {
				return true
			}
			if len(path) == 0 {
				path = []int{1}
			}
			bs := &goimap.FetchItemBinarySection{Part: path}
			before := imapserver.ExtractBinarySection(bytes.NewReader(msg), bs)
			after := imapserver.ExtractBinarySection(bytes.NewReader(enc), bs)
			if !bytes.Equal(before, after) {
				t.Fatalf("BINARY[%v]: %q, was %q", path, after, before)
			}
			return true
		})
	})
}
