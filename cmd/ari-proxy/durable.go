package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/internal/config"
	"github.com/ariproxy/ari-proxy/wire"
)

// durableFlushTimeout bounds how long a stopping server waits for the
// stream to acknowledge the events still buffered.
const durableFlushTimeout = 10 * time.Second

// durable is the durable mode of a server: the event stream and the
// publisher that feeds it on a connection of its own.
type durable struct {
	pub *natsbus.DurablePublisher
	bus *natsbus.Bus
	log *slog.Logger
}

// startDurable connects the publisher with connect (which must pass
// natsbus.WithReconnectBuffer(-1)), registers its metrics and makes sure
// the event stream exists, in the background: until it does (the bus or
// JetStream not up yet) the events wait in the publisher's buffer, and
// the server runs and reports as usual instead of blocking its start.
func startDurable(ctx context.Context, cfg *config.Config, b *natsbus.Bus, connect func(context.Context) (*natsbus.Bus, error), reg prometheus.Registerer, log *slog.Logger) (*durable, error) {
	sc := natsbus.StreamConfig{
		Prefix: wire.NewSubjects(cfg.Prefix).Prefix, MaxAge: cfg.DurableMaxAge,
		MaxBytes: cfg.DurableMaxBytes, Replicas: cfg.DurableReplicas,
	}
	pb, err := connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("durable mode: publisher connection: %w", err)
	}
	pub, err := natsbus.NewDurablePublisher(pb, 0)
	if err != nil {
		pb.Close()
		return nil, err
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "ariproxy", Name: "durable_buffered_events",
			Help: "Events waiting for the stream's acknowledgement (buffered while the bus is away)."},
			func() float64 { return float64(pub.Buffered()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "ariproxy", Name: "durable_dropped_events_total",
			Help: "Events dropped because the durable buffer was full."},
			func() float64 { return float64(pub.Dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "ariproxy", Name: "durable_republished_events_total",
			Help: "Events published again after a lost acknowledgement (stored once)."},
			func() float64 { return float64(pub.Republished()) }),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	ready := make(chan struct{})
	pub.WaitFor(ready)
	go func() {
		for attempt, wait := 1, 100*time.Millisecond; ; attempt++ {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := natsbus.EnsureStream(actx, b, sc)
			cancel()
			if err == nil {
				break
			}
			if attempt == 1 {
				log.Warn("durable mode: waiting for JetStream to create the event stream; events are buffered meanwhile", "stream", natsbus.StreamName(sc.Prefix), "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(wait*2, 2*time.Second)
		}
		log.Info("durable mode: event stream ready", "stream", natsbus.StreamName(sc.Prefix),
			"max_age", sc.MaxAge, "max_bytes", sc.MaxBytes, "replicas", max(sc.Replicas, 1))
		close(ready)
	}()
	return &durable{pub: pub, bus: pb, log: log}, nil
}

// close flushes the buffered events to the stream (bounded) and closes
// the publisher's connection.
func (d *durable) close() {
	ctx, cancel := context.WithTimeout(context.Background(), durableFlushTimeout)
	defer cancel()
	if left, err := d.pub.Close(ctx); err != nil {
		d.log.Error("durable mode: events not acknowledged by the stream at stop", "lost", left, "err", err)
	}
	d.bus.Close()
}
