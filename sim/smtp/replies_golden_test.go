package smtp

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhop/mailhop/sim/auth"
)

var updateReplies = flag.Bool("update", false, "rewrite testdata/replies-*.golden from this run")

// sessionScripts are sessions that between them draw every kind of reply
// from each server: greetings, capabilities, each command's success and
// each refusal. Their whole replies are pinned in testdata, so that an
// upgrade of go-smtp (which answers part of the protocol) can never change
// what a learner sees without a diff here. Lines are sent one at a time.
var sessionScripts = map[string][]string{
	"mx": {
		"NOOP", "MAIL FROM:<a@example.org>", "EHLO", "HELO", "EHLO client.example.org",
		"HELO client.example.org", "RCPT TO:<bob@example.net>", "DATA",
		// RSET after each MAIL a tolerant server may take.
		"MAIL FROM: <a@example.org>", "RSET", "MAIL FROM:a@example.org", "RSET", "MAIL FROM:<a@example.org",
		"MAIL FROM:<a@example.org> SIZE=999999999", "MAIL FROM:<a@example.org> FROB=1",
		"MAIL FROM:<a@example.org> BODY=BINARYMIME", "MAIL FROM:<a@example.org> SIZE=12x",
		"MAIL FROM:<> SMTPUTF8", "RSET", "MAIL FROM:<a b@example.org>", "MAIL FROM:<@example.org>",
		"LHLO client.example.org", "MAIL FROM:<a@example.org>", "MAIL FROM:<b@example.org>",
		"RCPT TO:<bob@example.net> NOTIFY=NEVER", "RCPT TO:<>",
		"RCPT TO:<bob@example.org>", "RCPT TO:<bob%example.net@example.net>", "RCPT TO:<@relay:bob@example.net>",
		"RCPT TO:<nobody@example.net>", "RCPT TO:bob@example.net", "RCPT TO:<bob@example.net>",
		"RCPT TO:<postmaster>", "VRFY bob", "EXPN staff", "HELP", "FROB", "BDAT 0 LAST",
		"AUTH PLAIN", "STARTTLS now", "RSET", "DATA", "NOOP now", "\x01\x02", "QUIT",
	},
	"submission": {
		"EHLO client.example.org", "MAIL FROM:<alice@example.org>",
		"AUTH CRAM-MD5", "AUTH PLAIN !!!", "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00alice@example.org\x00wrong")),
		"AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00alice@example.org\x00alice")),
		"AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00alice@example.org\x00alice")),
		"MAIL FROM:<bob@example.net>", "MAIL FROM:<alice@example.org>", "RCPT TO:<anyone@example.com>",
		"DATA", "Subject: pinned", "", "Hello.", ".", "QUIT",
	},
	"lmtp": {
		"EHLO client.example.org", "LHLO client.example.org", "MAIL FROM:<a@example.org>",
		"RCPT TO:<bob@example.net>", "RCPT TO:<nobody@example.net>", "RCPT TO:<bob@example.com>",
		"DATA", "Subject: pinned", "", "Hello.", ".", "QUIT",
	},
}

// TestRepliesPinned runs each script on a strict and a tolerant server
// and compares every line they send with testdata/replies-NAME.golden
// (`go test ./sim/smtp -run TestRepliesPinned -update` rewrites them, for
// a change that is meant: read the diff).
func TestRepliesPinned(t *testing.T) {
	users := auth.NewDirectory("example.org")
	users.Add("alice@example.org", "alice")
	exists := func(a string) bool { return a == "bob@example.net" }
	for name, script := range sessionScripts {
		for _, strict := range []bool{true, false} {
			file := "replies-" + name
			if !strict {
				file += "-tolerant"
			}
			t.Run(file, func(t *testing.T) {
				var s *Server
				port := 25
				switch name {
				case "mx":
					s = &Server{Mode: MX, Hostname: "mx.example.net", IsLocal: isExample, Recipient: exists, Queue: &okQueue{}, Strict: strict}
				case "submission":
					s = &Server{Mode: Submission, Hostname: "mail.example.org", Users: users, Queue: &okQueue{}, InsecureAuth: true, Strict: strict}
					port = 587
				case "lmtp":
					s = &Server{Mode: LMTP, Hostname: "store.example.net", IsLocal: isExample, Recipient: exists, Deliver: okStore{}, Strict: strict}
					port = 24
				}
				c := serve(t, s, port)
				var b strings.Builder
				b.WriteString("S: " + c.Greeting() + "\n")
				inData, accepted := false, 0
				for _, line := range script {
					b.WriteString("C: " + line + "\n")
					c.Send(line)
					if inData && line != "." {
						continue // the message's lines get no reply
					}
					for {
						s, eof := c.ReadLine()
						if eof {
							b.WriteString("(closed)\n")
							break
						}
						b.WriteString("S: " + s + "\n")
						if !continued(s) {
							inData = strings.HasPrefix(s, "354")
							if strings.HasPrefix(line, "RCPT") && strings.HasPrefix(s, "250") {
								accepted++
							}
							if name == "lmtp" && line == "." {
								// one reply per accepted recipient (RFC 2033 §4.2)
								for range accepted - 1 {
									if next, eof := c.ReadLine(); !eof {
										b.WriteString("S: " + next + "\n")
									}
								}
							}
							break
						}
					}
				}
				got := []byte(b.String())
				golden := filepath.Join("testdata", file+".golden")
				if *updateReplies {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run with -update to write it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("the replies differ from %s (rerun with -update if meant, and read the diff):\n%s", golden, lineDiff(want, got))
				}
			})
		}
	}
}

// okStore files every message.
type okStore struct{}

func (okStore) Deliver(context.Context, string, string, []byte) error { return nil }

// lineDiff shows the lines of want and got that differ.
func lineDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			b.WriteString("- " + a + "\n+ " + c + "\n")
		}
	}
	return b.String()
}
