package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mailhop/mailhop/sim/mailauth"
	"github.com/mailhop/mailhop/sim/mailhost"
)

// dkimSelectors are the keys each domain's mail is signed with: RSA
// (2048 bits, RFC 8301), which every verifier knows, and Ed25519 (RFC
// 8463), short and fast, which newer verifiers check too. A message
// carries both signatures; a verifier that knows only RSA ignores the
// other (RFC 8463 §5).
var dkimSelectors = []struct {
	selector string
	kind     mailauth.KeyType
}{
	{"mailhop-rsa", mailauth.KeyRSA},
	{"mailhop-ed", mailauth.KeyEd25519},
}

// dkimFile is a DKIM key and the file it lives in.
type dkimFile struct {
	mailhost.DKIMKey
	path    string
	created bool // made just now: its record is not published yet
	loose   bool // the file is readable by other users than its owner
}

// loadDKIMKeys reads the keys of every domain from
// DATA/dkim/DOMAIN/SELECTOR.pem, making the missing ones (directories
// 0700, key files 0600). A key file an operator puts in a key's place
// (PEM, PKCS #8 or PKCS #1) is used as it is.
func loadDKIMKeys(data string, domains []string) ([]dkimFile, error) {
	var out []dkimFile
	for _, d := range domains {
		dir := filepath.Join(data, "dkim", d)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("DKIM keys: %w", err)
		}
		for _, sel := range dkimSelectors {
			path := filepath.Join(dir, sel.selector+".pem")
			key, created, err := mailauth.LoadOrCreateKey(path, sel.kind)
			if err != nil {
				return nil, fmt.Errorf("DKIM key %s: %w", path, err)
			}
			f := dkimFile{DKIMKey: mailhost.DKIMKey{Domain: d, Selector: sel.selector, Key: key}, path: path, created: created}
			if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
				f.loose = true
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// signingKeys are the keys for mailhost.Config.DKIM.
func signingKeys(files []dkimFile) []mailhost.DKIMKey {
	keys := make([]mailhost.DKIMKey, len(files))
	for i, f := range files {
		keys[i] = f.DKIMKey
	}
	return keys
}

// logDKIMKeys says which keys were made (their records are to be
// published) and which files others can read.
func logDKIMKeys(log *slog.Logger, keys []dkimFile, msg string) {
	for _, k := range keys {
		if k.created {
			log.Info(msg, "domain", k.Domain, "selector", k.Selector, "algorithm", k.Algorithm(), "file", k.path)
		}
		if k.loose {
			log.Warn("DKIM key readable by other users (want mode 0600)", "file", k.path)
		}
	}
}

// signsMail reports whether a submission port is on: only the MSA signs.
func (c *serveConfig) signsMail() bool {
	return *c.listen["submission"] != "" || *c.listen["submissions"] != ""
}

// printDNS writes the DNS records each domain needs for this server, in
// zone-file syntax, making the DKIM keys that are missing so that the
// records printed are those of the keys the server signs with. It prints
// only what the server backs: no MX without --smtp, no DKIM keys without
// a submission port, no address it can not know.
func printDNS(c *serveConfig, w io.Writer, log *slog.Logger) error {
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		return fmt.Errorf("--data %s: %w", c.data, err)
	}
	keys, err := loadDKIMKeys(c.data, c.domains)
	if err != nil {
		return err
	}
	logDKIMKeys(log, keys, "DKIM key created")
	host := strings.ToLower(strings.TrimSuffix(c.hostname, "."))
	mx := *c.listen["smtp"] != ""
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("; DNS records for mailhop serve on %s (mailhop serve --print-dns).", host)
	p("; %s needs A (and AAAA) records of its own: the addresses it takes mail", host)
	p("; on and sends it from. SPF below counts on them; so do the MX records.")
	for _, d := range c.domains {
		p("")
		p("; %s", d)
		spf := "v=spf1 mx -all"
		if mx {
			p("%s. IN MX 10 %s.", d, host)
		} else {
			p("; no MX record: --smtp is off, this server takes no mail from other hosts")
			spf = "v=spf1 a:" + host + " -all"
		}
		p("; SPF: only this server sends mail from @%s; add any other host that does before -all", d)
		p("%s", mailauth.ZoneTXT(d, spf))
		if c.signsMail() {
			p("; DKIM: the public keys of %s", filepath.Join(c.data, "dkim", d))
			for _, k := range keys {
				if k.Domain != d {
					continue
				}
				rec, err := mailauth.DKIMRecord(k.Key)
				if err != nil {
					return fmt.Errorf("DKIM key %s: %w", k.path, err)
				}
				p("%s", mailauth.ZoneTXT(mailauth.DKIMRecordName(k.Selector, k.Domain), rec))
			}
		} else {
			p("; no DKIM records: the submission ports are off, this server signs nothing")
		}
		p("; DMARC: p=none only asks receivers for reports (to postmaster@%s). Once they", d)
		p("; show all your mail passing SPF or DKIM, tighten to p=quarantine, then p=reject.")
		p("%s", mailauth.ZoneTXT("_dmarc."+d, "v=DMARC1; p=none; rua=mailto:postmaster@"+d))
	}
	if !slices.Contains(c.domains, host) {
		p("")
		p("; %s: the name this server greets with (EHLO). SPF checks it for bounces,", host)
		p("; which have an empty MAIL FROM (RFC 7208 §2.4).")
		p("%s", mailauth.ZoneTXT(host, "v=spf1 a -all"))
	}
	_, err = io.WriteString(w, b.String())
	return err
}
