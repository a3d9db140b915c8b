package smtp

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mailhop/mailhop/sim/auth"
)

// What an attacker probing port 25 from outside tried, as transcripts
// (sim/internal/transcripttest): each runs on a strict and on a tolerant
// server, which must answer alike.

// envQueue keeps the envelope of each message, and its text.
type envQueue struct {
	mu   sync.Mutex
	msgs []queued
}

type queued struct {
	from string
	to   []string
	body string
}

func (q *envQueue) Enqueue(from string, to []string, body []byte) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = append(q.msgs, queued{from, append([]string(nil), to...), string(body)})
	return fmt.Sprintf("Q%d", len(q.msgs)), nil
}

func (q *envQueue) all() []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]queued(nil), q.msgs...)
}

func bothModes(t *testing.T, run func(t *testing.T, strict bool)) {
	for _, strict := range []bool{true, false} {
		name := "tolerant"
		if strict {
			name = "strict"
		}
		t.Run(name, func(t *testing.T) { run(t, strict) })
	}
}

// mxWithAlice is example.org's MX, where alice may log in (AUTH on
// cleartext, as --insecure-auth allows: TLS changes nothing here).
func mxWithAlice(t *testing.T, strict bool, q Enqueuer) *Server {
	t.Helper()
	users := auth.NewDirectory("example.org")
	if err := users.Add("alice@example.org", "alice"); err != nil {
		t.Fatal(err)
	}
	return &Server{Mode: MX, Hostname: "mx.example.org", Strict: strict, Queue: q, Users: users, InsecureAuth: true, Clock: instant{},
		IsLocal: func(d string) bool { return d == "example.org" }}
}

// An authenticated session is bound to its user's address on port 25 as
// on submission (RFC 6409 §6.1): a login there grants relaying, so a
// sender nobody checked could aim bounces anywhere.
func TestAuthBindsSenderOnMX(t *testing.T) {
	bothModes(t, func(t *testing.T, strict bool) {
		q := &envQueue{}
		serve(t, mxWithAlice(t, strict, q), 25).Run(`
			C: EHLO client.example.net
			S: 250 *
			C: AUTH PLAIN {PLAIN alice@example.org alice}
			S: 235 2.0.0 Authentication succeeded
			C: MAIL FROM:<bob@example.net>
			S: 550 5.7.1 Sender address rejected: not owned by the authenticated user
			C: MAIL FROM:<>
			S: 550 5.7.1 Sender address rejected: not owned by the authenticated user
			C: MAIL FROM:<carol@example.org>
			S: 550 5.7.1 Sender address rejected: not owned by the authenticated user
			C: RCPT TO:<carol@elsewhere.example>
			S: 503 5.5.1 Bad sequence of commands: MAIL FROM comes first
			C: MAIL FROM:<Alice@Example.org>
			S: 250 2.1.0 *
			C: RCPT TO:<carol@elsewhere.example>
			S: 250 2.1.5 *
			C: DATA
			S: 354 *
			B: "Subject: mine\r\n\r\nhello\r\n.\r\n"
			S: 250 2.0.0 Ok: queued as Q1`)
		if m := q.all(); len(m) != 1 || m[0].from != "Alice@Example.org" || !strings.Contains(m[0].body, "with ESMTPA") {
			t.Fatalf("queued %+v", m)
		}
	})
}

// A login in the middle of a transaction would vouch for a sender nobody
// checked: RFC 4954 §4 wants 503 for AUTH after MAIL, and nothing relays
// for that sender.
func TestAuthInsideTransaction(t *testing.T) {
	bothModes(t, func(t *testing.T, strict bool) {
		serve(t, mxWithAlice(t, strict, &envQueue{}), 25).Run(`
			C: EHLO client.example.net
			S: 250 *
			C: MAIL FROM:<bob@example.net>
			S: 250 2.1.0 *
			C: AUTH PLAIN {PLAIN alice@example.org alice}
			S: 503 5.5.1 Bad sequence of commands: AUTH is not permitted during a mail transaction, send RSET first (RFC 4954 §4)
			C: RCPT TO:<carol@elsewhere.example>
			S: 550 5.7.1 Relaying denied
			C: RSET
			S: 250 *
			C: AUTH PLAIN {PLAIN alice@example.org alice}
			S: 235 2.0.0 Authentication succeeded
			C: MAIL FROM:<bob@example.net>
			S: 550 5.7.1 *`)
	})
}

