package imap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"

	"github.com/mailhop/mailhop/sim/auth"
	"github.com/mailhop/mailhop/sim/store"
)

// delim is the hierarchy delimiter of mailbox names, the store's.
const delim = '/'

// session is one IMAP connection. imapserver calls its methods one at a
// time from the connection's goroutine, except Idle, which runs beside the
// wait for DONE.
type session struct {
	srv  *Server
	conn *imapserver.Conn
	cc   *clientConn // the connection, across STARTTLS
	// modseqKeys: the SEARCH being matched has MODSEQ keys, written as
	// keywords (condstore.go).
	modseqKeys bool
	gv         *view // the connection as this session's go-imap sees it
	peer       netip.Addr

	user string // canonical address once logged in

	// selected state
	sel       *selection                // nil: none
	idling    atomic.Pointer[selection] // sel, for Idle's goroutine
	searchRes goimap.UIDSet             // RFC 5182 "$"
}

var (
	_ imapserver.SessionIMAP4rev2   = (*session)(nil)
	_ imapserver.SessionSASL        = (*session)(nil)
	_ imapserver.SessionAppendLimit = (*session)(nil)
	_ imapserver.SessionNamespace   = (*session)(nil)
	_ imapserver.SessionMove        = (*session)(nil)
)

func (s *session) Close() error {
	if s.sel != nil {
		s.unselect()
	}
	s.srv.endSession(s)
	return nil
}

// Errors with their response codes (RFC 5530).
func errNo(code goimap.ResponseCode, format string, v ...any) error {
	return &goimap.Error{Type: goimap.StatusResponseTypeNo, Code: code, Text: fmt.Sprintf(format, v...)}
}

func errBad(format string, v ...any) error {
	return &goimap.Error{Type: goimap.StatusResponseTypeBad, Code: goimap.ResponseCodeClientBug, Text: fmt.Sprintf(format, v...)}
}

// storeError turns a store error into a NO with the right code.
func (s *session) storeError(err error) error {
	var ie *goimap.Error
	switch {
	case errors.As(err, &ie):
		return err
	case errors.Is(err, store.ErrNoMailbox):
		return errNo(goimap.ResponseCodeNonExistent, "No such mailbox")
	case errors.Is(err, store.ErrExists):
		return errNo(goimap.ResponseCodeAlreadyExists, "Mailbox already exists")
	case errors.Is(err, store.ErrInvalidName):
		return errNo(goimap.ResponseCodeCannot, "%s", oneLine(err.Error()))
	case errors.Is(err, store.ErrInbox):
		return errNo(goimap.ResponseCodeCannot, "INBOX can not be deleted")
	case errors.Is(err, store.ErrNoMessage):
		return errNo(goimap.ResponseCodeNonExistent, "No such message")
	case errors.Is(err, store.ErrNoUser):
		return errNo(goimap.ResponseCodeUnavailable, "Mailbox store has no such user")
	case errors.Is(err, store.ErrOverQuota):
		return errNo(goimap.ResponseCodeOverQuota, "Quota exceeded: %s; delete or expunge some mail first", strings.TrimPrefix(err.Error(), store.ErrOverQuota.Error()+": "))
	}
	s.srv.logf("imap: %s: store: %v", s.user, err)
	return errNo(goimap.ResponseCodeUnavailable, "Mailbox store failed, try again later")
}

// oneLine keeps a text safe for a response line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// mailboxName validates a client's mailbox name (already decoded from
// modified UTF-7 by imapserver) and returns the store's canonical form.
func mailboxName(name string) (string, error) {
	cn, err := store.CanonicalName(name)
	if err != nil {
		return "", errNo(goimap.ResponseCodeCannot, "%s", oneLine(err.Error()))
	}
	return cn, nil
}

// ---- Not authenticated state

