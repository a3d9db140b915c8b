package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// loadTLS returns the servers' TLS configuration: --tls-cert and
// --tls-key, or the self-signed certificate in DIR/tls, made on first
// start (ECDSA P-256, for --hostname, ten years) and reused after.
func loadTLS(c *serveConfig) (*tls.Config, error) {
	certFile, keyFile := c.tlsCert, c.tlsKey
	if certFile == "" {
		dir := filepath.Join(c.data, "tls")
		certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if _, err := os.Stat(certFile); errors.Is(err, fs.ErrNotExist) {
			if err := selfSigned(dir, c.hostname, certFile, keyFile); err != nil {
				return nil, fmt.Errorf("making a self-signed certificate: %w", err)
			}
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s: %w", certFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// selfSigned writes a new key and a self-signed certificate for host; the
// key is written first and both are fsynced, so a crash leaves either
// nothing usable (made again at the next start) or both.
func selfSigned(dir, host, certFile, keyFile string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: host, Organization: []string{"mailhop self-signed"}},
		DNSNames:              []string{host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyPEM, err := encodePEM(key)
	if err != nil {
		return err
	}
	if err := writeSynced(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	certPEM, _ := encodePEM(nil, der)
	return writeSynced(certFile, certPEM, 0o644)
}

// encodePEM encodes a private key, unless nil, as PKCS #8 ("PRIVATE
// KEY"), then the certificates (DER) in order: the key files of DATA/tls
// and DATA/acme.
func encodePEM(key crypto.Signer, certs ...[]byte) ([]byte, error) {
	var out []byte
	if key != nil {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		out = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	for _, der := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out, nil
}

// decodePEM reads what encodePEM writes: the last PKCS #8 private key
// (nil if none) and the certificates in order; other blocks are skipped.
func decodePEM(data []byte) (crypto.Signer, [][]byte, error) {
	var key crypto.Signer
	var certs [][]byte
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return key, certs, nil
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, nil, err
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, nil, errors.New("not a signing key")
			}
			key = s
		case "CERTIFICATE":
			certs = append(certs, b.Bytes)
		}
	}
}

// writeSynced writes a file atomically: temporary file, fsync, rename,
// directory fsync.
func writeSynced(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// setupTLS makes the TLS configuration of the servers: the ACME CA's
// certificate with --acme, else loadTLS's.
func (s *server) setupTLS() error {
	if !s.c.acme {
		var err error
		s.tls, err = loadTLS(s.c)
		return err
	}
	a, err := newACME(s.c, s.log)
	if err != nil {
		return err
	}
	s.acme = a
	s.closes = append(s.closes, a.close)
	s.tls = a.tlsConfig()
	return nil
}
