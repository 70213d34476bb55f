package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/wire"
)

// load runs op from c goroutines for Duration, after a short warm-up
// that opens the connections, and returns its rate and latencies. It
// fails only when no request succeeded.
func (e *env) load(ctx context.Context, name string, c int, op func(context.Context) error) (Rate, error) {
	warm := min(e.opts.Duration/10, 500*time.Millisecond)
	if _, _, _, _, err := phase(ctx, c, warm, op); err != nil {
		return Rate{}, err
	}
	lats, errs, first, elapsed, err := phase(ctx, c, e.opts.Duration, op)
	if err != nil {
		return Rate{}, err
	}
	if len(lats) == 0 {
		return Rate{}, fmt.Errorf("bench: %s: every request failed: %w", name, first)
	}
	r := Rate{Name: name, Concurrency: c, Ops: len(lats), Errors: errs, Seconds: elapsed.Seconds(),
		PerSecond: float64(len(lats)) / elapsed.Seconds()}
	r.Latency = summarize(lats)
	if first != nil {
		r.FirstError = first.Error()
	}
	return r, nil
}

// interleaveRounds is how many slices each measurement of an interleaved
// comparison is cut into: a disturbance of a shared machine (another
// job's burst) then hits every side alike, not the one measured at that
// moment.
const interleaveRounds = 6

// namedOp is one side of an interleaved comparison.
type namedOp struct {
	name string
	op   func(context.Context) error
}

// interleave measures ops for d each, from c goroutines, in
// interleaveRounds rounds: each round runs every op for d/rounds, the
// order rotating from round to round. With cpu set, it stores there the
// proxy server's CPU time per request of ops[cpuOf] (microseconds).
func (e *env) interleave(ctx context.Context, c int, d time.Duration, cpuOf int, ops []namedOp, cpu *float64) ([]Rate, error) {
	warm := min(d/10, 500*time.Millisecond)
	for _, o := range ops {
		if _, _, _, _, err := phase(ctx, c, warm, o.op); err != nil {
			return nil, err
		}
	}
	type acc struct {
		lats    []time.Duration
		errs    int
		first   error
		elapsed time.Duration
	}
	accs := make([]acc, len(ops))
	var cpuSeconds float64
	slice := max(d/interleaveRounds, 10*time.Millisecond)
	for round := range interleaveRounds {
		for j := range ops {
			i := (j + round) % len(ops)
			var before Sample
			if i == cpuOf && cpu != nil {
				before = e.sampleProxy(ctx)
			}
			lats, errs, first, elapsed, err := phase(ctx, c, slice, ops[i].op)
			if err != nil {
				return nil, err
			}
			if i == cpuOf && cpu != nil {
				if after := e.sampleProxy(ctx); after.CPUSeconds > 0 {
					cpuSeconds += after.CPUSeconds - before.CPUSeconds
				}
			}
			a := &accs[i]
			a.lats = append(a.lats, lats...)
			a.errs += errs
			a.elapsed += elapsed
			if a.first == nil {
				a.first = first
			}
		}
	}
	out := make([]Rate, len(ops))
	for i, a := range accs {
		if len(a.lats) == 0 {
			return nil, fmt.Errorf("bench: %s: every request failed: %w", ops[i].name, a.first)
		}
		r := Rate{Name: ops[i].name, Concurrency: c, Ops: len(a.lats), Errors: a.errs, Seconds: a.elapsed.Seconds(),
			PerSecond: float64(len(a.lats)) / a.elapsed.Seconds(), Latency: summarize(a.lats)}
		if a.first != nil {
			r.FirstError = a.first.Error()
		}
		out[i] = r
		if i == cpuOf && cpu != nil && cpuSeconds > 0 {
			*cpu = cpuSeconds * 1e6 / float64(len(a.lats)+a.errs)
		}
	}
	return out, nil
}

