package main

import (
	"strings"
	"testing"

	"github.com/mailhop/mailhop/sim/trace"
)

// Passwords never reach the trace, whatever form the client chose: on
// the command line, in a SASL exchange, or as IMAP literals (RFC 9051
// §4.3), the user name too when it comes as one.
func TestRedactor(t *testing.T) {
	type line struct{ dir, text, want string }
	for _, tc := range []struct {
		name  string
		proto string
		lines []line
	}{
		{"SMTP AUTH PLAIN", "smtp", []line{
			{"send", "AUTH PLAIN AGJvYgBib2I=", "AUTH PLAIN ***"},
			{"recv", "235 2.7.0 Authentication successful", ""},
			{"send", "MAIL FROM:<bob@example.org>", "MAIL FROM:<bob@example.org>"},
		}},
		{"SMTP AUTH LOGIN", "smtp", []line{
			{"send", "AUTH LOGIN", "AUTH LOGIN"},
			{"recv", "334 VXNlcm5hbWU6", ""},
			{"send", "Ym9i", "***"},
			{"recv", "334 UGFzc3dvcmQ6", ""},
			{"send", "Ym9i", "***"},
			{"recv", "235 2.7.0 Authentication successful", ""},
			{"send", "QUIT", "QUIT"},
		}},
		{"POP3 PASS", "pop3", []line{
			{"send", "USER bob", "USER bob"},
			{"send", "PASS bob", "PASS ***"},
		}},
		{"IMAP LOGIN", "imap", []line{
			{"send", `a1 LOGIN bob "bob"`, "a1 LOGIN bob ***"},
		}},
		{"IMAP LOGIN, both literals", "imap", []line{
			{"send", "a1 LOGIN {15}", "a1 LOGIN {15}"},
			{"recv", "+ Ready for literal data", ""},
			{"send", "bob@example.org", "***"},
			{"send", " {3}", " {3}"},
			{"recv", "+ Ready for literal data", ""},
			{"send", "bob", "***"},
			{"send", "", "***"},
			{"recv", "a1 OK Logged in", ""},
			{"send", "a2 SELECT INBOX", "a2 SELECT INBOX"},
		}},
		{"IMAP LOGIN, a non-synchronising literal password", "imap", []line{
			{"send", "a1 LOGIN bob {6+}", "a1 LOGIN bob ***"},
			{"send", "secret", "***"},
			{"recv", "a1 NO [AUTHENTICATIONFAILED] Invalid user name or password", ""},
			{"send", "a2 NOOP", "a2 NOOP"},
		}},
	} {
		r := newRedactor()
		for i, l := range tc.lines {
			e := trace.Event{Kind: trace.KindWire, Conn: "c1", Proto: tc.proto, Dir: trace.Dir(l.dir), Text: l.text}
			r.annotate(&e)
			if l.dir == "send" && e.Text != l.want {
				t.Errorf("%s, line %d: %q became %q, want %q", tc.name, i+1, l.text, e.Text, l.want)
			}
			if strings.Contains(e.Text, "secret") || (l.dir == "send" && strings.Contains(l.want, "***") && e.Text == l.text) {
				t.Errorf("%s, line %d: %q shows a secret", tc.name, i+1, e.Text)
			}
		}
	}
}
