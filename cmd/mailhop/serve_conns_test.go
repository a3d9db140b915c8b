//go:build !js

package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/listen/listentest"
)

// connServer prepares a `mailhop serve` on ip with every service on a
// port of its own (LMTP off), bob@example.net its one user, killed when
// the test ends.
func connServer(t *testing.T, ip string, extra ...string) *mailServer {
	t.Helper()
	m := &mailServer{name: "mx.example.net", ip: ip, data: filepath.Join(t.TempDir(), "mx"), ports: map[string]int{}, t: t}
	m.args = []string{"serve", "--hostname", m.name, "--domain", "example.net", "--data", m.data,
		"--user", "bob@example.net:bob", "--resolver", "127.0.0.1:1", "--no-auth-checks", "--shutdown-timeout", "2s", "--lmtp", ""}
	for _, s := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"} {
		m.ports[s] = listentest.FreePort(t, ip, false)
		m.args = append(m.args, "--"+s, m.addr(s))
	}
	m.args = append(m.args, extra...)
	m.killAtEnd()
	return m
}

// implicitTLS says which services speak TLS from the first byte.
var implicitTLS = map[string]bool{"submissions": true, "imaps": true, "pop3s": true}

// greet connects to a service from src (any address when "") and returns
// the connection and its first line, "" when it closed without one.
func greet(m *mailServer, service, src string) (net.Conn, string, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", m.addr(service))
	if err != nil {
		return nil, "", err
	}
	if implicitTLS[service] {
		c = tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	c.SetReadDeadline(time.Time{})
	if err != nil && line == "" {
		return c, "", nil
	}
	return c, strings.TrimRight(line, "\r\n"), nil
}

// greeting is what each service says first when it serves.
var greeting = map[string]string{
	"smtp": "220 ", "submission": "220 ", "submissions": "220 ",
	"imap": "* OK", "imaps": "* OK", "pop3": "+OK", "pop3s": "+OK",
}

// fdsOf counts the open descriptors of a process.
func fdsOf(pid int) int {
	es, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(es)
}

// Out of file descriptors (ulimit -n 200), accept4 fails with EMFILE on
// every port. Each listener pauses and accepts again, and once the
// connections that took the descriptors close, every service answers:
// the greeting on all seven ports, a message submitted with swaks and
// read with curl over IMAP and POP3. (The SMTP, submission and POP3
// accept loops used to return on the first EMFILE, for good.)
func TestServeOutOfFiles(t *testing.T) {
	need(t, "swaks", "curl")
	const ip = "127.0.0.11"
	m := connServer(t, ip, "--max-connections-per-address", "-1", "--insecure-auth")
	m.fileLimit = 200
	m.start()
	pid := m.cmd.Process.Pid

	// Take every descriptor: 300 idle connections to port 25, then one
	// to each other port, so that every accept loop meets EMFILE.
	var (
		mu     sync.Mutex
		held   []net.Conn
		greets int
	)
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%50 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			c, err := net.DialTimeout("tcp", m.addr("smtp"), 5*time.Second)
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if l, _ := bufio.NewReader(c).ReadString('\n'); strings.HasPrefix(l, "220 ") {
				mu.Lock()
				greets++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, s := range []string{"submission", "submissions", "imap", "imaps", "pop3", "pop3s"} {
		c, err := net.DialTimeout("tcp", m.addr(s), 5*time.Second)
		if err == nil {
			held = append(held, c)
		}
	}
	waitFor(t, 5*time.Second, "the server to run out of descriptors", func() bool {
		return strings.Count(m.log.String(), "too many open files") >= 7
	})
	t.Logf("%d of 300 connections to port 25 greeted; the server holds %d descriptors (ulimit -n 200)", greets, fdsOf(pid))
	if greets >= 300 {
		t.Fatalf("every connection was served: the file limit was not reached")
	}
	for _, c := range held {
		c.Close()
	}
	waitFor(t, 10*time.Second, "the connections to close", func() bool { return fdsOf(pid) < 100 })

	for _, s := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"} {
		c, line, err := greet(m, s, "")
		if err != nil {
			t.Fatalf("%s after EMFILE: %v", s, err)
		}
		c.Close()
		if !strings.HasPrefix(line, greeting[s]) {
			t.Errorf("%s after EMFILE: %q, want %q...", s, line, greeting[s])
		}
	}
	// Each service said so, once a spell of failures (not once a
	// failure), and that it accepts again.
	failing, again := map[string]int{}, map[string]int{}
	for _, l := range strings.Split(m.log.String(), "\n") {
		_, svc, _ := strings.Cut(l, " service=")
		svc, _, _ = strings.Cut(svc, " ")
		switch {
		case strings.Contains(l, "too many open files"):
			failing[svc]++
		case strings.Contains(l, "accepting again"):
			again[svc]++
		}
	}
	for _, s := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"} {
		if failing[s] == 0 || failing[s] != again[s] {
			t.Errorf("%s logged %d lines of accept failures and %d of accepting again; want as many, at least 1", s, failing[s], again[s])
		}
	}
	out, err := exec.Command("swaks", "--server", m.addr("submission"), "--auth", "PLAIN", "--auth-user", "bob@example.net",
		"--auth-password", "bob", "--from", "bob@example.net", "--to", "bob@example.net", "--header", "Subject: after-emfile",
		"--timeout", "20").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks after EMFILE: %v\n%s", err, out)
	}
	for _, url := range []string{
		fmt.Sprintf("imap://%s/INBOX;UID=1", m.addr("imap")),
		fmt.Sprintf("pop3://%s/1", m.addr("pop3")),
	} {
		out, err := exec.Command("curl", "-sS", "--max-time", "20", "--user", "bob@example.net:bob", url).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Subject: after-emfile") {
			t.Fatalf("curl %s after EMFILE: %v\n%s", url, err, out)
		}
	}
	m.stop()
}

