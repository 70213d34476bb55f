package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestGatewaySection runs the gateway section with tiny sizes: every
// figure is there and every event arrived; speeds are not asserted.
func TestGatewaySection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := RunGateway(ctx, Options{Duration: 200 * time.Millisecond, Concurrency: 2, Events: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests.Direct.Ops == 0 || rep.Requests.Proxied.Ops == 0 || rep.Requests.Proxied.Errors != 0 ||
		rep.Client.Ops == 0 || rep.Client.Errors != 0 {
		t.Errorf("requests: %+v", rep.Requests)
	}
	if rep.Gateway.Received != rep.Gateway.Sent || rep.Direct.Received != rep.Direct.Sent || rep.Bus.Received != rep.Bus.Sent {
		t.Errorf("events lost: direct %+v gateway %+v bus %+v", rep.Direct, rep.Gateway, rep.Bus)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil || !strings.Contains(b.String(), "events/s") {
		t.Errorf("text: %v\n%s", err, b.String())
	}
	t.Log("\n" + b.String())
}
