package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/ariconn"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/wire"
)

// Defaults of Config.
const (
	// DefaultAnnounceInterval: clients also ping when they need a fresh
	// view, so the periodic announcement only has to catch the clients that
	// do not; 10s keeps that traffic negligible.
	DefaultAnnounceInterval = 10 * time.Second
	// DefaultMaxConcurrent bounds the ARI calls in flight: enough to hide
	// Asterisk's latency, few enough not to swamp its HTTP server.
	DefaultMaxConcurrent = 64
	// DefaultRequestTimeout bounds one ARI call.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultMaxRequestBytes caps a request envelope; larger ones get a
	// bad_request reply without being decoded.
	DefaultMaxRequestBytes = 1 << 20
	// DefaultShutdownTimeout bounds how long a stopping server lets the
	// ARI calls in flight finish: as long as one call may take.
	DefaultShutdownTimeout = 10 * time.Second
)

// Internal timings of the binding janitor.
const (
	sweepInterval = time.Minute     // how often bindings are checked
	stagedTTL     = 5 * time.Minute // a staged binding never used is dropped after this
	sweepMargin   = 30 * time.Second
)

// bridgeDeleteGrace: Asterisk sends no BridgeDestroyed to the app when it
// deletes a bridge whose channels are in Stasis; the bindings of a deleted
// bridge go after this delay, so the ChannelLeftBridge events the delete
// causes still reach the dialog. A variable for tests.
var bridgeDeleteGrace = 2 * time.Second

// Config configures a Server.
type Config struct {
	// Applications are the Stasis applications served, all over one ARI
	// WebSocket. Required (or ARI.Applications).
	Applications []string
	// ARI reaches the Asterisk. ARI.Applications is set from Applications
	// when empty.
	ARI ariconn.Config
	// Bus is the message bus. Required. The server does not close it.
	Bus bus.Bus
	// Prefix is the subject prefix; "" means wire.DefaultPrefix.
	Prefix string
	// AnnounceInterval is the period of announcements (besides the one at
	// start, on every reconnect and in answer to each ping).
	// 0 means DefaultAnnounceInterval.
	AnnounceInterval time.Duration
	// MaxConcurrent bounds requests served at once. When all slots are
	// busy the bus handler waits for one (the bus buffers meanwhile)
	// instead of dropping requests. 0 means DefaultMaxConcurrent.
	MaxConcurrent int
	// RequestTimeout bounds each ARI call. 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxRequestBytes caps a request's size. 0 means DefaultMaxRequestBytes.
	MaxRequestBytes int
	// ShutdownTimeout bounds the graceful stop: once Run's context ends,
	// the ARI calls in flight have this long to finish before they are
	// cancelled (and answered with an error). 0 means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Events, when not nil, publishes the events (event and dialog event
	// subjects) instead of Bus: a durable publisher
	// (natsbus.DurablePublisher) that keeps them through bus outages.
	// Requests, replies and announcements always go through Bus.
	Events Publisher
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
	// Registerer, when not nil, receives the server's Prometheus metrics.
	Registerer prometheus.Registerer
	// Node, when not empty, is the node id the server uses on the bus
	// instead of Asterisk's entity id: for several Asterisks that share
	// one (instances on one host share its MAC). See nodeid.go.
	Node string
}

// Publisher sends messages with headers; bus.Bus is one. PublishMsg must
// not keep m.Header once it returns (the server reuses it); it may keep
// m.Data, which the server never modifies.
type Publisher interface {
	PublishMsg(ctx context.Context, m bus.Msg) error
}

