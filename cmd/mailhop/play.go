package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mailhop/mailhop/web"
)

func init() {
	register(command{name: "play", summary: "serve the browser playground", run: runPlay})
}

// playSite is the site play serves (swapped in tests).
var playSite = web.Dist

// playContext is how long play serves: until interrupted (swapped in
// tests).
var playContext = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func runPlay(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("play", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "the address to serve the playground on (host:port)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailhop play [--addr 127.0.0.1:8080]")
		fmt.Fprintln(stderr, "Serves the browser playground: the whole mail world runs in the page, as WebAssembly.")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	site := playSite()
	if err := web.Check(site); err != nil {
		return err
	}
	ctx, stop := playContext()
	defer stop()
	return servePlay(ctx, *addr, site, stdout)
}

// servePlay serves site on addr until ctx ends.
func servePlay(ctx context.Context, addr string, site fs.FS, stdout io.Writer) error {
	h, err := web.Handler(site)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "mailhop play: the playground is on http://%s/ (Ctrl-C stops it)\n", l.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
