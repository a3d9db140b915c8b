package dns

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	miekg "github.com/miekg/dns"

	"github.com/mailhop/mailhop/sim/trace"
)

// ErrServerClosed is returned by ServePacket and ServeListener after
// Shutdown.
var ErrServerClosed = errors.New("dns: server closed")

// maxChain bounds the CNAME chain a server follows within its zones and a
// resolver follows across queries (RFC 1034 §3.6.2 asks both to stop at
// loops; BIND and Unbound stop after a handful of links too).
const maxChain = 8

// DefaultMaxUDPSize is the largest UDP answer a Server sends to a client
// that advertises more with EDNS0: 1232 bytes fits the IPv6 minimum MTU,
// the size the DNS flag day 2020 settled on.
const DefaultMaxUDPSize = 1232

// Server is an authoritative DNS server for a set of zones. It is a
// miekg dns.Handler; ServePacket and ServeListener run it on any
// net.PacketConn and net.Listener, simulated or real. The zero Server
// serves no zones (every query is REFUSED) and is ready to use.
type Server struct {
	// Name is the server's host name ("ns.example"), for the trace.
	Name string
	// Trace, when set, receives a dns event of action "served" for every
	// query the server answers or drops. The resolver's query and answer
	// events are the main record of a lookup; these are for a server
	// running alone (`mailhop dns`).
	Trace *trace.Recorder
	// ClosedWorld makes the server stand for the whole DNS of a closed,
	// simulated world (the resolver its MTAs use): a name outside its
	// zones does not exist (NXDOMAIN, with RA set) instead of being
	// REFUSED.
	ClosedWorld bool
	// MaxUDPSize caps the size of UDP answers to EDNS0 clients (RFC 6891
	// §6.2.5); 0 (or anything under 512) means DefaultMaxUDPSize. Clients
	// without EDNS0 get 512 bytes.
	MaxUDPSize int

	mu      sync.RWMutex
	zones   map[string]*Zone // by canonical origin
	faults  map[string]Fault // by canonical name; "" for every name
	running map[*miekg.Server]io.Closer
	loops   map[net.PacketConn]chan struct{} // servePackets, closed when each ends
	closed  bool

	tcpMaxConns int // 0: the constant tcpMaxConns; tests lower it
}

// NewServer returns a server for zones.
func NewServer(zones ...*Zone) *Server {
	s := &Server{}
	for _, z := range zones {
		s.SetZone(z)
	}
	return s
}

// SetZone serves z, replacing the zone of the same origin if there is one.
// Queries already being answered finish with the old data.
func (s *Server) SetZone(z *Zone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.zones == nil {
		s.zones = map[string]*Zone{}
	}
	s.zones[z.origin] = z
}

// RemoveZone stops serving the zone origin; it reports whether it was
// served.
func (s *Server) RemoveZone(origin string) bool {
	key := miekg.CanonicalName(origin)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.zones[key]
	delete(s.zones, key)
	return ok
}

// Zone returns the zone served for origin, or nil.
func (s *Server) Zone(origin string) *Zone {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.zones[miekg.CanonicalName(origin)]
}

// Zones returns the zones served, sorted by origin.
func (s *Server) Zones() []*Zone {
	s.mu.RLock()
	defer s.mu.RUnlock()
	zs := make([]*Zone, 0, len(s.zones))
	for _, z := range s.zones {
		zs = append(zs, z)
	}
	slices.SortFunc(zs, func(a, b *Zone) int { return strings.Compare(a.origin, b.origin) })
	return zs
}

// FaultMode is how a broken server misbehaves.
type FaultMode string

// Fault modes.
const (
	// FaultServFail answers SERVFAIL: the server is there but cannot
	// answer (a broken zone, a failing backend). Resolvers try another
	// server, then give up for now: a temporary failure.
	FaultServFail FaultMode = "servfail"
	// FaultRefused answers REFUSED, as a server that does not serve the
	// zone (a lame delegation). Also temporary for a resolver.
	FaultRefused FaultMode = "refused"
	// FaultDrop answers nothing: the query is lost, the client times out.
	FaultDrop FaultMode = "drop"
)

