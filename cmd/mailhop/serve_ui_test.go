//go:build !js

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/mailhop/mailhop/sim/listen/listentest"
	"github.com/mailhop/mailhop/sim/trace"
	"github.com/mailhop/mailhop/web"
)

// eventStream follows GET /events (SSE, or JSON lines) of a live view.
type eventStream struct {
	t      *testing.T
	events chan trace.Event
	ids    chan int64 // SSE: the id of each event
	cancel context.CancelFunc
}

func followEvents(t *testing.T, url string, header http.Header) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	s := &eventStream{t: t, events: make(chan trace.Event, 10000), ids: make(chan int64, 10000), cancel: cancel}
	sse := resp.Header.Get("Content-Type") == "text/event-stream"
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			data := line
			if sse {
				if id, ok := strings.CutPrefix(line, "id: "); ok {
					n, _ := strconv.ParseInt(id, 10, 64)
					s.ids <- n
				}
				var ok bool
				if data, ok = strings.CutPrefix(line, "data: "); !ok {
					continue
				}
			}
			var e trace.Event
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				t.Errorf("an event that is not JSON: %q: %v", data, err)
				return
			}
			s.events <- e
		}
	}()
	return s
}

// until reads events until one matches, failing after d; it returns the
// events read, the match last.
func (s *eventStream) until(d time.Duration, what string, match func(trace.Event) bool) []trace.Event {
	s.t.Helper()
	var seen []trace.Event
	timeout := time.After(d)
	for {
		select {
		case e := <-s.events:
			seen = append(seen, e)
			if match(e) {
				return seen
			}
		case <-timeout:
			s.t.Fatalf("timed out after %v waiting for %s in /events (%d events read)", d, what, len(seen))
		}
	}
}

