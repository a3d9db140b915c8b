package imap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"

	"github.com/mailhop/mailhop/sim/store"
)

// A SEARCH may have at most maxSearchKeys search keys and nest them at
// most maxSearchDepth deep (each OR, NOT and parenthesised list is a
// level); more is answered BAD, so that one command's work is bounded.
const (
	maxSearchKeys  = 1000
	maxSearchDepth = 64
)

// searchTooComplex is the refusal of a SEARCH over those bounds.
var searchTooComplex = fmt.Sprintf("Search too complex: at most %d keys, nested at most %d deep", maxSearchKeys, maxSearchDepth)

// searchSize counts the keys of c, at the given depth; ok is false when
// they nest deeper than maxSearchDepth or number more than maxSearchKeys
// (it stops counting there).
func searchSize(c *goimap.SearchCriteria, depth int) (keys int, ok bool) {
	if depth > maxSearchDepth {
		return 0, false
	}
	keys = len(c.SeqNum) + len(c.UID) + len(c.Header) + len(c.Body) + len(c.Text) + len(c.Flag) + len(c.NotFlag)
	for _, t := range []time.Time{c.Since, c.Before, c.SentSince, c.SentBefore} {
		if !t.IsZero() {
			keys++
		}
	}
	if c.Larger > 0 {
		keys++
	}
	if c.Smaller > 0 {
		keys++
	}
	sub := func(c *goimap.SearchCriteria) bool {
		n, ok := searchSize(c, depth+1)
		keys += n
		return ok && keys <= maxSearchKeys
	}
	for i := range c.Not {
		keys++
		if !sub(&c.Not[i]) {
			return keys, false
		}
	}
	for i := range c.Or {
		keys++
		if !sub(&c.Or[i][0]) || !sub(&c.Or[i][1]) {
			return keys, false
		}
	}
	return keys, true
}

