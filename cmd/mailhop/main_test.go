package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/listen/listentest"
	"github.com/mailhop/mailhop/sim/trace"
)

// bin is the mailhop binary built for these tests: the CLI is a contract,
// tested as users and scripts call it.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mailhop-cli")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "mailhop")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building mailhop: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func mailhop(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// The default journey, in the order the issue promises: submission,
// queueing, DNS MX and A, relay, LMTP, delivery, the final header.
func TestSimText(t *testing.T) {
	out, errOut, code := mailhop(t, nil, "sim")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	steps := []string{
		"alice-pc → mail.example.org:587 smtp: open",
		"C: AUTH PLAIN",
		"queue mail.example.org: queued",
		"S: 250 2.0.0 Ok: queued as",
		"query example.net. IN MX",
		"example.net.\t3600\tIN\tMX\t10 mx.example.net.",
		"query mx.example.net. IN A",
		"mail.example.org → mx.example.net:25 smtp: open",
		"C: RCPT TO:<bob@example.net>",
		"mx.example.net → store.example.net:24 lmtp: open",
		"C: LHLO mx.example.net",
		"deliver store.example.net",
		"into bob@example.net/INBOX",
		"== bob@example.net/INBOX, UID 1",
		"by store.example.net (mailhop) with LMTP",
		"by mx.example.net (mailhop) with ESMTPS",
		"by mail.example.org (mailhop) with ESMTPSA",
	}
	at := 0
	for _, s := range steps {
		i := strings.Index(out[at:], s)
		if i < 0 {
			t.Fatalf("%q missing or out of order after offset %d:\n%s", s, at, out)
		}
		at += i + len(s)
	}
}

func TestSimJSONRoundTrip(t *testing.T) {
	out, errOut, code := mailhop(t, nil, "sim", "--json", "--read", "pop3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	events, err := trace.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[trace.Kind]int{}
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
		kinds[e.Kind]++
	}
	for _, k := range []trace.Kind{trace.KindConn, trace.KindWire, trace.KindDNS, trace.KindQueue, trace.KindDeliver, trace.KindFetch, trace.KindHop, trace.KindTLS} {
		if kinds[k] == 0 {
			t.Errorf("no %s event", k)
		}
	}
	var first map[string]any
	json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &first)
	for _, f := range []string{"seq", "time", "kind"} {
		if _, ok := first[f]; !ok {
			t.Errorf("first event lacks %q: %v", f, first)
		}
	}
}

// Two runs with one seed print the same trace, byte for byte; another
// seed changes the ids. The exports hold the same run: the JSON lines are
// what --json prints, the transcript the same events as text.
func TestSimSeedAndExports(t *testing.T) {
	dir := t.TempDir()
	run := func(seed string, extra ...string) string {
		out, errOut, code := mailhop(t, nil, append([]string{"sim", "--json", "--read", "imap", "--seed", seed}, extra...)...)
		if code != 0 {
			t.Fatalf("--seed %s: exit %d: %s", seed, code, errOut)
		}
		return out
	}
	jsonFile, textFile := filepath.Join(dir, "trace.jsonl"), filepath.Join(dir, "transcript.txt")
	first := run("42", "--out-json", jsonFile, "--out-transcript", textFile)
	if second := run("42"); second != first {
		t.Fatal("two runs with --seed 42 print different traces")
	}
	if other := run("43"); other == first {
		t.Fatal("--seed 43 prints the trace of --seed 42")
	}
	if b, err := os.ReadFile(jsonFile); err != nil || string(b) != first {
		t.Errorf("--out-json holds something else than --json printed (%v)", err)
	}
	text, err := os.ReadFile(textFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`# mailhop transcript of the world "default", seed 42`, "C: EHLO alice-pc", "🔒C: MAIL FROM:<alice@example.org>",
		"dns  mail.example.org → ns.example: query example.net. IN MX", "queue mail.example.org: queued", "🔒C: T1 LOGIN"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the transcript lacks %q", want)
		}
	}
	if _, errOut, code := mailhop(t, nil, "sim", "--out-json", filepath.Join(dir, "no", "such", "dir.jsonl")); code == 0 || !strings.Contains(errOut, "no such file or directory") {
		t.Errorf("--out-json into a missing directory: exit %d, %q", code, errOut)
	}
}

// --pcap writes the traffic Wireshark reads: tshark, given nothing but
// the file, shows the submission's commands from inside TLS.
func TestSimPcap(t *testing.T) {
	need(t, "tshark")
	file := filepath.Join(t.TempDir(), "journey.pcapng")
	if _, errOut, code := mailhop(t, nil, "sim", "--read", "pop3", "--pcap", file); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	out, err := exec.Command("tshark", "-r", file, "-Y", "smtp.req.command == \"MAIL\" || pop.request.command == \"RETR\"",
		"-T", "fields", "-e", "tcp.dstport", "-e", "smtp.req.parameter", "-e", "pop.request.command").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	for _, want := range []string{"587\tFROM:<alice@example.org> BODY=8BITMIME", "110\t\tRETR"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("tshark -r %s lacks %q:\n%s", file, want, out)
		}
	}
}

