// Package pki is the simulated world's certificate authority: it issues the
// TLS certificates of the world's hosts, and every host trusts it, so
// STARTTLS between simulated hosts verifies as it would on the Internet.
//
// Keys are made when first needed (the first handshake), not when a world
// is built: in the browser, key generation is what a world's start-up
// would otherwise wait for.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// Validity of every certificate: wide enough for the wall clock and any
// virtual clock a world is likely to start at.
var (
	notBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2045, 1, 1, 0, 0, 0, 0, time.UTC)
)

// CA is a certificate authority.
type CA struct {
	name string

	once sync.Once
	err  error
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool

	mu     sync.Mutex
	serial int64
	issued map[string]*tls.Certificate

	// sessions lets the world's clients resume TLS sessions (RFC 8446
	// §2.2), as real clients do: no certificate to send or verify again.
	sessions tls.ClientSessionCache
}

// NewCA returns a CA; its key is made on first use.
func NewCA(name string) (*CA, error) {
	return &CA{name: name, serial: 1, issued: map[string]*tls.Certificate{}, sessions: tls.NewLRUClientSessionCache(256)}, nil
}

func (ca *CA) init() error {
	ca.once.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			ca.err = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: ca.name, Organization: []string{"mailhop simulated world"}},
			NotBefore:             notBefore,
			NotAfter:              notAfter,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			ca.err = err
			return
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			ca.err = err
			return
		}
		ca.cert, ca.key = cert, key
		ca.pool = x509.NewCertPool()
		ca.pool.AddCert(cert)
	})
	return ca.err
}

// Pool returns a pool holding the CA, for clients to trust.
func (ca *CA) Pool() *x509.CertPool {
	if ca.init() != nil {
		return x509.NewCertPool()
	}
	return ca.pool
}

// Certificate returns a certificate for host (issued once, then reused).
func (ca *CA) Certificate(host string) (*tls.Certificate, error) {
	if err := ca.init(); err != nil {
		return nil, err
	}
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c := ca.issued[host]; c != nil {
		return c, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("pki: certificate for %s: %w", host, err)
	}
	c := &tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}
	ca.issued[host] = c
	return c, nil
}

// ServerConfig returns a TLS server configuration for host; the
// certificate is issued at the first handshake.
func (ca *CA) ServerConfig(host string) (*tls.Config, error) {
	return &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return ca.Certificate(host) },
		MinVersion:     tls.VersionTLS12,
	}, nil
}

// ClientConfig returns a TLS client configuration that trusts the CA and
// expects the server to be serverName.
func (ca *CA) ClientConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), ServerName: serverName, MinVersion: tls.VersionTLS12, ClientSessionCache: ca.sessions}
}
