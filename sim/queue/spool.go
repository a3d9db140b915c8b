package queue

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// State is where a recipient of a queued message stands.
type State string

// Recipient states.
const (
	Pending   State = "pending"
	Delivered State = "delivered"
	Failed    State = "failed"
)

// Envelope is a queued message's envelope and delivery record: everything
// but the message itself.
type Envelope struct {
	ID string `json:"id"`
	// From is the envelope sender (MAIL FROM); "" for a bounce (<>).
	From    string    `json:"from"`
	Rcpts   []*Rcpt   `json:"rcpts"`
	Created time.Time `json:"created"`
	// Next is when the next attempt is due (zero: at once).
	Next     time.Time `json:"next"`
	Attempts int       `json:"attempts"`
	Warned   bool      `json:"warned,omitempty"` // a delay DSN was sent
	Size     int64     `json:"size"`
	// Key ties the message's trace events (its Message-ID).
	Key string `json:"key,omitempty"`
}

// Rcpt is one recipient and its delivery state.
type Rcpt struct {
	Addr  string `json:"addr"`
	State State  `json:"state"`
	// Reply is the last reply or error for this recipient.
	Reply string `json:"reply,omitempty"`
	// Remote is the host that gave Reply ("mx.example.net").
	Remote string `json:"remote,omitempty"`
	// Status is the RFC 3463 status code of the outcome ("5.1.1").
	Status string `json:"status,omitempty"`
}

// Clone returns a deep copy.
func (e *Envelope) Clone() *Envelope {
	c := *e
	c.Rcpts = make([]*Rcpt, len(e.Rcpts))
	for i, r := range e.Rcpts {
		rc := *r
		c.Rcpts[i] = &rc
	}
	return &c
}

// Pending returns the recipients still to deliver.
func (e *Envelope) Pending() []*Rcpt {
	var out []*Rcpt
	for _, r := range e.Rcpts {
		if r.State == Pending {
			out = append(out, r)
		}
	}
	return out
}

// Spool keeps queued messages until they are delivered or bounced. Put
// must not return before the message is safe (on disk for a durable
// spool): the 250 reply that acknowledges a message follows it. Put of an
// id that is queued already fails with ErrExists.
type Spool interface {
	Put(env *Envelope, body []byte) error
	// Update saves a changed envelope (attempts, next, recipient states).
	Update(env *Envelope) error
	Remove(id string) error
	Body(id string) ([]byte, error)
	// Load returns every envelope in the spool, for recovery at start.
	Load() ([]*Envelope, error)
}

// ErrNotFound is returned for an unknown queue id.
var ErrNotFound = errors.New("no such queued message")

// ErrExists is returned by a Spool's Put for a queue id that is queued
// already; the queue then picks another id.
var ErrExists = errors.New("queue id exists already")

// MemorySpool is a Spool in memory, for the simulation.
type MemorySpool struct {
	mu     sync.Mutex
	envs   map[string]*Envelope
	bodies map[string][]byte
}

// NewMemorySpool returns an empty spool.
func NewMemorySpool() *MemorySpool {
	return &MemorySpool{envs: map[string]*Envelope{}, bodies: map[string][]byte{}}
}

func (s *MemorySpool) Put(env *Envelope, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.envs[env.ID]; dup {
		return fmt.Errorf("%w: %s", ErrExists, env.ID)
	}
	s.envs[env.ID] = env.Clone()
	s.bodies[env.ID] = body
	return nil
}

func (s *MemorySpool) Update(env *Envelope) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.envs[env.ID]; !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, env.ID)
	}
	s.envs[env.ID] = env.Clone()
	return nil
}

func (s *MemorySpool) Remove(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.envs, id)
	delete(s.bodies, id)
	return nil
}

func (s *MemorySpool) Body(id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bodies[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return b, nil
}

func (s *MemorySpool) Load() ([]*Envelope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Envelope, 0, len(s.envs))
	for _, e := range s.envs {
		out = append(out, e.Clone())
	}
	slices.SortFunc(out, func(a, b *Envelope) int { return a.Created.Compare(b.Created) })
	return out, nil
}
