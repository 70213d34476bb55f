package arisim

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestSystemResources(t *testing.T) {
	s := testSim(t, Config{EntityID: "02:aa:00:00:00:09"})
	ws := dialEvents(t, s, "app=demo")
	check := func(method, path, query string, body any, status int, want string) {
		t.Helper()
		st, got := call(t, s, method, path, query, body)
		if st != status || (want != "" && string(got) != want) {
			t.Errorf("%s %s?%s: %d %s, want %d %s", method, path, query, st, got, status, want)
		}
	}
	_, info := call(t, s, "GET", "/asterisk/info", "only=system", nil)
	if string(info) != `{"system":{"version":"UNKNOWN__and_probably_unsupported","entity_id":"02:aa:00:00:00:09"}}` {
		t.Errorf("info: %s", info)
	}
	_, ping := call(t, s, "GET", "/asterisk/ping", "", nil)
	if !strings.HasPrefix(string(ping), `{"ping":"pong","timestamp":"`) || !strings.HasSuffix(string(ping), `","asterisk_id":"02:aa:00:00:00:09"}`) {
		t.Errorf("ping: %s", ping)
	}
	// Modules.
	check("GET", "/asterisk/modules/res_ari.so", "", nil, 200, `{"name":"res_ari.so","description":"Asterisk RESTful Interface","use_count":12,"status":"Running","support_level":"core"}`)
	check("POST", "/asterisk/modules/res_stasis_answer.so", "", nil, 409, `{"message":"Module is already loaded"}`)
	check("PUT", "/asterisk/modules/res_musiconhold.so", "", nil, 204, "")
	check("PUT", "/asterisk/modules/app_dial.so", "", nil, 409, `{"message":"Module does not support reloading"}`)
	check("DELETE", "/asterisk/modules/res_stasis.so", "", nil, 409, `{"message":"Module could not be unloaded"}`)
	check("DELETE", "/asterisk/modules/app_echo.so", "", nil, 204, "")
	check("GET", "/asterisk/modules/app_echo.so", "", nil, 404, `{"message":"Module could not be found in running modules"}`)
	check("POST", "/asterisk/modules/app_echo.so", "", nil, 204, "")
	check("POST", "/asterisk/modules/nope.so", "", nil, 409, `{"message":"Module load declined"}`)
	// Mailboxes exist once their module is loaded.
	check("GET", "/mailboxes", "", nil, 404, `{"message":"Resource not found"}`)
	check("POST", "/asterisk/modules/res_ari_mailboxes.so", "", nil, 204, "")
	check("PUT", "/mailboxes/mb1@default", "oldMessages=1&newMessages=2", nil, 204, "")
	check("GET", "/mailboxes/mb1@default", "", nil, 200, `{"name":"mb1@default","old_messages":1,"new_messages":2}`)
	check("DELETE", "/mailboxes/mb1@default", "", nil, 204, "")
	// ast_ari_mailboxes_get answers "Mailbox is does not exist" (sic), not the api-docs reason.
	check("GET", "/mailboxes/mb1@default", "", nil, 404, `{"message":"Mailbox is does not exist"}`)
	// Logging: a channel added at run time survives until a rotation
	// reloads the logger, and is deleted by its full file name.
	check("POST", "/asterisk/logging/testlog", "", nil, 400, `{"message":"Configuration levels are required"}`)
	check("POST", "/asterisk/logging/testlog", "configuration=notice,warning", nil, 204, "")
	check("POST", "/asterisk/logging/testlog", "configuration=notice", nil, 409, `{"message":"Log channel already exists"}`)
	_, logs := call(t, s, "GET", "/asterisk/logging", "", nil)
	if !strings.Contains(string(logs), `{"channel":"/var/log/asterisk/testlog","type":"File","status":"Enabled","configuration":"NOTICE WARNING "}`) {
		t.Errorf("logging: %s", logs)
	}
	check("DELETE", "/asterisk/logging/testlog", "", nil, 404, `{"message":"Log channel does not exist"}`)
	check("DELETE", "/asterisk/logging/%2Fvar%2Flog%2Fasterisk%2Ftestlog", "", nil, 204, "")
	check("POST", "/asterisk/logging/testlog", "configuration=error", nil, 204, "")
	check("PUT", "/asterisk/logging/testlog/rotate", "", nil, 204, "")
	check("PUT", "/asterisk/logging/testlog/rotate", "", nil, 404, `{"message":"Log channel does not exist"}`)
	// Global variables.
	check("POST", "/asterisk/variable", "", nil, 400, `{"message":"Variable name is required"}`)
	check("POST", "/asterisk/variable", "variable=X&value=1", nil, 204, "")
	check("GET", "/asterisk/variable", "variable=X", nil, 200, `{"value":"1"}`)
	// Sounds.
	check("GET", "/sounds/beep", "", nil, 200, `{"id":"beep","formats":[{"language":"en","format":"gsm"}]}`)
	check("GET", "/sounds", "lang=fr", nil, 404, `{"message":"No sounds found that matched the query"}`)
	_, sounds := call(t, s, "GET", "/sounds", "", nil)
	if strings.Count(string(sounds), `"id":`) != 568 {
		t.Errorf("sound catalogue size")
	}
	// Device states.
	check("PUT", "/deviceStates/Local:x", "deviceState=BUSY", nil, 409, `{"message":"Uncontrolled device specified"}`)
	check("PUT", "/deviceStates/Stasis:", "deviceState=BUSY", nil, 404, `{"message":"Device name is missing"}`)
	check("PUT", "/deviceStates/Stasis:d1", "deviceState=WEIRD", nil, 500, `{"message":"Unknown device"}`)
	check("POST", "/applications/demo/subscription", "eventSource=deviceState:Stasis:d1", nil, 200, "")
	check("PUT", "/deviceStates/Stasis:d1", "deviceState=INUSE", nil, 204, "")
	ev := ws.waitType(t, "DeviceStateChanged", "")
	if ev["device_state"].(map[string]any)["state"] != "INUSE" {
		t.Errorf("device state event: %v", ev)
	}
	ws.mu.Lock()
	raw := string(ws.raw[len(ws.raw)-1])
	ws.mu.Unlock()
	if !strings.HasPrefix(raw, `{"type":"DeviceStateChanged","application":"demo","timestamp":`) || !strings.HasSuffix(raw, `"asterisk_id":"02:aa:00:00:00:09"}`) {
		t.Errorf("DeviceStateChanged member order: %s", raw)
	}
	check("GET", "/deviceStates", "", nil, 200, `[{"name":"Stasis:d1","state":"INUSE"}]`)
	check("GET", "/deviceStates/Nope:1", "", nil, 200, `{"name":"Nope:1","state":"INVALID"}`)
	check("DELETE", "/deviceStates/Stasis:d1", "", nil, 204, "")
	check("GET", "/deviceStates/Stasis:d1", "", nil, 200, `{"name":"Stasis:d1","state":"UNKNOWN"}`)
	// Subscriptions.
	check("POST", "/applications/demo/subscription", "", nil, 400, `{"message":"Missing parameter eventSource"}`)
	check("POST", "/applications/demo/subscription", "eventSource=nope:x", nil, 400, `{"message":"Invalid event source URI scheme"}`)
	check("POST", "/applications/demo/subscription", "eventSource=endpoint:Local", nil, 422, `{"message":"Event source does not exist"}`)
	check("DELETE", "/applications/demo/subscription", "eventSource=channel:none", nil, 422, `{"message":"Event source was not subscribed to"}`)
	check("POST", "/applications/nobody/subscription", "eventSource=channel:x", nil, 404, `{"message":"Application not found"}`)
	// User events.
	check("POST", "/events/user/Ev", "", nil, 400, `{"message":"Missing parameter application"}`)
	check("POST", "/events/user/Ev", "application=nobody", nil, 404, `{"message":"Application not found"}`)
	check("POST", "/events/user/Ev", "application=demo&source=channel:none", nil, 422, `{"message":"Event source was not found"}`)
	check("POST", "/events/user/Ev", "application=demo&source=x:y", nil, 400, `{"message":"Invalid event source URI scheme"}`)
	check("POST", "/events/user/Ev", "application=demo", `{"variables":{"k":"v","n":1}}`, 204, "")
	ws.waitType(t, "ChannelUserevent", "")
	ws.mu.Lock()
	raw = string(ws.raw[len(ws.raw)-1])
	ws.mu.Unlock()
	if !strings.Contains(raw, `"eventname":"Ev","userevent":{"k":"v","n":1,"eventname":"Ev"},"asterisk_id":`) {
		t.Errorf("user event: %s", raw)
	}
	// Endpoints: no channel driver with endpoints.
	check("GET", "/endpoints", "", nil, 200, `[]`)
	check("PUT", "/endpoints/sendMessage", "to=pjsip:100&from=me", nil, 404, `{"message":"Endpoint not found"}`)
}

