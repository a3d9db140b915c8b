//go:build !js

// Interop tests of `mailhop serve` with mail clients that keep state of
// their own between runs: mbsync (isync) keeps a local Maildir in step
// with the IMAP server both ways, fetchmail collects over POP3 and IMAP
// and hands each message to an MDA, and curl lists and fetches from the
// Maildir-backed server. Each client runs against one server on loopback
// and the test then reads the server back through Python's imaplib (and
// its Maildir on disk) to see what the client really did.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientServer starts a `mailhop serve` for example.net on loopback, bob
// its one user, with the self-signed certificate it makes in DATA/tls.
func clientServer(t *testing.T) *mailServer {
	t.Helper()
	need(t, "python3")
	m := connServer(t, "127.0.0.1")
	m.start()
	t.Cleanup(m.stop)
	return m
}

// certFile is the server's self-signed certificate, which clients pin.
func (m *mailServer) certFile() string { return filepath.Join(m.data, "tls", "cert.pem") }

// deliver hands a message for bob to the server's port 25, as another
// MTA would, and waits until it is in bob's Maildir.
func deliver(t *testing.T, m *mailServer, subject, body string) {
	t.Helper()
	hand(t, m, subject, body)
	waitFor(t, 10*time.Second, subject+" in bob's Maildir", func() bool { return len(inMaildir(m, subject)) == 1 })
}

// hand hands a message for bob to the server's port 25 and returns once
// the server took it (250).
func hand(t *testing.T, m *mailServer, subject, body string) {
	t.Helper()
	s := dialSMTP(t, m.addr("smtp"))
	defer s.close()
	for _, step := range [][2]string{
		{"EHLO relay.example.org", "250"},
		{"MAIL FROM:<carol@example.org>", "250"},
		{"RCPT TO:<bob@example.net>", "250"},
		{"DATA", "354"},
		{"From: carol@example.org\r\nTo: bob@example.net\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n.", "250"},
		{"QUIT", "221"},
	} {
		if r := s.cmd(step[0]); !strings.HasPrefix(r, step[1]) {
			t.Fatalf("delivering %q: %q answered %q", subject, step[0], r)
		}
	}
}

// inMaildir returns the messages with the subject in bob's Maildir on the
// server (stored with LF or CRLF line ends).
func inMaildir(m *mailServer, subject string) []string {
	var out []string
	for _, msg := range m.maildir("bob@example.net") {
		if strings.Contains(strings.ReplaceAll(msg, "\r\n", "\n"), "\nSubject: "+subject+"\n") {
			out = append(out, msg)
		}
	}
	return out
}

