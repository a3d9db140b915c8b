package playground

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/trace"
	"github.com/mailhop/mailhop/sim/world"
)

func newPlayground(t *testing.T) *Playground {
	t.Helper()
	p := New(10 * time.Millisecond)
	if _, err := p.Load("default"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// collector gathers the batches of a subscription.
type collector struct {
	mu     sync.Mutex
	events []trace.Event
	worlds []int
}

func (c *collector) add(b Batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, b.Events...)
	c.worlds = append(c.worlds, b.World)
}

func (c *collector) snapshot() []trace.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]trace.Event(nil), c.events...)
}

func (c *collector) has(f func(trace.Event) bool) bool {
	for _, e := range c.snapshot() {
		if f(e) {
			return true
		}
	}
	return false
}

func inboxLen(t *testing.T, p *Playground, user string) int {
	t.Helper()
	st, err := p.State()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range st.Hosts {
		for _, mb := range h.Mailboxes {
			if mb.User == user {
				return len(mb.Messages)
			}
		}
	}
	return -1
}

func TestLoadAndState(t *testing.T) {
	p := newPlayground(t)
	st, err := p.State()
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "default" || st.World != 1 || len(st.Hosts) != 6 {
		t.Fatalf("state: name %q world %d, %d hosts", st.Name, st.World, len(st.Hosts))
	}
	if !st.Clock.Playing || st.Clock.Speed != 1 {
		t.Fatalf("clock %+v: want playing at speed 1 by default", st.Clock)
	}
	var users []string
	for _, u := range st.Users {
		users = append(users, u.Address+"/"+u.Password)
	}
	if got := strings.Join(users, " "); got != "alice@example.org/alice bob@example.net/bob" {
		t.Fatalf("users %q", got)
	}
	if ws := Worlds(); len(ws) == 0 || ws[0].Name != "default" || ws[0].Description == "" {
		t.Fatalf("Worlds() = %+v, want the default world first, described", ws)
	}
	if len(Explanations()) < 50 {
		t.Fatalf("only %d explanations", len(Explanations()))
	}
}

func TestLoadErrors(t *testing.T) {
	p := newPlayground(t)
	for _, tc := range []struct{ in, want string }{
		{"", "give the name of a built-in world"},
		{"atlantis", `no built-in world "atlantis"`},
		{"{\"name\": \"x\"}", "has no hosts"},
		{"name: x\nhosts: [{name: a, addrs: [nope]}]", "not an IP address"},
	} {
		_, err := p.Load(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q) = %v, want an error saying %q", tc.in, err, tc.want)
		}
	}
	st, err := p.State()
	if err != nil || st.World != 1 || st.Name != "default" {
		t.Fatalf("after failed loads: world %d %q, %v; want the default world still", st.World, st.Name, err)
	}
}

// expect reads the session's lines until the server sends one that
// starts with prefix.
func expect(t *testing.T, s *Session, prefix string) Line {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := s.ReadUntil(ctx, func(l Line) bool { return l.Dir == "recv" && strings.HasPrefix(l.Text, prefix) })
	if err != nil {
		t.Fatalf("waiting for %q: %v", prefix, err)
	}
	return l
}

func send(t *testing.T, s *Session, line string) Line {
	t.Helper()
	l, err := s.Send(context.Background(), line)
	if err != nil {
		t.Fatalf("send %q: %v", line, err)
	}
	return l
}

