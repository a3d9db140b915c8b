// Package imap is mailhop's IMAP server: where a mail client reads, files
// and searches the mail the MDA delivered, and sees new mail arrive while it
// waits.
//
// It is one go-imap v2 imapserver.Session written over the store.Store
// interface, so the memory store of the simulation and the Maildir store of
// `mailhop serve` behave the same. The Server has the shape of go-smtp's:
// exported configuration fields, then Serve(l) with as many listeners as
// wanted (a real socket or a netsim one), Close and Shutdown(ctx).
//
// # What it implements
//
//   - RFC 9051 (IMAP4rev2) and RFC 3501 (IMAP4rev1), both advertised:
//     CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE, ENABLE,
//     SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST,
//     LSUB, NAMESPACE, STATUS, APPEND, IDLE, CLOSE, UNSELECT, EXPUNGE,
//     SEARCH, FETCH, STORE, COPY, MOVE and their UID forms. \Seen is set by
//     BODY[...] and BINARY[...] fetches, never by the .PEEK forms (RFC 9051
//     §6.4.5); an EXAMINEd mailbox is never changed. For an IMAP4rev2
//     client SELECT also returns the mailbox's LIST response (§6.3.2).
//     MOVE into the selected mailbox itself gives the messages new UIDs
//     (COPYUID) and expunges the old, as Dovecot does, the EXPUNGE
//     responses before the EXISTS.
//   - \Recent (RFC 3501 §2.3.2) for IMAP4rev1 clients: a message is
//     recent in the first session that selects its mailbox after it
//     arrived or is told of it while selecting it; EXAMINE shows but does
//     not take it. SELECT's and STATUS's RECENT, an untagged RECENT with
//     new mail, FETCH FLAGS and SEARCH RECENT, NEW and OLD follow it (kept by
//     the Server; not kept across restarts).
//   - Keywords: SELECT's FLAGS and PERMANENTFLAGS (with \*) list those in
//     use; one that STORE, APPEND or COPY brings into a mailbox is
//     announced by an untagged FLAGS to every session that has it selected,
//     before a FETCH shows it.
//   - ENVELOPE addresses are parsed by the server: groups as RFC 3501
//     §7.4.2 marks them, obsolete routes and comments read, the comment
//     after an addr-spec alone taken for its name (RFC 5322 §3.4's legacy
//     "user@domain (Real Name)"); SEARCH FROM, TO, CC and BCC match the
//     addresses too.
//   - Subscriptions: CREATE subscribes nothing, neither the mailbox nor
//     the superiors it creates (the store's own mailboxes are
//     subscribed); a subscribed mailbox that is deleted stays
//     subscribed (RFC 3501 §6.3.6), as does a name subscribed before it
//     exists (the server keeps those while it runs); LSUB shows a hidden
//     subscription's superior \Noselect (§6.3.9); LIST (SUBSCRIBED) marks
//     them \NonExistent, and with RECURSIVEMATCH gives CHILDINFO (RFC 5258
//     §3.5).
//   - Extensions, for IMAP4rev1 clients (all are part of IMAP4rev2):
//     NAMESPACE (RFC 2342), UIDPLUS (RFC 4315: APPENDUID and COPYUID from
//     the store's own UIDs), MOVE (RFC 6851), IDLE (RFC 2177), UNSELECT
//     (RFC 3691), ENABLE (RFC 5161), ESEARCH (RFC 4731), SEARCHRES
//     (RFC 5182), LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819),
//     CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154, the attribute the store
//     gives each mailbox; a new user has Drafts, Sent, Trash and Junk), STATUS=SIZE (RFC 8438), BINARY (RFC 3516: APPEND
//     takes a literal8 that may hold NUL, its binary parts stored in
//     base64, and a partial BINARY[...]<n.m> is answered with its
//     origin), SASL-IR (RFC 4959), LITERAL+ and
//     LITERAL- (RFC 7888), APPENDLIMIT (RFC 7889), ID (RFC 2971, before
//     login too), QUOTA (RFC 9208: GETQUOTAROOT and GETQUOTA of one root
//     over a user's mailboxes, STORAGE and MESSAGE from the Server's
//     Quota, which APPEND and COPY may not pass: NO [OVERQUOTA]; no
//     SETQUOTA), MULTIAPPEND (RFC 3502: several messages in one APPEND,
//     stored all or none; the ones stored before a failure are expunged
//     again, so other sessions may see them come and go) and AUTH=PLAIN
//     (RFC 4616).
//   - CONDSTORE (RFC 7162 §3.1), on both stores: every message has a
//     mod-sequence, raised by each change of its flags, and every
//     mailbox a HIGHESTMODSEQ, raised by expunges too. SELECT and
//     EXAMINE (CONDSTORE), FETCH's MODSEQ item and CHANGEDSINCE
//     modifier, STORE (UNCHANGEDSINCE n), answered [MODIFIED set] for
//     the messages changed since, SEARCH's MODSEQ key (answered with
//     the highest mod-sequence of the matches; the per-flag entry names
//     read as the message's), STATUS HIGHESTMODSEQ and ENABLE CONDSTORE.
//     Once a connection used one of them, SELECT says HIGHESTMODSEQ,
//     every FETCH response names its UID, and those with FLAGS (another
//     session's flag change included) and a STORE's (even .SILENT)
//     carry MODSEQ.
//   - QRESYNC (RFC 7162 §3.2), after ENABLE QRESYNC: EXPUNGE responses
//     become VANISHED with the UID; SELECT and EXAMINE (QRESYNC
//     (uidvalidity modseq [known-uids [seq-match]])) end with the
//     messages changed since, as FETCH (UID FLAGS MODSEQ), and VANISHED
//     (EARLIER) with the known UIDs gone; UID FETCH (CHANGEDSINCE n
//     VANISHED) says the UIDs of its set that are gone. The expunges'
//     mod-sequences are not kept: VANISHED (EARLIER) names every UID
//     asked about that is gone, as RFC 7162 allows (see qresync.go).
//   - SORT and THREAD (RFC 5256) and their UID forms, for every client:
//     SORT by ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT and TO, REVERSE,
//     and DISPLAYFROM and DISPLAYTO (SORT=DISPLAY, RFC 5957); ESORT
//     (RFC 5267: SORT RETURN (MIN MAX COUNT ALL SAVE), answered ESEARCH);
//     THREAD=ORDEREDSUBJECT and THREAD=REFERENCES. Charsets UTF-8 and
//     US-ASCII (another is NO [BADCHARSET (UTF-8 US-ASCII)]). Subjects
//     compare as base subjects (§2.1), strings in Unicode title case
//     (i;unicode-casemap without its decomposition: "[" and "_" after
//     the letters), addresses by the field's first address structure,
//     as ENVELOPE shows it (a group's name when the field starts with a
//     group, RFC 5957 §3), dates as sent (the Date field in UTC, else
//     the internal date), ties by sequence number. The search keys are
//     SEARCH's, parsed and matched by the same code, with the same
//     bounds.
//
// # Sequence numbers and other sessions
//
// The store is the truth; the server keeps, per user and mailbox, the
// current list of UIDs and one imapserver.MailboxTracker, shared by every
// session that has the mailbox selected and fed by store.Watch. A message
// the MDA appends from another goroutine is announced at once to a session
// in IDLE (and at the next command to the others); a flag change or an
// expunge made by one session, by POP3 or by anyone else is reported to
// every other session with its own sequence numbers (RFC 9051 §5.2, §7.5).
// go-imap writes a session's pending changes after its command's own
// answer, so a change told late could undo a newer state the command
// showed: every FETCH response that names its UID therefore shows the
// message's flags as they are when it is written (the mailbox keeps
// them as last heard, ahead of the tracker), but for keywords no FLAGS
// response has named to the session yet. The last FETCH a client reads
// of a message is its state; imaptest's checkpoints, which compare what
// every client believes, agree.
// A selected mailbox that is deleted or renamed away looks empty to the
// sessions that had it selected.
//
// # Policy beyond the RFCs
//
// Passwords are accepted only over TLS (STARTTLS, or implicit TLS for
// port 993), from a loopback peer, or with InsecureAuth (the teaching world,
// where the simulated network carries no secrets); other cleartext
// connections are told LOGINDISABLED and answered NO [PRIVACYREQUIRED].
// Failed logins are counted per client address by an auth.Limiter (the
// Limiter field, shared with SMTP and POP3 in `mailhop serve`, or the
// server's own): a failure waits on the server's clock before its NO
// [AUTHENTICATIONFAILED], longer for an address that keeps failing, and an
// address that failed too often is answered NO [UNAVAILABLE] without its
// password being checked, until it has been quiet for a while. After
// MaxLoginFailures failed or refused logins a connection accepts no more,
// and the next attempt ends it with BYE. A login may give the full address
// or, when the user directory allows, the local part; the canonical address
// is the store user, created on first login. Mailbox names go through store.CanonicalName ("/" is the
// hierarchy delimiter, INBOX is case-insensitive, no "..", no path escapes)
// and a bad one is answered NO [CANNOT] with the reason. An APPEND literal
// larger than MaxLiteralSize is refused before a byte of it is read, and
// the literal is never allocated at its announced size.
//
// Work per command and per user is bounded. A command may have at most
// 48 KiB outside its literals (RFC 7162 §4): a longer one is refused
// whole, BAD, never cut into commands. A literal go-imap would buffer
// (any argument but APPEND's message) may have at most 4096 bytes: a
// larger synchronising one is answered NO [TOOBIG] in place of "+"
// (RFC 9051 §7.5), a larger non-synchronising one BAD with its data
// skipped (RFC 7888 §4). A SEARCH may have at most 1000 keys nested at
// most 64 deep (each OR, NOT and parenthesised list is a level): more is
// BAD. A user has at most MaxMailboxes mailboxes: a CREATE (or RENAME
// INBOX) beyond is answered NO [LIMIT] (RFC 5530 §3). An APPEND may carry
// at most 1000 messages: one more is NO [LIMIT], and none is kept. Where
// the refused part follows a literal, go-imap already holds the command's
// start and answers the refusal as a syntax error; after an APPEND's
// message (which go-imap would keep, and answer nothing), the guard
// answers, and what was stored is expunged again. These guards read the
// decrypted commands, so they hold on every transport (see below).
//
// The guard also answers, in order with go-imap's answers, what go-imap
// can not: a command using CONDSTORE or QRESYNC, which go-imap gets without it
// while the session and the view add what it asked for to go-imap's
// answers (see condstore.go); ID; QUOTA's GETQUOTAROOT, GETQUOTA and SETQUOTA; a
// MULTIAPPEND, each message given to go-imap as an APPEND of its own,
// their answers made one; SORT and THREAD, which go-imap gets as the SEARCH with
// the same keys (so it parses them, literals included, and checks the
// state), whose answer the session writes in place of go-imap's SEARCH
// response, pending updates then following as after a SEARCH (no
// EXPUNGE after one by sequence numbers, RFC 9051 §7.5.1); a mailbox
// name that is not valid modified UTF-7 (NO [CANNOT], RFC 3501
// §5.1.3), or that has raw 8-bit characters from a
// client that enabled neither UTF8=ACCEPT nor IMAP4rev2 (NO [CANNOT],
// RFC 3501 §5.1, RFC 6855 §3; decided once an ENABLE before it has been
// answered). A LIST or LSUB pattern that is not valid in the same way
// matches no mailbox: go-imap gets the LIST without it, and one left
// without patterns is answered OK, as Dovecot does. It skips the data of
// a non-synchronising APPEND literal over APPENDLIMIT, which go-imap
// refuses without reading. It follows go-imap's answers too: the data of
// a synchronising literal is passed on only if go-imap said "+".
//
// Wire lines are reported by the network's tap; the server itself emits one
// trace.KindFetch event per message whose body a FETCH returns.
//
// # Transport
//
// The server owns each connection's transport, and go-imap only sees a
// view of it: the stream of commands after the guards, over cleartext or
// over TLS the server runs itself. With ImplicitTLS, or on a listener of
// tls.NewListener (port 993), the handshake comes first, bounded in
// time. STARTTLS on a cleartext port never reaches go-imap: the guard
// takes the command once go-imap has answered those before it, refuses
// it (BAD) with an argument, over TLS, without a TLSConfig or after
// login, and otherwise answers OK, drops whatever the client sent after
// the command line (RFC 9051 §6.2.1; the injection of RFC 3207 §4.2),
// runs the handshake and gives the decrypted stream to go-imap as a new
// connection, without its greeting. So the line, literal and SEARCH
// guards read decrypted commands on every port, and the trace shows the
// lines inside TLS, marked as such. Before login a session holds nothing
// a client needs after STARTTLS; the connection's count of failed logins
// carries over.
//
// go-imap grants logins and offers STARTTLS per server (its Options),
// and learns that a connection is encrypted only from its type
// (*tls.Conn), which a view is not. So three go-imap servers share the
// connections: a cleartext one from a peer that may not send passwords
// in clear is told STARTTLS and LOGINDISABLED; a cleartext one from a
// loopback peer, or with InsecureAuth, AUTH=PLAIN and STARTTLS; and one
// inside TLS AUTH=PLAIN alone.
//
// # Limits inherited from go-imap v2.0.0-beta.8
//
// imapserver parses commands before the session sees them, and answers some
// malformed ones NO [SERVERBUG] "Internal server error" rather than BAD: a
// malformed sequence set or SEARCH key, and a mailbox name in modified
// UTF-7 that only a literal carries (the guard reads names outside
// literals; for the same reason an 8-bit name in a literal is taken
// from any client). The session goes on safely and the real reason goes
// to ErrorLog. Its capability lists can hold only the capabilities it
// knows, so the views add ID, LITERAL+ before login, and SORT, THREAD,
// ESORT, QUOTA, MULTIAPPEND, CONDSTORE and QRESYNC after login, to the lines it
// writes. A SORT or THREAD with a MODSEQ key, LIST-STATUS's
// HIGHESTMODSEQ, and CONDSTORE's parts after a literal on the same
// command line are refused as go-imap refuses them. Its imap.Address has
// no route (at-domain-list), which its writer always writes NIL, so the
// session writes an ENVELOPE with a route itself, in a FETCH response of
// its own. The FETCH responses that tell a session of another's flag
// change come from its MailboxTracker, alike for every session: the view
// adds \Recent to those of the messages recent in the session.
package imap
