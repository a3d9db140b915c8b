//go:build !js

package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/listen/listentest"
)

// pebble is Let's Encrypt's test CA, a Go tool of this module (go.mod),
// running on loopback.
type pebble struct {
	dir      string // https://…/dir
	roots    string // the CA file of its HTTPS (the module's test/certs)
	mgmt     string // its management address
	client   *http.Client
	issuance *x509.CertPool // its issuing root, from /roots/0
}

// startPebble runs pebble with DNS from dnsAddr, validating HTTP-01 on
// httpPort and TLS-ALPN-01 on tlsPort, and issuing certificates valid
// for validity.
func startPebble(t *testing.T, dnsAddr string, httpPort, tlsPort int, validity time.Duration) *pebble {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", "pebble").Output()
	if err != nil {
		msg := fmt.Sprintf("go tool pebble does not build: %v", err)
		if ee, ok := err.(*exec.ExitError); ok {
			msg += "\n" + string(ee.Stderr)
		}
		if os.Getenv("CI") == "" {
			t.Skip(msg)
		}
		t.Fatal(msg)
	}
	binPath := strings.TrimSpace(string(out))
	modDir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/letsencrypt/pebble/v2").Output()
	if err != nil || strings.TrimSpace(string(modDir)) == "" {
		t.Fatalf("pebble's module directory: %v %s", err, modDir)
	}
	certs := filepath.Join(strings.TrimSpace(string(modDir)), "test", "certs")
	p := &pebble{roots: filepath.Join(certs, "pebble.minica.pem")}
	listen := fmt.Sprintf("127.0.0.1:%d", listentest.FreePort(t, "127.0.0.1", false))
	p.mgmt = fmt.Sprintf("127.0.0.1:%d", listentest.FreePort(t, "127.0.0.1", false))
	p.dir = "https://" + listen + "/dir"
	var cfg struct {
		Pebble map[string]any `json:"pebble"`
	}
	cfg.Pebble = map[string]any{
		"listenAddress": listen, "managementListenAddress": p.mgmt,
		"certificate": filepath.Join(certs, "localhost", "cert.pem"), "privateKey": filepath.Join(certs, "localhost", "key.pem"),
		"httpPort": httpPort, "tlsPort": tlsPort, "keyAlgorithm": "ecdsa",
		"retryAfter": map[string]int{"authz": 1, "order": 1},
		"profiles":   map[string]any{"default": map[string]any{"description": "short-lived, to see renewals", "validityPeriod": int(validity.Seconds())}},
	}
	cfgFile := filepath.Join(t.TempDir(), "pebble.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, "-config", cfgFile, "-dnsserver", dnsAddr)
	// No random waits before validations, no nonces refused at random,
	// no authorization reused: each order runs its challenge.
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	log := &logBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("pebble's log:\n%s", tail(log.String(), 40))
		}
	})
	pool := x509.NewCertPool()
	minica, err := os.ReadFile(p.roots)
	if err != nil || !pool.AppendCertsFromPEM(minica) {
		t.Fatalf("%s: %v", p.roots, err)
	}
	p.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(p.client.CloseIdleConnections)
	var root []byte
	waitFor(t, 15*time.Second, "pebble's directory and root", func() bool {
		if r, err := p.client.Get(p.dir); err != nil {
			return false
		} else if r.Body.Close(); r.StatusCode != 200 {
			return false
		}
		r, err := p.client.Get("https://" + p.mgmt + "/roots/0")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		root, _ = io.ReadAll(r.Body)
		return r.StatusCode == 200
	})
	p.issuance = x509.NewCertPool()
	if !p.issuance.AppendCertsFromPEM(root) {
		t.Fatalf("pebble's /roots/0 is not PEM: %q", root)
	}
	return p
}

