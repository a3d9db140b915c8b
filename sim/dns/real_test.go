//go:build !js

// These tests run the server on real sockets of the loopback interface and
// ask it with dig (Debian's dnsutils), as `mailhop dns` is asked in
// production. There is no dig, nor a socket, in the browser.

package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/netx"
)

// serveLoopback runs s on UDP and TCP of one random port of 127.0.0.1 and
// returns the port.
func serveLoopback(t *testing.T, s *Server) int {
	t.Helper()
	real := &netx.Real{}
	for range 20 {
		pc, err := real.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := real.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			pc.Close() // the TCP port is taken: another pair
			continue
		}
		done := make(chan error, 2)
		go func() { done <- s.ServePacket(pc) }()
		go func() { done <- s.ServeListener(l) }()
		t.Cleanup(func() {
			s.Shutdown()
			for range 2 {
				if err := <-done; !errors.Is(err, ErrServerClosed) {
					t.Errorf("serve returned %v, want ErrServerClosed", err)
				}
			}
		})
		return port
	}
	t.Fatal("no free UDP+TCP port pair on 127.0.0.1")
	return 0
}

// digResult is what a dig answer says.
type digResult struct {
	out      string
	status   string
	flags    []string
	sections map[string][]string // "ANSWER" → records, whitespace squeezed
}

var (
	digStatus = regexp.MustCompile(`status: ([A-Z]+)`)
	digFlags  = regexp.MustCompile(`;; flags:([a-z ]*);`)
)

func dig(t *testing.T, port int, args ...string) digResult {
	t.Helper()
	path, err := exec.LookPath("dig")
	if err != nil {
		t.Fatal("dig is not installed: apt-get install dnsutils (.ci/deps installs it); this test asks the server with it")
	}
	argv := append([]string{"@127.0.0.1", "-p", strconv.Itoa(port), "+norecurse", "+time=2", "+tries=1"}, args...)
	out, err := exec.Command(path, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	r := digResult{out: string(out), sections: map[string][]string{}}
	if m := digStatus.FindAllStringSubmatch(r.out, -1); len(m) > 0 {
		r.status = m[len(m)-1][1] // after a TCP retry, the last answer's
	}
	if m := digFlags.FindAllStringSubmatch(r.out, -1); len(m) > 0 {
		r.flags = strings.Fields(m[len(m)-1][1])
	}
	section := ""
	for _, line := range strings.Split(r.out, "\n") {
		switch {
		case strings.HasPrefix(line, ";; ") && strings.HasSuffix(line, " SECTION:"):
			section = strings.TrimSuffix(strings.TrimPrefix(line, ";; "), " SECTION:")
			r.sections[section] = nil // a repeated section (TCP retry) starts again
		case strings.TrimSpace(line) == "":
			section = ""
		case section != "" && section != "QUESTION" && section != "OPT PSEUDO" && !strings.HasPrefix(line, ";"):
			r.sections[section] = append(r.sections[section], strings.Join(strings.Fields(line), " "))
		}
	}
	return r
}

func TestDig(t *testing.T) {
	s := NewServer(loadTestZone(t, "example.net"), loadTestZone(t, "example.org"))
	port := serveLoopback(t, s)
	cases := []struct {
		name      string
		args      []string
		status    string
		flags     []string // exactly, in dig's order
		answer    []string // exactly; nil to check only the count
		answers   int
		authority []string
		says      string // in dig's output
	}{
		{name: "MX", args: []string{"example.net", "MX"}, status: "NOERROR", flags: []string{"qr", "aa"},
			answer: []string{"example.net. 3600 IN MX 10 mx.example.net."}},
		{name: "MX over TCP", args: []string{"+tcp", "example.net", "MX"}, status: "NOERROR", flags: []string{"qr", "aa"},
			answer: []string{"example.net. 3600 IN MX 10 mx.example.net."}},
		{name: "several MX", args: []string{"multi.example.net", "MX"}, status: "NOERROR", flags: []string{"qr", "aa"}, answers: 3},
		{name: "CNAME chain", args: []string{"mail.example.net", "A"}, status: "NOERROR", flags: []string{"qr", "aa"},
			answer: []string{"mail.example.net. 3600 IN CNAME mx.example.net.", "mx.example.net. 3600 IN A 198.51.100.25"}},
		{name: "null MX", args: []string{"nomail.example.net", "MX"}, status: "NOERROR", flags: []string{"qr", "aa"},
			answer: []string{"nomail.example.net. 3600 IN MX 0 ."}},
		{name: "NXDOMAIN", args: []string{"nosuch.example.net", "MX"}, status: "NXDOMAIN", flags: []string{"qr", "aa"},
			authority: []string{soaNet}},
		{name: "NODATA", args: []string{"implicit.example.net", "MX"}, status: "NOERROR", flags: []string{"qr", "aa"},
			authority: []string{soaNet}},
		{name: "REFUSED", args: []string{"example.com", "MX"}, status: "REFUSED", flags: []string{"qr"}},
		{name: "truncated, dig retries over TCP", args: []string{"+noedns", "many.example.net", "A"}, status: "NOERROR",
			flags: []string{"qr", "aa"}, answers: 40, says: ";; Truncated, retrying in TCP mode."},
		{name: "truncated, kept", args: []string{"+noedns", "+ignore", "many.example.net", "A"}, status: "NOERROR",
			flags: []string{"qr", "aa", "tc"}, answers: 29},
		{name: "EDNS0 room for it all", args: []string{"+bufsize=4096", "many.example.net", "A"}, status: "NOERROR",
			flags: []string{"qr", "aa"}, answers: 40},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := dig(t, port, c.args...)
			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf(format+"\ndig said:\n%s", append(args, r.out)...)
			}
			if r.status != c.status {
				fail("status %s, want %s", r.status, c.status)
			}
			if !slices.Equal(r.flags, c.flags) {
				fail("flags %v, want %v (an authoritative server: aa, never ra)", r.flags, c.flags)
			}
			ans := r.sections["ANSWER"]
			if c.answer != nil && !slices.Equal(ans, c.answer) {
				fail("answer section %q, want %q", ans, c.answer)
			}
			if c.answer == nil && len(ans) != c.answers {
				fail("%d answers, want %d", len(ans), c.answers)
			}
			if !slices.Equal(r.sections["AUTHORITY"], c.authority) {
				fail("authority section %q, want %q", r.sections["AUTHORITY"], c.authority)
			}
			if !strings.Contains(r.out, c.says) {
				fail("dig does not say %q", c.says)
			}
		})
	}
}

