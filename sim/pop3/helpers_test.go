package pop3

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/internal/transcripttest"
	"github.com/mailhop/mailhop/sim/store"
)

var start = transcripttest.Start

const bob = transcripttest.Bob

// world is the shared test world (sim/internal/transcripttest) with a POP3
// server on store.example.net, port 110.
type world struct {
	*transcripttest.World
	srv *Server
}

// option changes a world before its server starts.
type option func(*world)

// with changes the server's fields.
func with(f func(*Server)) option { return func(w *world) { f(w.srv) } }

// cleartextRefused is the production policy: no InsecureAuth.
func cleartextRefused() option { return with(func(s *Server) { s.InsecureAuth = false }) }

// withTLS offers STLS with the world's certificate.
func withTLS() option { return func(w *world) { w.srv.TLSConfig = w.ServerTLS } }

// fromLoopback makes the server believe its clients come from 127.0.0.1.
func fromLoopback() option { return func(w *world) { w.Loopback = true } }

// untraced runs the world without a trace.
func untraced() option { return func(w *world) { w.Trace = nil } }

// newWorld starts a server whose store holds msgs in bob's INBOX. By
// default cleartext logins are allowed (the simulated network) and failed
// logins are not delayed; opts change that.
func newWorld(t testing.TB, msgs []string, opts ...option) *world {
	t.Helper()
	w := &world{World: transcripttest.NewWorld(t)}
	for _, m := range msgs {
		w.Deliver(t, store.Inbox, []byte(m))
	}
	w.srv = &Server{
		Hostname:     "store.example.net",
		Store:        w.Store,
		Users:        w.Users,
		InsecureAuth: true,
		Clock:        w.Clock,
		FailDelay:    -1,
	}
	for _, o := range opts {
		o(w)
	}
	w.srv.Trace = w.Trace
	w.Start(110, w.srv, ErrServerClosed)
	return w
}

// dial connects bob's machine to the server and reads nothing. Its
// transcripts know {V}, the INBOX's UIDVALIDITY, and {APOP user secret},
// the APOP command answering this session's greeting.
func (w *world) dial(t testing.TB) *transcripttest.Conn {
	t.Helper()
	c := w.Dial(t)
	c.Vars = func(name string, args []string) (string, bool) {
		switch {
		case name == "V" && len(args) == 0:
			return strconv.FormatUint(uint64(w.validity()), 10), true
		case name == "APOP" && len(args) == 2:
			return "APOP " + args[0] + " " + APOPDigest(timestampOf(c.Greeting()), args[1]), true
		}
		return "", false
	}
	return c
}

// connect dials and reads the greeting.
func (w *world) connect(t testing.TB) *transcripttest.Conn {
	t.Helper()
	c := w.dial(t)
	c.Run("S: +OK *")
	return c
}

// login connects and logs bob in with USER and PASS.
func (w *world) login(t testing.TB) *transcripttest.Conn {
	t.Helper()
	c := w.connect(t)
	c.Run(`
		C: USER bob
		S: +OK *
		C: PASS bob
		S: +OK *`)
	return c
}

// validity is the UIDVALIDITY of bob's INBOX.
func (w *world) validity() uint32 { return w.Status(w.T, store.Inbox).UIDValidity }

// inbox lists bob's INBOX as "uid:flags" strings.
func (w *world) inbox(t testing.TB) []string {
	t.Helper()
	return w.Flags(t, store.Inbox)
}

// waitUnlocked waits until no session holds user's maildrop: the session
// before has ended.
func (w *world) waitUnlocked(t testing.TB, user string) {
	t.Helper()
	waitUnlocked(t, w.Store, user)
}

func waitUnlocked(t testing.TB, st store.Store, user string) {
	t.Helper()
	deadline := time.Now().Add(transcripttest.WallLimit())
	for {
		unlock, err := st.Lock(user)
		if err == nil {
			unlock()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the maildrop of %s stays locked: %v", user, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// multi reads the lines of a multi-line answer up to the ".", undoing the
// dot-stuffing.
func multi(c *transcripttest.Conn) []string {
	c.T().Helper()
	var out []string
	for {
		s := c.Line()
		if s == "." {
			return out
		}
		out = append(out, strings.TrimPrefix(s, "."))
	}
}

// timestampOf finds the APOP timestamp in a greeting.
func timestampOf(greeting string) string {
	i := strings.LastIndex(greeting, "<")
	if i < 0 {
		return ""
	}
	return greeting[i:]
}

// mkMessage builds a CRLF message of exactly size octets (when size is large
// enough for its header), with a Message-ID.
func mkMessage(id, subject string, size int) string {
	head := fmt.Sprintf("From: alice@example.org\r\nTo: bob@example.net\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\n", subject, id)
	body := "Hello Bob.\r\n"
	if pad := size - len(head) - len(body) - 2; pad > 0 {
		body += strings.Repeat("z", pad) + "\r\n"
	}
	return head + body
}

// twoMessages are the maildrop of RFC 1939 §10: 120 and 200 octets.
var twoMessages = []string{
	mkMessage("1@example.org", "first", 120),
	mkMessage("2@example.org", "second", 200),
}
