package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/dns"
	"github.com/mailhop/mailhop/sim/listen"
	"github.com/mailhop/mailhop/sim/mailauth"
	"github.com/mailhop/mailhop/sim/mailhost"
	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/queue"
	"github.com/mailhop/mailhop/sim/queue/filespool"
	"github.com/mailhop/mailhop/sim/service"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/store/maildir"
	"github.com/mailhop/mailhop/sim/trace"
)

func init() {
	register(command{name: "serve", summary: "run a real mail server (SMTP, submission, IMAP, POP3) on real sockets", run: runServe})
}

// serveConfig is what the flags of `mailhop serve` say.
type serveConfig struct {
	hostname     string
	domains      listFlag
	data         string
	users        listFlag // EMAIL:PASSWORD
	usersFile    string
	listen       map[string]*string // flag name → address
	resolver     string
	mxPort       int
	tlsCert      string
	tlsKey       string
	insecureAuth bool
	strict       bool
	schedule     scheduleFlag
	lifetime     time.Duration
	ui           string
	uiOrigin     string
	uiMaxSubs    int           // live view: followers of /events at once
	uiWriteWait  time.Duration // live view: how long a follower may take to accept an event
	logFormat    string
	traceLog     string
	shutdown     time.Duration
	maxConns     int
	maxPerAddr   int
	maxMessage   int64
	quota        store.Quota
	cpuProfile   string
	noAuthChecks bool // the MX checks no SPF, DKIM or DMARC
	printDNS     bool // print the DNS records to publish and exit

	// --acme: the certificate from an ACME CA (serve_acme.go).
	acme          bool
	acmeEmail     string
	acmeDirectory string
	acmeHTTP      string
	acmeRoots     string
}

// The listening flags, in the order they are started and logged.
var listenFlags = []struct{ name, def, usage string }{
	{"smtp", ":25", "inbound MX (SMTP, STARTTLS): mail for the --domain domains only; never relays without AUTH"},
	{"submission", ":587", "message submission (STARTTLS, AUTH required): relays anywhere"},
	{"submissions", ":465", "message submission over implicit TLS (AUTH required)"},
	{"imap", ":143", "IMAP (STARTTLS)"},
	{"imaps", ":993", "IMAP over implicit TLS"},
	{"pop3", ":110", "POP3 (STLS)"},
	{"pop3s", ":995", "POP3 over implicit TLS"},
	{"lmtp", "", "LMTP (RFC 2033) into the mailboxes, for a trusted MTA in front; no TLS, no AUTH: keep it on loopback"},
}

// scheduleFlag is a comma-separated list of durations.
type scheduleFlag []time.Duration

