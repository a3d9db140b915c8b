package mailauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// DefaultSignedHeaders are the header fields Sign covers when present
// (RFC 6376 §5.4.1 recommends these). From is signed once more than it
// appears ("oversigned"), so that a second From added in transit breaks
// the signature.
var DefaultSignedHeaders = []string{
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To",
	"In-Reply-To", "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
}

// SignOptions says how to sign.
type SignOptions struct {
	Domain   string        // d=: the domain that takes responsibility
	Selector string        // s=: the key's name; it is published at <selector>._domainkey.<domain>
	Key      crypto.Signer // an *rsa.PrivateKey (rsa-sha256) or ed25519.PrivateKey (ed25519-sha256)
	// Headers are the fields to sign, each as many times as it appears;
	// From is always signed, once more than it appears. nil means
	// DefaultSignedHeaders.
	Headers []string
	// Identity is the optional i= tag, an address at Domain or below.
	Identity string
	// Now gives the signing time (t=): with the simulation's virtual
	// clock the signature is the same on every run. nil means time.Now.
	Now func() time.Time
}

// Sign adds a DKIM-Signature to msg (RFC 6376 §5) by domain with the key
// published under selector, with relaxed/relaxed canonicalisation and
// the default header set, and returns the signed message.
func Sign(msg []byte, domain, selector string, key crypto.Signer) ([]byte, error) {
	return SignWith(msg, SignOptions{Domain: domain, Selector: selector, Key: key})
}

// SignWith is Sign with options.
func SignWith(msg []byte, o SignOptions) ([]byte, error) {
	field, err := Signature(msg, o)
	if err != nil {
		return nil, err
	}
	return append([]byte(field), msg...), nil
}

// Signature returns the DKIM-Signature header field for msg, ending in
// CRLF, to be put at the top of the message.
func Signature(msg []byte, o SignOptions) (string, error) {
	if o.Domain == "" || o.Selector == "" || o.Key == nil {
		return "", errors.New("dkim: signing needs a domain, a selector and a key")
	}
	fields, body, ok := splitHeader(msg)
	if !ok {
		return "", errors.New("dkim: the message has no empty line after its header")
	}
	names := o.Headers
	if names == nil {
		names = DefaultSignedHeaders
	}
	keys := signedKeys(fields, names)
	if len(keys) == 0 || !strings.EqualFold(keys[0], "From") {
		return "", errors.New("dkim: the message has no From field to sign")
	}
	return sign(fields, body, o, keys)
}

// signedKeys lists the names for h=: From first and once more than it
// appears, then each other wanted field as often as it appears.
func signedKeys(fields []hfield, names []string) []string {
	var keys []string
	count := func(n string) int {
		c := 0
		for _, f := range fields {
			if strings.EqualFold(f.name, n) {
				c++
			}
		}
		return c
	}
	from := count("From") // signed whether names has it or not (RFC 6376 §5.4)
	if from == 0 {
		return nil
	}
	for range from + 1 {
		keys = append(keys, "From")
	}
	seen := map[string]bool{"from": true}
	for _, n := range names {
		if seen[strings.ToLower(n)] {
			continue
		}
		seen[strings.ToLower(n)] = true
		for range count(n) {
			keys = append(keys, n)
		}
	}
	return keys
}

// keyAlgorithm names the a= tag for a key.
func keyAlgorithm(key crypto.Signer) (string, error) {
	switch key.Public().(type) {
	case *rsa.PublicKey:
		return "rsa-sha256", nil
	case ed25519.PublicKey:
		return "ed25519-sha256", nil
	}
	return "", fmt.Errorf("dkim: cannot sign with a %T key", key.Public())
}

