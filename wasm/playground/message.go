package playground

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/message"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// MessageView is a message of a mailbox as the message view shows it:
// the header fields in order, the body, the envelope it was delivered
// with, and the hop of the journey behind each Received field.
type MessageView struct {
	User    string `json:"user"`
	Mailbox string `json:"mailbox"`
	UID     uint32 `json:"uid"`
	Size    int    `json:"size"`
	// Msg is the Message-ID without <>: the msg of its trace events.
	Msg    string  `json:"msg,omitempty"`
	Header []Field `json:"header"`
	Body   string  `json:"body"`
	// Text is the body decoded, when it travelled quoted-printable or
	// base64.
	Text string `json:"text,omitempty"`
	// Envelope is what the last hop gave the mailbox: MAIL FROM (kept as
	// Return-Path) and RCPT TO (kept as Delivered-To).
	Envelope Envelope `json:"envelope"`
	// Received lists the Received fields, newest (top) first, each with
	// the hop that added it.
	Received []Received `json:"received"`
	// Hops lists, oldest first, the connections that carried the
	// message, each with the envelope sent on it.
	Hops []Hop  `json:"hops"`
	Raw  string `json:"raw"`
}

// Field is one header field.
type Field struct {
	Name string `json:"name"`
	// Value is unfolded; Raw is the field as written, folded lines and all.
	Value string `json:"value"`
	Raw   string `json:"raw"`
}

// Envelope is a message's SMTP envelope.
type Envelope struct {
	From string   `json:"from"`
	To   []string `json:"to"`
}

// Received is one Received field and the hop that added it.
type Received struct {
	Value string `json:"value"`
	// Hop is the connection on which the field was added; nil when the
	// trace no longer has it.
	Hop *Hop `json:"hop,omitempty"`
}

// Hop is one connection of a message's journey.
type Hop struct {
	// Seq and Time are those of the hop event.
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	// From is the client (sending) host, To the server (receiving) one.
	From  string `json:"from"`
	To    string `json:"to"`
	Port  int    `json:"port,omitempty"`
	Conn  string `json:"conn"`
	Proto string `json:"proto,omitempty"`
	TLS   bool   `json:"tls,omitempty"`
	// MailFrom and RcptTo are the envelope lines the client sent for
	// this message on that connection.
	MailFrom string   `json:"mail_from,omitempty"`
	RcptTo   []string `json:"rcpt_to,omitempty"`
	// Text is the hop event's summary.
	Text string `json:"text,omitempty"`
}

// Message returns a message of a user's mailbox (INBOX when mailbox is
// "") by UID, with its journey.
func (p *Playground) Message(user, mailbox string, uid uint32) (MessageView, error) {
	r, err := p.current()
	if err != nil {
		return MessageView{}, err
	}
	if mailbox == "" {
		mailbox = store.Inbox
	}
	raw, err := r.w.Message(user, mailbox, uid)
	if err != nil {
		return MessageView{}, fmt.Errorf("message %s/%s UID %d: %w", user, mailbox, uid, err)
	}
	h := message.ReadHeader(raw)
	v := MessageView{User: user, Mailbox: mailbox, UID: uid, Size: len(raw), Raw: string(raw),
		Msg: h.MessageID(), Header: []Field{}, Received: []Received{}, Hops: []Hop{}}
	for _, f := range h {
		v.Header = append(v.Header, Field{Name: f.Name, Value: f.Value, Raw: f.Raw})
	}
	v.Body = string(message.Body(raw))
	v.Text = decodeBody(v.Header, v.Body)
	for _, f := range v.Header {
		switch strings.ToLower(f.Name) {
		case "return-path":
			if v.Envelope.From == "" {
				v.Envelope.From = strings.Trim(f.Value, "<> ")
			}
		case "delivered-to":
			v.Envelope.To = append(v.Envelope.To, strings.TrimSpace(f.Value))
		}
	}
	if v.Envelope.To == nil {
		v.Envelope.To = []string{}
	}
	journey(r.w.Trace.Events(), &v)
	return v, nil
}

