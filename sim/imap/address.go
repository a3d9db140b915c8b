package imap

import (
	"mime"
	"strings"

	goimap "github.com/emersion/go-imap/v2"
	gomessage "github.com/emersion/go-message"
)

// The addresses of an ENVELOPE (RFC 3501 §7.4.2, RFC 9051 §7.5.2), read
// from a header field by this parser rather than by net/mail (through
// imapserver.ExtractEnvelope), which gives up on a whole list that holds
// a group or a route: RFC 5322 §3.4 groups ("Team: a@x, b@y;") become a
// start marker (the group's name as mailbox, NIL host) and an end marker
// (all NIL); the obsolete routes of RFC 5322 §4.4 ("<@relay:a@x>") are
// read, the address kept; comments and folding are skipped anywhere, but
// the comment after an addr-spec alone is its display name (the legacy
// form "user@domain (Real Name)" of RFC 5322 §3.4).
// imapserver writes the address structure's at-domain-list (the route)
// as NIL whatever it is given (its imap.Address has none), so an
// envelope with a route is written by the session itself (see
// writeEnvelope). A mailbox without a domain gets "MISSING_DOMAIN", so
// that it is not taken for a group marker.

// missingDomain is the host of an address that has none.
const missingDomain = "MISSING_DOMAIN"

// addrToken is a lexical token of an address header: a word (an atom,
// dots included, or a quoted string, unquoted), a domain literal, or one
// of the specials < > : ; @ ,.
type addrToken struct {
	text    string
	special byte
	quoted  bool
	space   bool   // whitespace or a comment came before it
	comment string // the comments right after it, their text
}

func lexAddresses(v string) []addrToken {
	var out []addrToken
	space := false
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			space = true
			i++
		case c == '(':
			start, depth := i, 0
			for ; i < len(v); i++ {
				switch v[i] {
				case '\\':
					i++
				case '(':
					depth++
				case ')':
					depth--
				}
				if depth == 0 {
					break
				}
			}
			i++
			if n := len(out); n > 0 {
				text := commentText(v[start+1 : min(i, len(v))])
				out[n-1].comment = strings.TrimSpace(out[n-1].comment + " " + text)
			}
			space = true
		case c == '"':
			var b strings.Builder
			for i++; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			i++
			out = append(out, addrToken{text: b.String(), quoted: true, space: space})
			space = false
		case c == '[':
			j := strings.IndexByte(v[i:], ']')
			if j < 0 {
				j = len(v) - i - 1
			}
			out = append(out, addrToken{text: v[i : i+j+1], space: space})
			i += j + 1
			space = false
		case strings.IndexByte("<>:;@,", c) >= 0:
			out = append(out, addrToken{special: c, space: space})
			i++
			space = false
		default:
			j := i
			for j < len(v) && strings.IndexByte(" \t\r\n()\"[<>:;@,", v[j]) < 0 {
				j++
			}
			if j == i { // a stray ')' or ']'
				j++
			}
			out = append(out, addrToken{text: v[i:j], space: space})
			i = j
			space = false
		}
	}
	return out
}

// addrParser reads an address list from its tokens.
type addrParser struct {
	toks   []addrToken
	out    []goimap.Address
	routes []string // out's at-domain-lists ("@a,@b"), "" for none
	route  string   // the route of the angle address being read
}

// addressList parses the value of an address header field (From, To,
// ...) into ENVELOPE address structures.
func addressList(v string) []goimap.Address {
	out, _ := routedAddressList(v)
	return out
}

// routedAddressList is addressList with the route of each address ("" for
// none).
func routedAddressList(v string) ([]goimap.Address, []string) {
	p := &addrParser{toks: lexAddresses(v)}
	p.list(false)
	return p.out, p.routes
}

func (p *addrParser) peek() byte {
	if len(p.toks) == 0 {
		return 0
	}
	return p.toks[0].special
}

// list reads addresses up to the end, or in a group up to its ";".
func (p *addrParser) list(inGroup bool) {
	for len(p.toks) > 0 {
		switch p.peek() {
		case ',':
			p.toks = p.toks[1:]
			continue
		case ';':
			if inGroup {
				return
			}
			p.toks = p.toks[1:]
			continue
		}
		p.address(inGroup)
	}
}

// words takes the words up to the next special: a display name, a group
// name or a local part.
func (p *addrParser) words() []addrToken {
	i := 0
	for i < len(p.toks) && p.toks[i].special == 0 {
		i++
	}
	w := p.toks[:i]
	p.toks = p.toks[i:]
	return w
}

// address reads a mailbox or a group.
func (p *addrParser) address(inGroup bool) {
	phrase := p.words()
	switch p.peek() {
	case '<':
		p.toks = p.toks[1:]
		p.angle(displayName(phrase))
	case ':':
		p.toks = p.toks[1:]
		if inGroup { // groups do not nest: read on as a list
			return
		}
		p.out = append(p.out, goimap.Address{Mailbox: displayName(phrase)})
		p.routes = append(p.routes, "")
		p.list(true)
		if p.peek() == ';' {
			p.toks = p.toks[1:]
		}
		p.out = append(p.out, goimap.Address{})
		p.routes = append(p.routes, "")
	case '@':
		// An addr-spec alone. Its trailing comment is the display name
		// of the legacy form "user@domain (Real Name)" (RFC 5322 §3.4).
		p.toks = p.toks[1:]
		dom := p.words()
		name := ""
		if n := len(dom); n > 0 {
			name = decodeWords(dom[n-1].comment)
		}
		p.mailbox(name, localPart(phrase), domain(dom))
	default: // a local part alone, or a stray special
		if len(phrase) == 0 {
			if len(p.toks) > 0 {
				p.toks = p.toks[1:]
			}
			return
		}
		p.mailbox("", localPart(phrase), "")
	}
}

