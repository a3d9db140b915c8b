package mailauth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// The limits of RFC 7208 §4.6.4.
const (
	MaxDNSTerms    = 10 // include, a, mx, ptr, exists and redirect, all told
	MaxVoidLookups = 2  // lookups that find nothing (NXDOMAIN or no records)
	maxMXNames     = 10 // MX records an mx mechanism looks at
	maxPTRNames    = 10 // PTR names a ptr mechanism or %{p} looks at
	maxSPFDepth    = MaxDNSTerms + 1
)

// SPFQuery is what a receiving SMTP server knows when it checks SPF.
type SPFQuery struct {
	IP       netip.Addr // the SMTP client's address
	Helo     string     // the name it gave in EHLO or HELO
	MailFrom string     // the reverse-path of MAIL FROM without <>; "" for the null sender
	Receiver string     // the checking host's name, for %{r}; "" is "unknown"
	Now      time.Time  // for %{t}; zero means time.Now()
}

// SPFResult is the outcome of an SPF check, with what a learner needs to
// see why.
type SPFResult struct {
	Result      Result
	Identity    string   // "mailfrom" or "helo": which identity was checked (RFC 7208 §2.3, §2.4)
	Sender      string   // the address checked: the MAIL FROM address, or postmaster@ the HELO name
	Domain      string   // the domain checked (the one DMARC aligns with)
	Decided     string   // the domain whose record gave the result (another after redirect=)
	Record      string   // that domain's SPF record
	Mechanism   string   // the term that matched, "-all" or "include:_spf.example.org"
	Explanation string   // the exp= text of a fail, macros expanded (RFC 7208 §6.2)
	Reason      string   // the result in plain English
	Lookups     []Lookup // every DNS question asked, in order
	DNSTerms    int      // DNS-querying terms evaluated (at most MaxDNSTerms)
	VoidLookups int      // lookups that found nothing
}

// CheckSPF checks the MAIL FROM identity (RFC 7208 §2.4): the domain of
// q.MailFrom, or, for the null reverse-path of a bounce, the HELO name as
// postmaster@helo.
func CheckSPF(ctx context.Context, r Resolver, q SPFQuery) *SPFResult {
	sender := q.MailFrom
	if sender == "" {
		sender = "postmaster@" + q.Helo
	}
	domain := sender
	if i := strings.LastIndexByte(sender, '@'); i >= 0 {
		domain = sender[i+1:]
	}
	res := CheckHost(ctx, r, q, domain, sender)
	res.Identity = "mailfrom"
	return res
}

// CheckHelo checks the HELO identity (RFC 7208 §2.3): may this address
// use the name it gave in EHLO?
func CheckHelo(ctx context.Context, r Resolver, q SPFQuery) *SPFResult {
	res := CheckHost(ctx, r, q, q.Helo, "postmaster@"+q.Helo)
	res.Identity = "helo"
	return res
}

// CheckHost is the check_host() function of RFC 7208 §4: may q.IP send
// mail for domain, with sender as the MAIL FROM address? A sender without
// a local-part gets "postmaster" (§4.3). Its result is never nil.
func CheckHost(ctx context.Context, r Resolver, q SPFQuery, domain, sender string) *SPFResult {
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	q.IP = q.IP.Unmap()
	domain = trimDot(domain)
	if !q.IP.IsValid() {
		return &SPFResult{Result: None, Domain: domain, Decided: domain, Sender: sender,
			Reason: "no client IP address was given, so there is nothing to check"}
	}
	local, senderDomain := "postmaster", domain
	if i := strings.LastIndexByte(sender, '@'); i >= 0 {
		if i > 0 {
			local = sender[:i]
		}
		senderDomain = sender[i+1:]
	}
	c := &spfCheck{r: record(r), q: q, sender: local + "@" + senderDomain, local: local, senderDomain: senderDomain}
	res := c.checkHost(ctx, domain, 0)
	res.Sender = c.sender
	res.Domain = domain
	res.Lookups = c.r.lookups()
	res.DNSTerms, res.VoidLookups = c.terms, c.voids
	return res
}

