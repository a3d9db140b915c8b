// Package web is the browser playground's site: the page, its scripts and
// styles (web/static), and the WebAssembly build of the simulation
// (wasm/), put together in web/dist by build.sh (make wasm) and embedded
// here, so that `mailhop play` serves the whole playground from one
// binary.
//
// Handler serves a site with the right types (application/wasm for the
// simulation), the precompressed copies build.sh writes (.br, .gz) chosen
// by Accept-Encoding (to another machine: a browser on this one gets the
// files as they are), ETags for revalidation, and a strict
// Content-Security-Policy: no code but this origin's, WebAssembly
// compilation ('wasm-unsafe-eval'), and data (a lesson file) fetched from
// https addresses. The simulation is also served under a name that holds
// its hash (WasmName), cached for good: a browser that has it keeps the
// module and the code it compiled from it, and asks nothing on the next
// visit.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/mailhop/mailhop/web/internal/precompress"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the embedded site (web/dist as build.sh left it; only
// .gitkeep in a fresh checkout).
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path: cannot happen
	}
	return sub
}

// Required lists the files a built site has.
var Required = []string{"index.html", "mailhop.wasm", "wasm_exec.js"}

// ErrNotBuilt says the site lacks its build.
var ErrNotBuilt = errors.New("the playground is not built: run `make wasm` first")

// Check reports whether a site has everything the playground needs.
func Check(site fs.FS) error {
	for _, name := range Required {
		if _, err := fs.Stat(site, name); err != nil {
			return fmt.Errorf("%w (%s is missing)", ErrNotBuilt, name)
		}
	}
	return nil
}

// CSP is the Content-Security-Policy of every response: the page may
// load no script, style, image or font from another origin, run no inline
// script or style, and compile WebAssembly. It may fetch data from an
// https address (or a data: URL): a teacher's lesson file, opened by its
// address, which the simulation parses as a lesson and nothing else.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
	"connect-src 'self' https: data:; img-src 'self'; style-src 'self'; font-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// types maps extensions to media types, without relying on the system's
// MIME database.
var types = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".wasm":        "application/wasm",
	".json":        "application/json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".txt":         "text/plain; charset=utf-8",
	".webmanifest": "application/manifest+json",
}

// encodings are the precompressed copies, most preferred first.
var encodings = []struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}}

// file is one servable file and its precompressed copies.
type file struct {
	ctype    string
	variants map[string][]byte // by encoding; "" is the file itself
	etags    map[string]string
	// immutable: the name holds the content's hash, so the file may be
	// cached for good.
	immutable bool
}

// newFile makes a file of body and its precompressed copies (by
// encoding), with their ETags.
func newFile(ctype string, body []byte, copies map[string][]byte) *file {
	f := &file{ctype: ctype, variants: map[string][]byte{"": body}, etags: map[string]string{}}
	for enc, b := range copies {
		f.variants[enc] = b
	}
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:8])
	for enc := range f.variants {
		if enc == "" {
			f.etags[enc] = `"` + tag + `"`
		} else {
			f.etags[enc] = `"` + tag + "-" + enc + `"`
		}
	}
	return f
}

// WasmName is the name the simulation is served under besides
// mailhop.wasm: mailhop-HASH.wasm, HASH the first 16 hex digits of the
// SHA-256 of the module. It is sent with Cache-Control immutable. The
// page learns it from index.html, where Handler writes it into
//
//	<meta name="mailhop-wasm" content="mailhop.wasm">
//
// in place of mailhop.wasm.
func WasmName(module []byte) string {
	sum := sha256.Sum256(module)
	return "mailhop-" + hex.EncodeToString(sum[:8]) + ".wasm"
}

// wasmMeta is the tag of index.html that names the module for the page.
const wasmMeta = `<meta name="mailhop-wasm" content="mailhop.wasm">`

