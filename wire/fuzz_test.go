package wire

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
)

func addCorpusSeeds(f *testing.F, want func(corpusMsg) bool) {
	for _, m := range loadCorpus(f, "testdata/v5-sample.jsonl") {
		if want(m) {
			f.Add([]byte(m.Payload))
		}
	}
}

// FuzzDecodeRequest: no input makes decoding, parameter decoding or
// re-encoding panic; whatever decodes re-encodes to something that decodes
// the same.
func FuzzDecodeRequest(f *testing.F) {
	addCorpusSeeds(f, func(m corpusMsg) bool { return m.Reply != "" || m.Subject == "ari.ping" })
	for _, s := range []string{``, `{}`, `[]`, `null`, `{"kind":1}`, `{"key":"x"}`, `{"kind":"ChannelDial","key":{"id":"c"},"channel_dial":{"timeout":1e400}}`,
		`{"kind":"AsteriskConfigData","key":{"id":"a/b"}}`, `{"kind":"ChannelSendDTMF","key":{"id":"c"},"channel_send_dtmf":{"options":{"Before":"x"}}}`,
		`{"kind":"ChannelOriginate","key":{"kind":"channel","id":"o"},"channel_originate":{"originate_request":{"variables":[1,2]}}}`,
		`{"kind":"channels.rtpstatistics","key":{"id":"c"},"params":{"channelId":{"a":[1]}}}`,
		`{"kind":"ChannelUserEvent","key":{"id":"c","app":"a"},"ChannelUserevent":{"eventname":"e","userevent":{"k":1.5}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeRequest(data)
		if err != nil {
			if !errorsIs(err, ErrBadRequest) {
				t.Fatalf("error not wrapping ErrBadRequest: %v", err)
			}
			return
		}
		b, err := json.Marshal(req)
		if err != nil {
			return // e.g. a payload field named "" cannot be written back
		}
		again, err := DecodeRequest(b)
		if err != nil {
			t.Fatalf("re-encoded request %s does not decode: %v", b, err)
		}
		if again.Kind != req.Kind || (again.Key == nil) != (req.Key == nil) || len(again.Payload) != len(req.Payload) {
			t.Fatalf("re-encoding changed the request: %+v vs %+v", again, req)
		}
		if c, err := Decode(req, "app"); err != nil {
			if !errorsIs(err, ErrBadRequest) && !errorsIs(err, ErrNotImplemented) {
				t.Fatalf("Decode: error wrapping neither ErrBadRequest nor ErrNotImplemented: %v", err)
			}
		} else if c.Kind.assignsID() && c.ResultID == "" {
			t.Fatalf("Decode: %s without a result id: %v", c.Kind.Name, c.Params)
		}
		k, ok := LookupKind(req.Kind)
		if !ok {
			return
		}
		params, err := k.DecodeParams(req)
		if err != nil {
			return
		}
		if _, err := NewRequest(k, req.Key, params); err != nil && !errorsIs(err, ErrBadRequest) {
			t.Fatalf("NewRequest: %v", err)
		}
		_ = k.ResultID(params)
		_ = BuildResponse(k, Key{Node: "n"}, params, 200, data)
	})
}

// FuzzResponseErr: no input makes decoding a response, Err or Entity panic.
func FuzzResponseErr(f *testing.F) {
	addCorpusSeeds(f, func(m corpusMsg) bool { return m.Reply == "" && m.Subject != "ari.ping" })
	for _, s := range []string{`{"error":""}`, `{"error":"Non-2XX response: 4"}`, `{"error":"Non-2XX response: 404"}`, `{"error":5}`,
		`{"error":"x","error_code":"weird","ari_status":-1}`, `{"data":[1]}`, `{"data":{"variable":1}}`, `{"keys":[null,{}]}`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResponse(data)
		if err != nil {
			if !errorsIs(err, ErrBadRequest) {
				t.Fatalf("error not wrapping ErrBadRequest: %v", err)
			}
			return
		}
		if err := r.Err(); err != nil {
			e := err.(*Error)
			if e.Message == "" || e.Code == "" {
				t.Fatalf("incomplete error %+v", e)
			}
			_ = e.Error()
		}
		_, _ = r.Entity("channel")
		_, _ = r.Variable()
	})
}

// FuzzBuildResponse: no ARI answer makes BuildResponse panic or answer
// nothing.
func FuzzBuildResponse(f *testing.F) {
	f.Add(uint16(0), 200, []byte(`{"id":"x"}`))
	f.Add(uint16(5), 200, []byte(`[{"channel":"a"}]`))
	f.Add(uint16(40), 404, []byte(`{"message":"x"}`))
	f.Add(uint16(77), 200, []byte(`[{"technology":"a","resource":"b"}]`))
	kinds := Kinds()
	f.Fuzz(func(t *testing.T, i uint16, status int, body []byte) {
		k := kinds[int(i)%len(kinds)]
		r := BuildResponse(k, Key{Node: "n", ID: "a"}, ari.Params{"channelId": "c"}, status, body)
		if r == nil {
			t.Fatal("nil response")
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("response does not marshal: %v", err)
		}
	})
}

// FuzzEventResources: no event makes EventResources panic; every resource
// it names has an entity kind that appears in events and an id.
func FuzzEventResources(f *testing.F) {
	for _, s := range []string{
		`{"type":"StasisStart","channel":{"id":"c1"},"replace_channel":{"id":"c0"}}`,
		`{"type":"PlaybackFinished","playback":{"id":"p1","target_uri":"channel:c1"}}`,
		`{"type":"RecordingFailed","recording":{"name":"r","target_uri":"bridge:"}}`,
		`{"type":"EndpointStateChange","endpoint":{"technology":"PJSIP","resource":5}}`,
		`{"type":"Dial","peer":{"id":7},"caller":[]}`, `{"type":"Dial","peer":{"id":"a.b*"}}`, `{`, ``, `[]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, typ := range []string{ari.TypeStasisStart, ari.TypePlaybackFinished, ari.TypeRecordingFailed, ari.TypeEndpointStateChange, ari.TypeDial, "Nope"} {
			refs, ended := EventResources(nil, typ, []byte(raw))
			for _, r := range refs {
				if e := EntityOf(r.Kind); e == nil || !e.Events || r.ID == "" {
					t.Fatalf("%s %q: resource %+v", typ, raw, r)
				}
			}
			if ended.ID != "" && !slices.Contains(refs, ended) {
				t.Fatalf("%s %q: ended %+v not among %v", typ, raw, ended, refs)
			}
		}
	})
}
