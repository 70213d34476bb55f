package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/nats-io/nats-server/v2/server"
)

// TestCloseReleasesSubscriptions: Close of a derived client releases its
// subscriptions only; a subscription's ctx releases it; Close of the root
// releases every subscription (including Listen's and resource
// subscriptions, whose dialogs it unbinds) and leaves a WithBus connection
// open.
func TestCloseReleasesSubscriptions(t *testing.T) {
	e := newEnv(t, 1, arisim.Config{TimeScale: 0.01})
	nb := localstack.Connect(t, e.url)
	nc := nb.Conn()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The connection's reply subscription stays once made: make it first.
	_ = nb.RequestMany(ctx, e.prefix+"warmup", nil, func([]byte) bool { return false })
	base := nc.NumSubscriptions()

	c, err := New(ctx, WithBus(nb), WithPrefix(e.prefix), WithApplication(e.app), WithLogger(localstack.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	subs := func() int { return nc.NumSubscriptions() - base }
	if subs() != 1 {
		t.Fatalf("%d subscriptions after New, want 1 (announcements)", subs())
	}
	if _, err := c.Subscribe(ctx); err != nil {
		t.Fatal(err)
	}
	ch := originate(t, c, nil, newID("rel"))
	chSub, err := ch.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := c.WithApplication("other")
	ds, err := d.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Listen(context.Background(), func(context.Context, *ChannelHandle, *ari.StasisStart) {})
	if err != nil {
		t.Fatal(err)
	}
	listenErr := make(chan error, 1)
	go func() { listenErr <- l.Wait() }()
	// Listen: its queue subscription and the client's return path.
	if subs() != 6 {
		t.Fatalf("%d subscriptions once Listen returned, want 6", subs())
	}

	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	drained(t, ds)
	if subs() != 5 {
		t.Errorf("%d subscriptions after closing the derived client, want 5", subs())
	}
	if _, err := d.Asterisk().Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("request on a closed derived client: %v", err)
	}
	if _, err := c.Asterisk().Ping(ctx); err != nil {
		t.Errorf("root broken by closing a derived client: %v", err)
	}

	sctx, scancel := context.WithCancel(ctx)
	s2, err := c.Subscribe(sctx, "StasisStart")
	if err != nil {
		t.Fatal(err)
	}
	if subs() != 6 {
		t.Errorf("%d subscriptions, want 6", subs())
	}
	scancel()
	waitFor(t, "subscription released by its ctx", func() bool { return subs() == 5 })
	drained(t, s2)

	bindings := e.servers[0].DialogBindings()
	if bindings == 0 {
		t.Fatal("no dialog binding for the channel subscription")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if subs() != 0 {
		t.Errorf("%d subscriptions left after Close", subs())
	}
	select {
	case err := <-listenErr:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Listen returned %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Listen did not return after Close")
	}
	drained(t, chSub)
	waitFor(t, "dialog unbound by Close", func() bool { return e.servers[0].DialogBindings() < bindings })
	if nc.IsClosed() {
		t.Error("Close closed a connection given with WithBus")
	}
	if _, err := c.Channel("x").Get(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("request on a closed client: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestNewContextCloses: the ctx given to New is the client's lifetime; its
// end closes the client's own connection and every subscription.
func TestNewContextCloses(t *testing.T) {
	e := newEnv(t, 1, arisim.Config{TimeScale: 0.01})
	const name = "client-under-test"
	// subs is the number of subscriptions of the client's connection on
	// the NATS server, -1 when it has no connection.
	subs := func() int {
		cz, err := e.nats.Server().Connz(&server.ConnzOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ci := range cz.Conns {
			if ci.Name == name {
				return int(ci.NumSubs)
			}
		}
		return -1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := New(ctx, WithURL(e.url), WithPrefix(e.prefix), WithApplication(e.app), WithLogger(localstack.Logger()),
		WithNATSOptions(natsbus.WithName(name)))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.Subscribe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two subscriptions on the server", func() bool { return subs() == 2 })
	cancel()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client not closed when New's ctx ended")
	}
	drained(t, sub)
	waitFor(t, "client connection closed", func() bool { return subs() == -1 })
}

// TestDiscovery: New waits for the servers' announcements and learns
// which nodes serve which application.
func TestDiscovery(t *testing.T) { bustest.ForEachTransport(t, testDiscovery) }

func testDiscovery(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr, 2, arisim.Config{TimeScale: 0.01})
	c, err := New(context.Background(), WithURL(e.url), WithPrefix(e.prefix), WithApplication(e.app), WithLogger(localstack.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Servers()) == 0 {
		t.Fatal("New returned before any announcement")
	}
	waitFor(t, "both servers known", func() bool { return len(c.Servers()) == 2 })
	if got := c.Servers(); got[0] != nodeID(0) || got[1] != nodeID(1) {
		t.Errorf("Servers() = %v", got)
	}
	if o := c.WithApplication("nobody"); len(o.Servers()) != 0 {
		t.Errorf("servers of an unserved application: %v", o.Servers())
	}
}

// TestNoServer: with nobody listening, requests fail at once with
// ErrUnavailable, not at the timeout.
func TestNoServer(t *testing.T) { bustest.ForEachTransport(t, testNoServer) }

func testNoServer(t *testing.T, tr bustest.Transport) {
	url := tr.URL(t)
	ctx := context.Background()
	c, err := New(ctx, WithURL(url), WithPrefix(localstack.Prefix()), WithApplication("demo"), WithDiscoveryWait(-1), WithTimeout(5*time.Second), WithLogger(localstack.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	for _, call := range []func() error{
		func() error { _, err := c.Channel("x").Get(ctx); return err },
		func() error {
			_, err := c.Channels().Originate(ctx, &ChannelsOriginateParams{Endpoint: "Local/x"})
			return err
		},
		func() error { _, err := c.WithNode("n1").Channel("x").Get(ctx); return err },
	} {
		if err := call(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("got %v, want ErrUnavailable", err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	if _, err := c.Do(ctx, ari.OpID(-1), Key{}, nil); !errors.Is(err, ErrBadRequest) {
		t.Errorf("unknown operation: %v", err)
	}
}

func TestEnvDefaults(t *testing.T) {
	_, url := localstack.StartNATS(t)
	t.Setenv(EnvApplication, "envapp")
	t.Setenv(EnvBusURL, "")
	t.Setenv(EnvNATSURL, url)
	c, err := New(context.Background(), WithDiscoveryWait(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.ApplicationName() != "envapp" {
		t.Errorf("application %q", c.ApplicationName())
	}
	if k := c.Channel("x").Key(); k.App != "envapp" || k.Kind != "channel" || k.ID != "x" {
		t.Errorf("key %+v", k)
	}
}

// TestDerivedClientsKeepNothing: clients derived for requests only (one
// per call, per dialog) are not held by their root, yet a derived client
// whose Done is awaited, or that subscribed, is closed with the root.
func TestDerivedClientsKeepNothing(t *testing.T) {
	e := newEnv(t, 1, arisim.Config{})
	c := e.client(t)
	for i := range 1000 {
		d := c.WithDialog(fmt.Sprintf("dialog-%d", i))
		if _, err := d.Asterisk().GetInfo(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	held := len(c.children)
	c.mu.Unlock()
	if held != 0 {
		t.Fatalf("root holds %d derived clients used only for requests, want 0", held)
	}
	waited, subscribed, idle := c.WithNode(nodeID(0)), c.WithDialog("d"), c.WithApplication("other")
	done := waited.Done()
	sub, err := subscribed.Subscribe(context.Background(), "StasisStart")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan struct{}{"Done of a derived client": done, "its subscription": sub.Done(), "an unattached one": idle.Done()} {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Errorf("%s not closed with the root", name)
		}
	}
	if _, err := idle.Asterisk().GetInfo(context.Background(), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("request on a derived client of a closed root: %v, want ErrClosed", err)
	}
}