// SMTP smuggling (CVE-2023-51764 and kin): a message is refused whole if
// a line of it has a bare CR or LF (RFC 5321 §2.3.8; only CRLF.CRLF ends
// the data, §4.1.1.4) or a NUL; nothing in it runs as a command, and the
// session stays in step. No message acknowledged 250 holds another.
func TestSmuggling(t *testing.T) {
	const begin = `
		C: EHLO client.example.org
		S: 250 *
		C: MAIL FROM:<alice@example.org>
		S: 250 2.1.0 *
		C: RCPT TO:<bob@example.net>
		S: 250 2.1.5 *
		C: DATA
		S: 354 *`
	const bare = "S: 500 5.5.2 Message contains a bare CR or LF: lines must end with CRLF (RFC 5321 2.3.8)"
	const smuggled = `MAIL FROM:<admin@example.net>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n`
	for _, tc := range []struct {
		name, script string
		queued       int
	}{
		{"a dot and a bare CR (CR LF . CR)", begin + `
			B: "Subject: first\r\n\r\nhello\r\n.\r` + smuggled + `.\r\n"
			` + bare + `
			C: NOOP
			S: 250 *`, 0},
		{"a dot, a bare CR, then CRLF", begin + `
			B: "Subject: first\r\n\r\nhello\r\n.\r\r\n` + smuggled + `.\r\n"
			` + bare + `
			C: NOOP
			S: 250 *`, 0},
		// The dot line after ". CR CR LF" ends the data: the commands
		// after it are commands, never more of the message (queued
		// with a 250).
		{"CR LF . CR CR LF . CR LF, then a transaction of its own", begin + `
			B: "Subject: first\r\n\r\nhello\r\n.\r\r\n.\r\n` + smuggled + `.\r\n"
			` + bare + `
			S: 250 2.1.0 *
			S: 250 2.1.5 *
			S: 354 *
			S: 250 2.0.0 Ok: queued as Q1`, 1},
		{"LF . LF", begin + `
			B: "Subject: first\r\n\r\nhello\n.\n` + smuggled + `.\r\n"
			` + bare + `
			C: NOOP
			S: 250 *`, 0},
		{"a bare CR inside a line", begin + `
			B: "Subject: first\r\n\r\nhel\rlo\r\n.\r\n"
			` + bare, 0},
		{"a NUL", begin + `
			B: "Subject: first\r\n\r\nhel\x00lo\r\n.\r\n"
			S: 554 5.6.0 Message content rejected: it contains a NUL byte, which mail text may not carry (RFC 5322 §2.3, RFC 2045 §2.8)
			C: NOOP
			S: 250 *`, 0},
		{"a line over 1000 octets, then a bare CR", begin + `
			B: "Subject: first\r\n\r\n` + strings.Repeat("x", 5000) + `\r\n.\r` + smuggled + `.\r\n"
			S: 500 5.5.2 Message has a line longer than 1000 octets (RFC 5321 4.5.3.1.6)
			C: NOOP
			S: 250 *`, 0},
		{"1000 octets and a transparency dot are fine", begin + `
			B: "Subject: first\r\n\r\n..` + strings.Repeat("x", 997) + `\r\n.\r\n"
			S: 250 2.0.0 Ok: queued as Q1`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bothModes(t, func(t *testing.T, strict bool) {
				q := &envQueue{}
				serve(t, &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: q, Strict: strict}, 25).Run(tc.script)
				msgs := q.all()
				if len(msgs) != tc.queued {
					t.Fatalf("%d messages queued, want %d", len(msgs), tc.queued)
				}
				for _, m := range msgs {
					if strings.Contains(m.body, "Subject: first") && strings.Contains(m.body, "smuggled") || strings.ContainsAny(m.body, "\x00") {
						t.Fatalf("queued a message with another inside:\n%q", m.body)
					}
				}
			})
		})
	}
}

// A command (or a SASL response) that ends in LF alone is refused, never
// run (RFC 5321 §2.3.8): a server that took LF for CRLF could be made
// to run what its peers pass on as text.
func TestBareLFCommands(t *testing.T) {
	const lfOnly = "S: 500 5.5.2 Syntax error: the line ends in LF alone, commands must end with CRLF (RFC 5321 §2.3.8)"
	bothModes(t, func(t *testing.T, strict bool) {
		serve(t, mxWithAlice(t, strict, &envQueue{}), 25).Run(`
			B: "EHLO client.example.net\n"
			` + lfOnly + `
			C: EHLO client.example.net
			S: 250 *
			B: "MAIL FROM:<bob@example.net>\nRCPT TO:<alice@example.org>\r\n"
			` + lfOnly + `
			S: 503 5.5.1 Bad sequence of commands: MAIL FROM comes first
			B: "NOOP\n"
			` + lfOnly + `
			C: AUTH LOGIN
			S: 334 VXNlcm5hbWU6
			B: "YWxpY2VAZXhhbXBsZS5vcmc=\n"
			` + lfOnly + `
			C: NOOP
			S: 250 *`)
	})
}

