package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ariproxy/ari-proxy/bus"
)

// Defaults of durable mode.
const (
	DefaultStreamMaxAge   = time.Hour
	DefaultStreamMaxBytes = 1 << 30
	// DefaultMaxBuffered bounds the events a DurablePublisher keeps while
	// the bus is away (about 200 MB of typical events).
	DefaultMaxBuffered = 100_000
	// publishWindow is how many publishes wait for their acknowledgement
	// at once: enough to hide the round trip.
	publishWindow = 256
	// ackTimeout bounds the wait for one acknowledgement before the
	// publish is tried again.
	ackTimeout = 5 * time.Second
)

// ErrBufferFull is returned (wrapped) by DurablePublisher.PublishMsg when
// MaxBuffered events already wait: the event is dropped and counted.
var ErrBufferFull = errors.New("natsbus: durable buffer full")

// StreamName is the JetStream stream of the events published under
// prefix ("ari." gives "ARIPROXY_EVENTS_ari"): the servers of one prefix
// share it.
func StreamName(prefix string) string {
	p := strings.TrimSuffix(prefix, ".")
	if p == "" {
		p = "ari"
	}
	p = strings.NewReplacer(".", "_", "*", "_", ">", "_", " ", "_").Replace(p)
	return "ARIPROXY_EVENTS_" + p
}

// StreamConfig is the event stream of durable mode.
type StreamConfig struct {
	// Prefix is the subject prefix; the stream captures <prefix>event.>
	// and <prefix>dialogevent.>.
	Prefix string
	// MaxAge is how long an event is kept (DefaultStreamMaxAge).
	MaxAge time.Duration
	// MaxBytes is the stream's size limit; the oldest events go first
	// (DefaultStreamMaxBytes).
	MaxBytes int64
	// Replicas is the number of copies in a cluster (1, 3 or 5; 0 means 1).
	Replicas int
}

// EnsureStream creates the event stream of cfg, or updates its limits:
// every server of a prefix calls it at start. The stream captures every
// event published on its subjects, by JetStream or core NATS alike, and
// core subscribers (v5 clients included) see no difference.
func EnsureStream(ctx context.Context, b *Bus, cfg StreamConfig) (jetstream.Stream, error) {
	js, err := jetstream.New(b.nc)
	if err != nil {
		return nil, fmt.Errorf("natsbus: jetstream: %w", err)
	}
	sc := jetstream.StreamConfig{
		Name:       StreamName(cfg.Prefix),
		Subjects:   []string{cfg.Prefix + "event.>", cfg.Prefix + "dialogevent.>"},
		Retention:  jetstream.LimitsPolicy,
		Storage:    jetstream.FileStorage,
		MaxAge:     cfg.MaxAge,
		MaxBytes:   cfg.MaxBytes,
		Replicas:   max(cfg.Replicas, 1),
		Discard:    jetstream.DiscardOld,
		Duplicates: 2 * time.Minute, // a publish retried after a lost ack is stored once
	}
	if sc.MaxAge <= 0 {
		sc.MaxAge = DefaultStreamMaxAge
	}
	if sc.MaxBytes <= 0 {
		sc.MaxBytes = DefaultStreamMaxBytes
	}
	st, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("natsbus: event stream %s: %w", sc.Name, err)
	}
	return st, nil
}

// DurablePublisher publishes events to the event stream with
// acknowledgements: an event is kept until JetStream acknowledged it, and
// published again (with the same Nats-Msg-Id, so the stream stores it
// once) when the acknowledgement does not come. While the bus is away
// events wait in a buffer bounded by MaxBuffered; past it they are
// dropped and counted (Dropped). Order is kept across connection losses:
// nothing is sent while disconnected and the unacknowledged events are
// sent again first, in order.
//
// It needs a connection of its own made with WithReconnectBuffer(-1), so
// that nothing it publishes during an outage sits in nats.go's reconnect
// buffer and overtakes the events it sends again.
type DurablePublisher struct {
	b       *Bus
	js      jetstream.JetStream
	max     int
	id      string // the Nats-Msg-Id prefix of this publisher
	next    atomic.Uint64
	wake    chan struct{} // wakes sendLoop
	ackWake chan struct{} // wakes ackLoop
	stopN   func()

	mu      sync.Mutex
	queue   []*pubEntry // every event not acknowledged yet, in order; queue[:sent] are in flight
	sent    int
	hold    bool            // send nothing until every event in flight has its outcome (after a loss or a failure)
	gate    <-chan struct{} // send nothing until closed (WaitFor); nil: open
	conns   uint64          // nats.go's reconnect count when the events in flight were sent
	closed  bool
	drained chan struct{} // closed (and replaced) whenever the queue empties

	dropped   atomic.Uint64
	republish atomic.Uint64
	acked     atomic.Uint64
	done      chan struct{}
}

