// Package auth knows the users of a mail host and checks their passwords.
//
// Users are e-mail addresses. Passwords are kept either in the clear (the
// teaching world shows them on screen, and POP3 APOP needs the shared
// secret) or as bcrypt hashes (`mailhop serve --users FILE`). A login may
// name the full address or, when the directory has a default domain, just
// the local part.
package auth

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// ErrInvalid is the one error for a failed login, whether the user or the
// password was wrong: telling them apart would help an attacker.
var ErrInvalid = errors.New("invalid user name or password")

// Users checks logins and knows which addresses exist.
type Users interface {
	// Authenticate returns the canonical address of the user if the
	// password is right, ErrInvalid otherwise.
	Authenticate(login, password string) (string, error)
	// Lookup returns the canonical address for a login or address.
	Lookup(login string) (string, bool)
	// Secret returns a user's clear-text password, for challenge-response
	// mechanisms (APOP); false when only a hash is kept.
	Secret(addr string) (string, bool)
}

// Directory is a Users held in memory.
type Directory struct {
	// Domain, when set, lets a login give just the local part.
	Domain string

	mu    sync.RWMutex
	users map[string]entry // by lower-case address
}

type entry struct {
	addr   string
	plain  string
	bcrypt []byte
}

// NewDirectory returns an empty directory.
func NewDirectory(domain string) *Directory {
	return &Directory{Domain: strings.ToLower(domain), users: map[string]entry{}}
}

var _ Users = (*Directory)(nil)

// Add adds (or replaces) a user with a clear-text password.
func (d *Directory) Add(addr, password string) error {
	if err := checkAddr(addr); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[strings.ToLower(addr)] = entry{addr: strings.ToLower(addr), plain: password}
	return nil
}

// AddHash adds a user whose password is known only by its bcrypt hash.
func (d *Directory) AddHash(addr, hash string) error {
	if err := checkAddr(addr); err != nil {
		return err
	}
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return fmt.Errorf("user %s: not a bcrypt hash: %w", addr, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.users[strings.ToLower(addr)] = entry{addr: strings.ToLower(addr), bcrypt: []byte(hash)}
	return nil
}

func checkAddr(addr string) error {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" || domain == "" || strings.ContainsAny(addr, " \t\r\n<>:") {
		return fmt.Errorf("%q is not a user address (user@domain)", addr)
	}
	return nil
}

// Addresses returns every user's address, sorted.
func (d *Directory) Addresses() []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]string, 0, len(d.users))
	for _, e := range d.users {
		out = append(out, e.addr)
	}
	slices.Sort(out)
	return out
}

// Lookup canonicalises a login.
func (d *Directory) Lookup(login string) (string, bool) {
	login = strings.ToLower(strings.TrimSpace(login))
	if !strings.Contains(login, "@") && d.Domain != "" {
		login += "@" + d.Domain
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	e, ok := d.users[login]
	return e.addr, ok
}

// Authenticate checks a password.
func (d *Directory) Authenticate(login, password string) (string, error) {
	addr, ok := d.Lookup(login)
	if !ok {
		// Spend the time a real check would, so timing does not tell
		// which users exist.
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return "", ErrInvalid
	}
	d.mu.RLock()
	e := d.users[addr]
	d.mu.RUnlock()
	if e.bcrypt != nil {
		if bcrypt.CompareHashAndPassword(e.bcrypt, []byte(password)) != nil {
			return "", ErrInvalid
		}
		return addr, nil
	}
	if subtle.ConstantTimeCompare([]byte(e.plain), []byte(password)) != 1 {
		return "", ErrInvalid
	}
	return addr, nil
}

// Secret returns the clear-text password of a user kept in the clear.
func (d *Directory) Secret(addr string) (string, bool) {
	addr, ok := d.Lookup(addr)
	if !ok {
		return "", false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	e := d.users[addr]
	return e.plain, e.bcrypt == nil
}

// dummyHash is a bcrypt hash of nothing in particular, at MinCost so that
// the decoy comparison stays cheap in the browser; made on first use, not
// at start-up.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("mailhop"), bcrypt.MinCost)
	return h
})

// Hash returns a bcrypt hash of password, for a users file.
func Hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// ReadFile loads a users file: one "address:bcrypt-hash" per line; blank
// lines and lines starting with # are ignored. Errors name the line.
func (d *Directory) ReadFile(r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		addr, hash, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("%s:%d: want address:bcrypt-hash", name, n)
		}
		if err := d.AddHash(addr, hash); err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	return sc.Err()
}
