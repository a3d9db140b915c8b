package queue_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/queue"
	"github.com/mailhop/mailhop/sim/trace"
)

var start = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// rig is a queue on a small simulated network: the queue's host
// mail.example.org, and whatever servers a test adds, on a virtual clock.
type rig struct {
	t   *testing.T
	clk *clock.Virtual
	rec *trace.Recorder
	net *netsim.Network
	mta *netsim.Host
	res *fakeResolver
	q   *queue.Queue
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, clk: clock.NewVirtual(start), res: &fakeResolver{mxs: map[string][]queue.MX{}, errs: map[string]error{}}}
	r.rec = trace.NewRecorder(r.clk.Now, 0)
	r.net = netsim.New(r.clk, r.rec)
	r.mta = r.host("mail.example.org", "192.0.2.25")
	return r
}

func (r *rig) host(name, addr string) *netsim.Host {
	r.t.Helper()
	h, err := r.net.AddHost(name, addr)
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

// server adds a host running a fake SMTP (or LMTP) server on port, and
// publishes it as the MX of domain in the fake resolver unless domain is
// empty.
func (r *rig) server(name, addr string, port int, lmtp bool, domain string) *fakeServer {
	r.t.Helper()
	h := r.host(name, addr)
	l, err := h.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		r.t.Fatal(err)
	}
	s := &fakeServer{name: name, clk: r.clk, lmtp: lmtp}
	go s.serve(l)
	r.t.Cleanup(func() { l.Close() })
	if domain != "" {
		r.res.set(domain, queue.MX{Host: name, Pref: 10, Addrs: []netip.Addr{netip.MustParseAddr(addr)}})
	}
	return s
}

// start fills in what q leaves unset (the rig's host, network, clock,
// trace, resolver, a memory spool) and starts it; the test stops it.
func (r *rig) start(q *queue.Queue) *queue.Queue {
	r.t.Helper()
	if q.Hostname == "" {
		q.Hostname = "mail.example.org"
	}
	q.Net, q.Clock, q.Trace = r.mta, r.clk, r.rec
	if q.Spool == nil {
		q.Spool = queue.NewMemorySpool()
	}
	if q.Resolver == nil {
		q.Resolver = r.res
	}
	if err := q.Start(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(q.Stop)
	r.q = q
	return q
}

// settle waits until the queue's work in progress is done. Work that
// never ends (a queue bouncing its own bounces, say) fails the test
// rather than hang it.
func (r *rig) settle() {
	r.t.Helper()
	done := make(chan bool, 1)
	go func() { done <- r.clk.Settle(2 * time.Second) }()
	select {
	case ok := <-done:
		if !ok {
			r.t.Fatal("the simulation is stuck: a holder of the clock makes no progress")
		}
	case <-time.After(time.Minute):
		r.t.Fatal("the simulation is still busy after a minute")
	}
}

// advance moves the virtual clock by d, firing what falls due in order
// and letting each attempt finish before the next timer.
func (r *rig) advance(d time.Duration) {
	r.t.Helper()
	end := r.clk.Now().Add(d)
	for {
		r.settle()
		next, ok := r.clk.Next()
		if !ok || next.After(end) {
			break
		}
		r.clk.AdvanceTo(next)
	}
	r.clk.AdvanceTo(end)
	r.settle()
}

// at is the virtual time the rig started plus d.
func at(d time.Duration) time.Time { return start.Add(d) }

func (r *rig) enqueue(from string, to []string, body string) string {
	r.t.Helper()
	id, err := r.q.Enqueue(from, to, []byte(body))
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

// events returns the trace's events of a kind and action ("": any).
func (r *rig) events(kind trace.Kind, action string) []trace.Event {
	var out []trace.Event
	for _, e := range r.rec.Events() {
		if e.Kind == kind && (action == "" || e.Action == action) {
			out = append(out, e)
		}
	}
	return out
}

func message(subject string) string {
	return "From: <alice@example.org>\r\nTo: <bob@example.net>\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@example.org>\r\n\r\nThe body of " + subject + ".\r\n"
}

// fakeResolver answers LookupMX from maps, and counts the questions.
type fakeResolver struct {
	mu    sync.Mutex
	mxs   map[string][]queue.MX
	errs  map[string]error
	asked []string
}

func (f *fakeResolver) set(domain string, mxs ...queue.MX) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mxs[domain] = mxs
}

func (f *fakeResolver) fail(domain string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[domain] = err
}

func (f *fakeResolver) LookupMX(_ context.Context, domain string) ([]queue.MX, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, domain)
	if err := f.errs[domain]; err != nil {
		return nil, err
	}
	if mxs, ok := f.mxs[domain]; ok {
		return mxs, nil
	}
	return nil, permanentErr("no such domain " + domain)
}

