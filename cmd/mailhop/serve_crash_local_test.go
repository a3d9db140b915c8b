//go:build !js

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/mailhop/mailhop/sim/listen/listentest"
)

// The crash test of local delivery: rounds of kill -9, each while
// crashLocalClients clients send to port 25, each round killed after a
// different number of acknowledged messages.
const crashLocalClients = 8

var crashLocalKillAt = []int{150, 250, 350}

// crashLocalServer is one `mailhop serve` holding example.net's
// mailboxes (bob, carol), restarted on the same data directory.
type crashLocalServer struct {
	t      *testing.T
	data   string
	smtp   string // address of port 25's listener
	ui     string // address of the live view (the last run only)
	cmd    *exec.Cmd
	done   chan struct{}
	log    *logBuffer
	logs   []*logBuffer // every run's
	starts int
}

// start runs the server, and returns once port 25 greets: readiness is a
// 220 on a connection, not a log line or a pause.
func (s *crashLocalServer) start(deadline time.Time, withUI bool) {
	t := s.t
	t.Helper()
	args := []string{"serve", "--hostname", "mx.example.net", "--domain", "example.net", "--data", s.data,
		"--user", "bob@example.net:bob", "--user", "carol@example.net:carol",
		"--resolver", "127.0.0.1:9", "--no-auth-checks", "--retry-schedule", "1s", "--shutdown-timeout", "5s",
		"--smtp", s.smtp, "--submission", "", "--submissions", "", "--imap", "", "--imaps", "",
		"--pop3", "", "--pop3s", "", "--lmtp", ""}
	if withUI {
		args = append(args, "--ui", s.ui)
	}
	s.cmd = exec.Command(bin, args...)
	s.log = &logBuffer{}
	s.logs = append(s.logs, s.log)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.starts++
	done := make(chan struct{})
	cmd := s.cmd
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.done = done
	for {
		select {
		case <-done:
			t.Fatalf("start %d: mailhop serve exited:\n%s", s.starts, s.log.String())
		default:
		}
		if greets(s.smtp) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("start %d: port 25 (%s) did not greet in time:\n%s", s.starts, s.smtp, s.log.String())
		}
		time.Sleep(10 * time.Millisecond) // the socket is not bound yet
	}
}

// greets reports whether a connection to addr is greeted with 220.
func greets(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "220")
}

// kill is kill -9.
func (s *crashLocalServer) kill() {
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// stop is SIGTERM, expecting a clean exit.
func (s *crashLocalServer) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		s.t.Fatalf("no exit within 15 s of SIGTERM:\n%s", tail(s.log.String(), 40))
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Fatalf("exit %d after SIGTERM:\n%s", code, tail(s.log.String(), 40))
	}
	s.cmd = nil
}

// queueLen asks the live view's /state how many messages are queued.
func (s *crashLocalServer) queueLen() (int, error) {
	resp, err := http.Get("http://" + s.ui + "/state")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Queue []json.RawMessage `json:"queue"`
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/state: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, err
	}
	return len(st.Queue), nil
}

var crashLocalUsers = []string{"bob@example.net", "carol@example.net"}

var crashLocalID = regexp.MustCompile(`(?m)^X-Crash-Local: (\S+)$`)

// filed counts, for each user, how many files of new/ and cur/ carry
// each message id.
func (s *crashLocalServer) filed() map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, u := range crashLocalUsers {
		local, domain, _ := strings.Cut(u, "@")
		out[u] = map[string]int{}
		for _, sub := range []string{"new", "cur"} {
			dir := filepath.Join(s.data, "mail", domain, local, sub)
			es, _ := os.ReadDir(dir)
			for _, e := range es {
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					continue // renamed meanwhile: found on the next look
				}
				if g := crashLocalID.FindSubmatch(b); g != nil {
					out[u][string(g[1])]++
				}
			}
		}
	}
	return out
}

// sendLocal sends one message on c: to bob, and to carol too for every
// third message, so that a message can be half filed when the server dies.
func sendLocal(c *gosmtp.Client, id string, rcpts []string) error {
	if err := c.Mail("alice@example.org", nil); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "From: alice@example.org\r\nTo: %s\r\nSubject: crash-local %s\r\nMessage-ID: <%s@crash.example.org>\r\nX-Crash-Local: %s\r\n\r\nMessage %s of the local crash test.\r\n",
		strings.Join(rcpts, ", "), id, id, id, id)
	return w.Close()
}

