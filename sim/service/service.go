// Package service is the one table of the services a mail host offers:
// each one's name, port, protocol, TLS and the role that runs it. The
// host builder (sim/mailhost), the trace's protocol names, `mailhop serve`'s
// listening flags and the playground's page (through the state it is
// sent) all read it here, and nowhere else.
package service

// Service is one listening service of a mail host.
type Service struct {
	// Name is the service's name, and `mailhop serve`'s flag for it.
	Name string `json:"name"`
	// Port is its well-known port (where the simulation listens).
	Port int `json:"port"`
	// Proto is the protocol spoken: smtp, lmtp, pop3 or imap.
	Proto string `json:"proto"`
	// ImplicitTLS: TLS from the first byte (465, 993, 995), rather than
	// STARTTLS/STLS on request.
	ImplicitTLS bool `json:"implicit_tls,omitempty"`
	// Role is the host role that runs it (a world file's roles).
	Role string `json:"role"`
	// About says what it is for, in a few words.
	About string `json:"about"`
}

// All lists every service, in the order a host starts them.
var All = []Service{
	{Name: "smtp", Port: 25, Proto: "smtp", Role: "mx", About: "SMTP (MX): mail for the host's domains"},
	{Name: "submission", Port: 587, Proto: "smtp", Role: "msa", About: "submission: users send mail, STARTTLS and AUTH"},
	{Name: "submissions", Port: 465, Proto: "smtp", ImplicitTLS: true, Role: "msa", About: "submission over TLS"},
	{Name: "lmtp", Port: 24, Proto: "lmtp", Role: "lmtp", About: "LMTP: an MX hands mail to the mailbox host"},
	{Name: "pop3", Port: 110, Proto: "pop3", Role: "pop3", About: "POP3: read and download mail, STLS"},
	{Name: "pop3s", Port: 995, Proto: "pop3", ImplicitTLS: true, Role: "pop3", About: "POP3 over TLS"},
	{Name: "imap", Port: 143, Proto: "imap", Role: "imap", About: "IMAP: read mail on the server, STARTTLS"},
	{Name: "imaps", Port: 993, Proto: "imap", ImplicitTLS: true, Role: "imap", About: "IMAP over TLS"},
}

// DNS is the port of DNS, which a mail host asks but does not serve.
const DNS = 53

// Named returns the service of that name.
func Named(name string) (Service, bool) {
	for _, s := range All {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// ProtoForPort names the protocol conventionally spoken on a port: a
// service's, "dns" on 53, "smtp" on 2525 (a common submission
// alternative), else "tcp".
func ProtoForPort(port int) string {
	for _, s := range All {
		if s.Port == port {
			return s.Proto
		}
	}
	switch port {
	case DNS:
		return "dns"
	case 2525:
		return "smtp"
	}
	return "tcp"
}