// Server is the proxy between one Asterisk and the bus. Create it with New
// and start it with Run.
type Server struct {
	apps    []string
	conn    *ariconn.Conn
	bus     bus.Bus
	events  Publisher
	seq     *sequencer
	subj    wire.Subjects
	log     *slog.Logger
	metrics *metrics
	dialogs *dialogTable
	known   *knownSet // resources seen on this Asterisk, for probes

	announceEvery time.Duration
	timeout       time.Duration
	maxBytes      int
	sem           chan struct{}
	work          chan job // unbuffered: to a worker parked waiting for one
	stopWait      time.Duration

	node    atomic.Pointer[string]
	serving atomic.Bool // WebSocket up and node confirmed: requests are served
	ready   chan struct{}

	fixedNode string    // Config.Node: "" means Asterisk's entity id
	eventBusy busySince // since when an ARI event is being handled (liveness)

	started atomic.Bool
	// runCtx is the work context: ARI calls and event publishing. It
	// outlives Run's context by the graceful stop, so calls in flight
	// finish. Set by Run before any goroutine that reads it starts.
	runCtx context.Context
	// stopping is closed when the graceful stop begins: requests not yet
	// holding a slot are answered unavailable from then on.
	stopping  chan struct{}
	stopCalls context.CancelFunc // cancels runCtx

	// In-flight requests; closing stops new ones so Run can wait for them.
	reqMu    sync.Mutex
	closing  bool
	inflight sync.WaitGroup

	// WebSocket state as ariconn reports it; epoch counts connections.
	wsMu    sync.Mutex
	wsUp    bool
	wsEpoch uint64
	stateCh chan struct{}

	// Request subscriptions. The node level (requests addressed to this
	// node) is held as long as the server runs; the generic levels (every
	// server, or every server of an application) only while Asterisk is
	// reachable, so that a live server answers them, not a dead one.
	stasisEnds stasisEnds // channels whose bindings go after StasisEnd

	subMu       sync.Mutex
	nodeSubs    []bus.Subscription
	genericSubs []bus.Subscription
}

