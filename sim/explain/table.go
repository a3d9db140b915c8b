package explain

import (
	"strings"
	"sync"
)

// Kinds of entry.
const (
	KindReply   = "reply"   // a server's reply or response: SMTP 250, POP3 +OK, IMAP "OK" or "* n EXISTS"
	KindCommand = "command" // a line a client sends, named by its verb: MAIL, RETR, FETCH
	KindKeyword = "keyword" // an extension a server advertises: EHLO keywords, CAPA and CAPABILITY
	KindStatus  = "status"  // a code inside a reply: enhanced status code (5.1.1), [IN-USE], [UIDVALIDITY]
	KindRcode   = "rcode"   // a DNS response code
	KindType    = "type"    // a DNS record type, and what an answer of that type means for mail
)

// Entry is one row of the tables: what Key means in protocol Proto.
//
// Keys are written as on the wire, in upper case: "250", "MAIL", "+OK",
// "UIDVALIDITY", "MX". A few are patterns: "2yz" stands for every reply
// code starting with 2 (RFC 5321 §4.2.1); enhanced status codes are
// "X.1.1" for a detail, "X.1.X" for a subject and "5.X.X" for a class
// (RFC 3463 §2). Untagged IMAP status responses are "* OK", "* BYE".
type Entry struct {
	Proto   string `json:"proto"`   // smtp, lmtp, pop3, imap or dns
	Kind    string `json:"kind"`    // one of the Kind constants
	Key     string `json:"key"`     // the command, code or keyword
	Summary string `json:"summary"` // one sentence for a learner
	RFC     string `json:"rfc"`     // where it is defined: "RFC 5321 §4.1.1.2"
}

// row and group are how the tables are written down.
type row struct{ key, rfc, summary string }

type group struct {
	proto, kind string
	rows        []row
}

type pk struct{ proto, kind string }

// table is every entry, indexed for lookups that do not allocate. It is
// built once, at its first use, and only read after that.
type table struct {
	entries []Entry
	notes   []string              // notes[i]: "summary (RFC …)", ready for a trace event
	keys    map[pk]map[string]int // key in upper case → index
	detail  map[string]int        // enhanced status by "subject.detail": "1.1" → X.1.1
	subject map[string]int        // enhanced status by subject: "1" → X.1.X
	class   [10]int               // enhanced status class → 2.X.X, 4.X.X, 5.X.X; -1 if none
	digit   [10]int               // reply code first digit → 2yz …; -1 if none
	uid     map[int]string        // IMAP command → note for "UID command"
	special map[string]string     // notes made of two entries, see build
}

// tab is the tables, built at their first use rather than at start-up,
// where the WebAssembly playground waits for every package's
// initialisation before its world can start.
var tab lazyTable

type lazyTable struct {
	once sync.Once
	t    *table // not embedded: a use without get does not compile
}

func (l *lazyTable) get() *table {
	l.once.Do(func() { l.t = build(smtpTables, pop3Tables, imapTables, dnsTables) })
	return l.t
}

// Prepare builds the tables ahead of their first use (the playground
// does it while its page waits for its user).
func Prepare() { tab.get() }

func build(tables ...[]group) *table {
	t := &table{
		keys:    map[pk]map[string]int{},
		detail:  map[string]int{},
		subject: map[string]int{},
		uid:     map[int]string{},
		special: map[string]string{},
	}
	for i := range t.class {
		t.class[i], t.digit[i] = -1, -1
	}
	for _, groups := range tables {
		for _, g := range groups {
			k := pk{g.proto, g.kind}
			m := t.keys[k]
			if m == nil {
				m = map[string]int{}
				t.keys[k] = m
			}
			for _, r := range g.rows {
				i := len(t.entries)
				t.entries = append(t.entries, Entry{Proto: g.proto, Kind: g.kind, Key: r.key, Summary: r.summary, RFC: r.rfc})
				t.notes = append(t.notes, r.summary+" ("+r.rfc+")")
				up := strings.ToUpper(r.key)
				if _, dup := m[up]; !dup { // duplicates are reported by the tests
					m[up] = i
				}
				t.indexPattern(g, r.key, i)
			}
		}
	}
	// "a1 UID FETCH …": the command's note, then what UID changes.
	if u := t.find("imap", KindCommand, "UID"); u >= 0 {
		for _, verb := range []string{"FETCH", "STORE", "COPY", "MOVE", "SEARCH", "EXPUNGE"} {
			if i := t.find("imap", KindCommand, verb); i >= 0 {
				t.uid[i] = t.notes[i] + "; UID: the messages are named by UID, an id that stays the same, not by sequence number (" + t.entries[u].RFC + ")"
			}
		}
	}
	// AUTH LOGIN's two prompts, which learners meet as base64.
	if i := t.find("smtp", KindReply, "334"); i >= 0 {
		t.special["334 VXNlcm5hbWU6"] = t.notes[i] + "; here it is \"Username:\" in base64, the prompt of AUTH LOGIN"
		t.special["334 UGFzc3dvcmQ6"] = t.notes[i] + "; here it is \"Password:\" in base64, the prompt of AUTH LOGIN"
	}
	return t
}

// indexPattern records the entries that stand for a family of codes.
func (t *table) indexPattern(g group, key string, i int) {
	switch {
	case g.proto == "smtp" && g.kind == KindReply && len(key) == 3 && key[1:] == "yz":
		t.digit[key[0]-'0'] = i
	case g.proto == "smtp" && g.kind == KindStatus && strings.HasSuffix(key, ".X.X"):
		t.class[key[0]-'0'] = i
	case g.proto == "smtp" && g.kind == KindStatus && strings.HasPrefix(key, "X.") && strings.HasSuffix(key, ".X"):
		t.subject[key[2:len(key)-2]] = i
	case g.proto == "smtp" && g.kind == KindStatus && strings.HasPrefix(key, "X."):
		t.detail[key[2:]] = i
	}
}

// find returns the index of the entry with exactly this key (in upper
// case), or -1. LMTP falls back to SMTP, which it extends.
func (t *table) find(proto, kind, key string) int {
	if i, ok := t.keys[pk{proto, kind}][key]; ok {
		return i
	}
	if proto == "lmtp" {
		return t.find("smtp", kind, key)
	}
	return -1
}

// findFold is find for a key in any case, without allocating.
func (t *table) findFold(proto, kind, key string) int {
	if i := t.find(proto, kind, key); i >= 0 || !hasLower(key) {
		return i
	}
	var buf [32]byte
	if len(key) > len(buf) {
		return -1
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	// m[string(b)] is the one conversion the compiler does without copying.
	if i, ok := t.keys[pk{proto, kind}][string(buf[:len(key)])]; ok {
		return i
	}
	if proto == "lmtp" {
		if i, ok := t.keys[pk{"smtp", kind}][string(buf[:len(key)])]; ok {
			return i
		}
	}
	return -1
}

func hasLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			return true
		}
	}
	return false
}

// Entries returns every entry of the tables, grouped by protocol and kind
// in the order the tables are written. The slice is the caller's own.
func Entries() []Entry {
	return append([]Entry(nil), tab.get().entries...)
}
