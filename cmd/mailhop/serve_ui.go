package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/mailhop/mailhop/sim/queue"
	"github.com/mailhop/mailhop/sim/store"
)

// uiServer serves the live view (--ui): the trace as it happens and the
// server's state, for the playground page to show a real server.
//
//	GET /events            Server-Sent Events, one event per trace event:
//	                       "id: SEQ", "data: {JSON of the event}" (the
//	                       schema of package trace). Resumes after
//	                       Last-Event-ID or ?after=SEQ.
//	GET /events?format=jsonl   the same as JSON lines (application/x-ndjson)
//	GET /state             JSON: hostname, domains, listeners, the queue,
//	                       each user's INBOX counts
type uiServer struct {
	srv  *http.Server
	done chan struct{}
}

func (s *server) startUI() (*uiServer, error) {
	l, err := net.Listen("tcp", s.c.ui)
	if err != nil {
		return nil, fmt.Errorf("--ui %s: %w", s.c.ui, unwrapOpError(err))
	}
	mux := http.NewServeMux()
	ui := &uiServer{done: make(chan struct{})}
	mux.HandleFunc("GET /events", s.handleEvents(ui.done))
	mux.HandleFunc("GET /state", s.handleState)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "mailhop serve %s: the live view\n\n", s.c.hostname)
		fmt.Fprintln(w, "GET /events               the trace as Server-Sent Events (resume with Last-Event-ID or ?after=SEQ)")
		fmt.Fprintln(w, "GET /events?format=jsonl  the trace as JSON lines")
		fmt.Fprintln(w, "GET /state                hostname, domains, listeners, queue, mailboxes (JSON)")
	})
	var h http.Handler = mux
	if origin := s.c.uiOrigin; origin != "" {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Vary", "Origin")
			mux.ServeHTTP(w, r)
		})
	}
	ui.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go ui.srv.Serve(l)
	s.log.Info("listening", "service", "ui", "addr", l.Addr().String())
	return ui, nil
}

func (u *uiServer) close() {
	close(u.done)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	u.srv.Shutdown(ctx)
	u.srv.Close()
}

func (s *server) handleEvents(done <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
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
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-done:
				cancel()
			case <-ctx.Done():
			}
		}()
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
}

func (s *server) handleState(w http.ResponseWriter, r *http.Request) {
	st := uiState{Hostname: s.c.hostname, Domains: s.c.domains, Listeners: map[string]string{},
		Queue: s.queue.Messages(), Mailboxes: map[string]any{}}
	for _, nl := range s.lis {
		st.Listeners[nl.name] = nl.l.Addr().String()
	}
	for _, u := range s.store.Users() {
		if status, err := s.store.Status(u, store.Inbox); err == nil {
			st.Mailboxes[u+"/INBOX"] = map[string]any{"messages": status.Messages, "unseen": status.Unseen, "size": status.Size}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(st)
}
