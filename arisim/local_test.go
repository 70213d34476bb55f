package arisim

import (
	"net/url"
	"slices"
	"testing"
	"time"
)

// dialplanApp is the application c runs, from GET /channels/{id}.
func dialplanApp(t *testing.T, s *Sim, id string) string {
	t.Helper()
	st, body := call(t, s, "GET", "/channels/"+id, "", nil)
	if st != 200 {
		t.Fatalf("get %s: %d %s", id, st, body)
	}
	dp, _ := decode(t, body)["dialplan"].(map[string]any)
	app, _ := dp["app_name"].(string)
	return app
}

// TestAnswerWaitsForMedia: the far end of an originated Local pair runs
// Answer, which (__ast_answer, main/channel.c) waits up to 500 ms for the
// first media frame before the dialplan moves on to Wait. Frames written
// to the ;1 half are read by the ;2 half (ast_unreal_write,
// ast_unreal_digit_begin in main/core_unreal.c): a playback, music on hold,
// the silence generator, hold (which a Local channel turns into music on
// hold: AST_UNREAL_MOH_INTERCEPT), a DTMF digit beginning (after
// ast_dtmf_stream's 100 ms quiet time) or a bridge playing into ;1 end the
// wait at once; indications (ring, progress: control frames) and an idle
// bridge do not. An
// Answer on a channel already up does not wait. The clock is a
// ManualClock, so each boundary is checked to the millisecond.
func TestAnswerWaitsForMedia(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		name    string
		act     func(t *testing.T, s *Sim)
		still   time.Duration // Answer is still waiting at this time
		movesOn time.Duration // and Wait runs from this time on
	}{
		{"no media", func(*testing.T, *Sim) {}, ms(499), ms(500)},
		{"indications", func(t *testing.T, s *Sim) {
			for _, p := range []string{"ring", "progress"} {
				if st, body := call(t, s, "POST", "/channels/a/"+p, "", nil); st != 204 {
					t.Fatalf("%s: %d %s", p, st, body)
				}
			}
		}, ms(499), ms(500)},
		{"dtmf", func(t *testing.T, s *Sim) { mustCall(t, s, "POST", "/channels/a/dtmf", "dtmf=1") }, ms(99), ms(100)},
		{"dtmf before", func(t *testing.T, s *Sim) { mustCall(t, s, "POST", "/channels/a/dtmf", "dtmf=1&before=250") }, ms(349), ms(350)},
		{"play", func(t *testing.T, s *Sim) { mustCall(t, s, "POST", "/channels/a/play", "media=sound:beep") }, -1, 0},
		{"moh", func(t *testing.T, s *Sim) { mustCall(t, s, "POST", "/channels/a/moh", "") }, -1, 0},
		{"hold (a Local channel intercepts it as music on hold)", func(t *testing.T, s *Sim) { mustCall(t, s, "POST", "/channels/a/hold", "") }, -1, 0},
		{"silence", func(t *testing.T, s *Sim) { mustCall(t, s, "POST", "/channels/a/silence", "") }, -1, 0},
		{"idle bridge", func(t *testing.T, s *Sim) {
			mustCall(t, s, "POST", "/bridges/br", "type=mixing")
			mustCall(t, s, "POST", "/bridges/br/addChannel", "channel=a")
		}, ms(499), ms(500)},
		{"bridge moh", func(t *testing.T, s *Sim) {
			mustCall(t, s, "POST", "/bridges/br", "type=mixing")
			mustCall(t, s, "POST", "/bridges/br/addChannel", "channel=a")
			mustCall(t, s, "POST", "/bridges/br/moh", "")
		}, -1, 0},
		{"joins a bridge playing music", func(t *testing.T, s *Sim) {
			mustCall(t, s, "POST", "/bridges/br", "type=mixing")
			mustCall(t, s, "POST", "/bridges/br/moh", "")
			mustCall(t, s, "POST", "/bridges/br/addChannel", "channel=a")
		}, -1, 0},
		{"bridge play", func(t *testing.T, s *Sim) {
			mustCall(t, s, "POST", "/bridges/br", "type=mixing")
			mustCall(t, s, "POST", "/bridges/br/addChannel", "channel=a")
			mustCall(t, s, "POST", "/bridges/br/play", "media=sound:beep")
		}, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := newClockedSim(t, Config{})
			ws := dialEvents(t, cs.Sim, "app=demo")
			originateInStasis(t, cs.Sim, ws, "a")
			cs.advance(0)
			if got := dialplanApp(t, cs.Sim, "a;2"); got != "Answer" {
				t.Fatalf("far end runs %q right after the answer, want Answer", got)
			}
			tc.act(t, cs.Sim)
			if tc.still >= 0 {
				cs.advance(tc.still)
				if got := dialplanApp(t, cs.Sim, "a;2"); got != "Answer" {
					t.Errorf("at %v the far end runs %q, want Answer still waiting for media", tc.still, got)
				}
			}
			cs.advance(tc.movesOn)
			if got := dialplanApp(t, cs.Sim, "a;2"); got != "Wait" {
				t.Errorf("at %v the far end runs %q, want Wait", tc.movesOn, got)
			}
			ws.waitFor(t, "ChannelDialplan Wait of a;2", func(m map[string]any) bool {
				ch, _ := m["channel"].(map[string]any)
				return m["type"] == "ChannelDialplan" && m["dialplan_app"] == "Wait" && ch["id"] == "a;2"
			})
		})
	}

	t.Run("already up", func(t *testing.T) {
		cs := newClockedSim(t, Config{})
		ws := dialEvents(t, cs.Sim, "app=demo")
		mustCall(t, cs.Sim, "POST", "/channels/create", "endpoint=Local/echo@default&app=demo&channelId=d")
		ws.waitType(t, "StasisStart", "d")
		mustCall(t, cs.Sim, "POST", "/channels/d/dial", "")
		ws.waitFor(t, "d up", func(m map[string]any) bool {
			ch, _ := m["channel"].(map[string]any)
			return m["type"] == "ChannelStateChange" && ch["id"] == "d" && ch["state"] == "Up"
		})
		mustCall(t, cs.Sim, "POST", "/channels/d/continue", "context=default&extension=echo&priority=1")
		cs.advance(0)
		if got := dialplanApp(t, cs.Sim, "d"); got != "Wait" {
			t.Errorf("an Answer on a channel that is up runs %q at once, want Wait (no wait for media)", got)
		}
	})
}

