//go:build !linux

package filespool

import "os"

func datasync(f *os.File) error { return f.Sync() }