func httpGet(t *testing.T, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The live view of a real server: swaks submits a message, and /events
// carries its protocol lines (passwords hidden, each line explained), the
// queue and the delivery; /state counts it; the page is served with the
// playground's CSP, without the simulation.
func TestServeUI(t *testing.T) {
	need(t, "swaks")
	const ip = "127.0.0.4"
	m := &mailServer{name: "mail.example.org", ip: ip, data: filepath.Join(t.TempDir(), "a"), ports: map[string]int{}, t: t}
	for _, s := range []string{"smtp", "submission", "imap", "ui"} {
		m.ports[s] = listentest.FreePort(t, ip, false)
	}
	m.args = []string{"serve", "--hostname", "mail.example.org", "--domain", "example.org", "--data", m.data,
		"--user", "alice@example.org:alice", "--user", "carol@example.org:carol", "--resolver", "127.0.0.1:1", "--no-auth-checks",
		"--smtp", m.addr("smtp"), "--submission", m.addr("submission"), "--submissions", "", "--imap", m.addr("imap"),
		"--imaps", "", "--pop3", "", "--pop3s", "", "--shutdown-timeout", "2s",
		"--ui", m.addr("ui"), "--ui-origin", "http://127.0.0.1:8080"}
	m.start()
	defer m.stop()
	base := "http://" + m.addr("ui")

	jsonl := followEvents(t, base+"/events?format=jsonl", nil)
	sse := followEvents(t, base+"/events", nil)
	out, err := runSwaks(m.addr("submission"), "carol@example.org", "ui-1")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}

	events := jsonl.until(10*time.Second, "the delivery to carol", func(e trace.Event) bool {
		return e.Kind == trace.KindDeliver && e.Mailbox == "carol@example.org/INBOX"
	})
	steps := []struct {
		what  string
		match func(trace.Event) bool
	}{
		{"the connection to submission", func(e trace.Event) bool {
			return e.Kind == trace.KindConn && e.Action == "open" && e.Peer == "mail.example.org" &&
				strings.HasPrefix(e.Host, "127.0.0.1:") && e.Port == m.ports["submission"] && e.Proto == "smtp"
		}},
		// (The greeting is not among the steps: sim/netx traces a
		// write once it is done, so the client's EHLO may come first.)
		{"EHLO", func(e trace.Event) bool {
			return e.Kind == trace.KindWire && e.Dir == trace.Send && e.Text == "EHLO ui-test" && !e.TLS
		}},
		{"STARTTLS", func(e trace.Event) bool { return e.Kind == trace.KindWire && e.Text == "STARTTLS" && !e.TLS }},
		{"the handshake", func(e trace.Event) bool { return e.Kind == trace.KindTLS && e.Action == "handshake" }},
		{"AUTH, its password hidden", func(e trace.Event) bool {
			return e.Kind == trace.KindWire && e.Text == "AUTH PLAIN ***" && e.TLS
		}},
		{"RCPT TO, explained", func(e trace.Event) bool {
			return e.Kind == trace.KindWire && e.Text == "RCPT TO:<carol@example.org>" && e.TLS && strings.Contains(e.Note, "RFC 5321")
		}},
		{"the message", func(e trace.Event) bool {
			return e.Kind == trace.KindWire && e.Dir == trace.Send && strings.Contains(e.Text, "Subject: ui-1\n")
		}},
		{"the hop", func(e trace.Event) bool {
			return e.Kind == trace.KindHop && e.Action == "received" && e.Host == "mail.example.org" && e.Peer == "ui-test"
		}},
		{"the queue", func(e trace.Event) bool { return e.Kind == trace.KindQueue && e.Action == "queued" }},
		{"the queue id, to the client", func(e trace.Event) bool {
			return e.Kind == trace.KindWire && e.Dir == trace.Recv && strings.HasPrefix(e.Text, "250 2.0.0 Ok: queued as ")
		}},
		{"the delivery", func(e trace.Event) bool {
			return e.Kind == trace.KindDeliver && e.Host == "mail.example.org" && strings.HasPrefix(e.Text, "filed as UID 1,")
		}},
	}
	at := 0
	for _, s := range steps {
		for at < len(events) && !s.match(events[at]) {
			at++
		}
		if at == len(events) {
			var b strings.Builder
			for _, e := range events {
				j, _ := json.Marshal(e)
				fmt.Fprintf(&b, "%s\n", j)
			}
			t.Fatalf("/events lacks %s (or has it out of order):\n%s", s.what, b.String())
		}
	}
	greeting := false
	var last int64
	for _, e := range events {
		greeting = greeting || e.Kind == trace.KindWire && e.Dir == trace.Recv && e.Text == "220 mail.example.org ESMTP Service Ready"
		if e.Seq != last+1 {
			t.Fatalf("/events jumps from seq %d to %d", last, e.Seq)
		}
		last = e.Seq
		for _, secret := range []string{"AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNl", "\x00alice"} {
			if strings.Contains(e.Text, secret) {
				t.Fatalf("event %d shows the password: %q", e.Seq, e.Text)
			}
		}
	}
	if !greeting {
		t.Error("/events lacks the greeting")
	}
	// The same events as Server-Sent Events, each with its seq as id.
	sseEvents := sse.until(5*time.Second, "the delivery, as SSE", func(e trace.Event) bool { return e.Seq == last })
	if len(sseEvents) != len(events) {
		t.Errorf("SSE carried %d events, JSON lines %d", len(sseEvents), len(events))
	}
	for i, e := range sseEvents {
		id := <-sse.ids
		if id != e.Seq || e.Text != events[i].Text || e.Kind != events[i].Kind {
			t.Fatalf("SSE event %d: id %d, %+v; JSON lines: %+v", i, id, e, events[i])
		}
	}
	// Resuming: after ?after=N, or Last-Event-ID (a reconnecting
	// EventSource), the next event is N+1.
	resumed := followEvents(t, base+"/events?format=jsonl&after=5", nil)
	if e := resumed.until(5*time.Second, "event 6", func(trace.Event) bool { return true }); e[0].Seq != 6 {
		t.Errorf("?after=5 began with event %d", e[0].Seq)
	}
	resumed = followEvents(t, base+"/events", http.Header{"Last-Event-Id": {"7"}})
	if e := resumed.until(5*time.Second, "event 8", func(trace.Event) bool { return true }); e[0].Seq != 8 {
		t.Errorf("Last-Event-ID: 7 began with event %d", e[0].Seq)
	}

	// The state: at least as new as the trace up to its seq.
	resp, body := httpGet(t, base+"/state", nil)
	var st struct {
		Hostname  string
		Domains   []string
		Listeners map[string]string
		Queue     []any
		Mailboxes map[string]struct{ Messages, Unseen int }
		Seq       int64
		Boot      string
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /state: %s %v\n%s", resp.Status, err, body)
	}
	if st.Hostname != "mail.example.org" || st.Seq < last || st.Boot == "" || st.Queue == nil ||
		st.Listeners["submission"] != m.addr("submission") || st.Mailboxes["carol@example.org/INBOX"].Messages != 1 ||
		st.Mailboxes["alice@example.org/INBOX"].Messages != 0 {
		t.Errorf("GET /state:\n%s", body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://127.0.0.1:8080" {
		t.Errorf("--ui-origin: Access-Control-Allow-Origin %q", got)
	}

	// The exports, downloaded with curl as a teacher would keep them:
	// the transcript and the JSON lines of the same events, the password
	// hidden in both.
	dir := t.TempDir()
	for _, name := range []string{"transcript.txt", "trace.jsonl"} {
		out, err := exec.Command("curl", "-sS", "--fail", "-OJ", "--output-dir", dir, base+"/export/"+name).CombinedOutput()
		if err != nil {
			t.Fatalf("curl /export/%s: %v\n%s", name, err, out)
		}
	}
	text, err := os.ReadFile(filepath.Join(dir, "mailhop-mail.example.org-transcript.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# mailhop serve mail.example.org: the live trace", "C: EHLO ui-test", "🔒C: AUTH PLAIN ***", "🔒C: RCPT TO:<carol@example.org>", "S: 250 2.0.0 Ok: queued as "} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the transcript lacks %q:\n%s", want, text)
		}
	}
	lines, err := os.ReadFile(filepath.Join(dir, "mailhop-mail.example.org-trace.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	exported, err := trace.ReadJSON(bytes.NewReader(lines))
	if err != nil || len(exported) < len(events) || exported[0].Seq != 1 {
		t.Errorf("trace.jsonl: %d events (want ≥ %d), %v", len(exported), len(events), err)
	}
	for _, secret := range []string{"AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNl"} {
		if bytes.Contains(text, []byte(secret)) || bytes.Contains(lines, []byte(secret)) {
			t.Errorf("an export shows the password")
		}
	}

	// The page: a browser at the UI address is sent on to the live view.
	resp, _ = httpGet(t, base+"/", map[string]string{"Accept": "text/html,application/xhtml+xml"})
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "live" {
		t.Errorf("GET / from a browser: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if resp, body = httpGet(t, base+"/", nil); resp.StatusCode != 200 || !strings.Contains(body, "GET /live") {
		t.Errorf("GET / from curl: %s\n%s", resp.Status, body)
	}
	resp, body = httpGet(t, base+"/live", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		resp.Header.Get("Content-Security-Policy") != web.CSP || !strings.Contains(body, `src="js/main.js"`) {
		t.Errorf("GET /live: %s %v\n%.300s", resp.Status, resp.Header, body)
	}
	for path, want := range map[string]int{
		"/js/live.js": 200, "/js/livepanels.js": 200, "/js/main.js": 200, "/css/app.css": 200,
		"/mailhop.wasm": 404, "/js/worker.js": 404, "/wasm_exec.js": 404,
	} {
		if resp, _ := httpGet(t, base+path, nil); resp.StatusCode != want {
			t.Errorf("GET %s: %s, want %d", path, resp.Status, want)
		}
	}
	// Only by its own names: a rebound name of another site gets nothing.
	for host, want := range map[string]int{
		"evil.example": http.StatusMisdirectedRequest, "evil.example:" + strconv.Itoa(m.ports["ui"]): http.StatusMisdirectedRequest,
		"localhost:" + strconv.Itoa(m.ports["ui"]): 200, "mail.example.org": 200, "[::1]:80": 200,
	} {
		if resp, _ := httpGet(t, base+"/state", map[string]string{"Host": host}); resp.StatusCode != want {
			t.Errorf("GET /state with Host %s: %s, want %d", host, resp.Status, want)
		}
	}
}

func runSwaks(server, to, subject string) (string, error) {
	out, err := exec.Command("swaks", "--server", server, "--tls", "--ehlo", "ui-test", "--auth", "PLAIN",
		"--auth-user", "alice@example.org", "--auth-password", "alice", "--from", "alice@example.org", "--to", to,
		"--header", "Subject: "+subject, "--body", "Watched live.", "--timeout", "15").CombinedOutput()
	return string(out), err
}

// The live page is served whether or not make wasm built the site, and
// never with the simulation's files.
func TestLiveSite(t *testing.T) {
	built := fstest.MapFS{
		"index.html": {Data: []byte("<!doctype html>")}, "js/live.js": {Data: []byte("//")}, "js/worker.js": {Data: []byte("//")},
		"mailhop.wasm": {Data: []byte("\x00asm")}, "mailhop.wasm.br": {Data: []byte("br")}, "wasm_exec.js": {Data: []byte("//")},
	}
	stale := fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}, "mailhop.wasm": {Data: []byte("\x00asm")}}
	for _, c := range []struct {
		name  string
		dist  fstest.MapFS
		want  string // a file only the site chosen has
		built bool
	}{
		{"built", built, "js/live.js", true},
		{"fresh checkout", fstest.MapFS{".gitkeep": {}}, "js/livepanels.js", false},
		{"built before the live view", stale, "js/livepanels.js", false},
	} {
		site := liveSite(c.dist, web.Static())
		for _, name := range []string{"index.html", c.want} {
			if _, err := fs.Stat(site, name); err != nil {
				t.Errorf("%s: %s is missing: %v", c.name, name, err)
			}
		}
		for _, name := range []string{"mailhop.wasm", "mailhop.wasm.br", "wasm_exec.js", "js/worker.js"} {
			if _, err := fs.Stat(site, name); err == nil {
				t.Errorf("%s: the live site has %s", c.name, name)
			}
		}
		if _, err := fs.Stat(site, "js/livepanels.js"); (err != nil) != c.built {
			t.Errorf("%s: served from the built site: %v, want %v", c.name, err != nil, c.built)
		}
		h, err := web.Handler(site)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/index.html", nil))
		if rec.Code != 200 {
			t.Errorf("%s: GET /index.html: %d", c.name, rec.Code)
		}
	}
}

func TestUIHost(t *testing.T) {
	s := &server{c: &serveConfig{hostname: "Mail.Example.org"}}
	for host, want := range map[string]bool{
		"127.0.0.1:8081": true, "[::1]:8081": true, "192.0.2.25": true, "localhost:8081": true, "a.localhost": true,
		"mail.example.org:8081": true, "MAIL.EXAMPLE.ORG.": true, "": true,
		"evil.example": false, "mail.example.org.evil.example": false, "localhost.evil.example:80": false,
	} {
		if got := s.uiHostAllowed(host); got != want {
			t.Errorf("Host %q allowed: %v, want %v", host, got, want)
		}
	}
}

// The live view under attack: followers are capped, and one that never
// reads is let go after --ui-write-timeout, freeing its place, however
// much the server has to tell it.
func TestServeUIFollowers(t *testing.T) {
	const ip = "127.0.0.5"
	m := &mailServer{name: "mail.example.org", ip: ip, data: filepath.Join(t.TempDir(), "a"), ports: map[string]int{}, t: t}
	for _, s := range []string{"smtp", "ui"} {
		m.ports[s] = listentest.FreePort(t, ip, false)
	}
	m.args = []string{"serve", "--hostname", "mail.example.org", "--domain", "example.org", "--data", m.data,
		"--user", "alice@example.org:alice", "--resolver", "127.0.0.1:1", "--no-auth-checks",
		"--smtp", m.addr("smtp"), "--submission", "", "--submissions", "", "--imap", "", "--imaps", "", "--pop3", "", "--pop3s", "",
		"--shutdown-timeout", "2s", "--ui", m.addr("ui"), "--ui-max-followers", "2", "--ui-write-timeout", "500ms"}
	m.start()
	defer m.stop()
	base := "http://" + m.addr("ui")

	// A follower that never reads, with a small receive window.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	stuck, err := d.Dial("tcp", m.addr("ui"))
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	fmt.Fprintf(stuck, "GET /events?format=jsonl HTTP/1.1\r\nHost: %s\r\n\r\n", m.addr("ui"))
	followEvents(t, base+"/events?format=jsonl", nil) // the second, reading
	time.Sleep(200 * time.Millisecond)
	if resp, body := httpGet(t, base+"/events", nil); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "2 followers") {
		t.Fatalf("a third follower: %s %q, want 503", resp.Status, body)
	}

	// Plenty to tell: 5,000 pipelined NOOPs make 10,000 events, megabytes.
	c, err := net.Dial("tcp", m.addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go io.Copy(io.Discard, c)
	fmt.Fprint(c, "EHLO attacker.example\r\n"+strings.Repeat("NOOP\r\n", 5000)+"QUIT\r\n")

	// The stuck follower is disconnected (give the server time to find
	// it stuck): what was sent drains, then EOF.
	time.Sleep(3 * time.Second)
	stuck.SetReadDeadline(time.Now().Add(15 * time.Second))
	if n, err := io.Copy(io.Discard, stuck); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the follower that never read was not let go (%d bytes read): %v", n, err)
	}
	// Its place is free again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, _ := httpGet(t, base+"/state", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /state: %s", resp.Status)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events?format=jsonl", nil)
		r, err := http.DefaultClient.Do(req)
		ok := err == nil && r.StatusCode == 200
		if r != nil {
			r.Body.Close()
		}
		cancel()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stuck follower's place was not freed")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// --trace-log is complete however fast the trace grows: 30,000 pipelined
// NOOPs make 60,000 events, three times what the trace's ring keeps, and
// the log has every one, in order, with the operator's lines beside.
func TestServeTraceLogComplete(t *testing.T) {
	const ip = "127.0.0.7"
	dir := t.TempDir()
	logFile := filepath.Join(dir, "trace.jsonl")
	m := &mailServer{name: "mail.example.org", ip: ip, data: filepath.Join(dir, "a"), ports: map[string]int{}, t: t}
	m.ports["smtp"] = listentest.FreePort(t, ip, false)
	m.args = []string{"serve", "--hostname", "mail.example.org", "--domain", "example.org", "--data", m.data,
		"--user", "alice@example.org:alice", "--resolver", "127.0.0.1:1", "--no-auth-checks", "--smtp", m.addr("smtp"),
		"--submission", "", "--submissions", "", "--imap", "", "--imaps", "", "--pop3", "", "--pop3s", "",
		"--shutdown-timeout", "2s", "--trace-log", logFile}
	m.start()
	c, err := net.Dial("tcp", m.addr("smtp"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, c); close(done) }()
	fmt.Fprint(c, "EHLO flood.example\r\n"+strings.Repeat("NOOP\r\n", 30000)+"QUIT\r\n")
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not answer 30,000 NOOPs in 30 s")
	}
	c.Close()
	m.stop()
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	events, err := trace.ReadJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	noops := 0
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("--trace-log: line %d has seq %d: events were lost", i+1, e.Seq)
		}
		if e.Text == "NOOP" {
			noops++
		}
	}
	if noops != 30000 {
		t.Errorf("--trace-log has %d NOOPs of 30,000", noops)
	}
}
