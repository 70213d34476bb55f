package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/ariproxy/ari-proxy/internal/demo"
)

// demoCmd runs the self-contained demo.
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ari-proxy demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	calls := fs.Int("calls", demo.DefaultCalls, "number of simulated calls to handle before exiting")
	forever := fs.Bool("forever", false, "keep placing calls until interrupted (SIGINT/SIGTERM)")
	timeout := fs.Duration("timeout", demo.DefaultTimeout, "give up when not done by then (not with --forever)")
	busf := addBusFlags(fs)
	logLevel := fs.String("log-level", "warn", "level of the components' logs on stderr: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: ari-proxy demo [flags]

Runs everything in one process: an embedded NATS server (or the bus of
--bus, e.g. amqp://guest:guest@127.0.0.1:5672/, or a private RabbitMQ with
--rabbitmq) and the ARI simulator on free loopback ports, the proxy server between them, and an
example application (client library) that answers simulated calls, plays a
prompt, bridges the calls two by two and hangs up. The flow goes to stdout.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *calls < 1 {
		return usageError{fmt.Errorf("--calls must be at least 1, not %d", *calls)}
	}
	if *timeout <= 0 {
		return usageError{fmt.Errorf("--timeout must be more than zero, not %s", *timeout)}
	}
	log, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		return usageError{err}
	}
	busURL, stopBus, err := busf.open(ctx)
	if err != nil {
		return err
	}
	defer stopBus()
	return demo.Run(ctx, demo.Options{
		BusURL:  busURL,
		Calls:   *calls,
		Forever: *forever,
		Timeout: *timeout,
		Out:     stdout,
		Logger:  log,
	})
}
