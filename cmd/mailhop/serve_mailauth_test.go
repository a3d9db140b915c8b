//go:build !js

// SPF, DKIM and DMARC on the real server: the records `serve --print-dns`
// prints, the keys it signs with, and an independent implementation
// (dkimpy, Debian's python3-dkim) on both sides: it verifies what serve
// signs, and serve verifies what it signs. DNS is `mailhop dns` on
// loopback, serving the printed records.

package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	miekg "github.com/miekg/dns"

	"github.com/mailhop/mailhop/sim/listen/listentest"
	"github.com/mailhop/mailhop/sim/mailauth"
)

// zoneRecords parses zone-file text into "name TYPE" → the records' data
// (TXT strings joined), failing on a syntax error.
func zoneRecords(t *testing.T, text string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	zp := miekg.NewZoneParser(strings.NewReader(text), ".", "print-dns")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		key := strings.TrimSuffix(h.Name, ".") + " " + miekg.TypeToString[h.Rrtype]
		switch rr := rr.(type) {
		case *miekg.TXT:
			out[key] = append(out[key], strings.Join(rr.Txt, ""))
		case *miekg.MX:
			out[key] = append(out[key], fmt.Sprintf("%d %s", rr.Preference, rr.Mx))
		default:
			out[key] = append(out[key], strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("the printed records are not a zone file: %v\n%s", err, text)
	}
	return out
}

// publishedKey is the DKIM record of the key file serve signs with.
func publishedKey(t *testing.T, path string) string {
	t.Helper()
	key, err := mailauth.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := mailauth.DKIMRecord(key)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// --print-dns makes the keys once (RSA 2048 and Ed25519, files 0600 in
// directories 0700) and prints exactly the records the server backs, in
// zone-file syntax: MX, SPF, both DKIM keys as they are on disk, DMARC
// p=none with reports to postmaster, SPF for the greeting name.
func TestServePrintDNS(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"serve", "--hostname", "mx.example.net", "--domain", "example.net", "--domain", "Example.ORG", "--data", data, "--print-dns"}
	out, errOut, code := mailhop(t, nil, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if n := strings.Count(errOut, "DKIM key created"); n != 4 {
		t.Fatalf("want 4 keys created (2 domains × rsa, ed25519), the log says %d:\n%s", n, errOut)
	}
	got := zoneRecords(t, out)
	want := map[string][]string{"mx.example.net TXT": {"v=spf1 a -all"}}
	for _, d := range []string{"example.net", "example.org"} {
		dir := filepath.Join(data, "dkim", d)
		want[d+" MX"] = []string{"10 mx.example.net."}
		want[d+" TXT"] = []string{"v=spf1 mx -all"}
		want["mailhop-rsa._domainkey."+d+" TXT"] = []string{publishedKey(t, filepath.Join(dir, "mailhop-rsa.pem"))}
		want["mailhop-ed._domainkey."+d+" TXT"] = []string{publishedKey(t, filepath.Join(dir, "mailhop-ed.pem"))}
		want["_dmarc."+d+" TXT"] = []string{"v=DMARC1; p=none; rua=mailto:postmaster@" + d}
		if m := mode(t, dir); m != 0o700 {
			t.Errorf("%s: mode %v, want 0700", dir, m)
		}
		for _, f := range []string{"mailhop-rsa.pem", "mailhop-ed.pem"} {
			if m := mode(t, filepath.Join(dir, f)); m != 0o600 {
				t.Errorf("%s: mode %v, want 0600", f, m)
			}
		}
		rsaKey, _ := mailauth.LoadKey(filepath.Join(dir, "mailhop-rsa.pem"))
		if k, ok := rsaKey.(*rsa.PrivateKey); !ok || k.N.BitLen() != 2048 {
			t.Errorf("mailhop-rsa of %s is not RSA 2048: %T", d, rsaKey)
		}
		edKey, _ := mailauth.LoadKey(filepath.Join(dir, "mailhop-ed.pem"))
		if _, ok := edKey.(ed25519.PrivateKey); !ok {
			t.Errorf("mailhop-ed of %s is not Ed25519: %T", d, edKey)
		}
	}
	if m := mode(t, filepath.Join(data, "dkim")); m != 0o700 {
		t.Errorf("DATA/dkim: mode %v, want 0700", m)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("%s: printed %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("printed a record it can not back: %s %q", k, got[k])
		}
	}
	if !strings.Contains(out, "p=quarantine") || !strings.Contains(out, "p=reject") {
		t.Errorf("no advice to tighten DMARC:\n%s", out)
	}
	// Again: the same keys, the same records, nothing created.
	out2, errOut, code := mailhop(t, nil, args...)
	if code != 0 || out2 != out || strings.Contains(errOut, "created") {
		t.Fatalf("a second --print-dns: exit %d, same output %v\n%s", code, out2 == out, errOut)
	}

	// The host is its domain's MX, no port takes mail from other hosts
	// and none signs: no MX, no DKIM, SPF names the host itself.
	out, errOut, code = mailhop(t, nil, "serve", "--hostname", "example.net", "--domain", "example.net", "--data", data,
		"--smtp", "", "--submission", "", "--submissions", "", "--print-dns")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	got = zoneRecords(t, out)
	want = map[string][]string{
		"example.net TXT":        {"v=spf1 a:example.net -all"},
		"_dmarc.example.net TXT": {"v=DMARC1; p=none; rua=mailto:postmaster@example.net"},
	}
	if len(got) != len(want) || !slices.Equal(got["example.net TXT"], want["example.net TXT"]) ||
		!slices.Equal(got["_dmarc.example.net TXT"], want["_dmarc.example.net TXT"]) {
		t.Fatalf("without --smtp and submission: %q, want %q\n%s", got, want, out)
	}

	// What --print-dns needs is checked as for serving.
	if _, errOut, code := mailhop(t, nil, "serve", "--domain", "example.net", "--data", data, "--print-dns"); code != 2 || !strings.Contains(errOut, "--hostname is required") {
		t.Fatalf("--print-dns without --hostname: exit %d\n%s", code, errOut)
	}
}

// dkimPython is the Python that has dkimpy: the interpreter of Debian's
// dkimverify (python3 on PATH may be another one).
func dkimPython(t *testing.T) string {
	t.Helper()
	need(t, "dkimverify")
	path, _ := exec.LookPath("dkimverify")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	py := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "#!"))
	if len(py) != 1 || !strings.HasPrefix(line, "#!") {
		t.Fatalf("%s: want a #!python3 line, have %q", path, line)
	}
	if out, err := exec.Command(py[0], "-c", "import dkim, nacl, dns.resolver").CombinedOutput(); err != nil {
		t.Fatalf("%s can not import dkim, nacl and dns.resolver: %v\n%s", py[0], err, out)
	}
	return py[0]
}

