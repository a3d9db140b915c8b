package playground

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mailhop/mailhop/sim/mailauth"
	"github.com/mailhop/mailhop/sim/world"
)

// prepared holds the built-in worlds as JSON, by name (see Prepare).
var prepared map[string]string

// Prepare gives the playground the built-in worlds as JSON, by name, as
// PreparedWorlds made them when the program was built (web/build.sh does
// it for the browser): a built-in world is then read without the YAML
// parser, whose first use costs the browser's WebAssembly compiler a good
// part of the start. Each is checked as a world file is; a built-in world
// without one, or whose JSON does not decode, is read from its YAML.
// Prepare must be called before the first Load.
func Prepare(worlds map[string]string) { prepared = worlds }

// PreparedWorlds returns every built-in world as JSON, by name, for
// Prepare.
func PreparedWorlds() (map[string]string, error) {
	out := map[string]string{}
	for _, name := range world.Builtin() {
		s, err := world.Load(name)
		if err != nil {
			return nil, fmt.Errorf("world %s: %w", name, err)
		}
		b, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("world %s: %w", name, err)
		}
		out[name] = string(b)
	}
	return out, nil
}

// PreparedKeys returns the public halves of the built-in worlds' DKIM keys
// (at each world's own seed), for mailauth.KnowEd25519: a world then
// starts without the scalar multiplications that make them.
func PreparedKeys() (map[[32]byte][32]byte, error) {
	var seeds [][]byte
	for _, name := range world.Builtin() {
		s, err := world.Load(name)
		if err != nil {
			return nil, fmt.Errorf("world %s: %w", name, err)
		}
		seeds = append(seeds, world.DKIMSeeds(s)...)
	}
	return mailauth.Ed25519PublicKeys(seeds), nil
}

// loadSpec reads a world as world.Load does, a built-in one from its
// prepared JSON when there is one.
func loadSpec(nameOrText string) (*world.Spec, error) {
	if text, ok := prepared[nameOrText]; ok {
		var s world.Spec
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if dec.Decode(&s) == nil && s.Check() == nil {
			return &s, nil
		}
	}
	return world.Load(nameOrText)
}
