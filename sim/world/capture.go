package world

import "github.com/mailhop/mailhop/sim/pcap"

// StartCapture starts recording the world's traffic, every link of its
// network, with the secrets of its TLS handshakes, and returns the
// capture; its WriteTo writes a pcapng file Wireshark reads. The capture
// keeps at most about limit bytes (limit <= 0: pcap.DefaultLimit).
// Connections already open when it starts are not seen.
func (w *World) StartCapture(limit int) *pcap.Capture {
	c := pcap.New(limit)
	w.CA.SetKeyLog(c.KeyLog())
	w.Net.SetSniffer(c)
	return c
}

// StopCapture stops recording the world's traffic: what a capture holds
// stays.
func (w *World) StopCapture() {
	w.Net.SetSniffer(nil)
	w.CA.SetKeyLog(nil)
}
