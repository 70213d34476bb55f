package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/bus/amqpbus"
	"github.com/ariproxy/ari-proxy/bus/busdial"
	"github.com/ariproxy/ari-proxy/bus/natsbus"
	"github.com/ariproxy/ari-proxy/wire"
)

// Defaults of New.
const (
	// DefaultTimeout bounds each request when the context has no earlier
	// deadline.
	DefaultTimeout = 10 * time.Second
	// DefaultDiscoveryWait bounds how long New waits for the first
	// announcement of a server.
	DefaultDiscoveryWait = 250 * time.Millisecond
	// DefaultServerTTL is how long a server is remembered after its last
	// announcement. Servers announce every 10 s (proxy's default announce
	// interval) and the client pings every third of the TTL (10 s), so a
	// live server is heard from at least every 10 s and survives two lost
	// announcements, while one that died without a word is forgotten
	// within three announce intervals even if no request notices it (a
	// request that times out waiting for it forgets it at once).
	DefaultServerTTL = 30 * time.Second

	// discoverySettle is how long New waits, after the first announcement,
	// for the other servers' answers to the same ping.
	discoverySettle = 50 * time.Millisecond
)

// Environment variables read by New when the matching option is absent.
const (
	EnvApplication = "ARI_APPLICATION"
	EnvBusURL      = "MESSAGEBUS_URL"
	EnvNATSURL     = "NATS_URL" // older alias of MESSAGEBUS_URL
)

// DefaultURL is the bus New connects to when neither WithURL, WithBus nor
// the environment name one.
const DefaultURL = "nats://127.0.0.1:4222"

// Key identifies an entity on the bus: kind, id, and where it lives (node
// = Asterisk entity id, app, dialog). A key without node is partial: the
// request goes to every server of the application.
type Key = wire.Key

// ErrClosed is returned by operations on a closed client.
var ErrClosed = errors.New("client: closed")

// Option configures New.
type Option func(*options)

type options struct {
	app           string
	appSet        bool
	url           string
	bus           bus.Bus
	prefix        string
	timeout       time.Duration
	logger        *slog.Logger
	node          string
	dialog        string
	discoveryWait time.Duration
	serverTTL     time.Duration
	natsOpts      []natsbus.Option
	amqpOpts      []amqpbus.Option
	onGap         func(*Subscription, Gap)
	durable       bool
	ackWait       time.Duration
	locations     int
	locationsSet  bool
}

// WithApplication sets the Stasis application the client works for
// (default: $ARI_APPLICATION). Requests are routed to the servers of that
// application and events are those of that application.
func WithApplication(app string) Option {
	return func(o *options) { o.app, o.appSet = app, true }
}

// WithURL sets the bus URL (default: $MESSAGEBUS_URL, then $NATS_URL,
// then DefaultURL): "nats://127.0.0.1:4222" or "tls://..." for NATS,
// "amqp://user:pass@host:5672/vhost" or "amqps://..." for RabbitMQ.
func WithURL(url string) Option { return func(o *options) { o.url = url } }

// WithBus makes the client use an existing bus connection instead of
// opening its own. Close then releases the client's subscriptions but
// leaves b open: b belongs to the caller.
func WithBus(b bus.Bus) Option { return func(o *options) { o.bus = b } }

// WithNATSOptions passes options to natsbus.Connect when the client opens
// its own connection (credentials files, TLS, reconnects...).
func WithNATSOptions(opts ...natsbus.Option) Option {
	return func(o *options) { o.natsOpts = append(o.natsOpts, opts...) }
}

// WithAMQPOptions passes options to amqpbus.Connect when the client opens
// its own RabbitMQ connection (TLS CA and client certificate, buffer
// sizes...).
func WithAMQPOptions(opts ...amqpbus.Option) Option {
	return func(o *options) { o.amqpOpts = append(o.amqpOpts, opts...) }
}

