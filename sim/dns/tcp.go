package dns

import (
	"errors"
	"net"
	"sync"
	"time"

	miekg "github.com/miekg/dns"
)

// What one TCP client may hold of a Server. RFC 7766 §10 lists what a
// server should manage (the connections in all and per client, their idle
// time, the queries of one connection) and recommends no values. The read
// and idle timeouts and the query cap are miekg's defaults, set here
// explicitly so that a library upgrade cannot loosen them unseen; miekg
// has no working write timeout (its Server.WriteTimeout is never used) and
// no connection limits. On netsim they run on the virtual clock, as every
// deadline does.
const (
	// tcpReadTimeout is the time a new connection has to deliver its
	// first query, whole: a client that connects and sends nothing, or
	// a byte at a time, is closed.
	tcpReadTimeout = 2 * time.Second
	// tcpIdleTimeout is the time each later query has to arrive, whole
	// (RFC 7766 §6.2.3: "of the order of seconds", and reset on a full
	// message only, against slow senders).
	tcpIdleTimeout = 8 * time.Second
	// tcpWriteTimeout bounds each answer's write. A client that asks and
	// never reads fills the connection's window; without it the write,
	// the connection and Shutdown would wait for it for ever.
	tcpWriteTimeout = 5 * time.Second
	// tcpMaxQueries is how many queries one connection may ask; the
	// server closes it after answering the last (RFC 7766 §6.2.4: the
	// client asks again on a new one).
	tcpMaxQueries = 128
	// tcpMaxConns and tcpMaxConnsPerClient bound the connections open at
	// once, in all and from one address. RFC 7766 §6.2.2 asks that a
	// client's limit be much looser than the one connection a client
	// should use: many resolvers may share an address behind a NAT.
	tcpMaxConns          = 1024
	tcpMaxConnsPerClient = 64
)

// errShortFrame ends a TCP connection whose client sent a frame too short
// to be a DNS message.
var errShortFrame = errors.New("dns: TCP frame shorter than a DNS header")

// dnsHeaderSize is the fixed header of every DNS message (RFC 1035 §4.1.1).
const dnsHeaderSize = 12

// tcpListener accepts connections for ServeListener within the limits
// above, and gives each a write deadline.
type tcpListener struct {
	net.Listener
	max int // tcpMaxConns, or less in tests

	mu      sync.Mutex
	open    int
	clients map[string]int // open connections by client address
}

func newTCPListener(l net.Listener, max int) *tcpListener {
	if max <= 0 {
		max = tcpMaxConns
	}
	return &tcpListener{Listener: l, max: max, clients: map[string]int{}}
}

// Accept returns the next connection within the limits. A connection over
// a limit is closed as soon as it is accepted (RFC 7766 §6.2.2 lets a
// server limit a client's connections): the client sees it closed before
// its query is read, as when a server is too busy, and may try again
// later. Refusing it costs the server next to nothing, where leaving it
// in the listener's backlog would stall the clients behind it.
func (l *tcpListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client := ""
		if a := c.RemoteAddr(); a != nil {
			client = hostOf(a.String())
		}
		if l.admit(client) {
			return &tcpConn{Conn: c, l: l, client: client}, nil
		}
		c.Close()
	}
}

func (l *tcpListener) admit(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max || l.clients[client] >= tcpMaxConnsPerClient {
		return false
	}
	l.open++
	l.clients[client]++
	return true
}

func (l *tcpListener) release(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.clients[client]--; l.clients[client] <= 0 {
		delete(l.clients, client)
	}
}

// tcpConn is an accepted connection: it counts against the limits until
// closed, and its writes have a deadline.
type tcpConn struct {
	net.Conn
	l        *tcpListener
	client   string
	released sync.Once
}

// Write writes one answer (miekg writes its length and message at once)
// within tcpWriteTimeout. A write that fails or times out closes the
// connection: part of an answer may have gone, so the stream is no longer
// in step, and a client that does not read has had its chance.
func (c *tcpConn) Write(b []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
	n, err := c.Conn.Write(b)
	if err != nil {
		c.Conn.Close() // the next read fails, and miekg lets go of it
	}
	return n, err
}

func (c *tcpConn) Close() error {
	err := c.Conn.Close()
	c.released.Do(func() { c.l.release(c.client) })
	return err
}

// tcpReader reads ServeListener's queries with miekg's reader, but ends
// the connection on a frame too short to be a message. miekg itself would
// drop such a frame without a word and read on, so that a client could
// hold a connection with empty frames (a zero length prefix) and never ask
// anything; a message shorter than its header is malformed (RFC 1035
// §4.1.1), and a client that frames its stream so is not one to talk to.
type tcpReader struct{ miekg.Reader }

func frameChecked(r miekg.Reader) miekg.Reader { return tcpReader{r} }

func (r tcpReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	m, err := r.Reader.ReadTCP(conn, timeout)
	if err == nil && len(m) < dnsHeaderSize {
		return nil, errShortFrame
	}
	return m, err
}

// acceptQuery is the servers' miekg.MsgAcceptFunc. miekg's default one
// answers some malformed queries itself (NOTIMP for most opcodes, FORMERR
// for a QDCOUNT other than 1), without the OPT record that the answer to
// an EDNS query must carry (RFC 6891 §6.1.1); dig then warns that the
// server does not speak EDNS. This one lets every query through to
// Server.answer, which answers each case with its rcode and an OPT. It
// still ignores responses (QR=1): answering them would let two servers, or
// a forged source address, bounce messages for ever. Parsing a message
// whatever its counts claim costs no more than its size (one datagram, or
// one frame of at most 64 KB): miekg never trusts the counts to allocate.
func acceptQuery(dh miekg.Header) miekg.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return miekg.MsgIgnore
	}
	return miekg.MsgAccept
}
