// Package demo runs ari-proxy end to end in one process: an embedded NATS
// server on a free loopback port, the ARI simulator standing in for
// Asterisk, the proxy server between them, and a small application written
// with the client library that answers simulated inbound calls, plays a
// prompt, bridges the calls two by two and hangs up. It prints the flow in
// readable lines; `ari-proxy demo` runs it.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus/busdial"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// Defaults of Options.
const (
	DefaultCalls   = 4
	DefaultTimeout = 30 * time.Second
)

// The demo's fixed names.
const (
	Application = "demo"
	EntityID    = "02:fc:00:00:de:30"
	Prompt      = "sound:demo-congrats"
	// TimeScale speeds the simulated media up: the 5 s prompt plays in 0.5 s.
	TimeScale = 0.1
)

// Timings of the example application.
const (
	callSpacing  = 150 * time.Millisecond // between simulated calls
	talkTime     = 300 * time.Millisecond // two calls stay bridged this long
	pairWait     = 10 * time.Second       // longest wait for a partner
	stopTimeout  = 5 * time.Second        // bound of each shutdown step
	readyTimeout = 15 * time.Second       // the proxy must be ready by then
)

// Options configure Run.
type Options struct {
	// Calls is how many simulated calls to handle before returning (0:
	// DefaultCalls). Ignored with Forever.
	Calls int
	// Forever places calls until ctx ends.
	Forever bool
	// Timeout bounds the whole run unless Forever (0: DefaultTimeout).
	Timeout time.Duration
	// BusURL is a bus to run on (nats://, amqp://...); "" starts an
	// embedded NATS server.
	BusURL string
	// Out receives the flow, one readable line per step (nil: discarded).
	Out io.Writer
	// Logger receives the components' logs (nil: discarded).
	Logger *slog.Logger
}

// Run starts everything, handles the calls and stops everything. It
// returns nil once Calls calls were handled (or, with Forever, when ctx
// ends), and an error when a step failed or the timeout passed first.
func Run(ctx context.Context, opts Options) (err error) {
	if opts.Calls <= 0 {
		opts.Calls = DefaultCalls
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !opts.Forever {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, opts.Timeout, fmt.Errorf("demo: not done after %s", opts.Timeout))
		defer cancel()
	}
	p := &printer{w: opts.Out, start: time.Now()}

	st, err := localstack.Start(ctx, localstack.Options{
		BusURL:       opts.BusURL,
		Application:  Application,
		EntityID:     EntityID,
		SimUser:      "demo",
		TimeScale:    TimeScale,
		Name:         "ari-proxy demo server",
		Logger:       log,
		ReadyTimeout: readyTimeout,
		StopTimeout:  stopTimeout,
	})
	if err != nil {
		if ctx.Err() != nil {
			return stopErr(ctx)
		}
		return fmt.Errorf("demo: %w", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Warn("stopping the stack", "err", err)
		}
	}()
	if st.NATS != nil {
		p.say("NATS server listening on %s", st.BusURL())
	} else {
		p.say("bus: %s", busdial.RedactURL(st.BusURL()))
	}
	p.say("ARI simulator listening on %s (Asterisk %s)", st.Sim.URL(), EntityID)
	p.say("proxy server ready: application %q on node %s", Application, st.Server.Node())

	// The application, with the client library, on a connection of its own.
	c, err := client.New(ctx, client.WithApplication(Application), client.WithURL(st.BusURL()),
		client.WithLogger(log.With("component", "client")))
	if err != nil {
		return fmt.Errorf("demo: client: %w", err)
	}
	defer c.Close()
	p.say("application connected: servers of %q: %v", Application, c.Servers())

	a := &app{c: c, p: p, log: log, total: opts.Calls, forever: opts.Forever, done: make(chan struct{})}
	listenCtx, stopListen := context.WithCancel(ctx)
	defer stopListen()
	// Listen returns once its subscription is active on the bus: the
	// calls placed from now on reach the application.
	l, err := c.Listen(listenCtx, a.handle)
	if err != nil {
		return fmt.Errorf("demo: listen: %w", err)
	}
	listenDone := make(chan error, 1)
	go func() {
		err := l.Wait()
		if err == nil && listenCtx.Err() == nil {
			err = errors.New("stopped")
		}
		listenDone <- err
	}()
	placeErr := make(chan error, 1)
	go func() { placeErr <- a.place(ctx, st.Sim) }()

	for placing := placeErr; ; {
		select {
		case <-a.done:
			p.say("done: %d calls handled in %s", opts.Calls, time.Since(p.start).Round(time.Millisecond))
		case err := <-placing:
			if err != nil {
				return err
			}
			placing = nil // all placed: wait for them to be handled
			continue
		case err := <-listenDone:
			return fmt.Errorf("demo: listen stopped: %v", err)
		case <-ctx.Done():
			if !opts.Forever {
				return stopErr(ctx)
			}
			p.say("stopped after %d calls", a.handled())
		}
		break
	}
	stopListen()
	select {
	case <-listenDone:
	case <-time.After(stopTimeout):
		log.Warn("the application's handlers did not stop in time")
	}
	return nil
}