// WithPrefix sets the subject prefix (default "ari.").
func WithPrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithTimeout bounds each request (default DefaultTimeout). A context
// deadline that comes earlier wins.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithLogger sets where the client logs. Without it the client is quiet,
// as a library should be: it logs nothing at all.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithNode pins the handles the client makes (Channel(id), Bridge(id)...)
// and its create requests to one node (Asterisk entity id), so that
// requests go to that node's server only instead of to every server.
func WithNode(node string) Option { return func(o *options) { o.node = node } }

// WithDialog makes every request of the client carry dialog, so that the
// servers publish the events of the resources it touches or creates on the
// dialog's subject too (see DialogEvents).
func WithDialog(dialog string) Option { return func(o *options) { o.dialog = dialog } }

// WithDiscoveryWait bounds how long New waits for the first server
// announcement (default DefaultDiscoveryWait; 0 keeps the default, a
// negative value does not wait).
func WithDiscoveryWait(d time.Duration) Option { return func(o *options) { o.discoveryWait = d } }

// WithServerTTL sets how long a server is remembered after its last
// announcement (default DefaultServerTTL).
func WithServerTTL(d time.Duration) Option { return func(o *options) { o.serverTTL = d } }

// WithLocationCache sets how many resources (channels, bridges,
// playbacks, live recordings) the client remembers the node of, from the
// replies it has had (default DefaultLocationCache; 0 or less: none). A
// request with a partial key (no node) for a resource it remembers goes
// to that node only, instead of to every server of the application; when
// that node answers not found or has gone, the request goes to every
// server. What is remembered is forgotten on the resource's end event
// (when a subscription of the client sees it), when the node leaves, and
// the oldest first when the cache is full.
func WithLocationCache(n int) Option {
	return func(o *options) { o.locations, o.locationsSet = n, true }
}

// core is what a root client and the clients derived from it share: the
// bus connection and what is known about the servers.
type core struct {
	bus      bus.Bus
	ownsBus  bool
	subjects wire.Subjects
	timeout  time.Duration
	log      *slog.Logger
	servers  *servers
	locs     *locations // the node of resources seen
	annSub   bus.Subscription
	ret      *returnPath
	stop     chan struct{} // closed when the root closes
	wg       sync.WaitGroup
	onGap    func(*Subscription, Gap)
	durable  bool          // Listen through the shared durable consumer
	ackWait  time.Duration // of that consumer
	// stopNotify ends the bus state notifications; nil when the bus has none.
	stopNotify func()
}

// Client is a connection to the ari-proxy servers on the bus: it sends ARI
// requests to them and receives the events they publish. Create one with
// New; it is safe for concurrent use. Clients derived with
// (*Client).WithApplication, WithDialog or WithNode share their root's
// connection.
type Client struct {
	core   *core
	root   *Client // nil for the root itself
	app    string
	node   string
	dialog string

	mu       sync.Mutex
	closed   bool
	subs     map[*Subscription]struct{}
	children map[*Client]struct{} // derived clients attached (see attach)
	done     chan struct{}        // closed by Close
	attached sync.Once            // a derived client: attach to root once
}

