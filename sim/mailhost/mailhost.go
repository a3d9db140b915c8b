// Package mailhost builds one mail host — MSA, MX, outbound queue, MDA,
// LMTP, POP3, IMAP — from a Config, and runs it. The simulation builds
// each mail host of a world with it (sim/world), and `mailhop serve`
// builds exactly one: the same wiring on both faces. What differs between
// them — the network, the clock, the store, the spool, the resolver, the
// limits — is a field of Config, never a second wiring.
//
// The services a host runs come from package service's table, chosen by
// the host's roles; Config.Listen says where each one listens.
package mailhost

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	mrand "math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/imap"
	"github.com/mailhop/mailhop/sim/listen"
	"github.com/mailhop/mailhop/sim/mailauth"
	"github.com/mailhop/mailhop/sim/mda"
	"github.com/mailhop/mailhop/sim/netx"
	"github.com/mailhop/mailhop/sim/pop3"
	"github.com/mailhop/mailhop/sim/queue"
	"github.com/mailhop/mailhop/sim/service"
	"github.com/mailhop/mailhop/sim/smtp"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// Roles of a mail host (a world file's roles, less mua and dns).
const (
	RoleMSA  = "msa"  // submission (587, 465) and the outbound queue
	RoleMX   = "mx"   // SMTP for the host's domains (25) and the queue
	RoleMDA  = "mda"  // files mail for its domains into its store
	RoleLMTP = "lmtp" // takes mail for its domains by LMTP (24) into its store
	RolePOP3 = "pop3" // POP3 (110, 995) on its store
	RoleIMAP = "imap" // IMAP (143, 993) on its store
)

// Config describes a mail host.
type Config struct {
	Hostname string
	Domains  []string // the mail domains it receives or keeps mailboxes for
	Roles    []string

	// Listen opens a service's listener, or returns nil, nil when the
	// service is off. The simulation listens on the service's port of the
	// host; `mailhop serve` on the address its flag gives.
	Listen func(service.Service) (net.Listener, error)
	// Net is what the queue dials on.
	Net   netx.Network
	Clock clock.Clock
	Trace *trace.Recorder

	// Users checks logins and says which addresses exist.
	Users auth.Users
	// Store keeps the mailboxes (roles mda, lmtp, pop3, imap).
	Store store.Store
	// Spool keeps the queue (roles msa, mx); Resolver finds MX hosts.
	Spool    queue.Spool
	Resolver queue.Resolver
	// MXPort is the port dialled on MX hosts (25).
	MXPort int
	// LMTP, when set, is where a host without the mda role hands its
	// domains' mail (an MX in front of a mailbox host).
	LMTP *queue.Route
	// Queue tunes the queue: retry schedule, lifetime, warning, first delay.
	Queue QueueSettings

	// TLS is the servers' TLS configuration (STARTTLS and implicit TLS);
	// ClientTLS the queue's, per server name.
	TLS       *tls.Config
	ClientTLS func(name string) *tls.Config

	// Limiter counts failed logins per client address for SMTP AUTH, POP3
	// and IMAP on every port alike.
	Limiter *auth.Limiter
	// InsecureAuth allows logins without TLS; StrictAuth refuses them even
	// from loopback. Strict makes SMTP follow RFC 5321's syntax exactly.
	InsecureAuth, StrictAuth, Strict bool
	// MaxMessageBytes bounds a message (SMTP SIZE, IMAP APPEND); 0: 10 MiB.
	MaxMessageBytes int64
	// Quota bounds what each user keeps (roles mda, lmtp, imap): a
	// delivery past it is deferred "mailbox full", an IMAP APPEND or COPY
	// refused [OVERQUOTA], and IMAP reports it (RFC 9208). Zero: none.
	Quota store.Quota
	// MaxConnections bounds each service's connections at once, and
	// MaxConnectionsPerAddr those of one client address (0: the
	// defaults of package listen; negative: no bound).
	MaxConnections        int
	MaxConnectionsPerAddr int
	// Rand gives the random part of the ids the servers make: a seeded
	// world repeats them. Nil: unseeded.
	Rand func() uint32
	// DKIM are the keys the MSA signs its domains' mail with (none: it
	// signs nothing).
	DKIM []DKIMKey
	// AuthResolver, when set, makes the MX check SPF, DKIM and DMARC on
	// mail from other hosts, asking it every DNS question; AuthRand
	// samples DMARC's pct= (nil: a fixed sequence).
	AuthResolver mailauth.Resolver
	AuthRand     *mrand.Rand
	// TrustedAuthServIDs are the hosts whose Authentication-Results the
	// MDA believes when it files quarantined mail into Junk (nil: this
	// host alone).
	TrustedAuthServIDs []string
	// Aliases are the local addresses whose mail is sent on instead of
	// filed, by address (any case): forwarded as it is, or copied to a
	// mailing list's members (see Alias). The MX and the MSA expand them
	// as they accept a message; an alias exists as a recipient.
	Aliases map[string]Alias
	// ErrorLog receives the IMAP server's errors (nil: the log package's)
	// and every server's accept failures (out of file descriptors), each
	// line led by the service's name.
	ErrorLog *log.Logger
}

