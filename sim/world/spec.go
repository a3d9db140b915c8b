package world

import (
	"embed"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/mailhop/mailhop/sim/mua"
)

// Spec describes a world: its hosts, DNS zones, users and faults. It is
// read from a world file, JSON or YAML (see the README for the format).
type Spec struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Start is the virtual clock's time when the world begins.
	Start time.Time `json:"start,omitzero"`
	// Seed makes the world's random choices (message ids, TLS keys and
	// randoms): the same seed and the same actions give the same trace,
	// byte for byte. 0 (unset) means DefaultSeed.
	Seed uint64 `json:"seed,omitempty"`
	// InsecureAuth lets clients log in without TLS (a teaching shortcut).
	InsecureAuth bool `json:"insecure_auth,omitempty"`
	// Strict makes the SMTP servers follow RFC 5321 to the letter and
	// explain every deviation (smtp.Server.Strict). A world file that does
	// not say is strict: the playground teaches correct syntax. "strict:
	// false" gives Postfix's tolerant defaults, as `mailhop serve` has.
	Strict *bool             `json:"strict,omitempty"`
	Hosts  []HostSpec        `json:"hosts"`
	Zones  map[string]string `json:"zones,omitempty"`
	Users  []UserSpec        `json:"users,omitempty"`
	Faults []Fault           `json:"faults,omitempty"`
	Queue  QueueSpec         `json:"queue,omitzero"`
	// Send are the messages `mailhop sim` sends when it is not told
	// (--send): the world's own story. None: its first user writes to
	// its second.
	Send []MailSpec `json:"send,omitempty"`
}

// MailSpec is a message a world sends (Spec.Send).
type MailSpec struct {
	From    string   `json:"from"`
	To      []string `json:"to"`
	Subject string   `json:"subject,omitempty"`
	Body    string   `json:"body,omitempty"`
	// Host is the machine it is sent from: the sender's own (the mua
	// host whose user is From) unless said. A direct host hands it to
	// the recipients' MX itself, whatever From says.
	Host string `json:"host,omitempty"`
}

// Mail is the message as the mail client writes it.
func (m MailSpec) Mail() mua.Mail {
	return mua.Mail{From: m.From, To: m.To, Subject: m.Subject, Body: m.Body}
}

// HostSpec is one machine of the world.
type HostSpec struct {
	Name  string   `json:"name"`
	Addrs []string `json:"addrs"`
	// Roles: mua, msa, mx, mda, lmtp, pop3, imap, dns.
	Roles []string `json:"roles"`
	// Domains are the mail domains the host receives (mx) or keeps
	// mailboxes for (mda, lmtp).
	Domains []string `json:"domains,omitempty"`
	// Resolver is the DNS server the host's queue asks ("192.0.2.53");
	// the first dns host of the world by default.
	Resolver string `json:"resolver,omitempty"`
	// Zones are the zones a dns host serves (keys of Spec.Zones).
	Zones []string `json:"zones,omitempty"`
	// LMTP is the host an MX hands its domains' mail to ("store.example.net").
	LMTP string `json:"lmtp,omitempty"`
	// User, MSA, Mailstore: for a mua, whose machine it is, where it
	// submits, and where it reads mail.
	User      string `json:"user,omitempty"`
	MSA       string `json:"msa,omitempty"`
	Mailstore string `json:"mailstore,omitempty"`
	// DKIM: false stops an msa host from signing its domains' mail (a
	// world without DKIM); unset or true, it signs with a key made from
	// the world's seed, published in the zone of each domain.
	DKIM *bool `json:"dkim,omitempty"`
	// Direct makes a mua host send without an MSA: it looks up each
	// recipient domain's MX and hands the message over on port 25,
	// without logging in, whatever the From (a spammer's script, a
	// forger, a program that carries its own mail).
	Direct bool `json:"direct,omitempty"`
}

// IsStrict reports whether the world's SMTP servers are strict: true
// unless the world file says "strict: false".
func (s *Spec) IsStrict() bool { return s.Strict == nil || *s.Strict }

// Has reports whether the host has a role.
func (h *HostSpec) Has(role string) bool { return slices.Contains(h.Roles, role) }

// UserSpec is a mail user.
type UserSpec struct {
	Address  string `json:"address"`
	Password string `json:"password"`
	// ForwardTo sends the address's mail on to these addresses instead
	// of its mailbox, unchanged and from the same envelope sender (an
	// alias, a .forward file), as the MX of its domain accepts it.
	ForwardTo []string `json:"forward_to,omitempty"`
	// List makes the address a mailing list: each message is sent on to
	// the members, tagged and with a footer.
	List *ListSpec `json:"list,omitempty"`
}