// mustCall makes a REST call that must succeed (2xx).
func mustCall(t *testing.T, s *Sim, method, path, query string) []byte {
	t.Helper()
	st, body := call(t, s, method, path, query, nil)
	if st/100 != 2 {
		t.Fatalf("%s %s?%s: %d %s", method, path, query, st, body)
	}
	return body
}

// TestLocalHalvesCrossCallerID: ast_unreal_call_setup (main/core_unreal.c)
// gives the ;2 half the ;1 half's connected line as its caller id and the
// ;1 half's caller id as its connected line, and copies the ;1 variables
// and the language.
func TestLocalHalvesCrossCallerID(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	mustCall(t, s, "POST", "/channels/create", "endpoint=Local/echo@default&app=demo&channelId=x")
	ws.waitType(t, "StasisStart", "x")
	mustCall(t, s, "POST", "/channels/x/variable", "variable=CALLERID(all)&value="+url.QueryEscape("Bob <2002>"))
	mustCall(t, s, "POST", "/channels/x/variable", "variable=FIRST&value=1")
	mustCall(t, s, "POST", "/channels/x/variable", "variable=SECOND&value=2")
	mustCall(t, s, "POST", "/channels/x/variable", "variable=CHANNEL(language)&value=fr")
	mustCall(t, s, "POST", "/channels/x/dial", "")
	ws.waitFor(t, "x up", func(m map[string]any) bool {
		ch, _ := m["channel"].(map[string]any)
		return m["type"] == "ChannelStateChange" && ch["id"] == "x" && ch["state"] == "Up"
	})
	_, body := call(t, s, "GET", "/channels/x;2", "", nil)
	two := decode(t, body)
	if c := two["caller"].(map[string]any); c["name"] != "" || c["number"] != "" {
		t.Errorf("x;2 caller = %v, want x's connected line (empty)", c)
	}
	if c := two["connected"].(map[string]any); c["name"] != "Bob" || c["number"] != "2002" {
		t.Errorf("x;2 connected = %v, want x's caller id Bob <2002>", c)
	}
	if two["language"] != "fr" {
		t.Errorf("x;2 language = %v, want fr", two["language"])
	}
	for name, want := range map[string]string{"FIRST": "1", "SECOND": "2"} {
		if st, body := call(t, s, "GET", "/channels/x;2/variable", "variable="+name, nil); st != 200 || decode(t, body)["value"] != want {
			t.Errorf("x;2 %s: %d %s, want %s copied from x", name, st, body, want)
		}
	}
}

