package client

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/bustest"
)

func TestSubscribeApplication(t *testing.T) { bustest.ForEachTransport(t, testSubscribeApplication) }

func testSubscribeApplication(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr, 1, arisim.Config{TimeScale: 0.01})
	c := e.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	all, err := c.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	starts, err := c.Subscribe(ctx, ari.TypeStasisStart)
	if err != nil {
		t.Fatal(err)
	}
	defer starts.Close()

	id := newID("sub")
	originate(t, c, nil, id)

	ev := recv(t, starts, 10*time.Second)
	ss, ok := ev.(*ari.StasisStart)
	if !ok || ss.Channel.ID != id {
		t.Fatalf("filtered subscription got %T %s, want StasisStart of %s", ev, eventChannelID(ev), id)
	}
	if ss.Application != testApp || ss.AsteriskID != nodeID(0) {
		t.Errorf("StasisStart application %q asterisk_id %q", ss.Application, ss.AsteriskID)
	}
	types := map[string]bool{}
	for !types["StasisStart"] {
		types[recv(t, all, 10*time.Second).EventType()] = true
	}
	if err := c.Channel(id).Hangup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for !types["StasisEnd"] {
		types[recv(t, all, 10*time.Second).EventType()] = true
	}
	// The filtered subscription saw nothing but StasisStart.
	select {
	case ev := <-starts.Events():
		if ev.EventType() != "StasisStart" {
			t.Errorf("filtered subscription got %s", ev.EventType())
		}
	default:
	}
}

// TestHandleSubscribe: a channel's subscription receives that channel's
// events and no other channel's, and closing it unbinds its dialog on the
// server.
func TestHandleSubscribe(t *testing.T) { bustest.ForEachTransport(t, testHandleSubscribe) }

