// Command dialer places outbound calls and plays a message to each party
// that answers. The calls it originates come back to it by the return
// path, even when several dialers (or other instances of the
// application) run: each instance handles exactly the calls it placed.
//
//	go run ./examples/dialer -url nats://127.0.0.1:4222 -app demo -name d1 -calls 10 Local/echo@default
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/examples/internal/appmain"
)

func main() {
	url, app := appmain.Flags()
	name := flag.String("name", "dialer", "name of this dialer, prefix of its channel ids")
	calls := flag.Int("calls", 1, "calls to place to each endpoint")
	message := flag.String("message", "sound:demo-congrats", "media to play to whoever answers")
	appmain.Run(func(ctx context.Context) error {
		cfg := config{url: *url, app: *app, name: *name, calls: *calls, message: *message, endpoints: flag.Args()}
		return run(ctx, cfg, os.Stdout)
	})
}

type config struct {
	url, app, name, message string
	calls                   int
	endpoints               []string
}

// run places the calls and returns once each has been answered and heard
// the message (or ctx ends).
func run(ctx context.Context, cfg config, out io.Writer) error {
	c, err := client.New(ctx, client.WithURL(cfg.url), client.WithApplication(cfg.app))
	if err != nil {
		return err
	}
	defer c.Close()
	var done sync.WaitGroup
	// Listen before dialing: the channels this client originates while it
	// listens come back to this Listener. ListenReturned takes no share of
	// the application's inbound calls: other instances answer those.
	l, err := c.ListenReturned(ctx, func(ctx context.Context, ch *client.ChannelHandle, _ *ari.StasisStart) {
		defer done.Done()
		if err := ch.PlayAndWait(ctx, cfg.message); err != nil {
			fmt.Fprintf(out, "call %s: %v\n", ch.ID(), err)
		} else {
			fmt.Fprintf(out, "call %s: message delivered\n", ch.ID())
		}
		_ = ch.Hangup(ctx, nil)
	})
	if err != nil {
		return err
	}
	defer l.Close()
	n := 0
	for _, ep := range cfg.endpoints {
		for range cfg.calls {
			n++
			done.Add(1)
			id := fmt.Sprintf("%s-%d", cfg.name, n)
			if _, err := c.Channels().Originate(ctx, &client.ChannelsOriginateParams{Endpoint: ep, App: cfg.app, ChannelID: id}); err != nil {
				done.Done()
				fmt.Fprintf(out, "call %s to %s: %v\n", id, ep, err)
				continue
			}
			fmt.Fprintf(out, "call %s to %s: placed\n", id, ep)
		}
	}
	wait := make(chan struct{})
	go func() { done.Wait(); close(wait) }()
	select {
	case <-wait:
		fmt.Fprintf(out, "%s: %d calls done\n", cfg.name, n)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