// eventsAbout lists the types of the events about channel id, in order.
func eventsAbout(ws *wsClient, id string) []string {
	var out []string
	for _, m := range ws.events() {
		if ch, _ := m["channel"].(map[string]any); ch != nil && ch["id"] == id {
			out = append(out, m["type"].(string))
		}
	}
	return out
}

// TestHangupOfLocalHalves: what each half publishes when the ;1 half of
// a Local pair is hung up from ARI, in each state (ast_softhangup,
// res_stasis.c, ast_unreal_hangup in main/core_unreal.c). The ;1 half:
// ChannelHangupRequest (soft), StasisEnd, ChannelDestroyed, in every state.
// Its ;2 half, when it was called (local_call started its dialplan: the
// caretaker thread), is asked to hang up (a ChannelHangupRequest queued
// with the cause, then the PBX's soft request) and destroyed; a ;2 half
// never called (a created channel not yet dialed) is destroyed at once,
// without a hangup request.
func TestHangupOfLocalHalves(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, s *Sim, ws *wsClient)
		one    []string
		two    []string
		state1 string
	}{
		{"up, far end in its dialplan", func(t *testing.T, s *Sim, ws *wsClient) {
			mustCall(t, s, "POST", "/channels", "endpoint=Local/echo@default&app=demo&channelId=h")
			ws.waitType(t, "StasisStart", "h")
		}, []string{"ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"},
			[]string{"ChannelHangupRequest", "ChannelHangupRequest", "ChannelDestroyed"}, "Up"},
		{"down, far end never called", func(t *testing.T, s *Sim, ws *wsClient) {
			mustCall(t, s, "POST", "/channels/create", "endpoint=Local/echo@default&app=demo&channelId=h")
			ws.waitType(t, "StasisStart", "h")
		}, []string{"ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"},
			[]string{"ChannelDestroyed"}, "Down"},
		{"created and dialed", func(t *testing.T, s *Sim, ws *wsClient) {
			mustCall(t, s, "POST", "/channels/create", "endpoint=Local/echo@default&app=demo&channelId=h")
			ws.waitType(t, "StasisStart", "h")
			mustCall(t, s, "POST", "/channels/h/dial", "")
			ws.waitFor(t, "h up", func(m map[string]any) bool {
				ch, _ := m["channel"].(map[string]any)
				return m["type"] == "ChannelStateChange" && ch["id"] == "h" && ch["state"] == "Up"
			})
		}, []string{"ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"},
			[]string{"ChannelHangupRequest", "ChannelHangupRequest", "ChannelDestroyed"}, "Up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSim(t, Config{})
			all := dialEvents(t, s, "app=watcher&subscribeAll=true")
			ws := dialEvents(t, s, "app=demo")
			// A user event to the watcher marks the end of what a step
			// caused: events reach it in order.
			barrier := func(name string) {
				mustCall(t, s, "POST", "/events/user/"+name, "application=watcher")
				all.waitFor(t, "user event "+name, func(m map[string]any) bool { return m["eventname"] == name })
			}
			tc.setup(t, s, ws)
			barrier("setup")
			mark := len(all.events())
			mustCall(t, s, "DELETE", "/channels/h", "")
			all.waitType(t, "ChannelDestroyed", "h;2")
			all.waitType(t, "ChannelDestroyed", "h")
			ws.waitType(t, "ChannelDestroyed", "h")
			barrier("hangup")
			var one, two []string
			for _, m := range all.events()[mark:] {
				ch, _ := m["channel"].(map[string]any)
				if ch == nil {
					continue
				}
				switch ch["id"] {
				case "h":
					if m["type"] != "ChannelVarset" {
						one = append(one, m["type"].(string))
					}
				case "h;2":
					if m["type"] != "ChannelVarset" {
						two = append(two, m["type"].(string))
					}
				}
			}
			// The watcher is not the channel's application: StasisEnd goes
			// to demo only.
			if got := eventsAbout(ws, "h"); !slices.Contains(got, "StasisEnd") {
				t.Errorf("demo got %v about h, want a StasisEnd", got)
			}
			want1 := slices.DeleteFunc(slices.Clone(tc.one), func(x string) bool { return x == "StasisEnd" })
			if !slices.Equal(one, want1) {
				t.Errorf("h (%s): watcher got %v, want %v", tc.state1, one, want1)
			}
			if !slices.Equal(two, tc.two) {
				t.Errorf("h;2: watcher got %v, want %v", two, tc.two)
			}
			var demo []string
			for _, typ := range eventsAbout(ws, "h") {
				if typ == "ChannelHangupRequest" || typ == "StasisEnd" || typ == "ChannelDestroyed" {
					demo = append(demo, typ)
				}
			}
			if !slices.Equal(demo, tc.one) {
				t.Errorf("h: demo got %v, want %v", demo, tc.one)
			}
		})
	}
}

