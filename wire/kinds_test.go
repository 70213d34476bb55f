package wire

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
)

// v5KindNames is the list of kinds a v5 server dispatches
// (shared/wire/v5-protocol.md).
var v5KindNames = func() []string {
	groups := map[string]string{
		"Application":     "Data,Get,List,Subscribe,Unsubscribe",
		"Asterisk":        "ConfigData,ConfigDelete,ConfigUpdate,LoggingCreate,LoggingData,LoggingDelete,LoggingGet,LoggingList,LoggingRotate,ModuleData,ModuleGet,ModuleLoad,ModuleList,ModuleReload,ModuleUnload,Info,VariableGet,VariableSet",
		"Bridge":          "AddChannel,Create,StageCreate,Data,Delete,Get,List,MOH,StopMOH,Play,StagePlay,Record,StageRecord,RemoveChannel,Subscribe,Unsubscribe,VideoSource,VideoSourceDelete",
		"Channel":         "Answer,Busy,Congestion,Create,Continue,Data,Dial,Get,Hangup,Hold,List,MOH,Mute,Originate,StageOriginate,Play,StagePlay,Record,StageRecord,Ring,SendDTMF,Silence,Snoop,StageSnoop,ExternalMedia,StageExternalMedia,StopHold,StopMOH,StopRing,StopSilence,Subscribe,Unmute,VariableGet,VariableSet,UserEvent",
		"DeviceState":     "Data,Delete,Get,List,Update",
		"Endpoint":        "Data,Get,List,ListByTech",
		"Mailbox":         "Data,Delete,Get,List,Update",
		"Playback":        "Control,Data,Get,Stop,Subscribe",
		"RecordingStored": "Copy,Data,Delete,Get,List",
		"RecordingLive":   "Data,Get,Mute,Pause,Resume,Scrap,Subscribe,Stop,Unmute",
		"Sound":           "Data,List",
	}
	var names []string
	for g, list := range groups {
		for n := range strings.SplitSeq(list, ",") {
			names = append(names, g+n)
		}
	}
	slices.Sort(names)
	return names
}()

func TestV5TableComplete(t *testing.T) {
	var got []string
	for _, k := range Kinds() {
		if !k.Generic {
			got = append(got, k.Name)
		}
	}
	slices.Sort(got)
	if !reflect.DeepEqual(got, v5KindNames) {
		t.Errorf("v5 kinds differ from the protocol's list:\n got %v\nwant %v", got, v5KindNames)
	}
	if len(got) != len(v5Kinds) {
		t.Errorf("duplicate kinds in the table")
	}
}

