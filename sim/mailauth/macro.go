package mailauth

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// macroPart is a piece of a macro-string (RFC 7208 §7.1): a literal, or
// a macro with its transformers.
type macroPart struct {
	literal string
	letter  byte // 0 for a literal; lower case
	upper   bool // URL-escape the value (an upper-case letter)
	keep    int  // keep the rightmost keep parts; 0 keeps all
	reverse bool
	delims  string // split on these; "" means "."
}

// maxMacroParts bounds the work of one macro-string.
const maxMacroParts = 1024

// parseMacros splits a macro-string into its parts. In explanation text
// (exp) spaces are literals and the letters c, r and t are allowed.
func parseMacros(s string, exp bool) ([]macroPart, error) {
	var parts []macroPart
	lit := 0 // start of the current literal
	flush := func(end int) {
		if end > lit {
			parts = append(parts, macroPart{literal: s[lit:end]})
		}
	}
	for i := 0; i < len(s); {
		if len(parts) > maxMacroParts {
			return nil, fmt.Errorf("more than %d macros", maxMacroParts)
		}
		c := s[i]
		if c != '%' {
			if (c < 0x21 || c > 0x7e) && !(exp && c == ' ') {
				return nil, fmt.Errorf("character %q is not allowed here", c)
			}
			i++
			continue
		}
		flush(i)
		if i+1 >= len(s) {
			return nil, fmt.Errorf("%q ends in a lone %%", s)
		}
		switch s[i+1] {
		case '%':
			parts = append(parts, macroPart{literal: "%"})
			i += 2
			lit = i
			continue
		case '_':
			parts = append(parts, macroPart{literal: " "})
			i += 2
			lit = i
			continue
		case '-':
			parts = append(parts, macroPart{literal: "%20"})
			i += 2
			lit = i
			continue
		case '{':
		default:
			return nil, fmt.Errorf("%q: %%%c is not a macro (write %%%% for a %%)", s, s[i+1])
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("%q: %%{ without }", s)
		}
		body := s[i+2 : i+end]
		p, err := parseMacro(body, exp)
		if err != nil {
			return nil, fmt.Errorf("%%{%s}: %v", body, err)
		}
		parts = append(parts, p)
		i += end + 1
		lit = i
	}
	flush(len(s))
	return parts, nil
}

// parseMacro parses what is between %{ and }: a letter, transformers
// (digits, r) and delimiters.
func parseMacro(body string, exp bool) (macroPart, error) {
	if body == "" {
		return macroPart{}, fmt.Errorf("no macro letter")
	}
	l := body[0] | 0x20
	p := macroPart{letter: l, upper: body[0] >= 'A' && body[0] <= 'Z'}
	switch l {
	case 's', 'l', 'o', 'd', 'i', 'p', 'h', 'v':
	case 'c', 'r', 't':
		if !exp {
			return p, fmt.Errorf("%%{%c} is only allowed in exp= text", body[0])
		}
	default:
		return p, fmt.Errorf("%q is not a macro letter", body[0])
	}
	rest := body[1:]
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n > 0 {
		k, err := strconv.Atoi(rest[:n])
		switch {
		case err != nil || n > 3:
			k = 999 // more parts than any name has: keep them all
		case k == 0:
			return p, fmt.Errorf("keeping 0 parts is not allowed")
		}
		p.keep = k
		rest = rest[n:]
	}
	if rest != "" && rest[0]|0x20 == 'r' {
		p.reverse = true
		rest = rest[1:]
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(".-+,/_=", rest[i]) < 0 {
			return p, fmt.Errorf("%q is not a delimiter", rest[i])
		}
	}
	p.delims = rest
	return p, nil
}

// macroEnv holds what the macro letters stand for (RFC 7208 §7.2).
type macroEnv struct {
	sender   string // s
	local    string // l
	domainOf string // o
	domain   string // d: the current domain
	ip       netip.Addr
	helo     string // h
	receiver string // r
	now      time.Time
	// ptr returns the validated domain name of %{p} (RFC 7208 §7.3);
	// it is asked only when a record uses %{p}.
	ptr func() string
}

