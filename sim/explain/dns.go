package explain

const rfc1035Rcodes = "RFC 1035 §4.1.1"

var dnsTables = []group{
	{"dns", KindRcode, []row{
		{"NOERROR", rfc1035Rcodes, "no error: the query was answered (the answer may still be empty: see NODATA)"},
		{"FORMERR", rfc1035Rcodes, "format error: the name server could not interpret the query"},
		{"SERVFAIL", rfc1035Rcodes, "server failure: the name server could not answer; a mail server treats this as temporary and, as RFC 5321 §5.1 requires, keeps the message queued for a later attempt"},
		{"NXDOMAIN", rfc1035Rcodes, "name error: the name does not exist; for a recipient's domain RFC 5321 §5.1 makes this a permanent failure, and the message bounces"},
		{"NOTIMP", rfc1035Rcodes, "not implemented: the name server does not support this kind of query"},
		{"REFUSED", rfc1035Rcodes, "refused: the name server will not answer this client, for policy reasons"},
		{"NODATA", "RFC 2308 §2.2", "no data: the name exists but has no records of the type asked for (a NOERROR answer that is empty, not an rcode of its own)"},
	}},

	{"dns", KindType, []row{
		{"MX", "RFC 1035 §3.3.9", "mail exchanger: the hosts that accept mail for the domain, each with a preference number; RFC 5321 §5.1 has senders try the lowest number first"},
		{"MX 0 .", "RFC 7505 §3", "null MX: the domain states that it accepts no mail, so senders bounce at once instead of trying (556 5.1.10)"},
		{"no MX", "RFC 5321 §5.1", "no MX records: the domain's own address (A or AAAA) is used as an implicit MX with preference 0"},
		{"A", "RFC 1035 §3.4.1", "an IPv4 address of the name: where a mail server connects once it knows the mail host"},
		{"AAAA", "RFC 3596 §2", "an IPv6 address of the name"},
		{"CNAME", "RFC 1035 §3.3.1", "an alias: the name stands for another (canonical) name, where the lookup continues; RFC 2181 §10.3 forbids an MX that points to an alias"},
		{"TXT", "RFC 1035 §3.3.14", "free text; mail keeps SPF policies (RFC 7208), DKIM keys (RFC 6376) and DMARC policies (RFC 7489) in it"},
		{"SOA", "RFC 1035 §3.3.13", "start of authority: the zone's primary server, contact and timers; a negative answer carries it, and RFC 2308 uses it to say how long the 'no' may be cached"},
		{"NS", "RFC 1035 §3.3.11", "the name servers that are authoritative for the zone; a referral lists them to say 'ask there'"},
		{"PTR", "RFC 1035 §3.3.12", "reverse DNS: the name of an IP address (under in-addr.arpa or ip6.arpa); many receivers check that a sending server's address has one"},
	}},
}
