package mailhost

import (
	"bytes"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"strings"

	"github.com/mailhop/mailhop/sim/message"
	"github.com/mailhop/mailhop/sim/smtp"
	"github.com/mailhop/mailhop/sim/trace"
)

// Aliases: mail for some local addresses is not filed but sent on. A
// forward (an alias, a .forward file) resends the message as it is to
// other addresses, the envelope sender kept: the next MX sees this host
// deliver mail in the original sender's name, and SPF fails there. A
// mailing list sends a copy to each member from its own envelope sender,
// its Subject tagged and a footer added to the body: the changes break the
// author's DKIM signature. Both are expanded when the MX (or the MSA)
// accepts a message, before it is queued, as Postfix expands its virtual
// aliases.

// Alias says where mail for one local address goes instead of its
// mailbox: Forward or List.
type Alias struct {
	// Forward: the message goes on to these addresses, unchanged.
	Forward []string
	// List: the address is a mailing list.
	List *List
}

// List is a mailing list.
type List struct {
	Members []string
	// SubjectTag is put in front of the Subject ("[list]" when empty).
	SubjectTag string
	// Footer is added below the body (the list's name and address when
	// empty).
	Footer string
	// Bounces is the envelope sender of the copies, where the members'
	// servers send their bounces (LOCAL-bounces@DOMAIN when empty).
	Bounces string
}

// MaxHops is how many Received fields a message may carry when an alias
// sends it on: more, and it is refused (554 5.4.6) as caught in a mail
// loop (RFC 5321 §6.3 asks for a threshold of at least 100).
const MaxHops = 100

// aliasOf returns the alias of an address, if it is one.
func (c *Config) aliasOf(addr string) (Alias, bool) {
	if len(c.Aliases) == 0 {
		return Alias{}, false
	}
	a, ok := c.Aliases[strings.ToLower(addr)]
	return a, ok
}

// enqueuer is what the host's SMTP servers queue accepted mail with: the
// queue itself, or, on a host with aliases, the queue behind the
// expansion of its aliases.
func (h *Host) enqueuer() smtp.Enqueuer {
	if len(h.cfg.Aliases) == 0 {
		return h.Queue
	}
	return aliasQueue{h}
}

type aliasQueue struct{ h *Host }

// copyOut is one message the expansion queues.
type copyOut struct {
	from string
	to   []string
	body []byte
}

