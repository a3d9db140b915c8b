package pop3_test

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/pop3"
	"github.com/mailhop/mailhop/sim/store"
)

// A POP3 server on a simulated host, and bob reading his mail from his
// machine: the session of RFC 1939 §10, with USER and PASS.
func ExampleServer() {
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	network := netsim.New(clk, nil)
	storeHost, _ := network.AddHost("store.example.net", "198.51.100.30")
	bobPC, _ := network.AddHost("bob-pc", "198.51.100.10")

	mail := store.NewMemory(clk.Now)
	mail.AddUser("bob@example.net")
	mail.Append("bob@example.net", store.Inbox, []byte("Subject: hi\r\n\r\nHello Bob.\r\n.signature\r\n"), nil, time.Time{})
	users := auth.NewDirectory("example.net")
	users.Add("bob@example.net", "bob")

	srv := &pop3.Server{
		Hostname:     "store.example.net",
		Store:        mail,
		Users:        users,
		Clock:        clk,
		InsecureAuth: true, // the simulated network carries no secrets
	}
	l, _ := storeHost.Listen("tcp", ":110")
	go srv.Serve(l)
	defer srv.Close()

	c, _ := bobPC.DialContext(context.Background(), "tcp", "198.51.100.30:110")
	defer c.Close()
	r := bufio.NewReader(c)
	greeting, _ := r.ReadString('\n')
	fmt.Println(greeting[:strings.Index(greeting, "<")] + "<…>")
	fmt.Fprint(c, "USER bob\r\nPASS bob\r\nSTAT\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		fmt.Println(strings.TrimSuffix(line, "\r\n"))
	}
	left, _ := mail.List("bob@example.net", store.Inbox)
	fmt.Println(len(left), "messages left")
	// Output:
	// +OK store.example.net POP3 server ready <…>
	// +OK send PASS
	// +OK bob@example.net's maildrop has 1 message (39 octets)
	// +OK 1 39
	// +OK 39 octets
	// Subject: hi
	//
	// Hello Bob.
	// ..signature
	// .
	// +OK message 1 deleted
	// +OK store.example.net POP3 server signing off (maildrop empty)
	// 0 messages left
}