// dkimpySend signs a message with dkimpy (RSA and Ed25519 keys of
// example.com, selectors py-rsa and py-ed) unless told "plain", changes
// its body after signing when told "tamper", and hands it to an MX from a
// given source address, printing the reply to the final dot.
const dkimpySend = `
import smtplib, sys, dkim
host, port, src, mfrom, rcpt, subject, mode, rsakey, edkey = sys.argv[1:10]
msg = ("From: Sender <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@dkimpy.test>\r\n"
       "Date: Mon, 1 Jun 2026 10:00:00 +0000\r\n\r\nSigned by dkimpy.\r\nA second line.\r\n") % (mfrom, rcpt, subject, subject)
msg = msg.encode()
if mode != "plain":
    d = mfrom.split("@")[1].encode()
    hdrs = [b"from", b"to", b"subject", b"message-id", b"date"]
    sig = dkim.sign(msg, b"py-rsa", d, open(rsakey, "rb").read(), include_headers=hdrs)
    sig += dkim.sign(msg, b"py-ed", d, open(edkey, "rb").read(), signature_algorithm=b"ed25519-sha256", include_headers=hdrs)
    msg = sig + msg
    if mode == "tamper":
        msg = msg.replace(b"Signed by dkimpy.", b"Changed on the way.")
s = smtplib.SMTP(host, int(port), source_address=(src, 0), timeout=20)
s.ehlo("relay.dkimpy.test")
code, text = s.mail(mfrom)
assert code == 250, (code, text)
code, text = s.rcpt(rcpt)
assert code == 250, (code, text)
code, text = s.data(msg)
print(code, text.decode())
s.quit()
`