// TestTableAgainstOperations checks every row against the ARI operation
// table: the operation and every parameter it names exist.
func TestTableAgainstOperations(t *testing.T) {
	names := map[string]bool{}
	for _, k := range Kinds() {
		if names[k.Name] {
			t.Errorf("%s: duplicate name", k.Name)
		}
		names[k.Name] = true
		if !slices.Contains(RequestClasses, k.Class) {
			t.Errorf("%s: class %q", k.Name, k.Class)
		}
		if k.Op == nil && k.Unbind && k.Generic { // DialogUnbind: our kind, no operation
			if k.KeyParam != "" || len(k.Bindings) > 0 || k.Result.Shape != ShapeNone {
				t.Errorf("%s: an unbind kind answers nothing", k.Name)
			}
			continue
		}
		if k.Op == nil {
			if k.Generic || k.KeyParam != "" || len(k.Bindings) > 0 || k.Result.Shape != ShapeNone || !strings.HasSuffix(k.Name, "subscribe") && !strings.HasSuffix(k.Name, "Subscribe") {
				t.Errorf("%s: a kind without operation must be a (un)subscribe answering nothing", k.Name)
			}
			continue
		}
		op := k.Operation()
		if op == nil {
			t.Errorf("%s: no ARI operation", k.Name)
			continue
		}
		has := func(what, p string) {
			if op.Param(p) == nil {
				t.Errorf("%s: %s %q is not a parameter of %s", k.Name, what, p, op.ID)
			}
		}
		if k.KeyParam != "" {
			for p := range strings.SplitSeq(k.KeyParam, "/") {
				has("KeyParam", p)
			}
			if k.KeyKind == "" {
				t.Errorf("%s: KeyParam without KeyKind", k.Name)
			}
		}
		if k.AppParam != "" {
			has("AppParam", k.AppParam)
		}
		for p := range k.Fixed {
			has("Fixed", p)
		}
		if (k.Field == "") != (len(k.Bindings) == 0) {
			t.Errorf("%s: Field %q with %d bindings", k.Name, k.Field, len(k.Bindings))
		}
		paths, params := map[string]bool{}, map[string]bool{}
		for _, b := range k.Bindings {
			has("binding", b.Param)
			if paths[b.Path] || params[b.Param] {
				t.Errorf("%s: binding %s -> %s repeats a path or parameter", k.Name, b.Path, b.Param)
			}
			paths[b.Path], params[b.Param] = true, true
			if b.Conv != ConvNone && !isIntType(op.Param(b.Param)) {
				t.Errorf("%s: converted parameter %s is not an integer", k.Name, b.Param)
			}
		}
		if k.Result.IDParam != "" {
			has("Result.IDParam", k.Result.IDParam)
		}
		for _, w := range k.Result.WrapParams {
			has("Result.WrapParams", w.Param)
		}
		if k.Result.Select && k.Result.IDField == "" {
			t.Errorf("%s: Select without IDField", k.Name)
		}
		switch k.Result.Shape {
		case ShapeKey, ShapeKeys:
			if k.Result.Kind == "" {
				t.Errorf("%s: key result without kind", k.Name)
			}
		case ShapeData:
			if k.Result.DataField == "" {
				t.Errorf("%s: data result without field", k.Name)
			}
		}
		if k.Stage {
			base, ok := LookupKind(strings.Replace(k.Name, "Stage", "", 1))
			if !ok || base.Op != k.Op || base.Field != k.Field || !reflect.DeepEqual(base.Bindings, k.Bindings) || !reflect.DeepEqual(base.Result, k.Result) {
				t.Errorf("%s: no matching non-stage kind", k.Name)
			}
			if k.Result.Shape != ShapeKey || k.Result.IDParam == "" {
				t.Errorf("%s: a stage kind answers the key of the id it is given", k.Name)
			}
		}
		if k.Class == ClassCreate && k.Result.Shape == ShapeKey && k.Result.IDParam == "" {
			t.Errorf("%s: a create must say which parameter carries the new id", k.Name)
		}
	}
}

func TestEveryOperationHasKind(t *testing.T) {
	if len(ari.Operations) == 0 {
		t.Fatal("empty ARI operation table")
	}
	for _, op := range ari.Operations {
		k := KindForOp(op.ID)
		if op.WebSocket {
			if k != nil {
				t.Errorf("%s: the events WebSocket has kind %s", op.ID, k.Name)
			}
			continue
		}
		if k == nil {
			t.Errorf("%s: no kind", op.ID)
			continue
		}
		if k.Op == nil || k.Op.ID != op.ID || k.Stage {
			t.Errorf("%s: KindForOp gives %s (op %s, stage %v)", op.ID, k.Name, k.Op.ID, k.Stage)
		}
		g, ok := LookupKind(op.ID)
		if !ok || !g.Generic || g.Op != &ari.Operations[op.Ident] {
			t.Errorf("%s: no generic kind", op.ID)
		}
	}
}