// Fault makes a server misbehave for queries about Name and the names
// below it, or about every name when Name is "". The most specific fault
// that covers a query's name applies.
type Fault struct {
	Mode FaultMode `json:"mode"`
	Name string    `json:"name,omitempty"`
}

// SetFault installs f, replacing any fault for the same name. A fault with
// an empty Mode clears the fault for its name, or every fault when it
// names none.
func (s *Server) SetFault(f Fault) error {
	key := ""
	if f.Name != "" {
		if _, ok := miekg.IsDomainName(f.Name); !ok {
			return fmt.Errorf("dns: fault: bad name %q", f.Name)
		}
		key = miekg.CanonicalName(f.Name)
	}
	switch f.Mode {
	case "", FaultServFail, FaultRefused, FaultDrop:
	default:
		return fmt.Errorf("dns: fault: unknown mode %q (servfail, refused or drop)", f.Mode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Mode == "" {
		// Mending with no name mends every name: "answers normally".
		if key == "" {
			clear(s.faults)
		} else {
			delete(s.faults, key)
		}
		return nil
	}
	if s.faults == nil {
		s.faults = map[string]Fault{}
	}
	f.Name = key
	s.faults[key] = f
	return nil
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Faults returns the faults installed, sorted by name.
func (s *Server) Faults() []Fault {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Fault) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ServePacket answers queries arriving on pc (UDP) until Shutdown, and
// closes pc. It returns ErrServerClosed after Shutdown. A real socket
// (*net.UDPConn) is served by miekg's server, any other one (netsim's)
// by servePackets, which answers the same.
func (s *Server) ServePacket(pc net.PacketConn) error {
	if _, ok := pc.(*net.UDPConn); ok {
		return s.serve(&miekg.Server{PacketConn: pc, Handler: s, MsgAcceptFunc: acceptQuery}, pc)
	}
	return s.servePackets(pc)
}

// servePackets answers the datagrams of a generic net.PacketConn (netsim's)
// one after the other, as miekg's server does but without a goroutine for
// each (a simulated world asks several questions for every message) and
// without the read deadline miekg re-arms every two seconds to poll for
// shutdown: on a virtual clock that deadline is a timer that never lets
// the simulation be idle. Shutdown closes pc, which ends the read.
func (s *Server) servePackets(pc net.PacketConn) error {
	done := make(chan struct{})
	defer close(done)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		pc.Close()
		return ErrServerClosed
	}
	if s.loops == nil {
		s.loops = map[net.PacketConn]chan struct{}{}
	}
	s.loops[pc] = done
	s.mu.Unlock()
	defer pc.Close()

	buf := make([]byte, miekg.MaxMsgSize)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			s.mu.Lock()
			delete(s.loops, pc)
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			return err
		}
		s.serveDatagram(&packetWriter{pc: pc, to: from}, buf[:n])
	}
}

// serveDatagram answers one query as miekg's server does with acceptQuery:
// nothing to a datagram shorter than a header or to a response (QR set),
// FORMERR (with what could be read of the question) to one that does not
// unpack, ServeDNS for the rest.
func (s *Server) serveDatagram(w *packetWriter, m []byte) {
	const headerSize, qr = 12, 0x80
	if len(m) < headerSize || m[2]&qr != 0 {
		return
	}
	req := new(miekg.Msg)
	if err := req.Unpack(m); err != nil {
		req.SetRcodeFormatError(req)
		req.Zero = false
		req.Ns, req.Answer, req.Extra = nil, nil, nil
		w.WriteMsg(req)
		return
	}
	s.ServeDNS(w, req)
}

// packetWriter answers a datagram: a miekg.ResponseWriter.
type packetWriter struct {
	pc net.PacketConn
	to net.Addr
}