// runClient runs a client program for at most 25 s and returns its
// combined output and exit code.
func runClient(t *testing.T, env []string, prog string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not finish within 25 s:\n%s", prog, args, tail(string(out), 60))
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// py runs a Python script with imaplib logged in as bob on the server's
// cleartext IMAP port (allowed: the client is on loopback).
func py(t *testing.T, m *mailServer, script string) string {
	t.Helper()
	prologue := "import imaplib, json, re, sys\nm = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))\nm.login('bob@example.net', 'bob')\n"
	out, code := runClient(t, nil, "python3", "-c", prologue+script, m.ip, strconv.Itoa(m.ports["imap"]))
	if code != 0 {
		t.Fatalf("imaplib: exit %d\n%s", code, out)
	}
	return out
}

// imapMsg is one message as imaplib sees it on the server.
type imapMsg struct {
	UID   int      `json:"uid"`
	Flags []string `json:"flags"`
	Raw   string   `json:"raw"`
}

func (m imapMsg) subject() string { return subjectOf(m.Raw) }

// subjectLine finds a message's Subject field (LF or CRLF line ends).
var subjectLine = regexp.MustCompile(`(?m)^Subject: (.*?)\r?$`)

// subjectOf is the message's Subject, "" when it has none.
func subjectOf(raw string) string {
	if s := subjectLine.FindStringSubmatch(raw); s != nil {
		return s[1]
	}
	return ""
}

// flags are the message's flags but \Recent, sorted.
func (m imapMsg) flags() string {
	var fs []string
	for _, f := range m.Flags {
		if f != `\Recent` {
			fs = append(fs, f)
		}
	}
	slices.Sort(fs)
	return strings.Join(fs, " ")
}

// serverMailboxes reads every mailbox of bob's (EXAMINE, BODY.PEEK: it
// changes nothing) into mailbox name → messages in UID order.
func serverMailboxes(t *testing.T, m *mailServer) map[string][]imapMsg {
	t.Helper()
	out := py(t, m, `
boxes = {}
typ, lines = m.list()
for line in lines:
    name = re.match(rb'\(.*?\) (?:"."|NIL) (.*)$', line).group(1).decode().strip('"')
    typ, data = m.select(name, readonly=True)
    assert typ == 'OK', (name, typ, data)
    typ, data = m.uid('FETCH', '1:*', '(UID FLAGS BODY.PEEK[])')
    assert typ == 'OK', (name, typ, data)
    msgs = []
    for i, item in enumerate(data):
        if not isinstance(item, tuple):
            continue
        meta = item[0]
        if i + 1 < len(data) and isinstance(data[i + 1], bytes):
            meta += data[i + 1]
        meta = meta.decode()
        msgs.append({'uid': int(re.search(r'UID (\d+)', meta).group(1)),
                     'flags': re.search(r'FLAGS \(([^)]*)\)', meta).group(1).split(),
                     'raw': item[1].decode('latin-1')})
    boxes[name] = sorted(msgs, key=lambda x: x['uid'])
    m.close()
m.logout()
print(json.dumps(boxes))
`)
	var boxes map[string][]imapMsg
	if err := json.Unmarshal([]byte(out), &boxes); err != nil {
		t.Fatalf("imaplib output: %v\n%s", err, out)
	}
	return boxes
}

// bySubject finds the one message with the subject, or fails.
func bySubject(t *testing.T, box string, msgs []imapMsg, subject string) imapMsg {
	t.Helper()
	var found []imapMsg
	for _, m := range msgs {
		if m.subject() == subject {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("server %s holds %d messages with Subject %q, want 1: %v", box, len(found), subject, subjects(msgs))
	}
	return found[0]
}

func subjects(msgs []imapMsg) []string {
	var s []string
	for _, m := range msgs {
		s = append(s, fmt.Sprintf("%d:%s[%s]", m.UID, m.subject(), m.flags()))
	}
	return s
}

// localMsg is one file of a local Maildir folder.
type localMsg struct {
	path, sub, name, info string // sub: "new" or "cur"; info: the flags after ":2,"
	raw                   string
}

func (l localMsg) subject() string { return subjectOf(l.raw) }

// localFolder lists the messages of a Maildir folder, new/ and cur/.
func localFolder(t *testing.T, dir string) []localMsg {
	t.Helper()
	var out []localMsg
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range es {
			p := filepath.Join(dir, sub, e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			_, info, _ := strings.Cut(e.Name(), ":2,")
			out = append(out, localMsg{path: p, sub: sub, name: e.Name(), info: info, raw: string(b)})
		}
	}
	return out
}

func localBySubject(t *testing.T, dir, subject string) localMsg {
	t.Helper()
	var found []localMsg
	var all []string
	for _, l := range localFolder(t, dir) {
		all = append(all, l.sub+"/"+l.name+" "+l.subject())
		if l.subject() == subject {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("local %s holds %d messages with Subject %q, want 1:\n%s", dir, len(found), subject, strings.Join(all, "\n"))
	}
	return found[0]
}

// writeLocal puts a message into a local Maildir folder as a mail reader
// does: tmp/, then new/.
func writeLocal(t *testing.T, dir, name, text string) {
	t.Helper()
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "tmp", name)
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "new", name)); err != nil {
		t.Fatal(err)
	}
}

