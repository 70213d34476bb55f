package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// fastSeeds are envelopes for the fast paths: plain ones and every odd
// case that must give the same answer as encoding/json (or step aside).
var fastSeeds = []string{
	`{"kind":"ChannelData","key":{"kind":"channel","id":"1763779175.0","node":"n","app":"bench"}}`,
	`{"kind":"ChannelData","key":{"kind":"channel","id":"x"},"channel_data":{}}`,
	`{"kind":"A","kind":"B","key":{"id":"1"},"key":{"id":"2"}}`,
	`{"kind":null,"key":null,"params":null,"p":null}`,
	`{"kind":"K","key":{"ID":"upper","Kind":"c"}}`,
	`{"kind":"K","key":{"id":"a","extra":1}}`,
	`{"kind":"ChannelData","key":{"kind":"channel","id":"x"},"probe":{}}`,
	`{"kind":"K","probe":1,"probe":{}}`,
	`{"kind":"K","probe":true}`,
	`{"kind":"K","probe":null}`,
	`{"kind":"K","probe":1}`,
	`{"kind":"K","probe":"true"}`,
	`{"kind":"K","Probe":true}`,
	`{"kind":"K","key":{"id":5}}`,
	`{"kind":"K","key":{"id":null,"node":"n"}}`,
	`{"kind":"K\u00e9\n","key":{"id":"\ud800x"}}`,
	"{\"kind\":\"\xff\",\"key\":{\"id\":\"\xfe\"}}",
	`{"ki\u006ed":"escaped name","key":{}}`,
	"{\"k\xffnd\":\"bad name\"}",
	`{"KIND":"upper"}`,
	`{"kind":1}`, `{"kind":{}}`, `{"key":"x"}`, `{"key":[]}`, `{"params":[]}`, `{"p":1}`, `{"p":[]}`,
	`{"kind":"K","params":{"a":1,"b":[1,"x"]},"channel_originate":{"endpoint":"x"}}`,
	` { "kind" : "K" , "key" : { "id" : "s p" } } `,
	`{}`,
}

// TestDecodeRequestFast: the fast envelope decode agrees with the
// encoding/json one wherever it does not step aside.
func TestDecodeRequestFast(t *testing.T) {
	for _, s := range fastSeeds {
		checkFastRequest(t, []byte(s))
	}
}

func checkFastRequest(t *testing.T, data []byte) {
	t.Helper()
	if !json.Valid(data) {
		return
	}
	tr := bytes.TrimSpace(data)
	if len(tr) == 0 || tr[0] != '{' {
		return
	}
	var fast, ref Request
	handled, ferr := fast.decodeFast(tr)
	if !handled {
		return
	}
	rerr := ref.decodeMembers(tr)
	if (ferr == nil) != (rerr == nil) {
		t.Fatalf("%s: fast error %v, reference %v", data, ferr, rerr)
	}
	if ferr == nil && !reflect.DeepEqual(normal(fast), normal(ref)) {
		t.Fatalf("%s:\n fast      %+v %+v\n reference %+v %+v", data, fast, fast.Key, ref, ref.Key)
	}
}

// normal makes empty and nil maps compare equal.
func normal(r Request) Request {
	if len(r.Payload) == 0 {
		r.Payload = nil
	}
	if len(r.Params) == 0 {
		r.Params = nil
	}
	return r
}

func FuzzDecodeRequestFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkFastRequest(t, data) })
}

