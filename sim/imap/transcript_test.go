package imap

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhop/mailhop/sim/store"
)

// A session as RFC 9051 §8 shows one, line by line. {UIDVALIDITY box} is
// the UIDVALIDITY of a mailbox of bob's, {SIZE n} the size of msg(n).
func TestTranscript(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), msg(2), msg(3))
	w.Store.SetFlags(bob, "INBOX", []store.UID{1}, store.FlagsAdd, []string{store.FlagSeen})
	r := w.raw(t)
	r.Vars = func(name string, args []string) (string, bool) {
		switch {
		case name == "UIDVALIDITY" && len(args) == 1:
			return fmt.Sprint(w.Status(t, args[0]).UIDValidity), true
		case name == "SIZE" && len(args) == 1:
			n, err := strconv.Atoi(args[0])
			return fmt.Sprint(len(msg(n))), err == nil
		}
		return "", false
	}
	r.Run(`
		C: a001 LOGIN bob@example.net bob
		S~ a001 OK \[CAPABILITY [^]]*\] Logged in
		C: a002 SELECT INBOX
		S: * 3 EXISTS
		S: * 3 RECENT
		S: * OK [UNSEEN 2] First unseen message
		S: * OK [UIDVALIDITY {UIDVALIDITY INBOX}] UIDs valid
		S: * OK [UIDNEXT 4] Predicted next UID
		S: * FLAGS (\Answered \Deleted \Draft \Flagged \Seen)
		S: * OK [PERMANENTFLAGS (\Answered \Deleted \Draft \Flagged \Seen \*)] Permanent flags
		S: a002 OK [READ-WRITE] SELECT completed
		C: a003 FETCH 2:3 (UID FLAGS RFC822.SIZE)
		S: * 2 FETCH (UID 2 FLAGS (\Recent) RFC822.SIZE {SIZE 2})
		S: * 3 FETCH (UID 3 FLAGS (\Recent) RFC822.SIZE {SIZE 3})
		S: a003 OK FETCH completed
		C: a004 FETCH 2 BODY[HEADER.FIELDS (SUBJECT)]
		S: * 2 FETCH (FLAGS (\Seen \Recent) BODY[HEADER.FIELDS ("SUBJECT")] {22}
		S: Subject: message 2
		S:
		S: )
		S: a004 OK FETCH completed
		C: a005 STORE 3 +FLAGS (\Deleted)
		S: * 3 FETCH (FLAGS (\Deleted \Recent))
		S: a005 OK STORE completed
		C: a006 EXPUNGE
		S: * 3 EXPUNGE
		S: a006 OK EXPUNGE completed
		C: a007 UID SEARCH UNSEEN
		S: * SEARCH
		S: a007 OK UID SEARCH completed
		C: a008 LIST "" %
		S: * LIST (\HasNoChildren) "/" INBOX
		S: * LIST (\HasNoChildren \Drafts) "/" "Drafts"
		S: * LIST (\HasNoChildren \Junk) "/" "Junk"
		S: * LIST (\HasNoChildren \Sent) "/" "Sent"
		S: * LIST (\HasNoChildren \Trash) "/" "Trash"
		S: a008 OK LIST completed
		C: a008b UNSUBSCRIBE Sent
		S: a008b OK UNSUBSCRIBE completed
		C: a008c LSUB "" *
		S: * LSUB (\HasNoChildren) "/" INBOX
		S: * LSUB (\HasNoChildren \Drafts) "/" "Drafts"
		S: * LSUB (\HasNoChildren \Junk) "/" "Junk"
		S: * LSUB (\HasNoChildren \Trash) "/" "Trash"
		S: a008c OK LSUB completed
		C: a008d SUBSCRIBE Sent
		S: a008d OK SUBSCRIBE completed
		C: a009 UID COPY 1:2 Sent
		S: a009 OK [COPYUID {UIDVALIDITY Sent} 1:2 1:2] COPY completed
		C: a010 NAMESPACE
		S: * NAMESPACE (("" "/")) NIL NIL
		S: a010 OK NAMESPACE completed
		C: a011 LOGOUT
		S: * BYE Logging out
		S: a011 OK LOGOUT completed
		S: <closed>`)
}

// An IMAP4rev2 client (ENABLE IMAP4rev2) gets ESEARCH, no RECENT, and
// UTF-8 mailbox names.
func TestIMAP4rev2(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), msg(2))
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
	if _, err := w.Store.Status(bob, "Café"); err != nil {
		t.Errorf("the store has no Café: %v", err)
	}
}

// A TLS listener (port 993): passwords are accepted at once, and STARTTLS
// is not offered.
func TestImplicitTLS(t *testing.T) {
	w := newWorld(t, withTLS(), with(func(s *Server) { s.InsecureAuth = false }))
	l, err := w.Host.Listen("tcp", ":993")
	if err != nil {
		t.Fatal(err)
	}
	go w.srv.Serve(tls.NewListener(l, w.ServerTLS))
	conn, err := w.Client.DialContext(t.Context(), "tcp", "198.51.100.30:993")
	if err != nil {
		t.Fatal(err)
	}
	c := imapclient.New(tls.Client(conn, w.ClientTLS), nil)
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
