// Package world builds a mail world on the simulated network: every host
// of a world file with its agents — MSA, MX, queue, DNS, MDA, LMTP, POP3,
// IMAP — on a virtual clock, reporting to one trace. Each mail host is
// built by sim/mailhost, as `mailhop serve` builds its own; the world adds
// what only a simulation has: the network, its DNS servers and CA, the
// seed, the faults. The default world is
// design §3's: alice@example.org writes to bob@example.net.
package world

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/dns"
	"github.com/mailhop/mailhop/sim/explain"
	"github.com/mailhop/mailhop/sim/mailauth"
	"github.com/mailhop/mailhop/sim/mailhost"
	"github.com/mailhop/mailhop/sim/mda"
	"github.com/mailhop/mailhop/sim/mua"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/pki"
	"github.com/mailhop/mailhop/sim/queue"
	"github.com/mailhop/mailhop/sim/service"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// portOf returns a service's port, from the one table (package service).
func portOf(name string) int {
	s, ok := service.Named(name)
	if !ok {
		panic("world: no service " + name)
	}
	return s.Port
}

// DefaultStart is when a world's clock starts unless its file says.
var DefaultStart = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// DefaultSeed is a world's seed unless its file or the caller says.
const DefaultSeed = 1

// World is a running simulated world.
type World struct {
	Spec  *Spec
	Clock *clock.Virtual
	Trace *trace.Recorder
	Net   *netsim.Network
	CA    *pki.CA
	Hosts map[string]*Host

	firstDelay time.Duration
	dkim       []mailhost.DKIMKey // every msa host's signing keys, from the seed

	summaryMu sync.Mutex
	summaries map[summaryKey]summary // header summaries of stored messages, for State

	mu      sync.Mutex
	faults  []Fault
	closers []func()
}

// Host is one machine of a world and the agents running on it.
type Host struct {
	Spec     HostSpec
	Net      *netsim.Host
	Users    *auth.Directory // users of the host's domains
	Store    store.Store     // mailboxes (mda, lmtp)
	Queue    *queue.Queue    // outbound queue (msa, mx)
	DNS      *dns.Server     // (dns)
	Resolver *dns.Resolver
	MDA      *mda.MDA

	rand func() uint32 // the host's seeded randomness (ids)
	// clientRand is the seeded randomness of the host's mail client
	// (Message-IDs), apart from rand so that the servers' draws stay
	// the same whatever the client does.
	clientRand func() uint32
}

// Option tunes how a world is built.
type Option func(*options)

type options struct {
	traceLimit int
	traceSink  func(trace.Event)
	firstDelay time.Duration
}

// QueueDelay sets how long a queued message waits for its first attempt
// (a millisecond by default, on the world's clock: it lets the trace read
// in order; 0 starts at once, for runs that do not move the clock).
func QueueDelay(d time.Duration) Option { return func(o *options) { o.firstDelay = d } }

// TraceLimit keeps only about the newest n events of the trace (0: all),
// for long runs and bursts.
func TraceLimit(n int) Option { return func(o *options) { o.traceLimit = n } }

// TraceSink has every event of the trace given to f as it is recorded,
// from the world's first (trace.Recorder.SetSink: f runs under the
// recorder's lock and must be quick). With TraceLimit, it is how a long
// run keeps its whole story while the trace keeps only its end.
func TraceSink(f func(trace.Event)) Option { return func(o *options) { o.traceSink = f } }

