package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/mailhop/mailhop/sim/message"
	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/trace"
)

type backend struct{ s *Server }

func (b *backend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	st := &connState{remote: c.Conn().RemoteAddr()}
	switch conn := c.Conn().(type) {
	case *innerConn:
		st = conn.st
	case *leavingConn: // LMTP, served by go-smtp alone
		if t := netx.TapOf(conn.Conn); t != nil {
			st.id = t.ConnID()
		}
	}
	return &session{s: b.s, c: c, st: st}, nil
}

// session is one SMTP (or LMTP) session's transaction state.
type session struct {
	s    *Server
	c    *gosmtp.Conn
	st   *connState
	user string // authenticated user's address

	from    string
	hasFrom bool
	utf8    bool // MAIL had SMTPUTF8 (RFC 6531 §3.4)
	// authFrom: MAIL was checked against the authenticated user, and
	// only such a transaction may relay (an AUTH after MAIL grants
	// nothing; the front refuses it anyway, RFC 4954 §4).
	authFrom bool
	to       []rcpt
}

// rcpt is an accepted recipient: the address the client gave, and the
// mailbox the message goes to. They differ only for postmaster.
type rcpt struct{ addr, box string }

func smtpErr(code int, ec gosmtp.EnhancedCode, msg string) *gosmtp.SMTPError {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: ec, Message: msg}
}

var (
	errAuthRequired = smtpErr(530, gosmtp.EnhancedCode{5, 7, 0}, "Authentication required: log in with AUTH first")
	errNotOwner     = smtpErr(550, gosmtp.EnhancedCode{5, 7, 1}, "Sender address rejected: not owned by the authenticated user")
	errRelayDenied  = smtpErr(550, gosmtp.EnhancedCode{5, 7, 1}, "Relaying denied")
	errUserUnknown  = smtpErr(550, gosmtp.EnhancedCode{5, 1, 1}, "Recipient address rejected: user unknown")
	errBareNewline  = smtpErr(500, gosmtp.EnhancedCode{5, 5, 2}, "Message contains a bare CR or LF: lines must end with CRLF (RFC 5321 2.3.8)")
	errLongLine     = smtpErr(500, gosmtp.EnhancedCode{5, 5, 2}, "Message has a line longer than 1000 octets (RFC 5321 4.5.3.1.6)")
	errNUL          = smtpErr(554, gosmtp.EnhancedCode{5, 6, 0}, "Message content rejected: it contains a NUL byte, which mail text may not carry (RFC 5322 §2.3, RFC 2045 §2.8)")
	errNoPostmaster = smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, "Local error in processing: no mailbox takes postmaster's mail here yet, try again later (RFC 5321 §4.5.1)")
	errTooBig       = smtpErr(552, gosmtp.EnhancedCode{5, 3, 4}, "Message too big")
	errNestedMail   = smtpErr(503, gosmtp.EnhancedCode{5, 5, 1}, "Error: nested MAIL command: a transaction is already open, send RSET first (RFC 5321 §4.1.1.2)")
)

