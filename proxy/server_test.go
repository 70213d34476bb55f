package proxy_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
	"github.com/ariproxy/ari-proxy/wire"
)

func TestNodeAndAnnounce(t *testing.T) { bustest.ForEachTransport(t, testNodeAndAnnounce) }

func testNodeAndAnnounce(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr)
	if got := e.srv.Node(); got != node1 {
		t.Fatalf("Node() = %q, want %q", got, node1)
	}
	ann := e.sub(e.subj.Announce())
	if err := e.cli.Publish(t.Context(), e.subj.Ping(), "", []byte(`{"kind":"","key":null}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case raw := <-ann:
		var a wire.Announcement
		if err := json.Unmarshal(raw, &a); err != nil || a.Node != node1 || a.Application != app {
			t.Fatalf("announcement %s (%v)", raw, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no announcement after ping")
	}
}

func TestPeriodicAnnounce(t *testing.T) { bustest.ForEachTransport(t, testPeriodicAnnounce) }

func testPeriodicAnnounce(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr, func(c *proxy.Config) { c.AnnounceInterval = 50 * time.Millisecond })
	ann := e.sub(e.subj.Announce())
	for range 3 {
		select {
		case <-ann:
		case <-time.After(5 * time.Second):
			t.Fatal("no periodic announcement")
		}
	}
}

// TestRequestLevels sends a request of every class at every subject level.
func TestRequestLevels(t *testing.T) { bustest.ForEachTransport(t, testRequestLevels) }

func testRequestLevels(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr)
	levels := []struct {
		name      string
		app, node string
	}{{"generic", "", ""}, {"app", app, ""}, {"node", app, node1}}
	for _, lv := range levels {
		t.Run(lv.name, func(t *testing.T) {
			subj := func(c wire.Class) string { return e.subj.Request(c, lv.app, lv.node) }

			r := ok(t, "get", e.request(subj(wire.ClassGet), `{"kind":"ChannelList","key":{}}`))
			if r.Keys == nil && string(r.Data) != "" {
				t.Fatalf("ChannelList: %+v", r)
			}

			r = ok(t, "data", e.request(subj(wire.ClassData), `{"kind":"AsteriskInfo","key":{}}`))
			if !has(string(r.Data), `"asterisk"`, `"entity_id":"`+node1+`"`) {
				t.Fatalf("AsteriskInfo data = %s", r.Data)
			}

			v := "GV_" + lv.name
			ok(t, "command", e.request(subj(wire.ClassCommand), fmt.Sprintf(
				`{"kind":"AsteriskVariableSet","key":{"kind":"variable","id":%q},"asterisk_variable_set":{"value":%q}}`, v, lv.name)))
			r = ok(t, "variable get", e.request(subj(wire.ClassData), fmt.Sprintf(`{"kind":"AsteriskVariableGet","key":{"kind":"variable","id":%q}}`, v)))
			if string(r.Data) != fmt.Sprintf(`{"variable":%q}`, lv.name) {
				t.Fatalf("AsteriskVariableGet data = %s", r.Data)
			}

			id := "br-" + lv.name
			r = ok(t, "create", e.request(subj(wire.ClassCreate), fmt.Sprintf(
				`{"kind":"BridgeCreate","key":{"kind":"bridge","id":%q},"bridge_create":{"type":"mixing","name":"x"}}`, id)))
			want := wire.Key{Kind: "bridge", ID: id, Node: node1, App: app}
			if r.Key == nil || *r.Key != want {
				t.Fatalf("BridgeCreate key = %+v, want %+v", r.Key, want)
			}
		})
	}
}

// TestCreateQueueGroup: with two servers, a create on a generic subject is
// answered by exactly one; other classes by both.
func TestCreateQueueGroup(t *testing.T) { bustest.ForEachTransport(t, testCreateQueueGroup) }

func testCreateQueueGroup(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr)
	const node2 = "02:fc:00:00:00:02"
	sim2 := localstack.StartSim(t, node2)
	e.startServer(sim2)

	const n = 20
	var mu sync.Mutex
	nodes := map[string]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			raws, err := e.requestRaw(e.subj.Request(wire.ClassCreate, "", ""), fmt.Sprintf(
				`{"kind":"BridgeCreate","key":{"kind":"bridge","id":"q-%d"},"bridge_create":{"type":"mixing"}}`, i), 0, 500*time.Millisecond)
			if err != nil {
				t.Errorf("create %d: %v", i, err)
				return
			}
			if len(raws) != 1 {
				t.Errorf("create %d: %d replies, want 1", i, len(raws))
				return
			}
			r := decodeResponse(t, raws[0])
			if r.Error != "" || r.Key == nil {
				t.Errorf("create %d: %s", i, raws[0])
				return
			}
			mu.Lock()
			nodes[r.Key.Node]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if nodes[node1]+nodes[node2] != n || nodes[node1] == 0 || nodes[node2] == 0 {
		t.Errorf("creates by node = %v, want %d spread over both", nodes, n)
	}

	// A data request on the generic subject reaches both servers.
	raws, err := e.requestRaw(e.subj.Request(wire.ClassData, "", ""), `{"kind":"AsteriskInfo","key":{}}`, 2, 5*time.Second)
	if err != nil || len(raws) != 2 {
		t.Fatalf("generic data: %d replies (%v), want 2", len(raws), err)
	}
	// A create sent to one node goes to that node.
	r := ok(t, "node create", e.request(e.subj.Request(wire.ClassCreate, app, node2),
		`{"kind":"BridgeCreate","key":{"kind":"bridge","id":"on-2"},"bridge_create":{"type":"mixing"}}`))
	if r.Key.Node != node2 {
		t.Fatalf("node-level create answered by %s", r.Key.Node)
	}
	// A lookup of an entity only one node has: the other answers not_found.
	raws, err = e.requestRaw(e.subj.Request(wire.ClassData, "", ""), `{"kind":"BridgeData","key":{"kind":"bridge","id":"on-2"}}`, 2, 5*time.Second)
	if err != nil || len(raws) != 2 {
		t.Fatalf("generic BridgeData: %d replies (%v)", len(raws), err)
	}
	var found, notFound int
	for _, raw := range raws {
		r := decodeResponse(t, raw)
		switch {
		case r.Error == "":
			found++
		case r.Code == wire.CodeNotFound && r.Status == 404:
			notFound++
		default:
			t.Errorf("BridgeData reply %s", raw)
		}
	}
	if found != 1 || notFound != 1 {
		t.Errorf("BridgeData: %d found, %d not found; want 1 and 1", found, notFound)
	}
}

// TestMultipleApplications: one WebSocket for two apps; generic requests
// are answered once per application, each keyed with its app.
func TestMultipleApplications(t *testing.T) { bustest.ForEachTransport(t, testMultipleApplications) }

func testMultipleApplications(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr, func(c *proxy.Config) { c.Applications = []string{app, "other"} })
	raws, err := e.requestRaw(e.subj.Request(wire.ClassGet, "", ""), `{"kind":"ApplicationList","key":{}}`, 0, 500*time.Millisecond)
	if err != nil || len(raws) != 2 {
		t.Fatalf("generic get: %d replies (%v), want 2", len(raws), err)
	}
	apps := map[string]bool{}
	for _, raw := range raws {
		r := decodeResponse(t, raw)
		if r.Error != "" || len(r.Keys) != 2 {
			t.Fatalf("ApplicationList reply %s", raw)
		}
		apps[r.Keys[0].App] = true
	}
	if !apps[app] || !apps["other"] {
		t.Fatalf("replies for apps %v", apps)
	}
	r := ok(t, "other", e.request(e.subj.Request(wire.ClassData, "other", node1), `{"kind":"ApplicationData","key":{"kind":"application","id":"other"}}`))
	if !has(string(r.Data), `"name":"other"`, `"app":"other"`) {
		t.Fatalf("ApplicationData = %s", r.Data)
	}
}

// TestEventsExactBytes: events reach the bus with every field Asterisk
// sent (those v5 dropped included) and in Asterisk's own encoding.
func TestEventsExactBytes(t *testing.T) { bustest.ForEachTransport(t, testEventsExactBytes) }

func testEventsExactBytes(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr)
	events := e.sub(e.subj.Event(app, node1))
	e.originate("ex-1", events)
	// A bridge for bridge.creationtime and video_mode.
	ok(t, "bridge", e.request(e.subj.Request(wire.ClassCreate, app, node1),
		`{"kind":"BridgeCreate","key":{"kind":"bridge","id":"ex-br"},"bridge_create":{"type":"mixing"}}`))
	ok(t, "add", e.request(e.subj.Request(wire.ClassCommand, app, node1),
		`{"kind":"BridgeAddChannel","key":{"kind":"bridge","id":"ex-br"},"bridge_add_channel":{"channel":"ex-1"}}`))
	entered := waitEvent(t, events, 5*time.Second, func(ev eventOf, _ []byte) bool { return ev.Type == "ChannelEnteredBridge" })
	if !has(string(entered), `"creationtime":"`, `"video_mode":"`, `"language":"en"`, `"protocol_id":""`, `"app_name":"`, `"app_data":"`) {
		t.Errorf("ChannelEnteredBridge lost fields: %s", entered)
	}
	// Asterisk's order (type first, asterisk_id and application last) shows
	// the bytes were not re-encoded.
	if !strings.HasPrefix(string(entered), `{"type":"ChannelEnteredBridge","timestamp":"`) ||
		!strings.HasSuffix(string(entered), `"asterisk_id":"`+node1+`","application":"demo"}`) {
		t.Errorf("ChannelEnteredBridge was re-encoded: %s", entered)
	}
	// Dial carries "forward", which v5 dropped.
	if _, err := e.sim.InboundCall(app); err != nil {
		t.Fatal(err)
	}
	e.originate("ex-2", nil)
	dial := waitEvent(t, events, 5*time.Second, func(ev eventOf, _ []byte) bool { return ev.Type == "Dial" })
	if !has(string(dial), `"forward":`) {
		t.Errorf("Dial lost forward: %s", dial)
	}
}

// TestDialogOriginate: an originate with a dialog and no channel id gets
// one, and the new channel's first events (StasisStart included) reach
// the dialog subject; the binding goes with the channel.
func TestDialogOriginate(t *testing.T) { bustest.ForEachTransport(t, testDialogOriginate) }

func testDialogOriginate(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr)
	dlg := e.sub(e.subj.DialogEvent("dlg-1"))
	r := ok(t, "originate", e.request(e.subj.Request(wire.ClassCreate, "", ""), `{"kind":"ChannelOriginate","key":{"dialog":"dlg-1"},
		"channel_originate":{"originate_request":{"endpoint":"Local/echo@default","app":"demo"}}}`))
	if r.Key == nil || r.Key.ID == "" || r.Key.Dialog != "dlg-1" || r.Key.Kind != "channel" {
		t.Fatalf("reply key %+v", r.Key)
	}
	id := r.Key.ID
	raw := waitEvent(t, dlg, 5*time.Second, func(ev eventOf, _ []byte) bool {
		return ev.Type == "StasisStart" && ev.Channel.ID == id
	})
	if ev := decodeEvent(t, raw); ev.Dialog != "dlg-1" || ev.Application != app || ev.AsteriskID != node1 {
		t.Fatalf("dialog event %s", raw)
	}
	if !strings.HasPrefix(string(raw), `{"dialog":"dlg-1",`) {
		t.Fatalf("dialog not spliced in front: %s", raw)
	}
	if n := e.srv.DialogBindings(); n != 1 {
		t.Fatalf("DialogBindings = %d, want 1", n)
	}
	ok(t, "hangup", e.request(e.subj.Request(wire.ClassCommand, app, node1), map[string]any{
		"kind": "ChannelHangup", "key": chanKey(id), "channel_hangup": map[string]any{"reason": "normal"}}))
	waitEvent(t, dlg, 5*time.Second, func(ev eventOf, _ []byte) bool {
		return ev.Type == "ChannelDestroyed" && ev.Channel.ID == id
	})
	eventually(t, 5*time.Second, "binding released", func() bool { return e.srv.DialogBindings() == 0 })
	if g := metric(t, e.reg, "ariproxy_dialog_bindings"); g != 0 {
		t.Fatalf("dialog_bindings gauge = %v", g)
	}
}

// TestDialogBindings covers the other ways in and out of a binding.
func TestDialogBindings(t *testing.T) { bustest.ForEachTransport(t, testDialogBindings) }

func testDialogBindings(t *testing.T, tr bustest.Transport) {
	defer proxy.SetBridgeDeleteGrace(50 * time.Millisecond)()
	e := newEnvOn(t, tr)
	cmd := e.subj.Request(wire.ClassCommand, app, node1)
	events := e.sub(e.subj.Event(app, node1))
	e.originate("db-1", events)

	// Touching an existing channel with a dialog binds it; its events follow.
	dlg := e.sub(e.subj.DialogEvent("dlg-t"))
	ok(t, "data", e.request(e.subj.Request(wire.ClassData, app, node1), map[string]any{
		"kind": "ChannelData", "key": map[string]any{"kind": "channel", "id": "db-1", "dialog": "dlg-t"}}))
	ok(t, "varset", e.request(cmd, map[string]any{"kind": "ChannelVariableSet",
		"key": map[string]any{"kind": "channel", "id": "db-1"}, "channel_variable": map[string]any{"name": "A", "value": "1"}}))
	waitEvent(t, dlg, 5*time.Second, func(ev eventOf, _ []byte) bool { return ev.Type == "ChannelVarset" && ev.Variable == "A" })

	// A touch of a channel that does not exist is rolled back.
	r := e.request(e.subj.Request(wire.ClassData, app, node1), map[string]any{
		"kind": "ChannelData", "key": map[string]any{"kind": "channel", "id": "nope", "dialog": "dlg-t"}})
	if r.Code != wire.CodeNotFound {
		t.Fatalf("ChannelData nope: %+v", r)
	}
	if n := e.srv.DialogBindings(); n != 1 {
		t.Fatalf("after 404: DialogBindings = %d, want 1", n)
	}

	// Stage binds without calling ARI; DialogUnbind releases.
	r = ok(t, "stage", e.request(e.subj.Request(wire.ClassGet, app, node1), map[string]any{
		"kind": "ChannelStagePlay", "key": map[string]any{"kind": "channel", "id": "db-1", "dialog": "dlg-s"},
		"channel_play": map[string]any{"playback_id": "db-pb", "media_uri": "sound:beep"}}))
	if r.Key == nil || r.Key.ID != "db-pb" || r.Key.Kind != "playback" {
		t.Fatalf("stage key %+v", r.Key)
	}
	if n := e.srv.DialogBindings(); n != 3 { // db-1/dlg-t, db-1/dlg-s, db-pb/dlg-s
		t.Fatalf("after stage: DialogBindings = %d, want 3", n)
	}
	ok(t, "unbind one", e.request(cmd, `{"kind":"DialogUnbind","key":{"kind":"playback","id":"db-pb","dialog":"dlg-s"}}`))
	if n := e.srv.DialogBindings(); n != 2 {
		t.Fatalf("after DialogUnbind: %d, want 2", n)
	}
	ok(t, "unbind dialog", e.request(cmd, `{"kind":"DialogUnbind","key":{"dialog":"dlg-s"}}`))
	if n := e.srv.DialogBindings(); n != 1 {
		t.Fatalf("after DialogUnbind of the dialog: %d, want 1", n)
	}

	// Subscribe kinds bind.
	ok(t, "subscribe", e.request(cmd, `{"kind":"ChannelSubscribe","key":{"kind":"channel","id":"db-1","dialog":"dlg-sub"}}`))
	if n := e.srv.DialogBindings(); n != 2 {
		t.Fatalf("after ChannelSubscribe: %d, want 2", n)
	}

	// A failed create does not leave its binding behind.
	r = e.request(e.subj.Request(wire.ClassCreate, app, node1), map[string]any{"kind": "ChannelPlay",
		"key": map[string]any{"kind": "channel", "id": "nope", "dialog": "dlg-f"}, "channel_play": map[string]any{"media_uri": "sound:beep"}})
	if r.Error == "" {
		t.Fatalf("play on missing channel succeeded: %+v", r)
	}
	if n := e.srv.DialogBindings(); n != 2 {
		t.Fatalf("after failed create: %d, want 2", n)
	}

	// A bridge deleted with its channel inside gets no BridgeDestroyed; the
	// binding goes anyway, after ChannelLeftBridge reached the dialog.
	bdlg := e.sub(e.subj.DialogEvent("dlg-b"))
	ok(t, "bridge", e.request(e.subj.Request(wire.ClassCreate, app, node1),
		`{"kind":"BridgeCreate","key":{"kind":"bridge","id":"db-br","dialog":"dlg-b"},"bridge_create":{"type":"mixing"}}`))
	ok(t, "add", e.request(cmd, `{"kind":"BridgeAddChannel","key":{"kind":"bridge","id":"db-br"},"bridge_add_channel":{"channel":"db-1"}}`))
	waitEvent(t, bdlg, 5*time.Second, func(ev eventOf, _ []byte) bool { return ev.Type == "ChannelEnteredBridge" })
	if n := e.srv.DialogBindings(); n != 3 {
		t.Fatalf("with bridge: %d, want 3", n)
	}
	ok(t, "delete", e.request(cmd, `{"kind":"BridgeDelete","key":{"kind":"bridge","id":"db-br"}}`))
	waitEvent(t, bdlg, 5*time.Second, func(ev eventOf, _ []byte) bool { return ev.Type == "ChannelLeftBridge" })
	eventually(t, 5*time.Second, "bridge binding released", func() bool { return e.srv.DialogBindings() == 2 })

	// The channel's destruction releases both of its bindings.
	ok(t, "hangup", e.request(cmd, map[string]any{"kind": "ChannelHangup", "key": chanKey("db-1")}))
	eventually(t, 5*time.Second, "channel bindings released", func() bool { return e.srv.DialogBindings() == 0 })
}

// TestEventOrder: 1000 events Asterisk sends back to back reach a
// subscriber in Asterisk's order, byte for byte.
func TestEventOrder(t *testing.T) { bustest.ForEachTransport(t, testEventOrder) }

func testEventOrder(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr)
	events := e.sub(e.subj.Event(app, node1))
	const n = 1000
	if err := e.sim.Flood(t.Context(), app, n); err != nil {
		t.Fatal(err)
	}
	// The simulator writes exactly this (ChannelUserevent as Asterisk
	// encodes it); only the timestamp varies.
	re := regexp.MustCompile(`^\{"type":"ChannelUserevent","timestamp":"[^"]+","eventname":"Flood","userevent":\{"seq":"(\d+)","eventname":"Flood"\},"asterisk_id":"` +
		regexp.QuoteMeta(node1) + `","application":"demo"\}$`)
	for i := range n {
		select {
		case raw := <-events:
			m := re.FindSubmatch(raw)
			if m == nil {
				t.Fatalf("event %d not as Asterisk sent it: %s", i, raw)
			}
			if string(m[1]) != fmt.Sprint(i) {
				t.Fatalf("event %d has seq %s: out of order", i, m[1])
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d of %d events", i, n)
		}
	}
	if v := metric(t, e.reg, "ariproxy_events_published_total", "subject", "event"); v < n {
		t.Fatalf("events_published_total = %v, want >= %d", v, n)
	}
}

// TestConcurrencyBound: with one slot, requests wait for it instead of
// being dropped.
func TestConcurrencyBound(t *testing.T) { bustest.ForEachTransport(t, testConcurrencyBound) }

func testConcurrencyBound(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr, func(c *proxy.Config) { c.MaxConcurrent = 1 })
	e.sim.SetLatency(30 * time.Millisecond)
	const n = 6
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			r := e.request(e.subj.Request(wire.ClassData, app, node1), `{"kind":"AsteriskInfo","key":{}}`)
			if r.Error != "" {
				t.Errorf("reply %+v", r)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d < n*30*time.Millisecond {
		t.Fatalf("%d requests of 30ms with one slot took %v: not serialized", n, d)
	}
}

func TestRequestTimeout(t *testing.T) { bustest.ForEachTransport(t, testRequestTimeout) }

func testRequestTimeout(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr, func(c *proxy.Config) { c.RequestTimeout = 50 * time.Millisecond })
	e.sim.SetLatency(300 * time.Millisecond)
	r := e.request(e.subj.Request(wire.ClassGet, app, node1), `{"kind":"ChannelList","key":{}}`)
	if r.Code != wire.CodeTimeout || r.Error == "" {
		t.Fatalf("reply %+v, want code timeout", r)
	}
	if v := metric(t, e.reg, "ariproxy_requests_total", "kind", "ChannelList", "code", "timeout"); v != 1 {
		t.Fatalf("requests_total{ChannelList,timeout} = %v", v)
	}
}

