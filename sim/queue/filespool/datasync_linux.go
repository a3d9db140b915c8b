package filespool

import (
	"os"
	"syscall"
)

// datasync is fdatasync(2): the file's data and what is needed to read it
// back (its size), without its times.
func datasync(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := sc.Control(func(fd uintptr) { serr = syscall.Fdatasync(int(fd)) }); err != nil {
		return err
	}
	return serr
}
