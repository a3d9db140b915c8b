//go:build !js

package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/mailhop/mailhop/sim/smtp"
)

const (
	crashMessages = 1000
	crashConns    = 8
	crashKillAt   = 400 // acknowledged messages before kill -9
)

// kill -9 while 1,000 submissions are in flight: every message that got
// its 250 reaches bob; a message B took but whose delivery A had not yet
// journalled when it died is sent again, so a few may arrive twice,
// never more than A had in flight.
func testCrash(t *testing.T, w *testWorld) {
	var acked sync.Map // id → true
	var nAcked atomic.Int64
	var next atomic.Int64
	killed := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range crashConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := submitConn(w.a.addr("submission"))
			if err != nil {
				t.Errorf("connecting: %v", err)
				return
			}
			defer c.Close()
			for {
				n := next.Add(1)
				if n > crashMessages {
					return
				}
				err := submitOne(c, n)
				select {
				case <-killed:
					return // whatever happens now is the crash
				default:
				}
				if err != nil {
					t.Errorf("message %d: %v", n, err)
					return
				}
				acked.Store(n, true)
				nAcked.Add(1)
			}
		}()
	}
	waitFor(t, 60*time.Second, fmt.Sprintf("%d acknowledged submissions", crashKillAt), func() bool { return nAcked.Load() >= crashKillAt })
	close(killed)
	w.a.kill()
	wg.Wait()
	submitted := time.Since(start)
	var ids []int64
	acked.Range(func(k, _ any) bool { ids = append(ids, k.(int64)); return true })
	t.Logf("kill -9 after %d acknowledged submissions (%v), %d attempted", len(ids), submitted.Round(time.Millisecond), min(next.Load(), crashMessages))

	w.a.start()
	w.up(t)
	re := regexp.MustCompile(`X-Crash-Id: (\d+)`)
	seen := map[int64]int{}
	scan := func() {
		clear(seen)
		for _, m := range w.b.maildir("bob@example.net") {
			if g := re.FindStringSubmatch(m); g != nil {
				n, _ := strconv.ParseInt(g[1], 10, 64)
				seen[n]++
			}
		}
	}
	missing := func() int {
		scan()
		k := 0
		for _, id := range ids {
			if seen[id] == 0 {
				k++
			}
		}
		return k
	}
	deadline := time.Now().Add(60 * time.Second)
	for missing() > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // let any late duplicate land
	lost := missing()
	w.up(t) // "lost" must mean lost, not "B was down"
	dups := 0
	for _, c := range seen {
		if c > 1 {
			dups += c - 1
		}
	}
	extra := len(seen) - (len(ids) - lost)
	t.Logf("after restart: %d of %d acknowledged delivered, %d lost, %d duplicates, %d delivered that were in flight unacknowledged",
		len(ids)-lost, len(ids), lost, dups, extra)
	if lost > 0 {
		t.Fatalf("%d acknowledged messages lost", lost)
	}
	// Across an SMTP hop delivery is at least once: B's 250 and A's
	// journal commit of the delivery can not be one step. Each of A's
	// delivery workers (16, queue.Queue's Concurrency) has at most one
	// message between the two at any instant, so a crash duplicates at
	// most that many.
	if dups > 0 {
		t.Logf("DUPLICATES: %d messages were delivered twice: B had accepted them, A died before journalling that", dups)
	}
	if dups > 16 {
		t.Fatalf("%d duplicates: more than A's 16 delivery workers can have in flight", dups)
	}
}

func submitConn(addr string) (*gosmtp.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c, _, err := smtp.Start(conn, "crash-test.example", &tls.Config{InsecureSkipVerify: true}, true)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.org", "alice")); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func submitOne(c *gosmtp.Client, n int64) error {
	if err := c.Mail("alice@example.org", nil); err != nil {
		return err
	}
	if err := c.Rcpt("bob@example.net", nil); err != nil {
		return err
	}
	wc, err := c.Data()
	if err != nil {
		return err
	}
	fmt.Fprintf(wc, "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: crash %d\r\nX-Crash-Id: %d\r\n\r\nMessage %d of the crash test.\r\n", n, n, n)
	return wc.Close()
}
