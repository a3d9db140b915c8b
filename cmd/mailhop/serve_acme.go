package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
)

// The ACME directories --acme-directory knows by name.
const (
	letsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory"
	letsEncryptStaging    = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// acmeAttemptTimeout bounds one attempt at a certificate: order,
// challenge, finalization and download.
const acmeAttemptTimeout = 10 * time.Minute

// acmeRetry is the wait after the first failed attempt, doubled after
// each failure up to acmeRetryMax: five failed validations an hour are
// as many as Let's Encrypt allows for one name.
const (
	acmeRetry    = 2 * time.Minute
	acmeRetryMax = time.Hour
)

// acmeDirectoryURL is --acme-directory with its names resolved.
func (c *serveConfig) acmeDirectoryURL() string {
	switch strings.ToLower(c.acmeDirectory) {
	case "", "production", "letsencrypt":
		return letsEncryptProduction
	case "staging", "letsencrypt-staging":
		return letsEncryptStaging
	}
	return c.acmeDirectory
}

// checkACME validates the --acme flags.
func (c *serveConfig) checkACME() error {
	if !c.acme {
		switch {
		case c.acmeEmail != "":
			return errors.New("--acme-email goes with --acme")
		case c.acmeRoots != "":
			return errors.New("--acme-roots goes with --acme")
		}
		return nil
	}
	if c.acmeEmail == "" {
		return errors.New("--acme needs --acme-email, the account's contact address at the CA")
	}
	if !strings.Contains(c.acmeEmail, "@") || strings.ContainsAny(c.acmeEmail, " \t\r\n<>,") {
		return fmt.Errorf("--acme-email %q is not an email address", c.acmeEmail)
	}
	host := strings.TrimSuffix(c.hostname, ".")
	if net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		return fmt.Errorf("--acme: --hostname %q is not a DNS name a CA can certify", c.hostname)
	}
	u, err := url.Parse(c.acmeDirectoryURL())
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("--acme-directory %q: want an https:// URL, production or staging", c.acmeDirectory)
	}
	if c.acmeHTTP != "" {
		if _, _, err := net.SplitHostPort(c.acmeHTTP); err != nil {
			return fmt.Errorf("--acme-http %q: want HOST:PORT or :PORT", c.acmeHTTP)
		}
		return nil
	}
	for _, name := range []string{"submissions", "imaps", "pop3s"} {
		if *c.listen[name] != "" {
			return nil
		}
	}
	return errors.New(`--acme with --acme-http "": TLS-ALPN-01 is answered on --submissions, --imaps or --pop3s, and all three are off`)
}

// acmeCerts keeps the certificate of --hostname from an ACME CA (RFC
// 8555): obtained at start unless DATA/acme holds a valid one, renewed
// when two thirds of its lifetime have passed, and served by every TLS
// port through GetCertificate, so that a renewal needs no restart.
// Until the first certificate arrives the self-signed one of DATA/tls is
// served.
//
// The CA proves control of the name with HTTP-01 on --acme-http or, with
// --acme-http "", TLS-ALPN-01 (RFC 8737) on the implicit-TLS ports
// (465, 993, 995): the CA connects to port 443, so one of them has to be
// reachable there (a port forward). The STARTTLS ports can not answer it.
type acmeCerts struct {
	host  string
	email string
	dir   string // the directory URL
	roots *x509.CertPool
	store string // DATA/acme/CA: the account key, the certificate
	log   *slog.Logger

	// cert is what the TLS ports serve.
	cert atomic.Pointer[tls.Certificate]
	// fromCA is set once cert came from the CA.
	fromCA atomic.Bool

	httpL   net.Listener // HTTP-01; nil with TLS-ALPN-01
	httpSrv *http.Server

	mu     sync.Mutex
	client *acme.Client                // registered; made by the first attempt
	tokens map[string]string           // HTTP-01: token → key authorization
	alpn   map[string]*tls.Certificate // TLS-ALPN-01: host → challenge certificate

	cancel context.CancelFunc
	done   chan struct{}
}

