package mailauth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// KeyType names a kind of DKIM key.
type KeyType string

// The key types of DKIM: RSA (RFC 6376, 2048 bits recommended by RFC
// 8301) and Ed25519 (RFC 8463).
const (
	KeyRSA     KeyType = "rsa"
	KeyEd25519 KeyType = "ed25519"
)

// GenerateKey makes a new random key for a real server: Ed25519, or RSA
// of bits bits (0 means 2048).
func GenerateKey(kind KeyType, bits int) (crypto.Signer, error) {
	switch kind {
	case KeyEd25519:
		_, key, err := ed25519.GenerateKey(rand.Reader)
		return key, err
	case KeyRSA:
		if bits == 0 {
			bits = 2048
		}
		return rsa.GenerateKey(rand.Reader, bits)
	}
	return nil, fmt.Errorf("dkim: unknown key type %q", kind)
}

// Ed25519FromSeed derives an Ed25519 key from any seed, the same on every
// run and Go version: the simulation's keys. Never use it for a real
// domain: whoever knows the seed can sign.
func Ed25519FromSeed(seed []byte) ed25519.PrivateKey {
	s := ed25519Seed(seed)
	if pub, ok := knownEd25519[s]; ok {
		return append(append(make(ed25519.PrivateKey, 0, ed25519.PrivateKeySize), s[:]...), pub[:]...)
	}
	return ed25519.NewKeyFromSeed(s[:])
}

func ed25519Seed(seed []byte) [32]byte {
	return sha256.Sum256(append([]byte("mailhop dkim ed25519 "), seed...))
}

// knownEd25519 holds public keys worked out ahead of time, by the
// Ed25519 seed they derive from (see KnowEd25519).
var knownEd25519 map[[32]byte][32]byte

// Ed25519PublicKeys returns the public keys Ed25519FromSeed gives the
// seeds, by the seed's digest: what KnowEd25519 takes. A build works them
// out ahead of time for the keys it knows it will need.
func Ed25519PublicKeys(seeds [][]byte) map[[32]byte][32]byte {
	out := make(map[[32]byte][32]byte, len(seeds))
	for _, seed := range seeds {
		s := ed25519Seed(seed)
		var pub [32]byte
		copy(pub[:], ed25519.NewKeyFromSeed(s[:]).Public().(ed25519.PublicKey))
		out[s] = pub
	}
	return out
}

// KnowEd25519 gives Ed25519FromSeed public keys worked out ahead of time
// (Ed25519PublicKeys): a key whose public half is known is made without a
// scalar multiplication, which a WebAssembly program's first run pays
// dearly for (its code compiled on first use, the base point's table
// built). Call it before the first Ed25519FromSeed; nil forgets them.
func KnowEd25519(keys map[[32]byte][32]byte) { knownEd25519 = keys }

// RSAFromSeed derives an RSA key of bits bits (at least 1024) from a seed,
// the same on every run. rsa.GenerateKey cannot do that: since Go 1.26 it
// ignores the random source it is given, and before that its use of the
// source changed between versions. So the primes are found here, from a
// ChaCha8 stream keyed with the seed's SHA-256: odd numbers with their top
// two bits set, tried with a sieve of small primes and then
// big.Int.ProbablyPrime, the first that passes is the prime. ChaCha8's
// output is fixed by its specification, and a primality test can only
// change its verdict on a number with a negligible chance, so the key
// stays the same. Like Ed25519FromSeed it is for the simulation only.
func RSAFromSeed(seed []byte, bits int) (*rsa.PrivateKey, error) {
	if bits < 1024 || bits > 8192 || bits%2 != 0 {
		return nil, fmt.Errorf("dkim: RSA key size %d: want an even number from 1024 to 8192", bits)
	}
	s := sha256.Sum256(append([]byte("mailhop dkim rsa "), seed...))
	rng := mrand.NewChaCha8(s)
	e := big.NewInt(65537)
	one := big.NewInt(1)
	for range 64 {
		p, err := seededPrime(rng, bits/2)
		if err != nil {
			return nil, err
		}
		q, err := seededPrime(rng, bits/2)
		if err != nil {
			return nil, err
		}
		if p.Cmp(q) == 0 {
			continue
		}
		if p.Cmp(q) < 0 {
			p, q = q, p
		}
		n := new(big.Int).Mul(p, q)
		p1 := new(big.Int).Sub(p, one)
		q1 := new(big.Int).Sub(q, one)
		phi := new(big.Int).Mul(p1, q1)
		d := new(big.Int).ModInverse(e, phi)
		if n.BitLen() != bits || d == nil {
			continue
		}
		key := &rsa.PrivateKey{
			PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())},
			D:         d,
			Primes:    []*big.Int{p, q},
		}
		key.Precompute()
		if err := key.Validate(); err != nil {
			return nil, fmt.Errorf("dkim: derived RSA key: %v", err)
		}
		return key, nil
	}
	return nil, errors.New("dkim: no RSA key found from this seed")
}

