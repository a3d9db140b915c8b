package explain

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mailhop/mailhop/sim/trace"
)

// Notes for a block of lines (a message body, an IMAP literal), which are
// data rather than protocol.
const (
	noteSMTPMessage = "the message itself (its content): header fields, a blank line, then the body (RFC 5322 §2.1); " +
		"the envelope (MAIL FROM, RCPT TO) travels apart from it, so From:, To: and Cc: here are only what the reader sees (RFC 5321 §2.3.1)"
	noteSMTPStuffed = noteSMTPMessage + "; a line that starts with a dot is sent with one more dot, which the server removes (RFC 5321 §4.5.2)"
	notePOP3Message = "the message itself, as the mailbox holds it: header fields, a blank line, then the body (RFC 5322 §2.1)"
	notePOP3Stuffed = notePOP3Message + "; a line that starts with a dot is sent with one more dot, which the client removes (RFC 1939 §3)"
	noteIMAPLiteral = "a literal: data sent as exactly the number of octets announced in {n} before it — here most often a message: header fields, a blank line, the body (RFC 9051 §4.3)"
)

// Notes for replies whose code alone would point the wrong way: the
// reply's text, or the shape of the line, tells the cause.
const (
	// "250 2.0.0 Ok: queued as 4F2A9C", the answer to the final dot.
	noteSMTPQueued = "250: the message is accepted and queued: with this reply to the final dot the server has taken responsibility for delivering it, and it names the queue id it gave the message (RFC 5321 §4.2.5)"
	// "-ERR [AUTH] login refused on an unencrypted connection …"
	notePOP3AuthTLS = "login is refused because the connection is not encrypted, not because of the user name or password: send STLS first (RFC 2595 §4), or connect to the TLS port, so the password travels inside TLS; [AUTH] (RFC 3206 §5) says the login itself was refused, not the server"
	// "LOGIN bob bob": the tag is missing.
	noteIMAPNoTagCommand = "this command has no tag: every IMAP command starts with a tag the client chooses, then the command, e.g. a1 LOGIN bob bob; a server may take the first word for the tag and end the connection, mailhop's says so and keeps it (RFC 9051 §2.2.1)"
	// "* BAD Every IMAP command starts with a tag …", mailhop's answer to it.
	noteIMAPNoTagHelp = "untagged BAD: the last command had no tag, so the server can not answer it by its tag; it says how a command is written and keeps the connection open: type it again with a tag, e.g. a1 LOGIN bob bob (RFC 9051 §2.2.1, §7.1.3)"
	// "LOGIN BAD Unknown command", the answer to it.
	noteIMAPNoTagReply = "BAD: the command had no tag, so the server took its first word as the tag (it is repeated here) and the next word as an unknown command. Every IMAP command starts with a tag the client chooses, e.g. a1 LOGIN bob bob (RFC 9051 §2.2.1)"
	// "* BYE Unknown command".
	noteIMAPByeUnknown = "the server closes the connection because of an unknown command before login: the client is taken not to speak IMAP at all, a defence against cross-protocol attacks; reconnect and start every command with a tag, e.g. a1 LOGIN bob bob (RFC 9051 §7.1.5, §2.2.1)"
)

// bareLF is what package netx appends to a line that ended in LF alone.
const bareLF = " ⟨bare LF⟩"

// Line returns the note for one protocol line: what it means for a
// learner, with its RFC section, or "" when there is nothing useful to say.
// proto is "smtp" (also for submission), "lmtp", "pop3" or "imap";
// fromClient tells a command from a reply.
//
// A reply is explained by its code — and its enhanced status code or
// response code in brackets, when there is one ("550 5.1.1 …" gets both
// meanings); a command by its verb (IMAP: after the tag, and "UID FETCH"
// is FETCH by UID). A line of an EHLO or CAPA answer is explained by its
// keyword. A block of several lines (text with "\n": a message, an IMAP
// literal) gets one note for the whole block.
func Line(proto string, fromClient bool, line string) string {
	if strings.IndexByte(line, '\n') >= 0 {
		return blockNote(proto, fromClient, line)
	}
	line = strings.TrimSuffix(line, bareLF)
	switch proto {
	case "smtp", "lmtp":
		if fromClient {
			return smtpCommand(proto, line)
		}
		return smtpReply(proto, line)
	case "pop3":
		if fromClient {
			return command("pop3", line)
		}
		return pop3Reply(line)
	case "imap":
		if fromClient {
			return imapCommand(line)
		}
		return imapReply(line)
	}
	return ""
}

