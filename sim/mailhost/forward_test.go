package mailhost

import (
	"strings"
	"testing"
)

// A list's copy: the Subject tagged once, List-Id and List-Post below the
// header, the footer where each kind of body can take it.
func TestListCopy(t *testing.T) {
	l := List{Members: []string{"bob@example.net"}}
	footer := "_______________________________________________\r\nlist mailing list -- list@lists.example.net\r\n"
	for _, c := range []struct {
		name, in, want string
	}{
		{"plain text",
			"From: <a@example.org>\r\nSubject: Hello\r\n\r\nBody\r\n",
			"From: <a@example.org>\r\nSubject: [list] Hello\r\nList-Id: <list.lists.example.net>\r\nList-Post: <mailto:list@lists.example.net>\r\n\r\nBody\r\n" + footer},
		{"tagged already, folded, body without a final line end",
			"Subject: [list]\r\n Re: Hello\r\n\r\nBody",
			"Subject: [list]\r\n Re: Hello\r\nList-Id: <list.lists.example.net>\r\nList-Post: <mailto:list@lists.example.net>\r\n\r\nBody\r\n" + footer},
		{"no Subject",
			"From: <a@example.org>\r\n\r\nBody\r\n",
			"From: <a@example.org>\r\nSubject: [list]\r\nList-Id: <list.lists.example.net>\r\nList-Post: <mailto:list@lists.example.net>\r\n\r\nBody\r\n" + footer},
		{"quoted-printable",
			"Subject: x\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nA=3DB\r\n",
			"Subject: [list] x\r\nContent-Transfer-Encoding: quoted-printable\r\nList-Id: <list.lists.example.net>\r\nList-Post: <mailto:list@lists.example.net>\r\n\r\nA=3DB\r\n" +
				"_______________________________________________\r\nlist mailing list -- list@lists.example.net\r\n"},
		{"base64 keeps no footer",
			"Subject: x\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\n",
			"Subject: [list] x\r\nContent-Transfer-Encoding: base64\r\nList-Id: <list.lists.example.net>\r\nList-Post: <mailto:list@lists.example.net>\r\n\r\nQUJD\r\n"},
		{"multipart: a last part",
			"Subject: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B--\r\n",
			"Subject: [list] x\r\nContent-Type: multipart/mixed; boundary=B\r\nList-Id: <list.lists.example.net>\r\nList-Post: <mailto:list@lists.example.net>\r\n\r\n" +
				"--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
				strings.TrimSuffix(footer, "\r\n") + "\r\n--B--\r\n"},
	} {
		if got := string(ListCopy([]byte(c.in), "list@lists.example.net", l)); got != c.want {
			t.Errorf("%s:\ngot  %q\nwant %q", c.name, got, c.want)
		}
	}
	// A footer and tag of the list's own; a quoted-printable body gets
	// the footer encoded.
	l = List{Members: []string{"bob@example.net"}, SubjectTag: "(club)", Footer: "Club news = fun\n"}
	got := string(ListCopy([]byte("Subject: x\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nhi\r\n"), "club@example.net", l))
	if !strings.Contains(got, "Subject: (club) x\r\n") || !strings.HasSuffix(got, "\r\n\r\nhi\r\nClub news =3D fun\r\n") {
		t.Errorf("got %q", got)
	}
}

// hops counts Received fields, the loop guard's measure.
func TestHops(t *testing.T) {
	msg := strings.Repeat("Received: from a by b\r\n\tid x\r\n", 3) + "Subject: x\r\n\r\nReceived: not a field\r\n"
	if n := hops([]byte(msg)); n != 3 {
		t.Fatalf("%d hops", n)
	}
}
