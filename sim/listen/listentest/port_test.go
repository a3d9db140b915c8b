package listentest

import (
	"runtime"
	"testing"
)

// TestReserve: a port FreePort gave is not given again while its test
// runs, and a released claim can be taken anew.
func TestReserve(t *testing.T) {
	if runtime.GOOS == "js" || runtime.GOOS == "windows" {
		t.Skip("no machine-wide claim off Unix")
	}
	port := FreePort(t, "127.0.0.1", false)
	if _, ok := reserve(t, "127.0.0.1", port); ok {
		t.Fatalf("port %d reserved twice", port)
	}
	other := FreePort(t, "127.0.0.1", false)
	if other == port {
		t.Fatalf("FreePort gave %d twice", port)
	}
	release, ok := reserve(t, "127.0.0.2", port)
	if !ok {
		t.Fatalf("port %d on another address taken", port)
	}
	release()
	if _, ok := reserve(t, "127.0.0.2", port); !ok {
		t.Fatalf("port %d still taken after release", port)
	}
}
