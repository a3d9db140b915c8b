package imap

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"testing"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhop/mailhop/sim/store"
)

// A session as RFC 9051 §8 shows one, line by line.
func TestTranscript(t *testing.T) {
	w := newWorld(t)
	w.deliver(t, "INBOX", msg(1), msg(2), msg(3))
	w.store.SetFlags(bob, "INBOX", []store.UID{1}, store.FlagsAdd, []string{store.FlagSeen})
	w.store.CreateMailbox(bob, "Sent")
	v := fmt.Sprint(mustStatus(t, w, "INBOX").UIDValidity)
	r := w.raw(t)
	script := []struct {
		send string
		want []string // untagged lines, then the tagged one
	}{
		{"a001 LOGIN bob@example.net bob", []string{"a001 OK [CAPABILITY *] Logged in"}},
		{"a002 SELECT INBOX", []string{
			"* 3 EXISTS",
			"* 0 RECENT",
			"* OK [UNSEEN 2] First unseen message",
			"* OK [UIDVALIDITY " + v + "] UIDs valid",
			"* OK [UIDNEXT 4] Predicted next UID",
			`* FLAGS (\Answered \Deleted \Draft \Flagged \Seen)`,
			`* OK [PERMANENTFLAGS (\Answered \Deleted \Draft \Flagged \Seen \*)] Permanent flags`,
			"a002 OK [READ-WRITE] SELECT completed",
		}},
		{"a003 FETCH 2:3 (UID FLAGS RFC822.SIZE)", []string{
			fmt.Sprintf("* 2 FETCH (UID 2 FLAGS () RFC822.SIZE %d)", len(msg(2))),
			fmt.Sprintf("* 3 FETCH (UID 3 FLAGS () RFC822.SIZE %d)", len(msg(3))),
			"a003 OK FETCH completed",
		}},
		{"a004 FETCH 2 BODY[HEADER.FIELDS (SUBJECT)]", []string{
			`* 2 FETCH (FLAGS (\Seen) BODY[HEADER.FIELDS ("SUBJECT")] {22}`,
			"Subject: message 2",
			"",
			")",
			"a004 OK FETCH completed",
		}},
		{`a005 STORE 3 +FLAGS (\Deleted)`, []string{`* 3 FETCH (FLAGS (\Deleted))`, "a005 OK STORE completed"}},
		{"a006 EXPUNGE", []string{"* 3 EXPUNGE", "a006 OK EXPUNGE completed"}},
		{"a007 UID SEARCH UNSEEN", []string{"* SEARCH", "a007 OK UID SEARCH completed"}},
		{"a008 LIST \"\" %", []string{`* LIST (\HasNoChildren) "/" INBOX`, `* LIST (\HasNoChildren \Sent) "/" "Sent"`, "a008 OK LIST completed"}},
		{`a008b UNSUBSCRIBE Sent`, []string{"a008b OK UNSUBSCRIBE completed"}},
		{`a008c LSUB "" *`, []string{`* LSUB (\HasNoChildren \Subscribed) "/" INBOX`, "a008c OK LSUB completed"}},
		{`a008d SUBSCRIBE Sent`, []string{"a008d OK SUBSCRIBE completed"}},
		{"a009 UID COPY 1:2 Sent", []string{"a009 OK [COPYUID " + fmt.Sprint(mustStatus(t, w, "Sent").UIDValidity) + " 1:2 1:2] COPY completed"}},
		{"a010 NAMESPACE", []string{`* NAMESPACE (("" "/")) NIL NIL`, "a010 OK NAMESPACE completed"}},
		{"a011 LOGOUT", []string{"* BYE Logging out", "a011 OK LOGOUT completed"}},
	}
	for _, step := range script {
		tag, _, _ := strings.Cut(step.send, " ")
		untagged, tagged := r.cmd(tag, strings.TrimPrefix(step.send, tag+" "))
		got := append(untagged, tagged)
		if len(got) != len(step.want) {
			t.Errorf("C: %s\ngot  %q\nwant %q", step.send, got, step.want)
			continue
		}
		for i := range got {
			if pre, ok := strings.CutSuffix(step.want[i], "*] Logged in"); ok {
				if !strings.HasPrefix(got[i], pre) {
					t.Errorf("C: %s\nS: %s\nwant %s", step.send, got[i], step.want[i])
				}
				continue
			}
			if got[i] != step.want[i] {
				t.Errorf("C: %s\nS: %s\nwant %s", step.send, got[i], step.want[i])
			}
		}
	}
}

func mustStatus(t *testing.T, w *world, name string) store.Status {
	t.Helper()
	st, err := w.store.Status(bob, name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// An IMAP4rev2 client (ENABLE IMAP4rev2) gets ESEARCH, no RECENT, and
// UTF-8 mailbox names.
func TestIMAP4rev2(t *testing.T) {
	w := newWorld(t)
	w.deliver(t, "INBOX", msg(1), msg(2))
	r := w.raw(t)
	r.expect("a1", "LOGIN bob bob", "OK")
	if u := r.expect("a2", "ENABLE IMAP4rev2", "OK"); !slices.Equal(u, []string{"* ENABLED IMAP4rev2"}) {
		t.Errorf("ENABLE: %q", u)
	}
	u := r.expect("a3", "SELECT INBOX", "OK")
	for _, l := range u {
		if strings.Contains(l, "RECENT") || strings.Contains(l, "UNSEEN") {
			t.Errorf("IMAP4rev2 SELECT says %q", l)
		}
	}
	if u := r.expect("a4", "SEARCH ALL", "OK"); !slices.Equal(u, []string{`* ESEARCH (TAG "a4") ALL 1:2`}) {
		t.Errorf("SEARCH: %q", u)
	}
	r.expect("a5", `CREATE "Café"`, "OK")
	if u := r.expect("a6", `LIST "" "Caf*"`, "OK"); !slices.Equal(u, []string{`* LIST (\HasNoChildren) "/" "Café"`}) {
		t.Errorf("LIST: %q", u)
	}
	if _, err := w.store.Status(bob, "Café"); err != nil {
		t.Errorf("the store has no Café: %v", err)
	}
}

// A TLS listener (port 993): passwords are accepted at once, and STARTTLS
// is not offered.
func TestImplicitTLS(t *testing.T) {
	srvTLS, cliTLS := selfSigned(t, "store.example.net")
	w := newWorld(t, with(func(s *Server) { s.InsecureAuth = false; s.TLSConfig = srvTLS }))
	l, err := w.host.Listen("tcp", ":993")
	if err != nil {
		t.Fatal(err)
	}
	go w.srv.Serve(tls.NewListener(l, srvTLS))
	conn, err := w.client.DialContext(t.Context(), "tcp", "198.51.100.30:993")
	if err != nil {
		t.Fatal(err)
	}
	c := imapclient.New(tls.Client(conn, cliTLS), nil)
	defer c.Close()
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if caps.Has(goimap.CapStartTLS) || caps.Has(goimap.CapLoginDisabled) || !caps.Has("AUTH=PLAIN") {
		t.Errorf("capabilities over TLS: %v", caps)
	}
	if err := c.Login("bob", "bob").Wait(); err != nil {
		t.Fatal(err)
	}
}