func TestKindForOp(t *testing.T) {
	cases := []struct {
		op, kind string
		class    Class
	}{
		{"channels.get", "ChannelData", ClassData},
		{"channels.hangup", "ChannelHangup", ClassCommand},
		{"channels.originate", "ChannelOriginate", ClassCreate},
		{"channels.play", "ChannelPlay", ClassCreate},
		{"asterisk.listLogChannels", "AsteriskLoggingList", ClassGet},
		{"applications.get", "ApplicationData", ClassData},
		{"events.userEvent", "ChannelUserEvent", ClassCommand},
		{"recordings.copyStored", "RecordingStoredCopy", ClassCommand},
		{"deviceStates.update", "DeviceStateUpdate", ClassCommand},
		{"channels.continueInDialplan", "ChannelContinue", ClassCommand},
		{"bridges.addChannel", "BridgeAddChannel", ClassCommand},
		// Operations v5 has no kind for.
		{"channels.rtpstatistics", "channels.rtpstatistics", ClassData},
		{"channels.redirect", "channels.redirect", ClassCommand},
		{"channels.move", "channels.move", ClassCommand},
		{"channels.transfer_progress", "channels.transfer_progress", ClassCommand},
		{"applications.filter", "applications.filter", ClassCommand},
		{"endpoints.sendMessage", "endpoints.sendMessage", ClassCommand},
		{"asterisk.ping", "asterisk.ping", ClassData},
		{"channels.originateWithId", "channels.originateWithId", ClassCreate},
		{"bridges.createWithId", "bridges.createWithId", ClassCreate},
		{"channels.snoopChannelWithId", "channels.snoopChannelWithId", ClassCreate},
		{"recordings.getStoredFile", "recordings.getStoredFile", ClassData},
		{"bridges.getBridgeVar", "bridges.getBridgeVar", ClassData},
		{"events.claimChannel", "events.claimChannel", ClassCommand},
	}
	for _, c := range cases {
		k := KindForOp(c.op)
		if k == nil || k.Name != c.kind || k.Class != c.class {
			t.Errorf("KindForOp(%s) = %+v, want %s on %s", c.op, k, c.kind, c.class)
		}
	}
	if KindForOp("no.such") != nil {
		t.Error("KindForOp of an unknown operation")
	}
	if _, ok := LookupKind("NoSuchKind"); ok {
		t.Error("LookupKind of an unknown kind")
	}
}

func TestGenericKinds(t *testing.T) {
	cases := []struct {
		name, keyKind, keyParam, field string
		shape                          Shape
		resultKind                     string
	}{
		{"channels.rtpstatistics", "channel", "channelId", "rtpstat", ShapeData, ""},
		{"channels.originateWithId", "channel", "channelId", "channel", ShapeData, "channel"},
		{"channels.snoopChannelWithId", "channel", "channelId", "channel", ShapeData, "channel"},
		{"channels.list", "", "", "list", ShapeData, ""},
		{"asterisk.getInfo", "", "", "asterisk", ShapeData, ""},
		{"asterisk.ping", "", "", "asterisk_ping", ShapeData, ""},
		{"asterisk.getObject", "config", "configClass/objectType/id", "list", ShapeData, ""},
		{"endpoints.sendMessageToEndpoint", "endpoint", "tech/resource", "", ShapeNone, ""},
		{"recordings.getLive", "liverecording", "recordingName", "live_recording", ShapeData, "liverecording"},
		{"recordings.getStored", "storedrecording", "recordingName", "stored_recording", ShapeData, "storedrecording"},
		{"bridges.getBridgeVar", "bridge", "bridgeId", "", ShapeVariable, ""},
		{"channels.getChannelVars", "channel", "channelId", "variables", ShapeData, ""},
		{"recordings.getStoredFile", "storedrecording", "recordingName", "binary", ShapeData, ""},
		{"events.userEvent", "", "", "", ShapeNone, ""},
	}
	for _, c := range cases {
		k, ok := LookupKind(c.name)
		if !ok {
			t.Errorf("no generic kind %s", c.name)
			continue
		}
		if !k.Generic || k.KeyKind != c.keyKind || k.KeyParam != c.keyParam || k.Result.DataField != c.field ||
			k.Result.Shape != c.shape || k.Result.Kind != c.resultKind {
			t.Errorf("%s: %+v", c.name, k)
		}
	}
	if k, _ := LookupKind("recordings.copyStored"); k.Class != ClassCommand {
		t.Errorf("generic copyStored goes on %s: it must reach the server that has the recording", k.Class)
	}
	if got := KindForOp("channels.snoopChannelWithId").Result.IDParam; got != "snoopId" {
		t.Errorf("snoopChannelWithId IDParam %q", got)
	}
}

