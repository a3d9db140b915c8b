package queue

import (
	"bytes"
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
				Text: fmt.Sprintf("queue id %s: %s delivered via %s", env.ID, r.Addr, r.Remote)})
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
	dsn := q.buildDSN(env, rcpts, body, delay)
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

// buildDSN writes an RFC 3464 report: a human part, the machine-readable
// message/delivery-status part, and the original message's header
// (text/rfc822-headers, RFC 6522).
func (q *Queue) buildDSN(env *Envelope, rcpts []*Rcpt, body []byte, delay bool) []byte {
	now := q.Clock.Now()
	boundary := fmt.Sprintf("%s/%s", env.ID, q.Hostname)
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	subject := "Undelivered Mail Returned to Sender"
	if delay {
		subject = "Delayed Mail (still being retried)"
	}
	w("From: Mail Delivery System <MAILER-DAEMON@%s>", q.Hostname)
	w("To: <%s>", env.From)
	w("Subject: %s", subject)
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <%s.%s@%s>", env.ID, map[bool]string{true: "delay", false: "dsn"}[delay], q.Hostname)
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status;")
	w("\tboundary=\"%s\"", boundary)
	w("")
	w("This is a MIME-encapsulated delivery status notification.")
	w("")
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("")
	w("This is the mail system at host %s.", q.Hostname)
	w("")
	if delay {
		w("Your message could not be delivered yet. It stays in the queue and")
		w("delivery will be retried until %s.", env.Created.Add(q.Lifetime).UTC().Format(time.RFC1123Z))
	} else {
		w("Your message could not be delivered to one or more recipients.")
		w("It is attached below (its header only).")
	}
	w("")
	for _, r := range rcpts {
		w("<%s>: %s", r.Addr, r.Reply)
	}
	w("")
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("")
	w("Reporting-MTA: dns; %s", q.Hostname)
	w("X-Queue-ID: %s", env.ID)
	w("Arrival-Date: %s", env.Created.Format(time.RFC1123Z))
	for _, r := range rcpts {
		w("")
		w("Final-Recipient: rfc822; %s", r.Addr)
		if delay {
			w("Action: delayed")
		} else {
			w("Action: failed")
		}
		status := r.Status
		if status == "" {
			status = map[bool]string{true: "4.0.0", false: "5.0.0"}[delay]
		}
		w("Status: %s", status)
		if r.Remote != "" && r.Remote != q.Hostname {
			w("Remote-MTA: dns; %s", r.Remote)
		}
		if r.Reply != "" {
			kind := "smtp"
			if r.Remote == "" || r.Remote == q.Hostname {
				kind = "x-mailhop"
			}
			w("Diagnostic-Code: %s; %s", kind, oneLine(r.Reply))
		}
		w("Last-Attempt-Date: %s", now.Format(time.RFC1123Z))
		if delay {
			w("Will-Retry-Until: %s", env.Created.Add(q.Lifetime).Format(time.RFC1123Z))
		}
	}
	w("")
	w("--%s", boundary)
	w("Content-Type: text/rfc822-headers")
	w("")
	b.Write(headerOf(body))
	w("--%s--", boundary)
	return b.Bytes()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// headerOf returns a message's header section, with CRLF line ends.
func headerOf(body []byte) []byte {
	end := bytes.Index(body, []byte("\r\n\r\n"))
	if end < 0 {
		if e := bytes.Index(body, []byte("\n\n")); e >= 0 {
			end = e
		} else {
			end = len(body)
		}
	}
	h := body[:end]
	h = bytes.ReplaceAll(h, []byte("\r\n"), []byte("\n"))
	h = bytes.ReplaceAll(h, []byte("\n"), []byte("\r\n"))
	return append(append([]byte(nil), h...), "\r\n"...)
}