// loginAllowed is the per-connection rule: TLS, a loopback peer, or
// InsecureAuth. imapserver enforces it too (each connection is given to a
// go-imap server configured for it); this is the second lock.
func (s *session) loginAllowed() bool {
	if s.srv.InsecureAuth || s.peer.Unmap().IsLoopback() {
		return true
	}
	return s.cc.tls
}

func (s *session) tooManyFailures() bool { return s.cc.failures >= s.srv.maxFailures() }

// refused is the answer to a login from an address the Limiter refuses:
// UNAVAILABLE (RFC 5530), a temporary failure that says nothing of the
// password, which was not checked. It counts as a failure of the
// connection.
func (s *session) refused() error {
	s.cc.failures++
	return errNo(goimap.ResponseCodeUnavailable, "Too many failed logins from your address; try again later")
}

// Login is the LOGIN command (RFC 9051 §6.2.3).
func (s *session) Login(username, password string) error {
	if s.tooManyFailures() {
		s.conn.Bye("Too many failed logins")
		return errNo(goimap.ResponseCodeAuthenticationFailed, "Too many failed logins")
	}
	return s.login(username, password)
}

func (s *session) login(username, password string) error {
	if !s.loginAllowed() {
		return errNo(goimap.ResponseCodePrivacyRequired, "TLS is required to log in (use STARTTLS)")
	}
	if s.srv.Users == nil || s.srv.Store == nil {
		return errNo(goimap.ResponseCodeUnavailable, "No users on this server")
	}
	try, ok := s.srv.limiter().Begin(s.cc.raw.RemoteAddr())
	if !ok {
		return s.refused()
	}
	defer try.Done()
	addr, err := s.srv.Users.Authenticate(username, password)
	if err != nil {
		if !errors.Is(err, auth.ErrInvalid) {
			s.srv.logf("imap: login %q: %v", username, err)
		}
		s.cc.failures++
		s.srv.loginDelay(try.Failed())
		if s.tooManyFailures() {
			return errNo(goimap.ResponseCodeAuthenticationFailed,
				"Invalid user name or password; too many failures, this connection accepts no more logins")
		}
		return errNo(goimap.ResponseCodeAuthenticationFailed, "Invalid user name or password")
	}
	if err := s.srv.Store.AddUser(addr); err != nil {
		return s.storeError(err)
	}
	s.user = addr
	s.cc.user.Store(&addr)
	return nil
}

// AuthenticateMechanisms is the list of AUTH= capabilities.
func (s *session) AuthenticateMechanisms() []string { return []string{sasl.Plain} }

// Authenticate is the AUTHENTICATE command (RFC 9051 §6.2.2) with PLAIN
// (RFC 4616).
func (s *session) Authenticate(mech string) (sasl.Server, error) {
	if s.tooManyFailures() {
		// imapserver holds no response lock yet: BYE can go out.
		s.conn.Bye("Too many failed logins")
		return nil, errNo(goimap.ResponseCodeAuthenticationFailed, "Too many failed logins")
	}
	if s.srv.limiter().Blocked(s.cc.raw.RemoteAddr()) {
		// Refused before the client sends its password.
		return nil, s.refused()
	}
	if !strings.EqualFold(mech, sasl.Plain) {
		return nil, errNo(goimap.ResponseCodeCannot, "Unsupported SASL mechanism %s (only PLAIN)", oneLine(mech))
	}
	return saslErrors{sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username && s.srv.Users != nil {
			a, ok1 := s.srv.Users.Lookup(identity)
			b, ok2 := s.srv.Users.Lookup(username)
			if !ok1 || !ok2 || a != b {
				return errNo(goimap.ResponseCodeAuthorizationFailed, "Acting as another user is not supported")
			}
		}
		return s.login(username, password)
	})}, nil
}

// saslErrors turns the plain errors of go-sasl (a malformed response) into
// a BAD, where imapserver would answer NO [SERVERBUG].
type saslErrors struct{ sasl.Server }