func (s *scheduleFlag) String() string {
	parts := make([]string, len(*s))
	for i, d := range *s {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

func (s *scheduleFlag) Set(v string) error {
	var out []time.Duration
	for _, p := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil {
			return err
		}
		if d <= 0 {
			return fmt.Errorf("%s: a delay must be positive", p)
		}
		out = append(out, d)
	}
	*s = out
	return nil
}

func serveFlags(stderr io.Writer) (*flag.FlagSet, *serveConfig) {
	fs := newFlags("serve", stderr)
	c := &serveConfig{listen: map[string]*string{}}
	fs.StringVar(&c.hostname, "hostname", "", "this server's host name: in greetings, Received headers, the certificate (required)")
	fs.Var(&c.domains, "domain", "a mail domain this server receives and keeps mail for; may repeat (at least one)")
	fs.StringVar(&c.data, "data", "", "directory for the mailboxes (DIR/mail), the queue spool (DIR/spool) and the TLS certificate (DIR/tls) (required)")
	fs.Var(&c.users, "user", "a user as EMAIL:PASSWORD (quick start; the password is kept in memory only); may repeat")
	fs.StringVar(&c.usersFile, "users", "", "a users file: lines EMAIL:BCRYPT-HASH as `mailhop passwd` prints them (re-read on SIGHUP)")
	for _, l := range listenFlags {
		c.listen[l.name] = fs.String(l.name, l.def, l.usage+" (\"\" to turn off)")
	}
	fs.StringVar(&c.resolver, "resolver", "", "the DNS server asked for MX records and by the SPF, DKIM and DMARC checks, HOST[:PORT] (default: the nameservers of /etc/resolv.conf)")
	fs.IntVar(&c.mxPort, "mx-port", 25, "the port dialled on remote mail exchangers")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate chain (PEM); without it a self-signed certificate for --hostname is made once in DIR/tls")
	fs.StringVar(&c.tlsKey, "tls-key", "", "the private key of --tls-cert (PEM)")
	fs.BoolVar(&c.acme, "acme", false, "obtain and renew the certificate of --hostname from an ACME CA (Let's Encrypt by default), kept in DIR/acme; accepts the CA's terms of service; not with --tls-cert")
	fs.StringVar(&c.acmeEmail, "acme-email", "", "with --acme: the `ADDRESS` the CA knows the account by (required)")
	fs.StringVar(&c.acmeDirectory, "acme-directory", "production", "with --acme: the CA's directory `URL`; production and staging are Let's Encrypt's")
	fs.StringVar(&c.acmeHTTP, "acme-http", ":80", "with --acme: answer the CA's HTTP-01 challenges on `ADDR` (the CA connects to port 80); \"\": TLS-ALPN-01 on --submissions, --imaps or --pop3s instead (the CA connects to port 443)")
	fs.StringVar(&c.acmeRoots, "acme-roots", "", "with --acme: a `FILE` of PEM certificates trusted for the HTTPS of --acme-directory instead of the system's roots (a private or test CA)")
	fs.BoolVar(&c.strict, "strict", false, "SMTP follows RFC 5321 to the letter and says what is wrong (MAIL FROM:<address> with angle brackets, no nested MAIL, EHLO with a name, SMTPUTF8 for non-ASCII addresses); without it, Postfix's tolerant defaults")
	fs.BoolVar(&c.insecureAuth, "insecure-auth", false, "allow passwords on unencrypted connections (for teaching on localhost); without it AUTH is offered only after STARTTLS")
	c.schedule = scheduleFlag{5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour}
	fs.Var(&c.schedule, "retry-schedule", "the delays between delivery attempts, comma separated; the last one repeats")
	fs.DurationVar(&c.lifetime, "queue-lifetime", 120*time.Hour, "how long a message may wait in the queue before it is returned to its sender")
	fs.StringVar(&c.ui, "ui", "", "serves the live view on http://ADDR/: the page following this server (/live), its trace as Server-Sent Events (/events; JSON lines with ?format=jsonl) and its state (/state)")
	fs.IntVar(&c.uiMaxSubs, "ui-max-followers", 64, "followers of the live view's /events at once; more get 503")
	fs.DurationVar(&c.uiWriteWait, "ui-write-timeout", 10*time.Second, "a follower of /events that takes no event for this long is disconnected")
	fs.StringVar(&c.uiOrigin, "ui-origin", "", "a web origin allowed to read the live view from a page of its own (CORS), e.g. http://127.0.0.1:8080")
	fs.StringVar(&c.logFormat, "log-format", "text", "log lines as text or json")
	fs.StringVar(&c.traceLog, "trace-log", "", "append every trace event, protocol lines included, as JSON lines to FILE (\"-\": standard output)")
	fs.DurationVar(&c.shutdown, "shutdown-timeout", 30*time.Second, "on SIGTERM or SIGINT, how long sessions may take to finish")
	fs.IntVar(&c.maxConns, "max-connections", 2000, "connections served at once on each port; more are answered try-again-later (SMTP 421, POP3 -ERR [SYS/TEMP], IMAP BYE [UNAVAILABLE]) and closed; -1: no bound")
	fs.IntVar(&c.maxPerAddr, "max-connections-per-address", listen.DefaultMaxConnsPerAddr, "connections served at once on each port to one client IP address; more are refused as over --max-connections; -1: no bound")
	fs.Int64Var(&c.maxMessage, "max-message-size", 25<<20, "the largest message accepted, in bytes")
	fs.Int64Var(&c.quota.Storage, "quota-storage", 0, "the bytes each user may keep in all their mailboxes; mail past it is deferred (452 4.2.2 mailbox full) and IMAP APPEND refused [OVERQUOTA]; 0: no bound")
	fs.Int64Var(&c.quota.Messages, "quota-messages", 0, "the messages each user may keep in all their mailboxes, bounded as --quota-storage; 0: no bound")
	fs.BoolVar(&c.noAuthChecks, "no-auth-checks", false, "the MX checks no SPF, DKIM or DMARC on mail from other hosts (for closed test setups without DNS); the submission ports still sign with DKIM")
	fs.BoolVar(&c.printDNS, "print-dns", false, "print the DNS records to publish for each --domain (MX, SPF, DKIM, DMARC) in zone-file syntax and exit; makes the DKIM keys in DIR/dkim if missing")
	fs.StringVar(&c.cpuProfile, "cpu-profile", "", "write a CPU profile (go tool pprof) to FILE until the server stops")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailhop serve --hostname NAME --domain DOMAIN [--domain ...] --data DIR")
		fmt.Fprintln(stderr, "         [--user EMAIL:PASSWORD ...] [--users FILE] [--smtp ADDR] [--submission ADDR] ...")
		fmt.Fprintln(stderr, "       mailhop serve --hostname NAME --domain DOMAIN [--domain ...] --data DIR --print-dns")
		fmt.Fprintln(stderr, "Runs a real mail server: inbound MX, submission, outbound queue, Maildir mailboxes, IMAP and POP3.")
		fmt.Fprintln(stderr, "The MSA signs with DKIM (keys in DIR/dkim), the MX checks SPF, DKIM and DMARC.")
		fs.PrintDefaults()
	}
	return fs, c
}

