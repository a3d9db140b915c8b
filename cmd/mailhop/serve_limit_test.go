//go:build !js

package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailhop/mailhop/sim/listen/listentest"
)

// guessPy hammers IMAP with wrong passwords from one address (127.0.0.1):
// 25 connections at once, as a guesser would, since each wrong password's
// answer is delayed. Then, from the same address, the right password on
// IMAP, POP3 and SMTP AUTH; and from another address (127.0.0.7) on IMAP.
// It prints one line per finding.
const guessPy = `
import imaplib, os, poplib, smtplib, socket, ssl, sys, threading, time
host, iport, pport, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
user, N = "bob@example.net", 25

class From(imaplib.IMAP4):
    """An IMAP4 client connecting from a given source address."""
    source = None
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(self.source, 0) if self.source else None)

results = [None] * N
start = time.monotonic()
def guess(i):
    try:
        m = imaplib.IMAP4(host, iport, timeout=30)
        m.login(user, "wrong%d" % i)
        results[i] = ("accepted", 0)
    except imaplib.IMAP4.error as e:
        results[i] = (str(e), time.monotonic() - start)
    except Exception as e:
        results[i] = ("error %r" % e, 0)
for i in range(N):
    threading.Thread(target=guess, args=(i,), daemon=True).start()

def tally():
    done = [r for r in results if r is not None]
    failed = sorted(t for s, t in done if "[AUTHENTICATIONFAILED]" in s)
    refused = sum(1 for s, _ in done if "[UNAVAILABLE]" in s)
    other = [s for s, _ in done if "[AUTHENTICATIONFAILED]" not in s and "[UNAVAILABLE]" not in s]
    return failed, refused, other
# Refusals come at once; the checked guesses wait 1 s, 2 s, 4 s... for their NO.
deadline = time.monotonic() + 6
while time.monotonic() < deadline:
    failed, refused, other = tally()
    if len(failed) >= 2 and refused + len(failed) + len(other) >= N - 8:
        break
    time.sleep(0.05)
failed, refused, other = tally()
print("refused", refused)
print("answered", len(failed), "pending", N - refused - len(failed) - len(other))
print("delays", " ".join("%.2f" % t for t in failed))
for s in other:
    print("other", s)

def imap_right(source):
    From.source = source
    m = From(host, iport, timeout=10)
    try:
        m.login(user, "bob")
        return "OK"
    except imaplib.IMAP4.error as e:
        return str(e)
print("imap-right", imap_right(None))

p = poplib.POP3(host, pport, timeout=10)
try:
    p.user(user)
    p.pass_("bob")
    print("pop3-right OK")
except poplib.error_proto as e:
    print("pop3-right", e)

s = smtplib.SMTP(host, sport, timeout=10)
s.starttls(context=ssl._create_unverified_context())
try:
    s.login(user, "bob")
    print("smtp-right OK")
except smtplib.SMTPAuthenticationError as e:
    print("smtp-right", e.smtp_code, e.smtp_error)

print("imap-other-address", imap_right("127.0.0.7"))
sys.stdout.flush()
os._exit(0)
`

// Guessing passwords on `mailhop serve`'s IMAP port: of 25 wrong
// passwords sent at once from one address, 10 are checked (their NO
// delayed, 1 s then 2 s...) and 15 refused with NO [UNAVAILABLE]; the
// right password is refused too, on IMAP and, as the limiter is shared,
// on POP3 and SMTP AUTH; another address logs in.
func TestServeLoginLockout(t *testing.T) {
	need(t, "python3")
	const ip = "127.0.0.6"
	m := &mailServer{name: "mx.example.net", ip: ip, data: filepath.Join(t.TempDir(), "mx"), ports: map[string]int{}, t: t}
	for _, s := range []string{"imap", "pop3", "submission"} {
		m.ports[s] = listentest.FreePort(t, ip, false)
	}
	m.args = []string{"serve", "--hostname", m.name, "--domain", "example.net", "--data", m.data,
		"--user", "bob@example.net:bob", "--resolver", "127.0.0.1:1", "--shutdown-timeout", "2s",
		"--smtp", "", "--submission", m.addr("submission"), "--submissions", "", "--lmtp", "",
		"--imap", m.addr("imap"), "--imaps", "", "--pop3", m.addr("pop3"), "--pop3s", ""}
	m.start()
	defer m.stop()
	out, err := exec.Command("python3", "-c", guessPy, ip, fmt.Sprint(m.ports["imap"]), fmt.Sprint(m.ports["pop3"]),
		fmt.Sprint(m.ports["submission"])).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	t.Logf("python:\n%s", out)
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, " ")
		if k == "other" {
			t.Errorf("a guess answered neither NO [AUTHENTICATIONFAILED] nor NO [UNAVAILABLE]: %s", v)
		}
		got[k] = v
	}
	if got["refused"] != "15" {
		t.Errorf("%s of 25 guesses refused, want 15 (10 checked, as the README promises)", got["refused"])
	}
	var answered, pending int
	fmt.Sscanf(got["answered"], "%d pending %d", &answered, &pending)
	if answered < 2 || answered+pending != 10 {
		t.Errorf("checked guesses: %d answered, %d pending; want 10 in all, 2 answered at least", answered, pending)
	}
	var d1, d2 float64
	fmt.Sscanf(got["delays"], "%f %f", &d1, &d2)
	if d1 < 0.9 || d2 < 1.9 {
		t.Errorf("first NOs after %.2f s and %.2f s; want 1 s and 2 s at least", d1, d2)
	}
	for k, want := range map[string]string{
		"imap-right":         "[UNAVAILABLE] Too many failed logins from your address",
		"pop3-right":         "-ERR [SYS/TEMP] too many failed logins from your address",
		"smtp-right":         "454 ",
		"imap-other-address": "OK",
	} {
		if !strings.Contains(got[k], want) {
			t.Errorf("%s: %q, want %q", k, got[k], want)
		}
	}
}
