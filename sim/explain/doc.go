// Package explain says, for learners, what each protocol line of a mail
// trace means, with the section of the RFC that defines it.
//
// The playground shows these notes beside every line of a transcript, and
// the trace carries them in the note field of its events (see package
// trace). The knowledge is plain Go data, reviewed against the RFCs:
//
//   - SMTP, submission and LMTP: reply codes (RFC 5321 §4.2, RFC 4954,
//     RFC 7504) and what their first digit means (RFC 5321 §4.2.1);
//     enhanced status codes class.subject.detail (RFC 3463 and the codes
//     registered since: RFC 4954, RFC 5248, RFC 7372, RFC 7505); commands
//     (RFC 5321 §4.1.1, STARTTLS RFC 3207, AUTH RFC 4954, BDAT RFC 3030,
//     LHLO RFC 2033) and EHLO keywords.
//   - POP3: commands (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH
//     RFC 5034), +OK and -ERR, the response codes in brackets (RFC 2449,
//     RFC 3206) and CAPA capabilities.
//   - IMAP: commands (RFC 9051, and RFC 3501 for what IMAP4rev2 dropped),
//     tagged and untagged responses, response codes and capabilities.
//   - DNS: the response codes (RFC 1035 §4.1.1) and the record types mail
//     depends on, with what they mean for delivery: implicit MX (RFC 5321
//     §5.1), null MX (RFC 7505).
//
// Line explains one line; Annotate fills in the Note of a trace event and
// is meant for trace.Recorder.SetAnnotator; Entries and Reply expose the
// tables themselves, for the browser to show in full.
//
// Narrate tells a whole event as one plain sentence (the Say of an event;
// Explain gives it with the Note, for trace.Recorder.SetExplainer): a teacher projects these while stepping
// through a journey, so they name the real hosts, use no RFC numbers, and
// never repeat a password, not even in base64.
//
// Every RFC reference is written "RFC 5321 §4.1.1.2" (or "RFC 3030" where
// the note is about a whole document). Summaries are short sentences
// without a final period, written for someone who has never read an RFC.
// The tables never change after start-up, so every function is safe for
// concurrent use and no world in the process can disturb another.
package explain
