package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/ariproxy/ari-proxy/bus/busdial"
	"github.com/ariproxy/ari-proxy/internal/rabbitmqd"
)

// busFlags are the flags of the commands that run a local stack (demo,
// bench): which bus it runs on.
type busFlags struct {
	url      *string
	rabbitmq *bool
	broker   **rabbitmqd.Broker // the private broker open started, if any
}

func addBusFlags(fs *flag.FlagSet) busFlags {
	return busFlags{
		url:      fs.String("bus", "", "bus URL to run on (nats://..., amqp://user:pass@host:5672/); default: an embedded NATS server"),
		rabbitmq: fs.Bool("rabbitmq", false, "start a private rabbitmq-server (the Debian package) on a free loopback port and run on it"),
		broker:   new(*rabbitmqd.Broker),
	}
}

// open returns the bus URL the flags ask for ("" for the embedded NATS
// server), starting the private broker for --rabbitmq; stop stops it.
func (f busFlags) open(ctx context.Context) (url string, stop func(), err error) {
	if *f.rabbitmq && *f.url != "" {
		return "", nil, usageError{fmt.Errorf("--bus and --rabbitmq are exclusive")}
	}
	if *f.url != "" {
		if _, ok := busdial.Transport(*f.url); !ok {
			return "", nil, usageError{fmt.Errorf("--bus %s: the URL must begin with nats://, tls://, amqp:// or amqps://", busdial.RedactURL(*f.url))}
		}
		return *f.url, func() {}, nil
	}
	if !*f.rabbitmq {
		return "", func() {}, nil
	}
	fmt.Fprintln(os.Stderr, "starting a private rabbitmq-server (about 5 s)...")
	b, err := rabbitmqd.Start(ctx)
	if err != nil {
		return "", nil, err
	}
	*f.broker = b
	return b.URL(), b.Stop, nil
}

// note describes the private broker open started (version, settings),
// "" without one.
func (f busFlags) note(ctx context.Context) string {
	if *f.broker == nil {
		return ""
	}
	return "private " + (*f.broker).Settings(ctx)
}
