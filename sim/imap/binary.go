package imap

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"mime"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// A message APPENDed in a literal8 (RFC 3516 §4.4) may have parts whose
// Content-Transfer-Encoding is binary: any octet, NUL and lone CR or LF
// included. Kept as they are, FETCH BODY[...] would have to send NUL in
// a literal, which RFC 9051 §4.3 forbids, and a store that keeps lines
// (Maildir) would change their line ends. RFC 3516 §4.4: "The server MAY
// modify the CTE of the appended data, however any such transformation
// MUST NOT result in a loss of data." So such a part is stored in base64:
// BODYSTRUCTURE and BODY[...] describe and return it in a CTE IMAP4 can
// carry (§6), and BINARY[...] decodes it to the octets appended. A part
// without an encoding (7bit, 8bit or none) that holds NUL is stored so
// too.

// maxMIMEDepth bounds the nesting of multiparts and messages looked into.
const maxMIMEDepth = 32

// base64Line is the length of the lines of a base64 body (RFC 2045 §6.8).
const base64Line = 76

// encodeBinaryParts returns msg with its binary parts in base64, or msg
// itself when it has none.
func encodeBinaryParts(msg []byte) []byte {
	out, _ := encodeEntity(msg, 0, true)
	return out
}

// encodeEntity encodes the binary parts of a MIME entity (a message or a
// body part): the whole of it, or a part of a multipart, which ends
// before the line break of the delimiter that follows it. It reports
// whether it changed anything.
func encodeEntity(e []byte, depth int, whole bool) ([]byte, bool) {
	if depth > maxMIMEDepth {
		return e, false
	}
	he := headerEnd(e)
	hdr, body := e[:he], e[he:]
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(hdr)))
	if err != nil || len(body) == 0 {
		return e, false
	}
	media, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		media = "text/plain" // RFC 2045 §5.2
	}
	var nb []byte
	changed := false
	cte, _, _ := strings.Cut(h.Get("Content-Transfer-Encoding"), "(") // a comment may follow
	switch cte = strings.ToLower(strings.TrimSpace(cte)); {
	case strings.HasPrefix(media, "multipart/"):
		if params["boundary"] == "" {
			return e, false
		}
		nb, changed = encodeMultipart(body, params["boundary"], depth+1)
	case media == "message/rfc822" || media == "message/global":
		nb, changed = encodeEntity(body, depth+1, whole)
	case cte == "binary" || (cte == "" || cte == "7bit" || cte == "8bit") && bytes.IndexByte(body, 0) >= 0:
		return append(setBase64(hdr), base64Lines(body, whole)...), true
	}
	if !changed {
		return e, false
	}
	return append(append([]byte(nil), hdr...), nb...), true
}

// encodeMultipart encodes the binary parts of a multipart's body. The
// preamble, the delimiter lines and the epilogue stay as they are. The
// parts are found as go-message finds them, which is how go-imap will
// read the message: the first delimiter line ends in CRLF, or in LF and
// then LF is the line break of the others too; the line break before a
// delimiter belongs to it (RFC 2046 §5.1.1).
func encodeMultipart(body []byte, boundary string, depth int) ([]byte, bool) {
	dash := []byte("--" + boundary)
	var nl []byte
	start := -1
	for i := 0; i < len(body) && start < 0; {
		next := lineEnd(body, i)
		if rest, ok := bytes.CutPrefix(body[i:next], dash); ok {
			switch rest = bytes.TrimLeft(rest, " \t"); string(rest) {
			case "\r\n", "\n":
				nl, start = rest, next
			}
			if bytes.HasPrefix(rest, []byte("--")) {
				break // the close delimiter: no parts
			}
		}
		i = next
	}
	if start < 0 {
		return body, false
	}
	// delimiterAt reports whether a delimiter ends at i: what follows
	// "--boundary" there is whitespace, "-" or the end.
	delimiterAt := func(i int) bool { return i == len(body) || bytes.IndexByte([]byte(" \t\r\n-"), body[i]) >= 0 }
	sep := append(append([]byte(nil), nl...), dash...)
	type span struct{ start, end int }
	var parts []span
	for {
		end, line := -1, -1 // where the part ends, where its delimiter line starts
		if bytes.HasPrefix(body[start:], dash) && delimiterAt(start+len(dash)) {
			end, line = start, start
		}
		for off := start; end < 0; {
			k := bytes.Index(body[off:], sep)
			if k < 0 {
				break
			}
			if p := off + k; delimiterAt(p + len(sep)) {
				end, line = p, p+len(nl)
			}
			off += k + 1
		}
		if end < 0 { // no close delimiter: the part runs to the end
			parts = append(parts, span{start, len(body)})
			break
		}
		parts = append(parts, span{start, end})
		next := lineEnd(body, line)
		if !bytes.Equal(bytes.TrimLeft(body[line+len(dash):next], " \t"), nl) {
			break // the close delimiter, or a line go-message stops at
		}
		start = next
	}
	var out []byte
	changed, last := false, 0
	for _, p := range parts {
		enc, ok := encodeEntity(body[p.start:p.end], depth, false)
		if !ok {
			continue
		}
		out = append(append(out, body[last:p.start]...), enc...)
		last, changed = p.end, true
	}
	if !changed {
		return body, false
	}
	return append(out, body[last:]...), true
}

// lineEnd returns where the line that starts at i ends, after its LF.
func lineEnd(b []byte, i int) int {
	if j := bytes.IndexByte(b[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(b)
}

// setBase64 returns a copy of a header section (with its empty line) whose
// Content-Transfer-Encoding is base64: the first such field rewritten,
// any other dropped, one added at the end when there was none.
func setBase64(hdr []byte) []byte {
	eol := "\r\n"
	if !bytes.HasSuffix(hdr, []byte("\r\n")) {
		eol = "\n"
	}
	field := "Content-Transfer-Encoding: base64" + eol
	var out []byte
	done, skipping := false, false
	for i := 0; i < len(hdr); {
		next := len(hdr)
		if j := bytes.IndexByte(hdr[i:], '\n'); j >= 0 {
			next = i + j + 1
		}
		line := hdr[i:next]
		i = next
		switch {
		case len(bytes.TrimRight(line, "\r\n")) == 0: // the empty line
			if !done {
				out = append(out, field...)
			}
			out = append(out, line...)
			continue
		case line[0] == ' ' || line[0] == '\t': // a continuation
			if !skipping {
				out = append(out, line...)
			}
			continue
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		skipping = strings.EqualFold(strings.TrimSpace(string(name)), "Content-Transfer-Encoding")
		switch {
		case skipping && !done:
			out, done = append(out, field...), true
		case !skipping:
			out = append(out, line...)
		}
	}
	return out
}

// base64Lines is data in base64, in lines of base64Line characters
// separated by CRLF; ended by one too when the body ends its message.
func base64Lines(data []byte, whole bool) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	var b bytes.Buffer
	for len(enc) > 0 {
		n := min(len(enc), base64Line)
		b.WriteString(enc[:n])
		enc = enc[n:]
		if len(enc) > 0 || whole {
			b.WriteString("\r\n")
		}
	}
	return b.Bytes()
}
