package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/mailhop/mailhop/sim/explain"
	"github.com/mailhop/mailhop/sim/queue"
	"github.com/mailhop/mailhop/sim/service"
	"github.com/mailhop/mailhop/sim/store"
	"github.com/mailhop/mailhop/sim/trace"
	"github.com/mailhop/mailhop/web"
)

// uiServer serves the live view (--ui): the playground's page connected
// to this server instead of the simulation, the trace as it happens and
// the server's state.
//
//	GET /                  a browser (Accept: text/html) is sent on to "live";
//	                       anything else gets a plain-text index of what is here
//	GET /live              the page, in live mode: it starts no simulation, reads
//	                       /state and follows /events (see web/static/js/live.js)
//	GET /js/…, /css/…      the page's files, with the CSP of mailhop play
//	GET /events            Server-Sent Events, one event per trace event:
//	                       "id: SEQ", "data: {JSON of the event}" (the
//	                       schema of package trace). Resumes after
//	                       Last-Event-ID or ?after=SEQ.
//	GET /events?format=jsonl   the same as JSON lines (application/x-ndjson)
//	                       At most --ui-max-followers follow at once (more get
//	                       503); a follower that takes no event for
//	                       --ui-write-timeout is disconnected. Followers read
//	                       the trace's ring where it is, so none holds a
//	                       copy: memory does not grow with slow readers.
//	GET /export/transcript.txt  the trace kept so far as a transcript to download
//	                       (C:/S: lines, DNS, queue events; trace.WriteTranscript)
//	GET /export/trace.jsonl     the same events as JSON lines, to download
//	GET /state             JSON: hostname, domains, listeners, the queue,
//	                       each user's INBOX counts, the last event's seq
//	                       when it was read, and boot (which run of the
//	                       server this is: a page that reconnects to
//	                       another run starts afresh)
//
// The page shows what crosses the wire — protocol lines, passwords as
// "***" — and the mailboxes' counts; it has no way to read a mailbox.
//
// Requests must name this server by an address, localhost or --hostname:
// a page of another site whose name was made to resolve to this address
// (DNS rebinding) could otherwise read the trace.
type uiServer struct {
	srv  *http.Server
	done chan struct{}
}

func (s *server) startUI() (*uiServer, error) {
	site, err := web.Handler(liveSite(web.Dist(), web.Static()))
	if err != nil {
		return nil, fmt.Errorf("--ui: the page: %w", err)
	}
	l, err := net.Listen("tcp", s.c.ui)
	if err != nil {
		return nil, fmt.Errorf("--ui %s: %w", s.c.ui, unwrapOpError(err))
	}
	// What each line means, with its RFC, for the class watching.
	s.rec.SetExplainer(explain.Explain)
	boot := strconv.FormatInt(time.Now().UnixNano(), 36)
	mux := http.NewServeMux()
	ui := &uiServer{done: make(chan struct{})}
	mux.HandleFunc("GET /events", s.handleEvents(ui.done, make(chan struct{}, max(1, s.c.uiMaxSubs))))
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, r *http.Request) { s.handleState(w, r, boot) })
	mux.HandleFunc("GET /export/transcript.txt", s.handleExport("transcript.txt"))
	mux.HandleFunc("GET /export/trace.jsonl", s.handleExport("trace.jsonl"))
	mux.HandleFunc("GET /live", func(w http.ResponseWriter, r *http.Request) {
		page := *r
		u := *r.URL
		u.Path, u.RawPath = "/", ""
		page.URL = &u
		site.ServeHTTP(w, &page)
	})
	mux.Handle("GET /", site)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept")
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			// A relative reference, so that the page works behind a
			// proxy that serves this under a path of its own.
			w.Header().Set("Location", "live")
			w.WriteHeader(http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "mailhop serve %s: the live view\n\n", s.c.hostname)
		fmt.Fprintln(w, "GET /live                 the page: the server's traffic, hop by hop, in a browser")
		fmt.Fprintln(w, "GET /events               the trace as Server-Sent Events (resume with Last-Event-ID or ?after=SEQ)")
		fmt.Fprintln(w, "GET /events?format=jsonl  the trace as JSON lines")
		fmt.Fprintln(w, "GET /state                hostname, domains, listeners, queue, mailbox counts (JSON)")
		fmt.Fprintln(w, "GET /export/transcript.txt  the trace so far as a transcript (download)")
		fmt.Fprintln(w, "GET /export/trace.jsonl     the trace so far as JSON lines (download)")
	})
	origin := s.c.uiOrigin
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if !s.uiHostAllowed(r.Host) {
			http.Error(w, fmt.Sprintf("mailhop serve --ui: %q is not a name of this server: use its address, localhost or %s", r.Host, s.c.hostname), http.StatusMisdirectedRequest)
			return
		}
		if origin != "" {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Add("Vary", "Origin")
		}
		mux.ServeHTTP(w, r)
	})
	ui.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		// A small send buffer per connection: a follower that does not
		// read blocks the server's writes soon, and is let go after
		// --ui-write-timeout, rather than the kernel buffering megabytes
		// for it.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetWriteBuffer(64 << 10)
			}
			return ctx
		}}
	go ui.srv.Serve(l)
	s.log.Info("listening", "service", "ui", "addr", l.Addr().String())
	return ui, nil
}

