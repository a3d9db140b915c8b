package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/listen"
	"github.com/mailhop/mailhop/sim/message"
	"github.com/mailhop/mailhop/sim/trace"
)

// What the server does with each command of a mail transaction: who may
// send, to whom, and what becomes of the message.

// response is one SMTP reply: a code, an enhanced status code (RFC 3463;
// "" for none) and a text. It is an error too, for the SASL mechanisms.
type response struct {
	code int
	enh  string
	text string
}

func reply(code int, enh, text string) *response {
	return &response{code: code, enh: enh, text: text}
}

func (r *response) Error() string { return strings.TrimSuffix(r.wire(), "\r\n") }

// wire is the reply as the client reads it.
func (r *response) wire() string {
	return string(r.appendWire(make([]byte, 0, 8+len(r.enh)+len(r.text))))
}

// appendWire appends wire to b: fmt.Sprintf("%d %s %s\r\n"), without fmt
// (every reply comes here).
func (r *response) appendWire(b []byte) []byte {
	b = strconv.AppendInt(b, int64(r.code), 10)
	b = append(b, ' ')
	if r.enh != "" {
		b = append(b, r.enh...)
		b = append(b, ' ')
	}
	b = append(b, r.text...)
	return append(b, "\r\n"...)
}

var (
	errNoHello      = reply(503, "5.5.1", "Bad sequence of commands: send EHLO or HELO first")
	errAuthRequired = reply(530, "5.7.0", "Authentication required: log in with AUTH first")
	errNotOwner     = reply(550, "5.7.1", "Sender address rejected: not owned by the authenticated user")
	errRelayDenied  = reply(550, "5.7.1", "Relaying denied")
	errUserUnknown  = reply(550, "5.1.1", "Recipient address rejected: user unknown")
	errBareNewline  = reply(500, "5.5.2", "Message contains a bare CR or LF: lines must end with CRLF (RFC 5321 2.3.8)")
	errLongLine     = reply(500, "5.5.2", "Message has a line longer than 1000 octets (RFC 5321 4.5.3.1.6)")
	errNUL          = reply(554, "5.6.0", "Message content rejected: it contains a NUL byte, which mail text may not carry (RFC 5322 §2.3, RFC 2045 §2.8)")
	errNoPostmaster = reply(451, "4.3.0", "Local error in processing: no mailbox takes postmaster's mail here yet, try again later (RFC 5321 §4.5.1)")
	errTooBig       = reply(552, "5.3.4", "Message too big")
	errNestedMail   = reply(503, "5.5.1", "Error: nested MAIL command: a transaction is already open, send RSET first (RFC 5321 §4.1.1.2)")
	// errLFOnly answers a command line (or SASL response) that ends in
	// a bare LF. It names no "bare" message: the line is a command.
	errLFOnly = reply(500, "5.5.2", "Syntax error: the line ends in LF alone, commands must end with CRLF (RFC 5321 §2.3.8)")
)

