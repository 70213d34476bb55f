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

	// Simulator is the simulator's own capacity, measured alone.
	Simulator struct {
		REST   []Rate    `json:"rest"`
		Events EventRate `json:"events"`
	} `json:"simulator"`
	Requests []Comparison    `json:"requests"`
	Events   EventComparison `json:"events"`
	Calls    CallComparison  `json:"calls"`

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
	Duration    string `json:"duration"`
	Concurrency int    `json:"concurrency"`
	Events      int    `json:"events"`
	Calls       int    `json:"calls"`
	Bus         string `json:"bus"` // "embedded NATS", or the bus URL without credentials
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
	Name       string  `json:"name"`
	Ops        int     `json:"ops"` // successful requests
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	Latency    Latency `json:"latency"`
}

// Comparison is one operation made directly and through the proxy.
type Comparison struct {
	Name    string `json:"name"`
	Direct  Rate   `json:"direct"`
	Proxied Rate   `json:"proxied"`
	// Ratio is proxied/direct requests per second.
	Ratio float64 `json:"ratio"`
	// LatencyRatio is proxied/direct median latency.
	LatencyRatio float64 `json:"latency_ratio"`
}

func compare(name string, direct, proxied Rate) Comparison {
	return Comparison{Name: name, Direct: direct, Proxied: proxied,
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
		Settings: Settings{Duration: o.Duration.String(), Concurrency: o.Concurrency, Events: o.Events, Calls: o.Calls,
			Bus: busName(o.BusURL)}}
}

// finish computes the headroom and the warnings.
func (r *Report) finish() {
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
	for i, c := range r.Requests {
		sim := c.Direct.PerSecond // the simulator's rate for this very operation
		if i == 0 {
			sim = max(sim, restCap("GET /channels/{id}"))
		}
		add(c.Name, sim, c.Proxied.PerSecond)
	}
	add("events", r.Simulator.Events.PerSecond, max(r.Events.Proxied.PerSecond, r.Events.ProxiedRaw.PerSecond))
	// A direct application's call rate is a lower bound of the simulator's.
	add(callsHeadroom, r.Calls.Direct.PerSecond, r.Calls.Proxied.PerSecond)

	rates := append([]Rate{}, r.Simulator.REST...)
	for _, c := range r.Requests {
		rates = append(rates, c.Direct, c.Proxied)
	}
	for _, x := range rates {
		if x.Errors > 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: %d of %d requests failed, first: %s",
				x.Name, x.Errors, x.Errors+x.Ops, x.FirstError))
		}
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
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as readable tables.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	m, s := r.Machine, r.Settings
	fmt.Fprintf(&b, "ari-proxy bench, %s\n", r.Date.Format(time.RFC3339))
	fmt.Fprintf(&b, "machine: %s %s/%s, GOMAXPROCS=%d, NumCPU=%d\n", m.GoVersion, m.OS, m.Arch, m.GOMAXPROCS, m.NumCPU)
	fmt.Fprintf(&b, "settings: %s per rate measurement, concurrency %d, %d events per flood, %d calls, bus %s\n",
		s.Duration, s.Concurrency, s.Events, s.Calls, s.Bus)
	fmt.Fprintf(&b, "In one process: embedded NATS, the ARI simulator, the proxy server and the clients share the CPUs.\n")

	tw := &table{w: &b}
	row := tw.row

	b.WriteString("\n1. Simulator alone (its own capacity)\n")
	row("", "per second", "p50 ms", "p99 ms")
	for _, x := range r.Simulator.REST {
		row("REST "+x.Name, rate(x.PerSecond), lat(x.Latency.P50), lat(x.Latency.P99))
	}
	row("events, Flood to a WebSocket reader", rate(r.Simulator.Events.PerSecond), "", "")
	tw.Flush()

	b.WriteString("\n2. Requests: direct ARI over HTTP vs client library through the proxy (requests/s)\n")
	row("operation", "direct", "proxied", "ratio", "direct p50/p99 ms", "proxied p50/p99 ms", "p50 ratio")
	for _, c := range r.Requests {
		row(c.Name, rate(c.Direct.PerSecond), rate(c.Proxied.PerSecond), fmt.Sprintf("%.2f", c.Ratio),
			lat(c.Direct.Latency.P50)+" / "+lat(c.Direct.Latency.P99),
			lat(c.Proxied.Latency.P50)+" / "+lat(c.Proxied.Latency.P99),
			fmt.Sprintf("%.1fx", c.LatencyRatio))
	}
	tw.Flush()

	b.WriteString("\n3. Events: Flood through the proxy vs read from the WebSocket directly\n")
	row("", "events/s", "received", "seconds")
	for _, e := range []EventRate{r.Events.Direct, r.Events.Proxied, r.Simulator.Events, r.Events.ProxiedRaw} {
		name := e.Name
		if e == r.Simulator.Events {
			name = "plain WebSocket reader, no decoding (from 1.)"
		}
		row(name, rate(e.PerSecond), fmt.Sprintf("%d/%d", e.Received, e.Sent), fmt.Sprintf("%.2f", e.Seconds))
	}
	row("ratio proxied/direct, decoding (client Subscribe / direct application)", fmt.Sprintf("%.2f", r.Events.Ratio))
	row("ratio proxied/direct, no decoding (bus subscriber / plain reader)", fmt.Sprintf("%.2f", r.Events.RatioRaw))
	tw.Flush()

	b.WriteString("\n4. Calls: inbound calls (sim.RunInbound), answered and hung up by the application\n")
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
	fmt.Fprintf(&b, "  ratio proxied/direct: %.2f calls/s (all at once); %.1fx mean setup latency (paced)\n",
		c.Ratio, c.LatencyRatio)

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

	if len(r.Warnings) > 0 {
		b.WriteString("\nWarnings:\n")
		for _, w := range r.Warnings {
			b.WriteString("  - " + w + "\n")
		}
	}
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
func busName(url string) string {
	if url == "" {
		return "embedded NATS"
	}
	return busdial.RedactURL(url)
}
