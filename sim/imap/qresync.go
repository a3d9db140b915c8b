package imap

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/mailhop/mailhop/sim/store"
)

// QRESYNC (RFC 7162 §3.2) builds on CONDSTORE (condstore.go): once a
// client has sent ENABLE QRESYNC,
//
//   - every EXPUNGE response becomes VANISHED with the message's UID
//     (§3.2.10). go-imap's tracker writes the responses with sequence
//     numbers; the mailbox keeps, in order, the UIDs of the expunges it
//     queues to the tracker, and each session's view takes the next one
//     as it writes each EXPUNGE response (selection.nextExpunged);
//   - SELECT and EXAMINE take (QRESYNC (uidvalidity modseq [known-uids])):
//     when the UIDVALIDITY is the mailbox's, the answer ends with the
//     messages changed since modseq (FETCH with UID, FLAGS and MODSEQ)
//     and the known UIDs that are gone (VANISHED (EARLIER)), §3.2.5;
//   - UID FETCH takes (CHANGEDSINCE n VANISHED), which says the UIDs of
//     the set that are gone, VANISHED (EARLIER), before the FETCH
//     responses (§3.2.6).
//
// The server does not keep the mod-sequence of each expunge: VANISHED
// (EARLIER) names every UID of the set that is not in the mailbox, those
// expunged before modseq too, as §3.2.5.2 and §3.2.6 allow a server that
// does not remember them. A client only forgets messages it does not
// have. The seq-match-data of SELECT's QRESYNC (a hint to save that
// cost) is read and not needed.

// qresyncParams are SELECT's QRESYNC parameters.
type qresyncParams struct {
	validity uint32
	modseq   uint64
	known    [][2]store.UID // known-uids, ascending ranges; nil: every UID
}

// parseQresync reads "(uidvalidity modseq [known-uids [(seq-match-data)]])"
// from toks, and returns how many tokens it took.
func parseQresync(toks []token) (qr *qresyncParams, n int, why string) {
	if len(toks) < 4 || toks[0].paren != '(' {
		return nil, 0, "QRESYNC takes (uidvalidity mod-sequence [known-uids])"
	}
	v, err1 := strconv.ParseUint(toks[1].text, 10, 32)
	m, err2 := strconv.ParseUint(toks[2].text, 10, 63)
	if toks[1].paren != 0 || toks[2].paren != 0 || err1 != nil || err2 != nil || v == 0 || m == 0 {
		return nil, 0, "QRESYNC's UIDVALIDITY and mod-sequence are numbers above 0"
	}
	qr = &qresyncParams{validity: uint32(v), modseq: m}
	i := 3
	if toks[i].paren == 0 {
		known, ok := parseUIDRanges(toks[i].text)
		if !ok {
			return nil, 0, "QRESYNC's known UIDs are a set of UIDs, without *"
		}
		qr.known = known
		i++
	}
	if i < len(toks) && toks[i].paren == '(' {
		// seq-match-data: two sets, which the server does not need.
		if i+3 >= len(toks) || toks[i+1].paren != 0 || toks[i+2].paren != 0 || toks[i+3].paren != ')' {
			return nil, 0, "QRESYNC's sequence match data is (sequence-set uid-set)"
		}
		i += 4
	}
	if i >= len(toks) || toks[i].paren != ')' {
		return nil, 0, "QRESYNC's list ends after its known UIDs and sequence match data"
	}
	return qr, i + 1, ""
}

// parseUIDRanges reads a set of UIDs without "*": "1:5,7,9:12".
func parseUIDRanges(s string) ([][2]store.UID, bool) {
	var out [][2]store.UID
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := strconv.ParseUint(lo, 10, 32)
		if err != nil || a == 0 {
			return nil, false
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 32); err != nil || b == 0 {
				return nil, false
			}
		}
		out = append(out, [2]store.UID{store.UID(min(a, b)), store.UID(max(a, b))})
	}
	slices.SortFunc(out, func(x, y [2]store.UID) int { return int(x[0]) - int(y[0]) })
	return out, true
}

// inRangesUID reports whether uid is in one of the ranges (nil: every UID).
func inRangesUID(ranges [][2]store.UID, uid store.UID) bool {
	if ranges == nil {
		return true
	}
	for _, r := range ranges {
		if uid >= r[0] && uid <= r[1] {
			return true
		}
	}
	return false
}

