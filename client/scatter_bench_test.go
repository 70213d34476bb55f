package client

import (
	"fmt"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/wire"
)

// The client's side of partial-key requests:
//
//	go test -run '^$' -bench 'Gather|Locations' -benchmem ./client/

// BenchmarkGatherScatter20: the answers of 20 servers to a cold partial
// key, 19 not found and the owner's last (the worst order).
func BenchmarkGatherScatter20(b *testing.B) {
	benchGather(b, `{"error":"Non-2XX response: 404 Not Found","error_code":"not_found","ari_status":404,"node":"02:fc:00:00:5c:%02x"}`)
}

// benchGather gathers 19 answers made from format (with a node number)
// and the owner's, last.
func benchGather(b *testing.B, format string) {
	others := make([][]byte, 19)
	for i := range others {
		others[i] = fmt.Appendf(nil, format, i+1)
	}
	b.ReportAllocs()
	for b.Loop() {
		g := gather{expected: 20}
		for _, r := range others {
			g.collect(r)
		}
		if g.collect(channelDataReply) {
			b.Fatal("more after the success")
		}
		if _, err := g.result(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocationsHit: what routing a learned partial key adds to a
// request: the look-up of its node among 10000 known resources.
func BenchmarkLocationsHit(b *testing.B) {
	l := newLocations(DefaultLocationCache)
	for i := range DefaultLocationCache {
		l.learn(wire.Ref{Kind: "channel", ID: fmt.Sprint(i)}, "02:fc:00:00:be:01")
	}
	ref := wire.Ref{Kind: "channel", ID: "5000"}
	b.ReportAllocs()
	for b.Loop() {
		if l.node(ref) == "" {
			b.Fatal("not known")
		}
	}
}

// BenchmarkLocationsLearnReply: what a successful ChannelData reply
// costs the cache (the entry exists: the steady state).
func BenchmarkLocationsLearnReply(b *testing.B) {
	l := newLocations(DefaultLocationCache)
	k := wire.KindOf(ari.OpChannelsGet)
	key := Key{Kind: "channel", ID: "1763779175.0", App: "bench"}
	resp := &wire.Response{Node: "02:fc:00:00:be:01", Key: &wire.Key{Kind: "channel", ID: "1763779175.0", Node: "02:fc:00:00:be:01"}}
	b.ReportAllocs()
	for b.Loop() {
		l.learnReply(k, key, resp)
	}
}

// BenchmarkGatherProbe20: the answers of 20 servers to a probe, 19
// unclaimed and the owner's last (the worst order).
func BenchmarkGatherProbe20(b *testing.B) {
	benchGather(b, `{"error":"unclaimed: channel 1763779175.0 not seen here","error_code":"unclaimed","node":"02:fc:00:00:5c:%02x"}`)
}
