package dns

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	miekg "github.com/miekg/dns"

	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/trace"
)

// Defaults of a Resolver, as in resolv.conf(5).
const (
	DefaultTimeout  = 5 * time.Second
	DefaultAttempts = 2
)

// Resolver asks DNS servers the questions an MTA has: where does mail for
// this domain go (LookupMX), and at which addresses is that host
// (LookupIP). It is a stub resolver: it relies on its servers to know or
// to recurse, and follows CNAME chains itself. The zero value is not
// usable: set Net and Servers. A Resolver may be used by many goroutines
// at once.
type Resolver struct {
	// Net is the network to ask on: a netsim host, or netx.Real.
	Net netx.Network
	// Servers are the servers to ask, "192.0.2.53:53", in order.
	Servers []string
	// Timeout is how long to wait for one answer from one server, on the
	// network's clock (a virtual clock in the simulation); 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Attempts is how many rounds over Servers to make before giving
	// up; 0 means DefaultAttempts.
	Attempts int
	// UDPSize is the EDNS0 payload size to advertise (RFC 6891 §6.2.3),
	// e.g. 1232. 0 sends no EDNS0: answers over 512 bytes come truncated
	// and are asked again over TCP, which is easy to watch.
	UDPSize uint16
	// Trace, when set, receives a dns event for every query, answer and
	// error.
	Trace *trace.Recorder
	// Host is the name of the asking host in the trace.
	Host string
	// ServerNames names servers in the trace: address ("192.0.2.53:53")
	// or IP → host name ("ns.example"). Without a name a server shows as
	// the host part of its address.
	ServerNames map[string]string
}

// Target is one host to try to deliver to, from an MX record or the
// implicit MX.
type Target struct {
	Host     string       // the exchanger's name, without the final dot
	Pref     uint16       // its preference: lower is tried first
	Addrs    []netip.Addr // A addresses, then AAAA
	Implicit bool         // no MX records: the domain's own address (RFC 5321 §5.1)
}

func (t Target) String() string {
	s := fmt.Sprintf("%d %s %v", t.Pref, t.Host, t.Addrs)
	if t.Implicit {
		s += " (implicit MX)"
	}
	return s
}

// Error is a failed lookup. Temporary failures (no answer, SERVFAIL,
// REFUSED) leave a message in the queue to be tried again; permanent
// ones (the domain does not exist, accepts no mail, has no address)
// bounce it.
type Error struct {
	Name      string // the name looked up, fully qualified
	Type      string // the lookup: "MX", "A", "AAAA", "A/AAAA"
	Reason    string // what went wrong, for a person
	Server    string // the server that said so, if one did
	Temporary bool
	NotFound  bool  // NXDOMAIN, or no records where some are needed
	NullMX    bool  // the domain publishes that it accepts no mail (RFC 7505)
	Timeout   bool  // no server answered in time
	Err       error // the underlying error, if any
}

func (e *Error) Error() string {
	s := "dns: " + e.Name
	if e.Type != "" {
		s += " " + e.Type
	}
	s += ": " + e.Reason
	if e.Temporary {
		s += " (temporary failure)"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether trying again later would not help.
func (e *Error) Permanent() bool { return !e.Temporary }

// IsPermanent reports whether err is a DNS failure that will not go away
// by waiting: the message bounces.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.Temporary
}

// IsTemporary reports whether err is a failure to try again later. Any
// error that is not a permanent *Error counts as temporary: a mail queue
// would rather retry than bounce on an error it does not understand.
func IsTemporary(err error) bool {
	return err != nil && !IsPermanent(err)
}

func (r *Resolver) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultTimeout
}

func (r *Resolver) attempts() int {
	if r.Attempts > 0 {
		return r.Attempts
	}
	return DefaultAttempts
}

