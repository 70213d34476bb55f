package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ariproxy/ari-proxy/bus/busdial"
)

// HeadroomMin is the least ratio of the simulator's own capacity to a
// proxied figure under which the report warns that the simulator may be
// what limits the proxied figure.
const HeadroomMin = 2.0

// Report is the outcome of Run. Latencies are in milliseconds; ratios are
// proxied/direct.
type Report struct {
	Date     time.Time `json:"date"`
	Machine  Machine   `json:"machine"`
	Settings Settings  `json:"settings"`
	// Target is what ARI was measured: the simulator or a real Asterisk.
	Target string `json:"target"`
	// ServerScope says whose CPU and memory the proxy server's figures
	// are: its own process, or the whole benchmark's.
	ServerScope string `json:"server_scope"`
	// Skipped lists the scenarios that did not run, and why.
	Skipped []string `json:"skipped,omitempty"`

	// BusRTT is the bare bus round trip, at each request concurrency.
	BusRTT []Rate `json:"bus_rtt"`

	// Simulator is the simulator's own capacity, measured alone.
	Simulator struct {
		REST   []Rate    `json:"rest"`
		Events EventRate `json:"events"`
	} `json:"simulator"`
	Requests []Comparison    `json:"requests"`
	Events   EventComparison `json:"events"`
	Calls    CallComparison  `json:"calls"`
	// Scale is the proxy server's footprint with many calls up (nil when
	// not measured).
	Scale *CallScale `json:"call_scale,omitempty"`
	// Scatter is partial-key against full-key latency by server count.
	Scatter []ScatterPoint `json:"scatter_gather,omitempty"`

	// Summary holds the figures of the report's last line.
	Summary Summary `json:"summary"`
	// Targets compares the summary with the performance targets.
	Targets []Target `json:"targets"`

	// Headroom compares the simulator's capacity with each proxied figure.
	Headroom []Headroom `json:"headroom"`
	// Warnings are what makes figures doubtful: failed requests, lost
	// events, a simulator within HeadroomMin of a proxied figure.
	Warnings []string `json:"warnings,omitempty"`
}

// Machine are the facts of the machine and runtime.
type Machine struct {
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	NumCPU     int    `json:"num_cpu"`
}

// Settings are the Options the run used.
type Settings struct {
	Duration        string `json:"duration"`
	Concurrency     int    `json:"concurrency"`
	HighConcurrency int    `json:"high_concurrency"`
	Events          int    `json:"events"`
	Calls           int    `json:"calls"`
	ScaleCalls      int    `json:"scale_calls"`
	ScatterServers  []int  `json:"scatter_servers"`
	Bus             string `json:"bus"`
}

