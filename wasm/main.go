//go:build js && wasm

// Command wasm is the browser playground's WebAssembly program: it runs a
// mail world (package playground) in the page, or in a Web Worker, and
// exposes it as globalThis.mailhop, the JS API of design §5:
//
//	worlds()                         → Promise<[{name, description}]>
//	load(nameOrWorldText|worldObj, {seed}?) → Promise<{world, name, description, seed, builtin}>
//	                                                   seed replaces the world file's and stays for
//	                                                   later loads (lessons, reset)
//	reset()                          → Promise<{world, name, description, seed, builtin}>
//	state()                          → Promise<state>  hosts, ports, queues, mailboxes, faults, users, seed,
//	                                                   seq (the trace's last event), clock
//	clock()                          → Promise<{time, playing, speed, next, retry}>
//	connect(from, to, port, opts?)   → Promise<session>; a refused or unreachable connection
//	                                                   rejects with an Error whose dial is {trying, reason, note}
//	    session.send(line, {eol}?)   → Promise<{dir, text, note, tls, data}>  eol "lf": a bare LF, not CRLF
//	    session.close()              → Promise<void>
//	    session.onLine(cb)           cb(text, {dir, text, note, tls, data}); returns an unsubscribe function
//	    session.onClose(cb)          cb(reason); returns an unsubscribe function
//	send({from, to, subject, body})  → Promise<{queue_id, msg, msa}>
//	onEvent(cb)                      cb(event) for every trace event; returns an unsubscribe function
//	onEvents(cb)                     cb(events, world) in batches (what the worker forwards)
//	trace()                          → Promise<[event]>
//	play(), pause(), step()          → Promise<clock>
//	speed(x)                         → Promise<clock>   virtual seconds per wall second, 0.25 to 3600
//	advance(duration)                → Promise<clock>   "+1h", "90s", "2d", "next", "retry", or milliseconds
//	fault({kind, host, peer, ...})   → Promise<state>
//	explanations()                   → Promise<[{proto, kind, key, summary, rfc}]>
//	message(user, uid, mailbox?)     → Promise<message view>
//	lessons()                        → Promise<[{id, title, state}]>  state: not-started | in-progress | done
//	lesson(idOrLessonText)           → Promise<lesson status>  loads the lesson's world, runs its setup,
//	                                                   starts checking; each change is an event of kind
//	                                                   "lesson" (started, progress, done) on onEvent
//	exportTranscript()               → Promise<string>  the trace as a readable transcript (C:/S: lines, DNS, queue)
//	exportJSON()                     → Promise<string>  the trace as JSON lines
//	exportEML(user, uid, mailbox?)   → Promise<string>  a stored message as an .eml file
//	exportPcap()                     → Promise<Uint8Array>  the simulated traffic as pcapng, TLS keys inside
//	lessonStatus(seq?)               → Promise<{id, title, goal, steps, checks: [{name, ok, missing,
//	                                                   detail}], done, state, solution}>  as of the lesson
//	                                                   event seq (the page asks for the one it revealed), or now
//
// A session's onLine gets the lines the terminal sends (dir "send") as
// well as the server's, in wire order: a command comes before its reply.
//
// Every call returns at once; the work runs in a goroutine and its result
// arrives by Promise. Errors reach JavaScript as Error values with a clear
// message, never as a Go panic: all JavaScript access goes through
// github.com/hack-pad/safejs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hack-pad/safejs"
	"github.com/mailhop/mailhop/sim/world"
	"github.com/mailhop/mailhop/wasm/playground"
)

func main() {
	mark("mailhop:go-main")
	p := playground.New(0)
	if err := install(p, "mailhop"); err != nil {
		fmt.Fprintln(os.Stderr, "mailhop: cannot install the JS API:", err)
		os.Exit(1)
	}
	go func() {
		name, seed := firstWorld()
		if _, err := p.LoadSeeded(name, seed); err != nil {
			fmt.Fprintf(os.Stderr, "mailhop: loading the world %s: %v\n", name, err)
		}
		mark("mailhop:go-world")
	}()
	select {}
}

