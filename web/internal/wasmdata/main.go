// Command wasmdata merges the data segments of the playground's
// WebAssembly module, so that it downloads smaller. Go's linker writes
// the memory a module starts with as segments, each with its offset and
// length, and leaves out every run of more than 8 zero bytes between
// them: in mailhop.wasm that makes 100,000 segments, the most it will
// write. Their headers compress poorly; the zeros they spare would
// compress to almost nothing. So segments up to 4 KiB apart are merged,
// the zeros between them written out: the memory the module starts with
// is the same byte for byte, the module a megabyte larger and ~4% smaller
// in brotli and gzip. build.sh runs it on the module it builds, before it
// compresses it:
//
//	go run ./web/internal/wasmdata FILE
//
// A module whose data is not laid out as Go's linker writes it (active
// segments of memory 0 at constant offsets, none overlapping another) is
// left as it is, with a note on stderr.
package main

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
)

// maxGap is the most zero bytes that are written out to merge two
// segments.
const maxGap = 4096

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: wasmdata FILE")
		os.Exit(2)
	}
	name := os.Args[1]
	module, err := os.ReadFile(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasmdata:", err)
		os.Exit(1)
	}
	out, before, after, err := merge(module, maxGap)
	if errors.Is(err, errUnusual) {
		fmt.Fprintf(os.Stderr, "wasmdata: %s left as it is: %v\n", name, err)
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "wasmdata: %s: %v\n", name, err)
		os.Exit(1)
	}
	if err := os.WriteFile(name, out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "wasmdata:", err)
		os.Exit(1)
	}
	fmt.Printf("wasmdata: %s: %d data segments merged into %d\n", name, before, after)
}

// errUnusual: the module's data is laid out in a way merge does not
// handle; it is not broken for that.
var errUnusual = errors.New("unusual data section")

const (
	sectionData      = 11
	sectionDataCount = 12
	opI32Const       = 0x41
	opEnd            = 0x0b
)

// segment is an active data segment of memory 0.
type segment struct {
	offset uint32
	data   []byte
}

// merge returns module with its data segments that are at most gap bytes
// apart merged, and how many segments there were and are.
func merge(module []byte, gap int) (out []byte, before, after int, err error) {
	secs, err := readSections(module)
	if err != nil {
		return nil, 0, 0, err
	}
	// The data section comes after the data count, which must hold the
	// new count: merged first, written in place.
	var data []byte
	for _, sec := range secs {
		if sec.id == sectionData {
			segs, err := readData(sec.body)
			if err != nil {
				return nil, 0, 0, err
			}
			merged := coalesce(segs, gap)
			before, after, data = len(segs), len(merged), writeData(merged)
		}
	}
	if data == nil {
		return nil, 0, 0, fmt.Errorf("%w: no data section", errUnusual)
	}
	out = append(out, module[:8]...)
	for _, sec := range secs {
		switch sec.id {
		case sectionData:
			sec.body = data
		case sectionDataCount:
			sec.body = binary.AppendUvarint(nil, uint64(after))
		}
		out = append(out, sec.id)
		out = binary.AppendUvarint(out, uint64(len(sec.body)))
		out = append(out, sec.body...)
	}
	return out, before, after, nil
}

// section is a module's section: its id and contents.
type section struct {
	id   byte
	body []byte
}

// readSections splits a module into its sections, in order.
func readSections(module []byte) ([]section, error) {
	if len(module) < 8 || string(module[:4]) != "\x00asm" || binary.LittleEndian.Uint32(module[4:8]) != 1 {
		return nil, errors.New("not a WebAssembly module (version 1)")
	}
	var secs []section
	for i := 8; i < len(module); {
		size, n, err := uleb(module[i+1:])
		if err != nil || uint64(len(module)-i-1-n) < size {
			return nil, fmt.Errorf("section at byte %d: bad size", i)
		}
		secs = append(secs, section{module[i], module[i+1+n : i+1+n+int(size)]})
		i += 1 + n + int(size)
	}
	return secs, nil
}

