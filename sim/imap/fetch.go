package imap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"mime"
	"slices"
	"strconv"
	"strings"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"github.com/mailhop/mailhop/sim/message"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

func errNoMailbox(err error) bool { return errors.Is(err, store.ErrNoMailbox) }

// Fetch is FETCH and UID FETCH (RFC 9051 §6.4.5).
func (s *session) Fetch(w *imapserver.FetchWriter, numSet goimap.NumSet, options *goimap.FetchOptions) error {
	cmd := s.cc.takeCond("FETCH")
	if err := s.announceHighest(cmd); err != nil {
		return err
	}
	if s.cc.condstoreOn() {
		// Every response names the UID, by which the view finds the
		// MODSEQ it adds (condstore.go).
		options.UID = true
	}
	if cmd != nil && cmd.modseqItem {
		s.cc.withModSeq(true)
		defer s.cc.withModSeq(false)
	}
	if set, ok := numSet.(goimap.UIDSet); ok && cmd != nil && cmd.vanished {
		if err := s.vanishedEarlier(set); err != nil {
			return err
		}
	}
	refs := s.resolve(numSet)
	name := s.sel.mb.key.name
	if cmd != nil && cmd.hasChanged && len(refs) > 0 {
		// CHANGEDSINCE: only the messages changed since (RFC 7162
		// §3.1.4.1).
		msgs, err := s.srv.Store.List(s.user, name)
		if err != nil {
			return s.storeError(err)
		}
		refs = slices.DeleteFunc(refs, func(r ref) bool {
			i, ok := slices.BinarySearchFunc(msgs, r.uid, func(m store.Message, u store.UID) int { return cmpUID(m.UID, u) })
			return !ok || msgs[i].ModSeq <= cmd.changedSince
		})
	}
	if len(refs) == 0 {
		return nil
	}

	// BODY[...] and BINARY[...] without .PEEK set \Seen; the new flags go
	// in this FETCH's responses.
	markSeen := false
	for _, bs := range options.BodySection {
		markSeen = markSeen || !bs.Peek
	}
	for _, bs := range options.BinarySection {
		markSeen = markSeen || !bs.Peek
	}
	var seen []store.Message // the flags of messages whose \Seen this set
	if markSeen && !s.sel.readOnly {
		msgs, changed, _, err := s.setFlags(refUIDs(refs), store.FlagsAdd, []string{store.FlagSeen}, math.MaxUint64)
		if err != nil {
			return s.storeError(err)
		}
		for _, m := range msgs {
			if _, ok := slices.BinarySearch(changed, m.UID); ok {
				seen = append(seen, m)
			}
		}
	}

	var meta []store.Message
	if options.Flags || options.InternalDate || options.RFC822Size {
		var err error
		if meta, err = s.srv.Store.List(s.user, name); err != nil {
			return s.storeError(err)
		}
	}
	needBody := options.Envelope || options.BodyStructure != nil ||
		len(options.BodySection) > 0 || len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
	bodyItems := bodyItemNames(options)
	plan := newFetchPlan(options, seen)
	if !s.rev2() {
		plan.recent = s.sel.recentSet()
	}

	for _, r := range refs {
		var m *store.Message
		if meta != nil {
			i, ok := slices.BinarySearchFunc(meta, r.uid, func(m store.Message, u store.UID) int { return cmpUID(m.UID, u) })
			if !ok {
				continue // expunged by someone else meanwhile
			}
			m = &meta[i]
		}
		var raw []byte
		if needBody {
			var err error
			raw, err = s.srv.Store.Read(s.user, name, r.uid)
			if errors.Is(err, store.ErrNoMessage) {
				continue
			} else if err != nil {
				return s.storeError(err)
			}
		}
		if err := s.fetchOne(w, r, m, raw, plan); err != nil {
			return err
		}
		if bodyItems != "" && s.srv.Trace != nil {
			s.srv.Trace.Emit(trace.Event{
				Kind:    trace.KindFetch,
				Host:    s.srv.hostname(),
				Proto:   "imap",
				Mailbox: s.user + "/" + name,
				Msg:     trace.MsgKey(raw),
				Text:    fmt.Sprintf("FETCH %s uid %d", bodyItems, r.uid),
			})
		}
	}
	return nil
}

