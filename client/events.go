package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/wire"
)

// eventBuffer is how many decoded events a Subscription holds for a slow
// reader before the bus handler waits for it.
const eventBuffer = 256

// unbindTimeout bounds the DialogUnbind request sent when a resource
// subscription closes.
const unbindTimeout = 2 * time.Second

// dialogUnbindKind is our additive request kind that ends what a dialog
// bound on the servers.
const dialogUnbindKind = "DialogUnbind"

// Subscription delivers events until it is closed, its context ends or its
// client closes.
type Subscription struct {
	c      *Client
	types  map[string]bool // nil: every type
	ch     chan ari.Event
	done   chan struct{}
	dialog string
	// watch, when its ID is set, is the resource an event must name to be
	// delivered (wire.EventResources: the members the spec gives its type,
	// a media operation's target); a watch without Kind matches any kind.
	watch wire.Ref
	seq   seqTracker // gap detection (gaps.go)
	ro    *reorderer // durable subscriptions: order and lost deliveries (gaps.go)
	// recent holds hashes of the last events delivered on a dialog, with
	// their application left out: a resource several applications are
	// subscribed to has each event published on the dialog once per
	// application, and the copies are dropped.
	recentMu sync.Mutex
	recent   [4]eventSeen
	nrecent  int

	mu       sync.RWMutex // held for reading while delivering
	finished bool
	subs     []bus.Subscription
	onClose  func() error

	once     sync.Once
	closeErr error
}

// knownEventTypes are the event types of the spec.
var knownEventTypes = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, t := range ari.EventTypes() {
		m[t] = true
	}
	return m
})

// checkTypes refuses event types the spec does not define: a filter with
// a misspelt type would silently match nothing.
func checkTypes(types []string) error {
	for _, t := range types {
		if !knownEventTypes()[t] {
			return fmt.Errorf("client: subscribe: unknown event type %q (use the ari.Type* constants): %w", t, ErrBadRequest)
		}
	}
	return nil
}

func (c *Client) newSubscription(types []string) *Subscription {
	s := &Subscription{c: c, ch: make(chan ari.Event, eventBuffer), done: make(chan struct{})}
	if len(types) > 0 {
		s.types = make(map[string]bool, len(types))
		for _, t := range types {
			s.types[t] = true
		}
	}
	return s
}

// Events is the channel of events; it is closed when the subscription ends.
func (s *Subscription) Events() <-chan ari.Event { return s.ch }

// Done is closed when the subscription ends.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Dialog is the dialog the subscription listens to, "" for application
// subscriptions.
func (s *Subscription) Dialog() string { return s.dialog }

// Close ends the subscription and releases what it holds on the bus and on
// the servers. It is idempotent.
func (s *Subscription) Close() error {
	s.c.untrack(s)
	return s.close()
}

