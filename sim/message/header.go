// Package message reads and writes Internet messages (RFC 5322) for every
// agent: header fields, Message-ID, and delivery status notifications.
//
// Reading is lenient, as an MTA's must be: a message may end its lines in
// CRLF or LF alone, lack the empty line that ends the header section, or
// carry lines that are no header field (they are skipped). Header fields
// are unfolded (RFC 5322 §2.2.3) by github.com/emersion/go-message's
// textproto; encoded words (RFC 2047) are left as written, except by
// Header.Text. At most MaxHeaderBytes of a header section are read.
//
// Writing is strict: every line a DSN has ends in CRLF, and a field of
// several lines is folded with CRLF and white space, never a bare LF.
package message

import (
	"bufio"
	"bytes"
	"mime"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// MaxHeaderBytes bounds the header section read from a message (line ends
// counted as CRLF): what lies beyond, to the end of the line that crosses
// it, is ignored. Real header sections are far smaller; Postfix keeps
// 100 KiB of one (header_size_limit).
const MaxHeaderBytes = 256 << 10

// Field is one header field.
type Field struct {
	// Name is the field's name as written ("Message-ID"), without white
	// space around it.
	Name string
	// Value is the field unfolded: each of its lines without the white
	// space around it, joined by single spaces (RFC 5322 §2.2.3).
	Value string
	// Raw is the field as written, its lines joined by "\n".
	Raw string
}

// Header is a header section's fields, in order, top first.
type Header []Field

// ReadHeader returns the header fields of raw, a whole message or its
// header section alone (see HeaderSection for what the section is).
// Lines that are no field (no colon, a name with white space or control
// characters, a continuation line at the very top) are skipped.
func ReadHeader(raw []byte) Header {
	section := HeaderSection(raw)
	br := bufio.NewReaderSize(bytes.NewReader(section), len(section)+1)
	h := Header{}
	for {
		th, err := textproto.ReadHeader(br)
		fields := th.Fields()
		for fields.Next() {
			b, rerr := fields.Raw()
			if rerr != nil {
				continue
			}
			raw := strings.ReplaceAll(strings.TrimSuffix(string(b), "\r\n"), "\r\n", "\n")
			name, _, _ := strings.Cut(raw, ":")
			h = append(h, Field{Name: strings.Trim(name, " \t"), Value: fields.Value(), Raw: raw})
		}
		if err == nil {
			return h
		}
		// A malformed line: ReadHeader has consumed it (with its
		// continuation lines); go on after it.
		if _, perr := br.Peek(1); perr != nil {
			return h
		}
	}
}

// Get returns the value of the first field named name (any case), or ""
// when there is none.
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Has reports whether a field named name (any case) is present.
func (h Header) Has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Values returns the values of every field named name (any case), top
// first.
func (h Header) Values(name string) []string {
	var out []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Text returns the value of the first field named name with its encoded
// words (RFC 2047) decoded; as written when they do not decode.
func (h Header) Text(name string) string {
	v := h.Get(name)
	dec := new(mime.WordDecoder)
	if s, err := dec.DecodeHeader(v); err == nil {
		return s
	}
	return v
}

// MessageID returns the first Message-ID field's message identifier
// without its angle brackets ("" when there is none): what is between
// the first '<' and the next '>', or the whole value when it has no '<'.
func (h Header) MessageID() string { return idOf(h.Get("Message-ID")) }

func idOf(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	return v
}

// MessageID returns the Message-ID of raw without its angle brackets, as
// Header.MessageID: the key that ties a message's events together.
//
// Every hop asks for it, so it does not parse the whole header when it
// need not: it scans the lines up to the field (firstField), and reads
// the header as ReadHeader does only when a line before the field is one
// ReadHeader would have to skip. FuzzMessageID checks that both ways
// always agree.
func MessageID(raw []byte) string {
	if v, _, ok := firstField(HeaderSection(raw), "Message-ID"); ok {
		return idOf(v)
	}
	return ReadHeader(raw).MessageID()
}

// HasField reports whether raw's header section has a field named name
// (any case), as ReadHeader(raw).Has(name) does, scanning no further
// than MessageID does.
func HasField(raw []byte, name string) bool {
	if _, found, ok := firstField(HeaderSection(raw), name); ok {
		return found
	}
	return ReadHeader(raw).Has(name)
}

// Values returns the values of every field named name (any case) in
// raw's header section, top first, as ReadHeader(raw).Values(name) does,
// without reading every field: it scans the lines as MessageID does, and
// reads the header as ReadHeader does only when a line is one ReadHeader
// would have to skip. FuzzMessageID checks that both ways always agree.
func Values(raw []byte, name string) []string {
	if vs, ok := scanFields(HeaderSection(raw), name, false); ok {
		return vs
	}
	return ReadHeader(raw).Values(name)
}

// firstField returns the unfolded value of the first field named name
// (any case) in section, a header section as HeaderSection returns it,
// whether there is one, and true; ok is false when a line before the
// field is not a well-formed field.
func firstField(section []byte, name string) (value string, found, ok bool) {
	vs, ok := scanFields(section, name, true)
	if !ok || len(vs) == 0 {
		return "", false, ok
	}
	return vs[0], true, true
}

// scanFields returns the unfolded values of the fields named name (any
// case) in section, a header section as HeaderSection returns it, top
// first; only the first when first is set. ok is false when a line it
// reads is not a well-formed field (then what it returns is not to be
// used).
func scanFields(section []byte, name string, first bool) (values []string, ok bool) {
	if len(section) > 0 && isWSP(section[0]) {
		return nil, false // a continuation line at the very top
	}
	rest := section
	for len(rest) > 0 {
		line, next := nextLine(rest)
		rest = next
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return nil, false
		}
		key := bytes.Trim(line[:colon], " \t")
		if len(key) == 0 {
			return nil, false
		}
		for _, c := range key {
			if c < 33 || c > 126 {
				return nil, false
			}
		}
		match := len(key) == len(name) && strings.EqualFold(string(key), name)
		var b strings.Builder
		if match {
			unfold(&b, line[colon+1:])
		}
		for len(rest) > 0 && isWSP(rest[0]) {
			line, rest = nextLine(rest)
			if match {
				unfold(&b, line)
			}
		}
		if match {
			values = append(values, b.String())
			if first {
				return values, true
			}
		}
	}
	return values, true
}

// nextLine cuts the first line of a header section (each ends in CRLF).
func nextLine(s []byte) (line, rest []byte) {
	i := bytes.IndexByte(s, '\n')
	if i < 0 {
		return s, nil
	}
	return bytes.TrimSuffix(s[:i], []byte("\r")), s[i+1:]
}

// unfold adds a line of a field's value to b, as RFC 5322 §2.2.3 has
// it: without the white space around it, after a single space.
func unfold(b *strings.Builder, line []byte) {
	line = bytes.Trim(line, " \t")
	if len(line) == 0 {
		return
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.Write(line)
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// HeaderSection returns the header section of raw: its lines up to the
// first empty one (all of them when there is none), the empty line left
// out, each line ending in CRLF whether it ended in CRLF, LF alone or
// nothing (the last line). A CR that ends no line becomes a space, so
// that the section can go into a message as it is. It stops before the
// line that would take it past MaxHeaderBytes. When raw's section is
// like that already, the result shares raw's memory (and has no room to
// append in place).
func HeaderSection(raw []byte) []byte {
	end, clean := 0, true
	for rest := raw; len(rest) > 0; {
		line, next, found := bytes.Cut(rest, []byte("\n"))
		crlf := found && bytes.HasSuffix(line, []byte("\r"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 || end+len(line)+2 > MaxHeaderBytes {
			break
		}
		if !crlf || bytes.IndexByte(line, '\r') >= 0 {
			clean = false
			break
		}
		end += len(line) + 2
		rest = next
	}
	if clean {
		return raw[:end:end]
	}
	out := make([]byte, 0, min(len(raw)+2, 4<<10))
	for len(raw) > 0 {
		line, rest, _ := bytes.Cut(raw, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 || len(out)+len(line)+2 > MaxHeaderBytes {
			break
		}
		start := len(out)
		out = append(out, line...)
		for i := start; i < len(out); i++ {
			if out[i] == '\r' {
				out[i] = ' '
			}
		}
		out = append(out, '\r', '\n')
		raw = rest
	}
	return out
}

// Body returns what follows the empty line that ends raw's header
// section, as it is; nil when there is no such line.
func Body(raw []byte) []byte {
	for len(raw) > 0 {
		line, rest, found := bytes.Cut(raw, []byte("\n"))
		if !found {
			return nil
		}
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return rest
		}
		raw = rest
	}
	return nil
}
