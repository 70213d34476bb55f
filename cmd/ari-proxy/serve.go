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
	"github.com/ariproxy/ari-proxy/bus/busdial"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/internal/config"
	"github.com/ariproxy/ari-proxy/proxy"
)

// busConnectTimeout bounds the first connection to an external bus: a
// server that cannot reach it should say so, not wait forever.
const busConnectTimeout = 30 * time.Second

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

	// The bus: an in-process nats-server for embedded://, else the one the
	// URL names (NATS or RabbitMQ, busdial picks).
	var (
		b   busdial.Bus
		emb *natsbus.Embedded
	)
	if addr, ok := natsbus.ParseEmbeddedURL(cfg.BusURL); ok {
		emb, err = natsbus.StartEmbedded(ctx, addr, natsbus.WithServerLogger(log), natsbus.WithServerName("ari-proxy"))
		if err != nil {
			return fmt.Errorf("starting the embedded NATS server on %s: %w", addr, err)
		}
		defer emb.Shutdown()
		log.Info("embedded NATS server listening", "url", emb.ClientURL(),
			"hint", "clients connect with MESSAGEBUS_URL="+emb.ClientURL())
		b, err = emb.Connect(ctx, natsbus.WithName("ari-proxy"), natsbus.WithLogger(log))
	} else {
		cctx, cancel := context.WithTimeout(ctx, busConnectTimeout)
		b, err = busdial.Dial(cctx, cfg.BusURL, busdial.Options{
			Name: "ari-proxy", Logger: log, Registerer: reg, CredentialsFile: cfg.CredentialsFile,
			RootCA: cfg.RootCA, ClientCert: cfg.ClientCert, ClientKey: cfg.ClientKey,
		})
		cancel()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while connecting
		}
		return fmt.Errorf("connecting to the bus %s: %w", natsbus.RedactURL(cfg.BusURL), err)
	}
	defer b.Close()

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
			if !b.Connected() {
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