func (w saslErrors) Next(resp []byte) ([]byte, bool, error) {
	ch, done, err := w.Server.Next(resp)
	var ie *goimap.Error
	if err != nil && !errors.As(err, &ie) {
		err = errBad("Malformed SASL PLAIN response: %s", oneLine(err.Error()))
	}
	return ch, done, err
}

// ---- Authenticated state

// AppendLimit is advertised as APPENDLIMIT; imapserver refuses a larger
// literal before reading it.
func (s *session) AppendLimit() uint32 { return uint32(s.srv.maxLiteral()) }

func (s *session) Namespace() (*goimap.NamespaceData, error) {
	return &goimap.NamespaceData{
		Personal: []goimap.NamespaceDescriptor{{Prefix: "", Delim: delim}},
	}, nil
}

func (s *session) Create(name string, options *goimap.CreateOptions) error {
	// RFC 9051 §6.3.4: a trailing delimiter declares the intent to create
	// children; the name is created without it.
	if len(name) > 1 && strings.HasSuffix(name, string(delim)) {
		name = name[:len(name)-1]
	}
	cn, err := mailboxName(name)
	if err != nil {
		return err
	}
	for _, use := range options.SpecialUse {
		if string(use) != store.SpecialUse(cn) {
			return errNo("USEATTR", "Special-use attributes follow from mailbox names here (%s is not %s)", oneLine(cn), use)
		}
	}
	if err := s.roomFor(cn); err != nil {
		return err
	}
	s.createParents(cn)
	if err := s.srv.Store.CreateMailbox(s.user, cn); err != nil {
		return s.storeError(err)
	}
	s.created(cn)
	return nil
}

// created leaves a mailbox CREATE (or RENAME) made unsubscribed, as
// the store does not: subscribing is the client's SUBSCRIBE (RFC 9051
// §6.3.4, §6.3.7), and a client that lists its subscriptions (LSUB, LIST
// (SUBSCRIBED)) sees only what it subscribed. A name subscribed before
// it existed stays subscribed (RFC 3501 §6.3.6), now the store's.
func (s *session) created(cn string) {
	if s.srv.isOrphan(s.user, cn) {
		s.srv.setOrphan(s.user, cn, false)
		return
	}
	if err := s.srv.Store.SetSubscribed(s.user, cn, false); err != nil {
		s.srv.logf("imap: %s: unsubscribe new mailbox %q: %v", s.user, cn, err)
	}
}

// roomFor refuses (NO [LIMIT], RFC 5530 §3) to add the mailbox cn, with
// its missing superiors, to a user who would then have more than
// Server.MaxMailboxes. Two sessions creating at the same moment may
// both pass: the bound is loose by the number of sessions.
func (s *session) roomFor(cn string) error {
	limit := s.srv.maxMailboxes()
	if limit < 0 {
		return nil
	}
	boxes, err := s.srv.Store.Mailboxes(s.user)
	if err != nil {
		return s.storeError(err)
	}
	have := make(map[string]bool, len(boxes))
	for _, b := range boxes {
		have[b.Name] = true
	}
	n := len(boxes)
	for i := 0; i <= len(cn); i++ {
		if (i == len(cn) || cn[i] == delim) && !have[cn[:i]] {
			n++
		}
	}
	if n > len(boxes) && n > limit {
		return errNo(goimap.ResponseCodeLimit, "Too many mailboxes: at most %d per user; delete some first", limit)
	}
	return nil
}

// createParents creates the missing superiors of a name (RFC 9051 §6.3.4:
// the server SHOULD), unsubscribed.
func (s *session) createParents(cn string) {
	for i := 0; i < len(cn); i++ {
		if cn[i] == delim {
			if s.srv.Store.CreateMailbox(s.user, cn[:i]) == nil { // ErrExists is fine
				s.created(cn[:i])
			}
		}
	}
}