// acmeCacheName names the cache directory of an ACME directory URL: a
// certificate from staging is not one from production.
func acmeCacheName(dirURL string) string {
	u, err := url.Parse(dirURL)
	if err != nil || u.Host == "" {
		return "ca"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '_'
	}, u.Host)
}

// newACME prepares the certificate of --acme: the cache directory, the
// cached certificate or the self-signed stand-in, and the HTTP-01
// listener. Nothing is asked of the CA before start.
func newACME(c *serveConfig, log *slog.Logger) (*acmeCerts, error) {
	a := &acmeCerts{
		host: strings.ToLower(strings.TrimSuffix(c.hostname, ".")), email: c.acmeEmail, dir: c.acmeDirectoryURL(), log: log,
		tokens: map[string]string{}, alpn: map[string]*tls.Certificate{},
	}
	if c.acmeRoots != "" {
		pemData, err := os.ReadFile(c.acmeRoots)
		if err != nil {
			return nil, fmt.Errorf("--acme-roots: %w", err)
		}
		a.roots = x509.NewCertPool()
		if !a.roots.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("--acme-roots %s: no PEM certificate in it", c.acmeRoots)
		}
	}
	top := filepath.Join(c.data, "acme")
	dir := filepath.Join(top, acmeCacheName(a.dir))
	for _, d := range []string{top, dir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("--data: %w", err)
		}
	}
	a.store = dir
	if cert, err := a.loadCached(); err == nil {
		a.cert.Store(cert)
		a.fromCA.Store(true)
		a.log.Info("ACME certificate loaded", "kind", "acme", "file", filepath.Join(dir, a.certName()),
			"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339), "renew_after", renewAfter(cert.Leaf).UTC().Format(time.RFC3339))
	} else {
		if !errors.Is(err, fs.ErrNotExist) {
			a.log.Warn("ACME certificate in the cache not used: a new one is requested", "kind", "acme", "err", err)
		}
		self, err := loadTLS(c)
		if err != nil {
			return nil, err
		}
		a.cert.Store(&self.Certificates[0])
	}
	if c.acmeHTTP != "" {
		l, err := net.Listen("tcp", c.acmeHTTP)
		if err != nil {
			return nil, fmt.Errorf("--acme-http %s: %w", c.acmeHTTP, unwrapOpError(err))
		}
		a.httpL = l
	}
	return a, nil
}

func (a *acmeCerts) certName() string { return a.host + ".pem" }

const accountKeyName = "account-key.pem"

// tlsConfig is the configuration of every TLS port.
func (a *acmeCerts) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// One name, one certificate, whatever the client's SNI says
		// (MTAs often send none).
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return a.cert.Load(), nil },
		// The CA's TLS-ALPN-01 connection offers acme-tls/1 alone: it
		// gets the challenge's certificate. Mail clients never see
		// acme-tls/1 in NextProtos (a client offering another protocol
		// would be refused).
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if len(hello.SupportedProtos) != 1 || hello.SupportedProtos[0] != acme.ALPNProto {
				return nil, nil
			}
			a.mu.Lock()
			cert := a.alpn[strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))]
			a.mu.Unlock()
			if cert == nil {
				return nil, errors.New("no TLS-ALPN-01 challenge pending for this name")
			}
			return &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{acme.ALPNProto}, Certificates: []tls.Certificate{*cert}}, nil
		},
	}
}

