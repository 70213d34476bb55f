package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// shutdownTimeout bounds the metrics server's graceful stop.
const shutdownTimeout = 5 * time.Second

// metricsHandler serves reg's metrics, never compressed: the page is
// about 15 KiB of text, while a gzip writer is about 900 KiB of
// compressor state, which promhttp keeps in a sync.Pool: the pool loses
// it at every other collection, so a scraped server allocated a new one
// every few seconds and held one or two per P (1 to 3 MiB of its idle
// heap, doubled by the GC target), and the compression was a quarter of
// a scrape's CPU.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, DisableCompression: true})
}

// serveMetrics serves /metrics and the probes of health (/livez, /healthz,
// /readyz) on addr until the returned function is called. It is stopped
// after the proxy server, so that /readyz answers 503 "shutting down"
// while requests in flight finish.
func serveMetrics(addr string, reg *prometheus.Registry, health http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listener on %s (ARI_PROXY_METRICS_ADDR, --metrics-addr): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(reg))
	mux.Handle("GET /livez", health)
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /readyz", health)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	base := "http://" + ln.Addr().String()
	log.Info("metrics listening", "url", base+"/metrics", "livez", base+"/livez", "readyz", base+"/readyz", "health", base+"/healthz")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, nil
}
