// Command benchtool is the helper of mailhop's server benchmarks
// (.ci/bench-serve, .ci/bench-imap): the protocol ceiling and the
// measurements that need a program rather than a shell.
//
//	benchtool discard -addr ADDR        an SMTP server (go-smtp) that accepts and discards
//	benchtool wait -dir DIR -n N        wait until DIR/new and DIR/cur hold N files; print seconds
//	benchtool idle -addr ADDR -n N      open N SMTP connections, read each greeting, hold them
//	                                    until standard input closes; print "ready" once all are open
//	benchtool rss -pid PID [-field F]   print the resident memory of a process in MiB
//	                                    (F: VmRSS, or VmHWM for its peak)
//	benchtool pss -pid PID              print the proportional memory (PSS) of a process
//	                                    and all its descendants together, in MiB
//	benchtool cpu -pid PID              print the CPU seconds (user and system) of a process and
//	                                    all its descendants, reaped ones included
//	benchtool mbox -n N -out FILE       write N varied messages as an mbox (CRLF), the same every time
//	benchtool imaptest -file F -secs S  read imaptest's output: print logins/s, commands/s and
//	                                    the error count, then each kind of error with its count
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool discard|wait|idle|rss|pss|cpu|mbox|imaptest [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:2525", "address")
	dir := fs.String("dir", "", "Maildir")
	n := fs.Int("n", 0, "count")
	pid := fs.Int("pid", 0, "process id")
	field := fs.String("field", "VmRSS", "the line of /proc/PID/status (rss)")
	out := fs.String("out", "", "output file")
	file := fs.String("file", "", "input file")
	secs := fs.Float64("secs", 0, "seconds the run lasted")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "discard":
		err = discard(*addr)
	case "wait":
		err = wait(*dir, *n, *timeout)
	case "idle":
		err = idle(*addr, *n)
	case "rss":
		err = rss(*pid, *field)
	case "pss":
		err = pss(*pid)
	case "cpu":
		err = cpu(*pid)
	case "mbox":
		err = writeMbox(*out, *n)
	case "imaptest":
		err = imaptestReport(*file, *secs)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

// discard runs go-smtp with a backend that reads each message and drops
// it: what the protocol costs, with nothing kept.
func discard(addr string) error {
	var count atomic.Int64
	s := gosmtp.NewServer(backend{&count})
	s.Addr = addr
	s.Domain = "discard.example"
	s.AllowInsecureAuth = true
	s.MaxMessageBytes = 1 << 20
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		s.Close()
	}()
	err = s.Serve(l)
	fmt.Printf("discarded %d messages\n", count.Load())
	if errors.Is(err, gosmtp.ErrServerClosed) {
		return nil
	}
	return err
}

type backend struct{ n *atomic.Int64 }

func (b backend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return session(b), nil }

type session backend

func (session) Mail(string, *gosmtp.MailOptions) error { return nil }
func (session) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s session) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	s.n.Add(1)
	return err
}
func (session) Reset()        {}
func (session) Logout() error { return nil }

// wait polls a Maildir until it holds n messages.
func wait(dir string, n int, timeout time.Duration) error {
	start := time.Now()
	for {
		got := 0
		for _, sub := range []string{"new", "cur"} {
			f, err := os.Open(filepath.Join(dir, sub))
			if err != nil {
				continue
			}
			names, _ := f.Readdirnames(-1)
			f.Close()
			got += len(names)
		}
		if got >= n {
			fmt.Printf("%.3f\n", time.Since(start).Seconds())
			return nil
		}
		if time.Since(start) > timeout {
			return fmt.Errorf("%s holds %d messages after %v, want %d", dir, got, timeout, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// idle opens n connections and holds them.
func idle(addr string, n int) error {
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i+1, err)
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "220") {
			return fmt.Errorf("connection %d: greeting %q, %v", i+1, line, err)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return nil
}

// rss prints a line of /proc/PID/status (VmRSS, VmHWM), in MiB.
func rss(pid int, field string) error {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.Atoi(f[1])
			fmt.Printf("%.1f\n", float64(kb)/1024)
			return nil
		}
	}
	return fmt.Errorf("no %s", field)
}
