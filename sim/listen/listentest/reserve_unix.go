//go:build unix

package listentest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// reserve claims port for the rest of the test, against every other test
// on the machine, in this process or another: a port is checked free,
// then bound later by a server the test starts, and two tests running in
// parallel could otherwise pick the same one in between. The claim is an
// flock on a file named for the port; the kernel drops it when the test
// closes the file or its process dies, so no claim outlives its test.
// The files stay, empty (removing one while another test opens it would
// let two tests hold claims on two files of one name).
// release gives the claim back at once, for a port found taken after all.
// Where the files can't be made (another user's directory), no claim is
// made, as off Unix.
func reserve(t testing.TB, ip string, port int) (release func(), ok bool) {
	dir := filepath.Join(os.TempDir(), "mailhop-test-ports")
	name := filepath.Join(dir, fmt.Sprintf("%s_%d", ip, port))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o666)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(dir, 0o777); err == nil {
			f, err = os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o666)
		}
	}
	if err != nil {
		t.Logf("ports are not claimed across tests: %v", err)
		return func() {}, true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	t.Cleanup(func() { f.Close() })
	return func() { f.Close() }, true
}
