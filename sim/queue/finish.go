package queue

import (
	"fmt"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/trace"
)

// finish records the outcome of an attempt: it reports deliveries and
// failures, bounces what failed, and schedules the next attempt for what
// is left, or gives up when the message has waited too long.
func (q *Queue) finish(env *Envelope, body []byte) {
	now := q.Clock.Now()
	q.mu.Lock()
	prev := q.envs[env.ID]
	q.mu.Unlock()
	if prev == nil {
		return
	}
	wasPending := map[string]bool{}
	for _, r := range prev.Rcpts {
		if r.State == Pending {
			wasPending[r.Addr] = true
		}
	}
	var failed []*Rcpt
	for _, r := range env.Rcpts {
		if !wasPending[r.Addr] {
			continue
		}
		switch r.State {
		case Delivered:
			q.emit(trace.Event{Kind: trace.KindQueue, Action: "delivered", Msg: env.Key,
				Text: "queue id " + env.ID + ": " + r.Addr + " delivered via " + r.Remote})
		case Failed:
			failed = append(failed, r)
			q.emit(trace.Event{Kind: trace.KindQueue, Action: "failed", Msg: env.Key,
				Text: fmt.Sprintf("queue id %s: %s failed permanently: %s", env.ID, r.Addr, r.Reply)})
		}
	}

	pending := env.Pending()
	if len(pending) > 0 {
		delay := q.Schedule[min(env.Attempts-1, len(q.Schedule)-1)]
		next := now.Add(delay)
		if deadline := env.Created.Add(q.Lifetime); next.After(deadline) {
			// One last attempt when the lifetime runs out.
			next = deadline
		}
		if now.Sub(env.Created) >= q.Lifetime {
			// RFC 5321 §4.5.4.1: give up, and say so to the sender.
			for _, r := range pending {
				r.State = Failed
				if r.Status == "" || r.Status[0] != '4' {
					r.Status = "4.4.7" // delivery time expired
				}
				r.Reply = fmt.Sprintf("gave up after %s: %s", roundDuration(now.Sub(env.Created)), r.Reply)
				failed = append(failed, r)
			}
			q.emit(trace.Event{Kind: trace.KindQueue, Action: "expired", Msg: env.Key,
				Text: fmt.Sprintf("queue id %s: undelivered after %s, giving up", env.ID, roundDuration(now.Sub(env.Created)))})
			pending = nil
		} else {
			env.Next = next
			if q.WarnAfter > 0 && !env.Warned && env.From != "" && now.Sub(env.Created) >= q.WarnAfter {
				env.Warned = true
				q.bounce(env, pending, body, true)
			}
			reasons := make([]string, len(pending))
			for i, r := range pending {
				reasons[i] = r.Addr + ": " + r.Reply
			}
			q.emit(trace.Event{Kind: trace.KindQueue, Action: "deferred", Msg: env.Key, Next: next,
				Text: fmt.Sprintf("queue id %s: %s", env.ID, strings.Join(reasons, "; "))})
		}
	}
	if len(failed) > 0 {
		q.bounce(env, failed, body, false)
	}

	q.mu.Lock()
	q.indexLocked(prev, false)
	if len(pending) == 0 {
		delete(q.envs, env.ID)
	} else {
		q.envs[env.ID] = env
		q.indexLocked(env, true)
	}
	q.mu.Unlock()
	if len(pending) == 0 {
		if err := q.Spool.Remove(env.ID); err != nil {
			q.emit(trace.Event{Kind: trace.KindQueue, Action: "error", Msg: env.Key, Text: "spool: " + err.Error()})
		}
	} else {
		if err := q.Spool.Update(env); err != nil {
			q.emit(trace.Event{Kind: trace.KindQueue, Action: "error", Msg: env.Key, Text: "spool: " + err.Error()})
		}
		q.schedule(env)
	}
}

func roundDuration(d time.Duration) time.Duration {
	if d > time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

// bounce sends the envelope sender a delivery status notification about
// rcpts: failed (RFC 3464 Action: failed) or, with delay, still trying
// (Action: delayed). A bounce is never bounced (RFC 5321 §4.5.5): a
// message from <> that fails is dropped.
func (q *Queue) bounce(env *Envelope, rcpts []*Rcpt, body []byte, delay bool) {
	if env.From == "" {
		q.emit(trace.Event{Kind: trace.KindQueue, Action: "discarded", Msg: env.Key,
			Text: fmt.Sprintf("queue id %s: a bounce that can not be delivered is dropped, never bounced (RFC 5321 4.5.5)", env.ID)})
		return
	}
	dsn, err := q.buildDSN(env, rcpts, body, delay)
	if err != nil {
		q.emit(trace.Event{Kind: trace.KindQueue, Action: "error", Msg: env.Key, Text: "writing the bounce: " + err.Error()})
		return
	}
	id, err := q.Enqueue("", []string{env.From}, dsn)
	if err != nil {
		q.emit(trace.Event{Kind: trace.KindQueue, Action: "error", Msg: env.Key, Text: "queueing the bounce: " + err.Error()})
		return
	}
	what := "bounced"
	if delay {
		what = "delay warning"
	}
	addrs := make([]string, len(rcpts))
	for i, r := range rcpts {
		addrs[i] = r.Addr
	}
	q.emit(trace.Event{Kind: trace.KindQueue, Action: map[bool]string{true: "warned", false: "bounced"}[delay], Msg: env.Key,
		Text: fmt.Sprintf("queue id %s: %s to <%s> for %s (DSN queued as %s)", env.ID, what, env.From, strings.Join(addrs, ", "), id)})
}