// fetchPlan is what a FETCH writes of each message, worked out once.
type fetchPlan struct {
	options *goimap.FetchOptions
	// A partial BINARY answer names its origin, BINARY[1]<0> (RFC 3516
	// §4.2, as BODY[]<0> in RFC 9051 §7.5.2), which imapserver's writer
	// leaves out: those items (partial) go in a FETCH response of their
	// own (several FETCH responses for one message are allowed, RFC 9051
	// §7.5.2); whole are the other BINARY items.
	partial, whole []*goimap.FetchItemBinarySection
	// items: the response imapserver writes has items besides the FLAGS
	// of a message whose \Seen this FETCH set; itemsButEnvelope, when
	// the session writes the ENVELOPE itself (a route in it).
	items            bool
	itemsButEnvelope bool
	seen             []store.Message // the flags of messages whose \Seen this FETCH set
	recent           []store.UID     // the session's recent messages; nil for IMAP4rev2
}

func newFetchPlan(options *goimap.FetchOptions, seen []store.Message) *fetchPlan {
	p := &fetchPlan{options: options, seen: seen}
	for _, bs := range options.BinarySection {
		if bs.Partial != nil {
			p.partial = append(p.partial, bs)
		} else {
			p.whole = append(p.whole, bs)
		}
	}
	p.itemsButEnvelope = options.UID || options.Flags || options.InternalDate || options.RFC822Size ||
		options.BodyStructure != nil || len(options.BodySection) > 0 || len(p.whole) > 0 ||
		len(options.BinarySectionSize) > 0
	p.items = p.itemsButEnvelope || options.Envelope
	return p
}

func (s *session) fetchOne(w *imapserver.FetchWriter, r ref, m *store.Message, raw []byte, p *fetchPlan) error {
	flags, flagsChanged := []string(nil), false
	if i, ok := slices.BinarySearchFunc(p.seen, r.uid, func(m store.Message, u store.UID) int { return cmpUID(m.UID, u) }); ok {
		flags, flagsChanged = p.seen[i].Flags, true
	} else if m != nil {
		flags = m.Flags
	}
	// An ENVELOPE with a route goes in a FETCH response of the
	// session's own (several for one message are allowed, RFC 9051
	// §7.5.2): imapserver's writer has no route.
	var env *goimap.Envelope
	var routes *envelopeRoutes
	if p.options.Envelope {
		env, routes = envelope(raw)
	}
	routed := routes != nil && routes.any()
	items := p.items
	if routed {
		items = p.itemsButEnvelope
	}
	if items || flagsChanged {
		if err := s.fetchItems(w, r, m, raw, flags, p.options.Flags || flagsChanged, p.options.Envelope && !routed, env, p); err != nil {
			return err
		}
	}
	if routed {
		var b bytes.Buffer
		fmt.Fprintf(&b, "* %d FETCH (", r.seq)
		if p.options.UID {
			fmt.Fprintf(&b, "UID %d ", r.uid)
		}
		b.WriteString("ENVELOPE ")
		writeEnvelope(&b, env, routes, s.gv.utf8Names())
		b.WriteString(")\r\n")
		if _, err := s.gv.Write(b.Bytes()); err != nil {
			return err
		}
	}
	if len(p.partial) == 0 {
		return nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "* %d FETCH (", r.seq)
	if p.options.UID {
		fmt.Fprintf(&b, "UID %d ", r.uid)
	}
	for i, bs := range p.partial {
		data := imapserver.ExtractBinarySection(bytes.NewReader(raw), bs)
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "BINARY[%s]<%d> ~{%d}\r\n", partString(bs.Part), bs.Partial.Offset, len(data))
		b.Write(data)
	}
	b.WriteString(")\r\n")
	_, err := s.gv.Write(b.Bytes())
	return err
}

