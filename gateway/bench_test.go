package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/valyala/fasthttp"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/gateway"
	"github.com/ariproxy/ari-proxy/internal/arihttp"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// The benchmarks measure what the gateway adds on top of the proxied leg
// (client -> bus -> server -> simulator), everything in this process: the
// same request or event flood direct, through the Go client or a bus
// subscriber, and through the gateway. Each reports the process's CPU
// time per operation (cpu-us/op), far steadier than latency on a shared
// machine: gateway minus proxied is the gateway's own cost.

type benchStack struct {
	st     *localstack.Stack
	cli    *client.Client
	base   string // the gateway's HTTP base URL
	http   *http.Client
	chanID string
}

const benchApp = "gwbench"

func startBench(b *testing.B) *benchStack {
	b.Helper()
	ctx := context.Background()
	st, err := localstack.Start(ctx, localstack.Options{Application: benchApp, EntityID: nodeA})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	cli, err := client.New(ctx, client.WithURL(st.BusURL()), client.WithApplication(benchApp))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	g, err := gateway.New(gateway.Config{Client: cli, User: user, Password: pass})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: g}
	go hs.Serve(ln)
	b.Cleanup(func() { hs.Close(); g.Close() })
	tr := ariconn.NewTransport()
	b.Cleanup(tr.CloseIdleConnections)
	bs := &benchStack{st: st, cli: cli, base: "http://" + ln.Addr().String(), http: &http.Client{Transport: tr}}
	if bs.chanID, err = st.Sim.InboundCall(benchApp); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := cli.Channel(bs.chanID).Get(ctx); err == nil {
			break
		} else if time.Now().After(deadline) {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return bs
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs op b.N times from 8 goroutines and reports CPU per op.
func measure(b *testing.B, op func() error) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuNow()
	var errs atomic.Int64
	b.SetParallelism(4) // 8 requests in flight on 2 cores, as ari-proxy bench
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				if errs.Add(1) == 1 {
					b.Error(err)
				}
			}
		}
	})
	b.ReportMetric(float64((cpuNow()-cpu).Microseconds())/float64(b.N), "cpu-us/op")
}

func (bs *benchStack) get(u, usr, pw string) func() error {
	return func() error {
		req, err := http.NewRequest("GET", u, nil)
		if err != nil {
			return err
		}
		req.SetBasicAuth(usr, pw)
		res, err := bs.http.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err == nil && res.StatusCode != 200 {
			err = fmt.Errorf("GET %s: %s", u, res.Status)
		}
		return err
	}
}

// BenchmarkRequest is GET /channels/{id}: direct to the simulator, through
// the Go client (the proxied leg, as the gateway sends it) and through the
// gateway.
func BenchmarkRequest(b *testing.B) {
	bs := startBench(b)
	b.Run("direct", func(b *testing.B) {
		measure(b, bs.get(bs.st.Sim.URL()+"/channels/"+bs.chanID, localstack.DefaultSimUser, bs.st.SimPassword))
	})
	b.Run("proxied", func(b *testing.B) {
		key := client.Key{Kind: "channel", ID: bs.chanID, Node: nodeA}
		c := bs.cli.WithNode(nodeA)
		measure(b, func() error {
			_, err := c.DoExact(context.Background(), ari.OpChannelsGet, key, ari.Params{"channelId": bs.chanID})
			return err
		})
	})
	b.Run("gateway", func(b *testing.B) {
		measure(b, bs.get(bs.base+"/ari/channels/"+bs.chanID, user, pass))
	})
}

// countMessages counts the messages of conn until it fails.
func countMessages(conn *websocket.Conn, cnt *atomic.Int64) {
	conn.SetReadLimit(-1)
	go func() {
		for {
			if _, _, err := conn.Read(context.Background()); err != nil {
				return
			}
			cnt.Add(1)
		}
	}()
}