// angle reads an angle address after its "<": an optional route, the
// address, ">".
func (p *addrParser) angle(name string) {
	if p.peek() == '@' { // obs-route: "@a,@b:" before the address
		i := 0
		var route strings.Builder
		for i < len(p.toks) && p.toks[i].special != ':' && p.toks[i].special != '>' {
			if t := p.toks[i]; t.special != 0 {
				route.WriteByte(t.special)
			} else {
				route.WriteString(t.text)
			}
			i++
		}
		if i < len(p.toks) && p.toks[i].special == ':' {
			p.toks = p.toks[i+1:]
			p.route = route.String()
		}
	}
	local := localPart(p.words())
	host := ""
	if p.peek() == '@' {
		p.toks = p.toks[1:]
		host = domain(p.words())
	}
	for len(p.toks) > 0 && p.peek() != '>' && p.peek() != ',' && p.peek() != ';' {
		p.toks = p.toks[1:]
	}
	if p.peek() == '>' {
		p.toks = p.toks[1:]
	}
	if local == "" && host == "" {
		p.route = ""
		return // "<>"
	}
	p.mailbox(name, local, host)
}

func (p *addrParser) mailbox(name, local, host string) {
	route := p.route
	p.route = ""
	if local == "" {
		return
	}
	if host == "" {
		host = missingDomain
	}
	p.out = append(p.out, goimap.Address{Name: name, Mailbox: local, Host: host})
	p.routes = append(p.routes, route)
}

// displayName joins a phrase's words, decoding RFC 2047 encoded words.
func displayName(words []addrToken) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w.text)
	}
	return decodeWords(b.String())
}

// decodeWords decodes the RFC 2047 encoded words of a phrase or comment.
func decodeWords(s string) string {
	if strings.Contains(s, "=?") {
		dec := mime.WordDecoder{CharsetReader: gomessage.CharsetReader}
		if d, err := dec.DecodeHeader(s); err == nil {
			s = d
		}
	}
	return s
}

// commentText is the text of a comment, without its outer parentheses:
// quoted pairs unquoted, folding and runs of whitespace made one space,
// a nested comment kept with its parentheses.
func commentText(c string) string {
	c = strings.TrimSuffix(c, ")")
	var b strings.Builder
	for i := 0; i < len(c); i++ {
		if c[i] == '\\' && i+1 < len(c) {
			i++
		}
		b.WriteByte(c[i])
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// localPart joins the words of a local part as written, quoted strings
// quoted again.
func localPart(words []addrToken) string {
	var b strings.Builder
	for _, w := range words {
		if w.quoted {
			b.WriteString(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(w.text) + `"`)
		} else {
			b.WriteString(w.text)
		}
	}
	return b.String()
}

// domain joins the words of a domain.
func domain(words []addrToken) string {
	var b strings.Builder
	for _, w := range words {
		b.WriteString(w.text)
	}
	return b.String()
}

// envelopeRoutes are the routes of an envelope's addresses, field by
// field (From, Sender, Reply-To, To, Cc, Bcc) and address by address.
type envelopeRoutes [6][]string

// any reports whether an address has a route.
func (r *envelopeRoutes) any() bool {
	for _, f := range r {
		for _, route := range f {
			if route != "" {
				return true
			}
		}
	}
	return false
}

// envelopeAddresses puts the header's address fields, read by
// addressList, into an envelope, and returns their routes.
func envelopeAddresses(env *goimap.Envelope, get func(key string) string) *envelopeRoutes {
	var routes envelopeRoutes
	for i, f := range []struct {
		key string
		to  *[]goimap.Address
	}{
		{"From", &env.From}, {"Sender", &env.Sender}, {"Reply-To", &env.ReplyTo},
		{"To", &env.To}, {"Cc", &env.Cc}, {"Bcc", &env.Bcc},
	} {
		*f.to, routes[i] = routedAddressList(get(f.key))
	}
	return &routes
}

// isAddressField reports whether SEARCH matches a header field against
// its addresses too (RFC 9051 §6.4.4: FROM, TO, CC and BCC search the
// envelope's fields).
func isAddressField(key string) bool {
	switch strings.ToLower(key) {
	case "from", "to", "cc", "bcc":
		return true
	}
	return false
}

// addressMatch reports whether one of the addresses of a field value
// holds pattern, in its name or in mailbox@host.
func addressMatch(v, pattern string) bool {
	for _, a := range addressList(v) {
		if a.Host == "" {
			continue // group markers
		}
		if containsFold([]byte(a.Name), pattern) || containsFold([]byte(a.Mailbox+"@"+a.Host), pattern) {
			return true
		}
	}
	return false
}
