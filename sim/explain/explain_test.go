package explain

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/trace"
)

// lineCases are lines of real sessions and what their note must say: every
// string of want must appear in it (ignoring case), none of not; want nil
// means no note at all.
var lineCases = []struct {
	proto  string
	client bool
	line   string
	want   []string
	not    []string
}{
	// SMTP replies.
	{"smtp", false, "220 mx.example.net ESMTP mailhop", []string{"greeting", "RFC 5321 §4.2.3"}, nil},
	{"smtp", false, "250 2.1.0 Ok", []string{"250:", "requested mail action okay", "2.1.0: success", "envelope sender", "RFC 3463 §3.2"}, nil},
	{"smtp", false, "250 2.1.5 Ok", []string{"envelope recipient"}, nil},
	{"smtp", false, "250 2.0.0 Ok: queued as 4F2A9C", []string{"accepted and queued", "responsibility", "RFC 5321 §4.2.5"}, []string{"undefined"}},
	{"smtp", false, "250 2.0.0 Ok", []string{"250:", "2.0.0: success", "RFC 3463 §3.1"}, []string{"undefined"}},
	{"smtp", false, "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown",
		[]string{"550:", "mailbox unavailable", "5.1.1: permanent failure", "does not exist", "RFC 5321 §4.2.3", "RFC 3463 §3.2"}, nil},
	{"smtp", false, "550 5.7.1 Relaying denied", []string{"relaying denied", "policy", "RFC 3463 §3.8"}, nil},
	{"smtp", false, "554 5.7.1 <bob@example.com>: Relay access denied", []string{"transaction failed", "relaying"}, nil},
	{"smtp", false, "556 5.1.10 Recipient address has null MX", []string{"does not accept mail", "null MX", "RFC 7504 §4", "RFC 7505 §4.1"}, nil},
	{"smtp", false, "550 5.7.27 Sender address has null MX", []string{"sender address has null MX", "RFC 7505 §4.2"}, nil},
	{"smtp", false, "421 4.4.2 mx.example.net Error: timeout exceeded", []string{"try again later", "temporary failure", "bad connection"}, nil},
	{"smtp", false, "451 4.4.1 No answer from host", []string{"local error", "no answer from host"}, nil},
	{"smtp", false, "450 4.7.0 Greylisted, try again", []string{"greylisting", "4.7.0: temporary failure"}, nil},
	{"smtp", false, "452 4.5.3 Too many recipients", []string{"too many recipients", "RFC 3463 §3.6"}, nil},
	{"smtp", false, "552 5.3.4 Message size exceeds fixed limit", []string{"storage allocation", "too big"}, nil},
	{"smtp", false, "552-5.2.2 The email account that you tried to reach is over quota", []string{"mailbox full", "temporary"}, nil},
	{"smtp", false, "501 5.5.2 Syntax error", []string{"parameters or arguments", "could not be interpreted"}, nil},
	{"smtp", false, "503 5.5.1 Error: need RCPT command", []string{"bad sequence", "out of sequence"}, nil},
	{"smtp", false, "235 2.7.0 Authentication successful", []string{"logged in", "RFC 4954 §6", "2.7.0"}, nil},
	{"smtp", false, "535 5.7.8 Error: authentication failed", []string{"wrong user name or password"}, nil},
	{"smtp", false, "538 5.7.11 Encryption required for requested authentication mechanism", []string{"encryption required", "STARTTLS"}, nil},
	{"smtp", false, "530 5.7.0 Must issue a STARTTLS command first", []string{"authentication required", "RFC 3207 §4"}, nil},
	{"smtp", false, "454 4.7.0 TLS not available due to local problem", []string{"TLS is not available", "temporary"}, nil},
	{"smtp", false, "521 5.3.2 nomail.example does not accept mail", []string{"does not accept mail at all", "RFC 7504 §3"}, nil},
	{"smtp", false, "354 End data with <CR><LF>.<CR><LF>", []string{"single dot", "start mail input"}, nil},
	{"smtp", false, "354 3.0.0 go ahead", []string{"start mail input"}, []string{"3.0.0"}}, // no 3.X.X class (RFC 2034, RFC 3463 §2)
	{"smtp", false, "334 ", []string{"authentication challenge", "RFC 4954 §4"}, nil},
	{"smtp", false, "334 UGFzc3dvcmQ6", []string{"\"Password:\"", "AUTH LOGIN"}, nil},
	{"smtp", false, "221 2.0.0 Bye", []string{"closing", "QUIT"}, nil},
	{"smtp", false, "252 2.0.0 Cannot VRFY user", []string{"cannot verify"}, nil},
	{"smtp", false, "599 5.9.99 made up", []string{"permanent negative completion", "RFC 5321 §4.2.1", "5.9.99", "RFC 3463 §2"}, nil},
	{"smtp", false, "250-mail.example.org Hello alice-pc", []string{"requested mail action okay"}, nil},
	{"smtp", false, "250-PIPELINING", []string{"without waiting", "RFC 2920"}, nil},
	{"smtp", false, "250-SIZE 10240000", []string{"largest message", "RFC 1870"}, nil},
	{"smtp", false, "250-8BITMIME", []string{"8-bit"}, nil},
	{"smtp", false, "250-ENHANCEDSTATUSCODES", []string{"RFC 2034"}, nil},
	{"smtp", false, "250-STARTTLS", []string{"TLS", "RFC 3207 §3"}, nil},
	{"smtp", false, "250-AUTH PLAIN LOGIN", []string{"SASL mechanisms", "RFC 4954 §3"}, nil},
	{"smtp", false, "250-AUTH=PLAIN LOGIN", []string{"SASL mechanisms"}, nil},
	{"smtp", false, "250 SMTPUTF8", []string{"UTF-8"}, nil},
	{"smtp", false, "250 CHUNKING", []string{"BDAT"}, nil},
	{"smtp", false, "250 DSN", []string{"delivery status notifications"}, nil},
	{"smtp", false, "hello there", nil, nil},
	{"smtp", false, "2500 odd", nil, nil},
	{"smtp", false, "", nil, nil},

	// SMTP commands.
	{"smtp", true, "EHLO alice-pc", []string{"extended hello", "extensions", "RFC 5321 §4.1.1.1"}, nil},
	{"smtp", true, "HELO alice-pc", []string{"hello"}, nil},
	{"smtp", true, "MAIL FROM:<alice@example.org>", []string{"envelope sender", "bounces go here", "From: header", "RFC 5321 §4.1.1.2"}, nil},
	{"smtp", true, "MAIL FROM:<alice@example.org> SIZE=1234 BODY=8BITMIME", []string{"envelope sender"}, nil},
	{"smtp", true, "MAIL FROM:<>", []string{"null reverse-path", "bounce", "RFC 5321 §4.5.5"}, nil},
	{"smtp", true, "mail from: <>", []string{"null reverse-path"}, nil},
	{"smtp", true, "RCPT TO:<bob@example.net>", []string{"envelope recipient", "Bcc", "RFC 5321 §4.1.1.3"}, nil},
	{"smtp", true, "rcpt to:<bob@example.net>", []string{"envelope recipient"}, nil},
	{"smtp", true, "DATA", []string{"354", "single dot", "RFC 5321 §4.1.1.4"}, nil},
	{"smtp", true, ".", []string{"end of the message", "responsibility", "RFC 5321 §4.2.5"}, nil},
	{"smtp", true, "BDAT 1024 LAST", []string{"octets", "RFC 3030"}, nil},
	{"smtp", true, "RSET", []string{"abort", "RFC 5321 §4.1.1.5"}, nil},
	{"smtp", true, "VRFY bob", []string{"real mailbox", "252"}, nil},
	{"smtp", true, "EXPN staff", []string{"mailing list"}, nil},
	{"smtp", true, "HELP", []string{"help"}, nil},
	{"smtp", true, "NOOP", []string{"250 OK"}, nil},
	{"smtp", true, "QUIT", []string{"221", "RFC 5321 §4.1.1.10"}, nil},
	{"smtp", true, "STARTTLS", []string{"TLS handshake", "EHLO", "RFC 3207 §4"}, nil},
	{"smtp", true, "AUTH PLAIN AGFsaWNlAGFsaWNl", []string{"SASL", "RFC 4954 §4", "RFC 6409"}, nil},
	{"smtp", true, "*", []string{"cancels the authentication"}, nil},
	{"smtp", true, "AGFsaWNlAGFsaWNl", nil, nil},
	{"smtp", true, "MAIL FROM:<alice@example.org> ⟨bare LF⟩", []string{"envelope sender"}, nil},

	// LMTP: its own hello and DATA, the rest from SMTP.
	{"lmtp", true, "LHLO mx.example.net", []string{"LMTP", "RFC 2033 §4.1"}, nil},
	{"lmtp", true, "DATA", []string{"each accepted recipient", "RFC 2033 §4.2"}, nil},
	{"lmtp", true, "MAIL FROM:<alice@example.org>", []string{"envelope sender"}, nil},
	{"lmtp", false, "250 2.1.5 <bob@example.net> OK", []string{"envelope recipient"}, nil},
	{"lmtp", false, "250-PIPELINING", []string{"without waiting"}, nil},
	{"lmtp", false, "452 4.2.2 <bob@example.net> Mailbox full", []string{"mailbox full"}, nil},

	// POP3.
	{"pop3", false, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>", []string{"succeeded", "RFC 1939 §3"}, nil},
	{"pop3", false, "-ERR [IN-USE] Mailbox locked by another session", []string{"command failed", "[IN-USE]", "locked", "another session", "RFC 2449 §8.1.2"}, nil},
	{"pop3", false, "-ERR [LOGIN-DELAY] Login delay not yet expired", []string{"login delay", "RFC 2449 §8.1.1"}, nil},
	{"pop3", false, "-ERR [AUTH] Invalid credentials", []string{"wrong user name or password", "RFC 3206 §5"}, []string{"STLS"}},
	{"pop3", false, "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections", []string{"not encrypted", "STLS first", "RFC 2595 §4", "RFC 3206 §5"}, []string{"wrong user name"}},
	{"pop3", false, "-ERR [SYS/TEMP] Try later", []string{"temporary problem", "RFC 3206 §4"}, nil},
	{"pop3", false, "-ERR [SYS/PERM] Mailbox corrupted", []string{"lasting problem"}, nil},
	{"pop3", false, "-ERR [SOMETHING-NEW] x", []string{"command failed"}, []string{"SOMETHING"}},
	{"pop3", false, "-ERR no such message", []string{"command failed"}, nil},
	{"pop3", false, ".", []string{"end of a multi-line response"}, nil},
	{"pop3", false, "+ ", []string{"SASL continuation", "RFC 5034 §4"}, nil},
	{"pop3", false, "SASL PLAIN", []string{"SASL mechanisms", "RFC 2449 §6.3"}, nil},
	{"pop3", false, "STLS", []string{"RFC 2595 §4"}, nil},
	{"pop3", false, "RESP-CODES", []string{"response code"}, nil},
	{"pop3", false, "1 120", nil, nil},
	{"pop3", true, "USER alice", []string{"clear text", "RFC 1939 §7"}, nil},
	{"pop3", true, "PASS alice", []string{"lock", "RFC 1939 §4"}, nil},
	{"pop3", true, "APOP mrose c4c9334bac560ecc979e58001b3e22fb", []string{"MD5"}, nil},
	{"pop3", true, "STAT", []string{"total size", "RFC 1939 §5"}, nil},
	{"pop3", true, "LIST", []string{"size"}, nil},
	{"pop3", true, "retr 1", []string{"whole message", "single dot"}, nil},
	{"pop3", true, "DELE 1", []string{"deleted", "QUIT"}, nil},
	{"pop3", true, "RSET", []string{"unmarks"}, nil},
	{"pop3", true, "TOP 1 10", []string{"first n lines"}, nil},
	{"pop3", true, "UIDL", []string{"unique id"}, nil},
	{"pop3", true, "QUIT", []string{"removed", "RFC 1939 §6"}, nil},
	{"pop3", true, "CAPA", []string{"RFC 2449 §5"}, nil},
	{"pop3", true, "STLS", []string{"encrypt", "RFC 2595 §4"}, nil},
	{"pop3", true, "AUTH PLAIN", []string{"SASL", "RFC 5034 §4"}, nil},
	{"pop3", true, "*", []string{"cancels"}, nil},

	// IMAP responses.
	{"imap", false, "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] mailhop ready", []string{"greeting", "[CAPABILITY]", "capability list"}, nil},
	{"imap", false, "* PREAUTH ready", []string{"already authenticated", "RFC 9051 §7.1.4"}, nil},
	{"imap", false, "* BYE Logging out", []string{"closing the connection", "RFC 9051 §7.1.5"}, nil},
	{"imap", false, "a1 OK [READ-WRITE] SELECT completed", []string{"completed successfully", "[READ-WRITE]", "read-write", "RFC 9051 §7.1.1", "RFC 9051 §7.1)"}, nil},
	{"imap", false, "a2 NO [AUTHENTICATIONFAILED] Invalid credentials", []string{"failed", "wrong user name or password"}, nil},
	{"imap", false, "a3 BAD Unknown command", []string{"protocol error", "RFC 9051 §7.1.3"}, nil},
	{"imap", false, "a4 NO [TRYCREATE] No such mailbox", []string{"create it"}, nil},
	{"imap", false, "a5 ok done", []string{"completed successfully"}, nil},
	{"imap", true, "a7 SORT (REVERSE DATE) UTF-8 ALL", []string{"in order", "RFC 5256 §3"}, nil},
	{"imap", false, "* THREAD (2)(3 6 (4 23)(44 7 96))", []string{"conversations", "RFC 5256 §4"}, nil},
	{"imap", true, "a6 GETQUOTAROOT INBOX", []string{"quota roots", "RFC 9208 §4.3.2"}, nil},
	{"imap", false, `* QUOTAROOT INBOX ""`, []string{"quota roots a mailbox counts against", "RFC 9208 §5.2"}, nil},
	{"imap", false, `* QUOTA "" (STORAGE 1 10 MESSAGE 3 50)`, []string{"units of 1024 octets", "RFC 9208 §5.1"}, nil},
	{"imap", false, "* 3 EXISTS", []string{"number of messages", "RFC 9051 §7.4.1"}, nil},
	{"imap", false, "* 12345 EXISTS", []string{"number of messages"}, nil},
	{"imap", false, "* 2 EXPUNGE", []string{"removed for good", "RFC 9051 §7.5.1"}, nil},
	{"imap", false, "* 1 FETCH (FLAGS (\\Seen))", []string{"data about the message", "RFC 9051 §7.5.2"}, nil},
	{"imap", false, "* 10 RECENT", []string{"RFC 3501 §7.3.2"}, nil},
	{"imap", false, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)", []string{"flags defined", "RFC 9051 §7.3.5"}, nil},
	{"imap", false, "* OK [UIDVALIDITY 3857529045] UIDs valid", []string{"untagged OK", "[UIDVALIDITY]", "UID validity"}, nil},
	{"imap", false, "* OK [UIDNEXT 4] Predicted next UID", []string{"predicted"}, nil},
	{"imap", false, "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited", []string{"change for good"}, nil},
	{"imap", false, "* OK [ALERT] System shutdown in 10 minutes", []string{"show to the user"}, nil},
	{"imap", false, "* NO Disk is 98% full", []string{"warning"}, nil},
	{"imap", false, "* CAPABILITY IMAP4rev1 IDLE", []string{"capabilities the server supports", "RFC 9051 §7.2.2"}, nil},
	{"imap", false, "* LIST (\\HasNoChildren) \"/\" INBOX", []string{"one mailbox"}, nil},
	{"imap", false, "* SEARCH 2 3", []string{"SEARCH found"}, nil},
	{"imap", false, "+ Ready for literal data", []string{"continuation request", "RFC 9051 §7.6"}, nil},
	{"imap", false, "+", []string{"continuation request"}, nil},
	{"imap", false, ")", nil, nil},
	{"imap", false, "a1 FETCH nonsense", nil, nil},
	// IMAP commands.
	{"imap", true, "a1 LOGIN alice alice", []string{"clear text", "RFC 9051 §6.2.3"}, nil},
	{"imap", true, "a2 SELECT INBOX", []string{"read-write", "RFC 9051 §6.3.2"}, nil},
	{"imap", true, "a3 EXAMINE INBOX", []string{"read-only"}, nil},
	{"imap", true, "a4 UID FETCH 1:* (FLAGS)", []string{"reads data of messages", "by UID", "RFC 9051 §6.4.5", "RFC 9051 §6.4.9"}, nil},
	{"imap", true, "a5 uid store 1 +FLAGS (\\Deleted)", []string{"changes the flags", "by UID"}, nil},
	{"imap", true, "a6 UID", []string{"sequence number", "RFC 9051 §6.4.9"}, nil},
	{"imap", true, "a7 FETCH 1 BODY[]", []string{"\\Seen", "BODY.PEEK"}, nil},
	{"imap", true, "a8 IDLE", []string{"DONE", "RFC 9051 §6.3.13"}, nil},
	{"imap", true, "DONE", []string{"ends IDLE"}, nil},
	{"imap", true, "a9 LOGOUT", []string{"BYE"}, nil},
	{"imap", true, "a10 AUTHENTICATE PLAIN", []string{"SASL", "RFC 9051 §6.2.2"}, nil},
	{"imap", true, "A11 STARTTLS", []string{"encrypt", "RFC 9051 §6.2.1"}, nil},
	{"imap", true, "a12 APPEND Sent {310}", []string{"Sent", "literal"}, nil},
	{"imap", true, "a13 EXPUNGE", []string{"\\Deleted"}, nil},
	{"imap", true, "a14 LSUB \"\" *", []string{"RFC 3501 §6.3.9"}, nil},
	{"imap", true, "a15 FROBNICATE", nil, nil},
	{"imap", true, "AHVzZXIAcGFzcw==", nil, nil},
	{"imap", true, "*", []string{"cancels"}, nil},

	// Blocks: a message, not protocol.
	{"smtp", true, "From: alice@example.org\nTo: bob@example.net\nSubject: hi\n\nHello Bob", []string{"the message itself", "envelope", "RFC 5322 §2.1", "RFC 5321 §2.3.1"}, []string{"one more dot"}},
	{"smtp", true, "Subject: dots\n\n..hidden line", []string{"one more dot", "RFC 5321 §4.5.2"}, nil},
	{"lmtp", true, "Received: from mx\nSubject: x\n\nbody", []string{"the message itself"}, nil},
	{"pop3", false, "Subject: hi\n\nHello\n..", []string{"as the mailbox holds it", "RFC 1939 §3"}, nil},
	{"imap", false, "Subject: hi\r\n\nHello", []string{"literal", "RFC 9051 §4.3"}, nil},
	{"smtp", false, "250-a\n250 b", nil, nil},

	// Not a mail protocol.
	{"tcp", true, "GET / HTTP/1.1", nil, nil},
	{"dns", false, "NOERROR", nil, nil},
}

func TestLine(t *testing.T) {
	for _, c := range lineCases {
		who := "S"
		if c.client {
			who = "C"
		}
		t.Run(c.proto+" "+who+": "+c.line, func(t *testing.T) {
			got := Line(c.proto, c.client, c.line)
			if c.want == nil {
				if got != "" {
					t.Fatalf("note %q, want none", got)
				}
				return
			}
			low := strings.ToLower(got)
			for _, w := range c.want {
				if !strings.Contains(low, strings.ToLower(w)) {
					t.Errorf("note lacks %q:\n%s", w, got)
				}
			}
			for _, w := range c.not {
				if strings.Contains(low, strings.ToLower(w)) {
					t.Errorf("note has %q:\n%s", w, got)
				}
			}
		})
	}
}

var (
	rfcRef   = regexp.MustCompile(`^RFC [1-9][0-9]*( §[1-9][0-9]*(\.[0-9]+)*)?$`)
	anyRef   = regexp.MustCompile(`RFC ?[0-9]+[^;,)]*`)
	trailRef = regexp.MustCompile(`\(RFC [^)]*\)$`)
)

func TestEntriesWellFormed(t *testing.T) {
	protos := map[string]bool{"smtp": true, "lmtp": true, "pop3": true, "imap": true, "dns": true}
	kinds := map[string]bool{KindReply: true, KindCommand: true, KindKeyword: true, KindStatus: true, KindRcode: true, KindType: true}
	seen := map[string]Entry{}
	entries := Entries()
	if len(entries) < 300 {
		t.Fatalf("only %d entries", len(entries))
	}
	for _, e := range entries {
		id := e.Proto + "/" + e.Kind + "/" + strings.ToUpper(e.Key)
		if old, dup := seen[id]; dup {
			t.Errorf("key %q twice in %s/%s: %q and %q", e.Key, e.Proto, e.Kind, old.Summary, e.Summary)
		}
		seen[id] = e
		if !protos[e.Proto] || !kinds[e.Kind] || e.Key == "" || strings.TrimSpace(e.Key) != e.Key {
			t.Errorf("bad proto, kind or key: %+v", e)
		}
		if !rfcRef.MatchString(e.RFC) {
			t.Errorf("%s: RFC reference %q is not like \"RFC 5321 §4.1.1.2\"", id, e.RFC)
		}
		s := e.Summary
		switch {
		case len(s) < 10:
			t.Errorf("%s: summary %q too short", id, s)
		case strings.TrimSpace(s) != s || strings.HasSuffix(s, "."):
			t.Errorf("%s: summary %q has stray space or a final period", id, s)
		case trailRef.MatchString(s):
			t.Errorf("%s: summary %q ends with a reference; the note adds its own", id, s)
		}
		// References inside summaries are written the same way.
		for _, ref := range anyRef.FindAllString(s, -1) {
			ref = strings.TrimRight(ref, " ")
			if r, _, _ := strings.Cut(ref, " ("); !rfcRef.MatchString(firstRef(r)) {
				t.Errorf("%s: reference %q in summary is not like \"RFC 5321 §4.1.1.2\"", id, ref)
			}
		}
	}
}

// firstRef cuts a reference found in running text down to "RFC n §x.y".
func firstRef(s string) string {
	f := strings.Fields(s)
	if len(f) >= 3 && strings.HasPrefix(f[2], "§") {
		return strings.Join(f[:3], " ")
	}
	if len(f) >= 2 {
		return strings.Join(f[:2], " ")
	}
	return s
}

// TestEntriesCover checks that everything the playground promises to explain
// is in the tables.
func TestEntriesCover(t *testing.T) {
	want := map[string][]string{
		"smtp/reply": {"211", "214", "220", "221", "235", "250", "251", "252", "334", "354", "421", "432", "450", "451", "452",
			"454", "455", "500", "501", "502", "503", "504", "521", "530", "534", "535", "538", "550", "551", "552", "553",
			"554", "555", "556", "2yz", "3yz", "4yz", "5yz"},
		"smtp/status": {"2.X.X", "4.X.X", "5.X.X", "X.0.X", "X.1.X", "X.2.X", "X.3.X", "X.4.X", "X.5.X", "X.6.X", "X.7.X"},
		"smtp/command": {"HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP",
			"STARTTLS", "AUTH"},
		"lmtp/command": {"LHLO"},
		"smtp/keyword": {"PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "STARTTLS", "AUTH",
			"CHUNKING", "DSN", "BINARYMIME"},
		"pop3/command": {"USER", "PASS", "APOP", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP", "UIDL",
			"CAPA", "STLS", "AUTH"},
		"pop3/reply":  {"+OK", "-ERR"},
		"pop3/status": {"IN-USE", "LOGIN-DELAY", "SYS/TEMP", "SYS/PERM", "AUTH"},
		"imap/command": {"CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN", "ENABLE", "SELECT",
			"EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST", "LSUB", "NAMESPACE", "STATUS",
			"APPEND", "IDLE", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE", "UID"},
		"imap/reply": {"OK", "NO", "BAD", "* OK", "* NO", "* BAD", "* PREAUTH", "* BYE", "EXISTS", "EXPUNGE", "FETCH",
			"FLAGS", "+"},
		"imap/status": {"UIDVALIDITY", "UIDNEXT", "PERMANENTFLAGS", "READ-WRITE", "READ-ONLY", "TRYCREATE", "ALERT",
			"AUTHENTICATIONFAILED", "CAPABILITY"},
		"dns/rcode": {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"},
		"dns/type":  {"MX", "A", "AAAA", "CNAME", "TXT", "SOA", "NS", "PTR", "MX 0 .", "no MX"},
	}
	have := map[string]bool{}
	for _, e := range Entries() {
		have[e.Proto+"/"+e.Kind+"/"+e.Key] = true
	}
	for pk, keys := range want {
		for _, k := range keys {
			if !have[pk+"/"+k] {
				t.Errorf("%s: no entry for %q", pk, k)
			}
		}
	}
	// Enhanced status codes real servers send.
	for _, code := range []string{"5.7.1", "5.7.8", "5.7.11", "5.5.2", "5.3.4", "5.1.1", "5.1.10", "4.4.1", "4.4.2",
		"4.7.0", "5.7.0", "2.0.0", "2.1.0", "2.1.5", "2.6.0", "2.7.0", "5.2.2", "4.2.2", "5.7.26", "5.7.27"} {
		if _, ok := tab.get().detail[code[2:]]; !ok {
			t.Errorf("%s: no entry for X.%s", code, code[2:])
		}
	}
}

// TestStatusSections checks each RFC 3463 detail against the section of
// its subject: X.1.* is in §3.2, X.7.* in §3.8.
func TestStatusSections(t *testing.T) {
	n := 0
	for _, e := range Entries() {
		if e.Proto != "smtp" || e.Kind != KindStatus || !strings.HasPrefix(e.Key, "X.") || strings.HasSuffix(e.Key, ".X") {
			continue
		}
		subject, _ := strconv.Atoi(strings.Split(e.Key, ".")[1])
		if want := "RFC 3463 §3." + strconv.Itoa(subject+1); strings.HasPrefix(e.RFC, "RFC 3463") && e.RFC != want {
			t.Errorf("%s: %s, want %s", e.Key, e.RFC, want)
		}
		n++
	}
	if n < 60 {
		t.Errorf("only %d enhanced status details", n)
	}
}

func TestReply(t *testing.T) {
	for _, c := range []struct {
		proto, code string
		key, rfc    string // "" key: not found
		summary     string // a part of it
	}{
		{"smtp", "250", "250", "RFC 5321 §4.2.3", "completed"},
		{"lmtp", "550", "550", "RFC 5321 §4.2.3", "mailbox unavailable"},
		{"smtp", "235", "235", "RFC 4954 §6", "authentication succeeded"},
		{"smtp", "299", "2yz", "RFC 5321 §4.2.1", "positive completion"},
		{"smtp", "5yz", "5yz", "RFC 5321 §4.2.1", "permanent"},
		{"smtp", "5.1.1", "5.1.1", "RFC 3463 §3.2", "permanent failure — bad destination mailbox"},
		{"smtp", "4.2.2", "4.2.2", "RFC 3463 §3.3", "temporary failure — mailbox full"},
		{"smtp", "5.1.10", "5.1.10", "RFC 7505 §4.1", "null MX"},
		{"smtp", "5.7.99", "5.7.99", "RFC 3463 §2", "permanent failure — security or policy"},
		{"smtp", "5.99.9", "5.99.9", "RFC 3463 §2", "permanent failure: resending"},
		{"smtp", "X.7.1", "X.7.1", "RFC 3463 §3.8", "relaying"},
		{"smtp", "3.7.1", "", "", ""}, // there is no class 3
		{"smtp", "199", "", "", ""},
		{"smtp", "MAIL", "", "", ""}, // a command, not a reply
		{"pop3", "+OK", "+OK", "RFC 1939 §3", "succeeded"},
		{"pop3", "-err", "-ERR", "RFC 1939 §3", "failed"},
		{"pop3", "[IN-USE]", "IN-USE", "RFC 2449 §8.1.2", "locked"},
		{"imap", "* bye", "* BYE", "RFC 9051 §7.1.5", "closing"},
		{"imap", "EXISTS", "EXISTS", "RFC 9051 §7.4.1", "number of messages"},
		{"imap", "uidvalidity", "UIDVALIDITY", "RFC 9051 §7.1", "UID validity"},
		{"dns", "nxdomain", "NXDOMAIN", "RFC 1035 §4.1.1", "does not exist"},
		{"dns", "MX", "MX", "RFC 1035 §3.3.9", "mail exchanger"},
		{"ftp", "200", "", "", ""},
		{"smtp", "", "", "", ""},
	} {
		e, ok := Reply(c.proto, c.code)
		if c.key == "" {
			if ok {
				t.Errorf("Reply(%q, %q) = %+v, want none", c.proto, c.code, e)
			}
			continue
		}
		if !ok || e.Key != c.key || e.RFC != c.rfc || !strings.Contains(e.Summary, c.summary) {
			t.Errorf("Reply(%q, %q) = %+v, %v; want key %q, %s, summary with %q", c.proto, c.code, e, ok, c.key, c.rfc, c.summary)
		}
	}
}

func TestEntriesIsACopy(t *testing.T) {
	a := Entries()
	a[0].Summary = "changed"
	if Entries()[0].Summary == "changed" {
		t.Fatal("Entries returns the table itself")
	}
}

func TestAnnotate(t *testing.T) {
	wire := func(proto string, dir trace.Dir, text string) trace.Event {
		return trace.Event{Kind: trace.KindWire, Proto: proto, Dir: dir, Text: text}
	}
	for _, c := range []struct {
		name string
		e    trace.Event
		want string // a part of the note; "" for none
	}{
		{"command", wire("smtp", trace.Send, "RCPT TO:<bob@example.net>"), "envelope recipient"},
		{"reply", wire("smtp", trace.Recv, "250 2.1.5 Ok"), "2.1.5: success"},
		{"submission is smtp", wire("smtp", trace.Recv, "530 5.7.0 Authentication required"), "log in with AUTH"},
		{"lmtp", wire("lmtp", trace.Send, "LHLO mx.example.net"), "LMTP"},
		{"pop3", wire("pop3", trace.Recv, "-ERR [IN-USE] locked"), "locked"},
		{"imap", wire("imap", trace.Recv, "a1 OK [READ-WRITE] SELECT completed"), "read-write"},
		{"imap tagged command", wire("imap", trace.Send, "a1 SELECT INBOX"), "opens a mailbox"},
		{"message body", wire("smtp", trace.Send, "Subject: hi\n\nhello"), "the message itself"},
		{"preset note", trace.Event{Kind: trace.KindWire, Proto: "smtp", Dir: trace.Send, Text: "QUIT", Note: "mine"}, "mine"},
		{"no direction", trace.Event{Kind: trace.KindWire, Proto: "smtp", Text: "QUIT"}, ""},
		{"unknown proto", wire("tcp", trace.Send, "QUIT"), ""},
		{"host event", trace.Event{Kind: trace.KindHost, Action: "up", Text: "QUIT", Proto: "smtp", Dir: trace.Send}, ""},
		{"queue event", trace.Event{Kind: trace.KindQueue, Action: "deferred", Text: "550 5.1.1 no", Proto: "smtp"}, ""},
		{"conn event", trace.Event{Kind: trace.KindConn, Action: "open", Proto: "smtp"}, ""},
		{"unknown kind", trace.Event{Kind: "future", Proto: "smtp", Dir: trace.Send, Text: "QUIT"}, ""},

		{"dns MX answer", trace.Event{Kind: trace.KindDNS, Action: "answer", Text: "example.net. IN MX",
			Records: []string{"example.net.\t3600\tIN\tMX\t10 mx.example.net."}}, "mail exchanger"},
		{"dns served MX", trace.Event{Kind: trace.KindDNS, Action: "served", Text: "example.net. IN MX → NOERROR, 1 answer",
			Records: []string{"example.net.\t3600\tIN\tMX\t10 mx.example.net."}}, "lowest number"},
		{"dns null MX", trace.Event{Kind: trace.KindDNS, Action: "answer", Text: "nomail.example. IN MX → NOERROR, 1 answer",
			Records: []string{"nomail.example.\t3600\tIN\tMX\t0 ."}}, "null MX"},
		{"dns implicit MX", trace.Event{Kind: trace.KindDNS, Action: "answer", Text: "example.org. IN MX → NOERROR, 0 answers",
			Records: []string{"example.org.\t3600\tIN\tSOA\tns.example. hostmaster.example. 1 7200 3600 1209600 3600"}}, "implicit MX"},
		{"dns NXDOMAIN", trace.Event{Kind: trace.KindDNS, Action: "answer", Text: "nope.example. IN MX → NXDOMAIN"}, "does not exist"},
		{"dns SERVFAIL", trace.Event{Kind: trace.KindDNS, Action: "error", Text: "example.net. IN MX: SERVFAIL"}, "temporary"},
		{"dns A", trace.Event{Kind: trace.KindDNS, Action: "answer", Text: "mx.example.net. IN A → NOERROR, 1 answer",
			Records: []string{"mx.example.net.\t3600\tIN\tA\t198.51.100.25"}}, "IPv4"},
		{"dns AAAA empty", trace.Event{Kind: trace.KindDNS, Action: "answer", Text: "mx.example.net. IN AAAA → NOERROR, 0 answers"}, "no records of the type"},
		{"dns CNAME", trace.Event{Kind: trace.KindDNS, Action: "answer", Text: "www.example.net. IN A → NOERROR, 2 answers",
			Records: []string{"www.example.net.\t3600\tIN\tCNAME\tmx.example.net.", "mx.example.net.\t3600\tIN\tA\t198.51.100.25"}}, "IPv4"},
		{"dns only CNAME", trace.Event{Kind: trace.KindDNS, Action: "answer", Text: "www.example.net. IN A",
			Records: []string{"www.example.net.\t3600\tIN\tCNAME\tmx.example.net."}}, "alias"},
		{"dns referral", trace.Event{Kind: trace.KindDNS, Action: "served", Text: "example.net. IN MX → NOERROR, 0 answers, referral",
			Records: []string{"example.net.\t3600\tIN\tNS\tns.example."}}, "referral"},
		{"dns query", trace.Event{Kind: trace.KindDNS, Action: "query", Text: "example.net. IN MX"}, ""},
		{"dns error without rcode", trace.Event{Kind: trace.KindDNS, Action: "error", Text: "example.net. IN MX: i/o timeout"}, ""},
		{"dns dropped", trace.Event{Kind: trace.KindDNS, Action: "served", Text: "example.net. IN MX → dropped (fault)"}, ""},
		{"dns unknown type", trace.Event{Kind: trace.KindDNS, Action: "answer", Text: "example.net. IN CAA → NOERROR, 1 answer",
			Records: []string{"example.net.\t3600\tIN\tCAA\t0 issue \"ca.example\""}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := c.e
			before := e
			Annotate(&e)
			if c.want == "" {
				if e.Note != "" {
					t.Fatalf("note %q, want none", e.Note)
				}
			} else if !strings.Contains(e.Note, c.want) {
				t.Fatalf("note %q, want one with %q", e.Note, c.want)
			}
			e.Note, before.Note = "", ""
			if e.Kind != before.Kind || e.Text != before.Text || e.Proto != before.Proto || e.Dir != before.Dir {
				t.Fatalf("Annotate changed more than the note: %+v", e)
			}
		})
	}
	Annotate(nil) // must not panic
}

// TestRecorder runs Annotate as the recorder's annotator, the way a world
// installs it.
func TestRecorder(t *testing.T) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	rec := trace.NewRecorder(func() time.Time { return now }, 0)
	rec.SetAnnotator(Annotate)
	base := trace.Event{Kind: trace.KindWire, Host: "mail.example.org", Peer: "mx.example.net", Port: 25, Conn: "c7", Proto: "smtp"}
	lines := []struct {
		dir  trace.Dir
		text string
		want string
	}{
		{trace.Recv, "220 mx.example.net ESMTP mailhop", "greeting"},
		{trace.Send, "EHLO mail.example.org", "extended hello"},
		{trace.Recv, "250-mx.example.net", "okay"},
		{trace.Recv, "250-PIPELINING", "without waiting"},
		{trace.Recv, "250 ENHANCEDSTATUSCODES", "enhanced status code"},
		{trace.Send, "MAIL FROM:<alice@example.org>", "envelope sender"},
		{trace.Recv, "250 2.1.0 Ok", "MAIL FROM"},
		{trace.Send, "RCPT TO:<bob@example.net>", "envelope recipient"},
		{trace.Recv, "250 2.1.5 Ok", "RCPT TO"},
		{trace.Send, "DATA", "354"},
		{trace.Recv, "354 End data with <CR><LF>.<CR><LF>", "single dot"},
		{trace.Send, "From: <alice@example.org>\nTo: <bob@example.net>\nSubject: hi\n\nHi Bob!", "the message itself"},
		{trace.Send, ".", "responsibility"},
		{trace.Recv, "250 2.0.0 Ok: queued as 4F2A9C", "queued"},
		{trace.Send, "QUIT", "221"},
		{trace.Recv, "221 2.0.0 Bye", "closing"},
	}
	for _, l := range lines {
		e := base
		e.Dir, e.Text = l.dir, l.text
		rec.Emit(e)
	}
	rec.Emit(trace.Event{Kind: trace.KindHost, Action: "up", Host: "mx.example.net"})
	got := rec.Events()
	for i, l := range lines {
		if !strings.Contains(got[i].Note, l.want) {
			t.Errorf("%q: note %q, want one with %q", l.text, got[i].Note, l.want)
		}
	}
	if n := got[len(got)-1].Note; n != "" {
		t.Errorf("host event got note %q", n)
	}
}

// TestAllocs keeps Annotate cheap: it runs for every traced line.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	for _, c := range []struct {
		e   trace.Event
		max float64
	}{
		{trace.Event{Kind: trace.KindWire, Proto: "smtp", Dir: trace.Send, Text: "MAIL FROM:<alice@example.org>"}, 0},
		{trace.Event{Kind: trace.KindWire, Proto: "smtp", Dir: trace.Send, Text: "rcpt to:<bob@example.net>"}, 0},
		{trace.Event{Kind: trace.KindWire, Proto: "lmtp", Dir: trace.Recv, Text: "250-PIPELINING"}, 0},
		{trace.Event{Kind: trace.KindWire, Proto: "imap", Dir: trace.Send, Text: "a1 uid fetch 1:* (FLAGS)"}, 0},
		{trace.Event{Kind: trace.KindWire, Proto: "imap", Dir: trace.Recv, Text: "* 3 EXISTS"}, 0},
		{trace.Event{Kind: trace.KindWire, Proto: "smtp", Dir: trace.Send, Text: "Subject: x\n\nbody"}, 0},
		{trace.Event{Kind: trace.KindDNS, Action: "answer", Text: "example.net. IN MX → NOERROR, 1 answer",
			Records: []string{"example.net.\t3600\tIN\tMX\t10 mx.example.net."}}, 0},
		{trace.Event{Kind: trace.KindWire, Proto: "smtp", Dir: trace.Recv, Text: "550 5.1.1 <bob@example.net>: unknown"}, 1},
		{trace.Event{Kind: trace.KindWire, Proto: "pop3", Dir: trace.Recv, Text: "-ERR [IN-USE] locked"}, 1},
		{trace.Event{Kind: trace.KindWire, Proto: "imap", Dir: trace.Recv, Text: "a1 OK [READ-WRITE] done"}, 1},
	} {
		e := c.e
		n := testing.AllocsPerRun(100, func() {
			e.Note = ""
			Annotate(&e)
		})
		if n > c.max {
			t.Errorf("%q: %v allocations, want at most %v", c.e.Text, n, c.max)
		}
	}
}

