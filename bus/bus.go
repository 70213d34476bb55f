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

// ErrNotConnected is returned (wrapped) by RequestMany while the
// connection to the bus is being (re-)established, or when it is lost
// while the request waits: no answer could come before it is back, so the
// request fails at once instead of waiting for its deadline.
var ErrNotConnected = errors.New("bus: not connected")

// Msg is a message received from the bus.
type Msg struct {
	Subject string
	Reply   string // where to answer; "" when the sender expects no answer
	// Header holds metadata beside Data (our additive ones, such as
	// HeaderSeq); nil when the message has none. v5 peers send none and
	// ignore them, so Data stays byte-exact.
	Header map[string]string
	Data   []byte
}

// Headers the proxy server sets on each event (see PublishMsg). Together
// they let a subscriber tell a lost event from a restarted server.
const (
	// HeaderSeq is the event's sequence number on its subject, from 1,
	// in decimal: each event subject (one application on one node) counts
	// on its own.
	HeaderSeq = "Ari-Proxy-Seq"
	// HeaderEpoch names the run of the server that counts: a new epoch
	// starts the count again.
	HeaderEpoch = "Ari-Proxy-Epoch"
)

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
	// PublishMsg is Publish with headers: it sends m.Subject, m.Reply,
	// m.Header and m.Data. It does not keep m.Header once it returns.
	PublishMsg(ctx context.Context, m Msg) error
	// Subscribe delivers every message on subject (wildcards allowed). When
	// connected, the subscription is active on the bus when it returns.
	Subscribe(subject string, h Handler) (Subscription, error)
	// QueueSubscribe delivers each message on subject to one member of queue.
	QueueSubscribe(subject, queue string, h Handler) (Subscription, error)
	// RequestMany publishes data to subject and passes each answer to
	// collect until collect returns false, ctx ends or the bus closes.
	// It returns nil when collect returned false, ctx.Err() when ctx ended
	// first, ErrNoResponders when nobody listens on subject and an error
	// wrapping ErrClosed when the bus closed. While the connection is
	// being re-established it returns an error wrapping ErrNotConnected at
	// once.
	RequestMany(ctx context.Context, subject string, data []byte, collect func(reply []byte) bool) error
	// Close releases the connection and every subscription made on it.
	Close() error
}
