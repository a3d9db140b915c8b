package explain

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/trace"
)

// Narration: one plain sentence per event, for a teacher who steps
// through a journey on a projector. A note says what a line means and
// where the RFC defines it; a sentence says who does what to whom,
// in words a beginner knows, and ends with the code or command in
// parentheses so the room can find it in the transcript.
//
// Sentences are built from the event alone: Narrate is a pure function
// (the recorder calls it concurrently, before any annotator could
// redact the event). So a reply is told from its code and text, not
// from the command before it, and a client line that is no known
// command is never repeated: it may be a password.

// maxValue bounds a name or address copied into a sentence, so that a
// sentence stays short whatever the world calls its hosts.
const maxValue = 48

// notShown ends every sentence about a login: the room sees that a
// password was sent, never the password.
const notShown = "; the password itself is not shown"

// Narrate returns e told as one plain sentence for a beginner: who does
// what, with the real host names of the event, without RFC numbers (the
// note has those), and never with a password or the base64 of one. It
// returns "" only for an event with nothing to tell (an unknown kind
// without a host). Explain gives it with the Note.
func Narrate(e trace.Event) string {
	return sayings.get(e, false).say
}

// Explain returns both the Note and the Narrate of e, remembered together
// (one look-up for both). Meant for trace.Recorder.SetExplainer.
func Explain(e trace.Event) (note, say string) {
	t := sayings.get(e, true)
	return t.note, t.say
}

func narrate(e trace.Event) string {
	switch e.Kind {
	case trace.KindHost:
		return sayHost(e)
	case trace.KindLink:
		return sayLink(e)
	case trace.KindConn:
		return sayConn(e)
	case trace.KindWire:
		return sayWire(e)
	case trace.KindPacket:
		return sayPacket(e)
	case trace.KindTLS:
		return sayTLS(e)
	case trace.KindDNS:
		return sayDNS(e)
	case trace.KindQueue:
		return sayQueue(e)
	case trace.KindDeliver:
		return sayDeliver(e)
	case trace.KindFetch:
		return sayFetch(e)
	case trace.KindHop:
		return sayHop(e)
	case trace.KindFault:
		return sayFault(e)
	case trace.KindLesson:
		return sayLesson(e)
	case trace.KindAuth:
		return sayAuth(e)
	}
	if e.Host != "" {
		return clip(e.Host) + " reports an event of kind " + clip(string(e.Kind))
	}
	return ""
}

// --- hosts, links, connections, TLS ---

func sayHost(e trace.Event) string {
	h := name(e.Host, "A host")
	switch e.Action {
	case "down":
		return h + " is switched off: nobody can reach it"
	case "up":
		return h + " is switched on and can be reached"
	}
	return h + " changes state (" + clip(e.Action) + ")"
}

func sayLink(e trace.Event) string {
	between := "The network link between " + name(e.Host, "two hosts")
	if e.Peer != "" {
		between += " and " + clip(e.Peer)
	}
	switch e.Action {
	case "cut":
		return between + " is cut: nothing gets through"
	case "restored":
		return between + " works again"
	}
	return between + " changes (" + clip(e.Action) + ")"
}

func sayConn(e trace.Event) string {
	c, s := name(e.Host, "A client"), name(e.Peer, "a server")
	switch e.Action {
	case "open":
		out := c + " connects to " + s
		if e.Port != 0 {
			out += " on port " + strconv.Itoa(e.Port)
		}
		if svc := service(e.Port, e.Proto); svc != "" {
			out += " (" + svc + ")"
		}
		return out
	case "close":
		switch {
		case strings.HasPrefix(e.Text, "closed by server"):
			return s + " closes the connection with " + c
		case strings.HasPrefix(e.Text, "closed by client"):
			return c + " closes its connection to " + s
		case strings.HasPrefix(e.Text, "reset"):
			return "The connection between " + c + " and " + s + " breaks off: a host went down"
		}
		return "The connection between " + c + " and " + s + " ends"
	case "refused":
		port := ""
		if e.Port != 0 {
			port = " on port " + strconv.Itoa(e.Port)
		}
		switch {
		case strings.Contains(e.Text, "nothing listens"):
			return s + " turns " + c + " away: no program answers" + port
		case strings.Contains(e.Text, "queue is full"):
			return s + " turns " + c + " away: too many connections are waiting" + port
		}
		return s + " refuses the connection from " + c + port
	case "unreachable":
		switch {
		case e.Peer != "" && e.Text == e.Peer+" is down":
			return c + " can not reach " + s + ": " + s + " is switched off"
		case e.Host != "" && e.Text == e.Host+" is down":
			return c + " is switched off, so it can not reach " + s
		case strings.Contains(e.Text, "link is cut"):
			return c + " can not reach " + s + ": the network link between them is cut"
		case strings.Contains(e.Text, "no such host"):
			return c + " can not reach " + s + ": there is no such host on the network"
		}
		return c + " can not reach " + s
	}
	return "The connection between " + c + " and " + s + " changes (" + clip(e.Action) + ")"
}

// service names what is spoken on a port, as a learner meets it.
func service(port int, proto string) string {
	switch port {
	case 25, 2525:
		return "SMTP"
	case 587:
		return "submission"
	case 465:
		return "submission over TLS"
	case 24:
		return "LMTP"
	case 110:
		return "POP3"
	case 995:
		return "POP3 over TLS"
	case 143:
		return "IMAP"
	case 993:
		return "IMAP over TLS"
	case 53:
		return "DNS"
	}
	if p := protoName(proto); p != "" {
		return p
	}
	return ""
}

// implicitTLS reports a port that speaks TLS from its first byte.
func implicitTLS(port int) bool {
	return port == 465 || port == 993 || port == 995
}

func protoName(proto string) string {
	switch proto {
	case "smtp":
		return "SMTP"
	case "lmtp":
		return "LMTP"
	case "pop3":
		return "POP3"
	case "imap":
		return "IMAP"
	case "dns":
		return "DNS"
	}
	return ""
}

func sayTLS(e trace.Event) string {
	c, s := name(e.Host, "The client"), name(e.Peer, "the server")
	version, _, _ := strings.Cut(e.Text, ",")
	version = strings.TrimSpace(version)
	if version == "" || !strings.HasPrefix(version, "TLS") {
		version = "TLS"
	}
	return c + " and " + s + " switch on encryption: from now on nobody in between can read what they say (" + version + ")"
}

// --- wire: one line (or block) of a conversation ---

func sayWire(e trace.Event) string {
	c, s := name(e.Host, "The client"), name(e.Peer, "the server")
	fromClient := e.Dir == trace.Send
	if e.Dir != trace.Send && e.Dir != trace.Recv {
		return "A line passes between " + c + " and " + s
	}
	if strings.IndexByte(e.Text, '\n') >= 0 {
		return sayBlock(e.Proto, fromClient, c, s, e.Text)
	}
	line, bare := strings.CutSuffix(e.Text, bareLF)
	if strings.TrimSpace(line) == "" {
		if fromClient {
			return c + " sends an empty line"
		}
		return s + " sends an empty line"
	}
	var out string
	switch e.Proto {
	case "smtp", "lmtp":
		if fromClient {
			out = saySMTPCommand(e.Proto, c, s, line, e.TLS && !implicitTLS(e.Port))
		} else {
			out = saySMTPReply(e.Proto, c, s, line)
		}
	case "pop3":
		if fromClient {
			out = sayPOP3Command(c, s, line)
		} else {
			out = sayPOP3Reply(c, s, line)
		}
	case "imap":
		if fromClient {
			out = sayIMAPCommand(c, s, line)
		} else {
			out = sayIMAPReply(c, s, line)
		}
	case "dns":
		// DNS over TCP: each message is described as a datagram is.
		if fromClient {
			out = c + " asks " + s + " a DNS question over TCP" + dnsAbout(line)
		} else {
			out = s + " answers " + c + "'s DNS question over TCP" + dnsRcodeParen(line)
		}
	default:
		if fromClient {
			out = c + " sends a line to " + s
		} else {
			out = s + " sends a line to " + c
		}
	}
	if bare {
		// Before the code in parentheses, which ends every sentence.
		const lf = ", ending the line with a bare LF instead of CRLF"
		if i := strings.LastIndex(out, " ("); i > 0 && strings.HasSuffix(out, ")") {
			return out[:i] + lf + out[i:]
		}
		out += lf
	}
	return out
}

// sayBlock tells a block of lines: a message (SMTP DATA, POP3 RETR, an
// IMAP literal) or other data. Its content is never repeated.
func sayBlock(proto string, fromClient bool, c, s, text string) string {
	who := s
	if fromClient {
		who = c
	}
	lines, more := blockLines(text)
	count := strconv.Itoa(lines) + " lines"
	if more {
		count = "more than " + count
	}
	if proto == "smtp" || proto == "lmtp" || proto == "pop3" || looksLikeMessage(text) {
		return who + " sends the message itself: its header and body (" + count + ")"
	}
	return who + " sends a block of data (" + count + ")"
}

// blockLines counts the lines of a block; more reports that the tap kept
// only the start of it ("… (n more bytes)").
func blockLines(text string) (n int, more bool) {
	if i := strings.LastIndex(text, "\n… ("); i >= 0 && strings.HasSuffix(text, " more bytes)") {
		text, more = text[:i], true
	}
	return strings.Count(text, "\n") + 1, more
}

