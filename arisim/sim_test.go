package arisim

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/coder/websocket"
)

// Every operation but the WebSocket is dispatched to a handler (the
// compiler checks ari.Handlers; this checks ari.Dispatch covers the table).
func TestEveryOperationHasAHandler(t *testing.T) {
	s := testSim(t, Config{})
	for i := range ari.Operations {
		op := &ari.Operations[i]
		res := s.dispatch(&req{ctx: context.Background(), op: op, path: map[string]string{}, vals: map[string]string{}})
		if res.status == 501 {
			t.Errorf("no handler for %s (%s %s)", op.ID, op.Method, op.Path)
		}
	}
}

func TestAuthentication(t *testing.T) {
	s := testSim(t, Config{})
	for _, tc := range []struct {
		name, user, pass, query string
		want                    int
	}{
		{"none", "", "", "", 401},
		{"wrong password", "proxy", "nope", "", 401},
		{"wrong user", "admin", "secret", "", 401},
		{"basic", "proxy", "secret", "", 200},
		{"api_key", "", "", "api_key=proxy:secret", 200},
		{"bad api_key", "", "", "api_key=proxy:nope", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := callAuth(t, s, "GET", "/asterisk/ping", tc.query, nil, tc.user, tc.pass)
			if st != tc.want {
				t.Fatalf("status %d, want %d (%s)", st, tc.want, body)
			}
			if st == 401 && string(body) != `{"message":"Authentication required"}` {
				t.Errorf("body %s", body)
			}
		})
	}
	// Authentication comes before routing, as in Asterisk.
	if st, _ := callAuth(t, s, "GET", "/no/such/path", "", nil, "", ""); st != 401 {
		t.Errorf("unknown path without credentials: %d, want 401", st)
	}
}

func TestRoutingErrors(t *testing.T) {
	s := testSim(t, Config{})
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/no/such/path", 404, `{"message":"Resource not found"}`},
		{"PATCH", "/channels", 405, `{"message":"Invalid method"}`},
		{"GET", "/channels/nope", 404, `{"message":"Channel not found"}`},
		{"GET", "/bridges/nope", 404, `{"message":"Bridge not found"}`},
		{"GET", "/playbacks/nope", 404, `{"message":"Playback not found"}`},
		{"GET", "/recordings/live/nope", 404, `{"message":"Recording not found"}`},
		{"GET", "/recordings/stored/nope", 404, `{"message":"Recording not found"}`},
		{"GET", "/applications/nope", 404, `{"message":"Application not found"}`},
		{"GET", "/endpoints/PJSIP/100", 404, `{"message":"Endpoint not found"}`},
		{"GET", "/endpoints/Local", 404, `{"message":"No Endpoints found - invalid tech Local"}`},
		{"GET", "/mailboxes", 404, `{"message":"Resource not found"}`},
		{"GET", "/sounds/nope", 404, `{"message":"Sound not found"}`},
		{"GET", "/asterisk/modules/nope.so", 404, `{"message":"Module could not be found in running modules"}`},
		{"GET", "/asterisk/config/dynamic/res_pjsip/endpoint/alice", 404, `{"message":"configClass 'res_pjsip' not found"}`},
	} {
		st, body := call(t, s, tc.method, tc.path, "", nil)
		if st != tc.status || string(body) != tc.body {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, st, body, tc.status, tc.body)
		}
	}
	// Bodies are JSON; an invalid JSON body is a 400.
	st, body := call(t, s, "POST", "/channels", "endpoint=Local/echo@default&app=demo", "{nope")
	if st != 400 || string(body) != `{"message":"Error parsing request body"}` {
		t.Errorf("bad body: %d %s", st, body)
	}
}

func TestWebSocketRefusals(t *testing.T) {
	s := testSim(t, Config{})
	ctx := context.Background()
	_, res, err := websocket.Dial(ctx, s.WebSocketURL()+"?app=demo", nil)
	if err == nil || res == nil || res.StatusCode != 401 {
		t.Fatalf("no credentials: %v %v", err, res)
	}
	hdr := http.Header{"Authorization": {"Basic cHJveHk6c2VjcmV0"}} // proxy:secret
	_, res, err = websocket.Dial(ctx, s.WebSocketURL(), &websocket.DialOptions{HTTPHeader: hdr})
	if err == nil || res == nil || res.StatusCode != 400 {
		t.Fatalf("no app: %v %v", err, res)
	}
	ws, _, err := websocket.Dial(ctx, s.WebSocketURL()+"?app=demo&api_key="+url.QueryEscape("proxy:secret"), nil)
	if err != nil {
		t.Fatalf("api_key: %v", err)
	}
	ws.CloseNow()
}

