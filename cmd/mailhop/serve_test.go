//go:build !js

// Interop tests of `mailhop serve`: two real servers on loopback
// addresses (A: mail.example.org on 127.0.0.2, B: mx.example.net on
// 127.0.0.3) find each other through `mailhop dns`, and real clients —
// swaks, curl, Python's imaplib and poplib, dig — talk to them.

package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/listen/listentest"
)

// debianPackage names the Debian package of each client program the
// tests run (.ci/deps installs them).
var debianPackage = map[string]string{
	"swaks": "swaks", "curl": "curl", "dig": "dnsutils", "python3": "python3", "tshark": "tshark",
	"mbsync": "isync", "fetchmail": "fetchmail", "dkimverify": "python3-dkim",
}

// need fails the test when a client program is missing: these tests are
// the contract with real clients, skipping them would hide a gap.
func need(t *testing.T, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s is needed for this test (Debian package %s; make deps installs it)", p, debianPackage[p])
		}
	}
}

// logBuffer collects a process's output for the test to read while it
// runs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mailServer is one `mailhop serve` process and its ports.
type mailServer struct {
	name  string // hostname
	ip    string
	data  string
	ports map[string]int // smtp, submission, submissions, imap, imaps, pop3, pop3s
	args  []string
	// fileLimit, when set, is the server's RLIMIT_NOFILE (ulimit -n).
	fileLimit int
	cmd       *exec.Cmd
	doneCh    chan struct{}
	log       *logBuffer
	t         *testing.T
}

func (m *mailServer) addr(service string) string {
	return fmt.Sprintf("%s:%d", m.ip, m.ports[service])
}

