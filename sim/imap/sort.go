package imap

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// sortMsg is a message SORT or THREAD selected, with what they compare.
// Strings compared are folded once here, by casemap.
type sortMsg struct {
	ref
	num     uint32 // what the answer shows: the sequence number or the UID
	arrival time.Time
	size    int64
	sent    time.Time // Date:, else the internal date (RFC 5256 §2.2)

	subject string // base subject (RFC 5256 §2.1), casemapped
	reply   bool   // the subject was a reply's or a forward's

	from, to, cc           string // the first address's addr-mailbox (sortAddress)
	displayFrom, displayTo string // its display value (RFC 5957 §3)

	msgID string   // Message-ID, "" when it has none
	refs  []string // References, else In-Reply-To's first (RFC 5256 §3)
}

// sortOrThread answers a SORT, THREAD or ESORT that go-imap read as a
// SEARCH (see sortcmd.go): it selects the messages as SEARCH does, writes
// the command's own response, and returns an empty result for go-imap's
// SEARCH response, which the view drops.
func (s *session) sortOrThread(kind imapserver.NumKind, criteria *goimap.SearchCriteria, cmd *sortCommand) (*goimap.SearchData, error) {
	var msgs []*sortMsg
	var uids goimap.UIDSet
	err := s.eachMatch(criteria, func(m *searchMsg) error {
		sm, err := newSortMsg(m, kind, cmd.needsHeader())
		if err != nil {
			return err
		}
		msgs = append(msgs, sm)
		uids.AddNum(goimap.UID(m.uid))
		return nil
	})
	if err != nil {
		return nil, err
	}

	var resp string
	switch {
	case cmd.thread != "":
		threads := orderedSubject
		if cmd.thread == threadReferences {
			threads = references
		}
		resp = "* THREAD"
		if len(msgs) > 0 {
			resp += " " + threadList(threads(msgs))
		}
		resp += "\r\n"
	default:
		slices.SortFunc(msgs, func(a, b *sortMsg) int { return compareSort(a, b, cmd.keys) })
		if cmd.esort {
			resp = esortResponse(cmd, msgs)
		} else {
			var b strings.Builder
			b.WriteString("* SORT")
			for _, m := range msgs {
				b.WriteString(" " + strconv.FormatUint(uint64(m.num), 10))
			}
			resp = b.String() + "\r\n"
		}
	}
	if cmd.ret.save {
		s.searchRes = uids
	}
	if err := s.gv.answerSort(resp); err != nil {
		return nil, err
	}
	if kind == imapserver.NumKindUID {
		return &goimap.SearchData{All: goimap.UIDSet{}}, nil
	}
	return &goimap.SearchData{All: goimap.SeqSet{}}, nil
}

// needsHeader reports whether the command compares anything of the
// messages' headers (all but ARRIVAL and SIZE).
func (c *sortCommand) needsHeader() bool {
	if c.thread != "" {
		return true
	}
	for _, k := range c.keys {
		if k.field != sortArrival && k.field != sortSize {
			return true
		}
	}
	return false
}

// newSortMsg reads what SORT and THREAD compare of a message; a message
// expunged meanwhile is compared as if its header were empty.
func newSortMsg(m *searchMsg, kind imapserver.NumKind, header bool) (*sortMsg, error) {
	sm := &sortMsg{ref: m.ref, num: m.seq, arrival: m.meta.Date, size: m.meta.Size, sent: m.meta.Date}
	if kind == imapserver.NumKindUID {
		sm.num = uint32(m.uid)
	}
	if !header {
		return sm, nil
	}
	raw, err := m.body()
	if err != nil {
		return nil, err
	}
	hdr := raw[:headerEnd(raw)]
	first := func(key string) string {
		var v string
		headerFields(hdr, key, func(b []byte) bool {
			v = strings.TrimSpace(string(b))
			return true
		})
		return v
	}
	if t, ok := sentDate(hdr); ok {
		sm.sent = t
	}
	sm.subject, sm.reply = baseSubject(decodeWords(first("Subject")))
	sm.subject = casemap(sm.subject)
	sm.from, sm.displayFrom = sortAddress(first("From"))
	sm.to, sm.displayTo = sortAddress(first("To"))
	sm.cc, _ = sortAddress(first("Cc"))
	if ids := messageIDs(first("Message-ID")); len(ids) > 0 {
		sm.msgID = ids[0]
	}
	sm.refs = messageIDs(first("References"))
	if len(sm.refs) == 0 {
		if ids := messageIDs(first("In-Reply-To")); len(ids) > 0 {
			sm.refs = ids[:1]
		}
	}
	return sm, nil
}