// looksLikeMessage reports whether a block starts with a header field.
func looksLikeMessage(text string) bool {
	first, _, _ := strings.Cut(text, "\n")
	field, _, ok := strings.Cut(first, ":")
	return ok && field != "" && !strings.ContainsAny(field, " \t")
}

// --- SMTP and LMTP ---

// saySMTPCommand tells a client line; afterSTARTTLS says the line
// travels inside a TLS session that STARTTLS began.
func saySMTPCommand(proto, c, s, line string, afterSTARTTLS bool) string {
	verb, arg := cutSpace(strings.TrimSpace(line))
	switch strings.ToUpper(verb) {
	case "EHLO", "HELO", "LHLO":
		v := strings.ToUpper(verb)
		who, _ := cutSpace(strings.TrimSpace(arg))
		out := c + " says hello"
		if afterSTARTTLS {
			out += " again, now encrypted"
		}
		if who != "" && !strings.EqualFold(who, c) {
			out += " as " + clip(who)
		}
		if v == "HELO" {
			return out + " (HELO, the old form)"
		}
		return out + " (" + v + ")"
	case "STARTTLS":
		return c + " asks to encrypt the connection (STARTTLS)"
	case "AUTH":
		mech, _ := cutSpace(strings.TrimSpace(arg))
		if mech == "" {
			return c + " asks to log in (AUTH)" + notShown
		}
		return c + " logs in (AUTH " + clip(strings.ToUpper(mech)) + ")" + notShown
	case "MAIL":
		addr, ok := pathArg(arg, "FROM:")
		switch {
		case ok && addr == "":
			return c + " starts a bounce: the sender is empty, so nothing can bounce back (MAIL FROM:<>)"
		case ok:
			return c + " says who the sender is: " + clip(addr) + " (MAIL FROM)"
		}
		return c + " tries to name the sender, but not in the form <address> (MAIL FROM)"
	case "RCPT":
		addr, ok := pathArg(arg, "TO:")
		if ok && addr != "" {
			return c + " says who the message is for: " + clip(addr) + " (RCPT TO)"
		}
		return c + " tries to name a recipient, but not in the form <address> (RCPT TO)"
	case "DATA":
		return c + " asks to send the message itself (DATA)"
	case "BDAT":
		size, _ := cutSpace(strings.TrimSpace(arg))
		if isNumber(size) {
			return c + " sends a chunk of the message, " + size + " bytes (BDAT)"
		}
		return c + " sends a chunk of the message (BDAT)"
	case "RSET":
		return c + " cancels the message in progress and starts over (RSET)"
	case "NOOP":
		return c + " checks that " + s + " is still there (NOOP)"
	case "QUIT":
		return c + " says goodbye (QUIT)"
	case "VRFY":
		return c + " asks whether an address is a user here (VRFY)"
	case "EXPN":
		return c + " asks who is on a mailing list (EXPN)"
	case "HELP":
		return c + " asks for help (HELP)"
	case "*":
		return c + " cancels the login (*)"
	case ".":
		if arg == "" {
			return c + " marks the end of the message: a line with a single dot"
		}
	}
	return unknownClientLine(c, "an "+protoName(proto)+" command", line)
}

// unknownClientLine tells a client line that is no command the tables
// know without repeating it: in a login it is the user name or the
// password, most often in base64.
func unknownClientLine(c, what, line string) string {
	if looksBase64(line) {
		return c + " sends a login step in base64" + notShown
	}
	return c + " sends a line that is not " + what
}

// looksBase64 reports whether a line could be a SASL response: one word
// of base64, in whole groups of four.
func looksBase64(s string) bool {
	if len(s) < 4 || len(s)%4 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || isDigit(c) || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// pathArg reads the address of MAIL FROM:<a> or RCPT TO:<a> (prefix is
// "FROM:" or "TO:"): ok is false when the argument is not of that form.
func pathArg(arg, prefix string) (addr string, ok bool) {
	arg = strings.TrimLeft(arg, " ")
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimLeft(arg[len(prefix):], " ")
	if !strings.HasPrefix(rest, "<") {
		return "", false
	}
	end := strings.IndexByte(rest, '>')
	if end < 0 {
		return "", false
	}
	return rest[1:end], true
}

// replyLine is an SMTP reply line taken apart: "550 5.1.1 Recipient …".
type replyLine struct {
	code, enh, text string
	more            bool // "250-…": more lines follow
}

func parseSMTPReply(line string) (r replyLine, ok bool) {
	if len(line) < 3 || !isReplyCode(line[:3]) || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
		return r, false
	}
	r.code, r.more = line[:3], len(line) > 3 && line[3] == '-'
	if len(line) > 4 {
		r.text = line[4:]
	}
	if w, rest := cutSpace(r.text); isEnhanced(w) {
		r.enh, r.text = w, rest
	}
	return r, true
}

func isEnhanced(s string) bool {
	_, _, _, ok := parseEnhanced(s)
	return ok
}

func saySMTPReply(proto, c, s, line string) string {
	r, ok := parseSMTPReply(line)
	if !ok {
		return s + " sends " + c + " a line that is not a proper " + protoName(proto) + " reply"
	}
	tag := r.code
	if r.enh != "" {
		tag += " " + r.enh
	}
	paren := " (" + tag + ")"
	if r.code == "250" && r.enh == "" {
		// A line of the answer to EHLO or LHLO: what the server can do.
		kw, arg := cutSpace(r.text)
		kw, _, _ = strings.Cut(kw, "=")
		if what := ehloKeyword(strings.ToUpper(kw), arg); what != "" {
			if !r.more {
				what += ", and that ends its list"
			}
			return s + " " + what + " (" + clip(strings.ToUpper(kw)) + ")"
		}
		if r.more {
			return s + " says hello back and lists what it can do" + paren
		}
	}
	return s + " " + smtpReplyWhat(proto, c, r) + paren
}

// smtpReplyWhat tells what a reply says, after the server's name.
func smtpReplyWhat(proto, c string, r replyLine) string {
	t := r.text
	switch r.code {
	case "220":
		if containsFold(t, "tls") {
			return "agrees to encrypt the connection"
		}
		return "greets " + c + ": ready to talk " + protoName(proto)
	case "221":
		return "says goodbye and closes the connection"
	case "235":
		return "accepts the login: " + c + " is logged in"
	case "250":
		switch {
		case containsFold(t, "queued as"):
			return "accepts the message: from now on, delivering it is its job"
		case containsFold(t, "delivered to"):
			if a := addrIn(t); a != "" {
				return "confirms: the message is in " + clip(a) + "'s mailbox"
			}
			return "confirms: the message is in the mailbox"
		case r.enh == "2.1.0" || containsFold(t, "mail from") || containsFold(t, "sender"):
			if a := addrIn(t); a != "" {
				return "accepts " + clip(a) + " as the sender"
			}
			return "accepts the sender"
		case r.enh == "2.1.5" || containsFold(t, "gets this") || containsFold(t, "recipient"):
			if a := addrIn(t); a != "" {
				return "accepts " + clip(a) + " as a recipient"
			}
			return "accepts the recipient"
		case containsFold(t, "reset"):
			return "forgets the message in progress: ready to start over"
		case containsFold(t, "hello"):
			return "says hello back"
		case containsFold(t, "done nothing"):
			return "answers NOOP: nothing done, the connection is alive"
		}
		return "says OK"
	case "251":
		return "accepts the message and will forward it to the user's new address"
	case "252":
		return "can not check that address, but will try to deliver to it"
	case "211":
		return "reports its status"
	case "214":
		return "sends help text for people to read"
	case "334":
		switch t {
		case "VXNlcm5hbWU6":
			return "asks for the user name, in base64"
		case "UGFzc3dvcmQ6":
			return "asks for the password, in base64"
		}
		return "waits for the next login step"
	case "354":
		return "is ready: send the message, then a line with a single dot"
	case "421":
		if containsFold(t, "timeout") {
			return "is closing the connection: it waited too long for " + c
		}
		return "is closing the connection: try again later"
	case "432":
		return "asks for one login with PLAIN first: the password is changing"
	case "450":
		if containsFold(t, "greylist") {
			return "says not yet: it greylists unknown senders, try again later"
		}
		return "can not take it right now: try again later"
	case "451":
		if a := addrIn(t); a != "" {
			return "can not file the message for " + clip(a) + " right now: try again later"
		}
		return "has a problem on its side: try again later"
	case "452":
		if r.enh == "4.5.3" || containsFold(t, "recipients") {
			return "takes no more recipients for this message"
		}
		return "is short of storage: try again later"
	case "454":
		switch {
		case containsFold(t, "tls"):
			return "can not encrypt right now"
		case containsFold(t, "failed logins"):
			return "refuses logins for now: too many failed attempts"
		}
		return "can not log anyone in right now: try again later"
	case "455":
		return "can not take those options right now"
	case "500":
		switch {
		case containsFold(t, "too long") || containsFold(t, "longer than"):
			return "refuses: a line is too long"
		case containsFold(t, "bare"):
			return "refuses the message: its lines must end with CRLF"
		}
		return "does not understand that command"
	case "501":
		switch {
		case containsFold(t, "base64"):
			return "refuses: the login data is not valid base64"
		case containsFold(t, "cancel"):
			return "confirms that the login is cancelled"
		case containsFold(t, "authentication"):
			return "refuses: the login data is not what it expects"
		case r.enh == "5.1.7":
			return "refuses: the sender's address is malformed"
		case r.enh == "5.1.3":
			return "refuses: the recipient's address is malformed"
		}
		if v := smtpVerbIn(t); v != "" {
			return "refuses: the " + v + " command is not written correctly"
		}
		return "refuses: the command is not written correctly"
	case "502":
		return "does not offer that command"
	case "503":
		switch {
		case containsFold(t, "EHLO or HELO first"):
			return "refuses: say hello with EHLO first"
		case containsFold(t, "MAIL FROM comes first") || containsFold(t, "need MAIL"):
			return "refuses: name the sender with MAIL FROM first"
		case containsFold(t, "RCPT"):
			return "refuses: no recipient has been accepted yet"
		case containsFold(t, "nested MAIL"):
			return "refuses: a message is already started, send RSET first"
		case containsFold(t, "already authenticated"):
			return "refuses: " + c + " is already logged in"
		case containsFold(t, "tls is already active"):
			return "refuses: the connection is already encrypted"
		}
		return "refuses: that command comes out of order"
	case "504":
		if r.enh == "5.7.4" || containsFold(t, "mechanism") {
			return "does not offer that login method"
		}
		return "does not support that option"
	case "521":
		return "accepts no mail at all"
	case "530":
		if containsFold(t, "starttls") {
			return "refuses: encrypt the connection first, with STARTTLS"
		}
		return "refuses: log in first"
	case "534":
		return "refuses: that login method is too weak"
	case "535":
		if containsFold(t, "identity") {
			return "refuses the login: one may only log in as oneself"
		}
		return "refuses the login: wrong user name or password"
	case "538":
		return "refuses: encrypt the connection before logging in"
	case "550", "551", "552", "553", "554", "556":
		return smtpRefusal(r)
	case "555":
		return "does not know the options given with MAIL FROM or RCPT TO"
	}
	switch r.code[0] {
	case '2':
		return "says OK"
	case '3':
		return "waits for more"
	case '4':
		return "can not do it now: try again later"
	}
	return "refuses, for good"
}

