// Package localstack is the one starter of ari-proxy's server side in one
// process: an embedded NATS server, the ARI simulator standing in for
// Asterisk, and proxy servers between them, each on its own bus
// connection. The demo, the benchmark and the tests of every package need
// these pieces; starting them in order, waiting until a proxy is ready and
// stopping them in reverse order with bounded waits is easy to get subtly
// wrong, so it is written once here.
//
// Start and Stack serve programs (the demo, the bench). The helpers taking
// a TB (StartNATS, StartSim, StartServer, RunServer, ...) serve tests:
// they start the same pieces, fail the test when a piece does not start
// and stop it on t.Cleanup. Nothing is mocked.
package localstack

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus/busdial"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
	"github.com/ariproxy/ari-proxy/proxy"
)

// Defaults of Options.
const (
	DefaultSimUser      = "localstack"
	DefaultName         = "ari-proxy localstack server"
	DefaultReadyTimeout = 15 * time.Second
	DefaultStopTimeout  = 5 * time.Second
)

// ErrNotReady is returned (wrapped) when the proxy server is not ready
// within the ready timeout.
var ErrNotReady = errors.New("proxy server not ready in time")

// ErrStopTimeout is returned (wrapped) when the proxy server does not
// stop within the stop timeout.
var ErrStopTimeout = errors.New("proxy server did not stop in time")

// Options configure Start. Zero values take the defaults.
type Options struct {
	// Application is the Stasis application the proxy server serves.
	// Required.
	Application string
	// EntityID is the simulated Asterisk's entity id, the proxy's node
	// ("": the simulator's default).
	EntityID string
	// SimUser and SimPassword are the simulator's ARI credentials
	// ("": DefaultSimUser and a fresh random password).
	SimUser, SimPassword string
	// BusURL, when set, is an existing bus (nats://, amqp://...) the proxy
	// server connects to instead of an embedded NATS server.
	BusURL string
	// TimeScale multiplies the simulated media durations
	// (arisim.Config.TimeScale; 0 means 1).
	TimeScale float64
	// Prefix is the proxy's subject prefix ("": wire.DefaultPrefix).
	Prefix string
	// Name names the proxy server's bus connection (DefaultName).
	Name string
	// Logger receives every component's logs, each tagged with its
	// "component" (nil: discarded).
	Logger *slog.Logger
	// ReadyTimeout bounds the wait for the proxy to be ready
	// (DefaultReadyTimeout).
	ReadyTimeout time.Duration
	// StopTimeout bounds the wait for the proxy to stop in Close
	// (DefaultStopTimeout).
	StopTimeout time.Duration
	// Mailboxes gives the simulator the mailbox API (arisim.Config.Mailboxes).
	Mailboxes bool
	// NATSAddr is where the embedded NATS server listens ("": a free
	// loopback port).
	NATSAddr string
	// NATS, when set, is a running NATS server to use instead of starting
	// one (another stack's: several nodes on one bus); Close leaves it
	// running.
	NATS *natsserver.Server
}

func (o *Options) defaults() {
	if o.SimUser == "" {
		o.SimUser = DefaultSimUser
	}
	if o.SimPassword == "" {
		o.SimPassword = randomHex(8)
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
}

// Stack is a running NATS server, simulator and proxy server.
type Stack struct {
	// NATS is the embedded NATS server (nil with Options.BusURL); clients
	// reach the bus at BusURL.
	NATS *natsserver.Server
	// Sim is the simulated Asterisk.
	Sim *arisim.Sim
	// Server is the proxy server, ready.
	Server *proxy.Server
	// SimUser and SimPassword are the simulator's ARI credentials, for
	// reaching it directly.
	SimUser, SimPassword string

	bus         busdial.Bus
	busURL      string
	stopServer  func(time.Duration) error
	stopTimeout time.Duration
	sharedNATS  bool // NATS belongs to the caller
	closeOnce   sync.Once
	closeErr    error
}

// Start starts the NATS server and the simulator on free loopback ports
// and the proxy server in front of the simulator, and returns once the
// proxy is ready. ctx bounds the start only: the stack runs until Close.
// On error everything already started is stopped.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.Application == "" {
		return nil, errors.New("localstack: no application")
	}
	opts.defaults()
	log := opts.Logger
	s := &Stack{SimUser: opts.SimUser, SimPassword: opts.SimPassword, stopTimeout: opts.StopTimeout}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	switch {
	case opts.BusURL != "":
		s.busURL = opts.BusURL
	case opts.NATS != nil:
		s.NATS, s.sharedNATS = opts.NATS, true
	default:
		s.NATS, err = startNATS(ctx, cmp.Or(opts.NATSAddr, "127.0.0.1:0"), log.With("component", "nats"))
		if err != nil {
			return nil, err
		}
	}
	s.Sim, err = startSim(arisim.Config{User: opts.SimUser, Password: opts.SimPassword, EntityID: opts.EntityID,
		TimeScale: opts.TimeScale, Mailboxes: opts.Mailboxes, Logger: log.With("component", "arisim")})
	if err != nil {
		return nil, err
	}
	// The proxy has a bus connection of its own, as beside a real Asterisk.
	if s.NATS != nil {
		s.busURL = s.NATS.ClientURL()
		s.bus, err = natsbus.ConnectInProcess(ctx, s.NATS, natsbus.WithName(opts.Name), natsbus.WithLogger(log))
	} else {
		s.bus, err = busdial.Dial(ctx, opts.BusURL, busdial.Options{Name: opts.Name, Logger: log})
	}
	if err != nil {
		s.bus = nil
		return nil, fmt.Errorf("localstack: proxy connecting to the bus: %w", err)
	}
	srv, err := proxy.New(proxy.Config{
		Applications: []string{opts.Application},
		ARI:          simARIConfig(s.Sim, opts.SimUser, opts.SimPassword, log.With("component", "ariconn")),
		Bus:          s.bus,
		Prefix:       opts.Prefix,
		Logger:       log.With("component", "proxy"),
	})
	if err != nil {
		return nil, fmt.Errorf("localstack: %w", err)
	}
	s.stopServer, err = Serve(ctx, srv, opts.ReadyTimeout)
	if err != nil {
		return nil, fmt.Errorf("localstack: %w", err)
	}
	s.Server = srv
	return s, nil
}

