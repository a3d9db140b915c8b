package lesson

import (
	"embed"
	"errors"
	"fmt"
	"path"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/mailhop/mailhop/sim/mailhost"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/world"
)

// Lesson is one lesson file. See the package documentation for the
// meaning of every field.
type Lesson struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Goal     string   `json:"goal"`
	World    string   `json:"world"`
	Setup    []Action `json:"setup,omitempty"`
	Steps    []Step   `json:"steps"`
	Checks   []Check  `json:"checks"`
	Solution []Action `json:"solution,omitempty"`

	spec    *world.Spec // the world, as loaded by Check
	builtin bool        // loaded by id from the lessons that come with mailhop

	cacheMu sync.Mutex
	cache   map[msgKey]*parsedMsg
	cacheOf WorldView
}

// Step is one thing the student is asked to do.
type Step struct {
	Text string `json:"text"`
	Hint string `json:"hint,omitempty"`
}

// Action is one step of a setup or a solution. Exactly one of Connect,
// Send, Expect (alone), Close, Advance, Mail and Fault is set; Expect may
// also follow a Connect or a Send in the same action, and EOL goes with
// Send.
type Action struct {
	Connect *Connect `json:"connect,omitempty"`
	// Send is one line typed in the terminal, sent on the latest
	// connection with CRLF. A pointer, so that an empty line (the one
	// between a message's header and body) can be sent.
	Send *string `json:"send,omitempty"`
	// EOL "lf" ends the line with a bare LF instead of CRLF, as nc
	// without -C does.
	EOL string `json:"eol,omitempty"`
	// Expect waits for a server line that matches this pattern.
	Expect  string       `json:"expect,omitempty"`
	Close   bool         `json:"close,omitempty"`
	Advance string       `json:"advance,omitempty"`
	Mail    *Mail        `json:"mail,omitempty"`
	Fault   *world.Fault `json:"fault,omitempty"`

	expect *regexp.Regexp
	adv    time.Duration // 0 with Advance "retry"
}

// Connect opens a terminal connection from a host to a port of another.
type Connect struct {
	From string `json:"from"`
	To   string `json:"to"`
	Port int    `json:"port"`
}

// Mail is a message sent by its sender's mail program (MUA → MSA).
type Mail struct {
	From    string   `json:"from"`
	To      []string `json:"to"`
	Subject string   `json:"subject,omitempty"`
	Body    string   `json:"body,omitempty"`
}

// Check is one thing that must hold for the lesson to be done. Exactly
// one of Event, Reply and Mailbox is set.
type Check struct {
	Name    string        `json:"name"`
	Missing string        `json:"missing,omitempty"`
	Event   *EventMatch   `json:"event,omitempty"`
	Reply   *ReplyMatch   `json:"reply,omitempty"`
	Mailbox *MailboxMatch `json:"mailbox,omitempty"`
	// Count is how many matches are needed (1 when 0).
	Count int `json:"count,omitempty"`
	// Absent turns the check around: it holds while nothing matches.
	Absent bool `json:"absent,omitempty"`
}

// EventMatch matches trace events. Empty fields match anything; Text,
// Records and Mailbox are patterns.
type EventMatch struct {
	Kind    string `json:"kind,omitempty"`
	Action  string `json:"action,omitempty"`
	Host    string `json:"host,omitempty"`
	Peer    string `json:"peer,omitempty"`
	Port    int    `json:"port,omitempty"`
	Proto   string `json:"proto,omitempty"`
	Dir     string `json:"dir,omitempty"`
	Text    string `json:"text,omitempty"`
	Records string `json:"records,omitempty"`
	Mailbox string `json:"mailbox,omitempty"`
	TLS     *bool  `json:"tls,omitempty"`

	text, records, mailbox *regexp.Regexp
}

// ReplyMatch matches a line a client sent on a connection and the reply
// the server gave to it.
type ReplyMatch struct {
	Host  string `json:"host,omitempty"`
	Peer  string `json:"peer,omitempty"`
	Port  int    `json:"port,omitempty"`
	Send  string `json:"send"`
	Reply string `json:"reply"`
	TLS   *bool  `json:"tls,omitempty"`

	send, reply *regexp.Regexp
}

