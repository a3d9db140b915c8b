package mailauth

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	"github.com/mailhop/mailhop/sim/message"
	"golang.org/x/net/publicsuffix"
)

// Disposition is what a DMARC policy asks a receiver to do with a message
// that fails (RFC 7489 §6.3, the p= tag).
type Disposition string

// The dispositions.
const (
	DispositionNone       Disposition = "none"       // deliver as usual (monitoring only)
	DispositionQuarantine Disposition = "quarantine" // treat as suspicious: the spam folder
	DispositionReject     Disposition = "reject"     // refuse it during the SMTP transaction
)

// Alignment is how closely an authenticated domain must match the From
// domain (RFC 7489 §3.1).
type Alignment string

// The alignment modes.
const (
	Relaxed Alignment = "r" // the same organizational domain: mail.example.org aligns with example.org
	Strict  Alignment = "s" // the very same domain
)

// DMARCRecord is a parsed DMARC policy record (RFC 7489 §6.3).
type DMARCRecord struct {
	Policy          Disposition // p=
	SubdomainPolicy Disposition // sp=; Policy when absent
	Percent         int         // pct=: the share of failing mail the policy applies to, 100 by default
	DKIMAlignment   Alignment   // adkim=, relaxed by default
	SPFAlignment    Alignment   // aspf=, relaxed by default
	AggregateURIs   []string    // rua=: where aggregate reports go (parsed, not sent)
	FailureURIs     []string    // ruf=: where failure reports go (parsed, not sent)
	FailureOptions  string      // fo=, "0" by default
	ReportInterval  uint32      // ri=, 86400 seconds by default
	// Warnings lists the tags that were wrong and replaced by their
	// defaults (RFC 7489 §6.3: such errors are set aside).
	Warnings []string
}

// IsDMARCRecord reports whether a TXT record is a DMARC record: it starts
// with the tag v=DMARC1 (RFC 7489 §6.6.3 step 2).
func IsDMARCRecord(txt string) bool {
	first, _, _ := strings.Cut(txt, ";")
	name, value, ok := strings.Cut(first, "=")
	return ok && strings.TrimSpace(name) == "v" && strings.TrimSpace(value) == "DMARC1"
}

// MaxDMARCRecord bounds the length of a DMARC record this package reads.
const MaxDMARCRecord = 8 << 10

