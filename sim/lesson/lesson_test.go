package lesson

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/mua"
	"github.com/mailhop/mailhop/sim/trace"
	"github.com/mailhop/mailhop/sim/world"
)

// The course, in order.
var course = []string{"first-mail", "submission", "envelope", "recipients", "mx", "no-mx", "bounce",
	"retry", "relay", "pop3", "imap", "lmtp", "mailbox-full", "smuggling", "spoof", "no-dmarc", "forwarding", "mailing-list"}

func TestBuiltinOrder(t *testing.T) {
	var ids []string
	for _, l := range Builtin() {
		ids = append(ids, l.ID)
		if len(l.Solution) == 0 {
			t.Errorf("%s has no solution", l.ID)
		}
		for i, s := range l.Steps {
			if s.Hint == "" {
				t.Errorf("%s step %d has no hint", l.ID, i+1)
			}
		}
		for _, c := range l.Checks {
			if c.Missing == "" {
				t.Errorf("%s check %q says nothing when missing", l.ID, c.Name)
			}
		}
	}
	if !slices.Equal(ids, course) {
		t.Fatalf("built-in lessons %v, want %v", ids, course)
	}
}

// Every built-in lesson's solution, run headless, makes every check hold.
func TestBuiltinSolutions(t *testing.T) {
	for _, l := range Builtin() {
		t.Run(l.ID, func(t *testing.T) {
			t.Parallel()
			rs, err := Verify(context.Background(), l)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != len(l.Checks) {
				t.Fatalf("%d results for %d checks", len(rs), len(l.Checks))
			}
			for _, r := range rs {
				if !r.OK {
					t.Errorf("✗ %s: %s (%s)", r.Name, r.Missing, r.Detail)
				}
			}
			if !Done(rs) {
				t.Error("not done")
			}
		})
	}
}

// Before the student does anything (after the setup alone), no check
// holds but the "absent" ones: checks do not pass by accident.
func TestBuiltinChecksFailBeforeSolution(t *testing.T) {
	for _, l := range Builtin() {
		t.Run(l.ID, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, l)
			start := w.Trace.Last()
			if err := RunSetup(context.Background(), l, w); err != nil {
				t.Fatal(err)
			}
			w.RunUntilQuiet(SettleLimit)
			rs := l.Evaluate(w.Trace.Since(start), w)
			for i, r := range rs {
				if r.OK != l.Checks[i].Absent {
					t.Errorf("%q holds=%v before the solution", r.Name, r.OK)
				}
				if !r.OK && r.Missing != l.Checks[i].Missing {
					t.Errorf("%q: missing %q", r.Name, r.Missing)
				}
			}
			if Done(rs) {
				t.Error("done before the solution")
			}
		})
	}
}