func (s *session) Delete(name string) error {
	cn, err := mailboxName(name)
	if err != nil {
		return err
	}
	subscribed := false
	if infos, err := s.srv.Store.Mailboxes(s.user); err == nil {
		for _, mi := range infos {
			subscribed = subscribed || mi.Name == cn && mi.Subscribed
		}
	}
	if err := s.srv.Store.DeleteMailbox(s.user, cn); err != nil {
		return s.storeError(err)
	}
	if subscribed {
		s.srv.setOrphan(s.user, cn, true)
	}
	return nil
}

func (s *session) Rename(from, to string, options *goimap.RenameOptions) error {
	src, err := mailboxName(from)
	if err != nil {
		return err
	}
	dst, err := mailboxName(to)
	if err != nil {
		return err
	}
	if dst == store.Inbox {
		return errNo(goimap.ResponseCodeAlreadyExists, "INBOX always exists")
	}
	// The new name replaces the old, except for INBOX (which stays);
	// missing superiors are new.
	added := dst
	if src != store.Inbox {
		added = ""
		if i := strings.LastIndexByte(dst, delim); i >= 0 {
			added = dst[:i]
		}
	}
	if added != "" {
		if err := s.roomFor(added); err != nil {
			return err
		}
	}
	if err := s.rename(src, dst); err != nil {
		return s.storeError(err)
	}
	s.createParents(dst)
	return nil
}

// rename renames a mailbox and its children. The children are renamed one
// at a time, deepest first, so that each store.RenameMailbox call renames
// a single mailbox: store.Memory.RenameMailbox mangles the names of
// children it reaches after the parent (it rewrites the parent's name
// while still using it as the prefix to cut). INBOX's children stay
// (RFC 9051 §6.3.6).
func (s *session) rename(src, dst string) error {
	if src == store.Inbox {
		return s.srv.Store.RenameMailbox(s.user, src, dst)
	}
	infos, err := s.srv.Store.Mailboxes(s.user)
	if err != nil {
		return err
	}
	var children []string
	found := false
	for _, mi := range infos {
		switch {
		case mi.Name == dst || strings.HasPrefix(mi.Name, dst+string(delim)):
			return fmt.Errorf("%w: %s", store.ErrExists, mi.Name)
		case mi.Name == src:
			found = true
		case strings.HasPrefix(mi.Name, src+string(delim)):
			children = append(children, mi.Name)
		}
	}
	if !found {
		return fmt.Errorf("%w: %s", store.ErrNoMailbox, src)
	}
	if strings.HasPrefix(dst, src+string(delim)) {
		return errNo(goimap.ResponseCodeCannot, "A mailbox can not be moved into itself")
	}
	// Deepest first: a longer name is never the parent of a shorter one.
	slices.SortFunc(children, func(a, b string) int { return len(b) - len(a) })
	for _, c := range children {
		if err := s.srv.Store.RenameMailbox(s.user, c, dst+c[len(src):]); err != nil {
			return err
		}
	}
	return s.srv.Store.RenameMailbox(s.user, src, dst)
}

func (s *session) Subscribe(name string) error   { return s.subscribe(name, true) }
func (s *session) Unsubscribe(name string) error { return s.subscribe(name, false) }

// subscribe is SUBSCRIBE and UNSUBSCRIBE (RFC 9051 §6.3.7, §6.3.8). The
// store keeps the subscriptions of its mailboxes; the server keeps those
// of names without one (a mailbox deleted while subscribed, or a name
// subscribed before it exists), for as long as it runs.
func (s *session) subscribe(name string, on bool) error {
	cn, err := mailboxName(name)
	if err != nil {
		return err
	}
	orphan := s.srv.isOrphan(s.user, cn)
	err = s.srv.Store.SetSubscribed(s.user, cn, on)
	switch {
	case errors.Is(err, store.ErrNoMailbox) && (on || orphan):
		s.srv.setOrphan(s.user, cn, on)
		return nil
	case err != nil:
		return s.storeError(err)
	}
	if orphan {
		s.srv.setOrphan(s.user, cn, false)
	}
	return nil
}

