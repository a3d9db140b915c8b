package mailhost

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/clock"
	"github.com/mailhop/mailhop/sim/netsim"
	"github.com/mailhop/mailhop/sim/pki"
	"github.com/mailhop/mailhop/sim/queue"
	"github.com/mailhop/mailhop/sim/service"
	"github.com/mailhop/mailhop/sim/store"
)

func names(svcs []service.Service) string {
	var out []string
	for _, s := range svcs {
		out = append(out, s.Name)
	}
	return strings.Join(out, " ")
}

// The roles choose the services, from the one table.
func TestServices(t *testing.T) {
	for _, tc := range []struct {
		roles []string
		want  string
	}{
		{[]string{RoleMX}, "smtp"},
		{[]string{RoleMSA, RoleMX, RoleMDA, RolePOP3, RoleIMAP}, "smtp submission submissions pop3 pop3s imap imaps"},
		{[]string{RoleLMTP, RoleIMAP}, "lmtp imap imaps"},
		{[]string{RoleMDA}, ""},
	} {
		if got := names(Services(tc.roles)); got != tc.want {
			t.Errorf("Services(%v) = %q, want %q", tc.roles, got, tc.want)
		}
	}
}

type rig struct {
	net  *netsim.Network
	host *netsim.Host
	ca   *pki.CA
	cfg  Config
}

func newRig(t *testing.T, roles ...string) *rig {
	t.Helper()
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	n := netsim.New(clk, nil)
	h, err := n.AddHost("mail.example.org", "192.0.2.25")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddHost("client", "192.0.2.10"); err != nil {
		t.Fatal(err)
	}
	ca, _ := pki.NewCA("test CA", 1)
	srvTLS, _ := ca.ServerConfig("mail.example.org")
	users := auth.NewDirectory("example.org")
	users.Add("alice@example.org", "alice")
	st := store.NewMemory(clk.Now)
	st.AddUser("alice@example.org")
	return &rig{net: n, host: h, ca: ca, cfg: Config{
		Hostname: "mail.example.org", Domains: []string{"example.org"}, Roles: roles,
		Listen: func(svc service.Service) (net.Listener, error) {
			return h.Listen("tcp", ":"+strconv.Itoa(svc.Port))
		},
		Net: h, Clock: clk, Users: users, Store: st, Spool: queue.NewMemorySpool(),
		Resolver: noMX{}, TLS: srvTLS, ClientTLS: ca.ClientConfig,
	}}
}

type noMX struct{}

func (noMX) LookupMX(context.Context, string) ([]queue.MX, error) {
	return nil, errors.New("no DNS here")
}

// dial connects from the client host and reads the greeting's first line.
func (r *rig) dial(t *testing.T, port int, implicitTLS bool) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	c, err := r.net.Host("client").DialContext(context.Background(), "tcp", "192.0.2.25:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("dial %d: %v", port, err)
	}
	if implicitTLS {
		tc := tls.Client(c, r.ca.ClientConfig("mail.example.org"))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS on %d: %v", port, err)
		}
		c = tc
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("greeting on %d: %v", port, err)
	}
	return c, br, line
}

