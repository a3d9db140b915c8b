package lesson

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
	"github.com/mailhop/mailhop/sim/world"
)

// WorldView is what Evaluate reads of a world: its state (mailboxes,
// flags) and its stored messages. *world.World is one.
type WorldView interface {
	State() world.State
	Message(user, mailbox string, uid uint32) ([]byte, error)
}

// Result says whether one check holds.
type Result struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Missing is the check's own words for what is missing (when not OK).
	Missing string `json:"missing,omitempty"`
	// Detail is what the world shows instead, when there is something
	// to say: the reply the server gave, why the newest message does
	// not match (when not OK).
	Detail string `json:"detail,omitempty"`
}

// Done reports whether every check holds.
func Done(rs []Result) bool {
	for _, r := range rs {
		if !r.OK {
			return false
		}
	}
	return len(rs) > 0
}

// Evaluate says which checks hold, given the trace events since the
// lesson started (in order) and the world. It is cheap enough to call
// after every batch of events: patterns are compiled by Check, and
// stored messages are parsed once.
//
// A lesson built in Go rather than by Parse is checked on first use; call
// Check first when several goroutines evaluate it.
func (l *Lesson) Evaluate(events []trace.Event, w WorldView) []Result {
	out := make([]Result, 0, len(l.Checks))
	if l.spec == nil {
		if err := l.Check(); err != nil {
			for _, c := range l.Checks {
				out = append(out, Result{Name: c.Name, Missing: err.Error()})
			}
			return out
		}
	}
	var st *world.State
	state := func() *world.State {
		if st == nil && w != nil {
			s := w.State()
			st = &s
		}
		return st
	}
	var convs []*conv
	for i := range l.Checks {
		c := &l.Checks[i]
		need := max(c.Count, 1)
		var n int
		var detail string
		switch {
		case c.Event != nil:
			n = c.Event.count(events)
		case c.Reply != nil:
			if convs == nil {
				convs = conversations(events)
			}
			n, detail = c.Reply.count(convs)
		case c.Mailbox != nil:
			n, detail = l.countMailbox(c.Mailbox, state(), w, events)
		}
		ok := n >= need
		if c.Absent {
			ok = n == 0
			detail = ""
			if !ok {
				detail = fmt.Sprintf("found %d", n)
			}
		} else if ok {
			detail = ""
		} else if n > 0 && detail == "" {
			detail = fmt.Sprintf("%d of the %d needed so far", n, need)
		}
		r := Result{Name: c.Name, OK: ok}
		if !ok {
			r.Missing = c.Missing
			if r.Missing == "" {
				r.Missing = "not yet: " + c.Name
			}
			r.Detail = detail
		}
		out = append(out, r)
	}
	return out
}

func (e *EventMatch) matches(ev *trace.Event) bool {
	if e.Kind != "" && string(ev.Kind) != e.Kind ||
		e.Action != "" && !strings.EqualFold(ev.Action, e.Action) ||
		e.Host != "" && !strings.EqualFold(ev.Host, e.Host) ||
		e.Peer != "" && !strings.EqualFold(ev.Peer, e.Peer) ||
		e.Port != 0 && ev.Port != e.Port ||
		e.Proto != "" && !strings.EqualFold(ev.Proto, e.Proto) ||
		e.Dir != "" && string(ev.Dir) != e.Dir ||
		e.TLS != nil && ev.TLS != *e.TLS ||
		e.text != nil && !e.text.MatchString(ev.Text) ||
		e.mailbox != nil && !e.mailbox.MatchString(ev.Mailbox) {
		return false
	}
	if e.records != nil && !slices.ContainsFunc(ev.Records, e.records.MatchString) {
		return false
	}
	return true
}

func (e *EventMatch) count(events []trace.Event) int {
	n := 0
	for i := range events {
		if e.matches(&events[i]) {
			n++
		}
	}
	return n
}

// conv is one connection's transcript: what the client sent, each with
// the server's lines that followed until the client's next line.
type conv struct {
	host, peer string
	port       int
	turns      []turn
}

type turn struct {
	sent    string
	sentTLS bool
	replies []trace.Event
}

