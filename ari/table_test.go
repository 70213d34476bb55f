package ari

import (
	"encoding/json"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestOperationsTable(t *testing.T) {
	if len(Operations) != 109 {
		t.Errorf("len(Operations) = %d, want 109", len(Operations))
	}
	resources := map[string]bool{}
	var ws []string
	seen := map[string]bool{}
	for i := range Operations {
		op := &Operations[i]
		if seen[op.ID] {
			t.Errorf("duplicate ID %s", op.ID)
		}
		seen[op.ID] = true
		if op.ID != op.Resource+"."+op.Nickname {
			t.Errorf("ID %s != %s.%s", op.ID, op.Resource, op.Nickname)
		}
		if Lookup(op.ID) != op {
			t.Errorf("Lookup(%s) does not return the table row", op.ID)
		}
		if !strings.HasPrefix(op.Path, "/") || op.ResponseClass == "" || op.Method == "" {
			t.Errorf("%s: incomplete row %+v", op.ID, op)
		}
		for _, p := range op.Params {
			if p.In == InPath && (!p.Required || !strings.Contains(op.Path, "{"+p.Name+"}")) {
				t.Errorf("%s: path param %s not required or not in %s", op.ID, p.Name, op.Path)
			}
		}
		resources[op.Resource] = true
		if op.WebSocket {
			ws = append(ws, op.ID)
		}
	}
	want := []string{"applications", "asterisk", "bridges", "channels", "deviceStates", "endpoints", "events", "mailboxes", "playbacks", "recordings", "sounds"}
	if got := slices.Sorted(maps.Keys(resources)); !slices.Equal(got, want) {
		t.Errorf("resources = %v, want %v", got, want)
	}
	if !slices.Equal(ws, []string{"events.eventWebsocket"}) {
		t.Errorf("WebSocket operations = %v", ws)
	}
	if Lookup("channels.nope") != nil || Lookup("") != nil {
		t.Error("Lookup of an unknown ID is not nil")
	}
}

func TestParamDetails(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		op, param string
		want      Param
	}{
		{"channels.originate", "endpoint", Param{In: InQuery, Type: "string", Required: true}},
		{"channels.originate", "variables", Param{In: InBody, Type: "containers"}},
		{"channels.originate", "timeout", Param{In: InQuery, Type: "int", Default: "30"}},
		{"asterisk.getInfo", "only", Param{In: InQuery, Type: "string", AllowMultiple: true, Allowed: []string{"build", "system", "config", "status"}}},
		{"bridges.play", "offsetms", Param{In: InQuery, Type: "int", Min: f(0), Default: "0"}},
		{"bridges.addChannel", "absorbDTMF", Param{In: InQuery, Type: "boolean", Default: "false"}},
		{"channels.record", "ifExists", Param{In: InQuery, Type: "string", Allowed: []string{"fail", "overwrite", "append"}, Default: "fail"}},
		{"endpoints.get", "tech", Param{In: InPath, Type: "string", Required: true}},
		{"applications.filter", "filter", Param{In: InBody, Type: "object"}},
		{"asterisk.updateObject", "fields", Param{In: InBody, Type: "containers"}},
		{"events.eventWebsocket", "app", Param{In: InQuery, Type: "string", Required: true, AllowMultiple: true}},
	}
	for _, tt := range tests {
		op := Lookup(tt.op)
		if op == nil {
			t.Fatalf("no operation %s", tt.op)
		}
		p := op.Param(tt.param)
		if p == nil {
			t.Fatalf("%s has no param %s", tt.op, tt.param)
		}
		got := *p
		got.Name, got.Description = "", ""
		if !equalParam(got, tt.want) {
			t.Errorf("%s.%s = %+v, want %+v", tt.op, tt.param, got, tt.want)
		}
	}
	if Lookup("channels.list").Param("nope") != nil {
		t.Error("Param of an unknown name is not nil")
	}
	op := Lookup("channels.originate")
	if op.Method != "POST" || op.Path != "/channels" || op.ResponseClass != "Channel" ||
		!slices.Equal(op.Errors, []ErrorResponse{{400, "Invalid parameters for originating a channel."}, {409, "Channel with given unique ID already exists."}}) {
		t.Errorf("channels.originate = %+v", op)
	}
	// The spec writes one error code as a string.
	if op := Lookup("channels.move"); op == nil || len(op.Errors) == 0 {
		t.Errorf("channels.move errors missing: %+v", op)
	}
}

func equalParam(a, b Param) bool {
	eqf := func(x, y *float64) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	return a.In == b.In && a.Type == b.Type && a.Required == b.Required && a.AllowMultiple == b.AllowMultiple &&
		slices.Equal(a.Allowed, b.Allowed) && eqf(a.Min, b.Min) && eqf(a.Max, b.Max) && a.Default == b.Default
}

