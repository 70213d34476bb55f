// Package busdial opens the message bus named by a URL, so the server and
// the client pick the transport the same way and nothing above bus.Bus
// knows which one runs:
//
//	nats://host:4222, tls://host:4222 (a comma-separated list too)  NATS (natsbus)
//	amqp://user:pass@host:5672/vhost, amqps://...                    RabbitMQ (amqpbus)
package busdial

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/bus/amqpbus"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
)

// Bus is a bus.Bus that can tell whether its connection is up (for
// health checks).
type Bus interface {
	bus.Bus
	// Connected reports whether the connection to the bus is up now.
	Connected() bool
}

// Options are the settings both transports understand, plus raw options
// for each. Zero values are the transports' defaults.
type Options struct {
	// Name names the connection on the broker.
	Name string
	// Logger receives connection events (slog.Default() when nil).
	Logger *slog.Logger
	// RootCA is a PEM file of CA certificates trusted for the broker's TLS
	// certificate; ClientCert and ClientKey are presented to it (mutual
	// TLS).
	RootCA, ClientCert, ClientKey string
	// CredentialsFile is a NATS .creds file (NATS only; an error with amqp).
	CredentialsFile string
	// WaitForBus makes Dial succeed while the bus is not reachable yet:
	// the connection is then made in the background, with the reconnect
	// backoff (natsbus.WithWaitForBus, amqpbus.WithWaitForBus).
	WaitForBus bool
	// Registerer receives the transport's metrics, where it has any.
	Registerer prometheus.Registerer
	// NATS and AMQP are passed to natsbus.Connect and amqpbus.Connect.
	NATS []natsbus.Option
	AMQP []amqpbus.Option
}

// Transport names the transport of url: "nats" or "amqp" (ok false for
// an unknown scheme).
func Transport(rawURL string) (string, bool) {
	first, _, _ := strings.Cut(strings.TrimSpace(rawURL), ",")
	u, err := url.Parse(strings.TrimSpace(first))
	if err != nil {
		return "", false
	}
	switch strings.ToLower(u.Scheme) {
	case "nats", "tls":
		return "nats", true
	case "amqp", "amqps":
		return "amqp", true
	}
	return "", false
}

// Dial connects to the bus at url. ctx bounds the first connection only:
// both transports then reconnect by themselves until Close.
func Dial(ctx context.Context, rawURL string, o Options) (Bus, error) {
	tr, ok := Transport(rawURL)
	if !ok {
		return nil, fmt.Errorf("busdial: %s: the URL must begin with nats://, tls://, amqp:// or amqps://", natsbus.RedactURL(rawURL))
	}
	if tr == "amqp" {
		if o.CredentialsFile != "" {
			return nil, errors.New("busdial: a NATS credentials file cannot be used with an amqp:// bus (put the user in the URL)")
		}
		opts := []amqpbus.Option{amqpbus.WithLogger(o.Logger), amqpbus.WithRegisterer(o.Registerer)}
		if o.Name != "" {
			opts = append(opts, amqpbus.WithName(o.Name))
		}
		if o.WaitForBus {
			opts = append(opts, amqpbus.WithWaitForBus())
		}
		if o.RootCA != "" {
			opts = append(opts, amqpbus.WithRootCA(o.RootCA))
		}
		if o.ClientCert != "" || o.ClientKey != "" {
			opts = append(opts, amqpbus.WithClientCert(o.ClientCert, o.ClientKey))
		}
		b, err := amqpbus.Connect(ctx, strings.TrimSpace(rawURL), append(opts, o.AMQP...)...)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := natsbus.Connect(ctx, rawURL, NATSOptions(o)...)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// NATSOptions are the natsbus options o stands for (o.NATS last), for a
// second NATS connection made like Dial's.
func NATSOptions(o Options) []natsbus.Option {
	var opts []natsbus.Option
	if o.Logger != nil {
		opts = append(opts, natsbus.WithLogger(o.Logger))
	}
	if o.Name != "" {
		opts = append(opts, natsbus.WithName(o.Name))
	}
	if o.WaitForBus {
		opts = append(opts, natsbus.WithWaitForBus())
	}
	if o.CredentialsFile != "" {
		opts = append(opts, natsbus.WithCredentialsFile(o.CredentialsFile))
	}
	if o.RootCA != "" {
		opts = append(opts, natsbus.WithRootCA(o.RootCA))
	}
	if o.ClientCert != "" || o.ClientKey != "" {
		opts = append(opts, natsbus.WithClientCert(o.ClientCert, o.ClientKey))
	}
	return append(opts, o.NATS...)
}

// RedactURL returns url with credentials replaced, for logs and errors.
func RedactURL(rawURL string) string { return natsbus.RedactURL(rawURL) }
