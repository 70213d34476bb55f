// Package bench measures ari-proxy against plain ARI in one process: it
// starts an embedded NATS server, the ARI simulator and a proxy server on
// free loopback ports, then runs, one after the other, the scenarios that
// `ari-proxy bench` reports:
//
//  1. the simulator alone: REST requests/s and WebSocket events/s, its own
//     capacity, so that a proxied figure close to it is known to be capped
//     by the simulator rather than by the proxy;
//  2. requests: one data and one command operation made directly over HTTP
//     and through the client library over the bus (requests/s, latency);
//  3. events: a flood read from the WebSocket directly and received by a
//     client Subscribe through the proxy;
//  4. calls: inbound calls answered and hung up by a direct ARI
//     application and by a client Listen through the proxy.
//
// Every figure of one Report comes from the same run, so the ratios
// between them hold even on a busy machine where absolute numbers drift.
package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// Defaults of Options.
const (
	DefaultDuration    = 3 * time.Second
	DefaultConcurrency = 8
	DefaultEvents      = 200000
	DefaultCalls       = 1000
)

// Names of the simulated Asterisk and its Stasis applications.
const (
	EntityID = "02:fc:00:00:be:01"
	// AppProxied is served by the proxy server.
	AppProxied = "bench"
	// AppDirect is held by the benchmark's own WebSockets (direct ARI).
	AppDirect = "bench-direct"

	simUser = "bench"
)

// Bounds of the waits around the measurements.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 5 * time.Second
	// idleTimeout ends an events or calls measurement when nothing has
	// progressed for this long: something was lost or is stuck.
	idleTimeout = 10 * time.Second
)

// The paced calls measurement: at most maxPacedCalls calls (a fifth of
// Options.Calls) at pacedRate calls/s, well under any machine's capacity.
const (
	maxPacedCalls = 200
	pacedRate     = 100.0
)

// Options configure Run. Zero values take the defaults.
type Options struct {
	// Duration is how long each request-rate measurement lasts
	// (DefaultDuration).
	Duration time.Duration
	// Concurrency is how many requests are in flight at once
	// (DefaultConcurrency).
	Concurrency int
	// Events is how many events each flood sends (DefaultEvents).
	Events int
	// Calls is how many inbound calls each calls measurement places
	// (DefaultCalls).
	Calls int
	// BusURL is the bus to measure on (nats://, amqp://...); "" starts an
	// embedded NATS server.
	BusURL string
	// Logger receives the components' logs (nil: discarded).
	Logger *slog.Logger
	// Progress, when set, is called before each measurement with its name.
	Progress func(step string)
}