// Annotate fills in the Note of an event that has none: wire events of
// SMTP, LMTP, POP3 and IMAP (dir "send" is the client, "recv" the server)
// and DNS answers. Other events are left as they are. It is meant for
// trace.Recorder.SetAnnotator, which calls it for every event, under the
// recorder's lock: it does not allocate except to join two explanations.
func Annotate(e *trace.Event) {
	if e == nil || e.Note != "" {
		return
	}
	e.Note = Note(*e)
}

// Note returns the note Annotate would give e (its current Note
// notwithstanding); Explain gives it with the event's sentence.
func Note(e trace.Event) string {
	switch e.Kind {
	case trace.KindWire:
		switch e.Dir {
		case trace.Send:
			return Line(e.Proto, true, e.Text)
		case trace.Recv:
			return Line(e.Proto, false, e.Text)
		}
	case trace.KindDNS:
		if e.Action != "query" {
			return dnsNote(e.Action, e.Text, e.Records)
		}
	}
	return ""
}

// Reply returns the entry that explains a reply or a code found in one:
//
//   - smtp, lmtp: a reply code ("550"), or an enhanced status code
//     ("5.1.1", explained by its class and detail); a code without an
//     entry of its own is explained by its class ("299" → "2yz");
//   - pop3: "+OK", "-ERR", or a response code ("IN-USE" or "[IN-USE]");
//   - imap: "OK", "* BYE", "EXISTS", or a response code ("UIDVALIDITY");
//   - dns: an rcode ("NXDOMAIN") or a record type ("MX").
//
// Case does not matter. ok is false when nothing explains code.
func Reply(proto, code string) (e Entry, ok bool) {
	tab := tab.get()
	code = strings.TrimSpace(code)
	if strings.HasPrefix(code, "[") && strings.HasSuffix(code, "]") {
		code = code[1 : len(code)-1]
	}
	if code == "" {
		return Entry{}, false
	}
	kinds := [2]string{KindReply, KindStatus}
	switch proto {
	case "smtp", "lmtp":
		if class, subject, _, ok := parseEnhanced(code); ok {
			return enhancedEntry(code, class, subject), true
		}
		if isReplyCode(code) && tab.find(proto, KindReply, code) < 0 {
			if i := tab.digit[code[0]-'0']; i >= 0 {
				return tab.entries[i], true
			}
			return Entry{}, false
		}
	case "pop3", "imap":
	case "dns":
		kinds = [2]string{KindRcode, KindType}
	default:
		return Entry{}, false
	}
	for _, kind := range kinds {
		if i := tab.findFold(proto, kind, code); i >= 0 {
			return tab.entries[i], true
		}
	}
	return Entry{}, false
}

// enhancedEntry composes the entry for an enhanced status code from its
// class and the most precise of detail and subject that is known.
func enhancedEntry(code string, class byte, subject string) Entry {
	tab := tab.get()
	e := Entry{Proto: "smtp", Kind: KindStatus, Key: code}
	c := tab.class[class-'0']
	if i, ok := tab.detail[code[2:]]; ok {
		e.Summary, e.RFC = classWord(class)+" — "+tab.entries[i].Summary, tab.entries[i].RFC
	} else if i, ok := tab.subject[subject]; ok {
		e.Summary, e.RFC = classWord(class)+" — "+tab.entries[i].Summary, tab.entries[i].RFC
	} else {
		e.Summary, e.RFC = tab.entries[c].Summary, tab.entries[c].RFC
	}
	return e
}

// classWord names the class of an enhanced status code (RFC 3463 §2).
func classWord(class byte) string {
	switch class {
	case '2':
		return "success"
	case '4':
		return "temporary failure"
	}
	return "permanent failure"
}

// --- SMTP and LMTP ---

func smtpCommand(proto, line string) string {
	tab := tab.get()
	verb, rest := cutSpace(line)
	i := tab.findFold(proto, KindCommand, verb)
	if i < 0 {
		return ""
	}
	if tab.entries[i].Key == "MAIL" && nullSender(rest) {
		i = tab.find("smtp", KindCommand, "MAIL FROM:<>")
	}
	return tab.notes[i]
}

// nullSender reports whether MAIL's argument is the null reverse-path.
func nullSender(arg string) bool {
	arg = strings.TrimLeft(arg, " ")
	if len(arg) < 5 || !strings.EqualFold(arg[:5], "FROM:") {
		return false
	}
	return strings.HasPrefix(strings.TrimLeft(arg[5:], " "), "<>")
}