// journey ties the Received fields to hop events and lists the hops.
func journey(events []trace.Event, v *MessageView) {
	opens := map[string]trace.Event{}
	tlsConn := map[string]bool{}
	var hops []trace.Event // hop events of this message
	received := map[string]trace.Event{}
	used := map[int64]bool{}
	for _, e := range events {
		switch e.Kind {
		case trace.KindConn:
			if e.Action == "open" {
				opens[e.Conn] = e
			}
		case trace.KindTLS:
			tlsConn[e.Conn] = true
		case trace.KindHop:
			if e.Action == "received" {
				received[squash(e.Text)] = e
			}
		}
	}
	for _, f := range v.Header {
		if !strings.EqualFold(f.Name, "Received") {
			continue
		}
		rc := Received{Value: f.Value}
		e, ok := received[squash("Received: "+f.Value)]
		if !ok {
			e, ok = handedOver(events, f.Value, v.Msg, used)
		}
		if ok {
			used[e.Seq] = true
			h := hopOf(events, e, opens, tlsConn)
			rc.Hop = &h
			hops = append(hops, e)
		}
		v.Received = append(v.Received, rc)
	}
	// The hops: every hop event on the connections found above or with
	// this message's key, one per connection, oldest first.
	conns := map[string]bool{}
	for _, e := range hops {
		conns[e.Conn] = true
	}
	seen := map[string]bool{}
	for _, e := range events {
		if e.Kind != trace.KindHop || e.Conn == "" || seen[e.Conn] {
			continue
		}
		if conns[e.Conn] || (v.Msg != "" && e.Msg == v.Msg) {
			seen[e.Conn] = true
			v.Hops = append(v.Hops, hopOf(events, e, opens, tlsConn))
		}
	}
}

// handedOver finds the hop event of a Received field that no "received"
// hop reports (an LMTP server's): the hand-over from the field's "from"
// host to its "by" host, of this message.
func handedOver(events []trace.Event, value, msg string, used map[int64]bool) (trace.Event, bool) {
	from, by := receivedWord(value, "from"), receivedWord(value, "by")
	if from == "" || by == "" {
		return trace.Event{}, false
	}
	for _, e := range events {
		if e.Kind == trace.KindHop && e.Action == "" && e.Host == from && e.Peer == by &&
			(msg == "" || e.Msg == msg) && !used[e.Seq] {
			return e, true
		}
	}
	return trace.Event{}, false
}

// receivedWord returns the word after a clause keyword of a Received
// field ("from", "by").
func receivedWord(value, key string) string {
	f := strings.Fields(value)
	for i := 0; i+1 < len(f); i++ {
		if strings.EqualFold(f[i], key) {
			return f[i+1]
		}
	}
	return ""
}

// hopOf describes the connection of a hop event, with the envelope of
// the transaction that the event closes.
func hopOf(events []trace.Event, e trace.Event, opens map[string]trace.Event, tlsConn map[string]bool) Hop {
	h := Hop{Seq: e.Seq, Time: e.Time, Conn: e.Conn, Text: e.Text, TLS: tlsConn[e.Conn]}
	if o, ok := opens[e.Conn]; ok {
		h.From, h.To, h.Port, h.Proto = o.Host, o.Peer, o.Port, o.Proto
	} else if e.Action == "received" {
		h.From, h.To = e.Peer, e.Host
	} else {
		h.From, h.To = e.Host, e.Peer
	}
	// The envelope: the last MAIL FROM on the connection before the hop
	// event, and the RCPT TOs after it.
	var mail string
	var rcpts []string
	for _, x := range events {
		if x.Seq >= e.Seq {
			break
		}
		if x.Kind != trace.KindWire || x.Conn != e.Conn || x.Dir != trace.Send {
			continue
		}
		up := strings.ToUpper(x.Text)
		switch {
		case strings.HasPrefix(up, "MAIL FROM:"):
			mail, rcpts = strings.TrimSpace(x.Text[len("MAIL FROM:"):]), nil
		case strings.HasPrefix(up, "RCPT TO:"):
			rcpts = append(rcpts, strings.TrimSpace(x.Text[len("RCPT TO:"):]))
		}
	}
	h.MailFrom, h.RcptTo = mail, rcpts
	return h
}

// squash collapses runs of white space, so a folded field matches its
// unfolded text.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func field(fs []Field, name string) string {
	for _, f := range fs {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// decodeBody decodes a single-part body sent quoted-printable or base64.
func decodeBody(fs []Field, body string) string {
	var rd io.Reader
	switch strings.ToLower(field(fs, "Content-Transfer-Encoding")) {
	case "quoted-printable":
		rd = quotedprintable.NewReader(strings.NewReader(body))
	case "base64":
		rd = base64.NewDecoder(base64.StdEncoding, strings.NewReader(strings.Join(strings.Fields(body), "")))
	default:
		return ""
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, rd); err != nil {
		return ""
	}
	return b.String()
}
