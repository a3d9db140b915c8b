package pki

import (
	"crypto/tls"
	"net"
	"testing"
)

func TestHandshakeVerifies(t *testing.T) {
	ca, err := NewCA("mailhop test CA", 1)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.ServerConfig("mx.example.net")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{{"mx.example.net", true}, {"mail.example.org", false}} {
		a, b := net.Pipe()
		errc := make(chan error, 1)
		go func() { errc <- tls.Server(b, srv).Handshake() }()
		err := tls.Client(a, ca.ClientConfig(c.name)).Handshake()
		a.Close()
		<-errc
		if (err == nil) != c.ok {
			t.Errorf("handshake expecting %s: %v", c.name, err)
		}
	}
	again, _ := ca.Certificate("mx.example.net")
	first, _ := ca.Certificate("mx.example.net")
	if again != first {
		t.Error("certificate issued twice")
	}
}
