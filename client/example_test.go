package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// An application that answers every call, plays a greeting, waits for it
// to finish and hangs up. Run several instances: each new call goes to
// one of them, and the calls an instance originates come back to it.
//
// The example runs against the in-process stack (NATS, the simulated
// Asterisk and a proxy server); a real application only connects with
// client.WithURL("nats://...").
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stack, err := localstack.Start(ctx, localstack.Options{Application: "demo", TimeScale: 0.01})
	if err != nil {
		log.Fatal(err)
	}
	defer stack.Close()

	c, err := client.New(ctx, client.WithApplication("demo"), client.WithURL(stack.BusURL()))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	done := make(chan struct{})
	l, err := c.Listen(ctx, func(ctx context.Context, ch *client.ChannelHandle, ev *ari.StasisStart) {
		defer close(done)
		fmt.Println("call", ch.ID(), "in state", ev.Channel.State)
		if err := ch.Answer(ctx); err != nil {
			log.Print(err)
			return
		}
		if err := ch.PlayAndWait(ctx, "sound:hello-world"); err != nil {
			log.Print(err)
			return
		}
		fmt.Println("greeting played")
		if err := ch.Hangup(ctx, &client.ChannelHangupParams{Reason: "normal"}); err != nil {
			log.Print(err)
			return
		}
		fmt.Println("hung up")
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	// Listen is subscribed: place a call. It comes back to this instance.
	if _, err := c.Channels().Originate(ctx, &client.ChannelsOriginateParams{
		Endpoint: "Local/echo@default", App: "demo", ChannelID: "call-1",
	}); err != nil {
		log.Fatal(err)
	}
	<-done
	// Output:
	// call call-1 in state Up
	// greeting played
	// hung up
}

// startExample starts the in-process stack and a client of application
// "demo" on it, for the examples.
func startExample(ctx context.Context) (*localstack.Stack, *client.Client) {
	stack, err := localstack.Start(ctx, localstack.Options{Application: "demo", EntityID: "02:fc:00:00:00:01", TimeScale: 0.01})
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.New(ctx, client.WithApplication("demo"), client.WithURL(stack.BusURL()))
	if err != nil {
		log.Fatal(err)
	}
	return stack, c
}

// Errors are *client.Error values, matching the client's sentinels.
func ExampleError() {
	ctx := context.Background()
	stack, c := startExample(ctx)
	defer stack.Close()
	defer c.Close()

	_, err := c.Channel("no-such-channel").Get(ctx)
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Status, e.Detail, errors.Is(err, client.ErrNotFound))
	}
	// Output:
	// not_found 404 Channel not found true
}

// Record a call and wait for the stored recording.
func ExampleLiveRecordingHandle_Wait() {
	ctx := context.Background()
	stack, c := startExample(ctx)
	defer stack.Close()
	defer c.Close()

	ch, err := c.Channels().Originate(ctx, &client.ChannelsOriginateParams{Endpoint: "Local/echo@default", App: "demo", ChannelID: "rec-call"})
	if err != nil {
		log.Fatal(err)
	}
	rec, err := ch.Record(ctx, &client.ChannelRecordParams{Name: "greeting", Format: "wav", MaxDurationSeconds: 2})
	if err != nil {
		log.Fatal(err)
	}
	stored, err := rec.Wait(ctx) // until RecordingFinished
	if err != nil {
		log.Fatal(err)
	}
	data, err := stored.GetStored(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stored.ID(), "on", stored.Key().Node, "as", data.Format)
	// Output:
	// greeting on 02:fc:00:00:00:01 as wav
}

// Watch the servers of the cluster come and go.
func ExampleClient_WatchMembers() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stack, c := startExample(ctx)
	defer stack.Close()
	defer c.Close()

	events := c.WatchMembers(ctx)
	ev := <-events // the server known already
	fmt.Println(ev.Type, ev.Member.Node, ev.Member.Applications, ev.Member.Available)
	// Output:
	// joined 02:fc:00:00:00:01 [demo] true
}
