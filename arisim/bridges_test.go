package arisim

import (
	"strings"
	"testing"
	"time"
)

func TestBridgeLifecycle(t *testing.T) {
	s := testSim(t, Config{TimeScale: 0.02})
	ws := dialEvents(t, s, "app=demo")

	if st, body := call(t, s, "POST", "/bridges", "type=notatype", nil); st != 500 || string(body) != `{"message":"Unable to create bridge. Possible duplicate bridge id '(null)'"}` {
		t.Errorf("bad type: %d %s", st, body)
	}
	if st, body := call(t, s, "POST", "/bridges/x", "type=notatype", nil); st != 500 || string(body) != `{"message":"Unable to create bridge"}` {
		t.Errorf("bad type with id: %d %s", st, body)
	}
	st, body := call(t, s, "POST", "/bridges", "bridgeId=b1&name=conf&type=mixing,dtmf_events", nil)
	if st != 200 || !strings.HasPrefix(string(body), `{"id":"b1","technology":"simple_bridge","bridge_type":"mixing","bridge_class":"stasis","creator":"Stasis","name":"conf","channels":[],"creationtime":`) ||
		!strings.HasSuffix(string(body), `"video_mode":"talker"}`) {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, body := call(t, s, "POST", "/bridges", "bridgeId=b1", nil); st != 409 || string(body) != `{"message":"Bridge with id 'b1' already exists"}` {
		t.Errorf("duplicate: %d %s", st, body)
	}
	originateInStasis(t, s, ws, "a")
	originateInStasis(t, s, ws, "b")
	originateInStasis(t, s, ws, "c")
	for _, tc := range []struct {
		query  string
		status int
		body   string
	}{
		{"", 400, `{"message":"Missing parameter channel"}`},
		{"channel=nope", 400, `{"message":"Channel not found"}`},
	} {
		if st, body := call(t, s, "POST", "/bridges/b1/addChannel", tc.query, nil); st != tc.status || string(body) != tc.body {
			t.Errorf("add %q: %d %s", tc.query, st, body)
		}
	}
	if st, _ := call(t, s, "POST", "/bridges/b1/addChannel", "channel=a,b", nil); st != 204 {
		t.Fatal(st)
	}
	if _, body := call(t, s, "GET", "/bridges/b1", "", nil); !strings.Contains(string(body), `"channels":["a","b"]`) {
		t.Errorf("members: %s", body)
	}
	peer := func(id string) string {
		var v string
		for _, m := range ws.events() {
			if m["type"] == "ChannelVarset" && m["variable"] == "BRIDGEPEER" && m["channel"].(map[string]any)["id"] == id {
				v = m["value"].(string)
			}
		}
		return v
	}
	ws.waitFor(t, "BRIDGEPEER of b", func(m map[string]any) bool {
		return m["variable"] == "BRIDGEPEER" && m["channel"].(map[string]any)["id"] == "b"
	})
	if !strings.HasSuffix(peer("a"), ";1") || strings.Contains(peer("a"), ",") {
		t.Errorf("two-party BRIDGEPEER %q", peer("a"))
	}
	// A third party: softmix, and each channel sees the two others, the
	// newest first.
	call(t, s, "POST", "/bridges/b1/addChannel", "channel=c", nil)
	if _, body := call(t, s, "GET", "/bridges/b1", "", nil); !strings.Contains(string(body), `"technology":"softmix"`) {
		t.Errorf("three parties: %s", body)
	}
	ws.waitFor(t, "three-party BRIDGEPEER", func(m map[string]any) bool {
		v, _ := m["value"].(string)
		return m["variable"] == "BRIDGEPEER" && m["channel"].(map[string]any)["id"] == "a" && len(strings.Split(v, ",")) == 2
	})
	call(t, s, "POST", "/bridges/b1/removeChannel", "channel=c", nil)
	if st, body := call(t, s, "POST", "/bridges/b1/removeChannel", "channel=c", nil); st != 422 || string(body) != `{"message":"Channel not in this bridge"}` {
		t.Errorf("remove again: %d %s", st, body)
	}
	if st, body := call(t, s, "DELETE", "/bridges/b1/moh", "", nil); st != 409 || string(body) != `{"message":"Bridge isn't playing music"}` {
		t.Errorf("stop moh: %d %s", st, body)
	}
	call(t, s, "POST", "/bridges/b1/moh", "", nil)
	ws.waitFor(t, "moh BRIDGEPEER", func(m map[string]any) bool {
		v, _ := m["value"].(string)
		return m["variable"] == "BRIDGEPEER" && m["channel"].(map[string]any)["id"] == "a" && strings.HasPrefix(v, "Announcer/ARI_MOH-")
	})
	call(t, s, "DELETE", "/bridges/b1/moh", "", nil)

	// Bridge playback through an announcer.
	st, body = call(t, s, "POST", "/bridges/b1/play", "media=sound:beep&playbackId=bp", nil)
	if st != 201 || !strings.Contains(string(body), `"target_uri":"bridge:b1"`) {
		t.Fatalf("bridge play: %d %s", st, body)
	}
	waitPlayback(t, ws, "bp", "PlaybackFinished")

	// Video source.
	if st, body := call(t, s, "POST", "/bridges/b1/videoSource/c", "", nil); st != 422 || string(body) != `{"message":"Channel not in this bridge"}` {
		t.Errorf("video source outside: %d %s", st, body)
	}
	call(t, s, "POST", "/bridges/b1/videoSource/a", "", nil)
	ev := ws.waitType(t, "BridgeVideoSourceChanged", "")
	if br := ev["bridge"].(map[string]any); br["video_mode"] != "single" || br["video_source_id"] != "a" {
		t.Errorf("video source: %v", br)
	}
	call(t, s, "DELETE", "/bridges/b1/videoSource", "", nil)
	ev = ws.waitFor(t, "video source cleared", func(m map[string]any) bool { return m["old_video_source_id"] == "a" })
	if br := ev["bridge"].(map[string]any); br["video_mode"] != "talker" {
		t.Errorf("cleared: %v", br)
	}

	// Bridge variables.
	call(t, s, "POST", "/bridges/b1/variable", "variable=K&value=V", nil)
	if _, body := call(t, s, "GET", "/bridges/b1/variable", "variable=K", nil); string(body) != `{"value":"V"}` {
		t.Errorf("bridge var: %s", body)
	}
	if _, body := call(t, s, "GET", "/bridges/b1/variables", "variables=K", nil); string(body) != `{"variables":{"K":"V"}}` {
		t.Errorf("bridge vars: %s", body)
	}

	// Destroying the bridge: its channels leave (and stay in Stasis), and
	// an application only subscribed through them gets no BridgeDestroyed.
	call(t, s, "DELETE", "/bridges/b1", "", nil)
	ws.waitType(t, "ChannelLeftBridge", "b")
	time.Sleep(30 * time.Millisecond)
	for _, m := range ws.events() {
		if m["type"] == "BridgeDestroyed" {
			t.Errorf("BridgeDestroyed reached the application")
		}
	}
	if st, _ := call(t, s, "GET", "/channels/a", "", nil); st != 200 {
		t.Errorf("channel gone with its bridge")
	}
	// Explicitly subscribed: BridgeDestroyed arrives.
	call(t, s, "POST", "/bridges/b2", "type=holding", nil)
	st, body = call(t, s, "POST", "/applications/demo/subscription", "eventSource=bridge:b2", nil)
	if st != 200 || !strings.Contains(string(body), `"bridge_ids":["b2"]`) {
		t.Fatalf("subscribe: %d %s", st, body)
	}
	call(t, s, "DELETE", "/bridges/b2", "", nil)
	ev = ws.waitType(t, "BridgeDestroyed", "")
	if br := ev["bridge"].(map[string]any); br["technology"] != "holding_bridge" || br["bridge_type"] != "holding" {
		t.Errorf("holding: %v", br)
	}
}

func TestBridgeRecordAndHangupInBridge(t *testing.T) {
	s := testSim(t, Config{TimeScale: 0.02})
	ws := dialEvents(t, s, "app=demo")
	call(t, s, "POST", "/bridges/br", "", nil)
	originateInStasis(t, s, ws, "x")
	originateInStasis(t, s, ws, "y")
	call(t, s, "POST", "/bridges/br/addChannel", "channel=x,y", nil)
	st, body := call(t, s, "POST", "/bridges/br/record", "name=conf&format=wav", nil)
	if st != 201 || string(body) != `{"name":"conf","format":"wav","state":"queued","target_uri":"bridge:br"}` {
		t.Fatalf("bridge record: %d %s", st, body)
	}
	ws.waitType(t, "RecordingStarted", "")
	call(t, s, "POST", "/recordings/live/conf/stop", "", nil)
	ws.waitType(t, "RecordingFinished", "")
	// A channel in a bridge cannot record itself: RecordingFailed.
	call(t, s, "POST", "/channels/x/record", "name=self&format=wav", nil)
	ev := ws.waitType(t, "RecordingFailed", "")
	if r := ev["recording"].(map[string]any); r["cause"] != "Cannot record channel while in bridge" {
		t.Errorf("failed: %v", r)
	}
	// Hanging up a bridged channel: it leaves the bridge before StasisEnd.
	call(t, s, "DELETE", "/channels/x", "", nil)
	ws.waitType(t, "ChannelDestroyed", "x")
	var order []string
	for _, m := range ws.events() {
		if ch, ok := m["channel"].(map[string]any); ok && ch["id"] == "x" {
			switch m["type"] {
			case "ChannelLeftBridge", "StasisEnd", "ChannelDestroyed":
				order = append(order, m["type"].(string))
			}
		}
	}
	if strings.Join(order, " ") != "ChannelLeftBridge StasisEnd ChannelDestroyed" {
		t.Errorf("order %v", order)
	}
}

func TestContinueMoveAndSnoop(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo,other")
	originateInStasis(t, s, ws, "m1")
	call(t, s, "POST", "/channels/m1/move", "app=nobody&appArgs=x", nil)
	ev := ws.waitType(t, "ApplicationMoveFailed", "m1")
	if ev["destination"] != "nobody" {
		t.Errorf("move failed: %v", ev)
	}
	call(t, s, "POST", "/channels/m1/move", "app=other&appArgs=moved", nil)
	ev = ws.waitFor(t, "StasisStart in other", func(m map[string]any) bool { return m["type"] == "StasisStart" && m["application"] == "other" })
	if args := ev["args"].([]any); len(args) != 1 || args[0] != "moved" {
		t.Errorf("args %v", args)
	}
	// Continue into the dialplan: a channel originated into Stasis starts
	// its new PBX one priority after the requested one.
	call(t, s, "POST", "/channels/m1/continue", "context=default&extension=echo&priority=1", nil)
	ws.waitFor(t, "StasisEnd in other", func(m map[string]any) bool { return m["type"] == "StasisEnd" && m["application"] == "other" })
	ev = ws.waitFor(t, "Wait", func(m map[string]any) bool {
		ch, _ := m["channel"].(map[string]any)
		return m["type"] == "ChannelDialplan" && ch["id"] == "m1"
	})
	if ev["dialplan_app"] != "Wait" {
		t.Errorf("continue: %v", ev)
	}
	if st, body := call(t, s, "POST", "/channels/m1/answer", "", nil); st != 409 || string(body) != `{"message":"Channel not in Stasis application"}` {
		t.Errorf("answer after continue: %d %s", st, body)
	}

	// Snoop.
	originateInStasis(t, s, ws, "t1")
	for _, tc := range []struct{ q, body string }{
		{"app=demo&spy=sideways", `{"message":"Invalid direction specified for spy"}`},
		{"app=demo&spy=in&whisper=up", `{"message":"Invalid direction specified for whisper"}`},
		{"app=demo", `{"message":"Direction must be specified for at least spy or whisper"}`},
		{"spy=in", `{"message":"Application name is required"}`},
	} {
		if st, body := call(t, s, "POST", "/channels/t1/snoop", tc.q, nil); st != 400 || string(body) != tc.body {
			t.Errorf("snoop %s: %d %s", tc.q, st, body)
		}
	}
	st, body := call(t, s, "POST", "/channels/t1/snoop/sn1", "app=demo&spy=both&appArgs=a,b", nil)
	if st != 200 || !strings.Contains(string(body), `"name":"Snoop/t1-00000001"`) || !strings.Contains(string(body), `"app_data":"demo,a,b"`) {
		t.Fatalf("snoop: %d %s", st, body)
	}
	ws.waitType(t, "StasisStart", "sn1")
	// The snoop ends with the channel it spies on.
	call(t, s, "DELETE", "/channels/t1", "", nil)
	ws.waitType(t, "StasisEnd", "sn1")
}

func TestExternalMedia(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	for _, tc := range []struct{ q, body string }{
		{"external_host=h:1&format=ulaw", `{"message":"app cannot be empty"}`},
		{"app=demo&format=ulaw", `{"message":"external_host cannot be empty"}`},
		{"app=demo&external_host=nohost&format=ulaw", `{"message":"external_host must be <host>:<port>"}`},
		{"app=demo&external_host=h:1", `{"message":"format cannot be empty"}`},
		{"app=demo&external_host=h:1&format=ulaw&encapsulation=audiosocket&transport=tcp", `{"message":"data can not be empty"}`},
	} {
		if st, body := call(t, s, "POST", "/channels/externalMedia", tc.q, nil); st != 400 || string(body) != tc.body {
			t.Errorf("%s: %d %s", tc.q, st, body)
		}
	}
	if st, _ := call(t, s, "POST", "/channels/externalMedia", "app=demo&external_host=h:1&format=ulaw&transport=tcp", nil); st != 501 {
		t.Errorf("rtp over tcp: %d", st)
	}
	st, body := call(t, s, "POST", "/channels/externalMedia", "app=demo&channelId=em&external_host=127.0.0.1:40000&format=ulaw", nil)
	if st != 200 || !strings.Contains(string(body), `"channelvars":{"UNICASTRTP_LOCAL_PORT":"`) || !strings.Contains(string(body), `"name":"UnicastRTP/127.0.0.1:40000-0x`) {
		t.Fatalf("external media: %d %s", st, body)
	}
	ev := ws.waitType(t, "StasisStart", "em")
	if args := ev["args"].([]any); len(args) != 0 {
		t.Errorf("args %v", args)
	}
	if st, _ := call(t, s, "GET", "/channels/em/rtp_statistics", "", nil); st != 200 {
		t.Errorf("rtp statistics: %d", st)
	}
	call(t, s, "DELETE", "/channels/em", "", nil)
	ws.waitType(t, "ChannelDestroyed", "em")
}
