// Command bridgerecord connects each caller to a second party and records
// the conversation: it answers the call, originates the callee on the
// caller's Asterisk (the callee comes back to this instance by the
// return path), bridges the two, records the bridge, and hangs both up
// once the recording is stored.
//
//	go run ./examples/bridgerecord -url nats://127.0.0.1:4222 -app demo -callee PJSIP/bob
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

type config struct {
	url, app, callee string
	seconds          int
}

// calls matches the callees entering the application with the callers
// waiting for them.
type calls struct {
	mu      sync.Mutex
	waiting map[string]chan *client.ChannelHandle // callee id -> its caller's wait
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	c, err := client.New(ctx, client.WithURL(cfg.url), client.WithApplication(cfg.app))
	if err != nil {
		return err
	}
	defer c.Close()
	cs := &calls{waiting: map[string]chan *client.ChannelHandle{}}
	l, err := c.Listen(ctx, func(ctx context.Context, ch *client.ChannelHandle, ev *ari.StasisStart) {
		if client.EventDialog(ev) != "" {
			cs.arrived(ch) // a callee we originated: its caller waits for it
			return
		}
		if err := cs.connect(ctx, c, cfg, ch, out); err != nil {
			fmt.Fprintf(out, "call %s: %v\n", ch.ID(), err)
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "listening")
	return l.Wait()
}

func (cs *calls) arrived(callee *client.ChannelHandle) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if w, ok := cs.waiting[callee.ID()]; ok {
		w <- callee
		delete(cs.waiting, callee.ID())
	}
}

func (cs *calls) connect(ctx context.Context, c *client.Client, cfg config, caller *client.ChannelHandle, out io.Writer) error {
	defer caller.Hangup(context.WithoutCancel(ctx), nil)
	if err := caller.Answer(ctx); err != nil {
		return err
	}
	// Everything of this call on the caller's Asterisk.
	node := c.WithNode(caller.Key().Node)
	defer node.Close()

	calleeID := caller.ID() + "-callee"
	arrived := make(chan *client.ChannelHandle, 1)
	cs.mu.Lock()
	cs.waiting[calleeID] = arrived
	cs.mu.Unlock()
	if _, err := node.Channels().Originate(ctx, &client.ChannelsOriginateParams{
		Endpoint: cfg.callee, App: cfg.app, ChannelID: calleeID,
	}); err != nil {
		return err
	}
	var callee *client.ChannelHandle
	select {
	case callee = <-arrived:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer callee.Hangup(context.WithoutCancel(ctx), nil)
	fmt.Fprintf(out, "call %s: callee %s answered\n", caller.ID(), callee.ID())

	br, err := node.Bridges().Create(ctx, &client.BridgesCreateParams{Type: "mixing"})
	if err != nil {
		return err
	}
	defer br.Destroy(context.WithoutCancel(ctx))
	if err := br.AddChannel(ctx, &client.BridgeAddChannelParams{Channel: []string{caller.ID(), callee.ID()}}); err != nil {
		return err
	}
	rec, err := br.Record(ctx, &client.BridgeRecordParams{
		Name: "call-" + caller.ID(), Format: "wav", MaxDurationSeconds: cfg.seconds, IfExists: "overwrite",
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "call %s: recording %s\n", caller.ID(), rec.ID())
	stored, err := rec.Wait(ctx) // until the recording ends: its length, or a hangup
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "call %s: stored recording %s on %s\n", caller.ID(), stored.ID(), stored.Key().Node)
	return nil
}

func main() {
	url, app := appmain.Flags()
	callee := flag.String("callee", "Local/echo@default", "endpoint of the second party")
	seconds := flag.Int("seconds", 30, "longest recording, in seconds")
	appmain.Run(func(ctx context.Context) error {
		return run(ctx, config{url: *url, app: *app, callee: *callee, seconds: *seconds}, os.Stdout)
	})
}
