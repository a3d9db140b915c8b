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
	// Read is how recipients read at the end: "imap", "pop3" or "" (not).
	Read string
	// Until bounds the virtual time the queues may take.
	Until time.Duration
}

// Outcome is what a journey came to.
type Outcome struct {
	// Sent are the mails the mail system took (whatever became of them
	// later: the trace and the mailboxes tell).
	Sent []Sent
	// Refused are the mails a server refused as they were sent (a DMARC
	// policy, an unknown recipient, a login refused), or that reached
	// no server: part of the story, not a failure of the run.
	Refused []*SendError
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
	for _, m := range j.Mails {
		s, err := w.SendFrom(ctx, m.Host, m.Mail())
		var se *SendError
		switch {
		case errors.As(err, &se):
			out.Refused = append(out.Refused, se)
			continue
		case err != nil:
			return out, err
		}
		out.Sent = append(out.Sent, s)
		sent = append(sent, m)
	}
	w.RunUntilQuiet(j.Until)
	if j.Read == "" {
		return out, nil
	}
	for _, to := range w.recipientsOf(sent) {
		if err := w.read(ctx, to, j.Read); err != nil {
			out.ReadErrs = append(out.ReadErrs, fmt.Errorf("%s reading by %s: %w", to, j.Read, err))
		}
	}
	w.Settle()
	return out, nil
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
