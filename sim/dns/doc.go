// Package dns is mailhop's Domain Name System: an authoritative server
// that answers from RFC 1035 zone files, and the resolver the MTAs use to
// find where to deliver a message. Both are built on github.com/miekg/dns
// and reach the network only through netx.Network, so they run unchanged on
// the simulated network (package netsim, in the browser too) and on real
// sockets (`mailhop dns`).
//
// # Server
//
// LoadZone reads a zone file; a Server holds zones and is a dns.Handler in
// miekg's net/http shape, run with ServePacket (UDP) and ServeListener
// (TCP). It is authoritative only (RFC 1034 §4.3.2 without recursion):
//
//   - AA=1 answers for names in its zones, following CNAME chains through
//     its own zones (RFC 1034 §3.6.2, §4.3.2 step 3a);
//   - NXDOMAIN, and NODATA (NOERROR with no answer), carry the zone's SOA in
//     the authority section, its TTL capped by the SOA minimum (RFC 2308
//     §2, §3); a name with no records but names below it exists (RFC 8020);
//   - a name below a zone cut (NS records inside the zone) gets a referral
//     (AA=0, the NS records and their glue) rather than an answer;
//   - REFUSED for names outside its zones, for other classes than IN and for
//     zone transfers; RA=0 always; NOTIMP for opcodes other than QUERY;
//     FORMERR for a query without exactly one question (RFC 9619); nothing
//     at all for a response (QR=1), so that nobody can bounce messages off
//     it;
//   - ANY gets one RRset, the name's smallest, over UDP and TCP alike
//     (RFC 8482 §4.1), not every record of the name;
//   - EDNS0 (RFC 6891): a UDP answer fits the requester's advertised size
//     (at least 512 bytes, at most Server.MaxUDPSize), otherwise 512 bytes
//     (RFC 1035 §4.2.1); what does not fit is cut and TC=1 set, so the
//     client asks again over TCP (RFC 7766); EDNS versions other than 0 get
//     BADVERS (RFC 6891 §6.1.3); a query with more than one OPT record is
//     FORMERR (§6.1.1); the answer to an EDNS query has an OPT record,
//     errors included;
//   - over TCP (RFC 7766 §6.2, §10), a connection has 2 seconds to send its
//     first query and 8 to send each next one (whole, so a byte at a time
//     does not keep it), 5 seconds to take each answer, and 128 queries;
//     a client holds 64 connections at most, all clients 1024; a frame too
//     short for a DNS header (a zero length) closes the connection.
//
// Teachers break DNS with SetFault (SERVFAIL, REFUSED, or silently dropped
// queries, for every name or below one name) and change answers with
// SetZone while the world runs.
//
// # Resolver
//
// A Resolver is a stub resolver: it asks its Servers (UDP first, TCP when
// the answer is truncated, the next server or another round on timeout,
// SERVFAIL or REFUSED) and follows CNAME chains. LookupMX applies RFC 5321
// §5.1: mail exchangers sorted by preference (ties by name, so that a
// simulation is reproducible, where §5.1 would shuffle them), each with its
// addresses (A then AAAA); an implicit MX (the domain's own address) when
// the domain has no MX records; a null MX (RFC 7505, "0 .") is a permanent
// failure. NXDOMAIN is permanent; SERVFAIL, REFUSED and timeouts are
// temporary (the queue retries), see Error and IsPermanent.
//
// Every query and every answer the resolver sees is a trace event of kind
// "dns" with the records in dig's presentation format; WithMsg tags the
// events of a lookup with a message's queue id. DescribePacket summarises a
// DNS datagram for netsim's packet events.
//
// Not implemented: recursion, DNSSEC, zone transfers, wildcards (RFC 4592),
// dynamic update, $INCLUDE (refused, as it would read any file).
//
// Nothing here keeps global state: a world runs many servers and
// resolvers in one process.
package dns
