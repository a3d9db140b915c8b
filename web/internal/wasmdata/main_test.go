package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// seg is a data segment as a test writes it.
type seg struct {
	offset int
	data   []byte
}

// module encodes a module: a custom section, the data count when count,
// the segments (in the order given, mode mode), another custom section.
func module(segs []seg, mode byte, count bool) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	section := func(id byte, body []byte) {
		b = append(b, id)
		// Padded to 5 bytes, as Go's linker writes section sizes.
		n := uint32(len(body))
		b = append(b, byte(n)|0x80, byte(n>>7)|0x80, byte(n>>14)|0x80, byte(n>>21)|0x80, byte(n>>28))
		b = append(b, body...)
	}
	section(0, []byte("\x05firstbefore"))
	if count {
		section(12, binary.AppendUvarint(nil, uint64(len(segs))))
	}
	data := binary.AppendUvarint(nil, uint64(len(segs)))
	for _, s := range segs {
		data = append(data, mode, 0x41)
		data = appendSLEB(data, int64(s.offset))
		data = append(data, 0x0b)
		data = binary.AppendUvarint(data, uint64(len(s.data)))
		data = append(data, s.data...)
	}
	section(11, data)
	section(0, []byte("\x04lastafter"))
	return b
}

// image is the memory the segments make, applied in order.
func image(segs []seg) []byte {
	var m []byte
	for _, s := range segs {
		if end := s.offset + len(s.data); end > len(m) {
			m = append(m, make([]byte, end-len(m))...)
		}
		copy(m[s.offset:], s.data)
	}
	return m
}

// TestMergeKeepsMemory: segments in any order, with gaps small and
// large, make the same memory after merge, in as many segments as there
// are gaps over maxGap (plus one); the other sections are unchanged, and
// the data count follows.
func TestMergeKeepsMemory(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		var segs []seg
		at, wantSegs := 1024+r.IntN(100), 1
		for k := range 200 + r.IntN(300) {
			if k > 0 {
				gap := 9 + r.IntN(40)
				if r.IntN(20) == 0 {
					gap = maxGap - 2 + r.IntN(5) // at the edge
				}
				if gap > maxGap {
					wantSegs++
				}
				at += gap
			}
			data := make([]byte, 1+r.IntN(64))
			for i := range data {
				if r.IntN(3) > 0 {
					data[i] = byte(r.IntN(256))
				}
			}
			segs = append(segs, seg{at, data})
			at += len(data)
		}
		want := image(segs)
		r.Shuffle(len(segs), func(i, j int) { segs[i], segs[j] = segs[j], segs[i] })
		count := round%2 == 0
		in := module(segs, 0, count)
		out, before, after, err := merge(in, maxGap)
		if err != nil {
			t.Fatal(err)
		}
		if before != len(segs) || after != wantSegs {
			t.Fatalf("round %d: %d segments merged into %d, want %d into %d", round, before, after, len(segs), wantSegs)
		}
		secs, err := readSections(out)
		if err != nil {
			t.Fatal(err)
		}
		var ids []byte
		var bodies [][]byte
		for _, sec := range secs {
			ids, bodies = append(ids, sec.id), append(bodies, sec.body)
		}
		wantIDs := []byte{0, 11, 0}
		if count {
			wantIDs = []byte{0, 12, 11, 0}
		}
		if !bytes.Equal(ids, wantIDs) {
			t.Fatalf("sections %v, want %v", ids, wantIDs)
		}
		if string(bodies[0]) != "\x05firstbefore" || string(bodies[len(bodies)-1]) != "\x04lastafter" {
			t.Fatalf("custom sections changed: %q %q", bodies[0], bodies[len(bodies)-1])
		}
		if count {
			if n, _ := binary.Uvarint(bodies[1]); n != uint64(after) {
				t.Fatalf("data count %d, want %d", n, after)
			}
		}
		got, err := readData(bodies[len(bodies)-2])
		if err != nil {
			t.Fatal(err)
		}
		var gotSegs []seg
		for _, s := range got {
			gotSegs = append(gotSegs, seg{int(s.offset), s.data})
		}
		if len(gotSegs) != after {
			t.Fatalf("%d segments written, said %d", len(gotSegs), after)
		}
		if !bytes.Equal(image(gotSegs), want) {
			t.Fatalf("round %d: the memory differs after merge", round)
		}
	}
}

// TestMergeLeavesUnusual: data merge does not understand is reported as
// unusual (the module is then left as it is), a broken module as broken.
func TestMergeLeavesUnusual(t *testing.T) {
	two := []seg{{100, []byte{1, 2}}, {110, []byte{3}}}
	for name, in := range map[string][]byte{
		"passive segments":    module(two, 1, false),
		"overlapping":         module([]seg{{100, []byte{1, 2, 3}}, {101, []byte{9}}}, 0, false),
		"no data":             []byte("\x00asm\x01\x00\x00\x00\x00\x03\x02hi"),
		"data count, no data": []byte("\x00asm\x01\x00\x00\x00\x0c\x01\x02"),
	} {
		if _, _, _, err := merge(in, maxGap); !errors.Is(err, errUnusual) {
			t.Errorf("%s: %v, want unusual", name, err)
		}
	}
	good := module(two, 0, false)
	for name, in := range map[string][]byte{
		"not wasm":  []byte("\x7fELF\x01\x00\x00\x00"),
		"truncated": good[:len(good)-3],
	} {
		if _, _, _, err := merge(in, maxGap); err == nil || errors.Is(err, errUnusual) {
			t.Errorf("%s: %v, want an error", name, err)
		}
	}
	// Two segments 8 bytes apart are merged, the gap zeros.
	out, _, after, err := merge(good, maxGap)
	if err != nil || after != 1 {
		t.Fatalf("merge: %d segments, %v", after, err)
	}
	if !bytes.Contains(out, []byte{11, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 3}) { // length 11: 1 2, eight zeros, 3
		t.Errorf("merged segment not found in %x", out)
	}
}
