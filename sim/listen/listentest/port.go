package listentest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// FreePort returns a port free on ip for TCP, and for UDP too when udp,
// for a server a test starts in another process. The port is picked at
// random below Linux's range of ephemeral ports (32768 and up): a port
// the kernel handed out for ":0" could be taken by another test's
// outgoing connection before the server binds it, one below the range
// never is. The port stays reserved for the rest of the test (see
// reserve), so two tests running at once never get the same one.
func FreePort(t testing.TB, ip string, udp bool) int {
	t.Helper()
	const low, high = 10000, 32768
	for range 200 {
		port := low + rand.IntN(high-low)
		release, ok := reserve(t, ip, port)
		if !ok {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
		if err != nil {
			release()
			continue
		}
		free := true
		if udp {
			pc, err := net.ListenPacket("udp", fmt.Sprintf("%s:%d", ip, port))
			if err == nil {
				pc.Close()
			}
			free = err == nil
		}
		l.Close()
		if free {
			return port
		}
		release()
	}
	t.Fatalf("no free port on %s (Linux routes all of 127/8 to lo)", ip)
	return 0
}