// sampleValue is a non-zero value of an ARI parameter's type.
func sampleValue(prm *ari.Param) any {
	switch {
	case prm.Name == "fields":
		return []any{map[string]any{"attribute": "directmedia", "value": "false"}}
	case prm.Name == "source":
		return "channel:chan-src"
	case prm.Name == "filter":
		return map[string]any{"allowed": []any{map[string]any{"type": "StasisStart"}}}
	case isIntType(prm):
		return 7
	case prm.Type == "double":
		return 1.5
	case prm.Type == "boolean":
		return true
	case prm.Type == "containers" || prm.Type == "object":
		return map[string]any{"k": "v"}
	case len(prm.Allowed) > 0:
		return prm.Allowed[0]
	}
	return "v-" + prm.Name
}

// TestRoundTripEveryKind: for every kind and a value for every parameter
// of its operation, DecodeParams(NewRequest(params)) gives params back,
// through the wire encoding.
func TestRoundTripEveryKind(t *testing.T) {
	for _, k := range Kinds() {
		op := k.Operation()
		if op == nil {
			req, err := NewRequest(k, &Key{Kind: k.KeyKind, ID: "x", Dialog: "d"}, nil)
			if err != nil || req.Kind != k.Name || req.Key.Dialog != "d" {
				t.Errorf("%s: %+v %v", k.Name, req, err)
			}
			continue
		}
		params := ari.Params{}
		for i := range op.Params {
			params[op.Params[i].Name] = sampleValue(&op.Params[i])
		}
		for n, v := range k.Fixed {
			params[n] = v
		}
		for _, key := range []*Key{nil, {Node: "node-1", App: "app-1", Dialog: "dlg"}} {
			t.Run(fmt.Sprintf("%s/key=%v", k.Name, key != nil), func(t *testing.T) {
				req, err := NewRequest(k, key, params)
				if err != nil {
					t.Fatal(err)
				}
				if req.Key == nil || req.Kind != k.Name {
					t.Fatalf("NewRequest: %+v", req)
				}
				if k.Field != "" && req.Payload[k.Field] == nil {
					t.Fatalf("no payload field %s", k.Field)
				}
				if k.KeyParam != "" && !k.KeyRef && req.Key.ID == "" {
					t.Errorf("key id not taken from %s: %+v", k.KeyParam, req.Key)
				}
				if key != nil && (req.Key.Node != key.Node || req.Key.Dialog != key.Dialog) {
					t.Errorf("key %+v lost node or dialog", req.Key)
				}
				b, err := json.Marshal(req)
				if err != nil {
					t.Fatal(err)
				}
				dec, err := DecodeRequest(b)
				if err != nil {
					t.Fatalf("DecodeRequest(%s): %v", b, err)
				}
				got, err := k.DecodeParams(dec)
				if err != nil {
					t.Fatalf("DecodeParams(%s): %v", b, err)
				}
				if !reflect.DeepEqual(got, params) {
					t.Errorf("round trip through %s\n got %#v\nwant %#v", b, got, params)
				}
				if _, _, _, err := op.Encode(got); err != nil {
					t.Errorf("ARI cannot encode the params: %v", err)
				}
			})
		}
	}
}