func (w *packetWriter) LocalAddr() net.Addr  { return w.pc.LocalAddr() }
func (w *packetWriter) RemoteAddr() net.Addr { return w.to }
func (w *packetWriter) WriteMsg(m *miekg.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
func (w *packetWriter) Write(b []byte) (int, error) { return w.pc.WriteTo(b, w.to) }
func (w *packetWriter) Close() error                { return nil }
func (w *packetWriter) TsigStatus() error           { return nil }
func (w *packetWriter) TsigTimersOnly(bool)         {}
func (w *packetWriter) Hijack()                     {}

// ServeListener answers queries on connections accepted from l (TCP)
// until Shutdown, and closes l. It returns ErrServerClosed after Shutdown.
// A client has a few seconds to send each query and to take each answer,
// and may ask 128 queries on one connection and hold 64 connections at
// once; a frame too short for a message closes its connection.
func (s *Server) ServeListener(l net.Listener) error {
	return s.serve(&miekg.Server{
		Listener:       newTCPListener(l, s.tcpMaxConns),
		Handler:        s,
		ReadTimeout:    tcpReadTimeout,
		IdleTimeout:    func() time.Duration { return tcpIdleTimeout },
		MaxTCPQueries:  tcpMaxQueries,
		DecorateReader: frameChecked,
		MsgAcceptFunc:  acceptQuery,
	}, l)
}

func (s *Server) serve(srv *miekg.Server, c io.Closer) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return ErrServerClosed
	}
	if s.running == nil {
		s.running = map[*miekg.Server]io.Closer{}
	}
	s.running[srv] = c
	s.mu.Unlock()

	err := srv.ActivateAndServe()

	s.mu.Lock()
	delete(s.running, srv)
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops every ServePacket and ServeListener of the server,
// waiting for queries being answered. The server can not serve again.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.closed = true
	running, loops := s.running, s.loops
	s.running, s.loops = nil, nil
	s.mu.Unlock()
	for srv, c := range running {
		srv.Shutdown() // an error means it had not started yet:
		c.Close()      // closing its socket stops it as it starts
	}
	for pc, done := range loops {
		pc.Close() // ends the read; the query being answered finishes
		<-done
	}
}

// ServeDNS answers one query: miekg's dns.Handler.
func (s *Server) ServeDNS(w miekg.ResponseWriter, req *miekg.Msg) {
	resp := s.answer(req)
	if resp == nil {
		s.traceServed(w, req, nil)
		return // FaultDrop: the client times out
	}
	if w.LocalAddr().Network() == "udp" {
		// RFC 1035 §4.2.1: 512 bytes over UDP, or what the client
		// advertised with EDNS0 (RFC 6891 §6.2.3, §6.2.5: at least
		// 512, and no more than we are willing to send); cut the rest
		// and set TC so the client asks again over TCP (RFC 7766 §5).
		size := miekg.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = min(max(int(opt.UDPSize()), miekg.MinMsgSize), s.maxUDPSize())
		}
		resp.Truncate(size)
	} else {
		resp.Compress = true
	}
	// Traced before it is sent: the client may act on the answer at once.
	s.traceServed(w, req, resp)
	w.WriteMsg(resp) // a client gone away is no matter to us
}

func (s *Server) maxUDPSize() int {
	if s.MaxUDPSize >= miekg.MinMsgSize {
		return min(s.MaxUDPSize, miekg.MaxMsgSize)
	}
	return DefaultMaxUDPSize
}

