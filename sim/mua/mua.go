// Package mua is a scripted mail user agent: it composes a message and
// submits it to an MSA the way a mail client does (EHLO, STARTTLS, AUTH
// PLAIN, MAIL, RCPT, DATA), so scenarios and tests travel the same path a
// person's message does.
package mua

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"mime"
	"mime/quotedprintable"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/smtp"
)

// Mail is what a person writes.
type Mail struct {
	From    string
	To      []string
	Subject string
	Body    string
	// MessageID is the message's Message-ID, without <> (RFC 5322
	// §3.6.4), as the mail client makes it (NewMessageID). Empty: the
	// message goes without, and the MSA adds one (RFC 6409 §8.3).
	MessageID string
	// Extra header fields, written in the order of their names. A
	// Message-ID among them gives way to MessageID when that is set.
	Header map[string]string
}

// NewMessageID returns a Message-ID (without <>) for a message written
// at now by a user of domain: the time and a random number, which the
// caller draws (a simulated world from its seed, so that a run repeats).
func NewMessageID(now time.Time, random uint32, domain string) string {
	return fmt.Sprintf("%X.%08X@%s", now.Unix(), random, domain)
}

// Compose renders m as an RFC 5322 message with CRLF line ends. Non-ASCII
// subjects are encoded (RFC 2047) and the body is quoted-printable when it
// needs to be. The same Mail always gives the same bytes.
func Compose(m Mail) []byte {
	var b bytes.Buffer
	w := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	w("From", "<"+m.From+">")
	w("To", "<"+strings.Join(m.To, ">, <")+">")
	w("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	if m.MessageID != "" {
		w("Message-ID", "<"+m.MessageID+">")
	}
	for _, k := range slices.Sorted(maps.Keys(m.Header)) {
		if m.MessageID != "" && strings.EqualFold(k, "Message-ID") {
			continue
		}
		w(k, m.Header[k])
	}
	w("MIME-Version", "1.0")
	w("User-Agent", "mailhop-mua")
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if !strings.HasSuffix(body, "\r\n") {
		body += "\r\n"
	}
	if needsQP(body) {
		w("Content-Type", "text/plain; charset=utf-8")
		w("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		qp := quotedprintable.NewWriter(&b)
		qp.Write([]byte(body))
		qp.Close()
		return b.Bytes()
	}
	w("Content-Type", "text/plain; charset=us-ascii")
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.Bytes()
}

func needsQP(body string) bool {
	for _, line := range strings.Split(body, "\r\n") {
		if len(line) > 76 {
			return true
		}
	}
	for i := 0; i < len(body); i++ {
		if body[i] >= 0x80 {
			return true
		}
	}
	return false
}

// Submitter submits messages to an MSA.
type Submitter struct {
	Net netx.Network
	// Hostname is what the client says in EHLO ("alice-pc").
	Hostname string
	// Addr is the MSA's address ("192.0.2.25:587"); Server its name, for
	// TLS verification.
	Addr   string
	Server string
	TLS    *tls.Config
	// ImplicitTLS connects with TLS from the first byte (port 465).
	ImplicitTLS bool
	// OpportunisticTLS uses STARTTLS when the server offers it and goes
	// on in cleartext when not, as an MTA does (RFC 3207 §4); otherwise,
	// with TLS set, a server without STARTTLS is an error.
	OpportunisticTLS bool
	User             string
	Password         string
	Timeout          time.Duration
}

// Submit sends one message and returns the MSA's queue id (from its
// "250 2.0.0 Ok: queued as ID" reply).
func (s *Submitter) Submit(ctx context.Context, from string, to []string, msg []byte) (string, error) {
	timeout := s.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := s.Net.DialContext(dctx, "tcp", s.Addr)
	if err != nil {
		return "", fmt.Errorf("mua: connecting to %s: %w", s.Server, err)
	}
	var raw net.Conn = conn
	cfg := s.TLS
	if cfg != nil && cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = s.Server
	}
	if s.ImplicitTLS {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			conn.Close()
			return "", fmt.Errorf("mua: TLS with %s: %w", s.Server, err)
		}
		raw = netx.PlainTap(conn, tc, true)
		cfg = nil
	}
	c, _, err := smtp.Start(raw, s.Hostname, cfg, cfg != nil && !s.OpportunisticTLS)
	if err != nil {
		conn.Close()
		return "", fmt.Errorf("mua: %s: %w", s.Server, err)
	}
	defer c.Close()
	// A refusal ends the session politely: QUIT, as mail clients do.
	refused := func(err error, format string, a ...any) (string, error) {
		var se *gosmtp.SMTPError
		if errors.As(err, &se) {
			c.Quit()
		}
		return "", fmt.Errorf(format+": %w", append(a, err)...)
	}
	if s.User != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.User, s.Password)); err != nil {
			return refused(err, "mua: AUTH as %s", s.User)
		}
	}
	if err := c.Mail(from, nil); err != nil {
		return refused(err, "mua: MAIL FROM:<%s>", from)
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return refused(err, "mua: RCPT TO:<%s>", r)
		}
	}
	w, err := c.Data()
	if err != nil {
		return refused(err, "mua: DATA")
	}
	if _, err := w.Write(msg); err != nil {
		return "", fmt.Errorf("mua: sending the message: %w", err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return refused(err, "mua: end of DATA")
	}
	c.Quit()
	id := ""
	if i := strings.LastIndex(resp.StatusText, "queued as "); i >= 0 {
		id = strings.TrimSpace(resp.StatusText[i+len("queued as "):])
	}
	if id == "" {
		return "", errors.New("mua: the MSA did not say a queue id: " + resp.StatusText)
	}
	return id, nil
}