// sortAddress returns the sort keys of an address field, both from its
// first address structure as ENVELOPE shows it (RFC 3501 §7.4.2): its
// addr-mailbox (RFC 5256 §3), and its display value (RFC 5957 §3): the
// addr-name if not empty, else addr-mailbox "@" addr-host, else the
// addr-mailbox alone. A field that starts with a group (RFC 5322 §3.4)
// so sorts by the group's name, the start marker's addr-mailbox, even
// an empty group ("undisclosed-recipients:;"). Both are "" without an
// address.
func sortAddress(v string) (mailbox, display string) {
	addrs := addressList(v)
	if len(addrs) == 0 {
		return "", ""
	}
	a := addrs[0]
	switch {
	case a.Name != "":
		display = a.Name
	case a.Host != "":
		display = a.Mailbox + "@" + a.Host
	default: // a group's start marker
		display = a.Mailbox
	}
	return casemap(a.Mailbox), casemap(display)
}

// casemap prepares a string for SORT's and THREAD's comparisons, which
// collate as i;unicode-casemap (RFC 5256's Internationalization
// Considerations, by way of RFC 5255's I18NLEVEL=1): each character is
// replaced by its title case (RFC 5051 §2), so that "a" and "A" are
// equal and both sort before "[" and "_", as in i;ascii-casemap. RFC
// 5051's NFKD decomposition is not done: a letter with a diacritic
// sorts after every ASCII one.
func casemap(s string) string {
	return strings.ToTitle(s)
}

