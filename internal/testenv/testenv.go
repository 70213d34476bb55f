// Package testenv starts the real pieces tests across packages need: an
// embedded NATS server, the ARI simulator and a proxy server, each stopped
// by t.Cleanup. Nothing is mocked.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus/busdial"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
)

// Credentials of the simulators StartSim starts.
const (
	SimUser     = "proxy"
	SimPassword = "testenv-secret"
)

// StartTimeout bounds how long a helper waits for what it starts.
const StartTimeout = 15 * time.Second

// Logger is the logger of everything testenv starts: silent unless
// ARIPROXY_TEST_LOG is set (then debug to stderr).
func Logger() *slog.Logger {
	if os.Getenv("ARIPROXY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// StartNATS starts an embedded nats-server on a random loopback port and
// returns it with its client URL.
func StartNATS(t testing.TB) (*natsbus.Embedded, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	e, err := natsbus.StartEmbedded(ctx, "127.0.0.1:0", natsbus.WithServerLogger(Logger()))
	if err != nil {
		t.Fatalf("testenv: starting NATS: %v", err)
	}
	t.Cleanup(e.Shutdown)
	return e, e.ClientURL()
}

// Connect connects a bus client to url (any transport busdial knows),
// closed on cleanup.
func Connect(t testing.TB, url string) busdial.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	b, err := busdial.Dial(ctx, url, busdial.Options{Logger: Logger()})
	if err != nil {
		t.Fatalf("testenv: connecting to %s: %v", url, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// StartSim starts an ARI simulator with entity id entityID and the
// credentials SimUser/SimPassword.
func StartSim(t testing.TB, entityID string) *arisim.Sim {
	t.Helper()
	return StartSimConfig(t, arisim.Config{EntityID: entityID})
}

// StartSimConfig starts an ARI simulator configured by cfg; credentials
// and logger default to SimUser/SimPassword and Logger().
func StartSimConfig(t testing.TB, cfg arisim.Config) *arisim.Sim {
	t.Helper()
	if cfg.User == "" && cfg.Password == "" {
		cfg.User, cfg.Password = SimUser, SimPassword
	}
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	sim := arisim.New(cfg)
	if _, err := sim.Listen("127.0.0.1:0"); err != nil {
		t.Fatalf("testenv: starting the ARI simulator: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// ARIConfig is the ariconn configuration that reaches sim (started with
// the default credentials).
func ARIConfig(sim *arisim.Sim) ariconn.Config {
	return ariconn.Config{
		HTTPURL:      sim.URL(),
		WebSocketURL: sim.WebSocketURL(),
		Username:     SimUser,
		Password:     SimPassword,
		Logger:       Logger(),
	}
}

// Prefix is a fresh random subject prefix, so tests sharing a bus do not
// see each other's traffic.
func Prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:]) + "."
}

// StartServer runs a proxy server for app in front of sim on the bus at
// busURL under prefix ("" for a random one), waits until it is ready and
// stops it on cleanup.
func StartServer(t testing.TB, sim *arisim.Sim, busURL, app, prefix string) *proxy.Server {
	t.Helper()
	if prefix == "" {
		prefix = Prefix()
	}
	return RunServer(t, proxy.Config{
		Applications: []string{app},
		ARI:          ARIConfig(sim),
		Bus:          Connect(t, busURL),
		Prefix:       prefix,
	})
}

// RunServer runs a server with cfg (Logger defaults to Logger()), waits
// until it is ready and stops it on cleanup, failing the test if Run
// returns an error.
func RunServer(t testing.TB, cfg proxy.Config) *proxy.Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	s, err := proxy.New(cfg)
	if err != nil {
		t.Fatalf("testenv: proxy.New: %v", err)
	}
	stop, err := localstack.RunServer(context.Background(), s, StartTimeout)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := stop(StartTimeout); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return s
}
