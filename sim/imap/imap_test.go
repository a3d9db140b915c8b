package imap

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/mailhop/mailhop/sim/internal/transcripttest"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

func TestCapabilities(t *testing.T) {
	w := newWorld(t, withTLS())
	c := w.connect(t, nil)
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []goimap.Cap{"IMAP4rev1", "IMAP4rev2", "STARTTLS", "AUTH=PLAIN", "SASL-IR", "LITERAL-"} {
		if !caps.Has(want) {
			t.Errorf("before login: no %s in %v", want, caps)
		}
	}
	if caps.Has(goimap.CapLoginDisabled) {
		t.Errorf("InsecureAuth server says LOGINDISABLED")
	}
	if err := c.Login(bob, "bob").Wait(); err != nil {
		t.Fatal(err)
	}
	caps, err = c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []goimap.Cap{"NAMESPACE", "UIDPLUS", "MOVE", "IDLE", "UNSELECT", "ESEARCH", "SEARCHRES",
		"SPECIAL-USE", "LIST-STATUS", "STATUS=SIZE", "CHILDREN", "BINARY", "APPENDLIMIT=67108864"} {
		if !caps.Has(want) {
			t.Errorf("after login: no %s in %v", want, caps)
		}
	}
	if caps.Has("STARTTLS") {
		t.Errorf("STARTTLS offered after login")
	}
}

func TestLogin(t *testing.T) {
	w := newWorld(t)
	for _, login := range []string{bob, "bob", "BOB@Example.NET"} {
		c := w.connect(t, nil)
		if err := c.Login(login, "bob").Wait(); err != nil {
			t.Errorf("LOGIN %s: %v", login, err)
		}
	}
	c := w.connect(t, nil)
	err := c.Login(bob, "wrong").Wait()
	if responseCode(err) != goimap.ResponseCodeAuthenticationFailed {
		t.Errorf("wrong password: %v, want NO [AUTHENTICATIONFAILED]", err)
	}
	if err := c.Login(bob, "bob").Wait(); err != nil {
		t.Errorf("second try: %v", err)
	}

	// AUTHENTICATE PLAIN, with and without an authorization identity.
	c = w.connect(t, nil)
	if err := c.Authenticate(sasl.NewPlainClient("", "bob", "bob")); err != nil {
		t.Errorf("AUTHENTICATE PLAIN: %v", err)
	}
	c = w.connect(t, nil)
	if err := c.Authenticate(sasl.NewPlainClient(bob, "bob", "bob")); err != nil {
		t.Errorf("AUTHENTICATE PLAIN as oneself: %v", err)
	}
	c = w.connect(t, nil)
	err = c.Authenticate(sasl.NewPlainClient("alice@example.net", "bob", "bob"))
	if responseCode(err) != goimap.ResponseCodeAuthorizationFailed {
		t.Errorf("AUTHENTICATE PLAIN as alice: %v, want NO [AUTHORIZATIONFAILED]", err)
	}

	// A user of the directory with no mailbox yet (dave) gets an empty
	// INBOX.
	c = w.connect(t, nil)
	if err := c.Login("dave", "dave").Wait(); err != nil {
		t.Fatal(err)
	}
	if data, err := c.Select("INBOX", nil).Wait(); err != nil || data.NumMessages != 0 {
		t.Errorf("dave's INBOX: %+v, %v", data, err)
	}

	// Malformed PLAIN responses get a BAD, not a server bug.
	r := w.raw(t)
	r.expect("a1", "AUTHENTICATE PLAIN bm90LXBsYWlu", "BAD") // "not-plain"
	r.expect("a2", "LOGIN bob bob", "OK")
}