// ParseDMARC parses a DMARC record, "v=DMARC1; p=reject; rua=mailto:…".
// A record without a valid p= is still a monitoring policy (p=none) when
// it names at least one valid rua= address (RFC 7489 §6.6.3 step 6);
// otherwise it is an error, as is a broken tag list. Unknown tags are
// ignored; bad values of the other tags fall back to their defaults with
// a warning.
func ParseDMARC(s string) (*DMARCRecord, error) {
	if len(s) > MaxDMARCRecord {
		return nil, fmt.Errorf("the record is %d bytes long, more than this checker reads", len(s))
	}
	if !IsDMARCRecord(s) {
		return nil, errors.New("a DMARC record starts with v=DMARC1")
	}
	rec := &DMARCRecord{Percent: 100, DKIMAlignment: Relaxed, SPFAlignment: Relaxed, FailureOptions: "0", ReportInterval: 86400}
	tags := map[string]string{}
	for spec := range strings.SplitSeq(s, ";") {
		spec = strings.Trim(spec, " \t\r\n")
		if spec == "" {
			continue
		}
		name, value, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not tag=value", spec)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			return nil, fmt.Errorf("%q has no tag name", spec)
		}
		if _, dup := tags[name]; dup {
			return nil, fmt.Errorf("tag %s= appears twice", name)
		}
		tags[name] = strings.TrimSpace(value)
	}
	warn := func(format string, a ...any) { rec.Warnings = append(rec.Warnings, fmt.Sprintf(format, a...)) }

	if v, ok := tags["rua"]; ok {
		rec.AggregateURIs = parseURIs(v, "rua", warn)
	}
	if v, ok := tags["ruf"]; ok {
		rec.FailureURIs = parseURIs(v, "ruf", warn)
	}
	p, pOK := disposition(tags["p"])
	sp, spOK := disposition(tags["sp"])
	if _, has := tags["sp"]; !has {
		spOK = true
	}
	if !pOK || !spOK {
		what := fmt.Sprintf("p=%s", tags["p"])
		if _, has := tags["p"]; !has {
			what = "no p= tag"
		}
		if !spOK {
			what = fmt.Sprintf("sp=%s", tags["sp"])
		}
		if len(rec.AggregateURIs) == 0 {
			return nil, fmt.Errorf("%s: a DMARC record needs p=none, quarantine or reject (RFC 7489 §6.3)", what)
		}
		// RFC 7489 §6.6.3 step 6: with a report address, monitor.
		warn("%s is not a policy; with rua= given, the record counts as p=none (RFC 7489 §6.6.3)", what)
		p, sp = DispositionNone, ""
	}
	rec.Policy = p
	rec.SubdomainPolicy = p
	if sp != "" {
		rec.SubdomainPolicy = sp
	}
	if v, ok := tags["pct"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 || !isDigits(v) {
			warn("pct=%s is not a number from 0 to 100; using 100", v)
		} else {
			rec.Percent = n
		}
	}
	for _, t := range []struct {
		tag string
		to  *Alignment
	}{{"adkim", &rec.DKIMAlignment}, {"aspf", &rec.SPFAlignment}} {
		if v, ok := tags[t.tag]; ok {
			switch strings.ToLower(v) {
			case "r":
				*t.to = Relaxed
			case "s":
				*t.to = Strict
			default:
				warn("%s=%s is neither r nor s; using r", t.tag, v)
			}
		}
	}
	if v, ok := tags["fo"]; ok {
		valid := v != ""
		for o := range strings.SplitSeq(v, ":") {
			switch strings.ToLower(strings.TrimSpace(o)) {
			case "0", "1", "d", "s":
			default:
				valid = false
			}
		}
		if valid {
			rec.FailureOptions = v
		} else {
			warn("fo=%s is not a list of 0, 1, d and s; using 0", v)
		}
	}
	if v, ok := tags["ri"]; ok {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			warn("ri=%s is not a number of seconds; using 86400", v)
		} else {
			rec.ReportInterval = uint32(n)
		}
	}
	return rec, nil
}

func disposition(v string) (Disposition, bool) {
	switch strings.ToLower(v) {
	case "none":
		return DispositionNone, true
	case "quarantine":
		return DispositionQuarantine, true
	case "reject":
		return DispositionReject, true
	}
	return "", false
}

// parseURIs parses a list of report URIs (RFC 7489 §6.4): URIs separated
// by commas, each maybe with a size limit, "mailto:d@example.org!10m".
func parseURIs(v, tag string, warn func(string, ...any)) []string {
	var out []string
	for u := range strings.SplitSeq(v, ",") {
		u = strings.TrimSpace(u)
		if len(out) >= 32 {
			warn("%s= lists more than 32 addresses; the rest is ignored", tag)
			break
		}
		base := u
		if i := strings.LastIndexByte(u, '!'); i >= 0 {
			size := strings.TrimRight(strings.ToLower(u[i+1:]), "kmgt")
			if isDigits(size) {
				base = u[:i]
			}
		}
		if parsed, err := url.Parse(base); err != nil || parsed.Scheme == "" || parsed.Opaque == "" && parsed.Host == "" {
			warn("%s=%s: %q is not a URI", tag, v, u)
			continue
		}
		out = append(out, u)
	}
	return out
}

