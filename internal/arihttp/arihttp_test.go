package arihttp

import (
	"net/http/httptest"
	"testing"
)

func TestAuthenticated(t *testing.T) {
	for _, tc := range []struct {
		target string
		basic  bool
		want   bool
	}{
		{"/ari/x?api_key=u:p", false, true},
		{"/ari/x?api_key=u:q", false, false},
		{"/ari/x?api_key=u", false, false},
		{"/ari/x", true, true},
		{"/ari/x", false, false},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		if tc.basic {
			r.SetBasicAuth("u", "p")
		}
		if got := Authenticated(r, nil, "u", "p"); got != tc.want {
			t.Errorf("%s basic=%v: %v, want %v", tc.target, tc.basic, got, tc.want)
		}
	}
}

func TestEvents(t *testing.T) {
	ws := map[string]string{"Upgrade": "websocket", "Sec-WebSocket-Key": "k", "Sec-WebSocket-Version": "13"}
	for _, tc := range []struct {
		target  string
		headers map[string]string
		proto   string
		status  int // 0: accepted
		apps    int
	}{
		{"/ari/events", ws, "", 400, 0},
		{"/ari/events?app=,", ws, "", 400, 0},
		{"/ari/events?app=b,a,b", nil, "", 426, 0},
		{"/ari/events?app=b,a,b", ws, "", 0, 2},
		{"/ari/events?app=a", map[string]string{"Upgrade": "websocket", "Sec-WebSocket-Key": "k", "Sec-WebSocket-Version": "8"}, "", 400, 0},
		{"/ari/events?app=a", map[string]string{"Upgrade": "websocket", "Sec-WebSocket-Key": "k", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Protocol": "chat, ari"}, "ari", 0, 1},
		{"/ari/events?app=a", map[string]string{"Upgrade": "websocket", "Sec-WebSocket-Key": "k", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Protocol": "chat"}, "", 400, 0},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		for k, v := range tc.headers {
			r.Header.Set(k, v)
		}
		apps, proto, refused := Events(r)
		status := 0
		if refused != nil {
			status = refused.Status
		}
		if status != tc.status || len(apps) != tc.apps || proto != tc.proto {
			t.Errorf("%s %v: apps %v proto %q refused %+v", tc.target, tc.headers, apps, proto, refused)
		}
	}
}
