package arisim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// objectEvents returns "type:state" of the events about one playback,
// recording or other object (the event's member obj whose key is val), in
// order.
func objectEvents(ws *wsClient, obj, key, val string) []string {
	var out []string
	for _, m := range ws.events() {
		o, ok := m[obj].(map[string]any)
		if ok && o[key] == val {
			out = append(out, m["type"].(string)+":"+o["state"].(string))
		}
	}
	return out
}

// playbackEvents returns the types and states of the playback events
// about id, in order.
func playbackEvents(ws *wsClient, id string) []string {
	return objectEvents(ws, "playback", "id", id)
}

func waitPlayback(t *testing.T, ws *wsClient, id, typ string) map[string]any {
	t.Helper()
	return ws.waitFor(t, typ+" "+id, func(m map[string]any) bool {
		p, ok := m["playback"].(map[string]any)
		return ok && m["type"] == typ && p["id"] == id
	})
}

func TestPlaybackLifecycle(t *testing.T) {
	s := testSim(t, Config{TimeScale: 0.02})
	ws := dialEvents(t, s, "app=demo")
	originateInStasis(t, s, ws, "p1")

	// Plays to the end: Started, Continuing between media, Finished.
	st, body := call(t, s, "POST", "/channels/p1/play/pb-a", "media=sound:beep,sound:demo-congrats", nil)
	if st != 201 || !strings.Contains(string(body), `"next_media_uri":"sound:demo-congrats"`) || !strings.Contains(string(body), `"state":"queued"`) {
		t.Fatalf("play: %d %s", st, body)
	}
	waitPlayback(t, ws, "pb-a", "PlaybackFinished")
	if got := strings.Join(playbackEvents(ws, "pb-a"), " "); got != "PlaybackStarted:playing PlaybackContinuing:continuing PlaybackStarted:playing PlaybackFinished:done" {
		t.Errorf("events: %s", got)
	}
	if st, _ := call(t, s, "GET", "/playbacks/pb-a", "", nil); st != 404 {
		t.Errorf("finished playback still there: %d", st)
	}

	// A missing sound fails; an unsupported scheme starts and never ends.
	call(t, s, "POST", "/channels/p1/play/pb-missing", "media=sound:no-such-sound", nil)
	ev := waitPlayback(t, ws, "pb-missing", "PlaybackFinished")
	if ev["playback"].(map[string]any)["state"] != "failed" {
		t.Errorf("missing sound: %v", ev)
	}
	call(t, s, "POST", "/channels/p1/play/pb-bogus", "media=bogus:thing", nil)
	waitPlayback(t, ws, "pb-bogus", "PlaybackStarted")
	time.Sleep(30 * time.Millisecond)
	if got := strings.Join(playbackEvents(ws, "pb-bogus"), " "); got != "PlaybackStarted:playing" {
		t.Errorf("bogus scheme: %s", got)
	}

	// Control while playing.
	call(t, s, "POST", "/channels/p1/play/pb-c", "media=sound:demo-congrats", nil)
	waitPlayback(t, ws, "pb-c", "PlaybackStarted")
	for _, tc := range []struct {
		op     string
		status int
		body   string
	}{
		{"", 400, `{"message":"Missing operation"}`},
		{"bogus", 400, `{"message":"Invalid operation bogus"}`},
		{"pause", 204, ""},
		{"pause", 204, ""},
		{"restart", 409, `{"message":"Can only restart while media is playing"}`},
		{"unpause", 204, ""},
		{"forward", 204, ""},
		{"reverse", 204, ""},
		{"restart", 204, ""},
	} {
		q := ""
		if tc.op != "" {
			q = "operation=" + tc.op
		}
		st, body := call(t, s, "POST", "/playbacks/pb-c/control", q, nil)
		if st != tc.status || string(body) != tc.body {
			t.Errorf("control %q: %d %s, want %d %s", tc.op, st, body, tc.status, tc.body)
		}
	}
	if st, body := call(t, s, "GET", "/playbacks/pb-c", "", nil); st != 200 || !strings.Contains(string(body), `"state":"playing"`) {
		t.Errorf("get: %d %s", st, body)
	}
	// A queued playback: pause is a conflict; stopping cancels it and it
	// finishes without starting.
	call(t, s, "POST", "/channels/p1/play/pb-q", "media=sound:beep", nil)
	if st, body := call(t, s, "POST", "/playbacks/pb-q/control", "operation=pause", nil); st != 409 || string(body) != `{"message":"Can only pause while media is playing"}` {
		t.Errorf("pause queued: %d %s", st, body)
	}
	if st, _ := call(t, s, "DELETE", "/playbacks/pb-q", "", nil); st != 204 {
		t.Errorf("cancel queued: %d", st)
	}
	if st, _ := call(t, s, "DELETE", "/playbacks/pb-c", "", nil); st != 204 {
		t.Errorf("stop: %d", st)
	}
	waitPlayback(t, ws, "pb-c", "PlaybackFinished")
	waitPlayback(t, ws, "pb-q", "PlaybackFinished")
	if got := strings.Join(playbackEvents(ws, "pb-q"), " "); got != "PlaybackFinished:done" {
		t.Errorf("canceled: %s", got)
	}
	// Digits cannot be controlled.
	call(t, s, "POST", "/channels/p1/play/pb-d", "media=digits:123456789", nil)
	waitPlayback(t, ws, "pb-d", "PlaybackStarted")
	if st, body := call(t, s, "POST", "/playbacks/pb-d/control", "operation=pause", nil); st != 500 || string(body) != `{"message":"Could not pause playback"}` {
		t.Errorf("pause digits: %d %s", st, body)
	}
	// Bad requests.
	for _, q := range []string{"", "media=sound:beep,,sound:beep"} {
		if st, body := call(t, s, "POST", "/channels/p1/play", q, nil); st != 500 || string(body) != `{"message":"Failed to queue media for playback"}` {
			t.Errorf("play %q: %d %s", q, st, body)
		}
	}
	if st, body := call(t, s, "POST", "/channels/p1/play", "media=sound:beep&skipms=-1", nil); st != 400 || string(body) != `{"message":"skipms cannot be negative"}` {
		t.Errorf("skipms: %d %s", st, body)
	}
}