// setInfo renames a local message into cur/ with the flags given, as a
// mail reader does when a message is read or deleted.
func setInfo(t *testing.T, l localMsg, info string) {
	t.Helper()
	base, _, _ := strings.Cut(l.name, ":2,")
	dir := filepath.Dir(filepath.Dir(l.path))
	if err := os.Rename(l.path, filepath.Join(dir, "cur", base+":2,"+info)); err != nil {
		t.Fatal(err)
	}
}

// crlf is text as an IMAP server stores and serves it.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// withoutTUID removes the X-TUID field mbsync adds to every message it
// copies (its own marker, to find the copy again).
func withoutTUID(s string) string {
	return regexp.MustCompile(`(?m)^X-TUID: \S+\r?\n`).ReplaceAllString(s, "")
}

// mbsync keeps ~/Mail in step with bob's mailboxes: what arrives on the
// server comes down, flags change both ways, local messages and a local
// folder go up, a message deleted locally is expunged on the server, and
// a run with nothing to do changes nothing.
func TestServeMbsync(t *testing.T) {
	need(t, "mbsync")
	const mbsync = "mbsync"
	m := clientServer(t)
	dir := t.TempDir()
	local := filepath.Join(dir, "Mail")
	if err := os.Mkdir(local, 0o700); err != nil {
		t.Fatal(err)
	}

	// The server side: two messages delivered by SMTP, a folder made and
	// a flagged message appended by another IMAP client.
	deliver(t, m, "mbsync-down-1", "First from the server.")
	deliver(t, m, "mbsync-down-2", "Second from the server.")
	py(t, m, `
assert m.create('Lists')[0] == 'OK'
typ, data = m.append('Lists', r'(\Flagged)', None, b'From: list@example.org\r\nSubject: mbsync-list-1\r\n\r\nA list message.\r\n')
assert typ == 'OK', data
`)

	// The version decides the name of the TLS setting: isync 1.5 renamed
	// SSLType to TLSType.
	tlsKey := "SSLType"
	ver, _ := runClient(t, nil, mbsync, "--version")
	if v := regexp.MustCompile(`isync (\d+)\.(\d+)`).FindStringSubmatch(ver); v != nil {
		major, _ := strconv.Atoi(v[1])
		minor, _ := strconv.Atoi(v[2])
		if major > 1 || major == 1 && minor >= 5 {
			tlsKey = "TLSType"
		}
	}
	// STARTTLS on port 143; the self-signed certificate is trusted by
	// being listed in CertificateFile (mbsync trusts a certificate it
	// finds there as it is).
	rc := filepath.Join(dir, "mbsyncrc")
	os.WriteFile(rc, []byte(fmt.Sprintf(`IMAPAccount mailhop
Host %s
Port %d
User bob@example.net
Pass bob
%s STARTTLS
CertificateFile %s

IMAPStore remote
Account mailhop

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel mailhop
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
`, m.ip, m.ports["imap"], tlsKey, m.certFile(), local, local)), 0o600)
	sync := func(what string) string {
		t.Helper()
		out, code := runClient(t, nil, mbsync, "-D", "-c", rc, "-a")
		if code != 0 || !regexp.MustCompile(`>>> \d+ STARTTLS|Connection is now encrypted`).MatchString(out) {
			t.Fatalf("mbsync (%s): exit %d\n%s", what, code, tail(out, 80))
		}
		return out
	}

	// First run: everything comes down.
	out := sync("first run")
	inbox, lists, projects := filepath.Join(local, "INBOX"), filepath.Join(local, "Lists"), filepath.Join(local, "Projects")
	down1 := localBySubject(t, inbox, "mbsync-down-1")
	down2 := localBySubject(t, inbox, "mbsync-down-2")
	for _, l := range []localMsg{down1, down2} {
		if l.info != "" || !strings.Contains(l.raw, "Delivered-To: bob@example.net") || !strings.Contains(l.raw, "Return-Path: <carol@example.org>") {
			t.Fatalf("mbsync brought down %s/%s:\n%s", l.sub, l.name, l.raw)
		}
	}
	if !strings.Contains(down1.raw, "First from the server.") {
		t.Fatalf("mbsync-down-1 arrived as:\n%s", down1.raw)
	}
	if l := localBySubject(t, lists, "mbsync-list-1"); l.info != "F" {
		t.Fatalf("the flagged message of Lists arrived as %s/%s, want the flag F\n%s", l.sub, l.name, tail(out, 80))
	}

	// Changes on both sides. Locally: down-1 read, down-2 deleted, a new
	// message in INBOX, a new folder with a message of 150 kB (a literal
	// much larger than LITERAL- allows without a continuation).
	setInfo(t, down1, "S")
	setInfo(t, down2, "ST")
	up1 := "From: bob@example.net\nTo: carol@example.org\nSubject: mbsync-up-1\n\nWritten on the laptop.\n"
	writeLocal(t, inbox, "1800000000.M1P1.laptop", up1)
	var big strings.Builder
	big.WriteString("From: bob@example.net\nSubject: mbsync-up-2\nMIME-Version: 1.0\nContent-Type: text/plain\n\n")
	for i := 0; big.Len() < 150_000; i++ {
		fmt.Fprintf(&big, "line %06d of a long local message, filed in a folder the server has not seen\n", i)
	}
	writeLocal(t, projects, "1800000001.M2P1.laptop", big.String())
	// On the server: the list message answered, a new message delivered.
	py(t, m, `
m.select('Lists')
typ, data = m.uid('STORE', '1', '+FLAGS', r'(\Answered)')
assert typ == 'OK', data
`)
	deliver(t, m, "mbsync-down-3", "Third from the server.")

	out = sync("second run")
	boxes := serverMailboxes(t, m)
	// The special-use mailboxes a new user has (Drafts, Junk, Sent,
	// Trash), and what mbsync made.
	if got := slices.Sorted(maps.Keys(boxes)); !slices.Equal(got, []string{"Drafts", "INBOX", "Junk", "Lists", "Projects", "Sent", "Trash"}) {
		t.Fatalf("server mailboxes after the second run: %q\n%s", got, tail(out, 80))
	}
	if len(boxes["INBOX"]) != 3 {
		t.Fatalf("server INBOX after the second run: %v, want mbsync-down-1, mbsync-up-1, mbsync-down-3\n%s", subjects(boxes["INBOX"]), tail(out, 80))
	}
	if s := bySubject(t, "INBOX", boxes["INBOX"], "mbsync-down-1"); s.flags() != `\Seen` {
		t.Fatalf("mbsync-down-1 on the server has flags %q, want \\Seen (read locally)\n%s", s.flags(), tail(out, 80))
	}
	if s := bySubject(t, "INBOX", boxes["INBOX"], "mbsync-up-1"); withoutTUID(s.Raw) != crlf(up1) || s.flags() != "" {
		t.Fatalf("mbsync-up-1 on the server [%s]:\n%q\nwant (X-TUID aside)\n%q", s.flags(), s.Raw, crlf(up1))
	}
	bySubject(t, "INBOX", boxes["INBOX"], "mbsync-down-3")
	if s := bySubject(t, "Projects", boxes["Projects"], "mbsync-up-2"); withoutTUID(s.Raw) != crlf(big.String()) {
		t.Fatalf("mbsync-up-2 on the server: %d bytes, want %d (the local file with CRLF, X-TUID aside)", len(withoutTUID(s.Raw)), len(crlf(big.String())))
	}
	if s := bySubject(t, "Lists", boxes["Lists"], "mbsync-list-1"); s.flags() != `\Answered \Flagged` {
		t.Fatalf("mbsync-list-1 on the server has flags %q", s.flags())
	}
	// And locally: the answer flag came down, the new message too, the
	// deleted one is gone.
	if l := localBySubject(t, lists, "mbsync-list-1"); l.info != "FR" {
		t.Fatalf("mbsync-list-1 locally is %s/%s, want the flags FR (answered on the server)", l.sub, l.name)
	}
	localBySubject(t, inbox, "mbsync-down-3")
	for _, l := range localFolder(t, inbox) {
		if l.subject() == "mbsync-down-2" {
			t.Fatalf("mbsync-down-2, deleted locally, is still in %s/%s", l.sub, l.name)
		}
	}
	// mbsync paired each uploaded message with the UID the server gave
	// it (APPENDUID): its state file holds "far-UID near-UID flags" lines,
	// the near UID being the ",U=" of the local file name.
	for _, up := range []struct{ box, dir, subject string }{{"INBOX", inbox, "mbsync-up-1"}, {"Projects", projects, "mbsync-up-2"}} {
		farUID := bySubject(t, up.box, boxes[up.box], up.subject).UID
		l := localBySubject(t, up.dir, up.subject)
		near := regexp.MustCompile(`,U=(\d+)`).FindStringSubmatch(l.name)
		if near == nil {
			t.Fatalf("%s locally is %s, with no UID of mbsync's", up.subject, l.name)
		}
		state, err := os.ReadFile(filepath.Join(up.dir, ".mbsyncstate"))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(fmt.Sprintf(`(?m)^%d %s\b`, farUID, near[1])).Match(state) {
			t.Fatalf("mbsync did not pair %s (server UID %d) with its local copy (UID %s):\n%s", up.subject, farUID, near[1], state)
		}
	}
	// In bob's Maildir on the server, down-1 is now a read message.
	cur, _ := filepath.Glob(filepath.Join(m.data, "mail", "example.net", "bob", "cur", "*:2,S"))
	if len(cur) != 1 {
		t.Fatalf("bob's Maildir cur/ holds %q, want the one message read by mbsync", cur)
	}

	// Third run: nothing changed anywhere, so nothing may move.
	before := localNames(t, local)
	sync("third run")
	if after := localNames(t, local); !slices.Equal(before, after) {
		t.Fatalf("a run with nothing to do changed the local Maildir:\nbefore %q\nafter  %q", before, after)
	}
	again := serverMailboxes(t, m)
	for box, msgs := range boxes {
		if !slices.Equal(subjects(msgs), subjects(again[box])) {
			t.Fatalf("a run with nothing to do changed the server's %s: %v, was %v", box, subjects(again[box]), subjects(msgs))
		}
	}
}

