package proxy_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/wire"
)

// The three benchmarks quote the proxy's cost against plain ARI:
//
//	go test -run '^$' -bench . ./proxy/
//
// BenchmarkRequestChannelData / BenchmarkDirectARI is the price of a
// request over the bus (client -> NATS -> server -> ARI -> server -> NATS
// -> client) against the same GET /channels/{id} made directly.

// BenchmarkRequestChannelData: a raw bus request for ChannelData on the
// node subject, answered by the server from the simulator.
func BenchmarkRequestChannelData(b *testing.B) {
	e := newEnv(b)
	e.originate("bench-1", e.sub(e.subj.Event(app, node1)))
	subject := e.subj.Request(wire.ClassData, app, node1)
	req := []byte(`{"kind":"ChannelData","key":{"kind":"channel","id":"bench-1","node":"` + node1 + `","app":"demo"}}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var reply []byte
		err := e.cli.RequestMany(ctx, subject, req, func(r []byte) bool { reply = r; return false })
		if err != nil || !bytes.HasPrefix(reply, []byte(`{"error":"","data":{"channel":`)) {
			b.Fatalf("reply %s (%v)", reply, err)
		}
	}
}

// BenchmarkDirectARI: the same lookup straight to the simulator over HTTP.
func BenchmarkDirectARI(b *testing.B) {
	e := newEnv(b)
	e.originate("bench-1", e.sub(e.subj.Event(app, node1)))
	url := e.sim.URL() + "/channels/bench-1"
	client := &http.Client{Timeout: 10 * time.Second}
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.SetBasicAuth(localstack.SimUser, localstack.SimPassword)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) == 0 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkEventThroughput: events flooded by the simulator on one call,
// through the server, to a NATS subscriber. One op is one event.
func BenchmarkEventThroughput(b *testing.B) {
	e := newEnv(b)
	events := e.sub(e.subj.Event(app, node1))
	e.originate("flood-1", events)
	drain(events)
	b.ReportAllocs()
	b.ResetTimer()
	errc := make(chan error, 1)
	go func() { errc <- e.sim.Flood(context.Background(), app, b.N) }()
	deadline := time.After(time.Minute)
	for got := 0; got < b.N; {
		select {
		case <-events:
			got++
		case <-deadline:
			b.Fatalf("received %d of %d events", got, b.N)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