// orphans returns the subscribed names of a user that have no mailbox
// (as far as the server knows).
func (s *Server) orphans(user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name := range s.gone[user] {
		out = append(out, name)
	}
	return out
}

func (s *Server) isOrphan(user, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gone[user][name]
}

// setOrphan notes or forgets a subscribed name without a mailbox.
func (s *Server) setOrphan(user, name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.gone[user]
	switch {
	case on && m == nil:
		m = map[string]bool{}
		s.gone[user] = m
		fallthrough
	case on:
		m[name] = true
	default:
		delete(m, name)
	}
}

func (s *session) Status(name string, options *goimap.StatusOptions) (*goimap.StatusData, error) {
	cn, err := mailboxName(name)
	if err != nil {
		return nil, err
	}
	cmd := s.cc.takeCond("STATUS")
	if err := s.announceHighest(cmd); err != nil {
		return nil, err
	}
	data, err := s.status(cn, options)
	if err == nil && cmd != nil && cmd.statusModSeq {
		// STATUS HIGHESTMODSEQ (RFC 7162 §3.1.6), which the view adds to
		// go-imap's STATUS response.
		st, err := s.srv.Store.Status(s.user, cn)
		if err != nil {
			return nil, s.storeError(err)
		}
		s.cc.wmu.Lock()
		cmd.highest = st.HighestModSeq
		s.cc.wmu.Unlock()
	}
	return data, err
}

// status fills every item the client asked for: imapserver dereferences
// them without checking.
func (s *session) status(cn string, options *goimap.StatusOptions) (*goimap.StatusData, error) {
	st, err := s.srv.Store.Status(s.user, cn)
	if err != nil {
		return nil, s.storeError(err)
	}
	data := &goimap.StatusData{
		Mailbox:     cn,
		UIDNext:     goimap.UID(st.UIDNext),
		UIDValidity: st.UIDValidity,
		NumMessages: &st.Messages,
		NumUnseen:   &st.Unseen,
		NumDeleted:  &st.Deleted,
		Size:        &st.Size,
		NumRecent:   new(uint32),
	}
	if options.NumRecent {
		// The selected mailbox: its recent messages are this
		// session's; another: those no session selected yet.
		if sel := s.sel; sel != nil && sel.mb.key.name == cn {
			*data.NumRecent = uint32(len(sel.recentSet()))
		} else if n, err := s.srv.recentCount(boxKey{s.user, cn}, st); err == nil {
			*data.NumRecent = n
		}
	}
	limit := s.AppendLimit()
	data.AppendLimit = &limit
	if options.DeletedStorage {
		var n int64
		if st.Deleted > 0 {
			msgs, err := s.srv.Store.List(s.user, cn)
			if err != nil {
				return nil, s.storeError(err)
			}
			for _, m := range msgs {
				if store.HasFlag(m.Flags, store.FlagDeleted) {
					n += m.Size
				}
			}
		}
		data.DeletedStorage = &n
	}
	return data, nil
}