// firstWorld returns the world to start with: the built-in world the
// page's link names, which the page passes in the worker's address
// (#…&world=NAME&seed=N, see start.js), so that a link to it does not
// wait for the default world first; else the default world.
func firstWorld() (string, uint64) {
	loc, err := safejs.Global().Get("location")
	if err != nil || loc.Type() != safejs.TypeObject {
		return "default", 0
	}
	h, err := loc.Get("hash")
	if err != nil || h.Type() != safejs.TypeString {
		return "default", 0
	}
	hash, err := h.String()
	if err != nil {
		return "default", 0
	}
	q, _ := url.ParseQuery(strings.TrimPrefix(hash, "#"))
	name := q.Get("world")
	if !slices.Contains(world.Builtin(), name) {
		return "default", 0
	}
	seed, _ := strconv.ParseUint(q.Get("seed"), 10, 64)
	return name, seed
}

// mark puts a mark on the page's (or worker's) performance timeline, for
// those who time the start (the playground's benchmark reads them).
func mark(name string) {
	if perf, err := safejs.Global().Get("performance"); err == nil && perf.Type() == safejs.TypeObject {
		_, _ = perf.Call("mark", name)
	}
}

// bridge turns Go values into JavaScript ones and back.
type bridge struct {
	p                      *playground.Playground
	json, errCtor, promise safejs.Value
	object                 safejs.Value
	warm                   sync.Once // Warm after the first state()
}

// install builds the API object and sets it as globalThis[name].
func install(p *playground.Playground, name string) error {
	g := safejs.Global()
	b := &bridge{p: p}
	var err error
	for _, x := range []struct {
		dst  *safejs.Value
		name string
	}{{&b.json, "JSON"}, {&b.errCtor, "Error"}, {&b.promise, "Promise"}, {&b.object, "Object"}} {
		if *x.dst, err = g.Get(x.name); err != nil {
			return err
		}
	}
	api, err := b.object.New()
	if err != nil {
		return err
	}
	methods := map[string]call{
		"worlds": func([]safejs.Value) (runner, error) {
			return func() (any, error) { return playground.Worlds(), nil }, nil
		},
		"load":    b.load,
		"reset":   func([]safejs.Value) (runner, error) { return func() (any, error) { return p.Reset() }, nil },
		"state":   b.state,
		"clock":   func([]safejs.Value) (runner, error) { return func() (any, error) { return p.Clock() }, nil },
		"trace":   func([]safejs.Value) (runner, error) { return func() (any, error) { return p.Events() }, nil },
		"play":    func([]safejs.Value) (runner, error) { return func() (any, error) { return p.Play() }, nil },
		"pause":   func([]safejs.Value) (runner, error) { return func() (any, error) { return p.Pause() }, nil },
		"step":    func([]safejs.Value) (runner, error) { return func() (any, error) { return p.Step() }, nil },
		"speed":   b.speed,
		"advance": b.advance,
		"connect": b.connect,
		"send":    b.send,
		"fault":   b.fault,
		"message": b.message,
		"exportTranscript": func([]safejs.Value) (runner, error) {
			return func() (any, error) { return b.p.Transcript() }, nil
		},
		"exportJSON": func([]safejs.Value) (runner, error) {
			return func() (any, error) { return b.p.TraceJSON() }, nil
		},
		"exportEML": b.eml,
		"exportPcap": func([]safejs.Value) (runner, error) {
			return func() (any, error) {
				data, err := b.p.Pcap()
				if err != nil {
					return nil, err
				}
				return bytesJS(data)
			}, nil
		},
		"explanations": func([]safejs.Value) (runner, error) {
			return func() (any, error) { return playground.Explanations(), nil }, nil
		},
		"lessons": func([]safejs.Value) (runner, error) {
			return func() (any, error) { return p.Lessons(), nil }, nil
		},
		"lesson": func(args []safejs.Value) (runner, error) {
			src, err := str(args, 0, "a lesson's id or a lesson file's text")
			if err != nil {
				return nil, err
			}
			return func() (any, error) { return p.StartLesson(context.Background(), src) }, nil
		},
		"lessonStatus": func(args []safejs.Value) (runner, error) {
			var seq float64
			if v := arg(args, 0); !v.IsUndefined() && !v.IsNull() {
				var err error
				if seq, err = num(args, 0, "seq (a lesson event's)"); err != nil {
					return nil, err
				}
			}
			return func() (any, error) { return p.LessonStatus(int64(seq)) }, nil
		},
	}
	for name, c := range methods {
		if err := b.setFunc(api, name, b.async(name, c)); err != nil {
			return err
		}
	}
	if err := b.setFunc(api, "onEvent", b.onEvent(false)); err != nil {
		return err
	}
	if err := b.setFunc(api, "onEvents", b.onEvent(true)); err != nil {
		return err
	}
	return g.Set(name, api)
}