// New connects to the bus, asks the servers to announce themselves and
// waits briefly (WithDiscoveryWait) for the first announcement. When ctx
// ends, the client closes, as with Close.
func New(ctx context.Context, opts ...Option) (*Client, error) {
	o := options{
		timeout:       DefaultTimeout,
		discoveryWait: DefaultDiscoveryWait,
		serverTTL:     DefaultServerTTL,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.appSet {
		o.app = os.Getenv(EnvApplication)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	if o.serverTTL <= 0 {
		o.serverTTL = DefaultServerTTL
	}
	if o.discoveryWait == 0 {
		o.discoveryWait = DefaultDiscoveryWait
	}
	if !o.locationsSet {
		o.locations = DefaultLocationCache
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	b, owns := o.bus, false
	if b == nil {
		url := o.url
		if url == "" {
			url = os.Getenv(EnvBusURL)
		}
		if url == "" {
			url = os.Getenv(EnvNATSURL)
		}
		if url == "" {
			url = DefaultURL
		}
		nb, err := busdial.Dial(ctx, url, busdial.Options{Logger: log, NATS: o.natsOpts, AMQP: o.amqpOpts})
		if err != nil {
			return nil, fmt.Errorf("client: connect to bus: %w", err)
		}
		b, owns = nb, true
	}

	co := &core{
		bus:      b,
		ownsBus:  owns,
		subjects: wire.NewSubjects(o.prefix),
		timeout:  o.timeout,
		log:      log.With("component", "ari-client"),
		servers:  newServers(o.serverTTL),
		locs:     newLocations(o.locations),
		ret:      newReturnPath(),
		stop:     make(chan struct{}),
		onGap:    o.onGap,
		durable:  o.durable,
		ackWait:  o.ackWait,
	}
	co.servers.onLeft = co.locs.forgetNode
	c := &Client{core: co, app: o.app, node: o.node, dialog: o.dialog, done: make(chan struct{})}

	sub, err := b.Subscribe(co.subjects.Announce(), co.onAnnounce)
	if err != nil {
		if owns {
			_ = b.Close()
		}
		return nil, fmt.Errorf("client: subscribe to announcements: %w", err)
	}
	co.annSub = sub
	if n, ok := b.(interface{ Notify(func(bool)) func() }); ok {
		// Back from a bus outage: the servers may have announced while we
		// were away; ask again.
		co.stopNotify = n.Notify(func(up bool) {
			if up && !co.isStopped() {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), co.timeout)
					defer cancel()
					_ = co.ping(ctx)
				}()
			}
		})
	}
	first := co.servers.waitFirst(o.app)
	if err := co.ping(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("client: ping servers: %w", err)
	}
	if o.discoveryWait > 0 {
		start := time.Now()
		t := time.NewTimer(o.discoveryWait)
		select {
		case <-first:
			// The servers answer the same ping: give the others a moment,
			// so that the first requests know how many answers to expect.
			settle := min(discoverySettle, o.discoveryWait-time.Since(start))
			if settle > 0 {
				select {
				case <-time.After(settle):
				case <-ctx.Done():
				}
			}
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	co.wg.Add(2)
	go co.tick(o.serverTTL/3, co.pingOnce)
	go co.tick(o.serverTTL/10, co.servers.check)

	// The ctx of New is the client's lifetime.
	if ctx.Done() != nil {
		go func() {
			select {
			case <-ctx.Done():
				_ = c.Close()
			case <-c.done:
			}
		}()
	}
	return c, nil
}

func (co *core) isStopped() bool {
	select {
	case <-co.stop:
		return true
	default:
		return false
	}
}

// ping asks every server to announce itself.
func (co *core) ping(ctx context.Context) error {
	return co.bus.Publish(ctx, co.subjects.Ping(), "", []byte(`{"kind":"","key":null}`))
}

// pingOnce asks the servers to announce themselves, from the client's
// background loop.
func (co *core) pingOnce() {
	ctx, cancel := context.WithTimeout(context.Background(), co.timeout)
	defer cancel()
	if err := co.ping(ctx); err != nil && !errors.Is(err, bus.ErrClosed) {
		co.log.Warn("ping servers", "err", err)
	}
}

// tick runs f every interval until the client closes: pinging the
// servers, and noticing members that fell silent (see Member.Available).
func (co *core) tick(every time.Duration, f func()) {
	defer co.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-co.stop:
			return
		case <-t.C:
			f()
		}
	}
}

func (co *core) onAnnounce(m bus.Msg) {
	a, err := decodeAnnouncement(m.Data)
	if err != nil {
		co.log.Debug("ignoring bad announcement", "err", err)
		return
	}
	co.servers.seen(a.Node, a.Application)
}

// ApplicationName is the Stasis application the client works for.
func (c *Client) ApplicationName() string { return c.app }

