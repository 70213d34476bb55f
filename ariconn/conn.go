// Package ariconn is the connection from the proxy server to one Asterisk:
// REST calls made from rows of the ari operation table, and the events
// WebSocket, reconnected with backoff.
package ariconn

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/ariproxy/ari-proxy/ari"
)

// Config is what a Conn needs to reach one Asterisk.
type Config struct {
	HTTPURL      string // base of the REST API, e.g. http://127.0.0.1:8088/ari
	WebSocketURL string // the events WebSocket, e.g. ws://127.0.0.1:8088/ari/events
	Username     string
	Password     string
	Applications []string // Stasis applications to register on the WebSocket
	SubscribeAll bool
	HTTPClient   *http.Client // nil: a client with sane timeouts and keep-alive
	Logger       *slog.Logger // nil: slog.Default()
}

// Response is Asterisk's answer to a REST call.
type Response struct {
	Status int
	Body   []byte
}

// Conn is a connection to one Asterisk's ARI.
type Conn struct {
	cfg Config
}

// New checks cfg and returns a Conn. It does not connect yet.
func New(cfg Config) (*Conn, error) { return &Conn{cfg: cfg}, nil }

// Do makes the REST call op with params. A non-2xx answer is a Response,
// not an error; errors are transport failures and bad params.
func (c *Conn) Do(ctx context.Context, op *ari.Operation, params ari.Params) (*Response, error) {
	panic("unimplemented")
}

// Run holds the events WebSocket until ctx ends: it calls handle with each
// event's exact bytes, sequentially and in the order Asterisk sent them,
// and reconnects with backoff when the connection drops. onState, if not
// nil, is told each time the WebSocket goes up or down.
func (c *Conn) Run(ctx context.Context, handle func(raw []byte), onState func(up bool)) error {
	panic("unimplemented")
}
