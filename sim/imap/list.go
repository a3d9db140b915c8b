package imap

import (
	"slices"
	"strings"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailhop/mailhop/sim/store"
)

// List is LIST and LSUB (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED, RFC 5819
// LIST-STATUS, RFC 6154 SPECIAL-USE, RFC 3348 CHILDREN).
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *goimap.ListOptions) error {
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy delimiter and the root.
		return w.WriteList(&goimap.ListData{Attrs: []goimap.MailboxAttr{goimap.MailboxAttrNoSelect}, Delim: delim})
	}
	infos, err := s.srv.Store.Mailboxes(s.user)
	if err != nil {
		return s.storeError(err)
	}
	full := make([]string, len(patterns))
	for i, p := range patterns {
		full[i] = fullPattern(ref, p)
	}

	exists := make(map[string]store.MailboxInfo, len(infos))
	hasChildren := map[string]bool{}
	subscribedBelow := map[string]bool{}
	for _, mi := range infos {
		exists[mi.Name] = mi
	}
	impliedSet := map[string]bool{}
	all := slices.Clone(infos)
	for _, mi := range infos {
		for i := len(mi.Name) - 1; i > 0; i-- {
			if mi.Name[i] != delim {
				continue
			}
			parent := mi.Name[:i]
			hasChildren[parent] = true
			if mi.Subscribed {
				subscribedBelow[parent] = true
			}
			if _, ok := exists[parent]; !ok {
				// A superior that is not a mailbox: listed with \Noselect.
				exists[parent] = store.MailboxInfo{Name: parent}
				impliedSet[parent] = true
				all = append(all, store.MailboxInfo{Name: parent})
			}
		}
	}
	store.SortMailboxes(all)

	for _, mi := range all {
		implied := impliedSet[mi.Name]
		matched, byPercent := false, false
		for _, p := range full {
			if imapserver.MatchList(mi.Name, delim, "", p) {
				matched = true
				byPercent = byPercent || strings.HasSuffix(p, "%")
			}
		}
		if !matched {
			continue
		}
		childInfo := false
		switch {
		case options.SelectSubscribed:
			if !mi.Subscribed {
				if !options.SelectRecursiveMatch || !subscribedBelow[mi.Name] {
					continue
				}
				childInfo = true
			}
		case implied && !byPercent:
			continue
		}
		if options.SelectSpecialUse && (implied || mi.SpecialUse == "") {
			continue
		}
		data := &goimap.ListData{Mailbox: mi.Name, Delim: delim}
		if implied {
			data.Attrs = append(data.Attrs, goimap.MailboxAttrNoSelect)
		}
		if hasChildren[mi.Name] {
			data.Attrs = append(data.Attrs, goimap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, goimap.MailboxAttrHasNoChildren)
		}
		if mi.Subscribed && (options.ReturnSubscribed || options.SelectSubscribed) {
			data.Attrs = append(data.Attrs, goimap.MailboxAttrSubscribed)
		}
		if !implied && mi.SpecialUse != "" {
			data.Attrs = append(data.Attrs, goimap.MailboxAttr(mi.SpecialUse))
		}
		if childInfo {
			data.ChildInfo = &goimap.ListDataChildInfo{Subscribed: true}
		}
		if options.ReturnStatus != nil && !implied {
			if st, err := s.status(mi.Name, options.ReturnStatus); err == nil {
				data.Status = st
			}
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// fullPattern joins a LIST reference and pattern into one pattern over
// whole names, with a leading "inbox" in the canonical case (INBOX is
// case-insensitive, RFC 9051 §5.1).
func fullPattern(ref, pattern string) string {
	var full string
	switch {
	case strings.HasPrefix(pattern, string(delim)):
		full = pattern[1:]
	case ref == "":
		full = pattern
	case strings.HasSuffix(ref, string(delim)):
		full = ref + pattern
	default:
		full = ref + string(delim) + pattern
	}
	if len(full) >= len(store.Inbox) && strings.EqualFold(full[:len(store.Inbox)], store.Inbox) &&
		(len(full) == len(store.Inbox) || strings.ContainsRune("/*%", rune(full[len(store.Inbox)]))) {
		full = store.Inbox + full[len(store.Inbox):]
	}
	return full
}