// replySeeds are replies as servers write them, and odd ones.
var replySeeds = []string{
	`{"error":"","data":{"channel":{"key":{"kind":"channel","id":"c"},"id":"c","caller":{"name":"A"}}},"node":"n"}`,
	`{"error":"Non-2XX response: 404 Not Found","error_code":"not_found","ari_status":404,"error_detail":"Channel not found","node":"n"}`,
	`{"error":"","key":{"kind":"channel","id":"c","node":"n","app":"a"},"node":"n"}`,
	`{"error":"","keys":[{"id":"a"},null,{"id":"b"}],"node":"n"}`,
	`{"error":"","data":{"variable":"x"},"data":{"variable":"y"}}`,
	`{"error":null,"data":null,"key":null,"node":null}`,
	`{"Error":"upper","NODE":"n"}`, `{"error":null,"dAtA":null,"keY":null,"0":null}`,
	`{"error":"e\u00e9\ud800","node":"\u006e"}`,
	"{\"error\":\"\xff\"}",
	`{"ari_status":"404"}`, `{"ari_status":1.5}`, `{"ari_status":1e2}`, `{"error":1}`, `{"key":"x"}`, `{"key":{"id":1}}`,
	`{"key":{"ID":"c"}}`, `{"extra":{"a":1},"error":""}`,
	`[]`, `null`, `"x"`, `{`, ``, ` {"error" : "" , "data" : { "x" : [ 1 , 2 ] } } `,
}

// TestDecodeReply: DecodeResponse decodes as json.Unmarshal into a
// Response (its fast path included).
func TestDecodeReply(t *testing.T) {
	for _, s := range replySeeds {
		checkReply(t, []byte(s))
	}
}

func checkReply(t *testing.T, data []byte) {
	t.Helper()
	var ref Response
	rerr := json.Unmarshal(data, &ref)
	got, err := DecodeResponse(data)
	if err == nil && rerr != nil || err != nil && rerr == nil && json.Valid(data) {
		t.Fatalf("%q: error %v, json.Unmarshal %v", data, err, rerr)
	}
	if err != nil {
		return
	}
	ref.dataValid = got.dataValid // not part of the decoded value
	if !reflect.DeepEqual(*got, ref) {
		t.Fatalf("%q:\n got       %+v\n reference %+v", data, *got, ref)
	}
}

func FuzzDecodeReply(f *testing.F) {
	for _, s := range replySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkReply(t, data) })
}

// TestAppendJSON: replies encode byte for byte as json.Marshal writes
// them when their data is compact and free of HTML characters, as
// BuildResponse writes Asterisk's bodies.
func TestAppendJSON(t *testing.T) {
	for _, r := range []Response{
		{},
		{Error: "Non-2XX response: 404 Not Found", Code: CodeNotFound, Status: 404, Detail: "Channel not found", Node: "02:fc:00:00:be:01"},
		{Data: json.RawMessage(`{"channel":{"key":{"kind":"channel","id":"c"},"id":"c"}}`), Node: "n"},
		{Key: &Key{Kind: "channel", ID: "c", Node: "n", Dialog: "d", App: "a"}},
		{Key: &Key{}},
		{Keys: []*Key{{ID: "a"}, nil, {Kind: "bridge", ID: "b"}}},
		{Keys: []*Key{}},
		{Error: "<html> & \"quotes\" \\ \n\t\u2028 é \xff", Node: "ünïcode"},
	} {
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("AppendJSON\n got  %s\n want %s", got, want)
		}
	}
}

// TestEntityFast: Entity finds data.<field> as a decoded map would.
func TestEntityFast(t *testing.T) {
	for _, d := range []string{`{"channel":{"id":"c"}}`, `{"channel":null}`, `{"channel":1,"channel":{"id":"last"}}`,
		`{"Channel":{"id":"folded"}}`, `{"ch\u0061nnel":{"id":"escaped"}}`, ` { "channel" : [1, 2] } `, `[]`, `"x"`, `{`, `{"other":1}`} {
		r := &Response{Data: json.RawMessage(d)}
		got, ok := r.Entity("channel")
		var m map[string]json.RawMessage
		var want json.RawMessage
		wantOK := false
		if json.Unmarshal([]byte(d), &m) == nil {
			want, wantOK = m["channel"]
			wantOK = wantOK && string(want) != "null"
		}
		if ok != wantOK || !bytes.Equal(got, want) && wantOK {
			t.Errorf("Entity(%s) = %s %v, want %s %v", d, got, ok, want, wantOK)
		}
	}
}
