// Package pki is the simulated world's certificate authority: it issues the
// TLS certificates of the world's hosts, and every host trusts it, so
// STARTTLS between simulated hosts verifies as it would on the Internet.
//
// Keys are made when first needed (the first handshake), not when a world
// is built: in the browser, key generation is what a world's start-up
// would otherwise wait for.
//
// Every key is Ed25519, derived from the world's seed and the host's name:
// the same seed gives the same certificates, and Ed25519 signatures are
// deterministic and of one length, so a world's handshakes are the same
// size from run to run (the trace counts their bytes). The randoms of the
// handshakes come from the seed too; the key shares do not (Go makes them
// from its own generator), so the encrypted bytes still differ.
package pki

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
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
	seed uint64

	randMu sync.Mutex
	rand   *rand.ChaCha8 // the handshakes' randoms

	logMu  sync.Mutex
	keyLog io.Writer // where TLS secrets go (NSS key log format), or nil

	once sync.Once
	err  error
	cert *x509.Certificate
	key  ed25519.PrivateKey
	pool *x509.CertPool

	mu     sync.Mutex
	issued map[string]*tls.Certificate

	// sessions lets the world's clients resume TLS sessions (RFC 8446
	// §2.2), as real clients do: no certificate to send or verify again.
	sessions tls.ClientSessionCache
}

// NewCA returns a CA whose keys derive from seed; its key is made on
// first use.
func NewCA(name string, seed uint64) (*CA, error) {
	ca := &CA{name: name, seed: seed, issued: map[string]*tls.Certificate{}, sessions: tls.NewLRUClientSessionCache(256)}
	ca.rand = rand.NewChaCha8(ca.derive("tls randoms"))
	return ca, nil
}

// derive returns 32 bytes that depend only on the seed and label.
func (ca *CA) derive(label string) [32]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ca.seed)
	return sha256.Sum256(append(append(b[:], "mailhop pki\x00"...), label...))
}

// keyFor returns the Ed25519 key of a name (the CA's or a host's).
func (ca *CA) keyFor(name string) ed25519.PrivateKey {
	s := ca.derive("key " + name)
	return ed25519.NewKeyFromSeed(s[:])
}

// SetKeyLog makes every handshake of the world write its secrets to w in
// the NSS key log format, so a capture of the world can be decrypted (nil
// stops it).
func (ca *CA) SetKeyLog(w io.Writer) {
	ca.logMu.Lock()
	ca.keyLog = w
	ca.logMu.Unlock()
}

// keyLogWriter hands the key log lines to whatever SetKeyLog set.
type keyLogWriter struct{ ca *CA }

func (k keyLogWriter) Write(p []byte) (int, error) {
	k.ca.logMu.Lock()
	defer k.ca.logMu.Unlock()
	if k.ca.keyLog == nil {
		return len(p), nil
	}
	return k.ca.keyLog.Write(p)
}

// randReader hands out the CA's seeded randoms, safe for concurrent
// handshakes.
type randReader struct{ ca *CA }

func (r randReader) Read(p []byte) (int, error) {
	r.ca.randMu.Lock()
	defer r.ca.randMu.Unlock()
	return r.ca.rand.Read(p)
}

func (ca *CA) init() error {
	ca.once.Do(func() {
		key := ca.keyFor(ca.name)
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: ca.name, Organization: []string{"mailhop simulated world"}},
			NotBefore:             notBefore,
			NotAfter:              notAfter,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(nil, tmpl, tmpl, key.Public(), key)
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
	key := ca.keyFor(host)
	// The serial comes from the name, not the order of issue: the same
	// seed gives the same certificate whichever host shakes hands first.
	sb := ca.derive("serial " + host)
	serial := int64(binary.BigEndian.Uint64(sb[:]) >> 2)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(nil, tmpl, ca.cert, key.Public(), ca.key)
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
		Rand:           randReader{ca},
		KeyLogWriter:   keyLogWriter{ca},
	}, nil
}

// ClientConfig returns a TLS client configuration that trusts the CA and
// expects the server to be serverName.
func (ca *CA) ClientConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), ServerName: serverName, MinVersion: tls.VersionTLS12, ClientSessionCache: ca.sessions,
		Rand: randReader{ca}, KeyLogWriter: keyLogWriter{ca}}
}
