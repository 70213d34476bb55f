package amqpbus

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ariproxy/ari-proxy/bus"
)

// Publish queues data for subject, with reply as where answers go ("" for
// none), and returns: one goroutine sends the queue in order on a
// channel in confirm mode, so Publish never waits for the broker. While
// the connection is down messages wait (up to WithBuffer's bound; past
// it Publish drops the message, counts it and says so). Events are
// persistent, so a broker restart does not lose those already queued
// for a subscriber. An answer to a request (subject a reply address) is
// sent at once instead, without a confirm, and takes the queue only while
// disconnected.
func (b *Bus) Publish(ctx context.Context, subject, reply string, data []byte) error {
	return b.PublishMsg(ctx, bus.Msg{Subject: subject, Reply: reply, Data: data})
}

// PublishMsg is Publish with headers: m.Header travels as the message's
// AMQP headers (string values).
func (b *Bus) PublishMsg(ctx context.Context, msg bus.Msg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	subject := msg.Subject
	// The body is copied only when queued: a direct send is written out
	// before it returns.
	m := outMsg{key: subject, pub: amqp.Publishing{ReplyTo: msg.Reply, Body: msg.Data}}
	if len(msg.Header) > 0 {
		m.pub.Headers = make(amqp.Table, len(msg.Header))
		for k, v := range msg.Header {
			m.pub.Headers[k] = v
		}
	}
	if strings.HasPrefix(subject, directReplyPrefix) {
		// An answer to a request that came by direct reply-to, with the
		// request's correlation id if it had one.
		m.key, m.pub.CorrelationId = splitReplyAddress(subject)
		m.pub.ReplyTo = ""
		if b.replies.publish(m) {
			return nil
		}
	} else {
		if err := checkSubject(subject, false); err != nil {
			return fmt.Errorf("amqpbus: publish %q: %w", subject, err)
		}
		m.exchange = exchangeOf(subject)
		if m.exchange == ExchangeEvent {
			m.pub.DeliveryMode = amqp.Persistent
		}
	}
	m.pub.Body = bytes.Clone(m.pub.Body)
	if err := b.pub.enqueue(ctx, m); err != nil {
		return fmt.Errorf("amqpbus: publish %s: %w", subject, err)
	}
	return nil
}

// replyPublisher sends answers to requests at once, from the caller, on
// a channel without publisher confirms: an answer is only worth its
// requester's time, which a confirm round trip and the event queue would
// cost it, and a requester without its answer times out whatever the
// broker says. While no channel can be had (disconnected) answers take the
// buffered way, as events do.
type replyPublisher struct {
	b    *Bus
	mu   sync.Mutex
	conn *amqp.Connection
	ch   *amqp.Channel
}

// publish sends m on the reply channel of the current connection,
// reporting false when it could not (m is then the caller's to queue).
func (r *replyPublisher) publish(m outMsg) bool {
	ch := r.channel()
	if ch == nil {
		return false
	}
	if err := ch.Publish(m.exchange, m.key, false, false, m.pub); err != nil {
		r.mu.Lock()
		if r.ch == ch {
			r.ch, r.conn = nil, nil
		}
		r.mu.Unlock()
		go ch.Close()
		return false
	}
	return true
}

// channel returns the reply channel, opening one on the current
// connection when there is none or it closed; nil while disconnected.
func (r *replyPublisher) channel() *amqp.Channel {
	r.b.mu.Lock()
	conn := r.b.conn
	r.b.mu.Unlock()
	if conn == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ch != nil && r.conn == conn && !r.ch.IsClosed() {
		return r.ch
	}
	if r.ch != nil {
		go r.ch.Close()
		r.ch, r.conn = nil, nil
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil
	}
	r.ch, r.conn = ch, conn
	return ch
}

// outMsg is a message waiting to be sent.
type outMsg struct {
	exchange, key string
	pub           amqp.Publishing
}

// publisher sends the Bus's messages in order, re-sending those the
// broker had not confirmed when their channel closed.
type publisher struct {
	b       *Bus
	wake    chan struct{} // capacity 1
	pending atomic.Int64  // queued or awaiting a confirm

	mu   sync.Mutex
	buf  []outMsg
	room chan struct{} // closed (and replaced) when take empties buf
}

// maxBatch bounds how many messages the sender takes from the buffer at
// once.
const maxBatch = 256

// errBufferFull is returned by Publish when the buffer is full.
type errBufferFull int

func (e errBufferFull) Error() string {
	return fmt.Sprintf("publish buffer full (%d messages waiting for the broker): message dropped", int(e))
}

func newPublisher(b *Bus) *publisher {
	return &publisher{b: b, wake: make(chan struct{}, 1), room: make(chan struct{})}
}

// enqueue queues m. When the buffer is full it waits for room while
// connected (the broker is slower than the publisher: back-pressure, as
// a full socket gives) and drops m at once while disconnected (an outage
// longer than the buffer).
func (p *publisher) enqueue(ctx context.Context, m outMsg) error {
	if p.b.isDone() {
		return bus.ErrClosed
	}
	for {
		p.mu.Lock()
		if len(p.buf) < p.b.o.maxBuffered {
			break
		}
		n, room := len(p.buf), p.room
		p.mu.Unlock()
		if !p.b.Connected() {
			p.b.m.dropped.Inc()
			return errBufferFull(n)
		}
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond): // re-check the connection
		}
	}
	p.buf = append(p.buf, m)
	p.pending.Add(1)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// take returns what is queued, waiting for something until stop closes
