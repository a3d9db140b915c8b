package maildir

import (
	"os"
	"syscall"
)

// startWriteback starts writing a file's data to disk without waiting
// (sync_file_range(2), SYNC_FILE_RANGE_WRITE); an fsync still follows.
func startWriteback(f *os.File) {
	syscall.SyncFileRange(int(f.Fd()), 0, 0, 2)
}
