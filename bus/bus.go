// Package bus is the message bus as the proxy server and the client see it:
// publish, subscribe, queue groups and request/reply with many answers.
// Implementations live in sub-packages (natsbus, amqpbus; busdial picks
// one by URL); subjects are always
// written the NATS way (dots, "*" and ">") and translated by each
// implementation.
package bus

import (
	"context"
	"errors"
)

// ErrNoResponders is returned by RequestMany when the bus knows at once that
// nobody subscribes to the subject, so no answer can come.
var ErrNoResponders = errors.New("bus: no responders")

// ErrClosed is returned (wrapped) by operations on a closed bus.
var ErrClosed = errors.New("bus: closed")

// ErrUnavailable is returned (wrapped) by RequestMany when the connection
// to the bus was lost while the request waited for answers: answers sent
// meanwhile cannot arrive, so waiting longer would only hang.
var ErrUnavailable = errors.New("bus: connection lost")

// Msg is a message received from the bus.
type Msg struct {
	Subject string
	Reply   string // where to answer; "" when the sender expects no answer
	Data    []byte
}

// Handler receives messages of a subscription. Calls for one subscription
// are sequential, in the order the bus delivered them.
type Handler func(Msg)

// Subscription is an active subscription.
type Subscription interface {
	Unsubscribe() error
}

// Bus is a connection to the message bus.
type Bus interface {
	// Publish sends data to subject; reply, when not empty, is where answers go.
	Publish(ctx context.Context, subject, reply string, data []byte) error
	// Subscribe delivers every message on subject (wildcards allowed). When
	// connected, the subscription is active on the bus when it returns.
	Subscribe(subject string, h Handler) (Subscription, error)
	// QueueSubscribe delivers each message on subject to one member of queue.
	QueueSubscribe(subject, queue string, h Handler) (Subscription, error)
	// RequestMany publishes data to subject and passes each answer to
	// collect until collect returns false, ctx ends or the bus closes.
	// It returns nil when collect returned false, ctx.Err() when ctx ended
	// first, ErrNoResponders when nobody listens on subject, an error
	// wrapping ErrUnavailable when the connection was lost meanwhile and an
	// error wrapping ErrClosed when the bus closed.
	RequestMany(ctx context.Context, subject string, data []byte, collect func(reply []byte) bool) error
	// Close releases the connection and every subscription made on it.
	Close() error
}
