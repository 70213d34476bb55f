package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/client"
)

// rttTimeout bounds one echo round trip: a lost reply fails the request
// instead of stalling the measurement.
const rttTimeout = 10 * time.Second

// echoPayload is the size and shape of a typical request envelope (a
// ChannelData request with a full key), so that the round trip carries
// what a proxied request carries.
var echoPayload = []byte(`{"kind":"ChannelData","key":{"kind":"channel","id":"1764577000.123;1","node":"02:fc:00:00:be:01","app":"bench"}}`)

// startEcho starts an echo responder on a bus connection of its own (as
// the proxy server has) and returns a bare request-reply to it from the
// client's connection: the bus round trip, measured interleaved with the
// requests it is the floor of.
func (e *env) startEcho(ctx context.Context) (op func(context.Context) error, stop func(), err error) {
	conn, err := e.bus.connect(ctx, "ari-proxy bench echo")
	if err != nil {
		return nil, nil, fmt.Errorf("bench: echo responder connecting to the bus: %w", err)
	}
	subject := "_bench.echo." + randomHex(4)
	sub, err := conn.Subscribe(subject, func(m bus.Msg) {
		if m.Reply != "" {
			_ = conn.Publish(ctx, m.Reply, "", m.Data)
		}
	})
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("bench: echo responder: %w", err)
	}
	b := e.cli.Bus()
	op = func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, rttTimeout)
		defer cancel()
		got := false
		err := b.RequestMany(ctx, subject, echoPayload, func(reply []byte) bool {
			got = len(reply) == len(echoPayload)
			return false
		})
		if err == nil && !got {
			err = errors.New("echo: reply of the wrong size")
		}
		return err
	}
	return op, func() { _ = sub.Unsubscribe(); conn.Close() }, nil
}