// New builds and starts a world.
func New(spec *Spec, opts ...Option) (*World, error) {
	o := options{firstDelay: time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	if err := spec.Check(); err != nil {
		return nil, err
	}
	start := spec.Start
	if start.IsZero() {
		start = DefaultStart
	}
	w := &World{Spec: spec, Clock: clock.NewVirtual(start), Hosts: map[string]*Host{}, firstDelay: o.firstDelay}
	w.Trace = trace.NewRecorder(w.Clock.Now, o.traceLimit)
	if o.traceSink != nil {
		w.Trace.SetSink(o.traceSink)
	}
	w.Trace.SetExplainer(explain.Explain)
	w.Net = netsim.New(w.Clock, w.Trace)
	describe := dns.PacketDescriber()
	w.Net.DescribePacket = func(proto string, b []byte) string {
		if proto == "dns" {
			return describe(b)
		}
		return ""
	}
	ca, err := pki.NewCA("mailhop world CA", w.Seed())
	if err != nil {
		return nil, err
	}
	w.CA = ca
	for _, hs := range spec.Hosts {
		nh, err := w.Net.AddHost(hs.Name, hs.Addrs...)
		if err != nil {
			return nil, err
		}
		w.Hosts[hs.Name] = &Host{Spec: hs, Net: nh, rand: seededRand(w.Seed(), hs.Name),
			clientRand: seededRand(w.Seed(), "mua\x00"+hs.Name)}
	}
	w.dkim = w.dkimKeys()
	// DNS first: the queues need it. A zone that several servers serve
	// is read once: a zone is not changed once loaded.
	zones := map[string]*dns.Zone{}
	for _, h := range w.hostsWith("dns") {
		if err := w.startDNS(h, zones); err != nil {
			w.Close()
			return nil, err
		}
	}
	for _, hs := range spec.Hosts {
		h := w.Hosts[hs.Name]
		if err := w.startMail(h); err != nil {
			w.Close()
			return nil, fmt.Errorf("host %s: %w", hs.Name, err)
		}
	}
	for _, f := range spec.Faults {
		if err := w.Fault(f); err != nil {
			w.Close()
			return nil, err
		}
	}
	return w, nil
}

func (w *World) hostsWith(role string) []*Host {
	var out []*Host
	for _, hs := range w.Spec.Hosts {
		if hs.Has(role) {
			out = append(out, w.Hosts[hs.Name])
		}
	}
	return out
}

func (w *World) onClose(f func()) {
	w.mu.Lock()
	w.closers = append(w.closers, f)
	w.mu.Unlock()
}

// Close stops every agent of the world.
func (w *World) Close() {
	w.mu.Lock()
	cs := w.closers
	w.closers = nil
	w.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

// startDNS starts a dns host's server with its zones, taking those
// already read from loaded (and adding those it reads).
func (w *World) startDNS(h *Host, loaded map[string]*dns.Zone) error {
	srv := &dns.Server{Name: h.Spec.Name, ClosedWorld: true}
	for _, name := range h.Spec.Zones {
		z := loaded[name]
		if z == nil {
			var err error
			z, err = dns.LoadZone(strings.NewReader(w.Spec.Zones[name]+w.dkimRecords(name)), name, "zone "+name)
			if err != nil {
				return fmt.Errorf("host %s: %w", h.Spec.Name, err)
			}
			loaded[name] = z
		}
		srv.SetZone(z)
	}
	pc, err := h.Net.ListenPacket("udp", ":53")
	if err != nil {
		return err
	}
	l, err := h.Net.Listen("tcp", ":53")
	if err != nil {
		return err
	}
	go srv.ServePacket(pc)
	go srv.ServeListener(l)
	h.DNS = srv
	w.onClose(srv.Shutdown)
	return nil
}

// domainUsers returns the world's users in the given domains.
func (w *World) domainUsers(domains []string) []UserSpec {
	var out []UserSpec
	for _, u := range w.Spec.Users {
		if slices.ContainsFunc(domains, func(d string) bool { return strings.EqualFold(d, domainOf(u.Address)) }) {
			out = append(out, u)
		}
	}
	return out
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}

// resolverFor returns the DNS server a host asks.
func (w *World) resolverFor(h *Host) (string, string) {
	addr := h.Spec.Resolver
	if addr == "" {
		if ds := w.hostsWith("dns"); len(ds) > 0 {
			addr = ds[0].Spec.Addrs[0]
		}
	}
	name := addr
	for _, other := range w.Hosts {
		if slices.Contains(other.Spec.Addrs, addr) {
			name = other.Spec.Name
		}
	}
	return net.JoinHostPort(addr, strconv.Itoa(service.DNS)), name
}

// startMail builds the host's mail services with sim/mailhost, as `mailhop
// serve` builds its one host: the world gives the simulated network, the
// virtual clock, memory stores and spools, its DNS and its CA.
func (w *World) startMail(h *Host) error {
	hs := h.Spec
	users := auth.NewDirectory("")
	if len(hs.Domains) == 1 {
		users.Domain = hs.Domains[0]
	}
	for _, u := range w.domainUsers(hs.Domains) {
		users.Add(u.Address, u.Password)
	}
	h.Users = users
	roles := slices.DeleteFunc(slices.Clone(hs.Roles), func(r string) bool { return r == "mua" || r == "dns" })
	if len(roles) == 0 {
		return nil
	}
	if (hs.Has("pop3") || hs.Has("imap")) && !hs.Has("mda") && !hs.Has("lmtp") {
		return fmt.Errorf("pop3 and imap need the host's mailboxes (role mda or lmtp)")
	}
	tlsCfg, err := w.CA.ServerConfig(hs.Name)
	if err != nil {
		return err
	}
	cfg := mailhost.Config{
		Hostname: hs.Name, Domains: hs.Domains, Roles: roles,
		Listen: func(svc service.Service) (net.Listener, error) {
			return h.Net.Listen("tcp", ":"+strconv.Itoa(svc.Port))
		},
		Net: h.Net, Clock: w.Clock, Trace: w.Trace, Users: users,
		MXPort: portOf("smtp"), TLS: tlsCfg, ClientTLS: w.CA.ClientConfig,
		InsecureAuth: w.Spec.InsecureAuth, Strict: w.Spec.IsStrict(), Rand: h.rand,
		DKIM: w.hostKeys(hs), TrustedAuthServIDs: w.mxHostsOf(hs.Domains),
		Aliases: w.aliases(hs.Domains),
	}
	if hs.Has("mda") || hs.Has("lmtp") {
		st := store.NewMemory(w.Clock.Now)
		for _, u := range w.domainUsers(hs.Domains) {
			st.AddUser(u.Address)
		}
		h.Store, cfg.Store = st, st
	}
	if hs.Has("msa") || hs.Has("mx") {
		server, serverName := w.resolverFor(h)
		h.Resolver = &dns.Resolver{
			Net: h.Net, Servers: []string{server}, Trace: w.Trace, Host: hs.Name,
			ServerNames: map[string]string{server: serverName},
		}
		cfg.Spool, cfg.Resolver = queue.NewMemorySpool(), queue.DNS(h.Resolver)
		if hs.Has("mx") {
			cfg.AuthResolver = mailauth.FromExchanger(h.Resolver)
			cfg.AuthRand = rand.New(rand.NewPCG(w.Seed(), 7489))
		}
		cfg.Queue.FirstDelay = w.firstDelay
		if err := w.Spec.Queue.apply(&cfg.Queue); err != nil {
			return err
		}
		if hs.LMTP != "" {
			t := w.Hosts[hs.LMTP]
			cfg.LMTP = &queue.Route{Kind: queue.RouteLMTP, Addr: net.JoinHostPort(t.Spec.Addrs[0], strconv.Itoa(portOf("lmtp"))), Host: t.Spec.Name}
		}
	}
	mh, err := mailhost.New(cfg)
	if err != nil {
		return err
	}
	if err := mh.Start(context.Background()); err != nil {
		return err
	}
	h.Queue, h.MDA = mh.Queue, mh.MDA
	w.onClose(func() {
		// At once: a world that closes lets no session finish.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		mh.Shutdown(ctx)
	})
	return nil
}

func (qs QueueSpec) apply(q *mailhost.QueueSettings) error {
	for _, s := range qs.Retry {
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		q.Schedule = append(q.Schedule, d)
	}
	if qs.Lifetime != "" {
		d, err := time.ParseDuration(qs.Lifetime)
		if err != nil {
			return err
		}
		q.Lifetime = d
	}
	if qs.WarnAfter != "" {
		d, err := time.ParseDuration(qs.WarnAfter)
		if err != nil {
			return err
		}
		q.WarnAfter = d
	}
	return nil
}

// MUA returns the host that is user's own machine.
func (w *World) MUA(user string) (*Host, error) {
	for _, hs := range w.Spec.Hosts {
		if hs.Has("mua") && strings.EqualFold(hs.User, user) {
			return w.Hosts[hs.Name], nil
		}
	}
	return nil, fmt.Errorf("no mua host belongs to %s", user)
}

// Password returns a user's password in the world file.
func (w *World) Password(user string) (string, bool) {
	for _, u := range w.Spec.Users {
		if strings.EqualFold(u.Address, user) {
			return u.Password, true
		}
	}
	return "", false
}

// Submitter returns a submission client on from's own machine, set up to
// log in as from on its MSA (port 587, STARTTLS).
func (w *World) Submitter(from string) (*mua.Submitter, error) {
	h, err := w.MUA(from)
	if err != nil {
		return nil, err
	}
	return w.submitterOn(h, from)
}

// Sent is what a submission gave.
type Sent struct {
	// QueueID is the MSA's queue id for the message.
	QueueID string
	// MessageID is the message's Message-ID without <>: the msg of its
	// trace events.
	MessageID string
	// MSA is the host the message was submitted to (for a direct host,
	// the first MX that took it).
	MSA string
}

// SendError is a message that did not get into the mail system: a
// server refused it (Reply says how), or none could be reached. It is
// something that happened in the world, not a mistake of the caller:
// the trace tells the session.
type SendError struct {
	From string
	To   []string
	// Server is the host that refused the message, or the last one tried.
	Server string
	Err    error
}

func (e *SendError) Error() string {
	if r := e.Reply(); r != "" {
		return fmt.Sprintf("%s refused the message from %s to %s: %s", e.Server, e.From, strings.Join(e.To, ", "), r)
	}
	return fmt.Sprintf("the message from %s to %s was not sent: %v", e.From, strings.Join(e.To, ", "), e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// Reply returns the server's refusal as it was on the wire ("550 5.7.1
// Message rejected ..."), or "" when no server refused the message.
func (e *SendError) Reply() string {
	var se *gosmtp.SMTPError
	if !errors.As(e.Err, &se) {
		return ""
	}
	c := se.EnhancedCode
	if c == gosmtp.NoEnhancedCode || c == gosmtp.EnhancedCodeNotSet {
		return fmt.Sprintf("%d %s", se.Code, se.Message)
	}
	return fmt.Sprintf("%d %d.%d.%d %s", se.Code, c[0], c[1], c[2], se.Message)
}

// Send composes and submits a message from a user, as their mail client
// would: the client gives the message its Message-ID (unless m has one),
// from the world's seed. A message the MSA refuses, or that can not reach
// it, is a *SendError.
func (w *World) Send(ctx context.Context, m mua.Mail) (Sent, error) {
	return w.SendFrom(ctx, "", m)
}

// SendFrom sends a message from a host of the world ("": the sender's
// own machine). A host with an MSA submits it there, logged in as the
// sender; a direct host hands it to each recipient domain's MX on port
// 25, as it is. A refusal is a *SendError.
func (w *World) SendFrom(ctx context.Context, host string, m mua.Mail) (Sent, error) {
	var h *Host
	if host == "" {
		var err error
		if h, err = w.MUA(m.From); err != nil {
			return Sent{}, err
		}
	} else if h = w.Hosts[host]; h == nil || !h.Spec.Has("mua") {
		return Sent{}, fmt.Errorf("no mua host %q in this world", host)
	}
	var s *mua.Submitter
	if !h.Spec.Direct {
		var err error
		if s, err = w.submitterOn(h, m.From); err != nil {
			return Sent{}, err
		}
	}
	release := w.Clock.Hold()
	defer release()
	if m.MessageID == "" && !hasField(m.Header, "Message-ID") {
		m.MessageID = mua.NewMessageID(w.Clock.Now(), h.clientRand(), domainOf(m.From))
	}
	msg := mua.Compose(m)
	if h.Spec.Direct {
		return w.sendDirect(ctx, h, m, msg)
	}
	id, err := s.Submit(ctx, m.From, m.To, msg)
	if err != nil {
		return Sent{}, &SendError{From: m.From, To: m.To, Server: s.Server, Err: err}
	}
	return Sent{QueueID: id, MessageID: trace.MsgKey(msg), MSA: s.Server}, nil
}

// sendDirect hands a message to the MX of each recipient domain, in
// turn, as an MTA would: MX lookup through the host's resolver, the
// exchangers in order until one answers, STARTTLS when offered, no login.
func (w *World) sendDirect(ctx context.Context, h *Host, m mua.Mail, msg []byte) (Sent, error) {
	server, serverName := w.resolverFor(h)
	res := &dns.Resolver{Net: h.Net, Servers: []string{server}, Trace: w.Trace, Host: h.Spec.Name,
		ServerNames: map[string]string{server: serverName}}
	var domains []string
	byDomain := map[string][]string{}
	for _, to := range m.To {
		d := domainOf(to)
		if byDomain[d] == nil {
			domains = append(domains, d)
		}
		byDomain[d] = append(byDomain[d], to)
	}
	sent := Sent{MessageID: trace.MsgKey(msg)}
	for _, d := range domains {
		fail := func(server string, err error) (Sent, error) {
			return sent, &SendError{From: m.From, To: byDomain[d], Server: server, Err: err}
		}
		mxs, err := res.LookupMX(ctx, d)
		if err != nil {
			return fail(serverName, fmt.Errorf("looking up the MX of %s: %w", d, err))
		}
		var lastErr error
		last := ""
		done := false
		for _, mx := range mxs {
			for _, a := range mx.Addrs {
				s := &mua.Submitter{Net: h.Net, Hostname: h.Spec.Name, Server: mx.Host,
					Addr: net.JoinHostPort(a.String(), strconv.Itoa(portOf("smtp"))), TLS: w.CA.ClientConfig(mx.Host), OpportunisticTLS: true}
				id, err := s.Submit(ctx, m.From, byDomain[d], msg)
				last = mx.Host
				if err == nil {
					if sent.QueueID == "" {
						sent.QueueID, sent.MSA = id, mx.Host
					}
					done = true
					break
				}
				lastErr = err
				var se *gosmtp.SMTPError
				if errors.As(err, &se) {
					return fail(mx.Host, err) // the server answered: no other MX would say otherwise
				}
			}
			if done {
				break
			}
		}
		if !done {
			if lastErr == nil {
				lastErr = fmt.Errorf("no address for the mail exchangers of %s", d)
			}
			return fail(last, lastErr)
		}
	}
	return sent, nil
}

// submitterOn returns a submission client on host h, logging in as from
// on h's MSA.
func (w *World) submitterOn(h *Host, from string) (*mua.Submitter, error) {
	if h.Spec.MSA == "" {
		return nil, fmt.Errorf("%s's machine %s has no MSA to submit to", from, h.Spec.Name)
	}
	msa := w.Hosts[h.Spec.MSA]
	pass, _ := w.Password(from)
	return &mua.Submitter{
		Net: h.Net, Hostname: h.Spec.Name, Server: msa.Spec.Name,
		Addr: net.JoinHostPort(msa.Spec.Addrs[0], strconv.Itoa(portOf("submission"))),
		TLS:  w.CA.ClientConfig(msa.Spec.Name), User: from, Password: pass,
	}, nil
}

// aliases returns the forwards and mailing lists of the world's users in
// these domains, as a mail host of the domains expands them.
func (w *World) aliases(domains []string) map[string]mailhost.Alias {
	var out map[string]mailhost.Alias
	for _, u := range w.domainUsers(domains) {
		var a mailhost.Alias
		switch {
		case len(u.ForwardTo) > 0:
			a.Forward = u.ForwardTo
		case u.List != nil:
			a.List = &mailhost.List{Members: u.List.Members, SubjectTag: u.List.SubjectTag, Footer: u.List.Footer, Bounces: u.List.Bounces}
		default:
			continue
		}
		if out == nil {
			out = map[string]mailhost.Alias{}
		}
		out[strings.ToLower(u.Address)] = a
	}
	return out
}

// FinalRecipients returns whose mailboxes mail for addr ends in: addr
// itself, or, for a forwarded address or a mailing list of the world,
// the addresses it is sent on to, followed as far as they go.
func (w *World) FinalRecipients(addr string) []string {
	var out []string
	seen := map[string]bool{}
	var follow func(a string)
	follow = func(a string) {
		k := strings.ToLower(a)
		var u *UserSpec
		for i := range w.Spec.Users {
			if strings.EqualFold(w.Spec.Users[i].Address, a) {
				u = &w.Spec.Users[i]
			}
		}
		if seen[k] || u == nil || len(u.ForwardTo) == 0 && u.List == nil {
			if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, a) }) {
				out = append(out, a)
			}
			return
		}
		seen[k] = true
		next := u.ForwardTo
		if u.List != nil {
			next = u.List.Members
		}
		for _, n := range next {
			follow(n)
		}
	}
	follow(addr)
	return out
}

func hasField(header map[string]string, name string) bool {
	for k := range header {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// Settle waits until the world's work in progress is done.
func (w *World) Settle() { w.Clock.Settle(200 * time.Millisecond) }

// idleConns returns how many connections the queues keep for reuse.
func (w *World) idleConns() int {
	n := 0
	for _, h := range w.Hosts {
		if h.Queue != nil {
			n += h.Queue.IdleConns()
		}
	}
	return n
}

// Queued returns how many messages wait in every queue of the world.
func (w *World) Queued() int {
	n := 0
	for _, h := range w.Hosts {
		if h.Queue != nil {
			n += h.Queue.Len()
		}
	}
	return n
}

// RunUntilQuiet moves the clock from timer to timer until every queue is
// empty and every idle connection the queues kept has been closed (with
// QUIT, after a few seconds), or until limit has passed. It returns the
// virtual time spent.
func (w *World) RunUntilQuiet(limit time.Duration) time.Duration {
	start := w.Clock.Now()
	end := start.Add(limit)
	for {
		w.Settle()
		if w.Queued() == 0 && w.idleConns() == 0 {
			break
		}
		next, ok := w.Clock.Next()
		if !ok || next.After(end) {
			break
		}
		w.Clock.AdvanceTo(next)
	}
	return w.Clock.Now().Sub(start)
}

// Advance moves the world's clock forward, firing what falls due.
func (w *World) Advance(d time.Duration) {
	w.Clock.Advance(d)
	w.Settle()
}

// StoreOf returns the store that holds a user's mailboxes.
func (w *World) StoreOf(user string) (store.Store, error) {
	d := domainOf(user)
	for _, hs := range w.Spec.Hosts {
		if (hs.Has("mda") || hs.Has("lmtp")) && slices.Contains(hs.Domains, d) {
			return w.Hosts[hs.Name].Store, nil
		}
	}
	return nil, errors.New("no host keeps mailboxes for " + d)
}

// Reader returns a mail client on user's own machine, set up to read
// their INBOX from their mail store by proto ("imap" or "pop3", with
// STARTTLS/STLS).
func (w *World) Reader(user, proto string) (*mua.Reader, error) {
	h, err := w.MUA(user)
	if err != nil {
		return nil, err
	}
	if h.Spec.Mailstore == "" {
		return nil, fmt.Errorf("%s's machine %s has no mail store to read from", user, h.Spec.Name)
	}
	ms := w.Hosts[h.Spec.Mailstore]
	if proto != "pop3" && proto != "imap" {
		return nil, fmt.Errorf("read by %q: imap or pop3", proto)
	}
	pass, _ := w.Password(user)
	return &mua.Reader{
		Net: h.Net, Addr: net.JoinHostPort(ms.Spec.Addrs[0], strconv.Itoa(portOf(proto))), Server: ms.Spec.Name,
		TLS: w.CA.ClientConfig(ms.Spec.Name), User: user, Password: pass,
	}, nil
}

// Seed returns the world's seed: its file's, or DefaultSeed.
func (w *World) Seed() uint64 {
	if w.Spec.Seed != 0 {
		return w.Spec.Seed
	}
	return DefaultSeed
}

// seededRand returns a host's source of random numbers: it depends only on
// the seed and the host's name, so hosts do not disturb each other's draws.
func seededRand(seed uint64, host string) func() uint32 {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	r := rand.NewChaCha8(sha256.Sum256(append(append(b[:], "mailhop host\x00"...), host...)))
	var mu sync.Mutex
	return func() uint32 {
		mu.Lock()
		defer mu.Unlock()
		return uint32(r.Uint64())
	}
}

// dkimSelector is the selector of the simulation's DKIM keys.
const dkimSelector = "mailhop"

// dkimKeys makes a DKIM key for each domain of each host that signs: an
// Ed25519 key from the world's seed and the domain (ed25519-sha256, RFC
// 8463), quick to make in the browser, the same on every run.
func (w *World) dkimKeys() []mailhost.DKIMKey {
	var keys []mailhost.DKIMKey
	for _, d := range signingDomains(w.Spec) {
		keys = append(keys, mailhost.DKIMKey{Domain: d, Selector: dkimSelector,
			Key: mailauth.Ed25519FromSeed(dkimSeed(w.Seed(), d))})
	}
	return keys
}

// signingDomains returns the domains of the hosts that sign, in the
// order of the world file.
func signingDomains(spec *Spec) []string {
	var out []string
	for _, hs := range spec.Hosts {
		if hs.Signs() {
			out = append(out, hs.Domains...)
		}
	}
	return out
}

// dkimSeed is what a domain's DKIM key derives from.
func dkimSeed(seed uint64, domain string) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	return append(b[:], strings.ToLower(domain)...)
}

// DKIMSeeds returns what the DKIM keys of a world of spec derive from
// (see mailauth.Ed25519PublicKeys), for a build to work their public
// halves out ahead of time.
func DKIMSeeds(spec *Spec) [][]byte {
	seed := (&World{Spec: spec}).Seed()
	var seeds [][]byte
	for _, d := range signingDomains(spec) {
		seeds = append(seeds, dkimSeed(seed, d))
	}
	return seeds
}

// dkimRecords returns the zone file lines that publish the DKIM keys of
// the domains at or below a zone's origin.
func (w *World) dkimRecords(origin string) string {
	var b strings.Builder
	o := strings.ToLower(strings.TrimSuffix(origin, "."))
	for _, k := range w.dkim {
		d := strings.ToLower(k.Domain)
		if d != o && !strings.HasSuffix(d, "."+o) {
			continue
		}
		rec, err := mailauth.DKIMRecord(k.Key)
		if err != nil {
			continue
		}
		b.WriteString("\n" + mailauth.ZoneTXT(mailauth.DKIMRecordName(k.Selector, k.Domain), rec) + "\n")
	}
	return b.String()
}

// hostKeys returns the DKIM keys of one host's domains.
func (w *World) hostKeys(hs HostSpec) []mailhost.DKIMKey {
	if !hs.Signs() {
		return nil
	}
	var out []mailhost.DKIMKey
	for _, k := range w.dkim {
		if slices.ContainsFunc(hs.Domains, func(d string) bool { return strings.EqualFold(d, k.Domain) }) {
			out = append(out, k)
		}
	}
	return out
}

// mxHostsOf returns the names of the mx hosts of any of these domains:
// whose Authentication-Results a mailbox host of the domains believes.
func (w *World) mxHostsOf(domains []string) []string {
	var out []string
	for _, hs := range w.Spec.Hosts {
		if hs.Has("mx") && slices.ContainsFunc(hs.Domains, func(d string) bool {
			return slices.ContainsFunc(domains, func(e string) bool { return strings.EqualFold(d, e) })
		}) {
			out = append(out, hs.Name)
		}
	}
	return out
}
