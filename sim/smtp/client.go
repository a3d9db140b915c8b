package smtp

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	smtp "github.com/emersion/go-smtp"
	"github.com/mailhop/mailhop/sim/netx"
)

// Start opens a client session on conn: it reads the greeting, says EHLO
// as hostname and, when cfg is set and the server offers it, upgrades with
// STARTTLS (RFC 3207); requireTLS makes a missing or failed STARTTLS an
// error (a submission client), else TLS is opportunistic (an MTA, RFC
// 3207 §4). It reports whether the session is encrypted.
//
// go-smtp's client can only start TLS before its first EHLO (and then
// says "localhost"), so the exchange up to STARTTLS is done here and the
// go-smtp client takes over on the encrypted connection.
func Start(conn net.Conn, hostname string, cfg *tls.Config, requireTLS bool) (*smtp.Client, bool, error) {
	if cfg == nil {
		c := smtp.NewClient(conn)
		if err := c.Hello(hostname); err != nil {
			c.Close()
			return nil, false, err
		}
		return c, false, nil
	}
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	r := bufio.NewReader(&byteReader{conn})
	greeting, err := readReply(r)
	if err != nil {
		return nil, false, err
	}
	if !strings.HasPrefix(greeting[0], "220") {
		return nil, false, fmt.Errorf("greeting: %s", strings.Join(greeting, " "))
	}
	fmt.Fprintf(conn, "EHLO %s\r\n", hostname)
	ehlo, err := readReply(r)
	if err != nil {
		return nil, false, err
	}
	offered := false
	for _, l := range ehlo {
		if len(l) > 4 && strings.EqualFold(strings.TrimSpace(l[4:]), "STARTTLS") {
			offered = true
		}
	}
	conn.SetDeadline(time.Time{})
	if requireTLS && !offered {
		return nil, false, errors.New("the server does not offer STARTTLS")
	}
	if !strings.HasPrefix(ehlo[0], "250") || !offered {
		// Let go-smtp redo the greeting on a replay of what was read.
		c := smtp.NewClient(&replayConn{Conn: conn, pending: []byte(strings.Join(greeting, "\r\n") + "\r\n")})
		if err := c.Hello(hostname); err != nil {
			c.Close()
			return nil, false, err
		}
		return c, false, nil
	}
	fmt.Fprintf(conn, "STARTTLS\r\n")
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	reply, err := readReply(r)
	conn.SetDeadline(time.Time{})
	if err != nil {
		return nil, false, err
	}
	if !strings.HasPrefix(reply[0], "220") {
		return nil, false, fmt.Errorf("STARTTLS refused: %s", reply[0])
	}
	tc := tls.Client(conn, cfg)
	tc.SetDeadline(time.Now().Add(time.Minute))
	if err := tc.Handshake(); err != nil {
		return nil, false, fmt.Errorf("TLS handshake: %w", err)
	}
	tc.SetDeadline(time.Time{})
	plain := netx.PlainTap(conn, tc, true)
	// go-smtp expects a greeting first: give it one that is not on the
	// wire (RFC 3207 §4.2: after TLS the client starts with EHLO).
	c := smtp.NewClient(&replayConn{Conn: plain, pending: []byte("220 TLS ready\r\n")})
	if err := c.Hello(hostname); err != nil {
		c.Close()
		return nil, false, err
	}
	return c, true, nil
}

// byteReader reads one byte at a time so that nothing past the STARTTLS
// reply is taken from the connection before the TLS handshake.
type byteReader struct{ r io.Reader }

func (b *byteReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return b.r.Read(p)
}

// readReply reads one (possibly multi-line) SMTP reply.
func readReply(r *bufio.Reader) ([]string, error) {
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		if len(line) < 4 || line[3] != '-' {
			return lines, nil
		}
		if len(lines) > 100 {
			return nil, errors.New("reply too long")
		}
	}
}

// replayConn yields pending bytes before reading from the connection.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(b []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