// handleExport sends the trace kept so far as a file to download: name
// "transcript.txt" (trace.WriteTranscript) or "trace.jsonl" (JSON lines).
func (s *server) handleExport(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		events := s.rec.Events()
		file := "mailhop-" + strings.ReplaceAll(s.c.hostname, "/", "_") + "-" + name
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", file))
		w.Header().Set("Cache-Control", "no-store")
		if name == "trace.jsonl" {
			w.Header().Set("Content-Type", "application/x-ndjson")
			trace.WriteJSON(w, events...)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		heading := []string{fmt.Sprintf("mailhop serve %s: the live trace, %s", s.c.hostname, time.Now().UTC().Format(time.RFC3339))}
		if len(events) > 0 && events[0].Seq > 1 {
			heading = append(heading, fmt.Sprintf("events %d to %d: the older ones are no longer kept", events[0].Seq, events[len(events)-1].Seq))
		}
		trace.WriteTranscript(w, heading, events...)
	}
}

// uiHostAllowed reports whether a request's Host names this server: an
// IP address (no name, so nothing to rebind), localhost, or --hostname.
func (s *server) uiHostAllowed(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return true // HTTP/1.0: the connection reached us, by whatever name
	}
	if net.ParseIP(host) != nil {
		return true
	}
	host = strings.ToLower(host)
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || host == strings.ToLower(strings.TrimSuffix(s.c.hostname, "."))
}

// liveSite is the page the live view serves: the built site (web/dist,
// with its compressed copies) when it has the live view, else the page's
// sources as embedded (web/static), so that a binary built without `make
// wasm` serves it too. Either way without the simulation's files.
func liveSite(dist, static fs.FS) fs.FS {
	if _, err := fs.Stat(dist, "js/live.js"); err == nil {
		return liveFiles{dist}
	}
	return liveFiles{static}
}

// liveFiles hides the simulation's files (the WebAssembly, its loader and
// its Web Worker): the live page loads none of them, and web.Handler
// would keep their megabytes in memory.
type liveFiles struct{ fs.FS }

func simOnly(name string) bool {
	base := path.Base(name)
	return strings.HasPrefix(base, "mailhop.wasm") || strings.HasPrefix(base, "wasm_exec.js") ||
		strings.HasPrefix(name, "js/worker.js")
}