type spfCheck struct {
	r            *recorder
	q            SPFQuery
	sender       string
	local        string
	senderDomain string
	terms        int // DNS-querying terms so far
	voids        int // void lookups so far
	ptrName      string
	ptrDone      bool
}

func (c *spfCheck) env(domain string) *macroEnv {
	return &macroEnv{
		sender: c.sender, local: c.local, domainOf: c.senderDomain, domain: domain,
		ip: c.q.IP, helo: c.q.Helo, receiver: c.q.Receiver, now: c.q.Now,
	}
}

func stop(result Result, domain, format string, a ...any) *SPFResult {
	return &SPFResult{Result: result, Decided: domain, Reason: fmt.Sprintf(format, a...)}
}

// checkHost evaluates domain's record (RFC 7208 §4.4 to §4.7).
func (c *spfCheck) checkHost(ctx context.Context, domain string, depth int) *SPFResult {
	if depth > maxSPFDepth {
		return stop(PermError, domain, "SPF records include or redirect to each other more than %d deep", maxSPFDepth)
	}
	if !validDomain(domain) {
		return stop(None, domain, "%q is not a valid domain name, so it has no SPF record (RFC 7208 §4.3)", domain)
	}
	txts, err := c.r.LookupTXT(ctx, domain)
	if err != nil && !IsNotFound(err) {
		return stop(TempError, domain, "the DNS lookup of %s's TXT records failed (%s); the check may work later (RFC 7208 §4.4)", domain, dnsErrText(err))
	}
	var spf []string
	for _, t := range txts {
		if IsSPFRecord(t) {
			spf = append(spf, t)
		}
	}
	switch len(spf) {
	case 0:
		return stop(None, domain, "%s publishes no SPF record (no TXT record starting with v=spf1)", domain)
	case 1:
	default:
		return stop(PermError, domain, "%s publishes %d SPF records; there must be only one (RFC 7208 §4.5)", domain, len(spf))
	}
	rec, err := ParseSPF(spf[0])
	if err != nil {
		res := stop(PermError, domain, "%s's SPF record is malformed: %v (RFC 7208 §4.6)", domain, err)
		res.Record = spf[0]
		return res
	}
	env := c.env(domain)
	env.ptr = func() string { return c.validatedPTR(ctx, domain) }
	ip := c.q.IP.String()
	for _, t := range rec.Terms {
		if ctx.Err() != nil {
			return stop(TempError, domain, "the SPF check ran out of time (%v)", ctx.Err())
		}
		matched, failed := c.match(ctx, t, env, depth)
		if failed != nil {
			if failed.Record == "" {
				failed.Record = spf[0]
			}
			return failed
		}
		if !matched {
			continue
		}
		res := &SPFResult{Result: t.Result(), Decided: domain, Record: spf[0], Mechanism: t.Text}
		res.Reason = matchReason(ip, domain, t)
		if res.Result == Fail && rec.Exp != "" {
			res.Explanation = c.explain(ctx, rec.Exp, env)
		}
		return res
	}
	if rec.Redirect != "" {
		if res := c.count(domain, "redirect="+rec.Redirect); res != nil {
			return res
		}
		target, err := env.expandDomain(rec.Redirect)
		if err != nil {
			return stop(PermError, domain, "redirect=%s of %s: %v", rec.Redirect, domain, err)
		}
		sub := c.checkHost(ctx, target, depth+1)
		if sub.Result == None {
			return stop(PermError, domain, "%s's SPF record redirects to %s, which has no SPF record (RFC 7208 §6.1): %s", domain, target, sub.Reason)
		}
		sub.Reason = fmt.Sprintf("%s's SPF record redirects to %s: %s", domain, target, sub.Reason)
		return sub
	}
	return &SPFResult{Result: Neutral, Decided: domain, Record: spf[0],
		Reason: fmt.Sprintf("no term of %s's SPF record matches %s and it has no redirect=, so the result is neutral (RFC 7208 §4.7)", domain, ip)}
}