// state answers state(). The page asks for it first and then shows the
// world to its user: the worker has time then, so the first answer also
// sets the playground warming up, a little later (warmDelay). A page that
// connects at once (a link that opens a terminal, a quick click) is not
// kept waiting behind work its plain connection does not need.
func (b *bridge) state([]safejs.Value) (runner, error) {
	return func() (any, error) {
		st, err := b.p.State()
		b.warm.Do(func() {
			go func() {
				time.Sleep(warmDelay)
				b.p.Warm()
			}()
		})
		return st, err
	}, nil
}

// warmDelay is how long after the first state() the playground warms up:
// longer than a page takes to ask for its first connection when it asks
// at once, shorter than a person takes to read the page and click.
const warmDelay = 300 * time.Millisecond

// runner does a call's work, off the JavaScript event loop.
type runner func() (any, error)

// call reads a call's arguments (synchronously) and returns its work.
type call func(args []safejs.Value) (runner, error)

// setFunc sets obj[name] to a Go function. The function lives as long as
// the program: the API is never torn down.
func (b *bridge) setFunc(obj safejs.Value, name string, fn func(this safejs.Value, args []safejs.Value) any) error {
	f, err := safejs.FuncOf(fn)
	if err != nil {
		return err
	}
	return obj.Set(name, f)
}

// async makes a method that returns a Promise settled by c's work.
func (b *bridge) async(name string, c call) func(safejs.Value, []safejs.Value) any {
	return func(_ safejs.Value, args []safejs.Value) (result any) {
		defer func() {
			if r := recover(); r != nil {
				result = b.rejected(fmt.Errorf("mailhop.%s: internal error: %v", name, r))
			}
		}()
		run, err := c(args)
		if err != nil {
			return b.rejected(fmt.Errorf("mailhop.%s: %w", name, err))
		}
		return b.newPromise(func() (any, error) {
			v, err := run()
			if err != nil {
				return nil, fmt.Errorf("mailhop.%s: %w", name, err)
			}
			return v, nil
		})
	}
}

// newPromise returns a Promise settled by run, which runs in its own
// goroutine.
func (b *bridge) newPromise(run runner) any {
	var resolve, reject safejs.Value
	exec, err := safejs.FuncOf(func(_ safejs.Value, args []safejs.Value) any {
		if len(args) >= 2 {
			resolve, reject = args[0], args[1]
		}
		return nil
	})
	if err != nil {
		return b.jsError(err)
	}
	promise, err := b.promise.New(exec)
	exec.Release()
	if err != nil {
		return b.jsError(err)
	}
	go func() {
		v, err := func() (v any, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("internal error: %v", r)
				}
			}()
			v, err = run()
			if err != nil {
				return nil, err
			}
			return b.toJS(v)
		}()
		if err != nil {
			_, _ = reject.Invoke(b.jsError(err))
			return
		}
		_, _ = resolve.Invoke(v)
	}()
	return promise
}