// localNames lists every message file under a local Maildir tree.
func localNames(t *testing.T, root string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (filepath.Base(filepath.Dir(p)) == "new" || filepath.Base(filepath.Dir(p)) == "cur") {
			rel, _ := filepath.Rel(root, p)
			names = append(names, rel)
		}
		return nil
	})
	slices.Sort(names)
	return names
}

// fetchmailer runs fetchmail with its own home, an id file, and an MDA
// that writes each message it is given to a file of its own.
type fetchmailer struct {
	t   *testing.T
	dir string
	box string // the MDA's directory
}

func newFetchmail(t *testing.T) *fetchmailer {
	need(t, "fetchmail")
	f := &fetchmailer{t: t, dir: t.TempDir()}
	f.box = filepath.Join(f.dir, "delivered")
	os.Mkdir(f.box, 0o700)
	mda := filepath.Join(f.dir, "mda")
	os.WriteFile(mda, []byte("#!/bin/sh\nexec cat > \"$(mktemp \""+f.box+"/msg.XXXXXXXX\")\"\n"), 0o700)
	return f
}

// run polls with the rcfile text given (its poll line first) and returns
// fetchmail's verbose output and exit code: 0 mail was fetched, 1 there
// was none.
func (f *fetchmailer) run(rc string, args ...string) (string, int) {
	f.t.Helper()
	path := filepath.Join(f.dir, "fetchmailrc")
	rc = "set no syslog\n" + rc + fmt.Sprintf("  mda %q\n", filepath.Join(f.dir, "mda"))
	if err := os.WriteFile(path, []byte(rc), 0o600); err != nil {
		f.t.Fatal(err)
	}
	env := []string{"HOME=" + f.dir, "FETCHMAILHOME=" + f.dir}
	return runClient(f.t, env, "fetchmail", append([]string{"-f", path, "-i", filepath.Join(f.dir, "fetchids"), "-v", "--nosyslog"}, args...)...)
}