// smtpRefusal tells a permanent refusal by its enhanced status code,
// then by its reply code.
func smtpRefusal(r replyLine) string {
	t := r.text
	switch r.enh {
	case "5.1.1":
		who := "that recipient"
		if a := addrIn(t); a != "" {
			who, _, _ = strings.Cut(a, "@")
			who = clip(who)
		}
		return "refuses: " + who + " is not a user here"
	case "5.1.2":
		return "refuses: it keeps no mailboxes for that domain"
	case "5.1.10":
		return "refuses: that domain accepts no mail"
	case "5.7.27":
		return "refuses: the sender's domain accepts no mail, so no bounce could reach it"
	case "5.2.2":
		return "refuses: the mailbox is full"
	case "5.3.4":
		return "refuses: the message is too big"
	case "5.6.7":
		return "refuses: an address with non-ASCII letters needs SMTPUTF8"
	case "5.7.1":
		switch {
		case containsFold(t, "not owned"):
			return "refuses: that sender address does not belong to the logged-in user"
		case containsFold(t, "relay"):
			return "refuses to pass mail on to other domains for this client"
		}
		return "refuses: its rules do not allow this"
	}
	switch r.code {
	case "550":
		if containsFold(t, "relay") {
			return "refuses to pass mail on to other domains for this client"
		}
		return "refuses: the mailbox is not available"
	case "551":
		return "refuses: that user is not here, try the address it gives"
	case "552":
		return "refuses: the message is too big"
	case "553":
		return "refuses: that address is not allowed"
	case "554":
		if containsFold(t, "relay") {
			return "refuses to pass mail on to other domains for this client"
		}
		return "refuses the message"
	case "556":
		return "refuses: that domain accepts no mail"
	}
	return "refuses, for good"
}

// ehloKeyword tells what a server can do, from one keyword of its EHLO
// answer ("" when the word is no keyword).
func ehloKeyword(kw, arg string) string {
	tab := tab.get()
	switch kw {
	case "STARTTLS":
		return "can encrypt the connection"
	case "PIPELINING":
		return "takes several commands at once"
	case "8BITMIME":
		return "takes messages with 8-bit text"
	case "ENHANCEDSTATUSCODES":
		return "adds detail codes such as 5.1.1 to its replies"
	case "SMTPUTF8":
		return "takes addresses written in any script"
	case "SIZE":
		if n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64); err == nil && n > 0 {
			return "takes messages up to " + bytesText(n)
		}
		return "says how big a message may be"
	case "AUTH":
		return "lets users log in"
	case "LIMITS":
		for f := range strings.FieldsSeq(arg) {
			if n, ok := strings.CutPrefix(strings.ToUpper(f), "RCPTMAX="); ok && isNumber(n) {
				return "takes at most " + n + " recipients per message"
			}
		}
		return "states its limits"
	case "CHUNKING":
		return "takes a message in chunks"
	case "BINARYMIME":
		return "takes binary content"
	case "DSN":
		return "can send delivery reports on request"
	case "HELP":
		return "answers HELP"
	case "VRFY":
		return "answers VRFY"
	case "ETRN":
		return "can start a queue run on request"
	case "REQUIRETLS":
		return "can insist on encryption all the way"
	}
	if tab.findFold("smtp", KindKeyword, kw) >= 0 {
		return "supports an extension"
	}
	return ""
}

// smtpVerbIn finds the command a reply's text names ("Syntax: EHLO
// hostname").
func smtpVerbIn(text string) string {
	for f := range strings.FieldsSeq(text) {
		f = strings.Trim(f, ",.:;()")
		switch f {
		case "EHLO", "HELO", "LHLO", "DATA", "BDAT", "STARTTLS", "AUTH", "VRFY":
			return f
		case "MAIL":
			return "MAIL FROM"
		case "RCPT":
			return "RCPT TO"
		}
	}
	return ""
}

// --- POP3 ---

func sayPOP3Command(c, s, line string) string {
	verb, arg := cutSpace(strings.TrimSpace(line))
	args := strings.Fields(arg)
	switch strings.ToUpper(verb) {
	case "USER":
		// Only what is plainly an address: a password typed in the
		// wrong place is not repeated.
		if len(args) == 1 && strings.Contains(args[0], "@") {
			return c + " gives the user name " + clip(args[0]) + " (USER)"
		}
		return c + " gives a user name (USER)"
	case "PASS":
		return c + " sends the password (PASS)" + notShown
	case "APOP":
		return c + " logs in with a digest instead of the password (APOP)"
	case "AUTH":
		if len(args) == 0 {
			return c + " asks which login methods there are (AUTH)"
		}
		return c + " logs in (AUTH " + clip(strings.ToUpper(args[0])) + ")" + notShown
	case "STLS":
		return c + " asks to encrypt the connection (STLS)"
	case "CAPA":
		return c + " asks what " + s + " can do (CAPA)"
	case "STAT":
		return c + " asks how many messages are waiting, and their size (STAT)"
	case "LIST":
		if len(args) > 0 && isNumber(args[0]) {
			return c + " asks the size of message " + args[0] + " (LIST)"
		}
		return c + " asks for the list of messages and their sizes (LIST)"
	case "RETR":
		if len(args) > 0 && isNumber(args[0]) {
			return c + " asks for message " + args[0] + ", all of it (RETR)"
		}
		return c + " asks for a message (RETR)"
	case "TOP":
		if len(args) > 1 && isNumber(args[0]) && isNumber(args[1]) {
			return c + " asks for the header of message " + args[0] + " and " + args[1] + " lines of its body (TOP)"
		}
		return c + " asks for the top of a message (TOP)"
	case "DELE":
		if len(args) > 0 && isNumber(args[0]) {
			return c + " marks message " + args[0] + " for deletion (DELE)"
		}
		return c + " marks a message for deletion (DELE)"
	case "UIDL":
		return c + " asks for each message's lasting id (UIDL)"
	case "NOOP":
		return c + " checks that " + s + " is still there (NOOP)"
	case "RSET":
		return c + " unmarks the messages marked for deletion (RSET)"
	case "QUIT":
		return c + " says goodbye; messages marked for deletion go now (QUIT)"
	case "*":
		return c + " cancels the login (*)"
	}
	return unknownClientLine(c, "a POP3 command", line)
}

func sayPOP3Reply(c, s, line string) string {
	switch {
	case line == ".":
		return s + " sends a line with a single dot: the list or message ends here"
	case line == "+" || strings.HasPrefix(line, "+ "):
		return s + " waits for the next login step (+)"
	}
	word, rest := cutSpace(line)
	switch strings.ToUpper(word) {
	case "+OK":
		return s + " " + pop3OK(c, rest) + " (+OK)"
	case "-ERR":
		code, text := bracketCode(rest)
		paren := " (-ERR)"
		if code != "" {
			paren = " (-ERR [" + clip(code) + "])"
		}
		return s + " " + pop3Err(code, text) + paren
	}
	if what := pop3Capability(strings.ToUpper(word), rest); what != "" {
		return s + " " + what + " (" + clip(strings.ToUpper(word)) + ")"
	}
	if isNumber(word) {
		return s + " lists message " + word
	}
	return s + " sends one line of a list"
}