func (o *Options) defaults() {
	if o.Duration <= 0 {
		o.Duration = DefaultDuration
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Events <= 0 {
		o.Events = DefaultEvents
	}
	if o.Calls <= 0 {
		o.Calls = DefaultCalls
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

// env is what the scenarios run against: the simulator, the proxy server
// in front of it for AppProxied, and a client of the proxy.
type env struct {
	opts     Options
	sim      *arisim.Sim
	password string
	http     *http.Client // direct ARI, the same transport the proxy uses
	cli      *client.Client
}

// Run starts NATS, the simulator and the proxy server, runs every scenario
// and stops everything. A scenario that cannot run at all fails Run; one
// whose requests partly fail is reported with its error count.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	log := opts.Logger
	rep := newReport(opts)

	st, err := localstack.Start(ctx, localstack.Options{
		BusURL:       opts.BusURL,
		Application:  AppProxied,
		EntityID:     EntityID,
		SimUser:      simUser,
		Name:         "ari-proxy bench server",
		Logger:       log,
		ReadyTimeout: startTimeout,
		StopTimeout:  stopTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Warn("stopping the stack", "err", err)
		}
	}()
	sim := st.Sim

	cli, err := client.New(ctx, client.WithURL(st.BusURL()), client.WithApplication(AppProxied),
		client.WithNode(EntityID), client.WithLogger(log.With("component", "client")))
	if err != nil {
		return nil, fmt.Errorf("bench: client: %w", err)
	}
	defer cli.Close()

	tr := ariconn.NewTransport()
	defer tr.CloseIdleConnections()
	e := &env{opts: opts, sim: sim, password: st.SimPassword, cli: cli,
		http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}

	// A call in Stasis for the requests to act on, held by the proxy's
	// WebSocket; its echo half waits 300 s, longer than any run.
	chanID, err := sim.InboundCall(AppProxied)
	if err != nil {
		return nil, fmt.Errorf("bench: placing the call to query: %w", err)
	}
	if err := e.waitProxied(ctx, chanID); err != nil {
		return nil, err
	}

	if err := e.simulatorAlone(ctx, rep, chanID); err != nil {
		return nil, err
	}
	if err := e.requests(ctx, rep, chanID); err != nil {
		return nil, err
	}
	if err := e.events(ctx, rep); err != nil {
		return nil, err
	}
	if err := e.calls(ctx, rep); err != nil {
		return nil, err
	}
	rep.finish()
	return rep, nil
}

// waitProxied waits until the proxy knows the channel: its StasisStart
// went through before the first request asks for it.
func (e *env) waitProxied(ctx context.Context, id string) error {
	deadline := time.Now().Add(startTimeout)
	for {
		_, err := e.cli.Channel(id).Get(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bench: channel %s not reachable through the proxy: %w", id, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// simulatorAlone measures the simulator's own capacity.
func (e *env) simulatorAlone(ctx context.Context, rep *Report, chanID string) error {
	e.opts.Progress("simulator: GET /asterisk/info")
	r, err := e.load(ctx, "GET /asterisk/info", e.direct(http.MethodGet, "/asterisk/info"))
	if err != nil {
		return err
	}
	rep.Simulator.REST = append(rep.Simulator.REST, r)

	e.opts.Progress("simulator: GET /channels/{id}")
	r, err = e.load(ctx, "GET /channels/{id}", e.direct(http.MethodGet, "/channels/"+chanID))
	if err != nil {
		return err
	}
	rep.Simulator.REST = append(rep.Simulator.REST, r)

	e.opts.Progress("simulator: events over the WebSocket")
	ev, err := e.floodDirect(ctx, "WebSocket reader", false)
	if err != nil {
		return err
	}
	rep.Simulator.Events = ev
	return nil
}

// requests compares direct and proxied requests, each pair measured back
// to back.
func (e *env) requests(ctx context.Context, rep *Report, chanID string) error {
	h := e.cli.Channel(chanID)
	// The direct GET decodes the channel as the client library does.
	pairs := []struct {
		name            string
		direct, proxied func(context.Context) error
	}{
		{"channel data (GET /channels/{id})",
			e.direct(http.MethodGet, "/channels/"+chanID, func() any { return new(ari.Channel) }),
			func(ctx context.Context) error { _, err := h.Get(ctx); return err }},
		{"channel answer (POST /channels/{id}/answer)",
			e.direct(http.MethodPost, "/channels/"+chanID+"/answer"),
			h.Answer},
	}
	for _, p := range pairs {
		e.opts.Progress("requests: " + p.name + " direct")
		d, err := e.load(ctx, p.name+" direct", p.direct)
		if err != nil {
			return err
		}
		e.opts.Progress("requests: " + p.name + " proxied")
		px, err := e.load(ctx, p.name+" proxied", p.proxied)
		if err != nil {
			return err
		}
		rep.Requests = append(rep.Requests, compare(p.name, d, px))
	}
	return nil
}

// events compares a flood read directly with one received through the
// proxy by a client subscription.
func (e *env) events(ctx context.Context, rep *Report) error {
	e.opts.Progress("events: direct")
	d, err := e.floodDirect(ctx, "direct WebSocket application (decoding)", true)
	if err != nil {
		return err
	}
	e.opts.Progress("events: proxied")
	p, err := e.floodProxied(ctx)
	if err != nil {
		return err
	}
	e.opts.Progress("events: proxied, bus subscriber")
	raw, err := e.floodProxiedRaw(ctx)
	if err != nil {
		return err
	}
	// The simulator's flood again, right after the proxied ones: its
	// capacity is the better of its two figures, so that a moment of
	// contention on a shared machine does not understate it.
	e.opts.Progress("events: simulator again")
	again, err := e.floodDirect(ctx, "WebSocket reader", false)
	if err != nil {
		return err
	}
	if again.PerSecond > rep.Simulator.Events.PerSecond {
		rep.Simulator.Events = again
	}
	rep.Events = EventComparison{Direct: d, Proxied: p, ProxiedRaw: raw,
		Ratio: ratio(p.PerSecond, d.PerSecond), RatioRaw: ratio(raw.PerSecond, rep.Simulator.Events.PerSecond)}
	return nil
}

// calls compares inbound calls handled by a direct ARI application with
// calls handled by a client Listen through the proxy: all at once for the
// throughput, then paced for the setup latency of an unloaded system.
func (e *env) calls(ctx context.Context, rep *Report) error {
	paced := min(max(e.opts.Calls/5, 1), maxPacedCalls)
	var got [2][2]CallStats // [direct, proxied][burst, paced]
	for i, start := range []func(context.Context) (*callApp, error){e.directCalls, e.proxiedCalls} {
		a, err := start(ctx)
		if err != nil {
			return err
		}
		e.opts.Progress("calls: " + a.name)
		got[i][0], err = e.runCalls(ctx, a, e.opts.Calls, 0)
		if err == nil {
			e.opts.Progress(fmt.Sprintf("calls: %s, %d at %.0f/s", a.name, paced, pacedRate))
			got[i][1], err = e.runCalls(ctx, a, paced, pacedRate)
		}
		a.stop()
		if err != nil {
			return err
		}
	}
	rep.Calls = CallComparison{Direct: got[0][0], Proxied: got[1][0],
		Ratio:       ratio(got[1][0].PerSecond, got[0][0].PerSecond),
		PacedDirect: got[0][1], PacedProxied: got[1][1],
		LatencyRatio: ratio(got[1][1].Setup.Mean, got[0][1].Setup.Mean)}
	return nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// machine returns the facts that qualify the figures.
func machine() Machine {
	return Machine{GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU()}
}
