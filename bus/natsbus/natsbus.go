// Package natsbus implements bus.Bus on NATS (github.com/nats-io/nats.go).
// The embedded nats-server is package natsserver, apart so that programs
// that only connect to a bus do not link it.
//
// Delivery guarantees are NATS core ones: at most once, and in order
// from one publisher to one subscriber. A subscription's handler is
// called sequentially, one message at a time, in delivery order (nats.go
// runs one goroutine per subscription); a slow handler makes messages
// pile up in that subscription's pending buffer and, past its limits
// (see WithPendingLimits), nats.go drops them and the Bus logs a
// slow-consumer warning.
package natsbus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ariproxy/ari-proxy/bus"
)

// Default settings of Connect.
const (
	// DefaultReconnectWait is the first wait between attempts to reach the
	// bus; it doubles after every failed round of the server list, up to
	// DefaultMaxReconnectWait.
	DefaultReconnectWait = 100 * time.Millisecond
	// DefaultMaxReconnectWait caps the reconnect backoff: a bus back after
	// a long outage is found again within this time.
	DefaultMaxReconnectWait = 2 * time.Second
	DefaultDrainTimeout     = 5 * time.Second
)

// Bus is a bus.Bus on a NATS connection. It is safe for concurrent use.
type Bus struct {
	nc           *nats.Conn
	owned        bool          // Close closes nc
	closed       chan struct{} // closed by nats.go's ClosedHandler (owned only)
	log          *slog.Logger
	drainTimeout time.Duration
	pendingMsgs  int
	pendingBytes int

	mu   sync.Mutex
	subs map[*nats.Subscription]struct{} // live subscriptions made through this Bus
	mux  *respMux                        // RequestMany's answers; nil until first used
	done bool

	watchMu  sync.Mutex
	watchers map[*func(bool)]struct{} // Notify's callbacks
}

var _ bus.Bus = (*Bus)(nil)

// Option configures Connect.
type Option func(*options)

type options struct {
	name          string
	credsFile     string
	rootCAs       []string
	certFile      string
	keyFile       string
	tlsConfig     *tls.Config
	logger        *slog.Logger
	maxReconnects int
	reconnectWait time.Duration
	maxWait       time.Duration
	waitForBus    bool
	drainTimeout  time.Duration
	pendingMsgs   int
	pendingBytes  int
	extra         []nats.Option
}

// WithName sets the connection name the server shows in its monitoring.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithCredentialsFile authenticates with a NATS .creds file (JWT + nkey seed).
func WithCredentialsFile(path string) Option { return func(o *options) { o.credsFile = path } }

// WithRootCA trusts the PEM CA certificates in path for the server's TLS
// certificate, and turns TLS on (as the tls:// scheme does).
func WithRootCA(path string) Option {
	return func(o *options) { o.rootCAs = append(o.rootCAs, path) }
}

// WithClientCert presents the PEM certificate and key files to the server
// (mutual TLS), and turns TLS on.
func WithClientCert(certFile, keyFile string) Option {
	return func(o *options) { o.certFile, o.keyFile = certFile, keyFile }
}

// WithTLSConfig uses cfg for TLS, and turns TLS on. WithRootCA and
// WithClientCert apply on top of it.
func WithTLSConfig(cfg *tls.Config) Option { return func(o *options) { o.tlsConfig = cfg } }

// WithLogger logs connection events (disconnect, reconnect, slow
// consumers) to l instead of slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithReconnect sets how often (maxReconnects, negative: forever, the
// default) the connection is re-established after a loss, and the first
// wait between attempts (default DefaultReconnectWait), which doubles
// after each failed round of the server list up to the cap of
// WithMaxReconnectWait.
func WithReconnect(maxReconnects int, wait time.Duration) Option {
	return func(o *options) { o.maxReconnects, o.reconnectWait = maxReconnects, wait }
}

// WithMaxReconnectWait caps the reconnect backoff (default
// DefaultMaxReconnectWait).
func WithMaxReconnectWait(d time.Duration) Option { return func(o *options) { o.maxWait = d } }

// WithWaitForBus makes Connect succeed even when no server of the URL
// answers yet: the connection then keeps trying in the background, with
// the reconnect backoff, as after a loss. Meanwhile subscriptions are
// recorded and made on the server once connected, publishes are buffered
// (nats.go's reconnect buffer) and RequestMany fails at once with
// bus.ErrNotConnected. A process that needs the bus can start before it
// (no crash loop) and report its state with Connected and Notify.
func WithWaitForBus() Option { return func(o *options) { o.waitForBus = true } }

