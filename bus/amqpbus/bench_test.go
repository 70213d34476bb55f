package amqpbus_test

import (
	"context"
	"runtime"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/bus/amqpbus"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// BenchmarkRequest is one request/reply round trip through the broker.
func BenchmarkRequest(b *testing.B) {
	cli, subject := requester(b)
	ctx := context.Background()
	cpu := startCPU(b)
	for b.Loop() {
		if err := cli.RequestMany(ctx, subject, []byte("q"), func([]byte) bool { return false }); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b.N)
}

// BenchmarkRequest8 is BenchmarkRequest with 8 requests in flight at
// once (the bench's latency concurrency), from one connection.
func BenchmarkRequest8(b *testing.B) {
	cli, subject := requester(b)
	ctx := context.Background()
	b.SetParallelism((8 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	cpu := startCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := cli.RequestMany(ctx, subject, []byte("q"), func([]byte) bool { return false }); err != nil {
				b.Error(err)
				return
			}
		}
	})
	cpu.report(b.N)
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
	cpu := startCPU(b)
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
	cpu.report(n)
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

// requester is a requester's connection and the subject an echo
// responder on a connection of its own answers.
func requester(b *testing.B) (*amqpbus.Bus, string) {
	url := bustest.RabbitMQURL(b)
	subject := localstack.Prefix() + "get.app"
	respond(b, connectB(b, url), subject)
	return connectB(b, url), subject
}

// respond answers every request on subject with "ok".
func respond(b *testing.B, srv *amqpbus.Bus, subject string) {
	if _, err := srv.Subscribe(subject, func(m bus.Msg) {
		_ = srv.Publish(context.Background(), m.Reply, "", []byte("ok"))
	}); err != nil {
		b.Fatal(err)
	}
}

// cpuMeter measures the CPU time of this process (the benchmark's
// clients and servers) and of the broker, reported per operation: far
// steadier than the time per operation on a shared machine.
type cpuMeter struct {
	b             *testing.B
	self, broker  time.Duration
	brokerUnknown bool
}

func startCPU(b *testing.B) *cpuMeter {
	m := &cpuMeter{b: b, self: selfCPU()}
	t, err := bustest.RabbitMQBroker(b).CPUTime()
	m.broker, m.brokerUnknown = t, err != nil
	b.ResetTimer()
	return m
}

// report adds client-us/op and broker-us/op for n operations.
func (m *cpuMeter) report(n int) {
	m.b.StopTimer()
	if n == 0 {
		return
	}
	m.b.ReportMetric(float64((selfCPU()-m.self).Microseconds())/float64(n), "client-us/op")
	if t, err := bustest.RabbitMQBroker(m.b).CPUTime(); err == nil && !m.brokerUnknown {
		m.b.ReportMetric(float64((t-m.broker).Microseconds())/float64(n), "broker-us/op")
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
