package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mailhop/mailhop/sim/auth"
)

func init() {
	register(command{name: "passwd", summary: "read a password, print a bcrypt line for --users", run: runPasswd})
}

func runPasswd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("passwd", stderr)
	user := fs.String("user", "", "the address to print the line for (user@domain); without it only the hash is printed")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mailhop passwd [--user EMAIL] < password")
		fmt.Fprintln(stderr, "Reads a password (one line) from standard input and prints a line for a --users file.")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		fmt.Fprint(stderr, "Password: ")
	}
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pass := strings.TrimRight(line, "\r\n")
	if pass == "" {
		return errors.New("empty password")
	}
	hash, err := auth.Hash(pass)
	if err != nil {
		return err
	}
	if *user != "" {
		if !strings.Contains(*user, "@") {
			return fmt.Errorf("--user %q is not an address (user@domain)", *user)
		}
		fmt.Fprintf(stdout, "%s:%s\n", strings.ToLower(*user), hash)
		return nil
	}
	fmt.Fprintln(stdout, hash)
	return nil
}
