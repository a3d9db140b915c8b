package world

import (
	"bytes"
	"mime"
	"strings"
)

// header is a parsed header section (unfolded, names in canonical case
// as written), enough for listings.
type header []struct{ name, value string }

func parseHeader(msg []byte) header {
	var h header
	for len(msg) > 0 {
		i := bytes.IndexByte(msg, '\n')
		line := msg
		if i >= 0 {
			line, msg = msg[:i], msg[i+1:]
		} else {
			msg = nil
		}
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(h) > 0 {
			h[len(h)-1].value += " " + strings.TrimSpace(string(line))
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		h = append(h, struct{ name, value string }{string(bytes.TrimSpace(name)), strings.TrimSpace(string(value))})
	}
	return h
}

// get returns the first field of that name, decoded (RFC 2047).
func (h header) get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			dec := new(mime.WordDecoder)
			if s, err := dec.DecodeHeader(f.value); err == nil {
				return s
			}
			return f.value
		}
	}
	return ""
}

func trimAngles(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	if i := strings.IndexByte(s, '>'); i >= 0 {
		s = s[:i]
	}
	return s
}
