package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A small lesson: type a greeting to mx.example.net.
const helloLesson = `id: hello
title: Say hello
goal: Greet an MX. See it answer.
world: default
steps:
  - text: Connect from bob-pc to mx.example.net, port 25, and say EHLO.
    hint: "EHLO bob-pc"
checks:
  - name: mx.example.net answered EHLO with 250
    missing: no EHLO has been answered 250 yet
    reply: {peer: mx.example.net, port: 25, send: "^EHLO ", reply: "^250 "}
  - name: you said QUIT
    missing: you have not said QUIT yet
    reply: {peer: mx.example.net, port: 25, send: "^QUIT$", reply: "^221"}
solution:
  - connect: {from: bob-pc, to: mx.example.net, port: 25}
    expect: "^220 "
  - {send: "EHLO bob-pc", expect: "^250 "}
`

func writeLesson(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLessonCheckGood(t *testing.T) {
	f := writeLesson(t, "hello.yaml", helloLesson+`  - {send: "QUIT", expect: "^221 "}`+"\n")
	out, errOut, code := mailhop(t, nil, "lesson", "check", f)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"lesson hello: Say hello", "  ✓ mx.example.net answered EHLO with 250", "  ✓ you said QUIT", "all 2 checks hold"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// The built-in lessons check by id, too.
func TestLessonCheckBuiltin(t *testing.T) {
	out, errOut, code := mailhop(t, nil, "lesson", "check", "first-mail")
	if code != 0 || !strings.Contains(out, "all 7 checks hold") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestLessonCheckFailingSolution(t *testing.T) {
	f := writeLesson(t, "hello.yaml", helloLesson) // no QUIT in the solution
	out, errOut, code := mailhop(t, nil, "lesson", "check", f)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"  ✓ mx.example.net answered EHLO with 250", "  ✗ you said QUIT\n      missing: you have not said QUIT yet\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if want := "mailhop lesson: " + f + ": the solution leaves 1 of 2 checks failing\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
}

func TestLessonCheckBadFile(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{strings.Replace(helloLesson, "reply: \"^250 \"", "reply: \"(250\"", 1), `: lesson "hello": check 1 (mx.example.net answered EHLO with 250): reply reply "(250" is not a valid pattern: missing closing )`},
		{strings.Replace(helloLesson, "port: 25}\n    expect", "port: 26}\n    expect", 1), `: lesson "hello": solution action 1 (connect bob-pc → mx.example.net:26, expect "^220 "): `},
		{helloLesson + "  - {advance: later}\n", `: lesson "hello": solution action 3: advance "later": say a duration like 90s or 1h, or retry (to the next queue retry)`},
		{helloLesson + "colour: red\n", `: lesson file: unknown field "colour"`},
	} {
		f := writeLesson(t, "bad.yaml", tc.text)
		out, errOut, code := mailhop(t, nil, "lesson", "check", f)
		t.Logf("%s", errOut)
		if code != 1 || !strings.HasPrefix(errOut, "mailhop lesson: "+f+tc.want) {
			t.Errorf("exit %d\nstderr %q\nwant   %q", code, errOut, "mailhop lesson: "+f+tc.want)
		}
		if strings.Count(errOut, "\n") != 1 {
			t.Errorf("not one line: %q", errOut)
		}
		if out != "" && !strings.HasPrefix(out, "lesson hello: Say hello\n") {
			t.Errorf("stdout %q", out)
		}
	}
	_, errOut, code := mailhop(t, nil, "lesson", "check", "/nonexistent/lesson.yaml")
	if code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: exit %d %q", code, errOut)
	}
	_, errOut, code = mailhop(t, nil, "lesson", "check")
	if code != 2 || !strings.Contains(errOut, "usage: mailhop lesson check") {
		t.Errorf("no file: exit %d %q", code, errOut)
	}
}

func TestLessonList(t *testing.T) {
	out, errOut, code := mailhop(t, nil, "lesson", "list")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 14 || !strings.HasPrefix(lines[0], "1  first-mail    Your first mail") || !strings.Contains(lines[13], "smuggling") {
		t.Fatalf("list:\n%s", out)
	}
}