// WithDrainTimeout bounds how long Close waits for handlers to finish the
// messages already received (default DefaultDrainTimeout).
func WithDrainTimeout(d time.Duration) Option { return func(o *options) { o.drainTimeout = d } }

// WithPendingLimits sets, for each subscription, how many messages and
// bytes may wait for its handler before nats.go drops messages (slow
// consumer). Zero keeps nats.go's defaults (65536 messages, 64 MiB);
// negative means unlimited.
func WithPendingLimits(msgs, bytes int) Option {
	return func(o *options) { o.pendingMsgs, o.pendingBytes = msgs, bytes }
}

// WithNATSOptions passes raw nats.go options, applied after all others.
func WithNATSOptions(opts ...nats.Option) Option {
	return func(o *options) { o.extra = append(o.extra, opts...) }
}

// Connect connects to the NATS server(s) at url: one URL or several
// separated by commas, with credentials in the URL when needed
// ("nats://user:pass@host:4222", "nats://token@host:4222",
// "tls://host:4222"). ctx bounds the first connection only; after that the
// connection is re-established forever by default (WithReconnect), and
// disconnects and reconnects are logged with credentials redacted.
func Connect(ctx context.Context, url string, opts ...Option) (*Bus, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return connect(ctx, url, o)
}

func defaultOptions() options {
	return options{maxReconnects: -1, reconnectWait: DefaultReconnectWait, maxWait: DefaultMaxReconnectWait, drainTimeout: DefaultDrainTimeout}
}

// backoff is the wait before the next round of reconnect attempts: first
// doubled per round up to max, with up to a quarter of jitter so that the
// clients of a restarted server do not all come back at once.
func backoff(first, max time.Duration, attempts int) time.Duration {
	if first <= 0 {
		first = DefaultReconnectWait
	}
	if max < first {
		max = first
	}
	d := first
	for i := 1; i < attempts && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d + time.Duration(rand.Int64N(int64(d)/4+1))
}

func connect(ctx context.Context, url string, o options) (*Bus, error) {
	log := o.logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "natsbus")
	b := &Bus{
		owned:        true,
		closed:       make(chan struct{}),
		log:          log,
		drainTimeout: o.drainTimeout,
		pendingMsgs:  o.pendingMsgs,
		pendingBytes: o.pendingBytes,
		subs:         map[*nats.Subscription]struct{}{},
	}
	// One log line per state change (connected, lost, back), never one per
	// attempt: an outage of hours must not flood the log.
	var everConnected atomic.Bool
	nopts := []nats.Option{
		nats.MaxReconnects(o.maxReconnects),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			return backoff(o.reconnectWait, o.maxWait, attempts)
		}),
		nats.RetryOnFailedConnect(o.waitForBus),
		nats.DrainTimeout(o.drainTimeout),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() || nc.IsDraining() {
				return
			}
			if err != nil {
				log.Warn("nats disconnected; reconnecting", "url", RedactURL(nc.ConnectedUrl()), "err", err)
			} else {
				log.Warn("nats disconnected; reconnecting", "url", RedactURL(nc.ConnectedUrl()))
			}
			b.notify(false)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			if everConnected.Swap(true) {
				log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
			} else {
				log.Info("nats connected", "url", nc.ConnectedUrlRedacted())
			}
			b.notify(true)
		}),
		// The first connection made in the background (WithWaitForBus).
		nats.ConnectHandler(func(nc *nats.Conn) {
			if !everConnected.Swap(true) {
				log.Info("nats connected", "url", nc.ConnectedUrlRedacted())
			}
			b.notify(true)
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			log.Debug("nats connection closed")
			close(b.closed)
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			attrs := []any{"err", err}
			if sub != nil {
				attrs = append(attrs, "subject", sub.Subject)
			}
			log.Warn("nats async error", attrs...)
		}),
	}
	if o.name != "" {
		nopts = append(nopts, nats.Name(o.name))
	}
	if o.credsFile != "" {
		nopts = append(nopts, nats.UserCredentials(o.credsFile))
	}
	if o.tlsConfig != nil {
		nopts = append(nopts, nats.Secure(o.tlsConfig.Clone()))
	}
	if len(o.rootCAs) > 0 {
		nopts = append(nopts, nats.RootCAs(o.rootCAs...))
	}
	if o.certFile != "" || o.keyFile != "" {
		nopts = append(nopts, nats.ClientCert(o.certFile, o.keyFile))
	}
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 && d < nats.DefaultTimeout {
			nopts = append(nopts, nats.Timeout(d))
		}
	}
	nopts = append(nopts, o.extra...)

	// nats.Connect takes no context: run it aside so ctx can abandon it.
	type result struct {
		nc  *nats.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(url, nopts...)
		ch <- result{nc, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("natsbus: connect %s: %w", RedactURL(url), ctx.Err())
	}
	if r.err != nil {
		return nil, fmt.Errorf("natsbus: connect %s: %w", RedactURL(url), r.err)
	}
	b.nc = r.nc
	if r.nc.IsConnected() {
		if !everConnected.Swap(true) {
			log.Info("nats connected", "url", r.nc.ConnectedUrlRedacted())
		}
	} else if !everConnected.Load() {
		log.Warn("nats not reachable yet; retrying in the background", "url", RedactURL(url))
	}
	return b, nil
}

