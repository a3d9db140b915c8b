package imap_test

import (
	"context"
	"fmt"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/imap"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// The IMAP server of store.example.net on the simulated network, read by
// bob's machine with go-imap's client.
func Example() {
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	rec := trace.NewRecorder(clk.Now, 0)
	network := netsim.New(clk, rec)
	server, _ := network.AddHost("store.example.net", "198.51.100.30")
	bobPC, _ := network.AddHost("bob-pc", "198.51.100.10")

	users := auth.NewDirectory("example.net")
	users.Add("bob@example.net", "bob")
	mail := store.NewMemory(clk.Now)
	mail.AddUser("bob@example.net")
	mail.Append("bob@example.net", "INBOX", []byte("Subject: hello\r\nMessage-ID: <1@example.org>\r\n\r\nHi Bob!\r\n"), nil, time.Time{})

	srv := &imap.Server{
		Hostname:     "store.example.net",
		Store:        mail,
		Users:        users,
		InsecureAuth: true, // the simulated network carries no secrets
		Clock:        clk,
		Trace:        rec,
	}
	l, _ := server.Listen("tcp", ":143")
	go srv.Serve(l)
	defer srv.Close()

	conn, _ := bobPC.DialContext(context.Background(), "tcp", "198.51.100.30:143")
	c := imapclient.New(conn, nil)
	defer c.Close()
	c.Login("bob", "bob").Wait()
	sel, _ := c.Select("INBOX", nil).Wait()
	fmt.Println("messages:", sel.NumMessages)
	msgs, _ := c.Fetch(goimap.SeqSetNum(1), &goimap.FetchOptions{Envelope: true, BodySection: []*goimap.FetchItemBodySection{{}}}).Collect()
	fmt.Println("subject:", msgs[0].Envelope.Subject)
	for _, e := range rec.Events() {
		if e.Kind == trace.KindFetch {
			fmt.Println("trace:", e.Mailbox, e.Msg, e.Text)
		}
	}
	// Output:
	// messages: 1
	// subject: hello
	// trace: bob@example.net/INBOX 1@example.org FETCH BODY[] uid 1
}
