package dns_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/dns"
	"github.com/mailhop/mailhop/sim/netsim"
)

// A name server and a mail server on the simulated network: the MTA asks
// where mail for example.net goes.
func ExampleResolver_LookupMX() {
	n := netsim.New(clock.NewVirtual(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)), nil)
	nsHost, _ := n.AddHost("ns.example", "192.0.2.53")
	mailHost, _ := n.AddHost("mail.example.org", "192.0.2.25")

	zone, err := dns.LoadZone(strings.NewReader(`
$TTL 3600
@       SOA   ns.example. hostmaster 2026010101 7200 900 1209600 300
        NS    ns.example.
        MX    10 mx
        MX    20 backup
mx      A     198.51.100.25
backup  A     198.51.100.26
backup  AAAA  2001:db8::26
`), "example.net", "example.net.zone")
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

	r := &dns.Resolver{Net: mailHost, Servers: []string{"192.0.2.53:53"}}
	targets, err := r.LookupMX(context.Background(), "example.net")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range targets {
		fmt.Println(t.Pref, t.Host, t.Addrs)
	}
	_, err = r.LookupMX(context.Background(), "nosuch.example.net")
	fmt.Println(err, "— permanent:", dns.IsPermanent(err))
	// Output:
	// 10 mx.example.net [198.51.100.25]
	// 20 backup.example.net [198.51.100.26 2001:db8::26]
	// dns: nosuch.example.net. MX: no such domain (NXDOMAIN) — permanent: true
}