// start runs the server and waits until it serves.
func (m *mailServer) start() {
	m.t.Helper()
	m.cmd = exec.Command(bin, m.args...)
	if m.fileLimit > 0 {
		m.cmd = exec.Command("sh", append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, m.fileLimit), bin}, m.args...)...)
	}
	m.log = &logBuffer{}
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	m.doneCh = nil
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	done := make(chan struct{})
	m.doneCh = done
	cmd := m.cmd
	go func() {
		cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(m.log.String(), "msg=serving") {
		select {
		case <-done:
			m.t.Fatalf("%s exited at start:\n%s", m.name, m.log.String())
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s did not start:\n%s", m.name, m.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killAtEnd kills the server, if it still runs, when the test ends, and
// shows the end of its log if the test failed.
func (m *mailServer) killAtEnd() {
	m.t.Cleanup(func() {
		if m.cmd != nil && m.doneCh != nil {
			m.cmd.Process.Kill()
			<-m.doneCh
		}
		if m.t.Failed() && m.log != nil {
			m.t.Logf("%s's log:\n%s", m.name, tail(m.log.String(), 60))
		}
	})
}

// stop sends SIGTERM and expects a clean exit.
func (m *mailServer) stop() {
	m.t.Helper()
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.doneCh:
	case <-time.After(15 * time.Second):
		m.cmd.Process.Kill()
		m.t.Fatalf("%s did not stop within 15s of SIGTERM:\n%s", m.name, m.log.String())
	}
	if code := m.cmd.ProcessState.ExitCode(); code != 0 {
		m.t.Fatalf("%s exited %d after SIGTERM:\n%s", m.name, code, m.log.String())
	}
	if !strings.Contains(m.log.String(), "msg=stopped") {
		m.t.Errorf("%s: no 'stopped' line in its log", m.name)
	}
	m.cmd = nil
}

// kill is kill -9.
func (m *mailServer) kill() {
	m.cmd.Process.Kill()
	<-m.doneCh
	m.cmd = nil
}

// maildir returns the raw messages in a user's INBOX directory.
func (m *mailServer) maildir(user string) []string {
	local, domain, _ := strings.Cut(user, "@")
	var out []string
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(m.data, "mail", domain, local, sub)
		es, _ := os.ReadDir(dir)
		for _, e := range es {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err == nil {
				out = append(out, string(b))
			}
		}
	}
	return out
}

// world is the interop setup: DNS and the two servers.
type testWorld struct {
	dnsPort int
	a, b    *mailServer
	dir     string
}

const (
	ipA = "127.0.0.2"
	ipB = "127.0.0.3"
)

func newWorld(t *testing.T) *testWorld {
	t.Helper()
	need(t, "swaks", "curl", "dig", "python3")
	w := &testWorld{dir: t.TempDir()}
	w.dnsPort = listentest.FreePort(t, "127.0.0.1", true)
	startDNS(t, w.dir, w.dnsPort, map[string]string{
		"example.org": zoneHead("example.org") + "@ IN MX 10 mail.example.org.\nmail IN A " + ipA + "\n",
		"example.net": zoneHead("example.net") + "@ IN MX 10 mx.example.net.\nmx IN A " + ipB + "\n",
		// example.com, a sender of the attack tests, exists but publishes
		// no SPF or DMARC record: B's checks of its mail find none.
		"example.com": zoneHead("example.com"),
	})
	w.b = w.server(t, "mx.example.net", ipB, "example.net", "bob@example.net:bob", 0)
	w.a = w.server(t, "mail.example.org", ipA, "example.org", "alice@example.org:alice", w.b.ports["smtp"])
	w.b.start()
	w.a.start()
	return w
}

// zoneHead is the start of a zone file for origin: $ORIGIN, $TTL, SOA.
func zoneHead(origin string) string {
	return fmt.Sprintf("$ORIGIN %s.\n$TTL 300\n@ IN SOA ns.example. hostmaster.%s. 1 7200 3600 1209600 300\n", origin, origin)
}

// startDNS runs `mailhop dns` on 127.0.0.1:port (TCP and UDP) until the
// test ends, serving zones (origin → zone-file text, written into dir),
// and waits until it serves.
func startDNS(t *testing.T, dir string, port int, zones map[string]string) {
	t.Helper()
	args := []string{"dns", "--listen", fmt.Sprintf("127.0.0.1:%d", port)}
	for origin, text := range zones {
		path := filepath.Join(dir, origin+".zone")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--zone", path)
	}
	cmd := exec.Command(bin, args...)
	log := &logBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("mailhop dns's log:\n%s", tail(log.String(), 20))
		}
	})
	waitFor(t, 10*time.Second, "mailhop dns", func() bool { return strings.Contains(log.String(), "serving DNS") })
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// server prepares (not starts) a mailhop serve for domain on ip, killed
// when the test ends. mxPort 0: the server's own SMTP port (both use the
// same in the test world).
func (w *testWorld) server(t *testing.T, host, ip, domain, user string, mxPort int) *mailServer {
	m := &mailServer{name: host, ip: ip, data: filepath.Join(w.dir, host), ports: map[string]int{}, t: t}
	m.killAtEnd()
	for _, s := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"} {
		m.ports[s] = listentest.FreePort(t, ip, false)
	}
	if mxPort == 0 {
		mxPort = m.ports["smtp"]
	}
	m.args = []string{"serve", "--hostname", host, "--domain", domain, "--data", m.data, "--user", user,
		"--resolver", fmt.Sprintf("127.0.0.1:%d", w.dnsPort), "--mx-port", fmt.Sprint(mxPort),
		"--retry-schedule", "1s", "--shutdown-timeout", "5s", "--lmtp", ""}
	for s, p := range m.ports {
		m.args = append(m.args, "--"+s, fmt.Sprintf("%s:%d", ip, p))
	}
	return m
}