// --fault mailbox-full: the store answers 452 4.2.2, the MX's queue
// tries again on its schedule, warns the sender after four hours and
// returns the message after five days (RFC 3464, Status: 4.2.2).
func TestSimMailboxFull(t *testing.T) {
	out, errOut, code := mailhop(t, nil, "sim", "--fault", "mailbox-full:store.example.net:bob@example.net")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"S: 452 4.2.2 <bob@example.net> Mailbox full: try again later",
		"(next attempt 2026-01-01 09:05:00)", "Action: delayed", "Action: failed", "Status: 4.2.2"} {
		if !strings.Contains(out, want) {
			t.Errorf("the run lacks %q", want)
		}
	}
	if _, errOut, code := mailhop(t, nil, "sim", "--fault", "mailbox-full:store.example.net:nobody@example.net"); code == 0 || !strings.Contains(errOut, `keeps no mailbox for "nobody@example.net"`) {
		t.Errorf("an unknown user: exit %d, %q", code, errOut)
	}
}

// The worlds of SPF, DKIM and DMARC tell their own story without flags.
// A refused message is the outcome, not a failure of the run: the
// session and the reply are printed, the exit status is 0.
func TestSimWorldsOfAuthentication(t *testing.T) {
	// The default world: alice's mail passes all three at bob's MX, as
	// the header delivered to bob says.
	out, errOut, code := mailhop(t, nil, "sim")
	if code != 0 {
		t.Fatalf("default: exit %d: %s", code, errOut)
	}
	_, header, _ := strings.Cut(out, "== bob@example.net/INBOX, UID 1: the header as delivered")
	for _, want := range []string{"Authentication-Results: mx.example.net;", "spf=pass smtp.mailfrom=example.org",
		"dkim=pass header.d=example.org", "dmarc=pass header.from=example.org"} {
		if !strings.Contains(header, want) {
			t.Errorf("default: bob's header lacks %q:\n%s", want, header)
		}
	}
	out, errOut, code = mailhop(t, nil, "sim", "--world", "spoof")
	if code != 0 {
		t.Fatalf("spoof: exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"dns  mallory-pc → ns.example: query example.net. IN MX",
		"mallory-pc → mx.example.net:25 smtp: open",
		"auth mx.example.net: spf", "SPF fail: 203.0.113.66",
		"auth mx.example.net: verdict",
		"S: 550 5.7.1 Message rejected by the DMARC policy of example.org",
		"C: QUIT",
		"\n== alice@example.org → bob@example.net: refused by mx.example.net, nothing was delivered:\n550 5.7.1 ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("spoof: the output lacks %q", want)
		}
	}
	if strings.Contains(out, "bob@example.net/INBOX") {
		t.Error("spoof: a mailbox is shown for the refused message")
	}
	_, errOut, code = mailhop(t, nil, "sim", "--world", "spoof", "--json")
	if code != 0 || !strings.Contains(errOut, "refused by mx.example.net") {
		t.Errorf("spoof --json: exit %d, stderr %q", code, errOut)
	}
	for _, c := range []struct{ world, want string }{
		{"no-dmarc", "== bob@example.net/INBOX, UID 1: the header as delivered\nReturn-Path: <alice@example.org>"},
		{"forwarded", "== carol@example.com/INBOX, UID 1: the header as delivered"},
		{"mailing-list", "== bob@example.net/Junk, UID 1: the header as delivered (DMARC quarantine)\nReturn-Path: <list-bounces@lists.example.net>"},
	} {
		out, errOut, code := mailhop(t, nil, "sim", "--world", c.world)
		if code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d (%s); the output lacks %q", c.world, code, errOut, c.want)
		}
	}
}

