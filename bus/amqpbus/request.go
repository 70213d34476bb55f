package amqpbus

import (
	"context"
	"fmt"
	"strconv"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ariproxy/ari-proxy/bus"
)

// RequestMany publishes data to subject and passes each answer to collect
// until collect returns false (nil), ctx ends (ctx.Err()), the
// connection is lost (bus.ErrNotConnected) or the Bus closes
// (bus.ErrClosed). A request nobody is bound to comes back from the
// broker (it is published mandatory): bus.ErrNoResponders.
//
// Answers come by direct reply-to on a channel that serves this request
// alone while it is outstanding, with a reply address of its own: v5
// servers answer without a correlation id, so only the address tells
// whose answer that is (see replyChan). Channels are kept for the next
// requests, their reply consumers set up. At most DefaultMaxRequests
// requests are outstanding at once (a connection has about 2000
// channels); more wait for a slot within ctx. While disconnected, a
// request fails at once with bus.ErrNotConnected.
func (b *Bus) RequestMany(ctx context.Context, subject string, data []byte, collect func(reply []byte) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkSubject(subject, false); err != nil {
		return fmt.Errorf("amqpbus: request %q: %w", subject, err)
	}
	select {
	case b.reqs <- struct{}{}:
		defer func() { <-b.reqs }()
	case <-ctx.Done():
		return ctx.Err()
	case <-b.closed:
		return fmt.Errorf("amqpbus: request %s: %w", subject, bus.ErrClosed)
	}
	b.mu.Lock()
	conn, lost, done := b.conn, b.lost, b.done
	b.mu.Unlock()
	switch {
	case done:
		return fmt.Errorf("amqpbus: request %s: %w", subject, bus.ErrClosed)
	case conn == nil:
		// No answer can come before the connection is back: fail now.
		return fmt.Errorf("amqpbus: request %s: %w", subject, bus.ErrNotConnected)
	}
	rc, err := b.replyChannel(conn)
	if err != nil {
		return wrapErr("request "+subject, err)
	}
	defer b.release(rc)
	corr := b.nextCorrelation()
	if err := b.send(ctx, rc, subject, amqp.Publishing{ReplyTo: directReplyTo, CorrelationId: corr, Body: data}); err != nil {
		return wrapErr("request "+subject, err)
	}
	got := 0
	returned := rc.returned
	for {
		select {
		case d, ok := <-rc.answers:
			if !ok {
				return b.lostErr(subject, ctx)
			}
			if d.CorrelationId != corr && d.CorrelationId != "" {
				continue // not ours (the broker gives each request its own address)
			}
			got++
			if !collect(d.Body) {
				return nil
			}
		case r, ok := <-returned:
			if !ok {
				returned = nil
				continue
			}
			if r.CorrelationId == corr && got == 0 {
				return fmt.Errorf("amqpbus: request %s: %w", subject, bus.ErrNoResponders)
			}
		case err := <-rc.closed:
			if err != nil {
				b.log.Debug("amqp request channel closed", "subject", subject, "err", err)
			}
			return b.lostErr(subject, ctx)
		case <-lost:
			return b.lostErr(subject, ctx)
		case <-ctx.Done():
			return ctx.Err()
		case <-b.closed:
			return fmt.Errorf("amqpbus: request %s: %w", subject, bus.ErrClosed)
		}
	}
}

