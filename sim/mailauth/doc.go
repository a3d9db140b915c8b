// Package mailauth answers the question a receiving mail server asks of
// every message: is it really from who it says? Three standards answer
// it together, each through DNS records the sending domain publishes:
//
//   - SPF (RFC 7208) checks the envelope: may the host at this IP address
//     send mail with this MAIL FROM domain? example.org lists its
//     senders in a TXT record, "v=spf1 mx -all": "my MX hosts, nobody
//     else".
//   - DKIM (RFC 6376) checks the content: the sending domain signs the
//     header fields and the body with a private key, and publishes the
//     public key in DNS at <selector>._domainkey.<domain>. A receiver
//     that finds the signature good knows the message has not been
//     changed since, and that the domain took responsibility for it.
//   - DMARC (RFC 7489) ties both to the address the reader sees, the
//     From field: a message passes when SPF or DKIM passed for a domain
//     that aligns with it, and the From domain's policy
//     (_dmarc.<domain>, "v=DMARC1; p=reject") says what to do when
//     neither did: nothing, quarantine or reject.
//
// The receiver writes what it found in an Authentication-Results header
// field (RFC 8601) for the programs further down the chain.
//
// Every function returns a result with a Reason in plain English ("the
// body hash does not match: the body was changed after example.org
// signed it") and the DNS lookups it made, so that the simulation can
// show a learner each step. The code is the protocols' real logic and
// runs the same in the browser (js/wasm) and in `mailhop serve`.
//
// # DNS
//
// All lookups go through a Resolver, the method set of *net.Resolver (the
// real server can pass net.DefaultResolver). FromExchanger adapts
// anything that asks single DNS questions, such as sim/dns.Resolver, whose
// queries then appear in the trace; it follows CNAMEs (MaxCNAMEChain
// links; a loop is a temporary failure) and joins the strings of a TXT
// record (RFC 7208 §3.3, RFC 6376 §3.6.2.2). NXDOMAIN and NODATA are "no
// records" (IsNotFound); every other failure is temporary: temperror.
//
// # Functions and the sections they follow
//
// SPF:
//
//   - CheckSPF: the MAIL FROM identity, and postmaster@<HELO> for the
//     null sender (RFC 7208 §2.4); CheckHelo: the HELO identity (§2.3).
//   - CheckHost: check_host() (§4): domain validation (§4.3), record
//     lookup and selection, two records being a permerror (§4.4, §4.5),
//     evaluation left to right (§4.6, §4.7), the limits of §4.6.4 (10
//     DNS-querying terms, 2 void lookups, 10 MX names, 10 PTR names),
//     the mechanisms of §5 (all, include, a, mx, ptr, ip4, ip6, exists,
//     with the dual CIDR lengths of §5.6), redirect= and exp= (§6), and
//     macros with transformers and delimiters (§7). SPFResult.Reason
//     says which term decided.
//   - ParseSPF: the record syntax of §4.6.1 and §12; any error makes the
//     result permerror.
//
// DKIM, verifying through github.com/emersion/go-msgauth:
//
//   - Sign, SignWith, Signature: RFC 6376 §5 with relaxed/relaxed
//     canonicalisation (§3.4.2, §3.4.4), the header fields of
//     DefaultSignedHeaders (§5.4.1) with From signed once more than it
//     appears, rsa-sha256 (RFC 8301) or ed25519-sha256 (RFC 8463). The
//     signature is computed here at SignOptions.Now, so that it carries
//     the simulation's clock and is the same on every run; go-msgauth's
//     signer knows only the wall clock.
//   - VerifyDKIM: §6.1 for every DKIM-Signature. This package checks the
//     tag list (§3.2), the required tags and From in h= (§6.1.1) and
//     its own limits (MaxSignatures, MaxSignedHeaders, MaxHeaderFields);
//     go-msgauth fetches the key (§3.6.2, through the Resolver) and
//     checks the body hash and the signature (§6.1.3). A signature with
//     l= gets "policy": it would let anyone append to the body (§8.2);
//     its reason still says whether the covered part is intact.
//   - DKIMRecord, DKIMRecordName, SplitTXT, ZoneTXT: the key record of
//     §3.6.1 and RFC 8463 §4, and where it goes.
//   - Ed25519FromSeed, RSAFromSeed: keys derived from a seed, for the
//     simulation (the same world gets the same DNS on every run);
//     GenerateKey, SaveKey (PEM, mode 0600), LoadKey, LoadOrCreateKey:
//     random keys for a real server.
//
// DMARC:
//
//   - CheckDMARC: RFC 7489 §6.6: policy discovery at the From domain,
//     then at its organizational domain (§6.6.3, §3.2, with the Public
//     Suffix List of golang.org/x/net/publicsuffix), identifier alignment
//     relaxed or strict (§3.1), the sp= policy for subdomains (§6.3), and
//     pct= sampling with the next milder policy for the rest (§6.6.4),
//     drawn from DMARCInput.Rand so that a seeded run repeats.
//   - ParseDMARC: the record of §6.3 and §6.4; rua= and ruf= are parsed,
//     no reports are sent.
//   - FromDomain: the From domain of a message (§6.6.1); OrganizationalDomain,
//     Aligned.
//
// Authentication-Results:
//
//   - NewAuthResults, AuthResults.Field: RFC 8601 §2.2 with the methods'
//     properties: smtp.mailfrom or smtp.helo for SPF (RFC 7208 §9.2),
//     header.d, header.s and header.b (RFC 6008) for DKIM, header.from
//     for DMARC (RFC 7489 §11.2).
//
// Every parser and every loop is bounded, so that hostile records and
// messages cost little: see the fuzz targets FuzzParseSPF, FuzzVerifyDKIM
// and FuzzParseDMARC.
package mailauth
