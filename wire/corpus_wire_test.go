package wire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
)

const corpusNode = "02:fc:00:00:00:01"

// paramExpectations are the ARI parameters some corpus requests must give:
// the first request of kind whose params[when] is val must give want.
var paramExpectations = []struct {
	kind, when string
	val        any
	want       ari.Params
}{
	{"ChannelOriginate", "channelId", "v5-1", ari.Params{"endpoint": "Local/echo@default", "app": "demo", "appArgs": "x,y", "channelId": "v5-1"}},
	// v5's originate timeout is already in seconds.
	{"ChannelOriginate", "channelId", "w-1", ari.Params{"endpoint": "Local/echo@default", "timeout": 10, "callerId": "Bob <200>", "app": "demo", "channelId": "w-1", "variables": map[string]any{"X": "1"}}},
	// The key of an originate is the originator, as in v5 (which then got 400).
	{"ChannelOriginate", "originator", "v5-dlg-1", ari.Params{"endpoint": "Local/echo@default", "app": "demo", "originator": "v5-dlg-1"}},
	{"ChannelData", "channelId", "v5-1", ari.Params{"channelId": "v5-1"}},
	{"ChannelVariableSet", "channelId", "v5-1", ari.Params{"channelId": "v5-1", "variable": "FOO", "value": "bar"}},
	{"ChannelVariableGet", "channelId", "v5-1", ari.Params{"channelId": "v5-1", "variable": "FOO"}},
	{"ChannelList", "", nil, ari.Params{}},
	{"ChannelPlay", "channelId", "v5-1", ari.Params{"channelId": "v5-1", "playbackId": "v5pb-1", "media": "sound:demo-congrats"}},
	{"BridgeCreate", "bridgeId", "v5br-1", ari.Params{"bridgeId": "v5br-1", "type": "mixing", "name": "v5conf"}},
	{"ChannelSendDTMF", "channelId", "w-1", ari.Params{"channelId": "w-1", "dtmf": "1#", "between": 50, "duration": 80}},
	{"ChannelStagePlay", "channelId", "w-1", ari.Params{"channelId": "w-1", "playbackId": "w-pb", "media": "sound:beep"}},
	{"ChannelRecord", "channelId", "w-1", ari.Params{"channelId": "w-1", "name": "w-rec", "format": "wav", "maxDurationSeconds": 5, "ifExists": "overwrite"}},
	{"RecordingStoredCopy", "recordingName", "w-rec", ari.Params{"recordingName": "w-rec", "destinationRecordingName": "w-rec-copy"}},
	{"ChannelSnoop", "channelId", "w-1", ari.Params{"channelId": "w-1", "snoopId": "w-snoop", "app": "demo", "spy": "in"}},
	{"ChannelExternalMedia", "channelId", "w-em", ari.Params{"channelId": "w-em", "app": "demo", "external_host": "127.0.0.1:40002", "format": "ulaw"}},
	{"ChannelCreate", "channelId", "w-create", ari.Params{"endpoint": "Local/echo@default", "app": "demo", "channelId": "w-create"}},
	{"ChannelDial", "channelId", "w-create", ari.Params{"channelId": "w-create", "timeout": 10}},
	{"ChannelContinue", "channelId", "w-create", ari.Params{"channelId": "w-create", "context": "default", "extension": "echo", "priority": 1}},
	{"BridgeRecord", "bridgeId", "w-br", ari.Params{"bridgeId": "w-br", "name": "w-brec", "format": "wav"}},
	{"AsteriskLoggingCreate", "logChannelName", "wlog", ari.Params{"logChannelName": "wlog", "configuration": "notice"}},
	{"AsteriskConfigData", "configClass", "res_pjsip", ari.Params{"configClass": "res_pjsip", "objectType": "endpoint", "id": "alice"}},
	{"DeviceStateData", "deviceName", "Stasis:wdev", ari.Params{"deviceName": "Stasis:wdev"}},
	{"MailboxData", "mailboxName", "wmb@default", ari.Params{"mailboxName": "wmb@default"}},
	{"SoundData", "soundId", "beep", ari.Params{"soundId": "beep"}},
	{"ApplicationData", "applicationName", "demo", ari.Params{"applicationName": "demo"}},
	{"AsteriskInfo", "", nil, ari.Params{}},
}