// QueueSettings tune the outbound queue (zero: its defaults).
type QueueSettings struct {
	Schedule   []time.Duration
	Lifetime   time.Duration
	WarnAfter  time.Duration
	FirstDelay time.Duration
}

// Host is a running mail host.
type Host struct {
	cfg   Config
	Queue *queue.Queue // roles msa, mx
	MDA   *mda.MDA     // roles mda, lmtp

	services []running
	wg       sync.WaitGroup
	errs     chan error
}

// running is one service at work.
type running struct {
	svc      service.Service
	l        net.Listener
	serve    func(net.Listener) error
	shutdown func(context.Context)
}

// Has reports whether the host has a role.
func (c *Config) Has(role string) bool { return slices.Contains(c.Roles, role) }

// IsLocal reports whether a domain is one of the host's.
func (c *Config) IsLocal(domain string) bool {
	return slices.ContainsFunc(c.Domains, func(d string) bool { return strings.EqualFold(d, domain) })
}

// Exists reports whether an address is a user of one of the host's
// domains, or one of its aliases.
func (c *Config) Exists(addr string) bool {
	if _, ok := c.aliasOf(addr); ok {
		return true
	}
	a, ok := c.Users.Lookup(addr)
	if !ok {
		return false
	}
	i := strings.LastIndexByte(a, '@')
	return i >= 0 && c.IsLocal(a[i+1:])
}

// Services returns the services a host with these roles runs, in order.
func Services(roles []string) []service.Service {
	var out []service.Service
	for _, s := range service.All {
		if slices.Contains(roles, s.Role) {
			out = append(out, s)
		}
	}
	return out
}

// New builds a host: its queue and MDA, and a server on each of its
// services' listeners, which it opens (so that an address in use fails
// here, with nothing started). Start runs it.
func New(cfg Config) (_ *Host, err error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall{}
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = 10 << 20
	}
	if cfg.MXPort == 0 {
		cfg.MXPort = 25
	}
	h := &Host{cfg: cfg}
	defer func() {
		if err != nil {
			h.CloseListeners()
		}
	}()
	needStore := cfg.Has(RoleMDA) || cfg.Has(RoleLMTP) || cfg.Has(RolePOP3) || cfg.Has(RoleIMAP)
	if needStore && cfg.Store == nil {
		return nil, errors.New("mailhost: roles mda, lmtp, pop3 and imap need a store")
	}
	if cfg.Has(RoleMDA) || cfg.Has(RoleLMTP) {
		h.MDA = &mda.MDA{Hostname: cfg.Hostname, Store: cfg.Store, Clock: cfg.Clock, Trace: cfg.Trace, Exists: cfg.Exists, Folder: h.folder, Quota: cfg.Quota}
	}
	if cfg.Has(RoleMSA) || cfg.Has(RoleMX) {
		h.Queue = h.newQueue()
	}
	for _, svc := range Services(cfg.Roles) {
		l, err := cfg.Listen(svc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", svc.Name, err)
		}
		if l == nil {
			continue
		}
		r := h.server(svc)
		r.l = l
		h.services = append(h.services, r)
	}
	return h, nil
}