// LookupMX returns the hosts to try for mail to domain, in the order RFC
// 5321 §5.1 says: MX records sorted by preference (ties by name, where the
// RFC would shuffle: a simulation must be reproducible), each with its
// addresses; exchangers whose addresses cannot be found are left out. A
// domain with no MX records is its own exchanger: one Target with
// Implicit set. The error is an *Error: permanent for a domain that does
// not exist, publishes a null MX (RFC 7505) or has nowhere to deliver to;
// temporary when the servers cannot say.
//
// An MTA must also skip exchangers of a preference equal to or higher
// than its own when it is one of them (RFC 5321 §5.1); that is the
// caller's part, as it knows its name.
func (r *Resolver) LookupMX(ctx context.Context, domain string) ([]Target, error) {
	rrs, final, err := r.follow(ctx, domain, miekg.TypeMX)
	if err != nil {
		return nil, err
	}
	name := miekg.Fqdn(domain)
	if len(rrs) == 0 {
		// RFC 5321 §5.1: "If an empty list of MXs is returned, the
		// address is treated as if it was associated with an implicit
		// MX RR, with a preference of 0, pointing to that host." A CNAME
		// on the way counts: "the resulting name is processed as if it
		// were the initial name".
		addrs, err := r.LookupIP(ctx, final)
		if err != nil {
			if IsPermanent(err) {
				return nil, &Error{Name: name, Type: "MX", NotFound: true, Err: err,
					Reason: "no MX records and no address: the domain has no mail server (RFC 5321 §5.1)"}
			}
			return nil, err
		}
		return []Target{{Host: trimDot(final), Addrs: addrs, Implicit: true}}, nil
	}

	mxs := make([]*miekg.MX, 0, len(rrs))
	for _, rr := range rrs {
		mxs = append(mxs, rr.(*miekg.MX))
	}
	// RFC 7505 §3: a single MX of "." says the domain accepts no mail.
	// §3 also forbids mixing it with other MX records; if a domain does,
	// the "." is no host to deliver to and the others stand.
	if len(mxs) == 1 && mxs[0].Mx == "." {
		return nil, &Error{Name: name, Type: "MX", NullMX: true,
			Reason: "the domain accepts no mail (null MX, RFC 7505)"}
	}
	mxs = slices.DeleteFunc(mxs, func(mx *miekg.MX) bool { return mx.Mx == "." })
	slices.SortFunc(mxs, func(a, b *miekg.MX) int {
		return cmp.Or(cmp.Compare(a.Preference, b.Preference),
			strings.Compare(miekg.CanonicalName(a.Mx), miekg.CanonicalName(b.Mx)))
	})
	seen := map[string]bool{} // a host under two preferences is tried once, at the first

	var targets []Target
	var temp error
	for _, mx := range mxs {
		key := miekg.CanonicalName(mx.Mx)
		if seen[key] {
			continue
		}
		seen[key] = true
		addrs, err := r.LookupIP(ctx, mx.Mx)
		if err != nil {
			if !IsPermanent(err) && temp == nil {
				temp = err
			}
			if ctx.Err() != nil {
				return nil, err
			}
			continue
		}
		targets = append(targets, Target{Host: trimDot(mx.Mx), Pref: mx.Preference, Addrs: addrs})
	}
	if len(targets) == 0 {
		// RFC 5321 §5.1: MX records, none usable: an error.
		if temp != nil {
			return nil, temp
		}
		return nil, &Error{Name: name, Type: "MX", NotFound: true,
			Reason: "no mail exchanger of the domain has an address"}
	}
	return targets, nil
}

// LookupIP returns the addresses of host: its A records, then its AAAA
// records, following CNAMEs. An IP address (or an address literal in
// brackets) is returned as it is. The error is an *Error.
func (r *Resolver) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	a, _, errA := r.follow(ctx, host, miekg.TypeA)
	var e *Error
	if errA != nil && (errors.As(errA, &e) && e.NotFound || ctx.Err() != nil) {
		return nil, errA // no such name: no use asking for AAAA
	}
	aaaa, _, errAAAA := r.follow(ctx, host, miekg.TypeAAAA)
	addrs := make([]netip.Addr, 0, len(a)+len(aaaa))
	for _, rr := range append(a, aaaa...) {
		var ip net.IP
		switch rr := rr.(type) {
		case *miekg.A:
			ip = rr.A
		case *miekg.AAAA:
			ip = rr.AAAA
		}
		if addr, ok := netip.AddrFromSlice(ip); ok && !slices.Contains(addrs, addr.Unmap()) {
			addrs = append(addrs, addr.Unmap())
		}
	}
	switch {
	case len(addrs) > 0:
		return addrs, nil
	case errA != nil:
		return nil, errA
	case errAAAA != nil:
		return nil, errAAAA
	}
	return nil, &Error{Name: miekg.Fqdn(host), Type: "A/AAAA", NotFound: true,
		Reason: "the name has no address (no A or AAAA records)"}
}