// EHLO and HELO name the client, and the name goes into the Received
// header: a domain or an address literal (RFC 5321 §4.1.1.1), never
// control characters, in either mode; a strict server wants the grammar
// to the letter, a tolerant one what real clients say.
func TestHeloSyntax(t *testing.T) {
	const ok = "250 *"
	const syntax = "501 5.5.4 Syntax: EHLO hostname (RFC 5321 §4.1.1.1): "
	for _, tc := range []struct {
		arg              string
		strict, tolerant string
	}{
		{"client.example.org", ok, ok},
		{"bob-pc", ok, ok},
		{"[192.0.2.1]", ok, ok},
		{"[IPv6:2001:db8::1]", ok, ok},
		{"bücher.example", ok, ok},
		{"a\rb.example", syntax + "control character CR in the name*", syntax + "control character CR in the name*"},
		{"a\x00b.example", syntax + "control character NUL*", syntax + "control character NUL*"},
		{"a\tb.example", syntax + "control character TAB*", syntax + "control character TAB*"},
		{"a\x1bb.example", syntax + "control character 0x1B*", syntax + "control character 0x1B*"},
		{"a\u0085b.example", syntax + "control character U+0085*", syntax + "control character U+0085*"},
		{"a\xffb.example", syntax + "the name is not valid UTF-8", syntax + "the name is not valid UTF-8"},
		{"evil;by.example", syntax + "';' can not be in a domain name*", syntax + "';' can not be in a host's name"},
		{"(comment)", syntax + "'(' can not be*", syntax + "'(' can not be*"},
		{"evil\u202eelpmaxe", syntax + "'\\u202e' can not be*", syntax + "'\\u202e' can not be*"},
		{"[192.0.2.1", syntax + "an address literal is an address in square brackets*", syntax + "an address literal is*"},
		{"192.0.2.1", syntax + "an IP address goes in square brackets, as an address literal (RFC 5321 §4.1.3): [192.0.2.1]", ok},
		{"2001:db8::1", syntax + "an IP address goes in square brackets, as an address literal (RFC 5321 §4.1.3): [IPv6:2001:db8::1]", ok},
		{"my_pc.example", syntax + "'_' can not be in a domain name: letters, digits and hyphens only", ok},
		{"-x.example", syntax + "a label can not start or end with a hyphen", ok},
		{"client.example.", syntax + "an empty label*", ok},
		{"[300.1.1.1]", syntax + "not an IPv4 address*", ok},
		{"[IPv6:nope]", syntax + "not an IPv6 address after IPv6:", ok},
		{"client.example.org more words", syntax + "one argument only*", ok},
	} {
		t.Run(fmt.Sprintf("%q", tc.arg), func(t *testing.T) {
			bothModes(t, func(t *testing.T, strict bool) {
				want := tc.tolerant
				if strict {
					want = tc.strict
				}
				script := fmt.Sprintf("B: %q\nS: %s", "EHLO "+tc.arg+"\r\n", want)
				if want != ok {
					// Nothing was taken: the session still waits
					// for a greeting.
					script += "\nC: MAIL FROM:<a@example.org>\nS: 503 5.5.1 *"
					if !strings.HasPrefix(tc.arg, "[") {
						script += fmt.Sprintf("\nB: %q\nS: %s", "HELO "+tc.arg+"\r\n", strings.Replace(want, "EHLO", "HELO", 1))
					}
				}
				serve(t, &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: &envQueue{}, Strict: strict}, 25).Run(script)
			})
		})
	}
	// HELO takes a domain only; an address literal needs EHLO.
	bothModes(t, func(t *testing.T, strict bool) {
		want := "S: 250 *"
		if strict {
			want = "S: 501 5.5.4 Syntax: HELO hostname (RFC 5321 §4.1.1.1): HELO takes a domain name; an address literal needs EHLO"
		}
		serve(t, &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: &envQueue{}, Strict: strict}, 25).Run("C: HELO [192.0.2.1]\n" + want)
	})
}

// The name in Received is the one EHLO gave, control characters never
// among them.
func TestReceivedHasCleanHelo(t *testing.T) {
	q := &envQueue{}
	serve(t, &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Queue: q}, 25).Run(`
		B: "EHLO evil.example\r\tby trusted.example\r\n"
		S: 501 5.5.4 Syntax: EHLO hostname (RFC 5321 §4.1.1.1): control character CR*
		` + mailToBob + `
		S: 250 *`)
	if m := q.all(); len(m) != 1 || !strings.HasPrefix(m[0].body, "Received: from client.example.org ([192.0.2.99])\r\n\tby mx.example.net") {
		t.Fatalf("queued %+v", m)
	}
}