// TestBadInput: malformed requests get an error reply with a code, or,
// without a reply subject, are counted; none stops the server.
func TestBadInput(t *testing.T) { bustest.ForEachTransport(t, testBadInput) }

func testBadInput(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr, func(c *proxy.Config) { c.MaxRequestBytes = 4096 })
	data := e.subj.Request(wire.ClassData, app, node1)
	tests := []struct {
		name    string
		subject string
		payload string
		code    wire.ErrorCode
		reason  string
	}{
		{"invalid JSON", data, `{"kind":`, wire.CodeBadRequest, "invalid"},
		{"not an object", data, `[1,2]`, wire.CodeBadRequest, "invalid"},
		{"null", data, `null`, wire.CodeBadRequest, "invalid"},
		{"empty", data, ``, wire.CodeBadRequest, "invalid"},
		{"unknown kind", data, `{"kind":"ChannelFly","key":{}}`, wire.CodeNotImplemented, "unknown_kind"},
		{"no kind", data, `{"key":{}}`, wire.CodeNotImplemented, "unknown_kind"},
		{"missing key", data, `{"kind":"ChannelData"}`, wire.CodeBadRequest, "bad_params"},
		{"null key", data, `{"kind":"ChannelData","key":null}`, wire.CodeBadRequest, "bad_params"},
		{"key without id", data, `{"kind":"ChannelData","key":{"kind":"channel"}}`, wire.CodeBadRequest, "bad_params"},
		{"wrong payload type", e.subj.Request(wire.ClassCommand, app, node1),
			`{"kind":"ChannelDial","key":{"kind":"channel","id":"x"},"channel_dial":{"timeout":"soon"}}`, wire.CodeBadRequest, "bad_params"},
		{"unknown param", data, `{"kind":"ChannelData","key":{"kind":"channel","id":"x"},"params":{"bogus":1}}`, wire.CodeBadRequest, "bad_params"},
		{"dialog with dot", data, `{"kind":"ChannelData","key":{"kind":"channel","id":"x","dialog":"a.b"}}`, wire.CodeBadRequest, "bad_params"},
		{"create on generic data", e.subj.Request(wire.ClassData, "", ""), `{"kind":"BridgeCreate","key":{}}`, wire.CodeBadRequest, "wrong_class"},
		{"unbind without dialog", data, `{"kind":"DialogUnbind","key":{"kind":"channel","id":"x"}}`, wire.CodeBadRequest, "bad_params"},
		{"too large", data, `{"kind":"ChannelData","key":{"kind":"channel","id":"` + strings.Repeat("x", 5000) + `"}}`, wire.CodeBadRequest, "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := metric(t, e.reg, "ariproxy_bad_input_total", "reason", tt.reason)
			r := e.request(tt.subject, tt.payload)
			if r.Code != tt.code || r.Error == "" {
				t.Fatalf("reply %+v, want code %s", r, tt.code)
			}
			if got := metric(t, e.reg, "ariproxy_bad_input_total", "reason", tt.reason); got != before+1 {
				t.Fatalf("bad_input_total{%s} = %v, want %v", tt.reason, got, before+1)
			}
		})
	}

	t.Run("no reply subject", func(t *testing.T) {
		for _, p := range []string{`{"kind":"ChannelAnswer","key":{"kind":"channel","id":"x"}}`, `garbage`, ``} {
			if err := e.cli.Publish(t.Context(), data, "", []byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 5*time.Second, "no_reply counted", func() bool {
			return metric(t, e.reg, "ariproxy_bad_input_total", "reason", "no_reply") == 3
		})
	})

	// Still serving.
	ok(t, "after bad input", e.request(data, `{"kind":"AsteriskInfo","key":{}}`))
	if v := metric(t, e.reg, "ariproxy_request_panics_total"); v != 0 {
		t.Fatalf("panics: %v", v)
	}
}