func stopErr(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return ctx.Err()
}

// place makes the simulator send the calls in, a little apart so the
// output reads well. With forever it goes on, a pair every few seconds.
func (a *app) place(ctx context.Context, sim *arisim.Sim) error {
	for i := 1; a.forever || i <= a.total; i++ {
		if i > 1 {
			wait := callSpacing
			if a.forever && i%2 == 1 {
				wait = 2 * time.Second
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
		if err := inboundCall(ctx, sim, i); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("demo: simulated inbound call %d: %w", i, err)
		}
	}
	return nil
}

// inboundCall makes call i arrive. The application's registration on the
// simulated Asterisk can trail the proxy's readiness by a moment (the
// WebSocket is up, the registration not yet done), so a missing
// application is retried briefly.
func inboundCall(ctx context.Context, sim *arisim.Sim, i int) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		_, err := sim.InboundCall(Application, "demo-call", fmt.Sprint(i))
		if err == nil || !errors.Is(err, arisim.ErrNoApplication) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// app is the example application: answer, play the prompt, pair the
// calls in a mixing bridge, hang up.
type app struct {
	c       *client.Client
	p       *printer
	log     *slog.Logger
	total   int
	forever bool

	mu       sync.Mutex
	arrived  int   // calls numbered in arrival order
	played   int   // calls whose prompt finished
	finished int   // calls hung up
	waiting  *call // a call whose prompt finished, waiting for a partner
	done     chan struct{}
}

// call is one call the application handles.
type call struct {
	n      int
	h      *client.ChannelHandle
	paired chan struct{} // closed when the partner's handler is done with this call
}

func (a *app) handled() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.finished
}

// handle is the Listen handler: it runs once per call, in its own goroutine.
func (a *app) handle(ctx context.Context, h *client.ChannelHandle, ev *ari.StasisStart) {
	a.mu.Lock()
	a.arrived++
	cl := &call{n: a.arrived, h: h, paired: make(chan struct{})}
	a.mu.Unlock()
	defer a.finish()
	from := ""
	if n := ev.Channel.Caller.Number; n != "" {
		from = ", from " + n
	}
	a.p.say("call %d arrived (channel %s%s)", cl.n, h.ID(), from)

	if err := a.greet(ctx, cl); err != nil {
		a.fail(ctx, cl, err)
		return
	}

	// Pair with the call waiting, if any; else wait for the next one,
	// unless no call is left to come.
	a.mu.Lock()
	a.played++
	partner := a.waiting
	last := !a.forever && a.played >= a.total
	if partner == nil && !last {
		a.waiting = cl
	} else {
		a.waiting = nil
	}
	a.mu.Unlock()

	switch {
	case partner != nil:
		// This handler finishes both calls; the partner's waits for it.
		br, err := a.bridge(ctx, partner, cl)
		if err != nil {
			a.fail(ctx, cl, err)
		} else {
			a.hangup(ctx, cl)
		}
		a.hangup(ctx, partner)
		if br != nil {
			a.destroy(ctx, br)
		}
		close(partner.paired)
	case last:
		a.p.say("call %d has no partner left: hanging up", cl.n)
		a.hangup(ctx, cl)
	default:
		a.p.say("call %d waits for a partner", cl.n)
		select {
		case <-cl.paired: // the partner's handler bridges and hangs up both
		case <-ctx.Done():
		case <-time.After(pairWait):
			a.mu.Lock()
			alone := a.waiting == cl
			if alone {
				a.waiting = nil
			}
			a.mu.Unlock()
			if alone {
				a.p.say("call %d: no partner came, hanging up", cl.n)
				a.hangup(ctx, cl)
			} else {
				<-cl.paired
			}
		}
	}
}

