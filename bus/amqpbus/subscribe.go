package amqpbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ariproxy/ari-proxy/bus"
)

// SubscriptionQueuePrefix begins the name of every queue a Subscribe
// declares (then a random suffix), so that permissions can name them.
const SubscriptionQueuePrefix = "ari-sub."

// ackBatch is how many deliveries one ack confirms at most: acking each
// one costs a frame, acking rarely keeps the broker's prefetch window full.
// (Acking later than when no delivery waits, by a timer, measured no
// cheaper for the broker and let a shared queue give a burst to one
// member: TestCreateQueueGroup.)
const ackBatch = 64

// Subscribe calls h for every message on subject (NATS wildcards
// allowed), sequentially and in delivery order. The subscription's queue
// is declared and bound when Subscribe returns (when connected), so a
// message published right after reaches it.
func (b *Bus) Subscribe(subject string, h bus.Handler) (bus.Subscription, error) {
	return b.subscribe(subject, "", h)
}

// QueueSubscribe calls h for the messages on subject given to this member
// of queue: the members share one durable queue named
// "<queue>-<routing key>", and each message goes to one of them.
func (b *Bus) QueueSubscribe(subject, queue string, h bus.Handler) (bus.Subscription, error) {
	if queue == "" {
		return nil, fmt.Errorf("amqpbus: queue subscribe %s: empty queue name", subject)
	}
	return b.subscribe(subject, queue, h)
}

// subscription is one subscription's queue and consumer, re-opened on
// every new connection or channel until stopped.
type subscription struct {
	b         *Bus
	subject   string
	key       string // binding key
	exchanges []string
	qname     string
	shared    bool
	args      amqp.Table
	h         bus.Handler

	ctx    context.Context // ended by stop
	cancel context.CancelFunc
	hmu    sync.Mutex // one handler call at a time, across channels

	// openMu is held while the queue is declared and while it is deleted,
	// so that a re-open racing with Unsubscribe cannot declare it again.
	openMu  sync.Mutex
	mu      sync.Mutex
	ch      *amqp.Channel
	stopped bool
}

func (b *Bus) subscribe(subject, queue string, h bus.Handler) (bus.Subscription, error) {
	if err := checkSubject(subject, true); err != nil {
		return nil, fmt.Errorf("amqpbus: subscribe %q: %w", subject, err)
	}
	s := &subscription{b: b, subject: subject, key: bindingKey(subject), exchanges: exchangesOf(subject), h: h}
	switch {
	case queue == "":
		s.qname = SubscriptionQueuePrefix + randomHex(12)
		s.args = queueArgs(b.o.queueExpiry)
	case exchangeOf(subject) == ExchangeRequest:
		// v5's create queues: durable, no arguments (a v5 server declaring
		// the same name with other arguments would fail), so a create
		// sent while no server runs waits for the next one.
		s.qname, s.shared = queue+"-"+s.key, true
	default:
		s.qname, s.shared = queue+"-"+s.key, true
		s.args = queueArgs(b.o.queueExpiry)
	}
	if len(s.qname) > maxKey {
		return nil, fmt.Errorf("amqpbus: subscribe %q: %w", subject, errors.Join(errBadSubject, errors.New("queue name longer than 255 bytes")))
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return nil, fmt.Errorf("amqpbus: subscribe %s: %w", subject, bus.ErrClosed)
	}
	b.subs[s] = struct{}{}
	conn := b.conn
	b.mu.Unlock()

	var deliveries <-chan amqp.Delivery
	if conn != nil {
		var err error
		deliveries, err = s.open(conn)
		if err != nil && !conn.IsClosed() {
			// Refused by the broker (permissions, a queue declared with
			// other arguments): retrying would not help.
			s.stop(false)
			b.mu.Lock()
			delete(b.subs, s)
			b.mu.Unlock()
			return nil, wrapErr("subscribe "+subject, err)
		}
	}
	go s.loop(deliveries)
	return s, nil
}

