// Package listentest has a scripted listener for tests of servers built
// on package listen: it fails Accept as a process out of file
// descriptors does, and hands out in-memory connections that seem to come
// from a chosen IP address; the checks every such server must pass; and
// FreePort, a loopback port for a server a test runs in another process.
package listentest

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// EMFILE is the error Accept returns on Linux when the process is out of
// file descriptors: "accept4: too many open files".
func EMFILE() error {
	return &net.OpError{Op: "accept", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25},
		Err: os.NewSyscallError("accept4", syscall.EMFILE)}
}

// Listener is a listener whose Accept first returns the errors of Fail,
// one a call, then the connections given to Dial.
type Listener struct {
	mu     sync.Mutex
	fail   []error
	failed int
	conns  chan net.Conn
	done   chan struct{}
	once   sync.Once
}

// New returns a Listener that fails with each of errs first.
func New(errs ...error) *Listener {
	return &Listener{fail: errs, conns: make(chan net.Conn), done: make(chan struct{})}
}

// Failed returns how many errors Accept has returned.
func (l *Listener) Failed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// Accept returns the next scripted error, else the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.fail) > 0 {
		err := l.fail[0]
		l.fail = l.fail[1:]
		l.failed++
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: net.ErrClosed}
	}
}

// ErrNotAccepted: the server did not call Accept within AcceptWait.
var ErrNotAccepted = errors.New("listentest: the server accepts no more connections")

// AcceptWait is how long Dial waits for the server's Accept.
const AcceptWait = 5 * time.Second

// Dial makes a connection from ip (a port made up) that the server
// accepts, and returns the client's end. It fails when the listener is
// closed, or when the server does not accept it within AcceptWait.
func (l *Listener) Dial(ip string) (net.Conn, error) {
	client, server := net.Pipe()
	remote := &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000}
	local := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 25}
	select {
	case l.conns <- &addrConn{Conn: server, remote: remote, local: local}:
		return &addrConn{Conn: client, remote: local, local: remote}, nil
	case <-l.done:
		client.Close()
		server.Close()
		return nil, net.ErrClosed
	case <-time.After(AcceptWait):
		client.Close()
		server.Close()
		return nil, ErrNotAccepted
	}
}

// Close makes Accept fail with net.ErrClosed.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the listener's made-up address.
func (l *Listener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 25} }

type addrConn struct {
	net.Conn
	remote, local net.Addr
}

func (c *addrConn) RemoteAddr() net.Addr { return c.remote }
func (c *addrConn) LocalAddr() net.Addr  { return c.local }
