package precompress

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

// The copy reads back as the file, and the same file gives the same
// bytes (no name or time in the header).
func TestGzip(t *testing.T) {
	data := bytes.Repeat([]byte("<p>mailhop</p>\n"), 100)
	gz, err := Gzip(data)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("read back %d bytes (%v), want the %d given", len(back), err, len(data))
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("header: name %q, time %v; want neither", zr.Name, zr.ModTime)
	}
	if again, _ := Gzip(data); !bytes.Equal(again, gz) {
		t.Error("the same data gzipped twice gives different bytes")
	}
	if len(gz) >= len(data) {
		t.Errorf("%d bytes gzipped to %d", len(data), len(gz))
	}
}
