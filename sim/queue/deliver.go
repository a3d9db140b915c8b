package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/dns"
	"github.com/mailhop/mailhop/sim/mda"
	"github.com/mailhop/mailhop/sim/netx"
	smtpclient "github.com/mailhop/mailhop/sim/smtp"
	"github.com/mailhop/mailhop/sim/trace"
)

// attempt tries to deliver every pending recipient of one message.
func (q *Queue) attempt(id string) {
	q.mu.Lock()
	cur := q.envs[id]
	q.mu.Unlock()
	if cur == nil {
		return
	}
	env := cur.Clone()
	body, err := q.Spool.Body(id)
	if err != nil {
		q.emit(trace.Event{Kind: trace.KindQueue, Action: "error", Msg: env.Key, Text: "spool: " + err.Error()})
		return
	}
	env.Attempts++
	ctx := trace.WithMsg(q.ctx, env.Key)
	pending := env.Pending()
	names := make([]string, len(pending))
	for i, r := range pending {
		names[i] = r.Addr
	}
	q.emit(trace.Event{Kind: trace.KindQueue, Action: "attempt", Msg: env.Key,
		Text: "queue id " + env.ID + ", attempt " + strconv.Itoa(env.Attempts) + " for " + strings.Join(names, ", ")})

	// Group recipients by domain: one transaction per destination.
	var domains []string
	groups := map[string][]*Rcpt{}
	for _, r := range pending {
		d := domainOf(r.Addr)
		if groups[d] == nil {
			domains = append(domains, d)
		}
		groups[d] = append(groups[d], r)
	}
	finished := false // by deliverTo, before it carried other messages
	for _, d := range domains {
		route := Route{Kind: RouteMX}
		if q.Route != nil {
			route = q.Route(d)
		}
		switch route.Kind {
		case RouteLocal:
			q.deliverLocal(ctx, env, groups[d], body)
		case RouteLMTP:
			finished = q.deliverTo(ctx, env, d, groups[d], body, []target{{host: route.Host, addr: route.Addr}}, true, len(domains) == 1)
		default:
			finished = q.deliverMX(ctx, env, d, groups[d], body, len(domains) == 1)
		}
	}
	if !finished {
		q.finish(env, body)
	}
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}

type target struct {
	host string // name, for the trace and TLS
	addr string // host:port to dial
}

func (q *Queue) deliverMX(ctx context.Context, env *Envelope, domain string, rcpts []*Rcpt, body []byte, batch bool) (finished bool) {
	mxs, err := q.Resolver.LookupMX(ctx, domain)
	if err != nil {
		status := "4.4.3" // directory server failure
		var dnsErr *dns.Error
		switch {
		case errors.As(err, &dnsErr) && dnsErr.NullMX:
			status = "5.1.10" // a null MX: the domain accepts no mail (RFC 7505)
		case isPermanent(err):
			status = "5.1.2" // bad destination system address
		}
		for _, r := range rcpts {
			r.Reply, r.Status, r.Remote = "DNS: "+err.Error(), status, ""
			if status[0] == '5' {
				r.State = Failed
			}
		}
		return false
	}
	var targets []target
	for _, mx := range mxs {
		for _, a := range mx.Addrs {
			targets = append(targets, target{host: mx.Host, addr: net.JoinHostPort(a.String(), strconv.Itoa(q.MXPort))})
		}
	}
	if len(targets) == 0 {
		for _, r := range rcpts {
			r.Reply, r.Status = "no address found for the mail exchangers of "+domain, "4.4.3"
		}
		return false
	}
	return q.deliverTo(ctx, env, domain, rcpts, body, targets, false, batch)
}

