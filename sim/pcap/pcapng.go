package pcap

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"
)

// pcapng block types and options (draft-ietf-opsawg-pcapng-03).
const (
	blockSHB = 0x0A0D0D0A // Section Header Block
	blockIDB = 0x00000001 // Interface Description Block
	blockISB = 0x00000005 // Interface Statistics Block
	blockEPB = 0x00000006 // Enhanced Packet Block
	blockDSB = 0x0000000A // Decryption Secrets Block

	byteOrderMagic = 0x1A2B3C4D
	secretsTLS     = 0x544c534b // "TLSK": an NSS key log

	optEnd       = 0
	optComment   = 1
	optUserAppl  = 4 // shb_userappl
	optIfName    = 2 // if_name
	optIfDesc    = 3 // if_description
	optIfTSResol = 9 // if_tsresol
	optISBStart  = 2 // isb_starttime
	optISBEnd    = 3 // isb_endtime
	optISBRecv   = 4 // isb_ifrecv
	optISBDrop   = 5 // isb_ifdrop

	// linkRaw is LINKTYPE_RAW: each packet is an IPv4 or IPv6 packet.
	linkRaw = 101
)

var le = binary.LittleEndian

func pad4(n int) int { return (n + 3) &^ 3 }

// epbSize returns the size of an Enhanced Packet Block.
func epbSize(n int, comment string) int {
	size := 32 + pad4(n)
	if comment != "" {
		size += 4 + pad4(len(comment)) + 4
	}
	return size
}

// block builds a pcapng block: its body is body (padded), then options.
type block struct {
	typ  uint32
	body []byte
	opts []byte
}

func (b *block) u16(v uint16) { b.body = le.AppendUint16(b.body, v) }
func (b *block) u32(v uint32) { b.body = le.AppendUint32(b.body, v) }

// raw appends bytes to the body and pads it to 32 bits.
func (b *block) raw(p []byte) {
	b.body = append(b.body, p...)
	for len(b.body)%4 != 0 {
		b.body = append(b.body, 0)
	}
}

// opt adds an option.
func (b *block) opt(code uint16, v []byte) {
	b.opts = le.AppendUint16(b.opts, code)
	b.opts = le.AppendUint16(b.opts, uint16(len(v)))
	b.opts = append(b.opts, v...)
	for len(b.opts)%4 != 0 {
		b.opts = append(b.opts, 0)
	}
}

func (b *block) optString(code uint16, s string) { b.opt(code, []byte(s)) }

func (b *block) optU64(code uint16, v uint64) { b.opt(code, le.AppendUint64(nil, v)) }

// optTime adds a timestamp option: two 32-bit halves, high first.
func (b *block) optTime(code uint16, t time.Time) {
	ts := uint64(t.UnixNano())
	b.opt(code, le.AppendUint32(le.AppendUint32(nil, uint32(ts>>32)), uint32(ts)))
}

// writeTo writes the block.
func (b *block) writeTo(w io.Writer) error {
	opts := b.opts
	if len(opts) > 0 {
		opts = le.AppendUint32(opts, optEnd) // opt_endofopt: code 0, length 0
	}
	total := uint32(12 + len(b.body) + len(opts))
	out := make([]byte, 0, total)
	out = le.AppendUint32(out, b.typ)
	out = le.AppendUint32(out, total)
	out = append(out, b.body...)
	out = append(out, opts...)
	out = le.AppendUint32(out, total)
	_, err := w.Write(out)
	return err
}

// WriteTo writes the capture as a pcapng file: a Section Header Block, one
// Interface Description Block (raw IP, nanosecond timestamps), a
// Decryption Secrets Block with the TLS keys, the packets as Enhanced
// Packet Blocks, and an Interface Statistics Block that counts the
// packets the limit dropped. Recording may go on while it writes; what
// was recorded before the call is written.
func (c *Capture) WriteTo(w io.Writer) (int64, error) {
	c.mu.Lock()
	packets := c.packets[:len(c.packets):len(c.packets)]
	keys := append([]string(nil), c.keys...)
	dropped, keysDropped, limit := c.dropped, c.keysDropped, c.limit
	c.mu.Unlock()

	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	err := writeFile(bw, packets, keys, dropped, keysDropped, limit)
	if err == nil {
		err = bw.Flush()
	}
	return cw.n, err
}

func writeFile(w io.Writer, packets []packet, keys []string, dropped, keysDropped, limit int) error {
	shb := block{typ: blockSHB}
	shb.u32(byteOrderMagic)
	shb.u16(1) // version 1.0
	shb.u16(0)
	shb.body = le.AppendUint64(shb.body, ^uint64(0)) // section length: not given
	comment := "The traffic of a mailhop world's simulated network, framed as TCP/IP; the TLS keys are in the file."
	if dropped > 0 || keysDropped > 0 {
		comment += fmt.Sprintf(" Incomplete: %d packets and %d TLS key lines were dropped beyond the capture's limit of %d bytes.", dropped, keysDropped, limit)
	}
	shb.optString(optComment, comment)
	shb.optString(optUserAppl, "mailhop")
	if err := shb.writeTo(w); err != nil {
		return err
	}

	idb := block{typ: blockIDB}
	idb.u16(linkRaw)
	idb.u16(0)
	idb.u32(0) // snap length: none
	idb.optString(optIfName, "mailhop")
	idb.optString(optIfDesc, "mailhop simulated network (every link)")
	idb.opt(optIfTSResol, []byte{9}) // nanoseconds
	if err := idb.writeTo(w); err != nil {
		return err
	}

	if len(keys) > 0 {
		secrets := strings.Join(keys, "\n") + "\n"
		dsb := block{typ: blockDSB}
		dsb.u32(secretsTLS)
		dsb.u32(uint32(len(secrets)))
		dsb.raw([]byte(secrets))
		if err := dsb.writeTo(w); err != nil {
			return err
		}
	}

	for _, p := range packets {
		ts := uint64(p.at.UnixNano())
		epb := block{typ: blockEPB, body: make([]byte, 0, 20+pad4(len(p.data)))}
		epb.u32(0) // interface
		epb.u32(uint32(ts >> 32))
		epb.u32(uint32(ts))
		epb.u32(uint32(len(p.data))) // captured
		epb.u32(uint32(len(p.data))) // on the wire
		epb.raw(p.data)
		if p.comment != "" {
			epb.optString(optComment, p.comment)
		}
		if err := epb.writeTo(w); err != nil {
			return err
		}
	}

	if len(packets) > 0 || dropped > 0 {
		isb := block{typ: blockISB}
		var first, last time.Time
		if len(packets) > 0 {
			first, last = packets[0].at, packets[len(packets)-1].at
		}
		ts := uint64(last.UnixNano())
		if last.IsZero() {
			ts = 0
		}
		isb.u32(0)
		isb.u32(uint32(ts >> 32))
		isb.u32(uint32(ts))
		if len(packets) > 0 {
			isb.optTime(optISBStart, first)
			isb.optTime(optISBEnd, last)
		}
		isb.optU64(optISBRecv, uint64(len(packets)+dropped))
		isb.optU64(optISBDrop, uint64(dropped))
		if err := isb.writeTo(w); err != nil {
			return err
		}
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