func TestLoginNeedsTLSOffLoopback(t *testing.T) {
	w := newWorld(t, withTLS(), with(func(s *Server) { s.InsecureAuth = false }))
	c := w.connect(t, nil)
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Has(goimap.CapLoginDisabled) || caps.Has("AUTH=PLAIN") || !caps.Has(goimap.CapStartTLS) {
		t.Errorf("cleartext capabilities %v: want LOGINDISABLED and STARTTLS, no AUTH=PLAIN", caps)
	}
	err = c.Login(bob, "bob").Wait()
	if responseCode(err) != goimap.ResponseCodePrivacyRequired {
		t.Errorf("cleartext LOGIN: %v, want NO [PRIVACYREQUIRED]", err)
	}
	r := w.raw(t)
	r.expect("a1", "AUTHENTICATE PLAIN AGJvYgBib2I=", "NO [PRIVACYREQUIRED]")

	// After STARTTLS the same login works.
	tc, err := imapclient.NewStartTLS(w.NetConn(t), &imapclient.Options{TLSConfig: w.ClientTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	caps, err = tc.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if caps.Has(goimap.CapLoginDisabled) || !caps.Has("AUTH=PLAIN") || caps.Has(goimap.CapStartTLS) {
		t.Errorf("capabilities in TLS %v", caps)
	}
	if err := tc.Login(bob, "bob").Wait(); err != nil {
		t.Fatalf("LOGIN in TLS: %v", err)
	}
	if _, err := tc.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestFailedLoginsDelayedAndLimited(t *testing.T) {
	w := newWorld(t, with(func(s *Server) { s.LoginFailDelay = 2 * time.Second }))
	r := w.raw(t)
	// The answer to a wrong password waits 2 s on the server's clock.
	answered := make(chan string, 1)
	go func() {
		_, tagged := r.cmd("a1", "LOGIN bob wrong")
		answered <- tagged
	}()
	waitTimers(t, w)
	select {
	case got := <-answered:
		t.Fatalf("answered before the delay: %q", got)
	case <-time.After(50 * time.Millisecond):
	}
	w.Clock.Advance(2 * time.Second)
	if got := <-answered; !strings.HasPrefix(got, "a1 NO [AUTHENTICATIONFAILED]") {
		t.Fatalf("got %q", got)
	}
	// The second failure from the same peer waits twice as long.
	go func() {
		_, tagged := r.cmd("a2", "LOGIN bob wrong")
		answered <- tagged
	}()
	waitTimers(t, w)
	w.Clock.Advance(2 * time.Second)
	select {
	case got := <-answered:
		t.Fatalf("second failure answered after 2s: %q", got)
	case <-time.After(50 * time.Millisecond):
	}
	w.Clock.Advance(2 * time.Second)
	<-answered
	// The third failure ends the connection: the next attempt gets BYE.
	go func() {
		_, tagged := r.cmd("a3", "LOGIN bob wrong")
		answered <- tagged
	}()
	waitTimers(t, w)
	w.Clock.Advance(8 * time.Second)
	if got := <-answered; !strings.Contains(got, "no more logins") {
		t.Fatalf("third failure: %q", got)
	}
	r.Write("a4 LOGIN bob bob\r\n")
	closed, lines := r.Drain()
	if !closed || len(lines) == 0 || !strings.HasPrefix(lines[0], "* BYE") {
		t.Fatalf("after 3 failures: closed %v, lines %q", closed, lines)
	}
	// A right password is not delayed.
	c := w.connect(t, nil)
	if err := c.Login(bob, "bob").Wait(); err != nil {
		t.Fatal(err)
	}
}

// waitTimers waits until the server sleeps on the virtual clock.
func waitTimers(t *testing.T, w *world) {
	t.Helper()
	deadline := time.Now().Add(transcripttest.WallLimit())
	for time.Now().Before(deadline) {
		if _, ok := w.Clock.Next(); ok {
			// netsim deadlines are timers too: look for one due within
			// the login delay range.
			if next, _ := w.Clock.Next(); next.Sub(w.Clock.Now()) <= 16*time.Second {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the server never slept")
}

func names(list []*goimap.ListData) []string {
	var out []string
	for _, l := range list {
		var attrs []string
		for _, a := range l.Attrs {
			attrs = append(attrs, string(a))
		}
		out = append(out, l.Mailbox+" "+strings.Join(attrs, ","))
	}
	return out
}

func TestMailboxes(t *testing.T) {
	w := newWorld(t)
	c := w.login(t, nil)
	// go-imap's client sends a non-ASCII name in UTF-8 to a server that
	// advertises IMAP4rev2: the server takes it once the client enabled
	// UTF8=ACCEPT (RFC 6855 §3), and refuses it before (RFC 3501 §5.1).
	if err := c.Create("Caffè", nil).Wait(); responseCode(err) != goimap.ResponseCodeCannot {
		t.Errorf("CREATE Caffè before ENABLE UTF8=ACCEPT: %v", err)
	}
	if _, err := c.Enable(goimap.CapUTF8Accept).Wait(); err != nil {
		t.Fatal(err)
	}
	// A new user has the special-use mailboxes already (RFC 6154).
	if err := c.Create("Sent", nil).Wait(); responseCode(err) != goimap.ResponseCodeAlreadyExists {
		t.Errorf("CREATE Sent: %v", err)
	}
	for _, name := range []string{"Work/2026/Q1", "Caffè"} {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Fatalf("CREATE %s: %v", name, err)
		}
	}
	if err := c.Create("Notes/", nil).Wait(); err != nil {
		t.Fatalf("CREATE with a trailing delimiter: %v", err)
	}
	err := c.Create("inbox", nil).Wait()
	if responseCode(err) != goimap.ResponseCodeAlreadyExists {
		t.Errorf("CREATE inbox: %v", err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`INBOX \HasNoChildren`,
		`Caffè \HasNoChildren`,
		`Drafts \HasNoChildren,\Drafts`,
		`Junk \HasNoChildren,\Junk`,
		`Notes \HasNoChildren`,
		`Sent \HasNoChildren,\Sent`,
		`Trash \HasNoChildren,\Trash`,
		`Work \HasChildren`,
		`Work/2026 \HasChildren`,
		`Work/2026/Q1 \HasNoChildren`,
	}
	if got := names(list); !slices.Equal(got, want) {
		t.Errorf("LIST * =\n%q\nwant\n%q", got, want)
	}
	for _, l := range list {
		if l.Delim != '/' {
			t.Errorf("delimiter %q", l.Delim)
		}
	}
	list, _ = c.List("", "%", nil).Collect()
	if got := len(list); got != 8 {
		t.Errorf("LIST %% gives %d: %q", got, names(list))
	}
	list, _ = c.List("Work/", "%", nil).Collect()
	if got := names(list); !slices.Equal(got, []string{`Work/2026 \HasChildren`}) {
		t.Errorf("LIST Work/ %% = %q", got)
	}
	list, _ = c.List("", "inbox", nil).Collect()
	if got := names(list); !slices.Equal(got, []string{`INBOX \HasNoChildren`}) {
		t.Errorf("LIST inbox = %q", got)
	}
	list, _ = c.List("", "*", &goimap.ListOptions{SelectSpecialUse: true}).Collect()
	if got := len(list); got != 4 {
		t.Errorf("LIST (SPECIAL-USE) = %q", names(list))
	}
	list, _ = c.List("", "", nil).Collect()
	if len(list) != 1 || list[0].Delim != '/' || list[0].Mailbox != "" {
		t.Errorf(`LIST "" "" = %+v`, list)
	}

	// RENAME moves children; DELETE leaves them.
	if err := c.Rename("Work", "Job", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("Job/2026").Wait(); err != nil {
		t.Fatal(err)
	}
	list, _ = c.List("", "Job*", nil).Collect()
	if got := names(list); !slices.Equal(got, []string{`Job \HasChildren`, `Job/2026/Q1 \HasNoChildren`}) {
		t.Errorf("after rename and delete: %q", got)
	}
	list, _ = c.List("Job/", "%", nil).Collect()
	if got := names(list); !slices.Equal(got, []string{`Job/2026 \Noselect,\HasChildren`}) {
		t.Errorf("a deleted superior: %q", got)
	}
	if err := c.Delete("INBOX").Wait(); responseCode(err) != goimap.ResponseCodeCannot {
		t.Errorf("DELETE INBOX: %v", err)
	}
	if err := c.Delete("Nope").Wait(); responseCode(err) != goimap.ResponseCodeNonExistent {
		t.Errorf("DELETE Nope: %v", err)
	}
	if err := c.Rename("Nope", "Other", nil).Wait(); responseCode(err) != goimap.ResponseCodeNonExistent {
		t.Errorf("RENAME Nope: %v", err)
	}

	// Subscriptions.
	if err := c.Unsubscribe("Trash").Wait(); err != nil {
		t.Fatal(err)
	}
	list, _ = c.List("", "*", &goimap.ListOptions{SelectSubscribed: true}).Collect()
	for _, l := range list {
		if l.Mailbox == "Trash" {
			t.Errorf("unsubscribed Trash listed: %q", names(list))
		}
	}
	if err := c.Subscribe("Trash").Wait(); err != nil {
		t.Fatal(err)
	}
	// CREATE does not subscribe (RFC 9051 §6.3.4, §6.3.7): INBOX and
	// the special-use mailboxes are the store's, subscribed.
	list, _ = c.List("", "*", &goimap.ListOptions{ReturnSubscribed: true}).Collect()
	var subscribed []string
	for _, l := range list {
		if slices.Contains(l.Attrs, goimap.MailboxAttrSubscribed) {
			subscribed = append(subscribed, l.Mailbox)
		}
	}
	if want := []string{"INBOX", "Drafts", "Junk", "Sent", "Trash"}; !slices.Equal(subscribed, want) {
		t.Errorf("subscribed: %q, want %q", subscribed, want)
	}

	// LIST-STATUS.
	w.Deliver(t, "INBOX", msg(1), msg(2))
	list, err = c.List("", "INBOX", &goimap.ListOptions{ReturnStatus: &goimap.StatusOptions{NumMessages: true, NumUnseen: true}}).Collect()
	if err != nil || len(list) != 1 || list[0].Status == nil || *list[0].Status.NumMessages != 2 || *list[0].Status.NumUnseen != 2 {
		t.Errorf("LIST RETURN (STATUS): %+v %v", list, err)
	}
}

func TestStatusNamespaceUnselect(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), msg(2), msg(3))
	w.Store.SetFlags(bob, "INBOX", []store.UID{1}, store.FlagsAdd, []string{store.FlagSeen})
	w.Store.SetFlags(bob, "INBOX", []store.UID{2}, store.FlagsAdd, []string{store.FlagDeleted})
	c := w.login(t, nil)
	st, err := c.Status("INBOX", &goimap.StatusOptions{
		NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true, NumDeleted: true, Size: true,
	}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	sst, _ := w.Store.Status(bob, "INBOX")
	if *st.NumMessages != 3 || st.UIDNext != 4 || st.UIDValidity != sst.UIDValidity || *st.NumUnseen != 2 ||
		*st.NumDeleted != 1 || *st.Size != sst.Size {
		t.Errorf("STATUS %+v", st)
	}
	r := w.raw(t)
	r.expect("a1", "LOGIN bob bob", "OK")
	u := r.expect("a2", "STATUS INBOX (MESSAGES DELETED-STORAGE APPENDLIMIT RECENT)", "OK")
	if want := fmt.Sprintf("* STATUS INBOX (MESSAGES 3 APPENDLIMIT 67108864 DELETED-STORAGE %d RECENT 3)", len(msg(2))); len(u) != 1 || u[0] != want {
		t.Errorf("STATUS = %q, want %q", u, want)
	}
	r.expect("a3", "STATUS Nope (MESSAGES)", "NO [NONEXISTENT]")

	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Prefix != "" || ns.Personal[0].Delim != '/' || ns.Other != nil || ns.Shared != nil {
		t.Errorf("NAMESPACE %+v %v", ns, err)
	}

	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	// imapclient updates its state after Wait returns: a NOOP orders it.
	c.Noop().Wait()
	if c.State() != goimap.ConnStateAuthenticated {
		t.Errorf("state after UNSELECT: %v", c.State())
	}
	if got := w.Flags(t, "INBOX"); len(got) != 3 {
		t.Errorf("UNSELECT expunged: %q", got)
	}
	// CLOSE expunges; CLOSE of an EXAMINEd mailbox does not.
	if _, err := c.Select("INBOX", &goimap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		t.Fatalf("CLOSE after EXAMINE: %v", err)
	}
	if got := w.Flags(t, "INBOX"); len(got) != 3 {
		t.Errorf("CLOSE after EXAMINE expunged: %q", got)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		t.Fatal(err)
	}
	if got := w.Flags(t, "INBOX"); !slices.Equal(got, []string{`1:\Seen`, "3:"}) {
		t.Errorf("after CLOSE: %q", got)
	}
	w.srv.mu.Lock()
	n := len(w.srv.boxes)
	w.srv.mu.Unlock()
	if n != 0 {
		t.Errorf("%d mailboxes still tracked after every session unselected", n)
	}
}

const multipart = "From: Alice <alice@example.org>\r\n" +
	"To: Bob <bob@example.net>, carol@example.net\r\n" +
	"Cc: Dave <dave@example.net>\r\n" +
	"Subject: =?utf-8?q?Caf=C3=A9?= menu\r\n" +
	"Date: Thu, 01 Jan 2026 10:00:00 +0100\r\n" +
	"Message-ID: <mp@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=XYZ\r\n" +
	"\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Soup of the day.\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/html\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"PGI+U291cDwvYj4=\r\n" +
	"--XYZ--\r\n"

func TestFetch(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), []byte(multipart))
	c, sel := w.selectInbox(t, nil)
	if sel.NumMessages != 2 || sel.UIDNext != 3 {
		t.Fatalf("SELECT %+v", sel)
	}
	items := &goimap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, RFC822Size: true, Envelope: true,
		BodyStructure: &goimap.FetchItemBodyStructure{Extended: true},
		BodySection: []*goimap.FetchItemBodySection{
			{Peek: true},
			{Peek: true, Specifier: goimap.PartSpecifierHeader},
			{Peek: true, Specifier: goimap.PartSpecifierText},
			{Peek: true, Specifier: goimap.PartSpecifierHeader, HeaderFields: []string{"Subject", "message-id"}},
			{Peek: true, Part: []int{1}},
			{Peek: true, Part: []int{2}, Specifier: goimap.PartSpecifierMIME},
			{Peek: true, Partial: &goimap.SectionPartial{Offset: 6, Size: 5}},
		},
		BinarySection: []*goimap.FetchItemBinarySection{{Peek: true, Part: []int{2}}},
	}
	msgs, err := c.Fetch(goimap.SeqSetNum(2), items).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH: %v %v", msgs, err)
	}
	m := msgs[0]
	raw := []byte(multipart)
	hdrEnd := bytes.Index(raw, []byte("\r\n\r\n")) + 4
	checks := []struct {
		name      string
		got, want string
	}{
		{"UID", fmt.Sprint(m.UID), "2"},
		{"FLAGS", fmt.Sprint(m.Flags), "[\\Recent]"},
		{"INTERNALDATE", m.InternalDate.UTC().Format(time.RFC3339), start.Format(time.RFC3339)},
		{"RFC822.SIZE", fmt.Sprint(m.RFC822Size), fmt.Sprint(len(raw))},
		{"ENVELOPE subject", m.Envelope.Subject, "Café menu"},
		{"ENVELOPE from", fmt.Sprint(m.Envelope.From), "[{Alice alice example.org}]"},
		{"ENVELOPE to", fmt.Sprint(len(m.Envelope.To)), "2"},
		{"ENVELOPE message-id", m.Envelope.MessageID, "mp@example.org"},
		{"BODY[]", string(m.FindBodySection(items.BodySection[0])), multipart},
		{"BODY[HEADER]", string(m.FindBodySection(items.BodySection[1])), multipart[:hdrEnd]},
		{"BODY[TEXT]", string(m.FindBodySection(items.BodySection[2])), multipart[hdrEnd:]},
		{"BODY[HEADER.FIELDS]", string(m.FindBodySection(items.BodySection[3])), "Subject: =?utf-8?q?Caf=C3=A9?= menu\r\nMessage-ID: <mp@example.org>\r\n\r\n"},
		{"BODY[1]", string(m.FindBodySection(items.BodySection[4])), "Soup of the day."},
		{"BODY[2.MIME]", string(m.FindBodySection(items.BodySection[5])), "Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"},
		{"BODY[]<6.5>", string(m.FindBodySection(items.BodySection[6])), "Alice"},
		{"BINARY[2]", string(m.FindBinarySection(items.BinarySection[0])), "<b>Soup</b>"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	bs, ok := m.BodyStructure.(*goimap.BodyStructureMultiPart)
	if !ok || bs.Subtype != "mixed" || len(bs.Children) != 2 {
		t.Fatalf("BODYSTRUCTURE %#v", m.BodyStructure)
	}
	if p := bs.Children[1].(*goimap.BodyStructureSinglePart); p.Type != "text" || p.Subtype != "html" || p.Encoding != "base64" {
		t.Errorf("part 2: %+v", p)
	}
	// .PEEK left \Seen alone; no body was fetched without it.
	if got := w.Flags(t, "INBOX"); !slices.Equal(got, []string{"1:", "2:"}) {
		t.Errorf("after PEEK: %q", got)
	}

	// BODY[] sets \Seen and says so in the same response.
	msgs, err = c.Fetch(goimap.SeqSetNum(1), &goimap.FetchOptions{BodySection: []*goimap.FetchItemBodySection{{}}}).Collect()
	if err != nil || len(msgs) != 1 || !slices.Equal(msgs[0].Flags, []goimap.Flag{goimap.FlagSeen, flagRecent}) {
		t.Fatalf("FETCH BODY[]: %+v %v", msgs, err)
	}
	if got := w.Flags(t, "INBOX"); !slices.Equal(got, []string{`1:\Seen`, "2:"}) {
		t.Errorf("after BODY[]: %q", got)
	}
	// Once \Seen, a BODY[] fetch changes nothing and says no FLAGS.
	msgs, err = c.Fetch(goimap.SeqSetNum(1), &goimap.FetchOptions{BodySection: []*goimap.FetchItemBodySection{{}}}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].Flags != nil {
		t.Fatalf("second FETCH BODY[]: %+v %v", msgs, err)
	}
	// The trace has one fetch event per message body.
	ev := w.fetchEvents()
	if len(ev) != 3 {
		t.Fatalf("fetch events %+v", ev)
	}
	want := trace.Event{Kind: trace.KindFetch, Host: "store.example.net", Proto: "imap", Mailbox: "bob@example.net/INBOX", Msg: "m1@example.org", Text: "FETCH BODY[] uid 1"}
	got := ev[1]
	got.Seq, got.Time = 0, time.Time{}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("fetch event\n%+v\nwant\n%+v", got, want)
	}
	if ev[0].Msg != "mp@example.org" || !strings.HasPrefix(ev[0].Text, "FETCH BODY.PEEK[] BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[]<6.5> BINARY.PEEK[2] uid 2") {
		t.Errorf("first fetch event %+v", ev[0])
	}

	// EXAMINE never sets \Seen.
	if _, err := c.Select("INBOX", &goimap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(goimap.SeqSetNum(2), &goimap.FetchOptions{BodySection: []*goimap.FetchItemBodySection{{}}}).Collect(); err != nil {
		t.Fatal(err)
	}
	if got := w.Flags(t, "INBOX"); !slices.Equal(got, []string{`1:\Seen`, "2:"}) {
		t.Errorf("after BODY[] in EXAMINE: %q", got)
	}
	if err := c.Store(goimap.SeqSetNum(1), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.FlagFlagged}}, nil).Close(); responseCode(err) != goimap.ResponseCodeCannot {
		t.Errorf("STORE in EXAMINE: %v", err)
	}
	if _, err := c.Expunge().Collect(); responseCode(err) != goimap.ResponseCodeCannot {
		t.Errorf("EXPUNGE in EXAMINE: %v", err)
	}

	// UID FETCH, ranges, "*".
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err = c.Fetch(goimap.UIDSetNum(2), &goimap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 2 || msgs[0].SeqNum != 2 {
		t.Errorf("UID FETCH 2: %+v %v", msgs, err)
	}
	var all goimap.UIDSet
	all.AddRange(1, 0)
	msgs, err = c.Fetch(all, &goimap.FetchOptions{RFC822Size: true}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Errorf("UID FETCH 1:*: %+v %v", msgs, err)
	}
	// imapclient drops the answers to "*" (SeqSet.Contains never holds
	// for it), so this one is typed.
	r := w.raw(t)
	r.expect("a1", "LOGIN bob bob", "OK")
	r.expect("a2", "SELECT INBOX", "OK")
	if u := r.expect("a3", "FETCH * UID", "OK"); !slices.Equal(u, []string{"* 2 FETCH (UID 2)"}) {
		t.Errorf("FETCH * = %q", u)
	}
	if u := r.expect("a4", "FETCH 1:* (UID)", "OK"); !slices.Equal(u, []string{"* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)"}) {
		t.Errorf("FETCH 1:* = %q", u)
	}
	if u := r.expect("a5", "UID FETCH 5:* (FLAGS)", "OK"); !slices.Equal(u, []string{`* 2 FETCH (UID 2 FLAGS ())`}) {
		t.Errorf("UID FETCH 5:* = %q", u)
	}
	msgs, err = c.Fetch(goimap.SeqSetNum(7), &goimap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 0 {
		t.Errorf("FETCH 7: %+v %v", msgs, err)
	}
}

func TestMalformedMultipartDoesNotDropTheConnection(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", []byte("From: a@example.org\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all\r\n"), msg(2),
		[]byte("Subject: a header and no body\r\nFrom: b@example.org"))
	c, _ := w.selectInbox(t, nil)
	msgs, err := c.Fetch(goimap.SeqSetNum(3), &goimap.FetchOptions{Envelope: true, BodyStructure: &goimap.FetchItemBodyStructure{Extended: true}}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].Envelope == nil || msgs[0].Envelope.Subject != "a header and no body" {
		t.Fatalf("FETCH ENVELOPE of a message without a body: %+v %v", msgs, err)
	}
	msgs, err = c.Fetch(goimap.SeqSetNum(1, 2), &goimap.FetchOptions{BodyStructure: &goimap.FetchItemBodyStructure{Extended: true}}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("FETCH BODYSTRUCTURE: %+v %v", msgs, err)
	}
	msgs, err = c.Fetch(goimap.SeqSetNum(1, 2), &goimap.FetchOptions{BodyStructure: &goimap.FetchItemBodyStructure{}}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("FETCH BODY: %+v %v", msgs, err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestAppend(t *testing.T) {
	w := newWorld(t)
	c, _ := w.selectInbox(t, nil)
	date := time.Date(2025, 12, 24, 18, 30, 0, 0, time.FixedZone("", 3600))
	body := msg(1)
	cmd := c.Append("INBOX", int64(len(body)), &goimap.AppendOptions{Flags: []goimap.Flag{goimap.FlagSeen, "$Label1"}, Time: date})
	cmd.Write(body)
	cmd.Close()
	data, err := cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	st, _ := w.Store.Status(bob, "INBOX")
	if data.UID != 1 || data.UIDValidity != st.UIDValidity {
		t.Errorf("APPENDUID %+v, validity %d", data, st.UIDValidity)
	}
	if mb := c.Mailbox(); mb.NumMessages != 1 {
		t.Errorf("no EXISTS after APPEND to the selected mailbox: %d", mb.NumMessages)
	}
	list, _ := w.Store.List(bob, "INBOX")
	if len(list) != 1 || !list[0].Date.Equal(date) || !slices.Equal(list[0].Flags, []string{"$Label1", `\Seen`}) {
		t.Errorf("stored %+v", list)
	}
	got, _ := w.Store.Read(bob, "INBOX", 1)
	if !bytes.Equal(got, body) {
		t.Errorf("stored %q", got)
	}

	// Bare LF becomes CRLF; no date means the server's clock.
	lf := "Subject: lf\n\nline\n"
	cmd = c.Append("INBOX", int64(len(lf)), nil)
	cmd.Write([]byte(lf))
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	got, _ = w.Store.Read(bob, "INBOX", 2)
	if string(got) != "Subject: lf\r\n\r\nline\r\n" {
		t.Errorf("bare LF stored as %q", got)
	}
	list, _ = w.Store.List(bob, "INBOX")
	if !list[1].Date.Equal(start) {
		t.Errorf("internal date %v, want the server's clock %v", list[1].Date, start)
	}

	// To a mailbox that does not exist: TRYCREATE.
	cmd = c.Append("Nope", int64(len(body)), nil)
	cmd.Write(body)
	cmd.Close()
	if _, err := cmd.Wait(); responseCode(err) != goimap.ResponseCodeTryCreate {
		t.Errorf("APPEND to Nope: %v", err)
	}
	// An unknown system flag is refused.
	cmd = c.Append("INBOX", int64(len(body)), &goimap.AppendOptions{Flags: []goimap.Flag{`\Bogus`}})
	cmd.Write(body)
	cmd.Close()
	if _, err := cmd.Wait(); err == nil {
		t.Errorf("APPEND with \\Bogus accepted")
	}
	if got := w.Flags(t, "INBOX"); len(got) != 2 {
		t.Errorf("INBOX %q", got)
	}
}

func TestStoreAndSearch(t *testing.T) {
	w := newWorld(t)
	var msgs [][]byte
	for i := 1; i <= 6; i++ {
		msgs = append(msgs, msg(i))
	}
	msgs = append(msgs, []byte(multipart))
	w.Deliver(t, "INBOX", msgs...)
	c, _ := w.selectInbox(t, nil)

	res, err := c.Store(goimap.SeqSetNum(1, 2), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.FlagSeen, "$Work"}}, nil).Collect()
	if err != nil || len(res) != 2 || !slices.Equal(res[0].Flags, []goimap.Flag{"$Work", goimap.FlagSeen, flagRecent}) {
		t.Fatalf("STORE +FLAGS: %+v %v", res, err)
	}
	var uids goimap.UIDSet
	uids.AddNum(3)
	res, err = c.Store(uids, &goimap.StoreFlags{Op: goimap.StoreFlagsSet, Flags: []goimap.Flag{goimap.FlagFlagged, goimap.FlagDeleted}}, nil).Collect()
	if err != nil || len(res) != 1 || res[0].UID != 3 || res[0].SeqNum != 3 {
		t.Fatalf("UID STORE FLAGS: %+v %v", res, err)
	}
	res, err = c.Store(goimap.SeqSetNum(2), &goimap.StoreFlags{Op: goimap.StoreFlagsDel, Silent: true, Flags: []goimap.Flag{"$Work"}}, nil).Collect()
	if err != nil || len(res) != 0 {
		t.Fatalf("STORE -FLAGS.SILENT: %+v %v", res, err)
	}
	if got := w.Flags(t, "INBOX"); !slices.Equal(got[:3], []string{`1:$Work,\Seen`, `2:\Seen`, `3:\Deleted,\Flagged`}) {
		t.Errorf("flags %q", got)
	}
	w.Store.SetFlags(bob, "INBOX", []store.UID{6}, store.FlagsAdd, []string{store.FlagAnswered})

	search := func(criteria *goimap.SearchCriteria) []uint32 {
		t.Helper()
		data, err := c.Search(criteria, nil).Wait()
		if err != nil {
			t.Fatalf("SEARCH %+v: %v", criteria, err)
		}
		return data.AllSeqNums()
	}
	past := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		criteria *goimap.SearchCriteria
		want     []uint32
	}{
		{"ALL", &goimap.SearchCriteria{}, []uint32{1, 2, 3, 4, 5, 6, 7}},
		{"SEEN", &goimap.SearchCriteria{Flag: []goimap.Flag{goimap.FlagSeen}}, []uint32{1, 2}},
		{"UNSEEN", &goimap.SearchCriteria{NotFlag: []goimap.Flag{goimap.FlagSeen}}, []uint32{3, 4, 5, 6, 7}},
		{"KEYWORD", &goimap.SearchCriteria{Flag: []goimap.Flag{"$work"}}, []uint32{1}},
		{"DELETED FLAGGED", &goimap.SearchCriteria{Flag: []goimap.Flag{goimap.FlagDeleted, goimap.FlagFlagged}}, []uint32{3}},
		{"ANSWERED", &goimap.SearchCriteria{Flag: []goimap.Flag{goimap.FlagAnswered}}, []uint32{6}},
		{"SUBJECT", &goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "Subject", Value: "MESSAGE 4"}}}, []uint32{4}},
		{"SUBJECT encoded", &goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "Subject", Value: "café"}}}, []uint32{7}},
		{"FROM", &goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "From", Value: "alice@example.org"}}}, []uint32{1, 2, 3, 4, 5, 6, 7}},
		{"CC", &goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "Cc", Value: "dave"}}}, []uint32{7}},
		{"HEADER present", &goimap.SearchCriteria{Header: []goimap.SearchCriteriaHeaderField{{Key: "MIME-Version", Value: ""}}}, []uint32{7}},
		{"BODY", &goimap.SearchCriteria{Body: []string{"message 5."}}, []uint32{5}},
		{"BODY base64", &goimap.SearchCriteria{Body: []string{"<b>soup"}}, []uint32{7}},
		{"BODY not header", &goimap.SearchCriteria{Body: []string{"Subject"}}, nil},
		{"TEXT header", &goimap.SearchCriteria{Text: []string{"m3@example"}}, []uint32{3}},
		{"TEXT body", &goimap.SearchCriteria{Text: []string{"soup of the DAY"}}, []uint32{7}},
		{"LARGER", &goimap.SearchCriteria{Larger: int64(len(msg(1)))}, []uint32{7}},
		{"SMALLER", &goimap.SearchCriteria{Smaller: int64(len(msg(1)) + 1)}, []uint32{1, 2, 3, 4, 5, 6}},
		{"SINCE", &goimap.SearchCriteria{Since: start}, []uint32{1, 2, 3, 4, 5, 6, 7}},
		{"BEFORE", &goimap.SearchCriteria{Before: start}, nil},
		{"SENTSINCE", &goimap.SearchCriteria{SentSince: past}, []uint32{1, 2, 3, 4, 5, 6, 7}},
		{"SENTBEFORE", &goimap.SearchCriteria{SentBefore: past}, nil},
		{"NOT", &goimap.SearchCriteria{Not: []goimap.SearchCriteria{{Flag: []goimap.Flag{goimap.FlagSeen}}}}, []uint32{3, 4, 5, 6, 7}},
		{"OR", &goimap.SearchCriteria{Or: [][2]goimap.SearchCriteria{{{Flag: []goimap.Flag{goimap.FlagAnswered}}, {Flag: []goimap.Flag{goimap.FlagDeleted}}}}}, []uint32{3, 6}},
		{"seq set", &goimap.SearchCriteria{SeqNum: []goimap.SeqSet{{{Start: 2, Stop: 4}}}}, []uint32{2, 3, 4}},
		{"seq *", &goimap.SearchCriteria{SeqNum: []goimap.SeqSet{{{Start: 0, Stop: 0}}}}, []uint32{7}},
		{"UID set", &goimap.SearchCriteria{UID: []goimap.UIDSet{{{Start: 6, Stop: 0}}}}, []uint32{6, 7}},
		{"UNSEEN SUBJECT", &goimap.SearchCriteria{NotFlag: []goimap.Flag{goimap.FlagSeen}, Header: []goimap.SearchCriteriaHeaderField{{Key: "Subject", Value: "message"}}}, []uint32{3, 4, 5, 6}},
	}
	for _, tc := range cases {
		if got := search(tc.criteria); !slices.Equal(got, tc.want) {
			t.Errorf("SEARCH %s = %v, want %v", tc.name, got, tc.want)
		}
	}

	// UID SEARCH, ESEARCH and SEARCHRES.
	data, err := c.UIDSearch(&goimap.SearchCriteria{NotFlag: []goimap.Flag{goimap.FlagSeen}}, &goimap.SearchOptions{ReturnMin: true, ReturnMax: true, ReturnCount: true}).Wait()
	if err != nil || data.Min != 3 || data.Max != 7 || data.Count != 5 {
		t.Errorf("UID SEARCH RETURN (MIN MAX COUNT): %+v %v", data, err)
	}
	r := w.raw(t)
	r.expect("a1", "LOGIN bob bob", "OK")
	r.expect("a2", "SELECT INBOX", "OK")
	// RFC 5182 §2.4 wants no ESEARCH for RETURN (SAVE) alone; imapserver
	// adds ALL whenever MIN, MAX, ALL and COUNT are all missing.
	if u := r.expect("a3", "SEARCH RETURN (SAVE) FLAGGED", "OK"); len(u) > 1 {
		t.Errorf("SEARCH RETURN (SAVE) answered %q", u)
	}
	if u := r.expect("a4", "FETCH $ (UID)", "OK"); len(u) != 1 || u[0] != "* 3 FETCH (UID 3)" {
		t.Errorf("FETCH $ = %q", u)
	}
	if u := r.expect("a5", "UID SEARCH UID $", "OK"); len(u) != 1 || u[0] != "* SEARCH 3" {
		t.Errorf("UID SEARCH UID $ = %q", u)
	}
	r.expect("a6", "SEARCH CHARSET KOI8-R ALL", "NO [BADCHARSET]")
}

