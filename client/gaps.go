package client

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ariproxy/ari-proxy/bus"
)

// Gap reports events a subscription did not receive: the servers number
// the events of each subject (one application on one node) and the
// numbers From to To (inclusive) never arrived. Core NATS delivers at most
// once: an event published while a subscriber was away (a bus outage, a
// slow consumer) is gone; durable mode (WithDurable) keeps them.
type Gap struct {
	Subject  string // the event subject, <prefix>event.<app>.<node>
	From, To uint64 // the missing sequence numbers
}

// Missed is the number of events the gap covers.
func (g Gap) Missed() uint64 { return g.To - g.From + 1 }

// WithGapHandler calls f for every gap a subscription of the client (and
// of the clients derived from it) detects, from the subscription's
// delivery goroutine: f must not block. Without it gaps are only counted
// (Subscription.Missed) and logged at warn level.
func WithGapHandler(f func(*Subscription, Gap)) Option {
	return func(o *options) { o.onGap = f }
}

// seqTracker follows the sequence headers of the events a subscription
// receives, per subject.
type seqTracker struct {
	missed atomic.Uint64
	mu     sync.Mutex
	last   map[string]seqPos
}

type seqPos struct {
	epoch string
	seq   uint64
}

// observe records m's sequence and returns the gap before it, if any. A
// new epoch (the server restarted) starts afresh: what was lost across a
// restart cannot be told by numbers. Messages without headers (v5
// servers) are not tracked.
func (t *seqTracker) observe(m bus.Msg) (Gap, bool) {
	v, ok := m.Header[bus.HeaderSeq]
	if !ok {
		return Gap{}, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return Gap{}, false
	}
	epoch := m.Header[bus.HeaderEpoch]
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = make(map[string]seqPos)
	}
	prev, seen := t.last[m.Subject]
	if seen && prev.epoch == epoch && n <= prev.seq {
		return Gap{}, false // a redelivery (durable mode): already counted
	}
	t.last[m.Subject] = seqPos{epoch, n}
	if seen && prev.epoch == epoch && n > prev.seq+1 {
		g := Gap{Subject: m.Subject, From: prev.seq + 1, To: n - 1}
		t.missed.Add(g.Missed())
		return g, true
	}
	return Gap{}, false
}

// Missed is how many events the subscription is known to have missed:
// those whose sequence numbers were skipped (see Gap). Events lost after
// the last one received show once the next one arrives.
func (s *Subscription) Missed() uint64 { return s.seq.missed.Load() }

// checkSeq runs for every message delivered to s.
func (s *Subscription) checkSeq(m bus.Msg) {
	g, gap := s.seq.observe(m)
	if !gap {
		return
	}
	if f := s.c.core.onGap; f != nil {
		f(s, g)
		return
	}
	s.c.core.log.Warn("events missed", "subject", g.Subject, "from", g.From, "to", g.To, "missed", g.Missed())
}
