package maildir

import (
	"io"
	"os"
	"syscall"
	"time"
)

// On Linux a delivery's files are handled with the system calls the
// kernel needs and no more. os.OpenFile offers every file it opens to the
// network poller (four fcntl(2) and an epoll_ctl(2) that fails for a
// regular file), and os.Rename looks its target up first; at thousands of
// messages a second those lookups were a tenth of the server's CPU.

// tmpFile is a message file being written in tmp/.
type tmpFile int

// createTmp creates path, which must not exist, writes data and sets the
// file's modification time. On failure no file is left behind.
func createTmp(path string, data []byte, mtime time.Time) (tmpFile, error) {
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := tmpFile(fd)
	for rest := data; len(rest) > 0; {
		n, err := syscall.Write(fd, rest)
		if err == syscall.EINTR {
			continue
		}
		if err == nil && n == 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			f.close()
			syscall.Unlink(path)
			return -1, &os.PathError{Op: "write", Path: path, Err: err}
		}
		rest = rest[n:]
	}
	ts := []syscall.Timespec{syscall.NsecToTimespec(mtime.UnixNano()), syscall.NsecToTimespec(mtime.UnixNano())}
	if err := syscall.UtimesNano(path, ts); err != nil {
		f.close()
		syscall.Unlink(path)
		return -1, &os.PathError{Op: "chtimes", Path: path, Err: err}
	}
	return f, nil
}

// startWriteback starts writing the file's data to disk without waiting
// (sync_file_range(2), SYNC_FILE_RANGE_WRITE); the fsync still follows.
func (f tmpFile) startWriteback() {
	syscall.SyncFileRange(int(f), 0, 0, 2)
}

func (f tmpFile) sync() error { return ignoringEINTR(func() error { return syscall.Fsync(int(f)) }) }

func (f tmpFile) close() error { return syscall.Close(int(f)) }

// rename renames a file within the store: the caller knows the target is
// not a directory, so there is nothing to look up first.
func rename(from, to string) error {
	if err := syscall.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// fsyncDir fsyncs a directory.
func fsyncDir(dir string) error {
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	err = ignoringEINTR(func() error { return syscall.Fsync(fd) })
	syscall.Close(fd)
	if err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != syscall.EINTR {
			return err
		}
	}
}