func runServe(args []string, stdout, stderr io.Writer) error {
	fs, c := serveFlags(stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		fmt.Fprintf(stderr, "mailhop serve: %v (see mailhop serve -h)\n", err)
		return errUsage
	}
	if c.printDNS {
		return printDNS(c, stdout, newLogger(c, stderr))
	}
	srv, err := newServer(c, stdout, stderr)
	if err != nil {
		return err
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			srv.closeAll()
			return fmt.Errorf("--cpu-profile: %w", err)
		}
		pprof.StartCPUProfile(f)
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	// When a burst of connections ends (2,000 idle SMTP connections
	// take some 60 MB), give the memory back to the OS at once: the Go
	// runtime would keep it for minutes (see package listen).
	listen.ReleaseAfterBurst(256)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			srv.reloadUsers()
		}
	}()
	return srv.run(ctx)
}

// check validates the flags that parse can not.
func (c *serveConfig) check() error {
	switch {
	case c.hostname == "":
		return errors.New("--hostname is required")
	case len(c.domains) == 0:
		return errors.New("at least one --domain is required")
	case c.data == "":
		return errors.New("--data is required")
	case c.acme && (c.tlsCert != "" || c.tlsKey != ""):
		return errors.New("--acme and --tls-cert/--tls-key exclude each other: with --acme the certificate comes from the ACME CA")
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case c.mxPort <= 0 || c.mxPort > 65535:
		return fmt.Errorf("--mx-port %d is not a port", c.mxPort)
	case c.lifetime <= 0:
		return errors.New("--queue-lifetime must be positive")
	case c.logFormat != "text" && c.logFormat != "json":
		return fmt.Errorf("--log-format %q: want text or json", c.logFormat)
	case strings.ContainsAny(c.hostname, " /\\:@\t\r\n"):
		return fmt.Errorf("--hostname %q is not a host name", c.hostname)
	case c.quota.Storage < 0 || c.quota.Messages < 0:
		return errors.New("--quota-storage and --quota-messages must not be negative (0: no bound)")
	}
	for i, d := range c.domains {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if d == "" || strings.ContainsAny(d, " /\\:@\t\r\n") || strings.HasPrefix(d, ".") {
			return fmt.Errorf("--domain %q is not a domain", c.domains[i])
		}
		c.domains[i] = d
	}
	if err := c.checkACME(); err != nil {
		return err
	}
	for _, u := range c.users {
		addr, pass, ok := strings.Cut(u, ":")
		if !ok || pass == "" || !strings.Contains(addr, "@") {
			return fmt.Errorf("--user %q: want EMAIL:PASSWORD", u)
		}
		if !slices.Contains(c.domains, domainOfAddr(addr)) {
			return fmt.Errorf("--user %s: its domain is not one of --domain %s", addr, strings.Join(c.domains, ", "))
		}
	}
	for name, addr := range c.listen {
		if *addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(*addr); err != nil {
			return fmt.Errorf("--%s %q: want HOST:PORT or :PORT", name, *addr)
		}
	}
	return nil
}

