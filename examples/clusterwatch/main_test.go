package main

import (
	"context"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/examples/internal/exampletest"
)

// TestClusterWatch: the watcher prints both nodes joining; when the
// second node's Asterisk dies, its server stops announcing and the
// watcher prints it unavailable, then gone.
func TestClusterWatch(t *testing.T) {
	const ttl = 2 * time.Second
	cl := exampletest.Start(t, 2, "demo", "other")
	out := exampletest.NewLines()
	exampletest.Run(t, func(ctx context.Context) error { return run(ctx, cl.URL, ttl, out) })
	for i := range 2 {
		out.Wait(t, exampletest.Node(i)+": joined      applications demo,other", 1, 5*time.Second)
	}
	cl.Sims[1].Close()
	out.Wait(t, exampletest.Node(1)+": unavailable", 1, 2*ttl)
	out.Wait(t, exampletest.Node(1)+": left", 1, 2*ttl)
	if n := out.Count(exampletest.Node(0)); n != 1 {
		t.Errorf("%d lines about the live node:\n%s", n, out)
	}
}
