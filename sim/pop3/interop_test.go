//go:build !js

package pop3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/internal/transcripttest"
	"github.com/mailhop/mailhop/sim/store"
)

// Interop: real clients (Python's poplib, curl) against the server on a
// real loopback socket. CI installs python3 and curl (.ci/deps); a missing
// one fails these tests rather than skipping them.

// realServer serves on 127.0.0.1 with the production policy (no
// InsecureAuth: the loopback peer is what allows cleartext logins) and
// STLS offered with a self-signed certificate.
type realServer struct {
	srv   *Server
	st    *store.Memory
	port  string
	valid uint32
}

// interopMessages: a dotted message first, so real clients undo the
// dot-stuffing, then RFC 1939's 200-octet one.
var interopMessages = []string{dotted, twoMessages[1]}

func startReal(t *testing.T, mod func(*Server)) *realServer {
	t.Helper()
	st := store.NewMemory(nil)
	users := auth.NewDirectory("example.net")
	users.Add(bob, "bob")
	st.AddUser(bob)
	for _, m := range interopMessages {
		if _, err := st.Append(bob, store.Inbox, []byte(m), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	srvTLS, _ := transcripttest.TLS(t, "localhost")
	srv := &Server{
		Hostname:  "localhost",
		Store:     st,
		Users:     users,
		TLSConfig: srvTLS,
		FailDelay: 10 * time.Millisecond,
	}
	if mod != nil {
		mod(srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	s, _ := st.Status(bob, store.Inbox)
	return &realServer{srv: srv, st: st, port: port, valid: s.UIDValidity}
}

func (r *realServer) inbox(t *testing.T) []store.UID {
	t.Helper()
	// The client's QUIT has been answered; the session may still be
	// closing, so wait for the maildrop to be free.
	waitUnlocked(t, r.st, bob)
	list, _ := r.st.List(bob, store.Inbox)
	var uids []store.UID
	for _, m := range list {
		uids = append(uids, m.UID)
	}
	return uids
}

// tool finds a client program, failing the test when it is missing.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed for the POP3 interop tests and is missing (CI installs it with .ci/deps; on Debian: apt-get install %s): %v", name, name, err)
	}
	return path
}

// run runs a client with a time limit and returns its stdout and stderr.
func run(t *testing.T, name string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(t, name), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

const poplibScript = `
import json, poplib, ssl, sys
host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {}
p = poplib.POP3(host, port, timeout=20)
out['welcome'] = p.getwelcome().decode()
if mode == 'stls':
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    p.stls(ctx)
    out['tls'] = p.sock.version()
out['capa'] = sorted(p.capa().keys())
if mode == 'badpass':
    p.user('bob@example.net')
    try:
        p.pass_('wrong')
    except poplib.error_proto as e:
        out['error'] = e.args[0].decode()
    print(json.dumps(out))
    sys.exit(0)
if mode == 'apop':
    out['login'] = p.apop('bob', 'bob').decode()
else:
    p.user('bob@example.net')
    out['login'] = p.pass_('bob').decode()
out['stat'] = list(p.stat())
resp, lines, octets = p.list()
out['list'] = [l.decode() for l in lines]
resp, lines, octets = p.retr(1)
out['retr'] = [l.decode() for l in lines]
resp, lines, octets = p.top(2, 0)
out['top'] = [l.decode() for l in lines]
resp, lines, octets = p.uidl()
out['uidl'] = [l.decode() for l in lines]
out['dele'] = p.dele(1).decode()
out['quit'] = p.quit().decode()
print(json.dumps(out))
`

type poplibResult struct {
	Welcome string   `json:"welcome"`
	TLS     string   `json:"tls"`
	Capa    []string `json:"capa"`
	Error   string   `json:"error"`
	Login   string   `json:"login"`
	Stat    []int    `json:"stat"`
	List    []string `json:"list"`
	Retr    []string `json:"retr"`
	Top     []string `json:"top"`
	UIDL    []string `json:"uidl"`
	Dele    string   `json:"dele"`
	Quit    string   `json:"quit"`
}

func poplib(t *testing.T, r *realServer, mode string) poplibResult {
	t.Helper()
	out, errOut, err := run(t, "python3", "-c", poplibScript, "127.0.0.1", r.port, mode)
	if err != nil {
		t.Fatalf("python3 poplib (%s): %v\n%s%s", mode, err, out, errOut)
	}
	var res poplibResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("poplib output %q: %v", out, err)
	}
	return res
}

func TestInteropPythonPoplib(t *testing.T) {
	wantRetr := strings.Split(strings.TrimSuffix(dotted, "\r\n"), "\r\n")
	for _, mode := range []string{"user", "apop", "stls"} {
		t.Run(mode, func(t *testing.T) {
			r := startReal(t, nil)
			got := poplib(t, r, mode)
			if !strings.HasPrefix(got.Welcome, "+OK localhost POP3 server ready <") {
				t.Errorf("welcome %q", got.Welcome)
			}
			wantCapa := []string{"AUTH-RESP-CODE", "IMPLEMENTATION", "PIPELINING", "RESP-CODES", "SASL", "STLS", "TOP", "UIDL", "USER"}
			if mode == "stls" {
				wantCapa = slices.DeleteFunc(wantCapa, func(s string) bool { return s == "STLS" })
				if !strings.HasPrefix(got.TLS, "TLSv1.") {
					t.Errorf("TLS version %q", got.TLS)
				}
			}
			if !slices.Equal(got.Capa, wantCapa) {
				t.Errorf("capa %q, want %q", got.Capa, wantCapa)
			}
			if got.Login != "+OK bob@example.net's maildrop has 2 messages (295 octets)" {
				t.Errorf("login %q", got.Login)
			}
			if !slices.Equal(got.Stat, []int{2, 295}) {
				t.Errorf("stat %v", got.Stat)
			}
			if !slices.Equal(got.List, []string{"1 95", "2 200"}) {
				t.Errorf("list %q", got.List)
			}
			if !slices.Equal(got.Retr, wantRetr) {
				t.Errorf("retr %q\nwant %q", got.Retr, wantRetr)
			}
			if len(got.Top) != 5 || got.Top[4] != "" || got.Top[2] != "Subject: second" {
				t.Errorf("top %q", got.Top)
			}
			if want := []string{fmt.Sprintf("1 %d.1", r.valid), fmt.Sprintf("2 %d.2", r.valid)}; !slices.Equal(got.UIDL, want) {
				t.Errorf("uidl %q, want %q", got.UIDL, want)
			}
			if got.Dele != "+OK message 1 deleted" || got.Quit != "+OK localhost POP3 server signing off (1 message left)" {
				t.Errorf("dele %q, quit %q", got.Dele, got.Quit)
			}
			if uids := r.inbox(t); !slices.Equal(uids, []store.UID{2}) {
				t.Errorf("INBOX holds UIDs %v after QUIT, want [2]", uids)
			}
		})
	}
	t.Run("bad password", func(t *testing.T) {
		r := startReal(t, nil)
		got := poplib(t, r, "badpass")
		if got.Error != "-ERR [AUTH] invalid user name or password" {
			t.Errorf("error %q", got.Error)
		}
	})
}

// curl list, fetch and delete over cleartext (allowed: the peer is
// loopback), with both forms of AUTH PLAIN, and over STLS.
func TestInteropCurl(t *testing.T) {
	r := startReal(t, nil)
	base := "pop3://127.0.0.1:" + r.port + "/"
	curl := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, err := run(t, "curl", append([]string{"-sS", "--max-time", "20", "-u", "bob@example.net:bob"}, args...)...)
		if err != nil {
			t.Fatalf("curl %q: %v\n%s", args, err, errOut)
		}
		return out, errOut
	}
	if out, _ := curl(base); out != "1 95\r\n2 200\r\n" {
		t.Fatalf("curl LIST: %q", out)
	}
	if out, _ := curl(base + "2"); out != twoMessages[1] {
		t.Fatalf("curl RETR 2:\n%q\nwant\n%q", out, twoMessages[1])
	}
	// SASL-IR: AUTH PLAIN with the initial response on the command line.
	if out, errOut := curl("-v", "--sasl-ir", base+"1"); out != dotted || !strings.Contains(errOut, "> AUTH PLAIN ") {
		t.Fatalf("curl --sasl-ir RETR 1: %q\n%s", out, errOut)
	}
	// STLS, required.
	out, errOut := curl("-v", "--ssl-reqd", "-k", base+"1")
	if out != dotted || !strings.Contains(errOut, "> STLS") || !strings.Contains(errOut, "SSL connection using") {
		t.Fatalf("curl --ssl-reqd RETR 1: %q\n%s", out, errOut)
	}
	// DELE, then QUIT: the UPDATE state removes message 1. curl reads a
	// custom command's answer as multi-line unless told there is no body
	// (-I); without it curl waits for a "." that DELE never sends.
	if _, errOut := curl("-v", "-X", "DELE 1", "-I", base); !strings.Contains(errOut, "< +OK message 1 deleted") {
		t.Fatalf("curl DELE 1:\n%s", errOut)
	}
	if uids := r.inbox(t); !slices.Equal(uids, []store.UID{2}) {
		t.Fatalf("INBOX holds UIDs %v after DELE 1, want [2]", uids)
	}
	if out, _ := curl(base); out != "1 200\r\n" {
		t.Fatalf("curl LIST after DELE: %q", out)
	}
	// A wrong password: curl reports a login failure (exit 67).
	_, errOut, err := run(t, "curl", "-sS", "--max-time", "20", "-u", "bob@example.net:wrong", base)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 67 {
		t.Fatalf("curl with a wrong password: %v\n%s", err, errOut)
	}
}

// Without InsecureAuth a peer that is not loopback may not log in over
// cleartext: the same server answers curl on 127.0.0.1 but not on a
// non-loopback address of this machine, if it has one.
func TestInteropCleartextRefusedOffLoopback(t *testing.T) {
	addr := nonLoopbackAddr()
	if addr == "" {
		t.Skip("this machine has no non-loopback IPv4 address to test from")
	}
	r := startReal(t, nil)
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Skip("can not listen on", addr, err)
	}
	go r.srv.Serve(l)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	_, errOut, err := run(t, "curl", "-sS", "-v", "--max-time", "20", "-u", "bob@example.net:bob", "pop3://"+net.JoinHostPort(addr, port)+"/")
	if err == nil || !strings.Contains(errOut, "-ERR [AUTH] login refused on an unencrypted connection") {
		t.Fatalf("cleartext login from %s: %v\n%s", addr, err, errOut)
	}
	// With STLS it works.
	if out, errOut, err := run(t, "curl", "-sS", "--ssl-reqd", "-k", "--max-time", "20", "-u", "bob@example.net:bob", "pop3://"+net.JoinHostPort(addr, port)+"/"); err != nil || out != "1 95\r\n2 200\r\n" {
		t.Fatalf("STLS login from %s: %q, %v\n%s", addr, out, err, errOut)
	}
}

func nonLoopbackAddr() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ip, ok := a.(*net.IPNet); ok && ip.IP.To4() != nil && !ip.IP.IsLoopback() {
			return ip.IP.String()
		}
	}
	return ""
}
