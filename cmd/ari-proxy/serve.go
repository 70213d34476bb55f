package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/internal/config"
	"github.com/ariproxy/ari-proxy/proxy"
)

// shutdownTimeout bounds the metrics server's graceful stop.
const shutdownTimeout = 5 * time.Second

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

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The bus: an in-process nats-server for embedded://, else a real one.
	var (
		b              *natsbus.Bus
		emb            *natsbus.Embedded
		connectDurable func(context.Context) (*natsbus.Bus, error)
	)
	if addr, ok := natsbus.ParseEmbeddedURL(cfg.BusURL); ok {
		eopts := []natsbus.EmbeddedOption{natsbus.WithServerLogger(log), natsbus.WithServerName("ari-proxy")}
		if cfg.Durable {
			eopts = append(eopts, natsbus.WithJetStream(cfg.DurableStoreDir))
		}
		emb, err = natsbus.StartEmbedded(ctx, addr, eopts...)
		if err != nil {
			return fmt.Errorf("starting the embedded NATS server on %s: %w", addr, err)
		}
		defer emb.Shutdown()
		log.Info("embedded NATS server listening", "url", emb.ClientURL(),
			"hint", "clients connect with MESSAGEBUS_URL="+emb.ClientURL())
		b, err = emb.Connect(ctx, natsbus.WithName("ari-proxy"), natsbus.WithLogger(log))
		connectDurable = func(ctx context.Context) (*natsbus.Bus, error) {
			return emb.Connect(ctx, natsbus.WithName("ari-proxy durable"), natsbus.WithLogger(log), natsbus.WithReconnectBuffer(-1))
		}
	} else {
		// Wait for the bus rather than exit: a server started before its
		// bus (or whose bus restarts) retries with backoff, logging each
		// change of state once, and reports it in its readiness.
		opts := []natsbus.Option{natsbus.WithName("ari-proxy"), natsbus.WithLogger(log), natsbus.WithWaitForBus()}
		if cfg.CredentialsFile != "" {
			opts = append(opts, natsbus.WithCredentialsFile(cfg.CredentialsFile))
		}
		if cfg.RootCA != "" {
			opts = append(opts, natsbus.WithRootCA(cfg.RootCA))
		}
		if cfg.ClientCert != "" {
			opts = append(opts, natsbus.WithClientCert(cfg.ClientCert, cfg.ClientKey))
		}
		b, err = natsbus.Connect(ctx, cfg.BusURL, opts...)
		connectDurable = func(ctx context.Context) (*natsbus.Bus, error) {
			return natsbus.Connect(ctx, cfg.BusURL, append(opts, natsbus.WithName("ari-proxy durable"), natsbus.WithReconnectBuffer(-1))...)
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
		d, err := startDurable(ctx, cfg, b, connectDurable, reg, log)
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped while waiting
			}
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
	})
	if err != nil {
		return err
	}

	var ready atomic.Bool
	if cfg.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, reg, func() error {
			if !ready.Load() {
				return errors.New("not ready: waiting for Asterisk")
			}
			if !b.Conn().IsConnected() {
				return errors.New("bus disconnected")
			}
			return nil
		}, log)
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
		ready.Store(true)
		log.Info("ready", "node", srv.Node(), "applications", cfg.Applications, "prefix", cfg.Prefix)
	case err := <-done:
		return err
	}
	err = <-done
	log.Info("stopped")
	return err
}

// serveMetrics serves /metrics and /healthz on addr until the returned
// function is called.
func serveMetrics(addr string, reg *prometheus.Registry, health func() error, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := health(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	log.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics", "health", "http://"+ln.Addr().String()+"/healthz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, nil
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