func newWorld(t *testing.T, l *Lesson) *world.World {
	t.Helper()
	spec, err := l.Spec()
	if err != nil {
		t.Fatal(err)
	}
	w, err := world.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

func result(t *testing.T, rs []Result, prefix string) Result {
	t.Helper()
	for _, r := range rs {
		if strings.HasPrefix(r.Name, prefix) {
			return r
		}
	}
	t.Fatalf("no check named %q...", prefix)
	return Result{}
}

func sends(lines ...string) []Action {
	var out []Action
	for _, l := range lines {
		exp := ""
		if i := strings.LastIndex(l, " => "); i >= 0 {
			l, exp = l[:i], l[i+4:]
		}
		s := l
		out = append(out, Action{Send: &s, Expect: exp})
	}
	return out
}

// A first mail without a Subject: every SMTP step holds, the mailbox
// check says precisely what is wrong.
func TestFirstMailWithoutSubject(t *testing.T) {
	l, err := Load("first-mail")
	if err != nil {
		t.Fatal(err)
	}
	l.Solution = append([]Action{{Connect: &Connect{From: "bob-pc", To: "mx.example.net", Port: 25}, Expect: "^220 "}},
		sends("HELO bob-pc => ^250 ", "MAIL FROM:<alice@example.org> => ^250 ", "RCPT TO:<bob@example.net> => ^250 ",
			"DATA => ^354 ", "From: <alice@example.org>", "", "No subject here.", ". => ^250 ", "QUIT => ^221 ")...)
	rs, err := Verify(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !r.OK && !strings.HasPrefix(r.Name, "bob's INBOX") {
			t.Errorf("✗ %s: %s", r.Name, r.Missing)
		}
	}
	r := result(t, rs, "bob's INBOX")
	if r.OK {
		t.Fatal("a message without Subject passes")
	}
	if r.Missing != "bob@example.net's INBOX holds no message with a Subject that came through mx.example.net and was filed by LMTP" {
		t.Errorf("missing: %q", r.Missing)
	}
	if r.Detail != "message 1 of bob@example.net's INBOX (no Subject): it has no Subject header" {
		t.Errorf("detail: %q", r.Detail)
	}
	if Done(rs) {
		t.Error("done")
	}
}

// RCPT before MAIL: the server's 503 shows in the checks, and a Reply
// check can look for it.
func TestFirstMailRcptBeforeMail(t *testing.T) {
	l, err := Load("first-mail")
	if err != nil {
		t.Fatal(err)
	}
	l.Checks = append(l.Checks, Check{Name: "RCPT before MAIL is a bad sequence",
		Missing: "send RCPT TO before MAIL FROM and read the reply",
		Reply:   &ReplyMatch{Peer: "mx.example.net", Port: 25, Send: "^RCPT TO:", Reply: `^503 5\.5\.1`}})
	l.Solution = append([]Action{{Connect: &Connect{From: "bob-pc", To: "mx.example.net", Port: 25}, Expect: "^220 "}},
		sends("HELO bob-pc => ^250 ", "RCPT TO:<bob@example.net> => ^503 ", "QUIT => ^221 ")...)
	rs, err := Verify(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	if r := result(t, rs, "RCPT before MAIL"); !r.OK {
		t.Errorf("the 503 was not seen: %+v", r)
	}
	r := result(t, rs, "the envelope recipient")
	if r.OK {
		t.Fatal("RCPT check holds after a 503")
	}
	if r.Missing != "no RCPT TO has been accepted yet on your connection to mx.example.net:25" {
		t.Errorf("missing: %q", r.Missing)
	}
	if !strings.HasPrefix(r.Detail, `you sent "RCPT TO:<bob@example.net>" to mx.example.net:25; the server answered "503 5.5.1`) {
		t.Errorf("detail: %q", r.Detail)
	}
	if r := result(t, rs, "the envelope sender"); r.OK || r.Detail != "" {
		t.Errorf("MAIL check: %+v", r)
	}
	if r := result(t, rs, "QUIT"); !r.OK {
		t.Errorf("QUIT check: %+v", r)
	}
}

// An expect that never comes fails with the action and the last lines.
func TestExpectTimeout(t *testing.T) {
	l, err := Load("first-mail")
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, l)
	bad := []Action{{Connect: &Connect{From: "bob-pc", To: "mx.example.net", Port: 25}, Expect: "^220 "}}
	bad = append(bad, sends("HELO bob-pc => ^250 ", "DATA => ^354 ")...)
	for i := range bad {
		if err := l.checkAction(&bad[i], false); err != nil {
			t.Fatal(err)
		}
	}
	r := &Runner{World: w, Timeout: 200 * time.Millisecond}
	defer r.Close()
	err = r.Run(context.Background(), "solution", bad)
	if err == nil {
		t.Fatal("no error")
	}
	want := `solution action 3 (send "DATA", expect "^354 "): no line from mx.example.net matched "^354 " within 200ms; last lines: "220 mx.example.net ESMTP Service Ready", "250 mx.example.net Hello bob-pc", "503 5.5.1`
	if !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error:\n%v\nwant prefix\n%s", err, want)
	}
}