// Latency summarizes latencies, in milliseconds.
type Latency struct {
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// Rate is a request-rate measurement.
type Rate struct {
	Name        string  `json:"name"`
	Concurrency int     `json:"concurrency"`
	Ops         int     `json:"ops"` // successful requests
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"per_second"`
	Latency     Latency `json:"latency"`
}

// Comparison is one operation made directly and through the proxy.
type Comparison struct {
	Name        string `json:"name"`
	Concurrency int    `json:"concurrency"`
	Direct      Rate   `json:"direct"`
	Proxied     Rate   `json:"proxied"`
	// Ratio is proxied/direct requests per second.
	Ratio float64 `json:"ratio"`
	// LatencyRatio is proxied/direct median latency.
	LatencyRatio float64 `json:"latency_ratio"`
	// ServerCPUMicros is the proxy server's CPU time per proxied request,
	// in microseconds (see Report.ServerScope), 0 when unknown.
	ServerCPUMicros float64 `json:"server_cpu_us_per_request"`
}

func compare(name string, concurrency int, direct, proxied Rate) Comparison {
	return Comparison{Name: name, Concurrency: concurrency, Direct: direct, Proxied: proxied,
		Ratio:        ratio(proxied.PerSecond, direct.PerSecond),
		LatencyRatio: ratio(proxied.Latency.P50, direct.Latency.P50)}
}

// EventRate is one flood: Sent events, Received of them in Seconds (from
// the start of the flood to the last one received).
type EventRate struct {
	Name      string  `json:"name"`
	Sent      int     `json:"sent"`
	Received  int     `json:"received"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
}

// EventComparison is a flood decoded by an application reading the
// WebSocket directly and by a client subscription through the proxy, and
// one counted by a bus subscriber that does not decode (the proxy's own
// capacity).
type EventComparison struct {
	Direct     EventRate `json:"direct"`
	Proxied    EventRate `json:"proxied"`
	ProxiedRaw EventRate `json:"proxied_raw"`
	// Ratio is proxied/direct events per second (both decode).
	Ratio float64 `json:"ratio"`
	// RatioRaw is ProxiedRaw over the simulator's plain WebSocket reader
	// (neither decodes).
	RatioRaw float64 `json:"ratio_raw"`
	// ServerCPUMicros is the proxy server's CPU time per event of the
	// ProxiedRaw flood, in microseconds, 0 when unknown.
	ServerCPUMicros float64 `json:"server_cpu_us_per_event"`
}

// CallStats is one calls measurement: Calls placed at Rate calls/s (0: all
// at once), answered and hung up by the application; Setup is from
// StasisStart (its timestamp, of millisecond precision, less the mean
// truncation of 0.5 ms) to the answer's reply.
type CallStats struct {
	Name       string  `json:"name"`
	Calls      int     `json:"calls"`
	Rate       float64 `json:"rate"`
	Completed  int     `json:"completed"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	Setup      Latency `json:"setup"`
}

// CallComparison is the same calls handled directly and through the
// proxy: all at once (Direct, Proxied: throughput; their setup latency is
// mostly queueing) and paced (setup latency of an unloaded system).
type CallComparison struct {
	Direct       CallStats `json:"direct"`
	Proxied      CallStats `json:"proxied"`
	Ratio        float64   `json:"ratio"` // proxied/direct calls per second
	PacedDirect  CallStats `json:"paced_direct"`
	PacedProxied CallStats `json:"paced_proxied"`
	// LatencyRatio is proxied/direct mean setup latency, paced.
	LatencyRatio float64 `json:"latency_ratio"`
	// SetupP50Ratio and PacedSetupP50Ratio are proxied/direct median setup
	// latency, all at once and paced.
	SetupP50Ratio      float64 `json:"setup_p50_ratio"`
	PacedSetupP50Ratio float64 `json:"paced_setup_p50_ratio"`
}

// CallScale is the proxy server's footprint idle, with Calls calls up at
// once (each answered with a dialog of its own, so the server holds a
// binding per call) and after they all ended. BackToIdle is whether its
// goroutines and bindings came back to the idle figures within 15 s.
type CallScale struct {
	Calls      int     `json:"calls"`
	UpSeconds  float64 `json:"up_seconds"` // until every call was answered
	Idle       Sample  `json:"idle"`       // at the start of the run, before any load
	Before     Sample  `json:"before"`     // right before the calls, after the other sections
	Active     Sample  `json:"active"`
	After      Sample  `json:"after"`
	BackToIdle bool    `json:"back_to_idle"` // goroutines and bindings back to Before's
	// RSSBackToIdle: RSS back within rssSlack of Idle's within the settle time.
	RSSBackToIdle bool   `json:"rss_back_to_idle"`
	Errors        int    `json:"errors"`
	FirstError    string `json:"first_error,omitempty"`
}

// ScatterPoint is channel data latency, one request at a time, with a
// full key (to the one server that has the channel), a cold partial key
// (to every one of Servers servers, from a client that has learned
// nothing) and the partial key of an id the client has learned (to the
// node it learned), with Ratio and LearnedRatio their medians over the
// full key's.
type ScatterPoint struct {
	Servers      int     `json:"servers"`
	Full         Rate    `json:"full_key"`
	Partial      Rate    `json:"partial_key"`
	Ratio        float64 `json:"ratio"`
	Learned      Rate    `json:"partial_key_learned"`
	LearnedRatio float64 `json:"ratio_learned"`
}

// Summary is the figures of the report's last line (0: not measured).
type Summary struct {
	// LatencyRatio is proxied/direct p50 of channel data at Concurrency.
	LatencyRatio float64 `json:"latency_ratio"`
	// ThroughputRatio is proxied/direct channel data requests/s at
	// HighConcurrency.
	ThroughputRatio float64 `json:"throughput_ratio"`
	// EventsPerSecond is what a raw bus subscriber received through the
	// proxy.
	EventsPerSecond float64 `json:"events_per_sec"`
	// OverheadRTTs is (proxied p50 - direct p50) of channel data over the
	// bus round trip p50, at Concurrency.
	OverheadRTTs float64 `json:"overhead_rtts"`
	// EventsRatio is raw bus subscriber / plain WebSocket reader events/s.
	EventsRatio float64 `json:"events_ratio"`
	// CallsRatio is Listen / direct calls/s, all at once.
	CallsRatio float64 `json:"calls_ratio"`
}

// Line is the report's last line, exactly:
//
//	bench: latency-ratio=X throughput-ratio=Y events-per-sec=Z overhead-rtts=W events-ratio=V calls-ratio=U
func (s Summary) Line() string {
	return fmt.Sprintf("bench: latency-ratio=%.2f throughput-ratio=%.2f events-per-sec=%.0f overhead-rtts=%.2f events-ratio=%.2f calls-ratio=%.2f",
		s.LatencyRatio, s.ThroughputRatio, s.EventsPerSecond, s.OverheadRTTs, s.EventsRatio, s.CallsRatio)
}

// Target is one performance target and whether the run met it.
type Target struct {
	Figure   string  `json:"figure"`
	Measured float64 `json:"measured"`
	Want     string  `json:"want"`
	Met      bool    `json:"met"`
}

// Headroom is the simulator's capacity for what a proxied figure measures,
// divided by that figure. Below HeadroomMin the simulator may be the limit.
type Headroom struct {
	Name      string  `json:"name"`
	Simulator float64 `json:"simulator_per_second"`
	Proxied   float64 `json:"proxied_per_second"`
	Ratio     float64 `json:"ratio"`
	Ok        bool    `json:"ok"`
}

// callsHeadroom names the calls headroom: the simulator's figure is the
// rate of the direct application, a lower bound of its capacity.
const callsHeadroom = "calls (simulator: the direct application's rate)"

func newReport(o Options) *Report {
	return &Report{Date: time.Now().UTC().Truncate(time.Second), Machine: machine(),
		Settings: Settings{Duration: o.Duration.String(), Concurrency: o.Concurrency, HighConcurrency: o.HighConcurrency,
			Events: o.Events, Calls: o.Calls, ScaleCalls: o.ScaleCalls, ScatterServers: o.ScatterServers, Bus: busName(o.BusURL, o.BusNote)}}
}

// comparison returns the request comparison of name at concurrency c.
func (r *Report) comparison(name string, c int) (Comparison, bool) {
	for _, x := range r.Requests {
		if x.Name == name && x.Concurrency == c {
			return x, true
		}
	}
	return Comparison{}, false
}

// busRTT returns the bus round trip at concurrency c.
func (r *Report) busRTT(c int) (Rate, bool) {
	for _, x := range r.BusRTT {
		if x.Concurrency == c {
			return x, true
		}
	}
	return Rate{}, false
}

// summarize computes the summary and the targets.
func (r *Report) summarize() {
	s := &r.Summary
	name := nameChannelData
	if len(r.Simulator.REST) == 0 {
		name = nameAsteriskInfo // a real Asterisk: no channel to query
	}
	if c, ok := r.comparison(name, r.Settings.Concurrency); ok {
		s.LatencyRatio = c.LatencyRatio
		if rtt, ok := r.busRTT(r.Settings.Concurrency); ok {
			s.OverheadRTTs = ratio(c.Proxied.Latency.P50-c.Direct.Latency.P50, rtt.Latency.P50)
		}
	}
	if c, ok := r.comparison(name, r.Settings.HighConcurrency); ok {
		s.ThroughputRatio = c.Ratio
	}
	s.EventsPerSecond = r.Events.ProxiedRaw.PerSecond
	s.EventsRatio = r.Events.RatioRaw
	s.CallsRatio = r.Calls.Ratio

	at := func(figure string, v float64, want string, met bool) {
		r.Targets = append(r.Targets, Target{Figure: figure, Measured: v, Want: want, Met: met})
	}
	at("overhead-rtts (proxied minus direct p50, in bus round trips)", s.OverheadRTTs, "<= 2.0", s.OverheadRTTs <= 2.0)
	at("latency-ratio, channel data p50", s.LatencyRatio, "<= 1.8", s.LatencyRatio <= 1.8)
	at(fmt.Sprintf("throughput-ratio at %d workers", r.Settings.HighConcurrency), s.ThroughputRatio, ">= 0.6", s.ThroughputRatio >= 0.6)
	if s.EventsPerSecond > 0 {
		at("events-ratio, raw bus subscriber / plain reader", s.EventsRatio, ">= 0.8", s.EventsRatio >= 0.8)
	}
	if r.Calls.Direct.Calls > 0 {
		at("calls-ratio, Listen burst / direct burst", s.CallsRatio, ">= 0.6", s.CallsRatio >= 0.6)
		at("calls setup p50, Listen burst / direct burst", r.Calls.SetupP50Ratio, "<= 3.0", r.Calls.SetupP50Ratio <= 3.0)
	}
	for _, p := range r.Scatter {
		if p.Servers == 20 {
			at("scatter-gather at 20 servers, partial key of a learned id / full key, p50", p.LearnedRatio, "<= 2.0", p.LearnedRatio <= 2.0)
			at("scatter-gather at 20 servers, cold partial key (every server) / full key, p50", p.Ratio, "<= 2.0", p.Ratio <= 2.0)
		}
	}
	if sc := r.Scale; sc != nil {
		at("proxy server RSS idle, MiB", sc.Idle.RSSMB(), "< 30", sc.Idle.RSSMB() < 30)
		at(fmt.Sprintf("proxy server RSS with %d calls, MiB", sc.Calls), sc.Active.RSSMB(), "< 100", sc.Active.RSSMB() < 100)
		at("goroutines and bindings back to idle after the calls", b2f(sc.BackToIdle), "1 (yes)", sc.BackToIdle)
		at("proxy server RSS back to idle after the calls", b2f(sc.RSSBackToIdle), "1 (yes)", sc.RSSBackToIdle)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// finish computes the headroom, the warnings and the summary.
func (r *Report) finish() {
	defer r.summarize()
	restCap := func(name string) float64 {
		for _, s := range r.Simulator.REST {
			if s.Name == name {
				return s.PerSecond
			}
		}
		return 0
	}
	add := func(name string, sim, proxied float64) {
		h := Headroom{Name: name, Simulator: sim, Proxied: proxied, Ratio: ratio(sim, proxied)}
		h.Ok = h.Ratio >= HeadroomMin
		r.Headroom = append(r.Headroom, h)
		switch {
		case h.Ratio < 1:
			r.Warnings = append(r.Warnings, fmt.Sprintf(
				"%s: the simulator's capacity (%.0f/s) measured below the proxied figure (%.0f/s): a disturbed measurement (a busy machine?); run again",
				name, sim, proxied))
		case !h.Ok:
			r.Warnings = append(r.Warnings, fmt.Sprintf(
				"%s: the simulator's capacity (%.0f/s) is within %.0fx of the proxied figure (%.0f/s): the simulator may be the bottleneck",
				name, sim, HeadroomMin, proxied))
		}
	}
	if len(r.Simulator.REST) > 0 {
		for _, c := range r.Requests {
			sim := c.Direct.PerSecond // the simulator's rate for this very operation
			if c.Name == nameChannelData {
				sim = max(sim, restCap("GET /channels/{id}"))
			}
			add(fmt.Sprintf("%s, %d in flight", c.Name, c.Concurrency), sim, c.Proxied.PerSecond)
		}
		add("events", r.Simulator.Events.PerSecond, max(r.Events.Proxied.PerSecond, r.Events.ProxiedRaw.PerSecond))
		// A direct application's call rate is a lower bound of the simulator's.
		add(callsHeadroom, r.Calls.Direct.PerSecond, r.Calls.Proxied.PerSecond)
	}

	rates := append(append([]Rate{}, r.Simulator.REST...), r.BusRTT...)
	for _, c := range r.Requests {
		rates = append(rates, c.Direct, c.Proxied)
	}
	for _, p := range r.Scatter {
		rates = append(rates, p.Full, p.Partial, p.Learned)
	}
	for _, x := range rates {
		if x.Errors > 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: %d of %d requests failed, first: %s",
				x.Name, x.Errors, x.Errors+x.Ops, x.FirstError))
		}
	}
	if len(r.Simulator.REST) == 0 {
		return
	}
	for _, e := range []EventRate{r.Simulator.Events, r.Events.Direct, r.Events.Proxied, r.Events.ProxiedRaw} {
		if e.Received < e.Sent {
			r.Warnings = append(r.Warnings, fmt.Sprintf("events %s: received %d of %d", e.Name, e.Received, e.Sent))
		}
	}
	for _, c := range []CallStats{r.Calls.Direct, r.Calls.Proxied, r.Calls.PacedDirect, r.Calls.PacedProxied} {
		if c.Errors > 0 || c.Completed < c.Calls {
			r.Warnings = append(r.Warnings, fmt.Sprintf("calls %s: %d of %d completed, %d failed (%s)",
				c.Name, c.Completed, c.Calls, c.Errors, c.FirstError))
		}
	}
	if sc := r.Scale; sc != nil {
		if sc.Errors > 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("call scale: %d requests failed, first: %s", sc.Errors, sc.FirstError))
		}
		if !sc.BackToIdle {
			r.Warnings = append(r.Warnings, fmt.Sprintf("call scale: after the calls the proxy server has %.0f goroutines and %.0f bindings, idle %.0f and %.0f",
				sc.After.Goroutines, sc.After.Bindings, sc.Idle.Goroutines, sc.Idle.Bindings))
		}
	}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as readable tables, the summary line last.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	m, s := r.Machine, r.Settings
	fmt.Fprintf(&b, "ari-proxy bench, %s\n", r.Date.Format(time.RFC3339))
	fmt.Fprintf(&b, "machine: %s %s/%s, GOMAXPROCS=%d, NumCPU=%d\n", m.GoVersion, m.OS, m.Arch, m.GOMAXPROCS, m.NumCPU)
	fmt.Fprintf(&b, "settings: %s per rate measurement, %d and %d in flight, %d events per flood, %d calls, %d scale calls, scatter over %v servers\n",
		s.Duration, s.Concurrency, s.HighConcurrency, s.Events, s.Calls, s.ScaleCalls, s.ScatterServers)
	fmt.Fprintf(&b, "target: %s; bus: %s; proxy server CPU and memory: %s\n", r.Target, s.Bus, r.ServerScope)

	tw := &table{w: &b}
	row := tw.row

	b.WriteString("\n1. Bus round trip: request-reply to an echo responder (interleaved with the channel data requests of 3.)\n")
	row("", "in flight", "per second", "p50 ms", "p99 ms")
	for _, x := range r.BusRTT {
		row(x.Name, fmt.Sprint(x.Concurrency), rate(x.PerSecond), lat(x.Latency.P50), lat(x.Latency.P99))
	}
	tw.Flush()

	if len(r.Simulator.REST) > 0 {
		b.WriteString("\n2. Simulator alone (its own capacity)\n")
		row("", "per second", "p50 ms", "p99 ms")
		for _, x := range r.Simulator.REST {
			row("REST "+x.Name, rate(x.PerSecond), lat(x.Latency.P50), lat(x.Latency.P99))
		}
		row("events, Flood to a WebSocket reader", rate(r.Simulator.Events.PerSecond), "", "")
		tw.Flush()
	}

	b.WriteString("\n3. Requests: direct ARI over HTTP vs client library through the proxy (requests/s)\n")
	row("operation", "in flight", "direct", "proxied", "ratio", "direct p50/p99 ms", "proxied p50/p99 ms", "p50 ratio", "server CPU us/req")
	for _, c := range r.Requests {
		row(c.Name, fmt.Sprint(c.Concurrency), rate(c.Direct.PerSecond), rate(c.Proxied.PerSecond), fmt.Sprintf("%.2f", c.Ratio),
			lat(c.Direct.Latency.P50)+" / "+lat(c.Direct.Latency.P99),
			lat(c.Proxied.Latency.P50)+" / "+lat(c.Proxied.Latency.P99),
			fmt.Sprintf("%.1fx", c.LatencyRatio), fmt.Sprintf("%.0f", c.ServerCPUMicros))
	}
	tw.Flush()

	if len(r.Simulator.REST) > 0 {
		b.WriteString("\n4. Events: Flood through the proxy vs read from the WebSocket directly\n")
		row("", "events/s", "received", "seconds")
		for _, e := range []EventRate{r.Events.Direct, r.Events.Proxied, r.Simulator.Events, r.Events.ProxiedRaw} {
			name := e.Name
			if e == r.Simulator.Events {
				name = "plain WebSocket reader, no decoding (from 2.)"
			}
			row(name, rate(e.PerSecond), fmt.Sprintf("%d/%d", e.Received, e.Sent), fmt.Sprintf("%.2f", e.Seconds))
		}
		row("ratio proxied/direct, decoding (client Subscribe / direct application)", fmt.Sprintf("%.2f", r.Events.Ratio))
		row("ratio proxied/direct, no decoding (bus subscriber / plain reader)", fmt.Sprintf("%.2f", r.Events.RatioRaw))
		row("proxy server CPU per event of the bus subscriber's flood, us", fmt.Sprintf("%.1f", r.Events.ServerCPUMicros))
		tw.Flush()

		b.WriteString("\n5. Calls: inbound calls (sim.RunInbound), answered and hung up by the application\n")
		row("", "calls", "calls/s", "completed", "setup mean ms", "p50 ms", "p99 ms")
		c := r.Calls
		for _, x := range []CallStats{c.Direct, c.Proxied, c.PacedDirect, c.PacedProxied} {
			placed := "all at once"
			if x.Rate > 0 {
				placed = fmt.Sprintf("at %.0f/s", x.Rate)
			}
			row(x.Name+", "+placed, fmt.Sprint(x.Calls), rate(x.PerSecond), fmt.Sprintf("%d/%d", x.Completed, x.Calls),
				lat(x.Setup.Mean), lat(x.Setup.P50), lat(x.Setup.P99))
		}
		tw.Flush()
		fmt.Fprintf(&b, "  ratio proxied/direct: %.2f calls/s and %.1fx setup p50 (all at once); %.1fx mean setup latency (paced)\n",
			c.Ratio, c.SetupP50Ratio, c.LatencyRatio)
	}

	if sc := r.Scale; sc != nil {
		fmt.Fprintf(&b, "\n6. Call scale: the proxy server with %d calls up at once (a dialog binding each), all up in %.1f s\n", sc.Calls, sc.UpSeconds)
		row("", "RSS MiB", "heap MiB", "goroutines", "bindings")
		for _, x := range []struct {
			name string
			s    Sample
		}{{"idle (at the start)", sc.Idle}, {"before the calls", sc.Before}, {fmt.Sprintf("%d calls up", sc.Calls), sc.Active}, {"after they ended", sc.After}} {
			row(x.name, fmt.Sprintf("%.1f", x.s.RSSMB()), fmt.Sprintf("%.1f", x.s.HeapBytes/(1<<20)),
				fmt.Sprintf("%.0f", x.s.Goroutines), fmt.Sprintf("%.0f", x.s.Bindings))
		}
		tw.Flush()
		fmt.Fprintf(&b, "  goroutines and bindings back to before the calls: %v; RSS back to idle (within %.0f %%): %v\n",
			sc.BackToIdle, rssSlack*100, sc.RSSBackToIdle)
	}

	if len(r.Scatter) > 0 {
		b.WriteString("\n7. Scatter-gather: channel data with a partial key vs a full key (one server), one at a time;\n" +
			"   learned: an id the client has had a reply about (sent to its node); cold: never seen (every server)\n")
		row("servers", "full p50/p99 ms", "learned p50/p99 ms", "ratio", "cold p50/p99 ms", "ratio")
		for _, p := range r.Scatter {
			row(fmt.Sprint(p.Servers), lat(p.Full.Latency.P50)+" / "+lat(p.Full.Latency.P99),
				lat(p.Learned.Latency.P50)+" / "+lat(p.Learned.Latency.P99), fmt.Sprintf("%.1fx", p.LearnedRatio),
				lat(p.Partial.Latency.P50)+" / "+lat(p.Partial.Latency.P99), fmt.Sprintf("%.1fx", p.Ratio))
		}
		tw.Flush()
	}

	if len(r.Headroom) > 0 {
		fmt.Fprintf(&b, "\nSimulator headroom (its capacity / proxied figure; under %.0fx it may be the bottleneck)\n", HeadroomMin)
		tw.leftLast = true
		row("", "simulator/s", "proxied/s", "headroom", "")
		for _, h := range r.Headroom {
			verdict := "ok"
			if !h.Ok {
				verdict = "the simulator may limit it"
			}
			row(h.Name, rate(h.Simulator), rate(h.Proxied), fmt.Sprintf("%.1fx", h.Ratio), verdict)
		}
		tw.Flush()
		tw.leftLast = false
	}

	b.WriteString("\nTargets\n")
	tw.leftLast = true
	row("figure", "measured", "target", "")
	for _, t := range r.Targets {
		verdict := "met"
		if !t.Met {
			verdict = "NOT met"
		}
		row(t.Figure, fmt.Sprintf("%.2f", t.Measured), t.Want, verdict)
	}
	tw.Flush()
	tw.leftLast = false

	for _, sk := range r.Skipped {
		b.WriteString("\nSkipped: " + sk + "\n")
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\nWarnings:\n")
		for _, w := range r.Warnings {
			b.WriteString("  - " + w + "\n")
		}
	}
	b.WriteString("\n" + r.Summary.Line() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func rate(v float64) string { return fmt.Sprintf("%.0f", v) }

func lat(v float64) string {
	if v >= 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// table lays rows out in columns: the first left-aligned, the others
// right-aligned, two spaces apart, indented by two.
type table struct {
	w    *strings.Builder
	rows [][]string
	// leftLast left-aligns the last column too (a verdict).
	leftLast bool
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

// Flush writes the rows and forgets them.
func (t *table) Flush() {
	var width []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range t.rows {
		line := " "
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i == 0 {
				line += " " + c + pad
			} else if t.leftLast && i == len(r)-1 {
				line += "  " + c + pad
			} else {
				line += "  " + pad + c
			}
		}
		t.w.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	t.rows = nil
}

// busName names the bus of a run for the report.
func busName(url, note string) string {
	name := "embedded NATS"
	if url != "" {
		name = busdial.RedactURL(url)
	}
	if note != "" {
		name += " (" + note + ")"
	}
	return name
}