func TestEventFilter(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	st, body := call(t, s, "PUT", "/applications/demo/eventFilter", "", `{"allowed":[{"type":"StasisStart"},{"type":"StasisEnd"}]}`)
	if st != 200 || !strings.HasSuffix(string(body), `"events_allowed":[{"type":"StasisStart"},{"type":"StasisEnd"}],"events_disallowed":[]}`) {
		t.Fatalf("filter: %d %s", st, body)
	}
	if st, body := call(t, s, "PUT", "/applications/demo/eventFilter", "", `{"allowed":[{"nottype":1}]}`); st != 400 || string(body) != `{"message":"Invalid format definition"}` {
		t.Errorf("bad filter: %d %s", st, body)
	}
	originateInStasis(t, s, ws, "f1")
	call(t, s, "DELETE", "/channels/f1", "", nil)
	ws.waitType(t, "StasisEnd", "f1")
	time.Sleep(30 * time.Millisecond)
	for _, m := range ws.events() {
		if m["type"] != "StasisStart" && m["type"] != "StasisEnd" {
			t.Fatalf("filtered event got through: %v", m["type"])
		}
	}
	// Disallowing wins; {} resets both lists.
	call(t, s, "PUT", "/applications/demo/eventFilter", "", `{"disallowed":[{"type":"StasisEnd"}]}`)
	_, body = call(t, s, "PUT", "/applications/demo/eventFilter", "", `{}`)
	if !strings.HasSuffix(string(body), `"events_allowed":[],"events_disallowed":[]}`) {
		t.Errorf("reset: %s", body)
	}
}

