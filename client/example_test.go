package client_test

import (
	"context"
	"errors"
	"log"
	"os/signal"
	"syscall"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/client"
)

// An application that answers every new call, plays a greeting, waits for
// it to finish and hangs up. Run several instances: each call goes to one.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	c, err := client.New(ctx,
		client.WithApplication("demo"),
		client.WithURL("nats://127.0.0.1:4222"),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	err = c.Listen(ctx, func(ctx context.Context, ch *client.ChannelHandle, ev *ari.StasisStart) {
		log.Printf("call %s from %s", ch.ID(), ev.Channel.Caller.Number)
		// Watch this call only; subscribe before acting so nothing is missed.
		sub, err := ch.Subscribe(ctx, "PlaybackFinished", "StasisEnd")
		if err != nil {
			log.Print(err)
			return
		}
		defer sub.Close()

		if err := ch.Answer(ctx); err != nil {
			log.Print(err)
			return
		}
		pb, err := ch.Play(ctx, &client.ChannelPlayParams{Media: []string{"sound:hello-world"}})
		if err != nil {
			log.Print(err)
			return
		}
		for ev := range sub.Events() {
			if f, ok := ev.(*ari.PlaybackFinished); ok && f.Playback.ID != pb.ID() {
				continue // another playback of this channel
			}
			break // our playback finished, or the caller left
		}
		if err := ch.Hangup(ctx, &client.ChannelHangupParams{Reason: "normal"}); err != nil && !errors.Is(err, client.ErrNotFound) {
			log.Print(err)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
}
