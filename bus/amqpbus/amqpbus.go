// Package amqpbus implements bus.Bus on RabbitMQ (AMQP 0-9-1, with
// github.com/rabbitmq/amqp091-go) in the layout of ari-proxy v5's
// RabbitMQ mode, so v5 servers and clients on the same broker
// interoperate with ours:
//
//   - four exchanges, durable, declared on every connect: ari.event and
//     ari.request (topic), ari.ping and ari.announce (fanout);
//   - routing keys are the NATS subjects ("#" for ">");
//   - a subscription is a queue of its own, "ari-sub.<random>", durable
//     with an expiry (x-expires), so it outlives a broker restart and a
//     short disconnect, and is deleted by Unsubscribe;
//   - a queue subscription shares the queue "<queue>-<routing key>"
//     (v5's create queues: "ariproxy-ari.create.<app>"), so one member
//     takes each message;
//   - a request is published with mandatory set (an unroutable one comes
//     back: bus.ErrNoResponders) and its answers come by direct reply-to
//     on a channel of its own with a reply address of its own, since v5
//     servers set no correlation id.
//
// Faults are survived without the caller: the connection is re-dialled
// with capped backoff, exchanges re-declared and every subscription
// re-subscribed; requests waiting when the connection drops fail with
// bus.ErrNotConnected; messages published while disconnected wait in a
// bounded buffer and are sent after reconnecting. Every message but an
// answer to a request is published with publisher confirms: one the
// broker refuses is logged and counted, one unconfirmed when the channel
// died is sent again (so a subscriber may see it twice, never zero
// times). Answers go out at once on a channel without confirms.
package amqpbus

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/ariproxy/ari-proxy/bus"
)

// Defaults of Connect.
const (
	DefaultMaxBuffered  = 65536
	DefaultMaxInflight  = 4096
	DefaultQueueExpiry  = 60 * time.Second
	DefaultPrefetch     = 512
	DefaultMaxRequests  = 1024
	DefaultBackoffStart = 100 * time.Millisecond
	DefaultBackoffMax   = 5 * time.Second
	DefaultHeartbeat    = 10 * time.Second
)

// Bus is a bus.Bus on a RabbitMQ connection that it re-establishes by
// itself. It is safe for concurrent use.
type Bus struct {
	url string
	cfg amqp.Config
	o   options
	log *slog.Logger
	m   *metrics
	pub *publisher
	// replies sends answers to requests (see replyPublisher).
	replies replyPublisher
	reqs    chan struct{} // semaphore: channels of outstanding requests

	idleMu     sync.Mutex
	idle       []*replyChan // reply channels to reuse, oldest first
	corrPrefix string
	corrSeq    atomic.Uint64
	replyOpen  atomic.Int64 // reply channels opened (tests)
	wires      sync.Map     // *amqp.Connection -> its *corkConn

	mu        sync.Mutex
	conn      *amqp.Connection // nil while disconnected
	up        chan struct{}    // closed while conn is usable; replaced when lost
	lost      chan struct{}    // closed when conn is lost; replaced on connect
	subs      map[*subscription]struct{}
	done      bool
	closed    chan struct{}
	wg        sync.WaitGroup
	connected bool
}

var _ bus.Bus = (*Bus)(nil)

// Option configures Connect.
type Option func(*options)

type options struct {
	name        string
	logger      *slog.Logger
	rootCAs     []string
	certFile    string
	keyFile     string
	tlsConfig   *tls.Config
	maxBuffered int
	maxInflight int
	queueExpiry time.Duration
	prefetch    int
	maxRequests int
	backoff     [2]time.Duration
	heartbeat   time.Duration
	waitForBus  bool
	reg         prometheus.Registerer
}

