package explain

import (
	"strconv"
	"strings"
	"sync"

	"github.com/mailhop/mailhop/sim/trace"
)

// Sentences and notes are pure functions of the event, and most events
// of a world repeat from one message to the next: the same command and
// the same reply on every connection, the same DNS question and answer.
// The sentences of those kinds are remembered, by everything of the event
// they are made from (not its seq, time, conn or msg), and with each its
// note (made from less of the event), so that Explain finds both at once.
// Note alone does not look here: it is made without allocating
// (TestAllocs).
var sayings memo

// told is what is remembered of an event: its note and its sentence.
type told struct{ note, say string }

// memoKey is what a sentence of a wire, packet or DNS event is made from
// (TestMemoAgrees checks that nothing else counts).
type memoKey struct {
	kind                     trace.Kind
	action, host, peer, text string
	port                     int
	proto                    string
	dir                      trace.Dir
	tls                      bool
	records                  string
}

// What is remembered, and how much.
const (
	memoSize    = 4096 // entries, forgotten all at once when full
	memoMaxText = 512  // a longer text (a block, a message) is told afresh
)

type memo struct {
	mu sync.Mutex
	m  map[memoKey]told
}

// keyOf returns the key of an event to remember, or false. A client's
// line is remembered only when it is an SMTP or LMTP command that can
// carry no password (the memory is kept apart from any redaction of the
// trace): the envelope, DATA and the final dot, greetings and the like.
func keyOf(e trace.Event) (memoKey, bool) {
	switch e.Kind {
	case trace.KindWire:
		if e.Dir == trace.Send && !plainCommand(e.Proto, e.Text) {
			return memoKey{}, false
		}
	case trace.KindPacket, trace.KindDNS:
	default:
		return memoKey{}, false
	}
	if len(e.Text) > memoMaxText || strings.IndexByte(e.Text, '\n') >= 0 {
		return memoKey{}, false
	}
	k := memoKey{kind: e.Kind, action: e.Action, host: e.Host, peer: e.Peer, text: e.Text,
		port: e.Port, proto: e.Proto, dir: e.Dir, tls: e.TLS}
	if e.Kind == trace.KindPacket {
		// A packet's port is the client's ephemeral one, new for every
		// DNS question, and its sentence does not name it: keyed by the
		// port, every packet would be told afresh and crowd the memory.
		k.port = 0
	}
	if len(e.Records) > 0 {
		var b strings.Builder
		for _, r := range e.Records {
			b.WriteString(strconv.Itoa(len(r)))
			b.WriteByte(':')
			b.WriteString(r)
		}
		k.records = b.String()
	}
	return k, true
}

// plainCommand reports whether a client line is an SMTP or LMTP command
// that carries no credentials.
func plainCommand(proto, line string) bool {
	if proto != "smtp" && proto != "lmtp" {
		return false
	}
	verb, _, _ := strings.Cut(line, " ")
	for _, v := range plainVerbs {
		if strings.EqualFold(verb, v) {
			return true
		}
	}
	return false
}

var plainVerbs = [...]string{"MAIL", "RCPT", "DATA", ".", "EHLO", "HELO", "LHLO", "QUIT", "RSET", "NOOP", "STARTTLS"}

// get returns the sentence of e and, when withNote or when an event like
// e is remembered, its note: from memory when an event like e was told
// before.
func (m *memo) get(e trace.Event, withNote bool) told {
	k, ok := keyOf(e)
	if !ok {
		if withNote {
			return told{Note(e), narrate(e)}
		}
		return told{say: narrate(e)}
	}
	m.mu.Lock()
	t, ok := m.m[k]
	m.mu.Unlock()
	if ok {
		return t
	}
	t = told{Note(e), narrate(e)}
	m.mu.Lock()
	if m.m == nil || len(m.m) >= memoSize {
		m.m = make(map[memoKey]told, 256)
	}
	m.m[k] = t
	m.mu.Unlock()
	return t
}
