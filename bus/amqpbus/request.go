package amqpbus

import (
	"context"
	"fmt"
	"strconv"
	"time"

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
// alone while it is outstanding. v5 servers answer without a correlation
// id, so only the channel tells whose answer that is: a channel on which
// such an answer came is closed afterwards, never reused. Our servers
// echo the request's correlation id; a channel that saw only those goes
// back to a pool after a quarantine with no late answer, and an answer
// with another request's id is dropped. At most DefaultMaxRequests
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
	err = rc.ch.PublishWithContext(ctx, exchangeOf(subject), subject, true, false,
		amqp.Publishing{ReplyTo: directReplyTo, CorrelationId: corr, Body: data})
	if err != nil {
		rc.tainted = true
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
			switch d.CorrelationId {
			case corr:
			case "":
				rc.tainted = true // a v5 server's: the channel is this request's only
			default:
				continue // late, to an earlier request on this channel
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
type replyChan struct {
	conn     *amqp.Connection
	ch       *amqp.Channel
	answers  <-chan amqp.Delivery
	closed   chan *amqp.Error
	returned chan amqp.Return
	tainted  bool      // an answer without correlation id came: never reuse
	readyAt  time.Time // end of the quarantine after its last request
}

// Reply channel pool: a channel is reused once replyQuarantine passed
// after its request with no late answer; at most maxIdleReplyChannels
// wait.
const (
	replyQuarantine      = 200 * time.Millisecond
	maxIdleReplyChannels = 512
)

func openReplyChan(conn *amqp.Connection) (*replyChan, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, err
	}
	rc := &replyChan{conn: conn, ch: ch,
		closed: ch.NotifyClose(make(chan *amqp.Error, 1)), returned: ch.NotifyReturn(make(chan amqp.Return, 1))}
	rc.answers, err = ch.Consume(directReplyTo, "", true, false, false, false, nil)
	if err != nil {
		ch.Close()
		return nil, err
	}
	return rc, nil
}

// replyChannel returns a reply channel on conn: the oldest idle one past
// its quarantine that got no late answer, else a new one.
func (b *Bus) replyChannel(conn *amqp.Connection) (*replyChan, error) {
	now := time.Now()
	for {
		b.idleMu.Lock()
		var rc *replyChan
		if len(b.idle) > 0 && !b.idle[0].readyAt.After(now) {
			rc = b.idle[0]
			b.idle = b.idle[1:]
		}
		b.idleMu.Unlock()
		if rc == nil {
			return openReplyChan(conn)
		}
		if rc.conn == conn && !rc.ch.IsClosed() && len(rc.answers) == 0 && len(rc.returned) == 0 {
			return rc, nil
		}
		go rc.ch.Close() // late answer, or of a lost connection
	}
}

// release puts rc back in the pool, or closes it (without waiting for
// the broker: not on the request's time).
func (b *Bus) release(rc *replyChan) {
	if !rc.tainted && !rc.ch.IsClosed() && !b.isDone() {
		rc.readyAt = time.Now().Add(replyQuarantine)
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

// nextCorrelation is a correlation id unique in this Bus.
func (b *Bus) nextCorrelation() string {
	return b.corrPrefix + strconv.FormatUint(b.corrSeq.Add(1), 36)
}
