package arisim

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkREST measures REST requests per second over real HTTP
// connections (keep-alive, parallel clients).
func BenchmarkREST(b *testing.B) {
	s := testSim(b, Config{})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	do := func(b *testing.B, method, path string) {
		req, _ := http.NewRequest(method, s.URL()+path, nil)
		req.SetBasicAuth("proxy", "secret")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode >= 300 {
			b.Fatalf("%s %s: %d", method, path, res.StatusCode)
		}
	}
	b.Run("asterisk.getInfo", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				do(b, "GET", "/asterisk/info")
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("channels.answer", func(b *testing.B) {
		ws := dialEvents(b, s, "app=demo")
		id, err := s.InboundCall("demo")
		if err != nil {
			b.Fatal(err)
		}
		ws.waitType(b, "StasisStart", id)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				do(b, "POST", "/channels/"+id+"/answer")
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}

// BenchmarkEvents measures events per second through Flood to a real
// WebSocket client that reads as fast as it can.
func BenchmarkEvents(b *testing.B) {
	s := testSim(b, Config{})
	ctx := context.Background()
	conn, _, err := websocket.Dial(ctx, s.WebSocketURL()+"?app=bench&api_key=proxy:secret", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.CloseNow()
	time.Sleep(20 * time.Millisecond)
	got := make(chan int, 1)
	go func() {
		n := 0
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				got <- n
				return
			}
			n++
			if n == b.N {
				got <- n
				return
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Flood(ctx, "bench", b.N); err != nil {
		b.Fatal(err)
	}
	if n := <-got; n != b.N {
		b.Fatalf("read %d of %d events", n, b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
