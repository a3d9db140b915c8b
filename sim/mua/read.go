package mua

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/mailhop/mailhop/sim/netx"
)

// Reader reads a user's INBOX the way a mail client does: by IMAP (the
// mail stays on the server) or by POP3 (downloaded, and deleted when
// Delete is set).
type Reader struct {
	Net      netx.Network
	Addr     string // "198.51.100.30:143" or ":110"
	Server   string // the server's name, for TLS verification
	TLS      *tls.Config
	User     string
	Password string
	// Delete removes the messages read by POP3 (DELE, then QUIT).
	Delete  bool
	Timeout time.Duration
}

func (r *Reader) dial(ctx context.Context) (net.Conn, *tls.Config, error) {
	timeout := r.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := r.Net.DialContext(dctx, "tcp", r.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("mua: connecting to %s: %w", r.Server, err)
	}
	cfg := r.TLS
	if cfg != nil && cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = r.Server
	}
	return conn, cfg, nil
}

// IMAP logs in (after STARTTLS when TLS is set), selects INBOX and
// fetches every message whole.
func (r *Reader) IMAP(ctx context.Context) ([][]byte, error) {
	conn, cfg, err := r.dial(ctx)
	if err != nil {
		return nil, err
	}
	var c *imapclient.Client
	if cfg != nil {
		// STARTTLS by hand (RFC 9051 §6.2.1) so that the cleartext inside
		// TLS reaches the trace; imapclient takes over on the encrypted
		// connection.
		tc, err := imapStartTLS(conn, cfg)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("mua: IMAP STARTTLS: %w", err)
		}
		c = imapclient.New(tc, nil)
	} else {
		c = imapclient.New(conn, nil)
	}
	defer c.Close()
	if err := c.Login(r.User, r.Password).Wait(); err != nil {
		return nil, fmt.Errorf("mua: IMAP login as %s: %w", r.User, err)
	}
	// The capabilities change with the login (RFC 9051 §6.2.3): ask for
	// them now, rather than let imapclient ask from another goroutine
	// while SELECT is sent, which would make the trace's order a matter
	// of timing.
	if _, err := c.Capability().Wait(); err != nil {
		return nil, fmt.Errorf("mua: IMAP CAPABILITY: %w", err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("mua: IMAP SELECT INBOX: %w", err)
	}
	var out [][]byte
	if sel.NumMessages > 0 {
		var set imap.SeqSet
		set.AddRange(1, sel.NumMessages)
		section := &imap.FetchItemBodySection{}
		msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil {
			return nil, fmt.Errorf("mua: IMAP FETCH: %w", err)
		}
		for _, m := range msgs {
			out = append(out, m.FindBodySection(section))
		}
	}
	c.Logout().Wait()
	return out, nil
}

// POP3 logs in (after STLS when TLS is set), retrieves every message and,
// with Delete, deletes them; QUIT applies the deletions (RFC 1939 §6).
func (r *Reader) POP3(ctx context.Context) ([][]byte, error) {
	conn, cfg, err := r.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { conn.Close() }()
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	p := &pop3Client{r: bufio.NewReader(conn), w: conn}
	if _, err := p.reply(); err != nil {
		return nil, fmt.Errorf("mua: POP3 greeting: %w", err)
	}
	if cfg != nil {
		if _, err := p.cmd("STLS"); err != nil {
			return nil, fmt.Errorf("mua: POP3 STLS: %w", err)
		}
		tc := tls.Client(conn, cfg)
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("mua: POP3 TLS: %w", err)
		}
		plain := netx.PlainTap(conn, tc, true)
		conn = tc
		p = &pop3Client{r: bufio.NewReader(plain), w: plain}
	}
	if _, err := p.cmd("USER " + r.User); err != nil {
		return nil, fmt.Errorf("mua: POP3 USER: %w", err)
	}
	if _, err := p.cmd("PASS " + r.Password); err != nil {
		return nil, fmt.Errorf("mua: POP3 login as %s: %w", r.User, err)
	}
	stat, err := p.cmd("STAT")
	if err != nil {
		return nil, err
	}
	var n int
	fmt.Sscanf(stat, "%d", &n)
	var out [][]byte
	for i := 1; i <= n; i++ {
		if _, err := p.cmd(fmt.Sprintf("RETR %d", i)); err != nil {
			return nil, err
		}
		msg, err := p.multiline()
		if err != nil {
			return nil, err
		}
		out = append(out, msg)
		if r.Delete {
			if _, err := p.cmd(fmt.Sprintf("DELE %d", i)); err != nil {
				return nil, err
			}
		}
	}
	if _, err := p.cmd("QUIT"); err != nil {
		return nil, err
	}
	return out, nil
}

type pop3Client struct {
	r *bufio.Reader
	w interface{ Write([]byte) (int, error) }
}

func (p *pop3Client) cmd(line string) (string, error) {
	if _, err := fmt.Fprintf(p.w, "%s\r\n", line); err != nil {
		return "", err
	}
	return p.reply()
}

// reply reads a status line and returns its text after +OK.
func (p *pop3Client) reply() (string, error) {
	line, err := p.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if rest, ok := strings.CutPrefix(line, "+OK"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", fmt.Errorf("%s", line)
}

// multiline reads a dot-terminated block, undoing dot-stuffing.
func (p *pop3Client) multiline() ([]byte, error) {
	var b strings.Builder
	for {
		line, err := p.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == ".\r\n" || line == ".\n" {
			return []byte(b.String()), nil
		}
		b.WriteString(strings.TrimPrefix(line, "."))
	}
}

func imapStartTLS(conn net.Conn, cfg *tls.Config) (net.Conn, error) {
	conn.SetDeadline(time.Now().Add(time.Minute))
	defer conn.SetDeadline(time.Time{})
	br := bufio.NewReader(&oneByte{conn})
	greeting, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(greeting, "* OK") {
		return nil, fmt.Errorf("greeting: %s", strings.TrimSpace(greeting))
	}
	fmt.Fprintf(conn, "S1 STARTTLS\r\n")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(line, "S1 ") {
			if !strings.HasPrefix(line, "S1 OK") {
				return nil, fmt.Errorf("%s", strings.TrimSpace(line))
			}
			break
		}
	}
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	plain := netx.PlainTap(conn, tc, true)
	// The capabilities before TLS no longer hold (RFC 9051 §6.2.1): ask
	// again, here, so that imapclient knows them from its greeting and
	// never asks on its own from another goroutine.
	fmt.Fprintf(plain, "S2 CAPABILITY\r\n")
	tbr := bufio.NewReader(&oneByte{plain})
	caps := ""
	for {
		line, err := tbr.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if c, ok := strings.CutPrefix(line, "* CAPABILITY "); ok {
			caps = strings.TrimSpace(c)
		}
		if strings.HasPrefix(line, "S2 ") {
			break
		}
	}
	// imapclient waits for a greeting; the one it gets is not on the wire.
	return &replay{Conn: plain, pending: []byte("* OK [CAPABILITY " + caps + "] TLS active\r\n")}, nil
}

// oneByte reads a byte at a time so nothing after the STARTTLS reply is
// taken from the connection before the handshake.
type oneByte struct{ c net.Conn }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.c.Read(p)
}

type replay struct {
	net.Conn
	pending []byte
}

func (r *replay) Read(b []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(b, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.Conn.Read(b)
}
