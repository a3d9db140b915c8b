//go:build !js

package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/internal/transcripttest"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// realServer runs the server on a real loopback socket, as `mailhop serve`
// does: no InsecureAuth (loopback peers may log in without TLS), STARTTLS
// with a self-signed certificate. It returns host:port and the port of an
// implicit-TLS listener.
func realServer(t *testing.T) (addr, tlsAddr string, st *store.Memory, rec *trace.Recorder) {
	t.Helper()
	st = store.NewMemory(nil)
	users := auth.NewDirectory("example.net")
	users.Add(bob, "bob")
	st.AddUser(bob)
	rec = trace.NewRecorder(time.Now, 0)
	srvTLS, _ := transcripttest.TLS(t, "localhost")
	srv := &Server{
		Hostname:       "localhost",
		Store:          st,
		Users:          users,
		TLSConfig:      srvTLS,
		Clock:          clock.Wall{},
		Trace:          rec,
		LoginFailDelay: 10 * time.Millisecond,
		ErrorLog:       testLogger{t},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 2)
	go func() { served <- srv.Serve(l) }()
	go func() { served <- srv.Serve(tls.NewListener(tl, srvTLS)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), transcripttest.WallLimit())
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for range 2 {
			if err := <-served; !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		}
	})
	return l.Addr().String(), tl.Addr().String(), st, rec
}

// need finds a program the interop tests run; CI installs them, so a
// missing one fails the test rather than skipping it.
func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Fatalf("%s is not installed: the interop tests need it (CI installs python3 and curl; on Debian: apt-get install python3 curl)", prog)
	}
	return p
}

func run(t *testing.T, prog string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, prog, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
	return string(out)
}

const imaplibScript = `
import imaplib, ssl, sys
host, port, tlsport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

M = imaplib.IMAP4(host, port)
print("caps", " ".join(sorted(M.capabilities)))
print("login", M.login("bob@example.net", "bob")[0])
typ, data = M.list()
print("list", typ)
for d in data:
    print("mbox", d.decode())
print("append", M.append("INBOX", "(\\Flagged)", None, b"Subject: from python\r\nMessage-ID: <py@example.net>\r\n\r\nhi\r\n")[0])
typ, data = M.select("INBOX")
print("select", typ, data[0].decode())
print("search", M.search(None, "ALL")[1][0].decode())
print("search-subject", M.search(None, '(SUBJECT "message 2")')[1][0].decode())
print("search-flagged", M.search(None, "FLAGGED")[1][0].decode())
typ, data = M.fetch("1", "(RFC822)")
print("fetch", typ, len(data[0][1]), b"Hello Bob, this is message 1." in data[0][1])
typ, data = M.uid("FETCH", "2", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
print("uid-fetch", typ, data[0][1].decode().strip())
typ, data = M.store("1", "+FLAGS", "\\Deleted")
print("store", typ, data[0].decode())
typ, data = M.expunge()
print("expunge", typ, data[0].decode())
print("close", M.close()[0])
print("logout", M.logout()[0])

M = imaplib.IMAP4(host, port)
print("starttls", M.starttls(ssl_context=ctx)[0])
print("tls-login", M.login("bob", "bob")[0])
typ, data = M.select("INBOX", readonly=True)
print("tls-select", typ, data[0].decode())
print("tls-logout", M.logout()[0])

M = imaplib.IMAP4_SSL(host, tlsport, ssl_context=ctx)
print("ssl-login", M.login("bob", "bob")[0])
print("ssl-status", M.status("INBOX", "(MESSAGES UIDNEXT)")[1][0].decode())
print("ssl-logout", M.logout()[0])

M = imaplib.IMAP4(host, port)
try:
    M.login("bob", "wrong")
    print("bad-login accepted")
except imaplib.IMAP4.error as e:
    print("bad-login", str(e))
M.logout()
`

