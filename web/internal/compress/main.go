// Command compress writes the precompressed copies of the playground's
// files that `mailhop play` serves: FILE.br (brotli, best quality, a 16 MiB
// window as browsers allow) and FILE.gz (gzip as package precompress
// makes it: best compression, no name or time, so builds are
// reproducible). build.sh runs it as
//
//	go run ./web/internal/compress FILE...
//
// It is pure Go, so a fresh machine needs no brotli command.
package main

import (
	"bytes"
	"fmt"
	"os"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/mailhop/mailhop/web/internal/precompress"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compress FILE...")
		os.Exit(2)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(os.Args)-1)
	for i, name := range os.Args[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = compress(name)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			fmt.Fprintln(os.Stderr, "compress:", err)
			os.Exit(1)
		}
	}
}

func compress(name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	var br bytes.Buffer
	bw := brotli.NewWriterOptions(&br, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24})
	if _, err := bw.Write(data); err != nil {
		return err
	}
	if err := bw.Close(); err != nil {
		return err
	}
	gz, err := precompress.Gzip(data)
	if err != nil {
		return err
	}
	if err := os.WriteFile(name+".br", br.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(name+".gz", gz, 0o644)
}