func matchReason(ip, domain string, t SPFTerm) string {
	if t.Mechanism == "all" {
		switch t.Result() {
		case Pass:
			return fmt.Sprintf("%s's SPF record ends in %s: any host may send its mail, %s too", domain, t.Text, ip)
		case Fail:
			return fmt.Sprintf("%s is not in %s's SPF record, which ends in %s", ip, domain, t.Text)
		case SoftFail:
			return fmt.Sprintf("%s is not in %s's SPF record, which ends in %s: probably not allowed, but do not reject on it", ip, domain, t.Text)
		default:
			return fmt.Sprintf("%s is not in %s's SPF record, which ends in %s: the domain makes no claim about other hosts", ip, domain, t.Text)
		}
	}
	switch t.Result() {
	case Pass:
		return fmt.Sprintf("%s is allowed by %s's SPF record: it matches %s", ip, domain, t.Text)
	case Fail:
		return fmt.Sprintf("%s matches %s in %s's SPF record, which forbids it", ip, t.Text, domain)
	case SoftFail:
		return fmt.Sprintf("%s matches %s in %s's SPF record: probably not allowed, but do not reject on it", ip, t.Text, domain)
	default:
		return fmt.Sprintf("%s matches %s in %s's SPF record, which makes no claim about it", ip, t.Text, domain)
	}
}

// count counts a DNS-querying term against the limit of 10.
func (c *spfCheck) count(domain, term string) *SPFResult {
	c.terms++
	if c.terms > MaxDNSTerms {
		return stop(PermError, domain, "%s in %s's SPF record would be DNS-querying term number %d; the limit is %d (include, a, mx, ptr, exists and redirect, counted over all included records; RFC 7208 §4.6.4)",
			term, domain, c.terms, MaxDNSTerms)
	}
	return nil
}

// void counts a lookup that found nothing against the limit of 2.
func (c *spfCheck) void(domain, term string) *SPFResult {
	c.voids++
	if c.voids > MaxVoidLookups {
		return stop(PermError, domain, "%s in %s's SPF record is lookup number %d that found nothing; the limit is %d (RFC 7208 §4.6.4)",
			term, domain, c.voids, MaxVoidLookups)
	}
	return nil
}

