// Package bench measures ari-proxy against plain ARI: it starts (or
// reaches) a bus, the ARI simulator (or a real Asterisk) and a proxy
// server, in this process or as a child process, then runs, one after the
// other, the scenarios that `ari-proxy bench` reports:
//
//  1. the bus round trip: a bare request-reply to an echo responder, the
//     floor under every proxied request, measured with the requests of 3;
//  2. the simulator alone: REST requests/s and WebSocket events/s, its own
//     capacity, so that a proxied figure close to it is known to be capped
//     by the simulator rather than by the proxy;
//  3. requests: one data and one command operation made directly over HTTP
//     and through the client library over the bus (requests/s, latency,
//     the proxy server's CPU per request), at two concurrencies;
//  4. events: a flood read from the WebSocket directly and received
//     through the proxy (the proxy server's CPU per event);
//  5. calls: inbound calls answered and hung up by a direct ARI
//     application and by a client Listen through the proxy;
//  6. call scale: the proxy server's memory, goroutines and dialog
//     bindings idle, with thousands of calls up, and after they ended;
//  7. scatter-gather: a request with a partial key (no node) with 1 to 50
//     servers, against the same request with a full key: cold (an id the
//     client has never seen goes to every server) and learned (the client
//     sends an id whose node a reply named to that node).
//
// Every figure of one Report comes from the same run, so the ratios
// between them hold even on a busy machine where absolute numbers drift;
// the two sides of each request comparison (and the bus round trip) are
// measured interleaved, in slices, so that a burst of another job's work
// falls on both.
package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/client"
)

// Defaults of Options.
const (
	DefaultDuration        = 3 * time.Second
	DefaultConcurrency     = 8
	DefaultHighConcurrency = 32
	DefaultEvents          = 200000
	DefaultCalls           = 1000
	DefaultScaleCalls      = 2000
)

// DefaultScatterServers are the server counts of the scatter-gather
// measurement.
var DefaultScatterServers = []int{1, 5, 20, 50}

// Names of the simulated Asterisk and its Stasis applications.
const (
	EntityID = "02:fc:00:00:be:01"
	// AppProxied is served by the proxy server.
	AppProxied = "bench"
	// AppDirect is held by the benchmark's own WebSockets (direct ARI).
	AppDirect = "bench-direct"
	// AppScatter is served by the scatter-gather measurement's servers.
	AppScatter = "bench-scatter"

	simUser = "bench"
)