// Notify calls f(false) each time the connection is lost and f(true) each
// time it is (re-)established, from nats.go's callback goroutine (f must
// not block). stop ends the notifications. Only a Bus from Connect (or
// Embedded.Connect) notifies: a FromConn Bus's connection events are its
// owner's.
func (b *Bus) Notify(f func(connected bool)) (stop func()) {
	p := &f
	b.watchMu.Lock()
	if b.watchers == nil {
		b.watchers = map[*func(bool)]struct{}{}
	}
	b.watchers[p] = struct{}{}
	b.watchMu.Unlock()
	return func() {
		b.watchMu.Lock()
		delete(b.watchers, p)
		b.watchMu.Unlock()
	}
}

func (b *Bus) notify(up bool) {
	b.watchMu.Lock()
	fs := make([]func(bool), 0, len(b.watchers))
	for p := range b.watchers {
		fs = append(fs, *p)
	}
	b.watchMu.Unlock()
	for _, f := range fs {
		f(up)
	}
}

// FromConn makes a Bus on an existing connection, shared with its owner:
// Close then unsubscribes what was subscribed through this Bus but leaves
// nc open. Connection events are not logged (nc's handlers are the
// owner's).
func FromConn(nc *nats.Conn) *Bus {
	return &Bus{
		nc:           nc,
		log:          slog.Default().With("component", "natsbus"),
		drainTimeout: DefaultDrainTimeout,
		subs:         map[*nats.Subscription]struct{}{},
	}
}

// Conn returns the underlying NATS connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Connected reports whether the connection to the NATS server is up now:
// false while nats.go reconnects and after Close. The proxy's readiness
// and its ariproxy_bus_up gauge read it.
func (b *Bus) Connected() bool { return b.nc.IsConnected() }

// Reconnects is how many times the connection was re-established.
func (b *Bus) Reconnects() uint64 { return b.nc.Stats().Reconnects }

// Publish sends data to subject with reply as the reply subject ("" for
// none). It only queues the message in nats.go's write buffer (flushed by
// nats.go right after), so it does not block; ctx is only checked first:
// a message for an ended context is not sent. While the connection is
// re-established, messages are buffered (nats.go's reconnect buffer).
func (b *Bus) Publish(ctx context.Context, subject, reply string, data []byte) error {
	return b.PublishMsg(ctx, bus.Msg{Subject: subject, Reply: reply, Data: data})
}

// PublishMsg is Publish with m's headers, sent as NATS headers.
func (b *Bus) PublishMsg(ctx context.Context, m bus.Msg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	switch {
	// Requests and replies carry no headers: skip building a nats.Msg.
	case len(m.Header) == 0 && m.Reply == "":
		err = b.nc.Publish(m.Subject, m.Data)
	case len(m.Header) == 0:
		err = b.nc.PublishRequest(m.Subject, m.Reply, m.Data)
	default:
		// Events: nats.go encodes the headers before PublishMsg returns,
		// so a pooled map serves instead of one made per message.
		h := headerPool.Get().(*natsHeader)
		err = b.nc.PublishMsg(&nats.Msg{Subject: m.Subject, Reply: m.Reply, Header: h.fill(m.Header), Data: m.Data})
		headerPool.Put(h)
	}
	if err != nil {
		return wrapErr("publish "+m.Subject, err)
	}
	return nil
}