func TestRoute(t *testing.T) {
	tests := []struct {
		method, path   string
		id             string // "" when no operation
		params         map[string]string
		found, allowed bool
	}{
		{"GET", "/channels", "channels.list", nil, true, true},
		{"POST", "/channels", "channels.originate", nil, true, true},
		{"GET", "/channels/", "channels.list", nil, true, true},
		{"GET", "/channels/abc", "channels.get", map[string]string{"channelId": "abc"}, true, true},
		{"POST", "/channels/abc/play", "channels.play", map[string]string{"channelId": "abc"}, true, true},
		{"POST", "/channels/abc/play/pb-1", "channels.playWithId", map[string]string{"channelId": "abc", "playbackId": "pb-1"}, true, true},
		{"POST", "/channels/externalMedia", "channels.externalMedia", nil, true, true},
		{"POST", "/channels/create", "channels.create", nil, true, true},
		{"POST", "/channels/other", "channels.originateWithId", map[string]string{"channelId": "other"}, true, true},
		// Literal beats param without backtracking, as in Asterisk.
		{"GET", "/channels/externalMedia", "", nil, true, false},
		{"DELETE", "/channels/create", "", nil, true, false},
		{"GET", "/endpoints/sendMessage", "", nil, true, false},
		{"PUT", "/endpoints/sendMessage", "endpoints.sendMessage", nil, true, true},
		{"GET", "/endpoints/PJSIP", "endpoints.listByTech", map[string]string{"tech": "PJSIP"}, true, true},
		{"GET", "/endpoints/PJSIP/alice", "endpoints.get", map[string]string{"tech": "PJSIP", "resource": "alice"}, true, true},
		{"GET", "/recordings/stored/r1/file", "recordings.getStoredFile", map[string]string{"recordingName": "r1"}, true, true},
		{"POST", "/recordings/stored/r1/copy", "recordings.copyStored", map[string]string{"recordingName": "r1"}, true, true},
		{"GET", "/recordings/stored", "recordings.listStored", nil, true, true},
		{"GET", "/recordings", "", nil, true, false},
		{"GET", "/events", "events.eventWebsocket", nil, true, true},
		{"POST", "/events/user/CallNote", "events.userEvent", map[string]string{"eventName": "CallNote"}, true, true},
		{"GET", "/deviceStates/Stasis:dev1", "deviceStates.get", map[string]string{"deviceName": "Stasis:dev1"}, true, true},
		{"GET", "/asterisk/config/dynamic/res_pjsip/endpoint/alice", "asterisk.getObject", map[string]string{"configClass": "res_pjsip", "objectType": "endpoint", "id": "alice"}, true, true},
		// Unescaping per segment: %2F stays in the parameter, + is a space.
		{"GET", "/channels/a%2Fb", "channels.get", map[string]string{"channelId": "a/b"}, true, true},
		{"GET", "/channels/chan-1%3B2", "channels.get", map[string]string{"channelId": "chan-1;2"}, true, true},
		{"GET", "/channels/a+b%zz", "channels.get", map[string]string{"channelId": "a b%zz"}, true, true},
		{"PATCH", "/channels", "", nil, true, false},
		{"GET", "/no/such/path", "", nil, false, false},
		{"GET", "/channels/abc/nope", "", nil, false, false},
		{"GET", "/", "", nil, false, false},
		{"GET", "", "", nil, false, false},
	}
	for _, tt := range tests {
		op, params, found, allowed := Route(tt.method, tt.path)
		id := ""
		if op != nil {
			id = op.ID
		}
		if id != tt.id || found != tt.found || allowed != tt.allowed || !maps.Equal(params, tt.params) {
			t.Errorf("Route(%s %s) = %q %v %v %v, want %q %v %v %v", tt.method, tt.path, id, params, found, allowed, tt.id, tt.params, tt.found, tt.allowed)
		}
	}
	if got := Methods("/channels/abc"); !slices.Equal(got, []string{"DELETE", "GET", "POST"}) {
		t.Errorf("Methods(/channels/abc) = %v", got)
	}
	if got := Methods("/nope"); got != nil {
		t.Errorf("Methods(/nope) = %v", got)
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name   string
		op     string
		params Params
		path   string
		query  string
		body   string // "" for nil
		err    error
	}{
		{
			name: "originate as in the transcripts",
			op:   "channels.originate",
			params: Params{
				"endpoint": "Local/echo@default", "app": "demo", "appArgs": []string{"alpha", "beta"},
				"callerId": "Alice <1001>", "channelId": "chan-1", "timeout": 10,
				"variables": map[string]string{"CALLERID(name)": "Alice", "MYVAR": "one"},
			},
			path:  "/channels",
			query: "app=demo&appArgs=alpha%2Cbeta&callerId=Alice+%3C1001%3E&channelId=chan-1&endpoint=Local%2Fecho%40default&timeout=10",
			body:  `{"variables":{"CALLERID(name)":"Alice","MYVAR":"one"}}`,
		},
		{
			name:   "numbers from JSON and bools",
			op:     "channels.record",
			params: Params{"channelId": "c1", "name": "r", "format": "wav", "maxDurationSeconds": float64(5), "beep": false, "maxSilenceSeconds": json.Number("1e1")},
			path:   "/channels/c1/record",
			query:  "beep=false&format=wav&maxDurationSeconds=5&maxSilenceSeconds=10&name=r",
		},
		{
			name:   "big float without exponent",
			op:     "channels.originate",
			params: Params{"endpoint": "x", "timeout": 1e21},
			path:   "/channels",
			query:  "endpoint=x&timeout=1000000000000000000000",
		},
		{
			name:   "allowMultiple as []any",
			op:     "bridges.addChannel",
			params: Params{"bridgeId": "br-1", "channel": []any{"leg-a", "leg-b"}, "role": "participant"},
			path:   "/bridges/br-1/addChannel",
			query:  "channel=leg-a%2Cleg-b&role=participant",
		},
		{
			name:   "path escaping",
			op:     "channels.get",
			params: Params{"channelId": "a/b;2+c d"},
			path:   "/channels/a%2Fb%3B2%2Bc%20d",
		},
		{
			name:   "path params keep : and @",
			op:     "mailboxes.update",
			params: Params{"mailboxName": "mb1@default", "oldMessages": 1, "newMessages": int64(2)},
			path:   "/mailboxes/mb1@default",
			query:  "newMessages=2&oldMessages=1",
		},
		{
			name:   "user event",
			op:     "events.userEvent",
			params: Params{"eventName": "CallNote", "application": "demo", "source": []string{"channel:chan-1"}, "variables": map[string]any{"note": "hello"}},
			path:   "/events/user/CallNote",
			query:  "application=demo&source=channel%3Achan-1",
			body:   `{"variables":{"note":"hello"}}`,
		},
		{
			name:   "config fields",
			op:     "asterisk.updateObject",
			params: Params{"configClass": "res_pjsip", "objectType": "endpoint", "id": "alice", "fields": []any{map[string]any{"attribute": "directmedia", "value": "false"}}},
			path:   "/asterisk/config/dynamic/res_pjsip/endpoint/alice",
			body:   `{"fields":[{"attribute":"directmedia","value":"false"}]}`,
		},
		{
			name:   "event filter is the whole body",
			op:     "applications.filter",
			params: Params{"applicationName": "demo", "filter": map[string]any{"allowed": []any{map[string]any{"type": "StasisStart"}}}},
			path:   "/applications/demo/eventFilter",
			body:   `{"allowed":[{"type":"StasisStart"}]}`,
		},
		{
			name:   "nil values are left out",
			op:     "channels.hangup",
			params: Params{"channelId": "c1", "reason": nil},
			path:   "/channels/c1",
		},
		{
			name:   "websocket",
			op:     "events.eventWebsocket",
			params: Params{"app": []string{"demo", "other"}, "subscribeAll": false},
			path:   "/events",
			query:  "app=demo%2Cother&subscribeAll=false",
		},
		{name: "missing path param", op: "channels.get", params: Params{}, err: ErrMissingParam},
		{name: "empty path param", op: "channels.get", params: Params{"channelId": ""}, err: ErrMissingParam},
		{name: "unknown param", op: "channels.get", params: Params{"channelId": "c", "bogus": 1}, err: ErrUnknownParam},
		{
			name:   "lists for single-valued params are comma-joined",
			op:     "bridges.create",
			params: Params{"type": []string{"mixing", "dtmf_events"}},
			path:   "/bridges",
			query:  "type=mixing%2Cdtmf_events",
		},
		{
			name:   "values as raw JSON",
			op:     "channels.originate",
			params: Params{"channelId": json.RawMessage(`"c1"`), "endpoint": json.RawMessage(`"Local/x"`), "timeout": json.RawMessage(`10`), "appArgs": json.RawMessage(`["a",1,true]`), "variables": json.RawMessage(`{"A":"b"}`)},
			path:   "/channels",
			query:  "appArgs=a%2C1%2Ctrue&channelId=c1&endpoint=Local%2Fx&timeout=10",
			body:   `{"variables":{"A":"b"}}`,
		},
		{name: "raw JSON object in query", op: "channels.hangup", params: Params{"channelId": "c", "reason": json.RawMessage(`{}`)}, err: ErrInvalidParam},
		{name: "raw JSON list in path", op: "channels.get", params: Params{"channelId": json.RawMessage(`["a"]`)}, err: ErrInvalidParam},
		{name: "bad raw JSON", op: "channels.hangup", params: Params{"channelId": "c", "reason": json.RawMessage(`{`)}, err: ErrInvalidParam},
		{name: "map in query", op: "channels.hangup", params: Params{"channelId": "c", "reason": map[string]any{}}, err: ErrInvalidParam},
		{name: "map in path", op: "channels.get", params: Params{"channelId": map[string]any{}}, err: ErrInvalidParam},
		{name: "unencodable body", op: "channels.originate", params: Params{"endpoint": "x", "variables": func() {}}, err: ErrInvalidParam},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, query, body, err := Lookup(tt.op).Encode(tt.params)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if path != tt.path || query.Encode() != tt.query {
				t.Errorf("got %s ? %s, want %s ? %s", path, query.Encode(), tt.path, tt.query)
			}
			if tt.body == "" {
				if body != nil {
					t.Errorf("body = %s, want nil", body)
				}
			} else if body == nil || !jsonEqual(t, body, []byte(tt.body)) {
				t.Errorf("body = %s, want %s", body, tt.body)
			}
			// The path routes back to the operation and its params.
			op, pp, _, _ := Route(Lookup(tt.op).Method, path)
			if op != Lookup(tt.op) {
				t.Fatalf("Route(%s) = %v", path, op)
			}
			for name, v := range pp {
				if s, _ := tt.params[name].(string); s != v {
					t.Errorf("path param %s = %q, want %q", name, v, s)
				}
			}
		})
	}
}

