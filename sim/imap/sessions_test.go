package imap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"github.com/mailhop/mailhop/sim/internal/transcripttest"
	"github.com/mailhop/mailhop/sim/store"
)

// A message the MDA delivers from another goroutine shows up at once in a
// session waiting in IDLE.
func TestIdleSeesDelivery(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1))
	u := newUpdates()
	c, _ := w.selectInbox(t, u)
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	go w.Store.Append(bob, "INBOX", msg(2), nil, start)
	u.wait(t, "EXISTS 2 during IDLE", func() bool { return slices.Contains(u.exists, 2) })

	// An expunge and a flag change by someone else arrive too.
	w.Store.SetFlags(bob, "INBOX", []store.UID{2}, store.FlagsAdd, []string{store.FlagFlagged})
	u.wait(t, "FETCH FLAGS during IDLE", func() bool { return slices.Contains(u.flags, `2:\Flagged,\Recent`) })
	w.Store.Expunge(bob, "INBOX", []store.UID{1})
	u.wait(t, "EXPUNGE 1 during IDLE", func() bool { return slices.Equal(u.expunge, []uint32{1}) })
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(goimap.SeqSetNum(1), &goimap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 2 {
		t.Errorf("after IDLE: %+v %v", msgs, err)
	}

	// IDLE without a selected mailbox just waits for DONE.
	c2 := w.login(t, nil)
	idle, err = c2.Idle()
	if err != nil {
		t.Fatal(err)
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

// Two sessions on one mailbox see each other's flag changes and expunges,
// each with its own sequence numbers; UIDs and UIDVALIDITY are the same for
// both, and stay so across sessions.
func TestTwoSessions(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), msg(2), msg(3), msg(4))
	ua, ub := newUpdates(), newUpdates()
	a, selA := w.selectInbox(t, ua)
	b, selB := w.selectInbox(t, ub)
	if selA.UIDValidity != selB.UIDValidity || selA.UIDNext != selB.UIDNext {
		t.Fatalf("SELECT A %+v, B %+v", selA, selB)
	}

	// A flags message 2: A hears it in its STORE answer, B at its next
	// command (and only once).
	res, err := a.Store(goimap.SeqSetNum(2), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.FlagFlagged}}, nil).Collect()
	if err != nil || len(res) != 1 {
		t.Fatalf("STORE: %+v %v", res, err)
	}
	if err := b.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	ub.wait(t, "B sees A's flag", func() bool { return slices.Equal(ub.flags, []string{`2:\Flagged`}) })
	if err := a.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	ua.mu.Lock()
	if len(ua.flags) != 0 {
		t.Errorf("A was told of its own STORE again: %q", ua.flags)
	}
	ua.mu.Unlock()

	// B deletes and expunges message 1; A hears EXPUNGE 1 at its next
	// command that allows it, not during FETCH (RFC 9051 §7.5.1).
	b.Store(goimap.SeqSetNum(1), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagDeleted}}, nil).Close()
	if seqs, err := b.Expunge().Collect(); err != nil || !slices.Equal(seqs, []uint32{1}) {
		t.Fatalf("EXPUNGE: %v %v", seqs, err)
	}
	// Before A is told, its sequence numbers are the old ones: message 3
	// is still number 3 for A, number 2 for B.
	msgs, err := a.Fetch(goimap.SeqSetNum(3), &goimap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 3 {
		t.Errorf("A FETCH 3 before the EXPUNGE is told: %+v %v", msgs, err)
	}
	ua.mu.Lock()
	if len(ua.expunge) != 0 {
		t.Errorf("EXPUNGE sent during FETCH")
	}
	ua.mu.Unlock()
	msgs, err = b.Fetch(goimap.SeqSetNum(2), &goimap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 3 {
		t.Errorf("B FETCH 2: %+v %v", msgs, err)
	}
	if err := a.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	ua.wait(t, "A sees B's expunge", func() bool { return slices.Equal(ua.expunge, []uint32{1}) })
	msgs, err = a.Fetch(goimap.SeqSetNum(2), &goimap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 3 {
		t.Errorf("A FETCH 2 after the EXPUNGE: %+v %v", msgs, err)
	}

	// A message appended by B shows in A.
	body := msg(5)
	cmd := b.Append("INBOX", int64(len(body)), nil)
	cmd.Write(body)
	cmd.Close()
	app, err := cmd.Wait()
	if err != nil || app.UID != 5 {
		t.Fatalf("APPEND: %+v %v", app, err)
	}
	if err := a.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	ua.wait(t, "A sees B's append", func() bool { return slices.Contains(ua.exists, 4) })

	// A later session sees the same UIDs and UIDVALIDITY.
	c, selC := w.selectInbox(t, nil)
	if selC.UIDValidity != selA.UIDValidity {
		t.Errorf("UIDVALIDITY changed: %d then %d", selA.UIDValidity, selC.UIDValidity)
	}
	var all goimap.SeqSet
	all.AddRange(1, 4)
	msgs, err = c.Fetch(all, &goimap.FetchOptions{UID: true}).Collect()
	var uids []goimap.UID
	for _, m := range msgs {
		uids = append(uids, m.UID)
	}
	if err != nil || !slices.Equal(uids, []goimap.UID{2, 3, 4, 5}) {
		t.Errorf("UIDs in a new session: %v %v", uids, err)
	}
}

// A POP3-like store.Expunge from outside shows as EXPUNGE in a selected
// session, with the session's sequence number.
func TestExternalExpunge(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1), msg(2), msg(3))
	u := newUpdates()
	c, _ := w.selectInbox(t, u)
	if _, err := w.Store.Expunge(bob, "INBOX", []store.UID{2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	u.wait(t, "EXPUNGE 3, 2", func() bool { return slices.Equal(u.expunge, []uint32{2, 2}) })
	if n := c.Mailbox().NumMessages; n != 1 {
		t.Errorf("%d messages after the expunge", n)
	}
}

// A selected mailbox deleted by another session empties; the name can be
// created and selected again, with a new UIDVALIDITY.
func TestSelectedMailboxDeleted(t *testing.T) {
	w := newWorld(t)
	w.Store.CreateMailbox(bob, "Lists")
	w.Deliver(t, "Lists", msg(1), msg(2))
	u := newUpdates()
	a := w.login(t, u)
	selA, err := a.Select("Lists", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	b := w.login(t, nil)
	if err := b.Delete("Lists").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := a.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	u.wait(t, "the mailbox emptied", func() bool { return len(u.expunge) == 2 })
	if msgs, err := a.Fetch(goimap.SeqSetNum(1), &goimap.FetchOptions{UID: true}).Collect(); err != nil || len(msgs) != 0 {
		t.Errorf("FETCH in a deleted mailbox: %+v %v", msgs, err)
	}
	if err := b.Create("Lists", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := b.Select("Lists", nil).Wait()
	if err != nil || sel.NumMessages != 0 || sel.UIDValidity == selA.UIDValidity {
		t.Errorf("re-created: %+v %v (old UIDVALIDITY %d)", sel, err, selA.UIDValidity)
	}
	if err := a.UnselectAndExpunge().Wait(); err != nil {
		t.Errorf("CLOSE of the deleted mailbox: %v", err)
	}
	if _, err := a.Select("Lists", nil).Wait(); err != nil {
		t.Errorf("A selects the new mailbox: %v", err)
	}
}

// Many sessions and deliveries at once: every session ends with the same
// view as the store (run with -race).
func TestConcurrentSessions(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(0))
	const sessions, rounds = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, sessions*rounds*4)
	for i := 0; i < sessions; i++ {
		u := newUpdates()
		c, _ := w.selectInbox(t, u)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				body := msg(100*i + r)
				cmd := c.Append("INBOX", int64(len(body)), nil)
				cmd.Write(body)
				cmd.Close()
				if _, err := cmd.Wait(); err != nil {
					errs <- err
					return
				}
				if err := c.Store(goimap.SeqSetNum(1), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Flags: []goimap.Flag{goimap.Flag(fmt.Sprintf("$s%d", i))}}, nil).Close(); err != nil {
					errs <- err
				}
				if _, err := c.Search(&goimap.SearchCriteria{}, nil).Wait(); err != nil {
					errs <- err
				}
			}
			if err := c.Noop().Wait(); err != nil {
				errs <- err
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				uid, err := w.Store.Append(bob, "INBOX", msg(1000*i+r), nil, start)
				if err != nil {
					errs <- err
				} else if r%2 == 0 {
					w.Store.Expunge(bob, "INBOX", []store.UID{uid})
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c, sel := w.selectInbox(t, nil)
	list, _ := w.Store.List(bob, "INBOX")
	if int(sel.NumMessages) != len(list) {
		t.Fatalf("SELECT says %d, store has %d", sel.NumMessages, len(list))
	}
	var all goimap.SeqSet
	all.AddRange(1, uint32(len(list)))
	msgs, err := c.Fetch(all, &goimap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != len(list) {
		t.Fatalf("FETCH: %d, %v", len(msgs), err)
	}
	for i, m := range msgs {
		if m.UID != goimap.UID(list[i].UID) {
			t.Fatalf("message %d: UID %d, store %d", i+1, m.UID, list[i].UID)
		}
	}
}

// Shutdown says BYE to every session, idle or not, waits for them to end,
// and Serve returns ErrServerClosed.
func TestShutdown(t *testing.T) {
	w := newWorld(t)
	w.Deliver(t, "INBOX", msg(1))
	idler, _ := w.selectInbox(t, nil)
	idle, err := idler.Idle()
	if err != nil {
		t.Fatal(err)
	}
	r := w.raw(t)
	r.expect("a1", "LOGIN bob bob", "OK")
	ctx, cancel := context.WithTimeout(context.Background(), transcripttest.WallLimit())
	defer cancel()
	if err := w.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	closed, lines := r.Drain()
	if !closed || !slices.Equal(lines, []string{"* BYE Server shutting down"}) {
		t.Errorf("session at Shutdown: closed %v, %q", closed, lines)
	}
	select {
	case <-idler.Closed():
	case <-time.After(transcripttest.WallLimit()):
		t.Errorf("the IDLE session is still open")
	}
	idle.Close()
	select {
	case err := <-w.served:
		if !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		w.served <- err // for the cleanup
	case <-time.After(transcripttest.WallLimit()):
		t.Fatal("Serve did not return")
	}
	if _, err := w.Client.DialContext(context.Background(), "tcp", w.Addr); err == nil {
		t.Errorf("dial after Shutdown succeeded")
	}
	if err := w.srv.Serve(nil); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	w.srv.mu.Lock()
	n, boxes := len(w.srv.sessions), len(w.srv.boxes)
	w.srv.mu.Unlock()
	if n != 0 || boxes != 0 {
		t.Errorf("after Shutdown: %d sessions, %d mailboxes", n, boxes)
	}
}
