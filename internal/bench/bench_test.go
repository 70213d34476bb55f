package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
)

// TestRun runs every scenario with tiny sizes and checks that each figure
// is there and sane. Absolute numbers are not asserted: the machine is
// shared.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := Smoke()
	opts.Progress = func(step string) { t.Log(step) }
	if os.Getenv("ARIPROXY_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	start := time.Now()
	rep, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ran in %s", time.Since(start))

	if len(rep.Simulator.REST) != 2 {
		t.Fatalf("simulator REST figures: %+v", rep.Simulator.REST)
	}
	for _, r := range rep.Simulator.REST {
		checkRate(t, r)
	}
	checkEvents(t, rep.Simulator.Events)

	if len(rep.BusRTT) != 2 {
		t.Fatalf("bus round trips: %+v", rep.BusRTT)
	}
	for _, r := range rep.BusRTT {
		checkRate(t, r)
	}
	if len(rep.Requests) != 4 {
		t.Fatalf("request comparisons: %+v", rep.Requests)
	}
	for _, c := range rep.Requests {
		checkRate(t, c.Direct)
		checkRate(t, c.Proxied)
		if c.Ratio <= 0 || c.LatencyRatio <= 0 || c.ServerCPUMicros <= 0 {
			t.Errorf("%s: ratio %v, latency ratio %v, CPU %v us", c.Name, c.Ratio, c.LatencyRatio, c.ServerCPUMicros)
		}
	}

	checkEvents(t, rep.Events.Direct)
	checkEvents(t, rep.Events.Proxied)
	checkEvents(t, rep.Events.ProxiedRaw)
	if rep.Events.Ratio <= 0 || rep.Events.RatioRaw <= 0 || rep.Events.ServerCPUMicros <= 0 {
		t.Errorf("events ratio %v", rep.Events.Ratio)
	}

	for _, c := range []CallStats{rep.Calls.Direct, rep.Calls.Proxied, rep.Calls.PacedDirect, rep.Calls.PacedProxied} {
		if c.Completed != c.Calls || c.Errors != 0 || c.PerSecond <= 0 || c.Setup.Mean <= 0 || c.Setup.P99 < c.Setup.P50 {
			t.Errorf("calls %s: %+v", c.Name, c)
		}
	}
	if rep.Calls.Ratio <= 0 || rep.Calls.LatencyRatio <= 0 || rep.Calls.PacedDirect.Rate != pacedRate {
		t.Errorf("calls ratios %v, %v, paced at %v", rep.Calls.Ratio, rep.Calls.LatencyRatio, rep.Calls.PacedDirect.Rate)
	}

	sc := rep.Scale
	// BackToIdle is a figure (a target of the proxy server), not asserted.
	if sc == nil || sc.Errors != 0 || sc.Active.Bindings < float64(opts.ScaleCalls) ||
		sc.Idle.RSSBytes <= 0 || sc.Active.Goroutines <= sc.Idle.Goroutines {
		t.Errorf("call scale: %+v", sc)
	}
	if len(rep.Scatter) != len(opts.ScatterServers) {
		t.Fatalf("scatter: %+v", rep.Scatter)
	}
	for i, p := range rep.Scatter {
		checkRate(t, p.Full)
		checkRate(t, p.Partial)
		checkRate(t, p.Learned)
		if p.Servers != opts.ScatterServers[i] || p.Ratio <= 0 || p.LearnedRatio <= 0 {
			t.Errorf("scatter %+v", p)
		}
	}
	if s := rep.Summary; s.LatencyRatio <= 0 || s.ThroughputRatio <= 0 || s.EventsPerSecond <= 0 ||
		s.EventsRatio <= 0 || s.CallsRatio <= 0 || s.OverheadRTTs == 0 {
		t.Errorf("summary %+v", s)
	}

	if len(rep.Headroom) != 6 {
		t.Errorf("headroom: %+v", rep.Headroom)
	}
	for _, h := range rep.Headroom {
		if h.Simulator <= 0 || h.Proxied <= 0 || h.Ratio <= 0 {
			t.Errorf("headroom %+v", h)
		}
	}
	if rep.Machine.GOMAXPROCS < 1 || !strings.HasPrefix(rep.Machine.GoVersion, "go") {
		t.Errorf("machine %+v", rep.Machine)
	}

	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GOMAXPROCS=", "1. Bus round trip", "2. Simulator alone", "3. Requests", "4. Events",
		"5. Calls", "6. Call scale", "7. Scatter-gather", "headroom", "Targets"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	lines := strings.Split(strings.TrimSpace(text.String()), "\n")
	last := regexp.MustCompile(`^bench: latency-ratio=[0-9.]+ throughput-ratio=[0-9.]+ events-per-sec=[0-9]+ overhead-rtts=-?[0-9.]+ events-ratio=[0-9.]+ calls-ratio=[0-9.]+$`)
	if !last.MatchString(lines[len(lines)-1]) {
		t.Errorf("last line %q", lines[len(lines)-1])
	}
	t.Log("\n" + text.String())

	var svg bytes.Buffer
	if err := rep.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(svg.String(), "<svg") || !strings.Contains(svg.String(), "latency") {
		t.Errorf("chart: %.200s", svg.String())
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not decode: %v\n%s", err, js.String())
	}
	if back.Requests[0].Ratio != rep.Requests[0].Ratio || back.Machine != rep.Machine {
		t.Errorf("JSON round trip: %+v", back)
	}
}