// start serves HTTP-01 and keeps the certificate: obtains it now if
// there is none, renews it when due.
func (a *acmeCerts) start() {
	if a.done != nil {
		return
	}
	if a.httpL != nil {
		a.httpSrv = &http.Server{
			Handler:           http.HandlerFunc(a.serveHTTP),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       30 * time.Second,
			MaxHeaderBytes:    8 << 10,
			ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		}
		a.log.Info("listening", "service", "acme-http", "addr", a.httpL.Addr().String())
		go a.httpSrv.Serve(a.httpL)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel, a.done = cancel, make(chan struct{})
	go func() {
		defer close(a.done)
		a.keep(ctx)
	}()
}

// close stops renewing and serving HTTP-01.
func (a *acmeCerts) close() {
	if a.cancel != nil {
		a.cancel()
		<-a.done
	}
	if a.httpSrv != nil {
		a.httpSrv.Close()
	} else if a.httpL != nil {
		a.httpL.Close()
	}
}

// serveHTTP answers the CA's HTTP-01 requests (RFC 8555 §8.3), and
// nothing else.
func (a *acmeCerts) serveHTTP(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.URL.Path, "/.well-known/acme-challenge/")
	a.mu.Lock()
	ka, found := a.tokens[token]
	a.mu.Unlock()
	if !ok || !found || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.Error(w, "mailhop answers ACME HTTP-01 challenges here, and nothing else", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write([]byte(ka))
}

// renewAfter is when a certificate is renewed: two thirds into its
// lifetime (30 days before the end of Let's Encrypt's 90).
func renewAfter(leaf *x509.Certificate) time.Time {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotBefore.Add(life / 3 * 2)
}

// keep obtains and renews the certificate until ctx ends.
func (a *acmeCerts) keep(ctx context.Context) {
	retry := acmeRetry
	var floor time.Duration // after a new certificate: not another at once
	for {
		wait := time.Duration(0)
		if a.fromCA.Load() {
			wait = max(time.Until(renewAfter(a.cert.Load().Leaf)), floor)
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		a.log.Info("ACME: requesting a certificate", "kind", "acme", "hostname", a.host, "directory", a.dir, "challenge", a.challengeType())
		actx, cancel := context.WithTimeout(ctx, acmeAttemptTimeout)
		cert, err := a.obtain(actx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			a.cert.Store(cert)
			a.fromCA.Store(true)
			retry = acmeRetry
			// A clock far ahead of the CA's would see the new
			// certificate due at once.
			floor = min(acmeRetry, cert.Leaf.NotAfter.Sub(cert.Leaf.NotBefore)/3)
			a.log.Info("ACME certificate obtained", "kind", "acme", "hostname", a.host, "issuer", cert.Leaf.Issuer.CommonName,
				"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339), "renew_after", renewAfter(cert.Leaf).UTC().Format(time.RFC3339))
			continue
		}
		floor = 0
		wait = retry
		if d, ok := acme.RateLimit(err); ok && d > wait {
			wait = d
		}
		retry = min(retry*2, acmeRetryMax)
		attrs := []any{"kind", "acme", "hostname", a.host, "err", err, "retry_in", wait.String()}
		if a.fromCA.Load() {
			attrs = append(attrs, "serving_until", a.cert.Load().Leaf.NotAfter.UTC().Format(time.RFC3339))
		} else {
			attrs = append(attrs, "serving", "self-signed")
		}
		a.log.Error("ACME: no certificate", attrs...)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (a *acmeCerts) challengeType() string {
	if a.httpL != nil {
		return "http-01"
	}
	return "tls-alpn-01"
}

// obtain runs one order for the hostname (RFC 8555 §7.4) and stores the
// certificate in the cache.
func (a *acmeCerts) obtain(ctx context.Context) (*tls.Certificate, error) {
	cl, err := a.acmeClient(ctx)
	if err != nil {
		return nil, err
	}
	order, err := cl.AuthorizeOrder(ctx, acme.DomainIDs(a.host))
	if err != nil {
		return nil, err
	}
	for _, zurl := range order.AuthzURLs {
		if err := a.authorize(ctx, cl, zurl); err != nil {
			return nil, err
		}
	}
	if order, err = cl.WaitOrder(ctx, order.URI); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: a.host}, DNSNames: []string{a.host},
	}, key)
	if err != nil {
		return nil, err
	}
	chain, _, err := cl.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		return nil, err
	}
	cert, err := a.certificate(chain, key)
	if err != nil {
		return nil, fmt.Errorf("the CA's certificate: %w", err)
	}
	data, err := encodePEM(key, chain...)
	if err != nil {
		return nil, err
	}
	if err := writeSynced(filepath.Join(a.store, a.certName()), data, 0o600); err != nil {
		a.log.Error("ACME certificate not cached: obtained again at the next start", "kind", "acme", "err", err)
	}
	return cert, nil
}

// authorize answers the authorization's challenge of our type and waits
// for the CA's verdict.
func (a *acmeCerts) authorize(ctx context.Context, cl *acme.Client, zurl string) error {
	z, err := cl.GetAuthorization(ctx, zurl)
	if err != nil {
		return err
	}
	switch z.Status {
	case acme.StatusValid:
		return nil
	case acme.StatusPending:
	default:
		return fmt.Errorf("authorization for %s is %s", z.Identifier.Value, z.Status)
	}
	typ := a.challengeType()
	var chal *acme.Challenge
	for _, ch := range z.Challenges {
		if ch.Type == typ {
			chal = ch
		}
	}
	if chal == nil {
		return fmt.Errorf("the CA offers no %s challenge for %s", typ, z.Identifier.Value)
	}
	switch typ {
	case "http-01":
		ka, err := cl.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.tokens[chal.Token] = ka
		a.mu.Unlock()
		defer func() {
			a.mu.Lock()
			delete(a.tokens, chal.Token)
			a.mu.Unlock()
		}()
	case "tls-alpn-01":
		cert, err := cl.TLSALPN01ChallengeCert(chal.Token, a.host)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.alpn[a.host] = &cert
		a.mu.Unlock()
		defer func() {
			a.mu.Lock()
			delete(a.alpn, a.host)
			a.mu.Unlock()
		}()
	}
	if _, err := cl.Accept(ctx, chal); err != nil {
		return err
	}
	_, err = cl.WaitAuthorization(ctx, z.URI)
	return err
}

// acmeClient returns the client of the account, registered (or found)
// at the CA once per run; the account key is made on first use.
func (a *acmeCerts) acmeClient(ctx context.Context) (*acme.Client, error) {
	a.mu.Lock()
	cl := a.client
	a.mu.Unlock()
	if cl != nil {
		return cl, nil
	}
	key, err := a.accountKey()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if a.roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: a.roots, MinVersion: tls.VersionTLS12}
	}
	cl = &acme.Client{Key: key, DirectoryURL: a.dir, UserAgent: "mailhop", HTTPClient: &http.Client{Transport: tr, Timeout: time.Minute}}
	// Registering accepts the CA's terms of service (README).
	_, err = cl.Register(ctx, &acme.Account{Contact: []string{"mailto:" + a.email}}, acme.AcceptTOS)
	if err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return nil, fmt.Errorf("account at %s: %w", a.dir, err)
	}
	a.mu.Lock()
	a.client = cl
	a.mu.Unlock()
	return cl, nil
}

