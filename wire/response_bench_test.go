package wire

import (
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
)

// channelBody is a GET /channels/{id} answer as Asterisk 22 writes it.
const channelBody = `{"id":"1763779175.0","name":"PJSIP/1001-00000000","state":"Up","protocol_id":"b2c1e5a0-7d1f-4c7e-9a1b-2f3e4d5c6b7a","caller":{"name":"Alice","number":"1001"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"default","exten":"100","priority":3,"app_name":"Stasis","app_data":"demo"},"creationtime":"2026-11-22T02:39:35.083+0000","language":"en","channelvars":{"CHANNEL(rtp,dest)":"","X":"y"}}`

// BenchmarkBuildResponse: the server's reply to a ChannelData request,
// where the entity's id is read from ARI's body.
//
//	go test -run '^$' -bench BuildResponse -benchmem ./wire/
func BenchmarkBuildResponse(b *testing.B) {
	k, ok := LookupKind("ChannelData")
	if !ok {
		b.Fatal("no ChannelData kind")
	}
	base := Key{Kind: "channel", ID: "1763779175.0", Node: "n1", App: "demo"}
	params := ari.Params{"channelId": "1763779175.0"}
	body := []byte(channelBody)
	b.ReportAllocs()
	for b.Loop() {
		if r := BuildResponse(k, base, params, 200, body); r.Error != "" {
			b.Fatal(r.Error)
		}
	}
}

// TestIDOfMatchesDecode: the member walk of idOf gives what decoding the
// body into a map gave, errors included.
func TestIDOfMatchesDecode(t *testing.T) {
	for _, obj := range []string{
		channelBody, `{"id":"a","id":"b"}`, `{"id":5}`, `{"id":null}`, `{"id":{"x":1}}`, `{"i\u0064":"esc"}`,
		`{"ID":"case"}`, `{"technology":"PJSIP","resource":"1001"}`, `{"technology":"PJSIP"}`, `{}`,
		` {"name":"\u00e9\"q"} `, "{\"id\":\"\xff\"}", `{"id":true}`, `[]`, `null`, `"s"`, `{`, ``, `{"id":"a"} x`,
		`{"a":"1","b":"2","c":"3"}`, `{"technology":"","resource":""}`,
	} {
		for _, f := range []string{"id", "name", "technology/resource", "a/b/c", "", "id/id"} {
			want, werr := idOfDecoded([]byte(obj), f)
			got, gerr := idOf([]byte(obj), f)
			if got != want || (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
				t.Errorf("idOf(%s, %s) = %q, %v; decoding gives %q, %v", obj, f, got, gerr, want, werr)
			}
		}
	}
}

func FuzzIDOf(f *testing.F) {
	f.Add([]byte(channelBody), "id")
	f.Add([]byte(`{"technology":"PJSIP","resource":"1001"}`), "technology/resource")
	f.Fuzz(func(t *testing.T, obj []byte, field string) {
		want, werr := idOfDecoded(obj, field)
		got, gerr := idOf(obj, field)
		if got != want || (werr == nil) != (gerr == nil) {
			t.Fatalf("idOf(%s, %q) = %q, %v; decoding gives %q, %v", obj, field, got, gerr, want, werr)
		}
	})
}
