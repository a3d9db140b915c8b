package netx

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/trace"
)

func wire(rec *trace.Recorder) []string {
	var out []string
	for _, e := range rec.Events() {
		switch e.Kind {
		case trace.KindWire:
			s := string(e.Dir) + " " + e.Text
			if e.TLS {
				s = "tls " + s
			}
			out = append(out, s)
		case trace.KindTLS, trace.KindConn:
			out = append(out, string(e.Kind)+" "+e.Action)
		}
	}
	return out
}

// The real network taps real sockets into the same events as netsim.
func TestRealTapOnLoopback(t *testing.T) {
	rec := trace.NewRecorder(time.Now, 0)
	r := &Real{Trace: rec, Hostname: "server"}
	l, err := r.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The port's number does not say POP3: the network is told.
	r.Speaks(l.Addr().(*net.TCPAddr).Port, "pop3")
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "+OK POP3 ready\r\n")
		line, _ := bufio.NewReader(c).ReadString('\n')
		if strings.TrimSpace(line) == "QUIT" {
			fmt.Fprintf(c, "+OK bye\r\n")
		}
	}()
	plain := &Real{}
	c, err := plain.DialContext(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	br.ReadString('\n')
	fmt.Fprintf(c, "QUIT\r\n")
	br.ReadString('\n')
	io.ReadAll(br)
	c.Close()
	deadline := time.Now().Add(2 * time.Second)
	want := "conn open|recv +OK POP3 ready|send QUIT|recv +OK bye|conn close"
	for strings.Join(wire(rec), "|") != want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := strings.Join(wire(rec), "|"); got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	for _, e := range rec.Events() {
		if e.Proto != "pop3" {
			t.Fatalf("event %d names the protocol %q, want pop3", e.Seq, e.Proto)
		}
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.example.net"},
		DNSNames: []string{"mx.example.net"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// After STARTTLS the tap reports the handshake and no more lines; bytes a
// client smuggled after STARTTLS in the same write show as plaintext.
func TestTapSTARTTLS(t *testing.T) {
	rec := trace.NewRecorder(time.Now, 0)
	tap := NewTap(rec, trace.Event{Host: "a", Peer: "b", Port: 25, Conn: "c1", Proto: "smtp"})
	cs, ss := net.Pipe()
	client := &TappedConn{Conn: cs, Tap: tap, Client: true}
	cert := selfSigned(t)
	done := make(chan error, 1)
	go func() {
		br := bufio.NewReader(ss)
		fmt.Fprintf(ss, "220 b ESMTP\r\n")
		br.ReadString('\n')
		fmt.Fprintf(ss, "220 2.0.0 Ready to start TLS\r\n")
		tc := tls.Server(ss, &tls.Config{Certificates: []tls.Certificate{cert}})
		err := tc.Handshake()
		if err == nil {
			fmt.Fprintf(tc, "250 secret\r\n")
			tc.Close()
		}
		done <- err
	}()
	br := bufio.NewReader(client)
	br.ReadString('\n')
	fmt.Fprintf(client, "STARTTLS\r\n")
	br.ReadString('\n')
	tc := tls.Client(client, &tls.Config{InsecureSkipVerify: true, ServerName: "mx.example.net"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	io.ReadAll(tc)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	client.Close()
	got := strings.Join(wire(rec), "|")
	want := "recv 220 b ESMTP|send STARTTLS|recv 220 2.0.0 Ready to start TLS|tls handshake|conn close"
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	for _, e := range rec.Events() {
		if e.Kind == trace.KindTLS && !strings.Contains(e.Text, "TLS 1.3") || e.Kind == trace.KindTLS && !strings.Contains(e.Text, "mx.example.net") {
			t.Fatalf("handshake event: %q", e.Text)
		}
	}
}

func TestTapBlocks(t *testing.T) {
	cases := []struct {
		proto string
		feed  []string // "C:..." or "S:..." raw chunks
		want  string
	}{
		{"pop3", []string{"C:RETR 1\r\n", "S:+OK 30 octets\r\nSubject: x\r\n\r\nbody\r\n.\r\n", "C:QUIT\r\n"},
			"send RETR 1|recv +OK 30 octets|recv Subject: x\n\nbody|recv .|send QUIT"},
		{"imap", []string{"C:a1 APPEND INBOX {12}\r\n", "S:+ go\r\n", "C:hello\r\nworl", "C:d\r\n", "S:a1 OK done\r\n"},
			"send a1 APPEND INBOX {12}|recv + go|send hello\nworld|send |recv a1 OK done"},
		{"smtp", []string{"C:MAIL FROM:<a@b>\nRCPT TO:<c@d>\r\n"},
			"send MAIL FROM:<a@b> ⟨bare LF⟩|send RCPT TO:<c@d>"},
	}
	for _, c := range cases {
		rec := trace.NewRecorder(time.Now, 0)
		tap := NewTap(rec, trace.Event{Proto: c.proto})
		for _, f := range c.feed {
			dir := trace.Send
			if f[0] == 'S' {
				dir = trace.Recv
			}
			tap.Data(dir, []byte(f[2:]))
		}
		if got := strings.Join(wire(rec), "|"); got != c.want {
			t.Errorf("%s: got %q\nwant %q", c.proto, got, c.want)
		}
	}
}

// timeoutConn sets its deadlines as a time from now, as netsim's conns do.
type timeoutConn struct {
	net.Conn
	got []string
}

func (c *timeoutConn) SetReadTimeout(d time.Duration) error {
	c.got = append(c.got, "read "+d.String())
	return nil
}

func (c *timeoutConn) SetWriteTimeout(d time.Duration) error {
	c.got = append(c.got, "write "+d.String())
	return nil
}

// SetReadTimeout and SetWriteTimeout hand the time from now to a conn
// that takes it, also through the TLS wrapper of PlainTap (whose
// deadlines crypto/tls sets on the conn under it), and otherwise set a
// deadline on the wall clock.
func TestSetTimeout(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	raw := &timeoutConn{Conn: a}
	for _, c := range []net.Conn{raw, &plainConn{Conn: b, raw: raw, tap: &Tap{}}} {
		SetReadTimeout(c, time.Minute)
		SetWriteTimeout(c, time.Second)
	}
	if want := []string{"read 1m0s", "write 1s", "read 1m0s", "write 1s"}; fmt.Sprint(raw.got) != fmt.Sprint(want) {
		t.Errorf("the conn was given %q, want %q", raw.got, want)
	}
	// Without one, a wall-clock deadline: the read times out.
	SetReadTimeout(b, 10*time.Millisecond)
	if _, err := b.Read(make([]byte, 1)); err == nil || !err.(net.Error).Timeout() {
		t.Errorf("read after a 10ms timeout: %v, want a timeout", err)
	}
}