// postmaster must be accepted at every local domain, and <postmaster>
// with no domain at all (RFC 5321 §4.5.1), whether or not a user has that
// name; the message goes to a real mailbox, and only once.
func TestPostmaster(t *testing.T) {
	users := auth.NewDirectory("")
	for _, u := range []string{"bob@example.net", "alice@example.net", "carol@example.com"} {
		if err := users.Add(u, "x"); err != nil {
			t.Fatal(err)
		}
	}
	local := func(d string) bool { return d == "example.net" || d == "example.com" || d == "empty.example" }
	exists := func(a string) bool { _, ok := users.Lookup(a); return ok && local(domainOf(a)) }
	mx := func(strict bool, q Enqueuer) *Server {
		return &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: local, Recipient: exists, Users: users, Queue: q, Strict: strict}
	}
	const head = `
		C: EHLO client.example.org
		S: 250 *
		C: MAIL FROM:<someone@elsewhere.example>
		S: 250 2.1.0 *`
	const data = `
		C: DATA
		S: 354 *
		B: "Subject: hello postmaster\r\n\r\nhello\r\n.\r\n"
		S: 250 2.0.0 Ok: queued as Q1`
	bothModes(t, func(t *testing.T, strict bool) {
		for _, tc := range []struct {
			name, rcpts string
			to          []string // the mailboxes the message goes to
			forHeader   string   // Received's "for", with one recipient
		}{
			// The first user of the domain, as Users lists them.
			{"postmaster@example.net", "C: RCPT TO:<postmaster@example.net>\nS: 250 2.1.5 *", []string{"alice@example.net"}, "for <postmaster@example.net>"},
			{"any case", "C: RCPT TO:<PostMaster@EXAMPLE.COM>\nS: 250 2.1.5 *", []string{"carol@example.com"}, "for <PostMaster@EXAMPLE.COM>"},
			{"no domain", "C: RCPT TO:<postmaster>\nS: 250 2.1.5 I'll make sure <postmaster> gets this", []string{"alice@example.net"}, "for <postmaster>"},
			// A local domain without users: the host's postmaster.
			{"a domain without users", "C: RCPT TO:<postmaster@empty.example>\nS: 250 2.1.5 *", []string{"alice@example.net"}, ""},
			{"each mailbox once", `
				C: RCPT TO:<postmaster>
				S: 250 2.1.5 *
				C: RCPT TO:<postmaster@example.net>
				S: 250 2.1.5 *
				C: RCPT TO:<alice@example.net>
				S: 250 2.1.5 *
				C: RCPT TO:<postmaster@example.com>
				S: 250 2.1.5 *`, []string{"alice@example.net", "carol@example.com"}, ""},
			// Not a local domain: no relaying for postmaster either.
			{"elsewhere", `
				C: RCPT TO:<postmaster@elsewhere.example>
				S: 550 5.7.1 Relaying denied
				C: RCPT TO:<postmaster%elsewhere.example@example.net>
				S: 550 5.7.1 *
				C: RCPT TO:<bob@example.net>
				S: 250 2.1.5 *`, []string{"bob@example.net"}, "for <bob@example.net>"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				q := &envQueue{}
				serve(t, mx(strict, q), 25).Run(head + "\n" + strings.TrimSpace(tc.rcpts) + data)
				m := q.all()
				if len(m) != 1 || strings.Join(m[0].to, ",") != strings.Join(tc.to, ",") {
					t.Fatalf("queued %+v, want it for %v", m, tc.to)
				}
				if !strings.Contains(m[0].body, tc.forHeader) {
					t.Errorf("Received without %q:\n%s", tc.forHeader, m[0].body)
				}
			})
		}
	})
	// A user named postmaster gets its mail; Server.Postmaster names
	// the mailbox for all.
	users.Add("postmaster@example.net", "x")
	t.Run("a user named postmaster", func(t *testing.T) {
		q := &envQueue{}
		serve(t, mx(true, q), 25).Run(head + "\nC: RCPT TO:<Postmaster@example.net>\nS: 250 2.1.5 *" + data)
		if m := q.all(); len(m) != 1 || !strings.EqualFold(m[0].to[0], "postmaster@example.net") {
			t.Fatalf("queued %+v", m)
		}
	})
	t.Run("Server.Postmaster", func(t *testing.T) {
		q := &envQueue{}
		s := mx(true, q)
		s.Postmaster = "bob@example.net"
		serve(t, s, 25).Run(head + "\nC: RCPT TO:<postmaster@example.com>\nS: 250 2.1.5 *\nC: RCPT TO:<postmaster>\nS: 250 2.1.5 *" + data)
		if m := q.all(); len(m) != 1 || strings.Join(m[0].to, ",") != "bob@example.net" {
			t.Fatalf("queued %+v", m)
		}
	})
	// No mailbox to be found (Users can not list its addresses): a
	// temporary failure, ours, not "user unknown".
	t.Run("nowhere to deliver", func(t *testing.T) {
		s := mx(true, &envQueue{})
		s.Users = nil
		serve(t, s, 25).Run(head + "\nC: RCPT TO:<postmaster@example.com>\nS: 451 4.3.0 *")
	})
}
