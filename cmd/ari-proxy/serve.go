package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/bus/natsserver"
	"github.com/ariproxy/ari-proxy/internal/config"
	"github.com/ariproxy/ari-proxy/proxy"
)

// busConnectTimeout bounds the first connection to an external bus: a
// server that cannot reach it should say so, not wait forever.
const busConnectTimeout = 30 * time.Second

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
		b   *natsbus.Bus
		emb *natsserver.Server
	)
	if addr, ok := natsserver.ParseURL(cfg.BusURL); ok {
		emb, err = natsserver.Start(ctx, addr, natsserver.WithLogger(log), natsserver.WithName("ari-proxy"))
		if err != nil {
			return embeddedError(addr, err)
		}
		defer emb.Shutdown()
		log.Info("embedded NATS server listening", "url", emb.ClientURL(),
			"hint", "clients connect with MESSAGEBUS_URL="+emb.ClientURL())
		b, err = natsbus.ConnectInProcess(ctx, emb, natsbus.WithName("ari-proxy"), natsbus.WithLogger(log))
	} else {
		opts := []natsbus.Option{natsbus.WithName("ari-proxy"), natsbus.WithLogger(log)}
		if cfg.CredentialsFile != "" {
			opts = append(opts, natsbus.WithCredentialsFile(cfg.CredentialsFile))
		}
		if cfg.RootCA != "" {
			opts = append(opts, natsbus.WithRootCA(cfg.RootCA))
		}
		if cfg.ClientCert != "" {
			opts = append(opts, natsbus.WithClientCert(cfg.ClientCert, cfg.ClientKey))
		}
		cctx, cancel := context.WithTimeout(ctx, busConnectTimeout)
		b, err = natsbus.Connect(cctx, cfg.BusURL, opts...)
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