// vanishedIn returns the UIDs of the ranges, up to last, that are not in
// uids (ascending): what VANISHED (EARLIER) names.
func vanishedIn(ranges [][2]store.UID, last store.UID, uids []store.UID) goimap.UIDSet {
	var set goimap.UIDSet
	for _, r := range ranges {
		lo, hi := r[0], min(r[1], last)
		if lo > hi {
			continue
		}
		i, _ := slices.BinarySearch(uids, lo)
		next := lo
		for ; i < len(uids) && uids[i] <= hi; i++ {
			if uids[i] > next {
				set.AddRange(goimap.UID(next), goimap.UID(uids[i]-1))
			}
			next = uids[i] + 1
		}
		if next <= hi {
			set.AddRange(goimap.UID(next), goimap.UID(hi))
		}
	}
	return set
}

// isExpunge reports whether a line is an EXPUNGE response: "* n EXPUNGE".
func isExpunge(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("* "))
	if !ok {
		return false
	}
	n, ok := bytes.CutSuffix(rest, []byte(" EXPUNGE\r\n"))
	return ok && isDigits(n)
}

// vanish writes an EXPUNGE response as VANISHED once QRESYNC is on; the
// UID is taken either way, in turn. wmu held.
func (c *clientConn) vanish(line []byte) []byte {
	uid, ok := c.box.nextExpunged()
	if !ok || !c.qresync {
		return line
	}
	return fmt.Appendf(nil, "* VANISHED %d\r\n", uid)
}

// resync is SELECT's QRESYNC answer (RFC 7162 §3.2.5.1): when the client's
// UIDVALIDITY is the mailbox's, the messages of the session's view
// (uids, msgs their state) changed since its mod-sequence, among the
// known UIDs, as FETCH responses with UID, FLAGS and MODSEQ, and the known
// UIDs gone, as VANISHED (EARLIER). recent is the session's \Recent (nil
// for IMAP4rev2).
func resync(qr *qresyncParams, status store.Status, uids []store.UID, msgs []store.Message, recent []store.UID) string {
	if qr.validity != status.UIDValidity {
		return ""
	}
	var b strings.Builder
	known := qr.known
	if known == nil {
		known = [][2]store.UID{{1, status.UIDNext - 1}}
	}
	if gone := vanishedIn(known, status.UIDNext-1, uids); len(gone) > 0 {
		fmt.Fprintf(&b, "* VANISHED (EARLIER) %s\r\n", gone.String())
	}
	j := 0
	for i, uid := range uids {
		for j < len(msgs) && msgs[j].UID < uid {
			j++
		}
		if j == len(msgs) || msgs[j].UID != uid || msgs[j].ModSeq <= qr.modseq || !inRangesUID(qr.known, uid) {
			continue
		}
		var flags []string
		for _, f := range withRecent(msgs[j].Flags, uid, recent) {
			flags = append(flags, string(f))
		}
		fmt.Fprintf(&b, "* %d FETCH (UID %d FLAGS (%s) MODSEQ (%d))\r\n", i+1, uid, strings.Join(flags, " "), msgs[j].ModSeq)
	}
	return b.String()
}

// vanishedEarlier writes UID FETCH's VANISHED (EARLIER) (RFC 7162
// §3.2.6): the UIDs of the set that are not in the mailbox.
func (s *session) vanishedEarlier(set goimap.UIDSet) error {
	st, err := s.srv.Store.Status(s.user, s.sel.mb.key.name)
	if err != nil {
		return s.storeError(err)
	}
	last := st.UIDNext - 1
	var ranges [][2]store.UID
	for _, r := range set {
		lo, hi := store.UID(r.Start), store.UID(r.Stop)
		if r.Start == 0 {
			lo = last
		}
		if r.Stop == 0 {
			hi = last
		}
		ranges = append(ranges, [2]store.UID{min(lo, hi), max(lo, hi)})
	}
	var uids []store.UID
	for _, r := range s.view() {
		uids = append(uids, r.uid)
	}
	gone := vanishedIn(ranges, last, uids)
	if len(gone) == 0 {
		return nil
	}
	_, err = fmt.Fprintf(s.gv, "* VANISHED (EARLIER) %s\r\n", gone.String())
	return err
}