func pop3OK(c, t string) string {
	switch {
	case containsFold(t, "POP3 server ready"), containsFold(t, "ready") && strings.Contains(t, "<"):
		return "greets " + c + ": ready to talk POP3"
	case containsFold(t, "tls"):
		return "agrees to encrypt the connection"
	case containsFold(t, "send PASS"):
		return "waits for the password"
	case containsFold(t, "'s maildrop has"):
		if n := numberBefore(t, " message"); n != "" {
			return "accepts the login: " + n + " " + plural(n, "message") + " waiting"
		}
		return "accepts the login"
	case containsFold(t, "maildrop has"):
		if n := numberBefore(t, " message"); n != "" {
			return "says " + n + " " + plural(n, "message") + " are in the mailbox"
		}
		return "says OK"
	case containsFold(t, "top of message"):
		return "sends the top of the message"
	case containsFold(t, "capability list"):
		return "lists what it can do"
	case containsFold(t, "SASL mechanisms"):
		return "lists the login methods it knows"
	case containsFold(t, "unique-id listing"):
		return "lists the lasting id of every message"
	case containsFold(t, "deleted"):
		if n := numberBefore(t, " deleted"); n != "" {
			return "marks message " + n + " for deletion"
		}
		return "marks the message for deletion"
	case containsFold(t, "signing off"):
		return "says goodbye and ends the session"
	}
	f := strings.Fields(t)
	switch {
	case len(f) == 2 && f[1] == "octets" && isNumber(f[0]):
		return "sends the message: " + bytesText(atoi(f[0]))
	case len(f) >= 2 && isNumber(f[0]) && strings.HasPrefix(f[1], "message"):
		return "lists " + f[0] + " " + plural(f[0], "message") + " and their sizes"
	case len(f) == 2 && isNumber(f[0]) && isNumber(f[1]):
		// The answer to STAT (LIST n has the same shape).
		return "answers: " + f[0] + " " + plural(f[0], "message") + ", " + bytesText(atoi(f[1]))
	case len(f) == 2 && isNumber(f[0]):
		return "gives message " + f[0] + "'s lasting id"
	}
	return "says OK"
}

func pop3Err(code, t string) string {
	switch strings.ToUpper(code) {
	case "AUTH":
		if aboutTLS(t) {
			return "refuses the login: encrypt the connection first"
		}
		return "refuses the login: wrong user name or password"
	case "IN-USE":
		return "refuses: another session has the mailbox open, try again later"
	case "SYS/TEMP":
		if containsFold(t, "failed logins") {
			return "refuses logins for now: too many failed attempts"
		}
		return "has a passing problem on its side: try again later"
	case "SYS/PERM":
		return "has a lasting problem with that mailbox"
	case "LOGIN-DELAY":
		return "refuses: that user logged in too recently"
	}
	switch {
	case containsFold(t, "unknown command"):
		return "does not know that command"
	case containsFold(t, "only valid after login"):
		return "refuses: log in first"
	case containsFold(t, "only valid before login"):
		return "refuses: that only works before logging in"
	case containsFold(t, "invalid user name or password"):
		return "refuses the login: wrong user name or password"
	case containsFold(t, "no such message"):
		return "has no such message"
	case containsFold(t, "already deleted"):
		return "says that message is already marked for deletion"
	case containsFold(t, "no longer exists"):
		return "says that message is gone: another session removed it"
	case containsFold(t, "cancelled"):
		return "confirms that the login is cancelled"
	case containsFold(t, "too long"):
		return "refuses: the line is too long"
	case containsFold(t, "send USER first"):
		return "refuses: give the user name with USER first"
	case containsFold(t, "STLS is not offered"):
		return "can not encrypt: it has no certificate"
	case containsFold(t, "TLS active"):
		return "refuses: the connection is already encrypted"
	case containsFold(t, "unsupported SASL"):
		return "does not offer that login method"
	case containsFold(t, " takes "), containsFold(t, "invalid number"):
		return "refuses: the command is not written correctly"
	}
	return "says no: the command failed"
}

func pop3Capability(kw, arg string) string {
	switch kw {
	case "TOP":
		return "can send just the top of a message"
	case "UIDL":
		return "gives each message a lasting id"
	case "USER":
		return "takes a login with USER and PASS"
	case "SASL":
		return "takes logins with AUTH"
	case "RESP-CODES":
		return "adds codes in brackets to its answers"
	case "PIPELINING":
		return "takes several commands at once"
	case "AUTH-RESP-CODE":
		return "says when a login fails because of the password"
	case "STLS":
		return "can encrypt the connection"
	case "IMPLEMENTATION":
		if f := strings.Fields(arg); len(f) > 0 {
			return "runs the software " + clip(f[0])
		}
		return "names its software"
	case "EXPIRE":
		return "says how long it keeps messages"
	case "LOGIN-DELAY":
		return "limits how often a user may log in"
	}
	return ""
}

// bracketCode splits "[IN-USE] text" into the code and the text.
func bracketCode(s string) (code, text string) {
	s = strings.TrimLeft(s, " ")
	if !strings.HasPrefix(s, "[") {
		return "", s
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return "", s
	}
	return strings.TrimSpace(s[1:end]), strings.TrimLeft(s[end+1:], " ")
}

// --- IMAP ---

func sayIMAPCommand(c, s, line string) string {
	tab := tab.get()
	tag, rest := cutSpace(strings.TrimSpace(line))
	if rest == "" {
		switch strings.ToUpper(tag) {
		case "*":
			return c + " cancels the login (*)"
		case "DONE":
			return c + " stops waiting for news (DONE)"
		}
		if tab.findFold("imap", KindCommand, tag) >= 0 {
			return c + " sends a command without a tag: every IMAP command needs one"
		}
		return unknownClientLine(c, "an IMAP command", line)
	}
	verb, args := cutSpace(rest)
	up := strings.ToUpper(verb)
	if tab.findFold("imap", KindCommand, up) < 0 {
		if tab.findFold("imap", KindCommand, tag) >= 0 {
			// "LOGIN bob secret": the words may hold a password.
			return c + " sends a command without a tag: every IMAP command needs one"
		}
		return unknownClientLine(c, "an IMAP command", line)
	}
	uid := false
	if up == "UID" {
		sub, subArgs := cutSpace(args)
		if sub != "" {
			up, args, uid = strings.ToUpper(sub), subArgs, true
		}
	}
	f := imapArgs(args)
	box := func(i int) string {
		if i < len(f) {
			return clip(f[i])
		}
		return "a mailbox"
	}
	switch up {
	case "LOGIN":
		if len(f) == 2 && strings.Contains(f[0], "@") {
			return c + " logs in as " + clip(f[0]) + " (LOGIN)" + notShown
		}
		return c + " logs in (LOGIN)" + notShown
	case "AUTHENTICATE":
		if len(f) > 0 {
			return c + " logs in (AUTHENTICATE " + clip(strings.ToUpper(f[0])) + ")" + notShown
		}
		return c + " logs in (AUTHENTICATE)" + notShown
	case "STARTTLS":
		return c + " asks to encrypt the connection (STARTTLS)"
	case "CAPABILITY":
		return c + " asks what " + s + " can do (CAPABILITY)"
	case "SELECT":
		return c + " opens the mailbox " + box(0) + " (SELECT)"
	case "EXAMINE":
		return c + " opens the mailbox " + box(0) + " to read only (EXAMINE)"
	case "FETCH":
		return c + " asks for " + imapFetchWhat(f, uid) + " (" + uidWord(uid) + "FETCH)"
	case "STORE":
		return c + " " + imapStoreWhat(f, uid) + " (" + uidWord(uid) + "STORE)"
	case "SEARCH":
		return c + " searches the mailbox for messages (" + uidWord(uid) + "SEARCH)"
	case "COPY", "MOVE":
		verb := "copies"
		if up == "MOVE" {
			verb = "moves"
		}
		return c + " " + verb + " " + imapSet(f, uid) + " to " + box(1) + " (" + uidWord(uid) + up + ")"
	case "EXPUNGE":
		return c + " removes the messages marked for deletion (" + uidWord(uid) + "EXPUNGE)"
	case "LIST":
		return c + " asks which mailboxes there are (LIST)"
	case "LSUB":
		return c + " asks which mailboxes it subscribes to (LSUB)"
	case "STATUS":
		return c + " asks about the mailbox " + box(0) + " without opening it (STATUS)"
	case "CREATE":
		return c + " creates the mailbox " + box(0) + " (CREATE)"
	case "DELETE":
		return c + " deletes the mailbox " + box(0) + " (DELETE)"
	case "RENAME":
		return c + " renames the mailbox " + box(0) + " to " + box(1) + " (RENAME)"
	case "SUBSCRIBE":
		return c + " subscribes to the mailbox " + box(0) + " (SUBSCRIBE)"
	case "UNSUBSCRIBE":
		return c + " unsubscribes from the mailbox " + box(0) + " (UNSUBSCRIBE)"
	case "APPEND":
		return c + " adds a message to the mailbox " + box(0) + " (APPEND)"
	case "CLOSE":
		return c + " closes the mailbox; messages marked for deletion go (CLOSE)"
	case "UNSELECT":
		return c + " closes the mailbox, deleting nothing (UNSELECT)"
	case "CHECK":
		return c + " asks " + s + " to save the mailbox's state (CHECK)"
	case "NOOP":
		return c + " asks whether there is news (NOOP)"
	case "IDLE":
		return c + " waits for " + s + " to push news (IDLE)"
	case "NAMESPACE":
		return c + " asks how mailbox names are organised (NAMESPACE)"
	case "ENABLE":
		return c + " switches on an extension (ENABLE)"
	case "ID":
		return c + " says which program it is (ID)"
	case "LOGOUT":
		return c + " says goodbye (LOGOUT)"
	}
	return c + " sends the " + clip(up) + " command"
}

