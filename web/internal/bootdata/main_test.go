package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// boot.json holds the default world as the simulation starts it, and
// the Go file gives the playground every built-in world.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	jsonFile, goFile := filepath.Join(dir, "boot.json"), filepath.Join(dir, "prepared.go")
	if err := run(jsonFile, goFile); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		State struct {
			Name  string            `json:"name"`
			World int               `json:"world"`
			Seq   int64             `json:"seq"`
			Hosts []json.RawMessage `json:"hosts"`
		} `json:"state"`
		Worlds       []struct{ Name string }             `json:"worlds"`
		Lessons      []struct{ ID, Title, State string } `json:"lessons"`
		Explanations []json.RawMessage                   `json:"explanations"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	// The page takes this for the simulation's first state: world 1, no
	// event yet.
	if d.State.Name != "default" || d.State.World != 1 || d.State.Seq != 0 || len(d.State.Hosts) == 0 {
		t.Errorf("state: %+v", d.State)
	}
	if len(d.Worlds) == 0 || d.Worlds[0].Name != "default" || len(d.Lessons) == 0 || len(d.Explanations) == 0 {
		t.Errorf("%d worlds (the first %+v), %d lessons, %d explanations", len(d.Worlds), d.Worlds, len(d.Lessons), len(d.Explanations))
	}
	for _, l := range d.Lessons {
		if l.ID == "" || l.Title == "" || l.State != "not-started" {
			t.Errorf("lesson %+v", l)
		}
	}
	src, err := os.ReadFile(goFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"package main", "playground.Prepare(", `"default":`, `"{\"name\":\"default\"`, "DO NOT EDIT"} {
		if !strings.Contains(string(src), want) {
			t.Errorf("the Go file lacks %q", want)
		}
	}
}