// greet answers the call and plays the prompt to the end.
func (a *app) greet(ctx context.Context, cl *call) error {
	// Subscribe before playing, so the end of the playback cannot be missed.
	sub, err := cl.h.Subscribe(ctx, ari.TypePlaybackFinished, ari.TypeStasisEnd)
	if err != nil {
		return fmt.Errorf("subscribing to its events: %w", err)
	}
	defer sub.Close()
	if err := cl.h.Answer(ctx); err != nil {
		return fmt.Errorf("answering: %w", err)
	}
	a.p.say("call %d answered", cl.n)
	pb, err := cl.h.Play(ctx, &client.ChannelPlayParams{Media: []string{Prompt}})
	if err != nil {
		return fmt.Errorf("playing %s: %w", Prompt, err)
	}
	a.p.say("call %d playing %s (playback %s)", cl.n, Prompt, pb.ID())
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-sub.Events():
			if !ok {
				return errors.New("event subscription ended")
			}
			switch e := ev.(type) {
			case *ari.PlaybackFinished:
				if e.Playback.ID == pb.ID() {
					a.p.say("call %d playback finished", cl.n)
					return nil
				}
			case *ari.StasisEnd:
				return errors.New("the caller hung up")
			}
		}
	}
}

// bridge puts two calls in a new mixing bridge and lets them talk. It
// returns the bridge (to be destroyed) when it was created.
func (a *app) bridge(ctx context.Context, first, second *call) (*client.BridgeHandle, error) {
	br, err := a.c.Bridges().Create(ctx, &client.BridgesCreateParams{Type: "mixing", Name: fmt.Sprintf("demo-%d-%d", first.n, second.n)})
	if err != nil {
		return nil, fmt.Errorf("creating a bridge: %w", err)
	}
	sub, err := br.Subscribe(ctx, ari.TypeChannelEnteredBridge)
	if err != nil {
		return br, fmt.Errorf("subscribing to the bridge: %w", err)
	}
	defer sub.Close()
	if err := br.AddChannel(ctx, &client.BridgeAddChannelParams{Channel: []string{first.h.ID(), second.h.ID()}}); err != nil {
		return br, fmt.Errorf("adding the calls to bridge %s: %w", br.ID(), err)
	}
	// Both calls are in once Asterisk says so.
	in := map[string]bool{}
	timeout := time.After(pairWait)
	for !in[first.h.ID()] || !in[second.h.ID()] {
		select {
		case <-ctx.Done():
			return br, ctx.Err()
		case <-timeout:
			return br, fmt.Errorf("the calls did not enter bridge %s", br.ID())
		case ev, ok := <-sub.Events():
			if !ok {
				return br, errors.New("bridge subscription ended")
			}
			if e, ok := ev.(*ari.ChannelEnteredBridge); ok {
				in[e.Channel.ID] = true
			}
		}
	}
	a.p.say("bridged call %d + call %d in mixing bridge %s", first.n, second.n, br.ID())
	select {
	case <-ctx.Done():
		return br, ctx.Err()
	case <-time.After(talkTime):
	}
	return br, nil
}

// destroy deletes a bridge.
func (a *app) destroy(ctx context.Context, br *client.BridgeHandle) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	if err := br.Destroy(dctx); err != nil && !errors.Is(err, client.ErrNotFound) {
		a.p.say("bridge %s: delete failed: %v", br.ID(), err)
		return
	}
	a.p.say("bridge %s destroyed", br.ID())
}

// hangup hangs a call up.
func (a *app) hangup(ctx context.Context, cl *call) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	err := cl.h.Hangup(hctx, &client.ChannelHangupParams{Reason: "normal"})
	switch {
	case err == nil:
		a.p.say("call %d hung up", cl.n)
	case errors.Is(err, client.ErrNotFound):
		a.p.say("call %d was already gone", cl.n)
	default:
		a.p.say("call %d: hangup failed: %v", cl.n, err)
	}
}

// finish counts a call as handled: its handler is done with it.
func (a *app) finish() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.finished++
	if !a.forever && a.finished == a.total {
		close(a.done)
	}
}

// fail reports a call that could not be handled and hangs it up.
func (a *app) fail(ctx context.Context, cl *call, err error) {
	if ctx.Err() == nil {
		a.p.say("call %d failed: %v", cl.n, err)
	}
	a.hangup(ctx, cl)
}

// printer writes the flow lines, each with the time since the start.
type printer struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (p *printer) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%7.3fs  %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}
