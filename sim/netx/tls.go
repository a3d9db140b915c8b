package netx

import (
	"crypto/tls"
	"encoding/binary"
	"fmt"

	"github.com/mailhop/mailhop/sim/trace"
)

// tlsData follows TLS records crossing the connection: it reads the
// cleartext ClientHello and ServerHello to report the handshake, and
// counts the encrypted bytes that follow.
func (t *Tap) tlsData(dir trace.Dir, p []byte) {
	t.tls = tlsOn
	i := index(dir)
	t.tlsSent[i] += int64(len(p))
	buf := p // whole records are read in place; only a partial one is kept
	if len(t.tlsRec[i]) > 0 {
		buf = append(t.tlsRec[i], p...)
	}
	for len(buf) >= 5 {
		n := int(binary.BigEndian.Uint16(buf[3:5]))
		if len(buf) < 5+n {
			break
		}
		if buf[0] == 22 { // handshake
			t.tlsHandshake(buf[5 : 5+n])
		}
		buf = buf[5+n:]
	}
	// Keep only a partial record, and never much of one.
	if len(buf) > 1<<15 {
		buf = nil
	}
	t.tlsRec[i] = append(t.tlsRec[i][:0], buf...)
}

// tlsHandshake reads a cleartext handshake message.
func (t *Tap) tlsHandshake(m []byte) {
	if len(m) < 4 {
		return
	}
	body := m[4:]
	switch m[0] {
	case 1: // ClientHello
		t.tlsSNI = clientHelloSNI(body)
	case 2: // ServerHello
		version, suite, resumed, ok := serverHello(body)
		if !ok {
			return
		}
		text := fmt.Sprintf("%s, %s", tls.VersionName(version), tls.CipherSuiteName(suite))
		if resumed {
			text += ", session resumed"
		}
		if t.tlsSNI != "" {
			text += ", server name " + t.tlsSNI
		}
		t.emit(trace.Event{Kind: trace.KindTLS, Action: "handshake", Text: text})
	}
}

// cursor reads a TLS handshake body; any short read makes it fail.
type cursor struct {
	b   []byte
	bad bool
}

func (c *cursor) take(n int) []byte {
	if c.bad || len(c.b) < n {
		c.bad = true
		return nil
	}
	v := c.b[:n]
	c.b = c.b[n:]
	return v
}

func (c *cursor) u8() int {
	v := c.take(1)
	if v == nil {
		return 0
	}
	return int(v[0])
}

func (c *cursor) u16() int {
	v := c.take(2)
	if v == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(v))
}

// extensions calls f for each extension of a hello.
func (c *cursor) extensions(f func(typ int, data []byte)) {
	ext := cursor{b: c.take(c.u16())}
	for len(ext.b) > 0 && !ext.bad {
		typ := ext.u16()
		data := ext.take(ext.u16())
		if !ext.bad {
			f(typ, data)
		}
	}
}

func clientHelloSNI(body []byte) string {
	c := cursor{b: body}
	c.take(2 + 32)  // version, random
	c.take(c.u8())  // session id
	c.take(c.u16()) // cipher suites
	c.take(c.u8())  // compression methods
	var sni string
	c.extensions(func(typ int, data []byte) {
		if typ != 0 { // server_name
			return
		}
		d := cursor{b: data}
		list := cursor{b: d.take(d.u16())}
		for len(list.b) > 0 && !list.bad {
			kind := list.u8()
			name := list.take(list.u16())
			if kind == 0 && !list.bad {
				sni = string(name)
			}
		}
	})
	return sni
}

func serverHello(body []byte) (version, suite uint16, resumed, ok bool) {
	c := cursor{b: body}
	version = uint16(c.u16())
	c.take(32)
	c.take(c.u8())
	suite = uint16(c.u16())
	c.u8() // compression
	if len(c.b) > 0 {
		c.extensions(func(typ int, data []byte) {
			switch {
			case typ == 43 && len(data) == 2: // supported_versions
				version = binary.BigEndian.Uint16(data)
			case typ == 41: // pre_shared_key: a resumed session (RFC 8446 §4.2.11)
				resumed = true
			}
		})
	}
	return version, suite, resumed, !c.bad
}
