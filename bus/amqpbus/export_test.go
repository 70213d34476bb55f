package amqpbus

import "github.com/ariproxy/ari-proxy/bus"

// CloseChannel closes a subscription's current channel from the client
// side, as a channel error would: the subscription must re-open by itself.
func CloseChannel(s bus.Subscription) {
	s.(*subscription).mu.Lock()
	ch := s.(*subscription).ch
	s.(*subscription).mu.Unlock()
	ch.Close()
}

// QueueName is the name of a subscription's queue.
func QueueName(s bus.Subscription) string { return s.(*subscription).qname }

var (
	MatchSubject = matchSubject
	ExchangeOf   = exchangeOf
	BindingKey   = bindingKey
	CheckSubject = checkSubject
)

// ReplyChannels is how many reply channels b opened.
func ReplyChannels(b *Bus) int64 { return b.replyOpen.Load() }

// CloseReplyPublisher closes the channel b sends answers on, from the
// client side, as a channel error would.
func CloseReplyPublisher(b *Bus) {
	b.replies.mu.Lock()
	ch := b.replies.ch
	b.replies.mu.Unlock()
	if ch != nil {
		ch.Close()
	}
}