func domainOfAddr(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}

// server is a running `mailhop serve`.
type server struct {
	c     *serveConfig
	log   *slog.Logger
	rec   *trace.Recorder
	users *userSet
	store *maildir.Store
	spool *filespool.Spool
	tls   *tls.Config
	acme  *acmeCerts // with --acme
	net   *netx.Real
	host  *mailhost.Host
	// resolvers are the DNS servers asked for MX records, and by the
	// MX's SPF, DKIM and DMARC checks.
	resolvers []string
	// dkim are the keys the MSA signs with, and their files.
	dkim []dkimFile
	// traceOut writes every event to --trace-log.
	traceOut *traceWriter
	closes   []func() // after the host stopped
}

// newServer opens everything `mailhop serve` needs, failing with a
// one-line reason: the data directory, the users, the certificate, every
// listening socket. Nothing is served yet.
func newServer(c *serveConfig, stdout, stderr io.Writer) (_ *server, err error) {
	s := &server{c: c}
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	s.log = newLogger(c, stderr)
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		return nil, fmt.Errorf("--data %s: %w", c.data, err)
	}
	s.rec = trace.NewRecorder(time.Now, 20000)
	s.rec.SetAnnotator(newRedactor().annotate)
	if s.users, err = loadUsers(c); err != nil {
		return nil, err
	}
	st, err := maildir.Open(filepath.Join(c.data, "mail"), maildir.Options{Hostname: c.hostname})
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	s.store = st
	s.closes = append(s.closes, func() { st.Close() })
	for _, addr := range s.users.get().Addresses() {
		if err := st.AddUser(addr); err != nil {
			return nil, fmt.Errorf("mailbox of %s: %w", addr, err)
		}
	}
	if err := s.setupTLS(); err != nil {
		return nil, err
	}
	if s.dkim, err = loadDKIMKeys(c.data, c.domains); err != nil {
		return nil, err
	}
	// Protocol lines reach the trace only when someone reads them.
	s.net = &netx.Real{Hostname: c.hostname, Describe: func(_ string, msg []byte) string { return dns.DescribePacket(msg) }}
	if c.ui != "" || c.traceLog != "" {
		s.net.Trace = s.rec
	}
	s.net.Speaks(c.mxPort, "smtp")
	sp, err := filespool.Open(filepath.Join(c.data, "spool"), filespool.Options{})
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	s.spool = sp
	s.closes = append(s.closes, func() { sp.Close() })
	if err := s.newHost(); err != nil {
		return nil, err
	}
	if len(s.host.Listeners()) == 0 {
		return nil, errors.New("every listening flag is off: nothing to serve")
	}
	if c.traceLog != "" {
		if err := s.startTraceLog(stdout); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// newLogger makes the log of --log-format on stderr. Lines about each
// message may wait a moment to be written together (see lineBuffer).
func newLogger(c *serveConfig, stderr io.Writer) *slog.Logger {
	buf := newLineBuffer(stderr)
	var h slog.Handler = slog.NewTextHandler(buf, nil)
	if c.logFormat == "json" {
		h = slog.NewJSONHandler(buf, nil)
	}
	return slog.New(flushingHandler{h, buf})
}

func unwrapOpError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			return sys.Err
		}
		return op.Err
	}
	return err
}

// closeAll releases what newServer opened.
func (s *server) closeAll() {
	if s.host != nil {
		s.host.CloseListeners()
	}
	for i := len(s.closes) - 1; i >= 0; i-- {
		s.closes[i]()
	}
	s.closes = nil
}