// follow asks for name's records of type qtype and follows the CNAME chain
// to them (RFC 1034 §3.6.2), asking again when a server gave an alias but
// not what it points to (a name outside its zones). It returns the records
// at the end of the chain and that name; no records and no error is
// NODATA.
func (r *Resolver) follow(ctx context.Context, name string, qtype uint16) ([]miekg.RR, string, error) {
	cur := miekg.Fqdn(name)
	seen := map[string]bool{miekg.CanonicalName(cur): true}
	for range maxChain {
		resp, err := r.Exchange(ctx, cur, qtype)
		if err != nil {
			return nil, cur, err
		}
		asked := cur
		var rrs []miekg.RR
		for {
			if rrs = rrsAt(resp.Answer, cur, qtype); len(rrs) > 0 || qtype == miekg.TypeCNAME {
				break
			}
			target, ok := cnameAt(resp.Answer, cur)
			if !ok {
				break
			}
			key := miekg.CanonicalName(target)
			if seen[key] {
				return nil, cur, &Error{Name: miekg.Fqdn(name), Type: miekg.Type(qtype).String(), Temporary: true,
					Reason: "CNAME loop at " + target}
			}
			seen[key] = true
			cur = target
		}
		switch {
		case len(rrs) > 0:
			return rrs, cur, nil
		case resp.Rcode == miekg.RcodeNameError:
			reason := "no such domain (NXDOMAIN)"
			if !strings.EqualFold(cur, miekg.Fqdn(name)) {
				reason = "the alias points to " + cur + ", which does not exist (NXDOMAIN)"
			}
			return nil, cur, &Error{Name: miekg.Fqdn(name), Type: miekg.Type(qtype).String(), NotFound: true, Reason: reason}
		case cur == asked && isReferral(resp):
			return nil, cur, &Error{Name: miekg.Fqdn(name), Type: miekg.Type(qtype).String(), Temporary: true,
				Reason: "the server refers to other servers for " + resp.Ns[0].Header().Name + " and this resolver does not recurse"}
		case cur == asked || negativeCovers(resp, cur):
			return nil, cur, nil // NODATA (RFC 2308 §2.2)
		}
		// The chain leaves what the server knows: ask about its end.
	}
	return nil, cur, &Error{Name: miekg.Fqdn(name), Type: miekg.Type(qtype).String(), Temporary: true,
		Reason: fmt.Sprintf("CNAME chain longer than %d links", maxChain)}
}

func rrsAt(rrs []miekg.RR, owner string, qtype uint16) []miekg.RR {
	var out []miekg.RR
	for _, rr := range rrs {
		if h := rr.Header(); h.Rrtype == qtype && strings.EqualFold(h.Name, owner) {
			out = append(out, rr)
		}
	}
	return out
}

func cnameAt(rrs []miekg.RR, owner string) (string, bool) {
	for _, rr := range rrs {
		if cn, ok := rr.(*miekg.CNAME); ok && strings.EqualFold(cn.Hdr.Name, owner) {
			return cn.Target, true
		}
	}
	return "", false
}

// isReferral tells a delegation (NS records, no SOA, no answer, not
// authoritative) from a negative answer.
func isReferral(m *miekg.Msg) bool {
	return len(m.Answer) == 0 && !m.Authoritative && hasType(m.Ns, miekg.TypeNS) && !hasType(m.Ns, miekg.TypeSOA)
}

// negativeCovers reports whether m holds the SOA of a zone that name is in:
// the server knows the name and says it has no such data.
func negativeCovers(m *miekg.Msg, name string) bool {
	for _, rr := range m.Ns {
		if rr.Header().Rrtype == miekg.TypeSOA && miekg.IsSubDomain(miekg.CanonicalName(rr.Header().Name), miekg.CanonicalName(name)) {
			return true
		}
	}
	return false
}

func trimDot(s string) string {
	if len(s) > 1 {
		return strings.TrimSuffix(s, ".")
	}
	return s
}