func conversations(events []trace.Event) []*conv {
	var out []*conv
	byID := map[string]*conv{}
	for i := range events {
		e := &events[i]
		if e.Kind != trace.KindWire || e.Conn == "" {
			continue
		}
		c := byID[e.Conn]
		if c == nil {
			c = &conv{host: e.Host, peer: e.Peer, port: e.Port}
			byID[e.Conn] = c
			out = append(out, c)
		}
		switch e.Dir {
		case trace.Send:
			c.turns = append(c.turns, turn{sent: e.Text, sentTLS: e.TLS})
		case trace.Recv:
			if len(c.turns) > 0 { // the greeting answers no command
				t := &c.turns[len(c.turns)-1]
				t.replies = append(t.replies, *e)
			}
		}
	}
	return out
}

// count returns how many reply lines match (lines the server sent after
// a matching command, before the client's next line), and, for the last
// matching command that got no matching line, what the server answered.
func (r *ReplyMatch) count(convs []*conv) (int, string) {
	n := 0
	detail := ""
	for _, c := range convs {
		if r.Host != "" && !strings.EqualFold(c.host, r.Host) ||
			r.Peer != "" && !strings.EqualFold(c.peer, r.Peer) ||
			r.Port != 0 && c.port != r.Port {
			continue
		}
		for _, t := range c.turns {
			if !r.send.MatchString(t.sent) {
				continue
			}
			hits := 0
			for _, e := range t.replies {
				if r.reply.MatchString(e.Text) && (r.TLS == nil || e.TLS == *r.TLS) {
					hits++
				}
			}
			if hits > 0 {
				n += hits
				continue
			}
			switch {
			case len(t.replies) == 0:
				detail = fmt.Sprintf("you sent %q to %s:%d; no answer yet", t.sent, c.peer, c.port)
			case r.TLS != nil && *r.TLS && !t.replies[0].TLS && r.reply.MatchString(t.replies[0].Text):
				detail = fmt.Sprintf("you sent %q to %s:%d outside TLS", t.sent, c.peer, c.port)
			default:
				detail = fmt.Sprintf("you sent %q to %s:%d; the server answered %q", t.sent, c.peer, c.port, lastReply(t.replies))
			}
		}
	}
	return n, detail
}

// lastReply returns the final line of a reply (an SMTP reply's last line,
// an IMAP tagged answer), or its first line when it has no clear end.
func lastReply(rs []trace.Event) string {
	for _, e := range rs {
		t := e.Text
		if len(t) >= 4 && t[3] == ' ' || strings.HasPrefix(t, "+OK") || strings.HasPrefix(t, "-ERR") {
			return t
		}
		if !strings.HasPrefix(t, "* ") && !strings.HasPrefix(t, "+ ") && (len(t) < 4 || t[3] != '-') {
			return t
		}
	}
	return rs[len(rs)-1].Text
}

// parsedMsg is a stored message, parsed once.
type parsedMsg struct {
	fields  []string // unfolded "Name: value" lines
	subject string   // decoded
	from    string
	to      string
	hasSubj bool
	body    string
}

type msgKey struct {
	user string
	box  string
	uid  uint32
	size int64
	date time.Time
	msg  string
}

func (l *Lesson) message(w WorldView, user, box string, m world.MessageState) *parsedMsg {
	k := msgKey{strings.ToLower(user), box, m.UID, m.Size, m.Date, m.Msg}
	l.cacheMu.Lock()
	if l.cacheOf != w {
		l.cache, l.cacheOf = nil, w
	}
	p := l.cache[k]
	l.cacheMu.Unlock()
	if p != nil {
		return p
	}
	raw, err := w.Message(user, box, m.UID)
	if err != nil {
		return nil
	}
	p = parseMessage(raw)
	l.cacheMu.Lock()
	if l.cacheOf == w {
		if l.cache == nil {
			l.cache = map[msgKey]*parsedMsg{}
		}
		l.cache[k] = p
	}
	l.cacheMu.Unlock()
	return p
}

// parseMessage reads a stored message's header (go-message's textproto:
// fields in order, folded lines joined) and body. A header it can not
// read ends where the reading stopped.
func parseMessage(raw []byte) *parsedMsg {
	p := &parsedMsg{}
	br := bufio.NewReader(bytes.NewReader(raw))
	h, _ := textproto.ReadHeader(br)
	body, _ := io.ReadAll(br)
	p.body = string(body)
	dec := new(mime.WordDecoder)
	for f := h.Fields(); f.Next(); {
		name, value := f.Key(), f.Value()
		p.fields = append(p.fields, name+": "+value)
		if d, err := dec.DecodeHeader(value); err == nil {
			value = d
		}
		switch strings.ToLower(name) {
		case "subject":
			if !p.hasSubj {
				p.subject, p.hasSubj = value, true
			}
		case "from":
			if p.from == "" {
				p.from = value
			}
		case "to":
			if p.to == "" {
				p.to = value
			}
		}
	}
	return p
}