func (s *Subscription) close() error {
	s.once.Do(func() {
		close(s.done)
		// Taking the lock waits for a delivery in progress (it sees done)
		// before ch is closed.
		s.mu.Lock()
		s.finished = true
		subs, onClose := s.subs, s.onClose
		s.subs, s.onClose = nil, nil
		close(s.ch)
		s.mu.Unlock()
		var errs []error
		for _, b := range subs {
			if err := b.Unsubscribe(); err != nil && !errors.Is(err, bus.ErrClosed) {
				errs = append(errs, err)
			}
		}
		if onClose != nil {
			errs = append(errs, onClose())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// addBus adds a bus subscription for Close to release; when s is already
// closed it releases b at once and reports ErrClosed.
func (s *Subscription) addBus(b bus.Subscription) error {
	s.mu.Lock()
	if !s.finished {
		s.subs = append(s.subs, b)
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	_ = b.Unsubscribe()
	return ErrClosed
}

// setOnClose makes Close call f; when s is already closed it calls f now.
func (s *Subscription) setOnClose(f func() error) {
	s.mu.Lock()
	if !s.finished {
		s.onClose = f
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	_ = f()
}

// deliver decodes one bus message and hands the event to the reader.
func (s *Subscription) deliver(m bus.Msg) { s.offer(m) }

// offer is deliver reporting whether the message is dealt with (handed to
// the reader, or not for it): false when the subscription closed first.
func (s *Subscription) offer(m bus.Msg) bool {
	if !s.checkSeq(m) {
		return true // a copy or a latecomer: delivering it would break the order
	}
	// The cheap tests first: most events of a busy application are for
	// other subscriptions, and decoding one costs far more than reading
	// its type (read once, for the filter and the decode).
	ev, wanted, err := ari.DecodeEventIf(m.Data, s.wants)
	if err != nil {
		s.c.core.log.Debug("ignoring undecodable event", "subject", m.Subject, "err", err)
		return true
	}
	if !wanted {
		return true
	}
	s.c.core.locs.event(ev) // what it shows of where resources are (locations.go)
	if s.dialog != "" && s.seenCopy(m.Data) {
		return true // the same event, as another application got it
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.finished {
		return false
	}
	select {
	case s.ch <- ev:
		return true
	case <-s.done:
		return false
	}
}

// wants reports whether s delivers the event raw of type typ, as far as
// its type and, for a resource subscription, the resources it names
// tell: bound to the dialog with the resource, an event may be about
// something else.
func (s *Subscription) wants(typ string, raw []byte) bool {
	if s.types != nil && !s.types[typ] {
		return false
	}
	return s.watch.ID == "" || s.names(typ, raw)
}

// names reports whether the event raw of type typ names the watched
// resource.
func (s *Subscription) names(typ string, raw []byte) bool {
	var buf [8]wire.Ref
	refs, _ := wire.EventResources(buf[:0], typ, raw)
	for _, r := range refs {
		if r.ID == s.watch.ID && (s.watch.Kind == "" || r.Kind == s.watch.Kind) {
			return true
		}
	}
	return false
}

// seenCopy reports whether raw is one of the last events delivered as
// another application got it (the same bytes but for "application"); it
// remembers raw otherwise. Two equal events of one application are both
// delivered.
func (s *Subscription) seenCopy(raw []byte) bool {
	h := fnv.New64a()
	app := gjson.GetBytes(raw, "application")
	if app.Index > 0 {
		h.Write(raw[:app.Index])
		h.Write(raw[app.Index+len(app.Raw):])
	} else {
		h.Write(raw)
	}
	seen := eventSeen{sum: h.Sum64(), app: app.Raw}
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	for i := range min(s.nrecent, len(s.recent)) {
		if r := s.recent[i]; r.sum == seen.sum && r.app != seen.app {
			return true
		}
	}
	s.recent[s.nrecent%len(s.recent)] = seen
	s.nrecent++
	return false
}

type eventSeen struct {
	sum uint64
	app string
}

// start subscribes to subject, registers s with its client and ties it to
// ctx.
func (s *Subscription) start(ctx context.Context, subject string) error {
	if err := s.c.track(s); err != nil {
		return err
	}
	b, err := s.c.core.bus.Subscribe(subject, s.deliver)
	if err != nil {
		_ = s.Close()
		return fmt.Errorf("client: subscribe %s: %w", subject, err)
	}
	if err := s.addBus(b); err != nil {
		return err
	}
	s.endWith(ctx)
	return nil
}

// endWith closes s when ctx ends.
func (s *Subscription) endWith(ctx context.Context) {
	if ctx.Done() == nil {
		return
	}
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.done:
		}
	}()
}

// Subscribe delivers the events of the client's application from every
// server, of the given types only when types are given (ari.TypeStasisStart,
// ari.TypeChannelHangupRequest...: a type the spec does not define is an
// error). The subscription ends with Close, when ctx ends or when the
// client closes.
func (c *Client) Subscribe(ctx context.Context, types ...string) (*Subscription, error) {
	if c.app == "" {
		return nil, fmt.Errorf("client: subscribe: no application: %w", ErrBadRequest)
	}
	if err := checkTypes(types); err != nil {
		return nil, err
	}
	s := c.newSubscription(types)
	if err := s.start(ctx, c.core.subjects.AllEvents(c.app)); err != nil {
		return nil, err
	}
	return s, nil
}

// DialogEvents delivers the events the servers publish for dialog: those of
// the resources that requests carrying dialog touched or created (see
// WithDialog). Subscribe before sending the requests so that no event is
// missed.
func (c *Client) DialogEvents(ctx context.Context, dialog string, types ...string) (*Subscription, error) {
	if dialog == "" {
		return nil, fmt.Errorf("client: dialog events: empty dialog: %w", ErrBadRequest)
	}
	if err := checkTypes(types); err != nil {
		return nil, err
	}
	s := c.newSubscription(types)
	s.dialog = dialog
	if err := s.start(ctx, c.core.subjects.DialogEvent(dialog)); err != nil {
		return nil, err
	}
	return s, nil
}

// NewDialogID returns a fresh random dialog id.
func NewDialogID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// subscribeResource watches one resource: it binds the resource to a fresh
// dialog with the kind named subscribeKind (ChannelSubscribe...) and
// listens on that dialog's subject, delivering only the events that name
// the resource (a server may bind related resources, such as the other
// half of a Local channel, to the same dialog). Close unbinds the
// dialog.
func (c *Client) subscribeResource(ctx context.Context, subscribeKind string, key Key, types []string) (*Subscription, error) {
	k, ok := wire.LookupKind(subscribeKind)
	if !ok {
		return nil, fmt.Errorf("client: unknown kind %s: %w", subscribeKind, ErrBadRequest)
	}
	if err := checkTypes(types); err != nil {
		return nil, err
	}
	dialog := NewDialogID()
	s := c.newSubscription(types)
	s.dialog = dialog
	s.watch = wire.Ref{Kind: key.Kind, ID: key.ID}
	if err := s.start(ctx, c.core.subjects.DialogEvent(dialog)); err != nil {
		return nil, err
	}
	key = c.fillKey(key)
	key.Dialog = dialog
	// Unbind on Close even when binding fails: some servers may have bound.
	s.setOnClose(func() error { return c.unbindDialog(key) })
	if _, err := c.callKind(ctx, k, key, nil); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// unbindDialog tells the servers of key to stop publishing events on
// key.Dialog. Servers that do not know the kind (v5) answer an error, which
// is harmless: their bindings end with the resources.
func (c *Client) unbindDialog(key Key) error {
	if c.core.isStopped() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), unbindTimeout)
	defer cancel()
	err := c.sendUnbind(ctx, Key{Dialog: key.Dialog, App: key.App, Node: key.Node})
	if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, bus.ErrClosed) {
		c.core.log.Debug("dialog unbind", "dialog", key.Dialog, "err", err)
	}
	return nil
}

// UnbindDialog tells the servers of the client's application to stop
// publishing events on dialog, for every resource bound to it. Servers
// release bindings by themselves when the resources go away; this ends
// them earlier.
func (c *Client) UnbindDialog(ctx context.Context, dialog string) error {
	if dialog == "" {
		return fmt.Errorf("client: unbind dialog: empty dialog: %w", ErrBadRequest)
	}
	if c.isClosed() {
		return ErrClosed
	}
	return c.sendUnbind(ctx, c.fillKey(Key{Dialog: dialog}))
}

func (c *Client) sendUnbind(ctx context.Context, key Key) error {
	class := wire.ClassCommand
	var req *wire.Request
	if k, ok := wire.LookupKind(dialogUnbindKind); ok {
		class = k.Class
		r, err := wire.NewRequest(k, &key, nil)
		if err != nil {
			return err
		}
		req = r
	} else {
		req = &wire.Request{Kind: dialogUnbindKind, Key: &key}
	}
	_, err := c.sendRaw(ctx, class, req, false)
	return err
}