// Enqueue expands the aliases among the recipients and queues what comes
// of it: the message for the plain recipients and the forwarded ones, a
// copy for each mailing list. It returns the first queue id.
func (a aliasQueue) Enqueue(from string, to []string, body []byte) (string, error) {
	cfg := a.h.cfg
	// The message key and the hop count are read from the message once,
	// at the first alias: most messages have none among their recipients.
	key, n := "", -1
	emit := func(action, text string) {
		cfg.Trace.Emit(trace.Event{Kind: trace.KindQueue, Action: action, Host: cfg.Hostname, Msg: key, Text: text})
	}
	main := copyOut{from: from, body: body}
	var lists []copyOut
	seen := map[string]bool{}
	var expand func(addr string, depth int) error
	expand = func(addr string, depth int) error {
		al, ok := cfg.aliasOf(addr)
		if !ok || seen[strings.ToLower(addr)] || depth > 10 {
			main.to = append(main.to, addr)
			return nil
		}
		seen[strings.ToLower(addr)] = true
		if n < 0 {
			key, n = trace.MsgKey(body), hops(body)
		}
		if n >= MaxHops {
			text := fmt.Sprintf("Too many hops (%d Received fields): a mail loop, the message is not sent on to %s", n, addr)
			emit("loop", text)
			return &smtp.Refusal{Code: 554, Enh: "5.4.6", Text: text}
		}
		if l := al.List; l != nil {
			bounces := listBounces(addr, l)
			lists = append(lists, copyOut{from: bounces, to: l.Members, body: ListCopy(body, addr, *l)})
			emit("list", fmt.Sprintf("%s is a mailing list: a copy goes to its %d member%s (%s) from <%s>, %q in front of the Subject and a footer below the body",
				addr, len(l.Members), plural(len(l.Members)), strings.Join(l.Members, ", "), bounces, subjectTag(addr, *l)))
			return nil
		}
		emit("forwarded", fmt.Sprintf("%s is forwarded to %s: the message goes on unchanged, its envelope sender <%s> kept",
			addr, strings.Join(al.Forward, ", "), from))
		for _, f := range al.Forward {
			if err := expand(f, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range to {
		if err := expand(r, 0); err != nil {
			return "", err
		}
	}
	first := ""
	for _, c := range append([]copyOut{main}, lists...) {
		if len(c.to) == 0 {
			continue
		}
		id, err := a.h.Queue.Enqueue(c.from, c.to, c.body)
		if err != nil {
			return "", err
		}
		if first == "" {
			first = id
		}
	}
	return first, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// hops counts a message's Received fields.
func hops(msg []byte) int {
	n := 0
	for _, f := range message.ReadHeader(msg) {
		if strings.EqualFold(f.Name, "Received") {
			n++
		}
	}
	return n
}

func listBounces(addr string, l *List) string {
	if l.Bounces != "" {
		return l.Bounces
	}
	local, domain, _ := strings.Cut(addr, "@")
	return local + "-bounces@" + domain
}

func subjectTag(addr string, l List) string {
	if l.SubjectTag != "" {
		return l.SubjectTag
	}
	local, _, _ := strings.Cut(addr, "@")
	return "[" + local + "]"
}

// listFooter is the footer a list puts below each message's body.
func listFooter(addr string, l List) string {
	if l.Footer != "" {
		return l.Footer
	}
	local, _, _ := strings.Cut(addr, "@")
	return "_______________________________________________\n" + local + " mailing list -- " + addr + "\n"
}

// ListCopy returns the copy of msg a mailing list at addr sends its
// members, as list managers make it: the Subject tagged, List-Id and
// List-Post fields (RFC 2919, RFC 2369) below the header, and the footer
// added to the body — at its end for a plain text body (quoted-printable
// when the body is), as a last part of a multipart one; a base64 body
// keeps none.
func ListCopy(msg []byte, addr string, l List) []byte {
	head, body := splitMessage(msg)
	tag := subjectTag(addr, l)
	var out bytes.Buffer
	subject := false
	lines := strings.SplitAfter(string(head), "\r\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		name, value, ok := strings.Cut(line, ":")
		if ok && !subject && strings.EqualFold(strings.TrimSpace(name), "Subject") && !strings.ContainsAny(name, " \t") {
			subject = true
			if !strings.Contains(line, tag) {
				line = name + ": " + tag + " " + strings.TrimLeft(value, " \t")
			}
		}
		out.WriteString(line)
	}
	if !subject {
		out.WriteString("Subject: " + tag + "\r\n")
	}
	local, domain, _ := strings.Cut(addr, "@")
	fmt.Fprintf(&out, "List-Id: <%s.%s>\r\nList-Post: <mailto:%s>\r\n\r\n", local, domain, addr)
	out.Write(withFooter(message.ReadHeader(msg), body, crlf(listFooter(addr, l))))
	return out.Bytes()
}

// splitMessage cuts a message into its header section (each field
// ending in CRLF, without the empty line) and its body.
func splitMessage(msg []byte) (head, body []byte) {
	if bytes.HasPrefix(msg, []byte("\r\n")) {
		return nil, msg[2:]
	}
	i := bytes.Index(msg, []byte("\r\n\r\n"))
	if i < 0 {
		return append(bytes.TrimSuffix(msg, []byte("\r\n")), "\r\n"...), nil
	}
	return msg[:i+2], msg[i+4:]
}

func crlf(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	if !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return s
}

// withFooter adds the footer to a body of the given header.
func withFooter(h message.Header, body []byte, footer string) []byte {
	mt, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	out := append([]byte(nil), body...)
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, "\r\n"...)
	}
	switch {
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		end := []byte("\r\n--" + params["boundary"] + "--")
		i := bytes.LastIndex(out, end)
		if i < 0 {
			return out
		}
		part := "\r\n--" + params["boundary"] + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + strings.TrimSuffix(footer, "\r\n")
		return append(append(append([]byte(nil), out[:i]...), part...), out[i:]...)
	case cte == "base64":
		return out
	case cte == "quoted-printable":
		var b bytes.Buffer
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(footer))
		w.Close()
		return append(out, b.Bytes()...)
	}
	return append(out, footer...)
}
