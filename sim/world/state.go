package world

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/mailhop/mailhop/sim/dns"
	"github.com/mailhop/mailhop/sim/mailhost"
	"github.com/mailhop/mailhop/sim/message"
	"github.com/mailhop/mailhop/sim/queue"
	"github.com/mailhop/mailhop/sim/service"
	"github.com/mailhop/mailhop/sim/store"
)

// State is a snapshot of a world for a user interface: its hosts, their
// ports, queues and mailboxes, and the faults in force.
type State struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Seed        uint64      `json:"seed"`
	Time        time.Time   `json:"time"`
	Hosts       []HostState `json:"hosts"`
	Users       []UserSpec  `json:"users"`
	Faults      []Fault     `json:"faults"`
	// Services is the table of mail services (package service): the page
	// names ports and roles from it.
	Services []service.Service `json:"services"`
}

// HostState is one host in a State.
type HostState struct {
	Name      string   `json:"name"`
	Addrs     []string `json:"addrs"`
	Roles     []string `json:"roles"`
	Domains   []string `json:"domains,omitempty"`
	Down      bool     `json:"down"`
	Ports     []int    `json:"ports"`
	UDPPorts  []int    `json:"udp_ports,omitempty"`
	User      string   `json:"user,omitempty"`
	MSA       string   `json:"msa,omitempty"`
	Mailstore string   `json:"mailstore,omitempty"`
	LMTP      string   `json:"lmtp,omitempty"`
	Resolver  string   `json:"resolver,omitempty"`
	// Queue lists the messages waiting in the host's queue.
	Queue []QueuedState `json:"queue,omitempty"`
	// Mailboxes lists the INBOX of each user whose mail the host keeps,
	// and their Junk once mail has been filed there (DMARC quarantine).
	Mailboxes []MailboxState `json:"mailboxes,omitempty"`
	// DNSFaults are the names a DNS host answers badly now (a name ""
	// is every name).
	DNSFaults []dns.Fault `json:"dns_faults,omitempty"`
}

// QueuedState is a message waiting in a queue.
type QueuedState struct {
	ID       string    `json:"id"`
	Msg      string    `json:"msg,omitempty"`
	From     string    `json:"from"`
	To       []string  `json:"to"`
	Attempts int       `json:"attempts"`
	Next     time.Time `json:"next,omitzero"`
	Last     string    `json:"last,omitempty"`
}

// MailboxState is a user's INBOX.
type MailboxState struct {
	User    string `json:"user"`
	Mailbox string `json:"mailbox"`
	// Full: a teacher made the INBOX full (fault mailbox-full); mail
	// for the user waits in the queue.
	Full     bool           `json:"full,omitempty"`
	Messages []MessageState `json:"messages"`
}

// MessageState is one message of a mailbox listing.
type MessageState struct {
	UID     uint32    `json:"uid"`
	Size    int64     `json:"size"`
	Flags   []string  `json:"flags"`
	Date    time.Time `json:"date"`
	From    string    `json:"from,omitempty"`
	Subject string    `json:"subject,omitempty"`
	Msg     string    `json:"msg,omitempty"`
}

