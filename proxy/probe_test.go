package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/proxy"
	"github.com/ariproxy/ari-proxy/wire"
)

// ariCalls records the REST calls a server makes to its Asterisk, through
// a reverse proxy in front of the simulator's REST API (the WebSocket
// stays direct).
type ariCalls struct {
	mu    sync.Mutex
	paths []string
}

// counting returns a server option that routes its REST calls through a.
func (a *ariCalls) counting(t *testing.T) func(*proxy.Config) {
	return func(cfg *proxy.Config) {
		target, err := url.Parse(cfg.ARI.HTTPURL)
		if err != nil {
			t.Fatal(err)
		}
		rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.mu.Lock()
			a.paths = append(a.paths, r.Method+" "+r.URL.Path)
			a.mu.Unlock()
			rp.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		cfg.ARI.HTTPURL = srv.URL + target.Path
	}
}

// about counts the calls whose path contains s.
func (a *ariCalls) about(s string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, p := range a.paths {
		if strings.Contains(p, s) {
			n++
		}
	}
	return n
}

// TestProbe: a probe (a request with "probe": {} on the application's
// subject) is passed to Asterisk only for a resource the server has seen:
// created through it, named by a start event, or found by an ordinary
// request; for any other it answers unclaimed without an ARI call. End
// events, StasisEnd and a WebSocket drop make it forget. On the node's
// subject, and for kinds that are not about one created resource, the
// mark changes nothing.
func TestProbe(t *testing.T) {
	calls := &ariCalls{}
	e := newEnv(t, calls.counting(t))
	events := e.sub(e.subj.AllEvents(app))
	data := e.subj.Request(wire.ClassData, app, "")
	probe := func(id string) map[string]any {
		return map[string]any{"kind": "ChannelData", "key": map[string]any{"kind": "channel", "id": id, "app": app}, "probe": map[string]any{}}
	}
	code := func(what string, r *wire.Response, want wire.ErrorCode) {
		t.Helper()
		if r.Code != want {
			t.Fatalf("%s: %+v, want code %q", what, r, want)
		}
		if r.Node != node1 {
			t.Errorf("%s: node %q, want %q", what, r.Node, node1)
		}
	}

	code("probe of an unknown channel", e.request(data, probe("nobody")), wire.CodeUnclaimed)
	if n := calls.about("/channels/nobody"); n != 0 {
		t.Errorf("the unclaimed probe made %d ARI calls", n)
	}
	plain := probe("nobody")
	delete(plain, "probe")
	code("ordinary request", e.request(data, plain), wire.CodeNotFound)
	onNode := probe("nobody")
	onNode["key"].(map[string]any)["node"] = node1
	code("probe on the node's subject", e.request(e.subj.Request(wire.ClassData, app, node1), onNode), wire.CodeNotFound)
	if n := calls.about("/channels/nobody"); n != 2 {
		t.Errorf("%d ARI calls for the ordinary requests, want 2", n)
	}

	// Known from its create and its StasisStart.
	e.originate("pb-1", events)
	if r := ok(t, "probe of a channel created here", e.request(data, probe("pb-1"))); len(r.Data) == 0 {
		t.Errorf("no data: %+v", r)
	}
	// StasisEnd (the channel goes on in the dialplan): forgotten.
	ok(t, "continue", e.request(e.subj.Request(wire.ClassCommand, app, node1), map[string]any{
		"kind": "ChannelContinue", "key": chanKey("pb-1"), "channel_continue": map[string]any{"context": "default", "extension": "echo", "priority": 1}}))
	waitEvent(t, events, 5*time.Second, func(ev eventOf, _ []byte) bool {
		return ev.Type == "StasisEnd" && ev.Channel != nil && ev.Channel.ID == "pb-1"
	})
	code("probe after StasisEnd", e.request(data, probe("pb-1")), wire.CodeUnclaimed)

	// An ordinary request that finds it teaches the server.
	plain = probe("pb-1")
	delete(plain, "probe")
	ok(t, "ordinary request", e.request(data, plain))
	ok(t, "probe after an ordinary success", e.request(data, probe("pb-1")))

	// A WebSocket drop forgets everything: end events may be missed.
	e.originate("pb-2", events)
	ok(t, "probe before the drop", e.request(data, probe("pb-2")))
	if n := metric(t, e.reg, "ariproxy_known_resources"); n != 2 {
		t.Errorf("known_resources = %v before the drop, want 2 (pb-1 read again, pb-2 created)", n)
	}
	e.sim.DropWebSockets()
	eventually(t, 10*time.Second, "the WebSocket reconnected", func() bool {
		return metric(t, e.reg, "ariproxy_ari_websocket_reconnects_total") >= 1
	})
	eventually(t, 10*time.Second, "the server serving again after the drop", func() bool {
		// (Until then it has left the application's subject.)
		raws, err := e.requestRaw(data, probe("nobody"), 1, 500*time.Millisecond)
		return err == nil && decodeResponse(t, raws[0]).Code == wire.CodeUnclaimed
	})
	code("probe after the drop", e.request(data, probe("pb-2")), wire.CodeUnclaimed)

	// Its end event: forgotten.
	e.originate("pb-3", events)
	ok(t, "probe", e.request(data, probe("pb-3")))
	ok(t, "hangup", e.request(e.subj.Request(wire.ClassCommand, app, node1), map[string]any{"kind": "ChannelHangup", "key": chanKey("pb-3")}))
	waitEvent(t, events, 5*time.Second, func(ev eventOf, _ []byte) bool {
		return ev.Type == "ChannelDestroyed" && ev.Channel != nil && ev.Channel.ID == "pb-3"
	})
	code("probe after ChannelDestroyed", e.request(data, probe("pb-3")), wire.CodeUnclaimed)

	// Not about one created resource: served as without the mark.
	ep := map[string]any{"kind": "EndpointData", "key": map[string]any{"kind": "endpoint", "id": "PJSIP/alice", "app": app}, "probe": map[string]any{}}
	if r := e.request(data, ep); r.Code == wire.CodeUnclaimed {
		t.Errorf("probe of an endpoint: %+v, want it served", r)
	}
	list := map[string]any{"kind": "ChannelList", "key": map[string]any{"app": app}, "probe": map[string]any{}}
	ok(t, "probe of a list", e.request(e.subj.Request(wire.ClassGet, app, ""), list))
	if n := metric(t, e.reg, "ariproxy_requests_total", "code", string(wire.CodeUnclaimed)); n < 4 {
		t.Errorf("requests_total{code=unclaimed} = %v, want the probes counted", n)
	}
	// pb-1 and pb-2 went with the drop, pb-3 with its ChannelDestroyed.
	if n := metric(t, e.reg, "ariproxy_known_resources"); n != 0 {
		t.Errorf("known_resources = %v at the end, want 0", n)
	}
}
