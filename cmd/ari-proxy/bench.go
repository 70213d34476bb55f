package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ariproxy/ari-proxy/internal/bench"
)

// runBench runs the benchmark: NATS, the simulator and the proxy server in
// this process, then the scenarios of internal/bench. The report goes to
// stdout, progress and logs to stderr.
func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ari-proxy bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	duration := fs.Duration("duration", bench.DefaultDuration, "length of each request-rate measurement")
	concurrency := fs.Int("concurrency", bench.DefaultConcurrency, "requests in flight at once")
	events := fs.Int("events", bench.DefaultEvents, "events per flood")
	calls := fs.Int("calls", bench.DefaultCalls, "inbound calls per calls measurement")
	asJSON := fs.Bool("json", false, "write the report as JSON")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	busf := addBusFlags(fs)
	gatewayOnly := fs.Bool("gateway", false, "run the gateway section only: requests and events through ari-proxy gateway vs direct ARI")
	logLevel := fs.String("log-level", "error", "level of the components' logs on stderr: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: ari-proxy bench [flags]

Measures ari-proxy against plain ARI in one process: an embedded NATS
server (or the bus of --bus, or a private RabbitMQ with --rabbitmq) and the
ARI simulator on free loopback ports, the proxy server between them. It reports the simulator's own capacity (REST requests/s,
WebSocket events/s), then direct vs proxied requests (requests/s, p50/p99
latency), events (direct WebSocket vs client Subscribe) and inbound calls
(direct ARI application vs client Listen), with the ratios proxied/direct
and a warning when the simulator is within 2x of a proxied figure.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *duration <= 0:
		return usageError{fmt.Errorf("--duration must be more than zero, not %s", *duration)}
	case *concurrency < 1:
		return usageError{fmt.Errorf("--concurrency must be at least 1, not %d", *concurrency)}
	case *events < 1:
		return usageError{fmt.Errorf("--events must be at least 1, not %d", *events)}
	case *calls < 1:
		return usageError{fmt.Errorf("--calls must be at least 1, not %d", *calls)}
	}
	log, err := newLogger(os.Stderr, *logLevel, "text")
	if err != nil {
		return usageError{err}
	}
	busURL, stopBus, err := busf.open(ctx)
	if err != nil {
		return err
	}
	defer stopBus()
	opts := bench.Options{Duration: *duration, Concurrency: *concurrency, Events: *events, Calls: *calls, Logger: log, BusURL: busURL}
	if !*quiet {
		opts.Progress = func(step string) { fmt.Fprintf(os.Stderr, "bench: %s\n", step) }
	}
	var rep interface {
		WriteJSON(io.Writer) error
		WriteText(io.Writer) error
	}
	if *gatewayOnly {
		rep, err = bench.RunGateway(ctx, opts)
	} else {
		rep, err = bench.Run(ctx, opts)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteText(stdout)
}
