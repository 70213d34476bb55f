package client

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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

// observe records m's sequence and returns the gap before it, if any;
// stale reports an event whose number was already passed (a copy a server
// published again, or one that came after its successors): it is not
// delivered, so the order holds. A new epoch (the server restarted)
// starts afresh: what was lost across a restart cannot be told by
// numbers. Messages without headers (v5 servers) are not tracked.
func (t *seqTracker) observe(m bus.Msg) (g Gap, gap, stale bool) {
	v, ok := m.Header[bus.HeaderSeq]
	if !ok {
		return Gap{}, false, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return Gap{}, false, false
	}
	epoch := m.Header[bus.HeaderEpoch]
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = make(map[string]seqPos)
	}
	prev, seen := t.last[m.Subject]
	if seen && prev.epoch == epoch && n <= prev.seq {
		return Gap{}, false, true
	}
	t.last[m.Subject] = seqPos{epoch, n}
	if seen && prev.epoch == epoch && n > prev.seq+1 {
		g := Gap{Subject: m.Subject, From: prev.seq + 1, To: n - 1}
		t.missed.Add(g.Missed())
		return g, true, false
	}
	return Gap{}, false, false
}

// Missed is how many events the subscription is known to have missed:
// those whose sequence numbers were skipped (see Gap). Events lost after
// the last one received show once the next one arrives.
func (s *Subscription) Missed() uint64 { return s.seq.missed.Load() }

// checkSeq runs for every message delivered to s; false means: do not
// deliver it (stale, see observe).
func (s *Subscription) checkSeq(m bus.Msg) bool {
	g, gap, stale := s.seq.observe(m)
	if stale {
		return false
	}
	if !gap {
		return true
	}
	if f := s.c.core.onGap; f != nil {
		f(s, g)
	} else {
		s.c.core.log.Warn("events missed", "subject", g.Subject, "from", g.From, "to", g.To, "missed", g.Missed())
	}
	return true
}

// reorderWait is how long a durable subscription holds events that came
// before their turn, waiting for the missing ones: a server publishes an
// event again when its acknowledgement is lost (up to 5 s), so in a
// stream failover a few arrive late. After it, the missing ones count as
// missed.
const reorderWait = 10 * time.Second

// maxHeld bounds the events held per subject while waiting.
const maxHeld = 10000

// reorderer restores, per subject, the servers' order of the events of a
// durable subscription (bus.HeaderSeq), drops the copies of an event
// already delivered, and hands the rest to deliver in order.
type reorderer struct {
	deliver func(bus.Msg, jetstream.Msg)
	drop    func(jetstream.Msg) // a copy of an event already delivered

	mu   sync.Mutex
	subj map[string]*subjOrder
}

type subjOrder struct {
	epoch string
	next  uint64
	held  map[uint64]jetstream.Msg
	since time.Time // when the oldest held event arrived
}

// push takes one message of the consumer, in its delivery order.
func (r *reorderer) push(m jetstream.Msg) {
	bm := fromJetStream(m)
	n, err := strconv.ParseUint(bm.Header[bus.HeaderSeq], 10, 64)
	if err != nil || n == 0 {
		r.deliver(bm, m) // not numbered (a v5 server)
		return
	}
	epoch := bm.Header[bus.HeaderEpoch]
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.subj == nil {
		r.subj = make(map[string]*subjOrder)
	}
	o := r.subj[bm.Subject]
	if o == nil || o.epoch != epoch {
		if o != nil {
			r.release(o, true) // the server restarted: what it held goes first
		}
		o = &subjOrder{epoch: epoch, next: n, held: make(map[uint64]jetstream.Msg)}
		r.subj[bm.Subject] = o
	}
	switch {
	case n < o.next:
		r.drop(m)
		return
	case n == o.next:
		r.deliver(bm, m)
		o.next++
	default:
		if _, dup := o.held[n]; dup {
			r.drop(m)
			return
		}
		if len(o.held) == 0 {
			o.since = time.Now()
		}
		o.held[n] = m
	}
	r.release(o, len(o.held) > maxHeld)
}

// release delivers the held events whose turn came; with skip, it gives
// up on the missing ones before the oldest held event (they count as
// missed) and goes on from there.
func (r *reorderer) release(o *subjOrder, skip bool) {
	for len(o.held) > 0 {
		m, ok := o.held[o.next]
		if !ok {
			if !skip {
				return
			}
			first := uint64(0)
			for n := range o.held {
				if first == 0 || n < first {
					first = n
				}
			}
			o.next = first
			m = o.held[first]
		}
		delete(o.held, o.next)
		o.next++
		r.deliver(fromJetStream(m), m)
		if len(o.held) > 0 {
			o.since = time.Now()
		}
	}
}

// expire gives up on the events missing for longer than reorderWait.
func (r *reorderer) expire(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range r.subj {
		if len(o.held) > 0 && now.Sub(o.since) > reorderWait {
			r.release(o, true)
		}
	}
}