// WithName sets the connection name the broker shows (management UI,
// rabbitmqctl list_connections).
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithLogger logs connection events (lost, re-established, refused
// messages) to l instead of slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRootCA trusts the PEM CA certificates in path for the broker's TLS
// certificate (amqps://).
func WithRootCA(path string) Option {
	return func(o *options) { o.rootCAs = append(o.rootCAs, path) }
}

// WithClientCert presents the PEM certificate and key files to the broker
// (mutual TLS, amqps://).
func WithClientCert(certFile, keyFile string) Option {
	return func(o *options) { o.certFile, o.keyFile = certFile, keyFile }
}

// WithTLSConfig uses cfg for amqps://; WithRootCA and WithClientCert apply
// on top of it.
func WithTLSConfig(cfg *tls.Config) Option { return func(o *options) { o.tlsConfig = cfg } }

// WithBuffer bounds how many published messages may wait, while the
// connection is down or the broker slow, before Publish drops them
// (default DefaultMaxBuffered), and how many may await the broker's
// confirm (default DefaultMaxInflight).
func WithBuffer(maxBuffered, maxInflight int) Option {
	return func(o *options) { o.maxBuffered, o.maxInflight = maxBuffered, maxInflight }
}

// WithQueueExpiry sets how long a subscription's queue survives without a
// consumer (x-expires; default DefaultQueueExpiry): a subscriber that
// comes back within it gets the messages sent meanwhile.
func WithQueueExpiry(d time.Duration) Option { return func(o *options) { o.queueExpiry = d } }

// WithBackoff sets the first and the largest wait between reconnection
// attempts (defaults DefaultBackoffStart, DefaultBackoffMax); the wait
// doubles after each failure.
func WithBackoff(first, max time.Duration) Option {
	return func(o *options) { o.backoff = [2]time.Duration{first, max} }
}

// WithWaitForBus makes Connect succeed even when the broker does not
// answer yet: the connection is then made in the background with the
// reconnect backoff, as after a loss. Meanwhile subscriptions are made
// once connected, publishes are buffered and RequestMany fails at once
// with bus.ErrNotConnected.
func WithWaitForBus() Option { return func(o *options) { o.waitForBus = true } }

// WithRegisterer registers the Bus's metrics (published, refused,
// dropped, reconnects) with reg.
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// Connect connects to the broker at url ("amqp://user:pass@host:5672/vhost"
// or "amqps://..."), declares the exchanges and returns once that worked.
// ctx bounds this first connection only: after that the Bus reconnects by
// itself until Close.
func Connect(ctx context.Context, rawURL string, opts ...Option) (*Bus, error) {
	o := options{
		maxBuffered: DefaultMaxBuffered, maxInflight: DefaultMaxInflight, queueExpiry: DefaultQueueExpiry,
		prefetch: DefaultPrefetch, maxRequests: DefaultMaxRequests,
		backoff: [2]time.Duration{DefaultBackoffStart, DefaultBackoffMax}, heartbeat: DefaultHeartbeat,
	}
	for _, opt := range opts {
		opt(&o)
	}
	log := o.logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "amqpbus")
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") {
		return nil, fmt.Errorf("amqpbus: connect %s: not an amqp:// or amqps:// URL", RedactURL(rawURL))
	}
	cfg := amqp.Config{
		Heartbeat:  o.heartbeat,
		Locale:     "en_US",
		Properties: amqp.Table{"product": "ari-proxy"},
	}
	if o.name != "" {
		cfg.Properties["connection_name"] = o.name
	}
	if u.Scheme == "amqps" || o.tlsConfig != nil || len(o.rootCAs) > 0 || o.certFile != "" {
		tc, err := tlsConfig(o)
		if err != nil {
			return nil, fmt.Errorf("amqpbus: connect %s: %w", RedactURL(rawURL), err)
		}
		if tc.ServerName == "" {
			tc.ServerName = u.Hostname()
		}
		cfg.TLSClientConfig = tc
	}
	b := &Bus{
		url: rawURL, cfg: cfg, o: o, log: log, m: newMetrics(o.reg),
		reqs:       make(chan struct{}, max(o.maxRequests, 1)),
		corrPrefix: randomHex(6) + ".",
		up:         make(chan struct{}),
		lost:       make(chan struct{}),
		subs:       map[*subscription]struct{}{},
		closed:     make(chan struct{}),
	}
	b.pub = newPublisher(b)
	b.replies.b = b
	conn, err := b.dial(ctx)
	switch {
	case err == nil:
		b.setConn(conn)
		log.Info("amqp connected", "url", RedactURL(rawURL))
	case o.waitForBus && ctx.Err() == nil:
		log.Warn("amqp broker not reachable yet; connecting in the background", "url", RedactURL(rawURL), "err", err)
		conn = nil
	default:
		return nil, fmt.Errorf("amqpbus: connect %s: %w", RedactURL(rawURL), err)
	}
	b.wg.Add(2)
	go b.keepConnected(conn)
	go b.pub.run()
	return b, nil
}

// dial opens a connection and declares the exchanges on it.
func (b *Bus) dial(ctx context.Context) (*amqp.Connection, error) {
	cfg := b.cfg
	var wire *corkConn
	cfg.Dial = func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: 30 * time.Second}
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// The handshake must not outlive ctx either; amqp091 clears the
		// deadline once connected.
		if dl, ok := ctx.Deadline(); ok {
			_ = c.SetDeadline(dl)
		} else {
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		}
		wire = &corkConn{Conn: c}
		return wire, nil
	}
	conn, err := amqp.DialConfig(b.url, cfg)
	if err != nil {
		return nil, err
	}
	b.wires.Store(conn, wire)
	go func() {
		<-conn.NotifyClose(make(chan *amqp.Error, 1))
		b.wires.Delete(conn)
	}()
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, err
	}
	defer ch.Close()
	for _, ex := range exchangeKinds {
		if err := ch.ExchangeDeclare(ex.name, ex.kind, true, false, false, false, nil); err != nil {
			conn.Close()
			return nil, fmt.Errorf("declaring exchange %s: %w", ex.name, err)
		}
	}
	return conn, nil
}