// One client address holding its cap's worth of idle connections
// (--max-connections-per-address) gets the protocol's try-again-later
// for the next — SMTP 421, POP3 -ERR [SYS/TEMP], IMAP BYE [UNAVAILABLE]
// — while another address still gets in. (Without a per-address cap,
// one address holding 2,000 connections on port 25 shut everyone out.)
func TestServePerAddressCap(t *testing.T) {
	const ip, perAddr = "127.0.0.12", 20
	m := connServer(t, ip, "--max-connections-per-address", strconv.Itoa(perAddr))
	m.start()
	refusal := map[string]string{
		"smtp":  "421 4.7.0 mx.example.net Too many connections from your address, try again later",
		"pop3":  "-ERR [SYS/TEMP] too many connections from your address, try again later",
		"imap":  "* BYE [UNAVAILABLE] Too many connections from your address, try again later",
		"imaps": "* BYE [UNAVAILABLE] Too many connections from your address, try again later",
	}
	for _, s := range []string{"smtp", "pop3", "imap", "imaps"} {
		var held []net.Conn
		for i := range perAddr {
			c, line, err := greet(m, s, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
			if !strings.HasPrefix(line, greeting[s]) {
				t.Fatalf("%s: connection %d from 127.0.0.1: %q", s, i+1, line)
			}
		}
		c, line, err := greet(m, s, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if line != refusal[s] {
			t.Errorf("%s: connection %d from 127.0.0.1: %q, want %q", s, perAddr+1, line, refusal[s])
		}
		c, line, err = greet(m, s, "127.0.0.2")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if !strings.HasPrefix(line, greeting[s]) {
			t.Errorf("%s: from 127.0.0.2 while 127.0.0.1 is at its cap: %q", s, line)
		}
		for _, c := range held {
			c.Close()
		}
	}
	m.stop()
}

// rssKB is a process's resident memory (VmRSS), in kB.
func rssKB(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// Memory after 2,000 idle SMTP connections: it is recorded (go test -v
// shows it), and once they close the server gives it back to the OS
// (package listen, ReleaseAfterBurst) rather than keep it for minutes.
// The one check: within 30 s, resident memory falls below halfway
// between before and with.
func TestServeMemoryAfterIdleConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 connections")
	}
	const ip, n = "127.0.0.13", 2000
	m := connServer(t, ip, "--max-connections-per-address", "-1")
	m.start()
	pid := m.cmd.Process.Pid
	time.Sleep(500 * time.Millisecond)
	before := rssKB(t, pid)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.DialTimeout("tcp", m.addr("smtp"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if l, _ := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(l, "220 ") {
			t.Fatalf("connection %d: %q", i, l)
		}
	}
	with := rssKB(t, pid)
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	closed := time.Now()
	after := rssKB(t, pid)
	for time.Since(closed) < 30*time.Second && after > (before+with)/2 {
		time.Sleep(100 * time.Millisecond)
		after = rssKB(t, pid)
	}
	t.Logf("VmRSS: %d kB before, %d kB with %d idle connections (%d kB each), %d kB %.1f s after they closed",
		before, with, n, (with-before)/n, after, time.Since(closed).Seconds())
	if after > (before+with)/2 {
		t.Errorf("30 s after %d connections closed the server still holds %d kB (%d before, %d with them)", n, after, before, with)
	}
	m.stop()
}