// TestARIDown: while the WebSocket is down the server takes no creates and
// answers the rest unavailable; when it is back it serves and announces.
func TestARIDown(t *testing.T) { bustest.ForEachTransport(t, testARIDown) }

func testARIDown(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr)
	ann := e.sub(e.subj.Announce())
	e.sim.RefuseConnections(time.Hour)
	e.sim.DropWebSockets()
	eventually(t, 5*time.Second, "websocket down", func() bool { return metric(t, e.reg, "ariproxy_ari_websocket_up") == 0 })

	eventually(t, 5*time.Second, "create queue left", func() bool {
		_, err := e.requestRaw(e.subj.Request(wire.ClassCreate, "", ""), `{"kind":"BridgeCreate","key":{}}`, 1, time.Second)
		return err != nil // no responders
	})
	r := e.request(e.subj.Request(wire.ClassData, app, node1), `{"kind":"AsteriskInfo","key":{}}`)
	if r.Code != wire.CodeUnavailable {
		t.Fatalf("while down: %+v, want unavailable", r)
	}
	drain(ann)
	e.sim.RefuseConnections(0)
	select {
	case <-ann:
	case <-time.After(10 * time.Second):
		t.Fatal("no announcement after the WebSocket came back")
	}
	ok(t, "create after", e.request(e.subj.Request(wire.ClassCreate, "", ""), `{"kind":"BridgeCreate","key":{}}`))
	ok(t, "data after", e.request(e.subj.Request(wire.ClassData, app, node1), `{"kind":"AsteriskInfo","key":{}}`))
}