func TestLoad(t *testing.T) {
	l, err := Load("imap")
	if err != nil || l.ID != "imap" {
		t.Fatalf("%v %v", l, err)
	}
	if _, err := Load("nope"); err == nil || !strings.Contains(err.Error(), `no built-in lesson "nope" (there are: first-mail, submission,`) {
		t.Fatalf("%v", err)
	}
	l, err = Load(`{"id": "x", "title": "X", "goal": "g", "world": "default", "steps": [{"text": "t"}],
		"checks": [{"name": "n", "event": {"kind": "hop"}}]}`)
	if err != nil || l.ID != "x" {
		t.Fatalf("JSON: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	head := "id: x\ntitle: X\ngoal: g\nworld: default\nsteps: [{text: t}]\n"
	ok := "checks: [{name: c1, event: {kind: hop}}]\n"
	for _, tc := range []struct{ file, want string }{
		{"id: x\n", `lesson "x": no title`},
		{head + ok + "colour: red\n", `unknown field "colour"`},
		{head, `lesson "x": no checks`},
		{"id: x\ntitle: X\ngoal: g\nworld: nowhere\nsteps: [{text: t}]\n" + ok, `lesson "x": world: no built-in world "nowhere"`},
		{head + "checks: [{name: c1}]\n", `check 1 (c1): say exactly one of event, reply, mailbox`},
		{head + "checks: [{name: c1, event: {kind: hops}}]\n", `check 1 (c1): event kind "hops": one of host, link,`},
		{head + "checks: [{name: c1, reply: {send: '^MAIL', reply: '(250'}}]\n", `check 1 (c1): reply reply "(250" is not a valid pattern`},
		{head + "checks: [{name: c1, reply: {send: '(?i)^mail', reply: '250'}}]\n", `flags like (?i) or (?s) are not allowed`},
		{head + "checks: [{name: c1, reply: {send: '^MAIL'}}]\n", `needs send (the command) and reply (the answer)`},
		{head + "checks: [{name: c1, mailbox: {user: eve@example.com}}]\n", `mailbox of "eve@example.com": not a user of the world`},
		{head + "checks: [{name: c1, mailbox: {user: bob@example.net, mailbox: Spam}}]\n", `mailbox "Spam": INBOX or Junk`},
		{head + "checks: [{name: c1, event: {host: mx.example.com}}]\n", `event host "mx.example.com": not a host of the world (hosts: alice-pc, mail.example.org,`},
		{head + ok + "solution: [{send: HELO x, advance: 1m}]\n", `solution action 1: say exactly one of connect, send, expect, close, advance, mail, fault`},
		{head + ok + "solution: [{advance: soon}]\n", `solution action 1: advance "soon": say a duration like 90s or 1h, or retry`},
		{head + ok + "solution: [{connect: {from: bob-pc, to: mx.example.net, port: 0}}]\n", `connect: port 0 is not a TCP port`},
		{head + ok + "setup: [{send: HELO x}]\n", `setup action 1: a setup does only mail, advance and fault`},
		{head + ok + "setup: [{mail: {from: mallory@example.org, to: [bob@example.net]}}]\n", `setup action 1: mail from "mallory@example.org": not a user of the world`},
		{head + ok + "setup: [{fault: {kind: host-down, host: mx.example.com}}]\n", `setup action 1: fault 1: host-down: "mx.example.com" is not a host of the world`},
		{head + ok + "solution: [{send: x, eol: cr}]\n", `eol "cr": say lf`},
	} {
		_, err := Parse([]byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("file:\n%s\ngot  %v\nwant …%s…", tc.file, err, tc.want)
		}
	}
}

// fakeWorld is a WorldView without a world.
type fakeWorld struct {
	st   world.State
	msgs map[uint32][]byte
}

func (f *fakeWorld) State() world.State { return f.st }
func (f *fakeWorld) Message(user, mailbox string, uid uint32) ([]byte, error) {
	return f.msgs[uid], nil
}

func TestEvaluateWithoutWorld(t *testing.T) {
	l, err := Parse([]byte(`
id: fake
title: Fake
goal: g
world: default
steps: [{text: t}]
checks:
  - name: greeted
    reply: {peer: mx.example.net, send: "^EHLO ", reply: "^250 "}
  - name: two lines after the dot
    reply: {send: "^\\.$", reply: "^250 "}
    count: 2
  - name: seen
    mailbox: {user: bob@example.net, subject: "^hello$", flag: "\\Seen"}
  - name: no bounce
    event: {kind: queue, action: bounced}
    absent: true
`))
	if err != nil {
		t.Fatal(err)
	}
	wire := func(conn string, dir trace.Dir, text string) trace.Event {
		return trace.Event{Kind: trace.KindWire, Conn: conn, Host: "bob-pc", Peer: "mx.example.net", Port: 25, Dir: dir, Text: text}
	}
	events := []trace.Event{
		wire("c1", trace.Recv, "220 hi"),
		wire("c1", trace.Send, "ehlo bob-pc"),
		wire("c1", trace.Recv, "250-mx.example.net"),
		wire("c1", trace.Recv, "250 SIZE"),
		wire("c1", trace.Send, "."),
		wire("c1", trace.Recv, "250 one"),
		wire("c1", trace.Recv, "452 two"),
	}
	fw := &fakeWorld{
		st: world.State{Hosts: []world.HostState{{Mailboxes: []world.MailboxState{{User: "bob@example.net", Mailbox: "INBOX",
			Messages: []world.MessageState{{UID: 7, Flags: []string{}}}}}}}},
		msgs: map[uint32][]byte{7: []byte("Subject: Hello\r\n\r\nbody\r\n")},
	}
	// Filed in the store, but the trace has not shown it yet: not counted.
	if rs := l.Evaluate(events, fw); rs[2].Detail != "bob@example.net's INBOX is empty" {
		t.Fatalf("a message the trace has not shown filed: %+v", rs[2])
	}
	events = append(events, trace.Event{Kind: trace.KindDeliver, Host: "store.example.net", Mailbox: "bob@example.net/INBOX"})
	rs := l.Evaluate(events, fw)
	want := []Result{
		{Name: "greeted", OK: true},
		{Name: "two lines after the dot", Missing: "not yet: two lines after the dot", Detail: "1 of the 2 needed so far"},
		{Name: "seen", Missing: "not yet: seen", Detail: `message 7 of bob@example.net's INBOX (Subject "Hello"): it has no flags (not \Seen)`},
		{Name: "no bounce", OK: true},
	}
	if !slices.Equal(rs, want) {
		t.Fatalf("got  %+v\nwant %+v", rs, want)
	}
	fw.st.Hosts[0].Mailboxes[0].Messages[0].Flags = []string{`\Seen`}
	events = append(events, wire("c1", trace.Recv, "250 two"), trace.Event{Kind: trace.KindQueue, Action: "bounced"})
	rs = l.Evaluate(events, fw)
	if !rs[1].OK || !rs[2].OK || rs[3].OK || rs[3].Detail != "found 1" {
		t.Fatalf("%+v", rs)
	}
}

// A check of a Junk folder says precisely why it does not hold yet: no
// Junk at all, then an empty one. The auth events a lesson names exist
// as a kind.
func TestJunkCheckDetail(t *testing.T) {
	l, err := Load("mailing-list")
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, l)
	start := w.Trace.Last()
	r := result(t, l.Evaluate(w.Trace.Since(start), w), "bob's Junk")
	if r.OK || r.Detail != "bob@example.net has no Junk: nothing has been filed there" {
		t.Fatalf("before anything: %+v", r)
	}
	// A message that is not the list's, delivered in the INBOX: the
	// Junk check still does not hold.
	if _, err := w.Send(context.Background(), mua.Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Subject: "Direct", Body: "Not through the list."}); err != nil {
		t.Fatal(err)
	}
	w.RunUntilQuiet(SettleLimit)
	rs := l.Evaluate(w.Trace.Since(start), w)
	if r := result(t, rs, "bob's Junk"); r.OK {
		t.Fatalf("after a direct message: %+v", r)
	}
	if r := result(t, rs, "nothing from the list"); !r.OK {
		t.Fatalf("a message without List-Id counts as the list's: %+v", r)
	}
}