// MailboxMatch matches the messages of a user's INBOX (or of Mailbox).
type MailboxMatch struct {
	User string `json:"user"`
	// Mailbox is the mailbox looked into: INBOX unless said; Junk holds
	// what DMARC quarantined.
	Mailbox   string   `json:"mailbox,omitempty"`
	Subject   string   `json:"subject,omitempty"`
	From      string   `json:"from,omitempty"`
	To        string   `json:"to,omitempty"`
	Header    []string `json:"header,omitempty"`
	NotHeader []string `json:"not_header,omitempty"`
	Body      string   `json:"body,omitempty"`
	Flag      string   `json:"flag,omitempty"`

	subject, from, to, body *regexp.Regexp
	header, notHeader       []*regexp.Regexp
}

// The kinds of trace event a check may name.
var kinds = []string{"host", "link", "conn", "wire", "packet", "tls", "dns", "queue", "deliver", "fetch", "hop", "fault", "lesson", "auth"}

//go:embed lessons/*.yaml
var builtinFS embed.FS

// Info names a built-in lesson.
type Info struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type builtinFile struct {
	Info
	text []byte
}

// builtinFiles reads the built-in lessons once: each is parsed again,
// fresh, when it is loaded (a Lesson holds the state of its evaluation).
var builtinFiles = sync.OnceValue(func() []builtinFile {
	entries, err := builtinFS.ReadDir("lessons")
	if err != nil {
		panic(err)
	}
	var out []builtinFile
	for _, e := range entries { // sorted by name: 01-..., 02-...
		b, err := builtinFS.ReadFile(path.Join("lessons", e.Name()))
		if err != nil {
			panic(err)
		}
		l, err := Parse(b)
		if err != nil {
			panic(fmt.Sprintf("built-in lesson %s: %v", e.Name(), err))
		}
		out = append(out, builtinFile{Info{l.ID, l.Title}, b})
	}
	return out
})

// Index lists the lessons that come with mailhop, in course order.
func Index() []Info {
	var out []Info
	for _, f := range builtinFiles() {
		out = append(out, f.Info)
	}
	return out
}

// Builtin returns the lessons that come with mailhop, in course order.
func Builtin() []*Lesson {
	var out []*Lesson
	for _, f := range builtinFiles() {
		l, err := Load(f.ID)
		if err != nil {
			panic(err)
		}
		out = append(out, l)
	}
	return out
}

// Load returns a built-in lesson by id, or parses a lesson file's text
// (YAML or JSON).
func Load(idOrText string) (*Lesson, error) {
	if !strings.ContainsAny(idOrText, "\n{:") {
		var ids []string
		for _, f := range builtinFiles() {
			if f.ID == idOrText {
				l, err := Parse(f.text)
				if l != nil {
					l.builtin = true
				}
				return l, err
			}
			ids = append(ids, f.ID)
		}
		return nil, fmt.Errorf("no built-in lesson %q (there are: %s)", idOrText, strings.Join(ids, ", "))
	}
	return Parse([]byte(idOrText))
}

// IsBuiltin reports whether the lesson comes with mailhop (Load by id).
func (l *Lesson) IsBuiltin() bool { return l.builtin }

// Parse reads a lesson file (YAML or JSON) and checks it.
func Parse(b []byte) (*Lesson, error) {
	var l Lesson
	if err := yaml.UnmarshalStrict(b, &l); err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, "json: "); i >= 0 {
			msg = msg[i+len("json: "):] // "unknown field "colour"", without the layers above
		}
		return nil, fmt.Errorf("lesson file: %s", msg)
	}
	if err := l.Check(); err != nil {
		return nil, err
	}
	return &l, nil
}

// Check reports the first thing wrong with a lesson, in words a teacher
// editing the file can act on, and prepares its patterns.
func (l *Lesson) Check() error {
	name := l.ID
	if name == "" {
		name = l.Title
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("lesson %q: %s", name, fmt.Sprintf(format, a...))
	}
	switch {
	case l.ID == "":
		return fail("no id (a short name like first-mail)")
	case strings.ContainsAny(l.ID, " \t\n{:/"):
		return fail("the id %q may not hold spaces, braces, colons or slashes", l.ID)
	case l.Title == "":
		return fail("no title")
	case l.Goal == "":
		return fail("no goal")
	case l.World == "":
		return fail("no world (a built-in world's name: %s; or a whole world file)", strings.Join(world.Builtin(), ", "))
	case len(l.Steps) == 0:
		return fail("no steps")
	case len(l.Checks) == 0:
		return fail("no checks")
	}
	spec, err := world.Load(l.World)
	if err != nil {
		return fail("world: %v", err)
	}
	l.spec = spec
	for i, s := range l.Steps {
		if strings.TrimSpace(s.Text) == "" {
			return fail("step %d has no text", i+1)
		}
	}
	for i := range l.Setup {
		if err := l.checkAction(&l.Setup[i], true); err != nil {
			return fail("setup action %d: %v", i+1, err)
		}
	}
	for i := range l.Solution {
		if err := l.checkAction(&l.Solution[i], false); err != nil {
			return fail("solution action %d: %v", i+1, err)
		}
	}
	names := map[string]bool{}
	for i := range l.Checks {
		c := &l.Checks[i]
		if c.Name == "" {
			return fail("check %d has no name", i+1)
		}
		if names[c.Name] {
			return fail("check %d: the name %q is used twice", i+1, c.Name)
		}
		names[c.Name] = true
		if err := l.checkCheck(c); err != nil {
			return fail("check %d (%s): %v", i+1, c.Name, err)
		}
	}
	return nil
}

