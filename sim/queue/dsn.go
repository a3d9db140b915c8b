package queue

import (
	"fmt"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/message"
)

// buildDSN writes an RFC 3464 report on rcpts (sim/message writes it): a
// human part, the machine-readable message/delivery-status part, and the
// original message's header (text/rfc822-headers, RFC 6522). Its
// boundary comes from the queue id, so a bounce is the same run after
// run.
func (q *Queue) buildDSN(env *Envelope, rcpts []*Rcpt, body []byte, delay bool) ([]byte, error) {
	now := q.Clock.Now()
	d := &message.DSN{
		From:         fmt.Sprintf("Mail Delivery System <MAILER-DAEMON@%s>", q.Hostname),
		To:           env.From,
		Subject:      "Undelivered Mail Returned to Sender",
		Date:         now,
		MessageID:    fmt.Sprintf("%s.dsn@%s", env.ID, q.Hostname),
		Boundary:     env.ID + "/" + q.Hostname,
		ReportingMTA: q.Hostname,
		ArrivalDate:  env.Created,
		QueueID:      env.ID,
		Original:     body,
	}
	if delay {
		d.Subject = "Delayed Mail (still being retried)"
		d.MessageID = fmt.Sprintf("%s.delay@%s", env.ID, q.Hostname)
	}

	var text strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&text, format+"\n", args...) }
	line("This is the mail system at host %s.", q.Hostname)
	line("")
	if delay {
		line("Your message could not be delivered yet. It stays in the queue and")
		line("delivery will be retried until %s.", env.Created.Add(q.Lifetime).UTC().Format(time.RFC1123Z))
	} else {
		line("Your message could not be delivered to one or more recipients.")
		line("It is attached below (its header only).")
	}
	line("")
	for _, r := range rcpts {
		lines := replyLines(r.Reply)
		line("<%s>: %s", r.Addr, lines[0])
		for _, l := range lines[1:] {
			line("    %s", l)
		}
	}
	d.Text = text.String()

	for _, r := range rcpts {
		rs := message.Recipient{
			FinalRecipient: r.Addr,
			Action:         "failed",
			Status:         r.Status,
			LastAttempt:    now,
		}
		if delay {
			rs.Action = "delayed"
			rs.WillRetryUntil = env.Created.Add(q.Lifetime)
		}
		if rs.Status == "" {
			rs.Status = map[bool]string{true: "4.0.0", false: "5.0.0"}[delay]
		}
		local := r.Remote == "" || r.Remote == q.Hostname
		if !local {
			rs.RemoteMTA = r.Remote
		}
		if r.Reply != "" {
			rs.DiagnosticType = "smtp"
			if local {
				rs.DiagnosticType = "x-mailhop"
			}
			rs.Diagnostic = strings.Join(replyLines(r.Reply), "\n")
		}
		d.Recipients = append(d.Recipients, rs)
	}
	return d.Bytes()
}

// replyLines splits a recipient's reply into its lines. A multi-line SMTP
// reply reaches the queue as go-smtp gives it, "550 5.1.1 first\nsecond"
// (possibly after words of the queue's own, "gave up after 1h0m0s: "):
// its lines are written back as the server sent them, "550-5.1.1 first"
// and "550 5.1.1 second" (RFC 5321 §4.2.1, RFC 2034).
func replyLines(reply string) []string {
	lines := strings.Split(strings.ReplaceAll(reply, "\r\n", "\n"), "\n")
	if len(lines) == 1 {
		return lines
	}
	first := lines[0]
	// The reply starts the first line, or follows a ": " of ours.
	at := -1
	for i := 0; i < len(first); i++ {
		if (i == 0 || strings.HasSuffix(first[:i], ": ")) && isCode(first[i:]) {
			at = i
			break
		}
	}
	if at < 0 {
		return lines
	}
	code := first[at : at+3]
	enh := ""
	if f := strings.Fields(first[at+4:]); len(f) > 0 && isEnhanced(f[0]) {
		enh = f[0] + " "
	}
	out := []string{first[:at] + code + "-" + first[at+4:]}
	for i, l := range lines[1:] {
		sep := "-"
		if i == len(lines)-2 {
			sep = " "
		}
		if f := strings.Fields(l); len(f) > 0 && isEnhanced(f[0]) {
			out = append(out, code+sep+l)
		} else {
			out = append(out, code+sep+enh+l)
		}
	}
	return out
}

// isCode reports whether s starts with a reply code and a space.
func isCode(s string) bool {
	return len(s) >= 4 && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' && s[3] == ' '
}

// isEnhanced reports whether s is an enhanced status code (RFC 3463).
func isEnhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}