// fetchItems writes the FETCH response of one message through imapserver:
// every item but the partial BINARY sections; its flags (with \Recent)
// when writeFlags, its envelope env when writeEnv.
func (s *session) fetchItems(w *imapserver.FetchWriter, r ref, m *store.Message, raw []byte, flags []string, writeFlags, writeEnv bool, env *goimap.Envelope, p *fetchPlan) error {
	options := p.options
	mw := w.CreateMessage(r.seq)
	if options.UID {
		mw.WriteUID(goimap.UID(r.uid))
	}
	if writeFlags {
		now, untold := s.sel.shown(flags)
		mw.WriteFlags(withRecent(now, r.uid, p.recent))
		if untold {
			// The rest after the FLAGS response that names it.
			s.sel.later(r.uid, options.UID, withRecent(flags, r.uid, p.recent))
		}
	}
	if options.InternalDate && m != nil {
		mw.WriteInternalDate(m.Date)
	}
	if options.RFC822Size && m != nil {
		mw.WriteRFC822Size(m.Size)
	}
	if writeEnv {
		mw.WriteEnvelope(env)
	}
	if options.BodyStructure != nil {
		mw.WriteBodyStructure(bodyStructure(raw))
	}
	for _, bs := range options.BodySection {
		data := bodySection(raw, bs)
		wc := mw.WriteBodySection(bs, int64(len(data)))
		_, werr := wc.Write(data)
		if cerr := wc.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return werr
		}
	}
	for _, bs := range p.whole {
		data := imapserver.ExtractBinarySection(bytes.NewReader(raw), bs)
		wc := mw.WriteBinarySection(bs, int64(len(data)))
		_, werr := wc.Write(data)
		if cerr := wc.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return werr
		}
	}
	for _, bss := range options.BinarySectionSize {
		mw.WriteBinarySectionSize(bss, imapserver.ExtractBinarySectionSize(bytes.NewReader(raw), bss))
	}
	return mw.Close()
}

// headerEnd returns the length of the header section of a message,
// including the empty line (CRLF or LF) that ends it: all but
// message.Body, so the whole message when there is no such line.
func headerEnd(raw []byte) int { return len(raw) - len(message.Body(raw)) }

// bodySection extracts a BODY[...] section. The whole message, its header
// and its text are cut from the raw bytes (so that BODY[] is exactly
// RFC822.SIZE bytes); the rest goes through imapserver.ExtractBodySection.
func bodySection(raw []byte, bs *goimap.FetchItemBodySection) []byte {
	var data []byte
	if len(bs.Part) == 0 && len(bs.HeaderFields) == 0 && len(bs.HeaderFieldsNot) == 0 {
		switch bs.Specifier {
		case goimap.PartSpecifierNone:
			data = raw
		case goimap.PartSpecifierHeader:
			data = raw[:headerEnd(raw)]
		case goimap.PartSpecifierText:
			data = raw[headerEnd(raw):]
		}
	}
	if data == nil {
		return imapserver.ExtractBodySection(bytes.NewReader(raw), bs)
	}
	if p := bs.Partial; p != nil {
		if p.Offset >= int64(len(data)) {
			return nil
		}
		data = data[p.Offset:min(int64(len(data)), p.Offset+p.Size)]
	}
	return data
}

func envelope(raw []byte) (*goimap.Envelope, *envelopeRoutes) {
	hdr := raw[:headerEnd(raw)]
	if !bytes.HasSuffix(hdr, []byte("\n\n")) && !bytes.HasSuffix(hdr, []byte("\n\r\n")) {
		// No body: end the header, in a copy (raw is the store's).
		hdr = append(append([]byte(nil), bytes.TrimRight(hdr, "\r\n")...), "\r\n\r\n"...)
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(hdr)))
	if err != nil {
		return nil, nil
	}
	env := imapserver.ExtractEnvelope(h)
	return env, envelopeAddresses(env, h.Get)
}

// envelopeDate is how imapserver writes an envelope's date.
const envelopeDate = "Mon, 02 Jan 2006 15:04:05 -0700"

// writeEnvelope writes an envelope as imapserver's writer does (RFC 9051
// §7.5.2: Sender and Reply-To default to From, names and the subject
// encoded as RFC 2047 words), with the route of each address as its
// at-domain-list (RFC 3501 §7.4.2), which that writer has not.
func writeEnvelope(b *bytes.Buffer, env *goimap.Envelope, routes *envelopeRoutes, utf8 bool) {
	str := func(s string) { writeNString(b, s, utf8) }
	b.WriteByte('(')
	if env.Date.IsZero() {
		b.WriteString("NIL")
	} else {
		str(env.Date.Format(envelopeDate))
	}
	b.WriteByte(' ')
	str(mime.QEncoding.Encode("utf-8", env.Subject))
	lists := [6][]goimap.Address{env.From, env.Sender, env.ReplyTo, env.To, env.Cc, env.Bcc}
	for i := 1; i <= 2; i++ {
		if lists[i] == nil {
			lists[i], routes[i] = env.From, routes[0]
		}
	}
	for i, l := range lists {
		b.WriteByte(' ')
		if len(l) == 0 {
			b.WriteString("NIL")
			continue
		}
		b.WriteByte('(')
		for j, a := range l {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteByte('(')
			str(mime.QEncoding.Encode("utf-8", a.Name))
			b.WriteByte(' ')
			route := ""
			if j < len(routes[i]) {
				route = routes[i][j]
			}
			str(route)
			b.WriteByte(' ')
			str(a.Mailbox)
			b.WriteByte(' ')
			str(a.Host)
			b.WriteByte(')')
		}
		b.WriteByte(')')
	}
	b.WriteByte(' ')
	if len(env.InReplyTo) > 0 {
		str("<" + strings.Join(env.InReplyTo, "> <") + ">")
	} else {
		b.WriteString("NIL")
	}
	b.WriteByte(' ')
	if env.MessageID != "" {
		str("<" + env.MessageID + ">")
	} else {
		b.WriteString("NIL")
	}
	b.WriteByte(')')
}