// sign makes the signature of RFC 6376 §5 with relaxed/relaxed at
// o.Now(): the body hash, then the hash of the signed header fields and
// of this field with an empty b=, signed with the key. It is made here
// rather than by go-msgauth's signer, which always signs at time.Now.
func sign(fields []hfield, body []byte, o SignOptions, keys []string) (string, error) {
	algo, err := keyAlgorithm(o.Key)
	if err != nil {
		return "", err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	bh := sha256.Sum256(canonicalBody(body, true))
	tags := [][2]string{
		{"v", "1"}, {"a", algo}, {"c", "relaxed/relaxed"}, {"d", o.Domain}, {"s", o.Selector},
		{"t", strconv.FormatInt(now().Unix(), 10)},
	}
	if o.Identity != "" {
		tags = append(tags, [2]string{"i", o.Identity})
	}
	tags = append(tags, [2]string{"h", strings.Join(keys, ":")},
		[2]string{"bh", base64.StdEncoding.EncodeToString(bh[:])})
	unsigned := formatSignature(tags, "")

	h := sha256.New()
	for _, f := range pickFields(fields, keys) {
		h.Write([]byte(relaxedHeader(f.raw)))
	}
	h.Write([]byte(strings.TrimSuffix(relaxedHeader(unsigned), "\r\n")))
	digest := h.Sum(nil)
	var sig []byte
	if algo == "ed25519-sha256" {
		// RFC 8463 §3: Ed25519 signs the SHA-256 hash as its message.
		sig, err = o.Key.Sign(rand.Reader, digest, crypto.Hash(0))
	} else {
		sig, err = o.Key.Sign(rand.Reader, digest, crypto.SHA256)
	}
	if err != nil {
		return "", fmt.Errorf("dkim: %v", err)
	}
	return formatSignature(tags, base64.StdEncoding.EncodeToString(sig)), nil
}

// formatSignature writes a DKIM-Signature field with its tags, folded
// before a line would pass 76 characters, and b= last.
func formatSignature(tags [][2]string, b string) string {
	var sb strings.Builder
	line := len("DKIM-Signature:")
	sb.WriteString("DKIM-Signature:")
	put := func(s string) {
		if line+1+len(s) > 76 {
			sb.WriteString("\r\n\t")
			line = 8
		} else {
			sb.WriteByte(' ')
			line++
		}
		sb.WriteString(s)
		line += len(s)
	}
	for _, t := range tags {
		v := t[1]
		if t[0] == "h" {
			// A long h= folds before a colon.
			names := strings.Split(v, ":")
			put("h=" + names[0])
			for _, n := range names[1:] {
				if line+1+len(n) > 76 {
					sb.WriteString("\r\n\t:" + n)
					line = 8 + 1 + len(n)
				} else {
					sb.WriteString(":" + n)
					line += 1 + len(n)
				}
			}
			sb.WriteByte(';')
			line++
			continue
		}
		put(t[0] + "=" + v + ";")
	}
	put("b=")
	for len(b) > 0 {
		n := min(len(b), max(76-line, 1))
		sb.WriteString(b[:n])
		b = b[n:]
		line += n
		if len(b) > 0 {
			sb.WriteString("\r\n\t")
			line = 8
		}
	}
	sb.WriteString("\r\n")
	return sb.String()
}

// Limits of a DKIM verification (RFC 6376 §6.1 lets a verifier set
// them).
const (
	MaxSignatures    = 8    // DKIM-Signature fields looked at
	MaxSignedHeaders = 256  // names in one h= list
	MaxHeaderFields  = 1000 // fields in the header section
)

// DKIMResult is the outcome of one DKIM-Signature.
type DKIMResult struct {
	Result     Result
	Domain     string   // d=: who signed
	Selector   string   // s=: which of its keys
	Identifier string   // i=, if given
	Algorithm  string   // a=
	Canon      string   // c=
	Headers    []string // h=: the header fields the signature covers
	BodyLength int64    // l=; -1 when absent (the whole body is covered)
	// BodyChecked says whether the body hash was compared; BodyOK
	// whether it matched.
	BodyChecked, BodyOK bool
	Signature           string // b=, without spaces
	Reason              string
	Err                 error    // go-msgauth's error, if it checked the signature
	Lookups             []Lookup // the key lookup
}

// KeyName is where the signature's key is published,
// <selector>._domainkey.<domain>; "" when s= or d= is empty.
func (r *DKIMResult) KeyName() string {
	if r.Domain == "" || r.Selector == "" {
		return ""
	}
	return DKIMRecordName(r.Selector, r.Domain)
}

// HeaderB is the first 8 characters of b=, which tell signatures apart
// in Authentication-Results (RFC 6008).
func (r *DKIMResult) HeaderB() string {
	if len(r.Signature) > 8 {
		return r.Signature[:8]
	}
	return r.Signature
}

// VerifyDKIM checks every DKIM-Signature of msg (RFC 6376 §6), fetching
// keys through r, and returns one result per signature in header order
// (none for a message without signatures). Signatures beyond
// MaxSignatures, or with more than MaxSignedHeaders names in h=, get
// "policy" without being checked; so does one with l=, as a body
// length lets anybody append to the body.
func VerifyDKIM(ctx context.Context, r Resolver, msg []byte) []DKIMResult {
	fields, body, ok := splitHeader(msg)
	var results []DKIMResult
	var sigIdx []int // index in fields of each signature
	for i, f := range fields {
		if strings.EqualFold(f.name, "DKIM-Signature") {
			sigIdx = append(sigIdx, i)
			results = append(results, DKIMResult{BodyLength: -1})
		}
	}
	if len(results) == 0 {
		return nil
	}
	rec := record(r)
	// What this package decides itself; the rest goes to go-msgauth.
	decided := make([]bool, len(results))
	hidden := map[int]bool{} // fields go-msgauth must not see
	for n, i := range sigIdx {
		res := &results[n]
		switch {
		case !ok:
			res.Result, res.Reason = PermError, "the message has no empty line after its header, so it cannot be verified"
			decided[n] = true
			continue
		case len(fields) > MaxHeaderFields:
			res.Result, res.Reason = Policy, fmt.Sprintf("the message has %d header fields; this verifier checks messages with at most %d", len(fields), MaxHeaderFields)
			decided[n] = true
			continue
		case n >= MaxSignatures:
			res.Result, res.Reason = Policy, fmt.Sprintf("not checked: this verifier looks at the first %d signatures only", MaxSignatures)
			decided[n], hidden[i] = true, true
			continue
		}
		tags, err := parseTagList(fields[i].value())
		if err == nil {
			fillSignature(res, tags)
		}
		if reason, result := precheck(tags, err); reason != "" {
			res.Result, res.Reason, decided[n] = result, reason, true
			if strings.Count(fields[i].raw, ":") > MaxSignedHeaders {
				// A long h= costs go-msgauth time for nothing.
				hidden[i] = true
			}
			continue
		}
		if res.BodyLength >= 0 {
			lengthPolicy(res, body, tags)
			decided[n] = true
		}
	}

	var verifs []*dkim.Verification
	var verr error
	if ok && len(fields) <= MaxHeaderFields {
		input := msg
		if len(hidden) > 0 {
			input = rename(fields, body, hidden)
		}
		opts := &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
			txt, err := rec.LookupTXT(ctx, name)
			if err != nil {
				var de *net.DNSError
				if !errors.As(err, &de) {
					de = &net.DNSError{Err: err.Error(), Name: name, IsTemporary: !IsNotFound(err)}
				}
				return nil, de // go-msgauth wants a net.Error, unwrapped
			}
			return txt, nil
		}}
		verifs, verr = dkim.VerifyWithOptions(bytes.NewReader(input), opts)
	}
	// go-msgauth returns one verification per signature it saw, in order.
	k := 0
	for n, i := range sigIdx {
		if hidden[i] {
			continue
		}
		var v *dkim.Verification
		if k < len(verifs) {
			v = verifs[k]
		}
		k++
		if decided[n] {
			continue
		}
		res := &results[n]
		switch {
		case v == nil && verr != nil:
			res.Result, res.Reason = PermError, "the message could not be read: "+verr.Error()
		case v == nil:
			res.Result, res.Reason = PermError, "the signature was not checked"
		default:
			res.Err = v.Err
			explain(res, v.Err)
		}
	}
	all := rec.lookups()
	for n := range results {
		key := results[n].KeyName()
		for _, l := range all {
			if key != "" && strings.EqualFold(trimDot(l.Name), key) {
				results[n].Lookups = append(results[n].Lookups, l)
			}
		}
	}
	return results
}