type pubEntry struct {
	msg *nats.Msg
	ack jetstream.PubAckFuture // nil: not sent (yet, or again)
}

// NewDurablePublisher publishes through b (see DurablePublisher for the
// connection it needs). maxBuffered bounds the events kept while the bus
// is away (0: DefaultMaxBuffered).
func NewDurablePublisher(b *Bus, maxBuffered int) (*DurablePublisher, error) {
	js, err := jetstream.New(b.nc, jetstream.WithPublishAsyncTimeout(ackTimeout), jetstream.WithPublishAsyncMaxPending(2*publishWindow))
	if err != nil {
		return nil, fmt.Errorf("natsbus: jetstream: %w", err)
	}
	if maxBuffered <= 0 {
		maxBuffered = DefaultMaxBuffered
	}
	p := &DurablePublisher{
		b: b, js: js, max: maxBuffered, id: nats.NewInbox()[len(nats.InboxPrefix):],
		wake: make(chan struct{}, 1), ackWake: make(chan struct{}, 1), drained: make(chan struct{}), done: make(chan struct{}),
	}
	close(p.drained) // empty now
	p.stopN = b.Notify(func(up bool) {
		if !up {
			// What is in flight may be lost on the dead connection: it
			// must be sent again before anything newer.
			p.mu.Lock()
			p.hold = true
			p.mu.Unlock()
		}
		p.poke()
	})
	go p.sendLoop()
	go p.ackLoop()
	return p, nil
}

func (p *DurablePublisher) poke() { signal(p.wake) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// PublishMsg queues m for the stream and returns at once; it fails only
// when the buffer is full (ErrBufferFull, the event is dropped and
// counted) or the publisher is closed. ctx is only checked first.
func (p *DurablePublisher) PublishMsg(ctx context.Context, m bus.Msg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	nm := toNATS(m)
	if nm.Header == nil {
		nm.Header = nats.Header{}
	}
	nm.Header.Set(jetstream.MsgIDHeader, p.id+"."+strconv.FormatUint(p.next.Add(1), 36))
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("natsbus: durable publish %s: %w", m.Subject, bus.ErrClosed)
	}
	if len(p.queue) >= p.max {
		p.mu.Unlock()
		p.dropped.Add(1)
		return fmt.Errorf("natsbus: durable publish %s: %w (%d events wait)", m.Subject, ErrBufferFull, p.max)
	}
	if len(p.queue) == 0 {
		p.drained = make(chan struct{})
	}
	p.queue = append(p.queue, &pubEntry{msg: nm})
	p.mu.Unlock()
	p.poke()
	return nil
}

// WaitFor makes p send nothing (events are buffered) until ready is
// closed: the stream may not exist yet when the server starts.
func (p *DurablePublisher) WaitFor(ready <-chan struct{}) {
	p.mu.Lock()
	p.gate = ready
	p.mu.Unlock()
	go func() {
		select {
		case <-ready:
			p.poke()
		case <-p.done:
		}
	}()
}

// open reports whether the gate is open; p.mu is held.
func (p *DurablePublisher) open() bool {
	if p.gate == nil {
		return true
	}
	select {
	case <-p.gate:
		return true
	default:
		return false
	}
}

// Buffered is the number of events not acknowledged yet.
func (p *DurablePublisher) Buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// Dropped counts the events refused because the buffer was full.
func (p *DurablePublisher) Dropped() uint64 { return p.dropped.Load() }

// Republished counts the events sent again after a lost acknowledgement.
func (p *DurablePublisher) Republished() uint64 { return p.republish.Load() }

// Acked counts the events the stream acknowledged.
func (p *DurablePublisher) Acked() uint64 { return p.acked.Load() }

