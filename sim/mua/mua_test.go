package mua_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/imap"
	"github.com/mailhop/mailhop/sim/mua"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/pki"
	"github.com/mailhop/mailhop/sim/pop3"
	"github.com/mailhop/mailhop/sim/smtp"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

var start = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

func TestCompose(t *testing.T) {
	m := mua.Mail{From: "alice@example.org", To: []string{"bob@example.net", "carol@example.net"}, Subject: "Lunch",
		Body: "Noon?\nAt the usual place.", MessageID: "1.2@example.org",
		Header: map[string]string{"X-Zeta": "z", "Reply-To": "<alice@example.org>", "In-Reply-To": "<0@example.net>", "Message-Id": "<dropped@example.org>"}}
	want := "From: <alice@example.org>\r\n" +
		"To: <bob@example.net>, <carol@example.net>\r\n" +
		"Subject: Lunch\r\n" +
		"Message-ID: <1.2@example.org>\r\n" +
		"In-Reply-To: <0@example.net>\r\n" +
		"Reply-To: <alice@example.org>\r\n" +
		"X-Zeta: z\r\n" +
		"MIME-Version: 1.0\r\n" +
		"User-Agent: mailhop-mua\r\n" +
		"Content-Type: text/plain; charset=us-ascii\r\n" +
		"\r\n" +
		"Noon?\r\nAt the usual place.\r\n"
	for range 5 { // the header map's order must not show
		if got := string(mua.Compose(m)); got != want {
			t.Fatalf("composed:\n%s\nwant:\n%s", got, want)
		}
	}

	// Without MessageID, a Message-ID of Header stands; without either,
	// there is none (the MSA adds one).
	m.MessageID = ""
	if got := string(mua.Compose(m)); !strings.Contains(got, "Message-Id: <dropped@example.org>\r\n") {
		t.Errorf("the header's Message-ID is lost:\n%s", got)
	}
	if got := mua.Compose(mua.Mail{From: "a@example.org", To: []string{"b@example.net"}, Subject: "s", Body: "b"}); trace.MsgKey(got) != "" {
		t.Errorf("a Message-ID out of nowhere:\n%s", got)
	}

	// Non-ASCII: an encoded word for the subject (RFC 2047) and a
	// quoted-printable body.
	got := string(mua.Compose(mua.Mail{From: "a@example.org", To: []string{"b@example.net"}, Subject: "Grüße", Body: "Ça va?"}))
	for _, w := range []string{"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n", "Content-Transfer-Encoding: quoted-printable\r\n", "\r\n\r\n=C3=87a va?"} {
		if !strings.Contains(got, w) {
			t.Errorf("lacks %q:\n%s", w, got)
		}
	}
}

func TestNewMessageID(t *testing.T) {
	if got := mua.NewMessageID(start, 0xCAFE, "example.org"); got != "69563790.0000CAFE@example.org" {
		t.Errorf("NewMessageID: %s", got)
	}
}

// net is a small simulated network: alice's machine, her MSA, and bob's
// mail store, with a CA the clients trust.
type testNet struct {
	clk   *clock.Virtual
	rec   *trace.Recorder
	net   *netsim.Network
	pc    *netsim.Host
	ca    *pki.CA
	users *auth.Directory
	store *store.Memory
}

func newNet(t *testing.T) *testNet {
	t.Helper()
	n := &testNet{clk: clock.NewVirtual(start), users: auth.NewDirectory("")}
	n.rec = trace.NewRecorder(n.clk.Now, 0)
	n.net = netsim.New(n.clk, n.rec)
	var err error
	if n.ca, err = pki.NewCA("test CA", 1); err != nil {
		t.Fatal(err)
	}
	n.pc = n.host(t, "alice-pc", "192.0.2.100")
	for _, u := range []string{"alice@example.org", "bob@example.net"} {
		if err := n.users.Add(u, "secret-"+strings.Split(u, "@")[0]); err != nil {
			t.Fatal(err)
		}
	}
	n.store = store.NewMemory(n.clk.Now)
	n.store.AddUser("bob@example.net")
	return n
}