func TestApplicationReplacedAndListing(t *testing.T) {
	s := testSim(t, Config{})
	first := dialEvents(t, s, "app=demo,other")
	st, body := call(t, s, "GET", "/applications", "", nil)
	if st != 200 || !strings.Contains(string(body), `"name":"demo"`) || !strings.Contains(string(body), `"name":"other"`) {
		t.Fatalf("applications: %d %s", st, body)
	}
	second := dialEvents(t, s, "app=demo")
	ev := first.waitType(t, "ApplicationReplaced", "")
	if ev["application"] != "demo" {
		t.Fatalf("replaced: %v", ev)
	}
	first.mu.Lock()
	raw := string(first.raw[len(first.raw)-1])
	first.mu.Unlock()
	if !strings.HasPrefix(raw, `{"type":"ApplicationReplaced","timestamp":`) || !strings.HasSuffix(raw, `"application":"demo","asterisk_id":"02:fc:00:00:00:01"}`) {
		t.Errorf("member order: %s", raw)
	}
	// demo's events now go to the second socket only; other stays.
	id, err := s.InboundCall("demo", "x")
	if err != nil {
		t.Fatal(err)
	}
	second.waitType(t, "StasisStart", id)
	time.Sleep(50 * time.Millisecond)
	for _, m := range first.events() {
		if m["type"] == "StasisStart" {
			t.Fatalf("replaced socket got %v", m)
		}
	}
	if _, err := s.InboundCall("other"); err != nil {
		t.Fatal(err)
	}
	first.waitType(t, "StasisStart", "")
}

