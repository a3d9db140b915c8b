// Package precompress makes the gzip copy of a file that web.Handler
// sends to browsers that accept gzip: the best compression, and neither
// name nor time in the header, so that the same file always gives the
// same bytes. The build's pure-Go compressor (web/internal/compress)
// writes the .gz files with it, and Handler the copy of the index.html it
// rewrites. (The brotli copies are the compressor's alone: the server
// makes none, and does not link the encoder.)
package precompress

import (
	"bytes"
	"compress/gzip"
)

// Gzip returns data gzipped.
func Gzip(data []byte) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