// fullOnlyExpectations hold for requests only the full corpus has.
var fullOnlyExpectations = []struct {
	kind, when string
	val        any
	want       ari.Params
}{
	{"MailboxUpdate", "mailboxName", "wmb@default", ari.Params{"mailboxName": "wmb@default", "newMessages": 2, "oldMessages": 1}},
	{"SoundList", "", nil, ari.Params{"lang": "en"}},
	{"ApplicationSubscribe", "applicationName", "demo", ari.Params{"applicationName": "demo", "eventSource": "deviceState:Stasis:wdev"}},
	{"DeviceStateUpdate", "deviceName", "Stasis:wdev", ari.Params{"deviceName": "Stasis:wdev", "deviceState": "INUSE"}},
	{"EndpointListByTech", "", nil, ari.Params{"tech": "Local"}},
	{"AsteriskVariableSet", "variable", "GV", ari.Params{"variable": "GV", "value": "7"}},
	{"BridgeAddChannel", "bridgeId", "w-br", ari.Params{"bridgeId": "w-br", "channel": "w-1"}},
	{"BridgeVideoSource", "bridgeId", "w-br", ari.Params{"bridgeId": "w-br", "channelId": "w-1"}},
	{"BridgeMOH", "bridgeId", "w-br", ari.Params{"bridgeId": "w-br", "mohClass": "default"}},
	{"ChannelBusy", "channelId", "nope", ari.Params{"channelId": "nope", "reason": "busy"}},
	{"ChannelMOH", "channelId", "w-1", ari.Params{"channelId": "w-1", "mohClass": "default"}},
	{"PlaybackControl", "playbackId", "w-bpb", ari.Params{"playbackId": "w-bpb", "operation": "pause"}},
}

// TestCorpusRequests: every request of the corpus decodes, names a kind of
// the table with the class of its subject, gives the ARI parameters it
// means, and NewRequest gives back the same envelope.
func TestCorpusRequests(t *testing.T) {
	for name, path := range corpora(t) {
		t.Run(name, func(t *testing.T) {
			xs := exchanges(loadCorpus(t, path))
			if len(xs) == 0 {
				t.Fatal("no requests in corpus")
			}
			exps := paramExpectations
			if name == "full" {
				exps = append(exps[:len(exps):len(exps)], fullOnlyExpectations...)
			}
			matched := make([]bool, len(exps))
			seenKinds := map[string]bool{}
			for _, x := range xs {
				req, err := DecodeRequest(x.req)
				if err != nil {
					t.Errorf("line %d: DecodeRequest: %v", x.line, err)
					continue
				}
				seenKinds[req.Kind] = true
				k, ok := LookupKind(req.Kind)
				if !ok {
					t.Errorf("line %d: kind %q not in the table", x.line, req.Kind)
					continue
				}
				if k.Generic {
					t.Errorf("line %d: kind %q is generic", x.line, req.Kind)
				}
				if !strings.HasPrefix(x.subject+".", NewSubjects("").Request(k.Class, "", "")+".") {
					t.Errorf("line %d: %s: class %q, corpus sent it on %q", x.line, k.Name, k.Class, x.subject)
				}
				params, err := k.DecodeParams(req)
				if err != nil {
					t.Errorf("line %d: %s: DecodeParams: %v", x.line, k.Name, err)
					continue
				}
				for i, e := range exps {
					if matched[i] || e.kind != k.Name || (e.when != "" && params[e.when] != e.val) {
						continue
					}
					matched[i] = true
					if !reflect.DeepEqual(params, e.want) {
						t.Errorf("line %d: %s: params\n got %#v\nwant %#v", x.line, k.Name, params, e.want)
					}
				}

				// The client's encoding of the same call is the corpus request.
				back, err := NewRequest(k, req.Key, params)
				if err != nil {
					t.Errorf("line %d: %s: NewRequest: %v", x.line, k.Name, err)
					continue
				}
				if back.Kind != req.Kind {
					t.Errorf("line %d: NewRequest kind %q", x.line, back.Kind)
				}
				wantKey := Key{}
				if req.Key != nil {
					wantKey = *req.Key
				}
				if *back.Key != wantKey {
					t.Errorf("line %d: %s: NewRequest key %+v, corpus %+v", x.line, k.Name, *back.Key, wantKey)
				}
				if len(back.Params) != 0 {
					t.Errorf("line %d: %s: NewRequest left params %v (v5 servers would ignore them)", x.line, k.Name, back.Params)
				}
				for f := range req.Payload {
					if _, ok := back.Payload[f]; !ok {
						t.Errorf("line %d: %s: NewRequest has no payload field %q", x.line, k.Name, f)
					}
				}
				for f, raw := range back.Payload {
					orig, ok := req.Payload[f]
					if !ok {
						t.Errorf("line %d: %s: NewRequest added payload field %q", x.line, k.Name, f)
						continue
					}
					got, want := jsonPaths(t, raw, true), jsonPaths(t, orig, true)
					if !reflect.DeepEqual(got, want) {
						t.Errorf("line %d: %s: payload %s paths\n got %v\nwant %v", x.line, k.Name, f, got, want)
					}
				}
				// And it survives the wire.
				b, err := json.Marshal(back)
				if err != nil {
					t.Fatalf("line %d: marshal: %v", x.line, err)
				}
				again, err := DecodeRequest(b)
				if err != nil {
					t.Fatalf("line %d: decode own request %s: %v", x.line, b, err)
				}
				p2, err := k.DecodeParams(again)
				if err != nil || !reflect.DeepEqual(p2, params) {
					t.Errorf("line %d: %s: re-decoded params %v (%v), want %v", x.line, k.Name, p2, err, params)
				}
			}
			for i, e := range exps {
				if !matched[i] {
					t.Errorf("expectation %s %s=%v matched no request", e.kind, e.when, e.val)
				}
			}
			t.Logf("%d requests, %d kinds", len(xs), len(seenKinds))
		})
	}
}

