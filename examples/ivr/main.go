// Command ivr is a small IVR: it answers every call of its application,
// plays a prompt, collects digits until '#' (or four digits), reads them
// back and hangs up.
//
//	go run ./examples/ivr -url nats://127.0.0.1:4222 -app demo
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/examples/internal/appmain"
)

func main() {
	url, app := appmain.Flags()
	appmain.Run(func(ctx context.Context) error { return run(ctx, *url, *app, os.Stdout) })
}

// digitTimeout is how long the IVR waits for the next digit.
const digitTimeout = 10 * time.Second

// run serves calls until ctx ends, writing what happens to out.
func run(ctx context.Context, url, app string, out io.Writer) error {
	c, err := client.New(ctx, client.WithURL(url), client.WithApplication(app))
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := c.Listen(ctx, func(ctx context.Context, ch *client.ChannelHandle, _ *ari.StasisStart) {
		if err := serve(ctx, ch, out); err != nil {
			fmt.Fprintf(out, "call %s: %v\n", ch.ID(), err)
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "listening")
	return l.Wait()
}

func serve(ctx context.Context, ch *client.ChannelHandle, out io.Writer) error {
	// Subscribe before answering: no digit is missed.
	dtmf, err := ch.Subscribe(ctx, ari.TypeChannelDtmfReceived)
	if err != nil {
		return err
	}
	defer dtmf.Close()
	if err := ch.Answer(ctx); err != nil {
		return err
	}
	if err := ch.PlayAndWait(ctx, "sound:hello-world"); err != nil {
		return err
	}
	fmt.Fprintf(out, "call %s: waiting for digits\n", ch.ID())
	var digits strings.Builder
collect:
	for digits.Len() < 4 {
		select {
		case ev, ok := <-dtmf.Events():
			if !ok {
				return client.ErrClosed
			}
			d := ev.(*ari.ChannelDtmfReceived).Digit
			if d == "#" {
				break collect
			}
			digits.WriteString(d)
		case <-time.After(digitTimeout):
			break collect
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fmt.Fprintf(out, "call %s: digits %q\n", ch.ID(), digits.String())
	if digits.Len() > 0 {
		if err := ch.PlayAndWait(ctx, "digits:"+digits.String()); err != nil {
			return err
		}
	}
	if err := ch.Hangup(ctx, nil); err != nil {
		return err
	}
	fmt.Fprintf(out, "call %s: hung up\n", ch.ID())
	return nil
}