// Bounds of the waits around the measurements.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 5 * time.Second
	// idleTimeout ends an events or calls measurement when nothing has
	// progressed for this long: something was lost or is stuck.
	idleTimeout = 10 * time.Second
	// settleTimeout bounds the wait for the proxy server to come back to
	// its idle goroutines and bindings after the scale calls ended: longer
	// than the ARI transport keeps idle connections (10 s).
	settleTimeout = 15 * time.Second
	// rssSlack is how far above its idle RSS the server may stay and still
	// count as back to idle after the calls.
	rssSlack = 0.10
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
	// Concurrency is how many requests are in flight at once for the
	// latency figures (DefaultConcurrency).
	Concurrency int
	// HighConcurrency is the second, higher concurrency of the request
	// measurements, for the throughput figures (DefaultHighConcurrency).
	HighConcurrency int
	// Events is how many events each flood sends (DefaultEvents).
	Events int
	// Calls is how many inbound calls each calls measurement places
	// (DefaultCalls).
	Calls int
	// ScaleCalls is how many calls are up at once in the call scale
	// measurement (DefaultScaleCalls).
	ScaleCalls int
	// ScatterServers are the server counts of the scatter-gather
	// measurement (DefaultScatterServers), in increasing order.
	ScatterServers []int

	// BusURL is an external bus (nats://, amqp://...) every connection of
	// the run uses; "" starts an embedded NATS server.
	BusURL string
	// BusNote, when set, says more about the bus than its URL for the
	// report: the broker's version and settings (for the private
	// RabbitMQ of ari-proxy bench --rabbitmq, rabbitmqd's Settings).
	BusNote string
	// ARIURL, when set, is the REST base URL of a real Asterisk
	// (http://host:8088/ari) to measure instead of the simulator, with
	// ARIUser and ARIPassword, through a proxy server for App. The
	// scenarios that need the simulator's test hooks (floods, inbound
	// calls, many servers) are then skipped.
	ARIURL, ARIUser, ARIPassword string
	// App is the Stasis application of the proxied side (AppProxied).
	App string
	// ServerCommand, when set, runs the proxy server as a child process:
	// the ari-proxy executable and "serve"; the benchmark appends the
	// settings. Its CPU and memory are then its own; in this process
	// they are the whole benchmark's.
	ServerCommand []string

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
	if o.HighConcurrency <= 0 {
		o.HighConcurrency = DefaultHighConcurrency
	}
	if o.Events <= 0 {
		o.Events = DefaultEvents
	}
	if o.Calls <= 0 {
		o.Calls = DefaultCalls
	}
	if o.ScaleCalls <= 0 {
		o.ScaleCalls = DefaultScaleCalls
	}
	if len(o.ScatterServers) == 0 {
		o.ScatterServers = DefaultScatterServers
	}
	if o.App == "" {
		o.App = AppProxied
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

// Smoke returns options for a run of a few seconds that exercises every
// scenario with tiny sizes: for CI, where only breakage matters.
func Smoke() Options {
	return Options{Duration: 150 * time.Millisecond, Concurrency: 2, HighConcurrency: 4, Events: 2000,
		Calls: 20, ScaleCalls: 50, ScatterServers: []int{1, 3}}
}

// env is what the scenarios run against: the bus, the ARI target, the
// proxy server in front of it for the proxied application, and a client
// of the proxy.
type env struct {
	idle  Sample // the proxy server at the start, before any load
	opts  Options
	bus   *benchBus
	tgt   target
	sim   *arisim.Sim // nil for a real Asterisk
	app   string
	node  string
	http  *http.Client // direct ARI, the same transport the proxy uses
	cli   *client.Client
	proxy proxyServer
	echo  func(context.Context) error // a bare bus round trip
}

// Run starts the bus, the simulator and the proxy server, runs every
// scenario and stops everything. A scenario that cannot run at all fails
// Run; one whose requests partly fail is reported with its error count.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	log := opts.Logger
	rep := newReport(opts)

	b, err := openBus(ctx, opts.BusURL, log)
	if err != nil {
		return nil, err
	}
	defer b.close()
	e := &env{opts: opts, bus: b, app: opts.App}

	if opts.ARIURL != "" {
		if e.tgt, err = realTarget(opts); err != nil {
			return nil, err
		}
		rep.Target = "Asterisk at " + e.tgt.httpURL
	} else {
		if e.tgt, err = startSim(EntityID, randomHex(8), log); err != nil {
			return nil, err
		}
		e.sim = e.tgt.sim
		defer e.sim.Close()
		rep.Target = "the ARI simulator"
	}
	tr := ariconn.NewTransport()
	defer tr.CloseIdleConnections()
	e.http = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	if e.node, err = e.entityID(ctx); err != nil {
		return nil, err
	}

	if len(opts.ServerCommand) > 0 {
		opts.Progress("starting the proxy server: " + opts.ServerCommand[0])
		p, err := startChild(ctx, opts.ServerCommand, b, e.tgt, e.app)
		if err != nil {
			return nil, err
		}
		e.proxy = p
		rep.ServerScope = "the proxy server's own process (" + opts.ServerCommand[0] + " serve)"
	} else {
		p, err := startInProcess(ctx, b, nil, e.tgt, e.app, "ari-proxy bench server", newMetricsRegistry(), log)
		if err != nil {
			return nil, err
		}
		e.proxy = p
		rep.ServerScope = "the whole benchmark process (proxy server in process)"
	}
	defer func() {
		if err := e.proxy.stop(); err != nil {
			log.Warn("stopping the proxy server", "err", err)
		}
	}()

	conn, err := b.connect(ctx, "ari-proxy bench client")
	if err != nil {
		return nil, fmt.Errorf("bench: client connecting to the bus: %w", err)
	}
	defer conn.Close()
	cli, err := client.New(ctx, client.WithBus(conn), client.WithApplication(e.app),
		client.WithNode(e.node), client.WithLogger(log.With("component", "client")))
	if err != nil {
		return nil, fmt.Errorf("bench: client: %w", err)
	}
	defer cli.Close()
	e.cli = cli

	echo, stopEcho, err := e.startEcho(ctx)
	if err != nil {
		return nil, err
	}
	defer stopEcho()
	e.echo = echo
	if e.sim == nil {
		if err := e.realRequests(ctx, rep); err != nil {
			return nil, err
		}
		rep.Skipped = append(rep.Skipped, "simulator alone, events, calls, call scale and scatter-gather: they need the simulator's test hooks")
		rep.finish()
		return rep, nil
	}

	// A call in Stasis for the requests to act on, held by the proxy's
	// WebSocket; its echo half waits 300 s, longer than any run.
	chanID, err := e.sim.InboundCall(e.app)
	if err != nil {
		return nil, fmt.Errorf("bench: placing the call to query: %w", err)
	}
	if err := waitData(ctx, e.cli.Channel(chanID)); err != nil {
		return nil, err
	}
	// The server idle: started, one call up, nothing measured yet.
	if e.idle, err = e.proxy.sample(ctx); err != nil {
		return nil, fmt.Errorf("bench: sampling the idle server: %w", err)
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
	if err := e.callScale(ctx, rep); err != nil {
		return nil, err
	}
	if err := e.scatter(ctx, rep); err != nil {
		return nil, err
	}
	rep.finish()
	return rep, nil
}

// entityID asks the ARI target for its entity id: the proxy's node.
func (e *env) entityID(ctx context.Context) (string, error) {
	var info ari.AsteriskInfo
	op := e.direct(http.MethodGet, "/asterisk/info", func() any { return &info })
	deadline := time.Now().Add(startTimeout)
	for {
		err := op(ctx)
		if err == nil && info.System != nil && info.System.EntityID != "" {
			return info.System.EntityID, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = errors.New("no system.entity_id in /asterisk/info")
			}
			return "", fmt.Errorf("bench: reaching ARI at %s: %w", e.tgt.httpURL, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// simulatorAlone measures the simulator's own capacity.
func (e *env) simulatorAlone(ctx context.Context, rep *Report, chanID string) error {
	e.opts.Progress("simulator: GET /asterisk/info")
	r, err := e.load(ctx, "GET /asterisk/info", e.opts.Concurrency, e.direct(http.MethodGet, "/asterisk/info"))
	if err != nil {
		return err
	}
	rep.Simulator.REST = append(rep.Simulator.REST, r)

	e.opts.Progress("simulator: GET /channels/{id}")
	r, err = e.load(ctx, "GET /channels/{id}", e.opts.Concurrency, e.direct(http.MethodGet, "/channels/"+chanID))
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

// requestPair is one operation made directly and through the proxy.
type requestPair struct {
	name            string
	direct, proxied func(context.Context) error
}

// requests compares direct and proxied requests, each pair measured back
// to back, at both concurrencies.
func (e *env) requests(ctx context.Context, rep *Report, chanID string) error {
	h := e.cli.Channel(chanID)
	// The direct GET decodes the channel as the client library does.
	return e.comparePairs(ctx, rep, []requestPair{
		{nameChannelData,
			e.direct(http.MethodGet, "/channels/"+chanID, func() any { return new(ari.Channel) }),
			func(ctx context.Context) error { _, err := h.Get(ctx); return err }},
		{"channel answer (POST /channels/{id}/answer)",
			e.direct(http.MethodPost, "/channels/"+chanID+"/answer"),
			h.Answer},
	})
}

// realRequests compares requests that need nothing but an Asterisk.
func (e *env) realRequests(ctx context.Context, rep *Report) error {
	return e.comparePairs(ctx, rep, []requestPair{
		{nameAsteriskInfo,
			e.direct(http.MethodGet, "/asterisk/info", func() any { return new(ari.AsteriskInfo) }),
			func(ctx context.Context) error { _, err := e.cli.Asterisk().GetInfo(ctx, nil); return err }},
	})
}

// Names of the request comparisons the summary reads.
const (
	nameChannelData  = "channel data (GET /channels/{id})"
	nameAsteriskInfo = "asterisk info (GET /asterisk/info)"
)

func (e *env) comparePairs(ctx context.Context, rep *Report, pairs []requestPair) error {
	for _, c := range []int{e.opts.Concurrency, e.opts.HighConcurrency} {
		for i, p := range pairs {
			e.opts.Progress(fmt.Sprintf("requests: %s, direct and proxied interleaved, %d in flight", p.name, c))
			ops := []namedOp{{p.name + " direct", p.direct}, {p.name + " proxied", p.proxied}}
			if i == 0 { // the bus round trip beside the first operation, for overhead-rtts
				ops = append(ops, namedOp{"bus round trip (echo responder)", e.echo})
			}
			var cpu float64
			rs, err := e.interleave(ctx, c, e.opts.Duration, 1, ops, &cpu)
			if err != nil {
				return err
			}
			cmp := compare(p.name, c, rs[0], rs[1])
			cmp.ServerCPUMicros = cpu
			rep.Requests = append(rep.Requests, cmp)
			if len(rs) > 2 {
				rep.BusRTT = append(rep.BusRTT, rs[2])
			}
		}
	}
	return nil
}

// sampleProxy samples the proxy server; a failure leaves a zero Sample
// (the CPU figure is then missing, not wrong).
func (e *env) sampleProxy(ctx context.Context) Sample {
	s, err := e.proxy.sample(ctx)
	if err != nil {
		e.opts.Logger.Warn("sampling the proxy server", "err", err)
		return Sample{}
	}
	return s
}

// cpuPer is the CPU time in microseconds per operation between two
// samples, 0 when unknown.
func cpuPer(before, after Sample, ops int) float64 {
	if ops <= 0 || after.CPUSeconds == 0 {
		return 0
	}
	return (after.CPUSeconds - before.CPUSeconds) * 1e6 / float64(ops)
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
	before := e.sampleProxy(ctx)
	raw, err := e.floodProxiedRaw(ctx)
	if err != nil {
		return err
	}
	cpu := cpuPer(before, e.sampleProxy(ctx), raw.Received)
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
		Ratio: ratio(p.PerSecond, d.PerSecond), RatioRaw: ratio(raw.PerSecond, rep.Simulator.Events.PerSecond),
		ServerCPUMicros: cpu}
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
		LatencyRatio:       ratio(got[1][1].Setup.Mean, got[0][1].Setup.Mean),
		SetupP50Ratio:      ratio(got[1][0].Setup.P50, got[0][0].Setup.P50),
		PacedSetupP50Ratio: ratio(got[1][1].Setup.P50, got[0][1].Setup.P50)}
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