// TestNodeChange: Asterisk restarts with another entity id; the server
// moves to the new node.
func TestNodeChange(t *testing.T) { bustest.ForEachTransport(t, testNodeChange) }

func testNodeChange(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr)
	const node2 = "02:fc:00:00:00:09"
	ann := e.sub(e.subj.Announce())
	ok(t, "bind", e.request(e.subj.Request(wire.ClassCreate, app, node1),
		`{"kind":"BridgeCreate","key":{"kind":"bridge","id":"nc-br","dialog":"nc"},"bridge_create":{"type":"mixing"}}`))
	e.sim.Restart(node2)
	eventually(t, 10*time.Second, "node change", func() bool { return e.srv.Node() == node2 })
	waitAnnounce(t, ann, node2)
	ok(t, "new node", e.request(e.subj.Request(wire.ClassData, app, node2), `{"kind":"AsteriskInfo","key":{}}`))
	if _, err := e.requestRaw(e.subj.Request(wire.ClassData, app, node1), `{"kind":"AsteriskInfo","key":{}}`, 1, 300*time.Millisecond); err == nil {
		t.Fatal("old node subject still answered")
	}
	if n := e.srv.DialogBindings(); n != 0 {
		t.Fatalf("bindings of the old Asterisk kept: %d", n)
	}
	events := e.sub(e.subj.Event(app, node2))
	e.originate("nc-1", events)
}

