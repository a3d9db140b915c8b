package listentest

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// Serve runs serve on ln until the test ends; then it calls stop and
// checks that serve returned an error that is each of closed (the one
// ErrServerClosed, and a server's own names for it). It returns where
// serve's result goes, for Greet.
func Serve(t testing.TB, ln *Listener, serve func(net.Listener) error, stop func(), closed ...error) <-chan error {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- serve(ln) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-served:
			for _, want := range closed {
				if !errors.Is(err, want) {
					t.Errorf("Serve after Close: %v, want %v", err, want)
				}
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return served
}

// Greet connects from ip (through wrap, when given: TLS, say) and returns
// the connection, its reader and the server's first line, without its
// CRLF ("ERR …" when there is none). A server that no longer accepts
// fails the test, saying after how many accept errors.
func Greet(t testing.TB, ln *Listener, served <-chan error, ip string, wrap func(net.Conn) net.Conn) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	c, err := ln.Dial(ip)
	if err != nil {
		select {
		case err := <-served:
			t.Fatalf("the server no longer accepts: Serve returned %v after %d accept errors", err, ln.Failed())
		default:
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if wrap != nil {
		c = wrap(c)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return c, br, "ERR " + err.Error()
	}
	return c, br, strings.TrimRight(line, "\r\n")
}
