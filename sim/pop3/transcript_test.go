package pop3

import (
	"slices"
	"strings"
	"testing"
)

// dotted is a message whose lines start with dots: they must be stuffed
// on the wire (RFC 1939 §3) and come back intact.
const dotted = "From: alice@example.org\r\nSubject: dots\r\nMessage-ID: <dots@example.org>\r\n\r\n.\r\n..\r\n.hidden\r\nend\r\n"

// capa is the answer to CAPA before login where USER and SASL are
// allowed and STLS is not offered (no certificate, or TLS already on).
const capa = `
		C: CAPA
		S: +OK Capability list follows
		S: TOP
		S: UIDL
		S: USER
		S: SASL PLAIN
		S: RESP-CODES
		S: PIPELINING
		S: AUTH-RESP-CODE
		S: IMPLEMENTATION mailhop
		S: .`

// Transcripts of every command and state rule, one fresh server each,
// with bob's maildrop holding the two messages of RFC 1939 §10 (120 and
// 200 octets).
var transcripts = []struct {
	name   string
	opts   []option
	msgs   []string // nil: twoMessages
	script string
	// inbox is bob's INBOX afterwards ("uid:flags"); nil: unchanged.
	inbox []string
}{
	{name: "greeting and QUIT in AUTHORIZATION", script: `
		S: +OK store.example.net POP3 server ready <*
		C: QUIT
		S: +OK store.example.net POP3 server signing off
		S: <closed>`},
	{name: "USER and PASS", script: `
		S: +OK *
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)
		C: STAT
		S: +OK 2 320
		C: QUIT
		S: +OK store.example.net POP3 server signing off (2 messages left)
		S: <closed>`},
	{name: "USER with the full address, commands in lower case", script: `
		S: +OK *
		C: user BOB@example.net
		S: +OK send PASS
		C: pass bob
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)
		C: stat
		S: +OK 2 320`},
	{name: "a password with spaces", script: `
		S: +OK *
		C: USER carol
		S: +OK send PASS
		C: PASS two words
		S: +OK carol@example.net's maildrop has 0 messages (0 octets)
		C: STAT
		S: +OK 0 0
		C: LIST
		S: +OK 0 messages (0 octets)
		S: .`},
	{name: "wrong password, then right", script: `
		S: +OK *
		C: USER bob
		S: +OK send PASS
		C: PASS wrong
		S: -ERR [AUTH] invalid user name or password
		C: PASS bob
		S: -ERR send USER first (PASS must follow USER at once)
		C: USER nobody
		S: +OK send PASS
		C: PASS bob
		S: -ERR [AUTH] invalid user name or password
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)`},
	{name: "three failed logins close the session", script: `
		S: +OK *
		C: USER bob
		S: +OK *
		C: PASS a
		S: -ERR [AUTH] invalid user name or password
		C: APOP bob 00000000000000000000000000000000
		S: -ERR [AUTH] invalid user name or digest *
		C: AUTH PLAIN {PLAIN bob wrong}
		S: -ERR [AUTH] invalid user name or password; 3 failed logins, closing the connection
		S: <closed>`},
	{name: "PASS must follow USER at once", script: `
		S: +OK *
		C: USER bob
		S: +OK send PASS
		` + capa + `
		C: PASS bob
		S: -ERR send USER first *`},
	{name: "USER and PASS arguments", script: `
		S: +OK *
		C: USER
		S: -ERR USER takes 1 argument: the user name
		C: USER bob smith
		S: -ERR USER takes 1 argument: the user name
		C: USER bob
		S: +OK send PASS
		C: PASS
		S: -ERR PASS takes 1 argument: the password`},
	{name: "APOP", script: `
		S: +OK store.example.net POP3 server ready <*
		C: {APOP bob bob}
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)
		C: STAT
		S: +OK 2 320`},
	{name: "APOP with a wrong digest or arguments", script: `
		S: +OK *
		C: APOP bob 0123
		S: -ERR [AUTH] invalid user name or digest *
		C: APOP bob
		S: -ERR APOP takes 2 arguments: the user name and the MD5 digest`},
	{name: "AUTH PLAIN with an initial response", script: `
		S: +OK *
		C: AUTH PLAIN {PLAIN bob@example.net bob}
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)`},
	{name: "AUTH PLAIN with a continuation", script: `
		S: +OK *
		C: AUTH plain
		S: +{SP}
		C: {PLAIN bob bob}
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)`},
	{name: "AUTH PLAIN with an authorization identity", script: `
		S: +OK *
		C: AUTH PLAIN Ym9iQGV4YW1wbGUubmV0AGJvYgBib2I=
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)`},
	{name: "AUTH PLAIN as someone else is refused", script: `
		S: +OK *
		C: AUTH PLAIN YWxpY2UAYm9iAGJvYg==
		S: -ERR [AUTH] authorization identity differs from the user; not allowed here`},
	{name: "AUTH cancelled, malformed, unknown mechanism", script: `
		S: +OK *
		C: AUTH PLAIN
		S: +{SP}
		C: *
		S: -ERR authentication cancelled by the client
		C: AUTH LOGIN
		S: -ERR unsupported SASL mechanism "LOGIN"; this server offers PLAIN
		C: AUTH
		S: +OK SASL mechanisms follow
		S: PLAIN
		S: .
		C: AUTH PLAIN not-base64!
		S: -ERR [AUTH] the SASL response is not valid base64
		C: AUTH PLAIN =
		S: -ERR [AUTH] malformed PLAIN response *
		C: NOOP
		S: -ERR NOOP is only valid after login *`},
	{name: "a user without a maildrop", script: `
		S: +OK *
		C: USER dave
		S: +OK send PASS
		C: PASS dave
		S: -ERR [SYS/PERM] dave@example.net has no maildrop on this server`},
	{name: "CAPA in both states", script: `
		S: +OK *
		` + capa + `
		C: USER bob
		S: +OK *
		C: PASS bob
		S: +OK *
		C: CAPA
		S: +OK Capability list follows
		S: TOP
		S: UIDL
		S: RESP-CODES
		S: PIPELINING
		S: IMPLEMENTATION mailhop
		S: .
		C: CAPA x
		S: -ERR CAPA takes no arguments`},
	{name: "CAPA offers STLS when TLS is configured", opts: []option{withTLS()}, script: `
		S: +OK *
		C: CAPA
		S: +OK Capability list follows
		S: TOP
		S: UIDL
		S: USER
		S: SASL PLAIN
		S: RESP-CODES
		S: PIPELINING
		S: AUTH-RESP-CODE
		S: STLS
		S: IMPLEMENTATION mailhop
		S: .`},
	{name: "cleartext: no USER or SASL offered, logins refused", opts: []option{cleartextRefused(), withTLS()}, script: `
		S: +OK *
		C: CAPA
		S: +OK Capability list follows
		S: TOP
		S: UIDL
		S: RESP-CODES
		S: PIPELINING
		S: AUTH-RESP-CODE
		S: STLS
		S: IMPLEMENTATION mailhop
		S: .
		C: USER bob
		S: -ERR [AUTH] login refused on an unencrypted connection: send STLS first*
		C: PASS bob
		S: -ERR [AUTH] login refused *
		C: {APOP bob bob}
		S: -ERR [AUTH] login refused *
		C: AUTH PLAIN {PLAIN bob bob}
		S: -ERR [AUTH] login refused *
		C: AUTH PLAIN
		S: -ERR [AUTH] login refused *
		C: AUTH
		S: +OK SASL mechanisms follow
		S: .
		C: STAT
		S: -ERR STAT is only valid after login *`},
	{name: "cleartext without TLS to offer", opts: []option{cleartextRefused()}, script: `
		S: +OK *
		C: USER bob
		S: -ERR [AUTH] login refused on an unencrypted connection, and this server has no TLS to offer*
		C: STLS
		S: -ERR STLS is not offered: this server has no TLS certificate`},
	{name: "cleartext from loopback is allowed", opts: []option{cleartextRefused(), fromLoopback()}, script: `
		S: +OK *
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)`},
	{name: "LIST", script: `
		S: +OK *
		C: USER bob
		S: +OK *
		C: PASS bob
		S: +OK *
		C: LIST
		S: +OK 2 messages (320 octets)
		S: 1 120
		S: 2 200
		S: .
		C: LIST 2
		S: +OK 2 200
		C: LIST 3
		S: -ERR no such message, only 2 messages in maildrop
		C: LIST 0
		S: -ERR no such message, only 2 messages in maildrop
		C: LIST x
		S: -ERR invalid message number "x"
		C: LIST -1
		S: -ERR invalid message number "-1"
		C: LIST 99999999999
		S: -ERR invalid message number "99999999999"
		C: LIST 1 2
		S: -ERR LIST takes at most 1 argument`},
	{name: "UIDL is the INBOX's UIDVALIDITY and the UID", script: `
		S: +OK *
		C: USER bob
		S: +OK *
		C: PASS bob
		S: +OK *
		C: UIDL
		S: +OK unique-id listing follows
		S: 1 {V}.1
		S: 2 {V}.2
		S: .
		C: UIDL 2
		S: +OK 2 {V}.2
		C: DELE 1
		S: +OK message 1 deleted
		C: UIDL
		S: +OK unique-id listing follows
		S: 2 {V}.2
		S: .
		C: UIDL 1
		S: -ERR message 1 already deleted`},
	{name: "RETR", script: `
		S: +OK *
		C: USER bob
		S: +OK *
		C: PASS bob
		S: +OK *
		C: RETR 1
		S: +OK 120 octets
		S: From: alice@example.org
		S: To: bob@example.net
		S: Subject: first
		S: Message-ID: <1@example.org>
		S: 
		S: Hello Bob.
		S: zzzzzzzzzzzzz
		S: .
		C: RETR
		S: -ERR RETR takes 1 argument
		C: RETR 3
		S: -ERR no such message, only 2 messages in maildrop
		C: QUIT
		S: +OK *`,
		inbox: []string{`1:\Seen`, "2:"}},
	{name: "RETR dot-stuffs lines that start with a dot", msgs: []string{dotted}, script: `
		S: +OK *
		C: USER bob
		S: +OK *
		C: PASS bob
		S: +OK *
		C: RETR 1
		S: +OK 95 octets
		S: From: alice@example.org
		S: Subject: dots
		S: Message-ID: <dots@example.org>
		S: 
		S: ..
		S: ...
		S: ..hidden
		S: end
		S: .`},
	{name: "RETR of a message with bare LF and no final line end", msgs: []string{"Subject: lf\n\nline\n.dot"}, script: `
		S: +OK *
		C: USER bob
		S: +OK *
		C: PASS bob
		S: +OK *
		C: RETR 1
		S: +OK 22 octets
		S: Subject: lf
		S: 
		S: line
		S: ..dot
		S: .`},
	{name: "TOP", script: `
		S: +OK *
		C: USER bob
		S: +OK *
		C: PASS bob
		S: +OK *
		C: TOP 1 0
		S: +OK top of message follows
		S: From: alice@example.org
		S: To: bob@example.net
		S: Subject: first
		S: Message-ID: <1@example.org>
		S: 
		S: .
		C: TOP 2 1
		S: +OK top of message follows
		S: From: alice@example.org
		S: To: bob@example.net
		S: Subject: second
		S: Message-ID: <2@example.org>
		S: 
		S: Hello Bob.
		S: .
		C: TOP 1 100
		S: +OK top of message follows
		S: From: *
		S: To: *
		S: Subject: *
		S: Message-ID: *
		S: 
		S: Hello Bob.
		S: zzzzzzzz*
		S: .
		C: TOP 1
		S: -ERR TOP takes 2 arguments
		C: TOP 1 2 3
		S: -ERR TOP takes 2 arguments
		C: TOP 1 -1
		S: -ERR invalid number of lines "-1"
		C: TOP 3 0
		S: -ERR no such message, only 2 messages in maildrop
		C: QUIT
		S: +OK *`,
		inbox: []string{"1:", "2:"}}, // TOP does not mark \Seen
	{name: "DELE, then QUIT applies it", script: `
		S: +OK *
		C: USER bob
		S: +OK *
		C: PASS bob
		S: +OK *
		C: DELE 1
		S: +OK message 1 deleted
		C: DELE 1
		S: -ERR message 1 already deleted
		C: RETR 1
		S: -ERR message 1 already deleted
		C: TOP 1 0
		S: -ERR message 1 already deleted
		C: LIST 1
		S: -ERR message 1 already deleted
		C: STAT
		S: +OK 1 200
		C: LIST
		S: +OK 1 message (200 octets)
		S: 2 200
		S: .
		C: QUIT
		S: +OK store.example.net POP3 server signing off (1 message left)
		S: <closed>`,
		inbox: []string{"2:"}},
	{name: "DELE then RSET undeletes", script: `
		S: +OK *
		C: USER bob
		S: +OK *
		C: PASS bob
		S: +OK *
		C: DELE 1
		S: +OK message 1 deleted
		C: DELE 2
		S: +OK message 2 deleted
		C: STAT
		S: +OK 0 0
		C: RSET
		S: +OK maildrop has 2 messages (320 octets)
		C: STAT
		S: +OK 2 320
		C: LIST 1
		S: +OK 1 120
		C: QUIT
		S: +OK store.example.net POP3 server signing off (2 messages left)`},
	{name: "NOOP and RSET take no arguments", script: `
		S: +OK *
		C: USER bob
		S: +OK *
		C: PASS bob
		S: +OK *
		C: NOOP
		S: +OK
		C: NOOP x
		S: -ERR NOOP takes no arguments
		C: RSET x
		S: -ERR RSET takes no arguments
		C: STAT x
		S: -ERR STAT takes no arguments
		C: QUIT now
		S: -ERR QUIT takes no arguments`},
	{name: "commands of the TRANSACTION state before login", script: `
		S: +OK *
		C: STAT
		S: -ERR STAT is only valid after login (TRANSACTION state); log in with USER and PASS, APOP or AUTH first
		C: LIST
		S: -ERR LIST is only valid after login *
		C: RETR 1
		S: -ERR RETR is only valid after login *
		C: DELE 1
		S: -ERR DELE is only valid after login *
		C: TOP 1 0
		S: -ERR TOP is only valid after login *
		C: UIDL
		S: -ERR UIDL is only valid after login *
		C: RSET
		S: -ERR RSET is only valid after login *
		C: NOOP
		S: -ERR NOOP is only valid after login *`},
	{name: "commands of the AUTHORIZATION state after login", opts: []option{withTLS()}, script: `
		S: +OK *
		C: USER bob
		S: +OK *
		C: PASS bob
		S: +OK *
		C: USER bob
		S: -ERR USER is only valid before login (AUTHORIZATION state); you are logged in
		C: PASS bob
		S: -ERR PASS is only valid before login *
		C: APOP bob 0123
		S: -ERR APOP is only valid before login *
		C: AUTH PLAIN
		S: -ERR AUTH is only valid before login *
		C: STLS
		S: -ERR STLS is only valid before login *
		C: STAT
		S: +OK 2 320`},
	{name: "unknown commands and bad lines", script: `
		S: +OK *
		C: XYZZY
		S: -ERR unknown command "XYZZY"
		C: LAST
		S: -ERR unknown command "LAST"
		C: 
		S: -ERR empty command line
		C: {SP}{SP}{SP}
		S: -ERR empty command line
		B: "NO\x00OP\r\n"
		S: -ERR the line holds a NUL byte
		B: "\x00\r\n"
		S: -ERR the line holds a NUL byte
		B: "NOOP\x1b[2J\r\n"
		S: -ERR the line holds a control character (0x1b)
		C: 123
		S: -ERR unknown command "123"
		B: "HELO\x80\xff\r\n"
		S: -ERR unknown command "HELO\x80\xff"
		C: THISKEYWORDISFARTOOLONG
		S: -ERR unknown command "THISKEYWORDISFARTOOLONG"
		C: GET / HTTP/1.1
		S: -ERR unknown command "GET"
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: +OK *`},
	{name: "an overlong line is refused and the session goes on", script: `
		S: +OK *
		C: NOOP {LONG 600}
		S: -ERR line too long (at most 512 octets with CRLF, RFC 2449 §4)
		C: USER {LONG 5000}
		S: -ERR line too long *
		C: USER bob
		S: +OK send PASS
		C: PASS bob
		S: +OK *
		C: LIST {LONG 505}
		S: -ERR invalid message number "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…"
		C: LIST {LONG 506}
		S: -ERR line too long *
		C: STAT
		S: +OK 2 320`},
	{name: "pipelined commands", script: `
		S: +OK *
		C: USER bob
		C: PASS bob
		C: STAT
		C: LIST 1
		C: UIDL 2
		C: QUIT
		S: +OK send PASS
		S: +OK bob@example.net's maildrop has 2 messages (320 octets)
		S: +OK 2 320
		S: +OK 1 120
		S: +OK 2 {V}.2
		S: +OK *
		S: <closed>`},
}

func TestTranscripts(t *testing.T) {
	for _, tc := range transcripts {
		t.Run(tc.name, func(t *testing.T) {
			msgs := tc.msgs
			if msgs == nil {
				msgs = twoMessages
			}
			w := newWorld(t, msgs, tc.opts...)
			before := w.inbox(t)
			c := w.dial(t)
			c.Run(tc.script)
			c.Close()
			w.waitUnlocked(t, bob)
			want := tc.inbox
			if want == nil {
				want = before
			}
			if got := w.inbox(t); !slices.Equal(got, want) {
				t.Fatalf("INBOX afterwards %q, want %q", got, want)
			}
		})
	}
}

// Every transcript keeps to the wire format: lines end in CRLF (checked by
// the client) and no reply line is longer than RFC 2449 §4's 512 octets.
func TestRepliesAreShort(t *testing.T) {
	w := newWorld(t, twoMessages)
	c := w.connect(t)
	for _, cmd := range []string{"USER " + strings.Repeat("\xff", 400), "LIST " + strings.Repeat("9", 400), "AUTH " + strings.Repeat("A", 400)} {
		if got := c.Cmd(cmd); len(got) > 510 {
			t.Fatalf("%d-octet reply to %.20q…", len(got), cmd)
		}
	}
}