// TestSubscriptionsCountAndEndWithTheObject: an application's interest in
// a channel or bridge is counted (app_subscribe_channel,
// app_subscribe_bridge: ++interested; unsubscribe: --interested, the
// forward dropped at zero; res/stasis/app.c), and ends with the object
// whatever the count: ChannelDestroyed and BridgeDestroyed still reach
// the application, then the subscription is gone (unsubscribe with
// terminate in sub_channel_update_handler / sub_bridge_update_handler).
func TestSubscriptionsCountAndEndWithTheObject(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	other := dialEvents(t, s, "app=other")
	originateInStasis(t, s, ws, "c")
	mustCall(t, s, "POST", "/bridges/b", "type=mixing")
	listed := func(kind, id string) bool {
		_, body := call(t, s, "GET", "/applications/other", "", nil)
		ids, _ := decode(t, body)[kind+"_ids"].([]any)
		return slices.Contains(ids, any(id))
	}
	for range 2 {
		mustCall(t, s, "POST", "/applications/other/subscription", "eventSource=channel:c")
	}
	mustCall(t, s, "POST", "/applications/other/subscription", "eventSource=bridge:b")
	mustCall(t, s, "DELETE", "/applications/other/subscription", "eventSource=channel:c")
	if !listed("channel", "c") {
		t.Fatal("subscribed twice and unsubscribed once: the channel is no longer listed")
	}
	mustCall(t, s, "POST", "/channels/c/variable", "variable=SEEN&value=1")
	other.waitFor(t, "ChannelVarset SEEN", func(m map[string]any) bool { return m["variable"] == "SEEN" })

	mustCall(t, s, "DELETE", "/channels/c", "")
	other.waitType(t, "ChannelDestroyed", "c")
	if listed("channel", "c") {
		t.Error("the channel is still listed after ChannelDestroyed (interest count 1 left)")
	}
	mustCall(t, s, "DELETE", "/bridges/b", "")
	other.waitType(t, "BridgeDestroyed", "")
	if listed("bridge", "b") {
		t.Error("the bridge is still listed after BridgeDestroyed")
	}
	for _, m := range ws.events() {
		if m["type"] == "BridgeDestroyed" {
			t.Error("demo, not subscribed to the bridge, got BridgeDestroyed")
		}
	}
}