// Junk is the mailbox the MDA files quarantined mail into.
const Junk = "Junk"

// folder is the MDA's choice of mailbox: Junk for what DMARC quarantines
// (RFC 7489 §6.3), as a trusted MX recorded it; else the INBOX.
func (h *Host) folder(msg []byte) string {
	ids := h.cfg.TrustedAuthServIDs
	if ids == nil {
		ids = []string{h.cfg.Hostname}
	}
	trusted := func(id string) bool {
		return slices.ContainsFunc(ids, func(t string) bool { return strings.EqualFold(t, id) })
	}
	if Quarantined(msg, trusted) {
		return Junk
	}
	return ""
}

// newQueue wires the outbound queue: local domains go to the MDA (or by
// LMTP to the mailbox host), the rest to their MX hosts.
func (h *Host) newQueue() *queue.Queue {
	cfg := h.cfg
	q := &queue.Queue{
		Hostname: cfg.Hostname, Net: cfg.Net, Clock: cfg.Clock, Trace: cfg.Trace, Spool: cfg.Spool,
		Resolver: cfg.Resolver, MXPort: cfg.MXPort, ClientTLS: cfg.ClientTLS,
		Schedule: cfg.Queue.Schedule, Lifetime: cfg.Queue.Lifetime, WarnAfter: cfg.Queue.WarnAfter,
		FirstDelay: cfg.Queue.FirstDelay,
	}
	if q.WarnAfter == 0 {
		q.WarnAfter = queue.DefaultWarnAfter
	}
	q.Route = func(domain string) queue.Route {
		switch {
		case cfg.IsLocal(domain) && h.MDA != nil && cfg.Has(RoleMDA):
			return queue.Route{Kind: queue.RouteLocal}
		case cfg.IsLocal(domain) && cfg.LMTP != nil:
			return *cfg.LMTP
		}
		return queue.Route{Kind: queue.RouteMX}
	}
	if h.MDA != nil {
		m := h.MDA
		q.Local = func(ctx context.Context, env *queue.Envelope, rcpt string, body []byte) error {
			return m.Deliver(ctx, env.From, rcpt, body)
		}
	}
	return q
}

// server makes the server of one service. STARTTLS (STLS) is offered only
// where TLS is not implicit.
func (h *Host) server(svc service.Service) running {
	cfg := h.cfg
	var starttls *tls.Config
	if !svc.ImplicitTLS {
		starttls = cfg.TLS
	}
	r := running{svc: svc}
	switch svc.Proto {
	case "smtp", "lmtp":
		s := &smtp.Server{
			Hostname: cfg.Hostname, IsLocal: cfg.IsLocal, Recipient: cfg.Exists, Clock: cfg.Clock, Trace: cfg.Trace,
			Strict: cfg.Strict, Rand: cfg.Rand, MaxMessageBytes: cfg.MaxMessageBytes,
			MaxConnections: cfg.MaxConnections, MaxConnectionsPerAddr: cfg.MaxConnectionsPerAddr, ErrorLog: h.serviceLog(svc),
		}
		switch svc.Name {
		case "lmtp":
			s.Mode, s.Deliver = smtp.LMTP, h.MDA
		default:
			s.Mode = smtp.Submission
			if svc.Role == RoleMX {
				s.Mode = smtp.MX
			}
			s.Users, s.Queue, s.TLSConfig, s.ImplicitTLS = cfg.Users, h.enqueuer(), cfg.TLS, svc.ImplicitTLS
			s.InsecureAuth, s.StrictAuth, s.Limiter = cfg.InsecureAuth, cfg.StrictAuth, cfg.Limiter
			if s.Mode == smtp.Submission && len(cfg.DKIM) > 0 {
				s.Sign = h.signer()
			}
			if s.Mode == smtp.MX && cfg.AuthResolver != nil {
				s.Check = h.checker()
			}
		}
		r.serve = s.Serve
		r.shutdown = func(ctx context.Context) {
			s.Shutdown(ctx)
			s.Close()
		}
	case "pop3":
		s := &pop3.Server{Hostname: cfg.Hostname, Store: cfg.Store, Users: cfg.Users, TLSConfig: starttls,
			InsecureAuth: cfg.InsecureAuth, Clock: cfg.Clock, Trace: cfg.Trace, Limiter: cfg.Limiter, Rand: cfg.Rand,
			MaxConnections: cfg.MaxConnections, MaxConnectionsPerAddr: cfg.MaxConnectionsPerAddr, ErrorLog: h.serviceLog(svc)}
		r.serve = h.tlsServe(svc, s.Serve)
		r.shutdown = func(ctx context.Context) { s.Shutdown(ctx) }
	case "imap":
		s := &imap.Server{Hostname: cfg.Hostname, Store: cfg.Store, Users: cfg.Users, TLSConfig: starttls,
			InsecureAuth: cfg.InsecureAuth, Clock: cfg.Clock, Trace: cfg.Trace, Limiter: cfg.Limiter,
			ErrorLog: h.serviceLog(svc), MaxLiteralSize: cfg.MaxMessageBytes, Quota: cfg.Quota,
			MaxConnections: cfg.MaxConnections, MaxConnectionsPerAddr: cfg.MaxConnectionsPerAddr}
		r.serve = h.tlsServe(svc, s.Serve)
		r.shutdown = func(ctx context.Context) { s.Shutdown(ctx) }
	}
	return r
}

