package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// CONDSTORE across a crash of mailhop serve (RFC 7162 §3.1.2.1: a
// mailbox's HIGHESTMODSEQ never goes back): Python's imaplib remembers
// the highest mod-sequence, mailhop is killed (kill -9) and started
// again, and the same client then finds a higher one, and every message
// changed since, with the flags it has.
func TestServeCondStoreAcrossCrash(t *testing.T) {
	need(t, "python3")
	m := connServer(t, "127.0.0.1")
	m.start()
	m.killAtEnd()
	out := py(t, m, `
for i in range(3):
    m.append('INBOX', None, None, b'Subject: %d\r\n\r\nbody\r\n' % i)
m._simple_command('SELECT', 'INBOX', '(CONDSTORE)')
m.state = 'SELECTED'
m.store('1', '+FLAGS', '(\\Flagged)')
m.store('2', '+FLAGS', '(\\Seen)')
print('before', m.status('INBOX', '(HIGHESTMODSEQ)')[1][0].decode())
`)
	match := regexp.MustCompile(`before INBOX \(HIGHESTMODSEQ (\d+)\)`).FindStringSubmatch(out)
	if match == nil {
		t.Fatalf("no HIGHESTMODSEQ before the crash:\n%s", out)
	}
	before, _ := strconv.ParseUint(match[1], 10, 64)

	m.kill()
	m.start()
	out = py(t, m, fmt.Sprintf(`
m._simple_command('SELECT', 'INBOX', '(CONDSTORE)')
m.state = 'SELECTED'
print('after', m.response('HIGHESTMODSEQ')[1][0].decode())
typ, data = m.uid('FETCH', '1:*', '(FLAGS)', '(CHANGEDSINCE %d)')
print('changed', ' '.join(d.decode() for d in data if d))
`, before))
	match = regexp.MustCompile(`after (\d+)`).FindStringSubmatch(out)
	if match == nil {
		t.Fatalf("no HIGHESTMODSEQ after the restart:\n%s", out)
	}
	after, _ := strconv.ParseUint(match[1], 10, 64)
	if after <= before {
		t.Errorf("HIGHESTMODSEQ went from %d before the crash to %d after it", before, after)
	}
	for _, want := range []string{`UID 1 MODSEQ (`, `FLAGS (\Flagged`, `UID 2 MODSEQ (`, `FLAGS (\Seen`, `UID 3 MODSEQ (`} {
		if !strings.Contains(out, want) {
			t.Errorf("FETCH CHANGEDSINCE %d after the restart lacks %q:\n%s", before, want, out)
		}
	}
}