// errNeedUTF8 refuses a non-ASCII address in a transaction that MAIL did
// not open with SMTPUTF8 (RFC 6531 §3.5; this server offers SMTPUTF8).
func errNeedUTF8(who string) *response {
	return reply(553, "5.6.7", "Non-ASCII "+who+" address not permitted without SMTPUTF8: send MAIL FROM:<address> SMTPUTF8 (RFC 6531 §3.5)")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// localFailure is a failure on our side while accepting: always 4xx, so
// the client keeps the message and tries again.
func localFailure(what string) *response {
	return reply(451, "4.3.0", fmt.Sprintf("Local error in processing (%s): try again later", what))
}

// login checks a user's password for AUTH: the SASL mechanisms call it.
func (c *conn) login(identity, username, password string) error {
	if identity != "" && !strings.EqualFold(identity, username) {
		return reply(535, "5.7.8", "Authorization identity must match the user")
	}
	try, ok := c.s.Limiter.Begin(c.remote)
	if !ok {
		return reply(454, "4.7.0", "Too many failed logins from your address: try again later")
	}
	defer try.Done()
	addr, err := c.s.Users.Authenticate(username, password)
	if err != nil {
		// A failed login costs time (on the world's clock), more with
		// each failure from the same address.
		delay := time.Second
		if c.s.Limiter != nil {
			delay = try.Failed()
		}
		c.s.Clock.Sleep(delay)
		return reply(535, "5.7.8", "Authentication credentials invalid")
	}
	c.user = addr
	return nil
}

// mail answers MAIL FROM (RFC 5321 §4.1.1.2).
func (c *conn) mail(arg string) *response {
	if c.helo == "" {
		return errNoHello
	}
	if c.tx.open {
		// RFC 5321 §4.1.1.2 allows MAIL only when no transaction is
		// open, in either mode.
		return errNestedMail
	}
	rest, ok := cutPrefixFold(arg, "FROM:")
	if !ok {
		return reply(501, "5.5.4", "Syntax: MAIL FROM:<address> (RFC 5321 §4.1.2)")
	}
	from, params, why := parsePath(strings.TrimLeft(rest, " "), true)
	if why != "" {
		return reply(501, "5.1.7", "Bad sender address syntax: "+why+" (RFC 5321 §4.1.2)")
	}
	utf8 := false
	var size int64
	for _, p := range params {
		key, value, hasValue := strings.Cut(p, "=")
		switch strings.ToUpper(key) {
		case "SIZE": // RFC 1870
			n, err := parseSize(value)
			if err != nil {
				return reply(501, "5.5.4", "SIZE takes the message's size in octets (RFC 1870 §6)")
			}
			if n > c.s.MaxMessageBytes {
				return reply(552, "5.3.4", "Max message size exceeded")
			}
			size = n
		case "BODY": // RFC 6152
			if v := strings.ToUpper(value); v != "7BIT" && v != "8BITMIME" {
				return reply(501, "5.5.4", "BODY is 7BIT or 8BITMIME here (RFC 6152)")
			}
		case "SMTPUTF8": // RFC 6531 §3.4
			if hasValue {
				return reply(501, "5.5.4", "SMTPUTF8 takes no value (RFC 6531 §3.4)")
			}
			utf8 = true
		case "AUTH": // RFC 4954 §5: who submitted it; taken, not trusted
		default:
			return reply(555, "5.5.4", "Unsupported MAIL FROM parameter "+quoteParam(key)+" (RFC 5321 §4.1.1.11)")
		}
	}
	if c.s.Strict && !utf8 && !isASCII(from) {
		return errNeedUTF8("sender")
	}
	if hasControl(from) {
		return reply(501, "5.1.7", "Bad sender address syntax: control characters")
	}
	switch {
	case c.user != "":
		// An authenticated session is bound to its user's address on
		// every port, not only on submission. RFC 6409 §6.1 lets the
		// MSA refuse a MAIL FROM the authentication used does not
		// authorize; a login on port 25 grants relaying as on
		// submission, so it is bound the same way: else any user could
		// send as anyone, or as <>, and aim bounces at third parties.
		if !strings.EqualFold(from, c.user) {
			return errNotOwner
		}
	case c.s.Mode == Submission:
		return errAuthRequired
	}
	c.tx = transaction{open: true, from: from, utf8: utf8, authFrom: c.user != "", size: size}
	return reply(250, "2.1.0", "Roger, accepting mail from <"+from+">")
}

func parseSize(v string) (int64, error) {
	if v == "" || len(v) > 20 {
		return 0, errors.New("bad size")
	}
	var n int64
	for _, d := range []byte(v) {
		if d < '0' || d > '9' {
			return 0, errors.New("bad size")
		}
		if n > (1<<62)/10 {
			return 1 << 62, nil // more than anyone takes
		}
		n = n*10 + int64(d-'0')
	}
	return n, nil
}

// quoteParam repeats a parameter's name in a reply when it is safe to.
func quoteParam(key string) string {
	if key == "" || len(key) > 20 || !printable(key) {
		return "(unreadable)"
	}
	return strings.ToUpper(key)
}

// suspiciousLocal reports local parts that route mail onwards by the old
// tricks: %-hack, bang paths, a quoted address inside the local part.
func suspiciousLocal(addr string) bool {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return true
	}
	return strings.ContainsAny(addr[:i], "%!@\"")
}