// Handler serves site. It reads every file once, at the start.
func Handler(site fs.FS) (http.Handler, error) {
	files := map[string]*file{}
	err := fs.WalkDir(site, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, enc := range encodings {
			if strings.HasSuffix(name, enc.ext) {
				return nil // read with the file it compresses
			}
		}
		ctype, ok := types[path.Ext(name)]
		if !ok {
			return nil // not part of the site (.gitkeep)
		}
		body, err := fs.ReadFile(site, name)
		if err != nil {
			return err
		}
		copies := map[string][]byte{}
		for _, enc := range encodings {
			if b, err := fs.ReadFile(site, name+enc.ext); err == nil {
				copies[enc.name] = b
			}
		}
		files[name] = newFile(ctype, body, copies)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := hashNames(files); err != nil {
		return nil, err
	}
	return &handler{files: files}, nil
}

// hashNames serves the simulation under its WasmName too, and writes that
// name into index.html (whose precompressed copies are then made again:
// gzip only).
func hashNames(files map[string]*file) error {
	wasm, page := files["mailhop.wasm"], files["index.html"]
	if wasm == nil {
		return nil // the live view's site: no simulation
	}
	name := WasmName(wasm.variants[""])
	files[name] = &file{ctype: wasm.ctype, variants: wasm.variants, etags: wasm.etags, immutable: true}
	if page == nil || !bytes.Contains(page.variants[""], []byte(wasmMeta)) {
		return nil
	}
	body := bytes.Replace(page.variants[""], []byte(wasmMeta), []byte(strings.Replace(wasmMeta, "mailhop.wasm", name, 1)), 1)
	gz, err := precompress.Gzip(body)
	if err != nil {
		return err
	}
	files["index.html"] = newFile(page.ctype, body, map[string][]byte{"gzip": gz})
	return nil
}

type handler struct{ files map[string]*file }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", CSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	f := h.files[name]
	if f == nil {
		http.Error(w, "404 page not found: "+r.URL.Path, http.StatusNotFound)
		return
	}
	enc := ""
	if !sameMachine(r) {
		enc = negotiate(r.Header.Get("Accept-Encoding"), f)
	}
	if len(f.variants) > 1 {
		hdr.Set("Vary", "Accept-Encoding")
	}
	if enc != "" {
		hdr.Set("Content-Encoding", enc)
		if r.Header.Get("Range") == "" {
			// ServeContent leaves the length of an encoded body out.
			hdr.Set("Content-Length", strconv.Itoa(len(f.variants[enc])))
		}
	}
	hdr.Set("Content-Type", f.ctype)
	hdr.Set("ETag", f.etags[enc])
	if f.immutable {
		// Another build has another name: this one never changes.
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// Revalidate every time: a rebuilt playground shows at once,
		// and an unchanged one costs a 304.
		hdr.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.variants[enc]))
}

// sameMachine reports whether the browser runs on this machine, as with
// make run's 127.0.0.1:8080: a loopback peer that no proxy speaks for. It
// gets the files as they are, since over loopback the bytes cost nothing
// and decompressing them costs the browser CPU while it compiles the
// module (19 MB of brotli takes ~0.1 s, on the cores the page needs).
// Through a proxy (Forwarded, X-Forwarded-For or Via), or from another
// machine, the compressed copies are sent.
func sameMachine(r *http.Request) bool {
	if r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Via") != "" {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().IsLoopback()
}

// negotiate picks the encoding to send: the most preferred of the copies
// the client accepts (RFC 9110 §12.5.3), or "" for the file itself.
func negotiate(accept string, f *file) string {
	if len(f.variants) == 1 || accept == "" {
		return ""
	}
	q := map[string]float64{}
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		weight := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					weight = x
				}
			}
		}
		if name != "" {
			q[name] = weight
		}
	}
	best, bestQ := "", 0.0
	for _, enc := range encodings {
		if _, ok := f.variants[enc.name]; !ok {
			continue
		}
		w, ok := q[enc.name]
		if !ok {
			w, ok = q["*"]
		}
		if ok && w > bestQ {
			best, bestQ = enc.name, w
		}
	}
	return best
}
