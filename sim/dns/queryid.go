package dns

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
)

// queryIDs hands out query ids from crypto/rand, read a block at a time:
// an id must be unpredictable (RFC 5452 §9.2), and in WebAssembly each
// read of crypto/rand is a call out to JavaScript.
var queryIDs struct {
	mu  sync.Mutex
	buf [512]byte
	off int
}

func init() { queryIDs.off = len(queryIDs.buf) }

// queryID returns a random 16-bit DNS message id.
func queryID() uint16 {
	q := &queryIDs
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.off == len(q.buf) {
		rand.Read(q.buf[:]) // never fails (crypto/rand.Read)
		q.off = 0
	}
	id := binary.BigEndian.Uint16(q.buf[q.off:])
	clear(q.buf[q.off : q.off+2]) // an id handed out is not kept
	q.off += 2
	return id
}
