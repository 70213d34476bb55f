package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/bus/busdial"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
	"github.com/ariproxy/ari-proxy/internal/config"
	"github.com/ariproxy/ari-proxy/proxy"
)

// serve runs the proxy server until ctx ends.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := config.Load(args, config.WithOutput(stderr), config.WithName("ari-proxy serve"))
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Errorf("invalid configuration:\n  %w", indent(err))}
	}
	log := cfg.NewLogger(stderr)
	slog.SetDefault(log)
	log.Info("starting ari-proxy", "version", versionString(), "config", cfg)
	go trimWhenIdle(ctx, log, adaptiveGC(log))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The bus: an in-process nats-server for embedded://, else the one the
	// URL names (NATS or RabbitMQ, busdial picks).
	var (
		b              busdial.Bus
		emb            *natsserver.Server
		connectDurable func(context.Context) (*natsbus.Bus, error)
	)
	if addr, ok := natsserver.ParseURL(cfg.BusURL); ok {
		eopts := []natsserver.Option{natsserver.WithLogger(log), natsserver.WithName("ari-proxy")}
		if cfg.Durable {
			eopts = append(eopts, natsserver.WithJetStream(cfg.DurableStoreDir))
		}
		emb, err = natsserver.Start(ctx, addr, eopts...)
		if err != nil {
			return embeddedError(addr, err)
		}
		defer emb.Shutdown()
		log.Info("embedded NATS server listening", "url", emb.ClientURL(),
			"hint", "clients connect with MESSAGEBUS_URL="+emb.ClientURL())
		b, err = natsbus.ConnectInProcess(ctx, emb, natsbus.WithName("ari-proxy"), natsbus.WithLogger(log))
		connectDurable = func(ctx context.Context) (*natsbus.Bus, error) {
			return natsbus.ConnectInProcess(ctx, emb, natsbus.WithName("ari-proxy durable"), natsbus.WithLogger(log), natsbus.WithReconnectBuffer(-1))
		}
	} else {
		// Wait for the bus rather than exit: a server started before its
		// bus (or whose bus restarts) retries with backoff, logging each
		// change of state once, and reports it in its readiness.
		dopts := busdial.Options{
			Name: "ari-proxy", Logger: log, Registerer: reg, WaitForBus: true, CredentialsFile: cfg.CredentialsFile,
			RootCA: cfg.RootCA, ClientCert: cfg.ClientCert, ClientKey: cfg.ClientKey,
		}
		if tr, _ := busdial.Transport(cfg.BusURL); tr == "amqp" && cfg.Durable {
			return usageError{errors.New("durable mode needs NATS JetStream; on RabbitMQ, subscription queues already outlive a broker restart (see docs/rabbitmq.md)")}
		}
		b, err = busdial.Dial(ctx, cfg.BusURL, dopts)
		connectDurable = func(ctx context.Context) (*natsbus.Bus, error) {
			return natsbus.Connect(ctx, cfg.BusURL, append(busdial.NATSOptions(dopts), natsbus.WithName("ari-proxy durable"), natsbus.WithReconnectBuffer(-1))...)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while connecting
		}
		return fmt.Errorf("connecting to the bus %s: %w", natsbus.RedactURL(cfg.BusURL), err)
	}
	defer b.Close()

	var events proxy.Publisher // nil: the events go through b
	if cfg.Durable {
		d, err := startDurable(ctx, cfg, b.(*natsbus.Bus), connectDurable, reg, log) // NATS: checked above
		if err != nil {
			return err
		}
		defer d.close()
		events = d.pub
	}

	srv, err := proxy.New(proxy.Config{
		Applications: cfg.Applications,
		ARI: ariconn.Config{
			HTTPURL:      cfg.HTTPURL,
			WebSocketURL: cfg.WebSocketURL,
			Username:     cfg.Username,
			Password:     cfg.Password,
			Applications: cfg.Applications,
			SubscribeAll: cfg.SubscribeAll,
			Logger:       log,
		},
		Bus:              b,
		Prefix:           cfg.Prefix,
		AnnounceInterval: cfg.AnnounceInterval,
		RequestTimeout:   cfg.RequestTimeout,
		MaxConcurrent:    cfg.MaxConcurrent,
		ShutdownTimeout:  cfg.ShutdownTimeout,
		Events:           events,
		Logger:           log,
		Registerer:       reg,
		Node:             cfg.NodeID,
	})
	if err != nil {
		return err
	}

	if cfg.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, reg, srv.HealthHandler(), log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	log.Info("waiting for Asterisk", "ari_http_url", natsbus.RedactURL(cfg.HTTPURL), "applications", cfg.Applications)
	select {
	case <-srv.Ready():
		log.Info("ready", "node", srv.Node(), "applications", cfg.Applications, "prefix", cfg.Prefix)
	case err := <-done:
		return err
	}
	err = <-done
	log.Info("stopped")
	return err
}

// indent puts each of the errors joined in err on its own indented line.
func indent(err error) error {
	return wrapped{strings.ReplaceAll(err.Error(), "\n", "\n  "), err}
}

// wrapped is an error with its own text that still unwraps to err.
type wrapped struct {
	msg string
	err error
}

func (w wrapped) Error() string { return w.msg }
func (w wrapped) Unwrap() error { return w.err }

// defaultGCPercent is the server's garbage collection target while busy
// when GOGC is not set (idle: idleGCPercent). The server's live heap is small (a few MiB, bindings and
// buffers) and nearly everything it allocates is garbage within one
// request, so Go's default of 100 collected tens of times a second under
// load; 400 collects a quarter as often for a heap that peaks at a few
// tens of MiB (docs/benchmarks.md, "Round 2" and "Round 3").
const defaultGCPercent = 400

// adaptiveGC reports whether the server sets its own GC target
// (defaultGCPercent while busy, see trimWhenIdle): not when the operator
// set GOGC.
func adaptiveGC(log *slog.Logger) bool {
	if _, set := os.LookupEnv("GOGC"); set {
		return false
	}
	log.Debug("garbage collection target", "gogc_busy", defaultGCPercent, "gogc_idle", idleGCPercent)
	return true
}
