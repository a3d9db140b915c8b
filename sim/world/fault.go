package world

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/dns"
	"github.com/mailhop/mailhop/sim/trace"
)

// Fault is something a teacher breaks (or mends) in a world.
//
//	{"kind": "host-down", "host": "mx.example.net"}            take a host down
//	{"kind": "host-up", "host": "mx.example.net"}              bring it back
//	{"kind": "link-cut", "host": "a", "peer": "b"}             cut the link between two hosts
//	{"kind": "link-restore", "host": "a", "peer": "b"}
//	{"kind": "port-refuse", "host": "h", "port": 25}           a firewall rejects the port
//	{"kind": "port-accept", "host": "h", "port": 25}
//	{"kind": "latency", "host": "a", "peer": "b", "latency": "200ms"}
//	{"kind": "dns", "host": "ns.example", "mode": "servfail", "name": "example.net"}
//	                                                          DNS broken: servfail, refused or drop; mode "" mends
//	{"kind": "mailbox-full", "host": "store.example.net", "name": "bob@example.net"}
//	                                                          a user's mailbox takes no more mail (452 4.2.2)
//	{"kind": "mailbox-room", "host": "store.example.net", "name": "bob@example.net"}
type Fault struct {
	Kind    string `json:"kind"`
	Host    string `json:"host,omitempty"`
	Peer    string `json:"peer,omitempty"`
	Port    int    `json:"port,omitempty"`
	Latency string `json:"latency,omitempty"`
	Mode    string `json:"mode,omitempty"`
	Name    string `json:"name,omitempty"`
}

func (f Fault) check(hosts map[string]bool) error {
	need := func(names ...string) error {
		for _, n := range names {
			if n == "" {
				return fmt.Errorf("%s needs host and peer", f.Kind)
			}
			if !hosts[n] {
				return fmt.Errorf("%s: %q is not a host of the world", f.Kind, n)
			}
		}
		return nil
	}
	switch f.Kind {
	case "host-down", "host-up", "dns":
		return need(f.Host)
	case "mailbox-full", "mailbox-room":
		if f.Name == "" {
			return fmt.Errorf("%s needs the user's address as name", f.Kind)
		}
		return need(f.Host)
	case "link-cut", "link-restore":
		return need(f.Host, f.Peer)
	case "latency":
		if _, err := time.ParseDuration(f.Latency); err != nil {
			return fmt.Errorf("latency %q is not a duration", f.Latency)
		}
		return need(f.Host, f.Peer)
	case "port-refuse", "port-accept":
		if f.Port <= 0 || f.Port > 65535 {
			return fmt.Errorf("%s needs a port", f.Kind)
		}
		return need(f.Host)
	}
	return fmt.Errorf("unknown fault kind %q (host-down, host-up, link-cut, link-restore, port-refuse, port-accept, latency, dns, mailbox-full, mailbox-room)", f.Kind)
}

// Fault injects (or mends) a fault.
func (w *World) Fault(f Fault) error {
	names := map[string]bool{}
	for _, h := range w.Spec.Hosts {
		names[h.Name] = true
	}
	if err := f.check(names); err != nil {
		return err
	}
	var err error
	switch f.Kind {
	case "host-down", "host-up":
		err = w.Net.SetDown(f.Host, f.Kind == "host-down")
	case "link-cut", "link-restore":
		err = w.Net.Cut(f.Host, f.Peer, f.Kind == "link-cut")
	case "port-refuse", "port-accept":
		err = w.Net.Refuse(f.Host, f.Port, f.Kind == "port-refuse")
	case "latency":
		d, _ := time.ParseDuration(f.Latency)
		err = w.Net.SetLatency(f.Host, f.Peer, d)
	case "dns":
		h := w.Hosts[f.Host]
		if h.DNS == nil {
			return fmt.Errorf("dns fault: %s is not a DNS server", f.Host)
		}
		err = h.DNS.SetFault(dns.Fault{Mode: dns.FaultMode(f.Mode), Name: f.Name})
	case "mailbox-full", "mailbox-room":
		h := w.Hosts[f.Host]
		if h.MDA == nil {
			return fmt.Errorf("%s: %s keeps no mailboxes", f.Kind, f.Host)
		}
		if !slices.ContainsFunc(h.Store.Users(), func(u string) bool { return strings.EqualFold(u, f.Name) }) {
			return fmt.Errorf("%s: %s keeps no mailbox for %q", f.Kind, f.Host, f.Name)
		}
		h.MDA.SetFull(f.Name, f.Kind == "mailbox-full")
	}
	if err != nil {
		return err
	}
	text := f.Kind + " " + f.Host
	if f.Peer != "" {
		text += " ↔ " + f.Peer
	}
	if f.Port != 0 {
		text += fmt.Sprintf(" port %d", f.Port)
	}
	if f.Latency != "" {
		text += " " + f.Latency
	}
	if strings.HasPrefix(f.Kind, "mailbox-") {
		text += " " + f.Name
	}
	if f.Kind == "dns" {
		mode := f.Mode
		if mode == "" {
			mode = "mended"
		}
		text += " " + mode
		if f.Name != "" {
			text += " for " + f.Name
		}
	}
	w.Trace.Emit(trace.Event{Kind: trace.KindFault, Host: f.Host, Peer: f.Peer, Port: f.Port, Text: text})
	w.mu.Lock()
	w.faults = append(w.faults, f)
	w.mu.Unlock()
	return nil
}