// deliverTo tries the targets in order until one takes the transaction
// (RFC 5321 §5.1: try the next MX only when a host can not be reached or
// refuses the session). With batch, the connection then carries other
// waiting messages for the same domain, and the message is finished (its
// outcome journalled) first, so that a crash during the burst does not
// deliver it again; deliverTo reports whether it finished it.
func (q *Queue) deliverTo(ctx context.Context, env *Envelope, domain string, rcpts []*Rcpt, body []byte, targets []target, lmtp, batch bool) (finished bool) {
	var lastErr error
	for _, t := range targets {
		c, err := q.connect(ctx, t, lmtp)
		if err != nil {
			lastErr = err
			continue
		}
		ok, stale := q.transaction(c, env, rcpts, body)
		if stale {
			// The pooled session died while it idled (its server
			// hung up, or its host went down) before a word about
			// this message: try the host again on a new connection,
			// as an MTA does with a cached session.
			c.close()
			if c, err = q.dial(ctx, t, lmtp); err != nil {
				lastErr = err
				continue
			}
			ok, _ = q.transaction(c, env, rcpts, body)
		}
		if batch {
			q.finish(env, body)
			finished = true
		}
		for n := 0; ok && batch && n < maxBatch; n++ {
			var sent bool
			if sent, ok = q.deliverSibling(c, domain, env.ID); !sent {
				break
			}
		}
		if ok {
			q.pool.put(c)
		} else {
			c.close()
		}
		return finished
	}
	why := "no mail exchanger could be reached"
	if lastErr != nil {
		why = lastErr.Error()
	}
	for _, r := range rcpts {
		r.Reply, r.Status, r.Remote = why, "4.4.1", "" // no answer from host
	}
	return false
}

// deliverSibling delivers one more waiting message for domain on c. It
// reports whether there was one, and whether c is still fit for use (an
// idle connection goes back to the pool, and is closed with QUIT).
func (q *Queue) deliverSibling(c *client, domain, not string) (sent, ok bool) {
	sib := q.sibling(domain, not)
	if sib == nil {
		return false, true
	}
	defer q.done(sib.ID)
	body, err := q.Spool.Body(sib.ID)
	if err != nil {
		q.emit(trace.Event{Kind: trace.KindQueue, Action: "error", Msg: sib.Key, Text: "spool: " + err.Error()})
		return false, false
	}
	sib.Attempts++
	q.emit(trace.Event{Kind: trace.KindQueue, Action: "attempt", Msg: sib.Key, Conn: c.connID,
		Text: "queue id " + sib.ID + ", attempt " + strconv.Itoa(sib.Attempts) + ", on the open connection to " + c.host})
	ok, _ = q.transaction(c, sib, sib.Pending(), body)
	q.finish(sib, body)
	return true, ok
}

// transaction runs MAIL, RCPT…, DATA on a connected client and records
// each recipient's outcome. It reports whether the connection is still
// fit for another message, or that it was a session from the pool that
// turned out dead at the first command (stale): then nothing is recorded.
func (q *Queue) transaction(c *client, env *Envelope, rcpts []*Rcpt, body []byte) (fit, stale bool) {
	idled := c.idled
	c.idled = false
	fail := func(rs []*Rcpt, err error) {
		for _, r := range rs {
			r.Reply, r.Remote = replyText(err), c.host
			r.Status = statusOf(err)
			if isPermanent(err) {
				r.State = Failed
			}
		}
	}
	opts := &smtp.MailOptions{Size: int64(len(body))}
	if err := c.c.Mail(env.From, opts); err != nil {
		if idled && !isSMTPError(err) {
			return false, true
		}
		fail(rcpts, err)
		return isSMTPError(err) && c.c.Reset() == nil, false
	}
	var accepted []*Rcpt
	for _, r := range rcpts {
		if err := c.c.Rcpt(r.Addr, nil); err != nil {
			if !isSMTPError(err) {
				fail(rcpts, err)
				return false, false
			}
			fail([]*Rcpt{r}, err)
			continue
		}
		accepted = append(accepted, r)
	}
	if len(accepted) == 0 {
		return c.c.Reset() == nil, false
	}
	w, err := c.c.Data()
	if err != nil {
		fail(accepted, err)
		return isSMTPError(err) && c.c.Reset() == nil, false
	}
	if _, err := w.Write(body); err != nil {
		fail(accepted, err)
		return false, false
	}
	if c.lmtp {
		resp, err := w.CloseWithLMTPResponse()
		var perRcpt smtp.LMTPDataError
		if err != nil && !errors.As(err, &perRcpt) {
			fail(accepted, err)
			return false, false
		}
		for _, r := range accepted {
			if e := perRcpt[r.Addr]; e != nil {
				fail([]*Rcpt{r}, e)
				continue
			}
			text := ""
			if d := resp[r.Addr]; d != nil {
				text = d.StatusText
			}
			q.delivered(env, r, c, "250 "+text)
		}
		return true, false
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		fail(accepted, err)
		return isSMTPError(err), false
	}
	for _, r := range accepted {
		q.delivered(env, r, c, "250 "+resp.StatusText)
	}
	return true, false
}