// Exchange asks the servers one question and returns the first answer
// that says something about the name: NOERROR (maybe with no records) or
// NXDOMAIN. Each server in turn gets Timeout to answer, over UDP first
// and over TCP when the answer comes truncated (RFC 1035 §4.2.1, RFC 7766
// §5); SERVFAIL, REFUSED and other errors pass to the next server, and the
// round repeats Attempts times. When no server answers usefully the error
// is a temporary *Error about the last try. CNAMEs are not followed.
func (r *Resolver) Exchange(ctx context.Context, name string, qtype uint16) (*miekg.Msg, error) {
	fq := miekg.Fqdn(name)
	typ := miekg.Type(qtype).String()
	if _, ok := miekg.IsDomainName(fq); !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
		return nil, &Error{Name: name, Type: typ, Reason: "not a valid domain name"}
	}
	if r.Net == nil || len(r.Servers) == 0 {
		return nil, &Error{Name: fq, Type: typ, Temporary: true, Reason: "no DNS server configured"}
	}
	q := &miekg.Msg{MsgHdr: miekg.MsgHdr{RecursionDesired: true},
		Question: []miekg.Question{{Name: fq, Qtype: qtype, Qclass: miekg.ClassINET}}}
	if r.UDPSize > 0 {
		q.SetEdns0(max(r.UDPSize, miekg.MinMsgSize), false)
	}
	var last *Error
	for range r.attempts() {
		for _, srv := range r.Servers {
			if err := ctx.Err(); err != nil {
				return nil, &Error{Name: fq, Type: typ, Temporary: true, Err: err, Reason: "lookup abandoned: " + err.Error()}
			}
			q.Id = queryID() // a fresh id for every try (RFC 5452 §9.2)
			resp, err := r.ask(ctx, srv, q)
			if err == nil {
				return resp, nil
			}
			last = err
		}
	}
	return nil, last
}

// ask puts q to one server: UDP, then TCP if truncated.
func (r *Resolver) ask(ctx context.Context, srv string, q *miekg.Msg) (*miekg.Msg, *Error) {
	peer := r.peerName(srv)
	fail := func(reason string, err error) *Error {
		e := &Error{Name: q.Question[0].Name, Type: miekg.Type(q.Question[0].Qtype).String(),
			Server: peer, Temporary: true, Reason: reason, Err: err}
		var ne net.Error
		e.Timeout = errors.As(err, &ne) && ne.Timeout()
		return e
	}
	resp, err := r.roundTrip(ctx, "udp", srv, peer, q)
	if err == nil && resp.Rcode == miekg.RcodeFormatError && q.IsEdns0() != nil {
		// RFC 6891 §7: a server that knows no EDNS0 may answer
		// FORMERR; ask again without it.
		plain := q.Copy()
		plain.Extra = nil
		resp, err = r.roundTrip(ctx, "udp", srv, peer, plain)
	}
	if err == nil && resp.Truncated {
		// RFC 1035 §4.2.1, RFC 7766 §5: the whole answer over TCP.
		resp, err = r.roundTrip(ctx, "tcp", srv, peer, q)
	}
	if err != nil {
		return nil, fail(r.errorText(err, peer), err)
	}
	switch resp.Rcode {
	case miekg.RcodeSuccess, miekg.RcodeNameError:
		return resp, nil
	}
	return nil, fail(rcodeName(resp.Rcode)+" from "+peer, nil)
}

// roundTrip sends q to srv over network and reads the answer, reporting
// both to the trace.
func (r *Resolver) roundTrip(ctx context.Context, network, srv, peer string, q *miekg.Msg) (*miekg.Msg, error) {
	port := 0
	if _, p, err := net.SplitHostPort(srv); err == nil {
		port, _ = strconv.Atoi(p)
	}
	text := questionText(q.Question[0])
	if network == "tcp" {
		text += " (TCP)"
	}
	r.emit(ctx, trace.Event{Action: "query", Peer: peer, Port: port, Text: text})
	resp, err := r.exchangeOnce(ctx, network, srv, q)
	if err != nil {
		r.emit(ctx, trace.Event{Action: "error", Peer: peer, Port: port, Text: r.errorText(err, peer), Note: errorNote(err)})
		return nil, err
	}
	r.emit(ctx, trace.Event{Action: "answer", Peer: peer, Port: port, Text: answerText(resp),
		Records: recordsOf(resp), Note: answerNote(q, resp)})
	return resp, nil
}