func TestHangupDuringPlayback(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	originateInStasis(t, s, ws, "h1")
	call(t, s, "POST", "/channels/h1/play/long", "media=sound:demo-congrats", nil)
	call(t, s, "POST", "/channels/h1/play/next", "media=sound:beep", nil)
	waitPlayback(t, ws, "long", "PlaybackStarted")
	call(t, s, "DELETE", "/channels/h1", "", nil)
	ws.waitType(t, "ChannelDestroyed", "h1;2")
	var order []string
	for _, m := range ws.events() {
		switch m["type"] {
		case "PlaybackFinished", "StasisEnd":
			order = append(order, m["type"].(string))
		}
	}
	if strings.Join(order, " ") != "PlaybackFinished StasisEnd" {
		t.Errorf("order: %v", order)
	}
	if got := playbackEvents(ws, "long"); got[len(got)-1] != "PlaybackFinished:failed" {
		t.Errorf("long: %v", got)
	}
	if got := playbackEvents(ws, "next"); len(got) != 0 {
		t.Errorf("queued playback emitted %v", got)
	}
}

func TestRecordings(t *testing.T) {
	s := testSim(t, Config{TimeScale: 0.01})
	ws := dialEvents(t, s, "app=demo")
	originateInStasis(t, s, ws, "r1")
	for _, tc := range []struct {
		query  string
		status int
		body   string
	}{
		{"name=x&format=nosuch", 422, `{"message":"specified format is unknown on this system"}`},
		{"name=x&format=wav&ifExists=maybe", 400, `{"message":"ifExists invalid"}`},
		{"name=x&format=wav&terminateOn=never", 400, `{"message":"terminateOn invalid"}`},
		{"name=x&format=wav&maxDurationSeconds=-1", 400, `{"message":"max_duration_seconds cannot be negative"}`},
		{"name=../x&format=wav", 400, `{"message":"Recording name invalid"}`},
	} {
		if st, body := call(t, s, "POST", "/channels/r1/record", tc.query, nil); st != tc.status || string(body) != tc.body {
			t.Errorf("%s: %d %s", tc.query, st, body)
		}
	}
	st, body := call(t, s, "POST", "/channels/r1/record", "name=rec1&format=wav", nil)
	if st != 201 || string(body) != `{"name":"rec1","format":"wav","state":"queued","target_uri":"channel:r1"}` {
		t.Fatalf("record: %d %s", st, body)
	}
	ws.waitType(t, "RecordingStarted", "")
	if st, body := call(t, s, "POST", "/channels/r1/record", "name=rec1&format=wav", nil); st != 409 || string(body) != `{"message":"Recording 'rec1' already exists and can not be overwritten"}` {
		t.Errorf("duplicate live: %d %s", st, body)
	}
	// Recording keeps the control busy: no bridge for a recording channel.
	call(t, s, "POST", "/bridges/rb", "", nil)
	if st, body := call(t, s, "POST", "/bridges/rb/addChannel", "channel=r1", nil); st != 409 || string(body) != `{"message":"Channel r1 currently recording"}` {
		t.Errorf("add recording channel: %d %s", st, body)
	}
	for _, op := range []string{"pause", "mute"} {
		if st, _ := call(t, s, "POST", "/recordings/live/rec1/"+op, "", nil); st != 204 {
			t.Errorf("%s: %d", op, st)
		}
		if st, _ := call(t, s, "DELETE", "/recordings/live/rec1/"+op, "", nil); st != 204 {
			t.Errorf("un%s: %d", op, st)
		}
	}
	time.Sleep(30 * time.Millisecond) // 3 simulated seconds
	call(t, s, "POST", "/recordings/live/rec1/stop", "", nil)
	ev := ws.waitType(t, "RecordingFinished", "")
	rec := ev["recording"].(map[string]any)
	if rec["state"] != "done" || rec["duration"].(float64) < 2 {
		t.Errorf("finished: %v", rec)
	}
	if _, body := call(t, s, "GET", "/recordings/stored", "", nil); string(body) != `[{"name":"rec1","format":"wav"}]` {
		t.Errorf("stored: %s", body)
	}
	if st, _ := call(t, s, "POST", "/channels/r1/record", "name=rec1&format=wav", nil); st != 409 {
		t.Errorf("ifExists=fail on a stored recording: %d", st)
	}
	st, body = call(t, s, "POST", "/recordings/stored/rec1/copy", "destinationRecordingName=rec2", nil)
	if st != 200 || string(body) != `{"name":"rec2","format":"wav"}` {
		t.Errorf("copy: %d %s", st, body)
	}
	if st, body := call(t, s, "POST", "/recordings/stored/rec1/copy", "destinationRecordingName=rec2", nil); st != 409 || string(body) != `{"message":"A recording with the same name already exists on the system"}` {
		t.Errorf("copy onto existing: %d %s", st, body)
	}
	st, body = call(t, s, "GET", "/recordings/stored/rec1/file", "", nil)
	if st != 200 || !strings.HasPrefix(string(body), "RIFF") {
		t.Errorf("file: %d %.8q", st, body)
	}
	call(t, s, "DELETE", "/recordings/stored/rec2", "", nil)
	if st, _ := call(t, s, "GET", "/recordings/stored/rec2", "", nil); st != 404 {
		t.Errorf("deleted recording still there: %d", st)
	}

	// Scrapping: RecordingFinished (state done) and nothing stored.
	call(t, s, "POST", "/channels/r1/record", "name=scrap&format=wav", nil)
	ws.waitFor(t, "scrap started", func(m map[string]any) bool {
		r, _ := m["recording"].(map[string]any)
		return m["type"] == "RecordingStarted" && r["name"] == "scrap"
	})
	call(t, s, "DELETE", "/recordings/live/scrap", "", nil)
	ev = ws.waitFor(t, "scrap finished", func(m map[string]any) bool {
		r, _ := m["recording"].(map[string]any)
		return m["type"] == "RecordingFinished" && r["name"] == "scrap"
	})
	if ev["recording"].(map[string]any)["state"] != "done" {
		t.Errorf("scrap: %v", ev)
	}
	if st, _ := call(t, s, "GET", "/recordings/stored/scrap", "", nil); st != 404 {
		t.Errorf("scrapped recording stored: %d", st)
	}
	// maxDurationSeconds ends the recording on its own.
	call(t, s, "POST", "/channels/r1/record", "name=short&format=gsm&maxDurationSeconds=1", nil)
	ev = ws.waitFor(t, "short finished", func(m map[string]any) bool {
		r, _ := m["recording"].(map[string]any)
		return m["type"] == "RecordingFinished" && r["name"] == "short"
	})
	if d := ev["recording"].(map[string]any)["duration"]; d != 1.0 {
		t.Errorf("short duration %v", d)
	}
	if st, body := call(t, s, "POST", "/recordings/live/short/pause", "", nil); st != 404 || string(body) != `{"message":"Recording not found"}` {
		t.Errorf("pause finished: %d %s", st, body)
	}
}

