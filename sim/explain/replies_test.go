package explain

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// serverReplies is every reply the servers of this repository send
// (sim/smtp with go-smtp, sim/pop3, sim/imap with go-imap), as a client
// sees it, with what its note must name: the cause (words of want) and
// the RFC section. TestServerRepliesListed checks the servers' sources
// against this table, so a new reply without an explanation fails.
var serverReplies = []struct {
	proto string
	line  string
	want  []string
}{
	// SMTP and submission (sim/smtp: the front, the session, go-smtp).
	{"smtp", "220 mx.example.net ESMTP Service Ready", []string{"greeting", "RFC 5321 §4.2.3"}},
	{"smtp", "250-mx.example.net Hello client.example.org", []string{"okay", "RFC 5321 §4.2.3"}},
	{"smtp", "250-PIPELINING", []string{"without waiting", "RFC 2920"}},
	{"smtp", "250-8BITMIME", []string{"8-bit", "RFC 6152"}},
	{"smtp", "250-ENHANCEDSTATUSCODES", []string{"enhanced status code", "RFC 2034"}},
	{"smtp", "250-SIZE 10485760", []string{"largest message", "RFC 1870"}},
	{"smtp", "250-SMTPUTF8", []string{"UTF-8", "RFC 6531"}},
	{"smtp", "250-STARTTLS", []string{"encrypt", "RFC 3207 §3"}},
	{"smtp", "250-AUTH PLAIN LOGIN", []string{"SASL mechanisms", "RFC 4954 §3"}},
	{"smtp", "250 LIMITS RCPTMAX=100 MAILMAX=10", []string{"RCPTMAX", "recipients per transaction", "RFC 9422 §3"}},
	{"smtp", "250 2.0.0 Hello client.example.org", []string{"okay", "RFC 5321 §4.2.3", "RFC 3463 §3.1"}},
	{"smtp", "250 2.1.0 Roger, accepting mail from <alice@example.org>", []string{"envelope sender", "RFC 3463 §3.2"}},
	{"smtp", "250 2.1.5 I'll make sure <bob@example.net> gets this", []string{"envelope recipient", "RFC 3463 §3.2"}},
	{"smtp", "354 2.0.0 Go ahead. End your data with <CR><LF>.<CR><LF>", []string{"send the message", "single dot", "RFC 5321 §4.2.3"}},
	{"smtp", "250 2.0.0 Ok: queued as 6954F3B2.1A2B3C4D", []string{"accepted", "responsibility", "RFC 5321 §4.2.5"}},
	{"smtp", "250 2.0.0 Session reset", []string{"okay", "RFC 5321 §4.2.3"}},
	{"smtp", "221 2.0.0 Bye", []string{"closing", "RFC 5321 §4.2.3"}},
	{"smtp", "214 2.0.0 See RFC 5321 for the details", []string{"help", "RFC 5321 §4.2.3"}},
	{"smtp", "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS AUTH", []string{"help", "RFC 5321 §4.2.3"}},
	{"smtp", "214-2.0.0 A message: EHLO, MAIL FROM:<sender>, RCPT TO:<recipient> (repeat), DATA,", []string{"help", "RFC 5321 §4.2.3"}},
	{"smtp", "214-2.0.0 the message, a line with a single dot, QUIT.", []string{"help", "RFC 5321 §4.2.3"}},
	{"smtp", "220 2.0.0 Ready to start TLS", []string{"TLS handshake", "RFC 3207 §4"}},
	{"smtp", "235 2.0.0 Authentication succeeded", []string{"logged in", "RFC 4954 §6"}},
	{"smtp", "334 ", []string{"next SASL step", "RFC 4954 §4"}},
	{"smtp", "334 VXNlcm5hbWU6", []string{"Username:", "AUTH LOGIN", "RFC 4954 §4"}},
	{"smtp", "334 UGFzc3dvcmQ6", []string{"Password:", "AUTH LOGIN", "RFC 4954 §4"}},
	{"smtp", "421 4.4.2 mx.example.net Error: timeout exceeded", []string{"closing the connection", "time-out", "RFC 3463 §3.5"}},
	{"smtp", "421 4.7.0 mx.example.net Too many connections, try again later", []string{"not available", "try again later", "RFC 5321 §4.2.3"}},
	{"smtp", "451 4.3.0 Local error in processing (queue): try again later", []string{"local error", "retries", "RFC 3463 §3.4"}},
	{"smtp", "452 4.5.3 Too many recipients", []string{"too many recipients", "RFC 3463 §3.6"}},
	{"smtp", "454 4.7.0 Too many failed logins from your address: try again later", []string{"not a wrong password", "too many failed logins", "RFC 4954 §6"}},
	{"smtp", "500 5.5.2 Syntax error, command unrecognized", []string{"command unrecognized", "RFC 5321 §4.2.3", "RFC 3463 §3.6"}},
	{"smtp", "500 5.5.2 Line too long", []string{"too long", "RFC 5321 §4.2.3"}},
	{"smtp", "500 5.5.2 Message contains a bare CR or LF: lines must end with CRLF (RFC 5321 2.3.8)", []string{"syntax error", "RFC 3463 §3.6"}},
	{"smtp", "500 5.5.2 Message has a line longer than 1000 octets (RFC 5321 4.5.3.1.6)", []string{"syntax error", "RFC 3463 §3.6"}},
	{"smtp", "501 5.5.4 Syntax: EHLO hostname (RFC 5321 §4.1.1.1): say who you are, e.g. EHLO client.example.org", []string{"EHLO without a name", "invalid command arguments", "RFC 3463 §3.6"}},
	{"smtp", "501 5.1.7 Bad sender address syntax: the closing angle bracket is missing (RFC 5321 §4.1.2)", []string{"bad sender's mailbox address syntax", "RFC 3463 §3.2"}},
	{"smtp", "501 5.1.3 Bad recipient address syntax: the address is empty (RFC 5321 §4.1.2)", []string{"bad destination mailbox address syntax", "RFC 3463 §3.2"}},
	{"smtp", "501 5.5.4 Syntax: AUTH mechanism [initial-response] (RFC 4954 §4)", []string{"invalid command arguments", "RFC 3463 §3.6"}},
	{"smtp", "501 5.0.0 Authentication cancelled (RFC 4954 §4)", []string{"to cancel the exchange", "RFC 4954 §4"}},
	{"smtp", "501 5.5.4 DATA takes no argument", []string{"invalid command arguments", "RFC 3463 §3.6"}},
	{"smtp", "501 5.5.4 SIZE takes the message's size in octets (RFC 1870 §6)", []string{"invalid command arguments", "RFC 3463 §3.6"}},
	{"smtp", "501 5.5.4 BODY is 7BIT or 8BITMIME here (RFC 6152)", []string{"invalid command arguments", "RFC 3463 §3.6"}},
	{"smtp", "501 5.5.4 SMTPUTF8 takes no value (RFC 6531 §3.4)", []string{"invalid command arguments", "RFC 3463 §3.6"}},
	{"smtp", "555 5.5.4 Unsupported MAIL FROM parameter FROB (RFC 5321 §4.1.1.11)", []string{"parameters not recognized", "RFC 5321 §4.2.3"}},
	{"smtp", "555 5.5.4 Unsupported RCPT TO parameter NOTIFY (RFC 5321 §4.1.1.11)", []string{"parameters not recognized", "RFC 5321 §4.2.3"}},
	{"smtp", "451 4.7.0 Local error in processing (signing): try again later", []string{"local error", "RFC 3463"}},
	{"smtp", "421 4.3.2 mx.example.net Service shutting down, try again later", []string{"shutting down", "RFC 3463 §3.4"}},
	{"smtp", "354 Go ahead. End your data with <CR><LF>.<CR><LF>", []string{"single dot", "RFC 5321 §4.2.3"}},
	{"smtp", "250 2.0.0 I have successfully done nothing", []string{"okay", "RFC 5321 §4.2.3"}},
	{"smtp", "252 2.5.0 Cannot VRFY user, but will accept message", []string{"cannot verify the user", "RFC 5321 §4.2.3"}},
	{"smtp", "502 5.5.1 EXPN command not implemented", []string{"not implemented", "RFC 3463 §3.6"}},
	{"smtp", "502 5.5.1 AUTH is not offered here", []string{"not implemented", "RFC 3463 §3.6"}},
	{"smtp", "500 5.5.2 Syntax error, command unrecognized: FROB", []string{"command unrecognized", "RFC 3463 §3.6"}},
	{"smtp", "500 5.5.1 This is an SMTP server, say EHLO (LHLO is LMTP's, RFC 2033 §4.1)", []string{"out of sequence or not supported", "RFC 3463 §3.6"}},
	{"lmtp", "500 5.5.1 This is an LMTP server, say LHLO (RFC 2033 §4.1)", []string{"out of sequence or not supported", "RFC 3463 §3.6"}},
	{"lmtp", "250 2.0.0 Ok: delivered to <bob@example.net>", []string{"okay", "RFC 5321 §4.2.3"}},
	{"smtp", "501 5.5.4 Syntax: MAIL FROM:<address> (RFC 5321 §4.1.2): no space after the colon", []string{"angle brackets", "RFC 5321 §4.1.2", "invalid command arguments"}},
	{"smtp", "501 5.5.4 Syntax: RCPT TO:<address> (RFC 5321 §4.1.2): the address goes in angle brackets", []string{"angle brackets", "RFC 5321 §4.1.2"}},
	{"smtp", "501 5.5.4 Unable to parse MAIL ESMTP parameters", []string{"syntax error in parameters", "invalid command arguments"}},
	{"smtp", "501 5.5.2 Invalid base64 data: the response to 334 must be base64 (RFC 4954 §4)", []string{"not valid base64", "RFC 4954 §4"}},
	{"smtp", "501 5.5.2 Invalid base64 data in the initial response (RFC 4954 §4)", []string{"not valid base64", "RFC 4954 §4"}},
	{"smtp", "501 5.5.2 Malformed authentication response: sasl: invalid response (RFC 4954 §4)", []string{"not what the mechanism expects", "RFC 4954 §4"}},
	{"smtp", "501 5.0.0 Negotiation cancelled", []string{"to cancel", "RFC 4954 §4"}},
	{"smtp", "501 5.1.7 Bad sender address syntax: control characters", []string{"bad sender's mailbox address syntax", "RFC 3463 §3.2"}},
	{"smtp", "501 5.1.3 Bad recipient address syntax: control characters", []string{"bad destination mailbox address syntax", "RFC 3463 §3.2"}},
	{"smtp", "501 5.5.4 STARTTLS takes no argument", []string{"invalid command arguments", "RFC 3463 §3.6"}},
	{"smtp", "501 5.5.4 BDAT needs a chunk size", []string{"invalid command arguments", "RFC 3463 §3.6"}},
	{"smtp", "501 5.5.4 DATA command should not have any arguments", []string{"invalid command arguments", "RFC 3463 §3.6"}},
	{"smtp", "502 5.5.1 STARTTLS is not offered here", []string{"does not support", "RFC 5321 §4.2.4"}},
	{"smtp", "502 5.5.1 CHUNKING is not offered here: use DATA", []string{"does not support", "RFC 5321 §4.2.4"}},
	{"smtp", "502 5.5.1 VRFY command not implemented", []string{"does not support", "RFC 5321 §4.2.4"}},
	{"smtp", "503 5.5.1 Bad sequence of commands: send EHLO or HELO first", []string{"bad sequence", "out of sequence", "RFC 3463 §3.6"}},
	{"smtp", "503 5.5.1 Bad sequence of commands: AUTH is not permitted during a mail transaction, send RSET first (RFC 4954 §4)", []string{"bad sequence", "RFC 3463 §3.6"}},
	{"smtp", "500 5.5.2 Syntax error: the line ends in LF alone, commands must end with CRLF (RFC 5321 §2.3.8)", []string{"command unrecognized", "RFC 3463 §3.6"}},
	{"smtp", "554 5.6.0 Message content rejected: it contains a NUL byte, which mail text may not carry (RFC 5322 §2.3, RFC 2045 §2.8)", []string{"transaction failed", "about the content", "RFC 3463 §3.7"}},
	{"smtp", "451 4.3.0 Local error in processing: no mailbox takes postmaster's mail here yet, try again later (RFC 5321 §4.5.1)", []string{"local error", "retries", "RFC 3463 §3.4"}},
	{"smtp", "503 5.5.1 Bad sequence of commands: MAIL FROM comes first", []string{"RCPT before MAIL", "RFC 5321 §4.2.3"}},
	{"smtp", "503 5.5.1 Bad sequence of commands: no valid RCPT TO yet", []string{"DATA before any recipient", "RFC 5321 §4.2.3"}},
	{"smtp", "503 5.5.1 Bad sequence of commands: a message is being transferred", []string{"bad sequence", "RFC 5321 §4.2.3"}},
	{"smtp", "503 5.5.1 Bad sequence of commands: TLS is already active", []string{"bad sequence", "RFC 5321 §4.2.3"}},
	{"smtp", "503 5.5.1 Error: nested MAIL command: a transaction is already open, send RSET first (RFC 5321 §4.1.1.2)", []string{"second MAIL before RSET", "RFC 5321 §4.2.3"}},
	{"smtp", "503 5.5.1 Already authenticated", []string{"AUTH twice", "RFC 5321 §4.2.3"}},
	{"smtp", "504 5.7.4 Unsupported authentication mechanism", []string{"mechanism the server does not offer", "RFC 5321 §4.2.3"}},
	{"smtp", "530 5.7.0 Authentication required: log in with AUTH first", []string{"authentication required", "RFC 4954 §6"}},
	{"smtp", "535 5.7.8 Authentication credentials invalid", []string{"password is wrong", "RFC 4954 §6"}},
	{"smtp", "535 5.7.8 Authorization identity must match the user", []string{"credentials invalid", "RFC 4954 §6"}},
	{"smtp", "538 5.7.11 Encryption required for requested authentication mechanism", []string{"use STARTTLS first", "RFC 4954 §6"}},
	{"smtp", "550 5.7.1 Sender address rejected: not owned by the authenticated user", []string{"policy", "RFC 3463 §3.8"}},
	{"smtp", "550 5.7.1 Relaying denied", []string{"relaying denied", "RFC 3463 §3.8"}},
	{"smtp", "550 5.7.1 Relaying denied: no source routes, %-hacks or quoted addresses", []string{"relaying denied", "RFC 3463 §3.8"}},
	{"smtp", "550 5.1.1 Recipient address rejected: user unknown", []string{"does not exist", "RFC 3463 §3.2"}},
	{"smtp", "552 5.3.4 Message too big", []string{"too big", "RFC 3463 §3.4"}},
	{"smtp", "552 5.3.4 Max message size exceeded", []string{"too big", "RFC 3463 §3.4"}},
	{"smtp", "553 5.6.7 Non-ASCII sender address not permitted without SMTPUTF8: send MAIL FROM:<address> SMTPUTF8 (RFC 6531 §3.5)", []string{"non-ASCII", "SMTPUTF8", "RFC 6531 §3.5"}},
	// LMTP (sim/smtp in LMTP mode).
	{"lmtp", "250 2.0.0 <bob@example.net> Ok: delivered to bob@example.net", []string{"okay", "RFC 5321 §4.2.3"}},
	{"lmtp", "451 4.3.0 <bob@example.net> Local error in processing (mailbox): try again later", []string{"local error", "RFC 3463 §3.4"}},
	{"lmtp", "452 4.2.2 <bob@example.net> Mailbox full: try again later", []string{"mailbox full", "RFC 3463 §3.3"}},
	{"lmtp", "550 5.1.1 <bob@example.net> mailbox store unavailable", []string{"does not exist", "RFC 3463 §3.2"}},
	{"lmtp", "550 5.1.2 This delivery agent does not hold mailboxes for example.com", []string{"domain", "RFC 3463 §3.2"}},

	// POP3 (sim/pop3).
	{"pop3", "+OK store.example.net POP3 server ready <1.2@store.example.net>", []string{"succeeded", "RFC 1939 §3"}},
	{"pop3", "-ERR [SYS/TEMP] server shutting down, try again later", []string{"temporary problem on the server", "RFC 3206 §4"}},
	{"pop3", "-ERR [SYS/TEMP] too many connections (100), try again later", []string{"temporary problem on the server", "RFC 3206 §4"}},
	{"pop3", "-ERR [SYS/TEMP] too many connections from your address, try again later", []string{"temporary problem on the server", "RFC 3206 §4"}},
	{"pop3", "-ERR [SYS/TEMP] too many failed logins from your address; try again later", []string{"temporary problem on the server", "RFC 3206 §4"}},
	{"pop3", "-ERR [SYS/TEMP] unable to lock the maildrop: busy", []string{"temporary problem", "RFC 3206 §4"}},
	{"pop3", "-ERR [SYS/TEMP] unable to read the maildrop: broken", []string{"temporary problem", "RFC 3206 §4"}},
	{"pop3", "-ERR [SYS/TEMP] unable to read message 1: broken", []string{"temporary problem", "RFC 3206 §4"}},
	{"pop3", "-ERR [SYS/TEMP] some deleted messages not removed: broken", []string{"temporary problem", "RFC 3206 §4"}},
	{"pop3", "-ERR [SYS/PERM] bob@example.net has no maildrop on this server", []string{"lasting problem", "RFC 3206 §4"}},
	{"pop3", "-ERR [IN-USE] the maildrop of bob@example.net is in use by another POP3 session; try again later", []string{"locked", "another session", "RFC 2449 §8.1.2"}},
	{"pop3", "-ERR [AUTH] login refused on an unencrypted connection: send STLS first, so the password travels inside TLS (RFC 2595)", []string{"not encrypted", "STLS first", "RFC 2595 §4", "RFC 3206 §5"}},
	{"pop3", "-ERR [AUTH] login refused on an unencrypted connection, and this server has no TLS to offer: connect to its TLS port", []string{"not encrypted", "TLS port", "RFC 3206 §5"}},
	{"pop3", "-ERR [AUTH] invalid user name or password", []string{"wrong user name or password", "RFC 3206 §5"}},
	{"pop3", "-ERR line too long (at most 255 octets with CRLF, RFC 2449 §4)", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR unknown command \"FOO\"", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR STAT is only valid after login (TRANSACTION state); log in with USER and PASS, APOP or AUTH first", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR send USER first (PASS must follow USER at once)", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR command not permitted when TLS active", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR no such message, only 2 messages in maildrop", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR CAPA takes no arguments", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR USER takes 1 argument: the user name", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR PASS takes 1 argument: the password", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR APOP takes 2 arguments: the user name and the MD5 digest", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR AUTH takes a mechanism and an optional initial response", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR unsupported SASL mechanism \"X\"; this server offers PLAIN", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR line too long; authentication cancelled", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR authentication cancelled by the client", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR STLS is not offered: this server has no TLS certificate", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR STLS takes no arguments", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR invalid number of lines \"x\"", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR message 2 already deleted", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR message 2 no longer exists: another session removed it", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "-ERR QUIT takes no arguments", []string{"command failed", "RFC 1939 §3"}},
	{"pop3", "+OK Capability list follows", []string{"succeeded", "RFC 1939 §3"}},
	{"pop3", "+OK send PASS", []string{"succeeded", "RFC 1939 §3"}},
	{"pop3", "+OK SASL mechanisms follow", []string{"succeeded", "RFC 1939 §3"}},
	{"pop3", "+OK unique-id listing follows", []string{"succeeded", "RFC 1939 §3"}},
	{"pop3", "+OK message 1 deleted", []string{"succeeded", "RFC 1939 §3"}},
	{"pop3", "+OK maildrop has 2 messages (320 octets)", []string{"succeeded", "RFC 1939 §3"}},
	{"pop3", "+OK top of message follows", []string{"succeeded", "RFC 1939 §3"}},
	{"pop3", "+OK Begin TLS negotiation", []string{"succeeded", "RFC 1939 §3"}},
	{"pop3", "+OK bob@example.net's maildrop has 2 messages (320 octets)", []string{"succeeded", "RFC 1939 §3"}},
	{"pop3", "+ ", []string{"SASL continuation", "RFC 5034 §4"}},
	{"pop3", ".", []string{"end of a multi-line response", "RFC 1939 §3"}},

	// IMAP (sim/imap, go-imap's imapserver).
	{"imap", "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED] IMAP server ready", []string{"greeting", "RFC 9051 §7.1.1"}},
	{"imap", "a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2] Logged in", []string{"completed successfully", "RFC 9051 §7.1.1"}},
	{"imap", "a1 NO [AUTHENTICATIONFAILED] Invalid user name or password", []string{"wrong user name or password", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [AUTHENTICATIONFAILED] Too many failed logins", []string{"authentication failed", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [UNAVAILABLE] Too many failed logins from your address; try again later", []string{"try again later", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [PRIVACYREQUIRED] TLS is required to log in (use STARTTLS)", []string{"not encrypted", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [AUTHORIZATIONFAILED] Acting as another user is not supported", []string{"may not act as", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [UNAVAILABLE] Mailbox store failed, try again later", []string{"temporary failure", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [UNAVAILABLE] No users on this server", []string{"temporary failure", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [NONEXISTENT] No such mailbox", []string{"does not exist", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [NONEXISTENT] No such message", []string{"does not exist", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [ALREADYEXISTS] Mailbox already exists", []string{"already exists", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [CANNOT] INBOX can not be deleted", []string{"never succeed", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [CANNOT] Unsupported SASL mechanism X (only PLAIN)", []string{"never succeed", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [TRYCREATE] No such destination mailbox; create it first", []string{"create it", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [CANNOT] The mailbox is read-only (EXAMINE); SELECT it to change it", []string{"never succeed", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [CANNOT] Source and destination are the same mailbox", []string{"never succeed", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [CANNOT] A mailbox can not be moved into itself", []string{"never succeed", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [CANNOT] Invalid mailbox name: not valid modified UTF-7 (RFC 3501 §5.1.3)", []string{"never succeed", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [CANNOT] Mailbox names are 7-bit: write non-ASCII characters in modified UTF-7 (Caf&AOk- for Café), or ENABLE UTF8=ACCEPT first (RFC 3501 §5.1, RFC 6855 §3)", []string{"never succeed", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [NONEXISTENT] The selected mailbox was deleted or renamed", []string{"does not exist", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [UNAVAILABLE] Mailbox store has no such user", []string{"temporary failure", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [AUTHENTICATIONFAILED] Invalid user name or password; too many failures, this connection accepts no more logins", []string{"wrong user name or password", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [ALREADYEXISTS] INBOX always exists", []string{"already exists", "RFC 9051 §7.1"}},
	{"imap", "a1 NO [TRYCREATE] No such mailbox; create it first", []string{"create it", "RFC 9051 §7.1"}},
	{"imap", "a1 BAD [CLIENTBUG] Malformed SASL PLAIN response: x", []string{"client did something wrong", "RFC 5530 §3"}},
	{"imap", "a1 BAD [CLIENTBUG] Message literal ended after 3 of 10 bytes", []string{"client did something wrong", "RFC 5530 §3"}},
	{"imap", "a1 BAD [CLIENTBUG] Empty message", []string{"client did something wrong", "RFC 5530 §3"}},
	{"imap", "a1 BAD [CLIENTBUG] \\Recent is not a system flag a client may set", []string{"client did something wrong", "RFC 5530 §3"}},
	{"imap", "a1 NO [TOOBIG] Messages are limited to 67108864 bytes", []string{"too big", "RFC 4469"}},
	{"imap", "a1 BAD [CLIENTBUG] Message contains a NUL byte", []string{"client did something wrong", "RFC 5530 §3"}},
	{"imap", "a1 BAD [CLIENTBUG] Syntax error: expected SP", []string{"client did something wrong", "RFC 5530 §3"}},
	{"imap", "a1 OK [CLIENTBUG] Done, but the flags were not needed", []string{"still succeeded", "RFC 5530 §3"}},
	{"imap", "a1 NO [SERVERBUG] Internal server error", []string{"bug of its own", "RFC 9051 §7.1"}},
	{"imap", "LOGIN BAD Unknown command", []string{"had no tag", "a1 LOGIN bob bob", "RFC 9051 §2.2.1"}},
	{"imap", "* BYE Unknown command", []string{"unknown command before login", "cross-protocol", "RFC 9051 §7.1.5"}},
	{"imap", `* BAD Every IMAP command starts with a tag of your choice, then the command: try "a1 LOGIN user password" (RFC 9051 §2.2.1)`, []string{"had no tag", "keeps the connection open", "RFC 9051 §2.2.1"}},
	{"imap", "* BYE Too many failed logins", []string{"closing the connection", "too many errors", "RFC 9051 §7.1.5"}},
	{"imap", "* BYE Server shutting down", []string{"closing the connection", "shuts down", "RFC 9051 §7.1.5"}},
	{"imap", "* BYE Logging out", []string{"closing the connection", "LOGOUT", "RFC 9051 §7.1.5"}},
	{"imap", "a1 BAD Command line too long: at most 49152 bytes outside literals (RFC 7162 §4)", []string{"protocol error", "RFC 9051 §7.1.3"}},
	{"imap", "a1 NO [TOOBIG] Literals are limited to 4096 bytes for this command (RFC 9051 §7.5)", []string{"too big", "RFC 4469"}},
	{"imap", "a1 BAD Non-synchronizing literals are limited to 4096 bytes (RFC 7888 §4)", []string{"protocol error", "RFC 9051 §7.1.3"}},
	{"imap", "a1 BAD [CLIENTBUG] Search too complex: at most 1000 keys, nested at most 64 deep", []string{"client did something wrong", "RFC 5530 §3"}},
	{"imap", "a1 NO [OVERQUOTA] Quota exceeded: 3 of 3 messages kept, 1 more do not fit; delete or expunge some mail first", []string{"quota"}},
	{"imap", "a1 NO [LIMIT] Too many mailboxes: at most 1000 per user; delete some first", []string{"implementation limit", "RFC 9051"}},
	{"imap", "a1 OK [READ-WRITE] SELECT completed", []string{"read-write", "RFC 9051 §7.1"}},
	{"imap", "* OK [UIDVALIDITY 1] UIDs valid", []string{"UID validity", "RFC 9051 §7.1"}},
	{"imap", "+ Ready for literal data", []string{"continuation", "RFC 9051 §7.6"}},
}

// Generic words that must not be a note's whole story.
var generic = []string{"other undefined status", "other or undefined"}

func TestServerReplies(t *testing.T) {
	for _, c := range serverReplies {
		n := Line(c.proto, false, c.line)
		low := strings.ToLower(n)
		for _, w := range c.want {
			if !strings.Contains(low, strings.ToLower(w)) {
				t.Errorf("%s S: %s\nnote lacks %q:\n%s", c.proto, c.line, w, n)
			}
		}
		for _, g := range generic {
			if strings.Contains(low, g) {
				t.Errorf("%s S: %s\nnote is generic (%q):\n%s", c.proto, c.line, g, n)
			}
		}
	}
}

// The command a tag-less IMAP line stands for is explained too.
func TestIMAPNoTag(t *testing.T) {
	n := Line("imap", true, "LOGIN bob bob")
	for _, w := range []string{"no tag", "a1 LOGIN bob bob", "RFC 9051 §2.2.1"} {
		if !strings.Contains(n, w) {
			t.Errorf("LOGIN bob bob: note lacks %q: %s", w, n)
		}
	}
	if n := Line("imap", true, "a1 LOGIN bob bob"); strings.Contains(n, "no tag") {
		t.Errorf("a1 LOGIN bob bob: %s", n)
	}
	if n := Line("imap", false, "a1 BAD [CLIENTBUG] x"); strings.Contains(n, "no tag") {
		t.Errorf("a1 BAD: %s", n)
	}
}

// TestServerRepliesListed reads the servers' sources and checks that the
// fixed start of every reply they can write has a row in serverReplies.
func TestServerRepliesListed(t *testing.T) {
	type src struct {
		dir   string
		proto string
		re    *regexp.Regexp
		line  func(m []string) string
	}
	// A reply written by the server as a literal (not one compared with
	// "==" or a map key followed by ":"), or built by reply(code, "x.y.z",
	// text).
	smtpLit := regexp.MustCompile(`(== )?"([2345]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3} )?[^"%\\]*)(?:\\r\\n)?("\s*:)?`)
	smtpErr := regexp.MustCompile(`reply\((\d{3}), "(\d)\.(\d+)\.(\d+)", "([^"%]*)`)
	pop3Lit := regexp.MustCompile(`"((?:-ERR|\+OK) [^"%\\]*)`)
	imapNo := regexp.MustCompile(`errNo\(goimap\.ResponseCode(\w+),\s*"([^"%]*)`)
	imapBad := regexp.MustCompile(`errBad\("([^"%]*)`)
	srcs := []src{
		{"../smtp", "smtp", smtpLit, func(m []string) string {
			if m[1] != "" || m[3] != "" {
				return ""
			}
			return m[2]
		}},
		{"../smtp", "smtp", smtpErr, func(m []string) string { return m[1] + " " + m[2] + "." + m[3] + "." + m[4] + " " + m[5] }},
		{"../pop3", "pop3", pop3Lit, func(m []string) string { return m[1] }},
		{"../imap", "imap", imapNo, func(m []string) string { return "a1 NO [" + strings.ToUpper(m[1]) + "] " + m[2] }},
		{"../imap", "imap", imapBad, func(m []string) string { return "a1 BAD [CLIENTBUG] " + m[1] }},
	}
	seen := 0
	for _, s := range srcs {
		files, _ := filepath.Glob(filepath.Join(s.dir, "*.go"))
		for _, f := range files {
			// client.go is sim/smtp's client side: the replies of the
			// server it talks to.
			if strings.HasSuffix(f, "_test.go") || strings.HasSuffix(f, "/smtp/client.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range s.re.FindAllStringSubmatch(string(b), -1) {
				prefix := strings.TrimRight(s.line(m), " ")
				if len(prefix) < 5 {
					continue
				}
				seen++
				if !listed(s.proto, prefix) {
					t.Errorf("%s: the reply %q has no row in serverReplies", f, prefix)
				}
			}
		}
	}
	if seen < 40 {
		t.Errorf("found only %d replies in the servers' sources: is the scan broken?", seen)
	}
}

func listed(proto, prefix string) bool {
	for _, c := range serverReplies {
		if (c.proto == proto || proto == "smtp" && c.proto == "lmtp") && strings.HasPrefix(c.line, prefix) {
			return true
		}
	}
	return false
}

// A command typed without a tag is explained as such, with or without
// arguments.
func TestTaglessCommandNote(t *testing.T) {
	for _, line := range []string{"LOGIN bob bob", "CAPABILITY", "select INBOX"} {
		if n := Line("imap", true, line); !strings.Contains(n, "this command has no tag") || !strings.Contains(n, "RFC 9051 §2.2.1") {
			t.Errorf("%q: %q", line, n)
		}
	}
}