// checkCert checks that a TLS connection presents a certificate for host
// that chains to the CA's root, and returns the leaf.
func (p *pebble) checkCert(t *testing.T, what string, state tls.ConnectionState, host string) *x509.Certificate {
	t.Helper()
	certs := state.PeerCertificates
	if len(certs) == 0 {
		t.Fatalf("%s: no certificate", what)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := certs[0].Verify(x509.VerifyOptions{DNSName: host, Roots: p.issuance, Intermediates: inter})
	if err != nil {
		t.Fatalf("%s: the certificate (issuer %q, names %v) does not chain to pebble's root for %s: %v",
			what, certs[0].Issuer.CommonName, certs[0].DNSNames, host, err)
	}
	if !slices.Contains(certs[0].DNSNames, host) || len(chains[0]) < 2 {
		t.Fatalf("%s: names %v, chain of %d", what, certs[0].DNSNames, len(chains[0]))
	}
	return certs[0]
}

// starttls runs STARTTLS on an SMTP port and returns the connection's
// state; the client verifies nothing, checkCert does.
func starttls(t *testing.T, addr, serverName string) tls.ConnectionState {
	t.Helper()
	s := dialSMTP(t, addr)
	defer s.close()
	for _, step := range [][2]string{{"EHLO client.example.org", "250"}, {"STARTTLS", "220"}} {
		if r := s.cmd(step[0]); !strings.HasPrefix(r, step[1]) {
			t.Fatalf("%s: %s answered %q, want %s", addr, step[0], r, step[1])
		}
	}
	tc := tls.Client(s.c, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("%s: STARTTLS handshake: %v", addr, err)
	}
	return tc.ConnectionState()
}

func tlsDial(t *testing.T, addr, serverName string) tls.ConnectionState {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState()
}

// TestServeACME: two servers get their certificates from pebble, one
// by HTTP-01, the other by TLS-ALPN-01 on its port 465; every TLS port
// serves them, with or without SNI; a renewal is served without a
// restart; a restart serves the certificate kept in DATA/acme.
func TestServeACME(t *testing.T) {
	dir := t.TempDir()
	dnsPort := listentest.FreePort(t, "127.0.0.1", true)
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnsPort)
	startDNS(t, dir, dnsPort, map[string]string{"example.org": zoneHead("example.org") + "mail IN A 127.0.0.1\nmx IN A 127.0.0.1\n"})

	server := func(host string) *mailServer {
		m := &mailServer{name: host, ip: "127.0.0.1", data: filepath.Join(dir, host), ports: map[string]int{}, t: t}
		m.killAtEnd()
		for _, s := range []string{"submission", "submissions", "imap", "imaps"} {
			m.ports[s] = listentest.FreePort(t, m.ip, false)
		}
		m.args = []string{"serve", "--hostname", host, "--domain", "example.org", "--data", m.data, "--user", "alice@example.org:alice",
			"--resolver", dnsAddr, "--no-auth-checks", "--shutdown-timeout", "5s",
			"--smtp", "", "--pop3", "", "--pop3s", "", "--lmtp", ""}
		for s, p := range m.ports {
			m.args = append(m.args, "--"+s, fmt.Sprintf("%s:%d", m.ip, p))
		}
		return m
	}
	// mail.example.org: HTTP-01 on --acme-http.
	web := server("mail.example.org")
	httpPort := listentest.FreePort(t, "127.0.0.1", false)
	// mx.example.org: TLS-ALPN-01 on its 465, where pebble connects.
	alpn := server("mx.example.org")

	const validity = 15 * time.Second // renewed after 10 s
	ca := startPebble(t, dnsAddr, httpPort, alpn.ports["submissions"], validity)
	acmeArgs := []string{"--acme", "--acme-email", "postmaster@example.org", "--acme-directory", ca.dir, "--acme-roots", ca.roots}
	web.args = append(web.args, append(acmeArgs, "--acme-http", fmt.Sprintf("127.0.0.1:%d", httpPort))...)
	alpn.args = append(alpn.args, append(acmeArgs, "--acme-http", "")...)
	web.start()
	alpn.start()
	obtained := func(m *mailServer) int { return strings.Count(m.log.String(), `msg="ACME certificate obtained"`) }
	waitFor(t, 15*time.Second, "the HTTP-01 certificate", func() bool { return obtained(web) >= 1 })
	waitFor(t, 15*time.Second, "the TLS-ALPN-01 certificate", func() bool { return obtained(alpn) >= 1 })

	first := ca.checkCert(t, "STARTTLS on 587", starttls(t, web.addr("submission"), web.name), web.name)
	for _, svc := range []string{"submissions", "imaps"} {
		leaf := ca.checkCert(t, svc, tlsDial(t, web.addr(svc), web.name), web.name)
		if leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
			t.Errorf("%s serves another certificate than 587", svc)
		}
	}
	// No SNI, as many MTAs: the same certificate.
	if leaf := ca.checkCert(t, "465 without SNI", tlsDial(t, web.addr("submissions"), ""), web.name); leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Error("465 without SNI serves another certificate")
	}
	ca.checkCert(t, "465 of the TLS-ALPN-01 server", tlsDial(t, alpn.addr("submissions"), alpn.name), alpn.name)
	if strings.Contains(alpn.log.String(), "acme-http") {
		t.Error(`--acme-http "" listens for HTTP-01`)
	}
	if !strings.Contains(web.log.String(), "challenge=http-01") || !strings.Contains(alpn.log.String(), "challenge=tls-alpn-01") {
		t.Error("the challenges are not the ones the flags chose")
	}

	// The renewal, two thirds into the lifetime, served without a restart.
	waitFor(t, validity, "the renewal", func() bool { return obtained(web) >= 2 })
	renewed := ca.checkCert(t, "STARTTLS on 587 after the renewal", starttls(t, web.addr("submission"), web.name), web.name)
	if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("the renewed certificate is not served")
	}

	// A restart serves the kept certificate at once.
	web.stop()
	alpn.stop()
	store := filepath.Join(web.data, "acme", acmeCacheName(ca.dir))
	for path, perm := range map[string]os.FileMode{
		filepath.Join(web.data, "acme"): 0o700 | os.ModeDir, store: 0o700 | os.ModeDir,
		filepath.Join(store, "account-key.pem"): 0o600, filepath.Join(store, web.name+".pem"): 0o600,
	} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != perm {
			t.Errorf("%s: %v, want mode %v", path, err, perm)
		}
	}
	web.start()
	if !strings.Contains(web.log.String(), `msg="ACME certificate loaded"`) {
		t.Error("the restarted server did not load the kept certificate")
	}
	ca.checkCert(t, "STARTTLS on 587 after a restart", starttls(t, web.addr("submission"), web.name), web.name)
	web.stop()
}