// (its error, if any, is kept in *closeErr).
func (p *publisher) take(stop <-chan *amqp.Error, closeErr **amqp.Error) ([]outMsg, bool) {
	for {
		p.mu.Lock()
		// A small batch, so that a publisher waiting for room (a broker
		// slower than the events) moves at the broker's pace rather than
		// by whole buffers.
		n := min(len(p.buf), maxBatch)
		batch := slices.Clone(p.buf[:n])
		p.buf = p.buf[n:]
		if n > 0 {
			close(p.room)
			p.room = make(chan struct{})
		}
		p.mu.Unlock()
		if len(batch) > 0 {
			return batch, true
		}
		select {
		case <-p.wake:
		case err := <-stop:
			*closeErr = err
			return nil, false
		case <-p.b.closed:
			return nil, false
		}
	}
}

// requeue puts msgs back at the front, before what was queued meanwhile.
func (p *publisher) requeue(msgs []outMsg) {
	if len(msgs) == 0 {
		return
	}
	p.mu.Lock()
	p.buf = append(append(make([]outMsg, 0, len(msgs)+len(p.buf)), msgs...), p.buf...)
	p.mu.Unlock()
}

type inflight struct {
	m  outMsg
	dc *amqp.DeferredConfirmation
}

// run sends until the Bus closes, one confirm-mode channel at a time.
func (p *publisher) run() {
	defer p.b.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-p.b.closed
		cancel()
	}()
	for {
		conn, _, err := p.b.current(ctx)
		if err != nil {
			return
		}
		ch, err := conn.Channel()
		if err == nil {
			if err = ch.Confirm(false); err != nil {
				ch.Close()
			}
		}
		if err != nil {
			select {
			case <-time.After(p.b.o.backoff[0]):
				continue
			case <-p.b.closed:
				return
			}
		}
		chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
		queue := make(chan inflight, p.b.o.maxInflight)
		unconfirmed := make(chan []outMsg, 1)
		go p.confirm(ch, queue, unconfirmed)
		wire, _ := p.b.wires.Load(conn) // nil once conn closed
		closeErr := p.send(ch, asCork(wire), queue, chClosed)
		close(queue)
		again := <-unconfirmed
		if closeErr == nil && !p.b.isDone() {
			select {
			case closeErr = <-chClosed:
			case <-time.After(time.Second):
			}
		}
		if closeErr != nil && (closeErr.Code == amqp.AccessRefused || closeErr.Code == amqp.NotFound) && len(again) > 0 {
			// The broker closed the channel over the first unconfirmed
			// message (not allowed, or no such exchange): sending it again
			// would close the next channel too.
			p.b.m.refused.Inc()
			p.pending.Add(-1)
			p.b.log.Warn("broker refused a message", "exchange", again[0].exchange, "routing_key", again[0].key, "err", closeErr)
			again = again[1:]
		}
		p.b.m.resent.add(len(again))
		p.requeue(again)
		ch.Close()
		select {
		case <-p.b.closed:
			return
		default:
		}
	}
}

// send publishes batches on ch until it closes (returning the broker's
// reason when it gave one) or the Bus closes. A batch goes out in one
// write (wire corked), except when the confirms fall behind: then what
// was held back is sent before waiting for them.
func (p *publisher) send(ch *amqp.Channel, wire *corkConn, queue chan<- inflight, chClosed <-chan *amqp.Error) *amqp.Error {
	for {
		var closeErr *amqp.Error
		batch, ok := p.take(chClosed, &closeErr)
		if !ok {
			return closeErr
		}
		if !p.publish(ch, wire, batch, queue) {
			return nil
		}
	}
}

// publish sends batch on ch, reporting false (and queueing again what
// was not sent) when ch failed.
func (p *publisher) publish(ch *amqp.Channel, wire *corkConn, batch []outMsg, queue chan<- inflight) bool {
	if wire != nil {
		wire.cork()
		defer wire.uncork()
	}
	for i, m := range batch {
		dc, err := ch.PublishWithDeferredConfirm(m.exchange, m.key, false, false, m.pub)
		if err != nil {
			p.requeue(batch[i:])
			return false
		}
		select {
		case queue <- inflight{m, dc}:
		default:
			// The confirms of what is held back cannot come: send it first.
			if wire != nil {
				wire.uncork()
			}
			queue <- inflight{m, dc}
			if wire != nil {
				wire.cork()
			}
		}
	}
	return true
}

// confirm waits for each confirm in order; it hands back, once queue is
// closed, the messages whose channel closed before their confirm.
func (p *publisher) confirm(ch *amqp.Channel, queue <-chan inflight, unconfirmed chan<- []outMsg) {
	var again []outMsg
	for f := range queue {
		<-f.dc.Done()
		switch {
		case f.dc.Acked():
			p.b.m.published.Inc()
			p.pending.Add(-1)
		case ch.IsClosed():
			again = append(again, f.m)
		default:
			p.b.m.refused.Inc()
			p.pending.Add(-1)
			p.b.log.Warn("broker refused a message", "exchange", f.m.exchange, "routing_key", f.m.key)
		}
	}
	unconfirmed <- again
}

// drain waits until every queued message is confirmed, at most timeout.
func (p *publisher) drain(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for p.pending.Load() > 0 && time.Now().Before(deadline) && p.b.Connected() {
		time.Sleep(5 * time.Millisecond)
	}
}