func uidWord(uid bool) string {
	if uid {
		return "UID "
	}
	return ""
}

// imapArgs splits IMAP arguments into words, a "quoted string" being one
// word without its quotes.
func imapArgs(s string) []string {
	var out []string
	for s = strings.TrimLeft(s, " "); s != ""; s = strings.TrimLeft(s, " ") {
		if s[0] == '"' {
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			out = append(out, strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(s[1:min(end, len(s))]))
			s = s[min(end+1, len(s)):]
			continue
		}
		w, rest := cutSpace(s)
		out = append(out, w)
		s = rest
	}
	return out
}

// imapSet names the messages of a sequence set ("1", "1:3", "1:*").
func imapSet(f []string, uid bool) string {
	if len(f) == 0 {
		return "messages"
	}
	set := clip(f[0])
	if uid {
		if isNumber(set) {
			return "the message with UID " + set
		}
		return "the messages with UIDs " + set
	}
	if isNumber(set) {
		return "message " + set
	}
	return "messages " + set
}

func imapFetchWhat(f []string, uid bool) string {
	set := imapSet(f, uid)
	items := strings.ToUpper(strings.Join(f[min(1, len(f)):], " "))
	switch {
	case strings.Contains(items, "BODY.PEEK[]"), strings.Contains(items, "BINARY.PEEK[]"):
		return set + ", all of it, without marking it read"
	case strings.Contains(items, "BODY[]"), strings.Contains(items, "BINARY[]"), strings.Contains(items, "RFC822)"),
		strings.HasSuffix(items, "RFC822"), strings.Contains(items, "RFC822 "):
		return set + ", all of it"
	case strings.Contains(items, "HEADER"):
		return "the header of " + set
	case strings.Contains(items, "TEXT]"):
		return "the body of " + set
	case strings.Contains(items, "BODY["), strings.Contains(items, "BINARY["):
		return "part of " + set
	case items == "FLAGS", items == "(FLAGS)":
		return "the marks of " + set + ", such as read"
	}
	return "details of " + set
}

func imapStoreWhat(f []string, uid bool) string {
	set := imapSet(f, uid)
	if len(f) < 3 {
		return "changes the marks of " + set
	}
	op := strings.ToUpper(f[1])
	flag := strings.ToLower(strings.Trim(f[2], "()"))
	remove := strings.HasPrefix(op, "-")
	switch flag {
	case `\seen`:
		if remove {
			return "marks " + set + " as unread"
		}
		return "marks " + set + " as read"
	case `\deleted`:
		if remove {
			return "unmarks " + set + " for deletion"
		}
		return "marks " + set + " for deletion"
	case `\flagged`:
		if remove {
			return "takes the flag off " + set
		}
		return "flags " + set + " as important"
	case `\answered`:
		if remove {
			return "marks " + set + " as not answered"
		}
		return "marks " + set + " as answered"
	}
	return "changes the marks of " + set
}

func sayIMAPReply(c, s, line string) string {
	tab := tab.get()
	if line == "+" || strings.HasPrefix(line, "+ ") {
		if containsFold(line, "literal") {
			return s + " is ready for the data (+)"
		}
		return s + " waits for " + c + " to go on (+)"
	}
	if line == ")" {
		return s + " ends the data of that message"
	}
	tag, rest := cutSpace(line)
	word, rest := cutSpace(rest)
	up := strings.ToUpper(word)
	if tag != "*" {
		switch up {
		case "OK", "NO", "BAD":
		default:
			return s + " answers " + c
		}
		code, text := bracketCode(rest)
		codeWord, _ := cutSpace(code)
		codeWord = strings.ToUpper(codeWord)
		paren := " (" + up + ")"
		if codeWord != "" && codeWord != "CAPABILITY" {
			paren = " (" + up + " [" + clip(codeWord) + "])"
		}
		switch up {
		case "OK":
			return s + " " + imapOK(c, codeWord, text) + paren
		case "NO":
			return s + " " + imapNo(codeWord, text) + paren
		}
		if tab.findFold("imap", KindCommand, tag) >= 0 {
			return s + " does not understand: the command had no tag (BAD)"
		}
		if codeWord == "CLIENTBUG" {
			return s + " says the command was not written correctly" + paren
		}
		return s + " does not understand the command" + paren
	}
	if isNumber(word) {
		n := word
		what, more := cutSpace(rest)
		switch strings.ToUpper(what) {
		case "EXISTS":
			return s + " says the mailbox holds " + n + " " + plural(n, "message") + " (EXISTS)"
		case "RECENT":
			return s + " says " + n + " " + plural(n, "message") + " arrived since the last look (RECENT)"
		case "EXPUNGE":
			return s + " says message " + n + " is gone (EXPUNGE)"
		case "FETCH":
			if size, ok := literalSize(more); ok {
				return s + " sends message " + n + ": the next " + bytesText(int64(size)) + " are the message (FETCH)"
			}
			return s + " sends details of message " + n + " (FETCH)"
		}
		return s + " tells something about message " + n
	}
	code, text := bracketCode(rest)
	codeWord, codeArg := cutSpace(code)
	codeWord = strings.ToUpper(codeWord)
	switch up {
	case "OK":
		switch codeWord {
		case "UNSEEN":
			return s + " says message " + clip(codeArg) + " is the first one not read yet (UNSEEN)"
		case "UIDVALIDITY":
			return s + " gives the mailbox's id generation: saved ids stay valid while it stays the same (UIDVALIDITY)"
		case "UIDNEXT":
			return s + " says the next message will get UID " + clip(codeArg) + " (UIDNEXT)"
		case "PERMANENTFLAGS":
			return s + " says which marks " + c + " may set and keep (PERMANENTFLAGS)"
		case "HIGHESTMODSEQ":
			return s + " gives the mailbox's change counter (HIGHESTMODSEQ)"
		case "ALERT":
			return s + " has a warning for the user (ALERT)"
		}
		if containsFold(text, "ready") || containsFold(text, "IMAP4") {
			return s + " greets " + c + ": ready to talk IMAP (OK)"
		}
		if codeWord != "" && codeWord != "CAPABILITY" {
			return s + " adds a note (OK [" + clip(codeWord) + "])"
		}
		return s + " sends a note (OK)"
	case "NO":
		return s + " sends a warning (NO)"
	case "BAD":
		if strings.HasPrefix(text, "Every IMAP command starts with a tag") {
			return s + " explains: every command starts with a tag, such as a1 (BAD)"
		}
		return s + " complains about a line it could not read (BAD)"
	case "BYE":
		switch {
		case containsFold(text, "logging out"):
			return s + " says goodbye and closes the connection (BYE)"
		case containsFold(text, "failed logins"):
			return s + " hangs up: too many failed logins (BYE)"
		case containsFold(text, "shutting down"):
			return s + " is shutting down and hangs up (BYE)"
		case containsFold(text, "unknown command"):
			return s + " hangs up: that did not look like IMAP (BYE)"
		}
		return s + " closes the connection (BYE)"
	case "PREAUTH":
		return s + " greets " + c + ", already logged in (PREAUTH)"
	case "CAPABILITY":
		return s + " lists what it can do (CAPABILITY)"
	case "FLAGS":
		return s + " lists the marks a message can carry, such as read or deleted (FLAGS)"
	case "LIST", "LSUB":
		f := imapArgs(rest)
		if len(f) > 0 {
			return s + " names a mailbox: " + clip(f[len(f)-1]) + " (" + up + ")"
		}
		return s + " names a mailbox (" + up + ")"
	case "STATUS":
		f := imapArgs(rest)
		if len(f) > 0 {
			return s + " reports on the mailbox " + clip(f[0]) + " (STATUS)"
		}
		return s + " reports on a mailbox (STATUS)"
	case "SEARCH":
		if strings.TrimSpace(rest) == "" {
			return s + " finds no matching message (SEARCH)"
		}
		return s + " names the matching messages: " + clip(strings.TrimSpace(rest)) + " (SEARCH)"
	case "ESEARCH":
		return s + " answers the search (ESEARCH)"
	case "ENABLED":
		return s + " confirms the extensions switched on (ENABLED)"
	case "NAMESPACE":
		return s + " says how mailbox names are organised (NAMESPACE)"
	case "ID":
		return s + " says which program it is (ID)"
	}
	return s + " answers " + c
}

