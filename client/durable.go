package client

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tidwall/gjson"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
)

// DefaultAckWait is how long a durable consumer waits for an
// acknowledgement before it delivers the event again (to another instance,
// for Listen).
const DefaultAckWait = 30 * time.Second

// ErrNotDurable is returned (wrapped) by durable operations when the bus
// is not NATS with JetStream, or the servers do not run in durable mode
// (no event stream).
var ErrNotDurable = errors.New("client: durable mode needs NATS JetStream and servers started with --durable")

// WithDurable makes Listen durable: each new call is handed through a
// JetStream consumer the application's instances share
// ("listen_<app>"), and acknowledged when the handler returns; while the
// handler runs, the consumer is told the call is in progress. An instance
// that dies before its handler returns leaves the call unacknowledged, so
// it is delivered again to another instance within ackWait (0 means
// DefaultAckWait), instead of being left in Stasis. A call is then handed
// again even if its first handler had begun: keep handlers idempotent.
// The servers must run in durable mode; do not mix durable and v5 or
// non-durable Listen instances for one application (each kind would take
// the call).
func WithDurable(ackWait time.Duration) Option {
	return func(o *options) {
		o.durable = true
		o.ackWait = ackWait
	}
}

// validDurable reports whether name can name a JetStream consumer.
func validDurable(name string) bool {
	return name != "" && !strings.ContainsAny(name, ".*> \t\r\n/\\")
}

// consumerName turns an application name into a consumer name part.
func consumerName(s string) string {
	return strings.NewReplacer(".", "_", "*", "_", ">", "_", " ", "_", "/", "_", "\\", "_").Replace(s)
}

// jetStream returns the JetStream context of the client's bus.
func (c *Client) jetStream() (jetstream.JetStream, error) {
	nb, ok := c.core.bus.(*natsbus.Bus)
	if !ok {
		return nil, ErrNotDurable
	}
	js, err := jetstream.New(nb.Conn())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotDurable, err)
	}
	return js, nil
}

// durableConsumer returns the durable consumer name of the event stream,
// creating it (from the events published from now on) when it does not
// exist; an existing one resumes where it stopped.
func (c *Client) durableConsumer(ctx context.Context, name string, ackWait time.Duration) (jetstream.Consumer, error) {
	js, err := c.jetStream()
	if err != nil {
		return nil, err
	}
	stream := natsbus.StreamName(c.core.subjects.Prefix)
	cons, err := js.Consumer(ctx, stream, name)
	if err == nil {
		return cons, nil
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("client: stream %s: %w", stream, ErrNotDurable)
	}
	if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("client: consumer %s: %w", name, err)
	}
	cons, err = js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       name,
		FilterSubject: c.core.subjects.AllEvents(c.app),
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: 10000,
	})
	if err != nil {
		return nil, fmt.Errorf("client: creating consumer %s: %w", name, err)
	}
	return cons, nil
}

// fromJetStream is the bus.Msg of a stream message.
func fromJetStream(m jetstream.Msg) bus.Msg {
	return bus.Msg{Subject: m.Subject(), Data: m.Data(), Header: natsbus.HeaderValues(m.Headers())}
}

// fromRaw is the bus.Msg of a message read from the stream.
func fromRaw(m *jetstream.RawStreamMsg) bus.Msg {
	return bus.Msg{Subject: m.Subject, Data: m.Data, Header: natsbus.HeaderValues(m.Header)}
}

// streamReader reads from the stream the messages a consumer of filter
// subjects would get (fetch of reorderer): one look-up per message, as
// it is only for the few deliveries a failover loses.
func streamReader(st jetstream.Stream, filters []string) func(ctx context.Context, after, before uint64) ([]*jetstream.RawStreamMsg, error) {
	if len(filters) == 0 {
		filters = []string{">"}
	}
	return func(ctx context.Context, after, before uint64) ([]*jetstream.RawStreamMsg, error) {
		var out []*jetstream.RawStreamMsg
		for _, f := range filters {
			for seq := after + 1; seq < before; {
				m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(f))
				if errors.Is(err, jetstream.ErrMsgNotFound) {
					break
				}
				if err != nil {
					return nil, fmt.Errorf("client: reading stream %s from %d: %w", st.CachedInfo().Config.Name, seq, err)
				}
				if m.Sequence >= before {
					break
				}
				out = append(out, m)
				seq = m.Sequence + 1
			}
		}
		slices.SortFunc(out, func(a, b *jetstream.RawStreamMsg) int { return cmp.Compare(a.Sequence, b.Sequence) })
		return out, nil
	}
}