// rename gives the hidden DKIM-Signature fields another name, so that
// go-msgauth passes them over.
func rename(fields []hfield, body []byte, hidden map[int]bool) []byte {
	var b bytes.Buffer
	for i, f := range fields {
		if hidden[i] {
			_, rest, _ := strings.Cut(f.raw, ":")
			b.WriteString("X-Unchecked-DKIM-Signature:" + rest)
			continue
		}
		b.WriteString(f.raw)
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// parseTagList parses a tag=value list (RFC 6376 §3.2): names are a
// letter then letters, digits or '_'; a name may not repeat; values are
// trimmed of surrounding whitespace.
func parseTagList(s string) (map[string]string, error) {
	tags := map[string]string{}
	for spec := range strings.SplitSeq(s, ";") {
		if strings.TrimSpace(spec) == "" {
			continue
		}
		name, value, ok := strings.Cut(spec, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return nil, fmt.Errorf("%q is not tag=value", strings.TrimSpace(spec))
		}
		if name == "" || !isAlpha(name[0]) {
			return nil, fmt.Errorf("%q is not a tag name", name)
		}
		for i := 1; i < len(name); i++ {
			if c := name[i]; !isAlpha(c) && (c < '0' || c > '9') && c != '_' {
				return nil, fmt.Errorf("%q is not a tag name", name)
			}
		}
		if _, dup := tags[name]; dup {
			return nil, fmt.Errorf("tag %s= appears twice", name)
		}
		value = strings.Trim(value, " \t\r\n")
		for i := 0; i < len(value); i++ {
			if c := value[i]; c != ' ' && c != '\t' && c != '\r' && c != '\n' && (c < 0x21 || c > 0x7e) {
				return nil, fmt.Errorf("tag %s= holds byte %#x", name, c)
			}
		}
		tags[name] = value
	}
	return tags, nil
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// fillSignature copies the tags a learner wants to see.
func fillSignature(res *DKIMResult, tags map[string]string) {
	res.Domain = stripSpace(tags["d"])
	res.Selector = stripSpace(tags["s"])
	res.Identifier = stripSpace(tags["i"])
	res.Algorithm = stripSpace(tags["a"])
	res.Canon = stripSpace(tags["c"])
	res.Signature = stripSpace(tags["b"])
	if h, ok := tags["h"]; ok {
		for n := range strings.SplitSeq(h, ":") {
			res.Headers = append(res.Headers, stripSpace(n))
			if len(res.Headers) > MaxSignedHeaders*4 {
				break // enough to know it is too many
			}
		}
	}
	if l, ok := tags["l"]; ok {
		res.BodyLength = -2 // malformed until parsed
		if n, err := strconv.ParseInt(stripSpace(l), 10, 64); err == nil && n >= 0 && isDigits(stripSpace(l)) {
			res.BodyLength = n
		}
	}
}

// precheck applies the checks of RFC 6376 §6.1.1 that need no key, and
// this verifier's limits. It returns "" for a signature to verify.
func precheck(tags map[string]string, err error) (string, Result) {
	if err != nil {
		return "the DKIM-Signature field is malformed: " + err.Error() + " (RFC 6376 §3.2)", PermError
	}
	if v, ok := tags["v"]; ok && stripSpace(v) != "1" {
		return fmt.Sprintf("the signature has version v=%s; only v=1 exists (RFC 6376 §3.5)", v), PermError
	}
	var missing []string
	for _, t := range []string{"v", "a", "b", "bh", "d", "h", "s"} {
		if _, ok := tags[t]; !ok {
			missing = append(missing, t+"=")
		}
	}
	if len(missing) > 0 {
		return "the signature lacks the required tag(s) " + strings.Join(missing, ", ") + " (RFC 6376 §6.1.1)", PermError
	}
	n := strings.Count(tags["h"], ":") + 1
	if n > MaxSignedHeaders {
		return fmt.Sprintf("the signature lists %d header fields in h=; this verifier checks at most %d", n, MaxSignedHeaders), Policy
	}
	from := false
	for h := range strings.SplitSeq(tags["h"], ":") {
		if strings.EqualFold(stripSpace(h), "from") {
			from = true
		}
	}
	if !from {
		return "the signature does not cover the From field, which it must (RFC 6376 §5.4)", PermError
	}
	if l, ok := tags["l"]; ok {
		s := stripSpace(l)
		if !isDigits(s) || len(s) > 76 {
			return fmt.Sprintf("l=%s is not a number of bytes (RFC 6376 §3.5)", l), PermError
		}
	}
	return "", ""
}

// lengthPolicy judges a signature with l=: it covers only the first
// bytes of the body, so text can be appended without breaking it (RFC
// 6376 §8.2). This verifier does not accept that, but says whether the
// covered part is intact.
func lengthPolicy(res *DKIMResult, body []byte, tags map[string]string) {
	res.Result = Policy
	bodyCanon := "simple"
	if _, b, ok := strings.Cut(res.Canon, "/"); ok {
		bodyCanon = b
	}
	if bodyCanon != "simple" && bodyCanon != "relaxed" || !strings.HasSuffix(res.Algorithm, "-sha256") {
		res.Reason = fmt.Sprintf("the signature covers only the first %d bytes of the body (l=%d), so anything appended would still pass; this verifier does not accept l=", res.BodyLength, res.BodyLength)
		return
	}
	canon := canonicalBody(body, bodyCanon == "relaxed")
	if res.BodyLength > int64(len(canon)) {
		res.Result = PermError
		res.Reason = fmt.Sprintf("l=%d is longer than the body (%d bytes after canonicalisation); the signature is invalid (RFC 6376 §3.5)", res.BodyLength, len(canon))
		return
	}
	sum := sha256.Sum256(canon[:res.BodyLength])
	want, err := base64.StdEncoding.DecodeString(stripSpace(tags["bh"]))
	res.BodyChecked = true
	res.BodyOK = err == nil && bytes.Equal(sum[:], want)
	tail := len(canon) - int(res.BodyLength)
	what := "the hash of those bytes matches"
	if !res.BodyOK {
		what = "and even the hash of those bytes does not match"
	}
	res.Reason = fmt.Sprintf("the signature covers only the first %d bytes of the body (l=%d; %d more bytes follow that nobody signed), %s; this verifier does not accept l=, as anything appended would still pass (RFC 6376 §8.2)",
		res.BodyLength, res.BodyLength, tail, what)
}

// explain turns go-msgauth's verdict into a result and a reason.
func explain(res *DKIMResult, err error) {
	who, key := res.Domain, res.KeyName()
	covers := coverage(res.Headers)
	if err == nil {
		res.Result, res.BodyChecked, res.BodyOK = Pass, true, true
		res.Reason = fmt.Sprintf("good signature by %s (selector %s, %s); it covers %s, and the whole body", who, res.Selector, res.Algorithm, covers)
		return
	}
	msg := strings.TrimPrefix(err.Error(), "dkim: ")
	has := func(s string) bool { return strings.Contains(msg, s) }
	switch {
	case dkim.IsTempFail(err):
		res.Result = TempError
		res.Reason = fmt.Sprintf("the lookup of the key at %s failed (%s); the check may work later", key, strings.TrimPrefix(msg, "key unavailable: "))
		return
	case has("body hash did not verify"):
		res.Result, res.BodyChecked = Fail, true
		res.Reason = fmt.Sprintf("the body hash does not match: the body was changed after %s signed it", who)
		return
	case has("signature did not verify"):
		res.Result, res.BodyChecked, res.BodyOK = Fail, true, true
		res.Reason = fmt.Sprintf("the body hash matches, but the signature over %s does not verify: one of those fields was changed in transit, or the key at %s is not the one that signed", covers, key)
		return
	case has("insecure body length"):
		res.Result = Policy
		res.Reason = "the signature has l=, which this verifier does not accept"
		return
	}
	res.Result = PermError
	switch {
	case has("no key for signature"), has("no valid key found"):
		res.Reason = fmt.Sprintf("no DKIM key at %s: the selector is unknown, or the key was withdrawn", key)
	case has("key revoked"):
		res.Reason = fmt.Sprintf("the key at %s is revoked (its p= is empty, RFC 6376 §3.6.1)", key)
	case has("multiple TXT records"):
		res.Reason = fmt.Sprintf("%s has more than one TXT record; a key must stand alone (RFC 6376 §3.6.2.2)", key)
	case has("inappropriate key algorithm"):
		res.Reason = fmt.Sprintf("the key at %s is not for a=%s", key, res.Algorithm)
	case has("key"):
		res.Reason = fmt.Sprintf("the key record at %s is unusable: %s", key, msg)
	case has("expired"):
		res.Reason = "the signature has expired (its x= is past)"
	case has("domain mismatch"):
		res.Reason = fmt.Sprintf("i=%s is not in d=%s (RFC 6376 §3.5)", res.Identifier, res.Domain)
	case has("hash algorithm"), has("malformed algorithm"):
		res.Reason = fmt.Sprintf("a=%s: %s", res.Algorithm, msg)
	default:
		res.Reason = "the signature is unusable: " + msg
	}
}

// coverage lists the signed fields for a person: "From, To and Subject".
func coverage(h []string) string {
	var names []string
	seen := map[string]bool{}
	for _, n := range h {
		if n != "" && !seen[strings.ToLower(n)] {
			seen[strings.ToLower(n)] = true
			names = append(names, n)
		}
	}
	switch len(names) {
	case 0:
		return "no header field"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
