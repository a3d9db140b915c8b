package mailhost

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/smtp"
	"github.com/mailhop/mailhop/sim/trace"
)

// brokenDNS fails every lookup as a resolver that times out does.
type brokenDNS struct{}

var errTimeout = errors.New("i/o timeout")

func (brokenDNS) LookupTXT(context.Context, string) ([]string, error) { return nil, errTimeout }
func (brokenDNS) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return nil, errTimeout
}
func (brokenDNS) LookupMX(context.Context, string) ([]*net.MX, error)  { return nil, errTimeout }
func (brokenDNS) LookupAddr(context.Context, string) ([]string, error) { return nil, errTimeout }

// A DNS failure leaves SPF and DMARC open: the MX defers the message
// (451 4.7.0), so the sender tries again, rather than let it pass
// unchecked.
func TestCheckDefersOnDNSFailure(t *testing.T) {
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	rec := trace.NewRecorder(clk.Now, 0)
	h := &Host{cfg: Config{Hostname: "mx.example.net", Clock: clk, Trace: rec, AuthResolver: brokenDNS{}}}
	v := h.checker()(context.Background(), smtp.Arrival{IP: netip.MustParseAddr("192.0.2.25"), Helo: "mail.example.org", MailFrom: "alice@example.org",
		Msg: []byte("From: <alice@example.org>\r\nSubject: hi\r\n\r\nbody\r\n")})
	if v.Code != 451 || v.Enh != "4.7.0" || len(v.Header) != 0 {
		t.Fatalf("verdict %+v, want 451 4.7.0", v)
	}
	var last trace.Event
	for _, e := range rec.Events() {
		if e.Kind == trace.KindAuth {
			last = e
		}
	}
	if last.Action != "verdict" || !strings.Contains(last.Text, "451 4.7.0") {
		t.Fatalf("last auth event %+v", last)
	}
}

// Only the topmost Authentication-Results of a trusted host counts: one
// a sender wrote below it, even in the trusted host's name, does not.
func TestQuarantined(t *testing.T) {
	trusted := func(id string) bool { return id == "mx.example.net" }
	for _, c := range []struct {
		msg  string
		want bool
	}{
		{"Authentication-Results: mx.example.net; spf=fail smtp.mailfrom=example.org;\r\n\tdmarc=fail header.from=example.org policy.dmarc=quarantine\r\n\r\n", true},
		{"Authentication-Results: mx.example.net; dmarc=pass header.from=example.org\r\nAuthentication-Results: mx.example.net; dmarc=fail policy.dmarc=quarantine\r\n\r\n", false},
		{"Authentication-Results: evil.example; dmarc=fail policy.dmarc=quarantine\r\nAuthentication-Results: mx.example.net; dmarc=pass\r\n\r\n", false},
		{"Authentication-Results: mx.example.net; dmarc=fail header.from=example.org\r\n\r\n", false},
		{"Subject: no results\r\n\r\n", false},
	} {
		if got := Quarantined([]byte(c.msg), trusted); got != c.want {
			t.Errorf("Quarantined(%q) = %v, want %v", c.msg, got, c.want)
		}
	}
}
