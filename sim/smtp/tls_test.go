package smtp

import (
	"crypto/tls"
	"testing"

	"github.com/mailhop/mailhop/sim/pki"
)

func testTLS(t *testing.T) *tls.Config {
	t.Helper()
	ca, err := pki.NewCA("test", 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.ServerConfig("mx.example.net")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