func imapOK(c, code, text string) string {
	tab := tab.get()
	switch {
	case code == "READ-WRITE":
		return "has opened the mailbox; " + c + " may change it"
	case code == "READ-ONLY":
		return "has opened the mailbox, to read only"
	case containsFold(text, "logged in"), containsFold(text, "authenticat"):
		return "accepts the login: " + c + " is logged in"
	case containsFold(text, "tls"):
		return "agrees to encrypt the connection"
	}
	verb, rest := cutSpace(text)
	if strings.EqualFold(rest, "completed") && tab.findFold("imap", KindCommand, verb) >= 0 {
		return "confirms the " + clip(strings.ToUpper(verb)) + " command worked"
	}
	return "confirms the command worked"
}

func imapNo(code, text string) string {
	switch code {
	case "AUTHENTICATIONFAILED":
		if containsFold(text, "too many") && !containsFold(text, "invalid") {
			return "refuses the login: too many failed attempts"
		}
		return "refuses the login: wrong user name or password"
	case "PRIVACYREQUIRED":
		return "refuses: encrypt the connection first"
	case "AUTHORIZATIONFAILED":
		return "refuses: one may only log in as oneself"
	case "NONEXISTENT":
		if containsFold(text, "message") {
			return "has no such message"
		}
		return "has no such mailbox"
	case "ALREADYEXISTS":
		return "says that mailbox already exists"
	case "TRYCREATE":
		return "has no such mailbox: create it first"
	case "CANNOT":
		switch {
		case containsFold(text, "SASL"), containsFold(text, "mechanism"):
			return "does not offer that login method"
		case containsFold(text, "read-only"):
			return "refuses: the mailbox is open to read only"
		}
		return "refuses: that can never work"
	case "UNAVAILABLE":
		return "has a passing problem: try again later"
	case "TOOBIG":
		if containsFold(text, "literal") {
			return "refuses: a literal is too big for this command"
		}
		return "refuses: the message is too big"
	case "LIMIT":
		if containsFold(text, "mailboxes") {
			return "refuses: this user has as many mailboxes as allowed"
		}
		return "refuses: a limit of the server is reached"
	case "SERVERBUG":
		return "fails because of a bug of its own"
	case "OVERQUOTA":
		return "refuses: the mailbox is full"
	}
	return "says no: the command failed"
}

// --- DNS and packets ---

// dnsQuestion reads "example.net. IN MX" (maybe with " (TCP)").
func dnsQuestion(text string) (qname, qtype string, ok bool) {
	f := strings.Fields(text)
	if len(f) < 3 || !strings.EqualFold(f[1], "IN") {
		return "", "", false
	}
	return domain(f[0]), strings.ToUpper(f[2]), true
}

// dnsAbout names what a question asks: " about example.net (MX)".
func dnsAbout(text string) string {
	if q, t, ok := dnsQuestion(text); ok {
		return " about " + clip(q) + " (" + clip(t) + ")"
	}
	return ""
}

func dnsRcodeParen(text string) string {
	tab := tab.get()
	w, _ := cutSpace(strings.TrimSpace(text))
	w = strings.TrimRight(w, ",")
	if tab.findFold("dns", KindRcode, w) >= 0 {
		return " (" + strings.ToUpper(w) + ")"
	}
	return ""
}

func sayDNS(e trace.Event) string {
	h, p := name(e.Host, "A resolver"), name(e.Peer, "the name server")
	switch e.Action {
	case "query":
		return sayDNSQuery(h, p, e.Text)
	case "answer":
		return sayDNSAnswer(p, e.Text, e.Records)
	case "error":
		t := e.Text
		switch {
		case strings.HasPrefix(t, "no answer from"):
			out := h + " gets no answer from " + p
			if _, after, ok := strings.Cut(t, " within "); ok && after != "" {
				out += " within " + clip(after)
			}
			return out + ": the question or its answer was lost"
		case strings.HasSuffix(t, "refused the connection"):
			return p + " refuses " + h + "'s connection: no DNS service there"
		case strings.HasSuffix(t, "is unreachable"):
			return h + " can not reach the name server " + p
		case strings.HasPrefix(t, "lookup abandoned"):
			return h + " gives up the lookup"
		}
		return h + " gets no answer from " + p
	case "served":
		// The name server's side: host answered peer.
		q, _, _ := strings.Cut(e.Text, " → ")
		about := dnsAbout(q)
		if strings.HasSuffix(e.Text, "dropped (fault)") {
			return h + " ignores " + name(e.Peer, "a resolver") + "'s question" + about + ": a fault makes it drop questions"
		}
		return h + " answers " + name(e.Peer, "a resolver") + "'s question" + about
	}
	return h + " and " + p + " exchange DNS messages"
}

func sayDNSQuery(h, p, text string) string {
	q, t, ok := dnsQuestion(text)
	if !ok {
		return h + " asks " + p + " a DNS question"
	}
	q = clip(q)
	how := ""
	if strings.Contains(text, "(TCP)") {
		how = ", over TCP"
	}
	var what string
	switch t {
	case "MX":
		what = "which server takes mail for " + q
	case "A":
		what = "for the address of " + q
	case "AAAA":
		what = "for the IPv6 address of " + q
	case "TXT":
		what = "for the text records of " + q
	case "PTR":
		what = "which name belongs to the address " + q
	case "NS":
		what = "which name servers serve " + q
	case "CNAME":
		what = "whether " + q + " is another name for a host"
	case "SOA":
		what = "who is in charge of the zone " + q
	default:
		what = "for the " + clip(t) + " records of " + q
	}
	return h + " asks " + p + " " + what + " (" + article(t) + " " + clip(t) + " query" + how + ")"
}

// article is "a" or "an" before a record type read out letter by letter.
func article(t string) string {
	if t != "" && strings.ContainsRune("AEFHILMNORSX", rune(t[0])) {
		return "an"
	}
	return "a"
}

type dnsRecord struct{ owner, rtype, data string }

func parseRecords(rrs []string) []dnsRecord {
	out := make([]dnsRecord, 0, len(rrs))
	for _, rr := range rrs {
		owner, _ := nextField(rr)
		rtype, rdata := recordType(rr)
		out = append(out, dnsRecord{domain(owner), strings.ToUpper(rtype), strings.TrimSpace(rdata)})
	}
	return out
}

func sayDNSAnswer(p, text string, records []string) string {
	rcode, _ := cutSpace(strings.TrimSpace(text))
	rcode = strings.ToUpper(strings.TrimRight(rcode, ","))
	switch rcode {
	case "NXDOMAIN":
		return p + " answers: that domain does not exist (NXDOMAIN)"
	case "SERVFAIL":
		return p + " can not answer: it failed on its side (SERVFAIL)"
	case "REFUSED":
		return p + " refuses to answer this question (REFUSED)"
	case "FORMERR":
		return p + " could not read the question (FORMERR)"
	case "NOTIMP":
		return p + " does not do this kind of question (NOTIMP)"
	case "NOERROR", "":
	default:
		return p + " answers with an error (" + clip(rcode) + ")"
	}
	truncated := ""
	if strings.Contains(text, "truncated") {
		truncated = "; the answer was cut short, too big for one packet"
	}
	rrs := parseRecords(records)
	var mx, addrs, cnames, other []dnsRecord
	for _, r := range rrs {
		switch r.rtype {
		case "MX":
			mx = append(mx, r)
		case "A", "AAAA":
			addrs = append(addrs, r)
		case "CNAME":
			cnames = append(cnames, r)
		default:
			other = append(other, r)
		}
	}
	switch {
	case len(mx) > 0:
		return p + " answers: " + sayMX(mx) + truncated
	case len(cnames) > 0:
		out := p + " answers: " + clip(cnames[0].owner) + " is another name for " + clip(domain(cnames[0].data))
		if len(addrs) > 0 {
			out += ", which is at " + clip(addrs[0].data)
		}
		return out + truncated
	case len(addrs) > 0:
		out := p + " answers: " + clip(addrs[0].owner) + " is at " + clip(addrs[0].data)
		if len(addrs) > 1 {
			out += " and " + strconv.Itoa(len(addrs)-1) + " more " + plural(strconv.Itoa(len(addrs)-1), "address")
		}
		return out + truncated
	}
	if strings.Contains(text, "referral") {
		return p + " answers: ask other name servers instead (a referral)" + truncated
	}
	if strings.Contains(text, " 0 answers") || len(other) == 0 || other[0].rtype == "SOA" {
		return p + " answers: there are no records of the kind asked for (NOERROR, empty)"
	}
	switch other[0].rtype {
	case "TXT":
		return p + " answers with the text records of " + clip(other[0].owner) + truncated
	case "PTR":
		return p + " answers: that address is named " + clip(domain(other[0].data)) + truncated
	case "NS":
		return p + " answers: " + clip(other[0].owner) + " is served by " + clip(domain(other[0].data)) + truncated
	}
	return p + " answers with " + strconv.Itoa(len(rrs)) + " " + plural(strconv.Itoa(len(rrs)), "record") + truncated
}