// hasControl reports whether an address holds a control character (NUL
// included): no mail system should see them.
func hasControl(addr string) bool {
	for i := 0; i < len(addr); i++ {
		if addr[i] < 0x20 || addr[i] == 0x7f {
			return true
		}
	}
	return false
}

// isPostmaster reports whether addr is postmaster@ some domain; the local
// part is case-insensitive (RFC 5321 §4.5.1).
func isPostmaster(addr string) bool {
	local, _, ok := strings.Cut(addr, "@")
	return ok && strings.EqualFold(local, "postmaster")
}

// postmasterBox returns the mailbox that takes mail for postmaster of a
// local domain ("" for <postmaster> alone), or "" when there is none:
//
//   - Server.Postmaster, when set (one address for every domain, as
//     Postfix's "postmaster: root" alias is one per host);
//   - else postmaster@domain itself, when it is a user;
//   - else the first user of the domain, in the order of the addresses
//     Users lists (sorted, for auth.Directory): a teaching world's
//     domains have a handful of users and no administrator, and the
//     first is as good as any while being the same run after run;
//   - else (a local domain without users, or <postmaster> alone) the
//     first user of any local domain: one host, one postmaster.
func (s *Server) postmasterBox(domain string) string {
	if s.Postmaster != "" {
		return s.Postmaster
	}
	exists := func(addr string) bool { return s.Recipient == nil || s.Recipient(addr) }
	if domain != "" && exists("postmaster@"+domain) {
		return "postmaster@" + domain
	}
	lister, ok := s.Users.(interface{ Addresses() []string })
	if !ok {
		return ""
	}
	addrs := lister.Addresses()
	for _, same := range []bool{true, false} {
		for _, a := range addrs {
			d := domainOf(a)
			if same && d != domain || !same && (s.IsLocal == nil || !s.IsLocal(d)) {
				continue
			}
			if exists(a) {
				return a
			}
		}
	}
	return ""
}

// rcpt answers RCPT TO (RFC 5321 §4.1.1.3).
func (c *conn) rcpt(arg string) *response {
	switch {
	case c.helo == "":
		return errNoHello
	case !c.tx.open:
		return reply(503, "5.5.1", "Bad sequence of commands: MAIL FROM comes first")
	}
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		return reply(501, "5.5.4", "Syntax: RCPT TO:<address> (RFC 5321 §4.1.2)")
	}
	rest = strings.TrimLeft(rest, " ")
	var to string
	var params []string
	if p, ok := cutPrefixFold(rest, "<postmaster>"); ok && paramsStart(p) == "" {
		// RFC 5321 §4.5.1: <postmaster> with no domain MUST be accepted.
		to, params = "postmaster", strings.Fields(p)
	} else {
		var why string
		if to, params, why = parsePath(rest, false); why != "" {
			return reply(501, "5.1.3", "Bad recipient address syntax: "+why+" (RFC 5321 §4.1.2)")
		}
	}
	if len(params) > 0 {
		key, _, _ := strings.Cut(params[0], "=")
		return reply(555, "5.5.4", "Unsupported RCPT TO parameter "+quoteParam(key)+" (RFC 5321 §4.1.1.11)")
	}
	if hasControl(to) {
		return reply(501, "5.1.3", "Bad recipient address syntax: control characters")
	}
	if c.s.Strict && !c.tx.utf8 && !isASCII(to) {
		return errNeedUTF8("recipient")
	}
	if len(c.tx.to) >= c.s.MaxRecipients {
		return reply(452, "4.5.3", "Too many recipients")
	}
	domain := domainOf(to)
	local := c.s.IsLocal != nil && c.s.IsLocal(domain)
	box := to
	switch {
	case c.s.Mode != LMTP && (to == "postmaster" || local && isPostmaster(to)):
		// RFC 5321 §4.5.1: postmaster@ every local domain, and
		// <postmaster> alone, MUST be accepted, whether or not a user
		// of that name exists; the message goes to a real mailbox.
		// (An LMTP server holds mailboxes only: the MX before it has
		// made postmaster a mailbox already.)
		if box = c.s.postmasterBox(domain); box == "" {
			return errNoPostmaster
		}
	case suspiciousLocal(to):
		// RFC 5321 §3.6.1 and §C: source routes, %-hacks and quoted
		// addresses are not relayed.
		return reply(550, "5.7.1", "Relaying denied: no source routes, %-hacks or quoted addresses")
	case local:
		if c.s.Recipient != nil && !c.s.Recipient(to) {
			return errUserUnknown
		}
	case c.s.Mode == LMTP:
		return reply(550, "5.1.2", "This delivery agent does not hold mailboxes for "+domain)
	case c.tx.authFrom:
		// An authenticated user may send anywhere (as themselves).
	default:
		return errRelayDenied
	}
	c.tx.to = append(c.tx.to, rcpt{addr: to, box: box})
	return reply(250, "2.1.5", "I'll make sure <"+to+"> gets this")
}