// dkimpyVerify verifies every DKIM-Signature of a message file with
// dkimpy, asking the test's DNS server for the keys; then the first again
// on a copy whose body was changed, which must fail.
const dkimpyVerify = `
import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = ["127.0.0.1"]
r.port = int(sys.argv[1])
def txt(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    try:
        a = r.resolve(name, "TXT", lifetime=timeout)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    return b"".join(a[0].strings)
def verify(m, i):
    try:
        return "pass" if dkim.DKIM(m).verify(idx=i, dnsfunc=txt) else "fail"
    except dkim.DKIMException as e:
        return "fail (%s)" % e
msg = open(sys.argv[2], "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
sigs = [v for k, v in dkim.DKIM(msg).headers if k.lower() == b"dkim-signature"]
for i, sig in enumerate(sigs):
    tags = dkim.util.parse_tag_value(sig)
    print("signature", tags[b"s"].decode(), tags[b"a"].decode(), verify(msg, i))
print("tampered", verify(msg.replace(b"Hello Bob", b"Hello Eve"), 0))
`

// An Internet of three domains on loopback: A (mail.example.org) signs
// with the keys --print-dns made and published, B (mx.example.net)
// checks SPF, DKIM and DMARC through `mailhop dns`, and dkimpy plays
// example.com's mail server (p=reject) and verifies A's signatures.
func TestServeMailAuth(t *testing.T) {
	need(t, "swaks")
	py := dkimPython(t)
	const (
		ipA    = "127.0.0.8"
		ipB    = "127.0.0.9"
		goodIP = "127.0.0.4" // the address example.com's SPF names
		badIP  = "127.0.0.5" // any other
	)
	w := &testWorld{dir: t.TempDir()}
	w.dnsPort = listentest.FreePort(t, "127.0.0.1", true)
	w.b = w.server(t, "mx.example.net", ipB, "example.net", "bob@example.net:bob", 0)
	w.a = w.server(t, "mail.example.org", ipA, "example.org", "alice@example.org:alice", w.b.ports["smtp"])
	uiPort := listentest.FreePort(t, ipB, false)
	w.b.args = append(w.b.args, "--ui", fmt.Sprintf("%s:%d", ipB, uiPort))

	// A's records, as its operator would publish them.
	printed, errOut, code := mailhop(t, nil, append(slices.Clone(w.a.args), "--print-dns")...)
	if code != 0 || strings.Count(errOut, "DKIM key created") != 2 {
		t.Fatalf("--print-dns: exit %d\n%s", code, errOut)
	}
	// On loopback the kernel sends from 127.0.0.1 whatever address A
	// listens on: its SPF record names that address too.
	if !strings.Contains(printed, `example.org. IN TXT ( "v=spf1 mx -all" )`) {
		t.Fatalf("no SPF record for example.org:\n%s", printed)
	}
	printed = strings.Replace(printed, `"v=spf1 mx -all"`, `"v=spf1 mx ip4:127.0.0.1 -all"`, 1)

	// example.com: dkimpy's keys, SPF for goodIP only, DMARC p=reject;
	// junk.test: no keys, DMARC p=quarantine.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaFile, edFile := filepath.Join(w.dir, "py-rsa.pem"), filepath.Join(w.dir, "py-ed.key")
	os.WriteFile(rsaFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), 0o600)
	os.WriteFile(edFile, []byte(base64.StdEncoding.EncodeToString(edKey.Seed())), 0o600) // dkimpy's Ed25519 key format
	rsaRec, _ := mailauth.DKIMRecord(&rsaKey.PublicKey)
	edRec, _ := mailauth.DKIMRecord(edPub)

	startDNS(t, w.dir, w.dnsPort, map[string]string{
		"example.org": zoneHead("example.org") + "mail IN A " + ipA + "\n" + printed,
		"example.net": zoneHead("example.net") + "@ IN MX 10 mx.example.net.\nmx IN A " + ipB + "\n",
		"example.com": zoneHead("example.com") + mailauth.ZoneTXT("example.com", "v=spf1 ip4:"+goodIP+" -all") + "\n" +
			mailauth.ZoneTXT("py-rsa._domainkey.example.com", rsaRec) + "\n" +
			mailauth.ZoneTXT("py-ed._domainkey.example.com", edRec) + "\n" +
			mailauth.ZoneTXT("_dmarc.example.com", "v=DMARC1; p=reject") + "\n",
		"junk.test": zoneHead("junk.test") + mailauth.ZoneTXT("junk.test", "v=spf1 ip4:"+goodIP+" -all") + "\n" +
			mailauth.ZoneTXT("_dmarc.junk.test", "v=DMARC1; p=quarantine") + "\n",
	})
	w.b.start()
	w.a.start()
	if strings.Contains(w.a.log.String(), "DKIM key created") {
		t.Fatalf("A made new keys although --print-dns had made them:\n%s", w.a.log.String())
	}

	// mailhop → mailhop: A signs twice, B finds every check passing.
	w.swaks(t, "bob@example.net", "signed-1")
	var delivered string
	waitFor(t, 15*time.Second, "signed-1 in bob's Maildir on B", func() bool {
		msgs := inMaildir(w.b, "signed-1")
		if len(msgs) == 1 {
			delivered = msgs[0]
		}
		return len(msgs) == 1
	})
	ar := authResults(delivered)
	for _, want := range []string{
		"mx.example.net;", "spf=pass smtp.mailfrom=example.org",
		"dkim=pass header.d=example.org header.s=mailhop-rsa", "dkim=pass header.d=example.org header.s=mailhop-ed",
		"dmarc=pass header.from=example.org",
	} {
		if !strings.Contains(ar, want) {
			t.Errorf("B's Authentication-Results lacks %q:\n%s", want, ar)
		}
	}

	// mailhop → dkimpy: the message as delivered verifies, both
	// signatures, with the keys from the printed records.
	msgFile := filepath.Join(w.dir, "signed-1.eml")
	os.WriteFile(msgFile, []byte(delivered), 0o600)
	out, code := runClient(t, nil, py, "-c", dkimpyVerify, fmt.Sprint(w.dnsPort), msgFile)
	for _, want := range []string{"signature mailhop-rsa rsa-sha256 pass", "signature mailhop-ed ed25519-sha256 pass", "tampered fail"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("dkimpy on the message A signed: exit %d, no %q:\n%s\n%s", code, want, out, delivered)
		}
	}

	// dkimpy → mailhop: B verifies dkimpy's signatures; a changed body
	// from an address SPF does not name fails DMARC, which rejects.
	send := func(src, from, subject, mode string) string {
		t.Helper()
		out, code := runClient(t, nil, py, "-c", dkimpySend, ipB, fmt.Sprint(w.b.ports["smtp"]), src, from, "bob@example.net", subject, mode, rsaFile, edFile)
		if code != 0 {
			t.Fatalf("dkimpy sending %s: exit %d\n%s", subject, code, out)
		}
		return strings.TrimSpace(out)
	}
	if r := send(goodIP, "sender@example.com", "dkimpy-1", "sign"); !strings.HasPrefix(r, "250 2.0.0") {
		t.Fatalf("dkimpy-1: %q, want 250", r)
	}
	waitFor(t, 10*time.Second, "dkimpy-1 in bob's Maildir", func() bool { return len(inMaildir(w.b, "dkimpy-1")) == 1 })
	ar = authResults(inMaildir(w.b, "dkimpy-1")[0])
	for _, want := range []string{
		"spf=pass smtp.mailfrom=example.com", "dkim=pass header.d=example.com header.s=py-rsa",
		"dkim=pass header.d=example.com header.s=py-ed", "dmarc=pass header.from=example.com",
	} {
		if !strings.Contains(ar, want) {
			t.Errorf("B's verdict on dkimpy's message lacks %q:\n%s", want, ar)
		}
	}
	if r := send(badIP, "sender@example.com", "dkimpy-2", "tamper"); !regexp.MustCompile(`^550 5\.7\.1 .*DMARC policy of example\.com`).MatchString(r) {
		t.Errorf("a changed message from an address SPF does not name: %q, want 550 5.7.1 (DMARC p=reject)", r)
	}

	// DMARC quarantine: accepted, recorded, filed into Junk.
	if r := send(badIP, "sender@junk.test", "quarantine-1", "plain"); !strings.HasPrefix(r, "250 2.0.0") {
		t.Fatalf("quarantine-1: %q, want 250", r)
	}
	junk := filepath.Join(w.b.data, "mail", "example.net", "bob", ".Junk", "new")
	waitFor(t, 10*time.Second, "quarantine-1 in bob's Junk", func() bool {
		es, _ := os.ReadDir(junk)
		return len(es) == 1
	})
	// A DNS failure (the server refuses names outside its zones): 451,
	// never a silent pass.
	if r := send(goodIP, "sender@elsewhere.invalid", "tempfail-1", "plain"); !strings.HasPrefix(r, "451 4.7.0") {
		t.Errorf("mail whose SPF and DMARC lookups fail: %q, want 451 4.7.0", r)
	}
	if n := len(inMaildir(w.b, "dkimpy-2")) + len(inMaildir(w.b, "tempfail-1")); n != 0 {
		t.Errorf("%d refused messages in bob's INBOX", n)
	}

	// The verdicts are in the live view's trace and in B's log.
	_, body := httpGet(t, fmt.Sprintf("http://%s:%d/export/trace.jsonl", ipB, uiPort), nil)
	for _, want := range []string{
		`"kind":"auth","action":"dkim"`, `"kind":"auth","action":"verdict"`, `refused (550 5.7.1)`,
		`deferred (451 4.7.0)`, `accepted for the Junk folder (DMARC quarantine)`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the live view's trace lacks %s", want)
		}
	}
	if !regexp.MustCompile(`level=WARN msg="refused \(550 5\.7\.1\).*kind=auth action=verdict`).MatchString(w.b.log.String()) {
		t.Errorf("B's log has no verdict line for the refused message:\n%s", tail(w.b.log.String(), 20))
	}
	w.a.stop()
	w.b.stop()
	if testing.Verbose() {
		t.Logf("B's log:\n%s", w.b.log.String())
	}
}

