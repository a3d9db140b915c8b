package playground

import (
	"crypto/ed25519"
	"crypto/x509"
	"reflect"
	"testing"

	"github.com/mailhop/mailhop/sim/mailauth"
	"github.com/mailhop/mailhop/sim/world"
)

// The prepared JSON of each built-in world reads back as the very spec
// its YAML gives, and a playground given it loads the same world.
func TestPreparedWorlds(t *testing.T) {
	worlds, err := PreparedWorlds()
	if err != nil {
		t.Fatal(err)
	}
	if len(worlds) != len(world.Builtin()) || worlds["default"] == "" {
		t.Fatalf("prepared %d worlds, want the %d built-in ones", len(worlds), len(world.Builtin()))
	}
	for name := range worlds {
		want, err := world.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		// Under a name that is no built-in world's, so that only the
		// prepared JSON can give it (world.Load has no such world).
		alias := "prepared-" + name
		Prepare(map[string]string{alias: worlds[name]})
		got, err := loadSpec(alias)
		Prepare(nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the prepared spec differs from the YAML's:\n%+v\n%+v", name, got, want)
		}
	}
	// What does not decode, or is not a valid world, is read from the
	// YAML.
	Prepare(map[string]string{"default": `{"name": "x", "colour": 1}`, "backup-mx": `{"name": "empty"}`})
	defer Prepare(nil)
	for _, name := range []string{"default", "backup-mx"} {
		got, err := loadSpec(name)
		if err != nil || got.Name != name {
			t.Errorf("%s with bad JSON: %v, %v", name, got, err)
		}
	}
	p := New(0)
	defer p.Close()
	Prepare(worlds)
	info, err := p.Load("default")
	if err != nil || info.Name != "default" || !info.Builtin {
		t.Fatalf("Load with the prepared worlds: %+v, %v", info, err)
	}
}

// Warm readies the world CA, and a connection after it works as before.
func TestWarm(t *testing.T) {
	p := newPlayground(t)
	p.Warm()
	r, err := p.current()
	if err != nil {
		t.Fatal(err)
	}
	if r.w.CA.Pool().Equal(x509.NewCertPool()) {
		t.Fatal("the CA pool is empty after Warm")
	}
	if _, err := p.Connect(t.Context(), "bob-pc", "mx.example.net", 25, ConnectOptions{}); err != nil {
		t.Fatal(err)
	}
}

// The prepared DKIM keys are those each built-in world derives at its
// seed: a world started with them signs what its DNS publishes.
func TestPreparedKeys(t *testing.T) {
	keys, err := PreparedKeys()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := world.Load("default")
	if err != nil {
		t.Fatal(err)
	}
	seeds := world.DKIMSeeds(spec)
	if len(seeds) == 0 || len(keys) < len(seeds) {
		t.Fatalf("%d keys prepared, the default world has %d", len(keys), len(seeds))
	}
	var derived []ed25519.PrivateKey
	for _, seed := range seeds {
		derived = append(derived, mailauth.Ed25519FromSeed(seed))
	}
	mailauth.KnowEd25519(keys)
	defer mailauth.KnowEd25519(nil)
	for i, seed := range seeds {
		if got := mailauth.Ed25519FromSeed(seed); !got.Equal(derived[i]) {
			t.Errorf("seed %q: prepared %x, derived %x", seed, got, derived[i])
		}
	}
}