// ListSpec is a mailing list (UserSpec.List).
type ListSpec struct {
	Members []string `json:"members"`
	// SubjectTag goes in front of the Subject ("[LOCAL]" unless said).
	SubjectTag string `json:"subject_tag,omitempty"`
	// Footer goes below the body (the list's name and address unless
	// said).
	Footer string `json:"footer,omitempty"`
	// Bounces is the envelope sender of the copies (LOCAL-bounces@DOMAIN
	// unless said): where the members' servers send bounces.
	Bounces string `json:"bounces,omitempty"`
}

// QueueSpec tunes every queue of the world.
type QueueSpec struct {
	// Retry is the delays between attempts ("5m", "10m", ...); the last
	// one repeats.
	Retry []string `json:"retry,omitempty"`
	// Lifetime is when a message gives up and bounces ("120h").
	Lifetime string `json:"lifetime,omitempty"`
	// WarnAfter is when the sender is told of a delay ("4h").
	WarnAfter string `json:"warn_after,omitempty"`
}

// The roles a host may have.
var roles = []string{"mua", "msa", "mx", "mda", "lmtp", "pop3", "imap", "dns"}

//go:embed worlds/*.yaml
var builtin embed.FS

// Builtin returns the names of the worlds that come with mailhop.
func Builtin() []string {
	entries, _ := builtin.ReadDir("worlds")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return names
}

// Load returns a built-in world by name, or parses a world file's text
// (JSON or YAML).
func Load(nameOrText string) (*Spec, error) {
	text := nameOrText
	if !strings.ContainsAny(nameOrText, "\n{:") {
		b, err := builtin.ReadFile(path.Join("worlds", nameOrText+".yaml"))
		if err != nil {
			return nil, fmt.Errorf("no built-in world %q (there are: %s)", nameOrText, strings.Join(Builtin(), ", "))
		}
		text = string(b)
	}
	return Parse([]byte(text))
}