func TestPythonImaplib(t *testing.T) {
	python := need(t, "python3")
	addr, tlsAddr, st, rec := realServer(t)
	for i := 1; i <= 3; i++ {
		st.Append(bob, "INBOX", msg(i), nil, time.Time{})
	}
	st.CreateMailbox(bob, "Sent")
	host, port, _ := net.SplitHostPort(addr)
	_, tlsPort, _ := net.SplitHostPort(tlsAddr)
	out := run(t, python, "-c", imaplibScript, host, port, tlsPort)
	t.Logf("imaplib:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, want := range []string{
		"login OK",
		"list OK",
		`mbox (\HasNoChildren) "/" INBOX`,
		`mbox (\HasNoChildren \Sent) "/" "Sent"`,
		"append OK",
		"select OK 4",
		"search 1 2 3 4",
		"search-subject 2",
		"search-flagged 4",
		fmt.Sprintf("fetch OK %d True", len(msg(1))),
		"uid-fetch OK Subject: message 2",
		// The session that selected INBOX first sees its messages
		// \Recent (RFC 3501 §2.3.2).
		`store OK 1 (FLAGS (\Deleted \Seen \Recent))`,
		"expunge OK 1",
		"close OK",
		"logout BYE",
		"starttls OK",
		"tls-login OK",
		"tls-select OK 3",
		"tls-logout BYE",
		"ssl-login OK",
		"ssl-status INBOX (MESSAGES 3 UIDNEXT 5)",
		"ssl-logout BYE",
		"bad-login b'[AUTHENTICATIONFAILED] Invalid user name or password'",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %q in imaplib's output", want)
		}
	}
	if !strings.Contains(lines[0], "IMAP4REV1") || strings.Contains(lines[0], "LOGINDISABLED") {
		t.Errorf("capabilities on loopback: %s", lines[0])
	}
	list, _ := st.List(bob, "INBOX")
	var uids []store.UID
	for _, m := range list {
		uids = append(uids, m.UID)
	}
	if !slices.Equal(uids, []store.UID{2, 3, 4}) {
		t.Errorf("INBOX UIDs %v after imaplib", uids)
	}
	var fetched []string
	for _, e := range rec.Events() {
		if e.Kind == trace.KindFetch {
			fetched = append(fetched, e.Msg+" "+e.Text)
		}
	}
	if !slices.Equal(fetched, []string{"m1@example.org FETCH BODY[] uid 1"}) {
		t.Errorf("fetch events %q", fetched)
	}
}

func TestCurl(t *testing.T) {
	curl := need(t, "curl")
	addr, _, st, _ := realServer(t)
	st.Append(bob, "INBOX", msg(1), nil, time.Time{})
	st.Append(bob, "INBOX", msg(2), nil, time.Time{})
	st.CreateMailbox(bob, "Trash")
	base := "imap://" + addr
	user := []string{"-sS", "--max-time", "20", "-u", "bob@example.net:bob"}

	out := run(t, curl, append(user, base+"/")...)
	for _, want := range []string{`* LIST (\HasNoChildren) "/" INBOX`, `* LIST (\HasNoChildren \Trash) "/" "Trash"`} {
		if !strings.Contains(out, want) {
			t.Errorf("curl LIST: no %q in\n%s", want, out)
		}
	}
	out = run(t, curl, append(user, base+"/INBOX;UID=1")...)
	if out != string(msg(1)) {
		t.Errorf("curl fetch UID 1:\n%q\nwant\n%q", out, msg(1))
	}
	run(t, curl, append(user, base+"/INBOX", "-X", `UID STORE 2 +FLAGS \Deleted`)...)
	if got := transcripttest.Flags(t, st, "INBOX"); !slices.Equal(got, []string{`1:\Seen`, `2:\Deleted`}) {
		t.Errorf("after curl STORE: %q", got)
	}
	run(t, curl, append(user, base+"/INBOX", "-X", "EXPUNGE")...)
	if got := transcripttest.Flags(t, st, "INBOX"); !slices.Equal(got, []string{`1:\Seen`}) {
		t.Errorf("after curl EXPUNGE: %q", got)
	}
	// STARTTLS, required by the client.
	out = run(t, curl, append(user, "--ssl-reqd", "-k", base+"/INBOX;UID=1")...)
	if out != string(msg(1)) {
		t.Errorf("curl --ssl-reqd fetch:\n%q", out)
	}
	out = run(t, curl, append(user, "--ssl-reqd", "-k", base+"/INBOX?SUBJECT%20message")...)
	if !strings.Contains(out, "* SEARCH 1") {
		t.Errorf("curl --ssl-reqd SEARCH: %q", out)
	}
	// A wrong password fails.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, curl, "-sS", "-u", "bob@example.net:nope", base+"/").CombinedOutput(); err == nil {
		t.Errorf("curl with a wrong password succeeded: %s", out)
	}
}

const imaplibSortScript = `
import imaplib, sys
M = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
M.login("bob@example.net", "bob")
print("caps", M.capability()[1][0].decode())
M.select("INBOX")
print("sort", M.sort("(REVERSE DATE)", "UTF-8", "ALL")[1][0].decode())
print("sort-subject", M.sort("SUBJECT", "UTF-8", "SUBJECT", '"lunch"')[1][0].decode())
print("uid-sort", M.uid("SORT", "(FROM)", "UTF-8", "NOT", "1")[1][0].decode())
print("thread", M.thread("REFERENCES", "UTF-8", "ALL")[1][0].decode())
print("ordered", M.thread("ORDEREDSUBJECT", "UTF-8", "ALL")[1][0].decode())
typ, data = M.sort("(DATE)", "KOI8-R", "ALL")
print("koi8", typ, data[0].decode())
print("logout", M.logout()[0])
`