func (s *session) Append(name string, r goimap.LiteralReader, options *goimap.AppendOptions) (*goimap.AppendData, error) {
	cn, err := mailboxName(name)
	if err != nil {
		return nil, err
	}
	// imapserver refused literals over AppendLimit before reading them;
	// still, read through a limit and let the buffer grow with what
	// arrives rather than trusting the announced size.
	limit := s.srv.maxLiteral()
	if r.Size() > limit {
		return nil, errNo(goimap.ResponseCodeTooBig, "Messages are limited to %d bytes", limit)
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit))
	if err != nil {
		return nil, err // the connection broke: nothing is appended
	}
	if n != r.Size() {
		return nil, errBad("Message literal ended after %d of %d bytes", n, r.Size())
	}
	msg := buf.Bytes()
	// A literal8 (BINARY, RFC 3516 §4.4) may hold any byte, NUL
	// included, and is kept as it came but for its binary parts, stored
	// in base64 (binary.go); a literal may not hold NUL (RFC 9051 §4.3),
	// and its bare line ends become CRLF.
	binary := s.cc.appendBinary(r.Size())
	switch {
	case len(msg) == 0:
		return nil, errBad("Empty message")
	case !binary && bytes.IndexByte(msg, 0) >= 0:
		return nil, errBad("Message contains a NUL byte")
	}
	if binary {
		msg = encodeBinaryParts(msg)
	} else {
		msg = crlf(msg)
	}
	flags, err := storeFlags(options.Flags)
	if err != nil {
		return nil, err
	}
	date := options.Time
	if date.IsZero() {
		date = s.srv.clock().Now()
	}
	if err := s.srv.Quota.Admit(s.srv.Store, s.user, 1, int64(len(msg))); err != nil {
		return nil, s.storeError(err)
	}
	uid, err := s.srv.Store.Append(s.user, cn, msg, flags, date)
	if err != nil {
		if errors.Is(err, store.ErrNoMailbox) {
			return nil, errNo(goimap.ResponseCodeTryCreate, "No such mailbox; create it first")
		}
		return nil, s.storeError(err)
	}
	// The store gives the UID; UIDVALIDITY needs one more question.
	st, err := s.srv.Store.Status(s.user, cn)
	if err != nil {
		return nil, nil // appended; just no APPENDUID
	}
	return &goimap.AppendData{UID: goimap.UID(uid), UIDValidity: st.UIDValidity}, nil
}

// crlf turns bare LF line ends into CRLF: the store keeps messages with
// CRLF (RFC 5322 §2.1), whatever the client sent.
func crlf(msg []byte) []byte {
	bare := false
	for i, c := range msg {
		if c == '\n' && (i == 0 || msg[i-1] != '\r') {
			bare = true
			break
		}
	}
	if !bare {
		return msg
	}
	out := make([]byte, 0, len(msg)+len(msg)/32)
	for i, c := range msg {
		if c == '\n' && (i == 0 || msg[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// storeFlags checks the flags of a STORE or APPEND: the five system flags
// (\Recent is dropped: clients can not set it) and keywords.
func storeFlags(flags []goimap.Flag) ([]string, error) {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if strings.HasPrefix(string(f), `\`) {
			switch strings.ToLower(string(f)) {
			case `\seen`, `\answered`, `\flagged`, `\deleted`, `\draft`:
			case `\recent`:
				continue
			default:
				return nil, errBad("%s is not a system flag a client may set", oneLine(string(f)))
			}
		}
		out = append(out, string(f))
	}
	return out, nil
}

func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.sel == nil {
		return nil
	}
	return s.sel.poll(w, allowExpunge)
}

// Idle is IDLE (RFC 2177, RFC 9051 §6.3.13). It does not use
// SessionTracker.Idle, which loses the updates queued between the "+ idling"
// continuation and its goroutine's start (they wait for the next one):
// the wake-up is registered first, then the queue is flushed, then every
// change the mailbox applies wakes it.
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	// This goroutine may outlive the command: imapserver returns when the
	// connection breaks without waiting for it, and Close follows.
	t := s.idling.Load()
	if t == nil {
		<-stop
		return nil
	}
	wake := make(chan struct{}, 1)
	t.mb.mu.Lock()
	if t.mb.idlers == nil {
		t.mb.idlers = map[chan struct{}]struct{}{}
	}
	t.mb.idlers[wake] = struct{}{}
	t.mb.mu.Unlock()
	defer func() {
		t.mb.mu.Lock()
		delete(t.mb.idlers, wake)
		t.mb.mu.Unlock()
	}()
	for {
		if err := t.poll(w, true); err != nil {
			return err
		}
		select {
		case <-wake:
		case <-stop:
			return nil
		}
	}
}