// --acme's flags: one-line reasons, before anything is asked of a CA.
func TestServeACMEFlags(t *testing.T) {
	dir := t.TempDir()
	base := []string{"serve", "--hostname", "mx.example.net", "--domain", "example.net", "--data", dir,
		"--smtp", "", "--submission", "", "--imap", "", "--pop3", ""}
	acme := append(slices.Clip(base), "--acme", "--acme-email", "postmaster@example.net")
	cases := []struct {
		args []string
		want string
	}{
		{append(slices.Clip(acme), "--tls-cert", "c.pem", "--tls-key", "k.pem"), "--acme and --tls-cert/--tls-key exclude each other"},
		{append(slices.Clip(acme), "--tls-cert", "c.pem"), "--acme and --tls-cert/--tls-key exclude each other"},
		{append(slices.Clip(base), "--acme"), "--acme needs --acme-email"},
		{append(slices.Clip(base), "--acme-email", "postmaster@example.net"), "--acme-email goes with --acme"},
		{append(slices.Clip(acme), "--acme-email", "postmaster"), "not an email address"},
		{append(slices.Clip(acme), "--hostname", "localhost"), "not a DNS name a CA can certify"},
		{append(slices.Clip(acme), "--hostname", "192.0.2.1"), "not a DNS name a CA can certify"},
		{append(slices.Clip(acme), "--acme-directory", "http://ca.example/dir"), "want an https:// URL"},
		{append(slices.Clip(acme), "--acme-http", "80"), "--acme-http \"80\""},
		{append(slices.Clip(acme), "--acme-http", "", "--submissions", "", "--imaps", "", "--pop3s", ""), "all three are off"},
	}
	for _, c := range cases {
		_, errOut, code := mailhop(t, nil, c.args...)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 and one line with %q", c.args[1:], code, errOut, c.want)
		}
	}
	// A bad --acme-roots file is reported at start.
	_, errOut, code := mailhop(t, nil, append(slices.Clip(acme), "--acme-roots", "/no/such/roots.pem", "--acme-http", "127.0.0.1:0",
		"--submissions", "127.0.0.1:0", "--imaps", "", "--pop3s", "")...)
	if code != 1 || !strings.Contains(errOut, "--acme-roots: open /no/such/roots.pem") {
		t.Errorf("--acme-roots missing: exit %d, %q", code, errOut)
	}
}