// TestNewRequestSplits: what travels where.
func TestNewRequestSplits(t *testing.T) {
	k, _ := LookupKind("ChannelDial")
	req, err := NewRequest(k, &Key{Node: "n1", App: "demo"}, ari.Params{"channelId": "c1", "timeout": 10})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(req)
	want := `{"kind":"ChannelDial","key":{"kind":"channel","id":"c1","node":"n1","app":"demo"},"channel_dial":{"timeout":10000000000}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}

	// An explicit zero of an optional parameter cannot travel in the v5
	// payload (it would read as unset): it travels in params.
	req, _ = NewRequest(k, nil, ari.Params{"channelId": "c1", "timeout": 0})
	if req.Params["timeout"] != 0 {
		t.Errorf("zero timeout: %+v", req)
	}
	p, _ := k.DecodeParams(req)
	if p["timeout"] != 0 {
		t.Errorf("zero timeout lost: %v", p)
	}

	// Parameters v5 has no field for travel in params; our server applies them.
	k, _ = LookupKind("BridgeAddChannel")
	req, _ = NewRequest(k, nil, ari.Params{"bridgeId": "b", "channel": "c", "inhibitConnectedLineUpdates": true})
	if req.Params["inhibitConnectedLineUpdates"] != true || req.Key.ID != "b" {
		t.Errorf("%+v", req)
	}

	// ChannelBusy's reason is implied.
	k, _ = LookupKind("ChannelBusy")
	req, _ = NewRequest(k, nil, ari.Params{"channelId": "c", "reason": "busy"})
	if len(req.Params) != 0 || req.Payload != nil {
		t.Errorf("%+v", req)
	}
	req, _ = NewRequest(k, nil, ari.Params{"channelId": "c", "reason": "normal"})
	if p, _ := k.DecodeParams(req); p["reason"] != "normal" {
		t.Errorf("an overriding reason is lost: %v", p)
	}

	// Unknown parameters are refused.
	if _, err := NewRequest(k, nil, ari.Params{"bogus": 1}); !errorsIs(err, ErrBadRequest) {
		t.Errorf("unknown param: %v", err)
	}

	// The user event: key names the source channel, key.app the application.
	k = KindForOp("events.userEvent")
	req, _ = NewRequest(k, &Key{Node: "n"}, ari.Params{"eventName": "ev", "application": "demo", "source": "channel:c9", "variables": map[string]any{"a": "b"}})
	b, _ = json.Marshal(req)
	want = `{"kind":"ChannelUserEvent","key":{"kind":"channel","id":"c9","node":"n","app":"demo"},"ChannelUserevent":{"eventname":"ev","userevent":{"a":"b"}}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	// A source that is not a channel travels in params.
	req, _ = NewRequest(k, nil, ari.Params{"eventName": "ev", "application": "demo", "source": "bridge:b1"})
	if req.Params["source"] != "bridge:b1" || req.Key.ID != "" {
		t.Errorf("%+v", req)
	}
	if p, _ := k.DecodeParams(req); p["source"] != "bridge:b1" || p["application"] != "demo" {
		t.Errorf("%v", p)
	}

	// Composite keys.
	k, _ = LookupKind("AsteriskConfigUpdate")
	req, _ = NewRequest(k, nil, ari.Params{"configClass": "res_pjsip", "objectType": "endpoint", "id": "alice"})
	if req.Key.ID != "res_pjsip/endpoint/alice" || req.Key.Kind != "config" {
		t.Errorf("%+v", req.Key)
	}
	if _, err := k.DecodeParams(&Request{Key: &Key{ID: "res_pjsip/endpoint"}}); !errorsIs(err, ErrBadRequest) {
		t.Errorf("short composite key: %v", err)
	}
	k, _ = LookupKind("EndpointData")
	p, _ = k.DecodeParams(&Request{Key: &Key{ID: "PJSIP/alice/x"}})
	if p["tech"] != "PJSIP" || p["resource"] != "alice/x" {
		t.Errorf("%v", p)
	}
	if _, err := k.DecodeParams(&Request{}); err == nil || !strings.Contains(err.Error(), "key's id") {
		t.Errorf("missing key: %v", err)
	}
}

func TestDecodeParamsErrors(t *testing.T) {
	cases := []struct {
		kind, req, want string
	}{
		{"ChannelDial", `{"kind":"ChannelDial","key":{"id":"c"},"channel_dial":{"timeout":"ten"}}`, "channel_dial.timeout"},
		{"ChannelSendDTMF", `{"kind":"ChannelSendDTMF","key":{"id":"c"},"channel_send_dtmf":{"options":{"Before":1e300}}}`, "out of range"},
		{"ChannelAnswer", `{"kind":"ChannelAnswer","key":{"id":"c"},"params":{"nope":1}}`, `no parameter "nope"`},
		{"ChannelAnswer", `{"kind":"ChannelAnswer","key":{}}`, "missing channelId"},
		{"ChannelAnswer", `{"kind":"ChannelAnswer","key":{"id":"c"},"params":{"channelId":""}}`, "missing channelId"},
	}
	for _, c := range cases {
		req, err := DecodeRequest([]byte(c.req))
		if err != nil {
			t.Fatal(err)
		}
		k, _ := LookupKind(c.kind)
		_, err = k.DecodeParams(req)
		if !errorsIs(err, ErrBadRequest) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want bad request with %q", c.req, err, c.want)
		}
	}
}

