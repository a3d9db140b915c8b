package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/mailhost"
	"github.com/mailhop/mailhop/sim/message"
	"github.com/mailhop/mailhop/sim/pcap"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/world"
)

func init() {
	register(command{name: "sim", summary: "run a world headless and print the journey of its mail", run: runSim})
}

func runSim(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim", stderr)
	worldFlag := fs.String("world", "default", "a built-in world ("+strings.Join(world.Builtin(), ", ")+") or a world file (JSON or YAML)")
	jsonOut := fs.Bool("json", false, "print the trace as JSON lines (one event per line) instead of text")
	var sends listFlag
	fs.Var(&sends, "send", "send a message FROM:TO (e.g. alice@example.org:bob@example.net); may repeat; default: the messages under the world's send:, else its first user to its second")
	subject := fs.String("subject", "Hello", "the subject of the messages sent (of the world's send: messages that have none)")
	body := fs.String("body", "Hello! This message travelled the whole chain.", "the body of the messages sent (of the world's send: messages that have none)")
	read := fs.String("read", "", "finally let each recipient read their INBOX by imap or pop3")
	var faults listFlag
	fs.Var(&faults, "fault", "inject a fault before sending: KIND:HOST[:PEER|:PORT|:USER] (host-down:mx.example.net, link-cut:a:b, port-refuse:h:25, mailbox-full:store.example.net:bob@example.net); may repeat")
	until := fs.Duration("until", 6*24*time.Hour, "how much virtual time to run, at most, until every queue is empty")
	seed := fs.Uint64("seed", 0, "the world's seed (default: the world file's, or 1): the same seed and flags give the same trace, byte for byte")
	outTranscript := fs.String("out-transcript", "", "also write the transcript (C:/S: lines, DNS, queue events) to this file")
	outJSON := fs.String("out-json", "", "also write the trace as JSON lines to this file")
	pcapOut := fs.String("pcap", "", "also write the simulated traffic to this file as pcapng, with the TLS keys inside (tshark -r FILE -Y smtp)")
	messages := fs.Int("messages", 0, "send N messages in all, in rounds of 100: the --send messages over and over, or else every user whose machine has an MSA writing in turn to each user of the other domains (not the world's send:)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailhop sim [--world FILE|NAME] [--seed N] [--json] [--send FROM:TO]... [--messages N] [--read imap|pop3]")
		fmt.Fprintln(stderr, "                   [--out-transcript FILE] [--out-json FILE] [--pcap FILE]")
		fmt.Fprintln(stderr, "Runs a world on the simulated network and prints every event of the journey, as it happens.")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *read != "" && *read != "imap" && *read != "pop3" {
		fmt.Fprintf(stderr, "mailhop sim: --read %q: want imap or pop3\n", *read)
		return errUsage
	}
	if *messages < 0 {
		fmt.Fprintf(stderr, "mailhop sim: --messages %d: want a number of messages, 1 or more\n", *messages)
		return errUsage
	}
	spec, err := loadWorld(*worldFlag)
	if err != nil {
		return err
	}
	if *seed != 0 {
		spec.Seed = *seed
	}
	ctx := context.Background()
	j := world.Journey{Read: *read, Until: *until, Count: *messages}
	switch {
	case *messages > 0 && len(sends) == 0:
		// Traffic among the world's users.
		for _, m := range spec.RoundRobin() {
			m.Subject, m.Body = *subject, *body
			j.Mails = append(j.Mails, m)
		}
		if len(j.Mails) == 0 {
			return errors.New("--messages: no user of the world has a machine with an MSA and someone to write to: say who sends with --send FROM:TO")
		}
	case len(sends) > 0:
		for _, s := range sends {
			from, to, ok := strings.Cut(s, ":")
			if !ok || !strings.Contains(from, "@") || !strings.Contains(to, "@") {
				fmt.Fprintf(stderr, "mailhop sim: --send %q: want FROM:TO, two addresses\n", s)
				return errUsage
			}
			j.Mails = append(j.Mails, world.MailSpec{From: from, To: []string{to}, Subject: *subject, Body: *body})
		}
	case len(spec.Send) > 0:
		// The world's own story; --subject and --body fill in what it
		// leaves out.
		for _, m := range spec.Send {
			if m.Subject == "" {
				m.Subject = *subject
			}
			if m.Body == "" {
				m.Body = *body
			}
			j.Mails = append(j.Mails, m)
		}
	case len(spec.Users) < 2:
		return errors.New("the world has fewer than two users: say who sends with --send FROM:TO")
	default:
		j.Mails = []world.MailSpec{{From: spec.Users[0].Address, To: []string{spec.Users[1].Address}, Subject: *subject, Body: *body}}
	}
	var worldFaults []world.Fault
	for _, f := range faults {
		fault, err := parseFault(f)
		if err != nil {
			fmt.Fprintf(stderr, "mailhop sim: --fault %q: %v\n", f, err)
			return errUsage
		}
		worldFaults = append(worldFaults, fault)
	}
	// The world's goroutines take turns on one thread, as in the browser:
	// with the same seed, every run (and the playground) tells the same
	// story in the same order.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	// The trace is written as it is recorded, and the world keeps only
	// its end: a run of any length holds a bounded trace.
	stream := newTraceStream()
	j.Pause = stream.catchUp
	w, err := world.New(spec, world.TraceLimit(simTraceLimit), world.TraceSink(stream.add))
	if err != nil {
		return err
	}
	defer w.Close()
	start := w.Clock.Now()
	var capture *pcap.Capture
	if *pcapOut != "" {
		capture = w.StartCapture(0)
	}
	for _, f := range worldFaults {
		if err := w.Fault(f); err != nil {
			return err
		}
	}
	// The outputs start as the run does: the events so far are written
	// first.
	closeStream, err := streamOutputs(stream, w, stdout, *jsonOut, *outTranscript, *outJSON)
	if err != nil {
		return err
	}
	out, runErr := w.Run(ctx, j)
	// What the trace holds when the run is over is the story told: the
	// sink is removed, then what is pending is written.
	w.Trace.SetSink(nil)
	if err := closeStream(); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	for _, err := range out.ReadErrs {
		fmt.Fprintf(stderr, "mailhop sim: %v\n", err)
	}
	if capture != nil {
		if err := writeFile(*pcapOut, func(f io.Writer) error { _, err := capture.WriteTo(f); return err }); err != nil {
			return err
		}
		if n := capture.Dropped(); n > 0 {
			fmt.Fprintf(stderr, "mailhop sim: --pcap: the capture was full; the last %d packets are not in %s\n", n, *pcapOut)
		}
	}
	// A refused message is an outcome of the run, as a delivery is: it
	// is told, and the run succeeds.
	if *jsonOut {
		for _, r := range out.Refused {
			fmt.Fprintf(stderr, "mailhop sim: %s\n", refusal(r))
		}
		if *messages > 0 {
			fmt.Fprintf(stderr, "mailhop sim: %s\n", tally(w, start, out, *messages, stream.written()))
		}
		return nil
	}
	for _, r := range out.Refused {
		fmt.Fprintf(stdout, "\n== %s\n", refusal(r))
	}
	if *messages > 0 {
		if more := out.NRefused - len(out.Refused); more > 0 {
			fmt.Fprintf(stdout, "\n== and %d more refused\n", more)
		}
		fmt.Fprintf(stdout, "\n== %s\n", tally(w, start, out, *messages, stream.written()))
	}
	// The headers of what arrived: the Received lines tell the journey
	// backwards, newest first. Mail for a forwarded address or a list is
	// looked for where it went.
	var rcpts []string
	for _, m := range j.Mails {
		if slices.ContainsFunc(out.Refused, func(r *world.SendError) bool { return r.From == m.From && slices.Equal(r.To, m.To) }) {
			continue
		}
		for _, to := range m.To {
			for _, r := range w.FinalRecipients(to) {
				if !slices.Contains(rcpts, r) {
					rcpts = append(rcpts, r)
				}
			}
		}
	}
	for _, to := range rcpts {
		printArrival(stdout, w, to)
	}
	return nil
}