func smtpReply(proto, line string) string {
	tab := tab.get()
	if len(line) < 3 || !isReplyCode(line[:3]) || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
		return ""
	}
	code, text := line[:3], ""
	if len(line) > 4 {
		text = line[4:]
	}
	word, _ := cutSpace(text)
	if code == "250" && strings.Contains(text, "queued as") {
		return noteSMTPQueued
	}
	if code == "250" {
		// A line of the answer to EHLO or LHLO: "250-SIZE 10240000",
		// "250 AUTH PLAIN LOGIN" (old servers: "AUTH=PLAIN").
		kw, _, _ := strings.Cut(word, "=")
		if i := tab.findFold(proto, KindKeyword, kw); i >= 0 {
			return tab.notes[i]
		}
	}
	i := tab.find(proto, KindReply, code)
	if i < 0 {
		i = tab.digit[code[0]-'0']
		if i < 0 {
			return ""
		}
	}
	if class, subject, _, ok := parseEnhanced(word); ok {
		return joinEnhanced(code, tab.notes[i], word, class, subject)
	}
	if code == "334" {
		if n, ok := tab.special[line]; ok {
			return n
		}
	}
	return tab.notes[i]
}

func isReplyCode(s string) bool {
	return len(s) == 3 && '2' <= s[0] && s[0] <= '5' && isDigit(s[1]) && isDigit(s[2])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseEnhanced splits an enhanced status code, class "." subject "."
// detail, each of 1 to 3 digits, the class 2, 4 or 5 (RFC 3463 §2).
func parseEnhanced(s string) (class byte, subject, detail string, ok bool) {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return 0, "", "", false
	}
	subject, detail, found := strings.Cut(s[2:], ".")
	if !found || !digits(subject) || !digits(detail) {
		return 0, "", "", false
	}
	return s[0], subject, detail, true
}