// boxes returns the mailboxes of the recipients, each once.
func (c *conn) boxes() []string {
	var out []string
	for _, r := range c.tx.to {
		if !slices.ContainsFunc(out, func(b string) bool { return strings.EqualFold(b, r.box) }) {
			out = append(out, r.box)
		}
	}
	return out
}

// accept takes the message for the queue (MX, Submission): the reply to
// the final dot.
func (c *conn) accept(body []byte) *response {
	now := c.s.Clock.Now()
	var head bytes.Buffer
	id := c.s.newID(now)
	if c.s.Mode == Submission {
		// RFC 6409 §8.3: the MSA adds Date and Message-ID when missing.
		if !message.HasField(body, "Message-ID") {
			fmt.Fprintf(&head, "Message-ID: <%s@%s>\r\n", id, c.s.Hostname)
		}
		if !message.HasField(body, "Date") {
			fmt.Fprintf(&head, "Date: %s\r\n", now.Format(time.RFC1123Z))
		}
	}
	received := c.received(now, id)
	msg := body
	if head.Len() > 0 {
		msg = append(head.Bytes(), body...)
	}
	key := trace.MsgKey(msg)
	ctx := trace.WithMsg(context.Background(), key)
	var extra []byte
	switch {
	case c.s.Mode == Submission && c.s.Sign != nil:
		sig, err := c.s.Sign(ctx, c.tx.from, msg)
		if err != nil {
			return reply(451, "4.7.0", "Local error in processing (signing): try again later")
		}
		extra = sig
	case c.s.Mode == MX && c.s.Check != nil && !c.tx.authFrom:
		// A user who logged in sends as themselves; what comes from
		// other hosts is checked.
		v := c.s.Check(ctx, Arrival{IP: listen.ClientAddr(c.remote), Helo: c.helo, MailFrom: c.tx.from, Msg: append(received[:len(received):len(received)], msg...)})
		if v.Code != 0 {
			return reply(v.Code, v.Enh, v.Text)
		}
		extra = v.Header
	}
	msg = append(append(received[:len(received):len(received)], extra...), msg...)
	c.emitReceived(received, key)
	qid, err := c.s.Queue.Enqueue(c.tx.from, c.boxes(), msg)
	if err != nil {
		var r *Refusal
		if errors.As(err, &r) {
			return reply(r.Code, r.Enh, r.Text)
		}
		return localFailure("queue")
	}
	return reply(250, "2.0.0", "Ok: queued as "+qid)
}

// deliver files the message for each recipient (LMTP) and returns one
// reply for each, in the order of RCPT (RFC 2033 §4.2).
func (c *conn) deliver(body []byte) []*response {
	now := c.s.Clock.Now()
	received := c.received(now, c.s.newID(now))
	msg := append(received, body...)
	c.emitReceived(received, trace.MsgKey(msg))
	out := make([]*response, len(c.tx.to))
	for i, r := range c.tx.to {
		err := c.s.Deliver.Deliver(context.Background(), c.tx.from, r.box, msg)
		switch {
		case err == nil:
			out[i] = reply(250, "2.0.0", "Ok: delivered to <"+r.addr+">")
		case statusIs(err, "4.2.2"):
			out[i] = reply(452, "4.2.2", "<"+r.addr+"> Mailbox full: try again later")
		case isPermanent(err):
			out[i] = reply(550, "5.1.1", "<"+r.addr+"> "+err.Error())
		default:
			out[i] = reply(451, "4.3.0", "<"+r.addr+"> Local error in processing (mailbox): try again later")
		}
	}
	return out
}

