package world

import (
	"os"
	"testing"
)

// FuzzParse: a world file never makes Parse panic, and what it accepts
// passes Check again (Parse's promise to New).
func FuzzParse(f *testing.F) {
	def, err := os.ReadFile("worlds/default.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	f.Add([]byte(`{"name":"x","hosts":[{"name":"a","addrs":["192.0.2.1"],"roles":["mua"]}]}`))
	f.Add([]byte("hosts:\n  - name: a\n    addrs: [nope]\n"))
	f.Add([]byte("name: [unclosed"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		if err := s.Check(); err != nil {
			t.Fatalf("accepted, then Check says: %v", err)
		}
	})
}