// Node is the node the client pins its handles to, "" when none.
func (c *Client) Node() string { return c.node }

// Dialog is the dialog every request of the client carries, "" when none.
func (c *Client) Dialog() string { return c.dialog }

// Bus is the client's bus connection.
func (c *Client) Bus() bus.Bus { return c.core.bus }

// Servers lists the servers (nodes) known for the client's application
// from their announcements, sorted.
func (c *Client) Servers() []string { return c.core.servers.nodes(c.app) }

// WithApplication returns a client for app that shares c's connection.
// Closing it releases only its own subscriptions.
func (c *Client) WithApplication(app string) *Client {
	return c.derive(func(d *Client) { d.app = app })
}

// WithNode returns a client sharing c's connection whose handles and
// create requests are pinned to node (see the WithNode option).
func (c *Client) WithNode(node string) *Client {
	return c.derive(func(d *Client) { d.node = node })
}

// WithDialog returns a client sharing c's connection whose requests carry
// dialog (see the WithDialog option). NewDialogID makes a fresh id.
func (c *Client) WithDialog(dialog string) *Client {
	return c.derive(func(d *Client) { d.dialog = dialog })
}

func (c *Client) derive(set func(*Client)) *Client {
	root := c.rootClient()
	d := &Client{core: c.core, root: root, app: c.app, node: c.node, dialog: c.dialog, done: make(chan struct{})}
	set(d)
	if root.isClosed() {
		d.closed = true
		close(d.done)
	}
	return d
}

// attach registers a derived client with its root, so that closing the
// root closes it, once it holds something to close (a subscription) or
// someone waits on its Done. A derived client used only for requests
// (one per call, per dialog) stays unregistered, so that the root does
// not keep every one of them until it is closed.
func (c *Client) attach() {
	if c.root == nil {
		return
	}
	c.attached.Do(func() {
		root := c.root
		root.mu.Lock()
		closed := root.closed
		if !closed {
			if root.children == nil {
				root.children = make(map[*Client]struct{})
			}
			root.children[c] = struct{}{}
		}
		root.mu.Unlock()
		if closed {
			_ = c.Close()
		}
	})
}

func (c *Client) rootClient() *Client {
	if c.root != nil {
		return c.root
	}
	return c
}

// Done is closed when the client is closed.
func (c *Client) Done() <-chan struct{} {
	c.attach()
	return c.done
}

// Close releases every subscription made through the client (Subscribe,
// handle subscriptions, Listen). Closing the root client (the one New
// returned) also closes the clients derived from it and, unless the bus
// came from WithBus, the bus connection. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	subs := c.subs
	c.subs = nil
	children := c.children
	c.children = nil
	c.mu.Unlock()

	var errs []error
	for s := range subs {
		if err := s.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.root != nil {
		c.root.mu.Lock()
		delete(c.root.children, c)
		c.root.mu.Unlock()
		return errors.Join(errs...)
	}
	for d := range children {
		errs = append(errs, d.Close())
	}
	co := c.core
	close(co.stop)
	if co.stopNotify != nil {
		co.stopNotify()
	}
	if co.annSub != nil {
		if err := co.annSub.Unsubscribe(); err != nil && !errors.Is(err, bus.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if err := co.ret.close(); err != nil {
		errs = append(errs, err)
	}
	co.wg.Wait()
	if co.ownsBus {
		if err := co.bus.Close(); err != nil && !errors.Is(err, bus.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// track registers s so that Close releases it; it fails when c is closed.
func (c *Client) track(s *Subscription) error {
	c.attach()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.subs == nil {
		c.subs = make(map[*Subscription]struct{})
	}
	c.subs[s] = struct{}{}
	return nil
}

func (c *Client) untrack(s *Subscription) {
	c.mu.Lock()
	delete(c.subs, s)
	c.mu.Unlock()
}

func (c *Client) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		// An unattached derived client is closed when its root is.
		return c.root != nil && c.root.isClosed()
	}
}

var _ io.Closer = (*Client)(nil)