// Python's imaplib sorts and threads (imaplib.IMAP4.sort and .thread).
func TestPythonImaplibSortThread(t *testing.T) {
	python := need(t, "python3")
	addr, _, st, _ := realServer(t)
	for i, m := range sortMailbox {
		arrived := m.arrived
		if arrived.IsZero() {
			arrived = time.Date(2026, 3, 10, i, 0, 0, 0, time.UTC)
		}
		if _, err := st.Append(bob, "INBOX", m.bytes(), nil, arrived); err != nil {
			t.Fatal(err)
		}
	}
	host, port, _ := net.SplitHostPort(addr)
	out := run(t, python, "-c", imaplibSortScript, host, port)
	t.Logf("imaplib:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, want := range []string{
		"sort 8 7 5 6 2 4 1 3",
		"sort-subject 1 2 7",
		"uid-sort 2 7 3 8 4 5 6",
		"thread ((3 4)(8))(1 2 7)((6)(5))",
		"ordered (3 (4)(8))(1 (2)(7))(6)(5)",
		"koi8 NO [BADCHARSET (UTF-8 US-ASCII)] Only UTF-8 and US-ASCII are supported",
		"logout BYE",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %q in imaplib's output", want)
		}
	}
	if !strings.Contains(lines[0], " SORT ") || !strings.Contains(lines[0], " THREAD=REFERENCES") {
		t.Errorf("capabilities after login: %s", lines[0])
	}
}

// imaplibCondStoreScript uses CONDSTORE (RFC 7162) from Python's imaplib,
// which has no words for it but sends what it is given: a SELECT
// (CONDSTORE), a FETCH CHANGEDSINCE after another connection changed a
// flag, a STORE UNCHANGEDSINCE that finds a message changed since, a
// SEARCH MODSEQ; and QRESYNC (RFC 7162 §3.2): a client back after an
// expunge, selecting with what it knew.
const imaplibCondStoreScript = `
import imaplib, sys
host, port = sys.argv[1], int(sys.argv[2])
a = imaplib.IMAP4(host, port); a.login('bob@example.net', 'bob')
b = imaplib.IMAP4(host, port); b.login('bob@example.net', 'bob')
print('condstore', 'CONDSTORE' in a.capability()[1][0].decode().split())
typ, _ = a._simple_command('SELECT', 'INBOX', '(CONDSTORE)')
a.state = 'SELECTED'
print('select', typ, a.response('HIGHESTMODSEQ')[1][0].decode())
print('modseq', ' '.join(d.decode() for d in a.uid('FETCH', '1:*', '(MODSEQ)')[1]))
b.select('INBOX')
print('other', b.uid('STORE', '2', '+FLAGS', '(\\Seen)')[0])
typ, data = a.uid('FETCH', '1:*', '(FLAGS)', '(CHANGEDSINCE 4)')
print('changed', ' '.join(d.decode() for d in data if d))
typ, data = a.uid('STORE', '1:3', '(UNCHANGEDSINCE 4)', '+FLAGS', '(\\Flagged)')
print('store', typ, a.response('MODIFIED')[1][0].decode())
print('search', a.uid('SEARCH', 'MODSEQ', '6')[1][0].decode())
typ, data = a.status('INBOX', '(HIGHESTMODSEQ)')
print('status', data[0].decode())
validity = a.response('UIDVALIDITY')[1][0].decode()
b.store('3', '+FLAGS', '(\\Deleted)'); b.expunge()
a.logout(); b.logout()
# QRESYNC: back later with what it knew, as a client resyncs.
c = imaplib.IMAP4(host, port); c.login('bob@example.net', 'bob')
c.capabilities = tuple(c.capability()[1][0].decode().split())  # as they are after login
print('enable', c.enable('QRESYNC')[0])
typ, _ = c._simple_command('SELECT', 'INBOX', '(QRESYNC (%s 4 1:3))' % validity)
print('resync', typ, c.response('VANISHED')[1][0].decode(), ' '.join(d.decode() for d in c.response('FETCH')[1]))
c.logout()
`

func TestPythonImaplibCondStore(t *testing.T) {
	python := need(t, "python3")
	addr, _, st, _ := realServer(t)
	for i := 1; i <= 3; i++ {
		if _, err := st.Append(bob, "INBOX", msg(i), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	host, port, _ := net.SplitHostPort(addr)
	out := run(t, python, "-c", imaplibCondStoreScript, host, port)
	t.Logf("imaplib:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, want := range []string{
		"condstore True",
		"select OK 4",
		"modseq 1 (UID 1 MODSEQ (2)) 2 (UID 2 MODSEQ (3)) 3 (UID 3 MODSEQ (4))",
		"other OK",
		"store OK 2",
		"search 1 3 (MODSEQ 7)",
		"status INBOX (HIGHESTMODSEQ 7)",
		"enable OK",
		`resync OK (EARLIER) 3 1 (UID 1 FLAGS (\Flagged) MODSEQ (6)) 2 (UID 2 FLAGS (\Seen) MODSEQ (5))`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %q in imaplib's output", want)
		}
	}
	// The FETCH's own answer, then the other connection's change as
	// it is told: the same, \Recent kept.
	if want := `changed 2 (UID 2 MODSEQ (5) FLAGS (\Seen \Recent)) 2 (UID 2 MODSEQ (5) FLAGS (\Seen \Recent))`; !slices.Contains(lines, want) {
		t.Errorf("no %q in imaplib's output", want)
	}
}