// compile compiles a pattern of a lesson file: RE2 syntax that is also
// valid in JavaScript, always matched ignoring case.
func compile(field, p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, nil
	}
	if hasFlagGroup(p) {
		return nil, fmt.Errorf("%s %q: flags like (?i) or (?s) are not allowed (patterns must also work in JavaScript; they always ignore case)", field, p)
	}
	for _, bad := range []string{`\A`, `\z`, `\Q`, `\C`, `[[:`, `\p`, `\P`} {
		if strings.Contains(p, bad) {
			return nil, fmt.Errorf("%s %q: %s is not allowed (patterns must also work in JavaScript)", field, p, bad)
		}
	}
	re, err := regexp.Compile("(?i)" + p)
	if err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s %q is not a valid pattern: %s", field, p, se.Code)
		}
		return nil, fmt.Errorf("%s %q is not a valid pattern: %v", field, p, err)
	}
	return re, nil
}

// hasFlagGroup reports whether p holds a flag group like "(?i)" or
// "(?s:...)", or a Python-style named group "(?P<", which JavaScript
// does not know.
func hasFlagGroup(p string) bool {
	for i := 0; i+2 < len(p); i++ {
		if p[i] == '\\' {
			i++ // an escaped character
			continue
		}
		if p[i] == '(' && p[i+1] == '?' {
			c := p[i+2]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' {
				return true
			}
		}
	}
	return false
}

func (l *Lesson) hasHost(name string) bool {
	return slices.ContainsFunc(l.spec.Hosts, func(h world.HostSpec) bool {
		return h.Name == name || slices.Contains(h.Addrs, name)
	})
}

func (l *Lesson) hostNames() string {
	var n []string
	for _, h := range l.spec.Hosts {
		n = append(n, h.Name)
	}
	return strings.Join(n, ", ")
}

func (l *Lesson) hasUser(addr string) bool {
	return slices.ContainsFunc(l.spec.Users, func(u world.UserSpec) bool { return strings.EqualFold(u.Address, addr) })
}