// rejected returns a Promise already rejected with err.
func (b *bridge) rejected(err error) any {
	p, jerr := b.promise.Call("reject", b.jsError(err))
	if jerr != nil {
		return b.jsError(err)
	}
	return p
}

// jsError makes a JavaScript Error with err's message. A connection that
// could not be made also carries what telnet would say as data: its
// dial property is {trying, reason, note}.
func (b *bridge) jsError(err error) safejs.Value {
	e, jerr := b.errCtor.New(err.Error())
	if jerr != nil {
		s, _ := safejs.ValueOf(err.Error())
		return s
	}
	var de *playground.DialError
	if errors.As(err, &de) {
		if v, err := b.toJS(de); err == nil {
			_ = e.Set("dial", v)
		}
	}
	return e
}

// toJS converts a Go value to JavaScript through JSON (the trace's
// schema is its JSON form).
func (b *bridge) toJS(v any) (safejs.Value, error) {
	switch v := v.(type) {
	case nil:
		return safejs.Undefined(), nil
	case safejs.Value:
		return v, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return safejs.Value{}, err
	}
	return b.json.Call("parse", string(data))
}

// bytesJS copies data into a new Uint8Array.
func bytesJS(data []byte) (safejs.Value, error) {
	ctor, err := safejs.Global().Get("Uint8Array")
	if err != nil {
		return safejs.Value{}, err
	}
	arr, err := ctor.New(len(data))
	if err != nil {
		return safejs.Value{}, err
	}
	_, err = safejs.CopyBytesToJS(arr, data)
	return arr, err
}

// fromJS reads a JavaScript object into a Go value through JSON.
func (b *bridge) fromJS(v safejs.Value, dst any, what string) error {
	if v.Type() != safejs.TypeObject {
		return fmt.Errorf("%s: want an object, got %s", what, v.Type())
	}
	s, err := b.json.Call("stringify", v)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	text, err := s.String()
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(text), dst); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// arg returns args[i], or undefined.
func arg(args []safejs.Value, i int) safejs.Value {
	if i < len(args) {
		return args[i]
	}
	return safejs.Undefined()
}

func str(args []safejs.Value, i int, what string) (string, error) {
	v := arg(args, i)
	if v.Type() != safejs.TypeString {
		return "", fmt.Errorf("%s: want a string, got %s", what, v.Type())
	}
	return v.String()
}

func num(args []safejs.Value, i int, what string) (float64, error) {
	v := arg(args, i)
	if v.Type() == safejs.TypeString {
		s, err := v.String()
		if err != nil {
			return 0, err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q is not a number", what, s)
		}
		return f, nil
	}
	if v.Type() != safejs.TypeNumber {
		return 0, fmt.Errorf("%s: want a number, got %s", what, v.Type())
	}
	return v.Float()
}

// --- methods that take arguments ---