// Parse reads a world file (JSON or YAML) and checks it.
func Parse(b []byte) (*Spec, error) {
	var s Spec
	if err := yaml.UnmarshalStrict(b, &s); err != nil {
		return nil, fmt.Errorf("world file: %w", err)
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Check reports the first thing wrong with a spec, in words a teacher
// editing a world file can act on.
func (s *Spec) Check() error {
	if len(s.Hosts) == 0 {
		return fmt.Errorf("world %q has no hosts", s.Name)
	}
	names := map[string]bool{}
	addrs := map[netip.Addr]string{}
	for i, h := range s.Hosts {
		where := fmt.Sprintf("host %d (%s)", i+1, h.Name)
		if h.Name == "" {
			return fmt.Errorf("host %d has no name", i+1)
		}
		if names[h.Name] {
			return fmt.Errorf("%s: the name is used twice", where)
		}
		names[h.Name] = true
		if len(h.Addrs) == 0 {
			return fmt.Errorf("%s: no address", where)
		}
		for _, a := range h.Addrs {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				return fmt.Errorf("%s: %q is not an IP address", where, a)
			}
			if other, dup := addrs[ip]; dup {
				return fmt.Errorf("%s: address %s belongs to %s already", where, a, other)
			}
			addrs[ip] = h.Name
		}
		for _, r := range h.Roles {
			if !slices.Contains(roles, r) {
				return fmt.Errorf("%s: unknown role %q (roles: %s)", where, r, strings.Join(roles, ", "))
			}
		}
		for _, z := range h.Zones {
			if _, ok := s.Zones[z]; !ok {
				return fmt.Errorf("%s: serves zone %q, which the world does not define", where, z)
			}
		}
		if (h.Has("mx") || h.Has("mda") || h.Has("lmtp") || h.Has("msa")) && len(h.Domains) == 0 {
			return fmt.Errorf("%s: a mail server needs its domains", where)
		}
	}
	for _, h := range s.Hosts {
		for _, ref := range []struct{ field, name string }{{"lmtp", h.LMTP}, {"msa", h.MSA}, {"mailstore", h.Mailstore}} {
			if ref.name != "" && !names[ref.name] {
				return fmt.Errorf("host %s: %s %q is not a host of the world", h.Name, ref.field, ref.name)
			}
		}
		if h.Direct && !h.Has("mua") {
			return fmt.Errorf("host %s: direct is for a mua host (a machine that sends mail)", h.Name)
		}
		if h.Direct && h.MSA != "" {
			return fmt.Errorf("host %s: direct and msa: a mua host either submits to its MSA or sends straight to the MX, say one", h.Name)
		}
		if h.Direct && h.Resolver == "" && !slices.ContainsFunc(s.Hosts, func(o HostSpec) bool { return o.Has("dns") }) {
			return fmt.Errorf("host %s: direct needs DNS to find the MX: a host with role dns, or resolver", h.Name)
		}
	}
	for _, u := range s.Users {
		local, domain, ok := strings.Cut(u.Address, "@")
		if !ok || local == "" || domain == "" {
			return fmt.Errorf("user %q: not an address", u.Address)
		}
		if err := s.checkAlias(u); err != nil {
			return fmt.Errorf("user %s: %w", u.Address, err)
		}
	}
	for i, m := range s.Send {
		if err := s.checkMail(m); err != nil {
			return fmt.Errorf("send %d: %w", i+1, err)
		}
	}
	for _, d := range append(append([]string(nil), s.Queue.Retry...), s.Queue.Lifetime, s.Queue.WarnAfter) {
		if d == "" {
			continue
		}
		if _, err := time.ParseDuration(d); err != nil {
			return fmt.Errorf("queue: %q is not a duration (like 5m or 4h)", d)
		}
	}
	for i, f := range s.Faults {
		if err := f.check(names); err != nil {
			return fmt.Errorf("fault %d: %w", i+1, err)
		}
	}
	return nil
}

// Signs reports whether an msa host signs its domains' mail with DKIM.
func (h HostSpec) Signs() bool { return h.Has("msa") && (h.DKIM == nil || *h.DKIM) }

func isAddress(a string) bool {
	local, domain, ok := strings.Cut(a, "@")
	return ok && local != "" && domain != "" && !strings.ContainsAny(a, " \t\r\n<>,;")
}

// checkAlias checks a user's forward_to and list.
func (s *Spec) checkAlias(u UserSpec) error {
	if len(u.ForwardTo) == 0 && u.List == nil {
		return nil
	}
	if len(u.ForwardTo) > 0 && u.List != nil {
		return errors.New("forward_to and list: an address is forwarded or a list, not both")
	}
	targets, field := u.ForwardTo, "forward_to"
	if u.List != nil {
		targets, field = u.List.Members, "list members"
		if len(targets) == 0 {
			return errors.New("the list has no members")
		}
		if b := u.List.Bounces; b != "" && !isAddress(b) {
			return fmt.Errorf("list bounces %q: not an address", b)
		}
	}
	for _, t := range targets {
		if !isAddress(t) {
			return fmt.Errorf("%s: %q is not an address", field, t)
		}
	}
	d := domainOf(u.Address)
	if !slices.ContainsFunc(s.Hosts, func(h HostSpec) bool {
		return (h.Has("mx") || h.Has("msa")) && slices.ContainsFunc(h.Domains, func(x string) bool { return strings.EqualFold(x, d) })
	}) {
		return fmt.Errorf("%s needs a host with role mx for %s: it is done there, as the message is accepted", field, d)
	}
	return nil
}

// checkMail checks one of the world's own messages (Spec.Send).
func (s *Spec) checkMail(m MailSpec) error {
	if !isAddress(m.From) {
		return fmt.Errorf("from %q: not an address", m.From)
	}
	if len(m.To) == 0 {
		return errors.New("no recipient (to)")
	}
	for _, t := range m.To {
		if !isAddress(t) {
			return fmt.Errorf("to %q: not an address", t)
		}
	}
	var h *HostSpec
	for i := range s.Hosts {
		hs := &s.Hosts[i]
		if m.Host != "" && hs.Name == m.Host || m.Host == "" && hs.Has("mua") && strings.EqualFold(hs.User, m.From) {
			h = hs
			break
		}
	}
	switch {
	case h == nil && m.Host != "":
		return fmt.Errorf("host %q is not a host of the world", m.Host)
	case h == nil:
		return fmt.Errorf("no mua host is %s's machine: say which host sends it (host)", m.From)
	case !h.Has("mua"):
		return fmt.Errorf("host %s is no mua: it can not send a message", h.Name)
	case !h.Direct && h.MSA == "":
		return fmt.Errorf("host %s has neither an msa to submit to nor direct: true", h.Name)
	}
	return nil
}
