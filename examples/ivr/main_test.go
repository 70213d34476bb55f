package main

import (
	"context"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/examples/internal/exampletest"
)

// TestIVR: a caller (application "caller" on the simulated Asterisk)
// dials into the IVR's application through the dialplan, keys 4 2 #, and
// the IVR reads the digits and hangs up.
func TestIVR(t *testing.T) {
	cl := exampletest.Start(t, 1, "demo", "caller")
	out := exampletest.NewLines()
	exampletest.Run(t, func(ctx context.Context) error { return run(ctx, cl.URL, "demo", out) })
	out.Wait(t, "listening", 1, 5*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	caller, err := client.New(ctx, client.WithURL(cl.URL), client.WithApplication("caller"))
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	started, err := caller.Subscribe(ctx, ari.TypeStasisStart)
	if err != nil {
		t.Fatal(err)
	}
	// The far end of this Local channel runs the dialplan's "stasis"
	// extension: Stasis(demo), the IVR.
	ch, err := caller.Channels().Originate(ctx, &client.ChannelsOriginateParams{
		Endpoint: "Local/stasis@default", App: "caller", ChannelID: "caller-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	out.Wait(t, "call caller-1;2: waiting for digits", 1, 10*time.Second)
	select {
	case <-started.Events(): // the caller's leg is up once the IVR answered
	case <-ctx.Done():
		t.Fatal("the caller's channel never entered its application")
	}
	if err := ch.SendDTMF(ctx, &client.ChannelSendDTMFParams{DTMF: "42#"}); err != nil {
		t.Fatal(err)
	}
	out.Wait(t, `call caller-1;2: digits "42"`, 1, 10*time.Second)
	out.Wait(t, "call caller-1;2: hung up", 1, 10*time.Second)
}
