package explain

var pop3Tables = []group{
	{"pop3", KindReply, []row{
		{"+OK", "RFC 1939 §3", "positive response: the command succeeded"},
		{"-ERR", "RFC 1939 §3", "negative response: the command failed; the text may say why"},
		{".", "RFC 1939 §3", "end of a multi-line response: a line holding a single dot"},
		{"+", "RFC 5034 §4", "SASL continuation: the server waits for the client's next authentication step, base64-encoded"},
	}},

	// Response codes in brackets after +OK or -ERR, for programs rather
	// than people ("-ERR [IN-USE] ...").
	{"pop3", KindStatus, []row{
		{"LOGIN-DELAY", "RFC 2449 §8.1.1", "this user logged in too recently; the server allows a new login only after the login delay"},
		{"IN-USE", "RFC 2449 §8.1.2", "the login was right, but the mailbox is locked: another session (probably another POP3 client) has it open; try again later"},
		{"SYS/TEMP", "RFC 3206 §4", "a temporary problem on the server, not the user's credentials; try again later"},
		{"SYS/PERM", "RFC 3206 §4", "a lasting problem on the server (e.g. a corrupted mailbox) that needs someone to fix it; not the user's credentials"},
		{"AUTH", "RFC 3206 §5", "the login itself is refused, not because of a problem on the server: wrong user name or password, an expired account, or a login against policy"},
	}},

	{"pop3", KindCommand, []row{
		{"USER", "RFC 1939 §7", "names the mailbox to log in to; PASS follows with the password in clear text, so use STLS or TLS first"},
		{"PASS", "RFC 1939 §7", "the password, in clear text; once it is right the server takes the mailbox's exclusive-access lock (RFC 1939 §4) for this session"},
		{"APOP", "RFC 1939 §7", "logs in without sending the password: an MD5 digest of the greeting's timestamp and a shared secret"},
		{"AUTH", "RFC 5034 §4", "logs in with a SASL mechanism (e.g. PLAIN); the server's challenges come as lines starting with +"},
		{"STLS", "RFC 2595 §4", "asks to encrypt the connection; after +OK both sides run the TLS handshake"},
		{"CAPA", "RFC 2449 §5", "asks which extensions the server supports; the answer is a list, one capability per line, ended by a dot"},
		{"STAT", "RFC 1939 §5", "how many messages are in the mailbox and their total size in octets: +OK count size"},
		{"LIST", "RFC 1939 §5", "the number and size of every message, or of the one message named"},
		{"RETR", "RFC 1939 §5", "retrieve a whole message: it follows the +OK line and ends with a line holding a single dot"},
		{"DELE", "RFC 1939 §5", "marks a message as deleted; it is removed only when QUIT ends the session"},
		{"NOOP", "RFC 1939 §5", "does nothing; the server answers +OK"},
		{"RSET", "RFC 1939 §5", "unmarks every message marked as deleted in this session"},
		{"TOP", "RFC 1939 §7", "the header of a message and the first n lines of its body"},
		{"UIDL", "RFC 1939 §7", "a unique id for each message that stays the same across sessions, so a client that leaves mail on the server knows what it already has"},
		{"QUIT", "RFC 1939 §6", "ends the session: messages marked as deleted are removed now, and the lock is released"},
		{"*", "RFC 5034 §4", "cancels the authentication exchange"},
	}},

	// Capabilities, one per line of the answer to CAPA.
	{"pop3", KindKeyword, []row{
		{"TOP", "RFC 2449 §6.1", "the TOP command is supported"},
		{"USER", "RFC 2449 §6.2", "login with USER and PASS is supported"},
		{"SASL", "RFC 2449 §6.3", "AUTH is supported, with the SASL mechanisms listed after it"},
		{"RESP-CODES", "RFC 2449 §6.4", "a response text starting with [ is a response code, such as [IN-USE]"},
		{"LOGIN-DELAY", "RFC 2449 §6.5", "the minimum number of seconds between two logins"},
		{"PIPELINING", "RFC 2449 §6.6", "the client may send several commands without waiting for each response"},
		{"EXPIRE", "RFC 2449 §6.7", "how many days the server keeps a message after it was retrieved (NEVER: it keeps it)"},
		{"UIDL", "RFC 2449 §6.8", "the UIDL command is supported"},
		{"IMPLEMENTATION", "RFC 2449 §6.9", "names the server software, for information only"},
		{"STLS", "RFC 2595 §4", "the STLS command is available: the connection can be encrypted"},
		{"AUTH-RESP-CODE", "RFC 3206", "a login that fails because of the credentials says so with the [AUTH] response code"},
	}},
}