// errNeedUTF8 refuses a non-ASCII address in a transaction that MAIL did
// not open with SMTPUTF8 (RFC 6531 §3.5; this server offers SMTPUTF8).
func errNeedUTF8(who string) *gosmtp.SMTPError {
	return smtpErr(553, gosmtp.EnhancedCode{5, 6, 7}, "Non-ASCII "+who+" address not permitted without SMTPUTF8: send MAIL FROM:<address> SMTPUTF8 (RFC 6531 §3.5)")
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
// the client keeps the message and tries again (go-smtp would turn a plain
// error into a permanent 554).
func localFailure(what string, err error) *gosmtp.SMTPError {
	return smtpErr(451, gosmtp.EnhancedCode{4, 3, 0}, fmt.Sprintf("Local error in processing (%s): try again later", what))
}

func (se *session) Reset() {
	se.from, se.hasFrom, se.utf8, se.authFrom, se.to = "", false, false, false, nil
	se.st.setInMail(false)
}

func (se *session) Logout() error { return nil }

func (se *session) AuthMechanisms() []string {
	if se.s.Users == nil || se.s.Mode == LMTP {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	check := func(identity, username, password string) error {
		if identity != "" && !strings.EqualFold(identity, username) {
			return smtpErr(535, gosmtp.EnhancedCode{5, 7, 8}, "Authorization identity must match the user")
		}
		try, ok := se.s.Limiter.Begin(se.st.remote)
		if !ok {
			return smtpErr(454, gosmtp.EnhancedCode{4, 7, 0}, "Too many failed logins from your address: try again later")
		}
		defer try.Done()
		addr, err := se.s.Users.Authenticate(username, password)
		if err != nil {
			// A failed login costs time (on the world's clock), more
			// with each failure from the same address.
			delay := time.Second
			if se.s.Limiter != nil {
				delay = try.Failed()
			}
			se.s.Clock.Sleep(delay)
			return smtpErr(535, gosmtp.EnhancedCode{5, 7, 8}, "Authentication credentials invalid")
		}
		se.user = addr
		se.st.mu.Lock()
		se.st.user = addr
		se.st.mu.Unlock()
		return nil
	}
	switch mech {
	case sasl.Plain:
		return malformedIs501{sasl.NewPlainServer(check)}, nil
	case sasl.Login:
		return malformedIs501{&loginServer{check: func(u, p string) error { return check("", u, p) }}}, nil
	}
	return nil, gosmtp.ErrAuthUnknownMechanism
}

// malformedIs501 reports a SASL response the mechanism can not parse (a
// PLAIN message without its two NULs) as the client's syntax error, 501
// (RFC 4954 §4), not as the temporary failure 454 go-smtp makes of a
// plain error. Errors of the login check are SMTP errors already.
type malformedIs501 struct{ sasl.Server }

func (m malformedIs501) Next(response []byte) ([]byte, bool, error) {
	challenge, done, err := m.Server.Next(response)
	var se *gosmtp.SMTPError
	if err != nil && !errors.As(err, &se) {
		err = smtpErr(501, gosmtp.EnhancedCode{5, 5, 2}, "Malformed authentication response: "+err.Error()+" (RFC 4954 §4)")
	}
	return challenge, done, err
}

func (se *session) Mail(from string, opts *gosmtp.MailOptions) error {
	utf8 := opts != nil && opts.UTF8
	if se.s.Strict {
		// go-smtp lets a second MAIL replace the sender (and keeps the
		// recipients): RFC 5321 §4.1.1.2 allows MAIL only when no
		// transaction is open.
		if se.hasFrom {
			return errNestedMail
		}
		if !utf8 && !isASCII(from) {
			return errNeedUTF8("sender")
		}
	}
	if hasControl(from) {
		return smtpErr(501, gosmtp.EnhancedCode{5, 1, 7}, "Bad sender address syntax: control characters")
	}
	switch {
	case se.user != "":
		// An authenticated session is bound to its user's address on
		// every port, not only on submission. RFC 6409 §6.1 lets the
		// MSA refuse a MAIL FROM the authentication used does not
		// authorize; a login on port 25 grants relaying as on
		// submission, so it is bound the same way: else any user could
		// send as anyone, or as <>, and aim bounces at third parties.
		// Same reply as submission (Postfix's sender login mismatch
		// says 553 5.7.1).
		if !strings.EqualFold(from, se.user) {
			return errNotOwner
		}
	case se.s.Mode == Submission:
		return errAuthRequired
	}
	if opts != nil && opts.Size > se.s.MaxMessageBytes {
		return errTooBig
	}
	se.from, se.hasFrom, se.utf8, se.authFrom = from, true, utf8, se.user != ""
	se.st.setInMail(true)
	return nil
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
// included): go-smtp passes them on, no mail system should see them.
func hasControl(addr string) bool {
	for i := 0; i < len(addr); i++ {
		if addr[i] < 0x20 || addr[i] == 0x7f {
			return true
		}
	}
	return false
}

func (se *session) Rcpt(to string, opts *gosmtp.RcptOptions) error {
	if hasControl(to) {
		return smtpErr(501, gosmtp.EnhancedCode{5, 1, 3}, "Bad recipient address syntax: control characters")
	}
	if se.s.Strict && !se.utf8 && !isASCII(to) {
		return errNeedUTF8("recipient")
	}
	if len(se.to) >= se.s.MaxRecipients {
		return smtpErr(452, gosmtp.EnhancedCode{4, 5, 3}, "Too many recipients")
	}
	domain := domainOf(to)
	local := se.s.IsLocal != nil && se.s.IsLocal(domain)
	if se.s.Mode != LMTP && (to == barePostmaster || local && isPostmaster(to)) {
		// RFC 5321 §4.5.1: postmaster@ every local domain, and
		// <postmaster> alone, MUST be accepted, whether or not a user
		// of that name exists; the message goes to a real mailbox.
		// (An LMTP server holds mailboxes only: the MX before it has
		// made postmaster a mailbox already.)
		if to == barePostmaster {
			to, domain = "postmaster", ""
		}
		box := se.s.postmasterBox(domain)
		if box == "" {
			return errNoPostmaster
		}
		se.to = append(se.to, rcpt{addr: to, box: box})
		return nil
	}
	switch {
	case suspiciousLocal(to):
		// RFC 5321 §3.6.1 and §C: source routes, %-hacks and quoted
		// addresses are not relayed.
		return smtpErr(550, gosmtp.EnhancedCode{5, 7, 1}, "Relaying denied: no source routes, %-hacks or quoted addresses")
	case local:
		if se.s.Recipient != nil && !se.s.Recipient(to) {
			return errUserUnknown
		}
	case se.s.Mode == LMTP:
		return smtpErr(550, gosmtp.EnhancedCode{5, 1, 2}, "This delivery agent does not hold mailboxes for "+domain)
	case se.authFrom:
		// An authenticated user may send anywhere (as themselves).
	default:
		return errRelayDenied
	}
	se.to = append(se.to, rcpt{addr: to, box: to})
	return nil
}

// barePostmaster is what the front relays for RCPT TO:<postmaster>, the
// one address without a domain that RFC 5321 §4.5.1 requires (go-smtp
// wants a domain). .invalid is reserved (RFC 6761 §6.4): no real address
// looks like it.
const barePostmaster = "postmaster@postmaster.invalid"

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

// boxes returns the mailboxes of the recipients, each once.
func (se *session) boxes() []string {
	var out []string
	for _, r := range se.to {
		if !slices.ContainsFunc(out, func(b string) bool { return strings.EqualFold(b, r.box) }) {
			out = append(out, r.box)
		}
	}
	return out
}

// readMessage reads DATA and checks it: no bare CR or LF (SMTP
// smuggling), no NUL, no line over 1000 octets, not over the size limit.
//
// On SMTP the front has checked each line already and relayed only the
// good ones: what it refused, it says here (go-smtp's own reader drops
// "." CR from a line before the checks could see the bare CR). LMTP has
// no front: the checks below are all there is.
func (se *session) readMessage(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(r)
	if ferr := se.st.takeDataErr(); ferr != nil {
		return nil, ferr
	}
	if err != nil {
		var smtpE *gosmtp.SMTPError
		if errors.As(err, &smtpE) {
			return nil, smtpE
		}
		return nil, err
	}
	if err := checkLines(body); err != nil {
		return nil, err
	}
	if bytes.IndexByte(body, 0) >= 0 {
		return nil, errNUL
	}
	return body, nil
}

func checkLines(body []byte) error {
	start := 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '\r':
			if i+1 >= len(body) || body[i+1] != '\n' {
				return errBareNewline
			}
			if i+2-start > 1000 {
				return errLongLine
			}
			i++
			start = i + 1
		case '\n':
			return errBareNewline
		}
	}
	if len(body)-start > 1000 {
		return errLongLine
	}
	return nil
}

func (se *session) Data(r io.Reader) error {
	body, err := se.readMessage(r)
	if err != nil {
		return err
	}
	now := se.s.Clock.Now()
	var head bytes.Buffer
	id := se.s.newID(now)
	if se.s.Mode == Submission {
		// RFC 6409 §8.3: the MSA adds Date and Message-ID when missing.
		h := message.ReadHeader(body)
		if !h.Has("Message-ID") {
			fmt.Fprintf(&head, "Message-ID: <%s@%s>\r\n", id, se.s.Hostname)
		}
		if !h.Has("Date") {
			fmt.Fprintf(&head, "Date: %s\r\n", now.Format(time.RFC1123Z))
		}
	}
	received := se.received(now, id)
	msg := make([]byte, 0, len(received)+head.Len()+len(body))
	msg = append(msg, received...)
	msg = append(msg, head.Bytes()...)
	msg = append(msg, body...)

	key := trace.MsgKey(msg)
	se.s.Trace.Emit(trace.Event{Kind: trace.KindHop, Action: "received", Host: se.s.Hostname, Peer: peerName(se), Conn: se.st.id, Msg: key,
		Text: strings.TrimRight(strings.ReplaceAll(string(received), "\r\n\t", " "), "\r\n")})
	qid, err := se.s.Queue.Enqueue(se.from, se.boxes(), msg)
	if err != nil {
		return localFailure("queue", err)
	}
	return &gosmtp.SMTPError{Code: 250, EnhancedCode: gosmtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + qid}
}

func peerName(se *session) string {
	if h := se.c.Hostname(); h != "" {
		return h
	}
	return addrHost(se.st.remote)
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
func (se *session) received(now time.Time, id string) []byte {
	with := "ESMTP"
	if se.s.Mode == LMTP {
		with = "LMTP"
	}
	if se.st.isTLS() {
		with += "S"
	}
	if se.user != "" {
		with += "A"
	}
	helo := se.c.Hostname()
	ip := addrHost(se.st.remote)
	var b bytes.Buffer
	fmt.Fprintf(&b, "Received: from %s (%s)\r\n\tby %s (mailhop) with %s id %s", helo, "["+ip+"]", se.s.Hostname, with, id)
	if se.st.isTLS() {
		fmt.Fprintf(&b, "\r\n\t(using %s)", tls.VersionName(se.st.tls.Version))
	}
	if len(se.to) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", se.to[0].addr)
	}
	fmt.Fprintf(&b, "; %s\r\n", now.Format(time.RFC1123Z))
	return b.Bytes()
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
	return fmt.Sprintf("%X.%08X", now.Unix(), r())
}

// LMTPData files the message for each recipient and reports each
// outcome (RFC 2033 §4.2).
func (se *session) LMTPData(r io.Reader, status gosmtp.StatusCollector) error {
	body, err := se.readMessage(r)
	if err != nil {
		return err
	}
	now := se.s.Clock.Now()
	received := se.received(now, se.s.newID(now))
	msg := append(received, body...)
	se.s.Trace.Emit(trace.Event{Kind: trace.KindHop, Action: "received", Host: se.s.Hostname, Peer: peerName(se), Conn: se.st.id, Msg: trace.MsgKey(msg),
		Text: strings.TrimRight(strings.ReplaceAll(string(received), "\r\n\t", " "), "\r\n")})
	for _, r := range se.to {
		err := se.s.Deliver.Deliver(context.Background(), se.from, r.box, msg)
		// go-smtp knows the recipients by the address given.
		switch {
		case err == nil:
			status.SetStatus(r.addr, &gosmtp.SMTPError{Code: 250, EnhancedCode: gosmtp.EnhancedCode{2, 0, 0}, Message: "Ok: delivered to " + r.addr})
		case isPermanent(err):
			status.SetStatus(r.addr, smtpErr(550, gosmtp.EnhancedCode{5, 1, 1}, err.Error()))
		default:
			status.SetStatus(r.addr, localFailure("mailbox", err))
		}
	}
	return nil
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
