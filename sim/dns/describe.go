package dns

import (
	"context"
	"strconv"
	"strings"
	"sync"

	miekg "github.com/miekg/dns"

	"github.com/mailhop/mailhop/sim/trace"
)

// WithMsg returns a context that tags the DNS events of lookups made with
// it with a message's id (the trace's msg field), so that they join the
// message's journey in the trace. It is trace.WithMsg: one key for every
// agent.
func WithMsg(ctx context.Context, id string) context.Context {
	return trace.WithMsg(ctx, id)
}

// MsgFrom returns the message id put in ctx by WithMsg, or "".
func MsgFrom(ctx context.Context) string { return trace.MsgFrom(ctx) }

// DescribePacket summarises a DNS datagram in one line for the trace: the
// question of a query ("example.net. IN MX") or the outcome of a response
// ("NOERROR 1 answer", "NXDOMAIN", "NOERROR 12 answers, truncated"). It
// fits netsim's Network.DescribePacket hook:
//
//	n.DescribePacket = func(proto string, b []byte) string {
//		if proto != "dns" {
//			return ""
//		}
//		return dns.DescribePacket(b)
//	}
func DescribePacket(b []byte) string {
	var m miekg.Msg
	if err := m.Unpack(b); err != nil {
		return "malformed DNS message (" + strconv.Itoa(len(b)) + " bytes)"
	}
	var s strings.Builder
	if m.Opcode != miekg.OpcodeQuery {
		s.WriteString(opcodeName(m.Opcode))
		s.WriteByte(' ')
	}
	if !m.Response {
		switch len(m.Question) {
		case 0:
			s.WriteString("query with no question")
		default:
			s.WriteString(questionText(m.Question[0]))
		}
		return oneLine(s.String())
	}
	s.WriteString(rcodeName(m.Rcode))
	if m.Rcode == miekg.RcodeSuccess {
		s.WriteByte(' ')
		s.WriteString(count(len(m.Answer), "answer"))
	}
	if m.Truncated {
		s.WriteString(", truncated")
	}
	return oneLine(s.String())
}

// PacketDescriber returns DescribePacket with a memory: a datagram seen
// before, whatever its id, is described again without being unpacked
// (a world asks the same few questions and gets the same answers for
// every message). It remembers at most a few hundred datagrams. It is
// safe for concurrent use.
func PacketDescriber() func(b []byte) string {
	const most = 512
	var mu sync.Mutex
	seen := map[string]string{}
	return func(b []byte) string {
		if len(b) < 2 {
			return DescribePacket(b)
		}
		rest := b[2:] // all but the id, which the description leaves out
		mu.Lock()
		s, ok := seen[string(rest)]
		mu.Unlock()
		if ok {
			return s
		}
		s = DescribePacket(b)
		mu.Lock()
		if len(seen) >= most {
			clear(seen)
		}
		seen[string(rest)] = s
		mu.Unlock()
		return s
	}
}

// questionText is a question as dig's question section shows it, without
// the tabs: "example.net. IN MX".
func questionText(q miekg.Question) string {
	return q.Name + " " + miekg.Class(q.Qclass).String() + " " + miekg.Type(q.Qtype).String()
}

// answerText summarises a response for a trace event: "NOERROR, 1 answer",
// "NXDOMAIN", "NOERROR, 40 answers, truncated".
func answerText(m *miekg.Msg) string {
	s := rcodeName(m.Rcode)
	if m.Rcode == miekg.RcodeSuccess {
		s += ", " + count(len(m.Answer), "answer")
		if len(m.Answer) == 0 && !m.Authoritative && hasType(m.Ns, miekg.TypeNS) && !hasType(m.Ns, miekg.TypeSOA) {
			s += ", referral"
		}
	}
	if m.Truncated {
		s += ", truncated"
	}
	return s
}

// recordsOf lists a response's records as dig prints them: the answer
// section, or, when it is empty, the authority section (the SOA of a
// negative answer, the NS records of a referral).
func recordsOf(m *miekg.Msg) []string {
	rrs := m.Answer
	if len(rrs) == 0 {
		rrs = m.Ns
	}
	if len(rrs) == 0 {
		return nil
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	return out
}

func hasType(rrs []miekg.RR, t uint16) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == t {
			return true
		}
	}
	return false
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func rcodeName(rc int) string {
	if rc == miekg.RcodeBadVers {
		return "BADVERS" // 16 is BADSIG only in a TSIG record, which we never see
	}
	if s, ok := miekg.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}

func opcodeName(op int) string {
	if s, ok := miekg.OpcodeToString[op]; ok {
		return s
	}
	return "OPCODE" + strconv.Itoa(op)
}

// oneLine keeps a summary on one line of valid UTF-8 whatever a packet
// holds (miekg escapes odd bytes in names, but be sure).
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
