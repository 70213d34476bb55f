package proxy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
)

// BenchmarkRouteEvent: one event through handleEvent (decode of what
// routing needs, publish on the event subject and, with dialogs bound,
// on the dialog subjects), on a real embedded NATS with no subscriber.
// Allocations per op are in docs/benchmarks.md:
//
//	go test -run '^$' -bench RouteEvent -benchmem ./proxy/
func BenchmarkRouteEvent(b *testing.B) {
	ctx := context.Background()
	emb, err := natsserver.Start(ctx, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer emb.Shutdown()
	conn, err := natsbus.Connect(ctx, emb.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	s, err := New(Config{Applications: []string{"bench"}, Bus: conn,
		ARI: ariconn.Config{HTTPURL: "http://127.0.0.1:1/ari", Username: "u", Password: "p"}})
	if err != nil {
		b.Fatal(err)
	}
	s.runCtx = ctx
	node := "02:fc:00:00:be:01"
	s.node.Store(&node)

	userEvent := []byte(`{"type":"ChannelUserevent","timestamp":"2026-11-22T02:39:35.083+0000","eventname":"Flood","userevent":{"seq":"1"},"asterisk_id":"02:fc:00:00:be:01","application":"bench"}`)
	stasisStart := []byte(`{"type":"StasisStart","timestamp":"2026-11-22T02:39:35.083+0000","args":[],"channel":{"id":"c-500","name":"PJSIP/1001-00000001","state":"Up","protocol_id":"","caller":{"name":"Alice","number":"1001"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"default","exten":"100","priority":3,"app_name":"Stasis","app_data":"bench"},"creationtime":"2026-11-22T02:39:35.083+0000","language":"en"},"asterisk_id":"02:fc:00:00:be:01","application":"bench"}`)
	run := func(name string, raw []byte) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				s.handleEvent(raw)
			}
		})
	}
	run("no dialogs", userEvent)
	now := time.Now()
	for i := range 1000 {
		s.dialogs.bind(resKey{kindChannel, fmt.Sprintf("c-%d", i)}, fmt.Sprintf("d%d", i), false, now)
	}
	run("1000 dialogs, unbound event", userEvent)
	run("1000 dialogs, bound channel", stasisStart)
}