// emitReceived traces the message's arrival (key: its trace.MsgKey).
func (c *conn) emitReceived(received []byte, key string) {
	c.s.Trace.Emit(trace.Event{Kind: trace.KindHop, Action: "received", Host: c.s.Hostname, Peer: c.peerName(), Conn: c.id, Msg: key,
		Text: unfoldHeader(received)})
}

// unfoldHeader returns a header field on one line: each "\r\n\t" a space,
// the final line break gone (strings.ReplaceAll and TrimRight, copying once).
func unfoldHeader(h []byte) string {
	h = bytes.TrimRight(h, "\r\n")
	var b strings.Builder
	b.Grow(len(h))
	for {
		i := bytes.Index(h, []byte("\r\n\t"))
		if i < 0 {
			b.Write(h)
			return b.String()
		}
		b.Write(h[:i])
		b.WriteByte(' ')
		h = h[i+3:]
	}
}

func (c *conn) peerName() string {
	if c.helo != "" {
		return c.helo
	}
	return addrHost(c.remote)
}

func addrHost(a net.Addr) string {
	if a == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// received builds the trace header this server adds (RFC 5321 §4.4), with
// the protocol keyword of RFC 3848.
func (c *conn) received(now time.Time, id string) []byte {
	ip := addrHost(c.remote)
	b := make([]byte, 0, 160+len(c.helo)+len(ip)+len(c.s.Hostname)+len(id))
	b = append(b, "Received: from "...)
	b = append(b, c.helo...)
	b = append(b, " (["...)
	b = append(b, ip...)
	b = append(b, "])\r\n\tby "...)
	b = append(b, c.s.Hostname...)
	b = append(b, " (mailhop) with "...)
	if c.s.Mode == LMTP {
		b = append(b, "LMTP"...)
	} else {
		b = append(b, "ESMTP"...)
	}
	if c.isTLS() {
		b = append(b, 'S')
	}
	if c.user != "" {
		b = append(b, 'A')
	}
	b = append(b, " id "...)
	b = append(b, id...)
	if c.isTLS() {
		b = append(b, "\r\n\t(using "...)
		b = append(b, tls.VersionName(c.tls.Version)...)
		b = append(b, ')')
	}
	if len(c.tx.to) == 1 {
		b = append(b, "\r\n\tfor <"...)
		b = append(b, c.tx.to[0].addr...)
		b = append(b, '>')
	}
	b = append(b, "; "...)
	b = now.AppendFormat(b, time.RFC1123Z)
	return append(b, "\r\n"...)
}

// newID returns a session id for Received headers and generated
// Message-IDs: the time and some randomness.
//
// The random part needs to be unique, not secret: math/rand/v2's
// generator is enough, and far cheaper than crypto/rand in the browser.
func (s *Server) newID(now time.Time) string {
	r := s.Rand
	if r == nil {
		r = rand.Uint32
	}
	// fmt.Sprintf("%X.%08X", now.Unix(), r()), without fmt.
	var b [32]byte
	out := strconv.AppendInt(b[:0], now.Unix(), 16)
	for i, c := range out {
		if 'a' <= c && c <= 'f' {
			out[i] = c - 'a' + 'A'
		}
	}
	out = append(out, '.')
	v := r()
	for shift := 28; shift >= 0; shift -= 4 {
		out = append(out, "0123456789ABCDEF"[v>>shift&0xF])
	}
	return string(out)
}

// statusIs reports whether err carries the RFC 3463 status code.
func statusIs(err error, code string) bool {
	var st interface{ Status() string }
	return errors.As(err, &st) && st.Status() == code
}

func isPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login): username and password, each asked for.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(response) == 0 {
			return []byte("Username:"), false, nil
		}
		l.user = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 1:
		l.user = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.user, string(response))
	}
	return nil, false, errors.New("unexpected LOGIN response")
}