// answer builds the reply to req from the zones, or returns nil when a
// fault drops the query.
func (s *Server) answer(req *miekg.Msg) *miekg.Msg {
	m := new(miekg.Msg)
	m.SetReply(req)
	m.RecursionAvailable = false // RFC 1035 §4.1.1: we do not recurse
	if !ednsWellFormed(req) {
		// RFC 6891 §6.1.1: more than one OPT record is FORMERR; so
		// (as BIND has it) is one outside the additional section, or
		// one not owned by the root (§6.1.2). Which of two OPTs would
		// tell what the client speaks? The answer carries none.
		m.Rcode = miekg.RcodeFormatError
		return m
	}
	if opt := req.IsEdns0(); opt != nil {
		// RFC 6891 §6.1.1: an EDNS query gets an OPT in its answer,
		// errors included.
		m.SetEdns0(uint16(s.maxUDPSize()), false)
		if opt.Version() != 0 {
			// RFC 6891 §6.1.3: BADVERS, with an OPT of the version
			// we speak (0), and nothing else.
			m.Rcode = miekg.RcodeBadVers
			return m
		}
	}
	if req.Opcode != miekg.OpcodeQuery {
		m.Rcode = miekg.RcodeNotImplemented // RFC 1035 §4.1.1
		return m
	}
	if len(req.Question) != 1 {
		// RFC 9619: a query (OPCODE 0) has one question; more is
		// FORMERR. None is too, as we know no DNS cookies (RFC 7873
		// §5.4 would allow it with one).
		m.Rcode = miekg.RcodeFormatError
		return m
	}
	q := req.Question[0]

	s.mu.RLock()
	fault, faulty := s.faultFor(q.Name)
	s.mu.RUnlock()
	if faulty {
		switch fault.Mode {
		case FaultDrop:
			return nil
		case FaultRefused:
			m.Rcode = miekg.RcodeRefused
		default:
			m.Rcode = miekg.RcodeServerFailure
		}
		return m
	}

	if q.Qclass != miekg.ClassINET && q.Qclass != miekg.ClassANY {
		m.Rcode = miekg.RcodeRefused
		return m
	}
	switch q.Qtype {
	case miekg.TypeAXFR, miekg.TypeIXFR, miekg.TypeMAILA, miekg.TypeMAILB:
		m.Rcode = miekg.RcodeRefused // no zone transfers; obsolete types
		return m
	}

	// RFC 1034 §4.3.2, without recursion.
	name := q.Name
	seen := map[string]bool{}
	for hop := 0; hop < maxChain; hop++ {
		key := miekg.CanonicalName(name)
		if seen[key] {
			break // a CNAME loop: answer the chain so far
		}
		seen[key] = true
		s.mu.RLock()
		z := s.zoneFor(key)
		s.mu.RUnlock()
		if z == nil && s.ClosedWorld {
			// The simulated Internet has no other zones: a recursive
			// resolver would find that the name does not exist.
			m.RecursionAvailable = true
			m.Rcode = miekg.RcodeNameError
			return m
		}
		if z == nil {
			if hop == 0 {
				// Not ours, and we do not recurse (RFC 1035 §4.1.1:
				// refused for policy reasons).
				m.Rcode = miekg.RcodeRefused
				return m
			}
			// The chain leaves our zones: the client follows it
			// (step 3a: only the CNAME is ours to give).
			break
		}
		if hop == 0 {
			m.Authoritative = true
		}
		if cut := z.cutFor(key); cut != "" {
			if hop == 0 {
				referral(m, z, cut)
			}
			break
		}
		n, exists := z.names[key]
		if !exists {
			// RFC 1034 §4.3.2 step 3c, RFC 2308 §2.1; RFC 6604 §3:
			// NXDOMAIN is about the last name of a chain.
			m.Rcode = miekg.RcodeNameError
			m.Ns = []miekg.RR{z.negSOA}
			break
		}
		var rrs []miekg.RR
		if q.Qtype == miekg.TypeANY {
			rrs = n.smallestSet()
		} else {
			rrs = n.get(q.Qtype)
		}
		if len(rrs) > 0 {
			m.Answer = append(m.Answer, rrs...)
			break
		}
		if cn := n.get(miekg.TypeCNAME); len(cn) > 0 {
			// Step 3a: give the alias and look for the canonical name.
			m.Answer = append(m.Answer, cn[0])
			name = cn[0].(*miekg.CNAME).Target
			continue
		}
		// NODATA (RFC 2308 §2.2): the name exists, not the type.
		m.Ns = []miekg.RR{z.negSOA}
		break
	}
	return m
}

