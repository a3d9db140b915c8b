//go:build js

package clock

import "time"

// In WebAssembly everything runs on one thread, the garbage collector
// included, and a browser tab or Node may be paused by a busy machine:
// a holder is given longer before it is taken to wait for a timer.
func init() { settleStall = 300 * time.Millisecond }
