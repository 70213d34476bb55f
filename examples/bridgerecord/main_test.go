package main

import (
	"context"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/examples/internal/exampletest"
)

// TestBridgeRecord: two inbound calls, one on each of two nodes: each is
// bridged with a callee originated on its own node and recorded there.
func TestBridgeRecord(t *testing.T) {
	cl := exampletest.Start(t, 2, "demo")
	out := exampletest.NewLines()
	exampletest.Run(t, func(ctx context.Context) error {
		return run(ctx, config{url: cl.URL, app: "demo", callee: "Local/echo@default", seconds: 2}, out)
	})
	out.Wait(t, "listening", 1, 5*time.Second)
	var ids []string
	for _, sim := range cl.Sims {
		id, err := sim.InboundCall("demo")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	out.Wait(t, "stored recording", 2, 20*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.WithURL(cl.URL), client.WithApplication("demo"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, id := range ids {
		out.Wait(t, "call "+id+": callee "+id+"-callee answered", 1, time.Second)
		out.Wait(t, "call "+id+": stored recording call-"+id+" on "+exampletest.Node(i), 1, time.Second)
		rec, err := c.WithNode(exampletest.Node(i)).StoredRecording("call-" + id).GetStored(ctx)
		if err != nil {
			t.Errorf("stored recording of %s on node %d: %v", id, i, err)
		} else if rec.Format != "wav" {
			t.Errorf("recording %+v", rec)
		}
	}
}