// One host with every role serves each service on its port; STARTTLS
// (STLS) is offered only where TLS is not implicit; Shutdown closes them.
func TestHostServes(t *testing.T) {
	r := newRig(t, RoleMSA, RoleMX, RoleMDA, RolePOP3, RoleIMAP)
	h, err := New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.Queue == nil || h.MDA == nil {
		t.Fatalf("queue %v, MDA %v", h.Queue, h.MDA)
	}
	var ls []string
	for name := range h.Listeners() {
		ls = append(ls, name)
	}
	slices.Sort(ls)
	if got := strings.Join(ls, " "); got != "imap imaps pop3 pop3s smtp submission submissions" {
		t.Errorf("listeners: %s", got)
	}
	for _, tc := range []struct {
		port     int
		implicit bool
		greeting string
		ask      string
		starttls bool
	}{
		{25, false, "220 mail.example.org ", "EHLO client\r\n", true},
		{587, false, "220 mail.example.org ", "EHLO client\r\n", true},
		{465, true, "220 mail.example.org ", "EHLO client\r\n", false},
		{110, false, "+OK ", "CAPA\r\n", true},
		{995, true, "+OK ", "CAPA\r\n", false},
		{143, false, "* OK ", "a CAPABILITY\r\n", true},
		{993, true, "* OK ", "a CAPABILITY\r\n", false},
	} {
		c, br, greeting := r.dial(t, tc.port, tc.implicit)
		if !strings.HasPrefix(greeting, tc.greeting) {
			t.Errorf("port %d greets %q", tc.port, greeting)
		}
		c.Write([]byte(tc.ask))
		var reply strings.Builder
		for {
			line, err := br.ReadString('\n')
			reply.WriteString(line)
			if err != nil || strings.HasPrefix(line, "250 ") || line == ".\r\n" || strings.HasPrefix(line, "a ") {
				break
			}
		}
		offers := strings.Contains(reply.String(), "STARTTLS") || strings.Contains(reply.String(), "STLS")
		if offers != tc.starttls {
			t.Errorf("port %d offers STARTTLS/STLS: %v, want %v:\n%s", tc.port, offers, tc.starttls, reply.String())
		}
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	h.Shutdown(ctx)
	if _, err := r.net.Host("client").DialContext(context.Background(), "tcp", "192.0.2.25:25"); err == nil {
		t.Error("port 25 still answers after Shutdown")
	}
}

// Listen decides which services run: nil is off; an error stops New,
// naming the service, with nothing left listening.
func TestListen(t *testing.T) {
	r := newRig(t, RoleMX, RoleIMAP)
	open := r.cfg.Listen
	r.cfg.Listen = func(svc service.Service) (net.Listener, error) {
		if svc.ImplicitTLS {
			return nil, nil
		}
		return open(svc)
	}
	h, err := New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(h.Listeners()); got != 2 {
		t.Errorf("%d listeners, want smtp and imap", got)
	}
	h.CloseListeners()

	r.cfg.Listen = func(svc service.Service) (net.Listener, error) {
		if svc.Name == "imaps" {
			return nil, errors.New("address in use")
		}
		return open(svc)
	}
	if _, err := New(r.cfg); err == nil || !strings.Contains(err.Error(), "imaps: address in use") {
		t.Fatalf("New with imaps taken: %v", err)
	}
	if ports := r.host.Ports(); len(ports) != 0 {
		t.Errorf("after a failed New, still listening on %v", ports)
	}
}

// The queue routes the host's own domains to its MDA (or by LMTP to the
// mailbox host), and the rest to MX hosts.
func TestRoutes(t *testing.T) {
	r := newRig(t, RoleMSA, RoleMX, RoleMDA)
	h, err := New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.CloseListeners()
	if got := h.Queue.Route("EXAMPLE.org"); got.Kind != queue.RouteLocal {
		t.Errorf("own domain: %+v", got)
	}
	if got := h.Queue.Route("example.net"); got.Kind != queue.RouteMX {
		t.Errorf("another domain: %+v", got)
	}

	r = newRig(t, RoleMX)
	r.cfg.LMTP = &queue.Route{Kind: queue.RouteLMTP, Addr: "198.51.100.30:24", Host: "store.example.org"}
	h, err = New(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.CloseListeners()
	if got := h.Queue.Route("example.org"); got != *r.cfg.LMTP {
		t.Errorf("an MX in front of a mailbox host: %+v", got)
	}
	if h.MDA != nil {
		t.Error("an MX without mda or lmtp has an MDA")
	}
}

// The table has each service once, on its own port, run by a role a
// world file can give.
func TestServiceTable(t *testing.T) {
	ports := map[int]bool{}
	for _, s := range service.All {
		if ports[s.Port] {
			t.Errorf("port %d twice", s.Port)
		}
		ports[s.Port] = true
		if len(Services([]string{s.Role})) == 0 {
			t.Errorf("%s: role %q runs nothing", s.Name, s.Role)
		}
		if got := service.ProtoForPort(s.Port); got != s.Proto {
			t.Errorf("ProtoForPort(%d) = %q, want %q", s.Port, got, s.Proto)
		}
	}
}