// isNumber reports whether s is a decimal number.
func isNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// digits reports whether s is a sub-code of an enhanced status code: 1 to
// 3 digits.
func digits(s string) bool {
	if len(s) == 0 || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// joinEnhanced builds "550: … (RFC 5321 §4.2.3); 5.1.1: permanent
// failure — … (RFC 3463 §3.2)" in one allocation.
func joinEnhanced(code, replyNote, status string, class byte, subject string) string {
	// Every traced reply comes here: the few combinations in use are
	// built once.
	key := enhancedKey{code, status}
	if v, ok := joined.Load(key); ok {
		return v.(string)
	}
	note := buildEnhanced(code, replyNote, status, class, subject)
	if joinedCount.Add(1) <= maxJoined {
		joined.Store(enhancedKey{strings.Clone(code), strings.Clone(status)}, note)
	}
	return note
}

type enhancedKey struct{ code, status string }

// joined caches joinEnhanced; read-only data shared by every world, like
// the tables, and bounded.
var (
	joined      sync.Map
	joinedCount atomic.Int64
)

const maxJoined = 4096

func buildEnhanced(code, replyNote, status string, class byte, subject string) string {
	tab := tab.get()
	word := classWord(class)
	sep := " — "
	var what string
	// status[2:] is "subject.detail": the detail table's key, no copy needed.
	if i, ok := tab.detail[status[2:]]; ok {
		what = tab.notes[i]
	} else if i, ok := tab.subject[subject]; ok {
		what = tab.notes[i]
	} else if c := tab.class[class-'0']; c >= 0 {
		word, sep, what = "", "", tab.notes[c]
	}
	var b strings.Builder
	b.Grow(len(code) + 2 + len(replyNote) + 2 + len(status) + 2 + len(word) + len(sep) + len(what))
	b.WriteString(code)
	b.WriteString(": ")
	b.WriteString(replyNote)
	b.WriteString("; ")
	b.WriteString(status)
	b.WriteString(": ")
	b.WriteString(word)
	b.WriteString(sep)
	b.WriteString(what)
	return b.String()
}

// --- POP3 ---

// command explains a client line by its first word (POP3).
func command(proto, line string) string {
	tab := tab.get()
	verb, _ := cutSpace(line)
	if i := tab.findFold(proto, KindCommand, verb); i >= 0 {
		return tab.notes[i]
	}
	return ""
}

func pop3Reply(line string) string {
	tab := tab.get()
	switch {
	case line == ".":
		return note("pop3", KindReply, ".")
	case line == "+" || strings.HasPrefix(line, "+ "):
		return note("pop3", KindReply, "+")
	}
	word, rest := cutSpace(line)
	if strings.EqualFold(word, "+OK") || strings.EqualFold(word, "-ERR") {
		return withCode("pop3", tab.findFold("pop3", KindReply, word), rest)
	}
	// A line of the answer to CAPA: "SASL PLAIN", "TOP".
	if i := tab.findFold("pop3", KindKeyword, word); i >= 0 {
		return tab.notes[i]
	}
	return ""
}

// withCode returns the note of reply i, joined with the note of the
// response code in brackets that starts rest, if it has one.
func withCode(proto string, i int, rest string) string {
	tab := tab.get()
	if i < 0 {
		return ""
	}
	rest = strings.TrimLeft(rest, " ")
	if !strings.HasPrefix(rest, "[") {
		return tab.notes[i]
	}
	end := strings.IndexAny(rest, " ]")
	if end < 0 {
		return tab.notes[i]
	}
	s := tab.findFold(proto, KindStatus, rest[1:end])
	if s < 0 {
		return tab.notes[i]
	}
	key := tab.entries[s].Key
	if proto == "pop3" && key == "AUTH" && aboutTLS(rest) {
		return notePOP3AuthTLS
	}
	var b strings.Builder
	b.Grow(len(tab.notes[i]) + 4 + len(key) + 3 + len(tab.notes[s]))
	b.WriteString(tab.notes[i])
	b.WriteString("; [")
	b.WriteString(key)
	b.WriteString("]: ")
	b.WriteString(tab.notes[s])
	return b.String()
}

// --- IMAP ---

func imapCommand(line string) string {
	tab := tab.get()
	tag, rest := cutSpace(line)
	if rest == "" {
		// Untagged lines: "*" cancels AUTHENTICATE, "DONE" ends IDLE.
		if tag == "*" || strings.EqualFold(tag, "DONE") {
			return note("imap", KindCommand, strings.ToUpper(tag))
		}
		if tab.findFold("imap", KindCommand, tag) >= 0 {
			return noteIMAPNoTagCommand // "CAPABILITY", without a tag
		}
		return ""
	}
	verb, args := cutSpace(rest)
	i := tab.findFold("imap", KindCommand, verb)
	if i < 0 && tag != "*" && tab.findFold("imap", KindCommand, tag) >= 0 {
		return noteIMAPNoTagCommand
	}
	if i < 0 || tag == "*" || tag == "+" {
		return ""
	}
	if tab.entries[i].Key == "UID" {
		sub, _ := cutSpace(args)
		if j := tab.findFold("imap", KindCommand, sub); j >= 0 {
			if n, ok := tab.uid[j]; ok {
				return n
			}
		}
	}
	return tab.notes[i]
}

func imapReply(line string) string {
	tab := tab.get()
	if line == "+" || strings.HasPrefix(line, "+ ") {
		return note("imap", KindReply, "+")
	}
	tag, rest := cutSpace(line)
	word, rest := cutSpace(rest)
	if tag != "*" {
		// Tagged: the completion of the command with that tag.
		if strings.EqualFold(word, "BAD") && tab.findFold("imap", KindCommand, tag) >= 0 {
			return noteIMAPNoTagReply
		}
		if strings.EqualFold(word, "OK") || strings.EqualFold(word, "NO") || strings.EqualFold(word, "BAD") {
			return withCode("imap", tab.findFold("imap", KindReply, word), rest)
		}
		return ""
	}
	if isNumber(word) {
		// "* 3 EXISTS", "* 1 FETCH (FLAGS (\Seen))": a number, then the response.
		name, _ := cutSpace(rest)
		if i := tab.findFold("imap", KindReply, name); i >= 0 {
			return tab.notes[i]
		}
		return ""
	}
	var key string
	switch {
	case strings.EqualFold(word, "OK"):
		key = "* OK"
	case strings.EqualFold(word, "NO"):
		key = "* NO"
	case strings.EqualFold(word, "BAD"):
		if strings.HasPrefix(rest, "Every IMAP command starts with a tag") {
			return noteIMAPNoTagHelp
		}
		key = "* BAD"
	case strings.EqualFold(word, "BYE"):
		if strings.HasPrefix(rest, "Unknown command") {
			return noteIMAPByeUnknown
		}
		key = "* BYE"
	case strings.EqualFold(word, "PREAUTH"):
		key = "* PREAUTH"
	default:
		// "* CAPABILITY …", "* FLAGS (…)", "* LIST (…) "/" INBOX".
		if i := tab.findFold("imap", KindReply, word); i >= 0 {
			return tab.notes[i]
		}
		return ""
	}
	return withCode("imap", tab.find("imap", KindReply, key), rest)
}

// --- blocks ---

func blockNote(proto string, fromClient bool, text string) string {
	stuffed := strings.HasPrefix(text, "..") || strings.Contains(text, "\n..")
	switch {
	case (proto == "smtp" || proto == "lmtp") && fromClient:
		if stuffed {
			return noteSMTPStuffed
		}
		return noteSMTPMessage
	case proto == "pop3" && !fromClient:
		if stuffed {
			return notePOP3Stuffed
		}
		return notePOP3Message
	case proto == "imap":
		return noteIMAPLiteral
	}
	return ""
}

// --- DNS ---

// dnsNote explains a DNS event from its text (the question, "example.net.
// IN MX", and maybe the outcome, "→ NOERROR, 1 answer") and its records,
// as dig prints them. Only what the event shows is explained: an empty
// answer is called one only when the text says NOERROR.
func dnsNote(action, text string, records []string) string {
	tab := tab.get()
	var qtype, rcode string
	for rest := text; rest != ""; {
		var f string
		f, rest = nextField(rest)
		f = strings.TrimRight(f, ",;:")
		switch {
		case f == "":
		case strings.EqualFold(f, "IN") && qtype == "":
			qtype, _ = nextField(rest)
		case rcode == "" && f != "NODATA" && tab.findFold("dns", KindRcode, f) >= 0:
			rcode = f
		}
	}
	if rcode != "" && !strings.EqualFold(rcode, "NOERROR") {
		return note("dns", KindRcode, strings.ToUpper(rcode))
	}
	if action == "error" {
		return ""
	}
	var matching, cnames int
	var nullMX bool
	var first string
	for _, r := range records {
		rtype, rdata := recordType(r)
		if first == "" {
			first = rtype
		}
		switch {
		case strings.EqualFold(rtype, qtype):
			matching++
			if strings.EqualFold(rtype, "MX") && lastField(rdata) == "." {
				nullMX = true
			}
		case strings.EqualFold(rtype, "CNAME"):
			cnames++
		}
	}
	known := qtype != "" && tab.findFold("dns", KindType, qtype) >= 0
	switch {
	case !known:
		if first != "" {
			return noteFold("dns", KindType, first)
		}
		return ""
	case nullMX:
		return note("dns", KindType, "MX 0 .")
	case matching > 0:
		return noteFold("dns", KindType, qtype)
	case cnames > 0:
		return note("dns", KindType, "CNAME")
	case rcode == "":
		return ""
	case strings.Contains(text, "referral"):
		// Not an answer yet: the servers to ask next.
		return note("dns", KindType, "NS")
	case strings.EqualFold(qtype, "MX"):
		return note("dns", KindType, "NO MX")
	}
	return note("dns", KindRcode, "NODATA")
}

// recordType returns the type of a record as dig prints it
// ("example.net. 3600 IN MX 10 mx.example.net.") and its data.
func recordType(rr string) (rtype, rdata string) {
	for rest := rr; rest != ""; {
		var f string
		f, rest = nextField(rest)
		if strings.EqualFold(f, "IN") {
			return nextField(rest)
		}
	}
	return "", ""
}

func lastField(s string) string {
	s = strings.TrimRight(s, " \t")
	if i := strings.LastIndexAny(s, " \t"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// --- helpers ---

// note returns the note of the entry with exactly this key, or "".
func note(proto, kind, key string) string {
	tab := tab.get()
	if i := tab.find(proto, kind, key); i >= 0 {
		return tab.notes[i]
	}
	return ""
}

func noteFold(proto, kind, key string) string {
	tab := tab.get()
	if i := tab.findFold(proto, kind, key); i >= 0 {
		return tab.notes[i]
	}
	return ""
}

// aboutTLS reports whether a refusal's text blames the missing
// encryption ("unencrypted connection", "TLS", Dovecot's "Plaintext
// authentication disallowed"), in any case, without allocating.
func aboutTLS(s string) bool {
	for _, w := range []string{"encrypt", "tls", "plaintext", "ssl"} {
		if containsFold(s, w) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the lower-case ASCII word w, in
// any case.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// cutSpace splits s at its first space: the first word and the rest.
func cutSpace(s string) (word, rest string) {
	word, rest, _ = strings.Cut(s, " ")
	return word, rest
}

// nextField returns the first field of s, fields being separated by spaces
// or tabs, and what follows it.
func nextField(s string) (field, rest string) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	s = s[i:]
	j := 0
	for j < len(s) && s[j] != ' ' && s[j] != '\t' {
		j++
	}
	return s[:j], s[j:]
}