func (n *testNet) host(t *testing.T, name, addr string) *netsim.Host {
	t.Helper()
	h, err := n.net.AddHost(name, addr)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (n *testNet) listen(t *testing.T, h *netsim.Host, port string, serve func(net.Listener) error, close func() error) {
	t.Helper()
	l, err := h.Listen("tcp", port)
	if err != nil {
		t.Fatal(err)
	}
	go serve(l)
	t.Cleanup(func() { close() })
}

func (n *testNet) serverTLS(t *testing.T, host string) *tls.Config {
	t.Helper()
	cfg, err := n.ca.ServerConfig(host)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// wire returns the lines of the trace's wire events that contain s.
func (n *testNet) wire(s string) []trace.Event {
	var out []trace.Event
	for _, e := range n.rec.Events() {
		if e.Kind == trace.KindWire && strings.Contains(e.Text, s) {
			out = append(out, e)
		}
	}
	return out
}

// queue takes what an MSA accepts.
type queue struct {
	mu   sync.Mutex
	from string
	to   []string
	body []byte
}

func (q *queue) Enqueue(from string, to []string, body []byte) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.from, q.to, q.body = from, to, body
	return "4F2A9C001", nil
}

// msa starts mail.example.org's submission servers: 587 with STARTTLS
// (unless tls is false) and 465 with TLS from the first byte.
func (n *testNet) msa(t *testing.T, withTLS bool) *queue {
	t.Helper()
	h := n.host(t, "mail.example.org", "192.0.2.25")
	q := &queue{}
	var cfg *tls.Config
	if withTLS {
		cfg = n.serverTLS(t, "mail.example.org")
	}
	seq := uint32(0)
	server := func(implicit bool) *smtp.Server {
		return &smtp.Server{Mode: smtp.Submission, Hostname: "mail.example.org", Users: n.users, Queue: q,
			TLSConfig: cfg, ImplicitTLS: implicit, Clock: n.clk, Trace: n.rec,
			Rand: func() uint32 { seq++; return seq }}
	}
	s587, s465 := server(false), server(true)
	n.listen(t, h, ":587", s587.Serve, s587.Close)
	if withTLS {
		n.listen(t, h, ":465", s465.Serve, s465.Close)
	}
	return q
}

func (n *testNet) submitter(port string) *mua.Submitter {
	return &mua.Submitter{Net: n.pc, Hostname: "alice-pc", Addr: "192.0.2.25" + port, Server: "mail.example.org",
		TLS: n.ca.ClientConfig("mail.example.org"), User: "alice@example.org", Password: "secret-alice"}
}

// Submission on 587: STARTTLS, then AUTH PLAIN inside TLS, then the
// message; Submit returns the MSA's queue id.
func TestSubmitSTARTTLS(t *testing.T) {
	n := newNet(t)
	q := n.msa(t, true)
	msg := mua.Compose(mua.Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Subject: "Hello", Body: "Hi Bob.", MessageID: "1@example.org"})
	id, err := n.submitter(":587").Submit(context.Background(), "alice@example.org", []string{"bob@example.net"}, msg)
	if err != nil {
		t.Fatal(err)
	}
	if id != "4F2A9C001" {
		t.Errorf("queue id %q, want the MSA's", id)
	}
	if q.from != "alice@example.org" || len(q.to) != 1 || q.to[0] != "bob@example.net" {
		t.Errorf("the MSA queued from %s to %v", q.from, q.to)
	}
	if !bytes.HasSuffix(q.body, msg) || !bytes.Contains(q.body, []byte("with ESMTPSA")) {
		t.Errorf("the MSA queued, with TLS and AUTH (ESMTPSA, RFC 3848):\n%s", q.body)
	}
	starttls := n.wire("STARTTLS")
	authLines := n.wire("AUTH PLAIN")
	if len(starttls) == 0 || starttls[0].TLS {
		t.Fatalf("no STARTTLS in cleartext: %v", starttls)
	}
	if len(authLines) == 0 {
		t.Fatal("no AUTH PLAIN on the wire")
	}
	for _, e := range authLines {
		if !e.TLS {
			t.Errorf("AUTH in cleartext: %+v", e)
		}
	}
	var handshakes int
	for _, e := range n.rec.Events() {
		if e.Kind == trace.KindTLS && e.Port == 587 {
			handshakes++
		}
	}
	if handshakes != 1 {
		t.Errorf("%d TLS handshakes on port 587", handshakes)
	}
}

// Submission on 465: TLS from the first byte (RFC 8314).
func TestSubmitImplicitTLS(t *testing.T) {
	n := newNet(t)
	q := n.msa(t, true)
	s := n.submitter(":465")
	s.ImplicitTLS = true
	if _, err := s.Submit(context.Background(), "alice@example.org", []string{"bob@example.net"}, []byte("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if len(q.body) == 0 {
		t.Fatal("nothing queued")
	}
	for _, e := range n.rec.Events() {
		if e.Kind == trace.KindWire && e.Port == 465 && !e.TLS {
			t.Errorf("cleartext on 465: %+v", e)
		}
	}
}

// What goes wrong is an error naming the step: an MSA without STARTTLS
// (the client will not send its password in the clear), a sender that is
// not the user.
func TestSubmitRefused(t *testing.T) {
	n := newNet(t)
	n.msa(t, false)
	_, err := n.submitter(":587").Submit(context.Background(), "alice@example.org", []string{"bob@example.net"}, []byte("Subject: x\r\n\r\nx\r\n"))
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("an MSA without STARTTLS: %v", err)
	}
	if lines := n.wire("AUTH"); len(lines) != 0 {
		t.Errorf("AUTH sent to an MSA without TLS: %v", lines)
	}

	n = newNet(t)
	q := n.msa(t, true)
	_, err = n.submitter(":587").Submit(context.Background(), "bob@example.net", []string{"carol@example.net"}, []byte("Subject: x\r\n\r\nx\r\n"))
	if err == nil || !strings.Contains(err.Error(), "MAIL FROM:<bob@example.net>") {
		t.Errorf("alice sending as bob: %v", err)
	}
	if q.body != nil {
		t.Error("the MSA queued a message")
	}
}