func TestInboundCallAndFarEndHangup(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	id, err := s.InboundCall("demo", "inbound")
	if err != nil {
		t.Fatal(err)
	}
	ev := ws.waitType(t, "StasisStart", id)
	ch := ev["channel"].(map[string]any)
	dp := ch["dialplan"].(map[string]any)
	if ch["state"] != "Up" || dp["exten"] != "stasis" || dp["priority"] != 2.0 || dp["app_data"] != "demo,inbound" {
		t.Fatalf("StasisStart channel: %v", ch)
	}
	if got := typesOf(ws.events()); len(got) != 1 {
		t.Fatalf("events before StasisStart: %v", got)
	}
	if _, err := s.InboundCall("nobody"); err == nil {
		t.Fatal("inbound call to an unregistered application succeeded")
	}
	// The app hangs up: HangupRequest, StasisEnd, then nothing (the
	// application's interest ended with Stasis).
	if st, _ := call(t, s, "DELETE", "/channels/"+id, "", nil); st != 204 {
		t.Fatalf("hangup %d", st)
	}
	ws.waitType(t, "StasisEnd", id)
	time.Sleep(50 * time.Millisecond)
	got := typesOf(ws.events())
	want := []string{"StasisStart(" + id + ")", "ChannelHangupRequest(" + id + ")", "StasisEnd(" + id + ")"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestChannelNotInStasisAndInvalidState(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	st, _ := call(t, s, "POST", "/channels", "endpoint=Local/echo@default&extension=echo&channelId=plain", nil)
	if st != 200 {
		t.Fatal(st)
	}
	for _, op := range []struct{ method, path string }{
		{"POST", "/channels/plain/answer"}, {"POST", "/channels/plain/play?media=sound:beep"},
		{"POST", "/channels/plain/hold"}, {"POST", "/channels/plain/dtmf?dtmf=1"},
		{"POST", "/channels/plain/continue"}, {"POST", "/channels/plain/move?app=demo"},
	} {
		p, q, _ := strings.Cut(op.path, "?")
		st, body := call(t, s, op.method, p, q, nil)
		if st != 409 || string(body) != `{"message":"Channel not in Stasis application"}` {
			t.Errorf("%s %s: %d %s", op.method, op.path, st, body)
		}
	}
	// A created channel is in Stasis but Down: state operations are 412.
	call(t, s, "POST", "/channels/create", "endpoint=Local/echo@default&app=demo&channelId=down", nil)
	ws.waitType(t, "StasisStart", "down")
	st, body := call(t, s, "POST", "/channels/down/answer", "", nil)
	if st != 412 || string(body) != `{"message":"Channel in invalid state"}` {
		t.Errorf("answer Down: %d %s", st, body)
	}
	// Dial it; dialing again is 409.
	if st, _ := call(t, s, "POST", "/channels/down/dial", "", nil); st != 204 {
		t.Fatal(st)
	}
	ws.waitFor(t, "Dial ANSWER", func(m map[string]any) bool { return m["type"] == "Dial" && m["dialstatus"] == "ANSWER" })
	st, body = call(t, s, "POST", "/channels/down/dial", "", nil)
	if st != 409 || string(body) != `{"message":"Channel is not in the 'Down' state"}` {
		t.Errorf("dial again: %d %s", st, body)
	}
}

func TestOriginateValidation(t *testing.T) {
	s := testSim(t, Config{})
	dialEvents(t, s, "app=demo")
	for _, tc := range []struct {
		query, body string
		status      int
		msg         string
	}{
		{"app=demo", "", 400, `{"message":"Endpoint must be specified"}`},
		{"endpoint=Local/echo@default", "", 400, `{"message":"Application or extension must be specified"}`},
		{"endpoint=Bogus/1&app=demo", "", 500, `{"error":"Allocation failed"}`},
		{"endpoint=Local&app=demo", "", 400, `{"message":"Invalid endpoint specified"}`},
		{"endpoint=Local/echo@default&app=demo&originator=x&formats=ulaw", "", 400, `{"message":"Originator and formats can't both be specified"}`},
		{"endpoint=Local/echo@default&app=demo&formats=nope", "", 400, `{"message":"Provided format (nope) was not found"}`},
		{"endpoint=Local/echo@default&app=demo&originator=nope", "", 400, `{"message":"Provided originator channel was not found"}`},
		{"endpoint=Local/echo@default&extension=echo&label=foo", "", 404, `{"message":"Requested label can not be found"}`},
		{"app=demo", `{"endpoint":"Local/echo@default","variables":{"A":1}}`, 400, `{"message":"Only string values in the 'variables' object allowed"}`},
	} {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		st, got := call(t, s, "POST", "/channels", tc.query, body)
		if st != tc.status || string(got) != tc.msg {
			t.Errorf("%s %s: %d %s, want %d %s", tc.query, tc.body, st, got, tc.status, tc.msg)
		}
	}
	if st, _ := call(t, s, "POST", "/channels/dup", "endpoint=Local/echo@default&app=demo", nil); st != 200 {
		t.Fatal(st)
	}
	st, got := call(t, s, "POST", "/channels/dup", "endpoint=Local/echo@default&app=demo", nil)
	if st != 409 || string(got) != `{"message":"Channel with given unique ID already exists"}` {
		t.Errorf("duplicate id: %d %s", st, got)
	}
	// JSON body members work like query parameters.
	st, got = call(t, s, "POST", "/channels", "", `{"endpoint":"Local/echo@default","app":"demo","channelId":"viabody"}`)
	if st != 200 || !strings.Contains(string(got), `"id":"viabody"`) {
		t.Errorf("body parameters: %d %s", st, got)
	}
}

// originateInStasis originates id into demo and waits for StasisStart.
func originateInStasis(t *testing.T, s *Sim, ws *wsClient, id string) {
	t.Helper()
	st, body := call(t, s, "POST", "/channels", "endpoint=Local/echo@default&app=demo&channelId="+id, nil)
	if st != 200 {
		t.Fatalf("originate %s: %d %s", id, st, body)
	}
	ws.waitType(t, "StasisStart", id)
}

func TestVariablesAndCallerID(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	originateInStasis(t, s, ws, "v1")
	if st, body := call(t, s, "GET", "/channels/v1/variable", "variable=NOPE", nil); st != 404 || string(body) != `{"message":"Provided variable was not found"}` {
		t.Errorf("missing variable: %d %s", st, body)
	}
	if st, body := call(t, s, "GET", "/channels/v1/variable", "", nil); st != 400 || string(body) != `{"message":"Variable name is required"}` {
		t.Errorf("no name: %d %s", st, body)
	}
	if st, body := call(t, s, "GET", "/channels/nope/variable", "variable=X", nil); st != 404 || string(body) != `{"message":"Provided channel was not found"}` {
		t.Errorf("no channel: %d %s", st, body)
	}
	call(t, s, "POST", "/channels/v1/variable", "variable=FOO&value=bar", nil)
	ws.waitFor(t, "Varset FOO", func(m map[string]any) bool { return m["variable"] == "FOO" && m["value"] == "bar" })
	if _, body := call(t, s, "GET", "/channels/v1/variable", "variable=FOO", nil); string(body) != `{"value":"bar"}` {
		t.Errorf("FOO: %s", body)
	}
	call(t, s, "POST", "/channels/v1/variable", "variable=CALLERID(name)&value=Bob", nil)
	ev := ws.waitType(t, "ChannelCallerId", "v1")
	if ev["channel"].(map[string]any)["caller"].(map[string]any)["name"] != "Bob" {
		t.Errorf("caller id event: %v", ev)
	}
	if _, body := call(t, s, "GET", "/channels/v1/variable", "variable=CALLERID(name)", nil); string(body) != `{"value":"Bob"}` {
		t.Errorf("CALLERID(name): %s", body)
	}
	if st, body := call(t, s, "POST", "/channels/v1/variable", "variable=NOSUCHFUNC(x)&value=1", nil); st != 400 || string(body) != `{"message":"Failed to execute function"}` {
		t.Errorf("bad function: %d %s", st, body)
	}
	// Global variables are seen by channels too.
	call(t, s, "POST", "/asterisk/variable", "variable=G&value=42", nil)
	if _, body := call(t, s, "GET", "/channels/v1/variable", "variable=G", nil); string(body) != `{"value":"42"}` {
		t.Errorf("global through channel: %s", body)
	}
	if _, body := call(t, s, "GET", "/asterisk/variable", "variable=UNSET", nil); string(body) != `{"value":""}` {
		t.Errorf("unset global: %s", body)
	}
}

func TestDTMFReachesTheFarEnd(t *testing.T) {
	s := testSim(t, Config{TimeScale: 0.1})
	ws := dialEvents(t, s, "app=demo")
	originateInStasis(t, s, ws, "d1")
	if st, body := call(t, s, "POST", "/channels/d1/dtmf", "", nil); st != 400 || string(body) != `{"message":"DTMF is required"}` {
		t.Errorf("no dtmf: %d %s", st, body)
	}
	start := time.Now()
	call(t, s, "POST", "/channels/d1/dtmf", "dtmf=12%23&duration=80&between=50", nil)
	// A playback queued behind the DTMF starts once it is done.
	call(t, s, "POST", "/channels/d1/play", "media=sound:beep&playbackId=after-dtmf", nil)
	var digits []string
	for _, d := range []string{"1", "2", "#"} {
		ev := ws.waitFor(t, "digit "+d, func(m map[string]any) bool { return m["type"] == "ChannelDtmfReceived" && m["digit"] == d })
		if ev["channel"].(map[string]any)["id"] != "d1;2" || ev["duration_ms"] != 100.0 {
			t.Errorf("dtmf event: %v", ev)
		}
		digits = append(digits, d)
	}
	ws.waitType(t, "PlaybackStarted", "")
	// 100 quiet + 3*(100+50) ms, scaled by 0.1.
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("DTMF too fast: %v", el)
	}
	for i, m := range ws.events() {
		if m["type"] == "PlaybackStarted" {
			for _, n := range ws.events()[i:] {
				if n["type"] == "ChannelDtmfReceived" {
					t.Fatalf("playback started before the DTMF ended")
				}
			}
		}
	}
}

func TestHangupCauses(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	originateInStasis(t, s, ws, "hc")
	for _, tc := range []struct{ q, body string }{
		{"reason=busy&reason_code=17", `{"message":"The reason and reason_code can't both be specified"}`},
		{"reason=weird", `{"message":"Invalid reason for hangup reason provided"}`},
		{"reason_code=abc", `{"message":"Invalid reason for hangup reason code provided"}`},
	} {
		if st, body := call(t, s, "DELETE", "/channels/hc", tc.q, nil); st != 400 || string(body) != tc.body {
			t.Errorf("%s: %d %s", tc.q, st, body)
		}
	}
	call(t, s, "DELETE", "/channels/hc", "reason=busy", nil)
	ev := ws.waitType(t, "ChannelDestroyed", "hc")
	if ev["cause"] != 17.0 || ev["cause_txt"] != "User busy" {
		t.Errorf("destroyed: %v %v", ev["cause"], ev["cause_txt"])
	}
	ws.waitType(t, "ChannelDestroyed", "hc;2")
	var hr []string
	for _, m := range ws.events() {
		if m["type"] == "ChannelHangupRequest" {
			_, soft := m["soft"]
			hr = append(hr, m["channel"].(map[string]any)["id"].(string)+":"+strconv.Itoa(int(m["cause"].(float64)))+":"+strconv.FormatBool(soft))
		}
	}
	if strings.Join(hr, " ") != "hc:32:true hc;2:17:false hc;2:17:true" {
		t.Errorf("hangup requests %v", hr)
	}
	// Continuing a bridged channel takes it out of the bridge first.
	originateInStasis(t, s, ws, "cb")
	call(t, s, "POST", "/bridges/cbr", "", nil)
	call(t, s, "POST", "/bridges/cbr/addChannel", "channel=cb", nil)
	call(t, s, "POST", "/channels/cb/continue", "", nil)
	ws.waitType(t, "ChannelLeftBridge", "cb")
	ws.waitType(t, "StasisEnd", "cb")
	if _, body := call(t, s, "GET", "/bridges/cbr", "", nil); !strings.Contains(string(body), `"channels":[]`) {
		t.Errorf("bridge after continue: %s", body)
	}
}
