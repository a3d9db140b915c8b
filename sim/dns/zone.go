package dns

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	miekg "github.com/miekg/dns"
)

// defaultTTL is the TTL of records in a zone file that names none and
// follows no $TTL directive (RFC 2308 §4 asks for $TTL; teachers forget).
const defaultTTL = 3600

// Zone is the data of one zone, as loaded from a zone file. A Zone never
// changes once loaded, so servers answer from it without locks; to change
// answers, load a new zone and give it to Server.SetZone.
type Zone struct {
	origin   string // canonical: lower case, fully qualified
	file     string
	soa      *miekg.SOA
	negSOA   *miekg.SOA // the SOA as sent with negative answers (RFC 2308 §3)
	records  []miekg.RR // in file order, duplicates removed
	names    map[string]*node
	cuts     map[string]bool // names below the apex with NS records: zone cuts
	warnings []ZoneError
}

// node is the records of one owner name, by type. A node with no sets is
// an empty non-terminal: it exists because names below it do.
type node struct {
	sets map[uint16][]miekg.RR
}

func (n *node) get(t uint16) []miekg.RR {
	if n == nil {
		return nil
	}
	return n.sets[t]
}

// ZoneError is a zone file that cannot be served: a syntax error found by
// the parser or a record that breaks the rules of a zone. Line is 0 when
// the error is about the zone as a whole (no SOA record).
type ZoneError struct {
	File   string
	Line   int
	Column int
	Msg    string
	Err    error // the parser's error, if the parser found it
}

func (e *ZoneError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	}
	if e.Line > 0 {
		if b.Len() == 0 {
			b.WriteString("line ")
		} else {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Column))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *ZoneError) Unwrap() error { return e.Err }

// LoadZone reads a zone in the master file format of RFC 1035 §5 (with
// $ORIGIN, $TTL and $GENERATE; not $INCLUDE) for the zone origin. file
// names the source in errors and warnings ("example.net.zone:7: ...").
//
// A zone must have exactly one SOA record, at its origin (RFC 1035 §5.2);
// every record must belong to the zone and be of class IN; a name with a
// CNAME record has no other records (RFC 1034 §3.6.2, RFC 2181 §10.1).
// Duplicate records are dropped (RFC 2181 §5). Records with no TTL and no
// $TTL before them live 3600 seconds.
func LoadZone(r io.Reader, origin, file string) (*Zone, error) {
	if _, ok := miekg.IsDomainName(origin); !ok || origin == "" {
		return nil, &ZoneError{File: file, Msg: fmt.Sprintf("bad zone origin %q", origin)}
	}
	origin = miekg.CanonicalName(origin)
	lr := &lineReader{br: bufio.NewReader(r), line: 1}
	zp := miekg.NewZoneParser(lr, origin, file)
	zp.SetDefaultTTL(defaultTTL)
	b := newZoneBuilder(origin, file)
	last := 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		line := lr.recordLine()
		if line == 0 { // more records from one line ($GENERATE)
			line = last
		}
		last = line
		if err := b.add(rr, line); err != nil {
			return nil, err
		}
	}
	if err := zp.Err(); err != nil {
		return nil, parseError(file, err)
	}
	return b.finish()
}

// parseError turns miekg's "FILE: dns: MSG: "TOKEN" at line: L:C" into a
// ZoneError that names the line as compilers do.
func parseError(file string, err error) error {
	var pe *miekg.ParseError
	if !errors.As(err, &pe) {
		return &ZoneError{File: file, Msg: err.Error(), Err: err}
	}
	s := pe.Error()
	if file != "" {
		s = strings.TrimPrefix(s, file+": ")
	}
	s = strings.TrimPrefix(s, "dns: ")
	ze := &ZoneError{File: file, Msg: s, Err: err}
	if i := strings.LastIndex(s, " at line: "); i >= 0 {
		pos := s[i+len(" at line: "):]
		l, c, _ := strings.Cut(pos, ":")
		if n, err := strconv.Atoi(l); err == nil {
			ze.Line = n
			ze.Column, _ = strconv.Atoi(c)
			ze.Msg = s[:i]
		}
	}
	return ze
}

// lineReader feeds the zone parser byte by byte (it is an io.ByteReader,
// so the parser reads no further ahead than it needs) and notes the first
// line holding a record since the last call of recordLine: what to name in
// an error about that record. Blank lines, comments and $ directives are
// not records.
type lineReader struct {
	br    *bufio.Reader
	line  int
	state byte // 0 at line start, 'c' line has content, 'x' rest of line ignored
	first int  // first line with a record since the last recordLine
}

func (lr *lineReader) ReadByte() (byte, error) {
	c, err := lr.br.ReadByte()
	if err != nil {
		return c, err
	}
	switch {
	case c == '\n':
		lr.line++
		lr.state = 0
	case lr.state != 0, c == ' ', c == '\t', c == '\r':
	case c == ';', c == '$':
		lr.state = 'x'
	default:
		lr.state = 'c'
		if lr.first == 0 {
			lr.first = lr.line
		}
	}
	return c, nil
}

