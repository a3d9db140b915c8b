//go:build !js

package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// What an attacker probing `mailhop serve` from outside tried, against
// the real binary, with real clients.

// A login on port 25 binds the session to the user's address, as on
// submission (RFC 6409 §6.1): alice, logged in after STARTTLS, can not
// send as bob or as <> (relayed, its bounces would go anywhere), nor log
// in after MAIL to relay for a sender nobody checked (RFC 4954 §4: 503).
// As herself she still relays.
func testAuthBindsSender(t *testing.T, w *testWorld) {
	out, err := exec.Command("swaks", "--server", w.a.addr("smtp"), "--tls", "--auth", "PLAIN",
		"--auth-user", "alice@example.org", "--auth-password", "alice", "--from", "bob@example.net",
		"--to", "bob@example.net", "--header", "Subject: auth-25-forged", "--timeout", "20").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "* 550 5.7.1 Sender address rejected: not owned by the authenticated user") {
		t.Fatalf("swaks, AUTH as alice on port 25, MAIL FROM bob: %v\n%s", err, out)
	}
	py := `
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=20)
s.starttls(context=ctx)
s.ehlo()
print("mail-first", s.mail("bob@example.net"))
print("auth-in-transaction", s.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNl"))
print("rcpt-unchecked", s.rcpt("bob@example.net"))
s.rset()
s.login("alice@example.org", "alice")
for sender in ["", "bob@example.net", "mailer-daemon@example.org"]:
    print("as <%s>" % sender, s.mail(sender))
    s.rset()
print("own", s.mail("alice@example.org"), s.rcpt("bob@example.net"))
print("data", s.data(b"Subject: auth-25-own\r\n\r\nSent as myself.\r\n"))
s.quit()
`
	out, err = exec.Command("python3", "-c", py, ipA, fmt.Sprint(w.a.ports["smtp"])).CombinedOutput()
	if err != nil {
		t.Fatalf("smtplib: %v\n%s", err, out)
	}
	for _, want := range []string{
		"mail-first (250, b'2.1.0 ",
		"auth-in-transaction (503, b'5.5.1 Bad sequence of commands: AUTH is not permitted during a mail transaction",
		"rcpt-unchecked (550, b'5.7.1 Relaying denied')",
		"as <> (550, b'5.7.1 Sender address rejected: not owned by the authenticated user')",
		"as <bob@example.net> (550, b'5.7.1 ",
		"as <mailer-daemon@example.org> (550, b'5.7.1 ",
		"own (250, b'2.1.0 ",
		"data (250, b'2.0.0 Ok: queued as ",
	} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("smtplib: no %q in\n%s", want, out)
		}
	}
	waitFor(t, 15*time.Second, "alice's own message in bob's Maildir on B", func() bool {
		return count(w.b.maildir("bob@example.net"), "Subject: auth-25-own") == 1
	})
	if n := count(w.b.maildir("bob@example.net"), "auth-25-forged"); n != 0 {
		t.Fatalf("the forged message arrived %d times", n)
	}
}

// SMTP smuggling against port 25, byte for byte: a message with a bare
// CR or LF (". CR" after CRLF included) or a NUL is refused whole (RFC
// 5321 §2.3.8, §4.1.1.4); the commands hidden in it never run; the
// session stays in step; no message acknowledged 250 holds another.
func testSmuggling(t *testing.T, w *testWorld) {
	s := dialSMTP(t, w.b.addr("smtp"))
	defer s.close()
	if r := s.cmd("EHLO attacker.example\r\tby mx.example.net"); !strings.HasPrefix(r, "501 5.5.4") {
		t.Errorf("EHLO with a CR: %q, want 501 5.5.4", r)
	}
	s.cmd("EHLO attacker.example")
	const hidden = "MAIL FROM:<admin@example.net>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n"
	begin := func() {
		t.Helper()
		for _, c := range []string{"MAIL FROM:<x@example.com>", "RCPT TO:<bob@example.net>", "DATA"} {
			if r := s.cmd(c); !strings.HasPrefix(r, "250") && !strings.HasPrefix(r, "354") {
				t.Fatalf("%s: %q", c, r)
			}
		}
	}
	for _, tc := range []struct{ name, data, want string }{
		{"CR LF . CR", "Subject: smuggle-1\r\n\r\nhello\r\n.\r" + hidden + ".\r\n", "500 5.5.2 Message contains a bare CR or LF"},
		{"CR LF . CR CR LF", "Subject: smuggle-2\r\n\r\nhello\r\n.\r\r\n" + hidden + ".\r\n", "500 5.5.2 Message contains a bare CR or LF"},
		{"LF . LF", "Subject: smuggle-3\r\n\r\nhello\n.\n" + hidden + ".\r\n", "500 5.5.2 Message contains a bare CR or LF"},
		{"NUL", "Subject: smuggle-4\r\n\r\nhel\x00lo\r\n.\r\n", "554 5.6.0 "},
	} {
		begin()
		s.c.Write([]byte(tc.data))
		if r := s.reply(); !strings.HasPrefix(r, tc.want) {
			t.Errorf("%s: %q, want %s", tc.name, r, tc.want)
		}
		if r := s.cmd("NOOP"); !strings.HasPrefix(r, "250") {
			t.Fatalf("after %s: %q (out of step)", tc.name, r)
		}
	}
	// ". CR CR LF" then a true CRLF.CRLF: the data ends at the true
	// one, refused. What follows is the client's own next transaction,
	// answered as such.
	begin()
	s.c.Write([]byte("Subject: smuggle-5\r\n\r\nhello\r\n.\r\r\n.\r\n" +
		"MAIL FROM:<x@example.com>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: next-transaction\r\n\r\nmine\r\n.\r\n"))
	for _, want := range []string{"500 5.5.2 Message contains a bare CR or LF", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0 Ok: queued as"} {
		if r := s.reply(); !strings.HasPrefix(r, want) {
			t.Fatalf("CR LF . CR CR LF . CR LF: %q, want %s", r, want)
		}
	}
	// A command that ends in LF alone is refused, not run.
	s.c.Write([]byte("MAIL FROM:<x@example.com>\nRCPT TO:<bob@example.net>\r\n"))
	if r := s.reply(); !strings.HasPrefix(r, "500 5.5.2 Syntax error: the line ends in LF alone") {
		t.Errorf("MAIL ending in LF: %q", r)
	}
	if r := s.reply(); !strings.HasPrefix(r, "503 5.5.1") {
		t.Errorf("RCPT after a MAIL ending in LF: %q, want 503 (the MAIL not run)", r)
	}
	s.cmd("QUIT")

	waitFor(t, 15*time.Second, "the next transaction in bob's Maildir on B", func() bool {
		return count(w.b.maildir("bob@example.net"), "Subject: next-transaction") == 1
	})
	for _, m := range w.b.maildir("bob@example.net") {
		if strings.Contains(m, "smuggle") || strings.Contains(m, "MAIL FROM:") {
			t.Fatalf("delivered a message with another inside:\n%s", m)
		}
	}
}
