package mailhost

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/mailhop/mailhop/sim/mailauth"
	"github.com/mailhop/mailhop/sim/message"
	"github.com/mailhop/mailhop/sim/smtp"
	"github.com/mailhop/mailhop/sim/trace"
)

// Mail authentication on both faces: the MSA signs with DKIM what its
// users send, the MX checks SPF, DKIM and DMARC on what other hosts send
// and records it in an Authentication-Results field, and the MDA files
// what DMARC quarantines into Junk. Every DNS question goes through the
// resolver the host is given (the simulation's traces each one), and
// each verdict is a trace event (kind "auth") with its reason in words.

// DKIMKey is a signing key of one of the host's domains, published at
// Selector._domainkey.Domain.
type DKIMKey struct {
	Domain   string
	Selector string
	Key      crypto.Signer
}

// Algorithm names the key's signing algorithm as DKIM does.
func (k DKIMKey) Algorithm() string {
	if _, ok := k.Key.(ed25519.PrivateKey); ok {
		return "ed25519-sha256"
	}
	return "rsa-sha256"
}

// signer returns the MSA's Sign hook: each message is signed with every
// key of its From domain (none: it goes unsigned, as the host can not
// speak for that domain).
func (h *Host) signer() func(ctx context.Context, from string, msg []byte) ([]byte, error) {
	cfg := h.cfg
	return func(ctx context.Context, _ string, msg []byte) ([]byte, error) {
		domain, err := mailauth.FromDomain(msg)
		if err != nil {
			return nil, nil // the receiver's DMARC will say what it makes of it
		}
		var fields []byte
		for _, k := range cfg.DKIM {
			if !strings.EqualFold(k.Domain, domain) {
				continue
			}
			sig, err := mailauth.Signature(msg, mailauth.SignOptions{Domain: k.Domain, Selector: k.Selector, Key: k.Key, Now: cfg.Clock.Now})
			if err != nil {
				return nil, fmt.Errorf("DKIM signing for %s: %w", k.Domain, err)
			}
			fields = append(fields, sig...)
			cfg.Trace.Emit(trace.Event{Kind: trace.KindAuth, Action: "dkim-sign", Host: cfg.Hostname, Msg: trace.MsgFrom(ctx),
				Text: fmt.Sprintf("signed for %s with the key %s._domainkey.%s (%s): the signature covers %s and a hash of the body",
					k.Domain, k.Selector, k.Domain, k.Algorithm(), signedList(sig))})
		}
		return fields, nil
	}
}

// signedList names the fields a DKIM-Signature field covers (its h= tag),
// each once.
func signedList(sig string) string {
	var h string
	if vs := message.Values([]byte(sig), "DKIM-Signature"); len(vs) > 0 {
		h = vs[0]
	}
	for tag := range strings.SplitSeq(h, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(tag), "=")
		if name != "h" {
			continue
		}
		var names []string
		for n := range strings.SplitSeq(value, ":") {
			if n = strings.TrimSpace(n); n != "" && !slices.ContainsFunc(names, func(x string) bool { return strings.EqualFold(x, n) }) {
				names = append(names, n)
			}
		}
		return strings.Join(names, ", ")
	}
	return "the header"
}