func TestConversions(t *testing.T) {
	cases := []struct {
		c    Conv
		ns   int64
		want int
	}{
		{ConvNsToSec, 10_000_000_000, 10},
		{ConvNsToSec, 1_500_000_000, 2}, // never rounds a positive duration to 0 ("no limit")
		{ConvNsToSec, 1, 1},
		{ConvNsToSec, 0, 0},
		{ConvNsToSec, -1_000_000_000, -1},
		{ConvNsToMs, 50_000_000, 50},
		{ConvNsToMs, 80_000_001, 81},
	}
	for _, c := range cases {
		got, err := convIn(c.c, json.Number(fmt.Sprint(c.ns)))
		if err != nil || got != c.want {
			t.Errorf("convIn(%v, %d) = %v %v, want %d", c.c, c.ns, got, err, c.want)
		}
	}
	if v, _ := convOut(ConvNsToMs, 50); v != int64(50_000_000) {
		t.Errorf("convOut ms: %v", v)
	}
	if v, _ := convOut(ConvNsToSec, 2.5); v != int64(2_500_000_000) {
		t.Errorf("convOut s: %v", v)
	}
	if _, err := convOut(ConvNsToSec, int64(1)<<62); err == nil {
		t.Error("convOut overflow")
	}
}

func TestResultID(t *testing.T) {
	cases := []struct {
		kind   string
		params ari.Params
		want   string
	}{
		{"ChannelOriginate", ari.Params{"channelId": "c1", "originator": "o"}, "c1"},
		{"ChannelStagePlay", ari.Params{"channelId": "c1", "playbackId": "p1"}, "p1"},
		{"ChannelSnoop", ari.Params{"channelId": "c1", "snoopId": "s1"}, "s1"},
		{"BridgeCreate", ari.Params{"bridgeId": "b1"}, "b1"},
		{"ChannelRecord", ari.Params{"channelId": "c1", "name": "r1"}, "r1"},
		{"RecordingStoredCopy", ari.Params{"recordingName": "a", "destinationRecordingName": "b"}, "b"},
		{"AsteriskLoggingCreate", ari.Params{"logChannelName": "l"}, "l"},
		{"ChannelGet", ari.Params{"channelId": "c1"}, "c1"},
		{"EndpointData", ari.Params{"tech": "PJSIP", "resource": "a"}, "PJSIP/a"},
		{"ChannelOriginate", ari.Params{"endpoint": "x"}, ""},
		{"ChannelAnswer", ari.Params{"channelId": "c1"}, ""},
		{"channels.originateWithId", ari.Params{"channelId": "c2"}, "c2"},
	}
	for _, c := range cases {
		k, ok := LookupKind(c.kind)
		if !ok {
			t.Fatalf("no kind %s", c.kind)
		}
		if got := k.ResultID(c.params); got != c.want {
			t.Errorf("%s.ResultID(%v) = %q, want %q", c.kind, c.params, got, c.want)
		}
	}
}

func TestServerHelpers(t *testing.T) {
	n := 0
	newID := func() string { n++; return fmt.Sprintf("gen-%d", n) }
	k, _ := LookupKind("ChannelStageOriginate")
	p := ari.Params{"endpoint": "Local/x"}
	if id := k.EnsureResultID(p, newID); id != "gen-1" || p["channelId"] != "gen-1" {
		t.Errorf("%q %v", id, p)
	}
	if id := k.EnsureResultID(p, newID); id != "gen-1" {
		t.Errorf("an id is not replaced: %q", id)
	}
	k, _ = LookupKind("RecordingStoredCopy") // the destination is required: not invented
	p = ari.Params{"recordingName": "r"}
	if id := k.EnsureResultID(p, newID); id != "" || p["destinationRecordingName"] != nil {
		t.Errorf("%q %v", id, p)
	}
	k, _ = LookupKind("ChannelAnswer")
	if id := k.EnsureResultID(ari.Params{"channelId": "c"}, newID); id != "" {
		t.Errorf("%q", id)
	}

	k, _ = LookupKind("ChannelUserEvent")
	p = ari.Params{}
	k.DefaultApp(p, "demo")
	if p["application"] != "demo" {
		t.Errorf("%v", p)
	}
	p = ari.Params{"application": "other"}
	k.DefaultApp(p, "demo")
	if p["application"] != "other" {
		t.Errorf("%v", p)
	}
}
