package world

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Journey is a headless run of a world, as `mailhop sim` makes it: mail
// sent, the clock run until every queue is empty, then each recipient
// reading their INBOX.
type Journey struct {
	Mails []MailSpec
	// Count, when more than 0, is how many messages to send: Mails in
	// turn, over and over. They go in rounds of Round messages (100
	// unless said); after each round the clock runs until the queues are
	// empty again, or for a minute of virtual time at most, before the
	// next round is sent. So a long run has one round's mail in flight at
	// a time (what waits for a retry stays queued, and is retried as the
	// rounds go on), and the Outcome counts the messages rather than
	// keeping each.
	Count int
	Round int
	// Pause, when set with Count, is called whenever the world is quiet
	// between two parts of the journey: after each round, and after each
	// recipient has read. A caller that writes the trace as it is
	// recorded can catch up there, so that it never lags a whole long
	// run behind.
	Pause func()
	// Read is how recipients read at the end: "imap", "pop3" or "" (not).
	Read string
	// Until bounds the virtual time the queues may take.
	Until time.Duration
}

// DefaultRound is the size of a round of Journey.Count.
const DefaultRound = 100

// roundTime bounds the virtual time one round of Journey.Count waits
// for its mail to leave the queues.
const roundTime = time.Minute

// keptRefusals is how many refusals a Journey with Count keeps.
const keptRefusals = 100

// Outcome is what a journey came to.
type Outcome struct {
	// Sent are the mails the mail system took (whatever became of them
	// later: the trace and the mailboxes tell). With Count, it is left
	// empty: NSent counts them.
	Sent []Sent
	// Refused are the mails a server refused as they were sent (a DMARC
	// policy, an unknown recipient, a login refused), or that reached
	// no server: part of the story, not a failure of the run. With
	// Count, only the first 100 are kept: NRefused counts them all.
	Refused []*SendError
	// NSent and NRefused count the mails taken and refused.
	NSent, NRefused int
	// ReadErrs are the recipients who could not read their mail.
	ReadErrs []error
}

// Run performs the journey. A mail refused on the way in is reported in
// the outcome and the others are still sent; an error is a mail the world
// has no way to send (no machine for its sender). The recipients of the
// mails sent read where their mail ends up (FinalRecipients).
func (w *World) Run(ctx context.Context, j Journey) (Outcome, error) {
	var out Outcome
	var sent []MailSpec
	if j.Count > 0 {
		var err error
		if sent, err = w.sendMany(ctx, j, &out); err != nil {
			return out, err
		}
	} else {
		for _, m := range j.Mails {
			s, err := w.SendFrom(ctx, m.Host, m.Mail())
			var se *SendError
			switch {
			case errors.As(err, &se):
				out.Refused = append(out.Refused, se)
				out.NRefused++
				continue
			case err != nil:
				return out, err
			}
			out.Sent = append(out.Sent, s)
			out.NSent++
			sent = append(sent, m)
		}
	}
	w.RunUntilQuiet(j.Until)
	if j.Read == "" {
		return out, nil
	}
	for _, to := range w.recipientsOf(sent) {
		if err := w.read(ctx, to, j.Read); err != nil {
			out.ReadErrs = append(out.ReadErrs, fmt.Errorf("%s reading by %s: %w", to, j.Read, err))
		}
		if j.Count > 0 && j.Pause != nil {
			w.Settle()
			j.Pause()
		}
	}
	w.Settle()
	return out, nil
}

