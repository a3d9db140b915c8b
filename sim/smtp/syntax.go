package smtp

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The syntax of commands: what a strict server refuses, what no server
// takes (control characters in a name that goes into Received), and the
// small parsers the session shares.

// strictSyntax returns the reply of a strict server to a command whose
// syntax RFC 5321 does not allow, or nil when the tolerant rules judge
// it. A tolerant server takes "MAIL FROM: alice@example.org" as Postfix does by
// default; a strict server wants the grammar of RFC 5321 §4.1.2.
func strictSyntax(verb, arg string, line []byte) *response {
	switch verb {
	case "EHLO", "HELO":
		// RFC 5321 §4.1.1.1: "EHLO" SP ( Domain / address-literal ).
		if arg == "" {
			return reply(501, "5.5.4", "Syntax: "+verb+" hostname (RFC 5321 §4.1.1.1): say who you are, e.g. "+verb+" client.example.org")
		}
	case "MAIL":
		if why := pathSyntax(line, "MAIL FROM:"); why != "" {
			return reply(501, "5.5.4", "Syntax: MAIL FROM:<address> (RFC 5321 §4.1.2): "+why)
		}
	case "RCPT":
		if why := pathSyntax(line, "RCPT TO:"); why != "" {
			return reply(501, "5.5.4", "Syntax: RCPT TO:<address> (RFC 5321 §4.1.2): "+why)
		}
	}
	return nil
}

// pathSyntax checks a MAIL or RCPT line against RFC 5321 §4.1.2:
// `"MAIL FROM:" Reverse-path [SP Mail-parameters]`, the path in angle
// brackets straight after the colon. It returns what is wrong, or "".
func pathSyntax(line []byte, head string) string {
	s := strings.TrimRight(string(line), "\r\n")
	if len(s) < len(head) || !strings.EqualFold(s[:len(head)], head) {
		return "exactly one space before " + head[5:] + " and no space before the colon"
	}
	s = s[len(head):]
	switch {
	case s == "":
		return "the address is missing"
	case s[0] == ' ' || s[0] == '\t':
		return "no space after the colon"
	case s[0] != '<':
		return "the address goes in angle brackets"
	}
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '>' && !quoted:
			if rest := s[i+1:]; rest != "" && rest[0] != ' ' {
				return "a space must separate the address from its parameters"
			}
			return ""
		case (c == ' ' || c == '\t') && !quoted:
			return "no space inside the angle brackets"
		}
	}
	return "the closing angle bracket is missing"
}

// heloSyntax checks the argument of EHLO or HELO (not empty), and returns
// what is wrong with it, or "". RFC 5321 §4.1.1.1 wants a domain (HELO)
// or a domain or address literal (EHLO); the name goes into the Received
// header of every message of the session, so no mode takes control
// characters, or anything else that could not be a host's name.
//
// A strict server wants the grammar: one argument, a Domain of
// letter-digit-hyphen labels (RFC 5321 §4.1.2; U-labels, RFC 6531 §3.3)
// or, after EHLO only, an address literal (§4.1.3). A tolerant one takes what real clients
// say: underscores, a bare IP address, a trailing dot, more words (the server
// keeps the first).
func heloSyntax(verb, arg string, strict bool) string {
	for i := 0; i < len(arg); i++ {
		if c := arg[i]; c < 0x20 || c == 0x7f {
			return fmt.Sprintf("control character %s in the name: a host's name is letters, digits, hyphens and dots", controlName(c))
		}
	}
	if !utf8.ValidString(arg) {
		return "the name is not valid UTF-8"
	}
	for _, r := range arg {
		if unicode.IsControl(r) {
			return fmt.Sprintf("control character %U in the name", r)
		}
	}
	name, rest, _ := strings.Cut(arg, " ")
	if strict && strings.TrimSpace(rest) != "" {
		return "one argument only, the client's domain name or address literal"
	}
	if strings.HasPrefix(name, "[") {
		if strict && verb == "HELO" {
			return "HELO takes a domain name; an address literal needs EHLO"
		}
		return addressLiteralSyntax(name, strict)
	}
	if strict {
		if ip, err := netip.ParseAddr(name); err == nil {
			lit := "[" + name + "]"
			if !ip.Is4() {
				lit = "[IPv6:" + name + "]"
			}
			return "an IP address goes in square brackets, as an address literal (RFC 5321 §4.1.3): " + lit
		}
		return domainSyntax(name)
	}
	for _, c := range name {
		if !nameRune(c) && !strings.ContainsRune("-._:", c) {
			return fmt.Sprintf("%q can not be in a host's name", c)
		}
	}
	return ""
}

// nameRune reports whether c is a letter or digit of a host's name: of
// US-ASCII, or of a U-label, where marks go with letters; no spaces,
// symbols or format characters (a U+202E could turn the header around).
func nameRune(c rune) bool {
	if c < 0x80 {
		return isLetDig(byte(c))
	}
	return unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.IsMark(c)
}

