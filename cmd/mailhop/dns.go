package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mailhop/mailhop/sim/dns"
)

func init() {
	register(command{name: "dns", summary: "serve DNS zones (RFC 1035 zone files) over UDP and TCP", run: runDNS})
}

func runDNS(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dns", stderr)
	listen := fs.String("listen", "127.0.0.1:5353", "address to answer on, UDP and TCP")
	var zones listFlag
	fs.Var(&zones, "zone", "a zone file to serve (its $ORIGIN, or ORIGIN=FILE); may repeat")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailhop dns --listen ADDR --zone FILE [--zone FILE...]")
		fmt.Fprintln(stderr, "An authoritative DNS server for the zones given, e.g. for `dig @127.0.0.1 -p 5353 example.net MX`.")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(zones) == 0 {
		fmt.Fprintln(stderr, "mailhop dns: at least one --zone FILE is needed")
		return errUsage
	}
	srv := &dns.Server{Name: "mailhop-dns"}
	for _, z := range zones {
		origin, file, ok := strings.Cut(z, "=")
		if !ok {
			origin, file = "", z
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("--zone %s: %w", file, err)
		}
		if origin == "" {
			origin = zoneOrigin(string(data), file)
		}
		zone, err := dns.LoadZone(strings.NewReader(string(data)), origin, file)
		if err != nil {
			return err
		}
		for _, w := range zone.Warnings() {
			fmt.Fprintln(stderr, "warning:", w)
		}
		srv.SetZone(zone)
	}
	pc, err := net.ListenPacket("udp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		pc.Close()
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	var names []string
	for _, z := range srv.Zones() {
		names = append(names, z.Origin())
	}
	log.Info("serving DNS", "addr", *listen, "zones", strings.Join(names, " "))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 2)
	go func() { errc <- srv.ServePacket(pc) }()
	go func() { errc <- srv.ServeListener(l) }()
	select {
	case <-ctx.Done():
		log.Info("stopping")
		srv.Shutdown()
		return nil
	case err := <-errc:
		srv.Shutdown()
		if errors.Is(err, dns.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// zoneOrigin finds a zone's origin: its first $ORIGIN line, else the file
// name without ".zone" ("example.net.zone" → "example.net.").
func zoneOrigin(text, file string) string {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.EqualFold(f[0], "$ORIGIN") {
			return f[1]
		}
	}
	base := file[strings.LastIndexAny(file, "/\\")+1:]
	return strings.TrimSuffix(base, ".zone") + "."
}
