package playground

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
)

// Exports: what a teacher takes away from a run. Each is made from the
// running world's trace or store, as `mailhop sim` makes the same files.

// Transcript returns the trace as a readable transcript (trace.WriteTranscript).
func (p *Playground) Transcript() (string, error) {
	r, err := p.current()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = trace.WriteTranscript(&b, r.w.TranscriptHeading(), r.w.Trace.Events()...)
	return b.String(), err
}

// TraceJSON returns the trace as JSON lines, one event per line.
func (p *Playground) TraceJSON() (string, error) {
	r, err := p.current()
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = trace.WriteJSON(&b, r.w.Trace.Events()...)
	return b.String(), err
}

// EML returns a stored message as it is in the mailbox (an .eml file).
func (p *Playground) EML(user, mailbox string, uid uint32) (string, error) {
	r, err := p.current()
	if err != nil {
		return "", err
	}
	if mailbox == "" {
		mailbox = store.Inbox
	}
	raw, err := r.w.Message(user, mailbox, uid)
	if err != nil {
		return "", fmt.Errorf("message %s/%s UID %d: %w", user, mailbox, uid, err)
	}
	return string(raw), nil
}

// Pcap returns the world's traffic since it was loaded as a pcapng file,
// the TLS keys inside: Wireshark shows the SMTP, POP3 and IMAP within TLS.
func (p *Playground) Pcap() ([]byte, error) {
	r, err := p.current()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, err = r.pcap.WriteTo(&b)
	return b.Bytes(), err
}
