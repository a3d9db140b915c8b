package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mailhop/mailhop/sim/lesson"
)

func init() {
	register(command{name: "lesson", summary: "check a lesson file (its solution against its checks); list the built-in lessons", run: runLesson})
}

func lessonUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: mailhop lesson check FILE|ID   validate a lesson file and run its solution against its checks")
	fmt.Fprintln(w, "       mailhop lesson list            list the built-in lessons")
	fmt.Fprintln(w, "A lesson file is YAML or JSON; its format is documented in package sim/lesson (go doc ./sim/lesson).")
}

func runLesson(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		lessonUsage(stderr)
		return errUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		lessonUsage(stderr)
		return nil
	case "list":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "mailhop lesson list: unexpected argument %q\n", args[1])
			return errUsage
		}
		index := lesson.Index()
		width := 0
		for _, l := range index {
			width = max(width, len(l.ID))
		}
		for i, l := range index {
			fmt.Fprintf(stdout, "%2d  %-*s  %s\n", i+1, width, l.ID, l.Title)
		}
		return nil
	case "check":
		if len(args) != 2 || strings.HasPrefix(args[1], "-") {
			fmt.Fprintln(stderr, "usage: mailhop lesson check FILE|ID")
			return errUsage
		}
		return lessonCheck(args[1], stdout)
	}
	fmt.Fprintf(stderr, "mailhop lesson: unknown subcommand %q (check or list)\n", args[0])
	return errUsage
}

// lessonCheck validates a lesson (a file, or a built-in lesson's id) and
// runs its solution headless against its checks.
func lessonCheck(name string, stdout io.Writer) error {
	var l *lesson.Lesson
	data, err := os.ReadFile(name)
	switch {
	case err == nil:
		if l, err = lesson.Parse(data); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	case errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(name, "/\\."):
		if l, err = lesson.Load(name); err != nil {
			return fmt.Errorf("%s: no such file, and %w", name, err)
		}
	default:
		return err
	}
	fmt.Fprintf(stdout, "lesson %s: %s\n", l.ID, l.Title)
	if len(l.Solution) == 0 {
		fmt.Fprintf(stdout, "the file is valid (%d steps, %d checks); it has no solution to try\n", len(l.Steps), len(l.Checks))
		return nil
	}
	rs, err := lesson.Verify(context.Background(), l)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	failed := 0
	for _, r := range rs {
		if r.OK {
			fmt.Fprintf(stdout, "  ✓ %s\n", r.Name)
			continue
		}
		failed++
		fmt.Fprintf(stdout, "  ✗ %s\n      missing: %s\n", r.Name, r.Missing)
		if r.Detail != "" {
			fmt.Fprintf(stdout, "      seen: %s\n", r.Detail)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%s: the solution leaves %d of %d checks failing", name, failed, len(rs))
	}
	fmt.Fprintf(stdout, "all %d checks hold after the solution\n", len(rs))
	return nil
}
