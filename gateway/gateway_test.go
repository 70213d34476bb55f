package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/gateway"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

const (
	app   = "demo"
	user  = "gwuser"
	pass  = "gwsecret"
	nodeA = "02:00:00:00:00:0a"
	nodeB = "02:00:00:00:00:0b"
)

// cluster is two simulators and two servers on one embedded NATS.
type cluster struct {
	url, prefix string
	sims        map[string]*arisim.Sim
	app         string // the gateway's default application, app when ""
	gateways    map[*httptest.Server]*gateway.Gateway
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	_, url := localstack.StartNATS(t)
	cl := &cluster{url: url, prefix: localstack.Prefix(), sims: map[string]*arisim.Sim{}}
	for _, n := range []string{nodeA, nodeB} {
		sim := localstack.StartSimConfig(t, arisim.Config{EntityID: n, TimeScale: 0.01})
		localstack.StartServer(t, sim, url, app, cl.prefix)
		cl.sims[n] = sim
	}
	return cl
}

// gatewayServer starts a gateway on the cluster and serves it over HTTP.
func (cl *cluster) gateway(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	def := cl.app
	if def == "" {
		def = app
	}
	c, err := client.New(ctx, client.WithURL(cl.url), client.WithPrefix(cl.prefix), client.WithApplication(def),
		client.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for len(c.Servers()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	g, err := gateway.New(gateway.Config{Client: c, User: user, Password: pass, PendingTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() { srv.Close(); g.Close() })
	if cl.gateways == nil {
		cl.gateways = map[*httptest.Server]*gateway.Gateway{}
	}
	cl.gateways[srv] = g
	return srv
}

type result struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, srv *httptest.Server, method, path string, hdr ...string) result {
	t.Helper()
	return doBody(t, srv, method, path, "", hdr...)
}

// doBody is do with a JSON body.
func doBody(t *testing.T, srv *httptest.Server, method, path, body string, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(user, pass)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, string(b), resp.Header}
}

func wantStatus(t *testing.T, what string, r result, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d (%s), want %d", what, r.status, r.body, status)
	}
}