// open declares and binds the queue on a new channel of conn and starts
// consuming.
func (s *subscription) open(conn *amqp.Connection) (<-chan amqp.Delivery, error) {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return nil, bus.ErrClosed
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (<-chan amqp.Delivery, error) {
		ch.Close()
		return nil, err
	}
	if err := ch.Qos(s.b.o.prefetch, 0, false); err != nil {
		return fail(err)
	}
	if _, err := ch.QueueDeclare(s.qname, true, false, false, false, s.args); err != nil {
		return fail(fmt.Errorf("declaring queue %s: %w", s.qname, err))
	}
	for _, ex := range s.exchanges {
		key := s.key
		if isFanout(ex) {
			key = ""
		}
		if err := ch.QueueBind(s.qname, key, ex, false, nil); err != nil {
			return fail(fmt.Errorf("binding queue %s to %s: %w", s.qname, ex, err))
		}
	}
	d, err := ch.Consume(s.qname, "", false, false, false, false, nil)
	if err != nil {
		return fail(fmt.Errorf("consuming from %s: %w", s.qname, err))
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return fail(bus.ErrClosed)
	}
	s.ch = ch
	s.mu.Unlock()
	return d, nil
}

// queueArgs are the arguments of the queues only ours declare: an expiry,
// and classic queues version 2 (RabbitMQ 3.10 and later; older brokers
// ignore it), measured a third faster for persistent messages here.
func queueArgs(expiry time.Duration) amqp.Table {
	return amqp.Table{"x-expires": expiry.Milliseconds(), "x-queue-version": int32(2)}
}

// loop delivers, and re-opens the subscription whenever its channel or
// connection closes, until stopped.
func (s *subscription) loop(deliveries <-chan amqp.Delivery) {
	for {
		if deliveries != nil {
			s.consume(deliveries)
		}
		deliveries = nil
		wait := s.b.o.backoff[0]
		for deliveries == nil {
			conn, _, err := s.b.current(s.ctx)
			if err != nil {
				return // stopped or the Bus closed
			}
			deliveries, err = s.open(conn)
			if err == nil {
				break
			}
			if s.ctx.Err() != nil {
				return
			}
			s.b.log.Warn("amqp re-subscribe failed", "subject", s.subject, "err", err, "retry_in", wait)
			select {
			case <-time.After(wait):
			case <-s.ctx.Done():
				return
			}
			wait = min(wait*2, s.b.o.backoff[1])
		}
	}
}

// consume hands each delivery to the handler and acks in batches, until
// the channel closes.
func (s *subscription) consume(deliveries <-chan amqp.Delivery) {
	n := 0
	for d := range deliveries {
		s.deliver(d)
		n++
		if n >= ackBatch || len(deliveries) == 0 {
			_ = d.Ack(true)
			n = 0
		}
	}
}

// deliver hands d to the handler when it matches the subscription.
func (s *subscription) deliver(d amqp.Delivery) {
	subject := d.RoutingKey
	if subject == "" && isFanout(d.Exchange) {
		// A publisher that gives fanouts no routing key: the
		// exchange is all that tells what it is.
		subject = s.subject
	}
	if !matchSubject(s.subject, subject) {
		return
	}
	s.hmu.Lock()
	if s.ctx.Err() == nil {
		s.h(bus.Msg{Subject: subject, Reply: replyAddress(d.ReplyTo, d.CorrelationId), Header: headers(d.Headers), Data: d.Body})
	}
	s.hmu.Unlock()
}

// headers are a delivery's AMQP headers as bus headers (nil for none);
// values other than strings (from other publishers) are written with %v.
func headers(t amqp.Table) map[string]string {
	if len(t) == 0 {
		return nil
	}
	h := make(map[string]string, len(t))
	for k, v := range t {
		if s, ok := v.(string); ok {
			h[k] = s
		} else {
			h[k] = fmt.Sprint(v)
		}
	}
	return h
}

// Unsubscribe stops the subscription and deletes its queue (a shared
// queue stays for the other members); a handler call in progress
// finishes.
func (s *subscription) Unsubscribe() error {
	s.b.mu.Lock()
	if s.b.subs != nil {
		delete(s.b.subs, s)
	}
	s.b.mu.Unlock()
	s.stop(true)
	return nil
}

// stop ends the subscription; with deleteQueue, a private queue is
// deleted now rather than when it expires.
func (s *subscription) stop(deleteQueue bool) {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	ch := s.ch
	s.mu.Unlock()
	s.cancel()
	if ch == nil {
		return
	}
	if deleteQueue && !s.shared && !ch.IsClosed() {
		if _, err := ch.QueueDelete(s.qname, false, false, false); err != nil {
			s.b.log.Debug("amqp queue delete", "queue", s.qname, "err", err)
		}
	}
	ch.Close()
}
