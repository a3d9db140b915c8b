package netx

import (
	"net"
	"syscall"
	"testing"
)

// keepAlive reports whether the connection a listener accepts has TCP
// keep-alive on.
func keepAlive(t *testing.T, listen func(network, address string) (net.Listener, error)) bool {
	t.Helper()
	l, err := listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	raw, err := a.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var on int
	var serr error
	raw.Control(func(fd uintptr) { on, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) })
	if serr != nil {
		t.Fatal(serr)
	}
	return on != 0
}

func TestListenNoKeepAlive(t *testing.T) {
	r := &Real{}
	if !keepAlive(t, r.Listen) {
		t.Error("Listen: accepted connection without TCP keep-alive, want Go's default (on)")
	}
	if keepAlive(t, r.ListenNoKeepAlive) {
		t.Error("ListenNoKeepAlive: accepted connection with TCP keep-alive on")
	}
}