// refusal tells a message that did not get into the mail system.
func refusal(r *world.SendError) string {
	if reply := r.Reply(); reply != "" {
		return fmt.Sprintf("%s → %s: refused by %s, nothing was delivered:\n%s", r.From, strings.Join(r.To, ", "), r.Server, reply)
	}
	return fmt.Sprintf("%s → %s: not sent: %v", r.From, strings.Join(r.To, ", "), r.Err)
}

// printArrival prints the header of the newest message in a user's
// INBOX, and in their Junk when DMARC quarantined mail there.
func printArrival(stdout io.Writer, w *world.World, to string) {
	st, err := w.StoreOf(to)
	if err != nil {
		return
	}
	shown := false
	for _, box := range []string{store.Inbox, mailhost.Junk} {
		list, err := st.List(to, box)
		if err != nil || len(list) == 0 {
			continue
		}
		last := list[len(list)-1]
		msg, err := st.Read(to, box, last.UID)
		if err != nil {
			continue
		}
		why := ""
		if box == mailhost.Junk {
			why = " (DMARC quarantine)"
		}
		fmt.Fprintf(stdout, "\n== %s/%s, UID %d: the header as delivered%s\n", to, box, last.UID, why)
		fmt.Fprint(stdout, strings.ReplaceAll(string(message.HeaderSection(msg)), "\r\n", "\n"))
		shown = true
	}
	if !shown {
		fmt.Fprintf(stdout, "\n== %s/INBOX is empty\n", to)
	}
}