// BenchmarkRequestRatio measures the three sides of BenchmarkRequest
// interleaved, in rounds of b.N/10 requests each, so that a burst of
// another job on the machine hits every side alike, and reports each
// side's CPU per request and the gateway's against the others.
func BenchmarkRequestRatio(b *testing.B) {
	bs := startBench(b)
	key := client.Key{Kind: "channel", ID: bs.chanID, App: benchApp, Node: nodeA}
	sides := []func() error{
		bs.get(bs.st.Sim.URL()+"/channels/"+bs.chanID, localstack.DefaultSimUser, bs.st.SimPassword),
		func() error {
			_, err := bs.cli.DoExact(context.Background(), ari.OpChannelsGet, key, ari.Params{"channelId": bs.chanID})
			return err
		},
		bs.get(bs.base+"/ari/channels/"+bs.chanID, user, pass),
	}
	// The floor of any HTTP front: the same client against a net/http
	// server answering the channel's body at once, headers as the
	// gateway's.
	req, _ := http.NewRequest("GET", bs.st.Sim.URL()+"/channels/"+bs.chanID, nil)
	req.SetBasicAuth(localstack.DefaultSimUser, bs.st.SimPassword)
	res, err := bs.http.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	fixed := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arihttp.Write(w, "bench", 200, nil, "", body)
	})}
	go fixed.Serve(ln)
	defer fixed.Close()
	sides = append(sides, bs.get("http://"+ln.Addr().String()+"/ari/channels/"+bs.chanID, user, pass))
	// And against fasthttp's server (the library ariconn calls ARI with):
	// the floor with a cheaper HTTP server than net/http's.
	fln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	fs := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("Server", "bench")
		ctx.Response.Header.Set("Cache-Control", "no-cache, no-store")
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}}
	go fs.Serve(fln)
	defer fs.Shutdown()
	sides = append(sides, bs.get("http://"+fln.Addr().String()+"/ari/channels/"+bs.chanID, user, pass))
	var cpu [5]time.Duration
	per := max(b.N/10, 50)
	b.ResetTimer()
	for round := range 10 {
		for j := range sides {
			i := (j + round) % len(sides)
			start := cpuNow()
			var wg sync.WaitGroup
			var next atomic.Int64
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(per) {
						if err := sides[i](); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			cpu[i] += cpuNow() - start
		}
	}
	n := float64(10 * per)
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / n }
	b.ReportMetric(us(cpu[0]), "direct-cpu-us/op")
	b.ReportMetric(us(cpu[1]), "proxied-cpu-us/op")
	b.ReportMetric(us(cpu[2]), "gateway-cpu-us/op")
	b.ReportMetric(us(cpu[2]-cpu[1]), "gateway-own-cpu-us/op")
	b.ReportMetric(us(cpu[3]), "http-hop-cpu-us/op")
	b.ReportMetric(us(cpu[4]), "fasthttp-hop-cpu-us/op")
	b.ReportMetric(float64(cpu[2])/float64(cpu[0]), "gateway/direct")
}

// BenchmarkEvents floods b.N events: counted by a WebSocket reader
// straight from the simulator, by a plain bus subscriber (the proxied
// leg, the gateway's input) and by a reader of a gateway WebSocket.
func BenchmarkEvents(b *testing.B) {
	bs := startBench(b)
	ctx := context.Background()
	flood := func(b *testing.B, app string, cnt *atomic.Int64) {
		// A probe first: the receiver is in place.
		for cnt.Load() == 0 {
			if err := bs.st.Sim.Flood(ctx, app, 1); err != nil && !errors.Is(err, arisim.ErrNoApplication) {
				b.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuNow()
		start := cnt.Load()
		if err := bs.st.Sim.Flood(ctx, app, b.N); err != nil {
			b.Fatal(err)
		}
		last, lastT := cnt.Load(), time.Now()
		for cnt.Load()-start < int64(b.N) {
			time.Sleep(time.Millisecond)
			if n := cnt.Load(); n != last {
				last, lastT = n, time.Now()
			} else if time.Since(lastT) > 3*time.Second {
				b.Fatalf("received %d of %d events", n-start, b.N)
			}
		}
		b.ReportMetric(float64((cpuNow()-cpu).Microseconds())/float64(b.N), "cpu-us/op")
	}
	b.Run("direct", func(b *testing.B) {
		// An application of its own on the simulator's WebSocket: Asterisk
		// to an ARI application, no proxy.
		direct := benchApp + "-direct"
		q := url.Values{"app": {direct}, "api_key": {localstack.DefaultSimUser + ":" + bs.st.SimPassword}}
		conn, _, err := websocket.Dial(ctx, bs.st.Sim.WebSocketURL()+"?"+q.Encode(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.CloseNow()
		var cnt atomic.Int64
		countMessages(conn, &cnt)
		flood(b, direct, &cnt)
	})
	b.Run("bus", func(b *testing.B) {
		var cnt atomic.Int64
		sub, err := bs.cli.Bus().Subscribe(bs.cli.EventsSubject(), func(bus.Msg) { cnt.Add(1) })
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Unsubscribe()
		flood(b, benchApp, &cnt)
	})
	b.Run("gateway", func(b *testing.B) {
		var cnt atomic.Int64
		q := url.Values{"app": {benchApp}, "api_key": {user + ":" + pass}}
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(bs.base, "http")+"/ari/events?"+q.Encode(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.CloseNow()
		countMessages(conn, &cnt)
		flood(b, benchApp, &cnt)
	})
}
