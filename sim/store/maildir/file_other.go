//go:build !linux

package maildir

import (
	"os"
	"time"
)

// tmpFile is a message file being written in tmp/.
type tmpFile struct{ *os.File }

// createTmp creates path, which must not exist, writes data and sets the
// file's modification time. On failure no file is left behind.
func createTmp(path string, data []byte, mtime time.Time) (tmpFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return tmpFile{}, err
	}
	_, err = f.Write(data)
	if err == nil {
		err = os.Chtimes(path, mtime, mtime)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return tmpFile{}, err
	}
	return tmpFile{f}, nil
}

func (f tmpFile) startWriteback() {}

func (f tmpFile) sync() error { return f.Sync() }

func (f tmpFile) close() error { return f.Close() }

func rename(from, to string) error { return os.Rename(from, to) }

// fsyncDir fsyncs a directory.
func fsyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	return err
}
