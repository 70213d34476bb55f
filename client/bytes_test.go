package client

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
)

// TestPerResourceBytes measures what a resource subscription costs on
// the wire: with 200 concurrent calls (each answered, playing two sounds,
// setting a variable and hung up by a Listen handler), the bytes received
// by a client subscribed to one of the channels against those received by
// an application-wide subscriber, each on its own bus connection. The
// per-resource events come through a dialog, so the broker sends the
// channel's subscriber its channel's events only. docs/client.md quotes
// the figures.
func TestPerResourceBytes(t *testing.T) {
	const calls = 200
	e := newEnv(t, 1, arisim.Config{TimeScale: 0.01})
	worker, wide, one := e.client(t), e.client(t), e.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	inBytes := func(c *Client) uint64 { return c.Bus().(*natsbus.Bus).Conn().Stats().InBytes }

	wideSub, err := wide.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wideEvents atomic.Int64
	go func() {
		for range wideSub.Events() {
			wideEvents.Add(1)
		}
	}()

	var (
		answered sync.WaitGroup
		ended    sync.WaitGroup
		first    = make(chan string, 1)
		watching = make(chan struct{})
		oneSub   *Subscription
	)
	answered.Add(calls)
	ended.Add(calls)
	if _, err := worker.Listen(ctx, func(ctx context.Context, ch *ChannelHandle, _ *ari.StasisStart) {
		defer ended.Done()
		select {
		case first <- ch.ID():
			<-watching // the watcher subscribed before the call goes on
		default:
		}
		if err := ch.Answer(ctx); err != nil {
			t.Error(err)
		}
		answered.Done()
		answered.Wait() // all calls up at once
		for _, m := range []string{"sound:hello-world", "sound:demo-congrats"} {
			if err := ch.PlayAndWait(ctx, m); err != nil {
				t.Error(err)
			}
		}
		if err := ch.SetChannelVar(ctx, &ChannelSetChannelVarParams{Variable: "DONE", Value: "1"}); err != nil {
			t.Error(err)
		}
		if err := ch.Hangup(ctx, nil); err != nil {
			t.Error(err)
		}
	}); err != nil {
		t.Fatal(err)
	}

	wideStart, oneStart := inBytes(wide), inBytes(one)
	go func() {
		for range calls {
			if _, err := e.sims[0].InboundCall(testApp); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	id := <-first
	oneSub, err = one.Channel(id).Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var oneEvents atomic.Int64
	go func() {
		for range oneSub.Events() {
			oneEvents.Add(1)
		}
	}()
	close(watching)
	ended.Wait()
	time.Sleep(300 * time.Millisecond) // the last events in flight
	wideBytes, oneBytes := inBytes(wide)-wideStart, inBytes(one)-oneStart
	ratio := float64(oneBytes) / float64(wideBytes)
	t.Logf("%d concurrent calls: application-wide subscriber %d events, %d bytes; one-channel subscriber %d events, %d bytes; ratio 1/%.0f",
		calls, wideEvents.Load(), wideBytes, oneEvents.Load(), oneBytes, 1/ratio)
	if oneEvents.Load() == 0 {
		t.Fatal("the channel's subscriber got no event")
	}
	if ratio > 1.0/100 {
		t.Errorf("one channel's subscriber received %.4f of the application-wide bytes, want at most 1/100", ratio)
	}
}
