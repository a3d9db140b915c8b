package world

import (
	"context"
	"fmt"
	"time"

	"github.com/mailhop/mailhop/sim/mua"
)

// Journey is a headless run of a world, as `mailhop sim` makes it: mail
// sent, the clock run until every queue is empty, then each recipient
// reading their INBOX.
type Journey struct {
	Mails []mua.Mail
	// Read is how recipients read at the end: "imap", "pop3" or "" (not).
	Read string
	// Until bounds the virtual time the queues may take.
	Until time.Duration
}

// Run performs the journey. A mail that cannot be submitted stops it; a
// recipient who cannot read is reported in the returned list and the
// others still read.
func (w *World) Run(ctx context.Context, j Journey) (readErrs []error, err error) {
	for _, m := range j.Mails {
		if _, err := w.Send(ctx, m); err != nil {
			return nil, err
		}
	}
	w.RunUntilQuiet(j.Until)
	if j.Read == "" {
		return nil, nil
	}
	for _, m := range j.Mails {
		for _, to := range m.To {
			if err := w.read(ctx, to, j.Read); err != nil {
				readErrs = append(readErrs, fmt.Errorf("%s reading by %s: %w", to, j.Read, err))
			}
		}
	}
	w.Settle()
	return readErrs, nil
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