func FuzzLine(f *testing.F) {
	for _, c := range lineCases {
		f.Add(c.proto, c.client, c.line)
	}
	f.Fuzz(func(t *testing.T, proto string, client bool, line string) {
		note := Line(proto, client, line)
		if note != "" && !strings.Contains(note, "(RFC ") {
			t.Fatalf("note without a reference: %q", note)
		}
		e := trace.Event{Kind: trace.KindDNS, Action: "answer", Text: line, Records: []string{line, proto}}
		Annotate(&e)
		if e.Note != "" && !strings.Contains(e.Note, "(RFC ") {
			t.Fatalf("DNS note without a reference: %q", e.Note)
		}
	})
}

func BenchmarkAnnotate(b *testing.B) {
	events := []trace.Event{
		{Kind: trace.KindWire, Proto: "smtp", Dir: trace.Send, Text: "MAIL FROM:<alice@example.org>"},
		{Kind: trace.KindWire, Proto: "smtp", Dir: trace.Recv, Text: "250 2.1.0 Ok"},
		{Kind: trace.KindWire, Proto: "imap", Dir: trace.Recv, Text: "* 3 EXISTS"},
		{Kind: trace.KindWire, Proto: "pop3", Dir: trace.Send, Text: "RETR 1"},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e := events[i%len(events)]
		Annotate(&e)
	}
}