// TestPlaybackOperationsByState: what each playback operation answers in
// each state, from the operations table of res/res_stasis_playback.c
// (stasis_app_playback_operation): an operation the table has runs (a
// no-op where the state already is what it asks for), one it lacks is
// 409 "Can only X while media is playing", and one that needs control
// of media that cannot be controlled (digits:) is 500 "Could not X
// playback". The clock stands still, so nothing ends by itself.
func TestPlaybackOperationsByState(t *testing.T) {
	type op struct {
		name   string
		status int
	}
	for _, tc := range []struct {
		state string
		media string
		setup func(t *testing.T, s *Sim)
		ops   []op
	}{
		{"queued", "sound:beep", func(t *testing.T, s *Sim) {
			mustCall(t, s, "POST", "/channels/a/dtmf", "dtmf=1") // occupies the control queue
		}, []op{{"restart", 204}, {"pause", 409}, {"unpause", 409}, {"reverse", 409}, {"forward", 409}}},
		{"playing", "sound:demo-congrats", nil,
			[]op{{"unpause", 204}, {"restart", 204}, {"reverse", 204}, {"forward", 204}, {"pause", 204}}},
		{"paused", "sound:demo-congrats", nil, nil}, // paused below
		{"playing, not controllable", "digits:123", nil,
			[]op{{"unpause", 204}, {"pause", 500}, {"restart", 500}, {"reverse", 500}, {"forward", 500}}},
	} {
		t.Run(tc.state, func(t *testing.T) {
			cs := newClockedSim(t, Config{})
			ws := dialEvents(t, cs.Sim, "app=demo")
			originateInStasis(t, cs.Sim, ws, "a")
			if tc.setup != nil {
				tc.setup(t, cs.Sim)
			}
			mustCall(t, cs.Sim, "POST", "/channels/a/play/p", "media="+url.QueryEscape(tc.media))
			cs.advance(0)
			ops := tc.ops
			if tc.state == "paused" {
				mustCall(t, cs.Sim, "POST", "/playbacks/p/control", "operation=pause")
				ops = []op{{"pause", 204}, {"restart", 409}, {"reverse", 409}, {"forward", 409}, {"unpause", 204}}
			}
			for _, o := range ops {
				st, body := call(t, cs.Sim, "POST", "/playbacks/p/control", "operation="+o.name, nil)
				if st != o.status {
					t.Errorf("%s while %s: %d %s, want %d", o.name, tc.state, st, body, o.status)
				}
			}
			want := 204
			if tc.state == "playing, not controllable" {
				want = 500
			}
			if st, body := call(t, cs.Sim, "DELETE", "/playbacks/p", "", nil); st != want {
				t.Errorf("stop while %s: %d %s, want %d", tc.state, st, body, want)
			}
		})
	}
}

// TestBridgeChannelEventsGoToBridgeSubscribers: ChannelEnteredBridge and
// ChannelLeftBridge are published on the bridge's topic only
// (ast_bridge_publish_enter / ast_bridge_publish_leave,
// main/stasis_bridges.c): the channel's Stasis application, subscribed to
// the bridge while its channel is in it, and an application subscribed to
// the bridge get them; one subscribed to the channel alone does not,
// though it sees the channel's own events (BRIDGEPEER).
func TestBridgeChannelEventsGoToBridgeSubscribers(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	chanOnly := dialEvents(t, s, "app=other")
	bridgeSub := dialEvents(t, s, "app=third")
	originateInStasis(t, s, ws, "c")
	originateInStasis(t, s, ws, "d")
	mustCall(t, s, "POST", "/bridges/b", "type=mixing")
	mustCall(t, s, "POST", "/applications/other/subscription", "eventSource=channel:c")
	mustCall(t, s, "POST", "/applications/third/subscription", "eventSource=bridge:b")
	mustCall(t, s, "POST", "/bridges/b/addChannel", "channel=c,d")
	mustCall(t, s, "POST", "/bridges/b/removeChannel", "channel=c")
	for _, w := range []*wsClient{ws, bridgeSub} {
		w.waitType(t, "ChannelEnteredBridge", "c")
		w.waitType(t, "ChannelLeftBridge", "c")
	}
	chanOnly.waitFor(t, "BRIDGEPEER of c", func(m map[string]any) bool { return m["variable"] == "BRIDGEPEER" })
	// Events reach an application in order: once its user event is in,
	// nothing the bridge operations caused is still on the way.
	mustCall(t, s, "POST", "/events/user/mark", "application=other")
	chanOnly.waitType(t, "ChannelUserevent", "")
	for _, m := range chanOnly.events() {
		if m["type"] == "ChannelEnteredBridge" || m["type"] == "ChannelLeftBridge" {
			t.Errorf("an application subscribed to the channel only got %s", m["type"])
		}
	}
}