// smallestSet is the RRset that answers an ANY query: one RRset, the
// smallest on the wire (the lowest type first among equals), not every
// record of the name.
//
// RFC 8482 §4 lets a responder answer ANY with one or a few of the name's
// RRsets (§4.1), or with a synthesized HINFO "RFC8482" "" (§4.2); either
// way a query of a few bytes no longer fetches everything a name holds,
// which made ANY the favourite of amplification attacks, and a cheap way
// to mine a zone. For an authoritative server §4.1 is the better choice:
// the answer is true data from the zone, which a cache may keep and a
// student can check against the zone file, where the HINFO would be a
// record that is in no zone (and §4.2 cannot apply at a name with a CNAME
// anyway: there the CNAME is the one RRset). NSD and BIND's minimal-any
// answer so too. §4.4 would allow the full answer over TCP, whose
// handshake proves the source address; we keep to one RRset whatever the
// transport, so that a name answers the same to dig (which asks ANY over
// TCP) as to anyone, and because the simulated MTAs never ask ANY.
func (n *node) smallestSet() []miekg.RR {
	var best []miekg.RR
	bestLen := 0
	for _, t := range slices.Sorted(maps.Keys(n.sets)) {
		set, l := n.sets[t], 0
		for _, rr := range set {
			l += miekg.Len(rr)
		}
		if best == nil || l < bestLen {
			best, bestLen = set, l
		}
	}
	return best
}

// ednsWellFormed reports whether req has at most one OPT record, in its
// additional section and owned by the root (RFC 6891 §6.1.1, §6.1.2).
func ednsWellFormed(req *miekg.Msg) bool {
	for _, sec := range [][]miekg.RR{req.Answer, req.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == miekg.TypeOPT {
				return false
			}
		}
	}
	opts := 0
	for _, rr := range req.Extra {
		if rr.Header().Rrtype == miekg.TypeOPT {
			opts++
			if opts > 1 || rr.Header().Name != "." {
				return false
			}
		}
	}
	return true
}

// referral answers for a name below a zone cut: not authoritative, the
// delegation's NS records, and the addresses of those in the zone (glue).
func referral(m *miekg.Msg, z *Zone, cut string) {
	m.Authoritative = false
	ns := z.names[cut].get(miekg.TypeNS)
	m.Ns = append(m.Ns, ns...)
	for _, rr := range ns {
		target := miekg.CanonicalName(rr.(*miekg.NS).Ns)
		if !miekg.IsSubDomain(z.origin, target) {
			continue
		}
		glue := z.names[target]
		m.Extra = append(m.Extra, glue.get(miekg.TypeA)...)
		m.Extra = append(m.Extra, glue.get(miekg.TypeAAAA)...)
	}
	if opt := popOPT(m); opt != nil {
		m.Extra = append(m.Extra, opt) // OPT stays last, for Truncate
	}
}

func popOPT(m *miekg.Msg) miekg.RR {
	for i, rr := range m.Extra {
		if rr.Header().Rrtype == miekg.TypeOPT {
			m.Extra = slices.Delete(m.Extra, i, i+1)
			return rr
		}
	}
	return nil
}

// zoneFor returns the closest enclosing zone of a canonical name. mu held.
func (s *Server) zoneFor(key string) *Zone {
	if len(s.zones) == 0 {
		return nil
	}
	for _, off := range miekg.Split(key) {
		if z := s.zones[key[off:]]; z != nil {
			return z
		}
	}
	return s.zones["."]
}

// faultFor returns the most specific fault covering name. mu held.
func (s *Server) faultFor(name string) (Fault, bool) {
	if len(s.faults) == 0 {
		return Fault{}, false
	}
	key := miekg.CanonicalName(name)
	for _, off := range miekg.Split(key) {
		if f, ok := s.faults[key[off:]]; ok {
			return f, true
		}
	}
	if f, ok := s.faults["."]; ok {
		return f, true
	}
	f, ok := s.faults[""]
	return f, ok
}

// traceServed reports a query the server answered (resp) or dropped (nil).
func (s *Server) traceServed(w miekg.ResponseWriter, req, resp *miekg.Msg) {
	if s.Trace == nil {
		return
	}
	e := trace.Event{Kind: trace.KindDNS, Action: "served", Host: s.Name, Proto: "dns"}
	if a := w.RemoteAddr(); a != nil {
		e.Peer = hostOf(a.String())
	}
	if a := w.LocalAddr(); a != nil {
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			e.Port, _ = strconv.Atoi(p)
		}
	}
	q := "(no question)"
	if len(req.Question) > 0 {
		q = questionText(req.Question[0])
	}
	if resp == nil {
		e.Text = q + " → dropped (fault)"
	} else {
		e.Text = q + " → " + answerText(resp)
		e.Records = recordsOf(resp)
	}
	s.Trace.Emit(e)
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
