package client_test

import (
	"context"
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
