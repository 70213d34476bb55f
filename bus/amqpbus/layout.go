package amqpbus

import (
	"errors"
	"strings"
)

// The exchanges of v5's RabbitMQ layout. Their names are fixed (as in v5,
// whatever the subject prefix): subjects of every prefix share them and
// the routing key, which is the whole subject, keeps prefixes apart.
const (
	ExchangeEvent    = "ari.event"    // topic: events and dialog events
	ExchangeRequest  = "ari.request"  // topic: get, data, command, create
	ExchangePing     = "ari.ping"     // fanout: pings
	ExchangeAnnounce = "ari.announce" // fanout: announcements
)

// exchangeKinds lists every exchange with its type, declared (durable, not
// auto-deleted, no arguments, as v5 clients re-declare them) on connect.
var exchangeKinds = []struct{ name, kind string }{
	{ExchangeEvent, "topic"},
	{ExchangeRequest, "topic"},
	{ExchangePing, "fanout"},
	{ExchangeAnnounce, "fanout"},
}

// directReplyTo is RabbitMQ's pseudo-queue for replies on the requester's
// channel; a requester sets it as ReplyTo and the responder sees a
// generated name beginning with directReplyPrefix.
const (
	directReplyTo     = "amq.rabbitmq.reply-to"
	directReplyPrefix = directReplyTo + "."
)

// replyAddress is the reply subject handed to a subscriber: the
// request's ReplyTo, and its correlation id after a "|" (which no
// direct reply-to name contains), so that Publish to it can echo the id.
// v5 requesters set none: their address is the ReplyTo alone.
func replyAddress(replyTo, correlationID string) string {
	if correlationID == "" || replyTo == "" {
		return replyTo
	}
	return replyTo + "|" + correlationID
}

// splitReplyAddress undoes replyAddress.
func splitReplyAddress(addr string) (replyTo, correlationID string) {
	replyTo, correlationID, _ = strings.Cut(addr, "|")
	return replyTo, correlationID
}

// maxKey is AMQP's limit on a routing key (a short string).
const maxKey = 255

// errBadSubject is wrapped by the errors for subjects AMQP cannot carry.
var errBadSubject = errors.New("amqpbus: bad subject")

// exchangeOf is the exchange a subject's messages go through: the first
// token naming a class decides (with prefix "ari." it is the second). A
// subject naming none (a private subject such as the proxy's flush
// subjects) goes through the event exchange.
func exchangeOf(subject string) string {
	for tok := range strings.SplitSeq(subject, ".") {
		if ex, ok := classExchange(tok); ok {
			return ex
		}
	}
	return ExchangeEvent
}

// exchangesOf is where a subscription to pattern binds: the exchange of
// its class, or every exchange when a wildcard comes before any class
// token ("ari.>").
func exchangesOf(pattern string) []string {
	for tok := range strings.SplitSeq(pattern, ".") {
		if ex, ok := classExchange(tok); ok {
			return []string{ex}
		}
		if tok == "*" || tok == ">" {
			return []string{ExchangeEvent, ExchangeRequest, ExchangePing, ExchangeAnnounce}
		}
	}
	return []string{ExchangeEvent}
}

func classExchange(tok string) (string, bool) {
	switch tok {
	case "event", "dialogevent":
		return ExchangeEvent, true
	case "get", "data", "command", "create":
		return ExchangeRequest, true
	case "ping":
		return ExchangePing, true
	case "announce":
		return ExchangeAnnounce, true
	}
	return "", false
}

func isFanout(exchange string) bool { return exchange == ExchangePing || exchange == ExchangeAnnounce }

// bindingKey writes a NATS pattern as an AMQP topic binding: "#" for ">".
// AMQP's "#" also matches zero words where ">" needs one; deliveries are
// checked against the pattern (matchSubject), so the difference never
// shows.
func bindingKey(pattern string) string {
	if pattern == ">" {
		return "#"
	}
	if rest, ok := strings.CutSuffix(pattern, ".>"); ok {
		return rest + ".#"
	}
	return pattern
}

// checkSubject rejects what cannot be a routing key or a NATS subject:
// empty, too long, empty tokens, spaces; wildcards only when pattern.
func checkSubject(subject string, pattern bool) error {
	if subject == "" || len(subject) > maxKey {
		return errors.Join(errBadSubject, errors.New("empty or longer than 255 bytes"))
	}
	toks := strings.Split(subject, ".")
	for i, tok := range toks {
		switch {
		case tok == "":
			return errors.Join(errBadSubject, errors.New("empty token"))
		case strings.ContainsAny(tok, " \t\r\n"):
			return errors.Join(errBadSubject, errors.New("white space"))
		case !pattern && (tok == "*" || tok == ">"):
			return errors.Join(errBadSubject, errors.New("wildcard in a published subject"))
		case tok == ">" && i != len(toks)-1:
			return errors.Join(errBadSubject, errors.New(`">" must be the last token`))
		case tok != "*" && tok != ">" && strings.ContainsAny(tok, "*>#"):
			return errors.Join(errBadSubject, errors.New(`"*", ">" or "#" inside a token`))
		}
	}
	return nil
}

// matchSubject reports whether subject matches the NATS pattern ("*" one
// token, ">" one or more at the end).
func matchSubject(pattern, subject string) bool {
	for {
		ptok, prest, pmore := strings.Cut(pattern, ".")
		if ptok == ">" {
			return subject != ""
		}
		stok, srest, smore := strings.Cut(subject, ".")
		if subject == "" || (ptok != "*" && ptok != stok) {
			return false
		}
		if !pmore || !smore {
			return pmore == smore
		}
		pattern, subject = prest, srest
	}
}

// Permissions are RabbitMQ's three permission regexps of a user in a
// vhost (rabbitmqctl set_permissions -p VHOST USER CONFIGURE WRITE READ).
type Permissions struct{ Configure, Write, Read string }

// ProxyPermissions are the least a proxy server's user needs: declare the
// exchanges, its subscription queues and the shared create queues;
// publish events, dialog events and announcements, and replies (on the
// default exchange); bind to the request and ping exchanges and the
// event exchange (its own flush subjects).
var ProxyPermissions = Permissions{
	Configure: `^(ari\.(event|request|ping|announce)|ari-sub\..+|ariproxy-.+)$`,
	Write:     `^(ari\.(event|announce)|amq\.default|ari-sub\..+|ariproxy-.+)$`,
	Read:      `^(ari\.(event|request|ping)|ari-sub\..+|ariproxy-.+)$`,
}

// AppPermissions are the least an application's user (the client
// library) needs: declare the exchanges, its subscription queues and the
// shared Listen queues; publish requests and pings; bind to the event and
// announce exchanges. It cannot publish events or announcements, nor
// take create requests.
var AppPermissions = Permissions{
	Configure: `^(ari\.(event|request|ping|announce)|ari-sub\..+|ARIProxyStasisStartDistributorQueue-.+)$`,
	Write:     `^(ari\.(request|ping)|ari-sub\..+|ARIProxyStasisStartDistributorQueue-.+)$`,
	Read:      `^(ari\.(event|announce)|ari-sub\..+|ARIProxyStasisStartDistributorQueue-.+)$`,
}
