package wire

import (
	"encoding/json"
	"testing"
)

// The server's hot path for one request, piece by piece (allocations per
// op are in docs/benchmarks.md):
//
//	go test -run '^$' -bench 'DecodeRequest|DecodeCall|EncodeResponse|BuildResponse' -benchmem ./wire/

// channelDataRequest is a ChannelData request as the client library sends it.
var channelDataRequest = []byte(`{"kind":"ChannelData","key":{"kind":"channel","id":"1763779175.0","node":"02:fc:00:00:be:01","app":"bench"}}`)

// BenchmarkDecodeRequest: the envelope of a request.
func BenchmarkDecodeRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest(channelDataRequest); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCall: the envelope and the server's decode step
// (kind, parameters, dialog targets).
func BenchmarkDecodeCall(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		req, err := DecodeRequest(channelDataRequest)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(req, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeResponse: a ChannelData reply, built and encoded as the
// server publishes it.
func BenchmarkEncodeResponse(b *testing.B) {
	k, _ := LookupKind("ChannelData")
	base := Key{Kind: "channel", ID: "1763779175.0", Node: "02:fc:00:00:be:01", App: "bench"}
	req, _ := DecodeRequest(channelDataRequest)
	c, _ := Decode(req, "bench")
	body := []byte(channelBody)
	b.ReportAllocs()
	if r := BuildResponse(k, base, c.Params, 200, body); !json.Valid(r.AppendJSON(nil)) {
		b.Fatalf("invalid reply %s", r.AppendJSON(nil))
	}
	for b.Loop() {
		r := *BuildResponse(k, base, c.Params, 200, body)
		r.Node = base.Node
		_ = r.AppendJSON(make([]byte, 0, 64+len(r.Data)))
	}
}