func waitAnnounce(t *testing.T, ch <-chan []byte, node string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case raw := <-ch:
			var a wire.Announcement
			if json.Unmarshal(raw, &a) == nil && a.Node == node {
				return
			}
		case <-deadline:
			t.Fatalf("no announcement for %s", node)
		}
	}
}

func drain(ch <-chan []byte) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// TestRepliesCarryNode: every reply, success or error, names the node of
// the server that sent it, so clients can tell which server stayed silent.
func TestRepliesCarryNode(t *testing.T) { bustest.ForEachTransport(t, testRepliesCarryNode) }

func testRepliesCarryNode(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr)
	for _, tc := range []struct {
		name    string
		class   wire.Class
		payload string
		code    wire.ErrorCode // "" for a success
	}{
		{"success", wire.ClassData, `{"kind":"AsteriskInfo","key":{}}`, ""},
		{"list", wire.ClassGet, `{"kind":"ChannelList","key":{}}`, ""},
		{"not found", wire.ClassData, `{"kind":"ChannelData","key":{"kind":"channel","id":"no-such-channel"}}`, wire.CodeNotFound},
		{"unknown kind", wire.ClassData, `{"kind":"NoSuchKind","key":{}}`, wire.CodeNotImplemented},
		{"bad envelope", wire.ClassData, `{`, wire.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.request(e.subj.Request(tc.class, app, ""), tc.payload)
			if r.Code != tc.code {
				t.Fatalf("reply %+v, want code %q", r, tc.code)
			}
			if r.Node != node1 {
				t.Errorf("reply node %q, want %q", r.Node, node1)
			}
		})
	}
}