// writeNString writes an nstring as imapserver does: NIL when empty, a
// quoted string when it may be one, else a literal.
func writeNString(b *bytes.Buffer, s string, utf8 bool) {
	if s == "" {
		b.WriteString("NIL")
		return
	}
	quoted := len(s) <= 4096
	for i := 0; i < len(s) && quoted; i++ {
		c := s[i]
		quoted = c != 0 && c != '\r' && c != '\n' && (utf8 || c < 0x80)
	}
	if !quoted {
		fmt.Fprintf(b, "{%d}\r\n%s", len(s), s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// bodyStructure is imapserver.ExtractBodyStructure made safe to write: a
// multipart without parts (a malformed message: no boundary, or none
// found) would make imapserver's writer panic and drop the connection, so
// it is described as an empty text/plain part instead.
func bodyStructure(raw []byte) goimap.BodyStructure {
	return fixBodyStructure(imapserver.ExtractBodyStructure(bytes.NewReader(raw)))
}

func fixBodyStructure(bs goimap.BodyStructure) goimap.BodyStructure {
	switch b := bs.(type) {
	case *goimap.BodyStructureMultiPart:
		if len(b.Children) == 0 {
			return &goimap.BodyStructureSinglePart{
				Type: "text", Subtype: "plain",
				Params:   map[string]string{"charset": "us-ascii"},
				Text:     &goimap.BodyStructureText{},
				Extended: &goimap.BodyStructureSinglePartExt{},
			}
		}
		for i, c := range b.Children {
			b.Children[i] = fixBodyStructure(c)
		}
		if b.Extended == nil {
			b.Extended = &goimap.BodyStructureMultiPartExt{}
		}
	case *goimap.BodyStructureSinglePart:
		if b.MessageRFC822 != nil && b.MessageRFC822.BodyStructure != nil {
			b.MessageRFC822.BodyStructure = fixBodyStructure(b.MessageRFC822.BodyStructure)
		}
		if b.Extended == nil {
			b.Extended = &goimap.BodyStructureSinglePartExt{}
		}
	case nil:
		return fixBodyStructure(&goimap.BodyStructureMultiPart{})
	}
	return bs
}

// bodyItemNames names the items of a FETCH that return a message's body
// (not just its header), for the trace: "BODY[]", "BODY.PEEK[TEXT]<0.100>".
func bodyItemNames(options *goimap.FetchOptions) string {
	var names []string
	for _, bs := range options.BodySection {
		if bs.Specifier != goimap.PartSpecifierNone && bs.Specifier != goimap.PartSpecifierText {
			continue
		}
		var b strings.Builder
		b.WriteString("BODY")
		if bs.Peek {
			b.WriteString(".PEEK")
		}
		b.WriteByte('[')
		b.WriteString(partString(bs.Part))
		if bs.Specifier == goimap.PartSpecifierText {
			if len(bs.Part) > 0 {
				b.WriteByte('.')
			}
			b.WriteString("TEXT")
		}
		b.WriteByte(']')
		if p := bs.Partial; p != nil {
			fmt.Fprintf(&b, "<%d.%d>", p.Offset, p.Size)
		}
		names = append(names, b.String())
	}
	for _, bs := range options.BinarySection {
		name := "BINARY"
		if bs.Peek {
			name += ".PEEK"
		}
		names = append(names, name+"["+partString(bs.Part)+"]")
	}
	return strings.Join(names, " ")
}

func partString(part []int) string {
	s := make([]string, len(part))
	for i, p := range part {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ".")
}
