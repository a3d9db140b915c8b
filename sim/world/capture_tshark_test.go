//go:build !js

package world

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestCaptureInTshark reads the capture of the default world's journey
// with tshark, as a learner would: the SMTP sessions, decrypted inside
// STARTTLS from the keys in the file alone; the DNS lookup of the MX; the
// reading by IMAP and POP3; and no malformed packet, bad checksum or TCP
// anomaly (retransmission, out of order, lost segment...).
func TestCaptureInTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatal("tshark is not installed, and this test reads the capture with it: apt-get install tshark (make deps installs it)")
	}
	file := filepath.Join(t.TempDir(), "default.pcapng")
	if err := os.WriteFile(file, captureJourney(t), 0o644); err != nil {
		t.Fatal(err)
	}

	// Each run as a learner would type it: tshark -r FILE -Y FILTER.
	runs := map[string][]string{
		"smtp": {"-Y", "smtp", "-T", "fields", "-e", "tcp.dstport", "-e", "frame.protocols", "-e", "smtp.req.command", "-e", "smtp.req.parameter"},
		"dns":  {"-Y", "dns", "-T", "fields", "-e", "dns.flags.response", "-e", "dns.qry.name", "-e", "dns.qry.type", "-e", "dns.mx.mail_exchange"},
		"imap": {"-Y", "imap", "-T", "fields", "-e", "frame.protocols", "-e", "imap.request"},
		"pop":  {"-Y", "pop", "-T", "fields", "-e", "frame.protocols", "-e", "pop.request.command"},
		// LMTP has no port of its own in Wireshark: decoded as SMTP.
		"lmtp": {"-d", "tcp.port==24,smtp", "-Y", "tcp.port == 24 && smtp", "-T", "fields", "-e", "smtp.req.command"},
		"bad": {"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
			"-Y", "_ws.malformed || tcp.analysis.flags || (ip && ip.checksum.status != 1) || (tcp && tcp.checksum.status != 1) || (udp && udp.checksum.status != 1)"},
	}
	out := map[string][][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, args := range runs {
		wg.Go(func() {
			cmd := exec.Command(tshark, append([]string{"-r", file}, args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			b, err := cmd.Output()
			if err != nil {
				t.Errorf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
			}
			var rows [][]string
			for line := range strings.Lines(string(b)) {
				rows = append(rows, strings.Split(strings.TrimRight(line, "\n"), "\t"))
			}
			mu.Lock()
			out[name] = rows
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	show := func(name string) string {
		var b strings.Builder
		for _, r := range out[name] {
			b.WriteString(strings.Join(r, " | ") + "\n")
		}
		return b.String()
	}

	if len(out["bad"]) > 0 {
		t.Errorf("tshark finds malformed packets, bad checksums or TCP anomalies:\n%s", show("bad"))
	}

	// SMTP: the submission on 587 and the relay to the MX on 25, each
	// STARTTLS in the clear, then the rest decrypted.
	type cmd struct {
		port, verb, param string
		tls               bool
	}
	var cmds []cmd
	for _, r := range out["smtp"] {
		if len(r) == 4 && r[2] != "" {
			cmds = append(cmds, cmd{r[0], r[2], r[3], strings.Contains(r[1], ":tls:")})
		}
	}
	for _, want := range []cmd{
		{"587", "EHLO", "alice-pc", false},
		{"587", "AUTH", "PLAIN", true},
		{"587", "MAIL", "FROM:<alice@example.org>", true},
		{"587", "RCPT", "TO:<bob@example.net>", true},
		{"587", "QUIT", "", true},
		{"25", "EHLO", "mail.example.org", false},
		{"25", "MAIL", "FROM:<alice@example.org>", true},
		{"25", "RCPT", "TO:<bob@example.net>", true},
	} {
		if !slices.ContainsFunc(cmds, func(c cmd) bool {
			return c.port == want.port && c.verb == want.verb && strings.HasPrefix(c.param, want.param) && c.tls == want.tls
		}) {
			t.Errorf("tshark -Y smtp shows no %s %s on port %s (inside TLS: %v):\n%s", want.verb, want.param, want.port, want.tls, show("smtp"))
		}
	}
	// The STARTTLS comes before the decrypted AUTH. (Wireshark 4.0 takes
	// an SMTP command to be four letters: STARTTLS is "STAR", "TLS".)
	starttls := slices.IndexFunc(cmds, func(c cmd) bool {
		return c.port == "587" && !c.tls && (c.verb == "STARTTLS" || c.verb == "STAR")
	})
	auth := slices.IndexFunc(cmds, func(c cmd) bool { return c.port == "587" && c.verb == "AUTH" })
	if starttls < 0 || starttls > auth {
		t.Errorf("no STARTTLS before AUTH on 587:\n%s", show("smtp"))
	}

	// DNS: mail.example.org asks for example.net's MX and is told
	// mx.example.net.
	query := slices.ContainsFunc(out["dns"], func(r []string) bool {
		return len(r) == 4 && r[0] == "0" && r[1] == "example.net" && r[2] == "15"
	})
	answer := slices.ContainsFunc(out["dns"], func(r []string) bool {
		return len(r) == 4 && r[0] == "1" && r[1] == "example.net" && r[2] == "15" && r[3] == "mx.example.net"
	})
	if !query || !answer {
		t.Errorf("tshark -Y dns lacks the MX query (%v) or its answer (%v):\n%s", query, answer, show("dns"))
	}

	// Reading: IMAP and POP3, STARTTLS/STLS in the clear, the login and
	// the fetch decrypted.
	has := func(name, want string, tls bool) bool {
		return slices.ContainsFunc(out[name], func(r []string) bool {
			return len(r) == 2 && strings.Contains(" "+r[1]+" ", want) && strings.Contains(r[0], ":tls:") == tls
		})
	}
	for _, want := range []struct {
		proto, text string
		tls         bool
	}{
		{"imap", " STARTTLS ", false},
		{"imap", " LOGIN \"bob@example.net\" ", true},
		{"imap", " SELECT INBOX ", true},
		{"imap", " FETCH 1 ", true},
		{"imap", " LOGOUT ", true},
		{"pop", " STLS ", false},
		{"pop", " USER ", true},
		{"pop", " PASS ", true},
		{"pop", " RETR ", true},
		{"pop", " QUIT ", true},
	} {
		if !has(want.proto, want.text, want.tls) {
			t.Errorf("tshark -Y %s lacks%q (inside TLS: %v):\n%s", want.proto, want.text, want.tls, show(want.proto))
		}
	}
	lmtp := show("lmtp")
	for _, want := range []string{"LHLO", "MAIL", "RCPT", "DATA"} {
		if !strings.Contains(lmtp, want+"\n") {
			t.Errorf("the LMTP session, decoded as SMTP, lacks %s:\n%s", want, lmtp)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("tshark -Y smtp:\n%s", show("smtp"))
	}
}
