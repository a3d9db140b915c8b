package world

import (
	"strings"
	"testing"
)

// The playground's worlds are strict (they teach correct syntax) unless
// the world file says "strict: false".
func TestStrictByDefault(t *testing.T) {
	for _, name := range Builtin() {
		s, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if !s.IsStrict() {
			t.Errorf("built-in world %s is not strict", name)
		}
	}
	b, err := builtin.ReadFile("worlds/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		line string
		want bool
	}{{"", true}, {"strict: true\n", true}, {"strict: false\n", false}} {
		s, err := Parse([]byte(c.line + string(b)))
		if err != nil {
			t.Fatalf("%q: %v", c.line, err)
		}
		if s.IsStrict() != c.want {
			t.Errorf("%q: strict %v, want %v", strings.TrimSpace(c.line), s.IsStrict(), c.want)
		}
	}
}