// checker returns the MX's Check hook.
//
// The policy: DMARC's "reject" refuses the message at the final dot with
// 550 5.7.1 and DMARC's reason; a DNS failure that leaves the verdict
// open (DMARC temperror, or SPF temperror without a DKIM pass) refuses it
// for now, 451 4.7.0, so the sender tries again: never a silent pass.
// Everything else is accepted with an Authentication-Results field (RFC
// 8601) naming this host; "quarantine" is recorded there as
// policy.dmarc=quarantine, and the MDA files such mail into Junk
// (Quarantined).
func (h *Host) checker() func(ctx context.Context, a smtp.Arrival) smtp.Verdict {
	cfg := h.cfg
	var mu sync.Mutex
	rnd := cfg.AuthRand
	if rnd == nil {
		rnd = mrand.New(mrand.NewPCG(1, 2))
	}
	emit := func(ctx context.Context, action, text string) {
		cfg.Trace.Emit(trace.Event{Kind: trace.KindAuth, Action: action, Host: cfg.Hostname, Msg: trace.MsgFrom(ctx), Text: text})
	}
	return func(ctx context.Context, a smtp.Arrival) smtp.Verdict {
		r := cfg.AuthResolver
		spf := mailauth.CheckSPF(ctx, r, mailauth.SPFQuery{IP: a.IP, Helo: a.Helo, MailFrom: a.MailFrom, Receiver: cfg.Hostname, Now: cfg.Clock.Now()})
		emit(ctx, "spf", "SPF "+string(spf.Result)+": "+spf.Reason)
		dkim := mailauth.VerifyDKIM(ctx, r, a.Msg)
		if len(dkim) == 0 {
			emit(ctx, "dkim", "DKIM none: the message carries no DKIM-Signature")
		}
		for _, d := range dkim {
			emit(ctx, "dkim", "DKIM "+string(d.Result)+" for "+d.Domain+": "+d.Reason)
		}
		var dmarc *mailauth.DMARCResult
		if from, err := mailauth.FromDomain(a.Msg); err != nil {
			emit(ctx, "dmarc", "DMARC none: "+err.Error())
		} else {
			mu.Lock() // one sampling source for pct=, used in turn
			dmarc = mailauth.CheckDMARC(ctx, r, mailauth.DMARCInput{FromDomain: from, SPF: spf, DKIM: dkim, Rand: rnd})
			mu.Unlock()
			emit(ctx, "dmarc", "DMARC "+string(dmarc.Result)+" for "+from+": "+dmarc.Reason)
		}
		dkimPass := false
		for _, d := range dkim {
			dkimPass = dkimPass || d.Result == mailauth.Pass
		}
		switch {
		case dmarc != nil && dmarc.Result == mailauth.Fail && dmarc.Disposition == mailauth.DispositionReject:
			why := "Message rejected by the DMARC policy of " + dmarc.FromDomain + ": " + dmarc.Reason
			emit(ctx, "verdict", "refused (550 5.7.1): "+dmarc.Reason)
			return smtp.Verdict{Code: 550, Enh: "5.7.1", Text: oneLine(why)}
		case dmarc != nil && dmarc.Result == mailauth.TempError,
			spf.Result == mailauth.TempError && !dkimPass && (dmarc == nil || dmarc.Result != mailauth.Pass):
			emit(ctx, "verdict", "deferred (451 4.7.0): a DNS lookup failed, the sender will try again")
			return smtp.Verdict{Code: 451, Enh: "4.7.0", Text: "Temporary authentication failure: a DNS lookup for SPF or DMARC failed, try again later"}
		}
		ar := mailauth.NewAuthResults(cfg.Hostname, spf, dkim, dmarc)
		if len(dkim) == 0 {
			// Said, not left out: the reader learns the message was not
			// signed (RFC 8601 §2.7.1).
			ar.Methods = slices.Insert(ar.Methods, min(1, len(ar.Methods)), mailauth.ARMethod{Method: "dkim", Result: mailauth.None})
		}
		verdict := "accepted"
		if dmarc != nil && dmarc.Result == mailauth.Fail && dmarc.Disposition == mailauth.DispositionQuarantine {
			for i := range ar.Methods {
				if ar.Methods[i].Method == "dmarc" {
					ar.Methods[i].Props = append(ar.Methods[i].Props, mailauth.ARProp{Type: "policy", Property: "dmarc", Value: "quarantine"})
				}
			}
			verdict = "accepted for the Junk folder (DMARC quarantine)"
		}
		emit(ctx, "verdict", verdict+": "+ar.Value())
		return smtp.Verdict{Header: []byte(ar.Field())}
	}
}

// oneLine makes a reason fit a reply line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// Quarantined reports whether a message's Authentication-Results field
// from one of the trusted hosts (the MX hosts of this mail system) says
// DMARC quarantines it. Only the topmost such field counts: a sender can
// write anything below it, but not above what the MX adds on arrival.
func Quarantined(msg []byte, trusted func(servID string) bool) bool {
	for _, v := range message.Values(msg, "Authentication-Results") {
		servID, rest, _ := strings.Cut(v, ";")
		if !trusted(strings.TrimSpace(servID)) {
			continue
		}
		for _, m := range strings.Split(rest, ";") {
			if m = strings.TrimSpace(m); strings.HasPrefix(m, "dmarc=fail") {
				return strings.Contains(m, "policy.dmarc=quarantine")
			}
		}
		return false
	}
	return false
}
