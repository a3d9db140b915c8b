// Package trace records what happens in a mail world, one event at a time.
//
// The trace is the contract between the Go agents, the `mailhop sim`
// command and the browser playground. Each event is one JSON object; a
// trace is a sequence of them in order of Seq ("JSON lines").
//
// # Schema
//
//	{"seq": 41, "time": "2026-01-01T09:00:02.125Z", "kind": "wire",
//	 "host": "mail.example.org", "peer": "mx.example.net", "conn": "c7",
//	 "proto": "smtp", "dir": "send", "text": "MAIL FROM:<alice@example.org>",
//	 "msg": "4F2A9C", "note": "the envelope sender; bounces go here (RFC 5321 4.1.1.2)"}
//
// Fields (all but seq, time and kind are omitted when empty):
//
//	seq      int     position in the trace, from 1, no gaps
//	time     string  RFC 3339 with fraction, on the world's clock (virtual in the simulation)
//	kind     string  what happened, see the kinds below
//	action   string  the step within a kind (open, close, queued, ...)
//	host     string  the host the event is about; for conn, wire and tls events the
//	                 client of the connection (the side that dialled)
//	peer     string  the other host; for conn, wire and tls events the server
//	port     int     the server's port (conn, wire)
//	conn     string  connection id ("c7"); ties a transcript together
//	proto    string  smtp, lmtp, pop3, imap, dns, or tcp for an unknown port
//	dir      string  wire: "send" (client to server, "C:") or "recv" (server to client, "S:")
//	text     string  wire: one protocol line without CRLF, or a summarised block
//	                 (lines joined by "\n"); otherwise a human summary
//	tls      bool    the line travelled inside TLS
//	msg      string  the message's Message-ID without <>; ties its journey together
//	                 (queue ids are named in the text of queue events)
//	mailbox  string  deliver, fetch: "bob@example.net/INBOX"
//	records  []string dns: the records of the answer as dig prints them
//	next     string  queue deferred: when the next attempt is due
//	note     string  an explanation for learners (what a command or reply means, with its RFC)
//	say      string  the event told as one plain sentence for a beginner (narration)
//
// Kinds and their actions:
//
//	host     up, down                      a host was started or stopped
//	link     cut, restored                 the link between host and peer
//	conn     open, close, refused, unreachable
//	wire     (none)                        one line (or block) on a stream connection
//	packet   (none)                        one datagram (UDP) crossing the network
//	tls      handshake                     a TLS session started on conn
//	dns      query, answer, error          a resolver's question and the answer it got
//	queue    queued, attempt, deferred, delivered, failed (a recipient refused for good),
//	         bounced, expired, discarded (a bounce nobody can take), recovered (from the spool
//	         at start), error (the spool or a bounce could not be written)
//	deliver  (none)                        a message filed in a mailbox
//	fetch    (none)                        a message read by POP3 or IMAP
//	hop      (none)                        a message moved from host to peer (the timeline's summary)
//	fault    (none)                        a fault was injected or cleared
//	lesson   started, progress, done       a lesson began; what its checks say changed
//	                                       (text: how many hold; note: what is still missing)
//	auth     dkim-sign, spf, dkim, dmarc,  the MSA signed msg; the MX checked it (text: the result
//	         verdict                       and its reason) and decided to accept, defer or refuse
package trace

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/mailhop/mailhop/sim/message"
	"github.com/mailhop/mailhop/sim/service"
)

// Kind is the kind of an event.
type Kind string

// The kinds of event.
const (
	KindHost    Kind = "host"
	KindLink    Kind = "link"
	KindConn    Kind = "conn"
	KindWire    Kind = "wire"
	KindPacket  Kind = "packet"
	KindTLS     Kind = "tls"
	KindDNS     Kind = "dns"
	KindQueue   Kind = "queue"
	KindDeliver Kind = "deliver"
	KindFetch   Kind = "fetch"
	KindHop     Kind = "hop"
	KindFault   Kind = "fault"
	KindLesson  Kind = "lesson"
	KindAuth    Kind = "auth"
)

// Dir is the direction of a wire event.
type Dir string

// Directions of a wire event.
const (
	Send Dir = "send" // client to server
	Recv Dir = "recv" // server to client
)

// Event is one thing that happened. See the package documentation for the
// meaning of each field.
type Event struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Kind    Kind      `json:"kind"`
	Action  string    `json:"action,omitempty"`
	Host    string    `json:"host,omitempty"`
	Peer    string    `json:"peer,omitempty"`
	Port    int       `json:"port,omitempty"`
	Conn    string    `json:"conn,omitempty"`
	Proto   string    `json:"proto,omitempty"`
	Dir     Dir       `json:"dir,omitempty"`
	Text    string    `json:"text,omitempty"`
	TLS     bool      `json:"tls,omitempty"`
	Msg     string    `json:"msg,omitempty"`
	Mailbox string    `json:"mailbox,omitempty"`
	Records []string  `json:"records,omitempty"`
	Next    time.Time `json:"next,omitzero"`
	Note    string    `json:"note,omitempty"`
	Say     string    `json:"say,omitempty"`
}

// MarshalJSON writes times in UTC with millisecond precision or finer, as
// the schema shows.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	p := plain(e)
	p.Time = p.Time.UTC()
	if !p.Next.IsZero() {
		p.Next = p.Next.UTC()
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<alice@example.org>" stays readable
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ProtoForPort names the protocol conventionally spoken on a TCP or UDP
// port (the table of package service).
func ProtoForPort(port int) string { return service.ProtoForPort(port) }

// MsgKey returns the key that ties a message's events together: its
// Message-ID without the angle brackets, read from the header section of a
// raw RFC 5322 message ("" when it has none).
func MsgKey(raw []byte) string { return message.MessageID(raw) }
