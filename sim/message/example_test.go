package message_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/message"
)

func ExampleReadHeader() {
	raw := []byte("Received: from alice-pc\n\tby mail.example.org; Thu, 01 Jan 2026 09:00:00 +0000\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\nmessage-id: <1.2@example.org>\n\nHello.\n")
	h := message.ReadHeader(raw)
	fmt.Println(h.Get("Received"))
	fmt.Println(h.Get("Subject"), "=", h.Text("Subject"))
	fmt.Println(h.MessageID())
	fmt.Printf("%q\n", message.HeaderSection(raw)[:26])
	// Output:
	// from alice-pc by mail.example.org; Thu, 01 Jan 2026 09:00:00 +0000
	// =?utf-8?q?Gr=C3=BC=C3=9Fe?= = Grüße
	// 1.2@example.org
	// "Received: from alice-pc\r\n\t"
}

func ExampleDSN() {
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	d := &message.DSN{
		From: "Mail Delivery System <MAILER-DAEMON@mail.example.org>", To: "alice@example.org",
		Subject: "Undelivered Mail Returned to Sender", Date: at, MessageID: "8C90A800BF.dsn@mail.example.org",
		Boundary:     "8C90A800BF/mail.example.org", // from the queue id: the same run after run
		Text:         "Your message could not be delivered.\n",
		ReportingMTA: "mail.example.org", ArrivalDate: at,
		Recipients: []message.Recipient{{
			FinalRecipient: "nobody@example.net", Action: "failed", Status: "5.1.1", RemoteMTA: "mx.example.net",
			DiagnosticType: "smtp", Diagnostic: "550-5.1.1 no such user\n550 5.1.1 here", LastAttempt: at,
		}},
		Original: []byte("From: <alice@example.org>\nSubject: hi\n\nbody\n"),
	}
	raw, err := d.Bytes()
	if err != nil {
		panic(err)
	}
	fmt.Print(strings.ReplaceAll(string(raw), "\r\n", "⏎\n"))
	// Output:
	// From: Mail Delivery System <MAILER-DAEMON@mail.example.org>⏎
	// To: <alice@example.org>⏎
	// Subject: Undelivered Mail Returned to Sender⏎
	// Date: Thu, 01 Jan 2026 09:00:00 +0000⏎
	// Message-ID: <8C90A800BF.dsn@mail.example.org>⏎
	// Auto-Submitted: auto-replied⏎
	// MIME-Version: 1.0⏎
	// Content-Type: multipart/report; report-type=delivery-status;⏎
	//  boundary="8C90A800BF/mail.example.org"⏎
	// ⏎
	// This is a MIME-encapsulated delivery status notification.⏎
	// ⏎
	// --8C90A800BF/mail.example.org⏎
	// Content-Type: text/plain; charset=utf-8⏎
	// ⏎
	// Your message could not be delivered.⏎
	// ⏎
	// --8C90A800BF/mail.example.org⏎
	// Content-Type: message/delivery-status⏎
	// ⏎
	// Reporting-MTA: dns; mail.example.org⏎
	// Arrival-Date: Thu, 01 Jan 2026 09:00:00 +0000⏎
	// ⏎
	// Final-Recipient: rfc822; nobody@example.net⏎
	// Action: failed⏎
	// Status: 5.1.1⏎
	// Remote-MTA: dns; mx.example.net⏎
	// Diagnostic-Code: smtp; 550-5.1.1 no such user⏎
	//  550 5.1.1 here⏎
	// Last-Attempt-Date: Thu, 01 Jan 2026 09:00:00 +0000⏎
	// ⏎
	// --8C90A800BF/mail.example.org⏎
	// Content-Type: text/rfc822-headers⏎
	// ⏎
	// From: <alice@example.org>⏎
	// Subject: hi⏎
	// ⏎
	// --8C90A800BF/mail.example.org--⏎
}