// callScale holds ScaleCalls calls up at once, answered through the proxy
// with a dialog each (so the server holds a binding per call), and
// samples the proxy server idle, with every call up, and after all ended.
func (e *env) callScale(ctx context.Context, rep *Report) error {
	n := e.opts.ScaleCalls
	e.opts.Progress(fmt.Sprintf("call scale: %d calls up at once", n))
	before, err := e.proxy.sample(ctx)
	if err != nil {
		return fmt.Errorf("bench: call scale: %w", err)
	}
	idle := e.idle
	var (
		answered atomic.Int64
		finished atomic.Int64 // handlers returned
		mu       sync.Mutex
		errs     int
		first    error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs++
		if first == nil {
			first = err
		}
	}
	release := make(chan struct{})
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Listen returns once its subscription is active on the bus.
	l, err := e.cli.Listen(lctx, func(ctx context.Context, h *client.ChannelHandle, _ *ari.StasisStart) {
		defer finished.Add(1)
		key := h.Key()
		key.Dialog = client.NewDialogID()
		ch := e.cli.ChannelFromKey(key)
		if err := ch.Answer(ctx); err != nil {
			fail(err)
		}
		answered.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
			return
		}
		if err := ch.Hangup(ctx, nil); err != nil {
			fail(err)
		}
	})
	if err != nil {
		return fmt.Errorf("bench: call scale: listen: %w", err)
	}
	stopListen := func() { cancel(); _ = l.Wait() }

	start := time.Now()
	runErr := make(chan error, 1)
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	go func() {
		runErr <- e.sim.RunInbound(rctx, e.app, n, 0, arisim.InboundScript{Media: []string{}, HangupAfter: -1})
	}()
	last, at := int64(0), time.Now()
	for answered.Load() < int64(n) {
		if a := answered.Load(); a != last {
			last, at = a, time.Now()
		} else if time.Since(at) > idleTimeout {
			close(release)
			rcancel()
			stopListen()
			return fmt.Errorf("bench: call scale: only %d of %d calls answered", a, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	up := time.Since(start)
	active, err := e.proxy.sample(ctx)
	if err != nil {
		close(release)
		stopListen()
		return fmt.Errorf("bench: call scale: %w", err)
	}
	close(release)
	if err := <-runErr; err != nil {
		stopListen()
		return fmt.Errorf("bench: call scale: %w", err)
	}
	// The calls ended before the hang-ups' replies came back.
	for t := time.Now(); finished.Load() < int64(n) && time.Since(t) < idleTimeout; {
		time.Sleep(5 * time.Millisecond)
	}
	stopListen()
	// Wait until the server is back to the goroutines and bindings it had
	// before the calls, and its RSS to within rssSlack of its idle RSS;
	// the memory is sampled then, or at the deadline, whatever it is.
	after, settled, rssBack := active, false, false
	deadline := time.Now().Add(settleTimeout)
	for time.Now().Before(deadline) {
		after, err = e.proxy.sample(ctx)
		if err != nil {
			return fmt.Errorf("bench: call scale: %w", err)
		}
		settled = after.Bindings <= before.Bindings && after.Goroutines <= before.Goroutines
		rssBack = after.RSSBytes <= idle.RSSBytes*(1+rssSlack)
		if settled && rssBack {
			break
		}
		time.Sleep(250 * time.Millisecond) // each sample is a /metrics scrape of the server: not too often
	}
	cs := CallScale{Calls: n, UpSeconds: up.Seconds(), Idle: idle, Before: before, Active: active, After: after,
		BackToIdle: settled, RSSBackToIdle: rssBack, Errors: errs}
	if first != nil {
		cs.FirstError = first.Error()
	}
	rep.Scale = &cs
	return nil
}

// scatterServer is one simulated Asterisk and its proxy server in the
// scatter-gather measurement.
type scatterServer struct {
	tgt   target
	proxy *inProcess
}

// scatter measures channel data with a partial key (no node) against the
// same request with a full key, with more and more servers, in two
// cases: a cold partial key (true scatter-gather: every server of the
// application gets the request, as a probe: the one that has seen the
// channel, an inbound call of the application, asks its Asterisk and
// answers, the others answer unclaimed without asking theirs), from a
// client that learns nothing, so that every id is one it has never seen;
// and the partial key of an id
// the client has learned (it has had a reply naming the channel's node),
// which the client sends to that node only, as an application holding
// ids gets. The servers run in this process, each with its simulator, on
// one bus connection; requests are one at a time, so the figure is
// latency, not throughput.
func (e *env) scatter(ctx context.Context, rep *Report) error {
	var servers []*scatterServer
	defer func() {
		for _, s := range servers {
			_ = s.proxy.stop()
			_ = s.tgt.sim.Close()
		}
	}()
	conn, err := e.bus.connect(ctx, "ari-proxy bench scatter client")
	if err != nil {
		return fmt.Errorf("bench: scatter client connecting to the bus: %w", err)
	}
	defer conn.Close()
	// The servers share one bus connection: on one machine, a socket and
	// a reader each would measure the cost of 50 connections in one
	// process, not the fan-out the client sees.
	shared, err := e.bus.connect(ctx, "ari-proxy bench scatter servers")
	if err != nil {
		return fmt.Errorf("bench: scatter servers connecting to the bus: %w", err)
	}
	defer shared.Close()
	log := e.opts.Logger.With("component", "client")
	cli, err := client.New(ctx, client.WithBus(conn), client.WithApplication(AppScatter),
		client.WithDiscoveryWait(-1), client.WithLogger(log))
	if err != nil {
		return fmt.Errorf("bench: scatter client: %w", err)
	}
	defer cli.Close()
	// The cold side: same connection, nothing learned.
	cold, err := client.New(ctx, client.WithBus(conn), client.WithApplication(AppScatter),
		client.WithDiscoveryWait(-1), client.WithLogger(log), client.WithLocationCache(0))
	if err != nil {
		return fmt.Errorf("bench: scatter client: %w", err)
	}
	defer cold.Close()

	d := max(e.opts.Duration/3, 100*time.Millisecond)
	var full, learned, scattered *client.ChannelHandle
	for _, n := range e.opts.ScatterServers {
		e.opts.Progress(fmt.Sprintf("scatter-gather: %d servers", n))
		for len(servers) < n {
			i := len(servers)
			tgt, err := startSim(fmt.Sprintf("02:fc:00:00:5c:%02x", i), randomHex(8), e.opts.Logger)
			if err != nil {
				return err
			}
			p, err := startInProcess(ctx, e.bus, shared, tgt, AppScatter, fmt.Sprintf("ari-proxy bench scatter %d", i), nil, e.opts.Logger)
			if err != nil {
				_ = tgt.sim.Close()
				return err
			}
			servers = append(servers, &scatterServer{tgt: tgt, proxy: p})
		}
		if full == nil {
			id, err := servers[0].tgt.sim.InboundCall(AppScatter)
			if err != nil {
				return fmt.Errorf("bench: scatter: placing the call: %w", err)
			}
			full = cli.WithNode(servers[0].tgt.sim.EntityID()).Channel(id)
			// The replies to full's requests name the node: cli learns it.
			learned = cli.Channel(id)
			scattered = cold.Channel(id)
			if err := waitData(ctx, full); err != nil {
				return err
			}
		}
		// Requests to every server wait for as many answers as servers
		// announced: wait until the clients know them all.
		deadline := time.Now().Add(startTimeout)
		for len(cli.Servers()) < n || len(cold.Servers()) < n {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("bench: scatter: the clients know %d and %d of %d servers", len(cli.Servers()), len(cold.Servers()), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		rs, err := e.interleave(ctx, 1, 3*d, -1, []namedOp{
			{"full key", func(ctx context.Context) error { _, err := full.Get(ctx); return err }},
			{"partial key, learned id", func(ctx context.Context) error { _, err := learned.Get(ctx); return err }},
			{"partial key, cold (every server)", func(ctx context.Context) error { _, err := scattered.Get(ctx); return err }},
		}, nil)
		if err != nil {
			return err
		}
		f, l, p := rs[0], rs[1], rs[2]
		rep.Scatter = append(rep.Scatter, ScatterPoint{Servers: n, Full: f, Partial: p, Learned: l,
			Ratio: ratio(p.Latency.P50, f.Latency.P50), LearnedRatio: ratio(l.Latency.P50, f.Latency.P50)})
	}
	return nil
}

// waitData waits until the channel of h answers through its proxy.
func waitData(ctx context.Context, h *client.ChannelHandle) error {
	deadline := time.Now().Add(startTimeout)
	for {
		_, err := h.Get(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bench: channel %s not reachable through the proxy: %w", h.ID(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