// The resolver on the real network: the same lookups as on netsim, over
// real UDP and TCP (the TCP retry included).
func TestResolverOnLoopback(t *testing.T) {
	s := NewServer(loadTestZone(t, "example.net"), loadTestZone(t, "example.org"))
	port := serveLoopback(t, s)
	r := &Resolver{Net: &netx.Real{}, Servers: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Timeout: time.Second}
	ctx := context.Background()
	got, err := r.LookupMX(ctx, "multi.example.net")
	if err != nil || len(got) != 3 || got[1].String() != "10 mx2.example.net [198.51.100.26 2001:db8::26]" {
		t.Fatalf("multi.example.net: %v, %v", got, err)
	}
	big, err := r.LookupMX(ctx, "big.example.net") // over TCP
	if err != nil || len(big) != 30 {
		t.Fatalf("big.example.net: %d targets, %v", len(big), err)
	}
	if _, err := r.LookupMX(ctx, "nomail.example.net"); !IsPermanent(err) {
		t.Fatalf("null MX: %v", err)
	}

	// Real timeouts run on the wall clock: keep them short.
	s.SetFault(Fault{Mode: FaultDrop})
	r.Timeout, r.Attempts = 100*time.Millisecond, 1
	begin := time.Now()
	_, err = r.LookupMX(ctx, "example.net")
	var e *Error
	if !errors.As(err, &e) || !e.Timeout || IsPermanent(err) {
		t.Fatalf("dropped query: %v, want a temporary timeout", err)
	}
	if took := time.Since(begin); took < 100*time.Millisecond || took > 2*time.Second {
		t.Fatalf("the timeout took %v, want about 100ms", took)
	}
}
