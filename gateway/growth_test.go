package gateway_test

import (
	"encoding/json"
	"net/url"
	"runtime"
	"testing"

	"github.com/ariproxy/ari-proxy/gateway"
)

// TestRequestsKeepNothing: requests for a known resource, with a node
// hint and naming an application, leave the gateway's memory as it was
// (the client keeps every client derived from it until closed: deriving
// one per request would grow without end).
func TestRequestsKeepNothing(t *testing.T) {
	cl := newCluster(t)
	srv := cl.gateway(t)
	r := do(t, srv, "POST", "/ari/channels?endpoint=Local/echo@default&app="+app+"&"+gateway.NodeParam+"="+url.QueryEscape(nodeA))
	wantStatus(t, "originate", r, 200)
	var ch struct{ ID string }
	_ = json.Unmarshal([]byte(r.body), &ch)
	paths := []string{
		"/ari/channels/" + ch.ID,
		"/ari/channels/" + ch.ID + "?" + gateway.NodeParam + "=" + url.QueryEscape(nodeA),
		"/ari/channels/" + ch.ID + "/variable?variable=X&app=" + app,
	}
	run := func(n int) {
		for i := range n {
			r := do(t, srv, "GET", paths[i%len(paths)])
			if r.status >= 500 {
				t.Fatalf("%s: %d %s", paths[i%len(paths)], r.status, r.body)
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	run(300) // warm: connections, pools
	before := heap()
	const n = 5000
	run(n)
	after := heap()
	// The embedded NATS server's subject cache (bounded, a few hundred
	// kB) grows with the requests' reply subjects; a derived client per
	// request was about 500 bytes each.
	if after > before && (after-before)/n > 200 {
		t.Errorf("the heap grew by %d bytes per request (%d -> %d over %d requests)", (after-before)/n, before, after, n)
	}
}