// readData reads a data section's segments, sorted by offset.
func readData(b []byte) ([]segment, error) {
	count, n, err := uleb(b)
	if err != nil {
		return nil, errors.New("data section: bad count")
	}
	b = b[n:]
	segs := make([]segment, 0, min(count, uint64(len(b))))
	for k := uint64(0); k < count; k++ {
		// mode 0: active, memory 0, an offset expression: i32.const N, end.
		if len(b) < 2 || b[0] != 0 || b[1] != opI32Const {
			return nil, fmt.Errorf("%w: segment %d is not active at a constant offset", errUnusual, k)
		}
		off, n, err := sleb32(b[2:])
		if err != nil || len(b) < 3+n || b[2+n] != opEnd {
			return nil, fmt.Errorf("%w: segment %d: offset expression", errUnusual, k)
		}
		b = b[3+n:]
		size, n, err := uleb(b)
		if err != nil || uint64(len(b)-n) < size {
			return nil, fmt.Errorf("data segment %d: bad length", k)
		}
		segs = append(segs, segment{offset: uint32(off), data: b[n : n+int(size)]})
		b = b[n+int(size):]
	}
	if len(b) != 0 {
		return nil, errors.New("data section: bytes after the last segment")
	}
	// Segments are copied in order, so a later one overwrites an earlier
	// where they overlap; sorted, that order would be lost.
	slices.SortStableFunc(segs, func(a, b segment) int { return cmp.Compare(a.offset, b.offset) })
	for k := 1; k < len(segs); k++ {
		if end := uint64(segs[k-1].offset) + uint64(len(segs[k-1].data)); end > uint64(segs[k].offset) {
			return nil, fmt.Errorf("%w: segments overlap at %d", errUnusual, segs[k].offset)
		}
	}
	return segs, nil
}

// coalesce merges segments (sorted, apart) at most gap bytes apart.
func coalesce(segs []segment, gap int) []segment {
	var out []segment
	for _, s := range segs {
		if len(out) > 0 {
			last := &out[len(out)-1]
			if end := uint64(last.offset) + uint64(len(last.data)); uint64(s.offset)-end <= uint64(gap) {
				merged := make([]byte, 0, uint64(s.offset)-uint64(last.offset)+uint64(len(s.data)))
				merged = append(merged, last.data...)
				merged = append(merged, make([]byte, uint64(s.offset)-end)...)
				last.data = append(merged, s.data...)
				continue
			}
		}
		out = append(out, s)
	}
	return out
}

func writeData(segs []segment) []byte {
	b := binary.AppendUvarint(nil, uint64(len(segs)))
	for _, s := range segs {
		b = append(b, 0, opI32Const)
		b = appendSLEB(b, int64(int32(s.offset)))
		b = append(b, opEnd)
		b = binary.AppendUvarint(b, uint64(len(s.data)))
		b = append(b, s.data...)
	}
	return b
}

// uleb reads an unsigned LEB128 number (which encoding/binary's Uvarint
// is) of at most 32 bits, as every count and size in a module is.
func uleb(b []byte) (uint64, int, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || n > 5 || v > 1<<32-1 {
		return 0, 0, errors.New("bad number")
	}
	return v, n, nil
}

// sleb32 reads a signed LEB128 number of at most 32 bits (i32.const's).
func sleb32(b []byte) (int32, int, error) {
	var v int64
	var shift uint
	for i := 0; i < len(b) && i < 5; i++ {
		v |= int64(b[i]&0x7f) << shift
		shift += 7
		if b[i]&0x80 == 0 {
			if b[i]&0x40 != 0 {
				v -= 1 << shift
			}
			if v < -1<<31 || v > 1<<31-1 {
				return 0, 0, errors.New("bad number")
			}
			return int32(v), i + 1, nil
		}
	}
	return 0, 0, errors.New("bad number")
}

func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
