package wire

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
)

var testBase = Key{Node: "n1", App: "demo", Dialog: "dlg"}

func build(t *testing.T, kind string, params ari.Params, status int, body string) *Response {
	t.Helper()
	k, ok := LookupKind(kind)
	if !ok {
		t.Fatalf("no kind %s", kind)
	}
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	return BuildResponse(k, testBase, params, status, b)
}

func marshal(t *testing.T, r *Response) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBuildResponseShapes(t *testing.T) {
	cases := []struct {
		name, kind string
		params     ari.Params
		status     int
		body, want string
	}{
		{"command", "ChannelAnswer", ari.Params{"channelId": "c1"}, 204, "",
			`{"error":""}`},
		{"create", "ChannelOriginate", ari.Params{"channelId": "c1"}, 200, `{"id":"c1","name":"Local/x"}`,
			`{"error":"","key":{"kind":"channel","id":"c1","node":"n1","dialog":"dlg","app":"demo"}}`},
		{"create without body id", "AsteriskLoggingCreate", ari.Params{"logChannelName": "l1"}, 204, "",
			`{"error":"","key":{"kind":"logging","id":"l1","node":"n1","dialog":"dlg","app":"demo"}}`},
		{"stage: no ARI call", "ChannelStagePlay", ari.Params{"channelId": "c1", "playbackId": "p1"}, 0, "",
			`{"error":""` + `,"key":{"kind":"playback","id":"p1","node":"n1","dialog":"dlg","app":"demo"}}`},
		{"subscribe: no ARI call", "ChannelSubscribe", nil, 0, "", `{"error":""}`},
		{"list", "ChannelList", nil, 200, `[{"id":"a"},{"id":"b"}]`,
			`{"error":"","keys":[{"kind":"channel","id":"a","node":"n1","dialog":"dlg","app":"demo"},{"kind":"channel","id":"b","node":"n1","dialog":"dlg","app":"demo"}]}`},
		{"empty list", "BridgeList", nil, 200, `[]`, `{"error":""}`},
		{"variable", "ChannelVariableGet", ari.Params{"channelId": "c1", "variable": "V"}, 200, `{"value":"x"}`,
			`{"error":"","data":{"variable":"x"}}`},
		{"info: no key", "AsteriskInfo", nil, 200, `{"system":{"entity_id":"n1"}}`,
			`{"error":"","data":{"asterisk":{"system":{"entity_id":"n1"}}}}`},
		// The v5 bugs we fix.
		{"mailbox list", "MailboxList", nil, 200, `[{"name":"1@default","old_messages":1,"new_messages":2}]`,
			`{"error":"","keys":[{"kind":"mailbox","id":"1@default","node":"n1","dialog":"dlg","app":"demo"}]}`},
		{"endpoints by tech", "EndpointListByTech", ari.Params{"tech": "PJSIP"}, 200, `[{"technology":"PJSIP","resource":"alice","state":"online","channel_ids":[]}]`,
			`{"error":"","keys":[{"kind":"endpoint","id":"PJSIP/alice","node":"n1","dialog":"dlg","app":"demo"}]}`},
		{"sound ids", "SoundList", nil, 200, `[{"id":"beep","formats":[]}]`,
			`{"error":"","keys":[{"kind":"sound","id":"beep","node":"n1","dialog":"dlg","app":"demo"}]}`},
		{"config data", "AsteriskConfigData", ari.Params{"configClass": "res_pjsip", "objectType": "endpoint", "id": "alice"}, 200, `[{"attribute":"allow","value":"ulaw"}]`,
			`{"error":"","data":{"config":{"key":{"kind":"config","id":"res_pjsip/endpoint/alice","node":"n1","dialog":"dlg","app":"demo"},"class":"res_pjsip","type":"endpoint","name":"alice","fields":[{"attribute":"allow","value":"ulaw"}]}}}`},
		{"endpoint data", "EndpointData", ari.Params{"tech": "PJSIP", "resource": "alice"}, 200, `{"technology":"PJSIP","resource":"alice"}`,
			`{"error":"","data":{"endpoint":{"key":{"kind":"endpoint","id":"PJSIP/alice","node":"n1","dialog":"dlg","app":"demo"},"technology":"PJSIP","resource":"alice"}}}`},
		// Generic kinds: the exact body, with a key for keyed entities.
		{"generic data", "channels.rtpstatistics", ari.Params{"channelId": "c1"}, 200, `{"txcount":1}`,
			`{"error":"","data":{"rtpstat":{"txcount":1}}}`},
		{"generic create", "channels.originateWithId", ari.Params{"channelId": "c1"}, 200, `{"id":"c1"}`,
			`{"error":"","data":{"channel":{"id":"c1"}},"key":{"kind":"channel","id":"c1","node":"n1","dialog":"dlg","app":"demo"}}`},
		{"generic list", "channels.list", nil, 200, `[{"id":"c1"}]`,
			`{"error":"","data":{"list":[{"id":"c1"}]}}`},
		{"generic variable", "bridges.getBridgeVar", ari.Params{"bridgeId": "b", "variable": "v"}, 200, `{"value":"1"}`,
			`{"error":"","data":{"variable":"1"}}`},
		{"generic void", "channels.redirect", ari.Params{"channelId": "c", "endpoint": "e"}, 204, "", `{"error":""}`},
		// Errors keep v5's texts.
		{"404", "ChannelAnswer", ari.Params{"channelId": "c1"}, 404, `{"message":"Channel not found"}`,
			`{"error":"Non-2XX response: 404 Not Found","error_code":"not_found","ari_status":404,"error_detail":"Channel not found"}`},
		{"data 404", "ChannelData", ari.Params{"channelId": "nope"}, 404, `{"message":"Channel not found"}`,
			`{"error":"failed to get data: Error getting data for channel 'nope': Non-2XX response: 404 Not Found","error_code":"not_found","ari_status":404,"error_detail":"Channel not found"}`},
		{"409", "ChannelPlay", ari.Params{"channelId": "c1"}, 409, `{"message":"Channel not in Stasis application"}`,
			`{"error":"Non-2XX response: 409 Conflict","error_code":"conflict","ari_status":409,"error_detail":"Channel not in Stasis application"}`},
		{"500 error body", "ChannelOriginate", nil, 500, `{"error":"Allocation failed"}`,
			`{"error":"Non-2XX response: 500 Internal Server Error","error_code":"internal","ari_status":500,"error_detail":"Allocation failed"}`},
		{"bad body", "ChannelList", nil, 200, `{"message":"x"}`,
			`{"error":"failed to decode response: json: cannot unmarshal object into Go value of type []json.RawMessage","error_code":"internal","ari_status":200}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := marshal(t, build(t, c.kind, c.params, c.status, c.body))
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestShapeDataLossless: the entity is Asterisk's bytes with "key" added,
// nothing re-encoded (field order, unknown fields, big numbers, escapes).
func TestShapeDataLossless(t *testing.T) {
	body := `  {"id":"c1", "zzz_new_field":{"n":12345678901234567890,"f":1.0e2},"name":"a\u00e9\"b" ,"caller":{}}  `
	r := build(t, "ChannelData", ari.Params{"channelId": "c1"}, 200, body)
	ent, ok := r.Entity("channel")
	if !ok {
		t.Fatalf("no entity in %s", marshal(t, r))
	}
	wantPrefix := `{"key":{"kind":"channel","id":"c1","node":"n1","dialog":"dlg","app":"demo"},`
	want := wantPrefix + strings.TrimSpace(body)[1:]
	if string(ent) != want {
		t.Errorf("entity\n got %s\nwant %s", ent, want)
	}
	// An empty object gets just the key.
	r = build(t, "PlaybackData", ari.Params{"playbackId": "p"}, 200, `{ }`)
	ent, _ = r.Entity("playback")
	if string(ent) != `{"key":{"kind":"playback","id":"p","node":"n1","dialog":"dlg","app":"demo"}}` {
		t.Errorf("empty entity: %s", ent)
	}
}

func TestBuildResponseSelect(t *testing.T) {
	k, _ := LookupKind("AsteriskLoggingData")
	list := []byte(`[{"channel":"/var/log/asterisk/messages.log","type":"File","status":"Enabled","configuration":"NOTICE"},{"channel":"","type":"Console"}]`)
	base := testBase
	base.ID = "/var/log/asterisk/messages.log"
	r := BuildResponse(k, base, ari.Params{}, 200, list)
	want := `{"error":"","data":{"log":{"key":{"kind":"logging","id":"/var/log/asterisk/messages.log","node":"n1","dialog":"dlg","app":"demo"},"channel":"/var/log/asterisk/messages.log","type":"File","status":"Enabled","configuration":"NOTICE"}}}`
	if got := marshal(t, r); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	k, _ = LookupKind("AsteriskLoggingGet")
	base.ID = "nope"
	r = BuildResponse(k, base, ari.Params{}, 200, list)
	if err := r.Err(); !errorsIs(err, ErrNotFound) || !strings.Contains(r.Error, "Error getting data for logging 'nope'") {
		t.Errorf("missing log channel: %s", marshal(t, r))
	}
}

func TestBuildResponseBinary(t *testing.T) {
	file := []byte("RIFF\x00\x01\xffWAVE")
	k := KindForOp("recordings.getStoredFile")
	r := BuildResponse(k, testBase, ari.Params{"recordingName": "r"}, 200, file)
	ent, ok := r.Entity("binary")
	if !ok {
		t.Fatal(marshal(t, r))
	}
	var b []byte
	if err := json.Unmarshal(ent, &b); err != nil || string(b) != string(file) {
		t.Errorf("binary %s: %q %v", ent, b, err)
	}
	if base64.StdEncoding.EncodeToString(file) != strings.Trim(string(ent), `"`) {
		t.Errorf("not base64: %s", ent)
	}
}

// TestBuildResponseNeverPanics: whatever Asterisk answers, every kind
// builds a response.
func TestBuildResponseNeverPanics(t *testing.T) {
	bodies := []string{"", "null", "[]", "{}", `[1,"a",null,{}]`, `{"id":5}`, `"str"`, `{`, `[{"id":{"x":1}}]`, `{"value":null}`}
	for _, k := range Kinds() {
		for _, st := range []int{0, 200, 204, 404, 999} {
			for _, b := range bodies {
				r := BuildResponse(k, Key{}, ari.Params{}, st, []byte(b))
				if r == nil {
					t.Fatalf("%s %d %s: nil response", k.Name, st, b)
				}
			}
		}
	}
}

func TestResponseErr(t *testing.T) {
	cases := []struct {
		resp   string
		code   ErrorCode
		status int
		is     error
	}{
		{`{"error":"Non-2XX response: 404 Not Found"}`, CodeNotFound, 404, ErrNotFound},
		{`{"error":"failed to get data: Error getting data for channel 'x': Non-2XX response: 404 Not Found"}`, CodeNotFound, 404, ErrNotFound},
		{`{"error":"Non-2XX response: 409 Conflict"}`, CodeConflict, 409, ErrConflict},
		{`{"error":"Non-2XX response: 422 Unprocessable Entity"}`, CodeUnprocessable, 422, ErrUnprocessable},
		{`{"error":"Non-2XX response: 400 Bad Request"}`, CodeBadRequest, 400, ErrBadRequest},
		{`{"error":"Non-2XX response: 503 Service Unavailable"}`, CodeUnavailable, 503, ErrUnavailable},
		{`{"error":"Non-2XX response: 500 Internal Server Error"}`, CodeInternal, 500, ErrInternal},
		{`{"error":"Not implemented"}`, CodeNotImplemented, 0, ErrNotImplemented},
		{`{"error":"Not found"}`, CodeNotFound, 0, ErrNotFound},
		{`{"error":"failed to decode response: json: cannot unmarshal object"}`, CodeInternal, 0, ErrInternal},
		{`{"error":"context deadline exceeded"}`, CodeTimeout, 0, ErrTimeout},
		// Our code wins over the text.
		{`{"error":"whatever","error_code":"conflict","ari_status":409}`, CodeConflict, 409, ErrConflict},
		{`{"error":"","error_code":"timeout"}`, CodeTimeout, 0, ErrTimeout},
	}
	for _, c := range cases {
		r, err := DecodeResponse([]byte(c.resp))
		if err != nil {
			t.Fatal(err)
		}
		e, ok := r.Err().(*Error)
		if !ok {
			t.Errorf("%s: Err() = %v", c.resp, r.Err())
			continue
		}
		if e.Code != c.code || e.Status != c.status || !errorsIs(e, c.is) || e.Error() == "" {
			t.Errorf("%s: %+v", c.resp, e)
		}
		for _, other := range []error{ErrNotFound, ErrConflict, ErrTimeout, ErrInternal} {
			if other != c.is && errorsIs(e, other) {
				t.Errorf("%s: also %v", c.resp, other)
			}
		}
	}
	for _, ok := range []string{`{"error":""}`, `{"error":"","key":{"id":"x"}}`} {
		r, _ := DecodeResponse([]byte(ok))
		if r.Err() != nil {
			t.Errorf("%s: %v", ok, r.Err())
		}
	}
	var nilResp *Response
	if nilResp.Err() != nil {
		t.Error("nil response error")
	}
}

func TestNewErrorResponse(t *testing.T) {
	r := NewErrorResponse(CodeNotFound, 404, "")
	if r.Error == "" || r.Code != CodeNotFound || r.Status != 404 {
		t.Errorf("%+v", r)
	}
	if !errorsIs(r.Err(), ErrNotFound) {
		t.Error(r.Err())
	}
	r = NewNotImplementedResponse()
	if r.Error != NotImplemented || !errorsIs(r.Err(), ErrNotImplemented) {
		t.Errorf("%+v", r)
	}
	r = ErrorResponseFor(badRequest("nope"))
	if r.Code != CodeBadRequest || r.Error != "bad request: nope" {
		t.Errorf("%+v", r)
	}
	statuses := map[int]ErrorCode{400: CodeBadRequest, 404: CodeNotFound, 409: CodeConflict, 422: CodeUnprocessable,
		502: CodeUnavailable, 503: CodeUnavailable, 504: CodeTimeout, 408: CodeTimeout, 500: CodeInternal, 403: CodeInternal}
	for st, code := range statuses {
		if got := CodeForStatus(st); got != code {
			t.Errorf("CodeForStatus(%d) = %s, want %s", st, got, code)
		}
	}
}

func TestEntity(t *testing.T) {
	r := &Response{Data: json.RawMessage(`{"channel":{"id":"x"},"nothing":null}`)}
	if e, ok := r.Entity("channel"); !ok || string(e) != `{"id":"x"}` {
		t.Errorf("%s %v", e, ok)
	}
	for _, f := range []string{"nothing", "bridge"} {
		if _, ok := r.Entity(f); ok {
			t.Errorf("entity %s", f)
		}
	}
	if _, ok := (&Response{Data: json.RawMessage(`[1]`)}).Entity("x"); ok {
		t.Error("entity of a list")
	}
	if v, ok := (&Response{Data: json.RawMessage(`{"variable":"7"}`)}).Variable(); !ok || v != "7" {
		t.Errorf("variable %q", v)
	}
}

// TestResponseNode: the answering server's node survives a round trip, is
// left out when empty (v5 shape), and a v5 reply decodes without it.
func TestResponseNode(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp *Response
		want string // marshaled
	}{
		{"success", &Response{Key: &Key{Kind: "channel", ID: "c1"}, Node: "02:fc:00:00:00:01"},
			`{"error":"","key":{"kind":"channel","id":"c1"},"node":"02:fc:00:00:00:01"}`},
		{"error", &Response{Error: "x", Code: CodeNotFound, Status: 404, Node: "n2"},
			`{"error":"x","error_code":"not_found","ari_status":404,"node":"n2"}`},
		{"v5 shape without node", &Response{}, `{"error":""}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := marshal(t, tc.resp)
			if got != tc.want {
				t.Fatalf("marshaled %s, want %s", got, tc.want)
			}
			back, err := DecodeResponse([]byte(got))
			if err != nil {
				t.Fatal(err)
			}
			if back.Node != tc.resp.Node || back.Error != tc.resp.Error {
				t.Errorf("round trip %+v, want %+v", back, tc.resp)
			}
		})
	}
}