func (l *Lesson) checkAction(a *Action, setup bool) error {
	set := 0
	for _, b := range []bool{a.Connect != nil, a.Send != nil, a.Close, a.Advance != "", a.Mail != nil, a.Fault != nil} {
		if b {
			set++
		}
	}
	if set == 0 && a.Expect != "" {
		set = 1
	}
	if set != 1 {
		return errors.New("say exactly one of connect, send, expect, close, advance, mail, fault (expect may go with connect or send)")
	}
	if setup && (a.Connect != nil || a.Send != nil || a.Close || a.Expect != "") {
		return errors.New("a setup does only mail, advance and fault: typing is the student's job (or the solution's)")
	}
	if a.Expect != "" && (a.Close || a.Advance != "" || a.Mail != nil || a.Fault != nil) {
		return errors.New("expect goes alone, or with connect or send")
	}
	var err error
	if a.expect, err = compile("expect", a.Expect); err != nil {
		return err
	}
	switch a.EOL {
	case "", "crlf":
	case "lf":
		if a.Send == nil {
			return errors.New(`eol goes with send`)
		}
	default:
		return fmt.Errorf("eol %q: say lf (a bare LF) or leave it out (CRLF)", a.EOL)
	}
	if a.Send != nil && strings.ContainsAny(*a.Send, "\r\n") {
		return errors.New("send is one line: no CR or LF inside (use one send per line)")
	}
	if c := a.Connect; c != nil {
		if !l.hasHost(c.From) {
			return fmt.Errorf("connect from %q: not a host of the world (hosts: %s)", c.From, l.hostNames())
		}
		if !l.hasHost(c.To) {
			return fmt.Errorf("connect to %q: not a host of the world (hosts: %s)", c.To, l.hostNames())
		}
		if c.Port <= 0 || c.Port > 65535 {
			return fmt.Errorf("connect: port %d is not a TCP port", c.Port)
		}
	}
	if a.Advance != "" {
		if a.Advance != "retry" {
			d, err := time.ParseDuration(a.Advance)
			if err != nil || d <= 0 {
				return fmt.Errorf("advance %q: say a duration like 90s or 1h, or retry (to the next queue retry)", a.Advance)
			}
			a.adv = d
		}
	}
	if m := a.Mail; m != nil {
		if !l.hasUser(m.From) {
			return fmt.Errorf("mail from %q: not a user of the world", m.From)
		}
		if len(m.To) == 0 {
			return errors.New("mail: no recipient (to)")
		}
		for _, to := range m.To {
			if !strings.Contains(to, "@") {
				return fmt.Errorf("mail to %q: not an address", to)
			}
		}
	}
	if a.Fault != nil {
		s := *l.spec
		s.Faults = []world.Fault{*a.Fault}
		if err := s.Check(); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lesson) checkCheck(c *Check) error {
	set := 0
	for _, b := range []bool{c.Event != nil, c.Reply != nil, c.Mailbox != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return errors.New("say exactly one of event, reply, mailbox")
	}
	if c.Count < 0 {
		return errors.New("count may not be negative")
	}
	if c.Absent && c.Count > 1 {
		return errors.New("absent and count do not go together")
	}
	var err error
	host := func(field, name string) error {
		if name != "" && !l.hasHost(name) {
			return fmt.Errorf("%s %q: not a host of the world (hosts: %s)", field, name, l.hostNames())
		}
		return nil
	}
	if e := c.Event; e != nil {
		if e.Kind != "" && !slices.Contains(kinds, e.Kind) {
			return fmt.Errorf("event kind %q: one of %s", e.Kind, strings.Join(kinds, ", "))
		}
		if e.Dir != "" && e.Dir != "send" && e.Dir != "recv" {
			return fmt.Errorf("event dir %q: send (client to server) or recv (server to client)", e.Dir)
		}
		if err := host("event host", e.Host); err != nil {
			return err
		}
		if err := host("event peer", e.Peer); err != nil {
			return err
		}
		if e.text, err = compile("event text", e.Text); err != nil {
			return err
		}
		if e.records, err = compile("event records", e.Records); err != nil {
			return err
		}
		if e.mailbox, err = compile("event mailbox", e.Mailbox); err != nil {
			return err
		}
	}
	if r := c.Reply; r != nil {
		if r.Send == "" || r.Reply == "" {
			return errors.New("a reply check needs send (the command) and reply (the answer)")
		}
		if err := host("reply host", r.Host); err != nil {
			return err
		}
		if err := host("reply peer", r.Peer); err != nil {
			return err
		}
		if r.send, err = compile("reply send", r.Send); err != nil {
			return err
		}
		if r.reply, err = compile("reply reply", r.Reply); err != nil {
			return err
		}
	}
	if m := c.Mailbox; m != nil {
		if !l.hasUser(m.User) {
			return fmt.Errorf("mailbox of %q: not a user of the world", m.User)
		}
		if m.Mailbox != "" && !strings.EqualFold(m.Mailbox, store.Inbox) && m.Mailbox != mailhost.Junk {
			return fmt.Errorf("mailbox %q: INBOX or %s (the mailboxes the world files mail into)", m.Mailbox, mailhost.Junk)
		}
		if m.subject, err = compile("mailbox subject", m.Subject); err != nil {
			return err
		}
		if m.from, err = compile("mailbox from", m.From); err != nil {
			return err
		}
		if m.to, err = compile("mailbox to", m.To); err != nil {
			return err
		}
		if m.body, err = compile("mailbox body", m.Body); err != nil {
			return err
		}
		m.header, m.notHeader = nil, nil
		for _, h := range m.Header {
			re, err := compile("mailbox header", h)
			if err != nil {
				return err
			}
			m.header = append(m.header, re)
		}
		for _, h := range m.NotHeader {
			re, err := compile("mailbox not_header", h)
			if err != nil {
				return err
			}
			m.notHeader = append(m.notHeader, re)
		}
	}
	return nil
}

// Spec returns a fresh copy of the lesson's world, ready for world.New.
func (l *Lesson) Spec() (*world.Spec, error) {
	return world.Load(l.World)
}
