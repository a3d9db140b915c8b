package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Static returns the page as it is in the source tree (web/static): the
// HTML, scripts, styles and icons, without the simulation's WebAssembly
// and without compressed copies. The live view of `mailhop serve --ui`
// needs nothing more, so it is served from here when the built site
// (Dist) lacks it: a plain `go build` on a fresh checkout serves the live
// view too.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // "static" is a valid path: cannot happen
	}
	return sub
}
