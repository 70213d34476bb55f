package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/bus/amqpbus"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// TestRabbitMQPermissions runs a proxy server as a user with
// amqpbus.ProxyPermissions only and the application as a user with
// amqpbus.AppPermissions only: requests at every level, creates, events,
// Listen and resource subscriptions work; the application cannot publish
// an event (the broker refuses it, and the Bus counts it) nor consume
// create requests.
func TestRabbitMQPermissions(t *testing.T) {
	broker := bustest.RabbitMQBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	user := func(name string, p amqpbus.Permissions) string {
		_, _ = broker.Ctl(ctx, "delete_user", name)
		if _, err := broker.Ctl(ctx, "add_user", name, name+"-pw"); err != nil {
			t.Fatal(err)
		}
		if _, err := broker.Ctl(ctx, "set_permissions", "-p", "/", name, p.Configure, p.Write, p.Read); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("amqp://%s:%s-pw@127.0.0.1:%d/", name, name, broker.Port)
	}
	proxyURL := user("ariproxy-server", amqpbus.ProxyPermissions)
	appURL := user("ariproxy-app", amqpbus.AppPermissions)

	e := newEnvOn(t, bustest.URLTransport("rabbitmq-proxy-user", proxyURL), 2, arisim.Config{TimeScale: 0.01})
	e.url = appURL // the clients
	c := e.client(t)
	if _, err := c.Asterisk().Ping(ctx); err != nil {
		t.Fatalf("ping (every server): %v", err)
	}
	events, err := c.Subscribe(ctx, "StasisStart")
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan string, 1)
	go func() {
		_, _ = c.Listen(ctx, func(_ context.Context, h *ChannelHandle, _ *ari.StasisStart) {
			select {
			case handled <- h.ID():
			default:
			}
		})
	}()
	ch := originate(t, c, nil, newID("perm")) // a create, and its StasisStart
	chSub, err := ch.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Hangup(ctx, nil); err != nil { // a command at the node level
		t.Fatalf("hangup: %v", err)
	}
	select {
	case <-events.Events():
	case <-ctx.Done():
		t.Fatal("no StasisStart on the application subscription")
	}
	select {
	case <-chSub.Events():
	case <-ctx.Done():
		t.Fatal("no event on the channel subscription")
	}
	waitFor(t, "Listen's subscription", func() bool {
		id, err := e.sims[0].InboundCall(testApp)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-handled:
			return got != "" && id != ""
		case <-time.After(500 * time.Millisecond):
			return false
		}
	})

	// The application's user may not publish events.
	forger := localstack.ConnectBus(t, appURL).(*amqpbus.Bus)
	if err := forger.Publish(ctx, e.prefix+"event."+testApp+".forged", "", []byte(`{"type":"StasisStart"}`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the broker refusing the forged event", func() bool { return forger.Stats().Refused == 1 })
	// Nor take create requests.
	if _, err := forger.QueueSubscribe(e.prefix+"create."+testApp, "ariproxy", func(bus.Msg) {}); err == nil {
		t.Error("the application's user could consume the create queue")
	}
}