// accountKey reads the account key from the cache, or makes and stores
// one (ECDSA P-256).
func (a *acmeCerts) accountKey() (crypto.Signer, error) {
	path := filepath.Join(a.store, accountKeyName)
	data, err := os.ReadFile(path)
	if err == nil {
		key, _, err := decodePEM(data)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s: %w", path, err)
		case key == nil:
			return nil, fmt.Errorf("%s: no PRIVATE KEY in it", path)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if data, err = encodePEM(key); err != nil {
		return nil, err
	}
	if err := writeSynced(path, data, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// loadCached reads the cached certificate: its key, then its chain. One
// that is expired, or not for the hostname, is not used.
func (a *acmeCerts) loadCached() (*tls.Certificate, error) {
	data, err := os.ReadFile(filepath.Join(a.store, a.certName()))
	if err != nil {
		return nil, err
	}
	key, chain, err := decodePEM(data)
	if err != nil {
		return nil, err
	}
	if key == nil || len(chain) == 0 {
		return nil, errors.New("want a PRIVATE KEY and CERTIFICATE blocks")
	}
	return a.certificate(chain, key)
}

// certificate checks a chain for the hostname and the key, and makes it
// a tls.Certificate.
func (a *acmeCerts) certificate(chain [][]byte, key crypto.Signer) (*tls.Certificate, error) {
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, err
	}
	if err := leaf.VerifyHostname(a.host); err != nil {
		return nil, err
	}
	if now := time.Now(); now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("expired %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, errors.New("the certificate is not for its key")
	}
	return &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}