// authResults returns the message's Authentication-Results fields,
// unfolded.
func authResults(msg string) string {
	var out []string
	head, _, _ := strings.Cut(strings.ReplaceAll(msg, "\r\n", "\n"), "\n\n")
	for _, f := range strings.Split(strings.ReplaceAll(head, "\n\t", " "), "\n") {
		if strings.HasPrefix(f, "Authentication-Results:") {
			out = append(out, f)
		}
	}
	return strings.Join(out, "\n")
}

// Without a DNS server the MX's checks can not decide: mail is deferred
// (451), never passed unchecked. --no-auth-checks takes it, with no
// Authentication-Results field.
func TestServeNoAuthChecks(t *testing.T) {
	m := connServer(t, "127.0.0.1") // its resolver, 127.0.0.1:1, answers nothing
	m.args = slices.DeleteFunc(m.args, func(a string) bool { return a == "--no-auth-checks" })
	m.start()
	s := dialSMTP(t, m.addr("smtp"))
	for _, step := range [][2]string{
		{"EHLO relay.example.org", "250"},
		{"MAIL FROM:<carol@example.org>", "250"},
		{"RCPT TO:<bob@example.net>", "250"},
		{"DATA", "354"},
		{"From: carol@example.org\r\nSubject: unchecked-1\r\n\r\nNo DNS here.\r\n.", "451 4.7.0"},
	} {
		if r := s.cmd(step[0]); !strings.HasPrefix(r, step[1]) {
			t.Fatalf("%q answered %q, want %s", step[0], r, step[1])
		}
	}
	s.close()
	if !strings.Contains(m.log.String(), "auth_checks=true") {
		t.Errorf("the serving line does not say the checks are on:\n%s", m.log.String())
	}
	m.stop()

	m.args = append(m.args, "--no-auth-checks")
	m.start()
	deliver(t, m, "unchecked-1", "No DNS here.")
	if msg := inMaildir(m, "unchecked-1")[0]; strings.Contains(msg, "Authentication-Results") {
		t.Errorf("Authentication-Results without checks:\n%s", msg)
	}
	if !strings.Contains(m.log.String(), "auth_checks=false") {
		t.Errorf("the serving line does not say the checks are off:\n%s", m.log.String())
	}
	m.stop()
}