func (b *bridge) load(args []safejs.Value) (runner, error) {
	v := arg(args, 0)
	var src string
	switch v.Type() {
	case safejs.TypeString:
		s, err := v.String()
		if err != nil {
			return nil, err
		}
		src = s
	case safejs.TypeObject:
		s, err := b.json.Call("stringify", v)
		if err != nil {
			return nil, err
		}
		if src, err = s.String(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("want a world's name or a world file (text or object), got %s", v.Type())
	}
	var opt struct {
		Seed *float64 `json:"seed"`
	}
	if o := arg(args, 1); o.Type() == safejs.TypeObject {
		if err := b.fromJS(o, &opt, "load options"); err != nil {
			return nil, err
		}
	}
	if opt.Seed == nil {
		return func() (any, error) { return b.p.Load(src) }, nil
	}
	seed := *opt.Seed
	if seed < 1 || seed > 1<<53 || seed != math.Trunc(seed) {
		return nil, fmt.Errorf("seed: %v is not a whole number from 1 to 2^53", seed)
	}
	return func() (any, error) { return b.p.LoadSeeded(src, uint64(seed)) }, nil
}

func (b *bridge) speed(args []safejs.Value) (runner, error) {
	x, err := num(args, 0, "speed")
	if err != nil {
		return nil, err
	}
	return func() (any, error) { return b.p.Speed(x) }, nil
}

func (b *bridge) advance(args []safejs.Value) (runner, error) {
	v := arg(args, 0)
	var spec string
	switch v.Type() {
	case safejs.TypeString:
		s, err := v.String()
		if err != nil {
			return nil, err
		}
		spec = s
	case safejs.TypeNumber:
		ms, err := v.Float()
		if err != nil {
			return nil, err
		}
		if math.IsNaN(ms) || ms <= 0 || ms > float64(playground.MaxAdvance/time.Millisecond) {
			return nil, fmt.Errorf("%v ms: want a positive number of milliseconds, at most %v", ms, playground.MaxAdvance)
		}
		spec = (time.Duration(ms) * time.Millisecond).String()
	default:
		return nil, fmt.Errorf(`want a duration such as "+1h", "90s", "next" or "retry", or milliseconds; got %s`, v.Type())
	}
	return func() (any, error) { return b.p.Advance(spec) }, nil
}

func (b *bridge) fault(args []safejs.Value) (runner, error) {
	var f world.Fault
	if err := b.fromJS(arg(args, 0), &f, `fault (like {kind: "host-down", host: "mx.example.net"})`); err != nil {
		return nil, err
	}
	return func() (any, error) { return b.p.Fault(f) }, nil
}

// mailArg is the compose form's object; to may be a string or a list.
type mailArg struct {
	From    string          `json:"from"`
	To      json.RawMessage `json:"to"`
	Subject string          `json:"subject"`
	Body    string          `json:"body"`
}

func (b *bridge) send(args []safejs.Value) (runner, error) {
	var m mailArg
	if err := b.fromJS(arg(args, 0), &m, "send({from, to, subject, body})"); err != nil {
		return nil, err
	}
	mail := playground.Mail{From: m.From, Subject: m.Subject, Body: m.Body}
	if len(m.To) > 0 {
		var one string
		if err := json.Unmarshal(m.To, &one); err == nil {
			mail.To = []string{one}
		} else if err := json.Unmarshal(m.To, &mail.To); err != nil {
			return nil, errors.New("to: want an address or a list of addresses")
		}
	}
	return func() (any, error) { return b.p.Send(context.Background(), mail) }, nil
}

// messageArgs reads (user, uid, mailbox?).
func messageArgs(args []safejs.Value) (user string, uid uint32, mailbox string, err error) {
	if user, err = str(args, 0, "user"); err != nil {
		return
	}
	n, err := num(args, 1, "uid")
	if err != nil {
		return
	}
	if n < 1 || n > math.MaxUint32 || n != math.Trunc(n) {
		err = fmt.Errorf("uid: %v is not a message UID", n)
		return
	}
	uid = uint32(n)
	if v := arg(args, 2); !v.IsUndefined() && !v.IsNull() {
		mailbox, err = str(args, 2, "mailbox")
	}
	return
}

func (b *bridge) eml(args []safejs.Value) (runner, error) {
	user, uid, mailbox, err := messageArgs(args)
	if err != nil {
		return nil, err
	}
	return func() (any, error) { return b.p.EML(user, mailbox, uid) }, nil
}

func (b *bridge) message(args []safejs.Value) (runner, error) {
	user, uid, mailbox, err := messageArgs(args)
	if err != nil {
		return nil, err
	}
	return func() (any, error) { return b.p.Message(user, mailbox, uid) }, nil
}

// --- events ---

// onEvent makes onEvent (one call per event) or onEvents (one call per
// batch, with the world's number).
func (b *bridge) onEvent(batched bool) func(safejs.Value, []safejs.Value) any {
	name := "onEvent"
	if batched {
		name = "onEvents"
	}
	return func(_ safejs.Value, args []safejs.Value) (result any) {
		defer func() {
			if r := recover(); r != nil {
				result = b.rejected(fmt.Errorf("mailhop.%s: internal error: %v", name, r))
			}
		}()
		cb := arg(args, 0)
		if cb.Type() != safejs.TypeFunction {
			return b.rejected(fmt.Errorf("mailhop.%s: want a function to call with every event, got %s", name, cb.Type()))
		}
		cancel := b.p.Subscribe(func(batch playground.Batch) {
			arr, err := b.toJS(batch.Events)
			if err != nil {
				return
			}
			if batched {
				_, _ = cb.Invoke(arr, batch.World)
				return
			}
			n, err := arr.Length()
			if err != nil {
				return
			}
			for i := 0; i < n; i++ {
				e, err := arr.Index(i)
				if err != nil {
					return
				}
				_, _ = cb.Invoke(e)
			}
		})
		return b.unsubscriber(cancel)
	}
}

// unsubscriber returns a JavaScript function that calls cancel once.
func (b *bridge) unsubscriber(cancel func()) any {
	var once sync.Once
	var f safejs.Func
	f, err := safejs.FuncOf(func(safejs.Value, []safejs.Value) any {
		once.Do(func() {
			cancel()
			go f.Release()
		})
		return nil
	})
	if err != nil {
		cancel()
		return b.rejected(err)
	}
	return f
}

// --- sessions ---

func (b *bridge) connect(args []safejs.Value) (runner, error) {
	from, err := str(args, 0, "from (a host name)")
	if err != nil {
		return nil, err
	}
	to, err := str(args, 1, "to (a host name or address)")
	if err != nil {
		return nil, err
	}
	port, err := num(args, 2, "port")
	if err != nil {
		return nil, err
	}
	if port != math.Trunc(port) {
		return nil, fmt.Errorf("port %v is not a whole number", port)
	}
	var opt playground.ConnectOptions
	if v := arg(args, 3); !v.IsUndefined() && !v.IsNull() {
		if err := b.fromJS(v, &opt, "connect options"); err != nil {
			return nil, err
		}
	}
	return func() (any, error) {
		s, err := b.p.Connect(context.Background(), from, to, int(port), opt)
		if err != nil {
			return nil, err
		}
		return b.session(s)
	}, nil
}

// jsSession is a session's JavaScript side: its callbacks, and the lines
// that came before the first onLine.
type jsSession struct {
	mu       sync.Mutex
	lineCbs  callbacks
	closeCbs callbacks
	next     int
	backlog  []playground.Line
	closed   bool
	reason   string
}

func (b *bridge) session(s *playground.Session) (safejs.Value, error) {
	obj, err := b.toJS(s)
	if err != nil {
		return safejs.Value{}, err
	}
	js := &jsSession{}
	sendLine := func(args []safejs.Value) (runner, error) {
		line, err := str(args, 0, "line")
		if err != nil {
			return nil, err
		}
		var opt struct {
			EOL string `json:"eol"`
		}
		if v := arg(args, 1); !v.IsUndefined() && !v.IsNull() {
			if err := b.fromJS(v, &opt, "send options ({eol: 'crlf' | 'lf'})"); err != nil {
				return nil, err
			}
		}
		return func() (any, error) { return s.SendEOL(context.Background(), line, opt.EOL) }, nil
	}
	closeIt := func([]safejs.Value) (runner, error) {
		return func() (any, error) { return nil, s.Close() }, nil
	}
	funcs := map[string]func(safejs.Value, []safejs.Value) any{
		"send":    b.async("session.send", sendLine),
		"close":   b.async("session.close", closeIt),
		"onLine":  b.register(js, false),
		"onClose": b.register(js, true),
	}
	var made []safejs.Func
	for name, fn := range funcs {
		f, err := safejs.FuncOf(fn)
		if err != nil {
			return safejs.Value{}, err
		}
		made = append(made, f)
		if err := obj.Set(name, f); err != nil {
			return safejs.Value{}, err
		}
	}
	go b.deliver(s, js, made)
	return obj, nil
}

// deliver hands the session's lines to its callbacks until it closes,
// then releases its functions (a little later, so a last call on a
// closed session still gets its rejection).
func (b *bridge) deliver(s *playground.Session, js *jsSession, funcs []safejs.Func) {
	for {
		l, err := s.Next(context.Background())
		if err != nil {
			var ce *playground.ClosedError
			reason := err.Error()
			if errors.As(err, &ce) {
				reason = ce.Reason
			}
			js.mu.Lock()
			js.closed, js.reason = true, reason
			cbs := js.closeCbs.fns()
			js.mu.Unlock()
			for _, cb := range cbs {
				_, _ = cb.Invoke(reason)
			}
			time.AfterFunc(time.Minute, func() {
				for _, f := range funcs {
					f.Release()
				}
			})
			return
		}
		js.mu.Lock()
		if len(js.lineCbs) == 0 {
			js.backlog = append(js.backlog, l)
			js.mu.Unlock()
			continue
		}
		cbs := js.lineCbs.fns()
		js.mu.Unlock()
		b.line(cbs, l)
	}
}

func (b *bridge) line(cbs []safejs.Value, l playground.Line) {
	v, err := b.toJS(l)
	if err != nil {
		return
	}
	for _, cb := range cbs {
		_, _ = cb.Invoke(l.Text, v)
	}
}

// register makes onLine (or onClose): it adds a callback and returns a
// function that removes it. The first onLine gets the lines that came
// before it; an onClose after the end is called at once.
func (b *bridge) register(js *jsSession, onClose bool) func(safejs.Value, []safejs.Value) any {
	name := "session.onLine"
	if onClose {
		name = "session.onClose"
	}
	return func(_ safejs.Value, args []safejs.Value) (result any) {
		defer func() {
			if r := recover(); r != nil {
				result = b.rejected(fmt.Errorf("mailhop.%s: internal error: %v", name, r))
			}
		}()
		cb := arg(args, 0)
		if cb.Type() != safejs.TypeFunction {
			return b.rejected(fmt.Errorf("mailhop.%s: want a function, got %s", name, cb.Type()))
		}
		js.mu.Lock()
		id := js.next
		js.next++
		var backlog []playground.Line
		closed, reason := js.closed, js.reason
		if onClose {
			js.closeCbs = append(js.closeCbs, callback{id, cb})
		} else {
			js.lineCbs = append(js.lineCbs, callback{id, cb})
			backlog, js.backlog = js.backlog, nil
		}
		js.mu.Unlock()
		for _, l := range backlog {
			b.line([]safejs.Value{cb}, l)
		}
		if onClose && closed {
			_, _ = cb.Invoke(reason)
		}
		return b.unsubscriber(func() {
			js.mu.Lock()
			js.lineCbs = js.lineCbs.without(id)
			js.closeCbs = js.closeCbs.without(id)
			js.mu.Unlock()
		})
	}
}

// callbacks are a session's callbacks, in the order they came.
type callbacks []callback

type callback struct {
	id int
	fn safejs.Value
}

func (cs callbacks) fns() []safejs.Value {
	out := make([]safejs.Value, len(cs))
	for i, c := range cs {
		out[i] = c.fn
	}
	return out
}

func (cs callbacks) without(id int) callbacks {
	out := cs[:0:0]
	for _, c := range cs {
		if c.id != id {
			out = append(out, c)
		}
	}
	return out
}
