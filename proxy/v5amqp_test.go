package proxy_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/wire"
)

// TestV5RabbitMQPeer talks to our server the way a v5 client does on
// RabbitMQ, with raw AMQP (../shared/wire/v5-client-notes.md): it
// re-declares the four exchanges durable, declares a create queue as a v5
// server would ("ariproxy-<routing key>", durable, no arguments) and an
// event queue with the name it chooses (durable, x-message-ttl 30 s),
// pings on the ari.ping fanout and hears the announcement on ari.announce,
// and sends requests with direct reply-to and no correlation id. Nothing
// the v5 peer declares may conflict with what our server declared.
func TestV5RabbitMQPeer(t *testing.T) {
	e := newEnvOn(t, bustest.RabbitMQ)
	conn, err := amqp.Dial(e.busURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range []struct{ name, kind string }{{"ari.event", "topic"}, {"ari.request", "topic"}, {"ari.ping", "fanout"}, {"ari.announce", "fanout"}} {
		if err := ch.ExchangeDeclare(ex.name, ex.kind, true, false, false, false, nil); err != nil {
			t.Fatalf("v5's declaration of %s conflicts: %v", ex.name, err)
		}
	}
	createKey := e.subj.Request(wire.ClassCreate, app, node1)
	if _, err := ch.QueueDeclare("ariproxy-"+createKey, true, false, false, false, nil); err != nil {
		t.Fatalf("v5's create queue conflicts with ours: %v", err)
	}

	// Events and announcements on queues the v5 way.
	evq, err := ch.QueueDeclare(e.prefix+"v5-events", true, false, false, false, amqp.Table{"x-message-ttl": int32(30000)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(evq.Name, e.prefix+"event."+app+".#", "ari.event", false, nil); err != nil {
		t.Fatal(err)
	}
	annq, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(annq.Name, "", "ari.announce", false, nil); err != nil {
		t.Fatal(err)
	}
	anns, err := ch.Consume(annq.Name, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	events, err := ch.Consume(evq.Name, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ch.PublishWithContext(ctx, "ari.ping", e.subj.Ping(), false, false, amqp.Publishing{Body: []byte(`{"kind":"","key":null}`)}); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case d := <-anns:
			var a wire.Announcement
			if err := json.Unmarshal(d.Body, &a); err != nil {
				t.Fatalf("announcement %s: %v", d.Body, err)
			}
			if d.RoutingKey != e.subj.Announce() {
				continue // another test's server
			}
			if a.Node != node1 || a.Application != app {
				t.Fatalf("announcement %+v", a)
			}
		case <-ctx.Done():
			t.Fatal("no announcement after a ping on ari.ping")
		}
		break
	}

	// Requests with direct reply-to, one reply channel per request, no
	// correlation id.
	request := func(key, body string) *wire.Response {
		t.Helper()
		rch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		defer rch.Close()
		replies, err := rch.Consume("amq.rabbitmq.reply-to", "", true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := rch.PublishWithContext(ctx, "ari.request", key, false, false,
			amqp.Publishing{ReplyTo: "amq.rabbitmq.reply-to", Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
		select {
		case d := <-replies:
			if d.CorrelationId != "" {
				t.Errorf("reply with a correlation id %q: v5 servers set none", d.CorrelationId)
			}
			return decodeResponse(t, d.Body)
		case <-ctx.Done():
			t.Fatalf("no reply on %s", key)
			return nil
		}
	}
	r := ok(t, "info", request(e.subj.Request(wire.ClassData, app, ""), `{"kind":"AsteriskInfo","key":{}}`))
	if !strings.Contains(string(r.Data), node1) {
		t.Fatalf("AsteriskInfo = %s", r.Data)
	}
	// A create on the node's create queue, which the v5 peer declared too:
	// our server takes it from there, and its StasisStart reaches the v5
	// event queue.
	r = ok(t, "originate", request(createKey,
		`{"kind":"ChannelOriginate","key":{},"channel_originate":{"originate_request":{"endpoint":"Local/echo@default","app":"`+app+`","channelId":"v5amqp-1"}}}`))
	if r.Key == nil || r.Key.ID != "v5amqp-1" {
		t.Fatalf("originate key %+v", r.Key)
	}
	for {
		select {
		case d := <-events:
			if strings.Contains(string(d.Body), `"StasisStart"`) && strings.Contains(string(d.Body), "v5amqp-1") {
				return
			}
		case <-ctx.Done():
			t.Fatal("no StasisStart on the v5 event queue")
		}
	}
}