// phase runs op from c goroutines until d has passed and returns the
// latencies of the successful calls, the count and first of the failed
// ones, and the time until the last call returned.
func phase(ctx context.Context, c int, d time.Duration, op func(context.Context) error) (lats []time.Duration, errs int, first error, elapsed time.Duration, err error) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make([]time.Duration, 0, 4096)
			var n int
			var f error
			for ctx.Err() == nil {
				t := time.Now()
				if !t.Before(deadline) {
					break
				}
				if err := op(ctx); err != nil {
					n++
					if f == nil {
						f = err
					}
					continue
				}
				own = append(own, time.Since(t))
			}
			mu.Lock()
			lats = append(lats, own...)
			errs += n
			if first == nil {
				first = f
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return lats, errs, first, time.Since(start), ctx.Err()
}

// summarize computes the latency statistics of lats (which it sorts).
func summarize(lats []time.Duration) Latency {
	if len(lats) == 0 {
		return Latency{}
	}
	slices.Sort(lats)
	var sum time.Duration
	for _, l := range lats {
		sum += l
	}
	at := func(p float64) time.Duration { return lats[int(p*float64(len(lats)-1))] }
	return Latency{Mean: ms(sum / time.Duration(len(lats))), P50: ms(at(0.50)), P99: ms(at(0.99)), Max: ms(lats[len(lats)-1])}
}

// ms converts d to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// direct returns an ARI request made straight to the simulator over HTTP.
// With into set the body is decoded into a fresh value, as an application
// would, so that the comparison with the client library (which decodes)
// is fair.
func (e *env) direct(method, path string, into ...func() any) func(context.Context) error {
	return e.httpOp(method, e.tgt.httpURL+path, e.tgt.user, e.tgt.password, into...)
}

// httpOp is one HTTP request to u with Basic credentials; with into set
// the body is decoded into a fresh value.
func (e *env) httpOp(method, u, user, password string, into ...func() any) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return err
		}
		req.SetBasicAuth(user, password)
		res, err := e.http.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		if res.StatusCode >= 300 {
			return fmt.Errorf("%s %s: %s", method, u, res.Status)
		}
		if len(into) > 0 {
			if err := json.Unmarshal(body, into[0]()); err != nil {
				return fmt.Errorf("%s %s: %w", method, u, err)
			}
		}
		return nil
	}
}

// appSeq numbers the direct applications: each WebSocket registers an
// application of its own, so that a closing one is never flooded.
var appSeq atomic.Int64