func TestCopyMoveExpunge(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), msg(2), msg(3), msg(4), msg(5))
	w.Store.CreateMailbox(bob, "Archive")
	w.Deliver(t, "Archive", msg(100)) // Archive's UIDs start past 1
	c, _ := w.selectInbox(t, nil)
	arch, _ := w.Store.Status(bob, "Archive")

	data, err := c.Copy(goimap.SeqSetNum(1, 2), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if data.UIDValidity != arch.UIDValidity || data.SourceUIDs.String() != "1:2" || data.DestUIDs.String() != "2:3" {
		t.Errorf("COPYUID %+v", data)
	}
	if _, err := c.Copy(goimap.SeqSetNum(1), "Nope").Wait(); responseCode(err) != goimap.ResponseCodeTryCreate {
		t.Errorf("COPY to Nope: %v", err)
	}
	// COPY to the selected mailbox itself is allowed.
	data, err = c.Copy(goimap.SeqSetNum(5), "INBOX").Wait()
	if err != nil || data.DestUIDs.String() != "6" {
		t.Errorf("COPY to INBOX: %+v %v", data, err)
	}
	if err := c.Noop().Wait(); err != nil || c.Mailbox().NumMessages != 6 {
		t.Errorf("after COPY to INBOX: %d messages, %v", c.Mailbox().NumMessages, err)
	}

	// MOVE: COPYUID, then EXPUNGE responses.
	u := newUpdates()
	c2, _ := w.selectInbox(t, u)
	var uids goimap.UIDSet
	uids.AddNum(2, 4)
	mv, err := c2.Move(uids, "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if mv.UIDValidity != arch.UIDValidity || mv.SourceUIDs.String() != "2,4" || mv.DestUIDs.String() != "4:5" {
		t.Errorf("MOVE COPYUID %+v", mv)
	}
	u.wait(t, "MOVE's expunges", func() bool { return slices.Equal(u.expunge, []uint32{2, 3}) })
	if got := w.Flags(t, "INBOX"); !slices.Equal(got, []string{"1:", "3:", "5:", "6:"}) {
		t.Errorf("INBOX after MOVE: %q", got)
	}
	// MOVE into the mailbox itself: a new UID (see TestMoveSameMailbox).
	if mv, err := c2.Move(goimap.SeqSetNum(1), "INBOX").Wait(); err != nil || mv.SourceUIDs.String() != "1" || mv.DestUIDs.String() != "7" {
		t.Errorf("MOVE to the same mailbox: %+v %v", mv, err)
	}
	if got := w.Flags(t, "INBOX"); !slices.Equal(got, []string{"3:", "5:", "6:", "7:"}) {
		t.Errorf("INBOX after MOVE to itself: %q", got)
	}

	// EXPUNGE removes \Deleted messages; UID EXPUNGE only those named.
	c2.Store(goimap.SeqSetNum(1, 2, 3), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagDeleted}}, nil).Close()
	var one goimap.UIDSet
	one.AddNum(3)
	seqs, err := c2.UIDExpunge(one).Collect()
	if err != nil || !slices.Equal(seqs, []uint32{1}) {
		t.Errorf("UID EXPUNGE 3: %v %v", seqs, err)
	}
	seqs, err = c2.Expunge().Collect()
	if err != nil || !slices.Equal(seqs, []uint32{2, 1}) && !slices.Equal(seqs, []uint32{1, 1}) {
		t.Errorf("EXPUNGE: %v %v", seqs, err)
	}
	if got := w.Flags(t, "INBOX"); !slices.Equal(got, []string{"7:"}) {
		t.Errorf("INBOX after EXPUNGE: %q", got)
	}
	// The first session hears of it all at its next command.
	if err := c.Noop().Wait(); err != nil || c.Mailbox().NumMessages != 1 {
		t.Errorf("first session: %d messages, %v", c.Mailbox().NumMessages, err)
	}
	if got := w.Flags(t, "Archive"); len(got) != 5 {
		t.Errorf("Archive %q", got)
	}
}