// The terminal scenario of the issue: telnet to the MX, type a message.
func TestTerminalToMX(t *testing.T) {
	p := newPlayground(t)
	var c collector
	defer p.Subscribe(c.add)()
	s, err := p.Connect(context.Background(), "bob-pc", "mx.example.net", 25, ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	banner := expect(t, s, "220 ")
	if banner.Note == "" || !strings.Contains(banner.Note, "RFC 5321") {
		t.Errorf("banner note %q lacks its RFC", banner.Note)
	}
	for _, step := range []struct{ line, reply string }{
		{"HELO relay.example.org", "250 "},
		{"MAIL FROM:<alice@example.org>", "250 "},
		{"RCPT TO:<bob@example.net>", "250 "},
		{"DATA", "354 "},
	} {
		l := send(t, s, step.line)
		if l.Note == "" {
			t.Errorf("no note for %q", step.line)
		}
		expect(t, s, step.reply)
	}
	for _, line := range []string{"Subject: typed by hand", "", "Hello Bob, typed in a terminal."} {
		if l := send(t, s, line); !l.Data {
			t.Errorf("line %q not marked as DATA", line)
		}
	}
	if l := send(t, s, "."); l.Data {
		t.Error("the final dot still in DATA mode")
	}
	expect(t, s, "250 ")
	send(t, s, "QUIT")
	expect(t, s, "221 ")
	_, err = s.Next(context.Background())
	var ce *ClosedError
	if !errors.As(err, &ce) || ce.Reason != "closed by the server" {
		t.Fatalf("after QUIT: %v, want closed by the server", err)
	}
	if _, err := s.Send(context.Background(), "NOOP"); err == nil {
		t.Fatal("send on a closed session succeeded")
	}
	waitFor(t, "the LMTP hop and the delivery", func() bool {
		return c.has(func(e trace.Event) bool { return e.Kind == trace.KindHop && e.Peer == "store.example.net" }) &&
			c.has(func(e trace.Event) bool { return e.Kind == trace.KindDeliver && e.Mailbox == "bob@example.net/INBOX" })
	})
	if n := inboxLen(t, p, "bob@example.net"); n != 1 {
		t.Fatalf("bob's INBOX has %d messages", n)
	}
}

func TestConnectErrors(t *testing.T) {
	p := newPlayground(t)
	ctx := context.Background()
	for _, tc := range []struct {
		from, to string
		port     int
		want     string
	}{
		{"nowhere", "mx.example.net", 25, `no host "nowhere"`},
		{"bob-pc", "mx.example.com", 25, `no host "mx.example.com"`},
		{"bob-pc", "mx.example.net", 0, "not a TCP port"},
		{"bob-pc", "mx.example.net", 26, "Unable to connect to remote host: Connection refused"},
	} {
		_, err := p.Connect(ctx, tc.from, tc.to, tc.port, ConnectOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Connect(%s, %s, %d) = %v, want %q", tc.from, tc.to, tc.port, err, tc.want)
		}
	}
	if _, err := p.Fault(world.Fault{Kind: "host-down", Host: "mx.example.net"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Connect(ctx, "bob-pc", "198.51.100.25", 25, ConnectOptions{}); err == nil || !strings.Contains(err.Error(), "No route to host") {
		t.Errorf("connect to a host that is down: %v, want no route to host", err)
	}
}

// The playground tells a session when its clock is paused: the first
// line typed while paused says so (sim/terminal tests the rest).
func TestSessionPausedClock(t *testing.T) {
	p := newPlayground(t)
	s, err := p.Connect(context.Background(), "bob-pc", "mx.example.net", 25, ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	expect(t, s, "220 ")
	if _, err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	send(t, s, "NOOP")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := s.ReadUntil(ctx, func(l Line) bool { return l.Dir == "info" || l.Dir == "recv" })
	if err != nil || !strings.HasPrefix(l.Text, "The clock is paused") {
		t.Fatalf("after a line typed while paused: %+v, %v; want the notice", l, err)
	}
	if _, err := p.Play(); err != nil {
		t.Fatal(err)
	}
	expect(t, s, "250 ")
	send(t, s, "NOOP")
	if l, err := s.ReadUntil(ctx, func(l Line) bool { return l.Dir == "info" || l.Dir == "recv" }); err != nil || l.Dir != "recv" {
		t.Fatalf("playing: %+v, %v; want the reply, no notice", l, err)
	}
}

// The compose path: the journey in the order the issue promises.
func TestSendJourney(t *testing.T) {
	p := newPlayground(t)
	var c collector
	defer p.Subscribe(c.add)()
	sent, err := p.Send(context.Background(), Mail{From: "alice@example.org", To: []string{"Bob <bob@example.net>"}, Subject: "Lunch", Body: "Noon?"})
	if err != nil {
		t.Fatal(err)
	}
	if sent.QueueID == "" || sent.Msg == "" || sent.MSA != "mail.example.org" {
		t.Fatalf("sent %+v", sent)
	}
	waitFor(t, "the LMTP hop", func() bool {
		return c.has(func(e trace.Event) bool {
			return e.Kind == trace.KindHop && e.Peer == "store.example.net" && e.Msg == sent.Msg
		})
	})
	steps := []struct {
		name string
		f    func(e trace.Event) bool
	}{
		{"submission", func(e trace.Event) bool {
			return e.Kind == trace.KindHop && e.Action == "received" && e.Host == "mail.example.org" && e.Peer == "alice-pc"
		}},
		{"DNS MX", func(e trace.Event) bool {
			return e.Kind == trace.KindDNS && e.Action == "query" && strings.Contains(e.Text, "IN MX")
		}},
		{"DNS A", func(e trace.Event) bool {
			return e.Kind == trace.KindDNS && e.Action == "query" && strings.HasSuffix(e.Text, "IN A")
		}},
		// The relay, as the MX reports it (the sender's own hop event
		// may come after the MX has moved on to LMTP).
		{"relay", func(e trace.Event) bool {
			return e.Kind == trace.KindHop && e.Action == "received" && e.Host == "mx.example.net" && e.Peer == "mail.example.org"
		}},
		{"LMTP connection", func(e trace.Event) bool {
			return e.Kind == trace.KindConn && e.Action == "open" && e.Host == "mx.example.net" && e.Peer == "store.example.net" && e.Proto == "lmtp"
		}},
		{"delivery", func(e trace.Event) bool { return e.Kind == trace.KindDeliver && e.Msg == sent.Msg }},
		// The LMTP hop is reported once the store has answered for the
		// message, so after the delivery.
		{"LMTP hop", func(e trace.Event) bool {
			return e.Kind == trace.KindHop && e.Host == "mx.example.net" && e.Peer == "store.example.net" && e.Msg == sent.Msg
		}},
	}
	i := 0
	var last int64
	for _, e := range c.snapshot() {
		if e.Seq <= last {
			t.Fatalf("events out of order or repeated: %d after %d", e.Seq, last)
		}
		last = e.Seq
		if i < len(steps) && (e.Msg == sent.Msg || e.Kind == trace.KindConn) && steps[i].f(e) {
			i++
		}
	}
	if i < len(steps) {
		t.Fatalf("journey stopped before the %s", steps[i].name)
	}
	for _, w := range c.worlds {
		if w != 1 {
			t.Fatalf("batch of world %d", w)
		}
	}
}

func TestSendErrors(t *testing.T) {
	p := newPlayground(t)
	ctx := context.Background()
	for _, tc := range []struct {
		m    Mail
		want string
	}{
		{Mail{From: "alice", To: []string{"bob@example.net"}}, "not an address"},
		{Mail{From: "alice@example.org"}, "say who the message is for"},
		{Mail{From: "alice@example.org", To: []string{"bob at example.net"}}, "not an address"},
		{Mail{From: "carol@example.org", To: []string{"bob@example.net"}}, "alice@example.org"},
	} {
		_, err := p.Send(ctx, tc.m)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Send(%+v) = %v, want %q", tc.m, err, tc.want)
		}
	}
}

func TestMessageView(t *testing.T) {
	p := newPlayground(t)
	sent, err := p.Send(context.Background(), Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Subject: "Grüße", Body: "Ça va? " + strings.Repeat("long line ", 10)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bob's message", func() bool { return inboxLen(t, p, "bob@example.net") == 1 })
	v, err := p.Message("bob@example.net", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if v.Msg != sent.Msg || v.UID != 1 || v.Mailbox != "INBOX" {
		t.Fatalf("view %q uid %d %q, want msg %q", v.Msg, v.UID, v.Mailbox, sent.Msg)
	}
	if v.Envelope.From != "alice@example.org" || strings.Join(v.Envelope.To, ",") != "bob@example.net" {
		t.Fatalf("envelope %+v", v.Envelope)
	}
	if !strings.Contains(v.Text, "Ça va?") {
		t.Errorf("decoded text %q", v.Text)
	}
	want := [][2]string{{"mx.example.net", "store.example.net"}, {"mail.example.org", "mx.example.net"}, {"alice-pc", "mail.example.org"}}
	if len(v.Received) != len(want) {
		t.Fatalf("%d Received fields: %+v", len(v.Received), v.Received)
	}
	for i, w := range want {
		h := v.Received[i].Hop
		if h == nil {
			t.Fatalf("Received %d (%s) tied to no hop", i, v.Received[i].Value)
		}
		if h.From != w[0] || h.To != w[1] {
			t.Errorf("Received %d tied to %s → %s, want %s → %s", i, h.From, h.To, w[0], w[1])
		}
		if !strings.HasPrefix(h.MailFrom, "<alice@example.org>") || len(h.RcptTo) != 1 {
			t.Errorf("hop %d envelope %q %q", i, h.MailFrom, h.RcptTo)
		}
	}
	if len(v.Hops) != 3 || v.Hops[0].From != "alice-pc" || v.Hops[2].To != "store.example.net" {
		t.Fatalf("hops %+v", v.Hops)
	}
	if !v.Hops[0].TLS || v.Hops[2].TLS {
		t.Errorf("TLS on hops: %v %v %v", v.Hops[0].TLS, v.Hops[1].TLS, v.Hops[2].TLS)
	}
	if _, err := p.Message("bob@example.net", "", 9); err == nil {
		t.Error("message UID 9 found")
	}
	if _, err := p.Message("nobody@example.com", "", 1); err == nil {
		t.Error("message of an unknown user found")
	}
}

func TestClockControls(t *testing.T) {
	p := newPlayground(t)
	cs, err := p.Pause()
	if err != nil || cs.Playing {
		t.Fatalf("Pause: %+v %v", cs, err)
	}
	start := cs.Time
	if _, err := p.Speed(0); err == nil {
		t.Error("speed 0 accepted")
	}
	if cs, err := p.Speed(60); err != nil || cs.Speed != 60 {
		t.Errorf("Speed(60): %+v %v", cs, err)
	}
	cs, err = p.Advance("+1h")
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.Time.Sub(start); got != time.Hour {
		t.Fatalf("advanced %v", got)
	}
	for _, bad := range []string{"soon", "-1h", "0s", "40d", ""} {
		if _, err := p.Advance(bad); err == nil || !strings.Contains(err.Error(), "advance") {
			t.Errorf("Advance(%q) = %v", bad, err)
		}
	}
	if _, err := p.Advance("retry"); err == nil || !strings.Contains(err.Error(), "no message is waiting") {
		t.Errorf("Advance(retry) with empty queues = %v", err)
	}
	if d, err := ParseDuration("2d"); err != nil || d != 48*time.Hour {
		t.Errorf("ParseDuration(2d) = %v, %v", d, err)
	}
	cs, err = p.Play()
	if err != nil || !cs.Playing || cs.Speed != 60 {
		t.Fatalf("Play: %+v %v", cs, err)
	}
	// Speed and play state survive a reset.
	if _, err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	if cs, _ := p.Clock(); !cs.Playing || cs.Speed != 60 {
		t.Fatalf("after reset: %+v", cs)
	}
}

func TestResetClosesSessions(t *testing.T) {
	p := newPlayground(t)
	s, err := p.Connect(context.Background(), "bob-pc", "mx.example.net", 25, ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, s, "220 ")
	var c collector
	defer p.Subscribe(c.add)()
	info, err := p.Reset()
	if err != nil {
		t.Fatal(err)
	}
	if info.World != 2 || info.Name != "default" {
		t.Fatalf("reset: %+v", info)
	}
	_, err = s.Next(context.Background())
	var ce *ClosedError
	if !errors.As(err, &ce) || ce.Reason != "the world was reset" {
		t.Fatalf("session after reset: %v", err)
	}
	if _, err := p.Send(context.Background(), Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Subject: "after"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "events of the new world", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.worlds) > 0 && c.worlds[len(c.worlds)-1] == 2
	})
	evs := c.snapshot()
	var first trace.Event
	for _, e := range evs {
		if e.Seq == 1 {
			first = e
		}
	}
	if first.Seq != 1 {
		t.Fatal("the new world's events do not start at seq 1")
	}
}

// A late subscriber gets the events it missed, then the rest, without
// repeats.
func TestLateSubscriber(t *testing.T) {
	p := newPlayground(t)
	if _, err := p.Send(context.Background(), Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Subject: "early"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery", func() bool { return inboxLen(t, p, "bob@example.net") == 1 })
	var c collector
	defer p.Subscribe(c.add)()
	all, _ := p.Events()
	waitFor(t, "the backlog", func() bool { return len(c.snapshot()) >= len(all) })
	for i, e := range c.snapshot() {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
	}
}

// With the MX down the message waits; once it is back, the retry
// delivers it.
func TestDeferredThenDelivered(t *testing.T) {
	p := newPlayground(t)
	if _, err := p.Pause(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Fault(world.Fault{Kind: "host-down", Host: "mx.example.net"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(context.Background(), Mail{From: "alice@example.org", To: []string{"bob@example.net"}, Subject: "later"}); err != nil {
		t.Fatal(err)
	}
	// Paused, the first attempt (a moment after queueing) waits: step to it.
	if _, err := p.Advance("next"); err != nil {
		t.Fatal(err)
	}
	var queued int
	waitFor(t, "the deferral", func() bool {
		st, _ := p.State()
		for _, h := range st.Hosts {
			if h.Name == "mail.example.org" {
				queued = len(h.Queue)
			}
		}
		return queued == 1 && !st.Clock.Retry.IsZero()
	})
	st, err := p.Fault(world.Fault{Kind: "host-up", Host: "mx.example.net"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Faults) != 2 {
		t.Fatalf("faults %+v", st.Faults)
	}
	if _, err := p.Advance("retry"); err != nil {
		t.Fatal(err)
	}
	// Each queue on the way starts a moment after it takes the message.
	if _, err := p.Advance("1s"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery after the retry", func() bool { return inboxLen(t, p, "bob@example.net") == 1 })
}

// A lesson runs in its own world; its checks are evaluated as the student
// works, each change is a lesson event, and its state is kept.
func TestLessonInPlayground(t *testing.T) {
	p := newPlayground(t)
	var c collector
	defer p.Subscribe(c.add)()
	if _, err := p.StartLesson(context.Background(), "no-such-lesson"); err == nil || !strings.Contains(err.Error(), `no built-in lesson "no-such-lesson"`) {
		t.Fatalf("StartLesson of an unknown id: %v", err)
	}
	st, err := p.StartLesson(context.Background(), "first-mail")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Builtin || st.Done || len(st.Checks) < 5 || st.Checks[0].OK || len(st.Solution) == 0 {
		t.Fatalf("a new lesson: %+v", st)
	}
	state := func() string {
		for _, l := range p.Lessons() {
			if l.ID == "first-mail" {
				return l.State
			}
		}
		return ""
	}
	if s := state(); s != LessonInProgress {
		t.Fatalf("state %q, want in-progress", s)
	}
	s, err := p.Connect(context.Background(), "bob-pc", "mx.example.net", 25, ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	expect(t, s, "220 ")
	send(t, s, "HELO bob-pc")
	expect(t, s, "250 ")
	waitFor(t, "the HELO check", func() bool {
		st, err := p.LessonStatus(0)
		return err == nil && st.Checks[0].OK && !st.Checks[1].OK && !st.Done
	})
	for _, step := range []struct{ line, reply string }{
		{"MAIL FROM:<alice@example.org>", "250 "}, {"RCPT TO:<bob@example.net>", "250 "}, {"DATA", "354 "},
	} {
		send(t, s, step.line)
		expect(t, s, step.reply)
	}
	for _, l := range []string{"Subject: by hand", "", "Hello."} {
		send(t, s, l)
	}
	send(t, s, ".")
	expect(t, s, "250 ")
	send(t, s, "QUIT")
	expect(t, s, "221 ")
	waitFor(t, "the lesson done", func() bool {
		st, err := p.LessonStatus(0)
		return err == nil && st.Done
	})
	if s := state(); s != LessonDone {
		t.Fatalf("state %q, want done", s)
	}
	waitFor(t, "the lesson events", func() bool {
		return c.has(func(e trace.Event) bool { return e.Kind == trace.KindLesson && e.Action == "started" }) &&
			c.has(func(e trace.Event) bool { return e.Kind == trace.KindLesson && e.Action == "progress" }) &&
			c.has(func(e trace.Event) bool { return e.Kind == trace.KindLesson && e.Action == "done" })
	})
	// Asked as of an event, the lesson says what held then: the page
	// shows what it has revealed, not what is yet to come.
	var done int64
	for _, e := range c.snapshot() {
		if e.Kind == trace.KindLesson && e.Action == "done" {
			done = e.Seq
		}
	}
	for _, tc := range []struct {
		seq  int64
		done bool
	}{{done - 1, false}, {done, true}, {0, true}} {
		st, err := p.LessonStatus(tc.seq)
		if err != nil || st.Done != tc.done {
			t.Errorf("as of event %d: done %v, %v; want %v", tc.seq, st.Done, err, tc.done)
		}
	}
	// Another world ends the lesson; done stays done.
	if _, err := p.Load("default"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.LessonStatus(0); err == nil {
		t.Error("a lesson still runs in a world loaded by hand")
	}
	if s := state(); s != LessonDone {
		t.Fatalf("state %q after another world, want done", s)
	}
}
