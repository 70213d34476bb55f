package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/examples/internal/exampletest"
)

// TestDialers: two dialers run at once on a two-node cluster, each
// placing ten calls; each delivers its message to exactly its own calls.
func TestDialers(t *testing.T) {
	cl := exampletest.Start(t, 2, "demo")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names := []string{"alpha", "beta"}
	outs := make([]*exampletest.Lines, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		outs[i] = exampletest.NewLines()
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = run(ctx, config{url: cl.URL, app: "demo", name: name, calls: 10, message: "sound:demo-congrats",
				endpoints: []string{"Local/echo@default"}}, outs[i])
		}()
	}
	wg.Wait()
	for i, name := range names {
		if errs[i] != nil {
			t.Fatalf("%s: %v", name, errs[i])
		}
		out := outs[i].String()
		if n := outs[i].Count("message delivered"); n != 10 {
			t.Errorf("%s delivered %d messages, want 10:\n%s", name, n, out)
		}
		for _, other := range names {
			if other != name && strings.Contains(out, "call "+other+"-") {
				t.Errorf("%s handled a call of %s:\n%s", name, other, out)
			}
		}
		if !strings.Contains(out, name+": 10 calls done") {
			t.Errorf("%s did not finish:\n%s", name, out)
		}
	}
}