func (f *fakeResolver) questions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

// permanentErr and temporaryErr are errors as a resolver or Local gives
// them: with a Permanent method, and a Status for Local.
type permanentErr string

func (e permanentErr) Error() string   { return string(e) }
func (e permanentErr) Permanent() bool { return true }
func (e permanentErr) Status() string  { return "5.1.1" }

type temporaryErr string

func (e temporaryErr) Error() string   { return string(e) }
func (e temporaryErr) Permanent() bool { return false }
func (e temporaryErr) Status() string  { return "4.2.1" }

// fakeServer is a small SMTP or LMTP server: it records every command
// line of every connection and every message, with the virtual time, and
// answers RCPT and the end of DATA as the test says.
type fakeServer struct {
	name string
	clk  clock.Clock
	lmtp bool
	// rcpt gives the reply to RCPT TO:<addr>; nil or "": 250.
	rcpt func(addr string) string
	// data gives the reply to the end of DATA: one per recipient on LMTP,
	// one for the transaction (rcpt "") on SMTP; nil or "": 250.
	data func(rcpt string) string

	mu    sync.Mutex
	conns [][]command
	msgs  []received
	open  map[int]net.Conn
}

type command struct {
	at   time.Time
	line string
}

type received struct {
	at   time.Time
	conn int // index in conns
	from string
	to   []string
	data []byte
}

func (s *fakeServer) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, nil)
		n := len(s.conns) - 1
		if s.open == nil {
			s.open = map[int]net.Conn{}
		}
		s.open[n] = c
		s.mu.Unlock()
		go s.session(c, n)
	}
}

func (s *fakeServer) record(conn int, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[conn] = append(s.conns[conn], command{s.clk.Now(), line})
}

// hangUp closes every open connection, as a server that restarts.
func (s *fakeServer) hangUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.open {
		c.Close()
	}
}

func (s *fakeServer) session(c net.Conn, conn int) {
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.open, conn)
		s.mu.Unlock()
	}()
	br := bufio.NewReader(c)
	reply := func(lines ...string) {
		io.WriteString(c, strings.Join(lines, "\r\n")+"\r\n")
	}
	answer := func(f func(string) string, arg string) string {
		if f != nil {
			if r := f(arg); r != "" {
				return r
			}
		}
		return "250 2.0.0 Ok"
	}
	reply("220 " + s.name + " ESMTP fake")
	var from string
	var to []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.record(conn, line)
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "LHLO":
			reply("250-"+s.name, "250 ENHANCEDSTATUSCODES")
		case "MAIL":
			from, to = pathOf(arg), nil
			reply("250 2.1.0 Ok")
		case "RCPT":
			r := answer(s.rcpt, pathOf(arg))
			if r[0] == '2' {
				to = append(to, pathOf(arg))
			}
			reply(r)
		case "DATA":
			if len(to) == 0 {
				reply("554 5.5.1 no valid recipients")
				continue
			}
			reply("354 end with <CRLF>.<CRLF>")
			var b bytes.Buffer
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, received{at: s.clk.Now(), conn: conn, from: from, to: to, data: b.Bytes()})
			s.mu.Unlock()
			if s.lmtp {
				for _, r := range to {
					reply(answer(s.data, r))
				}
			} else {
				reply(answer(s.data, ""))
			}
			from, to = "", nil
		case "RSET":
			from, to = "", nil
			reply("250 2.0.0 Ok")
		case "NOOP":
			reply("250 2.0.0 Ok")
		case "QUIT":
			reply("221 2.0.0 Bye")
			return
		default:
			reply("502 5.5.2 command not recognized")
		}
	}
}

