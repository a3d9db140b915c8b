package pop3

import (
	"strings"
	"testing"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/store"
)

// rfc1939Example is the example POP3 session of RFC 1939 §10, verbatim.
const rfc1939Example = `
      S: <wait for connection on TCP port 110>
      C: <open connection>
      S:    +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
      C:    APOP mrose c4c9334bac560ecc979e58001b3e22fb
      S:    +OK mrose's maildrop has 2 messages (320 octets)
      C:    STAT
      S:    +OK 2 320
      C:    LIST
      S:    +OK 2 messages (320 octets)
      S:    1 120
      S:    2 200
      S:    .
      C:    RETR 1
      S:    +OK 120 octets
      S:    <the POP3 server sends message 1>
      S:    .
      C:    DELE 1
      S:    +OK message 1 deleted
      C:    RETR 2
      S:    +OK 200 octets
      S:    <the POP3 server sends message 2>
      S:    .
      C:    DELE 2
      S:    +OK message 2 deleted
      C:    QUIT
      S:    +OK dewey POP3 server signing off (maildrop empty)
      C:  <close connection>
      S:  <wait for next connection>
`

// The digest in the RFC's example is what APOPDigest computes for its
// timestamp and the secret the RFC names (RFC 1939 §7).
func TestAPOPDigestOfRFC1939(t *testing.T) {
	got := APOPDigest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf")
	if got != "c4c9334bac560ecc979e58001b3e22fb" {
		t.Fatalf("APOPDigest = %s, want the RFC's c4c9334bac560ecc979e58001b3e22fb", got)
	}
}

// The session of RFC 1939 §10 replayed line by line against our server,
// over the simulated network, with mrose's maildrop holding messages of
// the RFC's sizes. Status and data must be the RFC's; free text (the
// greeting, the login and sign-off remarks) may differ.
func TestRFC1939Example(t *testing.T) {
	msgs := []string{mkMessage("1@dbc.mtview.ca.us", "first", 120), mkMessage("2@dbc.mtview.ca.us", "second", 200)}
	const mrose = "mrose@dbc.mtview.ca.us"
	w := newWorld(t, nil, with(func(s *Server) {
		s.Hostname = "dbc.mtview.ca.us"
		users := auth.NewDirectory("dbc.mtview.ca.us")
		users.Add(mrose, "tanstaaf")
		s.Users = users
	}))
	w.Store.AddUser(mrose)
	for _, m := range msgs {
		if len(m) != 120 && len(m) != 200 {
			t.Fatalf("test message of %d octets", len(m))
		}
		w.Store.Append(mrose, store.Inbox, []byte(m), nil, start)
	}

	// The RFC's example, line by line, as a transcript. The lines whose
	// text after the status is free become patterns.
	free := map[string]string{
		"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>": `\+OK .*POP3 server ready <.*@dbc\.mtview\.ca\.us>`,
		"+OK mrose's maildrop has 2 messages (320 octets)":        `\+OK .*mrose.*maildrop has 2 messages \(320 octets\)`,
		"+OK dewey POP3 server signing off (maildrop empty)":      `\+OK .*signing off \(maildrop empty\)`,
	}
	var script []string
	steps := 0
	for _, raw := range strings.Split(rfc1939Example, "\n") {
		who, text, ok := strings.Cut(strings.TrimSpace(raw), ":")
		if !ok {
			continue
		}
		text = strings.TrimSpace(text)
		switch {
		case text == "<wait for connection on TCP port 110>", text == "<wait for next connection>", text == "<open connection>":
			// The test dials before the transcript starts.
		case text == "<close connection>":
			script = append(script, "S: <closed>")
		case who == "C" && strings.HasPrefix(text, "APOP "):
			// Our timestamp differs from the RFC's, so the digest does.
			script = append(script, "C: {APOP mrose tanstaaf}")
		case strings.HasPrefix(text, "<the POP3 server sends message "):
			n := text[len("<the POP3 server sends message ")] - '1'
			for _, l := range strings.Split(strings.TrimSuffix(msgs[n], "\r\n"), "\r\n") {
				script = append(script, "S: "+l)
			}
		case free[text] != "":
			script = append(script, "S~ "+free[text])
		default:
			script = append(script, who+": "+text)
		}
		steps++
	}
	if steps < 25 {
		t.Fatalf("only %d steps of the RFC's example ran", steps)
	}
	w.dial(t).Run(strings.Join(script, "\n"))

	// The UPDATE state applied both deletions.
	if list, err := w.Store.List(mrose, store.Inbox); err != nil || len(list) != 0 {
		t.Fatalf("after QUIT the maildrop holds %v, %v; want it empty", list, err)
	}
}