// serviceLog is where a service's server logs (accepting fails, out of
// file descriptors, and works again; IMAP's errors): ErrorLog, each line
// led by the service's name; nil without an ErrorLog.
func (h *Host) serviceLog(svc service.Service) listen.Logger {
	if h.cfg.ErrorLog == nil {
		return nil
	}
	return prefixLog{h.cfg.ErrorLog, svc.Name + ": "}
}

type prefixLog struct {
	l      *log.Logger
	prefix string
}

func (p prefixLog) Printf(format string, v ...any) { p.l.Printf(p.prefix+format, v...) }

// tlsServe wraps a listener in TLS for an implicit-TLS service (the SMTP
// server does its own handshake, and reports it).
func (h *Host) tlsServe(svc service.Service, serve func(net.Listener) error) func(net.Listener) error {
	if !svc.ImplicitTLS {
		return serve
	}
	return func(l net.Listener) error { return serve(tls.NewListener(l, h.cfg.TLS)) }
}

// Start starts the queue (recovering what its spool holds) and serves
// every service. A service that stops with an error other than being
// closed is reported on Errors.
func (h *Host) Start(ctx context.Context) error {
	if h.Queue != nil {
		if err := h.Queue.Start(ctx); err != nil {
			h.CloseListeners()
			return err
		}
	}
	h.errs = make(chan error, len(h.services))
	for _, r := range h.services {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			if err := r.serve(r.l); err != nil && !closed(err) {
				h.errs <- fmt.Errorf("%s: %w", r.svc.Name, err)
			}
		}()
	}
	return nil
}

// Errors carries the errors of services that stopped by themselves.
func (h *Host) Errors() <-chan error { return h.errs }

// Listeners returns the listener of each service that runs, by name.
func (h *Host) Listeners() map[string]net.Listener {
	out := map[string]net.Listener{}
	for _, r := range h.services {
		out[r.svc.Name] = r.l
	}
	return out
}

// Shutdown stops accepting, lets sessions finish until ctx ends, then
// stops the queue.
func (h *Host) Shutdown(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range h.services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.shutdown(ctx)
		}()
	}
	wg.Wait()
	h.CloseListeners()
	h.wg.Wait()
	if h.Queue != nil {
		h.Queue.Stop()
	}
}

// CloseListeners closes every service's listener (Shutdown does; a host
// that New built but that never started needs it).
func (h *Host) CloseListeners() {
	for _, r := range h.services {
		r.l.Close()
	}
}

// closed reports a service stopped on purpose: every server's closed
// error is listen's one ErrServerClosed.
func closed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, listen.ErrServerClosed)
}