// kill -9 three times while 8 clients send to port 25 for local users,
// restarting on the same data directory; then every message that got its
// 250 is in each of its recipients' Maildirs exactly once: none lost,
// none filed twice (local delivery is idempotent across recovery).
func TestServeCrashLocalOnce(t *testing.T) {
	began := time.Now()
	deadline := began.Add(55 * time.Second) // every wait below shares it
	s := &crashLocalServer{t: t, data: filepath.Join(t.TempDir(), "data"),
		smtp: fmt.Sprintf("127.0.0.1:%d", listentest.FreePort(t, "127.0.0.1", false)),
		ui:   fmt.Sprintf("127.0.0.1:%d", listentest.FreePort(t, "127.0.0.1", false))}
	t.Cleanup(func() {
		if s.cmd != nil {
			s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() && s.log != nil {
			t.Logf("the last run's log:\n%s", tail(s.log.String(), 40))
		}
	})

	var mu sync.Mutex
	acked := map[string][]string{} // id → recipients, for every 250
	sent := map[string][]string{}  // id → recipients, for every DATA begun
	for round, killAt := range crashLocalKillAt {
		s.start(deadline, false)
		var wg sync.WaitGroup
		var n int
		var once sync.Once
		killNow := make(chan struct{})
		var clientErr []string
		for cl := range crashLocalClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				failed := func(what string, err error) {
					select {
					case <-killNow: // the crash
					default:
						mu.Lock()
						clientErr = append(clientErr, what+": "+err.Error())
						mu.Unlock()
					}
				}
				conn, err := net.DialTimeout("tcp", s.smtp, 5*time.Second)
				if err != nil {
					failed("connecting", err)
					return
				}
				conn.SetDeadline(deadline)
				c := gosmtp.NewClient(conn)
				defer c.Close()
				if err := c.Hello("client.example.org"); err != nil {
					failed("EHLO", err)
					return
				}
				for k := 0; ; k++ {
					id := fmt.Sprintf("r%d-c%d-n%d", round+1, cl, k)
					rcpts := []string{"bob@example.net"}
					if k%3 == 2 {
						rcpts = append(rcpts, "carol@example.net")
					}
					mu.Lock()
					sent[id] = rcpts
					mu.Unlock()
					if err := sendLocal(c, id, rcpts); err != nil {
						failed(id, err)
						return
					}
					mu.Lock()
					acked[id] = rcpts
					n++
					if n >= killAt {
						once.Do(func() { close(killNow) })
					}
					mu.Unlock()
				}
			}()
		}
		select {
		case <-killNow:
		case <-time.After(time.Until(deadline)):
			mu.Lock()
			t.Fatalf("round %d: %d of %d messages acknowledged in time", round+1, n, killAt)
		}
		s.kill() // while the clients are sending
		wg.Wait()
		mu.Lock()
		if len(clientErr) > 0 {
			t.Fatalf("round %d: clients failed before the kill: %s", round+1, strings.Join(clientErr, "; "))
		}
		t.Logf("round %d: kill -9 after %d acknowledged messages (%d in all), %v", round+1, n, len(acked), time.Since(began).Round(time.Millisecond))
		mu.Unlock()
	}

	// The last run: recovery delivers what is queued; count once the
	// queue is empty (nothing more can be filed: no one sends now) and
	// every acknowledged message is in, or when the time is up.
	s.start(deadline, true)
	var counts map[string]map[string]int
	var lost []string
	for {
		qn, err := s.queueLen()
		drained := err == nil && qn == 0
		counts = s.filed()
		lost = lost[:0]
		for id, rcpts := range acked {
			for _, r := range rcpts {
				if counts[r][id] == 0 {
					lost = append(lost, id+" to "+r)
				}
			}
		}
		if drained && len(lost) == 0 {
			break
		}
		if time.Now().After(deadline) {
			if !drained {
				t.Errorf("the queue did not drain in time (%d queued, %v)", qn, err)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	var doubled []string
	extra := 0
	nAcked := 0
	for id, rcpts := range sent {
		for _, r := range rcpts {
			switch c := counts[r][id]; {
			case c > 1:
				doubled = append(doubled, fmt.Sprintf("%s to %s ×%d", id, r, c))
			case c == 1 && acked[id] == nil:
				extra++
			}
			if acked[id] != nil {
				nAcked++
			}
		}
	}
	// What the MDA recognised as filed already (its trace, logged).
	var recognised []int // by run
	for _, l := range s.logs {
		recognised = append(recognised, strings.Count(l.String(), "not filed twice"))
	}
	slices.Sort(lost)
	slices.Sort(doubled)
	t.Logf("after %d kills: %d acknowledged deliveries (of %d messages), %d lost, %d doubled; %d unacknowledged (cut by the kill) filed once; repeated deliveries recognised as filed, by run: %v; %v in all",
		len(crashLocalKillAt), nAcked, len(acked), len(lost), len(doubled), extra, recognised, time.Since(began).Round(time.Millisecond))
	if len(lost) > 0 {
		t.Errorf("%d acknowledged deliveries lost: %s", len(lost), strings.Join(lost, ", "))
	}
	if len(doubled) > 0 {
		t.Errorf("%d deliveries filed more than once: %s", len(doubled), strings.Join(doubled, ", "))
	}
	if d := time.Since(began); d > 60*time.Second {
		t.Errorf("the test took %v: more than its 60 s budget", d)
	}
}