func (q *Queue) delivered(env *Envelope, r *Rcpt, c *client, reply string) {
	r.State, r.Reply, r.Remote, r.Status = Delivered, reply, c.host, "2.0.0"
	how := "SMTP"
	if c.lmtp {
		how = "LMTP"
	}
	if c.tls {
		how += " over TLS"
	}
	q.emit(trace.Event{Kind: trace.KindHop, Peer: c.host, Conn: c.connID, Msg: env.Key,
		Text: r.Addr + " handed to " + c.host + " by " + how + " (" + reply + ")"})
}

// DeliveryKey names the delivery of a queued message to one recipient:
// the queue id, the time the message was queued (the id alone comes round
// again after some days) and the recipient. It is the same for every
// attempt and after a restart, since the spool keeps all three. Each
// call of Local has it in its context (mda.WithDeliveryKey): an mda.MDA
// on a store that files once per key (maildir) files a message that
// recovery delivers again (the process died after filing it, before the
// journal said so) once only.
func DeliveryKey(env *Envelope, rcpt string) string {
	return env.ID + "." + strconv.FormatInt(env.Created.UnixNano(), 10) + "." + strings.ToLower(rcpt)
}

func (q *Queue) deliverLocal(ctx context.Context, env *Envelope, rcpts []*Rcpt, body []byte) {
	for _, r := range rcpts {
		if q.Local == nil {
			r.Reply, r.Status = "no local delivery on this host", "4.3.0"
			continue
		}
		err := q.Local(mda.WithDeliveryKey(ctx, DeliveryKey(env, r.Addr)), env, r.Addr, body)
		if err != nil {
			r.Reply, r.Remote, r.Status = err.Error(), q.Hostname, statusOf(err)
			if isPermanent(err) {
				r.State = Failed
			}
			continue
		}
		r.State, r.Reply, r.Remote, r.Status = Delivered, "delivered to the local mailbox", q.Hostname, "2.0.0"
	}
}

// isPermanent reports whether an error is a permanent failure: an SMTP 5xx
// reply, or an error that says so.
func isPermanent(err error) bool {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code/100 == 5
	}
	var p interface{ Permanent() bool }
	if errors.As(err, &p) {
		return p.Permanent()
	}
	return false
}

func isSMTPError(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se)
}

// replyText renders an error as the server's reply where there is one.
func replyText(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		s := strconv.Itoa(se.Code)
		if se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode != smtp.EnhancedCodeNotSet {
			s += fmt.Sprintf(" %d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		return s + " " + se.Message
	}
	return err.Error()
}

// statusOf returns the RFC 3463 status of an error.
func statusOf(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		if se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode != smtp.EnhancedCodeNotSet {
			return fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		}
		return fmt.Sprintf("%d.0.0", se.Code/100)
	}
	var st interface{ Status() string }
	if errors.As(err, &st) {
		return st.Status()
	}
	if isPermanent(err) {
		return "5.0.0"
	}
	return "4.0.0"
}

// client is one SMTP or LMTP session to a server.
type client struct {
	c      *smtp.Client
	conn   net.Conn
	addr   string
	host   string
	lmtp   bool
	tls    bool
	connID string
	idled  bool // taken from the pool, not used since
}