func (l liveFiles) Open(name string) (fs.File, error) {
	if simOnly(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return l.FS.Open(name)
}

func (l liveFiles) ReadDir(name string) ([]fs.DirEntry, error) {
	es, err := fs.ReadDir(l.FS, name)
	var out []fs.DirEntry
	for _, e := range es {
		if !simOnly(path.Join(name, e.Name())) {
			out = append(out, e)
		}
	}
	return out, err
}

func (u *uiServer) close() {
	close(u.done)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	u.srv.Shutdown(ctx)
	u.srv.Close()
}

// handleEvents follows the trace; slots bounds how many do at once.
func (s *server) handleEvents(done <-chan struct{}, slots chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			w.Header().Set("Retry-After", "10")
			http.Error(w, fmt.Sprintf("mailhop serve --ui: %d followers of /events already; try again later", cap(slots)), http.StatusServiceUnavailable)
			return
		}
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			after, _ = strconv.ParseInt(id, 10, 64)
		}
		jsonl := r.URL.Query().Get("format") == "jsonl"
		if jsonl {
			w.Header().Set("Content-Type", "application/x-ndjson")
		} else {
			w.Header().Set("Content-Type", "text/event-stream")
		}
		w.Header().Set("Cache-Control", "no-store")
		rc := http.NewResponseController(w)
		// A follower that does not read is let go: its writes would
		// otherwise wait forever, holding its slot and its buffers.
		deadline := func() {
			if s.c.uiWriteWait > 0 {
				rc.SetWriteDeadline(time.Now().Add(s.c.uiWriteWait))
			}
		}
		deadline()
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-done:
				cancel()
			case <-ctx.Done():
			}
		}()
		// The headers at once: the page knows it is connected before
		// the first event.
		if rc.Flush() != nil {
			return
		}
		f := s.rec.Follow(after)
		for {
			// Wait for the next event, with a heartbeat now and then so
			// that proxies keep the stream open.
			wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
			e, err := f.Next(wctx)
			wcancel()
			if ctx.Err() != nil {
				return
			}
			deadline()
			if errors.Is(err, context.DeadlineExceeded) {
				if !jsonl {
					fmt.Fprint(w, ": keep-alive\n\n")
				}
				if rc.Flush() != nil {
					return
				}
				continue
			}
			b, _ := json.Marshal(e)
			if jsonl {
				_, err = fmt.Fprintf(w, "%s\n", b)
			} else {
				_, err = fmt.Fprintf(w, "id: %d\ndata: %s\n\n", e.Seq, b)
			}
			if err != nil {
				return
			}
			if s.rec.Last() == e.Seq && rc.Flush() != nil {
				return
			}
		}
	}
}

type uiState struct {
	Hostname  string            `json:"hostname"`
	Domains   []string          `json:"domains"`
	Listeners map[string]string `json:"listeners"`
	Queue     []*queue.Envelope `json:"queue"`
	Mailboxes map[string]any    `json:"mailboxes"`
	// Seq is the last event's when the state was read: the state is at
	// least as new as the trace up to it.
	Seq  int64  `json:"seq"`
	Boot string `json:"boot"`
	// Services is the table of mail services (package service): the page
	// names ports from it.
	Services []service.Service `json:"services"`
}

func (s *server) handleState(w http.ResponseWriter, r *http.Request, boot string) {
	st := uiState{Hostname: s.c.hostname, Domains: s.c.domains, Listeners: map[string]string{},
		Seq: s.rec.Last(), Boot: boot, Mailboxes: map[string]any{}, Services: service.All}
	st.Queue = s.host.Queue.Messages()
	if st.Queue == nil {
		st.Queue = []*queue.Envelope{}
	}
	for name, l := range s.host.Listeners() {
		st.Listeners[name] = l.Addr().String()
	}
	for _, u := range s.store.Users() {
		if status, err := s.store.Status(u, store.Inbox); err == nil {
			st.Mailboxes[u+"/INBOX"] = map[string]any{"messages": status.Messages, "unseen": status.Unseen, "size": status.Size}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(st)
}
