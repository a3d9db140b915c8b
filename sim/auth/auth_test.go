package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestDirectory(t *testing.T) {
	d := NewDirectory("example.net")
	if err := d.Add("Bob@Example.NET", "bob"); err != nil {
		t.Fatal(err)
	}
	hash, err := Hash("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddHash("carol@example.net", hash); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		login, pass, want string
		ok                bool
	}{
		{"bob@example.net", "bob", "bob@example.net", true},
		{"bob", "bob", "bob@example.net", true},
		{"BOB", "bob", "bob@example.net", true},
		{"bob", "Bob", "", false},
		{"carol", "s3cret", "carol@example.net", true},
		{"carol", "secret", "", false},
		{"dave", "x", "", false},
	}
	for _, c := range cases {
		got, err := d.Authenticate(c.login, c.pass)
		if c.ok != (err == nil) || got != c.want {
			t.Errorf("Authenticate(%q, %q) = %q, %v", c.login, c.pass, got, err)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("error %v is not ErrInvalid", err)
		}
	}
	if s, ok := d.Secret("bob"); !ok || s != "bob" {
		t.Errorf("Secret(bob) = %q, %v", s, ok)
	}
	if _, ok := d.Secret("carol"); ok {
		t.Error("a hashed password has no secret")
	}
	if err := d.Add("no-at-sign", "x"); err == nil {
		t.Error("accepted an address without @")
	}
}

func TestReadFile(t *testing.T) {
	hash, _ := Hash("pw")
	d := NewDirectory("")
	err := d.ReadFile(strings.NewReader("# users\n\nalice@example.org:"+hash+"\n"), "users")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Authenticate("alice@example.org", "pw"); err != nil {
		t.Fatal(err)
	}
	err = d.ReadFile(strings.NewReader("alice@example.org:"+hash+"\nbob@example.net:plain\n"), "users")
	if err == nil || !strings.Contains(err.Error(), "users:2") {
		t.Fatalf("bad line: %v", err)
	}
}
