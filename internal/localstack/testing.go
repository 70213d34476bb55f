package localstack

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus/busdial"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
	"github.com/ariproxy/ari-proxy/proxy"
)

// TB is the part of testing.TB the test helpers use; declared here so the
// programs that use Start do not link package testing.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Credentials of the simulators StartSim starts.
const (
	SimUser     = "proxy"
	SimPassword = "testenv-secret"
)

// StartTimeout bounds how long a test helper waits for what it starts.
const StartTimeout = 15 * time.Second

// Logger is the logger of everything the test helpers start: silent
// unless ARIPROXY_TEST_LOG is set (then debug to stderr).
func Logger() *slog.Logger {
	if os.Getenv("ARIPROXY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// StartNATS starts an embedded nats-server on a random loopback port and
// returns it with its client URL.
func StartNATS(t TB) (*natsserver.Server, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	e, err := startNATS(ctx, "127.0.0.1:0", Logger())
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(e.Shutdown)
	return e, e.ClientURL()
}

// Connect connects a NATS bus client to url, closed on cleanup.
func Connect(t TB, url string) *natsbus.Bus {
	t.Helper()
	return ConnectBus(t, url).(*natsbus.Bus)
}

// ConnectBus connects a bus client to url, of any transport busdial
// knows (nats://, amqp://...), closed on cleanup.
func ConnectBus(t TB, url string) busdial.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	b, err := busdial.Dial(ctx, url, busdial.Options{Logger: Logger()})
	if err != nil {
		t.Fatalf("localstack: connecting to %s: %v", url, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// StartSim starts an ARI simulator with entity id entityID and the
// credentials SimUser/SimPassword.
func StartSim(t TB, entityID string) *arisim.Sim {
	t.Helper()
	return StartSimConfig(t, arisim.Config{EntityID: entityID})
}

// StartSimConfig starts an ARI simulator configured by cfg; credentials
// and logger default to SimUser/SimPassword and Logger().
func StartSimConfig(t TB, cfg arisim.Config) *arisim.Sim {
	t.Helper()
	if cfg.User == "" && cfg.Password == "" {
		cfg.User, cfg.Password = SimUser, SimPassword
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	sim, err := startSim(cfg)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// ARIConfig is the ariconn configuration that reaches sim (started with
// the default credentials).
func ARIConfig(sim *arisim.Sim) ariconn.Config {
	return simARIConfig(sim, SimUser, SimPassword, Logger())
}

// Prefix is a fresh random subject prefix, so tests sharing a bus do not
// see each other's traffic.
func Prefix() string { return "t" + randomHex(6) + "." }

// StartServer runs a proxy server for app in front of sim on the bus at
// busURL under prefix ("" for a random one), waits until it is ready and
// stops it on cleanup.
func StartServer(t TB, sim *arisim.Sim, busURL, app, prefix string) *proxy.Server {
	t.Helper()
	if prefix == "" {
		prefix = Prefix()
	}
	return RunServer(t, proxy.Config{
		Applications: []string{app},
		ARI:          ARIConfig(sim),
		Bus:          ConnectBus(t, busURL),
		Prefix:       prefix,
	})
}

// RunServer runs a server with cfg (Logger defaults to Logger()), waits
// until it is ready and stops it on cleanup, failing the test if Run
// returns an error.
func RunServer(t TB, cfg proxy.Config) *proxy.Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	s, err := proxy.New(cfg)
	if err != nil {
		t.Fatalf("localstack: proxy.New: %v", err)
	}
	stop, err := Serve(context.Background(), s, StartTimeout)
	if err != nil {
		t.Fatalf("localstack: %v", err)
	}
	t.Cleanup(func() {
		if err := stop(StartTimeout); err != nil {
			t.Errorf("localstack: %v", err)
		}
	})
	return s
}