func pathOf(arg string) string {
	if i := strings.IndexByte(arg, '<'); i >= 0 {
		arg = arg[i+1:]
		if j := strings.IndexByte(arg, '>'); j >= 0 {
			return arg[:j]
		}
	}
	return arg
}

func (s *fakeServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *fakeServer) connections() [][]command {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]command, len(s.conns))
	for i, c := range s.conns {
		out[i] = append([]command(nil), c...)
	}
	return out
}

// commands returns the command lines of every connection that start with
// verb, in order.
func (s *fakeServer) commands(verb string) []command {
	var out []command
	for _, c := range s.connections() {
		for _, cmd := range c {
			if strings.HasPrefix(strings.ToUpper(cmd.line), verb) {
				out = append(out, cmd)
			}
		}
	}
	return out
}

// dsn is a delivery status notification taken apart (RFC 3464).
type dsn struct {
	header      mail.Header
	human       string
	perMessage  textproto.MIMEHeader
	perRcpt     []textproto.MIMEHeader
	origHeaders string
}

// parseDSN checks the structure RFC 3464 and RFC 6522 give a DSN: a
// multipart/report of report-type delivery-status whose parts are a
// human-readable text, a message/delivery-status (per-message fields, then
// a block per recipient, with the fields §2.2 and §2.3 require) and the
// returned message's header.
func parseDSN(t *testing.T, raw []byte) dsn {
	t.Helper()
	checkCRLF(t, raw)
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the DSN is not a message: %v\n%s", err, raw)
	}
	d := dsn{header: m.Header}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" || params["boundary"] == "" {
		t.Fatalf("the DSN's Content-Type is %q (%v), want multipart/report; report-type=delivery-status with a boundary", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	want := []string{"text/plain", "message/delivery-status", "text/rfc822-headers"}
	for i, w := range want {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("DSN part %d (%s): %v\n%s", i+1, w, err, raw)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if ct != w {
			t.Fatalf("DSN part %d is %q, want %s\n%s", i+1, ct, w, raw)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0:
			d.human = string(b)
		case 1:
			blocks := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(b), "\r\n", "\n")), "\n\n")
			for j, blk := range blocks {
				h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(blk + "\n\n"))).ReadMIMEHeader()
				if err != nil {
					t.Fatalf("delivery-status block %d: %v\n%s", j, err, blk)
				}
				if j == 0 {
					d.perMessage = h
				} else {
					d.perRcpt = append(d.perRcpt, h)
				}
			}
		case 2:
			d.origHeaders = string(b)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Fatalf("the DSN has more than three parts (%v)", err)
	}
	if d.perMessage.Get("Reporting-MTA") == "" {
		t.Errorf("no Reporting-MTA (RFC 3464 §2.2 requires it):\n%s", raw)
	}
	if len(d.perRcpt) == 0 {
		t.Fatalf("no per-recipient block:\n%s", raw)
	}
	for _, r := range d.perRcpt {
		for _, f := range []string{"Final-Recipient", "Action", "Status"} {
			if r.Get(f) == "" {
				t.Errorf("a recipient block lacks %s (RFC 3464 §2.3 requires it): %v", f, r)
			}
		}
	}
	return d
}

// checkCRLF fails the test unless every line of a message ends in CRLF
// (RFC 5322 §2.1): no LF without a CR before it, no CR without an LF
// after it.
func checkCRLF(t *testing.T, raw []byte) {
	t.Helper()
	for i, c := range raw {
		if c == '\n' && (i == 0 || raw[i-1] != '\r') || c == '\r' && (i+1 == len(raw) || raw[i+1] != '\n') {
			t.Fatalf("a bare %q at byte %d: %q", c, i, raw[max(0, i-60):min(len(raw), i+2)])
		}
	}
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		t.Fatalf("the last line does not end in CRLF: %q", raw[max(0, len(raw)-60):])
	}
}