// natsHeader is a reusable nats.Header with room for its values.
type natsHeader struct {
	h    nats.Header
	vals []string
}

var headerPool = sync.Pool{New: func() any { return &natsHeader{h: nats.Header{}} }}

// fill makes h hold exactly the headers of hdr and returns it. The names
// of a publisher's headers rarely change: then only the values are set.
func (h *natsHeader) fill(hdr map[string]string) nats.Header {
	if len(h.h) == len(hdr) {
		same := true
		for k, v := range hdr {
			vs, ok := h.h[k]
			if !ok {
				same = false
				break
			}
			vs[0] = v
		}
		if same {
			return h.h
		}
	}
	clear(h.h)
	if cap(h.vals) < len(hdr) {
		h.vals = make([]string, len(hdr))
	}
	h.vals = h.vals[:0]
	for k, v := range hdr {
		h.vals = append(h.vals, v)
		h.h[k] = h.vals[len(h.vals)-1 : len(h.vals) : len(h.vals)]
	}
	return h.h
}

// toNATS is the NATS message of m. It keeps nothing of m.Header (the
// values are copied into one slice, one allocation for all).
func toNATS(m bus.Msg) *nats.Msg {
	nm := &nats.Msg{Subject: m.Subject, Reply: m.Reply, Data: m.Data}
	if len(m.Header) > 0 {
		nm.Header = make(nats.Header, len(m.Header))
		vals := make([]string, 0, len(m.Header))
		for k, v := range m.Header {
			vals = append(vals, v)
			nm.Header[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	return nm
}

// fromNATS is the bus.Msg of a NATS message.
func fromNATS(m *nats.Msg) bus.Msg {
	return bus.Msg{Subject: m.Subject, Reply: m.Reply, Data: m.Data, Header: HeaderValues(m.Header)}
}

// HeaderValues is h as a bus.Msg carries headers: of a header given
// several times, the first value; nil when h is empty. JetStream readers
// of the stream (package client) convert with it too.
func HeaderValues(h nats.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

// Subscribe calls h for every message on subject, sequentially and in
// delivery order.
func (b *Bus) Subscribe(subject string, h bus.Handler) (bus.Subscription, error) {
	return b.subscribe(subject, "", h)
}

// QueueSubscribe calls h for the messages on subject given to this member
// of queue (each message goes to one member), sequentially and in
// delivery order.
func (b *Bus) QueueSubscribe(subject, queue string, h bus.Handler) (bus.Subscription, error) {
	if queue == "" {
		return nil, fmt.Errorf("natsbus: queue subscribe %s: empty queue name", subject)
	}
	return b.subscribe(subject, queue, h)
}

func (b *Bus) subscribe(subject, queue string, h bus.Handler) (bus.Subscription, error) {
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return nil, fmt.Errorf("natsbus: subscribe %s: %w", subject, bus.ErrClosed)
	}
	cb := func(m *nats.Msg) { h(fromNATS(m)) }
	var s *nats.Subscription
	var err error
	if queue == "" {
		s, err = b.nc.Subscribe(subject, cb)
	} else {
		s, err = b.nc.QueueSubscribe(subject, queue, cb)
	}
	if err != nil {
		b.mu.Unlock()
		return nil, wrapErr("subscribe "+subject, err)
	}
	if b.pendingMsgs != 0 || b.pendingBytes != 0 {
		msgs, bytes := b.pendingMsgs, b.pendingBytes
		if msgs == 0 {
			msgs = nats.DefaultSubPendingMsgsLimit
		}
		if bytes == 0 {
			bytes = nats.DefaultSubPendingBytesLimit
		}
		if err := s.SetPendingLimits(msgs, bytes); err != nil {
			_ = s.Unsubscribe()
			b.mu.Unlock()
			return nil, wrapErr("subscribe "+subject, err)
		}
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	// One round trip, so that the subscription is active on the server when
	// Subscribe returns: a message published right after (a new call for
	// Listen) is not lost. While disconnected the flush fails and the
	// subscription is sent on reconnect, which is all that can be done
	// (so do not wait for the flush then).
	if b.nc.IsConnected() {
		_ = b.nc.FlushTimeout(flushTimeout)
	}
	return &subscription{b: b, s: s}, nil
}

// flushTimeout bounds the round trip that makes a new subscription active.
const flushTimeout = 5 * time.Second

type subscription struct {
	b *Bus
	s *nats.Subscription
}

// Unsubscribe stops the subscription; a handler call in progress finishes.
func (s *subscription) Unsubscribe() error {
	s.b.mu.Lock()
	delete(s.b.subs, s.s)
	s.b.mu.Unlock()
	if err := s.s.Unsubscribe(); err != nil {
		if errors.Is(err, nats.ErrBadSubscription) || errors.Is(err, nats.ErrConnectionClosed) {
			return nil // already gone: unsubscribing twice is harmless
		}
		return wrapErr("unsubscribe "+s.s.Subject, err)
	}
	return nil
}

// Drain stops the subscription on the server but lets the handler finish
// the messages already received (which Unsubscribe would drop), and
// returns once it has, or when ctx ends. A graceful shutdown drains so
// that no message taken from the bus goes unanswered.
func (s *subscription) Drain(ctx context.Context) error {
	s.b.mu.Lock()
	delete(s.b.subs, s.s)
	s.b.mu.Unlock()
	closed := s.s.StatusChanged(nats.SubscriptionClosed)
	if !s.s.IsValid() {
		return nil
	}
	if !s.b.nc.IsConnected() {
		// The server cannot be told (and sends nothing meanwhile): what
		// was received is all there is; the drain would wait for a
		// round trip that cannot happen.
		return s.Unsubscribe()
	}
	if err := s.s.Drain(); err != nil {
		if errors.Is(err, nats.ErrBadSubscription) || errors.Is(err, nats.ErrConnectionClosed) {
			return nil
		}
		// Not connected: the server cannot be told; deliver what is here.
		_ = s.s.Unsubscribe()
		return wrapErr("drain "+s.s.Subject, err)
	}
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		_ = s.s.Unsubscribe()
		return ctx.Err()
	}
}

// RequestMany publishes data to subject with a reply subject of its own
// and passes each answer to collect until collect returns false (nil),
// ctx ends (ctx.Err()) or the connection closes (an error wrapping
// bus.ErrClosed). When no one subscribes to subject, the server says so
// at once and RequestMany returns bus.ErrNoResponders. Answers wait
// unbounded for collect: none is dropped while collect runs.
//
// All requests of a Bus share one wildcard inbox subscription (as
// nats.go's Request does): a subscription per request costs the server
// about ten times the round trip.
func (b *Bus) RequestMany(ctx context.Context, subject string, data []byte, collect func(reply []byte) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.nc.IsReconnecting() {
		// Fail fast: the answer could come only after the bus is back.
		return fmt.Errorf("natsbus: request %s: %w", subject, bus.ErrNotConnected)
	}
	mux, err := b.respMux()
	if err != nil {
		return wrapErr("request "+subject, err)
	}
	w := &waiter{signal: make(chan struct{}, 1)}
	token := mux.add(w)
	defer mux.remove(token)
	if err := b.nc.PublishRequest(subject, mux.prefix+token, data); err != nil {
		return wrapErr("request "+subject, err)
	}
	for first := true; ; {
		answers, noResp := w.take()
		if first && noResp && len(answers) == 0 {
			return fmt.Errorf("natsbus: request %s: %w", subject, bus.ErrNoResponders)
		}
		for _, a := range answers {
			first = false
			if !collect(a) {
				return nil
			}
		}
		if len(answers) > 0 {
			continue // more may have come while collect ran
		}
		select {
		case <-w.signal:
		case <-ctx.Done():
			return ctx.Err()
		case <-mux.dead:
			if w.pending() {
				continue // deliver what arrived before the end
			}
			return fmt.Errorf("natsbus: request %s: %w", subject, bus.ErrClosed)
		}
	}
}

// respMux routes the answers of every RequestMany of a Bus, arriving on
// one subscription to prefix+"*", to the waiting request by the last
// token of the subject.
type respMux struct {
	prefix string
	sub    *nats.Subscription
	dead   <-chan nats.SubStatus // closed when sub is closed

	mu      sync.Mutex
	next    uint64
	waiters map[string]*waiter
}

// waiter is one request's queue of answers.
type waiter struct {
	signal  chan struct{} // capacity 1: "something was queued"
	mu      sync.Mutex
	answers [][]byte
	noResp  bool
}

func (w *waiter) put(data []byte, noResp bool) {
	w.mu.Lock()
	if noResp {
		w.noResp = true
	} else {
		w.answers = append(w.answers, data)
	}
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

func (w *waiter) take() ([][]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.answers
	w.answers = nil
	return a, w.noResp
}

func (w *waiter) pending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.answers) > 0
}

func (m *respMux) add(w *waiter) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	token := strconv.FormatUint(m.next, 36)
	m.waiters[token] = w
	return token
}

func (m *respMux) remove(token string) {
	m.mu.Lock()
	delete(m.waiters, token)
	m.mu.Unlock()
}

func (m *respMux) deliver(msg *nats.Msg) {
	token := strings.TrimPrefix(msg.Subject, m.prefix)
	m.mu.Lock()
	w := m.waiters[token]
	m.mu.Unlock()
	if w == nil {
		return // late answer to a finished request
	}
	w.put(msg.Data, len(msg.Data) == 0 && msg.Header.Get("Status") == "503")
}

func (m *respMux) isDead() bool {
	select {
	case <-m.dead:
		return true
	default:
		return false
	}
}

// respMux returns the Bus's answer subscription, made on first use (and
// again if the connection of a FromConn Bus was closed and replaced).
func (b *Bus) respMux() (*respMux, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return nil, bus.ErrClosed
	}
	if b.mux != nil && !b.mux.isDead() {
		return b.mux, nil
	}
	m := &respMux{prefix: b.nc.NewInbox() + ".", waiters: map[string]*waiter{}}
	sub, err := b.nc.Subscribe(m.prefix+"*", m.deliver)
	if err != nil {
		return nil, err
	}
	// deliver only queues: the limits just keep nats.go from dropping.
	_ = sub.SetPendingLimits(-1, -1)
	m.sub = sub
	m.dead = sub.StatusChanged(nats.SubscriptionClosed)
	b.mux = m
	b.subs[sub] = struct{}{}
	return m, nil
}

