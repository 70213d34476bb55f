package wire

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeRequest(t *testing.T) {
	r, err := DecodeRequest([]byte(`{"kind":"ChannelHangup","key":{"kind":"channel","id":"c1","node":"n","dialog":"d","app":"a","extra":1},"channel_hangup":{"reason":"normal"},"metadata":null,"params":{"reason_code":"16"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "ChannelHangup" || *r.Key != (Key{Kind: "channel", ID: "c1", Node: "n", Dialog: "d", App: "a"}) ||
		string(r.Payload["channel_hangup"]) != `{"reason":"normal"}` || len(r.Payload) != 1 || r.Params["reason_code"] != "16" {
		t.Errorf("%+v", r)
	}
	for _, ok := range []string{`{}`, ` {"kind":"","key":null} `, `{"kind":null,"key":{}}`} {
		if _, err := DecodeRequest([]byte(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for in, want := range map[string]bool{`{"kind":"K","probe":{}}`: true, `{"kind":"K","probe":{"later":1}}`: true,
		`{"kind":"K","probe":null}`: false, `{"kind":"K"}`: false} {
		if r, err := DecodeRequest([]byte(in)); err != nil || r.Probe != want {
			t.Errorf("%s: probe %v (%v), want %v", in, r != nil && r.Probe, err, want)
		}
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	deep := strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)
	cases := []struct{ in, want string }{
		{``, "invalid JSON"},
		{`{"kind":`, "invalid JSON"},
		{`nul`, "invalid JSON"},
		{`[]`, "not a JSON object"},
		{`"ChannelAnswer"`, "not a JSON object"},
		{`null`, "not a JSON object"},
		{`{"kind":1}`, "kind is not a string"},
		{`{"kind":{"a":1}}`, "kind is not a string"},
		{`{"kind":"X","key":"c1"}`, "key is not an object"},
		{`{"kind":"X","key":[]}`, "key is not an object"},
		{`{"kind":"X","key":{"id":5}}`, `key: field "id"`},
		{`{"kind":"X","params":[1]}`, "params is not an object"},
		{`{"kind":"X","channel_hangup":"normal"}`, `payload field "channel_hangup" is not an object`},
		{`{"kind":"X","channel_hangup":[]}`, `payload field "channel_hangup" is not an object`},
		{`{"kind":"X","probe":1}`, "probe is not an object"},
		{`{"kind":"X","probe":true}`, "probe is not an object"},
		{deep, "nesting deeper than"},
		{`{"kind":"` + strings.Repeat("x", MaxRequestSize) + `"}`, "exceeds"},
	}
	for _, c := range cases {
		_, err := DecodeRequest([]byte(c.in))
		if !errorsIs(err, ErrBadRequest) || !strings.Contains(err.Error(), c.want) {
			in := c.in
			if len(in) > 60 {
				in = in[:60] + "..."
			}
			t.Errorf("%s: %v, want bad request with %q", in, err, c.want)
		}
	}
	// json.Unmarshal goes through the same checks.
	var r Request
	if err := json.Unmarshal([]byte(`{"kind":2}`), &r); !errorsIs(err, ErrBadRequest) {
		t.Errorf("json.Unmarshal: %v", err)
	}
}

func TestRequestMarshal(t *testing.T) {
	r := &Request{
		Kind:    "ChannelPlay",
		Key:     &Key{Kind: "channel", ID: "c1"},
		Payload: map[string]json.RawMessage{"channel_play": json.RawMessage(`{"playback_id":"p"}`), "a_first": nil},
		Params:  map[string]any{"lang": "fr"},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"ChannelPlay","key":{"kind":"channel","id":"c1"},"a_first":{},"channel_play":{"playback_id":"p"},"params":{"lang":"fr"}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	r.Probe = true
	if b, err := json.Marshal(r); err != nil || string(b) != want[:len(want)-1]+`,"probe":{}}` {
		t.Errorf("with probe: %s (%v)", b, err)
	}
	for _, bad := range []string{"kind", "key", "params", "probe"} {
		r := &Request{Payload: map[string]json.RawMessage{bad: json.RawMessage(`{}`)}}
		if _, err := json.Marshal(r); err == nil {
			t.Errorf("payload field %q accepted", bad)
		}
	}
	if _, err := json.Marshal(&Request{Payload: map[string]json.RawMessage{"x": json.RawMessage(`{`)}}); err == nil {
		t.Error("invalid payload accepted")
	}
}

func TestSubjects(t *testing.T) {
	for _, p := range []string{"", "ari", "ari."} {
		s := NewSubjects(p)
		if s.Prefix != "ari." {
			t.Errorf("NewSubjects(%q).Prefix = %q", p, s.Prefix)
		}
	}
	var zero Subjects
	s := NewSubjects("test123")
	cases := []struct{ got, want string }{
		{zero.Ping(), "ari.ping"},
		{s.Ping(), "test123.ping"},
		{s.Announce(), "test123.announce"},
		{s.Event("demo", "02:fc:00:00:00:01"), "test123.event.demo.02:fc:00:00:00:01"},
		{s.AllEvents("demo"), "test123.event.demo.>"},
		{s.DialogEvent("dlg-1"), "test123.dialogevent.dlg-1"},
		{s.Request(ClassGet, "", ""), "test123.get"},
		{s.Request(ClassData, "demo", ""), "test123.data.demo"},
		{s.Request(ClassCreate, "demo", "n1"), "test123.create.demo.n1"},
		{s.Request(ClassCommand, "", "n1"), "test123.command"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for tok, ok := range map[string]bool{"demo": true, "02:fc:00:00:00:01": true, "": false, "a.b": false, "a*": false, ">": false, "a b": false} {
		if ValidToken(tok) != ok {
			t.Errorf("ValidToken(%q) != %v", tok, ok)
		}
	}
	if CreateQueue != "ariproxy" || ListenQueue != "ARIProxyStasisStartDistributorQueue" || DefaultPrefix != "ari." {
		t.Error("v5 constants changed")
	}
}
