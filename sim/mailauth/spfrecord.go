package mailauth

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// SPFRecord is a parsed SPF record (RFC 7208 §4.6, §12): the mechanisms in
// the order they are tried, and the two modifiers that mean something.
type SPFRecord struct {
	Terms    []SPFTerm // the mechanisms, left to right
	Redirect string    // redirect= domain-spec, "" for none (RFC 7208 §6.1)
	Exp      string    // exp= domain-spec, "" for none (RFC 7208 §6.2)
}

// SPFTerm is one mechanism of an SPF record (RFC 7208 §5).
type SPFTerm struct {
	Qualifier byte   // '+' pass, '-' fail, '~' softfail, '?' neutral
	Mechanism string // all, include, a, mx, ptr, ip4, ip6, exists (lower case)
	// Domain is the domain-spec, macros unexpanded; "" for the current
	// domain (a, mx, ptr without one).
	Domain string
	// Net is the network of ip4 and ip6.
	Net netip.Prefix
	// CIDR4 and CIDR6 are the prefix lengths of a and mx (the dual-cidr
	// of RFC 7208 §5.6): 32 and 128 when not given.
	CIDR4, CIDR6 int
	Text         string // the term as written
}

// Result returns the result this mechanism gives when it matches.
func (t SPFTerm) Result() Result {
	switch t.Qualifier {
	case '-':
		return Fail
	case '~':
		return SoftFail
	case '?':
		return Neutral
	}
	return Pass
}

// queries reports whether evaluating the term asks DNS: those count
// towards the limit of 10 (RFC 7208 §4.6.4).
func (t SPFTerm) queries() bool {
	switch t.Mechanism {
	case "include", "a", "mx", "ptr", "exists":
		return true
	}
	return false
}

// MaxSPFRecord bounds the length of an SPF record this package reads. DNS
// itself bounds a TXT RRset to 64 KiB; real records are a few hundred
// bytes.
const MaxSPFRecord = 16 << 10

// IsSPFRecord reports whether a TXT record is an SPF record: it begins
// with "v=spf1" followed by a space or nothing (RFC 7208 §4.5).
func IsSPFRecord(txt string) bool {
	if len(txt) < 6 || !strings.EqualFold(txt[:6], "v=spf1") {
		return false
	}
	return len(txt) == 6 || txt[6] == ' '
}

// ParseSPF parses an SPF record, "v=spf1 mx -all". Any syntax error makes
// the whole record unusable: the check's result is permerror (RFC 7208
// §4.6). Unknown modifiers are ignored (§6).
func ParseSPF(record string) (*SPFRecord, error) {
	if len(record) > MaxSPFRecord {
		return nil, fmt.Errorf("the record is %d bytes long, more than this checker reads", len(record))
	}
	if !IsSPFRecord(record) {
		return nil, errors.New(`an SPF record begins with "v=spf1"`)
	}
	rec := &SPFRecord{}
	var haveRedirect, haveExp bool
	for _, text := range strings.Split(record[6:], " ") {
		if text == "" {
			continue // several spaces between terms, or at the end
		}
		// A modifier is name=value; a mechanism has no '=' before its
		// first ':' or '/'.
		name, rest := text, ""
		if i := strings.IndexAny(text, "=:/"); i >= 0 {
			name, rest = text[:i], text[i:]
		}
		if strings.HasPrefix(rest, "=") {
			value := rest[1:]
			if !isModifierName(name) {
				return nil, fmt.Errorf("%q: %q is not a modifier name", text, name)
			}
			switch strings.ToLower(name) {
			case "redirect":
				if haveRedirect {
					return nil, errors.New("two redirect= modifiers (RFC 7208 §6)")
				}
				haveRedirect = true
				if err := checkDomainSpec(value); err != nil {
					return nil, fmt.Errorf("%q: %v", text, err)
				}
				rec.Redirect = value
			case "exp":
				if haveExp {
					return nil, errors.New("two exp= modifiers (RFC 7208 §6)")
				}
				haveExp = true
				if err := checkDomainSpec(value); err != nil {
					return nil, fmt.Errorf("%q: %v", text, err)
				}
				rec.Exp = value
			default:
				// An unknown modifier is ignored, but its value must
				// still be a macro-string (RFC 7208 §6, §12).
				if _, err := parseMacros(value, false); err != nil {
					return nil, fmt.Errorf("%q: %v", text, err)
				}
			}
			continue
		}
		t, err := parseTerm(text, name, rest)
		if err != nil {
			return nil, err
		}
		rec.Terms = append(rec.Terms, t)
	}
	return rec, nil
}