// lostErr is the error of a request whose channel or connection closed.
func (b *Bus) lostErr(subject string, ctx context.Context) error {
	if b.isDone() {
		return fmt.Errorf("amqpbus: request %s: %w", subject, bus.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("amqpbus: request %s: %w", subject, bus.ErrNotConnected)
}

// replyChan is a channel consuming direct reply-to, serving one request
// at a time.
//
// Before each request after its first, the channel's reply consumer is
// cancelled and made anew (both without waiting for the broker: the
// channel processes them in order, before the request's publish). The
// broker then gives the request a new reply address and drops whatever
// is sent to the old one, so a late answer to an earlier request, even a
// v5 server's without a correlation id, never reaches the next one; the
// channel is reusable at once, whoever answered.
type replyChan struct {
	conn     *amqp.Connection
	wire     *corkConn
	ch       *amqp.Channel
	tag      string // consumer tag of the current reply consumer
	answers  <-chan amqp.Delivery
	closed   chan *amqp.Error
	returned chan amqp.Return
	used     bool // a request was published with the current consumer
}

// maxIdleReplyChannels bounds the reply channels kept for reuse.
const maxIdleReplyChannels = 512

func (b *Bus) openReplyChan(conn *amqp.Connection) (*replyChan, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	b.replyOpen.Add(1)
	wire, _ := b.wires.Load(conn) // nil once conn closed
	// Returns of earlier requests may wait in returned (see drainReturns);
	// room for a few keeps the connection's reader from ever blocking.
	rc := &replyChan{conn: conn, ch: ch,
		closed: ch.NotifyClose(make(chan *amqp.Error, 1)), returned: ch.NotifyReturn(make(chan amqp.Return, 4))}
	rc.wire = asCork(wire)
	rc.tag = b.nextConsumerTag()
	rc.answers, err = ch.Consume(directReplyTo, rc.tag, true, false, false, false, nil)
	if err != nil {
		ch.Close()
		return nil, err
	}
	return rc, nil
}

// send publishes a request on rc, after re-arming its reply consumer when
// an earlier request used it; the frames go out in one write.
func (b *Bus) send(ctx context.Context, rc *replyChan, subject string, pub amqp.Publishing) error {
	if rc.wire != nil {
		rc.wire.cork()
		defer rc.wire.uncork()
	}
	if rc.used {
		if err := b.rearm(rc); err != nil {
			go rc.ch.Close()
			return err
		}
	}
	rc.used = true
	return rc.ch.PublishWithContext(ctx, exchangeOf(subject), subject, true, false, pub)
}

// rearm replaces the reply consumer of a channel that served a request,
// without a round trip (see replyChan).
func (b *Bus) rearm(rc *replyChan) error {
	if err := rc.ch.Cancel(rc.tag, true); err != nil {
		return err
	}
	// The old deliveries channel closes once amqp091 has handed over what
	// it buffered: late answers, dropped here.
	for range rc.answers {
	}
	rc.tag = b.nextConsumerTag()
	answers, err := rc.ch.Consume(directReplyTo, rc.tag, true, false, false, true, nil)
	if err != nil {
		return err
	}
	rc.answers, rc.used = answers, false
	return nil
}

// drainReturns drops returns of earlier requests.
func (rc *replyChan) drainReturns() {
	for {
		select {
		case <-rc.returned:
		default:
			return
		}
	}
}

// replyChannel returns a reply channel on conn: an idle one, else a new
// one.
func (b *Bus) replyChannel(conn *amqp.Connection) (*replyChan, error) {
	for {
		b.idleMu.Lock()
		var rc *replyChan
		if n := len(b.idle); n > 0 {
			rc = b.idle[n-1]
			b.idle[n-1] = nil
			b.idle = b.idle[:n-1]
		}
		b.idleMu.Unlock()
		if rc == nil {
			return b.openReplyChan(conn)
		}
		if rc.conn == conn && !rc.ch.IsClosed() {
			rc.drainReturns()
			return rc, nil
		}
		go rc.ch.Close() // of a lost connection, or broken
	}
}

// release puts rc back in the pool, or closes it (without waiting for
// the broker: not on the request's time).
func (b *Bus) release(rc *replyChan) {
	if !rc.ch.IsClosed() && !b.isDone() {
		b.idleMu.Lock()
		if len(b.idle) < maxIdleReplyChannels {
			b.idle = append(b.idle, rc)
			rc = nil
		}
		b.idleMu.Unlock()
		if rc == nil {
			return
		}
	}
	go rc.ch.Close()
}

// nextConsumerTag is a consumer tag unique in this Bus.
func (b *Bus) nextConsumerTag() string {
	return "reply." + b.nextCorrelation()
}

// nextCorrelation is a correlation id unique in this Bus.
func (b *Bus) nextCorrelation() string {
	return b.corrPrefix + strconv.FormatUint(b.corrSeq.Add(1), 36)
}