// New checks cfg and returns a Server. It does not connect yet.
func New(cfg Config) (*Server, error) {
	if cfg.Bus == nil {
		return nil, errors.New("proxy: Config.Bus is required")
	}
	apps := cfg.Applications
	if len(apps) == 0 {
		apps = cfg.ARI.Applications
	}
	if len(apps) == 0 {
		return nil, errors.New("proxy: no application configured")
	}
	seen := make(map[string]bool, len(apps))
	for _, a := range apps {
		if !wire.ValidToken(a) {
			return nil, fmt.Errorf("proxy: application name %q cannot be a subject token", a)
		}
		if seen[a] {
			return nil, fmt.Errorf("proxy: application %q listed twice", a)
		}
		seen[a] = true
	}
	if cfg.Node != "" && !wire.ValidToken(cfg.Node) {
		return nil, fmt.Errorf("proxy: node id %q cannot be a subject token", cfg.Node)
	}
	if len(cfg.ARI.Applications) == 0 {
		cfg.ARI.Applications = apps
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.ARI.Logger == nil {
		cfg.ARI.Logger = log
	}
	conn, err := ariconn.New(cfg.ARI)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	s := &Server{
		apps:          append([]string(nil), apps...),
		conn:          conn,
		bus:           cfg.Bus,
		subj:          wire.NewSubjects(cfg.Prefix),
		log:           log,
		metrics:       newMetrics(),
		announceEvery: orDefault(cfg.AnnounceInterval, DefaultAnnounceInterval),
		timeout:       orDefault(cfg.RequestTimeout, DefaultRequestTimeout),
		maxBytes:      orDefault(cfg.MaxRequestBytes, DefaultMaxRequestBytes),
		sem:           make(chan struct{}, orDefault(cfg.MaxConcurrent, DefaultMaxConcurrent)),
		work:          make(chan job),
		stopWait:      orDefault(cfg.ShutdownTimeout, DefaultShutdownTimeout),
		ready:         make(chan struct{}),
		stopping:      make(chan struct{}),
		stateCh:       make(chan struct{}, 1),
		seq:           newSequencer(),
		fixedNode:     cfg.Node,
	}
	s.events = cfg.Events
	if s.events == nil {
		s.events = cfg.Bus
	}
	s.dialogs = newDialogTable(s.metrics.bindings)
	s.known = newKnownSet()
	s.metrics.known = s.known.len
	s.metrics.ready = func() bool { return s.Readiness() == nil }
	empty := ""
	s.node.Store(&empty)
	if cfg.Registerer != nil {
		if err := s.metrics.register(cfg.Registerer, s.bus); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Node is the Asterisk entity id the server serves ("" until known).
func (s *Server) Node() string { return *s.node.Load() }

// Ready is closed once the node is known, the ARI WebSocket is up, every
// subscription is active and the first announcement is out.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// DialogBindings is the number of (resource, dialog) bindings held, for
// monitoring and tests (also exported as the ariproxy_dialog_bindings gauge).
func (s *Server) DialogBindings() int { return s.dialogs.len() }

// Run serves until ctx ends, then stops gracefully and returns nil. It
// first reads the node from Asterisk, retrying until ARI answers, and
// works on while the bus is away (the bus connection re-establishes it
// and every subscription). Errors are returned only when the bus refuses
// a subscription. Run may be called once.
//
// The graceful stop, once ctx ends: stop announcing; drain every request
// subscription (the bus stops sending, the requests already received are
// still handled); answer every request not yet holding a slot with
// unavailable ("shutting down"), so that the client can retry elsewhere at
// once; let the ARI calls in flight finish for up to ShutdownTimeout,
// then cancel the rest (each still gets an error reply); flush the bus so
// that every reply is out; close the ARI WebSocket.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("proxy: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	s.runCtx, s.stopCalls = work, stopWork

	node, err := s.readNode(ctx, func() bool { return true })
	if err != nil {
		return nil // ctx ended before Asterisk answered
	}
	s.node.Store(&node)
	s.log.Info("serving Asterisk", "node", node, "applications", s.apps)

	ping, err := s.bus.Subscribe(s.subj.Ping(), func(bus.Msg) { s.announce(ctx) })
	if err != nil {
		return fmt.Errorf("proxy: subscribing to ping: %w", err)
	}
	s.subMu.Lock()
	err = s.subscribeNodeLocked(node)
	s.subMu.Unlock()
	if err != nil {
		_ = ping.Unsubscribe()
		s.unsubscribeAll()
		return err
	}
	stopNotify := s.followBus(ctx)
	defer stopNotify()

	var wg, wsDone sync.WaitGroup
	wsDone.Go(func() {
		if err := s.conn.Run(work, s.handleEvent, s.onState); err != nil && work.Err() == nil {
			s.log.Error("ARI WebSocket stopped", "err", err)
		}
	})
	wg.Go(func() { s.manage(ctx) })
	wg.Go(func() { s.tick(ctx, s.announceEvery, func() { s.announce(ctx) }) })
	wg.Go(func() { s.tick(ctx, sweepInterval, func() { s.sweep(ctx, time.Now()) }) })

	<-ctx.Done()
	s.shutdown(ping, &wg)
	stopWork()
	wsDone.Wait()
	s.metrics.wsUp.Set(0)
	return nil
}

// shutdown is the graceful stop of Run (see there), up to closing the
// WebSocket.
func (s *Server) shutdown(ping bus.Subscription, wg *sync.WaitGroup) {
	start := time.Now()
	s.log.Info("stopping: draining requests", "shutdown_timeout", s.stopWait)
	s.reqMu.Lock()
	s.closing = true
	close(s.stopping)
	s.reqMu.Unlock()
	_ = ping.Unsubscribe()
	wg.Wait() // manage is done: nothing subscribes any more
	s.subMu.Lock()
	subs := append(s.genericSubs, s.nodeSubs...)
	s.genericSubs, s.nodeSubs = nil, nil
	s.subMu.Unlock()
	s.drain(subs)

	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	t := time.NewTimer(s.stopWait - time.Since(start))
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("stopping: ARI calls still in flight after the shutdown timeout; cancelling them", "shutdown_timeout", s.stopWait)
		s.cancelWork()
		<-done
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(s.runCtx), 5*time.Second)
	s.flush(fctx)
	cancel()
	s.log.Info("stopped: every request answered", "took", time.Since(start).Round(time.Millisecond))
}

// drainer is a subscription that can stop on the bus while its handler
// finishes the messages already received (natsbus does).
type drainer interface {
	Drain(ctx context.Context) error
}

// drain stops every subscription in subs, letting each deliver what it
// already received, within the shutdown timeout.
func (s *Server) drain(subs []bus.Subscription) {
	ctx, cancel := context.WithTimeout(context.Background(), s.stopWait)
	defer cancel()
	var wg sync.WaitGroup
	for _, sub := range subs {
		wg.Go(func() {
			if d, ok := sub.(drainer); ok {
				_ = d.Drain(ctx)
				return
			}
			_ = sub.Unsubscribe()
		})
	}
	wg.Wait()
}

// cancelWork cancels the ARI calls still in flight (they end runCtx, and
// ariconn cuts the calls on the wire).
func (s *Server) cancelWork() {
	s.stopCalls()
	s.conn.AbortCalls()
}

// refuse answers a request the server will not serve because it is
// stopping.
func (s *Server) refuse(m bus.Msg) {
	s.metrics.refused.Inc()
	s.reply(m.Reply, []*wire.Response{wire.NewErrorResponse(wire.CodeUnavailable, 0, "ari-proxy server shutting down")})
}

// busNotifier is a bus that reports its connection state (natsbus does).
type busNotifier interface {
	Notify(func(connected bool)) (stop func())
}

// followBus announces again each time the bus connection is back: clients
// may have forgotten the server meanwhile.
func (s *Server) followBus(ctx context.Context) (stop func()) {
	n, ok := s.bus.(busNotifier)
	if !ok {
		return func() {}
	}
	return n.Notify(func(up bool) {
		if up {
			go s.announce(ctx)
		}
	})
}

func (s *Server) tick(ctx context.Context, every time.Duration, f func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// onState is ariconn's report of the WebSocket going up or down. It must
// not block the WebSocket reader: the work is done by manage.
func (s *Server) onState(up bool) {
	s.wsMu.Lock()
	if up && !s.wsUp {
		s.wsEpoch++
		if s.wsEpoch > 1 {
			s.metrics.wsReconnects.Inc()
		}
	}
	s.wsUp = up
	if !up {
		// At once, not when manage gets to it: from now on requests are
		// answered unavailable.
		s.serving.Store(false)
		// End events may be missed until it is back.
		s.known.clear()
	}
	s.wsMu.Unlock()
	if up {
		s.metrics.wsUp.Set(1)
	} else {
		s.metrics.wsUp.Set(0)
	}
	select {
	case s.stateCh <- struct{}{}:
	default: // a wake-up is already pending; manage reads the latest state
	}
}

// manage follows the WebSocket state. Down: stop taking creates. Up (each
// new connection): re-read the node, which differs when another Asterisk
// (or a restarted one with a new entity id) answers; move the subscriptions
// if so; then take creates again and announce.
func (s *Server) manage(ctx context.Context) {
	var handled uint64 // epoch of the connection already set up
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stateCh:
		}
		s.wsMu.Lock()
		up, epoch := s.wsUp, s.wsEpoch
		s.wsMu.Unlock()
		if !up {
			// Leave every generic level: the live servers answer those;
			// the node level stays, answered unavailable.
			s.setGeneric(false)
			continue
		}
		if epoch == handled {
			continue
		}
		stillUp := func() bool {
			s.wsMu.Lock()
			defer s.wsMu.Unlock()
			return s.wsUp && s.wsEpoch == epoch
		}
		node, err := s.readNode(ctx, stillUp)
		if err != nil {
			continue // ctx ended, or the connection dropped again: a state change is pending
		}
		if err := s.waitApps(ctx, stillUp); err != nil {
			continue
		}
		if old := s.Node(); node != old {
			s.log.Warn("Asterisk entity id changed: moving to the new node", "old", old, "new", node)
			if err := s.moveNode(node); err != nil {
				s.log.Error("moving subscriptions to the new node", "err", err)
				continue
			}
		}
		if err := s.setGeneric(true); err != nil {
			s.log.Error("subscribing to the generic request levels", "err", err)
			continue
		}
		s.wsMu.Lock()
		ok := s.wsUp && s.wsEpoch == epoch
		if ok {
			s.serving.Store(true)
		}
		s.wsMu.Unlock()
		if !ok {
			continue
		}
		first := handled == 0
		handled = epoch
		s.announce(ctx)
		if first {
			s.flush(ctx)
			close(s.ready)
		} else {
			// Destroy events may have been missed while disconnected.
			s.sweep(ctx, time.Now())
		}
	}
}