// simTraceLimit is about how many events of its trace a world run by
// `mailhop sim` keeps (the rest is written as it is recorded).
const simTraceLimit = 4096

// streamOutputs starts writing the trace as it happens: to stdout
// (text, or JSON lines), and to the files of --out-transcript and
// --out-json. The returned close writes what is pending, flushes, and
// closes the files; it returns the first error.
func streamOutputs(s *traceStream, w *world.World, stdout io.Writer, jsonOut bool, transcript, jsonLines string) (func() error, error) {
	var files []*os.File
	if jsonOut {
		s.jsonLines(stdout)
	} else {
		s.text(stdout, nil)
	}
	for _, out := range []struct {
		name string
		json bool
	}{{transcript, false}, {jsonLines, true}} {
		if out.name == "" {
			continue
		}
		f, err := os.Create(out.name)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, err
		}
		files = append(files, f)
		if out.json {
			s.jsonLines(f)
		} else {
			s.text(f, w.TranscriptHeading())
		}
	}
	s.start()
	return func() error {
		var first error
		for i, err := range s.close() {
			if err != nil && i > 0 {
				err = fmt.Errorf("%s: %w", files[i-1].Name(), err)
			}
			if first == nil {
				first = err
			}
		}
		for _, f := range files {
			if err := f.Close(); err != nil && first == nil {
				first = fmt.Errorf("%s: %w", f.Name(), err)
			}
		}
		return first
	}, nil
}

// tally sums up a run of --messages: what was sent, what is still
// queued, what the mailboxes hold, how long it took on the clock.
func tally(w *world.World, start time.Time, out world.Outcome, n int, events int64) string {
	stored := 0
	for _, h := range w.Hosts {
		if h.Store == nil {
			continue
		}
		for _, u := range h.Store.Users() {
			boxes, _ := h.Store.Mailboxes(u)
			for _, b := range boxes {
				if st, err := h.Store.Status(u, b.Name); err == nil {
					stored += int(st.Messages)
				}
			}
		}
	}
	return fmt.Sprintf("%d messages: %d taken, %d refused; %d still queued; %d in the mailboxes; %d trace events; %s of virtual time",
		n, out.NSent, out.NRefused, w.Queued(), stored, events, w.Clock.Now().Sub(start).Round(time.Millisecond))
}

// writeFile creates name and fills it with write.
func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return f.Close()
}

// loadWorld reads a world by built-in name or from a file.
func loadWorld(name string) (*world.Spec, error) {
	for _, b := range world.Builtin() {
		if b == name {
			return world.Load(name)
		}
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("--world %s: not a built-in world (%s) and not a readable file: %w", name, strings.Join(world.Builtin(), ", "), err)
	}
	spec, err := world.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return spec, nil
}

// parseFault reads KIND:HOST[:PEER|:PORT|:LATENCY].
func parseFault(s string) (world.Fault, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 {
		return world.Fault{}, errors.New("want KIND:HOST[:MORE]")
	}
	f := world.Fault{Kind: parts[0], Host: parts[1]}
	if len(parts) > 2 {
		switch f.Kind {
		case "port-refuse", "port-accept":
			if _, err := fmt.Sscanf(parts[2], "%d", &f.Port); err != nil {
				return f, fmt.Errorf("bad port %q", parts[2])
			}
		case "latency":
			f.Peer = parts[2]
			if len(parts) > 3 {
				f.Latency = parts[3]
			}
		case "dns":
			f.Mode = parts[2]
			if len(parts) > 3 {
				f.Name = parts[3]
			}
		case "mailbox-full", "mailbox-room":
			f.Name = parts[2]
		default:
			f.Peer = parts[2]
		}
	}
	return f, nil
}