func checkRate(t *testing.T, r Rate) {
	t.Helper()
	if r.Ops <= 0 || r.Errors != 0 || r.PerSecond <= 0 || r.Seconds <= 0 ||
		r.Latency.P50 <= 0 || r.Latency.P99 < r.Latency.P50 || r.Latency.Max < r.Latency.P99 {
		t.Errorf("%s: %+v", r.Name, r)
	}
}

func checkEvents(t *testing.T, e EventRate) {
	t.Helper()
	if e.Received != e.Sent || e.Sent <= 0 || e.PerSecond <= 0 {
		t.Errorf("events %s: %+v", e.Name, e)
	}
}

func TestSummarize(t *testing.T) {
	var lats []time.Duration
	for i := 100; i >= 1; i-- {
		lats = append(lats, time.Duration(i)*time.Millisecond)
	}
	got := summarize(lats)
	want := Latency{Mean: 50.5, P50: 50, P99: 99, Max: 100}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if (summarize(nil) != Latency{}) {
		t.Error("summarize(nil) not zero")
	}
}

func TestHeadroomWarns(t *testing.T) {
	r := &Report{}
	r.Simulator.REST = []Rate{{Name: "GET /channels/{id}", PerSecond: 1000}}
	r.Simulator.Events = EventRate{Sent: 10, Received: 10, PerSecond: 100}
	r.Requests = []Comparison{compare(nameChannelData, 8, Rate{PerSecond: 900}, Rate{PerSecond: 600})}
	r.Events = EventComparison{Proxied: EventRate{Sent: 10, Received: 9, PerSecond: 10}}
	r.Calls = CallComparison{Direct: CallStats{PerSecond: 50}, Proxied: CallStats{PerSecond: 20},
		PacedDirect: CallStats{Calls: 3, Completed: 3}, PacedProxied: CallStats{Calls: 3, Completed: 3}}
	r.finish()
	dataName := nameChannelData + ", 8 in flight"
	want := map[string]bool{dataName: false, "events": true, callsHeadroom: true}
	for _, h := range r.Headroom {
		if h.Ok != want[h.Name] {
			t.Errorf("headroom %+v, want ok=%v", h, want[h.Name])
		}
	}
	if h := r.Headroom[0]; h.Simulator != 1000 || h.Ratio < 1.66 || h.Ratio > 1.67 {
		t.Errorf("data headroom uses the simulator's best figure: %+v", h)
	}
	text := strings.Join(r.Warnings, "\n")
	if !strings.Contains(text, dataName+": the simulator's capacity") || !strings.Contains(text, "received 9 of 10") ||
		strings.Contains(text, "calls ") {
		t.Errorf("warnings:\n%s", text)
	}
}

// TestFull runs the whole benchmark with the defaults and prints the
// report, as `ari-proxy bench` does; only with ARIPROXY_BENCH=1 (it takes
// about half a minute):
//
//	ARIPROXY_BENCH=1 go test -run TestFull -v ./internal/bench/
func TestFull(t *testing.T) {
	if os.Getenv("ARIPROXY_BENCH") != "1" {
		t.Skip("set ARIPROXY_BENCH=1 to run the full benchmark")
	}
	rep, err := Run(context.Background(), Options{Progress: func(step string) { t.Log(step) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteText(os.Stdout); err != nil {
		t.Fatal(err)
	}
	if path := os.Getenv("ARIPROXY_BENCH_JSON"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := rep.WriteJSON(f); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHeadroomBelowOne(t *testing.T) {
	r := &Report{}
	r.Simulator.REST = []Rate{{Name: "GET /channels/{id}", PerSecond: 1000}}
	r.Simulator.Events = EventRate{Sent: 1, Received: 1, PerSecond: 50}
	r.Events = EventComparison{Proxied: EventRate{Sent: 1, Received: 1, PerSecond: 80}}
	r.finish()
	if text := strings.Join(r.Warnings, "\n"); !strings.Contains(text, "events: the simulator's capacity (50/s) measured below the proxied figure (80/s)") {
		t.Errorf("warnings:\n%s", text)
	}
}

// TestRunExternal points the benchmark at an Asterisk of its own (a
// simulator it did not start, reached as a real one through its URL) and
// an external bus: the request and bus figures are measured, the rest is
// reported as skipped.
func TestRunExternal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sim := arisim.New(arisim.Config{User: "asterisk", Password: "secret", EntityID: "02:fc:00:00:ee:01"})
	if _, err := sim.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	nats, err := natsserver.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer nats.Shutdown()

	opts := Smoke()
	opts.ARIURL, opts.ARIUser, opts.ARIPassword, opts.App = sim.URL(), "asterisk", "secret", "mine"
	opts.BusURL = nats.ClientURL()
	rep, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Requests) != 2 || rep.Requests[0].Name != nameAsteriskInfo {
		t.Fatalf("requests: %+v", rep.Requests)
	}
	for _, c := range rep.Requests {
		checkRate(t, c.Direct)
		checkRate(t, c.Proxied)
	}
	if s := rep.Summary; s.LatencyRatio <= 0 || s.ThroughputRatio <= 0 || s.OverheadRTTs == 0 || s.EventsPerSecond != 0 {
		t.Errorf("summary %+v", s)
	}
	if len(rep.Skipped) == 0 || rep.Scale != nil || len(rep.Scatter) != 0 || rep.Settings.Bus != nats.ClientURL() {
		t.Errorf("report: skipped %v, scale %v, scatter %v, bus %q", rep.Skipped, rep.Scale, rep.Scatter, rep.Settings.Bus)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteSVG(io.Discard); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + text.String())
}