// delivered is what the MDA was given, by subject.
func (f *fetchmailer) delivered() map[string][]string {
	f.t.Helper()
	got := map[string][]string{}
	es, _ := os.ReadDir(f.box)
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(f.box, e.Name()))
		if err != nil {
			f.t.Fatal(err)
		}
		s := subjectOf(string(b))
		if s == "" {
			f.t.Fatalf("the MDA got a message without a Subject:\n%s", b)
		}
		got[s] = append(got[s], string(b))
	}
	return got
}

func (f *fetchmailer) expect(what string, want map[string]int) {
	f.t.Helper()
	got := f.delivered()
	n := map[string]int{}
	for s, ms := range got {
		n[s] = len(ms)
	}
	if fmt.Sprint(n) != fmt.Sprint(want) {
		f.t.Fatalf("%s: the MDA got %v, want %v", what, n, want)
	}
}

// fetchmail over POP3 with STARTTLS (STLS) and the certificate checked:
// keep leaves the messages on the server and the UIDL list lets the next
// run take only the new one; then fetchall without keep takes everything
// and empties the maildrop.
func TestServeFetchmailPOP3(t *testing.T) {
	f := newFetchmail(t)
	m := clientServer(t)
	deliver(t, m, "fetch-pop-1", "POP3 one.")
	deliver(t, m, "fetch-pop-2", "POP3 two.")
	poll := fmt.Sprintf(`poll %s service %d protocol pop3 auth password timeout 20
  user "bob@example.net" there with password "bob" is "bob" here
  sslproto "tls1.2+" sslcertck sslcertfile %q sslcommonname "mx.example.net"
`, m.ip, m.ports["pop3"], m.certFile())

	out, code := f.run(poll + "  keep\n")
	if code != 0 || !strings.Contains(out, "POP3> STLS") || !strings.Contains(out, "upgrade to TLS succeeded") {
		t.Fatalf("fetchmail (keep): exit %d\n%s", code, out)
	}
	f.expect("first run", map[string]int{"fetch-pop-1": 1, "fetch-pop-2": 1})
	msg := f.delivered()["fetch-pop-1"][0]
	for _, want := range []string{"Return-Path: <carol@example.org>", "Delivered-To: bob@example.net", "by mx.example.net (mailhop)", "\n\nPOP3 one.\n"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("fetch-pop-1 as the MDA got it has no %q:\n%s", want, msg)
		}
	}
	if n := len(m.maildir("bob@example.net")); n != 2 {
		t.Fatalf("with keep, bob's Maildir holds %d messages, want 2", n)
	}

	// Only the new message: fetchmail knows the others by their UIDL.
	deliver(t, m, "fetch-pop-3", "POP3 three.")
	out, code = f.run(poll + "  keep\n")
	if code != 0 || !strings.Contains(out, "3 messages (2 seen)") {
		t.Fatalf("fetchmail (keep, one new): exit %d\n%s", code, out)
	}
	f.expect("second run", map[string]int{"fetch-pop-1": 1, "fetch-pop-2": 1, "fetch-pop-3": 1})

	// Nothing new: exit 1.
	if out, code = f.run(poll + "  keep\n"); code != 1 {
		t.Fatalf("fetchmail with nothing new: exit %d, want 1\n%s", code, out)
	}

	// fetchall, no keep: all three again, then DELE; QUIT empties the
	// maildrop.
	out, code = f.run(poll + "  fetchall no keep\n")
	if code != 0 || strings.Count(out, "POP3< +OK message ") != 3 || !strings.Contains(out, "POP3< +OK mx.example.net POP3 server signing off (maildrop empty)") {
		t.Fatalf("fetchmail (fetchall, no keep): exit %d\n%s", code, out)
	}
	f.expect("fetchall run", map[string]int{"fetch-pop-1": 2, "fetch-pop-2": 2, "fetch-pop-3": 2})
	if left := m.maildir("bob@example.net"); len(left) != 0 {
		t.Fatalf("after fetchmail deleted everything bob's Maildir holds %d messages", len(left))
	}
	if out, code = f.run(poll + "  keep\n"); code != 1 || !strings.Contains(out, "No mail for bob@example.net") {
		t.Fatalf("fetchmail on an empty maildrop: exit %d, want 1\n%s", code, out)
	}
}

