package smtp

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
)

// The MSA asks Sign for the fields to put on top of each message it
// accepts, below its own Received field; a failure to sign refuses the
// message for now, as unsigned mail would be junk elsewhere.
func TestSignOnSubmission(t *testing.T) {
	users := auth.NewDirectory("example.org")
	users.Add("alice@example.org", "alice")
	for _, fail := range []bool{false, true} {
		q := &okQueue{}
		var signed string
		s := &Server{Mode: Submission, Hostname: "mail.example.org", Users: users, InsecureAuth: true, Queue: q, Clock: instant{},
			Sign: func(_ context.Context, from string, msg []byte) ([]byte, error) {
				if fail {
					return nil, errors.New("no key")
				}
				signed = from + "|" + string(msg)
				return []byte("DKIM-Signature: v=1; d=example.org\r\n"), nil
			}}
		want := "S: 250 2.0.0 Ok: queued as Q1"
		if fail {
			want = "S: 451 4.7.0 Local error in processing (signing): try again later"
		}
		serve(t, s, 587).Run(`
			C: EHLO client.example.org
			S: 250 *
			C: AUTH PLAIN {PLAIN alice@example.org alice}
			S: 235 *` + sendMail("alice@example.org", []string{"bob@example.net"},
			"Subject: hi\r\nMessage-ID: <1@example.org>\r\nDate: Thu, 1 Jan 2026 09:00:00 +0000\r\n\r\nbody\r\n.\r\n") + `
			` + want)
		if fail {
			if len(q.got) != 0 {
				t.Fatal("an unsigned message was queued")
			}
			continue
		}
		got := string(q.got[0])
		if !strings.HasPrefix(signed, "alice@example.org|Subject: hi\r\n") || strings.Contains(signed, "Received:") {
			t.Errorf("Sign was given %q", signed)
		}
		rcv := strings.Index(got, "Received: ")
		sig := strings.Index(got, "DKIM-Signature: ")
		subj := strings.Index(got, "Subject: hi")
		if !(rcv == 0 && rcv < sig && sig < subj) {
			t.Errorf("queued message, want Received, DKIM-Signature, then the message:\n%s", got)
		}
	}
}

// The MX asks Check about each message from another host: a refusal is
// the reply to the final dot, with Check's reason; an accepted message
// carries Check's fields under the Received field. A user logged in on
// port 25 sends as themselves and is not checked.
func TestCheckOnMX(t *testing.T) {
	var seen []Arrival
	check := func(_ context.Context, a Arrival) Verdict {
		seen = append(seen, a)
		if strings.Contains(string(a.Msg), "spoofed") {
			return Verdict{Code: 550, Enh: "5.7.1", Text: "Rejected by DMARC policy for example.org: SPF fails and there is no DKIM signature"}
		}
		return Verdict{Header: []byte("Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.org\r\n")}
	}
	q := &okQueue{}
	s := &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Recipient: func(string) bool { return true }, Queue: q, Check: check, Clock: clock.Wall{}}
	send := func(subject string) string {
		return sendMail("alice@example.org", []string{"bob@example.net"}, "Subject: "+subject+"\r\n\r\nbody\r\n.\r\n")
	}
	serve(t, s, 25).Run(`
		C: EHLO mail.example.org
		S: 250 *` + send("spoofed") + `
		S: 550 5.7.1 Rejected by DMARC policy for example.org: SPF fails and there is no DKIM signature` + send("fine") + `
		S: 250 2.0.0 Ok: queued as Q1`)
	if len(q.got) != 1 {
		t.Fatalf("%d queued, want 1", len(q.got))
	}
	got := string(q.got[0])
	if !strings.HasPrefix(got, "Received: ") || !strings.Contains(got, "\r\nAuthentication-Results: mx.example.net; spf=pass") ||
		strings.Index(got, "Authentication-Results") > strings.Index(got, "Subject: fine") {
		t.Errorf("queued:\n%s", got)
	}
	if len(seen) != 2 || seen[0].Helo != "mail.example.org" || seen[0].MailFrom != "alice@example.org" ||
		seen[0].IP != netip.MustParseAddr("192.0.2.99") || !strings.HasPrefix(string(seen[0].Msg), "Received: from mail.example.org") {
		t.Errorf("Check saw %+v", seen)
	}

	users := auth.NewDirectory("example.net")
	users.Add("bob@example.net", "bob")
	seen = nil
	s = &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Recipient: func(string) bool { return true }, Queue: &okQueue{}, Check: check,
		Users: users, InsecureAuth: true, Clock: instant{}}
	serve(t, s, 25).Run(`
		C: EHLO bob-pc
		S: 250 *
		C: AUTH PLAIN {PLAIN bob@example.net bob}
		S: 235 *` + sendMail("bob@example.net", []string{"carol@example.com"}, "Subject: spoofed\r\n\r\nmine\r\n.\r\n") + `
		S: 250 2.0.0 Ok: queued as Q1`)
	if len(seen) != 0 {
		t.Errorf("Check asked about a logged-in user's message: %+v", seen)
	}
}