func TestSubscribeAllSeesEverything(t *testing.T) {
	s := testSim(t, Config{})
	all := dialEvents(t, s, "app=watcher&subscribeAll=true")
	call(t, s, "POST", "/channels", "endpoint=Local/echo@default&extension=echo&channelId=seen", nil)
	all.waitType(t, "ChannelCreated", "seen")
	all.waitType(t, "ChannelDialplan", "seen;2")
	call(t, s, "POST", "/bridges/vis", "", nil)
	all.waitType(t, "BridgeCreated", "")
}

func TestFaultInjection(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	originateInStasis(t, s, ws, "keep")

	// Dropped sockets: the client sees the connection end; channels stay
	// in Stasis; a new socket gets the application back.
	s.DropWebSockets()
	select {
	case <-ws.done:
	case <-time.After(2 * time.Second):
		t.Fatal("websocket still open")
	}
	ws2 := dialEvents(t, s, "app=demo")
	call(t, s, "DELETE", "/channels/keep", "", nil)
	ws2.waitType(t, "StasisEnd", "keep")

	// Latency.
	s.SetLatency(80 * time.Millisecond)
	start := time.Now()
	call(t, s, "GET", "/asterisk/ping", "", nil)
	if time.Since(start) < 80*time.Millisecond {
		t.Errorf("latency not applied")
	}
	s.SetLatency(0)

	// Refused connections.
	s.RefuseConnections(300 * time.Millisecond)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	req, _ := http.NewRequest("GET", s.URL()+"/asterisk/ping", nil)
	req.SetBasicAuth("proxy", "secret")
	if res, err := client.Do(req); err == nil {
		res.Body.Close()
		t.Errorf("request went through while refusing: %d", res.StatusCode)
	}
	_, _, err := websocket.Dial(context.Background(), s.WebSocketURL()+"?app=demo&api_key=proxy:secret", nil)
	if err == nil {
		t.Errorf("websocket accepted while refusing")
	}
	time.Sleep(350 * time.Millisecond)
	req, _ = http.NewRequest("GET", s.URL()+"/asterisk/ping", nil)
	req.SetBasicAuth("proxy", "secret")
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("after refusal: %v", err)
	}
	res.Body.Close()

	// Restart: everything is forgotten, new entity id.
	ws3 := dialEvents(t, s, "app=demo")
	originateInStasis(t, s, ws3, "lost")
	s.Restart("02:fc:00:00:00:99")
	select {
	case <-ws3.done:
	case <-time.After(2 * time.Second):
		t.Fatal("websocket survived the restart")
	}
	if st, _ := call(t, s, "GET", "/channels/lost", "", nil); st != 404 {
		t.Errorf("channel survived the restart: %d", st)
	}
	if _, body := call(t, s, "GET", "/applications", "", nil); string(body) != "[]" {
		t.Errorf("applications after restart: %s", body)
	}
	if _, body := call(t, s, "GET", "/asterisk/ping", "", nil); !strings.Contains(string(body), "02:fc:00:00:00:99") {
		t.Errorf("entity id: %s", body)
	}
}