// sendMany sends the j.Count messages of a journey, round by round, and
// returns those of j.Mails that were taken at least once.
func (w *World) sendMany(ctx context.Context, j Journey, out *Outcome) ([]MailSpec, error) {
	if len(j.Mails) == 0 {
		return nil, errors.New("no message to send")
	}
	round := j.Round
	if round <= 0 {
		round = DefaultRound
	}
	taken := make([]bool, len(j.Mails))
	for i := range j.Count {
		k := i % len(j.Mails)
		m := j.Mails[k]
		_, err := w.SendFrom(ctx, m.Host, m.Mail())
		var se *SendError
		switch {
		case errors.As(err, &se):
			if len(out.Refused) < keptRefusals {
				out.Refused = append(out.Refused, se)
			}
			out.NRefused++
		case err != nil:
			return nil, err
		default:
			out.NSent++
			taken[k] = true
		}
		if (i+1)%round == 0 || i+1 == j.Count {
			w.runRound(roundTime)
			if j.Pause != nil {
				j.Pause()
			}
		}
	}
	var sent []MailSpec
	for k, m := range j.Mails {
		if taken[k] {
			sent = append(sent, m)
		}
	}
	return sent, nil
}

// runRound moves the clock from timer to timer until every queue is
// empty, or until limit has passed. Unlike RunUntilQuiet it leaves the
// queues' idle connections open, for the next round to use.
func (w *World) runRound(limit time.Duration) {
	end := w.Clock.Now().Add(limit)
	for {
		w.Settle()
		if w.Queued() == 0 {
			return
		}
		next, ok := w.Clock.Next()
		if !ok || next.After(end) {
			return
		}
		w.Clock.AdvanceTo(next)
	}
}

// RoundRobin returns the messages of a busy world, one cycle of them:
// every user whose machine submits to an MSA writes, in turn, to each
// user of the other domains (in a world of one domain, to each other
// user). Message k is from the sender k mod the number of senders, so
// that consecutive messages come from different people. Addresses that
// forward or are lists receive nothing: their mail would be another's.
// Subject and body are left for the caller.
func (s *Spec) RoundRobin() []MailSpec {
	plain := func(u UserSpec) bool { return len(u.ForwardTo) == 0 && u.List == nil }
	var senders []string
	for _, u := range s.Users {
		if !plain(u) {
			continue
		}
		if slices.ContainsFunc(s.Hosts, func(h HostSpec) bool {
			return h.Has("mua") && !h.Direct && h.MSA != "" && strings.EqualFold(h.User, u.Address)
		}) {
			senders = append(senders, u.Address)
		}
	}
	domains := map[string]bool{}
	for _, u := range s.Users {
		domains[domainOf(u.Address)] = true
	}
	rcpts := map[string][]string{}
	most := 0
	for _, from := range senders {
		for _, u := range s.Users {
			d := domainOf(u.Address)
			if !plain(u) || strings.EqualFold(u.Address, from) || len(domains) > 1 && d == domainOf(from) {
				continue
			}
			rcpts[from] = append(rcpts[from], u.Address)
		}
		most = max(most, len(rcpts[from]))
	}
	var out []MailSpec
	for k := range len(senders) * most {
		from := senders[k%len(senders)]
		to := rcpts[from]
		if len(to) == 0 {
			continue
		}
		out = append(out, MailSpec{From: from, To: []string{to[(k/len(senders))%len(to)]}})
	}
	return out
}

// recipientsOf lists, once each and in order, whose mailboxes the mails
// end in.
func (w *World) recipientsOf(mails []MailSpec) []string {
	var out []string
	for _, m := range mails {
		for _, to := range m.To {
			for _, r := range w.FinalRecipients(to) {
				if !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, r) }) {
					out = append(out, r)
				}
			}
		}
	}
	return out
}

// read lets user read their INBOX by proto, the clock held meanwhile so
// that it moves only as the client and server need.
func (w *World) read(ctx context.Context, user, proto string) error {
	r, err := w.Reader(user, proto)
	if err != nil {
		return err
	}
	release := w.Clock.Hold()
	defer release()
	if proto == "pop3" {
		_, err = r.POP3(ctx)
	} else {
		_, err = r.IMAP(ctx)
	}
	return err
}

// TranscriptHeading is the heading of the world's transcript
// (trace.WriteTranscript): which world, which seed.
func (w *World) TranscriptHeading() []string {
	return []string{
		fmt.Sprintf("mailhop transcript of the world %q, seed %d", w.Spec.Name, w.Seed()),
		"every connection's lines, DNS questions and answers, and queue events, in the order they happened",
	}
}