// BusURL is the URL bus clients connect to.
func (s *Stack) BusURL() string { return s.busURL }

// Close stops the proxy server (waiting at most the stop timeout), its
// bus connection, the simulator and the NATS server, in that order. It
// returns the proxy's Run error or ErrStopTimeout, and the simulator's
// Close error. Calling it again returns the same.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.stopServer != nil {
			errs = append(errs, s.stopServer(s.stopTimeout))
		}
		if s.bus != nil {
			s.bus.Close()
		}
		if s.Sim != nil {
			errs = append(errs, s.Sim.Close())
		}
		if s.NATS != nil && !s.sharedNATS {
			s.NATS.Shutdown()
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("localstack: %w", err)
		}
	})
	return s.closeErr
}

// Serve runs srv in a goroutine of its own and waits until it is
// ready, for at most readyTimeout. ctx bounds the wait only: the server
// runs until stop, which cancels it and waits at most its timeout for Run
// to return, returning Run's error or ErrStopTimeout. On error the server
// has already been stopped.
func Serve(ctx context.Context, srv *proxy.Server, readyTimeout time.Duration) (stop func(timeout time.Duration) error, err error) {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	var once sync.Once
	var runErr error
	stop = func(timeout time.Duration) error {
		once.Do(func() {
			cancel()
			t := time.NewTimer(timeout)
			defer t.Stop()
			select {
			case err := <-done:
				if err != nil {
					runErr = fmt.Errorf("proxy server: %w", err)
				}
			case <-t.C:
				runErr = fmt.Errorf("%w (%s)", ErrStopTimeout, timeout)
			}
		})
		return runErr
	}

	t := time.NewTimer(readyTimeout)
	defer t.Stop()
	select {
	case <-srv.Ready():
		return stop, nil
	case err := <-done:
		done <- err // for stop
		err = fmt.Errorf("proxy server stopped before ready: %v", err)
		stop(readyTimeout)
		return nil, err
	case <-t.C:
		err = fmt.Errorf("%w (%s)", ErrNotReady, readyTimeout)
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	if serr := stop(readyTimeout); serr != nil {
		err = errors.Join(err, serr)
	}
	return nil, err
}

// startNATS starts an embedded nats-server on a free loopback port.
func startNATS(ctx context.Context, addr string, log *slog.Logger) (*natsserver.Server, error) {
	e, err := natsserver.Start(ctx, addr, natsserver.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("localstack: starting NATS: %w", err)
	}
	return e, nil
}

// startSim starts a simulator configured by cfg on a free loopback port.
func startSim(cfg arisim.Config) (*arisim.Sim, error) {
	sim := arisim.New(cfg)
	if _, err := sim.Listen("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("localstack: starting the ARI simulator: %w", err)
	}
	return sim, nil
}

// simARIConfig is the ariconn configuration that reaches sim.
func simARIConfig(sim *arisim.Sim, user, password string, log *slog.Logger) ariconn.Config {
	return ariconn.Config{
		HTTPURL:      sim.URL(),
		WebSocketURL: sim.WebSocketURL(),
		Username:     user,
		Password:     password,
		Logger:       log,
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