// State takes a snapshot of the world.
func (w *World) State() State {
	w.mu.Lock()
	faults := slices.Clone(w.faults)
	w.mu.Unlock()
	st := State{Name: w.Spec.Name, Description: w.Spec.Description, Seed: w.Seed(), Time: w.Clock.Now(),
		Users: w.Spec.Users, Faults: faults, Services: service.All}
	for _, hs := range w.Spec.Hosts {
		h := w.Hosts[hs.Name]
		ports := h.Net.Ports()
		if ports == nil {
			ports = []int{}
		}
		s := HostState{Name: hs.Name, Addrs: hs.Addrs, Roles: hs.Roles, Domains: hs.Domains,
			Down: h.Net.Down(), Ports: ports, UDPPorts: h.Net.PacketPorts(),
			User: hs.User, MSA: hs.MSA, Mailstore: hs.Mailstore, LMTP: hs.LMTP, Resolver: hs.Resolver}
		if h.DNS != nil {
			s.DNSFaults = h.DNS.Faults()
		}
		if h.Queue != nil {
			for _, e := range h.Queue.Messages() {
				s.Queue = append(s.Queue, queuedState(e))
			}
		}
		if h.Store != nil {
			for _, u := range h.Store.Users() {
				if mb, err := w.mailbox(h.Store, u, store.Inbox); err == nil {
					mb.Full = h.MDA != nil && h.MDA.IsFull(u)
					s.Mailboxes = append(s.Mailboxes, mb)
				}
			}
			for _, u := range h.Store.Users() {
				// Every user has a Junk (store.DefaultMailboxes); it is
				// shown once something is filed there.
				if mb, err := w.mailbox(h.Store, u, mailhost.Junk); err == nil && len(mb.Messages) > 0 {
					s.Mailboxes = append(s.Mailboxes, mb)
				}
			}
		}
		st.Hosts = append(st.Hosts, s)
	}
	return st
}

func queuedState(e *queue.Envelope) QueuedState {
	q := QueuedState{ID: e.ID, Msg: e.Key, From: e.From, Attempts: e.Attempts, Next: e.Next}
	for _, r := range e.Rcpts {
		if r.State == queue.Pending {
			q.To = append(q.To, r.Addr)
			if r.Reply != "" {
				q.Last = r.Reply
			}
		}
	}
	return q
}

func (w *World) mailbox(st store.Store, user, name string) (MailboxState, error) {
	list, err := st.List(user, name)
	if err != nil {
		return MailboxState{}, err
	}
	status, _ := st.Status(user, name)
	mb := MailboxState{User: user, Mailbox: name, Messages: []MessageState{}}
	for _, m := range list {
		ms := MessageState{UID: uint32(m.UID), Size: m.Size, Flags: m.Flags, Date: m.Date}
		if ms.Flags == nil {
			ms.Flags = []string{}
		}
		// A message never changes once stored: its summary is read once.
		key := summaryKey{user, name, status.UIDValidity, m.UID}
		w.summaryMu.Lock()
		sum, ok := w.summaries[key]
		w.summaryMu.Unlock()
		if !ok {
			if body, err := st.Read(user, name, m.UID); err == nil {
				h := message.ReadHeader(body)
				sum = summary{from: h.Text("From"), subject: h.Text("Subject"), msg: h.MessageID()}
				w.summaryMu.Lock()
				if w.summaries == nil {
					w.summaries = map[summaryKey]summary{}
				}
				w.summaries[key] = sum
				w.summaryMu.Unlock()
			}
		}
		ms.From, ms.Subject, ms.Msg = sum.from, sum.subject, sum.msg
		mb.Messages = append(mb.Messages, ms)
	}
	return mb, nil
}

// summaryKey names one stored message for the summary cache.
type summaryKey struct {
	user, mailbox string
	validity      uint32
	uid           store.UID
}

type summary struct{ from, subject, msg string }

// Message returns a message of a user's mailbox, whole.
func (w *World) Message(user, mailbox string, uid uint32) ([]byte, error) {
	st, err := w.StoreOf(user)
	if err != nil {
		return nil, err
	}
	return st.Read(user, mailbox, store.UID(uid))
}

// Connect opens a TCP connection from one host of the world to a port of
// another (by name or address), as telnet would.
func (w *World) Connect(ctx context.Context, from, to string, port int) (net.Conn, error) {
	h := w.Hosts[from]
	if h == nil {
		return nil, fmt.Errorf("no host %q in this world", from)
	}
	if w.Hosts[to] == nil {
		if _, err := netip.ParseAddr(to); err != nil {
			return nil, fmt.Errorf("no host %q in this world", to)
		}
	}
	if port <= 0 || port > 65535 {
		return nil, fmt.Errorf("port %d is not a TCP port", port)
	}
	return h.Net.DialContext(ctx, "tcp", net.JoinHostPort(to, strconv.Itoa(port)))
}