// bobsStore starts store.example.net's IMAP and POP3 servers (STARTTLS,
// STLS) on a store where bob has two messages.
func (n *testNet) bobsStore(t *testing.T) [][]byte {
	t.Helper()
	h := n.host(t, "store.example.net", "198.51.100.30")
	cfg := n.serverTLS(t, "store.example.net")
	msgs := [][]byte{
		[]byte("From: <alice@example.org>\r\nSubject: one\r\nMessage-ID: <1@example.org>\r\n\r\nFirst.\r\n"),
		[]byte("From: <alice@example.org>\r\nSubject: two\r\nMessage-ID: <2@example.org>\r\n\r\n.leading dot\r\nSecond.\r\n"),
	}
	for _, m := range msgs {
		if _, err := n.store.Append("bob@example.net", store.Inbox, m, nil, start); err != nil {
			t.Fatal(err)
		}
	}
	// No delay after a failed login: nothing moves the clock here.
	is := &imap.Server{Hostname: "store.example.net", Store: n.store, Users: n.users, TLSConfig: cfg, Clock: n.clk, Trace: n.rec,
		LoginFailDelay: -1}
	n.listen(t, h, ":143", is.Serve, is.Close)
	ps := &pop3.Server{Hostname: "store.example.net", Store: n.store, Users: n.users, TLSConfig: cfg, Clock: n.clk, Trace: n.rec,
		Rand: func() uint32 { return 7 }, FailDelay: -1}
	n.listen(t, h, ":110", ps.Serve, ps.Close)
	return msgs
}

func (n *testNet) reader(port string) *mua.Reader {
	return &mua.Reader{Net: n.pc, Addr: "198.51.100.30" + port, Server: "store.example.net",
		TLS: n.ca.ClientConfig("store.example.net"), User: "bob@example.net", Password: "secret-bob"}
}

// checkRead compares what a client read with what the store holds, and
// checks that the password went inside TLS only.
func (n *testNet) checkRead(t *testing.T, got, want [][]byte, login string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("message %d:\n%q\nwant\n%q", i+1, got[i], want[i])
		}
	}
	secrets := n.wire("secret-bob")
	if len(secrets) == 0 {
		t.Fatalf("no %s on the wire", login)
	}
	for _, e := range secrets {
		if !e.TLS {
			t.Errorf("the password in cleartext: %+v", e)
		}
	}
	fetched := 0
	for _, e := range n.rec.Events() {
		if e.Kind == trace.KindFetch && e.Mailbox == "bob@example.net/INBOX" {
			fetched++
		}
	}
	if fetched != len(want) {
		t.Errorf("%d fetch events, want %d", fetched, len(want))
	}
}

// IMAP: STARTTLS, LOGIN, SELECT INBOX, FETCH everything; the mail stays.
func TestReadIMAP(t *testing.T) {
	n := newNet(t)
	want := n.bobsStore(t)
	got, err := n.reader(":143").IMAP(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n.checkRead(t, got, want, "LOGIN")
	if st, _ := n.store.Status("bob@example.net", store.Inbox); st.Messages != 2 {
		t.Errorf("%d messages left after IMAP, want both", st.Messages)
	}
}

// POP3: STLS, USER/PASS, RETR each; with Delete, DELE each and QUIT
// empties the maildrop (RFC 1939 §6).
func TestReadPOP3(t *testing.T) {
	for _, del := range []bool{false, true} {
		n := newNet(t)
		want := n.bobsStore(t)
		r := n.reader(":110")
		r.Delete = del
		got, err := r.POP3(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n.checkRead(t, got, want, "PASS")
		left := uint32(2)
		if del {
			left = 0
		}
		if st, _ := n.store.Status("bob@example.net", store.Inbox); st.Messages != left {
			t.Errorf("Delete %v: %d messages left, want %d", del, st.Messages, left)
		}
	}
}

// A wrong password is an error, not an empty INBOX.
func TestReadBadLogin(t *testing.T) {
	n := newNet(t)
	n.bobsStore(t)
	for _, proto := range []string{"imap", "pop3"} {
		r := n.reader(map[string]string{"imap": ":143", "pop3": ":110"}[proto])
		r.Password = "wrong"
		var got [][]byte
		var err error
		if proto == "imap" {
			got, err = r.IMAP(context.Background())
		} else {
			got, err = r.POP3(context.Background())
		}
		if err == nil || !strings.Contains(err.Error(), "login as bob@example.net") {
			t.Errorf("%s with a wrong password: %d messages, %v", proto, len(got), err)
		}
	}
}
