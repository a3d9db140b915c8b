package mailauth

import (
	"strings"
)

// ARProp is one property of a result in Authentication-Results (RFC 8601
// §2.3): smtp.mailfrom=example.org is Type "smtp", Property "mailfrom".
type ARProp struct {
	Type, Property, Value string
}

// ARMethod is one method's result in Authentication-Results (RFC 8601
// §2.2, "resinfo"): "dkim=pass header.d=example.org".
type ARMethod struct {
	Method string // spf, dkim, dmarc
	Result Result
	Reason string // an optional reason="…"
	Props  []ARProp
}

// AuthResults is an Authentication-Results header field (RFC 8601): what
// the receiving server (ServID, its host name) found out about a
// message, for the MDA, filters and the reader's program downstream.
type AuthResults struct {
	ServID  string
	Methods []ARMethod
}

// NewAuthResults gathers the results of the checks; nil and empty ones
// are left out.
func NewAuthResults(servID string, spf *SPFResult, dkim []DKIMResult, dmarc *DMARCResult) AuthResults {
	a := AuthResults{ServID: servID}
	if spf != nil {
		a.Methods = append(a.Methods, spf.ARMethod())
	}
	for i := range dkim {
		a.Methods = append(a.Methods, dkim[i].ARMethod())
	}
	if dmarc != nil {
		a.Methods = append(a.Methods, dmarc.ARMethod())
	}
	return a
}

// ARMethod is the SPF result as RFC 7208 §9.2 and RFC 8601 §2.7.2 write
// it: spf=pass smtp.mailfrom=example.org (smtp.helo for a HELO check).
func (r *SPFResult) ARMethod() ARMethod {
	m := ARMethod{Method: "spf", Result: r.Result}
	if r.Domain != "" {
		prop := "mailfrom"
		if r.Identity == "helo" {
			prop = "helo"
		}
		m.Props = append(m.Props, ARProp{"smtp", prop, r.Domain})
	}
	return m
}

// ARMethod is the signature's result as RFC 8601 §2.7.1 and RFC 6008
// write it: dkim=pass header.d=example.org header.s=sel header.b=abcd1234.
func (r *DKIMResult) ARMethod() ARMethod {
	m := ARMethod{Method: "dkim", Result: r.Result}
	if r.Domain != "" {
		m.Props = append(m.Props, ARProp{"header", "d", r.Domain})
	}
	if r.Selector != "" {
		m.Props = append(m.Props, ARProp{"header", "s", r.Selector})
	}
	if b := r.HeaderB(); b != "" {
		m.Props = append(m.Props, ARProp{"header", "b", b})
	}
	return m
}

// ARMethod is the DMARC result as RFC 7489 §11.2 writes it:
// dmarc=pass header.from=example.org.
func (r *DMARCResult) ARMethod() ARMethod {
	m := ARMethod{Method: "dmarc", Result: r.Result}
	if r.FromDomain != "" {
		m.Props = append(m.Props, ARProp{"header", "from", r.FromDomain})
	}
	return m
}

func (m ARMethod) String() string {
	var b strings.Builder
	m.writeTo(&b)
	return b.String()
}

// writeTo writes String into b, without building the parts apart.
func (m ARMethod) writeTo(b *strings.Builder) {
	b.WriteString(m.Method)
	b.WriteByte('=')
	b.WriteString(string(m.Result))
	if m.Reason != "" {
		b.WriteString(" reason=")
		b.WriteString(quoteValue(m.Reason, false))
	}
	for _, p := range m.Props {
		b.WriteByte(' ')
		b.WriteString(p.Type)
		b.WriteByte('.')
		b.WriteString(p.Property)
		b.WriteByte('=')
		b.WriteString(quoteValue(p.Value, true))
	}
}

// Value is the field's body on one line: "mx.example.net; spf=pass …", or
// "mx.example.net; none" when nothing was checked (RFC 8601 §2.2).
func (a AuthResults) Value() string {
	var b strings.Builder
	a.writeValue(&b)
	return b.String()
}

func (a AuthResults) writeValue(b *strings.Builder) {
	b.WriteString(a.ServID)
	for _, m := range a.Methods {
		b.WriteString("; ")
		m.writeTo(b)
	}
	if len(a.Methods) == 0 {
		b.WriteString("; none")
	}
}

const arName = "Authentication-Results: "

// String is the whole header field on one line, without a line break.
func (a AuthResults) String() string {
	var b strings.Builder
	b.WriteString(arName)
	a.writeValue(&b)
	return b.String()
}

// Field is the header field ready to put in a message: on one line when
// it fits in 78 characters, otherwise one method per line; it ends in
// CRLF.
func (a AuthResults) Field() string {
	var b strings.Builder
	b.Grow(160)
	b.WriteString(arName)
	a.writeValue(&b)
	if b.Len() <= 78 {
		b.WriteString("\r\n")
		return b.String()
	}
	b.Reset()
	b.Grow(160)
	b.WriteString(arName)
	b.WriteString(a.ServID)
	if len(a.Methods) == 0 {
		b.WriteString("; none")
	}
	for _, m := range a.Methods {
		b.WriteString(";\r\n\t")
		m.writeTo(&b)
	}
	b.WriteString("\r\n")
	return b.String()
}

// quoteValue writes a value as a token (RFC 2045) when it can be one,
// otherwise as a quoted-string (RFC 5322 §3.2.4). A property value may
// also be an address or domain (RFC 8601 §2.2), so '@' passes there.
func quoteValue(v string, prop bool) string {
	token := v != ""
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>,;:\"/[]?=`, c) >= 0 || c == '@' && !prop {
			token = false
			break
		}
	}
	if token {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\r' || c == '\n':
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
