package natsbus

import (
	"context"

	"github.com/nats-io/nats.go"
)

// InProcessServer is a NATS server running in this process
// (natsserver.Server), declared here so that this package does not link
// nats-server.
type InProcessServer interface {
	// Addr is the "host:port" the server listens on.
	Addr() string
	// InProcessOptions connect to it without TCP, with its credentials.
	InProcessOptions() []nats.Option
}

// ConnectInProcess connects to a server in this process (no TCP, no TLS),
// with the credentials the server was started with.
func ConnectInProcess(ctx context.Context, s InProcessServer, opts ...Option) (*Bus, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	// The in-process pipe is plain: drop TLS the caller may have asked
	// for, and put the server's credentials before the caller's extras.
	o.tlsConfig, o.rootCAs, o.certFile, o.keyFile = nil, nil, "", ""
	o.extra = append(s.InProcessOptions(), o.extra...)
	return connect(ctx, "nats://"+s.Addr(), o)
}