// Search is SEARCH and UID SEARCH (RFC 9051 §6.4.4, ESEARCH RFC 4731,
// SEARCHRES RFC 5182). Flags, dates, sizes and numbers are matched from
// the store's listing; a message is read only when a criterion needs its
// header or text, and then only the header is parsed unless BODY or TEXT
// asks for more.
func (s *session) Search(kind imapserver.NumKind, criteria *goimap.SearchCriteria, options *goimap.SearchOptions) (*goimap.SearchData, error) {
	if keys, ok := searchSize(criteria, 1); !ok || keys > maxSearchKeys {
		return nil, errBad("%s", searchTooComplex)
	}
	if cmd := s.cc.takeSort(); cmd != nil {
		return s.sortOrThread(kind, criteria, cmd)
	}
	cond := s.cc.takeCond("SEARCH")
	if err := s.announceHighest(cond); err != nil {
		return nil, err
	}
	s.modseqKeys = cond != nil && cond.searchModSeq
	defer func() { s.modseqKeys = false }()
	var highest, first, last uint64 // mod-sequences: all matches', the first's, the last's
	data := &goimap.SearchData{}
	var seqs goimap.SeqSet
	var uids goimap.UIDSet
	err := s.eachMatch(criteria, func(m *searchMsg) error {
		uids.AddNum(goimap.UID(m.uid))
		num := m.seq
		if kind == imapserver.NumKindUID {
			num = uint32(m.uid)
		} else {
			seqs.AddNum(m.seq)
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		data.Max = max(data.Max, num)
		data.Count++
		highest = max(highest, m.meta.ModSeq)
		if first == 0 {
			first = m.meta.ModSeq
		}
		last = m.meta.ModSeq
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.modseqKeys {
		// The highest mod-sequence of the matches the response gives,
		// which the view adds to it (RFC 7162 §3.1.5): of them all, or
		// of the MIN and MAX messages when it gives only those (RFC 4731
		// §3.2).
		if (options.ReturnMin || options.ReturnMax) && !options.ReturnAll && !options.ReturnCount {
			highest = 0
			if options.ReturnMin {
				highest = first
			}
			if options.ReturnMax {
				highest = max(highest, last)
			}
		}
		s.cc.wmu.Lock()
		cond.highest = highest
		s.cc.wmu.Unlock()
	}
	if kind == imapserver.NumKindUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	if options.ReturnSave {
		s.searchRes = uids
	}
	return data, nil
}

// eachMatch calls fn with each message of the session's view that matches
// the criteria, in order; SEARCH, SORT and THREAD select alike.
func (s *session) eachMatch(criteria *goimap.SearchCriteria, fn func(m *searchMsg) error) error {
	view := s.view()
	msgs, err := s.srv.Store.List(s.user, s.sel.mb.key.name)
	if err != nil {
		return s.storeError(err)
	}
	var maxSeq, maxUID uint32
	if n := len(view); n > 0 {
		maxSeq, maxUID = view[n-1].seq, uint32(view[n-1].uid)
	}
	c := s.staticCriteria(criteria, maxSeq, maxUID)
	recent := s.sel.recentSet()
	j := 0
	for _, r := range view {
		for j < len(msgs) && msgs[j].UID < r.uid {
			j++
		}
		if j == len(msgs) || msgs[j].UID != r.uid {
			continue // expunged meanwhile
		}
		_, isRecent := slices.BinarySearch(recent, r.uid)
		m := searchMsg{ref: r, meta: &msgs[j], sess: s, recent: isRecent}
		ok, err := m.match(c)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := fn(&m); err != nil {
			return err
		}
	}
	return nil
}

// staticCriteria copies the criteria with "*" resolved and "$" replaced by
// the saved result.
func (s *session) staticCriteria(c *goimap.SearchCriteria, maxSeq, maxUID uint32) *goimap.SearchCriteria {
	out := *c
	out.SeqNum = nil
	out.UID = nil
	for _, set := range c.SeqNum {
		var st goimap.SeqSet
		for _, r := range set {
			lo, hi := static(r.Start, r.Stop, maxSeq)
			st.AddRange(max(lo, 1), max(hi, 1))
		}
		if maxSeq == 0 {
			st = goimap.SeqSet{} // matches nothing
		}
		out.SeqNum = append(out.SeqNum, st)
	}
	for _, set := range c.UID {
		var st goimap.UIDSet
		if goimap.IsSearchRes(set) {
			st = slices.Clone(s.searchRes)
		} else {
			for _, r := range set {
				lo, hi := static(uint32(r.Start), uint32(r.Stop), maxUID)
				st.AddRange(goimap.UID(max(lo, 1)), goimap.UID(max(hi, 1)))
			}
			if maxUID == 0 {
				st = goimap.UIDSet{}
			}
		}
		out.UID = append(out.UID, st)
	}
	out.Not = make([]goimap.SearchCriteria, len(c.Not))
	for i := range c.Not {
		out.Not[i] = *s.staticCriteria(&c.Not[i], maxSeq, maxUID)
	}
	out.Or = make([][2]goimap.SearchCriteria, len(c.Or))
	for i := range c.Or {
		out.Or[i][0] = *s.staticCriteria(&c.Or[i][0], maxSeq, maxUID)
		out.Or[i][1] = *s.staticCriteria(&c.Or[i][1], maxSeq, maxUID)
	}
	return &out
}

// searchMsg is one message being matched; its bytes are read at most once,
// when a criterion first needs them.
type searchMsg struct {
	ref
	meta   *store.Message
	sess   *session
	recent bool // \Recent in this session
	raw    []byte
	read   bool
	gone   bool
}

func (m *searchMsg) body() ([]byte, error) {
	if !m.read {
		m.read = true
		raw, err := m.sess.srv.Store.Read(m.sess.user, m.sess.sel.mb.key.name, m.uid)
		switch {
		case errors.Is(err, store.ErrNoMessage):
			m.gone = true
		case err != nil:
			return nil, m.sess.storeError(err)
		}
		m.raw = raw
	}
	return m.raw, nil
}

func (m *searchMsg) match(c *goimap.SearchCriteria) (bool, error) {
	// Cheap criteria first.
	for _, set := range c.SeqNum {
		if !set.Contains(m.seq) {
			return false, nil
		}
	}
	for _, set := range c.UID {
		if !set.Contains(goimap.UID(m.uid)) {
			return false, nil
		}
	}
	if !inDates(m.meta.Date, c.Since, c.Before) {
		return false, nil
	}
	// RECENT, NEW (RECENT UNSEEN) and OLD (NOT RECENT) are \Recent
	// flags of the session's (RFC 3501 §6.4.4).
	for _, f := range c.Flag {
		if n, ok := modseqKey(string(f)); ok && m.sess.modseqKeys {
			// MODSEQ n (RFC 7162 §3.1.5), which the guard wrote as a
			// keyword: the message's mod-sequence stands for every
			// metadata item's.
			if m.meta.ModSeq < n {
				return false, nil
			}
			continue
		}
		if isRecentFlag(f) && !m.recent || !isRecentFlag(f) && !store.HasFlag(m.meta.Flags, string(f)) {
			return false, nil
		}
	}
	for _, f := range c.NotFlag {
		if isRecentFlag(f) && m.recent || !isRecentFlag(f) && store.HasFlag(m.meta.Flags, string(f)) {
			return false, nil
		}
	}
	if c.Larger > 0 && m.meta.Size <= c.Larger {
		return false, nil
	}
	if c.Smaller > 0 && m.meta.Size >= c.Smaller {
		return false, nil
	}
	for i := range c.Not {
		ok, err := m.match(&c.Not[i])
		if err != nil || ok {
			return false, err
		}
	}
	for i := range c.Or {
		ok, err := m.match(&c.Or[i][0])
		if err == nil && !ok {
			ok, err = m.match(&c.Or[i][1])
		}
		if err != nil || !ok {
			return false, err
		}
	}

	// Then those that read the message.
	if len(c.Header) == 0 && c.SentSince.IsZero() && c.SentBefore.IsZero() && len(c.Body) == 0 && len(c.Text) == 0 {
		return true, nil
	}
	raw, err := m.body()
	if err != nil || m.gone {
		return false, err
	}
	hdr := raw[:headerEnd(raw)]
	for _, h := range c.Header {
		if !headerMatch(hdr, h.Key, h.Value) {
			return false, nil
		}
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		t, ok := sentDate(hdr)
		if !ok || !inDates(t, c.SentSince, c.SentBefore) {
			return false, nil
		}
	}
	for _, text := range c.Text {
		if !headerMatch(hdr, "", text) && !m.bodyContains(text) {
			return false, nil
		}
	}
	for _, text := range c.Body {
		if !m.bodyContains(text) {
			return false, nil
		}
	}
	return true, nil
}

// inDates compares dates only, without time or zone (RFC 9051 §6.4.4).
func inDates(t, since, before time.Time) bool {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && d.Before(day(since)) {
		return false
	}
	if !before.IsZero() && !d.Before(day(before)) {
		return false
	}
	return true
}

func day(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }

func sentDate(hdr []byte) (time.Time, bool) {
	var t time.Time
	ok := false
	headerFields(hdr, "Date", func(v []byte) bool {
		var err error
		t, err = mail.ParseDate(strings.TrimSpace(string(v)))
		ok = err == nil
		return true
	})
	return t, ok
}

// headerFields calls fn with the value of each field of the header section
// hdr named key (every field when key is ""), unfolded, until fn returns
// true.
func headerFields(hdr []byte, key string, fn func(v []byte) bool) {
	for len(hdr) > 0 {
		// One field: a line and its continuation lines.
		end := 0
		for {
			i := bytes.IndexByte(hdr[end:], '\n')
			if i < 0 {
				end = len(hdr)
				break
			}
			end += i + 1
			if end >= len(hdr) || (hdr[end] != ' ' && hdr[end] != '\t') {
				break
			}
		}
		field := hdr[:end]
		hdr = hdr[end:]
		name, value, ok := bytes.Cut(field, []byte(":"))
		if !ok || (key != "" && !strings.EqualFold(string(bytes.TrimSpace(name)), key)) {
			continue
		}
		value = bytes.TrimRight(value, "\r\n")
		if bytes.IndexByte(value, '\n') >= 0 {
			value = bytes.ReplaceAll(bytes.ReplaceAll(value, []byte("\r\n"), nil), []byte("\n"), nil)
		}
		if fn(value) {
			return
		}
	}
}

// headerMatch reports whether a field named key (any field when key is "")
// contains pattern, case-insensitively, after RFC 2047 decoding. An empty
// pattern matches any message that has the field.
func headerMatch(hdr []byte, key, pattern string) bool {
	found := false
	headerFields(hdr, key, func(v []byte) bool {
		if pattern == "" || containsFold(v, pattern) {
			found = true
		} else if bytes.Contains(v, []byte("=?")) {
			dec, err := new(mime.WordDecoder).DecodeHeader(string(v))
			found = err == nil && containsFold([]byte(dec), pattern)
		}
		if !found && isAddressField(key) {
			// The envelope's addresses, without comments or quoting:
			// "alice@example.org" matches "alice (Alice) @ example.org".
			found = addressMatch(string(v), pattern)
		}
		return found
	})
	return found
}

// containsFold is a case-insensitive bytes.Contains that does not allocate
// for ASCII text.
func containsFold(s []byte, sub string) bool {
	if sub == "" {
		return true
	}
	ascii := true
	for i := 0; i < len(sub); i++ {
		if sub[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		return strings.Contains(strings.ToLower(string(s)), strings.ToLower(sub))
	}
	n := len(sub)
	first := lower(sub[0])
	for i := 0; i+n <= len(s); i++ {
		if lower(s[i]) != first {
			continue
		}
		j := 1
		for j < n && lower(s[i+j]) == lower(sub[j]) {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// bodyContains searches the text parts of the message, decoded from their
// transfer encoding.
func (m *searchMsg) bodyContains(text string) bool {
	// The common case, a single part in 7bit or 8bit, is searched as it
	// is; MIME structure and transfer encodings go through go-message.
	hdr := m.raw[:headerEnd(m.raw)]
	simple := true
	headerFields(hdr, "Content-Type", func(v []byte) bool {
		simple = containsFold(v, "text/") || containsFold(v, "message/")
		return true
	})
	headerFields(hdr, "Content-Transfer-Encoding", func(v []byte) bool {
		switch strings.ToLower(string(bytes.TrimSpace(v))) {
		case "7bit", "8bit", "binary":
		default:
			simple = false
		}
		return !simple
	})
	if simple {
		return containsFold(m.raw[len(hdr):], text)
	}
	e, _ := gomessage.Read(bytes.NewReader(m.raw))
	return e != nil && entityContains(e, text)
}

func entityContains(e *gomessage.Entity, text string) bool {
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if err != nil {
				return false
			}
			if entityContains(p, text) {
				return true
			}
		}
	}
	t, _, _ := e.Header.ContentType()
	if t != "" && !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return false
	}
	b, _ := io.ReadAll(e.Body)
	return containsFold(b, text)
}