// consumeSub adapts a JetStream consume context to bus.Subscription.
type consumeSub struct{ cc jetstream.ConsumeContext }

func (s consumeSub) Unsubscribe() error { s.cc.Stop(); return nil }

// SubscribeDurable is Subscribe through the durable JetStream consumer
// name (letters, digits, '-' and '_'): the events of the application from
// every server, each acknowledged once the reader took it from Events. The
// consumer outlives the subscription: after a bus outage, or when the
// application subscribes again with the same name after a restart, it
// resumes where it stopped, so nothing published meanwhile is missed
// (within the stream's limits). A new name starts with the events
// published from then on. Events come in the servers' order per subject,
// each once: the few a stream failover stores late are held back until
// their turn (their sequence headers tell), for up to 10 s, and those a
// consumer failover loses on the way (its leader's NATS node dies) are
// read from the stream at once, where JetStream would send them again
// only after its 30 s ack wait. One reader per name: readers sharing a
// name would each get a part of the events. The servers must run in
// durable mode.
func (c *Client) SubscribeDurable(ctx context.Context, name string, types ...string) (*Subscription, error) {
	if c.app == "" {
		return nil, fmt.Errorf("client: subscribe: no application: %w", ErrBadRequest)
	}
	if !validDurable(name) {
		return nil, fmt.Errorf("client: durable name %q: %w", name, ErrBadRequest)
	}
	cons, err := c.durableConsumer(ctx, name, DefaultAckWait)
	if err != nil {
		return nil, err
	}
	// The stream, to read what a failover lost on the way (reorderer).
	js, err := c.jetStream()
	if err != nil {
		return nil, err
	}
	st, err := js.Stream(ctx, natsbus.StreamName(c.core.subjects.Prefix))
	if err != nil {
		return nil, fmt.Errorf("client: stream for %s: %w", name, err)
	}
	cc := cons.CachedInfo().Config
	filters := cc.FilterSubjects
	if cc.FilterSubject != "" {
		filters = append(filters, cc.FilterSubject)
	}
	s := c.newSubscription(types)
	// Unbuffered: an event is acknowledged only once the reader took it,
	// so what a stopping application never read is delivered next time.
	s.ch = make(chan ari.Event)
	if err := c.track(s); err != nil {
		return nil, err
	}
	// A stream failover can store a few events out of order (a server
	// publishes again those whose acknowledgement was lost): they are put
	// back in order, and copies dropped, by their sequence headers.
	ro := &reorderer{
		deliver: func(bm bus.Msg, m jetstream.Msg) {
			switch {
			case m == nil: // read from the stream: JetStream's redelivery is acknowledged as a copy
				s.offer(bm)
			case s.offer(bm):
				_ = m.Ack()
			default:
				_ = m.Nak() // closed before the reader took it: for next time
			}
		},
		drop:    func(m jetstream.Msg) { _ = m.Ack() },
		fetch:   streamReader(st, filters),
		ackWait: DefaultAckWait,
		log:     c.core.log,
	}
	s.ro = ro
	consumeCtx, err := cons.Consume(ro.push)
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("client: consume %s: %w", name, err)
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case now := <-t.C:
				ro.expire(now)
			}
		}
	}()
	if err := s.addBus(consumeSub{consumeCtx}); err != nil {
		return nil, err
	}
	s.endWith(ctx)
	return s, nil
}

// consumeDurable makes l take its share of the new calls through the
// shared durable consumer of the application (WithDurable) instead of the
// queue group: each StasisStart is acknowledged once the handler returned,
// and reported in progress while it runs.
func (l *Listener) consumeDurable(ctx context.Context) error {
	c := l.c
	ackWait := c.core.ackWait
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	cons, err := c.durableConsumer(ctx, "listen_"+consumerName(c.app), ackWait)
	if err != nil {
		return err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		data := m.Data()
		if !bytes.Contains(data, stasisStartMarker) || gjson.GetBytes(data, "dialog").Exists() {
			_ = m.Ack() // not a new call to share: nothing to take
			return
		}
		done := make(chan struct{})
		l.take(fromJetStream(m), func(taken bool) {
			close(done)
			if taken {
				_ = m.Ack()
			} else {
				_ = m.Nak() // stopping: for another instance
			}
		})
		go func() {
			// Tell the consumer the call is being handled, so a long
			// handler is not taken for a dead instance.
			t := time.NewTicker(ackWait / 3)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					_ = m.InProgress()
				}
			}
		}()
	})
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	return l.sub.addBus(consumeSub{cc})
}