// flush returns once the bus server has processed every subscription made
// so far: a message this connection publishes to itself comes back only
// after the bus server handled what the connection sent before it. Bus
// has no Flush; this works on any implementation that keeps a
// connection's order.
func (s *Server) flush(ctx context.Context) {
	if c, ok := s.bus.(interface{ Connected() bool }); ok && !c.Connected() {
		return // nothing can be flushed; the bus connection's buffer keeps what was sent
	}
	subject := s.subj.Prefix + "_flush." + wire.NewID()
	got := make(chan struct{}, 1)
	sub, err := s.bus.Subscribe(subject, func(bus.Msg) {
		select {
		case got <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return
	}
	defer sub.Unsubscribe()
	if err := s.bus.Publish(ctx, subject, "", nil); err != nil {
		return
	}
	select {
	case <-got:
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		s.log.Warn("bus flush timed out; subscriptions may not be active yet")
	}
}

// readNode gets the entity id from GET /asterisk/info, retrying with
// backoff while cont holds and ctx lasts.
func (s *Server) readNode(ctx context.Context, cont func() bool) (string, error) {
	op := ari.OpAsteriskGetInfo.Op()
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		node, err := s.getNode(ctx, op)
		if err == nil {
			return s.chooseNode(node), nil
		}
		if attempt == 1 || attempt%20 == 0 {
			s.log.Warn("reading Asterisk entity id", "attempt", attempt, "err", err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(backoff):
		}
		if !cont() {
			return "", errors.New("proxy: connection changed while reading the node")
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

func (s *Server) getNode(ctx context.Context, op *ari.Operation) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.conn.Do(ctx, op, nil)
	if err != nil {
		return "", err
	}
	if resp.Status != http.StatusOK {
		return "", s.conn.StatusError("GET /asterisk/info", resp)
	}
	var info struct {
		System struct {
			EntityID string `json:"entity_id"`
		} `json:"system"`
	}
	if err := json.Unmarshal(resp.Body, &info); err != nil {
		return "", fmt.Errorf("asterisk info: %w", err)
	}
	if s.fixedNode == "" && !wire.ValidToken(info.System.EntityID) {
		return "", fmt.Errorf("asterisk info: unusable entity id %q (set a node id with --node-id)", info.System.EntityID)
	}
	return info.System.EntityID, nil
}

// moveNode re-subscribes under a new node; the bindings belonged to the
// Asterisk that is gone.
func (s *Server) moveNode(node string) error {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	unsubscribe(&s.genericSubs)
	unsubscribe(&s.nodeSubs)
	s.dialogs.clear()
	s.node.Store(&node)
	return s.subscribeNodeLocked(node)
}

// route is what a request subscription knows about its requests.
type route struct {
	class wire.Class
	app   string // "" on the generic level: every application served
	node  bool   // the node level, which only this server receives
}

// genericLevels lists the request subscriptions every server (of an
// application) shares for class: the generic level once (it is the same
// subject for every application), then each application's level.
func (s *Server) genericLevels(class wire.Class) (subjects []string, routes []route) {
	subjects = append(subjects, s.subj.Request(class, "", ""))
	routes = append(routes, route{class: class})
	for _, app := range s.apps {
		subjects = append(subjects, s.subj.Request(class, app, ""))
		routes = append(routes, route{class: class, app: app})
	}
	return subjects, routes
}

// subscribe subscribes one request level; creates go to one member of the
// create queue group, so that one server of all takes each.
func (s *Server) subscribe(subject string, r route) (bus.Subscription, error) {
	h := func(m bus.Msg) { s.onRequest(r, m) }
	var sub bus.Subscription
	var err error
	if r.class == wire.ClassCreate {
		sub, err = s.bus.QueueSubscribe(subject, wire.CreateQueue, h)
	} else {
		sub, err = s.bus.Subscribe(subject, h)
	}
	if err != nil {
		return nil, fmt.Errorf("proxy: subscribing to %s: %w", subject, err)
	}
	return sub, nil
}

// subscribeNodeLocked subscribes every class at the node level of each
// application: requests addressed to this node, held while the server
// runs (answered unavailable while Asterisk is away).
func (s *Server) subscribeNodeLocked(node string) error {
	for _, class := range wire.RequestClasses {
		for _, app := range s.apps {
			sub, err := s.subscribe(s.subj.Request(class, app, node), route{class: class, app: app, node: true})
			if err != nil {
				unsubscribe(&s.nodeSubs)
				return err
			}
			s.nodeSubs = append(s.nodeSubs, sub)
		}
	}
	return nil
}

// setGeneric subscribes to (on) or leaves (off) every generic level of
// every class. A server whose Asterisk is unreachable must neither take
// calls nor answer requests every server gets: a v5 requester takes the
// first answer, which would be this server's error instead of a live
// server's result.
func (s *Server) setGeneric(on bool) error {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if !on {
		unsubscribe(&s.genericSubs)
		return nil
	}
	if s.genericSubs != nil || s.isStopping() {
		return nil
	}
	for _, class := range wire.RequestClasses {
		subjects, routes := s.genericLevels(class)
		for i, subject := range subjects {
			sub, err := s.subscribe(subject, routes[i])
			if err != nil {
				unsubscribe(&s.genericSubs)
				return err
			}
			s.genericSubs = append(s.genericSubs, sub)
		}
	}
	return nil
}

func (s *Server) unsubscribeAll() {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	unsubscribe(&s.genericSubs)
	unsubscribe(&s.nodeSubs)
}

func unsubscribe(subs *[]bus.Subscription) {
	for _, sub := range *subs {
		_ = sub.Unsubscribe() // fails only when the bus is already closed
	}
	*subs = nil
}

// announce publishes an Announcement for each application, unless the
// server cannot take requests now: a client must not count on it then.
func (s *Server) announce(ctx context.Context) {
	if !s.serving.Load() || s.isStopping() {
		return
	}
	node := s.Node()
	for _, app := range s.apps {
		b, _ := json.Marshal(wire.Announcement{Node: node, Application: app})
		if err := s.bus.Publish(ctx, s.subj.Announce(), "", b); err != nil {
			s.log.Warn("announcing", "err", err)
			return
		}
	}
}

func (s *Server) isStopping() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// sweep drops bindings that can no longer see events: staged ones never
// used, and channels and bridges Asterisk no longer lists (their destroy
// event was missed, or the app never received their events).
func (s *Server) sweep(ctx context.Context, now time.Time) {
	if n := s.dialogs.sweepStaged(now.Add(-stagedTTL)); n > 0 {
		s.log.Debug("dropped unused staged bindings", "count", n)
	}
	if s.dialogs.empty() || !s.serving.Load() {
		return
	}
	for _, kind := range []struct {
		key string
		op  ari.OpID
	}{{kindChannel, ari.OpChannelsList}, {kindBridge, ari.OpBridgesList}} {
		present, err := s.listIDs(ctx, kind.op.Op())
		if err != nil {
			s.log.Debug("sweeping bindings", "op", kind.op, "err", err)
			continue
		}
		if n := s.dialogs.releaseMissing(kind.key, present, now.Add(-sweepMargin)); n > 0 {
			s.log.Debug("released bindings of vanished resources", "kind", kind.key, "count", n)
		}
	}
}

// listIDs returns the ids Asterisk lists for a list operation.
func (s *Server) listIDs(ctx context.Context, op *ari.Operation) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	resp, err := s.conn.Do(ctx, op, nil)
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.Status)
	}
	var list []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp.Body, &list); err != nil {
		return nil, err
	}
	ids := make(map[string]bool, len(list))
	for _, r := range list {
		ids[r.ID] = true
	}
	return ids, nil
}

// waitApps returns once Asterisk lists every served application. Asterisk
// registers an application just after the WebSocket handshake, so a call
// taken before that would reach an application that does not exist yet.
func (s *Server) waitApps(ctx context.Context, cont func() bool) error {
	op := ari.OpApplicationsGet.Op()
	for _, app := range s.apps {
		for wait := 5 * time.Millisecond; ; wait = min(wait*2, time.Second) {
			rctx, cancel := context.WithTimeout(ctx, s.timeout)
			resp, err := s.conn.Do(rctx, op, ari.Params{"applicationName": app})
			cancel()
			if err == nil && resp.Status/100 == 2 {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			if !cont() {
				return errors.New("proxy: connection changed while waiting for the applications")
			}
		}
	}
	return nil
}
