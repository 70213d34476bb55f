package client

import (
	"context"
	"log/slog"
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

// fetchTimeout bounds one look-up of lost deliveries in the stream; one
// that fails (the stream has no leader yet) is tried again every second.
const fetchTimeout = 2 * time.Second

// reorderer restores, per subject, the servers' order of the events of a
// durable subscription (bus.HeaderSeq), drops the copies of an event
// already delivered, and hands the rest to deliver in order.
//
// It also makes up for deliveries lost on the way: when the consumer's
// leader dies (a NATS node of a cluster), the events it had just sent may
// never reach the subscriber, and JetStream sends them again only once
// they are unacknowledged for AckWait (30 s), past reorderWait. Each
// delivery is numbered by the consumer (its consumer sequence), and first
// deliveries come in stream order: a jump in the numbers means deliveries
// were lost, and those that were first deliveries are the consumer's
// messages stored between the two first deliveries received around the
// jump. They are read from the stream at once (fetch) and put in their
// place; JetStream's late redelivery of them is then dropped as a copy
// and acknowledged.
type reorderer struct {
	// deliver hands an event on in its turn; m is nil for an event read
	// from the stream (fetch), which has nothing to acknowledge.
	deliver func(bm bus.Msg, m jetstream.Msg)
	drop    func(jetstream.Msg) // a copy of an event already delivered
	// fetch returns the consumer's messages stored with a stream sequence
	// in (after, before), in order; nil: lost deliveries wait for
	// JetStream's redelivery.
	fetch func(ctx context.Context, after, before uint64) ([]*jetstream.RawStreamMsg, error)
	// ackWait is the consumer's: a lost delivery not fetched by then is
	// sent again by JetStream, and the subscription waits for it.
	ackWait time.Duration
	log     *slog.Logger // nil: quiet

	mu   sync.Mutex
	subj map[string]*subjOrder
	// Lost deliveries (see the type's comment).
	lastCons   uint64        // consumer sequence of the last delivery received
	lastStream uint64        // highest stream sequence first delivered
	jumped     bool          // deliveries lost since the last first delivery
	lost       []lostRange   // to read from the stream still
	fetched    atomic.Uint64 // events read from the stream for lost deliveries
}

// lostRange is the stream sequences (after, before) whose deliveries were
// lost, not read yet.
type lostRange struct {
	after, before uint64
	since         time.Time
}

type subjOrder struct {
	epoch string
	next  uint64
	held  map[uint64]heldMsg
	since time.Time // when the oldest held event arrived
}

type heldMsg struct {
	bm bus.Msg
	m  jetstream.Msg // nil: read from the stream
}

// push takes one message of the consumer, in its delivery order.
func (r *reorderer) push(m jetstream.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if md, err := m.Metadata(); err == nil {
		if lr, ok := r.track(md); ok && !r.fetchRange(lr, slog.LevelWarn) {
			r.lost = append(r.lost, lr) // tried again by expire
		}
	}
	r.offer(fromJetStream(m), m)
}

// track follows the consumer's numbering of deliveries (see reorderer)
// and returns the stream sequences whose deliveries were lost, if any.
func (r *reorderer) track(md *jetstream.MsgMetadata) (lostRange, bool) {
	cons, stream := md.Sequence.Consumer, md.Sequence.Stream
	if r.lastCons != 0 && cons > r.lastCons+1 {
		r.jumped = true
	}
	// Not the highest: a consumer leader that did not learn of the last
	// deliveries numbers them again from where it knows.
	r.lastCons = cons
	if md.NumDelivered != 1 {
		return lostRange{}, false // a redelivery: out of stream order
	}
	lost := r.jumped && r.lastStream != 0 && stream > r.lastStream+1 && r.fetch != nil
	lr := lostRange{after: r.lastStream, before: stream, since: time.Now()}
	r.jumped = false
	r.lastStream = max(r.lastStream, stream)
	return lr, lost
}

// fetchRange reads the lost deliveries of lr from the stream and puts
// them in their place; false: the stream could not be read (logged at
// level).
func (r *reorderer) fetchRange(lr lostRange, level slog.Level) bool {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	msgs, err := r.fetch(ctx, lr.after, lr.before)
	cancel()
	if err != nil {
		if r.log != nil {
			r.log.Log(context.Background(), level, "durable: deliveries lost on the way, the stream cannot be read yet", "after", lr.after, "before", lr.before, "err", err)
		}
		return false
	}
	if r.log != nil {
		r.log.Info("durable: deliveries lost on the way read from the stream", "after", lr.after, "before", lr.before, "events", len(msgs))
	}
	for _, sm := range msgs {
		if n, err := strconv.ParseUint(sm.Header.Get(bus.HeaderSeq), 10, 64); err != nil || n == 0 {
			// Not numbered (a v5 server): nothing would tell its
			// redelivery from a new event, so that is what delivers it.
			continue
		}
		r.fetched.Add(1)
		r.offer(fromRaw(sm), nil)
	}
	return true
}

// offer puts one event in its place; r.mu is held.
func (r *reorderer) offer(bm bus.Msg, m jetstream.Msg) {
	n, err := strconv.ParseUint(bm.Header[bus.HeaderSeq], 10, 64)
	if err != nil || n == 0 {
		r.deliver(bm, m) // not numbered (a v5 server)
		return
	}
	epoch := bm.Header[bus.HeaderEpoch]
	if r.subj == nil {
		r.subj = make(map[string]*subjOrder)
	}
	o := r.subj[bm.Subject]
	if o == nil || o.epoch != epoch {
		if o != nil {
			r.release(o, true) // the server restarted: what it held goes first
		}
		o = &subjOrder{epoch: epoch, next: n, held: make(map[uint64]heldMsg)}
		r.subj[bm.Subject] = o
	}
	switch {
	case n < o.next:
		r.dropCopy(m)
		return
	case n == o.next:
		r.deliver(bm, m)
		o.next++
	default:
		if _, dup := o.held[n]; dup {
			r.dropCopy(m)
			return
		}
		if len(o.held) == 0 {
			o.since = time.Now()
		}
		o.held[n] = heldMsg{bm, m}
	}
	r.release(o, len(o.held) > maxHeld)
}

func (r *reorderer) dropCopy(m jetstream.Msg) {
	if m != nil {
		r.drop(m)
	}
}

// release delivers the held events whose turn came; with skip, it gives
// up on the missing ones before the oldest held event (they count as
// missed) and goes on from there.
func (r *reorderer) release(o *subjOrder, skip bool) {
	for len(o.held) > 0 {
		h, ok := o.held[o.next]
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
			h = o.held[first]
		}
		delete(o.held, o.next)
		o.next++
		r.deliver(h.bm, h.m)
		if len(o.held) > 0 {
			o.since = time.Now()
		}
	}
}

// expire tries again to read the lost deliveries, then gives up on the
// events missing for longer than reorderWait. While lost deliveries could
// not be read it waits for JetStream's redelivery of them instead (up to
// ackWait and reorderWait more): giving up before would drop them.
func (r *reorderer) expire(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rest := r.lost[:0]
	for _, lr := range r.lost {
		if !r.fetchRange(lr, slog.LevelDebug) && now.Sub(lr.since) <= r.ackWait+reorderWait {
			rest = append(rest, lr)
		}
	}
	r.lost = rest
	if len(r.lost) > 0 {
		return
	}
	for _, o := range r.subj {
		if len(o.held) > 0 && now.Sub(o.since) > reorderWait {
			r.release(o, true)
		}
	}
}