// compareSort orders two messages by the SORT criteria, then by
// sequence number (RFC 5256 §3).
func compareSort(a, b *sortMsg, keys []sortKey) int {
	for _, k := range keys {
		var c int
		switch k.field {
		case sortArrival:
			c = a.arrival.Compare(b.arrival)
		case sortCc:
			c = strings.Compare(a.cc, b.cc)
		case sortDate:
			c = a.sent.Compare(b.sent)
		case sortFrom:
			c = strings.Compare(a.from, b.from)
		case sortSize:
			c = cmp.Compare(a.size, b.size)
		case sortSubject:
			c = strings.Compare(a.subject, b.subject)
		case sortTo:
			c = strings.Compare(a.to, b.to)
		case sortDisplayFrom:
			c = strings.Compare(a.displayFrom, b.displayFrom)
		case sortDisplayTo:
			c = strings.Compare(a.displayTo, b.displayTo)
		}
		if k.reverse {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(a.seq, b.seq)
}

// bySent orders messages by sent date, then by sequence number (RFC 5256
// §2.2).
func bySent(a, b *sortMsg) int {
	if c := a.sent.Compare(b.sent); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// esortResponse is the ESEARCH response of a SORT RETURN (RFC 5267 §3.1):
// MIN and MAX are the first and last messages in the sort order, ALL all
// of them in that order. None when SAVE was the only option (RFC 5182
// §2.4).
func esortResponse(cmd *sortCommand, msgs []*sortMsg) string {
	r := cmd.ret
	if !r.min && !r.max && !r.all && !r.count {
		return ""
	}
	b := `* ESEARCH (TAG "` + cmd.tag + `")` // a tag has no quote nor backslash (validTag)
	if cmd.uid {
		b += " UID"
	}
	if n := len(msgs); n > 0 {
		if r.min {
			b += fmt.Sprintf(" MIN %d", msgs[0].num)
		}
		if r.max {
			b += fmt.Sprintf(" MAX %d", msgs[n-1].num)
		}
		if r.all {
			b += " ALL " + orderedSet(msgs)
		}
	}
	if r.count {
		b += fmt.Sprintf(" COUNT %d", len(msgs))
	}
	return b + "\r\n"
}

// orderedSet writes numbers in their order as a sequence-set, runs of
// consecutive ascending numbers as ranges: 3:5,1,7.
func orderedSet(msgs []*sortMsg) string {
	var b strings.Builder
	for i := 0; i < len(msgs); {
		j := i
		for j+1 < len(msgs) && msgs[j+1].num == msgs[j].num+1 {
			j++
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(msgs[i].num), 10))
		if j > i {
			b.WriteString(":" + strconv.FormatUint(uint64(msgs[j].num), 10))
		}
		i = j + 1
	}
	return b.String()
}

// baseSubject extracts the base subject (RFC 5256 §2.1) of a decoded
// Subject, and reports whether it was a reply's or a forward's: a
// "Re:", "Fw:" or "Fwd:" leader, a "(fwd)" trailer or a "[fwd: ...]"
// wrapper was taken away.
func baseSubject(s string) (base string, reply bool) {
	// (1) Runs of white space, folding included, are one space.
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }), " ")
	for {
		// (2) Trailers: "(fwd)" and white space.
		for {
			t := strings.TrimRight(s, " ")
			if n := len(t) - len("(fwd)"); n >= 0 && strings.EqualFold(t[n:], "(fwd)") {
				t, reply = t[:n], true
			}
			if t == s {
				break
			}
			s = t
		}
		// (3), (4), (5): leaders and blobs, until none is left.
		for {
			t := strings.TrimLeft(s, " ")
			if rest, ok := cutReFwd(t); ok {
				t, reply = rest, true
			} else if rest, ok := cutBlob(t); ok && strings.TrimLeft(rest, " ") != "" {
				t = rest
			}
			if t == s {
				break
			}
			s = t
		}
		// (6) "[fwd: ...]" around it all.
		if len(s) >= len("[fwd:]") && strings.EqualFold(s[:len("[fwd:")], "[fwd:") && s[len(s)-1] == ']' {
			s, reply = s[len("[fwd:"):len(s)-1], true
			continue
		}
		return s, reply
	}
}

// cutBlob cuts a subj-blob (RFC 5256 §5: "[" *BLOBCHAR "]" *WSP) from the
// start of s.
func cutBlob(s string) (string, bool) {
	if s == "" || s[0] != '[' {
		return s, false
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return s, false
	}
	return strings.TrimLeft(s[end+2:], " "), true
}

// cutReFwd cuts a subj-leader's reply or forward part from the start of
// s: *subj-blob ("re" / "fw" / "fwd") *WSP [subj-blob] ":".
func cutReFwd(s string) (string, bool) {
	t := s
	for {
		rest, ok := cutBlob(t)
		if !ok {
			break
		}
		t = rest
	}
	switch {
	case len(t) >= 3 && strings.EqualFold(t[:3], "fwd"):
		t = t[3:]
	case len(t) >= 2 && (strings.EqualFold(t[:2], "fw") || strings.EqualFold(t[:2], "re")):
		t = t[2:]
	default:
		return s, false
	}
	t = strings.TrimLeft(t, " ")
	if rest, ok := cutBlob(t); ok {
		t = rest
	}
	if t == "" || t[0] != ':' {
		return s, false
	}
	return t[1:], true
}

// messageIDs returns the msg-ids of a Message-ID, References or
// In-Reply-To field, without their angle brackets (RFC 5322 §3.6.4):
// compared as they are written (RFC 5256 §3).
func messageIDs(v string) []string {
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return out
		}
		if id := v[i+1 : i+j]; id != "" && !strings.ContainsAny(id, " \t<") {
			out = append(out, id)
		}
		v = v[i+j+1:]
	}
}
