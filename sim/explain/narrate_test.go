package explain

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/trace"
)

// Events as `mailhop sim --json` prints them (default world, --read imap
// and pop3, mx-down, dns-broken, null-mx, backup-mx, a send to
// nobody@example.net, and the faults), with the sentence each must get.
// The sentences are the specification: change them here first.
func TestNarrate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 1_000_000, time.UTC)
	c1 := func(dir trace.Dir, text string) trace.Event { // alice-pc → mail.example.org:587
		return trace.Event{Kind: trace.KindWire, Host: "alice-pc", Peer: "mail.example.org", Port: 587, Conn: "c1", Proto: "smtp", Dir: dir, Text: text, TLS: true}
	}
	c2 := func(dir trace.Dir, text string) trace.Event { // mail.example.org → mx.example.net:25
		return trace.Event{Kind: trace.KindWire, Host: "mail.example.org", Peer: "mx.example.net", Port: 25, Conn: "c2", Proto: "smtp", Dir: dir, Text: text}
	}
	c3 := func(dir trace.Dir, text string) trace.Event { // mx.example.net → store.example.net:24
		return trace.Event{Kind: trace.KindWire, Host: "mx.example.net", Peer: "store.example.net", Port: 24, Conn: "c3", Proto: "lmtp", Dir: dir, Text: text}
	}
	pop := func(dir trace.Dir, text string) trace.Event {
		return trace.Event{Kind: trace.KindWire, Host: "bob-pc", Peer: "store.example.net", Port: 110, Conn: "c4", Proto: "pop3", Dir: dir, Text: text, TLS: true}
	}
	imap := func(dir trace.Dir, text string) trace.Event {
		return trace.Event{Kind: trace.KindWire, Host: "bob-pc", Peer: "store.example.net", Port: 143, Conn: "c4", Proto: "imap", Dir: dir, Text: text, TLS: true}
	}
	dns := func(action, text string, records ...string) trace.Event {
		return trace.Event{Kind: trace.KindDNS, Action: action, Host: "mail.example.org", Peer: "ns.example", Port: 53, Proto: "dns", Text: text, Records: records}
	}
	queue := func(action, text string) trace.Event {
		return trace.Event{Kind: trace.KindQueue, Action: action, Host: "mail.example.org", Text: text, Msg: "69563790.3502CB64@mail.example.org"}
	}
	conn := func(action, text string) trace.Event {
		return trace.Event{Kind: trace.KindConn, Action: action, Host: "mail.example.org", Peer: "mx.example.net", Port: 25, Conn: "c2", Proto: "smtp", Text: text}
	}
	const send, recv = trace.Send, trace.Recv
	message := "From: <alice@example.org>\nTo: <bob@example.net>\nSubject: Hello\nMIME-Version: 1.0\nUser-Agent: mailhop-mua\nContent-Type: text/plain; charset=us-ascii\n\nHello! This message travelled the whole chain."

	for _, c := range []struct {
		e    trace.Event
		want string
	}{
		// host, link, fault
		{trace.Event{Kind: trace.KindHost, Action: "down", Host: "mx.example.net"}, "mx.example.net is switched off: nobody can reach it"},
		{trace.Event{Kind: trace.KindHost, Action: "up", Host: "mx.example.net"}, "mx.example.net is switched on and can be reached"},
		{trace.Event{Kind: trace.KindLink, Action: "cut", Host: "mail.example.org", Peer: "mx.example.net"}, "The network link between mail.example.org and mx.example.net is cut: nothing gets through"},
		{trace.Event{Kind: trace.KindLink, Action: "restored", Host: "mail.example.org", Peer: "mx.example.net"}, "The network link between mail.example.org and mx.example.net works again"},
		{trace.Event{Kind: trace.KindFault, Host: "mx.example.net", Text: "host-down mx.example.net"}, "A fault is set: mx.example.net is switched off"},
		{trace.Event{Kind: trace.KindFault, Host: "mx.example.net", Text: "host-up mx.example.net"}, "A fault is cleared: mx.example.net is switched on again"},
		{trace.Event{Kind: trace.KindFault, Host: "mail.example.org", Peer: "mx.example.net", Text: "link-cut mail.example.org ↔ mx.example.net"}, "A fault is set: the link between mail.example.org and mx.example.net is cut"},
		{trace.Event{Kind: trace.KindFault, Host: "mx.example.net", Port: 25, Text: "port-refuse mx.example.net port 25"}, "A fault is set: mx.example.net refuses every connection on port 25"},
		{trace.Event{Kind: trace.KindFault, Host: "mail.example.org", Peer: "mx.example.net", Text: "latency mail.example.org ↔ mx.example.net 200ms"}, "A fault is set: every packet between mail.example.org and mx.example.net now takes 200ms"},
		{trace.Event{Kind: trace.KindFault, Host: "ns.example", Text: "dns ns.example servfail for example.net"}, "A fault is set: ns.example fails every question about example.net (SERVFAIL)"},
		{trace.Event{Kind: trace.KindFault, Host: "ns.example", Text: "dns ns.example drop"}, "A fault is set: ns.example ignores every question"},
		{trace.Event{Kind: trace.KindFault, Host: "ns.example", Text: "dns ns.example mended"}, "A fault is cleared: ns.example answers questions again"},

		// conn
		{trace.Event{Kind: trace.KindConn, Action: "open", Host: "alice-pc", Peer: "mail.example.org", Port: 587, Conn: "c1", Proto: "smtp"}, "alice-pc connects to mail.example.org on port 587 (submission)"},
		{trace.Event{Kind: trace.KindConn, Action: "open", Host: "mx.example.net", Peer: "store.example.net", Port: 24, Conn: "c3", Proto: "lmtp"}, "mx.example.net connects to store.example.net on port 24 (LMTP)"},
		{trace.Event{Kind: trace.KindConn, Action: "open", Host: "bob-pc", Peer: "store.example.net", Port: 993, Conn: "c4", Proto: "imap"}, "bob-pc connects to store.example.net on port 993 (IMAP over TLS)"},
		{trace.Event{Kind: trace.KindConn, Action: "close", Host: "alice-pc", Peer: "mail.example.org", Port: 587, Conn: "c1", Proto: "smtp", Text: "closed by server; 2087 bytes encrypted sent, 2890 received"}, "mail.example.org closes the connection with alice-pc"},
		{conn("close", "closed by client; 2301 bytes encrypted sent, 2799 received"), "mail.example.org closes its connection to mx.example.net"},
		{conn("close", "reset: host down"), "The connection between mail.example.org and mx.example.net breaks off: a host went down"},
		{conn("refused", "the port refuses connections"), "mx.example.net refuses the connection from mail.example.org on port 25"},
		{conn("refused", "nothing listens on that port"), "mx.example.net turns mail.example.org away: no program answers on port 25"},
		{conn("unreachable", "mx.example.net is down"), "mail.example.org can not reach mx.example.net: mx.example.net is switched off"},
		{conn("unreachable", "the link is cut"), "mail.example.org can not reach mx.example.net: the network link between them is cut"},

		// tls
		{trace.Event{Kind: trace.KindTLS, Action: "handshake", Host: "alice-pc", Peer: "mail.example.org", Port: 587, Conn: "c1", Proto: "smtp", Text: "TLS 1.3, TLS_AES_128_GCM_SHA256, server name mail.example.org"},
			"alice-pc and mail.example.org switch on encryption: from now on nobody in between can read what they say (TLS 1.3)"},

		// SMTP, submission: commands
		{c1(send, "EHLO alice-pc"), "alice-pc says hello again, now encrypted (EHLO)"},
		{c2(send, "EHLO mail.example.org"), "mail.example.org says hello (EHLO)"},
		{trace.Event{Kind: trace.KindWire, Host: "alice-pc", Peer: "mail.example.org", Port: 465, Conn: "c1", Proto: "smtp", Dir: trace.Send, Text: "EHLO alice-pc", TLS: true},
			"alice-pc says hello (EHLO)"}, // implicit TLS: the first hello
		{c2(send, "HELO relay.example"), "mail.example.org says hello as relay.example (HELO, the old form)"},
		{c2(send, "STARTTLS"), "mail.example.org asks to encrypt the connection (STARTTLS)"},
		{c1(send, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNl"), "alice-pc logs in (AUTH PLAIN); the password itself is not shown"},
		{c1(send, "AUTH LOGIN"), "alice-pc logs in (AUTH LOGIN); the password itself is not shown"},
		{c1(send, "YWxpY2VAZXhhbXBsZS5vcmc="), "alice-pc sends a login step in base64; the password itself is not shown"},
		{c1(send, "MAIL FROM:<alice@example.org> BODY=8BITMIME"), "alice-pc says who the sender is: alice@example.org (MAIL FROM)"},
		{c2(send, "MAIL FROM:<>"), "mail.example.org starts a bounce: the sender is empty, so nothing can bounce back (MAIL FROM:<>)"},
		{c1(send, "MAIL FROM: alice@example.org"), "alice-pc tries to name the sender, but not in the form <address> (MAIL FROM)"},
		{c1(send, "RCPT TO:<bob@example.net>"), "alice-pc says who the message is for: bob@example.net (RCPT TO)"},
		{c1(send, "DATA"), "alice-pc asks to send the message itself (DATA)"},
		{c1(send, message), "alice-pc sends the message itself: its header and body (8 lines)"},
		{c1(send, "."), "alice-pc marks the end of the message: a line with a single dot"},
		{c2(send, "RSET"), "mail.example.org cancels the message in progress and starts over (RSET)"},
		{c1(send, "QUIT"), "alice-pc says goodbye (QUIT)"},
		{c1(send, "NOOP ⟨bare LF⟩"), "alice-pc checks that mail.example.org is still there, ending the line with a bare LF instead of CRLF (NOOP)"},
		{c1(send, "HELLO there"), "alice-pc sends a line that is not an SMTP command"},

		// SMTP replies
		{c1(recv, "220 mail.example.org ESMTP Service Ready"), "mail.example.org greets alice-pc: ready to talk SMTP (220)"},
		{c1(recv, "250-Hello alice-pc"), "mail.example.org says hello back and lists what it can do (250)"},
		{c1(recv, "250-STARTTLS"), "mail.example.org can encrypt the connection (STARTTLS)"},
		{c1(recv, "250-AUTH PLAIN LOGIN"), "mail.example.org lets users log in (AUTH)"},
		{c1(recv, "250-SIZE 10485760"), "mail.example.org takes messages up to 10 MB (SIZE)"},
		{c1(recv, "250 LIMITS RCPTMAX=100"), "mail.example.org takes at most 100 recipients per message, and that ends its list (LIMITS)"},
		{c1(recv, "220 2.0.0 Ready to start TLS"), "mail.example.org agrees to encrypt the connection (220 2.0.0)"},
		{c1(recv, "235 2.0.0 Authentication succeeded"), "mail.example.org accepts the login: alice-pc is logged in (235 2.0.0)"},
		{c1(recv, "334 VXNlcm5hbWU6"), "mail.example.org asks for the user name, in base64 (334)"},
		{c1(recv, "334 UGFzc3dvcmQ6"), "mail.example.org asks for the password, in base64 (334)"},
		{c1(recv, "535 5.7.8 Authentication credentials invalid"), "mail.example.org refuses the login: wrong user name or password (535 5.7.8)"},
		{c1(recv, "530 5.7.0 Authentication required: log in with AUTH first"), "mail.example.org refuses: log in first (530 5.7.0)"},
		{c1(recv, "250 2.1.0 Roger, accepting mail from <alice@example.org>"), "mail.example.org accepts alice@example.org as the sender (250 2.1.0)"},
		{c1(recv, "250 2.1.5 I'll make sure <bob@example.net> gets this"), "mail.example.org accepts bob@example.net as a recipient (250 2.1.5)"},
		{c1(recv, "354 Go ahead. End your data with <CR><LF>.<CR><LF>"), "mail.example.org is ready: send the message, then a line with a single dot (354)"},
		{c1(recv, "250 2.0.0 Ok: queued as 8C90A800BF"), "mail.example.org accepts the message: from now on, delivering it is its job (250 2.0.0)"},
		{c1(recv, "221 2.0.0 Bye"), "mail.example.org says goodbye and closes the connection (221 2.0.0)"},
		{c2(recv, "550 5.1.1 Recipient address rejected: user unknown"), "mx.example.net refuses: that recipient is not a user here (550 5.1.1)"},
		{c2(recv, "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown"), "mx.example.net refuses: bob is not a user here (550 5.1.1)"},
		{c2(recv, "550 5.7.1 Relaying denied"), "mx.example.net refuses to pass mail on to other domains for this client (550 5.7.1)"},
		{c2(recv, "556 5.1.10 Recipient address has null MX"), "mx.example.net refuses: that domain accepts no mail (556 5.1.10)"},
		{c2(recv, "451 4.3.0 Local error in processing (queue): try again later"), "mx.example.net has a problem on its side: try again later (451 4.3.0)"},
		{c2(recv, "450 4.7.0 Greylisted, try again"), "mx.example.net says not yet: it greylists unknown senders, try again later (450 4.7.0)"},
		{c2(recv, "503 5.5.1 Bad sequence of commands: MAIL FROM comes first"), "mx.example.net refuses: name the sender with MAIL FROM first (503 5.5.1)"},
		{c2(recv, "501 5.5.4 Syntax: EHLO hostname (RFC 5321 §4.1.1.1): say who you are, e.g. EHLO client.example.org"), "mx.example.net refuses: the EHLO command is not written correctly (501 5.5.4)"},
		{c2(recv, "500 5.5.2 Syntax error, command unrecognized"), "mx.example.net does not understand that command (500 5.5.2)"},
		{c2(recv, "552 5.3.4 Message too big"), "mx.example.net refuses: the message is too big (552 5.3.4)"},
		{c2(recv, "250 2.0.0 Session reset"), "mx.example.net forgets the message in progress: ready to start over (250 2.0.0)"},
		{c2(recv, "299 something new"), "mx.example.net says OK (299)"},
		{c2(recv, "hello?"), "mx.example.net sends mail.example.org a line that is not a proper SMTP reply"},

		// LMTP
		{c3(send, "LHLO mx.example.net"), "mx.example.net says hello (LHLO)"},
		{c3(recv, "220 store.example.net LMTP Service Ready"), "store.example.net greets mx.example.net: ready to talk LMTP (220)"},
		{c3(recv, "250 2.0.0 Roger, accepting mail from <alice@example.org>"), "store.example.net accepts alice@example.org as the sender (250 2.0.0)"},
		{c3(recv, "250 2.0.0 <bob@example.net> Ok: delivered to bob@example.net"), "store.example.net confirms: the message is in bob@example.net's mailbox (250 2.0.0)"},
		{c3(recv, "550 5.1.1 <carol@example.net> mailbox store unavailable"), "store.example.net refuses: carol is not a user here (550 5.1.1)"},

		// POP3
		{pop(recv, "+OK store.example.net POP3 server ready <1.1767258000.94d4ef88@store.example.net>"), "store.example.net greets bob-pc: ready to talk POP3 (+OK)"},
		{pop(send, "STLS"), "bob-pc asks to encrypt the connection (STLS)"},
		{pop(recv, "+OK Begin TLS negotiation"), "store.example.net agrees to encrypt the connection (+OK)"},
		{pop(send, "USER bob@example.net"), "bob-pc gives the user name bob@example.net (USER)"},
		{pop(recv, "+OK send PASS"), "store.example.net waits for the password (+OK)"},
		{pop(send, "PASS bob"), "bob-pc sends the password (PASS); the password itself is not shown"},
		{pop(recv, "+OK bob@example.net's maildrop has 1 message (895 octets)"), "store.example.net accepts the login: 1 message waiting (+OK)"},
		{pop(recv, "-ERR [AUTH] invalid user name or password"), "store.example.net refuses the login: wrong user name or password (-ERR [AUTH])"},
		{pop(recv, "-ERR [IN-USE] the maildrop of bob@example.net is in use by another POP3 session; try again later"), "store.example.net refuses: another session has the mailbox open, try again later (-ERR [IN-USE])"},
		{pop(send, "STAT"), "bob-pc asks how many messages are waiting, and their size (STAT)"},
		{pop(recv, "+OK 1 895"), "store.example.net answers: 1 message, 895 bytes (+OK)"},
		{pop(send, "RETR 1"), "bob-pc asks for message 1, all of it (RETR)"},
		{pop(recv, "+OK 895 octets"), "store.example.net sends the message: 895 bytes (+OK)"},
		{pop(recv, "Return-Path: <alice@example.org>\nDelivered-To: bob@example.net\n\nHello"), "store.example.net sends the message itself: its header and body (4 lines)"},
		{pop(recv, "."), "store.example.net sends a line with a single dot: the list or message ends here"},
		{pop(send, "DELE 1"), "bob-pc marks message 1 for deletion (DELE)"},
		{pop(recv, "+OK message 1 deleted"), "store.example.net marks message 1 for deletion (+OK)"},
		{pop(send, "CAPA"), "bob-pc asks what store.example.net can do (CAPA)"},
		{pop(recv, "SASL PLAIN"), "store.example.net takes logins with AUTH (SASL)"},
		{pop(send, "AUTH PLAIN"), "bob-pc logs in (AUTH PLAIN); the password itself is not shown"},
		{pop(recv, "+ "), "store.example.net waits for the next login step (+)"},
		{pop(send, "QUIT"), "bob-pc says goodbye; messages marked for deletion go now (QUIT)"},
		{pop(recv, "+OK store.example.net POP3 server signing off (maildrop empty)"), "store.example.net says goodbye and ends the session (+OK)"},

		// IMAP
		{imap(recv, "* OK [CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LITERAL- STARTTLS LOGINDISABLED] IMAP server ready"), "store.example.net greets bob-pc: ready to talk IMAP (OK)"},
		{imap(send, "S1 STARTTLS"), "bob-pc asks to encrypt the connection (STARTTLS)"},
		{imap(recv, "S1 OK Begin TLS negotiation now"), "store.example.net agrees to encrypt the connection (OK)"},
		{imap(send, `T1 LOGIN "bob@example.net" "bob"`), "bob-pc logs in as bob@example.net (LOGIN); the password itself is not shown"},
		{imap(recv, "T1 OK [CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR LITERAL- UNSELECT ENABLE IDLE] Logged in"), "store.example.net accepts the login: bob-pc is logged in (OK)"},
		{imap(recv, "a1 NO [AUTHENTICATIONFAILED] Invalid user name or password"), "store.example.net refuses the login: wrong user name or password (NO [AUTHENTICATIONFAILED])"},
		{imap(send, "T2 CAPABILITY"), "bob-pc asks what store.example.net can do (CAPABILITY)"},
		{imap(recv, "* CAPABILITY IMAP4rev2 IMAP4rev1 SASL-IR"), "store.example.net lists what it can do (CAPABILITY)"},
		{imap(recv, "T2 OK CAPABILITY completed"), "store.example.net confirms the CAPABILITY command worked (OK)"},
		{imap(send, "T3 SELECT INBOX"), "bob-pc opens the mailbox INBOX (SELECT)"},
		{imap(recv, "* 1 EXISTS"), "store.example.net says the mailbox holds 1 message (EXISTS)"},
		{imap(recv, "* 0 RECENT"), "store.example.net says 0 messages arrived since the last look (RECENT)"},
		{imap(recv, "* OK [UNSEEN 1] First unseen message"), "store.example.net says message 1 is the first one not read yet (UNSEEN)"},
		{imap(recv, "* OK [UIDNEXT 2] Predicted next UID"), "store.example.net says the next message will get UID 2 (UIDNEXT)"},
		{imap(recv, `* FLAGS (\Answered \Deleted \Draft \Flagged \Seen)`), "store.example.net lists the marks a message can carry, such as read or deleted (FLAGS)"},
		{imap(recv, "T3 OK [READ-WRITE] SELECT completed"), "store.example.net has opened the mailbox; bob-pc may change it (OK [READ-WRITE])"},
		{imap(send, "T4 FETCH 1 (UID BODY[])"), "bob-pc asks for message 1, all of it (FETCH)"},
		{imap(send, "a5 UID FETCH 7 (BODY.PEEK[HEADER])"), "bob-pc asks for the header of the message with UID 7 (UID FETCH)"},
		{imap(recv, `* 1 FETCH (UID 1 FLAGS (\Seen) BODY[] {895}`), "store.example.net sends message 1: the next 895 bytes are the message (FETCH)"},
		{imap(recv, "Return-Path: <alice@example.org>\nDelivered-To: bob@example.net\n\nHello"), "store.example.net sends the message itself: its header and body (4 lines)"},
		{imap(recv, ")"), "store.example.net ends the data of that message"},
		{imap(send, `a6 STORE 1 +FLAGS (\Deleted)`), "bob-pc marks message 1 for deletion (STORE)"},
		{imap(send, "a7 EXPUNGE"), "bob-pc removes the messages marked for deletion (EXPUNGE)"},
		{imap(recv, "* 1 EXPUNGE"), "store.example.net says message 1 is gone (EXPUNGE)"},
		{imap(send, "T5 LOGOUT"), "bob-pc says goodbye (LOGOUT)"},
		{imap(recv, "* BYE Logging out"), "store.example.net says goodbye and closes the connection (BYE)"},
		{imap(send, "LOGIN bob@example.net secret"), "bob-pc sends a command without a tag: every IMAP command needs one"},
		{imap(recv, "LOGIN BAD Unknown command"), "store.example.net does not understand: the command had no tag (BAD)"},
		{imap(recv, "+ Ready for literal data"), "store.example.net is ready for the data (+)"},

		// DNS and packets
		{dns("query", "example.net. IN MX"), "mail.example.org asks ns.example which server takes mail for example.net (an MX query)"},
		{dns("query", "mx.example.net. IN A"), "mail.example.org asks ns.example for the address of mx.example.net (an A query)"},
		{dns("query", "mx.example.net. IN AAAA"), "mail.example.org asks ns.example for the IPv6 address of mx.example.net (an AAAA query)"},
		{dns("query", "example.net. IN TXT (TCP)"), "mail.example.org asks ns.example for the text records of example.net (a TXT query, over TCP)"},
		{dns("answer", "NOERROR, 1 answer", "example.net.\t3600\tIN\tMX\t10 mx.example.net."), "ns.example answers: mail for example.net goes to mx.example.net"},
		{dns("answer", "NOERROR, 2 answers", "example.net.\t3600\tIN\tMX\t20 mx2.example.net.", "example.net.\t3600\tIN\tMX\t10 mx.example.net."),
			"ns.example answers: mail for example.net goes to mx.example.net, or else to mx2.example.net"},
		{dns("answer", "NOERROR, 1 answer", "example.com.\t3600\tIN\tMX\t0 ."), "ns.example answers: example.com accepts no mail at all (null MX)"},
		{dns("answer", "NOERROR, 1 answer", "mx.example.net.\t3600\tIN\tA\t198.51.100.25"), "ns.example answers: mx.example.net is at 198.51.100.25"},
		{dns("answer", "NOERROR, 0 answers", "example.net.\t3600\tIN\tSOA\tns.example. hostmaster.example.net. 2026010101 7200 3600 1209600 3600"),
			"ns.example answers: there are no records of the kind asked for (NOERROR, empty)"},
		{dns("answer", "NXDOMAIN"), "ns.example answers: that domain does not exist (NXDOMAIN)"},
		{dns("answer", "SERVFAIL"), "ns.example can not answer: it failed on its side (SERVFAIL)"},
		{dns("answer", "REFUSED"), "ns.example refuses to answer this question (REFUSED)"},
		{dns("error", "no answer from ns.example within 5s"), "mail.example.org gets no answer from ns.example within 5s: the question or its answer was lost"},
		{trace.Event{Kind: trace.KindDNS, Action: "served", Host: "ns.example", Peer: "192.0.2.25", Port: 53, Proto: "dns", Text: "example.net. IN MX → NOERROR, 1 answer"},
			"ns.example answers 192.0.2.25's question about example.net (MX)"},
		{trace.Event{Kind: trace.KindPacket, Host: "mail.example.org", Peer: "ns.example", Port: 53, Proto: "dns", Text: "example.net. IN MX"}, "mail.example.org sends the question to ns.example in one packet (UDP)"},
		{trace.Event{Kind: trace.KindPacket, Host: "ns.example", Peer: "mail.example.org", Port: 49152, Proto: "dns", Text: "NOERROR 1 answer"}, "ns.example sends the answer back to mail.example.org in one packet (UDP)"},
		{trace.Event{Kind: trace.KindPacket, Host: "mail.example.org", Peer: "ns.example", Port: 53, Proto: "dns", Text: "example.net. IN MX — lost: ns.example is down"},
			"mail.example.org sends the question to ns.example in one packet (UDP), but it is lost: ns.example is down"},

		// queue
		{queue("queued", "queue id 8C90A800BF, from <alice@example.org> to bob@example.net, 474 bytes"), "mail.example.org queues the message and will deliver it (queue id 8C90A800BF)"},
		{queue("queued", "queue id 8C90A810C0, from <> to alice@example.org, 1695 bytes"), "mail.example.org queues a delivery report for alice@example.org (queue id 8C90A810C0)"},
		{queue("attempt", "queue id 8C90A800BF, attempt 1 for bob@example.net"), "mail.example.org tries to deliver the message to bob@example.net (attempt 1)"},
		{queue("attempt", "queue id 8C90A800BF, attempt 3 for bob@example.net, carol@example.net"), "mail.example.org tries again to deliver the message to bob@example.net and 1 more (attempt 3)"},
		{queue("attempt", "queue id 8C90A800C1, attempt 1, on the open connection to mx.example.net"), "mail.example.org sends another waiting message over the open connection to mx.example.net (attempt 1)"},
		{func() trace.Event {
			e := queue("deferred", "queue id 8C90A800BF: bob@example.net: mx.example.net (198.51.100.25:25): connect: no route to host")
			e.Time, e.Next = t0, t0.Add(5*time.Minute)
			return e
		}(), "mail.example.org can not deliver to bob@example.net yet and tries again in 5 minutes: mx.example.net can not be reached"},
		{func() trace.Event {
			e := queue("deferred", "queue id 8C90A800BF: bob@example.net: DNS: dns: example.net. MX: SERVFAIL from ns.example (temporary failure)")
			e.Time, e.Next = t0, t0.Add(2*time.Hour)
			return e
		}(), "mail.example.org can not deliver to bob@example.net yet and tries again in 2 hours: the name server failed to answer (SERVFAIL)"},
		{func() trace.Event {
			e := queue("deferred", "queue id 8C90A800BF: bob@example.net: 451 4.3.0 Local error in processing (queue): try again later")
			e.Time, e.Next = t0, t0.Add(15*time.Minute)
			return e
		}(), "mail.example.org can not deliver to bob@example.net yet and tries again in 15 minutes: the receiving server says try again later (451 4.3.0)"},
		{queue("delivered", "queue id 8C90A800BF: bob@example.net delivered via mx.example.net"), "mail.example.org is done: it handed the message for bob@example.net to mx.example.net (queue id 8C90A800BF)"},
		{queue("delivered", "queue id 8C90A810C0: alice@example.org delivered via mail.example.org"), "mail.example.org is done: the message for alice@example.org is in its mailbox here (queue id 8C90A810C0)"},
		{queue("failed", "queue id 8C90A800BF: nobody@example.net failed permanently: 550 5.1.1 Recipient address rejected: user unknown"), "mail.example.org gives up on nobody@example.net for good: the receiving server refused it (550 5.1.1)"},
		{queue("failed", "queue id 8C90A800BF: anyone@example.com failed permanently: DNS: dns: example.com. MX: the domain accepts no mail (null MX, RFC 7505)"), "mail.example.org gives up on anyone@example.com for good: the domain accepts no mail (null MX)"},
		{queue("failed", "queue id 8C90A800BF: bob@nowhere.example failed permanently: DNS: dns: nowhere.example. MX: no such domain (NXDOMAIN)"), "mail.example.org gives up on bob@nowhere.example for good: the domain does not exist (NXDOMAIN)"},
		{queue("bounced", "queue id 8C90A800BF: bounced to <alice@example.org> for nobody@example.net (DSN queued as 8C90A810C0)"), "mail.example.org sends a bounce to alice@example.org: the message could not reach nobody@example.net"},
		{queue("warned", "queue id 8C90A800BF: delay warning to <alice@example.org> for bob@example.net (DSN queued as 9A4C4810C0)"), "mail.example.org warns alice@example.org: the message to bob@example.net is late but still being tried"},
		{queue("expired", "queue id 8C90A800BF: undelivered after 120h0m0s, giving up"), "mail.example.org gives up: the message waited 5 days and could not be delivered (queue id 8C90A800BF)"},
		{queue("recovered", "queue id 8C90A800BF recovered from the spool"), "mail.example.org starts again and finds the message still in its queue (queue id 8C90A800BF)"},
		{queue("discarded", "queue id 8C90A810C0: a bounce that can not be delivered is dropped, never bounced (RFC 5321 4.5.5)"), "mail.example.org drops a bounce that can not be delivered: a bounce never bounces (queue id 8C90A810C0)"},
		{queue("error", "spool: disk full"), "mail.example.org has a problem storing its queue"},

		// deliver, fetch, hop
		{trace.Event{Kind: trace.KindDeliver, Host: "store.example.net", Text: "filed as UID 1, 895 bytes", Mailbox: "bob@example.net/INBOX"}, "store.example.net files the message in bob@example.net's INBOX"},
		{trace.Event{Kind: trace.KindFetch, Host: "store.example.net", Proto: "imap", Text: "FETCH BODY[] uid 1", Mailbox: "bob@example.net/INBOX"}, "store.example.net lets bob@example.net read the message in their INBOX (IMAP)"},
		{trace.Event{Kind: trace.KindFetch, Host: "store.example.net", Proto: "pop3", Text: "TOP 1 10 (500 octets)", Mailbox: "bob@example.net/INBOX"}, "store.example.net lets bob@example.net read the top of a message in their INBOX (POP3)"},
		{trace.Event{Kind: trace.KindHop, Action: "received", Host: "mail.example.org", Peer: "alice-pc", Conn: "c1",
			Text: "Received: from alice-pc ([192.0.2.10]) by mail.example.org (mailhop) with ESMTPSA id 69563790.3502CB64 (using TLS 1.3) for <bob@example.net>; Thu, 01 Jan 2026 09:00:00 +0000"},
			"mail.example.org receives the message from alice-pc and adds a Received line to its header"},
		{trace.Event{Kind: trace.KindHop, Host: "mail.example.org", Peer: "mx.example.net", Conn: "c2", Text: "bob@example.net handed to mx.example.net by SMTP over TLS (250 2.0.0 Ok: queued as 8C90A81742)"},
			"mail.example.org has handed the message for bob@example.net to mx.example.net (SMTP, encrypted)"},
		{trace.Event{Kind: trace.KindHop, Host: "mx.example.net", Peer: "store.example.net", Conn: "c3", Text: "bob@example.net handed to store.example.net by LMTP (250 2.0.0 <bob@example.net> Ok: delivered to bob@example.net)"},
			"mx.example.net has handed the message for bob@example.net to store.example.net (LMTP)"},

		// lesson
		{trace.Event{Kind: trace.KindLesson, Action: "started", Text: `lesson "bounce" started: Why did my mail bounce?`}, "The lesson begins: Why did my mail bounce?"},
		{trace.Event{Kind: trace.KindLesson, Action: "progress", Text: `lesson "bounce": 2 of 3 checks hold`}, "Lesson progress: 2 of 3 checks hold"},
		{trace.Event{Kind: trace.KindLesson, Action: "done", Text: `lesson "bounce" done: all 3 checks hold`}, "The lesson is done: every check holds"},

		// unknown
		{trace.Event{Kind: "teleport", Host: "alice-pc"}, "alice-pc reports an event of kind teleport"},
		{trace.Event{Kind: "teleport"}, ""},
	} {
		if got := Narrate(c.e); got != c.want {
			t.Errorf("%s %s %s %q:\n got %q\nwant %q", c.e.Kind, c.e.Action, c.e.Dir, c.e.Text, got, c.want)
		}
		checkStyle(t, c.e, Narrate(c.e))
	}
}

// checkStyle holds a sentence to the rules of a projected narration:
// short, no RFC numbers (the note has them), no final period.
func checkStyle(t *testing.T, e trace.Event, s string) {
	t.Helper()
	switch {
	case len([]rune(s)) > 140:
		t.Errorf("%s %q: sentence of %d characters: %s", e.Kind, e.Text, len([]rune(s)), s)
	case strings.Contains(s, "RFC"):
		t.Errorf("%s %q: sentence names an RFC: %s", e.Kind, e.Text, s)
	case strings.HasSuffix(s, "."):
		t.Errorf("%s %q: sentence ends with a period: %s", e.Kind, e.Text, s)
	case strings.Contains(s, "\n"):
		t.Errorf("%s %q: sentence of several lines: %s", e.Kind, e.Text, s)
	}
}

// Every reply the servers can send is told by its server, with its code
// (or the keyword of a capability) in parentheses at the end.
func TestNarrateServerReplies(t *testing.T) {
	for _, c := range serverReplies {
		e := trace.Event{Kind: trace.KindWire, Host: "alice-pc", Peer: "srv.example", Proto: c.proto, Dir: trace.Recv, Text: c.line}
		s := Narrate(e)
		checkStyle(t, e, s)
		if !strings.HasPrefix(s, "srv.example ") {
			t.Errorf("%s S: %s\nsentence does not start with the server: %s", c.proto, c.line, s)
		}
		var code string
		switch c.proto {
		case "smtp", "lmtp":
			code = c.line[:3]
			if strings.HasPrefix(c.line, "250-") || strings.HasPrefix(c.line, "250 LIMITS") {
				kw, _, _ := strings.Cut(c.line[4:], " ")
				if kw != "mx.example.net" {
					code = kw
				}
			}
		case "pop3":
			code, _, _ = strings.Cut(c.line, " ")
			if code == "." {
				continue
			}
		case "imap":
			f := strings.Fields(c.line)
			code = f[1]
			switch {
			case f[0] == "+":
				code = "+"
			case f[0] == "*" && f[1] == "OK" && strings.HasPrefix(f[2], "[") && f[2] != "[CAPABILITY":
				code = strings.Trim(f[2], "[]") // "* OK [UIDVALIDITY 1]": told by its code
			}
		}
		if !strings.HasSuffix(s, ")") || !strings.Contains(s[strings.LastIndex(s, "("):], code) {
			t.Errorf("%s S: %s\nsentence does not end with (%s): %s", c.proto, c.line, code, s)
		}
		for _, vague := range []string{"says OK (", "says no: the command failed", "refuses, for good", "answers alice-pc"} {
			if strings.Contains(s, vague) && !strings.Contains(c.line, "Hello") {
				t.Errorf("%s S: %s\nsentence is vague: %s", c.proto, c.line, s)
			}
		}
	}
}

// A login is told, its secret never: not the password, not its base64,
// not a literal that may hold it, whatever the protocol and however the
// line is typed.
func TestNarrateNeverTellsCredentials(t *testing.T) {
	const secret = "Tr0ub4dor3"
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	plain := b64("\x00alice@example.org\x00" + secret)
	for _, c := range []struct {
		proto, line string
		shown       bool // the sentence says the password is not shown
	}{
		{"smtp", "AUTH PLAIN " + plain, true},
		{"smtp", "auth plain " + plain, true},
		{"smtp", "AUTH LOGIN " + b64("alice@example.org"), true},
		{"smtp", b64(secret), true},
		{"smtp", plain, true},
		{"smtp", secret, false},
		{"smtp", secret + " " + secret, false},
		{"lmtp", b64(secret), true},
		{"pop3", "PASS " + secret, true},
		{"pop3", "pass " + secret, true},
		{"pop3", "USER alice@example.org " + secret, false},
		{"pop3", "USER " + secret + " x", false},
		{"pop3", "APOP alice@example.org " + secret, false},
		{"pop3", "AUTH PLAIN " + plain, true},
		{"pop3", plain, true},
		{"pop3", secret, false},
		{"imap", `a1 LOGIN "alice@example.org" "` + secret + `"`, true},
		{"imap", "a1 LOGIN alice@example.org " + secret, true},
		{"imap", "a1 login " + secret, true},
		{"imap", "a1 LOGIN alice@example.org " + secret + " extra", true},
		{"imap", "LOGIN alice@example.org " + secret, false},
		{"imap", "login " + secret, false},
		{"imap", "a1 AUTHENTICATE PLAIN " + plain, true},
		{"imap", plain, true},
		{"imap", secret, false},
		{"imap", secret + " {8}", false},
		{"imap", "a1 " + secret, false},
	} {
		e := trace.Event{Kind: trace.KindWire, Host: "alice-pc", Peer: "srv.example", Proto: c.proto, Dir: trace.Send, Text: c.line}
		s := Narrate(e)
		if s == "" || strings.Contains(s, secret) || strings.Contains(s, plain) || strings.Contains(strings.ToLower(s), strings.ToLower(secret)) {
			t.Errorf("%s C: %s\nsentence tells the secret: %q", c.proto, c.line, s)
		}
		for _, enc := range []string{plain, b64(secret), b64("alice@example.org")} {
			if strings.Contains(s, enc) {
				t.Errorf("%s C: %s\nsentence repeats base64: %q", c.proto, c.line, s)
			}
		}
		if c.shown && !strings.HasSuffix(s, notShown) {
			t.Errorf("%s C: %s\nsentence does not say the password is not shown: %q", c.proto, c.line, s)
		}
		checkStyle(t, e, s)
	}
}

// Values from the trace are clipped, so that a long name keeps the
// sentence short; a multi-byte letter is never cut in half.
func TestNarrateClips(t *testing.T) {
	long := strings.Repeat("é", 80) + "@example.org"
	e := trace.Event{Kind: trace.KindWire, Host: "alice-pc", Peer: "mail.example.org", Proto: "smtp", Dir: trace.Send, Text: "RCPT TO:<" + long + ">"}
	s := Narrate(e)
	checkStyle(t, e, s)
	if !strings.Contains(s, "…") || !strings.HasSuffix(s, "(RCPT TO)") || !strings.Contains(s, "é") {
		t.Errorf("long address: %q", s)
	}
	if strings.ContainsRune(s, '\uFFFD') || !isValidUTF8(s) {
		t.Errorf("clipped in the middle of a letter: %q", s)
	}
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// The durations of the queue are said as people say them.
func TestDurationText(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{30 * time.Second, "30 seconds"},
		{time.Minute, "1 minute"},
		{5*time.Minute + time.Millisecond, "5 minutes"},
		{time.Hour, "1 hour"},
		{90 * time.Minute, "90 minutes"},
		{2 * time.Hour, "2 hours"},
		{47 * time.Hour, "47 hours"},
		{120 * time.Hour, "5 days"},
	} {
		if got := durationText(c.d); got != c.want {
			t.Errorf("durationText(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}
