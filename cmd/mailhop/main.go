// Command mailhop runs mailhop's faces from the command line:
//
//	mailhop play    serve the browser playground
//	mailhop sim     run a world headless and print its trace
//	mailhop serve   run a real mail server on real sockets
//	mailhop dns     run an authoritative DNS server from zone files
//	mailhop passwd  print a bcrypt line for a users file
//	mailhop lesson  check a lesson file against its solution; list the built-in lessons
//
// Every flag can also be set with an environment variable MAILHOP_<FLAG>
// (upper case, dashes as underscores): MAILHOP_DATA=/var/mail for --data.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands []command

func register(c command) { commands = append(commands, c) }

// errUsage marks an error whose message is the whole story: print it and
// exit 2.
var errUsage = errors.New("usage")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	sort.Slice(commands, func(i, j int) bool { return commands[i].name < commands[j].name })
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(args[1:], stdout, stderr)
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			}
			fmt.Fprintf(stderr, "mailhop %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "mailhop: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mailhop <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run mailhop <command> -h for a command's flags. Every flag may also be")
	fmt.Fprintln(w, "set in the environment as MAILHOP_<FLAG>, e.g. MAILHOP_DATA for --data.")
}

// newFlags makes a flag set that reports errors itself (one line, exit 2).
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mailhop "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args after taking defaults from MAILHOP_<FLAG> variables.
// A bad flag or value is reported in one line and gives errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := "MAILHOP_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %v", env, v, err)
			}
		}
	})
	if envErr != nil {
		fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), envErr)
		return errUsage
	}
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return flag.ErrHelp
	}
	if err != nil {
		fmt.Fprintf(out, "%s: %v (see %s -h)\n", fs.Name(), err, fs.Name())
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(out, "%s: unexpected argument %q (see %s -h)\n", fs.Name(), fs.Arg(0), fs.Name())
		return errUsage
	}
	return nil
}

// listFlag is a flag that may be given many times (or as a comma list in
// the environment).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
