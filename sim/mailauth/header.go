package mailauth

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// hfield is one header field of a raw message.
type hfield struct {
	name string // the name as written, without surrounding space
	raw  string // the whole field, continuation lines and line breaks included
}

// value is the field's body after the colon, unfolded and trimmed.
func (f hfield) value() string {
	_, v, _ := strings.Cut(f.raw, ":")
	return strings.TrimSpace(unbreak.Replace(v))
}

// unbreak removes line breaks.
var unbreak = strings.NewReplacer("\r\n", "", "\n", "", "\r", "")

// splitHeader cuts a raw message (RFC 5322) into its header fields and
// its body. A line beginning with a space or tab continues the field
// above it. ok is false when no empty line ends the header section.
//
// DKIM reads the header with this rather than with sim/message: it splits
// fields as go-msgauth's verifier does (every line is a field, none is
// skipped, no size bound), so that VerifyDKIM's signatures pair up with
// go-msgauth's verifications one to one, and it keeps each field's bytes
// and line ends as written for rename to hand on (c=simple hashes them as
// they are). message.ReadHeader skips malformed lines, turns a stray CR
// into a space, stops at MaxHeaderBytes and joins lines with "\n".
func splitHeader(msg []byte) (fields []hfield, body []byte, ok bool) {
	// First the bounds of each field, then one string for the whole
	// header that every field's raw is cut from.
	var bounds [][2]int
	start, end := -1, 0 // the field being read: msg[start:end]
	flush := func() {
		if start >= 0 {
			bounds = append(bounds, [2]int{start, end})
		}
	}
	for at := 0; at < len(msg); {
		i := bytes.IndexByte(msg[at:], '\n')
		if i < 0 {
			// The last line has no line break: no end of header.
			break
		}
		next := at + i + 1
		content := bytes.TrimSuffix(msg[at:at+i], []byte("\r"))
		if len(content) == 0 {
			flush()
			body, ok = msg[next:], true
			break
		}
		if start >= 0 && (content[0] == ' ' || content[0] == '\t') {
			end, at = next, next // continues the field above
			continue
		}
		flush()
		start, end, at = at, next, next
	}
	if !ok {
		flush()
	}
	if len(bounds) == 0 {
		return nil, body, ok
	}
	head := string(msg[bounds[0][0]:bounds[len(bounds)-1][1]])
	base := bounds[0][0]
	fields = make([]hfield, len(bounds))
	for k, b := range bounds {
		raw := head[b[0]-base : b[1]-base]
		first, _, _ := strings.Cut(raw, "\n")
		name, _, _ := strings.Cut(strings.TrimSuffix(first, "\r"), ":")
		fields[k] = hfield{name: strings.TrimSpace(name), raw: raw}
	}
	return fields, body, ok
}

// pickFields returns the fields to sign or verify for the names of h=,
// in that order: a name listed again takes the next instance from the
// bottom of the header; a name with no instance left adds nothing (RFC
// 6376 §5.4.2).
func pickFields(fields []hfield, names []string) []hfield {
	used := map[int]bool{}
	var out []hfield
	for _, n := range names {
		for i := len(fields) - 1; i >= 0; i-- {
			if !used[i] && strings.EqualFold(fields[i].name, n) {
				used[i] = true
				out = append(out, fields[i])
				break
			}
		}
	}
	return out
}

// relaxedHeader canonicalises a header field by the "relaxed" algorithm
// (RFC 6376 §3.4.2): name in lower case, the value unfolded, runs of
// spaces made one, no space around the colon or at the end.
func relaxedHeader(raw string) string {
	name, value, _ := strings.Cut(raw, ":")
	name = strings.TrimSpace(name)
	var b strings.Builder
	b.Grow(len(name) + len(value) + 3)
	lowerInto(&b, name)
	b.WriteByte(':')
	// The words of value, split at runs of SP, HTAB, CR and LF, joined
	// by one space: what strings.FieldsFunc and Join make, in one copy.
	gap, words := false, false
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case ' ', '\t', '\r', '\n':
			gap = true
		default:
			if gap && words {
				b.WriteByte(' ')
			}
			gap, words = false, true
			b.WriteByte(c)
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

// lowerInto writes strings.ToLower(s) into b, without a copy of its own
// when s is ASCII.
func lowerInto(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			b.WriteString(strings.ToLower(s))
			return
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
}

// bodyLines splits a body into lines on CRLF or a bare LF.
func bodyLines(body []byte) []string {
	s := string(body)
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// canonicalBody canonicalises a body by the "simple" (RFC 6376 §3.4.3) or
// "relaxed" (§3.4.4) algorithm: lines end in CRLF, empty lines at the
// end are dropped; relaxed also makes every run of spaces one and drops
// spaces at the end of lines. A simple empty body is one CRLF, a relaxed
// one is empty.
func canonicalBody(body []byte, relaxed bool) []byte {
	lines := bodyLines(body)
	if relaxed {
		for i, l := range lines {
			lines[i] = collapseSpace(l)
		}
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		if relaxed {
			return nil
		}
		return []byte("\r\n")
	}
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

// collapseSpace makes each run of spaces and tabs one space and drops
// the run at the end.
func collapseSpace(l string) string {
	if !strings.ContainsAny(l, " \t") {
		return l
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteByte(c)
	}
	return b.String()
}
