// Command hello answers every call of its Stasis application, plays a
// prompt and hangs up. MESSAGEBUS_URL and ARI_APPLICATION say where.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c, err := client.New(ctx) // the bus and the application from the environment
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	l, err := c.Listen(ctx, func(ctx context.Context, call *client.ChannelHandle, ev *ari.StasisStart) {
		log.Printf("call %s from %q", call.ID(), ev.Channel.Caller.Number)
		if err := call.Answer(ctx); err != nil {
			log.Print(err)
			return
		}
		err := call.PlayAndWait(ctx, "sound:hello-world") // until PlaybackFinished
		log.Printf("call %s: played hello-world (err=%v), hanging up", call.ID(), err)
		call.Hangup(ctx, nil)
	})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("waiting for calls to %s", c.ApplicationName())
	l.Wait()
}
