package mailauth_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/dns"
	"github.com/mailhop/mailhop/sim/mailauth"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/trace"
)

// The journey of a message from alice@example.org to bob@example.net,
// as the receiving MX sees it: example.org publishes SPF, DKIM and DMARC
// records on the simulated name server; mail.example.org signs; the MX
// checks all three through the simulation's resolver and writes the
// Authentication-Results field.
func Example() {
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	v := clock.NewVirtual(start)
	rec := trace.NewRecorder(v.Now, 0)
	n := netsim.New(v, rec)
	nsHost, _ := n.AddHost("ns.example", "192.0.2.53")
	mxHost, _ := n.AddHost("mx.example.net", "198.51.100.25")

	// The signing key of mail.example.org, the same on every run.
	key := mailauth.Ed25519FromSeed([]byte("example.org"))
	keyRecord, _ := mailauth.DKIMRecord(key)
	zone, err := dns.LoadZone(strings.NewReader(`
$TTL 3600
@       SOA   ns.example. hostmaster 2026010101 7200 900 1209600 300
        NS    ns.example.
        MX    10 mail
        TXT   "v=spf1 mx -all"
mail    A     192.0.2.25
_dmarc  TXT   "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"
`+mailauth.ZoneTXT(mailauth.DKIMRecordName("mail", "example.org"), keyRecord)+"\n"), "example.org", "example.org.zone")
	if err != nil {
		fmt.Println(err)
		return
	}
	server := dns.NewServer(zone)
	pc, _ := nsHost.ListenPacket("udp", ":53")
	l, _ := nsHost.Listen("tcp", ":53")
	go server.ServePacket(pc)
	go server.ServeListener(l)
	defer server.Shutdown()

	// The MSA signs.
	msg := "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Lunch\r\n" +
		"Date: Thu, 01 Jan 2026 09:00:00 +0000\r\nMessage-ID: <4F2A9C@example.org>\r\n\r\nNoon?\r\n"
	signed, err := mailauth.SignWith([]byte(msg), mailauth.SignOptions{
		Domain: "example.org", Selector: "mail", Key: key, Now: v.Now})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The MX verifies, asking ns.example through the simulated network.
	r := mailauth.FromExchanger(&dns.Resolver{Net: mxHost, Servers: []string{"192.0.2.53:53"}, Trace: rec, Host: "mx.example.net"})
	ctx := context.Background()
	spf := mailauth.CheckSPF(ctx, r, mailauth.SPFQuery{
		IP: netip.MustParseAddr("192.0.2.25"), Helo: "mail.example.org", MailFrom: "alice@example.org", Now: v.Now()})
	sigs := mailauth.VerifyDKIM(ctx, r, signed)
	from, _ := mailauth.FromDomain(signed)
	dmarc := mailauth.CheckDMARC(ctx, r, mailauth.DMARCInput{FromDomain: from, SPF: spf, DKIM: sigs})

	fmt.Println("SPF:", spf.Result, "-", spf.Reason)
	fmt.Println("DKIM:", sigs[0].Result, "-", sigs[0].Reason)
	fmt.Println("DMARC:", dmarc.Result, "-", dmarc.Reason)
	field := mailauth.NewAuthResults("mx.example.net", spf, sigs, dmarc).Field()
	fmt.Print(strings.ReplaceAll(field, "\r\n", "\n")) // CRLF in a message, LF on screen
	queries := 0
	for _, e := range rec.Events() {
		if e.Kind == trace.KindDNS && e.Action == "query" {
			queries++
		}
	}
	fmt.Println("DNS queries in the trace:", queries)

	// Output:
	// SPF: pass - 192.0.2.25 is allowed by example.org's SPF record: it matches mx
	// DKIM: pass - good signature by example.org (selector mail, ed25519-sha256); it covers From, To, Subject, Date and Message-ID, and the whole body
	// DMARC: pass - SPF and DKIM both passed for domains aligned with example.org
	// Authentication-Results: mx.example.net;
	// 	spf=pass smtp.mailfrom=example.org;
	// 	dkim=pass header.d=example.org header.s=mail header.b=QmfdSfwu;
	// 	dmarc=pass header.from=example.org
	// DNS queries in the trace: 5
}
