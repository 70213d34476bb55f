package amqpbus

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ariproxy/ari-proxy/bus"
)

// RequestMany publishes data to subject and passes each answer to collect
// until collect returns false (nil), ctx ends (ctx.Err()), the
// connection is lost (bus.ErrUnavailable) or the Bus closes
// (bus.ErrClosed). A request nobody is bound to comes back from the
// broker (it is published mandatory): bus.ErrNoResponders.
//
// Each request has a channel of its own, consuming RabbitMQ's direct
// reply-to: v5 servers answer without a correlation id, so only the
// channel tells whose answer it is. At most DefaultMaxRequests requests
// are outstanding at once (a connection has about 2000 channels); more
// wait for a slot within ctx. While disconnected, a request waits for the
// connection within ctx.
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
	conn, lost, err := b.current(ctx)
	if err != nil {
		if err == bus.ErrClosed {
			return fmt.Errorf("amqpbus: request %s: %w", subject, err)
		}
		return err
	}
	rc, err := b.replyChannel(conn)
	if err != nil {
		return wrapErr("request "+subject, err)
	}
	// Closing waits for the broker's answer: not on the request's time.
	defer func() { go rc.ch.Close() }()
	answers, closed, returned := rc.answers, rc.closed, rc.returned
	err = rc.ch.PublishWithContext(ctx, exchangeOf(subject), subject, true, false,
		amqp.Publishing{ReplyTo: directReplyTo, Body: data})
	if err != nil {
		return wrapErr("request "+subject, err)
	}
	got := 0
	for {
		select {
		case d, ok := <-answers:
			if !ok {
				return b.lostErr(subject, ctx)
			}
			got++
			if !collect(d.Body) {
				return nil
			}
		case _, ok := <-returned:
			if ok && got == 0 {
				return fmt.Errorf("amqpbus: request %s: %w", subject, bus.ErrNoResponders)
			}
			returned = nil
		case err := <-closed:
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
	return fmt.Errorf("amqpbus: request %s: %w", subject, bus.ErrUnavailable)
}

// replyChan is a channel consuming direct reply-to, for one request.
type replyChan struct {
	conn     *amqp.Connection
	ch       *amqp.Channel
	answers  <-chan amqp.Delivery
	closed   chan *amqp.Error
	returned chan amqp.Return
}

// spareReplyChannels is how many reply channels are kept open ahead, so
// that a request does not wait for a channel's opening (two round trips).
const spareReplyChannels = 16

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

// replyChannel returns a fresh reply channel on conn: a spare one, else
// one opened now. A channel serves one request only: a v5 server's late
// answer to an earlier request would otherwise pass for the current one.
func (b *Bus) replyChannel(conn *amqp.Connection) (*replyChan, error) {
	for {
		select {
		case rc := <-b.spares:
			if rc.conn == conn && !rc.ch.IsClosed() {
				return rc, nil
			}
			go rc.ch.Close() // of a lost connection
		default:
			return openReplyChan(conn)
		}
	}
}

// fillSpares keeps spareReplyChannels reply channels open on the current
// connection, until the Bus closes.
func (b *Bus) fillSpares() {
	defer b.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-b.closed
		cancel()
	}()
	for {
		conn, _, err := b.current(ctx)
		if err != nil {
			break
		}
		rc, err := openReplyChan(conn)
		if err != nil {
			select {
			case <-time.After(b.o.backoff[0]):
				continue
			case <-b.closed:
			}
			break
		}
		select {
		case b.spares <- rc:
			continue
		case <-b.closed:
			rc.ch.Close()
		}
		break
	}
	for {
		select {
		case rc := <-b.spares:
			rc.ch.Close()
		default:
			return
		}
	}
}
