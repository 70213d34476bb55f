package amqpbus_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/bus/amqpbus"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// BenchmarkRequest is one request/reply round trip through the broker.
func BenchmarkRequest(b *testing.B) {
	url := bustest.RabbitMQURL(b)
	p := localstack.Prefix()
	cli := connectB(b, url)
	respond(b, connectB(b, url), p+"get.app")
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if err := cli.RequestMany(ctx, p+"get.app", []byte("q"), func([]byte) bool { return false }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvents is the throughput of events from one publisher to one
// subscriber.
func BenchmarkEvents(b *testing.B) {
	url := bustest.RabbitMQURL(b)
	p := localstack.Prefix()
	pub, sub := connectB(b, url), connectB(b, url)
	var got atomic.Int64
	if _, err := sub.Subscribe(p+"event.app.>", func(bus.Msg) { got.Add(1) }); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 600)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := pub.Publish(ctx, p+"event.app.n1", "", payload); err != nil {
			b.Fatal(err)
		}
		n++
	}
	for got.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkRequestPaced is the latency of requests a millisecond apart
// (spare reply channels refilled between them).
func BenchmarkRequestPaced(b *testing.B) {
	url := bustest.RabbitMQURL(b)
	p := localstack.Prefix()
	cli := connectB(b, url)
	respond(b, connectB(b, url), p+"get.app")
	ctx := context.Background()
	var total time.Duration
	var lat []time.Duration
	for b.Loop() {
		time.Sleep(time.Millisecond)
		start := time.Now()
		if err := cli.RequestMany(ctx, p+"get.app", []byte("q"), func([]byte) bool { return false }); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		total += d
		lat = append(lat, d)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
}

// respond answers every request on subject with "ok".
func respond(b *testing.B, srv *amqpbus.Bus, subject string) {
	if _, err := srv.Subscribe(subject, func(m bus.Msg) {
		_ = srv.Publish(context.Background(), m.Reply, "", []byte("ok"))
	}); err != nil {
		b.Fatal(err)
	}
}
