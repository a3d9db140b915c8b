// Package lesson reads lesson files and tells whether a student has done
// what a lesson asks.
//
// A lesson is a world (package world), a goal, steps for the student (each
// with a hint), checks over what happened (the trace of package trace, and
// the mailboxes of the world), and a scripted solution. The playground
// shows the steps, calls Evaluate after each batch of trace events and
// says, check by check, what holds and what is still missing. `mailhop
// lesson check FILE` runs a file's solution headless (Verify) and prints
// every check with ✓ or ✗: a teacher writes a lesson, and tries it, without
// Go. The built-in lessons (Builtin) live in lessons/*.yaml, in course
// order.
//
// # The file
//
// A lesson file is YAML or JSON; unknown fields are errors. Parse reads it
// and Check reports the first mistake in words a teacher can act on
// (`lesson "first-mail": check 3 (...): reply reply "(250" is not a valid
// pattern: missing closing )`). A whole file:
//
//	id: first-mail                         # short name: letters, digits, dashes
//	title: Your first mail, typed by hand
//	goal: >                                # two sentences: what, and what it teaches
//	  Deliver a message to bob@example.net by typing the SMTP session yourself.
//	  You will see that a mail is a short conversation of commands and replies.
//	world: default                         # a built-in world, or a whole world file (below)
//	setup:                                 # optional: done when the lesson starts
//	  - mail: {from: alice@example.org, to: [bob@example.net], subject: Hi, body: Hello}
//	  - advance: 1m
//	steps:                                 # what the student does, in order
//	  - text: From bob-pc, connect to mx.example.net, port 25.
//	    hint: "The server speaks first: 220 mx.example.net ESMTP ..."
//	checks:                                # all must hold for the lesson to be done
//	  - name: the envelope recipient was accepted (RCPT TO)
//	    missing: no RCPT TO has been accepted yet on your connection to mx.example.net:25
//	    reply: {peer: mx.example.net, port: 25, send: "^RCPT TO:", reply: "^250"}
//	solution:                              # what a student would type
//	  - connect: {from: bob-pc, to: mx.example.net, port: 25}
//	    expect: "^220 "
//	  - {send: "HELO bob-pc", expect: "^250 "}
//
// Top-level fields:
//
//	id        required  the lesson's name (Load finds a built-in lesson by it)
//	title     required  one line
//	goal      required  two sentences: what the student will do, and what they will see
//	world     required  a built-in world's name (default, mx-down, dns-broken, backup-mx,
//	                    null-mx, spoof, no-dmarc, forwarded, mailing-list, large) or a whole world
//	                    file's text, as a YAML block (world: |)
//	setup     optional  actions done when the lesson starts, not by the student: only
//	                    mail, advance and fault
//	steps     required  a list of {text, hint}: what to do, and a hint shown when stuck
//	checks    required  a list of checks (below)
//	solution  optional  actions that solve the lesson; `mailhop lesson check` runs them
//	                    and expects every check to hold (built-in lessons must have one)
//
// # Patterns
//
// Every pattern (expect, and the text fields of checks) is a regular
// expression in the syntax common to Go's RE2 and JavaScript, and always
// ignores case (as JavaScript's "i" flag): "^mail from:" matches "MAIL
// FROM:<a@b>". Flags like (?i) or (?s), \A, \z, \Q and [[:alpha:]] are
// refused, as JavaScript does not know them. A pattern matches anywhere in
// the text unless anchored with ^ and $; "." does not match a newline. In
// YAML, write patterns in double quotes and double every backslash
// ("^\\.$" is a line holding only a dot), or in single quotes as they are
// ('^\.$').
//
// # Actions (setup and solution)
//
// Each action does one thing:
//
//	connect: {from: bob-pc, to: mx.example.net, port: 25}
//	          open a terminal connection from a host to a port of another (a name or an
//	          address), as telnet would; later send and expect actions use the latest
//	          connection. On ports 465, 993 and 995 TLS starts at once.
//	send: "MAIL FROM:<alice@example.org>"
//	          type one line on the latest connection (CRLF is added); send: "" types an
//	          empty line (the one between a message's header and body). After a STARTTLS
//	          (SMTP, LMTP), STLS (POP3) or "tag STARTTLS" (IMAP) that the server accepts,
//	          the TLS handshake is done, as the playground's terminal does.
//	eol: lf   with send: end the line with a bare LF instead of CRLF (as nc without -C)
//	expect: "^250 "
//	          wait (10 s of wall time at most) for a line from the server matching the
//	          pattern; lines an earlier expect went past are not seen again. Goes alone,
//	          or with connect or send in the same action (send first, then wait).
//	close: true
//	          close the latest connection
//	advance: 90s | 1h | retry
//	          move the virtual clock forward by a duration, or to the next retry of a
//	          queued message
//	mail: {from: alice@example.org, to: [bob@example.net], subject: Hi, body: Hello}
//	          the sender's mail program submits a message to its MSA (587, TLS, AUTH);
//	          delivery takes a moment of virtual time: follow it with advance: 1m
//	fault: {kind: host-up, host: mx.example.net}
//	          inject or mend a fault (kinds as in world files: host-down, host-up,
//	          link-cut, link-restore, port-refuse, port-accept, latency, dns,
//	          mailbox-full, mailbox-room)
//
// # Checks
//
// A check has a name, said as a fact once it holds ("bob's INBOX holds a
// message with a Subject"), missing, what to tell the student while it
// does not ("no RCPT TO has been accepted yet on your connection to
// mx.example.net:25"), and exactly one of event, reply and mailbox:
//
//	name     required  the fact, once it holds
//	missing  optional  what is missing, while it does not (say it precisely)
//	count    optional  how many matches are needed (1 by default)
//	absent   optional  true: the check holds while nothing matches ("no smuggled
//	                   message reached bob")
//
// event matches trace events (see package trace for the kinds and fields).
// Empty fields match anything; text, records and mailbox are patterns:
//
//	event: {kind: dns, action: query, host: mail.example.org, text: "^example\\.net\\. IN MX$"}
//	event: {kind: dns, action: answer, records: "IN\\s+MX\\s+10 mx\\.example\\.net\\.$"}
//	event: {kind: queue, action: deferred, host: mail.example.org}
//	event: {kind: wire, dir: send, peer: store.example.net, port: 110, text: "^QUIT$", tls: true}
//	event: {kind: auth, action: dmarc, host: mx.example.net, text: "^DMARC fail .*p=reject"}
//
//	kind     host, link, conn, wire, packet, tls, dns, queue, deliver, fetch, hop, fault, lesson,
//	         auth (SPF, DKIM and DMARC: actions dkim-sign, spf, dkim, dmarc, verdict)
//	action   the step within the kind (query, answer; queued, attempt, deferred,
//	         delivered, failed, bounced, forwarded, list; open, close, refused; ...)
//	host     the host the event is about; for conn, wire and tls the client
//	peer     the other host; for conn, wire and tls the server
//	port     the server's port
//	proto    smtp, lmtp, pop3, imap, dns, tcp
//	dir      wire: send (client to server) or recv (server to client)
//	text     pattern over the event's text (a protocol line, a queue summary, a DNS question)
//	records  pattern that one of a DNS answer's records (as dig prints them) must match
//	mailbox  pattern over deliver and fetch events' mailbox ("bob@example.net/INBOX")
//	tls      true or false: the line travelled inside TLS, or not
//
// reply matches a command a client sent and the server's answer to it:
// the server's lines on that connection after the command and before the
// client's next line. count counts matching answer lines, so that
// {send: "^\\.$", reply: "^250 ", count: 2} asks for two replies after one
// LMTP dot (one per recipient):
//
//	reply: {peer: mx.example.net, port: 25, send: "^RCPT TO:", reply: "^250"}
//	reply: {peer: mail.example.org, port: 587, send: "^AUTH ", reply: "^235", tls: true}
//	reply: {peer: store.example.net, port: 143, send: "^[^ ]+ LOGIN ", reply: "^[^* ]+ OK"}
//
//	host, peer, port  the connection: its client, its server, the server's port
//	send              required: pattern over the line the client sent
//	reply             required: pattern over a line of the server's answer
//	tls               true or false: the answer travelled inside TLS, or not
//
// When the command was sent but no answer matched, the result's Detail
// says what the server answered instead ("you sent "RCPT TO:<bob@example.net>"
// to mx.example.net:25; the server answered "503 5.5.1 Bad sequence of
// commands""). Note: the trace may miss a server's very last line inside
// TLS when the server closes the connection right after it (QUIT, LOGOUT):
// check that the student sent the command (an event check), not its answer.
//
// mailbox matches the messages of a user's INBOX (what the world stores:
// every Received: line the servers added, the flags IMAP set), each once
// the trace has shown it filed (a deliver event), so that a check never
// runs ahead of the events it is evaluated with. Every given
// field must hold for one message; header, subject, from and to are read
// unfolded, with encoded words decoded:
//
//	mailbox:
//	  user: bob@example.net
//	  subject: "."                      # has a non-empty Subject
//	  header: ["^Received: from .* by store\\.example\\.net .* with LMTP"]
//
//	user        required: whose INBOX
//	mailbox     Junk to look there instead (what DMARC's p=quarantine filed)
//	subject     pattern over the Subject (the message must have one)
//	from, to    patterns over the From and To headers (which must be there)
//	header      patterns that must each match some header line ("Name: value")
//	not_header  patterns that no header line may match
//	body        pattern over the body (as stored: MIME parts undecoded)
//	flag        a flag the message must carry (\Seen, \Flagged, ...)
//
// When no message matches, Detail says why the newest one does not
// ("message 1 of bob@example.net's INBOX (no Subject): it has no Subject
// header").
//
// # Evaluating
//
// Evaluate takes the trace events since the lesson started (in order) and
// the world, and returns one Result per check: its name, whether it holds,
// and if not, the check's missing text and a Detail of what was seen
// instead. Patterns are compiled once by Check; stored messages are parsed
// once. RunSetup and RunSolution perform a lesson's actions on a world
// headless; Verify builds the lesson's world, runs both, lets the world
// settle (its deliveries, up to SettleLimit of virtual time) and
// evaluates the checks.
package lesson