// --messages sends many, and the trace is written as it is recorded:
// every event, in order, on stdout and in the files, while the world
// keeps only the end of it. A line sums the run up.
func TestSimMessages(t *testing.T) {
	dir := t.TempDir()
	textFile := filepath.Join(dir, "transcript.txt")
	out, errOut, code := mailhop(t, nil, "sim", "--world", "large", "--messages", "120", "--json", "--out-transcript", textFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	events, err := trace.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i+1, e.Seq)
		}
		if e.Kind == trace.KindDeliver {
			delivered++
		}
	}
	// The world's trace keeps about 4,096 events: this run has many more.
	if len(events) < 10000 || delivered != 120 {
		t.Errorf("%d events, %d deliveries", len(events), delivered)
	}
	want := fmt.Sprintf("mailhop sim: 120 messages: 120 taken, 0 refused; 0 still queued; 120 in the mailboxes; %d trace events; ", len(events))
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr %q lacks %q", errOut, want)
	}
	text, err := os.ReadFile(textFile)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range events {
		b.WriteString(trace.FormatText(e) + "\n")
	}
	if !strings.HasSuffix(string(text), "\n\n"+b.String()) || !strings.HasPrefix(string(text), `# mailhop transcript of the world "large", seed 1`) {
		t.Errorf("the transcript is not the heading and the %d events printed", len(events))
	}
	// As text: the sum after the trace, then the headers of what arrived
	// (each user of the default world's one sender writes to bob).
	out, errOut, code = mailhop(t, nil, "sim", "--messages", "3")
	if code != 0 {
		t.Fatalf("default: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "\n== 3 messages: 3 taken, 0 refused; 0 still queued; 3 in the mailboxes; ") ||
		!strings.Contains(out, "\n== bob@example.net/INBOX, UID 3: the header as delivered") {
		t.Errorf("the text lacks the sum or bob's third message:\n%s", out[max(0, len(out)-2000):])
	}
	// With --send, those messages over and over.
	out, errOut, code = mailhop(t, nil, "sim", "--messages", "4", "--send", "alice@example.org:bob@example.net", "--send", "alice@example.org:alice@example.org")
	if code != 0 || !strings.Contains(out, "bob@example.net/INBOX, UID 2:") || !strings.Contains(out, "alice@example.org/INBOX, UID 2:") {
		t.Errorf("--send twice, --messages 4: exit %d (%s), want two in each INBOX:\n%s", code, errOut, out[max(0, len(out)-3000):])
	}
}

func TestSimBadFlags(t *testing.T) {
	cases := [][]string{
		{"sim", "--world", "/no/such/file"},
		{"sim", "--send", "alice"},
		{"sim", "--messages", "-1"},
		{"sim", "--read", "smoke-signals"},
		{"sim", "--nope"},
		{"frobnicate"},
	}
	for _, args := range cases {
		_, errOut, code := mailhop(t, nil, args...)
		if code == 0 {
			t.Errorf("%v succeeded", args)
		}
		if lines := strings.Count(strings.TrimSpace(errOut), "\n"); strings.TrimSpace(errOut) == "" || (args[0] != "frobnicate" && lines > 0) {
			t.Errorf("%v: want a one-line reason, got %q", args, errOut)
		}
	}
	// Flags also come from the environment.
	_, errOut, code := mailhop(t, []string{"MAILHOP_WORLD=/no/such/world"}, "sim")
	if code == 0 || !strings.Contains(errOut, "/no/such/world") {
		t.Errorf("MAILHOP_WORLD ignored: %d %q", code, errOut)
	}
}

func TestPasswd(t *testing.T) {
	cmd := exec.Command(bin, "passwd", "--user", "Bob@Example.net")
	cmd.Stdin = strings.NewReader("s3cret\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(out))
	if !strings.HasPrefix(line, "bob@example.net:$2") {
		t.Fatalf("got %q", line)
	}
}

func TestDNSAnswersDig(t *testing.T) {
	if _, err := exec.LookPath("dig"); err != nil {
		t.Fatal("dig is needed (Debian package dnsutils)")
	}
	dir := t.TempDir()
	zone := filepath.Join(dir, "example.net.zone")
	os.WriteFile(zone, []byte("$TTL 3600\n@ IN SOA ns.example. h.example.net. 1 7200 3600 1209600 3600\n@ IN MX 10 mx.example.net.\nmx IN A 127.0.0.3\n"), 0o644)
	port := listentest.FreePort(t, "127.0.0.1", true)
	cmd := exec.Command(bin, "dns", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--zone", zone)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var out []byte
	for i := 0; i < 50; i++ {
		out, _ = exec.Command("dig", "@127.0.0.1", "-p", fmt.Sprint(port), "+norecurse", "+time=1", "+tries=1", "example.net", "MX").Output()
		if bytes.Contains(out, []byte("ANSWER SECTION")) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !bytes.Contains(out, []byte("example.net.\t\t3600\tIN\tMX\t10 mx.example.net.")) || !bytes.Contains(out, []byte("flags: qr aa;")) {
		t.Fatalf("dig:\n%s\nserver:\n%s", out, stderr.String())
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("mailhop dns did not stop on SIGINT")
	}
	// A bad zone file: a clear error naming the line, exit 1.
	bad := filepath.Join(dir, "bad.zone")
	os.WriteFile(bad, []byte("$ORIGIN bad.\n@ IN MX ten mx\n"), 0o644)
	_, errOut, code := mailhop(t, nil, "dns", "--listen", "127.0.0.1:0", "--zone", bad)
	if code != 1 || !strings.Contains(errOut, "bad.zone:2") {
		t.Fatalf("bad zone: exit %d, %q", code, errOut)
	}
}