// OrganizationalDomain returns the domain a name is registered under:
// one label below its public suffix (RFC 7489 §3.2), using the Public
// Suffix List compiled into golang.org/x/net/publicsuffix: mail.example.org
// → example.org, www.example.co.uk → example.co.uk. A name that is a
// public suffix itself is its own organizational domain.
func OrganizationalDomain(domain string) string {
	d := strings.ToLower(trimDot(domain))
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// Aligned reports whether an authenticated domain aligns with the From
// domain: the same name (strict), or the same organizational domain
// (relaxed) (RFC 7489 §3.1).
func Aligned(authDomain, fromDomain string, mode Alignment) bool {
	a, f := strings.ToLower(trimDot(authDomain)), strings.ToLower(trimDot(fromDomain))
	if a == "" || f == "" {
		return false
	}
	if a == f {
		return true
	}
	return mode != Strict && OrganizationalDomain(a) == OrganizationalDomain(f)
}

// FromDomain returns the domain of a message's From address, the
// identity DMARC protects (RFC 7489 §6.6.1). A message with no From, or
// more than one From field or address, has none: an error. The header is
// read as the rest of the simulation reads it (message.ReadHeader), so
// that DMARC judges the From a mail reader shows.
func FromDomain(msg []byte) (string, error) {
	from := message.Values(msg, "From")
	switch len(from) {
	case 0:
		return "", errors.New("the message has no From field")
	case 1:
	default:
		return "", fmt.Errorf("the message has %d From fields", len(from))
	}
	addrs, err := mail.ParseAddressList(from[0])
	if err != nil {
		return "", fmt.Errorf("the From field is not an address: %v", err)
	}
	if len(addrs) != 1 {
		return "", fmt.Errorf("the From field holds %d addresses", len(addrs))
	}
	i := strings.LastIndexByte(addrs[0].Address, '@')
	if i < 0 {
		return "", errors.New("the From address has no domain")
	}
	return strings.ToLower(addrs[0].Address[i+1:]), nil
}

// DMARCInput is what a DMARC evaluation starts from: the From domain and
// the results of SPF and DKIM.
type DMARCInput struct {
	FromDomain string       // the domain of the From address (FromDomain)
	SPF        *SPFResult   // the MAIL FROM check, or nil
	DKIM       []DKIMResult // every signature's result
	// Rand decides whether a failing message falls within pct= (RFC 7489
	// §6.6.4); give a seeded one for the same answer on every run. nil
	// uses math/rand/v2's global source.
	Rand *mrand.Rand
}

// DMARCResult is the outcome of a DMARC evaluation.
type DMARCResult struct {
	Result       Result
	Disposition  Disposition  // what to do with the message: none unless the result is fail
	Policy       Disposition  // the policy that applied: p=, or sp= for a subdomain
	FromDomain   string       // the domain in From
	OrgDomain    string       // its organizational domain
	RecordDomain string       // where the record was found ("" when none)
	Record       *DMARCRecord // the record, parsed
	SPFAligned   bool         // SPF passed for a domain aligned with From
	DKIMAligned  bool         // a DKIM signature passed for a domain aligned with From
	DKIMDomain   string       // that signature's d=
	Sampled      bool         // a failing message fell within pct= and got the full policy
	Reason       string
	Lookups      []Lookup
}

// CheckDMARC evaluates DMARC (RFC 7489 §6.6): it finds the policy at
// _dmarc.<From domain>, else at _dmarc.<organizational domain>; the
// message passes when SPF or DKIM passed for a domain aligned with the
// From domain; a failing message gets the policy's disposition, or the
// next milder one when it falls outside pct=.
func CheckDMARC(ctx context.Context, r Resolver, in DMARCInput) *DMARCResult {
	rec := record(r)
	from := strings.ToLower(trimDot(in.FromDomain))
	res := &DMARCResult{FromDomain: from, OrgDomain: OrganizationalDomain(from), Disposition: DispositionNone}
	defer func() { res.Lookups = rec.lookups() }()
	if !validDomain(from) {
		res.Result, res.Reason = None, fmt.Sprintf("%q is not a domain that can publish a DMARC policy", in.FromDomain)
		return res
	}
	dr, where, failed, err := findDMARC(ctx, rec, from, res.OrgDomain)
	res.RecordDomain = where
	switch {
	case failed == TempError:
		res.Result, res.Reason = TempError, err.Error()
		return res
	case failed == PermError:
		res.Result, res.Reason = PermError, err.Error()+"; no DMARC policy applies"
		return res
	case dr == nil:
		res.Result = None
		res.Reason = fmt.Sprintf("%s publishes no DMARC policy (no record at _dmarc.%s", from, from)
		if res.OrgDomain != from {
			res.Reason += " or _dmarc." + res.OrgDomain
		}
		res.Reason += ")"
		return res
	}
	res.Record = dr
	res.Policy = dr.Policy
	if where != from {
		res.Policy = dr.SubdomainPolicy
	}

	// Alignment (RFC 7489 §3.1, §4.2).
	var notes []string
	if s := in.SPF; s != nil {
		switch {
		case s.Result != Pass:
			notes = append(notes, fmt.Sprintf("SPF did not pass (%s)", s.Result))
		case Aligned(s.Domain, from, dr.SPFAlignment):
			res.SPFAligned = true
		default:
			notes = append(notes, fmt.Sprintf("SPF passed for %s, which does not align with %s (aspf=%s)", s.Domain, from, dr.SPFAlignment))
		}
	} else {
		notes = append(notes, "SPF was not checked")
	}
	passedDKIM := false
	for _, d := range in.DKIM {
		if d.Result != Pass {
			continue
		}
		passedDKIM = true
		if Aligned(d.Domain, from, dr.DKIMAlignment) {
			res.DKIMAligned, res.DKIMDomain = true, strings.ToLower(d.Domain)
			break
		}
		notes = append(notes, fmt.Sprintf("DKIM passed for %s, which does not align with %s (adkim=%s)", d.Domain, from, dr.DKIMAlignment))
	}
	if !passedDKIM {
		notes = append(notes, "no DKIM signature passed")
	}

	switch {
	case res.DKIMAligned && res.SPFAligned:
		res.Result = Pass
		res.Reason = fmt.Sprintf("SPF and DKIM both passed for domains aligned with %s", from)
		return res
	case res.DKIMAligned:
		res.Result = Pass
		res.Reason = fmt.Sprintf("a DKIM signature by %s passed and aligns with %s", res.DKIMDomain, from)
		return res
	case res.SPFAligned:
		res.Result = Pass
		res.Reason = fmt.Sprintf("SPF passed for %s, which aligns with %s", in.SPF.Domain, from)
		return res
	}

	res.Result = Fail
	res.Disposition = res.Policy
	res.Sampled = true
	if dr.Percent < 100 && res.Policy != DispositionNone {
		var n int
		if in.Rand != nil {
			n = in.Rand.IntN(100)
		} else {
			n = mrand.IntN(100)
		}
		res.Sampled = n < dr.Percent
		if !res.Sampled {
			// RFC 7489 §6.6.4: the next milder policy.
			if res.Policy == DispositionReject {
				res.Disposition = DispositionQuarantine
			} else {
				res.Disposition = DispositionNone
			}
		}
	}
	res.Reason = fmt.Sprintf("nothing authenticated %s: %s; ", from, strings.Join(notes, "; "))
	tag := "p"
	if where != from {
		tag = "sp"
	}
	switch {
	case res.Policy == DispositionNone:
		res.Reason += fmt.Sprintf("the policy (%s=none) asks only for reports, so the message is delivered", tag)
	case res.Sampled:
		res.Reason += fmt.Sprintf("the policy %s=%s applies", tag, res.Policy)
	default:
		res.Reason += fmt.Sprintf("the policy is %s=%s, but pct=%d and this message fell outside that share, so it gets %s (RFC 7489 §6.6.4)",
			tag, res.Policy, dr.Percent, res.Disposition)
	}
	return res
}

// findDMARC is the policy discovery of RFC 7489 §6.6.3: the record and
// the domain it was found at, or no record. When the discovery fails it
// says why, with TempError (a DNS failure) or PermError.
func findDMARC(ctx context.Context, r Resolver, from, org string) (*DMARCRecord, string, Result, error) {
	names := []string{from}
	if org != from {
		names = append(names, org)
	}
	for _, d := range names {
		txts, err := r.LookupTXT(ctx, "_dmarc."+d)
		if err != nil && !IsNotFound(err) {
			return nil, d, TempError, fmt.Errorf("the DNS lookup of _dmarc.%s failed (%s); the check may work later", d, dnsErrText(err))
		}
		var recs []string
		for _, t := range txts {
			if IsDMARCRecord(t) {
				recs = append(recs, t)
			}
		}
		switch len(recs) {
		case 0:
			continue
		case 1:
		default:
			return nil, d, PermError, fmt.Errorf("_dmarc.%s has %d DMARC records; there must be one (RFC 7489 §6.6.3)", d, len(recs))
		}
		dr, err := ParseDMARC(recs[0])
		if err != nil {
			return nil, d, PermError, fmt.Errorf("the DMARC record at _dmarc.%s is malformed: %v", d, err)
		}
		return dr, d, "", nil
	}
	return nil, "", "", nil
}