// run starts the queue and the servers, and stops them when ctx ends.
func (s *server) run(ctx context.Context) error {
	c := s.c
	logDone := s.startLogging()
	if err := s.host.Start(context.Background()); err != nil {
		s.closeAll()
		return err
	}
	// Said once the server starts: a start that fails says one thing.
	logDKIMKeys(s.log, s.dkim, "DKIM key created: publish its record (mailhop serve --print-dns)")
	if n := s.host.Queue.Len(); n > 0 {
		s.log.Info("queue recovered", "messages", n)
	}
	for name, l := range s.host.Listeners() {
		s.log.Info("listening", "service", name, "addr", l.Addr().String())
	}
	if s.acme != nil {
		s.acme.start()
	}
	go func() {
		for err := range s.host.Errors() {
			s.log.Error("serving stopped", "err", err)
		}
	}()
	var ui *uiServer
	if c.ui != "" {
		var err error
		if ui, err = s.startUI(); err != nil {
			s.stopAll()
			return err
		}
	}
	s.log.Info("serving", "hostname", c.hostname, "domains", strings.Join(c.domains, ","), "data", c.data,
		"users", len(s.users.get().Addresses()), "resolver", strings.Join(s.resolvers, ","),
		"dkim_keys", len(s.dkim), "auth_checks", !c.noAuthChecks)

	<-ctx.Done()
	s.log.Info("stopping: no new connections; sessions may finish", "within", c.shutdown)
	if ui != nil {
		ui.close()
	}
	s.stopAll()
	logDone()
	s.log.Info("stopped")
	return nil
}

// stopAll stops accepting, lets sessions finish within the shutdown
// timeout, then stops the queue and closes the spool and the store.
func (s *server) stopAll() {
	ctx, cancel := context.WithTimeout(context.Background(), s.c.shutdown)
	defer cancel()
	if s.host != nil {
		s.host.Shutdown(ctx)
	}
	s.closeAll()
}

// newHost builds the one mail host `mailhop serve` runs, with sim/mailhost
// as the simulation builds each of its hosts: every listening flag's
// socket is opened here, so that an address in use fails at start.
func (s *server) newHost() error {
	c := s.c
	s.resolvers = []string{c.resolver}
	if c.resolver == "" {
		s.resolvers = systemResolvers()
	} else if _, _, err := net.SplitHostPort(c.resolver); err != nil {
		s.resolvers = []string{net.JoinHostPort(c.resolver, "53")}
	}
	for _, r := range s.resolvers {
		if _, p, err := net.SplitHostPort(r); err == nil {
			port, _ := strconv.Atoi(p)
			s.net.Speaks(port, "dns")
		}
	}
	res := &dns.Resolver{Net: s.net, Servers: s.resolvers, Trace: s.rec, Host: c.hostname, UDPSize: 1232}
	roles := []string{mailhost.RoleMSA, mailhost.RoleMX, mailhost.RoleMDA, mailhost.RoleLMTP, mailhost.RolePOP3, mailhost.RoleIMAP}
	cfg := mailhost.Config{
		Hostname: c.hostname, Domains: c.domains, Roles: roles,
		Listen: func(svc service.Service) (net.Listener, error) {
			addr := *c.listen[svc.Name]
			if addr == "" {
				return nil, nil
			}
			if _, p, err := net.SplitHostPort(addr); err == nil {
				port, _ := strconv.Atoi(p)
				s.net.Speaks(port, svc.Proto)
			}
			listen := s.net.Listen
			if svc.Proto == "smtp" || svc.Proto == "lmtp" {
				listen = s.net.ListenNoKeepAlive // sessions bounded by the SMTP timeouts
			}
			l, err := listen("tcp", addr)
			if err != nil {
				return nil, fmt.Errorf("--%s %s: %w", svc.Name, addr, unwrapOpError(err))
			}
			return l, nil
		},
		Net: s.net, Clock: clock.Wall{}, Trace: s.rec, Users: s.users, Store: s.store, Spool: s.spool,
		Resolver: queue.DNS(res),
		MXPort:   c.mxPort,
		DKIM:     signingKeys(s.dkim),
		Queue:    mailhost.QueueSettings{Schedule: c.schedule, Lifetime: c.lifetime},
		TLS:      s.tls,
		// RFC 3207 §4 and RFC 7435: opportunistic TLS between MTAs, the
		// certificate not checked (there is no name to check it against
		// without DANE or MTA-STS).
		ClientTLS: func(name string) *tls.Config {
			return &tls.Config{ServerName: name, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
		},
		// One login limiter for SMTP AUTH, POP3 and IMAP on every port: a
		// guess on one counts on the others (README: 10, then refused).
		Limiter:      &auth.Limiter{Clock: clock.Wall{}},
		InsecureAuth: c.insecureAuth, StrictAuth: true, Strict: c.strict,
		MaxMessageBytes: c.maxMessage, MaxConnections: c.maxConns, MaxConnectionsPerAddr: c.maxPerAddr,
		Quota:    c.quota,
		ErrorLog: log.New(&slogWriter{log: s.log}, "", 0),
	}
	if !c.noAuthChecks {
		// The MX asks the queue's DNS servers for SPF, DKIM and DMARC
		// records: one resolver, every question in the trace.
		cfg.AuthResolver = mailauth.FromExchanger(res)
		cfg.AuthRand = mrand.New(mrand.NewPCG(mrand.Uint64(), mrand.Uint64()))
	}
	h, err := mailhost.New(cfg)
	if err != nil {
		return err
	}
	s.host = h
	return nil
}

// slogWriter turns a *log.Logger's lines into log events. A line led by
// a service's name and a colon ("smtp: accept on ...", as sim/mailhost
// and the IMAP server write them) is the service's.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	msg, svc := strings.TrimSpace(string(p)), ""
	if name, rest, ok := strings.Cut(msg, ": "); ok {
		if _, known := service.Named(name); known {
			msg, svc = rest, name
		}
	}
	w.log.Warn(msg, "service", svc)
	return len(p), nil
}