func testHandleSubscribe(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr, 1, arisim.Config{TimeScale: 0.01})
	c := e.client(t)
	st := watchStasis(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	a := originate(t, c, st, newID("a"))
	b := originate(t, c, st, newID("b"))
	sub, err := c.Channel(a.ID()).Subscribe(ctx) // a partial key: bound wherever a lives
	if err != nil {
		t.Fatal(err)
	}
	if sub.Dialog() == "" {
		t.Fatal("no dialog")
	}
	if n := e.servers[0].DialogBindings(); n == 0 {
		t.Fatal("server has no dialog binding after Subscribe")
	}
	// Events of b first, then of a: everything received must be a's.
	for _, h := range []*ChannelHandle{b, a} {
		if err := h.SetChannelVar(ctx, &ChannelSetChannelVarParams{Variable: "X", Value: h.ID()}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Play(ctx, &ChannelPlayParams{Media: []string{"sound:beep"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Hangup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Hangup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for !seen["StasisEnd"] {
		ev := recv(t, sub, 10*time.Second)
		seen[ev.EventType()] = true
		if id := eventChannelID(ev); id != "" && id != a.ID() {
			t.Errorf("subscription of %s got %s of %s", a.ID(), ev.EventType(), id)
		}
		if raw := string(ev.RawJSON()); strings.Contains(raw, `"`+b.ID()+`"`) {
			t.Errorf("subscription of %s got an event of %s: %s", a.ID(), b.ID(), raw)
		}
	}
	for _, want := range []string{"ChannelVarset", "PlaybackStarted", "StasisEnd"} {
		if !seen[want] {
			t.Errorf("subscription missed %s (got %v)", want, seen)
		}
	}

	// A live channel's subscription: Close unbinds.
	x := originate(t, c, st, newID("x"))
	before := e.servers[0].DialogBindings()
	xs, err := x.Subscribe(ctx, ari.TypeChannelVarset)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.servers[0].DialogBindings(); got <= before {
		t.Fatalf("bindings %d after Subscribe, had %d", got, before)
	}
	if err := x.SetChannelVar(ctx, &ChannelSetChannelVarParams{Variable: "Y", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, xs, 10*time.Second); ev.EventType() != "ChannelVarset" {
		t.Fatalf("got %s", ev.EventType())
	}
	if err := xs.Close(); err != nil {
		t.Fatal(err)
	}
	drained(t, xs)
	waitFor(t, "dialog unbound on the server", func() bool { return e.servers[0].DialogBindings() <= before })
}

// TestDialogCreate: a channel created by a request carrying a dialog has its
// StasisStart published on the dialog's subject; other channels do not.
func TestDialogCreate(t *testing.T) { bustest.ForEachTransport(t, testDialogCreate) }

func testDialogCreate(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr, 1, arisim.Config{TimeScale: 0.01})
	c := e.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	dialog := NewDialogID()
	sub, err := c.DialogEvents(ctx, dialog)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	other := newID("nodialog")
	originate(t, c, nil, other)

	dc := c.WithDialog(dialog)
	defer dc.Close()
	id := newID("dlg")
	ch, err := dc.Channels().Originate(ctx, &ChannelsOriginateParams{Endpoint: "Local/echo@default", App: testApp, ChannelID: id})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Key().Dialog != dialog {
		t.Errorf("created channel key %+v lacks the dialog", ch.Key())
	}
	for {
		ev := recv(t, sub, 10*time.Second)
		if got := eventChannelID(ev); got == other {
			t.Fatalf("dialog got %s of a channel created without it", ev.EventType())
		}
		if ss, ok := ev.(*ari.StasisStart); ok {
			if ss.Channel.ID != id {
				t.Fatalf("StasisStart of %s on the dialog, want %s", ss.Channel.ID, id)
			}
			break
		}
	}
	if err := c.UnbindDialog(ctx, dialog); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dialog unbound", func() bool { return e.servers[0].DialogBindings() == 0 })
}

// TestListenShares: three instances of the application; each of 300 calls
// is handled by exactly one of them.
func TestListenShares(t *testing.T) { bustest.ForEachTransport(t, testListenShares) }

func testListenShares(t *testing.T, tr bustest.Transport) {
	const calls = 300
	e := newEnvOn(t, tr, 1, arisim.Config{TimeScale: 0.01})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var mu sync.Mutex
	handled := map[string]int{}
	perInstance := make([]int, 3)
	all := make(chan struct{}, calls)
	var listeners []*Listener
	clients := []*Client{e.client(t), e.client(t), e.client(t)}
	for i, c := range clients {
		// Listen returns once its queue subscription is active: calls
		// placed from now on are not missed.
		l, err := c.Listen(ctx, func(ctx context.Context, h *ChannelHandle, ev *ari.StasisStart) {
			if h.Key().Node != nodeID(0) || h.ID() != ev.Channel.ID {
				t.Errorf("handle key %+v for %s", h.Key(), ev.Channel.ID)
			}
			mu.Lock()
			handled[h.ID()]++
			perInstance[i]++
			mu.Unlock()
			all <- struct{}{}
		})
		if err != nil {
			t.Fatalf("Listen: %v", err)
		}
		listeners = append(listeners, l)
	}
	for range calls {
		if _, err := e.sims[0].InboundCall(testApp); err != nil {
			t.Fatal(err)
		}
	}
	timeout := time.After(30 * time.Second)
	for range calls {
		select {
		case <-all:
		case <-timeout:
			mu.Lock()
			t.Fatalf("handled %d distinct calls of %d", len(handled), calls)
		}
	}
	// Nothing more arrives: each call went to one instance.
	time.Sleep(200 * time.Millisecond)
	cancel()
	for _, l := range listeners {
		if err := l.Wait(); err != nil {
			t.Errorf("Listen: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	handledOnce(t, "calls", handled, calls)
	for i, n := range perInstance {
		if n == 0 {
			t.Errorf("instance %d handled no call (%v)", i, perInstance)
		}
	}
}
