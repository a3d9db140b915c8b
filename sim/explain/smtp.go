package explain

// RFC references used many times over.
const (
	rfc5321Replies = "RFC 5321 §4.2.3"
	rfc5321Theory  = "RFC 5321 §4.2.1"
	rfc4954Codes   = "RFC 4954 §6"
	rfc3463Classes = "RFC 3463 §2"
)

// smtpTables holds SMTP (port 25), submission (587, 465) and LMTP: LMTP
// shares everything but its hello and its DATA replies (RFC 2033 §4).
var smtpTables = []group{
	{"smtp", KindReply, []row{
		// The theory of reply codes: what the first digit says. Codes
		// missing below are explained by these.
		{"2yz", rfc5321Theory, "positive completion: the requested action succeeded and the client may send its next command"},
		{"3yz", rfc5321Theory, "positive intermediate: accepted so far, the server waits for more — the message after 354, the next authentication step after 334"},
		{"4yz", rfc5321Theory, "transient negative completion: not done this time, but the condition is temporary, so the client should try again later (a queued message stays in the queue)"},
		{"5yz", rfc5321Theory, "permanent negative completion: not done, and sending the same command again will not help; a message in transit is bounced to its envelope sender"},

		{"211", rfc5321Replies, "system status, or a system help reply"},
		{"214", rfc5321Replies, "help message: how to use the server or a command, meant for a human reader"},
		{"220", rfc5321Replies, "service ready: the greeting when a connection opens, naming the server; after STARTTLS (RFC 3207 §4) it is the go-ahead for the TLS handshake"},
		{"221", rfc5321Replies, "service closing the connection: the answer to QUIT"},
		{"235", rfc4954Codes, "authentication succeeded: the client is now logged in"},
		{"250", rfc5321Replies, "requested mail action okay, completed"},
		{"251", rfc5321Replies, "user not local: the server accepts the message and will forward it (RFC 5321 §3.4) to the address given"},
		{"252", rfc5321Replies, "cannot verify the user, but the server will accept a message for it and attempt delivery"},
		{"334", "RFC 4954 §4", "authentication challenge: the server waits for the client's next SASL step, base64-encoded (the text after 334 is the base64 challenge, often empty)"},
		{"354", rfc5321Replies, "start mail input: send the message — header fields, a blank line, the body — and end it with a line holding a single dot"},
		{"421", rfc5321Replies, "service not available, closing the connection; it may answer any command when the server must shut down, and is temporary: try again later"},
		{"432", rfc4954Codes, "a password transition is needed: authenticate once with PLAIN (over TLS) before this mechanism can be used"},
		{"450", rfc5321Replies, "requested mail action not taken: mailbox unavailable for now (e.g. busy, or temporarily blocked for policy reasons, as greylisting does); try again later"},
		{"451", rfc5321Replies, "requested action aborted: local error in processing; temporary, the client keeps the message and retries"},
		{"452", rfc5321Replies, "requested action not taken: insufficient system storage — also the answer to too many recipients (RFC 5321 §4.5.3.1.10); temporary"},
		{"454", rfc4954Codes, "temporary authentication failure, not a wrong password (that is 535): the server could not finish the login now — e.g. too many failed logins from this address — so try again later; as the answer to STARTTLS (RFC 3207 §4), TLS is not available right now"},
		{"455", rfc5321Replies, "server unable to accommodate the parameters of MAIL or RCPT for now"},
		{"500", rfc5321Replies, "syntax error, command unrecognized (this includes a command line that is too long)"},
		{"501", rfc5321Replies, "syntax error in parameters or arguments — e.g. MAIL FROM: without the <angle brackets> of RFC 5321 §4.1.2, or EHLO without a name; during AUTH (RFC 4954 §4) a response to 334 that is not valid base64 or not what the mechanism expects, or * to cancel the exchange"},
		{"502", rfc5321Replies, "command not implemented: RFC 5321 §4.2.4 uses it for a command the server knows but does not support, and 500 for one it does not know"},
		{"503", rfc5321Replies, "bad sequence of commands — e.g. RCPT before MAIL, DATA before any recipient was accepted, a second MAIL before RSET (a transaction is already open), or AUTH twice"},
		{"504", rfc5321Replies, "command parameter not implemented — e.g. an authentication mechanism the server does not offer"},
		{"521", "RFC 7504 §3", "this host does not accept mail at all: sent instead of the 220 greeting"},
		{"530", rfc4954Codes, "authentication required: log in with AUTH first (a submission server answers this to MAIL from a client that has not); RFC 3207 §4 also uses it for 'Must issue a STARTTLS command first'"},
		{"534", rfc4954Codes, "authentication mechanism is too weak for this user by server policy; try a stronger one"},
		{"535", rfc4954Codes, "authentication credentials invalid: the user name or password is wrong (a temporary problem would be 454, a malformed exchange 501)"},
		{"538", rfc4954Codes, "encryption required for the requested authentication mechanism: use STARTTLS first"},
		{"550", rfc5321Replies, "requested action not taken: mailbox unavailable — e.g. not found, no access, or refused for policy reasons; permanent"},
		{"551", rfc5321Replies, "user not local: RFC 5321 §3.4 has the client try the forward-path the server gives instead"},
		{"552", rfc5321Replies, "requested mail action aborted: exceeded storage allocation (e.g. the message is bigger than the server allows)"},
		{"553", rfc5321Replies, "requested action not taken: mailbox name not allowed (e.g. the address syntax is wrong, or — with 5.6.7 — a non-ASCII address without SMTPUTF8)"},
		{"554", rfc5321Replies, "transaction failed — e.g. the message was refused after the final dot; as the first line of a connection it means 'no SMTP service here'"},
		{"555", rfc5321Replies, "MAIL FROM or RCPT TO parameters not recognized or not implemented"},
		{"556", "RFC 7504 §4", "the recipient's domain does not accept mail (e.g. it publishes a null MX, RFC 7505); sent by a relay that found this out"},
	}},

	// Enhanced status codes, RFC 3463: class.subject.detail after the reply
	// code ("550 5.1.1"). The class must agree with the reply code's first
	// digit; 3xx replies carry none (RFC 2034).
	{"smtp", KindStatus, []row{
		{"2.X.X", rfc3463Classes, "success: a positive delivery action"},
		{"4.X.X", rfc3463Classes, "persistent transient failure: the message is valid, but a temporary condition stopped it; sending later may succeed"},
		{"5.X.X", rfc3463Classes, "permanent failure: resending the message as it is will not help; the message or the destination must change"},

		{"X.0.X", rfc3463Classes, "other or undefined status: no more is said about the cause"},
		{"X.1.X", rfc3463Classes, "addressing status: about the sender's or a recipient's address (the sender can usually correct it)"},
		{"X.2.X", rfc3463Classes, "mailbox status: about the recipient's mailbox"},
		{"X.3.X", rfc3463Classes, "mail system status: about the destination mail system"},
		{"X.4.X", rfc3463Classes, "network and routing status: about reaching the next hop (DNS, connections, routing)"},
		{"X.5.X", rfc3463Classes, "mail delivery protocol status: about the SMTP conversation itself"},
		{"X.6.X", rfc3463Classes, "message content or media status: about what the message contains"},
		{"X.7.X", rfc3463Classes, "security or policy status: about authentication, encryption or policy"},

		{"X.0.0", "RFC 3463 §3.1", "no detail beyond the class"},

		{"X.1.0", "RFC 3463 §3.2", "other address status: something about an address; 2.1.0 is the usual reply accepting the envelope sender (MAIL FROM)"},
		{"X.1.1", "RFC 3463 §3.2", "bad destination mailbox address: the mailbox does not exist (the part before the @ is wrong)"},
		{"X.1.2", "RFC 3463 §3.2", "bad destination system address: the domain after the @ does not exist or cannot accept mail"},
		{"X.1.3", "RFC 3463 §3.2", "bad destination mailbox address syntax"},
		{"X.1.4", "RFC 3463 §3.2", "destination mailbox address ambiguous: it matches more than one mailbox"},
		{"X.1.5", "RFC 3463 §3.2", "destination address valid; 2.1.5 is the usual reply accepting an envelope recipient (RCPT TO)"},
		{"X.1.6", "RFC 3463 §3.2", "destination mailbox has moved, no forwarding address"},
		{"X.1.7", "RFC 3463 §3.2", "bad sender's mailbox address syntax"},
		{"X.1.8", "RFC 3463 §3.2", "bad sender's system address: the sender's domain does not exist or cannot accept replies"},
		{"X.1.9", "RFC 3886", "message relayed to a non-compliant mailer: the address was valid, but the message went on to a system that does not speak this protocol, so nothing more can be reported"},
		{"X.1.10", "RFC 7505 §4.1", "recipient address has null MX: the domain states that it accepts no mail"},

		{"X.2.0", "RFC 3463 §3.3", "about the mailbox, with no more detail: the mailbox exists, but something about it caused this"},
		{"X.2.1", "RFC 3463 §3.3", "mailbox disabled, not accepting messages"},
		{"X.2.2", "RFC 3463 §3.3", "mailbox full: over its quota; the recipient can make room, so RFC 3463 means it as a temporary failure"},
		{"X.2.3", "RFC 3463 §3.3", "message length exceeds the mailbox's administrative limit"},
		{"X.2.4", "RFC 3463 §3.3", "mailing list expansion problem"},

		{"X.3.0", "RFC 3463 §3.4", "about the receiving mail system itself (not the message or the address), with no more detail — e.g. a local error while accepting, so a 4.3.0 asks the client to try again later"},
		{"X.3.1", "RFC 3463 §3.4", "mail system full: the server's storage is exhausted"},
		{"X.3.2", "RFC 3463 §3.4", "system not accepting network messages (e.g. shutting down, overloaded or in maintenance)"},
		{"X.3.3", "RFC 3463 §3.4", "system not capable of the selected features"},
		{"X.3.4", "RFC 3463 §3.4", "message too big for the system: over the per-message size limit (see SIZE in the EHLO reply)"},
		{"X.3.5", "RFC 3463 §3.4", "system incorrectly configured"},

		{"X.4.0", "RFC 3463 §3.5", "about the network or routing, with no more detail"},
		{"X.4.1", "RFC 3463 §3.5", "no answer from host: the connection attempt was not answered (busy or down); temporary"},
		{"X.4.2", "RFC 3463 §3.5", "bad connection: connected, but the transaction could not be completed (time-out or a poor connection); temporary"},
		{"X.4.3", "RFC 3463 §3.5", "directory server failure: e.g. the DNS could not be reached; temporary"},
		{"X.4.4", "RFC 3463 §3.5", "unable to route: the next hop could not be found (e.g. the DNS gives the domain no mail host)"},
		{"X.4.5", "RFC 3463 §3.5", "mail system congestion; temporary"},
		{"X.4.6", "RFC 3463 §3.5", "routing loop detected: the message was forwarded too many times"},
		{"X.4.7", "RFC 3463 §3.5", "delivery time expired: the message stayed queued too long and the sender's server gave up"},

		{"X.5.0", "RFC 3463 §3.6", "about the SMTP conversation, with no more detail"},
		{"X.5.1", "RFC 3463 §3.6", "invalid command: out of sequence or not supported"},
		{"X.5.2", "RFC 3463 §3.6", "syntax error: the command could not be interpreted"},
		{"X.5.3", "RFC 3463 §3.6", "too many recipients for one message"},
		{"X.5.4", "RFC 3463 §3.6", "invalid command arguments"},
		{"X.5.5", "RFC 3463 §3.6", "wrong protocol version"},
		{"X.5.6", rfc4954Codes, "authentication exchange line is too long"},

		{"X.6.0", "RFC 3463 §3.7", "about the content, with no more detail; some servers accept the message after DATA with 2.6.0"},
		{"X.6.1", "RFC 3463 §3.7", "media not supported"},
		{"X.6.2", "RFC 3463 §3.7", "conversion required and prohibited"},
		{"X.6.3", "RFC 3463 §3.7", "conversion required but not supported (e.g. 8-bit content for a hop that takes only 7-bit)"},
		{"X.6.4", "RFC 3463 §3.7", "conversion with loss performed"},
		{"X.6.5", "RFC 3463 §3.7", "conversion failed"},
		{"X.6.6", "RFC 4468", "message content not available (it could not be fetched from a remote system)"},
		{"X.6.7", "RFC 6531 §3.5", "non-ASCII address not permitted: a client must put SMTPUTF8 on MAIL FROM (and the server offer it in EHLO) before it may use one"},
		{"X.6.8", "RFC 6531", "a reply in UTF-8 is required (e.g. to show a mailbox name), but the client does not permit it"},
		{"X.6.9", "RFC 6531", "a message with UTF-8 headers cannot be transferred to one or more recipients"},

		{"X.7.0", "RFC 3463 §3.8", "a security or policy reason, with no more detail: 2.7.0 is the success of AUTH (235), 5.7.0 'authentication required' (530, RFC 4954 §6), 4.7.0 a temporary refusal for security (e.g. too many failed logins, or too many connections)"},
		{"X.7.1", "RFC 3463 §3.8", "delivery not authorized, message refused: policy does not let this sender send to this destination (e.g. relaying denied, or a block list)"},
		{"X.7.2", "RFC 3463 §3.8", "mailing list expansion prohibited for this sender"},
		{"X.7.3", "RFC 3463 §3.8", "security conversion required but not possible"},
		{"X.7.4", "RFC 3463 §3.8", "security features not supported"},
		{"X.7.5", "RFC 3463 §3.8", "cryptographic failure"},
		{"X.7.6", "RFC 3463 §3.8", "cryptographic algorithm not supported"},
		{"X.7.7", "RFC 3463 §3.8", "message integrity failure"},
		{"X.7.8", rfc4954Codes, "authentication credentials invalid: wrong user name or password"},
		{"X.7.9", rfc4954Codes, "authentication mechanism is too weak"},
		{"X.7.10", "RFC 5248", "encryption needed: start TLS (or use a stronger mechanism) before authenticating"},
		{"X.7.11", rfc4954Codes, "encryption required for the requested authentication mechanism"},
		{"X.7.12", rfc4954Codes, "a password transition is needed"},
		{"X.7.13", "RFC 5248", "user account disabled"},
		{"X.7.14", "RFC 5248", "trust relationship required"},
		{"X.7.20", "RFC 7372", "no passing DKIM signature found"},
		{"X.7.21", "RFC 7372", "no acceptable DKIM signature found"},
		{"X.7.22", "RFC 7372", "no valid author-matched DKIM signature found"},
		{"X.7.23", "RFC 7372", "SPF validation failed: the sending host is not allowed to send for the sender's domain"},
		{"X.7.24", "RFC 7372", "SPF validation error: the sender's SPF record could not be evaluated"},
		{"X.7.25", "RFC 7372", "reverse DNS validation failed: the sending host's address has no matching name"},
		{"X.7.26", "RFC 7372", "multiple authentication checks failed"},
		{"X.7.27", "RFC 7505 §4.2", "sender address has null MX: the sender's domain accepts no mail, so no bounce could reach it, and this server refuses such mail"},
	}},

	{"smtp", KindCommand, []row{
		{"HELO", "RFC 5321 §4.1.1.1", "hello: the client names itself; the old form, which asks for no extensions (EHLO replaces it)"},
		{"EHLO", "RFC 5321 §4.1.1.1", "extended hello: the client names itself and asks which extensions the server supports; the 250 reply lists them, one per line"},
		{"MAIL", "RFC 5321 §4.1.1.2", "the envelope sender (reverse-path), which starts a new message; bounces go here. It belongs to the envelope, not the message: it need not match the From: header the reader sees"},
		{"MAIL FROM:<>", "RFC 5321 §4.5.5", "the null reverse-path: this message is itself a bounce or another notification, so nothing may be bounced back to it"},
		{"RCPT", "RFC 5321 §4.1.1.3", "one envelope recipient (forward-path), one command per recipient. The envelope, not the To: and Cc: headers, decides who gets the message — RFC 5321 §7.2 explains how Bcc relies on that"},
		{"DATA", "RFC 5321 §4.1.1.4", "asks to send the message itself; after the server's 354 come the header fields, a blank line and the body, ended by a line holding a single dot"},
		{"BDAT", "RFC 3030", "sends the message in a chunk of exactly the given number of octets, so no ending dot is needed; LAST marks the final chunk"},
		{"RSET", "RFC 5321 §4.1.1.5", "abort the current mail transaction: the server forgets sender, recipients and data; the connection stays open"},
		{"VRFY", "RFC 5321 §4.1.1.6", "asks whether an address names a real mailbox; for the security reasons of RFC 5321 §7.3 many servers just answer 252"},
		{"EXPN", "RFC 5321 §4.1.1.7", "asks to expand a mailing list into its members; usually disabled, for the reasons of RFC 5321 §7.3"},
		{"HELP", "RFC 5321 §4.1.1.8", "asks for help, for a human reader"},
		{"NOOP", "RFC 5321 §4.1.1.9", "does nothing but ask for a 250 OK: checks that the connection is alive"},
		{"QUIT", "RFC 5321 §4.1.1.10", "ends the session: the server answers 221 and closes the connection"},
		{"STARTTLS", "RFC 3207 §4", "asks to encrypt this connection; after the 220 both sides run the TLS handshake, then the client starts over with EHLO"},
		{"AUTH", "RFC 4954 §4", "logs in with a SASL mechanism (PLAIN sends user name and password base64-encoded, so only over TLS); submission servers (RFC 6409) require it before they relay mail onwards"},
		{".", "RFC 5321 §4.1.1.4", "end of the message: a line holding a single dot; by RFC 5321 §4.2.5 a 250 reply to it means the server has taken responsibility for delivering the message"},
		{"*", "RFC 4954 §4", "cancels the authentication exchange"},
	}},

	{"smtp", KindKeyword, []row{
		{"PIPELINING", "RFC 2920", "the client may send several commands without waiting for each reply"},
		{"SIZE", "RFC 1870", "the largest message the server accepts, in octets; the client may declare a message's size with MAIL FROM:<…> SIZE=n"},
		{"8BITMIME", "RFC 6152", "the server accepts 8-bit message content (MAIL FROM:<…> BODY=8BITMIME)"},
		{"ENHANCEDSTATUSCODES", "RFC 2034", "replies carry an enhanced status code of RFC 3463, such as 2.1.5, after the reply code"},
		{"SMTPUTF8", "RFC 6531", "the server accepts addresses and header fields in UTF-8"},
		{"STARTTLS", "RFC 3207 §3", "the server can encrypt this connection with TLS (STARTTLS)"},
		{"AUTH", "RFC 4954 §3", "the server offers authentication; the words after it name the SASL mechanisms (PLAIN, LOGIN, …)"},
		{"CHUNKING", "RFC 3030", "the BDAT command is available: the message may be sent in counted chunks instead of DATA"},
		{"BINARYMIME", "RFC 3030", "the server accepts binary content (BODY=BINARYMIME), sent with BDAT"},
		{"DSN", "RFC 3461", "delivery status notifications on request: NOTIFY= and ORCPT= on RCPT, RET= and ENVID= on MAIL"},
		{"LIMITS", "RFC 9422 §3", "limits the server announces so clients need not guess: RCPTMAX=n recipients per transaction (more get 452 4.5.3, and the client sends them in a new transaction), MAILMAX=n transactions per connection, RCPTDOMAINMAX=n domains per transaction"},
	}},

	{"lmtp", KindCommand, []row{
		{"LHLO", "RFC 2033 §4.1", "LMTP's hello: like EHLO, and it tells the server this is LMTP (HELO and EHLO are not used)"},
		{"DATA", "RFC 2033 §4.2", "asks to send the message, as in SMTP; but after the final dot the server answers once for each accepted recipient, so each delivery succeeds or fails on its own"},
	}},
}