// systemResolvers reads the nameservers of /etc/resolv.conf.
func systemResolvers() []string {
	f, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return []string{"127.0.0.1:53"}
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			host, _, _ := strings.Cut(fields[1], "%") // no zone ids
			out = append(out, net.JoinHostPort(host, "53"))
		}
	}
	if len(out) == 0 {
		return []string{"127.0.0.1:53"}
	}
	return out
}

// userSet is the server's users, swapped whole when the users file is
// read again (SIGHUP).
type userSet struct {
	p atomic.Pointer[auth.Directory]
}

var _ auth.Users = (*userSet)(nil)

func (u *userSet) get() *auth.Directory { return u.p.Load() }

// Addresses lists the users' addresses (the postmaster's mailbox is
// chosen among them).
func (u *userSet) Addresses() []string { return u.get().Addresses() }

func (u *userSet) Authenticate(login, password string) (string, error) {
	return u.get().Authenticate(login, password)
}
func (u *userSet) Lookup(login string) (string, bool) { return u.get().Lookup(login) }
func (u *userSet) Secret(addr string) (string, bool)  { return u.get().Secret(addr) }

// loadUsers reads --user and --users into a directory.
func loadUsers(c *serveConfig) (*userSet, error) {
	d := auth.NewDirectory("")
	if len(c.domains) == 1 {
		d.Domain = c.domains[0]
	}
	if c.usersFile != "" {
		f, err := os.Open(c.usersFile)
		if err != nil {
			return nil, fmt.Errorf("--users: %w", err)
		}
		err = d.ReadFile(f, c.usersFile)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--users: %w", err)
		}
		for _, a := range d.Addresses() {
			if !slices.Contains(c.domains, domainOfAddr(a)) {
				return nil, fmt.Errorf("--users %s: %s is not in a --domain", c.usersFile, a)
			}
		}
	}
	for _, u := range c.users {
		addr, pass, _ := strings.Cut(u, ":")
		if err := d.Add(addr, pass); err != nil {
			return nil, fmt.Errorf("--user: %w", err)
		}
	}
	us := &userSet{}
	us.p.Store(d)
	return us, nil
}

// reloadUsers reads the users again (SIGHUP) and creates the mailboxes of
// new users; on error the old users stay.
func (s *server) reloadUsers() {
	us, err := loadUsers(s.c)
	if err != nil {
		s.log.Error("SIGHUP: users not reloaded", "err", err)
		return
	}
	for _, a := range us.get().Addresses() {
		if err := s.store.AddUser(a); err != nil {
			s.log.Error("SIGHUP: users not reloaded", "err", err)
			return
		}
	}
	s.users.p.Store(us.get())
	s.log.Info("users reloaded", "users", len(us.get().Addresses()))
}