// TestTranscriptRequests routes every request Asterisk received in the
// transcripts and rebuilds it with Encode from its parameters.
func TestTranscriptRequests(t *testing.T) {
	n := 0
	for file, lines := range transcripts(t) {
		for _, l := range lines {
			if l.Kind != "request" {
				continue
			}
			n++
			op, pathParams, found, allowed := Route(l.Method, l.Path)
			switch {
			case l.Path == "/no/such/path":
				if found {
					t.Errorf("%s#%d: %s %s found", file, l.Seq, l.Method, l.Path)
				}
				continue
			case l.Method == "PATCH":
				if !found || allowed {
					t.Errorf("%s#%d: %s %s: found=%v allowed=%v, want 405", file, l.Seq, l.Method, l.Path, found, allowed)
				}
				continue
			case op == nil:
				t.Errorf("%s#%d: %s %s does not route", file, l.Seq, l.Method, l.Path)
				continue
			}
			params := Params{}
			for k, v := range pathParams {
				params[k] = v
			}
			q, err := url.ParseQuery(l.Query)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range q {
				params[k] = v[0]
			}
			if len(l.Body) > 0 {
				if p := bodyParam(op); p != nil && p.Type == "object" {
					params[p.Name] = json.RawMessage(l.Body)
				} else {
					var obj map[string]json.RawMessage
					if err := json.Unmarshal(l.Body, &obj); err != nil {
						t.Fatal(err)
					}
					for k, v := range obj {
						params[k] = v
					}
				}
			}
			path, query, body, err := op.Encode(params)
			if err != nil {
				t.Errorf("%s#%d: %s: %v", file, l.Seq, op.ID, err)
				continue
			}
			if path != l.Path || query.Encode() != l.Query {
				t.Errorf("%s#%d: %s: got %s?%s, want %s?%s", file, l.Seq, op.ID, path, query.Encode(), l.Path, l.Query)
			}
			if len(l.Body) > 0 != (body != nil) || body != nil && !jsonEqual(t, body, l.Body) {
				t.Errorf("%s#%d: %s: body %s, want %s", file, l.Seq, op.ID, body, l.Body)
			}
		}
	}
	if n == 0 {
		t.Fatal("no requests in the transcripts")
	}
}

func bodyParam(op *Operation) *Param {
	for i := range op.Params {
		if op.Params[i].In == InBody {
			return &op.Params[i]
		}
	}
	return nil
}

// TestOpIdents checks that each row's constant is its index and names it.
func TestOpIdents(t *testing.T) {
	for i := range Operations {
		op := &Operations[i]
		if int(op.Ident) != i || op.Ident.Op() != op || op.Ident.String() != op.ID {
			t.Errorf("row %d (%s): Ident %d names %s", i, op.ID, op.Ident, op.Ident)
		}
	}
	if s := OpID(-1).String(); s != "OpID(-1)" {
		t.Errorf("OpID(-1).String() = %q", s)
	}
}