// sayMX tells where a domain's mail goes, best server first.
func sayMX(mx []dnsRecord) string {
	type host struct {
		pref int
		name string
	}
	var hosts []host
	for _, r := range mx {
		pref, target := cutSpace(r.data)
		n, err := strconv.Atoi(pref)
		if err != nil {
			continue
		}
		hosts = append(hosts, host{n, strings.TrimSpace(target)})
	}
	dom := clip(mx[0].owner)
	if len(hosts) == 0 {
		return "mail for " + dom + " has servers to go to"
	}
	slices.SortStableFunc(hosts, func(a, b host) int { return a.pref - b.pref })
	if len(hosts) == 1 && hosts[0].name == "." {
		return dom + " accepts no mail at all (null MX)"
	}
	out := "mail for " + dom + " goes to " + clip(domain(hosts[0].name))
	if len(hosts) > 1 {
		out += ", or else to " + clip(domain(hosts[1].name))
		if len(hosts) > 2 {
			out += " (and " + strconv.Itoa(len(hosts)-2) + " more)"
		}
	}
	return out
}

func sayPacket(e trace.Event) string {
	h, p := name(e.Host, "A host"), name(e.Peer, "another host")
	text, lost, isLost := strings.Cut(e.Text, " — lost: ")
	var out string
	switch {
	case e.Proto == "dns" && dnsRcodeParen(text) != "":
		out = h + " sends the answer back to " + p + " in one packet (UDP)"
	case e.Proto == "dns":
		if _, _, ok := dnsQuestion(text); ok {
			out = h + " sends the question to " + p + " in one packet (UDP)"
		} else {
			out = h + " sends a DNS message to " + p + " in one packet (UDP)"
		}
	default:
		out = h + " sends a packet to " + p + " (UDP)"
	}
	if isLost {
		out += ", but it is lost: " + clip(lost)
	}
	return out
}

// --- the queue, mailboxes, the journey ---

// queueID reads the id after "queue id " in a queue event's text.
func queueID(text string) string {
	_, after, ok := strings.Cut(text, "queue id ")
	if !ok {
		return ""
	}
	end := strings.IndexAny(after, ",: ")
	if end < 0 {
		end = len(after)
	}
	return clip(after[:end])
}

// queueDetail is what follows "queue id X: ".
func queueDetail(text string) string {
	_, after, ok := strings.Cut(text, "queue id ")
	if !ok {
		return text
	}
	if _, d, ok := strings.Cut(after, ": "); ok {
		return d
	}
	return ""
}

func sayQueue(e trace.Event) string {
	h := name(e.Host, "The mail server")
	id := queueID(e.Text)
	idParen := ""
	if id != "" {
		idParen = " (queue id " + id + ")"
	}
	t := e.Text
	switch e.Action {
	case "queued":
		if strings.Contains(t, "from <> to ") {
			_, to, _ := strings.Cut(t, "from <> to ")
			return h + " queues a delivery report for " + firstAddr(to) + idParen
		}
		return h + " queues the message and will deliver it" + idParen
	case "attempt":
		n, rest := "", ""
		if _, after, ok := strings.Cut(t, ", attempt "); ok {
			n, rest = cutSpace(after)
			n = strings.TrimRight(n, ",")
		}
		if _, host, ok := strings.Cut(rest, "on the open connection to "); ok {
			return h + " sends another waiting message over the open connection to " + clip(host) + " (attempt " + clip(n) + ")"
		}
		to := ""
		if a, ok := strings.CutPrefix(rest, "for "); ok {
			to = " to " + firstAddr(a)
		}
		if n == "1" || n == "" {
			return h + " tries to deliver the message" + to + attemptParen(n)
		}
		return h + " tries again to deliver the message" + to + attemptParen(n)
	case "deferred":
		addr, reason, _ := strings.Cut(queueDetail(t), ": ")
		out := h + " can not deliver the message yet"
		if addr != "" {
			out = h + " can not deliver to " + clip(addr) + " yet"
		}
		if !e.Next.IsZero() && !e.Time.IsZero() && e.Next.After(e.Time) {
			out += " and tries again in " + durationText(e.Next.Sub(e.Time))
		} else {
			out += " and will try again"
		}
		if why := whyNotDelivered(reason); why != "" {
			out += ": " + why
		}
		return out
	case "delivered":
		d := queueDetail(t)
		addr, via, _ := strings.Cut(d, " delivered via ")
		if via == e.Host && e.Host != "" {
			return h + " is done: the message for " + clip(addr) + " is in its mailbox here" + idParen
		}
		if via != "" {
			return h + " is done: it handed the message for " + clip(addr) + " to " + clip(via) + idParen
		}
		return h + " is done with the message" + idParen
	case "failed":
		addr, reason, _ := strings.Cut(queueDetail(t), " failed permanently: ")
		out := h + " gives up on the message for good"
		if addr != "" {
			out = h + " gives up on " + clip(addr) + " for good"
		}
		if why := whyNotDelivered(reason); why != "" {
			out += ": " + why
		}
		return out
	case "bounced", "warned":
		d := queueDetail(t)
		sender, rcpts := "", ""
		if _, after, ok := strings.Cut(d, " to <"); ok {
			sender, after, _ = strings.Cut(after, ">")
			if _, f, ok := strings.Cut(after, " for "); ok {
				rcpts, _, _ = strings.Cut(f, " (DSN")
			}
		}
		if sender == "" {
			sender = "the sender"
		}
		if e.Action == "warned" {
			return h + " warns " + clip(sender) + ": the message to " + firstAddr(rcpts) + " is late but still being tried"
		}
		return h + " sends a bounce to " + clip(sender) + ": the message could not reach " + firstAddr(rcpts)
	case "expired":
		if _, after, ok := strings.Cut(t, "undelivered after "); ok {
			d, _, _ := strings.Cut(after, ",")
			if dur, err := time.ParseDuration(d); err == nil {
				return h + " gives up: the message waited " + durationText(dur) + " and could not be delivered" + idParen
			}
		}
		return h + " gives up: the message waited too long" + idParen
	case "recovered":
		return h + " starts again and finds the message still in its queue" + idParen
	case "discarded":
		return h + " drops a bounce that can not be delivered: a bounce never bounces" + idParen
	case "forwarded":
		// "bob@example.net is forwarded to carol@example.com: ..."
		addr, rest, _ := strings.Cut(t, " is forwarded to ")
		to, _, _ := strings.Cut(rest, ": ")
		return h + " forwards the message for " + clip(addr) + " to " + clip(to) + ", unchanged and still from the original sender"
	case "list":
		// "list@lists.example.net is a mailing list: a copy goes to its 2 members (...)"
		addr, rest, _ := strings.Cut(t, " is a mailing list: ")
		n := ""
		if _, after, ok := strings.Cut(rest, " to its "); ok {
			n, _, _ = strings.Cut(after, " member")
		}
		members := "the members"
		if n != "" {
			members = "the " + clip(n) + " members"
		}
		return h + " copies the message to " + members + " of " + clip(addr) + ", with a Subject tag and a footer"
	case "loop":
		return h + " refuses the message: it has crossed too many servers, so it is caught in a mail loop"
	case "error":
		if strings.HasPrefix(t, "queueing the bounce") {
			return h + " can not queue the bounce"
		}
		return h + " has a problem storing its queue" + idParen
	}
	return h + "'s mail queue changes (" + clip(e.Action) + ")" + idParen
}

func attemptParen(n string) string {
	if n == "" {
		return ""
	}
	return " (attempt " + clip(n) + ")"
}

// whyNotDelivered tells a queue's reason for a recipient in plain words,
// or "" when it has none to give.
func whyNotDelivered(reason string) string {
	r := strings.TrimSpace(reason)
	r = strings.TrimPrefix(r, "gave up after ")
	if i := strings.Index(r, ": "); i >= 0 && strings.HasPrefix(reason, "gave up after ") {
		r = r[i+2:]
	}
	if reply, ok := parseSMTPReply(r); ok {
		tag := reply.code
		if reply.enh != "" {
			tag += " " + reply.enh
		}
		switch reply.code[0] {
		case '4':
			return "the receiving server says try again later (" + tag + ")"
		case '5':
			return "the receiving server refused it (" + tag + ")"
		}
		return "the receiving server answered " + tag
	}
	if d, ok := strings.CutPrefix(r, "DNS: "); ok {
		switch {
		case containsFold(d, "null MX"), containsFold(d, "accepts no mail"):
			return "the domain accepts no mail (null MX)"
		case strings.Contains(d, "NXDOMAIN"), containsFold(d, "no such domain"):
			return "the domain does not exist (NXDOMAIN)"
		case strings.Contains(d, "SERVFAIL"):
			return "the name server failed to answer (SERVFAIL)"
		case strings.Contains(d, "REFUSED"):
			return "the name server refused to answer (REFUSED)"
		case containsFold(d, "no answer from"):
			return "the name server does not answer"
		}
		return "the DNS lookup failed"
	}
	host, _ := cutSpace(r)
	switch {
	case containsFold(r, "no route to host"), containsFold(r, "unreachable"), containsFold(r, "network is down"):
		return clip(host) + " can not be reached"
	case containsFold(r, "connection refused"):
		return clip(host) + " refuses connections"
	case containsFold(r, "timeout"), containsFold(r, "timed out"):
		return clip(host) + " does not answer"
	case containsFold(r, "no address found"):
		return "the domain's mail servers have no address"
	case containsFold(r, "no mail exchanger"):
		return "no mail server of the domain can be reached"
	case containsFold(r, "no local delivery"):
		return "this host keeps no mailboxes"
	}
	return ""
}