func TestSlowReaderDoesNotBlock(t *testing.T) {
	s := testSim(t, Config{QueueLimit: 50})
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, s.WebSocketURL()+"?app=demo&api_key=proxy:secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	time.Sleep(20 * time.Millisecond)
	// The client never reads: the simulator keeps answering and finally
	// drops the socket.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 300; i++ {
			if st, _ := call(t, s, "POST", "/events/user/E", "application=demo", `{"variables":{"pad":"`+strings.Repeat("x", 4000)+`"}}`); st != 204 && st != 404 {
				t.Errorf("user event: %d", st)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the simulator blocked on a slow reader")
	}
}

func TestLoadGenerators(t *testing.T) {
	s := testSim(t, Config{TimeScale: 0.01})
	ws := dialEvents(t, s, "app=demo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.RunInbound(ctx, "demo", 5, 200, InboundScript{HangupAfter: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	count := map[string]int{}
	for _, m := range ws.events() {
		count[m["type"].(string)]++
	}
	if count["StasisStart"] != 5 || count["StasisEnd"] != 5 || count["PlaybackFinished"] != 5 {
		t.Errorf("events %v", count)
	}
	if _, body := call(t, s, "GET", "/channels", "", nil); string(body) != "[]" {
		t.Errorf("channels left: %s", body)
	}
	if err := s.RunInbound(ctx, "nobody", 1, 0, InboundScript{}); !errors.Is(err, ErrNoApplication) {
		t.Errorf("unregistered app: %v", err)
	}
	// Flood.
	if err := s.Flood(ctx, "demo", 2000); err != nil {
		t.Fatal(err)
	}
	ws.waitFor(t, "last flood event", func(m map[string]any) bool {
		u, _ := m["userevent"].(map[string]any)
		return u != nil && u["seq"] == "1999"
	})
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s := New(Config{TimeScale: 0.01})
	if _, err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	conn, _, err := websocket.Dial(context.Background(), s.WebSocketURL()+"?app=demo&api_key=asterisk:asterisk", nil)
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if _, _, err := conn.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	if _, err := s.InboundCall("demo"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after Close\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