// fetchmail over IMAPS (TLS from the first byte), certificate checked:
// keep marks what it fetched \Seen and leaves it; the next run finds
// nothing unseen; without keep the next new message is fetched, deleted
// and expunged while the seen ones stay.
func TestServeFetchmailIMAP(t *testing.T) {
	f := newFetchmail(t)
	m := clientServer(t)
	deliver(t, m, "fetch-imap-1", "IMAP one.")
	deliver(t, m, "fetch-imap-2", "IMAP two.")
	poll := fmt.Sprintf(`poll %s service %d protocol imap auth password timeout 20
  user "bob@example.net" there with password "bob" is "bob" here
  ssl sslproto "tls1.2+" sslcertck sslcertfile %q sslcommonname "mx.example.net"
`, m.ip, m.ports["imaps"], m.certFile())

	out, code := f.run(poll + "  keep\n")
	if code != 0 || !strings.Contains(out, "SSL/TLS: using protocol TLSv1.") {
		t.Fatalf("fetchmail (keep): exit %d\n%s", code, out)
	}
	f.expect("first run", map[string]int{"fetch-imap-1": 1, "fetch-imap-2": 1})
	msg := f.delivered()["fetch-imap-2"][0]
	for _, want := range []string{"Return-Path: <carol@example.org>", "Delivered-To: bob@example.net", "by mx.example.net (mailhop)", "\n\nIMAP two.\n"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("fetch-imap-2 as the MDA got it has no %q:\n%s", want, msg)
		}
	}
	inbox := serverMailboxes(t, m)["INBOX"]
	for _, s := range []string{"fetch-imap-1", "fetch-imap-2"} {
		if got := bySubject(t, "INBOX", inbox, s); got.flags() != `\Seen` {
			t.Fatalf("%s on the server after fetchmail with keep: flags %q, want \\Seen\n%s", s, got.flags(), out)
		}
	}

	if out, code = f.run(poll + "  keep\n"); code != 1 {
		t.Fatalf("fetchmail with nothing unseen: exit %d, want 1\n%s", code, out)
	}
	f.expect("run with nothing unseen", map[string]int{"fetch-imap-1": 1, "fetch-imap-2": 1})

	deliver(t, m, "fetch-imap-3", "IMAP three.")
	out, code = f.run(poll + "  no keep\n")
	if code != 0 {
		t.Fatalf("fetchmail (no keep): exit %d\n%s", code, out)
	}
	f.expect("run without keep", map[string]int{"fetch-imap-1": 1, "fetch-imap-2": 1, "fetch-imap-3": 1})
	inbox = serverMailboxes(t, m)["INBOX"]
	if got := subjects(inbox); len(got) != 2 || inbox[0].subject() != "fetch-imap-1" || inbox[1].subject() != "fetch-imap-2" {
		t.Fatalf("server INBOX after fetchmail without keep: %v, want fetch-imap-1 and fetch-imap-2 (seen, kept)\n%s", got, out)
	}
	if n := len(m.maildir("bob@example.net")); n != 2 {
		t.Fatalf("bob's Maildir holds %d messages after the expunge, want 2", n)
	}
}