func (b *Bus) setConn(conn *amqp.Connection) {
	b.mu.Lock()
	b.conn = conn
	b.connected = true
	close(b.up)
	b.lost = make(chan struct{})
	b.mu.Unlock()
}

// keepConnected waits for the connection to drop and dials again, with
// capped exponential backoff, until Close.
func (b *Bus) keepConnected(conn *amqp.Connection) {
	defer b.wg.Done()
	for {
		if conn == nil { // not connected yet (WithWaitForBus)
			if conn = b.redial(); conn == nil {
				return
			}
			b.log.Info("amqp connected", "url", RedactURL(b.url))
			continue
		}
		closeErr := conn.NotifyClose(make(chan *amqp.Error, 1))
		select {
		case err := <-closeErr:
			b.mu.Lock()
			b.conn = nil
			b.connected = false
			b.up = make(chan struct{})
			close(b.lost)
			b.mu.Unlock()
			if err != nil {
				b.log.Warn("amqp connection lost", "url", RedactURL(b.url), "err", err)
			}
		case <-b.closed:
			conn.Close()
			return
		}
		if conn = b.redial(); conn == nil {
			return
		}
		b.m.reconnects.Inc()
		b.log.Info("amqp reconnected", "url", RedactURL(b.url))
	}
}

// redial dials with capped exponential backoff until it connects (and
// makes the connection current) or the Bus closes (nil).
func (b *Bus) redial() *amqp.Connection {
	wait := b.o.backoff[0]
	for {
		select {
		case <-b.closed:
			return nil
		case <-time.After(wait):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := b.dial(ctx)
		cancel()
		if err == nil {
			b.mu.Lock()
			done := b.done
			b.mu.Unlock()
			if done {
				c.Close()
				return nil
			}
			b.setConn(c)
			return c
		}
		b.log.Debug("amqp reconnect failed", "err", err, "retry_in", wait)
		wait = min(wait*2, b.o.backoff[1])
	}
}

// current returns the connection and the channel closed when it is lost,
// waiting for one until ctx ends or the Bus closes.
func (b *Bus) current(ctx context.Context) (*amqp.Connection, <-chan struct{}, error) {
	for {
		b.mu.Lock()
		conn, up, lost, done := b.conn, b.up, b.lost, b.done
		b.mu.Unlock()
		if done {
			return nil, nil, bus.ErrClosed
		}
		if conn != nil {
			return conn, lost, nil
		}
		select {
		case <-up:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-b.closed:
			return nil, nil, bus.ErrClosed
		}
	}
}

func (b *Bus) isDone() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.done
}

// Connected reports whether the connection to the broker is up now.
func (b *Bus) Connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.connected
}

// Close ends the Bus: subscriptions stop (their queues are deleted),
// messages still buffered are sent for at most a second, and the
// connection closes. Calling it again does nothing.
func (b *Bus) Close() error {
	subs, first := b.finish()
	if !first {
		return nil
	}
	for s := range subs {
		s.stop(true)
	}
	b.pub.drain(time.Second)
	close(b.closed)
	b.wg.Wait()
	return nil
}

// finish marks the Bus done and takes its subscriptions; first is false
// when it was done already.
func (b *Bus) finish() (subs map[*subscription]struct{}, first bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return nil, false
	}
	b.done = true
	subs, b.subs = b.subs, nil
	return subs, true
}

// tlsConfig builds the TLS settings of amqps:// from the options.
func tlsConfig(o options) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.tlsConfig != nil {
		tc = o.tlsConfig.Clone()
	}
	if len(o.rootCAs) > 0 {
		pool := x509.NewCertPool()
		for _, p := range o.rootCAs {
			pem, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("root CA: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("root CA %s: no PEM certificate", p)
			}
		}
		tc.RootCAs = pool
	}
	if o.certFile != "" || o.keyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = append(tc.Certificates, cert)
	}
	return tc, nil
}

// RedactURL returns u with any password replaced by "redacted", for logs.
func RedactURL(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, has := pu.User.Password(); has {
		pu.User = url.UserPassword(pu.User.Username(), "redacted")
	}
	return pu.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// wrapErr adds context to an amqp091 error, marking the closed ones.
func wrapErr(what string, err error) error {
	if errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("amqpbus: %s: %w: %w", what, bus.ErrNotConnected, err)
	}
	return fmt.Errorf("amqpbus: %s: %w", what, err)
}
