package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

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
	// mention, when set, is what an event's JSON must contain to be
	// delivered: the watched resource's id as a JSON string, or the tail
	// of a target URI ("channel:<id>").
	mention [2][]byte

	mu       sync.RWMutex // held for reading while delivering
	finished bool
	subs     []bus.Subscription
	onClose  func() error

	once     sync.Once
	closeErr error
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
func (s *Subscription) deliver(m bus.Msg) {
	// The cheap tests first: most events of a busy application are for
	// other subscriptions, and decoding one costs far more than reading
	// its type.
	if s.types != nil {
		if typ, err := ari.EventType(m.Data); err == nil && !s.types[typ] {
			return
		}
	}
	if s.mention[0] != nil && !bytes.Contains(m.Data, s.mention[0]) && !bytes.Contains(m.Data, s.mention[1]) {
		return // bound to the dialog with the resource but about something else
	}
	ev, err := ari.DecodeEvent(m.Data)
	if err != nil {
		s.c.core.log.Debug("ignoring undecodable event", "subject", m.Subject, "err", err)
		return
	}
	if s.types != nil && !s.types[ev.EventType()] {
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.finished {
		return
	}
	select {
	case s.ch <- ev:
	case <-s.done:
	}
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
	if ctx.Done() != nil {
		go func() {
			select {
			case <-ctx.Done():
				_ = s.Close()
			case <-s.done:
			}
		}()
	}
	return nil
}

// Subscribe delivers the events of the client's application from every
// server, of the given types only when types are given ("StasisStart",
// "ChannelHangupRequest"...). The subscription ends with Close, when ctx
// ends or when the client closes.
func (c *Client) Subscribe(ctx context.Context, types ...string) (*Subscription, error) {
	if c.app == "" {
		return nil, fmt.Errorf("client: subscribe: no application: %w", ErrBadRequest)
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
// listens on that dialog's subject, delivering only the events whose JSON
// names the resource's id (a server may bind related resources, such as the
// other half of a Local channel, to the same dialog). Close unbinds the
// dialog.
func (c *Client) subscribeResource(ctx context.Context, subscribeKind string, key Key, types []string) (*Subscription, error) {
	k, ok := wire.LookupKind(subscribeKind)
	if !ok {
		return nil, fmt.Errorf("client: unknown kind %s: %w", subscribeKind, ErrBadRequest)
	}
	dialog := NewDialogID()
	s := c.newSubscription(types)
	s.dialog = dialog
	quoted, _ := json.Marshal(key.ID)
	s.mention = [2][]byte{quoted, append([]byte{':'}, quoted[1:]...)}
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

// Listen hands each new call of the client's application to handler, each
// in its own goroutine: every StasisStart event goes to exactly one of the
// client instances listening for the application (v5 clients included,
// through the shared queue group wire.ListenQueue). The handler's ctx ends
// when Listen's does. Listen returns nil when ctx ends, after the running
// handlers have returned, and ErrClosed when the client closes first.
func (c *Client) Listen(ctx context.Context, handler func(ctx context.Context, h *ChannelHandle, ev *ari.StasisStart)) error {
	if c.app == "" {
		return fmt.Errorf("client: listen: no application: %w", ErrBadRequest)
	}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu      sync.Mutex
		stopped bool
		wg      sync.WaitGroup
	)
	s := c.newSubscription(nil)
	if err := c.track(s); err != nil {
		return err
	}
	defer s.Close()
	marker := []byte(`"StasisStart"`)
	b, err := c.core.bus.QueueSubscribe(c.core.subjects.AllEvents(c.app), wire.ListenQueue, func(m bus.Msg) {
		if !bytes.Contains(m.Data, marker) {
			return // cheap test before decoding: most events are not new calls
		}
		ev, err := ari.DecodeEvent(m.Data)
		if err != nil {
			c.core.log.Debug("ignoring undecodable event", "subject", m.Subject, "err", err)
			return
		}
		ss, ok := ev.(*ari.StasisStart)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		h := c.ChannelFromKey(Key{Kind: "channel", ID: ss.Channel.ID, Node: ss.AsteriskID, App: ss.Application})
		wg.Add(1)
		go func() {
			defer wg.Done()
			handler(hctx, h, ss)
		}()
	})
	if err != nil {
		return fmt.Errorf("client: listen: %w", err)
	}
	if err := s.addBus(b); err != nil {
		return err
	}

	var result error
	select {
	case <-ctx.Done():
	case <-s.done:
		result = ErrClosed
	}
	_ = s.Close()
	mu.Lock()
	stopped = true
	mu.Unlock()
	cancel()
	wg.Wait()
	return result
}