// Close ends the Bus. For a Bus from Connect it drains the connection:
// subscriptions stop, their handlers finish the messages already
// received, pending publishes are flushed, and the connection closes;
// after the drain timeout (WithDrainTimeout) it closes anyway. For a Bus
// from FromConn it unsubscribes this Bus's subscriptions and leaves the
// connection open. Do not call Close from a handler: the drain would wait
// for that handler until the timeout.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return nil
	}
	b.done = true
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()

	if !b.owned {
		var errs []error
		for s := range subs {
			if err := s.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrBadSubscription) && !errors.Is(err, nats.ErrConnectionClosed) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	if err := b.nc.Drain(); err != nil {
		// Not connected (reconnecting) or already closed: nothing to drain.
		b.nc.Close()
		return nil
	}
	t := time.NewTimer(b.drainTimeout + time.Second)
	defer t.Stop()
	select {
	case <-b.closed:
	case <-t.C:
		b.log.Warn("nats drain timed out; closing")
		b.nc.Close()
	}
	return nil
}

// wrapErr adds context to a nats.go error and marks the closed-connection
// ones with bus.ErrClosed.
func wrapErr(what string, err error) error {
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionDraining) ||
		errors.Is(err, nats.ErrBadSubscription) {
		return fmt.Errorf("natsbus: %s: %w: %w", what, bus.ErrClosed, err)
	}
	return fmt.Errorf("natsbus: %s: %w", what, err)
}

// RedactURL returns the NATS URL list u with any user information (user,
// password or token) replaced by "redacted", so that it can be logged.
func RedactURL(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		pu, err := url.Parse(p)
		if err != nil || pu.Host == "" {
			if at := strings.LastIndex(p, "@"); at >= 0 {
				prefix := ""
				if sch := strings.Index(p, "://"); sch >= 0 && sch < at {
					prefix = p[:sch+3]
				}
				p = prefix + "redacted" + p[at:]
			}
			parts[i] = p
			continue
		}
		if pu.User != nil {
			pu.User = url.User("redacted")
		}
		parts[i] = pu.String()
	}
	return strings.Join(parts, ",")
}