func TestRESTTwoNodes(t *testing.T) {
	cl := newCluster(t)
	srv := cl.gateway(t)

	// Creates with a node hint land on that node; without, on one.
	ids := map[string]string{}
	for _, n := range []string{nodeA, nodeB} {
		r := do(t, srv, "POST", "/ari/channels?endpoint=Local/echo@default&app="+app+"&"+gateway.NodeParam+"="+url.QueryEscape(n))
		wantStatus(t, "originate on "+n, r, 200)
		var ch struct{ ID string }
		_ = json.Unmarshal([]byte(r.body), &ch)
		ids[n] = ch.ID
	}
	// The list merges both nodes' channels (each Local pair has two halves).
	r := do(t, srv, "GET", "/ari/channels")
	wantStatus(t, "list", r, 200)
	var list []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil {
		t.Fatalf("list: %v: %s", err, r.body)
	}
	seen := map[string]bool{}
	for _, c := range list {
		seen[c.ID] = true
	}
	for n, id := range ids {
		if !seen[id] {
			t.Errorf("list lacks %s's channel %s: %s", n, id, r.body)
		}
	}
	// A get by id reaches the node that has it, byte-exact with direct ARI.
	for n, id := range ids {
		r := do(t, srv, "GET", "/ari/channels/"+id)
		wantStatus(t, "get", r, 200)
		direct := directGet(t, cl.sims[n], "/channels/"+id)
		if r.body != direct {
			t.Errorf("get %s via gateway:\n%s\ndirect:\n%s", id, r.body, direct)
		}
		if r := do(t, srv, "GET", "/ari/asterisk/info", gateway.NodeHeader, n); r.status != 200 || !strings.Contains(r.body, n) {
			t.Errorf("asterisk/info with hint %s: %d %s", n, r.status, r.body)
		}
	}
	// Byte-identical elements (every box has the same sounds) are listed once.
	if r := do(t, srv, "GET", "/ari/sounds"); r.status != 200 || r.body != directGet(t, cl.sims[nodeA], "/sounds") {
		t.Errorf("sounds: %d %.200s", r.status, r.body)
	}
	// A playback: 201 with Location, as Asterisk answers.
	r = do(t, srv, "POST", "/ari/channels/"+ids[nodeB]+"/play/pb-1?media=sound:beep")
	if r.status != 201 || r.header.Get("Location") != "/playbacks/pb-1" || !strings.Contains(r.body, `"id":"pb-1"`) {
		t.Errorf("play: %d %v %s", r.status, r.header.Get("Location"), r.body)
	}
	// A channel variable, set and read on the node that has the channel.
	wantStatus(t, "set var", do(t, srv, "POST", "/ari/channels/"+ids[nodeB]+"/variable?variable=X&value=42"), 204)
	if r := do(t, srv, "GET", "/ari/channels/"+ids[nodeB]+"/variable?variable=X"); r.body != `{"value":"42"}` {
		t.Errorf("get var: %d %s", r.status, r.body)
	}
	// A global variable with the hint is set on that box only; without,
	// on every box.
	wantStatus(t, "set global on A", do(t, srv, "POST", "/ari/asterisk/variable?variable=G&value=a", gateway.NodeHeader, nodeA), 204)
	if r := do(t, srv, "GET", "/ari/asterisk/variable?variable=G", gateway.NodeHeader, nodeA); r.body != `{"value":"a"}` {
		t.Errorf("global on A: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "GET", "/ari/asterisk/variable?variable=G", gateway.NodeHeader, nodeB); r.body == `{"value":"a"}` ||
		r.body != directGet(t, cl.sims[nodeB], "/asterisk/variable?variable=G") {
		t.Errorf("global on B: %d %s", r.status, r.body)
	}
	wantStatus(t, "set global everywhere", do(t, srv, "POST", "/ari/asterisk/variable?variable=H&value=b"), 204)
	for _, n := range []string{nodeA, nodeB} {
		if b := directGet(t, cl.sims[n], "/asterisk/variable?variable=H"); b != `{"value":"b"}` {
			t.Errorf("global H on %s: %s", n, b)
		}
	}
	// Parameters in a JSON body count as in the query, app included.
	r = doBody(t, srv, "POST", "/ari/channels", `{"endpoint":"Local/echo@default","app":"nobody"}`)
	if r.status != 503 {
		t.Errorf("JSON originate into an application nobody serves: %d %s", r.status, r.body)
	}
	r = doBody(t, srv, "POST", "/ari/channels", `{"endpoint":"Local/echo@default","app":"`+app+`","variables":{"V":"1"}}`, gateway.NodeHeader, nodeA)
	wantStatus(t, "JSON originate", r, 200)
	var jc struct{ ID string }
	_ = json.Unmarshal([]byte(r.body), &jc)
	if v := do(t, srv, "GET", "/ari/channels/"+jc.ID+"/variable?variable=V"); v.body != `{"value":"1"}` {
		t.Errorf("JSON originate's variable: %d %s", v.status, v.body)
	}
	wantStatus(t, "hangup", do(t, srv, "DELETE", "/ari/channels/"+jc.ID), 204)
	// Asterisk's errors.
	r = do(t, srv, "GET", "/ari/channels/nope")
	if r.status != 404 || r.body != `{"message":"Channel not found"}` {
		t.Errorf("unknown channel: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "GET", "/ari/nothing"); r.status != 404 || r.body != `{"message":"Resource not found"}` {
		t.Errorf("unknown path: %d %s", r.status, r.body)
	}
	if r := do(t, srv, "POST", "/ari/channels?endpoint=Local/echo@default&app=nobody"); r.status != 503 || !strings.Contains(r.body, `"message"`) {
		t.Errorf("no server for app: %d %s", r.status, r.body)
	}
	for _, id := range ids {
		wantStatus(t, "hangup", do(t, srv, "DELETE", "/ari/channels/"+id), 204)
	}
}

func TestAuthAndDocs(t *testing.T) {
	cl := newCluster(t)
	srv := cl.gateway(t)
	resp, err := http.Get(srv.URL + "/ari/asterisk/info")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no credentials: %d", resp.StatusCode)
	}
	// Asterisk's own credentials do not open the gateway.
	resp, err = http.Get(srv.URL + "/ari/asterisk/info?api_key=" + localstack.SimUser + ":" + localstack.SimPassword)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("Asterisk's credentials: %d", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL + "/ari/api-docs/resources.json?api_key=" + user + ":" + pass)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"basePath":"http://`+host+`/ari"`) {
		t.Errorf("api-docs: %d %.200s", resp.StatusCode, b)
	}
}

// TestEventsNoServer: an events WebSocket for an application no server
// serves is refused with 503 and a JSON message.
func TestEventsNoServer(t *testing.T) {
	cl := newCluster(t)
	srv := cl.gateway(t)
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ari/events?app=nobody&api_key=" + user + ":" + pass
	_, resp, err := websocket.Dial(context.Background(), u, nil)
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("dial: %v %v", err, resp)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(b), `{"message":`) {
		t.Errorf("body %s", b)
	}
	// Asterisk's refusals of a bad request come first.
	if r := do(t, srv, "GET", "/ari/events"); r.status != 400 {
		t.Errorf("no app: %d", r.status)
	}
	if r := do(t, srv, "GET", "/ari/events?app="+app); r.status != 426 {
		t.Errorf("no upgrade: %d", r.status)
	}
}

func directGet(t *testing.T, sim *arisim.Sim, path string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", sim.URL()+path, nil)
	req.SetBasicAuth(localstack.SimUser, localstack.SimPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// dial opens the events WebSocket of the gateway for apps.
func dial(t *testing.T, srv *httptest.Server, apps string) *websocket.Conn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ari/events?app=" + apps + "&api_key=" + user + ":" + pass
	ws, _, err := websocket.Dial(context.Background(), u, &websocket.DialOptions{Subprotocols: []string{"ari"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return ws
}

type event struct {
	Type       string `json:"type"`
	AsteriskID string `json:"asterisk_id"`
	Channel    struct {
		ID string `json:"id"`
	} `json:"channel"`
	raw string
}

func read(t *testing.T, ctx context.Context, ws *websocket.Conn) (event, bool) {
	_, b, err := ws.Read(ctx)
	if err != nil {
		return event{}, false
	}
	var e event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Errorf("event %s: %v", b, err)
	}
	e.raw = string(b)
	return e, true
}

// TestEventsShared: inbound calls on both nodes reach three WebSockets on
// two gateway instances, each StasisStart exactly once, and every later
// event of a call follows its StasisStart.
func TestEventsShared(t *testing.T) {
	cl := newCluster(t)
	g1, g2 := cl.gateway(t), cl.gateway(t)
	conns := []*websocket.Conn{dial(t, g1, app), dial(t, g1, app), dial(t, g2, app)}
	// What the servers publish, in the bus's order, by channel.
	var busMu sync.Mutex
	onBus := map[string][]string{}
	sub, err := localstack.Connect(t, cl.url).Subscribe(cl.prefix+"event."+app+".>", func(m bus.Msg) {
		var e event
		_ = json.Unmarshal(m.Data, &e)
		busMu.Lock()
		onBus[e.Channel.ID] = append(onBus[e.Channel.ID], string(m.Data))
		busMu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	onWS := map[string][]string{}
	const calls = 40
	type got struct {
		conn int
		ev   event
	}
	ch := make(chan got, 10000)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, ws := range conns {
		go func() {
			for {
				e, ok := read(t, ctx, ws)
				if !ok {
					return
				}
				ch <- got{i, e}
			}
		}()
	}
	var placed []string
	for i := range calls {
		sim := cl.sims[[]string{nodeA, nodeB}[i%2]]
		id, err := sim.InboundCall(app)
		if err != nil {
			t.Fatal(err)
		}
		placed = append(placed, id)
	}
	owner := map[string]int{}
	starts := map[string]int{}
	ends := 0
	for ends < calls {
		select {
		case g := <-ch:
			id := g.ev.Channel.ID
			onWS[id] = append(onWS[id], g.ev.raw)
			switch g.ev.Type {
			case "StasisStart":
				starts[id]++
				owner[id] = g.conn
				if g.ev.AsteriskID != nodeA && g.ev.AsteriskID != nodeB {
					t.Errorf("asterisk_id %q", g.ev.AsteriskID)
				}
				// Hang the call up through the gateway of its WebSocket.
				srv := g1
				if g.conn == 2 {
					srv = g2
				}
				go hangup(srv, id)
			case "StasisEnd":
				ends++
			}
			if id != "" && starts[id] == 0 && strings.HasPrefix(g.ev.Type, "Stasis") {
				t.Errorf("%s of %s before its StasisStart", g.ev.Type, id)
			}
			if o, ok := owner[id]; ok && o != g.conn {
				t.Errorf("%s of %s on WebSocket %d, its StasisStart on %d", g.ev.Type, id, g.conn, o)
			}
		case <-ctx.Done():
			t.Fatalf("%d of %d StasisEnd (starts %d)", ends, calls, len(starts))
		}
	}
	for _, id := range placed {
		if starts[id] != 1 {
			t.Errorf("call %s: %d StasisStart", id, starts[id])
		}
	}
	// Byte-exact and in order: each call's events on its WebSocket are
	// what the servers published for it (up to StasisEnd; the
	// ChannelDestroyed that follows may still be on its way).
	// The test's own bus subscriber may lag behind under load.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		busMu.Lock()
		behind := false
		for _, id := range placed {
			behind = behind || len(onBus[id]) < len(onWS[id])
		}
		busMu.Unlock()
		if !behind {
			break
		}
	}
	busMu.Lock()
	for _, id := range placed {
		ws, b := onWS[id], onBus[id]
		if len(ws) > len(b) || len(ws) == 0 {
			t.Errorf("call %s: %d events on the WebSocket, %d on the bus", id, len(ws), len(b))
			continue
		}
		for i := range ws {
			if ws[i] != b[i] {
				t.Errorf("call %s event %d:\nws  %s\nbus %s", id, i, ws[i], b[i])
				break
			}
		}
	}
	busMu.Unlock()
	per := map[int]int{}
	for _, o := range owner {
		per[o]++
	}
	t.Logf("calls per WebSocket: %v", per)
}

// hangup is DELETE /channels/id, for goroutines.
func hangup(srv *httptest.Server, id string) {
	req, _ := http.NewRequest("DELETE", srv.URL+"/ari/channels/"+id, nil)
	req.SetBasicAuth(user, pass)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// TestNodeDown: with one node's Asterisk gone, lists answer with the
// other node's entities, and a request for a resource of the dead node
// gets 503 with a JSON message rather than hanging or a wrong 404.
func TestNodeDown(t *testing.T) {
	cl := newCluster(t)
	srv := cl.gateway(t)
	ids := map[string]string{}
	for _, n := range []string{nodeA, nodeB} {
		r := do(t, srv, "POST", "/ari/channels?endpoint=Local/echo@default&app="+app, gateway.NodeHeader, n)
		wantStatus(t, "originate on "+n, r, 200)
		var ch struct{ ID string }
		_ = json.Unmarshal([]byte(r.body), &ch)
		ids[n] = ch.ID
	}
	cl.sims[nodeB].Close()
	r := do(t, srv, "GET", "/ari/channels")
	wantStatus(t, "list with a node down", r, 200)
	if !strings.Contains(r.body, ids[nodeA]) || strings.Contains(r.body, ids[nodeB]) {
		t.Errorf("list with %s down: %s", nodeB, r.body)
	}
	r = do(t, srv, "GET", "/ari/channels/"+ids[nodeB])
	if r.status != 503 || !strings.HasPrefix(r.body, `{"message":`) {
		t.Errorf("channel of the dead node: %d %s", r.status, r.body)
	}
	wantStatus(t, "channel of the live node", do(t, srv, "GET", "/ari/channels/"+ids[nodeA]), 200)
}

// TestRequestsKeepNothing: requests for a known resource, with a node
// hint and naming an application, leave the gateway's memory as it was
// (a client derived per request must not stay registered with the root
// client).
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
		// Another application: a client derived for the request.
		"/ari/channels/" + ch.ID + "/variable?variable=X&app=another-app",
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

// TestEventsStuckClient: a WebSocket whose client reads nothing is
// disconnected once a write to it has waited the write timeout, and
// another WebSocket of the application gets every event meanwhile, in
// order.
func TestEventsStuckClient(t *testing.T) {
	// Long enough for a reader under -race on a busy machine.
	// A cleanup registered first runs last: after the gateway's writers
	// have stopped reading the variable.
	t.Cleanup(gateway.SetWriteTimeout(3 * time.Second))
	cl := newCluster(t)
	srv := cl.gateway(t)
	good := dial(t, srv, app)
	good.SetReadLimit(-1)
	// The stuck client's receive buffer is small and fixed (the kernel
	// would grow it to tens of MB on loopback): what it cannot take waits
	// in the gateway.
	small := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
	}}
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ari/events?app=" + app + "&api_key=" + user + ":" + pass
	stuck, _, err := websocket.Dial(context.Background(), u, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: small.DialContext}}})
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.CloseNow()
	g := cl.gateways[srv]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Floods of about 4 MB (each numbered from 0) until the gateway has
	// dropped the stuck WebSocket.
	const n = 20000
	sent := 0
	for round := 0; g.WebSockets(app) == 2; round++ {
		if round == 20 {
			t.Fatalf("the stuck WebSocket is still served after %d events", sent)
		}
		flood := make(chan error, 1)
		go func() { flood <- cl.sims[nodeA].Flood(ctx, app, n) }()
		for i := range n {
			_, b, err := good.Read(ctx)
			if err != nil {
				t.Fatalf("the reading WebSocket, event %d: %v", sent+i, err)
			}
			if !bytes.Contains(b, []byte(`{"seq":"`+strconv.Itoa(i)+`"`)) {
				t.Fatalf("event %d of round %d: %s", i, round, b)
			}
		}
		if err := <-flood; err != nil {
			t.Fatal(err)
		}
		sent += n
	}
	got := 0
	for {
		if _, _, err := stuck.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("the stuck WebSocket is still open after %d events", got)
			}
			break
		}
		got++
	}
	if got >= sent {
		t.Errorf("the stuck WebSocket got all %d events", got)
	}
	t.Logf("the stuck WebSocket got %d of %d events before its close", got, sent)
}