// dial opens a direct events WebSocket for a new application and waits
// until the simulator has registered it.
func (e *env) dial(ctx context.Context) (*websocket.Conn, string, error) {
	app := fmt.Sprintf("%s-%d", AppDirect, appSeq.Add(1))
	q := url.Values{"app": {app}, "api_key": {e.tgt.user + ":" + e.tgt.password}}
	conn, _, err := websocket.Dial(ctx, e.sim.WebSocketURL()+"?"+q.Encode(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("bench: dialing the events WebSocket: %w", err)
	}
	conn.SetReadLimit(-1)
	deadline := time.Now().Add(startTimeout)
	for e.sim.Flood(ctx, app, 0) != nil {
		if time.Now().After(deadline) || ctx.Err() != nil {
			conn.CloseNow()
			return nil, "", fmt.Errorf("bench: application %s not registered", app)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return conn, app, nil
}

// counter counts the events a receiver got and when it got the last one.
type counter struct {
	n    atomic.Int64
	last atomic.Int64 // unix nanoseconds
}

func (c *counter) add() {
	c.n.Add(1)
	c.last.Store(time.Now().UnixNano())
}

// flood sends Events events to app and waits until the receiver counting
// with cnt has them all, or nothing came for idleTimeout. A probe event
// first makes sure the receiver is in place.
func (e *env) flood(ctx context.Context, name, app string, cnt *counter) (EventRate, error) {
	deadline := time.Now().Add(startTimeout)
	for cnt.n.Load() == 0 {
		if err := e.sim.Flood(ctx, app, 1); err != nil {
			return EventRate{}, fmt.Errorf("bench: flood: %w", err)
		}
		for t := time.Now(); cnt.n.Load() == 0 && time.Since(t) < 100*time.Millisecond; {
			time.Sleep(time.Millisecond)
		}
		if cnt.n.Load() == 0 && (time.Now().After(deadline) || ctx.Err() != nil) {
			return EventRate{}, fmt.Errorf("bench: %s: no event came through", name)
		}
	}
	time.Sleep(100 * time.Millisecond) // late probes
	base := cnt.n.Load()

	n := e.opts.Events
	start := time.Now()
	cnt.last.Store(start.UnixNano())
	ferr := make(chan error, 1)
	go func() { ferr <- e.sim.Flood(ctx, app, n) }()
	for cnt.n.Load()-base < int64(n) && ctx.Err() == nil &&
		time.Since(time.Unix(0, cnt.last.Load())) < idleTimeout {
		time.Sleep(time.Millisecond)
	}
	received := int(min(cnt.n.Load()-base, int64(n)))
	if err := <-ferr; err != nil {
		return EventRate{}, fmt.Errorf("bench: flood: %w", err)
	}
	r := EventRate{Name: name, Sent: n, Received: received,
		Seconds: time.Unix(0, cnt.last.Load()).Sub(start).Seconds()}
	if r.Seconds > 0 {
		r.PerSecond = float64(received) / r.Seconds
	}
	return r, nil
}

// floodDirect floods a WebSocket of its own; with decode (an application
// reading events directly) each event is decoded as the client library
// does.
func (e *env) floodDirect(ctx context.Context, name string, decode bool) (EventRate, error) {
	conn, app, err := e.dial(ctx)
	if err != nil {
		return EventRate{}, err
	}
	defer conn.CloseNow()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var cnt counter
	go func() {
		for {
			_, data, err := conn.Read(rctx)
			if err != nil {
				return
			}
			if decode {
				if _, err := ari.DecodeEvent(data); err != nil {
					return
				}
			}
			cnt.add()
		}
	}()
	return e.flood(ctx, name, app, &cnt)
}

// floodProxied floods the proxy's application; a client subscription
// receives the events.
func (e *env) floodProxied(ctx context.Context) (EventRate, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := e.cli.Subscribe(sctx, "ChannelUserevent")
	if err != nil {
		return EventRate{}, fmt.Errorf("bench: subscribe: %w", err)
	}
	defer sub.Close()
	var cnt counter
	go func() {
		for range sub.Events() {
			cnt.add()
		}
	}()
	return e.flood(ctx, "client Subscribe through the proxy", e.app, &cnt)
}

// floodProxiedRaw floods the proxy's application; a plain bus
// subscription counts the messages without decoding them: the proxy's
// own capacity, not the client's.
func (e *env) floodProxiedRaw(ctx context.Context) (EventRate, error) {
	var cnt counter
	sub, err := e.cli.Bus().Subscribe(wire.NewSubjects("").AllEvents(e.app), func(bus.Msg) { cnt.add() })
	if err != nil {
		return EventRate{}, fmt.Errorf("bench: subscribe: %w", err)
	}
	defer sub.Unsubscribe()
	return e.flood(ctx, "bus subscriber through the proxy (no decoding)", e.app, &cnt)
}

// callRun collects what the handlers of one calls measurement saw.
type callRun struct {
	mu       sync.Mutex
	setup    []time.Duration
	errs     int
	first    error
	finished atomic.Int64 // handlers done
}

// stampBias is the mean error of a time read from an event timestamp:
// Asterisk writes milliseconds, truncated.
const stampBias = 500 * time.Microsecond

// handle answers and hangs up one call, recording the setup latency: from
// the StasisStart timestamp to the answer's reply.
func (r *callRun) handle(ctx context.Context, ts string, answer, hangup func(context.Context) error) {
	defer r.finished.Add(1)
	err := answer(ctx)
	var setup time.Duration
	if err == nil {
		if t, perr := ari.ParseTime(ts); perr == nil {
			setup = max(time.Since(t)-stampBias, 0)
		}
		err = hangup(ctx)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs++
		if r.first == nil {
			r.first = err
		}
		return
	}
	r.setup = append(r.setup, setup)
}

// callApp is an application answering and hanging up the calls of app;
// its handlers record into the callRun current holds when StasisStart
// arrives.
type callApp struct {
	name    string
	app     string
	current atomic.Pointer[callRun]
	stop    func()
}

// runCalls places one warm-up call, then n calls at rate calls/s (0: as
// fast as the simulator places them), and waits until all ended.
func (e *env) runCalls(ctx context.Context, a *callApp, n int, rate float64) (CallStats, error) {
	script := arisim.InboundScript{Media: []string{}, HangupAfter: -1}
	run := func(n int, rate float64) (*callRun, time.Duration, error) {
		r := &callRun{}
		a.current.Store(r)
		cctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() { // watchdog: a lost call would make RunInbound wait forever
			var seen int64
			at := time.Now()
			for cctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
				if f := r.finished.Load(); f != seen {
					seen, at = f, time.Now()
				} else if time.Since(at) > idleTimeout {
					cancel(fmt.Errorf("bench: %s: no call ended for %s (%d of %d done)", a.name, idleTimeout, f, n))
				}
			}
		}()
		start := time.Now()
		err := e.sim.RunInbound(cctx, a.app, n, rate, script)
		elapsed := time.Since(start)
		if err != nil {
			if c := context.Cause(cctx); c != nil {
				err = c
			}
			return nil, 0, fmt.Errorf("bench: %s: %w", a.name, err)
		}
		// The calls ended once the hang-ups were answered: the handlers are
		// about to return.
		for r.finished.Load() < int64(n) {
			if cctx.Err() != nil {
				return nil, 0, fmt.Errorf("bench: %s: %w", a.name, context.Cause(cctx))
			}
			time.Sleep(time.Millisecond)
		}
		r.mu.Lock() // pairs with the handlers' writes
		defer r.mu.Unlock()
		return r, elapsed, nil
	}
	if _, _, err := run(1, 0); err != nil {
		return CallStats{}, err
	}
	r, elapsed, err := run(n, rate)
	if err != nil {
		return CallStats{}, err
	}
	cs := CallStats{Name: a.name, Calls: n, Rate: rate, Completed: len(r.setup), Errors: r.errs,
		Seconds: elapsed.Seconds(), PerSecond: float64(n) / elapsed.Seconds(), Setup: summarize(r.setup)}
	if r.first != nil {
		cs.FirstError = r.first.Error()
	}
	return cs, nil
}

// directCalls starts a plain ARI application: a WebSocket reader that
// answers and hangs up each new call over HTTP.
func (e *env) directCalls(ctx context.Context) (*callApp, error) {
	conn, app, err := e.dial(ctx)
	if err != nil {
		return nil, err
	}
	a := &callApp{name: "direct ARI application", app: app}
	a.current.Store(&callRun{})
	rctx, cancel := context.WithCancel(ctx)
	a.stop = func() {
		cancel()
		conn.CloseNow()
	}
	marker := []byte(`"StasisStart"`)
	go func() {
		for {
			_, data, err := conn.Read(rctx)
			if err != nil {
				return
			}
			if !bytes.Contains(data, marker) {
				continue // as client.Listen, decode new calls only
			}
			ev, err := ari.DecodeEvent(data)
			if err != nil {
				continue
			}
			ss, ok := ev.(*ari.StasisStart)
			if !ok {
				continue
			}
			r := a.current.Load()
			id := ss.Channel.ID
			go r.handle(rctx, ss.Timestamp, e.direct(http.MethodPost, "/channels/"+id+"/answer"),
				e.direct(http.MethodDelete, "/channels/"+id))
		}
	}()
	return a, nil
}

// proxiedCalls starts a client Listen through the proxy that answers and
// hangs up each new call.
func (e *env) proxiedCalls(ctx context.Context) (*callApp, error) {
	a := &callApp{name: "client Listen through the proxy", app: e.app}
	a.current.Store(&callRun{})
	lctx, cancel := context.WithCancel(ctx)
	// Listen returns once its subscription is active on the bus.
	l, err := e.cli.Listen(lctx, func(ctx context.Context, h *client.ChannelHandle, ev *ari.StasisStart) {
		a.current.Load().handle(ctx, ev.Timestamp, h.Answer, func(ctx context.Context) error { return h.Hangup(ctx, nil) })
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("bench: listen: %w", err)
	}
	a.stop = func() {
		cancel()
		_ = l.Wait()
	}
	if _, err := e.cli.Asterisk().GetInfo(ctx, nil); err != nil {
		a.stop()
		return nil, fmt.Errorf("bench: asterisk info through the proxy: %w", err)
	}
	return a, nil
}
