//go:build !js

package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawConn is a connection for sending what no client should.
type rawConn struct {
	t *testing.T
	net.Conn
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return &rawConn{t: t, Conn: c}
}

// readFor reads what arrives within d, or until the server closes.
func readFor(c net.Conn, d time.Duration) (string, bool) {
	c.SetReadDeadline(time.Now().Add(d))
	var b bytes.Buffer
	_, err := io.Copy(&b, c)
	// EOF (io.Copy says nil) or a reset: the server hung up. A reset is
	// what a close with unread input looks like.
	var ne net.Error
	closed := err == nil || !errors.As(err, &ne) || !ne.Timeout()
	return b.String(), closed
}

// readUntil reads until the text contains want, the server closes, or d
// passes.
func readUntil(c net.Conn, want string, d time.Duration) string {
	c.SetReadDeadline(time.Now().Add(d))
	var b bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(b.String(), want) {
		n, err := c.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// Bad input on every port gets a clear error or a closed connection; the
// servers stay up, serve the next client, and lose nothing acknowledged.
func testBadInput(t *testing.T, w *testWorld) {
	// A message delivered before the attack must be there, once, after it.
	w.swaks(t, "bob@example.net", "before-bad-input")
	waitFor(t, 15*time.Second, "the first message in bob's Maildir on B", func() bool {
		return count(w.b.maildir("bob@example.net"), "Subject: before-bad-input") == 1
	})
	// Half-open connections: some say nothing, some half a command; they
	// stay open while everything else runs.
	var idle []net.Conn
	for _, svc := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"} {
		for i := range 5 {
			c := dialRaw(t, w.b.addr(svc))
			if i%2 == 1 {
				c.Write([]byte("EHL"))
			}
			idle = append(idle, c)
		}
	}
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()

	t.Run("SMTP", func(t *testing.T) {
		for _, svc := range []string{"smtp", "submission"} {
			// An early talker: a command before the greeting.
			c := dialRaw(t, w.b.addr(svc))
			c.Write([]byte("EHLO early.example\r\n"))
			if out, _ := readFor(c, 500*time.Millisecond); !strings.HasPrefix(out, "220 ") {
				t.Errorf("%s early talker: %q", svc, out)
			}
			c.Close()

			s := dialSMTP(t, w.b.addr(svc))
			s.cmd("EHLO bad.example")
			if r := s.cmd(strings.Repeat("A", 10000)); !strings.HasPrefix(r, "500 5.5.2") {
				t.Errorf("%s overlong line: %q", svc, r)
			}
			if r := s.cmd("MAIL FROM:<a\x00b@example.org>"); !strings.HasPrefix(r, "5") {
				t.Errorf("%s NUL in MAIL: %q", svc, r)
			}
			if r := s.cmd("NOOP"); !strings.HasPrefix(r, "250") {
				t.Errorf("%s after bad lines: %q", svc, r)
			}
			s.close()
		}
		// Bare LF in DATA (SMTP smuggling): refused, nothing delivered.
		s := dialSMTP(t, w.b.addr("smtp"))
		s.cmd("EHLO bad.example")
		s.cmd("MAIL FROM:<x@example.com>")
		s.cmd("RCPT TO:<bob@example.net>")
		if r := s.cmd("DATA"); !strings.HasPrefix(r, "354") {
			t.Fatalf("DATA: %q", r)
		}
		fmt.Fprintf(s.c, "Subject: smuggled-1\r\n\r\nline\nMAIL FROM:<evil@example.com>\r\n.\r\n")
		if r := s.reply(); !strings.HasPrefix(r, "500 5.5.2") || !strings.Contains(r, "bare") {
			t.Errorf("bare LF in DATA: %q", r)
		}
		if r := s.cmd("NOOP"); !strings.HasPrefix(r, "250") {
			t.Errorf("after bare LF: %q", r)
		}
		s.close()

		// A pipelining flood: thousands of commands without reading.
		c := dialRaw(t, w.b.addr("smtp"))
		flood := strings.Repeat("NOOP\r\n", 20000)
		go func() {
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte("EHLO flood.example\r\n" + flood + "QUIT\r\n"))
		}()
		out := readUntil(c, "221", 20*time.Second)
		if n := strings.Count(out, "250 2.0.0"); n < 20000 && !strings.Contains(out, "221") {
			t.Logf("flood: %d replies before the server closed", n)
		}
		c.Close()

		// Garbage where a TLS handshake should be: the connection closes.
		for _, svc := range []string{"submissions"} {
			c := dialRaw(t, w.b.addr(svc))
			junk := make([]byte, 2000)
			rand.Read(junk)
			c.Write(junk)
			if out, closed := readFor(c, 5*time.Second); !closed {
				t.Errorf("%s after garbage TLS: still open (%q)", svc, out)
			}
			c.Close()
		}
		// Garbage after STARTTLS's go-ahead.
		s = dialSMTP(t, w.b.addr("smtp"))
		s.cmd("EHLO bad.example")
		if r := s.cmd("STARTTLS"); !strings.HasPrefix(r, "220") {
			t.Fatalf("STARTTLS: %q", r)
		}
		s.c.Write([]byte("\x16\x03\x01\x00\x05hello, this is not TLS\r\n"))
		if _, closed := readFor(s.c, 5*time.Second); !closed {
			t.Error("garbage after STARTTLS: still open")
		}
		s.close()
		// Commands pipelined after STARTTLS are discarded, not run
		// inside TLS (CVE-2011-0411).
		s = dialSMTP(t, w.b.addr("smtp"))
		s.cmd("EHLO bad.example")
		fmt.Fprintf(s.c, "STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n")
		if r := s.reply(); !strings.HasPrefix(r, "220") {
			t.Fatalf("STARTTLS: %q", r)
		}
		tc := tls.Client(s.c, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		s.c, s.r = tc, bufio.NewReader(tc)
		s.cmd("EHLO bad.example")
		if r := s.cmd("RCPT TO:<bob@example.net>"); !strings.HasPrefix(r, "503") {
			t.Errorf("RCPT after a MAIL pipelined behind STARTTLS: %q, want 503 (the MAIL must have been discarded)", r)
		}
		s.close()
	})

	t.Run("POP3", func(t *testing.T) {
		c := dialRaw(t, w.b.addr("pop3"))
		readUntil(c, "\r\n", 5*time.Second)
		c.Write([]byte(strings.Repeat("X", 5000) + "\r\nUSER bob\x00@example.net\r\nNOOP\r\n"))
		out := readUntil(c, "\r\n-ERR", 5*time.Second)
		if !strings.Contains(out, "-ERR line too long") {
			t.Errorf("POP3 overlong line: %q", out)
		}
		c.Close()
		// STLS with a command pipelined behind it: not run.
		c = dialRaw(t, w.b.addr("pop3"))
		readUntil(c, "\r\n", 5*time.Second)
		c.Write([]byte("STLS\r\nUSER bob@example.net\r\n"))
		if r := readUntil(c, "\r\n", 5*time.Second); !strings.HasPrefix(r, "+OK") {
			t.Fatalf("STLS: %q", r)
		}
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		tc.Write([]byte("PASS bob\r\n"))
		if r := readUntil(tc, "\r\n", 5*time.Second); !strings.HasPrefix(r, "-ERR") {
			t.Errorf("PASS after a USER pipelined behind STLS: %q, want -ERR (USER discarded)", r)
		}
		tc.Close()
		garbage(t, w.b.addr("pop3s"))
	})

	t.Run("IMAP", func(t *testing.T) {
		c := dialRaw(t, w.b.addr("imap"))
		readUntil(c, "\r\n", 5*time.Second)
		c.Write([]byte("a1 NOOP " + strings.Repeat("X", 200000) + "\r\n"))
		out, _ := readFor(c, 3*time.Second)
		if !strings.Contains(out, "BAD") && !strings.Contains(out, "BYE") && out != "" {
			t.Errorf("IMAP overlong line: %q", out)
		}
		c.Close()
		c = dialRaw(t, w.b.addr("imap"))
		readUntil(c, "\r\n", 5*time.Second)
		c.Write([]byte("a1 LOGIN bob\x00 bob\r\n"))
		if out, _ := readFor(c, 2*time.Second); strings.Contains(out, "a1 OK") {
			t.Errorf("IMAP NUL in LOGIN: %q", out)
		}
		c.Close()
		// STARTTLS with a LOGIN pipelined behind it: go-imap drops the
		// connection; what matters is that the LOGIN is never run.
		c = dialRaw(t, w.b.addr("imap"))
		readUntil(c, "\r\n", 5*time.Second)
		c.Write([]byte("a1 STARTTLS\r\na2 LOGIN bob@example.net bob\r\n"))
		out, _ = readFor(c, 3*time.Second)
		if strings.Contains(out, "a2 OK") {
			t.Errorf("a LOGIN pipelined behind STARTTLS was run: %q", out)
		}
		c.Close()
		garbage(t, w.b.addr("imaps"))
	})

	// Still up, still serving, nothing acknowledged lost.
	if n := count(w.b.maildir("bob@example.net"), "Subject: before-bad-input"); n != 1 {
		t.Fatalf("before-bad-input: %d copies after the bad input, want 1", n)
	}
	if count(w.b.maildir("bob@example.net"), "smuggled-1") != 0 {
		t.Fatal("the message with bare LFs was delivered")
	}
	w.swaks(t, "bob@example.net", "after-bad-input")
	waitFor(t, 15*time.Second, "a message after the bad input", func() bool {
		return count(w.b.maildir("bob@example.net"), "Subject: after-bad-input") == 1
	})
	out, err := exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--max-time", "20", "--user", "bob@example.net:bob",
		fmt.Sprintf("imap://%s/INBOX", w.b.addr("imap")), "-X", "SEARCH SUBJECT after-bad-input").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SEARCH ") {
		t.Fatalf("IMAP after the bad input: %v %s", err, out)
	}
}

// garbage sends random bytes to a TLS port and expects it to hang up.
func garbage(t *testing.T, addr string) {
	t.Helper()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, addr)
			defer c.Close()
			junk := make([]byte, 3000)
			rand.Read(junk)
			c.Write(junk)
			if _, closed := readFor(c, 5*time.Second); !closed {
				t.Errorf("%s: still open after garbage TLS", addr)
			}
		}()
	}
	wg.Wait()
}