func (c *client) close() {
	c.c.Close()
}

// connect takes an idle session to t from the pool or opens a new one.
func (q *Queue) connect(ctx context.Context, t target, lmtp bool) (*client, error) {
	if c := q.pool.get(t.addr); c != nil {
		// The pool keeps a session for seconds, well within the
		// server's timeout: it is ready for the next transaction,
		// unless the server went away meanwhile (see transaction).
		c.idled = true
		return c, nil
	}
	return q.dial(ctx, t, lmtp)
}

// dial opens a session to t: greeting, EHLO (LHLO), and STARTTLS when
// offered and configured.
func (q *Queue) dial(ctx context.Context, t target, lmtp bool) (*client, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := q.Net.DialContext(dctx, "tcp", t.addr)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", t.host, t.addr, unwrapDial(err))
	}
	c := &client{conn: conn, addr: t.addr, host: t.host, lmtp: lmtp}
	if tap := netx.TapOf(conn); tap != nil {
		c.connID = tap.ConnID()
	}
	if lmtp {
		c.c = smtp.NewClientLMTP(conn)
		if err := c.c.Hello(q.Hostname); err != nil {
			c.c.Close()
			return nil, fmt.Errorf("%s: %w", t.host, err)
		}
		return c, nil
	}
	var cfg *tls.Config
	if q.ClientTLS != nil {
		cfg = q.ClientTLS(t.host)
	}
	sc, isTLS, err := smtpclient.Start(conn, q.Hostname, cfg, false)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: %w", t.host, err)
	}
	c.c, c.tls = sc, isTLS
	return c, nil
}

func unwrapDial(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// connPool keeps idle sessions for reuse by the next message to the same
// server, for a short while.
type connPool struct {
	clk  clock.Clock
	idle time.Duration
	mu   sync.Mutex
	free map[string][]*pooled
}

type pooled struct {
	c     *client
	timer clock.Timer
}

func newConnPool(clk clock.Clock, idle time.Duration) *connPool {
	return &connPool{clk: clk, idle: idle, free: map[string][]*pooled{}}
}

func (p *connPool) get(addr string) *client {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.free[addr]
	if len(list) == 0 {
		return nil
	}
	pc := list[len(list)-1]
	p.free[addr] = list[:len(list)-1]
	pc.timer.Stop()
	return pc.c
}

func (p *connPool) put(c *client) {
	pc := &pooled{c: c}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.free == nil {
		p.quit(c)
		return
	}
	pc.timer = p.clk.AfterFunc(p.idle, func() {
		p.mu.Lock()
		list := p.free[c.addr]
		for i, x := range list {
			if x == pc {
				p.free[c.addr] = append(list[:i:i], list[i+1:]...)
				p.mu.Unlock()
				p.quit(c)
				return
			}
		}
		p.mu.Unlock()
	})
	p.free[c.addr] = append(p.free[c.addr], pc)
}

// quit says goodbye on an idle connection, in the background; the clock
// is held meanwhile, so that a world that settles waits for the QUIT.
func (p *connPool) quit(c *client) {
	release := hold(p.clk)
	go func() {
		defer release()
		quit(c)
	}()
}

func quit(c *client) {
	c.c.Quit()
	c.c.Close()
}

func (p *connPool) closeAll() {
	p.mu.Lock()
	all := p.free
	p.free = nil
	p.mu.Unlock()
	for _, list := range all {
		for _, pc := range list {
			pc.timer.Stop()
			quit(pc.c)
		}
	}
}

// IdleConns returns how many connections wait in the pool for another
// message; each is closed with QUIT once it has idled IdleConn.
func (q *Queue) IdleConns() int {
	if q.pool == nil {
		return 0
	}
	q.pool.mu.Lock()
	defer q.pool.mu.Unlock()
	n := 0
	for _, list := range q.pool.free {
		n += len(list)
	}
	return n
}
