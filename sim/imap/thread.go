package imap

import (
	"slices"
	"strconv"
	"strings"
)

// threadNode is a message of a thread, or a dummy (msg nil) that stands
// for a message referred to but not selected, or that gathers threads of
// one subject (RFC 5256 §3, REFERENCES).
type threadNode struct {
	msg      *sortMsg
	parent   *threadNode
	children []*threadNode
}

// first is the message a node is sorted by: its own, or a dummy's first
// child's.
func (n *threadNode) first() *sortMsg {
	for n.msg == nil {
		n = n.children[0]
	}
	return n.msg
}

// orderedSubject threads by subject alone (RFC 5256 §3, ORDEREDSUBJECT):
// the messages of one base subject, by sent date, are the children of the
// first; threads are ordered by their first message's sent date.
func orderedSubject(msgs []*sortMsg) []*threadNode {
	msgs = slices.Clone(msgs)
	slices.SortFunc(msgs, func(a, b *sortMsg) int {
		if c := strings.Compare(a.subject, b.subject); c != 0 {
			return c
		}
		return bySent(a, b)
	})
	var threads []*threadNode
	for i := 0; i < len(msgs); {
		root := &threadNode{msg: msgs[i]}
		j := i + 1
		for ; j < len(msgs) && msgs[j].subject == root.msg.subject; j++ {
			root.children = append(root.children, &threadNode{msg: msgs[j]})
		}
		threads = append(threads, root)
		i = j
	}
	slices.SortStableFunc(threads, func(a, b *threadNode) int { return bySent(a.msg, b.msg) })
	return threads
}

// references threads by Message-ID, References and In-Reply-To, then
// gathers threads of one base subject (RFC 5256 §3, REFERENCES). msgs are
// in sequence order.
func references(msgs []*sortMsg) []*threadNode {
	// (1) Link each message to its parent. A Message-ID is the first
	// message's that has it; a message without one, or with a later
	// duplicate, can not be referred to. A reference to no selected
	// message is a dummy.
	byID := map[string]*threadNode{}
	all := make([]*threadNode, 0, len(msgs))
	for _, m := range msgs {
		n := &threadNode{msg: m}
		all = append(all, n)
		if _, dup := byID[m.msgID]; m.msgID != "" && !dup {
			byID[m.msgID] = n
		}
	}
	node := func(id string) *threadNode {
		n := byID[id]
		if n == nil {
			n = &threadNode{}
			byID[id] = n
			all = append(all, n)
		}
		return n
	}
	for _, n := range all[:len(msgs)] {
		refs := n.msg.refs
		// (A) Each reference is the parent of the next, unless the
		// next has a parent already.
		for i := 0; i+1 < len(refs); i++ {
			parent, child := node(refs[i]), node(refs[i+1])
			if child.parent == nil {
				link(parent, child)
			}
		}
		// (B) The last reference is the message's parent, over any
		// link (A) made; none when it has no references.
		unlink(n)
		if len(refs) > 0 {
			link(node(refs[len(refs)-1]), n)
		}
	}

	// (2) The messages without a parent head the threads; (3) dummies
	// are pruned.
	var roots []*threadNode
	for _, n := range all {
		if n.parent == nil {
			roots = append(roots, n)
		}
	}
	roots = prune(roots, true)

	// (4) The threads, by sent date (a dummy's by its first child's).
	for _, n := range roots {
		if n.msg == nil {
			slices.SortStableFunc(n.children, func(a, b *threadNode) int { return bySent(a.first(), b.first()) })
		}
	}
	slices.SortStableFunc(roots, func(a, b *threadNode) int { return bySent(a.first(), b.first()) })

	// (5) Threads of one base subject are gathered.
	subject := func(n *threadNode) string { return n.first().subject }
	table := map[string]*threadNode{}
	for _, n := range roots {
		s := subject(n)
		if s == "" {
			continue
		}
		old, ok := table[s]
		if !ok || old.msg != nil && (n.msg == nil || old.msg.reply && !n.msg.reply) {
			table[s] = n
		}
	}
	at := map[*threadNode]int{}
	for i, n := range roots {
		at[n] = i
	}
	for i, n := range roots {
		s := subject(n)
		if s == "" || table[s] == n {
			continue
		}
		t := table[s]
		switch {
		case t.msg == nil && n.msg == nil:
			t.children = append(t.children, n.children...)
		case t.msg == nil || n.msg != nil && n.msg.reply && !t.msg.reply:
			t.children = append(t.children, n)
		default:
			d := &threadNode{children: []*threadNode{t, n}}
			roots[at[t]], at[d] = d, at[t]
			table[s] = d
		}
		roots[i] = nil
	}
	roots = slices.DeleteFunc(roots, func(n *threadNode) bool { return n == nil })

	// (6) Siblings by sent date, the deepest first.
	sortThreads(roots)
	return roots
}

// link makes parent the parent of child, unless that would make a loop.
func link(parent, child *threadNode) {
	for p := parent; p != nil; p = p.parent {
		if p == child {
			return
		}
	}
	child.parent = parent
	parent.children = append(parent.children, child)
}

// unlink takes a node from its parent.
func unlink(n *threadNode) {
	if p := n.parent; p != nil {
		p.children = slices.DeleteFunc(p.children, func(c *threadNode) bool { return c == n })
		n.parent = nil
	}
}

// prune drops the dummies without children and puts the children of the
// others in their place, but at the top (RFC 5256 §3, REFERENCES (3)),
// where a dummy stays to hold two children or more.
func prune(nodes []*threadNode, top bool) []*threadNode {
	var out []*threadNode
	for _, n := range nodes {
		n.children = prune(n.children, false)
		switch {
		case n.msg != nil:
			out = append(out, n)
		case len(n.children) == 0:
		case !top || len(n.children) == 1:
			out = append(out, n.children...)
		default:
			out = append(out, n)
		}
	}
	return out
}

// sortThreads orders every set of siblings by sent date, children before
// their parents (RFC 5256 §3, REFERENCES (6)).
func sortThreads(nodes []*threadNode) {
	for _, n := range nodes {
		sortThreads(n.children)
	}
	slices.SortStableFunc(nodes, func(a, b *threadNode) int { return bySent(a.first(), b.first()) })
}

// threadList writes threads as THREAD does (RFC 5256 §4): "(2)(3 6 (4
// 23)(44 7 96))": a message and its only child follow each other, several
// children are each in parentheses, a dummy is not written.
func threadList(threads []*threadNode) string {
	var b strings.Builder
	for _, n := range threads {
		b.WriteByte('(')
		writeThread(&b, n)
		b.WriteByte(')')
	}
	return b.String()
}

func writeThread(b *strings.Builder, n *threadNode) {
	sep := ""
	for {
		if n.msg != nil {
			b.WriteString(sep + strconv.FormatUint(uint64(n.msg.num), 10))
			sep = " "
		}
		if len(n.children) != 1 {
			break
		}
		n = n.children[0]
	}
	if len(n.children) > 1 {
		b.WriteString(sep)
		for _, c := range n.children {
			b.WriteByte('(')
			writeThread(b, c)
			b.WriteByte(')')
		}
	}
}
