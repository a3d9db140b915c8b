package explain_test

import (
	"fmt"
	"time"

	"github.com/mailhop/mailhop/sim/explain"
	"github.com/mailhop/mailhop/sim/trace"
)

// Each line of a transcript gets a note: a command by its verb, a reply by
// its code and enhanced status code.
func ExampleLine() {
	fmt.Println(explain.Line("smtp", true, "MAIL FROM:<alice@example.org>"))
	fmt.Println(explain.Line("smtp", false, "550 5.1.1 <bob@example.net>: Recipient address rejected"))
	fmt.Println(explain.Line("pop3", false, "-ERR [IN-USE] Mailbox locked"))
	fmt.Println(explain.Line("imap", false, "* 3 EXISTS"))
	// Output:
	// the envelope sender (reverse-path), which starts a new message; bounces go here. It belongs to the envelope, not the message: it need not match the From: header the reader sees (RFC 5321 §4.1.1.2)
	// 550: requested action not taken: mailbox unavailable — e.g. not found, no access, or refused for policy reasons; permanent (RFC 5321 §4.2.3); 5.1.1: permanent failure — bad destination mailbox address: the mailbox does not exist (the part before the @ is wrong) (RFC 3463 §3.2)
	// negative response: the command failed; the text may say why (RFC 1939 §3); [IN-USE]: the login was right, but the mailbox is locked: another session (probably another POP3 client) has it open; try again later (RFC 2449 §8.1.2)
	// the number of messages in the mailbox — it grows when new mail arrives (RFC 9051 §7.4.1)
}

// A world installs Annotate on its recorder, so every event of the trace
// carries its explanation.
func ExampleAnnotate() {
	rec := trace.NewRecorder(time.Now, 0)
	rec.SetAnnotator(explain.Annotate)
	e := rec.Emit(trace.Event{Kind: trace.KindDNS, Action: "answer", Host: "mail.example.org", Peer: "ns.example",
		Text: "example.net. IN MX → NOERROR, 1 answer", Records: []string{"example.net.\t3600\tIN\tMX\t0 ."}})
	fmt.Println(e.Note)
	// Output:
	// null MX: the domain states that it accepts no mail, so senders bounce at once instead of trying (556 5.1.10) (RFC 7505 §3)
}

// The tables are data, for the playground to show in full.
func ExampleReply() {
	e, _ := explain.Reply("smtp", "4.2.2")
	fmt.Printf("%s: %s (%s)\n", e.Key, e.Summary, e.RFC)
	// Output:
	// 4.2.2: temporary failure — mailbox full: over its quota; the recipient can make room, so RFC 3463 means it as a temporary failure (RFC 3463 §3.3)
}