func TestRecordingMemberOrder(t *testing.T) {
	r := &liveRecording{name: "n", format: "wav", state: "done", target: "channel:c", duration: 0}
	if got := string(liveRecordingBody(r)); got != `{"name":"n","format":"wav","state":"done","target_uri":"channel:c","duration":0}` {
		t.Error(got)
	}
	var v map[string]any
	if err := json.Unmarshal(liveRecordingBody(r), &v); err != nil {
		t.Error(err)
	}
}

// recordingEvents returns the types and states of the recording events
// about name, in order.
func recordingEvents(ws *wsClient, name string) []string {
	return objectEvents(ws, "recording", "name", name)
}

// TestRecordingStoppedWhileQueued follows the recorded Asterisk (v5
// corpus): a stop while the recording waits behind DTMF only marks it
// canceled (recording_disregard); record_file still starts it when the
// control gets there, and it runs until hangup. Its file exists from the
// start, and the channel cannot join a bridge while it records.
func TestRecordingStoppedWhileQueued(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	originateInStasis(t, s, ws, "q1")
	call(t, s, "POST", "/bridges/qb", "", nil)
	// The DTMF occupies the control for 700 ms.
	if st, body := call(t, s, "POST", "/channels/q1/dtmf", "dtmf=1%23&between=200&duration=80", nil); st != 204 {
		t.Fatalf("dtmf: %d %s", st, body)
	}
	if st, body := call(t, s, "POST", "/channels/q1/record", "name=qrec&format=wav&ifExists=overwrite", nil); st != 201 || !strings.Contains(string(body), `"state":"queued"`) {
		t.Fatalf("record: %d %s", st, body)
	}
	notInSession := `{"message":"Recording not in session"}`
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/recordings/live/qrec", 200, `{"name":"qrec","format":"wav","state":"queued","target_uri":"channel:q1"}`},
		{"POST", "/recordings/live/qrec/pause", 409, notInSession},
		{"DELETE", "/recordings/live/qrec/pause", 409, notInSession},
		{"POST", "/recordings/live/qrec/mute", 409, notInSession},
		{"POST", "/recordings/live/qrec/stop", 204, ""},
		{"GET", "/recordings/live/qrec", 200, `{"name":"qrec","format":"wav","state":"canceled","target_uri":"channel:q1"}`},
		{"POST", "/recordings/live/qrec/stop", 409, notInSession},
		{"POST", "/bridges/qb/addChannel", 409, `{"message":"Channel q1 currently recording"}`},
		{"GET", "/recordings/stored/qrec", 404, `{"message":"Recording not found"}`},
	} {
		query := ""
		if strings.HasSuffix(tc.path, "addChannel") {
			query = "channel=q1"
		}
		if st, body := call(t, s, tc.method, tc.path, query, nil); st != tc.status || string(body) != tc.body {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, st, body, tc.status, tc.body)
		}
	}

	// The DTMF ends; the recording starts regardless.
	ws.waitFor(t, "qrec started", func(m map[string]any) bool {
		r, _ := m["recording"].(map[string]any)
		return m["type"] == "RecordingStarted" && r["name"] == "qrec"
	})
	for _, tc := range []struct {
		method, path, query string
		status              int
		body                string
	}{
		{"GET", "/recordings/live/qrec", "", 200, `{"name":"qrec","format":"wav","state":"recording","target_uri":"channel:q1"}`},
		{"GET", "/recordings/stored", "", 200, `[{"name":"qrec","format":"wav"}]`},
		{"GET", "/recordings/stored/qrec", "", 200, `{"name":"qrec","format":"wav"}`},
		{"POST", "/recordings/stored/qrec/copy", "destinationRecordingName=qcopy", 200, `{"name":"qcopy","format":"wav"}`},
		{"DELETE", "/recordings/stored/qrec", "", 204, ""},
		{"POST", "/bridges/qb/addChannel", "channel=q1", 409, `{"message":"Channel q1 currently recording"}`},
		{"POST", "/bridges/qb/videoSource/q1", "", 422, `{"message":"Channel not in this bridge"}`},
		{"POST", "/bridges/qb/removeChannel", "channel=q1", 422, `{"message":"Channel not in this bridge"}`},
	} {
		if st, body := call(t, s, tc.method, tc.path, tc.query, nil); st != tc.status || string(body) != tc.body {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, st, body, tc.status, tc.body)
		}
	}

	// Hangup ends it; the file deleted while it ran stays deleted.
	call(t, s, "DELETE", "/channels/q1", "", nil)
	ws.waitType(t, "ChannelDestroyed", "q1;2")
	if got := strings.Join(recordingEvents(ws, "qrec"), " "); got != "RecordingStarted:recording RecordingFinished:done" {
		t.Errorf("events: %s", got)
	}
	if _, body := call(t, s, "GET", "/recordings/stored", "", nil); string(body) != `[{"name":"qcopy","format":"wav"}]` {
		t.Errorf("stored after hangup: %s", body)
	}
}

// TestQueuedRecordingHangup: a recording that never started (the channel
// hung up while it waited) publishes nothing and leaves no file.
func TestQueuedRecordingHangup(t *testing.T) {
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	originateInStasis(t, s, ws, "q2")
	call(t, s, "POST", "/channels/q2/play/long", "media=sound:demo-congrats", nil)
	call(t, s, "POST", "/channels/q2/record", "name=never&format=wav", nil)
	call(t, s, "POST", "/recordings/live/never/stop", "", nil)
	call(t, s, "DELETE", "/channels/q2", "", nil)
	ws.waitType(t, "ChannelDestroyed", "q2;2")
	if got := recordingEvents(ws, "never"); len(got) != 0 {
		t.Errorf("events: %v", got)
	}
	for _, path := range []string{"/recordings/live/never", "/recordings/stored/never"} {
		if st, _ := call(t, s, "GET", path, "", nil); st != 404 {
			t.Errorf("%s: %d", path, st)
		}
	}
}