func (e *macroEnv) value(l byte) string {
	switch l {
	case 's':
		return e.sender
	case 'l':
		return e.local
	case 'o':
		return e.domainOf
	case 'd':
		return e.domain
	case 'i':
		if e.ip.Is4() {
			return e.ip.String()
		}
		// Dot-format nibbles for IPv6 (RFC 7208 §7.3).
		b := e.ip.As16()
		var sb strings.Builder
		for i, x := range b {
			if i > 0 {
				sb.WriteByte('.')
			}
			sb.WriteByte("0123456789abcdef"[x>>4])
			sb.WriteByte('.')
			sb.WriteByte("0123456789abcdef"[x&15])
		}
		return sb.String()
	case 'c':
		return e.ip.String()
	case 'v':
		if e.ip.Is4() {
			return "in-addr"
		}
		return "ip6"
	case 'h':
		return e.helo
	case 'r':
		if e.receiver == "" {
			return "unknown"
		}
		return e.receiver
	case 't':
		return strconv.FormatInt(e.now.Unix(), 10)
	case 'p':
		if e.ptr == nil {
			return "unknown"
		}
		return e.ptr()
	}
	return ""
}

// expand applies a parsed macro-string (RFC 7208 §7.3).
func (e *macroEnv) expand(parts []macroPart) string {
	var sb strings.Builder
	for _, p := range parts {
		if p.letter == 0 {
			sb.WriteString(p.literal)
			continue
		}
		v := e.value(p.letter)
		if p.keep > 0 || p.reverse || p.delims != "" {
			v = transform(v, p)
		}
		if p.upper {
			v = urlEscape(v)
		}
		sb.WriteString(v)
	}
	return sb.String()
}

// transform splits v on the delimiters, reverses the parts if asked,
// keeps the rightmost p.keep of them, and joins them with dots.
func transform(v string, p macroPart) string {
	delims := p.delims
	if delims == "" {
		delims = "."
	}
	var parts []string
	start := 0
	for i := 0; i < len(v); i++ {
		if strings.IndexByte(delims, v[i]) >= 0 {
			parts = append(parts, v[start:i])
			start = i + 1
		}
	}
	parts = append(parts, v[start:])
	if p.reverse {
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
	}
	if p.keep > 0 && p.keep < len(parts) {
		parts = parts[len(parts)-p.keep:]
	}
	return strings.Join(parts, ".")
}

// urlEscape escapes all but the unreserved characters of RFC 3986.
func urlEscape(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			sb.WriteByte(c)
			continue
		}
		fmt.Fprintf(&sb, "%%%02X", c)
	}
	return sb.String()
}

// expandDomain expands a domain-spec and shortens the result to 253
// characters by dropping labels on the left (RFC 7208 §7.3).
func (e *macroEnv) expandDomain(spec string) (string, error) {
	parts, err := parseMacros(spec, false)
	if err != nil {
		return "", err
	}
	name := strings.TrimSuffix(e.expand(parts), ".")
	for len(name) > 253 {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return "", fmt.Errorf("the name is longer than 253 characters")
		}
		name = name[i+1:]
	}
	return name, nil
}

// validatedName implements the PTR validation of RFC 7208 §5.5 for the
// ptr mechanism and the %{p} macro: the names of the address's PTR
// records (the first 10) whose own addresses include ip.
func validatedNames(ctx context.Context, r Resolver, ip netip.Addr) ([]string, error) {
	names, err := r.LookupAddr(ctx, ip.String())
	if err != nil {
		return nil, err
	}
	if len(names) > maxPTRNames {
		names = names[:maxPTRNames] // RFC 7208 §4.6.4: the rest is ignored
	}
	network := "ip4"
	if !ip.Is4() {
		network = "ip6"
	}
	var valid []string
	for _, n := range names {
		addrs, err := r.LookupNetIP(ctx, network, n)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if a.Unmap() == ip {
				valid = append(valid, trimDot(n))
				break
			}
		}
	}
	return valid, nil
}