func parseTerm(text, name, rest string) (SPFTerm, error) {
	t := SPFTerm{Qualifier: '+', Text: text, CIDR4: 32, CIDR6: 128}
	if name != "" && strings.IndexByte("+-~?", name[0]) >= 0 {
		t.Qualifier = name[0]
		name = name[1:]
	}
	t.Mechanism = strings.ToLower(name)
	bad := func(format string, a ...any) (SPFTerm, error) {
		return SPFTerm{}, fmt.Errorf("%q: "+format, append([]any{text}, a...)...)
	}
	// arg is the part after ':', if any; cidr what follows the domain.
	var arg string
	hasArg := strings.HasPrefix(rest, ":")
	if hasArg {
		arg = rest[1:]
	}
	switch t.Mechanism {
	case "all":
		if rest != "" {
			return bad("all takes no argument")
		}
	case "include", "exists":
		if !hasArg || arg == "" {
			return bad("%s needs a domain: %s:example.org", t.Mechanism, t.Mechanism)
		}
		if err := checkDomainSpec(arg); err != nil {
			return bad("%v", err)
		}
		t.Domain = arg
	case "ptr":
		if rest != "" && !hasArg {
			return bad("ptr takes no prefix length")
		}
		if hasArg {
			if err := checkDomainSpec(arg); err != nil {
				return bad("%v", err)
			}
			t.Domain = arg
		}
	case "a", "mx":
		spec := rest
		if hasArg {
			spec = arg
		}
		spec, c4, c6, err := cutDualCIDR(spec)
		if err != nil {
			return bad("%v", err)
		}
		t.CIDR4, t.CIDR6 = c4, c6
		switch {
		case hasArg:
			if err := checkDomainSpec(spec); err != nil {
				return bad("%v", err)
			}
			t.Domain = spec
		case spec != "":
			return bad("after %s comes ':' and a domain, or a prefix length", t.Mechanism)
		}
	case "ip4", "ip6":
		if !hasArg {
			return bad("%s needs a network: %s:%s", t.Mechanism, t.Mechanism,
				map[string]string{"ip4": "192.0.2.0/24", "ip6": "2001:db8::/32"}[t.Mechanism])
		}
		addrText, bitsText, hasBits := strings.Cut(arg, "/")
		addr, err := netip.ParseAddr(addrText)
		if err != nil || addr.Zone() != "" {
			return bad("%q is not an IP address", addrText)
		}
		max := 32
		if t.Mechanism == "ip4" {
			if !addr.Is4() {
				return bad("%q is not an IPv4 address", addrText)
			}
		} else {
			if !strings.Contains(addrText, ":") {
				return bad("%q is not an IPv6 address", addrText)
			}
			max = 128
		}
		bits := max
		if hasBits {
			if bits, err = cidrLength(bitsText, max); err != nil {
				return bad("%v", err)
			}
		}
		t.Net, err = addr.Prefix(bits)
		if err != nil {
			return bad("%v", err)
		}
	default:
		return bad("unknown mechanism %q", name)
	}
	return t, nil
}

// cutDualCIDR splits "example.org/24//64" (RFC 7208 §5.6) into the domain
// and the two prefix lengths.
func cutDualCIDR(s string) (string, int, int, error) {
	c4, c6 := 32, 128
	if i := strings.LastIndex(s, "//"); i >= 0 && isDigits(s[i+2:]) {
		n, err := cidrLength(s[i+2:], 128)
		if err != nil {
			return "", 0, 0, err
		}
		c6, s = n, s[:i]
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 && isDigits(s[i+1:]) {
		n, err := cidrLength(s[i+1:], 32)
		if err != nil {
			return "", 0, 0, err
		}
		c4, s = n, s[:i]
	}
	if strings.HasSuffix(s, "/") {
		return "", 0, 0, errors.New("a prefix length is a number: /24 or //64")
	}
	return s, c4, c6, nil
}

// cidrLength parses a prefix length: no leading zeros, at most max.
func cidrLength(s string, max int) (int, error) {
	if s == "" || !isDigits(s) || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a prefix length", s)
	}
	n, _ := strconv.Atoi(s)
	if n > max {
		return 0, fmt.Errorf("prefix length /%d is longer than %d bits", n, max)
	}
	return n, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// isModifierName checks name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
func isModifierName(name string) bool {
	if name == "" || !isAlpha(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !isAlpha(c) && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// checkDomainSpec checks a domain-spec (RFC 7208 §7.1): a macro-string
// that ends in a macro or in "." and a top label that is not all digits.
func checkDomainSpec(s string) error {
	parts, err := parseMacros(s, false)
	if err != nil {
		return err
	}
	if len(parts) > 0 && parts[len(parts)-1].letter != 0 {
		return nil
	}
	name := strings.TrimSuffix(s, ".")
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return fmt.Errorf("%q is not a domain name: it has no dot", s)
	}
	if !isTopLabel(name[i+1:]) {
		return fmt.Errorf("%q does not end in a valid top-level label", s)
	}
	return nil
}

// isTopLabel: letters, digits and inner hyphens, not all digits.
func isTopLabel(l string) bool {
	if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	digits := true
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case isAlpha(c):
			digits = false
		case c >= '0' && c <= '9':
		case c == '-':
			digits = false
		default:
			return false
		}
	}
	return !digits
}