// ariAnswer rebuilds what Asterisk answered to a corpus request from v5's
// response: the status (from v5's error text) and the body.
func ariAnswer(t *testing.T, k *Kind, resp *Response) (status int, body []byte, ok bool) {
	t.Helper()
	if resp.Error != "" {
		st := statusFromText(resp.Error)
		if st == 0 {
			return 0, nil, false // v5 failed on its own (decoding): nothing to rebuild
		}
		return st, []byte(`{"message":"whatever Asterisk said"}`), true
	}
	if k.Stage || k.Op == nil {
		return 0, nil, true
	}
	res := k.Result
	switch res.Shape {
	case ShapeNone:
		return 204, nil, true
	case ShapeVariable:
		v, _ := resp.Variable()
		b, _ := json.Marshal(map[string]string{"value": v})
		return 200, b, true
	case ShapeKey:
		if res.IDField == "" {
			return 204, nil, true
		}
		b, _ := json.Marshal(idObject(res.IDField, resp.Key.ID))
		return 200, b, true
	case ShapeKeys:
		var list []any
		for i, key := range resp.Keys {
			id := key.ID
			if id == "" && res.Kind == "sound" {
				id = "sound-" + string(rune('a'+i%26)) // v5 lost sound ids
			}
			list = append(list, idObject(res.IDField, id))
		}
		if list == nil {
			list = []any{}
		}
		b, _ := json.Marshal(list)
		return 200, b, true
	case ShapeData:
		ent, found := resp.Entity(res.DataField)
		if !found {
			t.Fatalf("%s: corpus response has no data.%s", k.Name, res.DataField)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(ent, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "key")
		b, _ := json.Marshal(m)
		return 200, b, true
	}
	return 0, nil, false
}

func idObject(idField, id string) map[string]string {
	fields := strings.Split(idField, "/")
	if len(fields) == 1 {
		return map[string]string{idField: id}
	}
	parts := strings.SplitN(id, "/", len(fields))
	m := map[string]string{}
	for i, f := range fields {
		if i < len(parts) {
			m[f] = parts[i]
		}
	}
	return m
}

// TestCorpusResponses: for what Asterisk answered to each corpus request,
// BuildResponse gives v5's response: the same keys, data and error texts
// (with our code beside them).
func TestCorpusResponses(t *testing.T) {
	for name, path := range corpora(t) {
		t.Run(name, func(t *testing.T) {
			n := 0
			for _, x := range exchanges(loadCorpus(t, path)) {
				if x.resp == nil {
					continue
				}
				req, err := DecodeRequest(x.req)
				if err != nil {
					t.Fatal(err)
				}
				k, _ := LookupKind(req.Kind)
				var v5 Response
				if err := json.Unmarshal(x.resp, &v5); err != nil {
					t.Fatalf("line %d: %v", x.line, err)
				}
				params, err := k.DecodeParams(req)
				if err != nil {
					t.Fatal(err)
				}
				status, body, ok := ariAnswer(t, k, &v5)
				if !ok {
					continue // a v5 bug: checked by TestV5Fixes
				}
				base := Key{Node: corpusNode, App: "demo"}
				if req.Key != nil {
					base.ID, base.Dialog = req.Key.ID, req.Key.Dialog
				}
				got := BuildResponse(k, base, params, status, body)
				n++
				gotJSON, _ := json.Marshal(got)
				if miss := missing(jsonPaths(t, x.resp, false), jsonPaths(t, gotJSON, false)); len(miss) > 0 {
					t.Errorf("line %d: %s: response lacks %v\n got %s\nv5 %s", x.line, k.Name, miss, gotJSON, x.resp)
				}
				if got.Error != v5.Error {
					t.Errorf("line %d: %s: error %q, v5 %q", x.line, k.Name, got.Error, v5.Error)
				}
				if v5.Error != "" {
					if got.Code != CodeForStatus(status) || got.Status != status {
						t.Errorf("line %d: %s: code %q status %d", x.line, k.Name, got.Code, got.Status)
					}
					// A v5 client's view (no code) and ours agree.
					v5err, ourErr := v5.Err().(*Error), got.Err().(*Error)
					if v5err.Code != ourErr.Code || v5err.Status != ourErr.Status {
						t.Errorf("line %d: inferred %+v, sent %+v", x.line, v5err, ourErr)
					}
					continue
				}
				if !reflect.DeepEqual(got.Key, v5.Key) {
					t.Errorf("line %d: %s: key %+v, v5 %+v", x.line, k.Name, got.Key, v5.Key)
				}
				if k.Result.Kind != "sound" && (len(got.Keys) != 0 || len(v5.Keys) != 0) && !reflect.DeepEqual(got.Keys, v5.Keys) {
					t.Errorf("line %d: %s: keys differ\n got %s\nv5 %s", x.line, k.Name, gotJSON, x.resp)
				}
				if len(v5.Data) > 0 && !jsonEqual(t, got.Data, v5.Data) {
					t.Errorf("line %d: %s: data\n got %s\nv5 %s", x.line, k.Name, got.Data, v5.Data)
				}
			}
			if n == 0 {
				t.Fatal("no response checked")
			}
		})
	}
}

// TestCorpusOther: pings and announcements of the corpus.
func TestCorpusOther(t *testing.T) {
	s := NewSubjects("")
	msgs := loadCorpus(t, "testdata/v5-sample.jsonl")
	var pings, announces int
	for _, m := range msgs {
		switch m.Subject {
		case s.Ping():
			pings++
			req, err := DecodeRequest(m.Payload)
			if err != nil || req.Kind != "" || req.Key != nil {
				t.Errorf("ping %s: %+v %v", m.Payload, req, err)
			}
			// Our ping is v5's.
			b, _ := json.Marshal(&Request{})
			if !jsonEqual(t, b, m.Payload) {
				t.Errorf("our ping %s, v5 %s", b, m.Payload)
			}
		case s.Announce():
			announces++
			var a Announcement
			if err := json.Unmarshal(m.Payload, &a); err != nil || a.Node != corpusNode || a.Application != "demo" {
				t.Errorf("announce %s: %+v %v", m.Payload, a, err)
			}
			b, _ := json.Marshal(a)
			if !jsonEqual(t, b, m.Payload) {
				t.Errorf("our announcement %s, v5 %s", b, m.Payload)
			}
		default:
			if strings.HasPrefix(m.Subject, "ari.event.") && s.Event("demo", corpusNode) != m.Subject {
				t.Errorf("event subject %s", m.Subject)
			}
		}
	}
	if pings == 0 || announces == 0 {
		t.Errorf("sample has %d pings, %d announcements", pings, announces)
	}
}