// why says why a message does not match, or "" when it does.
func (m *MailboxMatch) why(p *parsedMsg, flags []string) string {
	field := func(name, value string, present bool, re *regexp.Regexp, pattern string) string {
		if re == nil {
			return ""
		}
		if !present {
			return "it has no " + name + " header"
		}
		if !re.MatchString(value) {
			return fmt.Sprintf("its %s %q does not match %q", name, value, pattern)
		}
		return ""
	}
	if s := field("Subject", p.subject, p.hasSubj, m.subject, m.Subject); s != "" {
		return s
	}
	if s := field("From", p.from, p.from != "", m.from, m.From); s != "" {
		return s
	}
	if s := field("To", p.to, p.to != "", m.to, m.To); s != "" {
		return s
	}
	for i, re := range m.header {
		if !slices.ContainsFunc(p.fields, re.MatchString) {
			return fmt.Sprintf("no header line of it matches %q", m.Header[i])
		}
	}
	for i, re := range m.notHeader {
		if j := slices.IndexFunc(p.fields, re.MatchString); j >= 0 {
			return fmt.Sprintf("its header line %q matches %q", p.fields[j], m.NotHeader[i])
		}
	}
	if m.body != nil && !m.body.MatchString(p.body) {
		return fmt.Sprintf("its body does not match %q", m.Body)
	}
	if m.Flag != "" && !slices.ContainsFunc(flags, func(f string) bool { return strings.EqualFold(f, m.Flag) }) {
		if len(flags) == 0 {
			return fmt.Sprintf("it has no flags (not %s)", m.Flag)
		}
		return fmt.Sprintf("its flags are %s (not %s)", strings.Join(flags, " "), m.Flag)
	}
	return ""
}

// countMailbox returns how many messages of the user's INBOX (or the
// mailbox the check names) match, and when none does, why the newest
// does not.
//
// A message counts once the trace has shown it filed (a deliver event for
// the mailbox): the state may be a moment ahead of the events, and a
// lesson must not say more than the trace it is checked against.
func (l *Lesson) countMailbox(m *MailboxMatch, st *world.State, w WorldView, events []trace.Event) (int, string) {
	if st == nil {
		return 0, "no world to look into"
	}
	box := store.Inbox
	if m.Mailbox != "" && !strings.EqualFold(m.Mailbox, store.Inbox) {
		box = m.Mailbox
	}
	var mb *world.MailboxState
	kept := false
	for i := range st.Hosts {
		for j := range st.Hosts[i].Mailboxes {
			b := &st.Hosts[i].Mailboxes[j]
			if strings.EqualFold(b.User, m.User) {
				kept = true
				if b.Mailbox == box {
					mb = b
				}
			}
		}
	}
	switch {
	case mb == nil && kept:
		return 0, fmt.Sprintf("%s has no %s: nothing has been filed there", m.User, box)
	case mb == nil:
		return 0, fmt.Sprintf("no host of the world keeps %s's %s", m.User, box)
	}
	filed := 0
	for i := range events {
		if events[i].Kind == trace.KindDeliver && strings.EqualFold(events[i].Mailbox, mb.User+"/"+box) {
			filed++
		}
	}
	msgs := mb.Messages[:min(filed, len(mb.Messages))] // in the order they were filed
	if len(msgs) == 0 {
		return 0, fmt.Sprintf("%s's %s is empty", m.User, box)
	}
	n := 0
	why := ""
	for _, ms := range msgs {
		p := l.message(w, m.User, box, ms)
		if p == nil {
			continue
		}
		if y := m.why(p, ms.Flags); y != "" {
			why = fmt.Sprintf("message %d of %s's %s (%s): %s", ms.UID, m.User, box, describe(p), y)
			continue
		}
		n++
	}
	if n > 0 {
		why = ""
	}
	return n, why
}

func describe(p *parsedMsg) string {
	if p.hasSubj {
		return fmt.Sprintf("Subject %q", p.subject)
	}
	return "no Subject"
}
