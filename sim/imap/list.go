package imap

import (
	"reflect"
	"strings"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mailhop/mailhop/sim/store"
)

// List is LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.9 LSUB, RFC 5258
// LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE, RFC 3348
// CHILDREN).
//
// The names listed are the mailboxes, their superiors that are not
// mailboxes, and the subscribed names whose mailbox is gone (RFC 3501
// §6.3.6: a server "MUST NOT unilaterally remove an existing mailbox
// name from the subscription list"). LSUB lists the subscribed names,
// and a superior of one that "%" hides, \Noselect (RFC 3501 §6.3.9).
// LIST (SUBSCRIBED) lists the subscribed names, \NonExistent when gone;
// with RECURSIVEMATCH also the names that have a subscribed descendant
// the patterns do not match, with CHILDINFO (SUBSCRIBED) (RFC 5258 §3,
// §3.5).
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
	matches := func(name string) (matched, byPercent bool) {
		for _, p := range full {
			if imapserver.MatchList(name, delim, "", p) {
				matched = true
				byPercent = byPercent || strings.HasSuffix(p, "%")
			}
		}
		return matched, byPercent
	}
	lsub := isLSUB(w)

	type entry struct {
		exists, subscribed bool
		special            string
	}
	names := map[string]*entry{}
	for _, mi := range infos {
		names[mi.Name] = &entry{exists: true, subscribed: mi.Subscribed, special: mi.SpecialUse}
	}
	for _, name := range s.srv.orphans(s.user) {
		if names[name] == nil {
			names[name] = &entry{subscribed: true}
		}
	}
	// Superiors: of mailboxes (\HasChildren), and of subscribed names
	// the patterns do not match (what LSUB "%" and RECURSIVEMATCH show).
	hasChildren := map[string]bool{}
	hiddenSubscribed := map[string]bool{}
	for name, e := range names {
		m, _ := matches(name)
		for i := len(name) - 1; i > 0; i-- {
			if name[i] != delim {
				continue
			}
			parent := name[:i]
			if names[parent] == nil && e.exists {
				names[parent] = &entry{}
			}
			if e.exists {
				hasChildren[parent] = true
			}
			if e.subscribed && !m {
				hiddenSubscribed[parent] = true
			}
		}
	}
	sorted := make([]store.MailboxInfo, 0, len(names))
	for name := range names {
		sorted = append(sorted, store.MailboxInfo{Name: name})
	}
	store.SortMailboxes(sorted)

	for _, mi := range sorted {
		name, e := mi.Name, names[mi.Name]
		matched, byPercent := matches(name)
		if !matched {
			continue
		}
		data := &goimap.ListData{Mailbox: name, Delim: delim}
		switch {
		case lsub:
			if !e.subscribed && !(hiddenSubscribed[name] && byPercent) {
				continue
			}
			if !e.exists || !e.subscribed {
				data.Attrs = append(data.Attrs, goimap.MailboxAttrNoSelect)
			}
		case options.SelectSubscribed:
			childInfo := options.SelectRecursiveMatch && hiddenSubscribed[name]
			if !e.subscribed && !childInfo {
				continue
			}
			if !e.exists {
				data.Attrs = append(data.Attrs, goimap.MailboxAttrNonExistent)
			}
			if childInfo {
				data.ChildInfo = &goimap.ListDataChildInfo{Subscribed: true}
			}
		default:
			if !e.exists && (!hasChildren[name] || !byPercent) {
				continue // a gone subscription, or a superior "*" lists below
			}
			if !e.exists {
				data.Attrs = append(data.Attrs, goimap.MailboxAttrNoSelect)
			}
		}
		if options.SelectSpecialUse && (!e.exists || e.special == "") {
			continue
		}
		if hasChildren[name] {
			data.Attrs = append(data.Attrs, goimap.MailboxAttrHasChildren)
		} else if e.exists {
			data.Attrs = append(data.Attrs, goimap.MailboxAttrHasNoChildren)
		}
		if e.subscribed && !lsub && (options.ReturnSubscribed || options.SelectSubscribed) {
			data.Attrs = append(data.Attrs, goimap.MailboxAttrSubscribed)
		}
		if e.exists && e.special != "" {
			data.Attrs = append(data.Attrs, goimap.MailboxAttr(e.special))
		}
		if options.ReturnStatus != nil && e.exists {
			if st, err := s.status(name, options.ReturnStatus); err == nil {
				data.Status = st
			}
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// isLSUB tells LSUB from LIST (SUBSCRIBED): imapserver calls List for
// both with the same options, and only its ListWriter knows (an
// unexported field, read here; a go-imap without it reads as LIST).
func isLSUB(w *imapserver.ListWriter) bool {
	if w == nil {
		return false
	}
	f := reflect.ValueOf(w).Elem().FieldByName("lsub")
	return f.IsValid() && f.Kind() == reflect.Bool && f.Bool()
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

// listData is the LIST response of one mailbox, which SELECT returns to
// an IMAP4rev2 client (RFC 9051 §6.3.2).
func (s *session) listData(cn string) *goimap.ListData {
	data := &goimap.ListData{Mailbox: cn, Delim: delim}
	infos, err := s.srv.Store.Mailboxes(s.user)
	if err != nil {
		return data
	}
	children := false
	for _, mi := range infos {
		children = children || strings.HasPrefix(mi.Name, cn+string(delim))
	}
	if children {
		data.Attrs = append(data.Attrs, goimap.MailboxAttrHasChildren)
	} else {
		data.Attrs = append(data.Attrs, goimap.MailboxAttrHasNoChildren)
	}
	if use := store.SpecialUse(cn); use != "" {
		data.Attrs = append(data.Attrs, goimap.MailboxAttr(use))
	}
	return data
}