// smallPrimes sieve candidates before the costly test.
var smallPrimes = func() []uint64 {
	var ps []uint64
	for n := uint64(3); n < 2000; n += 2 {
		prime := true
		for _, p := range ps {
			if p*p > n {
				break
			}
			if n%p == 0 {
				prime = false
				break
			}
		}
		if prime {
			ps = append(ps, n)
		}
	}
	return ps
}()

func seededPrime(rng *mrand.ChaCha8, bits int) (*big.Int, error) {
	buf := make([]byte, (bits+7)/8)
	p := new(big.Int)
	m, d := new(big.Int), new(big.Int)
	// Primes near 2^512 are about one in 355 numbers, one in 178 odd
	// ones: 100000 tries are plenty.
	for range 100000 {
		rng.Read(buf)
		if extra := len(buf)*8 - bits; extra > 0 {
			buf[0] &= byte(0xff >> extra)
		}
		p.SetBytes(buf)
		p.SetBit(p, bits-1, 1)
		p.SetBit(p, bits-2, 1) // so that the product has all its bits
		p.SetBit(p, 0, 1)
		composite := false
		for _, sp := range smallPrimes {
			if m.Mod(p, d.SetUint64(sp)).Sign() == 0 {
				composite = true
				break
			}
		}
		if !composite && p.ProbablyPrime(20) {
			return new(big.Int).Set(p), nil
		}
	}
	return nil, errors.New("dkim: no prime found")
}

// DKIMRecordName is where a key is published: <selector>._domainkey.<domain>
// (RFC 6376 §3.6.2.1).
func DKIMRecordName(selector, domain string) string {
	return selector + "._domainkey." + trimDot(domain)
}

// DKIMRecord returns the TXT record that publishes a public key (RFC 6376
// §3.6.1): "v=DKIM1; k=rsa; p=MIIB…" with the SubjectPublicKeyInfo of an
// RSA key, or "v=DKIM1; k=ed25519; p=…" with the 32 bytes of an Ed25519
// key (RFC 8463 §4). key may be a public key or a crypto.Signer.
func DKIMRecord(key any) (string, error) {
	if s, ok := key.(crypto.Signer); ok {
		key = s.Public()
	}
	switch pub := key.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	}
	return "", fmt.Errorf("dkim: no DKIM record for a %T", key)
}

// SplitTXT cuts a record into the strings of at most 255 bytes one TXT
// record holds (RFC 1035 §3.3.14); a 2048-bit RSA key needs two. Readers
// join them again.
func SplitTXT(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}

// ZoneTXT formats a TXT record for a zone file, split as SplitTXT does:
// sel._domainkey.example.org. IN TXT ( "v=DKIM1; …" "…" ).
func ZoneTXT(name, value string) string {
	parts := SplitTXT(value)
	for i, p := range parts {
		parts[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p) + `"`
	}
	return strings.TrimSuffix(name, ".") + ". IN TXT ( " + strings.Join(parts, " ") + " )"
}

// MarshalKey encodes a private key as PEM, PKCS #8 ("PRIVATE KEY").
func MarshalKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey decodes a PEM private key: PKCS #8, or PKCS #1 ("RSA PRIVATE
// KEY", as openssl genrsa writes). It must be RSA or Ed25519.
func ParseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("dkim: no PEM block in the key file")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("dkim: PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("dkim: %v", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("dkim: a %T cannot sign DKIM", key)
}

// SaveKey writes a private key to path as PEM, readable by its owner only
// (0600), through a temporary file so that a crash leaves the old file or
// the new one.
func SaveKey(path string, key crypto.Signer) error {
	data, err := MarshalKey(key)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".dkim-key-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadKey reads a PEM private key file.
func LoadKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseKey(data)
}

// LoadOrCreateKey reads the key at path, or makes one of kind and saves
// it there when there is none; created says which.
func LoadOrCreateKey(path string, kind KeyType) (key crypto.Signer, created bool, err error) {
	key, err = LoadKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	if key, err = GenerateKey(kind, 0); err != nil {
		return nil, false, err
	}
	if err := SaveKey(path, key); err != nil {
		return nil, false, err
	}
	return key, true, nil
}