// sendLoop sends the queued events in order, at most publishWindow
// awaiting acknowledgement, and only while connected.
func (p *DurablePublisher) sendLoop() {
	for {
		p.mu.Lock()
		connected := p.b.nc.IsConnected() && p.open()
		if rc := p.b.nc.Stats().Reconnects; rc != p.conns {
			// A new connection: what is in flight went out on the old one
			// and may be lost. Seen here, not only from the disconnect
			// callback, which nats.go runs later on another goroutine.
			if p.sent > 0 {
				p.hold = true
			}
			p.conns = rc
		}
		if p.hold && p.sent == 0 && connected {
			p.hold = false
		}
		sentBefore := p.sent
		for !p.hold && p.sent < len(p.queue) && p.sent < publishWindow && connected {
			e := p.queue[p.sent]
			ack, err := p.js.PublishMsgAsync(e.msg)
			if err != nil {
				break // not sent (disconnected meanwhile, too many pending): retried on the next wake-up
			}
			e.ack = ack
			p.sent++
		}
		closed := p.closed && len(p.queue) == 0
		if p.sent > sentBefore {
			signal(p.ackWake)
		}
		p.mu.Unlock()
		if closed {
			return
		}
		select {
		case <-p.wake:
		case <-time.After(100 * time.Millisecond):
		case <-p.done:
			return
		}
	}
}

// ackLoop follows the acknowledgements of the events in flight, oldest
// first. An event acknowledged leaves the queue; one that failed makes
// every event in flight go back to "not sent", once their outcome is
// known, so they are sent again in order (those the stream already has
// are dropped by its duplicate check).
func (p *DurablePublisher) ackLoop() {
	for {
		p.mu.Lock()
		var e *pubEntry
		if p.sent > 0 {
			e = p.queue[0]
		}
		p.mu.Unlock()
		if e == nil {
			select {
			case <-p.ackWake:
			case <-time.After(50 * time.Millisecond):
			case <-p.done:
				return
			}
			continue
		}
		select {
		case <-e.ack.Ok():
			p.acked.Add(1)
			p.mu.Lock()
			p.queue = p.queue[1:]
			p.sent--
			if len(p.queue) == 0 {
				close(p.drained)
			}
			p.mu.Unlock()
			p.poke()
		case <-e.ack.Err():
			p.mu.Lock()
			p.hold = true
			p.mu.Unlock()
			p.retryInFlight(e)
			// A stream that refuses at once (no leader yet) must not make
			// this a busy loop.
			select {
			case <-time.After(100 * time.Millisecond):
			case <-p.done:
				return
			}
		case <-p.done:
			return
		}
	}
}

// retryInFlight waits for the outcome of every event in flight after
// failed (the oldest, whose error was read: a future reports once),
// removes those acknowledged and marks the others to be sent again.
func (p *DurablePublisher) retryInFlight(failed *pubEntry) {
	p.mu.Lock()
	inflight := append([]*pubEntry(nil), p.queue[:p.sent]...)
	p.mu.Unlock()
	ok := make(map[*pubEntry]bool, len(inflight))
	for _, e := range inflight {
		if e == failed {
			continue
		}
		select {
		case <-e.ack.Ok():
			ok[e] = true
		case <-e.ack.Err():
		case <-p.done:
			return
		}
	}
	p.mu.Lock()
	rest := p.queue[:0:0]
	for i, e := range p.queue {
		switch {
		case i < len(inflight) && ok[e]:
			p.acked.Add(1)
		case i < len(inflight):
			e.ack = nil
			p.republish.Add(1)
			rest = append(rest, e)
		default:
			rest = append(rest, e)
		}
	}
	p.queue, p.sent = rest, 0
	if len(p.queue) == 0 {
		close(p.drained)
	}
	p.mu.Unlock()
	p.poke()
}

// Close waits until every buffered event is acknowledged or ctx ends, then
// stops; it returns how many events were left unpublished (lost) when ctx
// ended first.
func (p *DurablePublisher) Close(ctx context.Context) (left int, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, nil
	}
	p.closed = true
	drained := p.drained
	p.mu.Unlock()
	p.poke()
	select {
	case <-drained:
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.stopN()
	close(p.done)
	return p.Buffered(), err
}

// WithReconnectBuffer sets the size of nats.go's reconnect buffer, which
// keeps what is published while the connection is re-established; -1
// makes such publishes fail instead (a DurablePublisher's connection).
func WithReconnectBuffer(bytes int) Option {
	return func(o *options) { o.extra = append(o.extra, nats.ReconnectBufSize(bytes)) }
}

func (p *DurablePublisher) debugState() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("queue=%d sent=%d hold=%v connected=%v acked=%d", len(p.queue), p.sent, p.hold, p.b.nc.IsConnected(), p.acked.Load())
}