func sayDeliver(e trace.Event) string {
	h := name(e.Host, "The mailbox store")
	user, box := mailboxParts(e.Mailbox)
	if user == "" {
		return h + " files the message in a mailbox"
	}
	return h + " files the message in " + user + "'s " + box
}

// mailboxParts splits "bob@example.net/INBOX".
func mailboxParts(mb string) (user, box string) {
	user, box, _ = strings.Cut(mb, "/")
	if box == "" {
		box = "mailbox"
	}
	return clip(user), clip(box)
}

// sayAuth tells a mail authentication step: a DKIM signature made, an
// SPF, DKIM or DMARC check, the verdict on the message.
func sayAuth(e trace.Event) string {
	h := name(e.Host, "The server")
	// The text leads with the method and result ("SPF pass: why").
	head, why, _ := strings.Cut(e.Text, ": ")
	f := strings.Fields(head)
	result := ""
	if len(f) >= 2 {
		result = f[1]
	}
	switch e.Action {
	case "dkim-sign":
		signed, _, _ := strings.Cut(e.Text, " with the key")
		return h + " signs the message with DKIM: " + clip(strings.TrimPrefix(signed, "signed "))
	case "spf":
		return h + " checks SPF: " + result + ", " + clip(why)
	case "dkim":
		return h + " checks the DKIM signature: " + result + ", " + clip(why)
	case "dmarc":
		return h + " checks DMARC: " + result + ", " + clip(why)
	case "verdict":
		verdict, _, _ := strings.Cut(e.Text, ": ")
		return h + " decides: " + clip(verdict)
	}
	return h + " checks the message's authentication: " + clip(e.Text)
}

func sayFetch(e trace.Event) string {
	h := name(e.Host, "The mailbox store")
	user, box := mailboxParts(e.Mailbox)
	what := "the message"
	t := strings.ToUpper(e.Text)
	switch {
	case strings.HasPrefix(t, "TOP "), strings.Contains(t, "HEADER"):
		what = "the top of a message"
	case strings.HasPrefix(t, "FETCH ") && !strings.Contains(t, "[]"):
		what = "part of a message"
	}
	how := ""
	if p := protoName(e.Proto); p != "" {
		how = " (" + p + ")"
	}
	if user == "" {
		return h + " hands out " + what + how
	}
	return h + " lets " + user + " read " + what + " in their " + box + how
}

func sayHop(e trace.Event) string {
	h, p := name(e.Host, "A mail server"), name(e.Peer, "the previous host")
	if e.Action == "received" {
		return h + " receives the message from " + p + " and adds a Received line to its header"
	}
	// "bob@example.net handed to mx.example.net by SMTP over TLS (250 …)"
	addr, rest, ok := strings.Cut(e.Text, " handed to ")
	if !ok {
		return h + " hands the message on to " + p
	}
	how := ""
	if _, by, ok := strings.Cut(rest, " by "); ok {
		by, _, _ = strings.Cut(by, " (")
		proto, tls := strings.CutSuffix(by, " over TLS")
		how = " (" + clip(proto)
		if tls {
			how += ", encrypted"
		}
		how += ")"
	}
	return h + " has handed the message for " + clip(addr) + " to " + p + how
}

func sayFault(e trace.Event) string {
	kind, rest := cutSpace(e.Text)
	h, p := name(e.Host, "a host"), name(e.Peer, "another host")
	port := "its port"
	if e.Port != 0 {
		port = "port " + strconv.Itoa(e.Port)
	}
	switch kind {
	case "host-down":
		return "A fault is set: " + h + " is switched off"
	case "host-up":
		return "A fault is cleared: " + h + " is switched on again"
	case "link-cut":
		return "A fault is set: the link between " + h + " and " + p + " is cut"
	case "link-restore":
		return "A fault is cleared: the link between " + h + " and " + p + " works again"
	case "port-refuse":
		return "A fault is set: " + h + " refuses every connection on " + port
	case "port-accept":
		return "A fault is cleared: " + h + " takes connections on " + port + " again"
	case "latency":
		f := strings.Fields(rest)
		if len(f) > 0 {
			return "A fault is set: every packet between " + h + " and " + p + " now takes " + clip(f[len(f)-1])
		}
		return "A fault is set: packets between " + h + " and " + p + " take longer"
	case "dns":
		// "dns ns.example servfail for example.net"
		f := strings.Fields(rest)
		mode, about := "", ""
		if len(f) > 1 {
			mode = f[1]
		}
		if len(f) > 3 && f[2] == "for" {
			about = " about " + clip(f[3])
		}
		switch mode {
		case "servfail":
			return "A fault is set: " + h + " fails every question" + about + " (SERVFAIL)"
		case "refused":
			return "A fault is set: " + h + " refuses every question" + about + " (REFUSED)"
		case "drop":
			return "A fault is set: " + h + " ignores every question" + about
		case "mended":
			return "A fault is cleared: " + h + " answers questions" + about + " again"
		}
		return "A fault is set on the name server " + h
	}
	return "A fault changes how " + h + " behaves"
}

func sayLesson(e trace.Event) string {
	switch e.Action {
	case "started":
		if _, title, ok := strings.Cut(e.Text, " started: "); ok && title != "" {
			return "The lesson begins: " + clip(title)
		}
		return "The lesson begins"
	case "done":
		return "The lesson is done: every check holds"
	case "progress":
		if _, after, ok := strings.Cut(e.Text, ": "); ok && strings.Contains(after, " checks hold") {
			return "Lesson progress: " + clip(after)
		}
		return "The lesson's checks change"
	}
	return "The lesson moves on"
}

// --- words ---

// name returns a host name for a sentence, or def when there is none.
func name(s, def string) string {
	if s == "" {
		return def
	}
	return clip(s)
}

// clip shortens a value copied into a sentence.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxValue {
		return s
	}
	cut := maxValue - 1
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// domain drops the final dot of a DNS name ("example.net." →
// "example.net"); the root stays ".".
func domain(s string) string {
	if len(s) > 1 {
		return strings.TrimSuffix(s, ".")
	}
	return s
}

// addrIn finds the first <address> in a text.
func addrIn(t string) string {
	for {
		i := strings.IndexByte(t, '<')
		if i < 0 {
			return ""
		}
		t = t[i+1:]
		j := strings.IndexByte(t, '>')
		if j < 0 {
			return ""
		}
		if a := t[:j]; strings.Contains(a, "@") && !strings.ContainsAny(a, " <") {
			return a
		}
		t = t[j+1:]
	}
}

// firstAddr names the first of a list of addresses ("a, b, c") and how
// many follow; it stops at the ", N bytes" of a queued event.
func firstAddr(list string) string {
	var addrs []string
	for a := range strings.SplitSeq(list, ", ") {
		a = strings.TrimSpace(a)
		if a == "" || strings.HasSuffix(a, " bytes") {
			break
		}
		addrs = append(addrs, strings.Trim(a, "<>"))
	}
	switch len(addrs) {
	case 0:
		return "the recipient"
	case 1:
		return clip(addrs[0])
	}
	return clip(addrs[0]) + " and " + strconv.Itoa(len(addrs)-1) + " more"
}

// numberBefore returns the number just before suffix in t ("has 2
// messages" → "2").
func numberBefore(t, suffix string) string {
	i := strings.Index(strings.ToLower(t), strings.ToLower(suffix))
	if i < 0 {
		return ""
	}
	f := strings.Fields(t[:i])
	if len(f) == 0 || !isNumber(f[len(f)-1]) {
		return ""
	}
	return f[len(f)-1]
}

func plural(n, word string) string {
	if n == "1" {
		return word
	}
	if strings.HasSuffix(word, "s") {
		return word + "es"
	}
	return word + "s"
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// bytesText says a size as people say it: "895 bytes", "10 MB".
func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatInt((n+1<<19)>>20, 10) + " MB"
	case n >= 10<<10:
		return strconv.FormatInt((n+1<<9)>>10, 10) + " KB"
	case n == 1:
		return "1 byte"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// durationText says a wait as people say it: "5 minutes", "2 hours",
// "5 days".
func durationText(d time.Duration) string {
	unit := func(n int64, word string) string {
		s := strconv.FormatInt(n, 10)
		return s + " " + plural(s, word)
	}
	switch {
	case d < time.Minute:
		return unit(int64(d.Round(time.Second)/time.Second), "second")
	case d < 2*time.Hour && d.Round(time.Minute)%time.Hour != 0:
		return unit(int64(d.Round(time.Minute)/time.Minute), "minute")
	case d < 48*time.Hour:
		return unit(int64(d.Round(time.Hour)/time.Hour), "hour")
	}
	return unit(int64(d.Round(24*time.Hour)/(24*time.Hour)), "day")
}

// literalSize reports an IMAP literal announced at the end of a line:
// {123} or {123+}.
func literalSize(line string) (int, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(line[i+1:len(line)-1], "+"))
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