func (r *Resolver) exchangeOnce(ctx context.Context, network, srv string, q *miekg.Msg) (*miekg.Msg, error) {
	timeout := r.timeout()
	c, err := r.dial(ctx, network, srv, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if ctx.Done() != nil {
		// Closing (not a deadline, which miekg would overwrite) ends
		// the wait as soon as ctx is done.
		defer context.AfterFunc(ctx, func() { c.Close() })()
	}
	client := miekg.Client{Net: network, Timeout: timeout}
	// ExchangeWithConn frames the message for UDP when c is a
	// net.PacketConn (netsim's and real UDP conns are) and for TCP
	// otherwise; it never dials itself.
	resp, _, err := client.ExchangeWithConnContext(ctx, q, &miekg.Conn{Conn: c})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	// RFC 5452 §9.1: an answer to another question is no answer (the
	// id was checked by miekg).
	if len(resp.Question) > 0 || resp.Rcode == miekg.RcodeSuccess {
		if len(resp.Question) != 1 || resp.Question[0].Qtype != q.Question[0].Qtype ||
			!strings.EqualFold(resp.Question[0].Name, q.Question[0].Name) {
			return nil, errMismatch
		}
	}
	return resp, nil
}

var errMismatch = errors.New("the answer is to another question")

// dial connects to a server. A TCP dial is bounded by timeout on the wall
// clock: it bounds only a real dial (the wait for the answer is the
// conn's deadline, which a netsim conn measures on the network's clock).
// A UDP dial to an address sends nothing and cannot wait.
func (r *Resolver) dial(ctx context.Context, network, srv string, timeout time.Duration) (net.Conn, error) {
	if network == "udp" {
		if _, err := netip.ParseAddrPort(srv); err == nil {
			return r.Net.DialContext(ctx, network, srv)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return r.Net.DialContext(dctx, network, srv)
}

func (r *Resolver) errorText(err error, peer string) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer from %s within %v", peer, r.timeout())
	case errors.Is(err, syscall.ECONNREFUSED):
		return peer + " refused the connection"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ENETDOWN):
		return peer + " is unreachable"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "lookup abandoned: " + err.Error()
	}
	return err.Error()
}

func (r *Resolver) peerName(srv string) string {
	if n, ok := r.ServerNames[srv]; ok {
		return n
	}
	host := hostOf(srv)
	if n, ok := r.ServerNames[host]; ok {
		return n
	}
	return host
}

func (r *Resolver) emit(ctx context.Context, e trace.Event) {
	if r.Trace == nil {
		return
	}
	e.Kind, e.Host, e.Proto, e.Msg = trace.KindDNS, r.Host, "dns", MsgFrom(ctx)
	r.Trace.Emit(e)
}

// answerNote explains an answer to a learner.
func answerNote(q, m *miekg.Msg) string {
	qtype := q.Question[0].Qtype
	switch {
	case m.Truncated:
		return "TC=1: the answer did not fit in a UDP datagram (512 bytes without EDNS0), so the resolver asks again over TCP (RFC 1035 §4.2.1, RFC 7766)"
	case m.Rcode == miekg.RcodeNameError:
		return "NXDOMAIN: the name does not exist; the SOA says how long that may be remembered (RFC 2308)"
	case m.Rcode == miekg.RcodeServerFailure:
		return "SERVFAIL: the server could not answer; a temporary failure, so mail waits in the queue and is tried again later"
	case m.Rcode == miekg.RcodeRefused:
		return "REFUSED: the server will not answer for this name (it neither holds its zone nor recurses)"
	case m.Rcode != miekg.RcodeSuccess:
		return ""
	case isReferral(m):
		return "a referral: the name is delegated to other servers, and this resolver does not recurse"
	}
	name := q.Question[0].Name
	if len(rrsAt(m.Answer, name, qtype)) == 0 && hasType(m.Answer, miekg.TypeCNAME) {
		return "an alias (CNAME): the question goes on with the name it points to (RFC 1034 §3.6.2)"
	}
	if qtype != miekg.TypeMX {
		return ""
	}
	mx := rrsAt(m.Answer, name, miekg.TypeMX)
	switch {
	case len(m.Answer) == 0:
		return "no MX records: mail goes to the domain's own address, an implicit MX (RFC 5321 §5.1)"
	case len(mx) == 1 && mx[0].(*miekg.MX).Mx == ".":
		return "a null MX: this domain accepts no mail (RFC 7505)"
	case len(mx) > 0:
		return "mail for the domain goes to these hosts, lowest preference first (RFC 5321 §5.1)"
	}
	return ""
}

func errorNote(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "no answer: a lost UDP datagram brings no error, so the resolver waits out its timeout, then tries again or asks another server"
	}
	return ""
}
