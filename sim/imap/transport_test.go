package imap

import (
	"context"
	"crypto/tls"
	"slices"
	"testing"

	"github.com/mailhop/mailhop/sim/internal/transcripttest"
	"github.com/mailhop/mailhop/sim/trace"
)

// RFC 9051 §6.2.1: after the server's OK to STARTTLS the client starts
// TLS; what it sent after the command, before TLS, is dropped by the
// server (the command injection RFC 3207 §4.2 warns of), never run. The
// session inside TLS starts afresh, with no greeting (§6.2.1: "the
// client MUST discard cached information about server capabilities"),
// and is offered AUTH=PLAIN, neither STARTTLS nor LOGINDISABLED.
func TestStartTLSPipelining(t *testing.T) {
	w := newWorld(t, withTLS(), with(func(s *Server) { s.InsecureAuth = false }))
	w.Deliver(t, "INBOX", msg(1))
	r := w.raw(t)
	r.Run(`
		C: a0 CAPABILITY
		S: * CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LITERAL+ LITERAL- STARTTLS LOGINDISABLED ID
		S: a0 OK CAPABILITY completed
		B: "a1 STARTTLS\r\na2 LOGIN bob bob\r\na3 SELECT INBOX\r\na4 STORE 1 +FLAGS (\\Deleted)\r\na5 EXPUNGE\r\na6 CREATE inj\r\n"
		S: a1 OK Begin TLS negotiation now
		T:
		C: b1 SELECT INBOX
		S: b1 BAD [CLIENTBUG] This command is only valid in the authenticated state
		C: b2 CAPABILITY
		S: * CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LITERAL+ LITERAL- AUTH=PLAIN ID
		S: b2 OK CAPABILITY completed
		C: b3 STARTTLS
		S: b3 BAD [CLIENTBUG] TLS is already active
		C: b4 LOGIN bob bob
		S~ b4 OK \[CAPABILITY [^]]*\] Logged in
		C: b5 LOGOUT
		S: * BYE Logging out
		S: b5 OK LOGOUT completed
		S: <closed>`)
	if got := w.Flags(t, "INBOX"); !slices.Equal(got, []string{"1:"}) {
		t.Errorf("INBOX changed: %q", got)
	}
	if _, err := w.Store.Status(bob, "inj"); err == nil {
		t.Errorf("a command pipelined after STARTTLS ran")
	}
	// The lines inside TLS are in the trace, marked.
	var inTLS, outTLS []string
	for _, e := range w.Trace.Events() {
		if e.Kind != trace.KindWire || e.Proto != "imap" {
			continue
		}
		if e.TLS {
			inTLS = append(inTLS, e.Text)
		} else {
			outTLS = append(outTLS, e.Text)
		}
	}
	if !slices.Contains(inTLS, "b1 SELECT INBOX") || slices.Contains(outTLS, "b1 SELECT INBOX") ||
		!slices.Contains(outTLS, "a1 OK Begin TLS negotiation now") {
		t.Errorf("trace: in TLS %q\nin clear %q", inTLS, outTLS)
	}
}

// RFC 9051 §6.2.1: STARTTLS is valid only before login, takes no
// argument, and a server without TLS refuses it; the refusal leaves the
// connection as it was. A "STARTTLS" line that answers a continuation
// (a SASL response) is no command.
func TestStartTLSRefused(t *testing.T) {
	w := newWorld(t, withTLS())
	r := w.raw(t)
	r.Run(`
		C: a1 STARTTLS now
		S: a1 BAD [CLIENTBUG] STARTTLS takes no arguments
		C: a2 AUTHENTICATE PLAIN
		S: + =
		C: x STARTTLS
		S: a2 BAD*
		C: a3 LOGIN bob bob
		S: a3 OK *
		C: a4 STARTTLS
		S: a4 BAD [CLIENTBUG] STARTTLS is only valid before login (RFC 9051 §6.2.1)
		C: a5 NOOP
		S: a5 OK NOOP completed`)
	// Pipelined behind a LOGIN: answered after it, as after a login.
	r = w.raw(t)
	r.Run(`
		B: "a1 LOGIN bob bob\r\na2 STARTTLS\r\na3 NOOP\r\n"
		S: a1 OK *
		S: a2 BAD [CLIENTBUG] STARTTLS is only valid before login*
		S: a3 OK NOOP completed`)

	w = newWorld(t)
	r = w.raw(t)
	r.Run(`
		C: a1 CAPABILITY
		S: * CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LITERAL+ LITERAL- AUTH=PLAIN ID
		S: a1 OK CAPABILITY completed
		C: a2 STARTTLS
		S: a2 BAD STARTTLS is not available on this server
		C: a3 LOGIN bob bob
		S: a3 OK *`)
}

// A loopback peer (or InsecureAuth) may log in in cleartext and is still
// offered STARTTLS; after it, the session is the TLS one.
func TestStartTLSFromLoopback(t *testing.T) {
	w := newWorld(t, withTLS(), with(func(s *Server) { s.InsecureAuth = false }),
		func(w *world) { w.Loopback = true })
	r := w.raw(t)
	r.Run(`
		C: a1 CAPABILITY
		S: * CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LITERAL+ LITERAL- STARTTLS AUTH=PLAIN ID
		S: a1 OK CAPABILITY completed
		C: a2 LOGIN bob wrong
		S: a2 NO [AUTHENTICATIONFAILED]*
		C: a3 STARTTLS
		S: a3 OK Begin TLS negotiation now
		T:
		C: b1 CAPABILITY
		S: * CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LITERAL+ LITERAL- AUTH=PLAIN ID
		S: b1 OK CAPABILITY completed
		C: b2 LOGIN bob wrong
		S: b2 NO [AUTHENTICATIONFAILED]*
		# The failure before STARTTLS counts: the third ends the logins.
		C: b3 LOGIN bob wrong
		S: b3 NO [AUTHENTICATIONFAILED] Invalid user name or password; too many failures*
		C: b4 LOGIN bob bob
		S: * BYE Too many failed logins
		S: <closed>`)
}

// Server.ImplicitTLS serves TLS from the first byte on a plain
// listener, with TLSConfig, and STARTTLS is not offered; the guards read
// the decrypted commands.
func TestImplicitTLSField(t *testing.T) {
	w := newWorld(t, withTLS(), with(func(s *Server) { s.InsecureAuth, s.ImplicitTLS = false, true }))
	nc, err := w.Client.DialContext(context.Background(), "tcp", w.Addr)
	if err != nil {
		t.Fatal(err)
	}
	r := raw{transcripttest.NewConn(t, tls.Client(nc, w.ClientTLS))}
	r.Run(`
		S: * OK [CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LITERAL+ LITERAL- AUTH=PLAIN ID] IMAP server ready
		C: a1 STARTTLS
		S: a1 BAD [CLIENTBUG] TLS is already active
		C: a2 LOGIN bob bob
		S: a2 OK *
		C: T1 SEARCH SUBJECT "{LONG 51183}Z CREATE inj
		S: T1 BAD Command line too long*
		C: a3 NOOP
		S: a3 OK NOOP completed`)
	if _, err := w.Store.Status(bob, "inj"); err == nil {
		t.Errorf("the rest of a long line ran as a command")
	}
}