// domainSyntax checks a Domain (RFC 5321 §4.1.2): sub-domains of letters,
// digits and hyphens, not starting or ending with a hyphen, separated by
// single dots; non-ASCII labels are taken as U-labels (RFC 6531 §3.3).
func domainSyntax(name string) string {
	if len(name) > 255 {
		return "the name is longer than 255 octets (RFC 5321 §4.5.3.1.2)"
	}
	for _, label := range strings.Split(name, ".") {
		switch {
		case label == "":
			return "an empty label: no dot at the start or the end, nor two in a row"
		case len(label) > 63:
			return "a label longer than 63 octets (RFC 1035 §2.3.4)"
		case label[0] == '-' || label[len(label)-1] == '-':
			return "a label can not start or end with a hyphen"
		}
		for _, c := range label {
			if !nameRune(c) && c != '-' {
				return fmt.Sprintf("%q can not be in a domain name: letters, digits and hyphens only", c)
			}
		}
	}
	return ""
}

// addressLiteralSyntax checks an address literal (RFC 5321 §4.1.3):
// [IPv4], [IPv6:address], or a standardized tag and its content.
func addressLiteralSyntax(lit string, strict bool) string {
	inner, ok := strings.CutSuffix(lit[1:], "]")
	if !ok || inner == "" {
		return "an address literal is an address in square brackets, e.g. [192.0.2.1]"
	}
	for _, c := range []byte(inner) {
		// dcontent: printable US-ASCII but "[", "\" and "]".
		if c < 33 || c > 126 || c == '[' || c == '\\' || c == ']' {
			return fmt.Sprintf("%q can not be in an address literal", c)
		}
	}
	if !strict {
		return ""
	}
	tag, addr, general := strings.Cut(inner, ":")
	switch {
	case !general:
		if ip, err := netip.ParseAddr(inner); err != nil || !ip.Is4() {
			return "not an IPv4 address: an IPv6 address is written [IPv6:2001:db8::1]"
		}
	case strings.EqualFold(tag, "IPv6"):
		if ip, err := netip.ParseAddr(addr); err != nil || !ip.Is6() || ip.Zone() != "" {
			return "not an IPv6 address after IPv6:"
		}
	default:
		if domainSyntax(tag) != "" || strings.Contains(tag, ".") {
			return "an address literal is [IPv4], [IPv6:address] or [tag:address]"
		}
	}
	return ""
}

func isLetDig(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// controlName names a control character for a reply.
func controlName(c byte) string {
	switch c {
	case 0:
		return "NUL"
	case '\t':
		return "TAB"
	case '\r':
		return "CR"
	case '\n':
		return "LF"
	case 0x7f:
		return "DEL"
	}
	return fmt.Sprintf("0x%02X", c)
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func splitCommand(line []byte) (verb, arg string) {
	s := strings.TrimRight(string(line), "\r\n")
	verb, arg, _ = strings.Cut(s, " ")
	return strings.ToUpper(verb), strings.TrimSpace(arg)
}

// decodeSASL decodes a SASL response (RFC 4954 §4): standard base64, or
// "=" for an empty one.
func decodeSASL(s string) ([]byte, error) {
	if s == "=" {
		return []byte{}, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// parsePath reads the path of MAIL FROM: or RCPT TO: (RFC 5321 §4.1.2)
// from the start of s: "<>" (null, only where null is true), or an
// address in angle brackets, a source route before it dropped (RFC 5321
// §C: "@relay:bob@example.net" is bob@example.net). A tolerant server
// takes the address without brackets too, as Postfix does. It returns
// the address, the parameters that follow, and what is wrong, if
// anything.
func parsePath(s string, null bool) (addr string, params []string, why string) {
	bracket := strings.HasPrefix(s, "<")
	if bracket {
		s = s[1:]
		if strings.HasPrefix(s, ">") {
			if !null {
				return "", nil, "the address is empty"
			}
			return "", strings.Fields(s[1:]), paramsStart(s[1:])
		}
		if strings.HasPrefix(s, "@") {
			i := strings.IndexByte(s, ':')
			if i < 0 {
				return "", nil, "a source route ends with a colon"
			}
			s = s[i+1:]
		}
	}
	i, why := mailboxEnd(s)
	if why != "" {
		return "", nil, why
	}
	addr, s = s[:i], s[i:]
	if bracket {
		if !strings.HasPrefix(s, ">") {
			return "", nil, "the closing angle bracket is missing"
		}
		s = s[1:]
	}
	return addr, strings.Fields(s), paramsStart(s)
}

// paramsStart checks what follows a path: nothing, or a space and the
// parameters.
func paramsStart(s string) string {
	if s != "" && s[0] != ' ' {
		return "a space must separate the address from its parameters"
	}
	return ""
}

// mailboxEnd returns where the Mailbox at the start of s ends (RFC 5321
// §4.1.2: Local-part "@" ( Domain / address-literal )): the local part
// a dot-string or a quoted string, the domain up to a space or ">".
func mailboxEnd(s string) (int, string) {
	i := 0
	if strings.HasPrefix(s, `"`) {
		for i = 1; ; i++ {
			if i >= len(s) {
				return 0, "the quoted local part is not closed"
			}
			if s[i] == '\\' {
				i++
				continue
			}
			if s[i] == '"' {
				i++
				break
			}
		}
	} else {
		for i < len(s) && s[i] != '@' && s[i] != '>' && s[i] != ' ' {
			i++
		}
	}
	if i == 0 {
		return 0, "the local part is empty"
	}
	if i >= len(s) || s[i] != '@' {
		return 0, "the address needs a domain: local-part@domain"
	}
	j := i + 1
	for j < len(s) && s[j] != '>' && s[j] != ' ' {
		j++
	}
	if j == i+1 {
		return 0, "the domain is empty"
	}
	return j, ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