// swaks submits a message from alice on A's submission port: STARTTLS,
// AUTH PLAIN.
func (w *testWorld) swaks(t *testing.T, to, subject string) string {
	t.Helper()
	out, err := exec.Command("swaks", "--server", w.a.addr("submission"), "--tls", "--auth", "PLAIN",
		"--auth-user", "alice@example.org", "--auth-password", "alice", "--from", "alice@example.org",
		"--to", to, "--header", "Subject: "+subject, "--body", "Hello Bob, this is "+subject+".",
		"--timeout", "20").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^<~ +250 2\.0\.0 Ok: queued as \w+`).Match(out) {
		t.Fatalf("swaks: no queue id in the reply to DATA:\n%s", out)
	}
	return string(out)
}

func count(msgs []string, marker string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m, marker) {
			n++
		}
	}
	return n
}

// TestServeInterop runs each scenario in a world of its own (DNS and
// both servers), so that one scenario's failure or stopped server can
// not be mistaken for another's.
func TestServeInterop(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *testWorld)
	}{
		{"Journey", testJourney},
		{"Bounce", testBounce},
		{"NoOpenRelay", testNoOpenRelay},
		{"RetryWhileDown", testRetry},
		{"BadInput", testBadInput},
		{"AuthBindsSender", testAuthBindsSender},
		{"Smuggling", testSmuggling},
		{"Crash", testCrash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tc.run(t, w)
			w.a.stop()
			w.b.stop()
		})
	}
}

// up fails the test unless both servers are running: what a test then
// reports (a message lost, say) is not a server that was simply down.
func (w *testWorld) up(t *testing.T) {
	t.Helper()
	for _, m := range []*mailServer{w.a, w.b} {
		if m.cmd == nil {
			t.Fatalf("%s is not running: this test needs both servers up", m.name)
		}
		select {
		case <-m.doneCh:
			t.Fatalf("%s has exited (%s):\n%s", m.name, m.cmd.ProcessState, tail(m.log.String(), 30))
		default:
		}
	}
}

// alice → bob: submission with STARTTLS and AUTH PLAIN by swaks, MX found
// through mailhop dns, read by IMAP and POP3 with Python and curl.
func testJourney(t *testing.T, w *testWorld) {
	out, err := exec.Command("dig", "@127.0.0.1", "-p", fmt.Sprint(w.dnsPort), "+norecurse", "+time=2", "+tries=2", "example.net", "MX").CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("example.net.\t\t300\tIN\tMX\t10 mx.example.net.")) {
		t.Fatalf("dig example.net MX: %v\n%s", err, out)
	}
	w.swaks(t, "bob@example.net", "journey-1")
	waitFor(t, 15*time.Second, "the message in bob's Maildir on B", func() bool { return count(w.b.maildir("bob@example.net"), "journey-1") == 1 })

	// Python's imaplib, with STARTTLS.
	py := `
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
m.starttls(ctx)
m.login("bob@example.net", "bob")
typ, data = m.select("INBOX")
typ, data = m.uid("SEARCH", None, "SUBJECT", "journey-1")
uid = data[0].split()[0]
typ, data = m.uid("FETCH", uid, "(RFC822)")
sys.stdout.write(data[0][1].decode())
m.logout()
`
	out, err = exec.Command("python3", "-c", py, ipB, fmt.Sprint(w.b.ports["imap"])).CombinedOutput()
	if err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	msg := string(out)
	for _, want := range []string{
		"Return-Path: <alice@example.org>", "Delivered-To: bob@example.net",
		"by mx.example.net (mailhop) with ESMTPS", "from mail.example.org",
		"by mail.example.org (mailhop) with ESMTPSA", "Subject: journey-1", "Hello Bob, this is journey-1.",
	} {
		if !strings.Contains(msg, want) {
			t.Fatalf("imaplib fetched no %q:\n%s", want, msg)
		}
	}
	if strings.Index(msg, "by mx.example.net") > strings.Index(msg, "by mail.example.org") {
		t.Fatalf("Received lines out of order (the last hop comes first):\n%s", msg)
	}
	// Python's poplib, with STLS.
	py = `
import poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3(sys.argv[1], int(sys.argv[2]))
p.stls(ctx)
p.user("bob@example.net"); p.pass_("bob")
n, size = p.stat()
resp, lines, octets = p.retr(n)
print("\n".join(l.decode() for l in lines))
p.quit()
`
	out, err = exec.Command("python3", "-c", py, ipB, fmt.Sprint(w.b.ports["pop3"])).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Subject: journey-1") || !strings.Contains(string(out), "by mail.example.org (mailhop)") {
		t.Fatalf("poplib: %v\n%s", err, out)
	}
	// curl, IMAP with STARTTLS, then IMAPS; POP3 with STLS, then POP3S.
	for _, url := range []string{
		fmt.Sprintf("imap://%s/INBOX;UID=1", w.b.addr("imap")),
		fmt.Sprintf("imaps://%s/INBOX;UID=1", w.b.addr("imaps")),
		fmt.Sprintf("pop3://%s/1", w.b.addr("pop3")),
		fmt.Sprintf("pop3s://%s/1", w.b.addr("pop3s")),
	} {
		out, err = exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--max-time", "20", "--user", "bob@example.net:bob", url).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Subject: journey-1") || !strings.Contains(string(out), "by mx.example.net (mailhop)") {
			t.Fatalf("curl %s: %v\n%s", url, err, out)
		}
	}
	// Another program delivers into bob's Maildir (tmp/, then new/): the
	// message shows up over IMAP and POP3 with the next UID.
	inbox := filepath.Join(w.b.data, "mail", "example.net", "bob")
	tmp := filepath.Join(inbox, "tmp", "1800000000.P1Q1.procmail")
	os.WriteFile(tmp, []byte("From: carol@example.org\nSubject: dropped-1\n\nDelivered by another program.\n"), 0o600)
	if err := os.Rename(tmp, filepath.Join(inbox, "new", "1800000000.P1Q1.procmail")); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--max-time", "20", "--user", "bob@example.net:bob",
		fmt.Sprintf("imap://%s/INBOX", w.b.addr("imap")), "-X", "UID SEARCH SUBJECT dropped-1").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "* SEARCH 2") {
		t.Fatalf("IMAP search for the dropped message: %v %q", err, out)
	}
	out, err = exec.Command("curl", "-sS", "--ssl-reqd", "-k", "--max-time", "20", "--user", "bob@example.net:bob",
		fmt.Sprintf("pop3://%s/2", w.b.addr("pop3"))).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Subject: dropped-1\r\n") {
		t.Fatalf("POP3 RETR of the dropped message: %v %q", err, out)
	}
}

// alice → nobody@example.net: B refuses at RCPT; A returns an RFC 3464
// report to alice's INBOX on A.
func testBounce(t *testing.T, w *testWorld) {
	w.swaks(t, "nobody@example.net", "bounce-1")
	var dsn string
	waitFor(t, 15*time.Second, "the bounce in alice's INBOX on A", func() bool {
		for _, m := range w.a.maildir("alice@example.org") {
			if strings.Contains(m, "bounce-1") {
				dsn = m
				return true
			}
		}
		return false
	})
	for _, want := range []string{
		"Return-Path: <>", "From: Mail Delivery System <MAILER-DAEMON@mail.example.org>",
		"Content-Type: multipart/report; report-type=delivery-status", "Content-Type: message/delivery-status",
		"Reporting-MTA: dns; mail.example.org", "Final-Recipient: rfc822; nobody@example.net",
		"Action: failed", "Status: 5.1.1", "Remote-MTA: dns; mx.example.net",
		"Diagnostic-Code: smtp; 550 5.1.1", "Content-Type: text/rfc822-headers", "Subject: bounce-1",
	} {
		if !strings.Contains(dsn, want) {
			t.Fatalf("the DSN has no %q:\n%s", want, dsn)
		}
	}
}

// smtpSession is a raw SMTP conversation for checks swaks can not make.
type smtpSession struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialSMTP(t *testing.T, addr string) *smtpSession {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	s := &smtpSession{t: t, c: c, r: bufio.NewReader(c)}
	if g := s.reply(); !strings.HasPrefix(g, "220 ") {
		t.Fatalf("greeting %q", g)
	}
	return s
}

// reply reads one reply, all its lines joined by "\n".
func (s *smtpSession) reply() string {
	var lines []string
	for {
		l, err := s.r.ReadString('\n')
		if err != nil {
			return strings.Join(append(lines, "ERR "+err.Error()), "\n")
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

func (s *smtpSession) cmd(line string) string {
	fmt.Fprintf(s.c, "%s\r\n", line)
	return s.reply()
}

func (s *smtpSession) close() { s.c.Close() }

// Port 25 is no open relay: no relaying without AUTH (nor by old tricks),
// and no AUTH on cleartext without --insecure-auth.
func testNoOpenRelay(t *testing.T, w *testWorld) {
	s := dialSMTP(t, w.a.addr("smtp"))
	defer s.close()
	ehlo := s.cmd("EHLO client.example")
	if strings.Contains(ehlo, "AUTH") {
		t.Fatalf("AUTH offered on cleartext:\n%s", ehlo)
	}
	if r := s.cmd("AUTH PLAIN " + "AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNl"); !strings.HasPrefix(r, "538 5.7.11") {
		t.Fatalf("AUTH on cleartext: %q, want 538 5.7.11", r)
	}
	if r := s.cmd("MAIL FROM:<spammer@example.com>"); !strings.HasPrefix(r, "250") {
		t.Fatalf("MAIL: %q", r)
	}
	for _, rcpt := range []string{
		"<bob@example.net>",                   // a foreign domain
		"<bob%example.net@example.org>",       // the percent hack
		"<@mail.example.org:bob@example.net>", // a source route
		`<"bob@example.net"@example.org>`,     // a quoted local part
		"<bob!example.net@example.org>",       // a bang path
		"<example.net!bob@example.org>",
	} {
		if r := s.cmd("RCPT TO:" + rcpt); !strings.HasPrefix(r, "550 5.7.1") && !strings.HasPrefix(r, "550 5.1.1") && !strings.HasPrefix(r, "501") && !strings.HasPrefix(r, "553") {
			t.Errorf("RCPT TO:%s: %q, want it refused", rcpt, r)
		}
	}
	// Mail for its own users is taken.
	if r := s.cmd("RCPT TO:<alice@example.org>"); !strings.HasPrefix(r, "250") {
		t.Fatalf("RCPT to a local user: %q", r)
	}
	s.cmd("QUIT")
	// swaks agrees: relaying to example.net through A's port 25 fails.
	out, _ := exec.Command("swaks", "--server", w.a.addr("smtp"), "--from", "x@example.com", "--to", "bob@example.net", "--timeout", "10").CombinedOutput()
	if !strings.Contains(string(out), "550 5.7.1") {
		t.Fatalf("swaks relay attempt:\n%s", out)
	}
	// After STARTTLS, AUTH is offered; the submission port wants it.
	s = dialSMTP(t, w.a.addr("submission"))
	s.cmd("EHLO client.example")
	if r := s.cmd("MAIL FROM:<alice@example.org>"); !strings.HasPrefix(r, "530 5.7.0") {
		t.Fatalf("MAIL without AUTH on submission: %q", r)
	}
	if r := s.cmd("STARTTLS"); !strings.HasPrefix(r, "220") {
		t.Fatalf("STARTTLS: %q", r)
	}
	tc := tls.Client(s.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if v := tc.ConnectionState().Version; v < tls.VersionTLS12 {
		t.Fatalf("TLS version %x", v)
	}
	s.c, s.r = tc, bufio.NewReader(tc)
	if r := s.cmd("EHLO client.example"); !strings.Contains(r, "AUTH PLAIN LOGIN") {
		t.Fatalf("no AUTH after STARTTLS:\n%s", r)
	}
	// AUTH LOGIN works as well as PLAIN (swaks used PLAIN).
	if r := s.cmd("AUTH LOGIN"); !strings.HasPrefix(r, "334") {
		t.Fatalf("AUTH LOGIN: %q", r)
	}
	s.cmd("YWxpY2VAZXhhbXBsZS5vcmc=")
	if r := s.cmd("YWxpY2U="); !strings.HasPrefix(r, "235") {
		t.Fatalf("AUTH LOGIN: %q", r)
	}
	s.cmd("QUIT")
	s.close()
	// TLS 1.1 is refused.
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", w.a.addr("submissions"),
		&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
	if err == nil {
		c.Close()
		t.Fatal("a TLS 1.1 handshake succeeded on port 465")
	}
}

// B down: A defers and retries; B back: the message arrives, once.
func testRetry(t *testing.T, w *testWorld) {
	w.b.stop()
	before := strings.Count(w.a.log.String(), "action=deferred")
	w.swaks(t, "bob@example.net", "retry-1")
	waitFor(t, 15*time.Second, "A to defer the message and retry", func() bool {
		return strings.Count(w.a.log.String(), "action=deferred") >= before+2
	})
	w.b.start()
	waitFor(t, 20*time.Second, "the message on B after it came back", func() bool { return count(w.b.maildir("bob@example.net"), "Subject: retry-1") >= 1 })
	time.Sleep(2 * time.Second)
	if n := count(w.b.maildir("bob@example.net"), "Subject: retry-1"); n != 1 {
		t.Fatalf("retry-1 arrived %d times", n)
	}
}

// Bad flags, unreadable files and taken ports: a one-line reason and a
// non-zero exit, before anything is served.
func TestServeBadStarts(t *testing.T) {
	dir := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	off := []string{"--smtp", "", "--submission", "", "--submissions", "", "--imap", "", "--imaps", "", "--pop3", "", "--pop3s", ""}
	base := slices.Clip(append([]string{"serve", "--hostname", "mx.example.net", "--domain", "example.net", "--data", dir}, off...))
	unreadable := filepath.Join(dir, "users")
	os.WriteFile(unreadable, []byte("bob@example.net:notahash\n"), 0o600)
	cases := []struct {
		args []string
		env  []string
		code int
		want string
	}{
		{[]string{"serve"}, nil, 2, "--hostname is required"},
		{[]string{"serve", "--hostname", "h", "--data", dir}, nil, 2, "--domain"},
		{append(base, "--nope"), nil, 2, "flag provided but not defined: -nope"},
		{append(base, "--retry-schedule", "5m,soon"), nil, 2, "retry-schedule"},
		{append(base, "--user", "bob"), nil, 2, "want EMAIL:PASSWORD"},
		{append(base, "--user", "eve@example.com:x"), nil, 2, "not one of --domain"},
		{append(base, "--tls-cert", "/no/such/cert"), nil, 2, "go together"},
		{append(base, "--quota-storage", "-1"), nil, 2, "must not be negative"},
		{append(base, "--users", "/no/such/users"), nil, 1, "--users: open /no/such/users: no such file or directory"},
		{append(base, "--users", unreadable), nil, 1, "not a bcrypt hash"},
		{append(base, "--tls-cert", "/no/such/cert", "--tls-key", "/no/such/key"), nil, 1, "/no/such/cert"},
		{append(base, "--smtp", taken.Addr().String()), nil, 1, "--smtp " + taken.Addr().String() + ": address already in use"},
		{base, nil, 1, "nothing to serve"},
		{append(base, "--smtp", "127.0.0.1:0"), []string{"MAILHOP_MX_PORT=seventy"}, 2, "MAILHOP_MX_PORT"},
	}
	for _, c := range cases {
		_, errOut, code := mailhop(t, c.env, c.args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != c.code || len(lines) != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v %v: exit %d, %q; want exit %d and one line with %q", c.env, c.args[1:], code, errOut, c.code, c.want)
		}
	}
}

// The self-signed certificate is made once and reused; flags come from
// the environment too; SIGINT stops the server with exit 0.
func TestServeCertificateAndEnv(t *testing.T) {
	dir := t.TempDir()
	port := listentest.FreePort(t, "127.0.0.1", false)
	run := func() (string, []byte) {
		cmd := exec.Command(bin, "serve", "--smtp", "", "--submission", "", "--imap", "", "--imaps", "", "--pop3", "", "--pop3s", "")
		cmd.Env = append(os.Environ(), "MAILHOP_HOSTNAME=mx.example.net", "MAILHOP_DOMAIN=example.net", "MAILHOP_DATA="+dir,
			fmt.Sprintf("MAILHOP_SUBMISSIONS=127.0.0.1:%d", port), "MAILHOP_USER=bob@example.net:bob", "MAILHOP_LOG_FORMAT=json")
		log := &logBuffer{}
		cmd.Stderr = log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the server", func() bool { return strings.Contains(log.String(), `"msg":"serving"`) })
		c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		cert := c.ConnectionState().PeerCertificates[0]
		c.Close()
		cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("exit after SIGINT: %v\n%s", err, log.String())
		}
		if cert.Subject.CommonName != "mx.example.net" || cert.PublicKeyAlgorithm.String() != "ECDSA" {
			t.Fatalf("certificate for %q, %v", cert.Subject.CommonName, cert.PublicKeyAlgorithm)
		}
		return log.String(), cert.Raw
	}
	log1, cert1 := run()
	_, cert2 := run()
	if !bytes.Equal(cert1, cert2) {
		t.Fatal("a new certificate at the second start")
	}
	for _, line := range strings.Split(strings.TrimSpace(log1), "\n") {
		if !strings.HasPrefix(line, "{") {
			t.Fatalf("--log-format json wrote %q", line)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "tls", "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
}