// curl against the Maildir-backed server, in cleartext (the client is on
// loopback): IMAP LIST, CREATE, a fetch by UID of one section, UID COPY;
// POP3 LIST whose sizes are what RETR sends, UIDL, DELE.
func TestServeCurlMaildir(t *testing.T) {
	need(t, "curl")
	const curl = "curl"
	m := clientServer(t)
	deliver(t, m, "curl-1", "Curl one.")
	deliver(t, m, "curl-2", "Curl two.")
	imap := fmt.Sprintf("imap://%s", m.addr("imap"))
	pop := fmt.Sprintf("pop3://%s/", m.addr("pop3"))
	run := func(args ...string) string {
		t.Helper()
		out, code := runClient(t, nil, curl, append([]string{"-sS", "--max-time", "20", "-u", "bob@example.net:bob"}, args...)...)
		if code != 0 {
			t.Fatalf("curl %q: exit %d\n%s", args, code, out)
		}
		return out
	}

	run(imap+"/", "-X", "CREATE Archive")
	if out := run(imap + "/"); !strings.Contains(out, `* LIST (\HasNoChildren) "/" INBOX`) || !strings.Contains(out, `"/" "Archive"`) {
		t.Fatalf("curl LIST:\n%s", out)
	}
	if out := run(imap + "/INBOX;UID=2;SECTION=HEADER.FIELDS%20(SUBJECT)"); out != "Subject: curl-2\r\n\r\n" {
		t.Fatalf("curl fetch UID 2 HEADER.FIELDS (SUBJECT): %q", out)
	}
	if out := run(imap + "/INBOX;UID=1;SECTION=TEXT"); out != "Curl one.\r\n" {
		t.Fatalf("curl fetch UID 1 TEXT: %q", out)
	}
	run(imap+"/INBOX", "-X", "UID COPY 2 Archive")
	if out := run(imap + "/Archive;UID=1"); !strings.Contains(out, "Subject: curl-2\r\n") || !strings.Contains(out, "Delivered-To: bob@example.net\r\n") {
		t.Fatalf("curl fetch of the copy in Archive:\n%s", out)
	}
	if out := run(imap+"/INBOX", "-X", "UID SEARCH SUBJECT curl-2"); !strings.Contains(out, "* SEARCH 2") {
		t.Fatalf("curl UID SEARCH: %q", out)
	}

	list := run(pop)
	sizes := regexp.MustCompile(`(?m)^(\d+) (\d+)\r$`).FindAllStringSubmatch(list, -1)
	if len(sizes) != 2 {
		t.Fatalf("curl POP3 LIST: %q", list)
	}
	for _, s := range sizes {
		msg := run(pop + s[1])
		if strconv.Itoa(len(msg)) != s[2] || !strings.Contains(msg, "Subject: curl-"+s[1]+"\r\n") {
			t.Fatalf("curl RETR %s: %d octets, LIST said %s:\n%q", s[1], len(msg), s[2], msg)
		}
	}
	uidl := run(pop, "-X", "UIDL")
	if ids := regexp.MustCompile(`(?m)^[12] (\S+)\r$`).FindAllStringSubmatch(uidl, -1); len(ids) != 2 || ids[0][1] == ids[1][1] {
		t.Fatalf("curl UIDL: %q", uidl)
	}
	out, code := runClient(t, nil, curl, "-sS", "-v", "--max-time", "20", "-u", "bob@example.net:bob", "-X", "DELE 1", "-I", pop)
	if code != 0 || !strings.Contains(out, "< +OK message 1 deleted") {
		t.Fatalf("curl DELE 1: exit %d\n%s", code, out)
	}
	if n, kept := len(m.maildir("bob@example.net")), len(inMaildir(m, "curl-2")); n != 1 || kept != 1 {
		t.Fatalf("bob's Maildir after DELE 1 and QUIT: %d messages (%d of them curl-2), want curl-2 alone", n, kept)
	}
	// The copy in Archive is its own message.
	if boxes := serverMailboxes(t, m); len(boxes["Archive"]) != 1 || len(boxes["INBOX"]) != 1 {
		t.Fatalf("after DELE: INBOX %v, Archive %v", subjects(boxes["INBOX"]), subjects(boxes["Archive"]))
	}
}