// match evaluates one mechanism (RFC 7208 §5). A non-nil result ends the
// evaluation: an error, or a limit exceeded.
func (c *spfCheck) match(ctx context.Context, t SPFTerm, env *macroEnv, depth int) (bool, *SPFResult) {
	domain := env.domain
	if t.queries() {
		if res := c.count(domain, t.Text); res != nil {
			return false, res
		}
	}
	target := domain
	if t.Domain != "" {
		var err error
		if target, err = env.expandDomain(t.Domain); err != nil {
			return false, stop(PermError, domain, "%s in %s's SPF record: %v", t.Text, domain, err)
		}
	}
	ip := c.q.IP
	network, bits := "ip4", t.CIDR4
	if !ip.Is4() {
		network, bits = "ip6", t.CIDR6
	}
	lookupFailed := func(what string, err error) (bool, *SPFResult) {
		return false, stop(TempError, domain, "%s in %s's SPF record: the DNS lookup of %s failed (%s); the check may work later", t.Text, domain, what, dnsErrText(err))
	}
	inNet := func(addrs []netip.Addr) bool {
		for _, a := range addrs {
			a = a.Unmap()
			if a.Is4() != ip.Is4() {
				continue
			}
			if p, err := a.Prefix(bits); err == nil && p.Contains(ip) {
				return true
			}
		}
		return false
	}

	switch t.Mechanism {
	case "all":
		return true, nil

	case "include":
		sub := c.checkHost(ctx, target, depth+1)
		switch sub.Result {
		case Pass:
			return true, nil
		case Fail, SoftFail, Neutral:
			return false, nil
		case None:
			return false, stop(PermError, domain, "%s's SPF record includes %s, which has no SPF record (RFC 7208 §5.2): %s", domain, target, sub.Reason)
		default: // temperror, permerror
			if !strings.HasPrefix(sub.Reason, "in ") {
				sub.Reason = fmt.Sprintf("in %s (included by %s): %s", target, domain, sub.Reason)
			}
			return false, sub
		}

	case "a":
		addrs, err := c.r.LookupNetIP(ctx, network, target)
		if err != nil && !IsNotFound(err) {
			return lookupFailed(target+" "+addrType(network), err)
		}
		if len(addrs) == 0 {
			return false, c.void(domain, t.Text)
		}
		return inNet(addrs), nil

	case "mx":
		mxs, err := c.r.LookupMX(ctx, target)
		if err != nil && !IsNotFound(err) {
			return lookupFailed(target+" MX", err)
		}
		var hosts []string
		for _, mx := range mxs {
			if mx != nil && trimDot(mx.Host) != "" {
				hosts = append(hosts, mx.Host)
			}
		}
		if len(hosts) == 0 {
			return false, c.void(domain, t.Text)
		}
		if len(hosts) > maxMXNames {
			return false, stop(PermError, domain, "%s in %s's SPF record: %s has %d MX records; SPF looks up the addresses of at most %d (RFC 7208 §4.6.4)",
				t.Text, domain, target, len(hosts), maxMXNames)
		}
		for _, h := range hosts {
			addrs, err := c.r.LookupNetIP(ctx, network, h)
			if err != nil && !IsNotFound(err) {
				return lookupFailed(trimDot(h), err)
			}
			if inNet(addrs) {
				return true, nil
			}
		}
		return false, nil

	case "ptr":
		names, err := validatedNames(ctx, c.r, ip)
		if err != nil {
			// RFC 7208 §5.5: a DNS error on the PTR lookup is no match.
			if IsNotFound(err) {
				return false, c.void(domain, t.Text)
			}
			return false, nil
		}
		for _, n := range names {
			if strings.EqualFold(n, target) || hasSuffixFold(n, "."+target) {
				return true, nil
			}
		}
		return false, nil

	case "ip4", "ip6":
		return t.Net.Contains(ip), nil

	case "exists":
		// Always an A lookup, whatever the client's address (§5.7).
		addrs, err := c.r.LookupNetIP(ctx, "ip4", target)
		if err != nil && !IsNotFound(err) {
			return lookupFailed(target+" A", err)
		}
		if len(addrs) == 0 {
			return false, c.void(domain, t.Text)
		}
		return true, nil
	}
	return false, stop(PermError, domain, "unknown mechanism %s", t.Text)
}

// explain fetches and expands the exp= text; any trouble means no
// explanation (RFC 7208 §6.2).
func (c *spfCheck) explain(ctx context.Context, spec string, env *macroEnv) string {
	name, err := env.expandDomain(spec)
	if err != nil || !validDomain(name) {
		return ""
	}
	txts, err := c.r.LookupTXT(ctx, name)
	if err != nil || len(txts) != 1 {
		return ""
	}
	parts, err := parseMacros(txts[0], true)
	if err != nil {
		return ""
	}
	s := env.expand(parts)
	if len(s) > 1024 {
		s = s[:1024]
	}
	return s
}

// validatedPTR is the %{p} macro: a validated name of the client's
// address, preferring domain itself, then a name under it (RFC 7208
// §7.3). It is looked up once per check.
func (c *spfCheck) validatedPTR(ctx context.Context, domain string) string {
	if !c.ptrDone {
		c.ptrDone = true
		names, _ := validatedNames(ctx, c.r, c.q.IP)
		c.ptrName = "unknown"
		best := 3
		for _, n := range names {
			rank := 2
			switch {
			case strings.EqualFold(n, domain):
				rank = 0
			case hasSuffixFold(n, "."+domain):
				rank = 1
			}
			if rank < best {
				best, c.ptrName = rank, n
			}
		}
	}
	return c.ptrName
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// validDomain checks what RFC 7208 §4.3 asks of a domain: at least two
// labels, none empty or longer than 63 bytes, 253 bytes at most, and no
// spaces or control characters.
func validDomain(d string) bool {
	d = trimDot(d)
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for l := range strings.SplitSeq(d, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	for i := 0; i < len(d); i++ {
		if d[i] <= ' ' || d[i] >= 0x7f {
			return false
		}
	}
	return true
}