func (lr *lineReader) Read(p []byte) (int, error) {
	for i := range p {
		c, err := lr.ReadByte()
		if err != nil {
			return i, err
		}
		p[i] = c
	}
	return len(p), nil
}

func (lr *lineReader) recordLine() int {
	l := lr.first
	lr.first = 0
	if lr.state == 'c' {
		// The parser stopped inside a line that holds a record; that
		// record is the next one.
		lr.first = lr.line
	}
	return l
}

type zoneBuilder struct {
	z     *Zone
	lines map[miekg.RR]int
	buf   []byte // to check that records pack
	seen  map[string]bool
}

// maxZoneRecords bounds a zone ($GENERATE makes many records from a line).
const maxZoneRecords = 100_000

func newZoneBuilder(origin, file string) *zoneBuilder {
	return &zoneBuilder{
		z:     &Zone{origin: origin, file: file, names: map[string]*node{}, cuts: map[string]bool{}},
		lines: map[miekg.RR]int{},
		seen:  map[string]bool{},
	}
}

func (b *zoneBuilder) fail(line int, format string, args ...any) error {
	return &ZoneError{File: b.z.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

func (b *zoneBuilder) warn(line int, format string, args ...any) {
	b.z.warnings = append(b.z.warnings, ZoneError{File: b.z.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (b *zoneBuilder) add(rr miekg.RR, line int) error {
	z := b.z
	h := rr.Header()
	owner := miekg.CanonicalName(h.Name)
	typ := miekg.Type(h.Rrtype).String()
	if h.Class != miekg.ClassINET {
		return b.fail(line, "%s %s: class %s; only IN is served", h.Name, typ, miekg.Class(h.Class))
	}
	if !miekg.IsSubDomain(z.origin, owner) {
		return b.fail(line, "%s %s is outside the zone %s (a missing or extra final dot?)", h.Name, typ, z.origin)
	}
	// The parser takes a record with nothing after its type as a
	// deletion for a dynamic update (RFC 2136); in a zone it is a
	// mistake.
	if newRR, ok := miekg.TypeToRR[h.Rrtype]; ok {
		empty := newRR()
		*empty.Header() = *h
		if miekg.IsDuplicate(rr, empty) {
			return b.fail(line, "%s %s has no data", h.Name, typ)
		}
	}
	if b.buf == nil {
		b.buf = make([]byte, miekg.MaxMsgSize)
	}
	if _, err := miekg.PackRR(rr, b.buf, 0, nil, false); err != nil {
		return b.fail(line, "%s %s: %v", h.Name, typ, err)
	}
	n := z.names[owner]
	if n == nil {
		n = &node{}
		z.names[owner] = n
	}
	if n.sets == nil {
		n.sets = map[uint16][]miekg.RR{}
	}
	// RFC 2181 §5: an RRset has no duplicate records.
	dup := miekg.Copy(rr)
	dup.Header().Name, dup.Header().Ttl = owner, 0
	key := dup.String()
	if b.seen[key] {
		return nil
	}
	if len(z.records) >= maxZoneRecords {
		return b.fail(line, "more than %d records; too big a zone for mailhop", maxZoneRecords)
	}
	switch h.Rrtype {
	case miekg.TypeSOA:
		// RFC 1035 §5.2: exactly one SOA, at the top of the zone.
		if owner != z.origin {
			return b.fail(line, "SOA for %s: the SOA record belongs at the zone's origin %s", h.Name, z.origin)
		}
		if z.soa != nil {
			return b.fail(line, "a second SOA record (the first is on line %d); a zone has exactly one (RFC 1035 §5.2)", b.lines[z.soa])
		}
		z.soa = rr.(*miekg.SOA)
	case miekg.TypeCNAME:
		// RFC 1034 §3.6.2, RFC 2181 §10.1: an alias has no other data,
		// and one name is an alias of one name only.
		if len(n.sets[miekg.TypeCNAME]) > 0 {
			return b.fail(line, "a second CNAME for %s; a name is an alias of one name only (RFC 2181 §10.1)", h.Name)
		}
		if len(n.sets) > 0 {
			types := slices.Sorted(maps.Keys(n.sets))
			return b.fail(line, "CNAME for %s, which has %s records; an alias can have no other records (RFC 1034 §3.6.2)", h.Name, miekg.Type(types[0]))
		}
	case miekg.TypeNS:
		if owner != z.origin {
			z.cuts[owner] = true
		}
	}
	if h.Rrtype != miekg.TypeCNAME && len(n.sets[miekg.TypeCNAME]) > 0 {
		return b.fail(line, "%s record for %s, which is an alias (CNAME); an alias can have no other records (RFC 1034 §3.6.2)", typ, h.Name)
	}
	b.checkTarget(rr, line)
	n.sets[h.Rrtype] = append(n.sets[h.Rrtype], rr)
	z.records = append(z.records, rr)
	b.seen[key] = true
	b.lines[rr] = line
	return nil
}

// checkTarget warns of the classic slip of a name written without its
// final dot, which the origin then extends: "mx.example.net" in the zone
// example.net. is mx.example.net.example.net.
func (b *zoneBuilder) checkTarget(rr miekg.RR, line int) {
	var target string
	switch rr := rr.(type) {
	case *miekg.MX:
		target = rr.Mx
	case *miekg.NS:
		target = rr.Ns
	case *miekg.CNAME:
		target = rr.Target
	default:
		return
	}
	o := b.z.origin
	t := miekg.CanonicalName(target)
	if o != "." && (t == o+o || strings.HasSuffix(t, "."+o+o)) {
		b.warn(line, "%s: %s ends in the zone's name twice; a missing final dot?", miekg.Type(rr.Header().Rrtype), target)
	}
}

func (b *zoneBuilder) finish() (*Zone, error) {
	z := b.z
	if z.soa == nil {
		return nil, b.fail(0, "no SOA record for %s; a zone starts with one (RFC 1035 §5.2)", z.origin)
	}
	// RFC 2308 §3: the SOA of a negative answer lives no longer than
	// the SOA's minimum field, the negative caching TTL.
	z.negSOA = miekg.Copy(z.soa).(*miekg.SOA)
	z.negSOA.Hdr.Ttl = min(z.soa.Hdr.Ttl, z.soa.Minttl)
	// Empty non-terminals exist too (RFC 8020): a.b.example.net. makes
	// b.example.net. a name with no records.
	for owner := range z.names {
		offs := miekg.Split(owner)
		if len(offs) < 2 {
			continue
		}
		for _, off := range offs[1:] {
			parent := owner[off:]
			if len(parent) < len(z.origin) {
				break
			}
			if z.names[parent] == nil {
				z.names[parent] = &node{}
			}
		}
	}
	// RFC 2181 §10.3: MX and NS name a host, never an alias. And an MX in
	// the zone that names a host of the zone with no address is a
	// broken mail route.
	for _, rr := range z.records {
		var target string
		switch rr := rr.(type) {
		case *miekg.MX:
			target = rr.Mx
		case *miekg.NS:
			target = rr.Ns
		default:
			continue
		}
		t := miekg.CanonicalName(target)
		if t == "." || !miekg.IsSubDomain(z.origin, t) || z.cutFor(t) != "" {
			continue
		}
		typ := miekg.Type(rr.Header().Rrtype)
		n := z.names[t]
		switch {
		case len(n.get(miekg.TypeCNAME)) > 0:
			b.warn(b.lines[rr], "%s target %s is an alias (CNAME); RFC 2181 §10.3 says it must name a host", typ, target)
		case len(n.get(miekg.TypeA)) == 0 && len(n.get(miekg.TypeAAAA)) == 0:
			b.warn(b.lines[rr], "%s target %s has no A or AAAA record in this zone", typ, target)
		}
	}
	slices.SortStableFunc(z.warnings, func(a, b ZoneError) int { return a.Line - b.Line })
	return z, nil
}

// Origin returns the zone's name, lower case and fully qualified
// ("example.net.").
func (z *Zone) Origin() string { return z.origin }

// File returns the name the zone was loaded from.
func (z *Zone) File() string { return z.file }

// SOA returns a copy of the zone's SOA record.
func (z *Zone) SOA() *miekg.SOA { return miekg.Copy(z.soa).(*miekg.SOA) }

// Records returns copies of the zone's records, in file order.
func (z *Zone) Records() []miekg.RR {
	out := make([]miekg.RR, len(z.records))
	for i, rr := range z.records {
		out[i] = miekg.Copy(rr)
	}
	return out
}

// Warnings returns what in the zone is legal but probably a mistake, as
// "file:line: what", for a teacher to see: MX or NS targets that are
// aliases or have no address, names that look like a final dot was
// forgotten.
func (z *Zone) Warnings() []string {
	out := make([]string, len(z.warnings))
	for i, w := range z.warnings {
		out[i] = w.Error()
	}
	return out
}

// String returns the zone in zone file format, one record a line as dig
// prints them.
func (z *Zone) String() string {
	var b strings.Builder
	b.WriteString("$ORIGIN " + z.origin + "\n")
	for _, rr := range z.records {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// cutFor returns the topmost zone cut at or above name (canonical, inside
// the zone), or "".
func (z *Zone) cutFor(name string) string {
	if len(z.cuts) == 0 {
		return ""
	}
	offs := miekg.Split(name)
	for i := len(offs) - 1; i >= 0; i-- {
		s := name[offs[i]:]
		if len(s) <= len(z.origin) {
			continue
		}
		if z.cuts[s] {
			return s
		}
	}
	return ""
}
