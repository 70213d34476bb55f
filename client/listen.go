package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/wire"
)

// Handler handles one call that entered the application (its
// StasisStart). ctx ends when the Listener stops.
type Handler func(ctx context.Context, ch *ChannelHandle, ev *ari.StasisStart)

// Listener is a running Listen: it hands calls to its handler until it is
// closed, its context ends or its client closes.
type Listener struct {
	c       *Client
	handler Handler
	hctx    context.Context
	cancel  context.CancelFunc
	sub     *Subscription // holds the queue subscription; closing it stops l

	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup

	done chan struct{} // closed once stopped and every handler returned
	err  error
}

// Listen hands the calls of the client's application to handler, each in
// its own goroutine, and returns once it is subscribed on the bus: a call
// that enters the application after Listen returns is never missed.
//
// New calls are shared: each StasisStart goes to exactly one of the
// instances listening for the application (v5 clients included, through
// the queue group wire.ListenQueue).
//
// Return path: while a Listener runs, the channels this client creates
// (Originate, Create, OriginateWithID, SnoopChannel, ExternalMedia...)
// come back to this instance, not to another one: each create carries the
// client's return dialog (ReturnDialog), bound on the server before the
// ARI call, so the channel's StasisStart reaches this Listener (and no
// other instance's) and all its later events reach ReturnDialog's
// subject. A client made with WithDialog sends creates with its own
// dialog instead: their calls reach DialogEvents, not a Listener. Keep a
// Listener running while the channels it created enter the application:
// one whose StasisStart arrives after every Listener of the client
// stopped is taken by none (the application-wide subscribers still see
// it).
//
// The Listener stops when ctx ends, when Close is called or when the
// client closes; Wait returns after the running handlers have returned.
func (c *Client) Listen(ctx context.Context, handler Handler) (*Listener, error) {
	return c.listen(ctx, handler, true)
}

// ListenReturned is Listen for the channels this client creates only (the
// return path): it takes no share of the application's new calls, which
// go to the other instances. A dialer that handles only the calls it
// places uses it.
func (c *Client) ListenReturned(ctx context.Context, handler Handler) (*Listener, error) {
	return c.listen(ctx, handler, false)
}

func (c *Client) listen(ctx context.Context, handler Handler, shared bool) (*Listener, error) {
	if c.app == "" {
		return nil, fmt.Errorf("client: listen: no application: %w", ErrBadRequest)
	}
	if handler == nil {
		return nil, fmt.Errorf("client: listen: nil handler: %w", ErrBadRequest)
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &Listener{c: c, handler: handler, hctx: hctx, cancel: cancel, done: make(chan struct{})}
	l.sub = c.newSubscription(nil)
	if err := c.track(l.sub); err != nil {
		cancel()
		return nil, err
	}
	if shared && c.core.durable {
		if err := l.consumeDurable(ctx); err != nil {
			cancel()
			_ = l.sub.Close()
			return nil, fmt.Errorf("client: listen: %w", err)
		}
	} else if shared {
		b, err := c.core.bus.QueueSubscribe(c.core.subjects.AllEvents(c.app), wire.ListenQueue, l.onQueued)
		if err != nil {
			cancel()
			_ = l.sub.Close()
			return nil, fmt.Errorf("client: listen: %w", err)
		}
		if err := l.sub.addBus(b); err != nil {
			cancel()
			return nil, err
		}
	}
	if err := c.core.ret.add(c.core, l); err != nil {
		cancel()
		_ = l.sub.Close()
		return nil, fmt.Errorf("client: listen: return path: %w", err)
	}
	go l.run(ctx)
	return l, nil
}

var stasisStartMarker = []byte(`"StasisStart"`)

// onQueued takes the events the queue group gives this instance.
func (l *Listener) onQueued(m bus.Msg) {
	if !bytes.Contains(m.Data, stasisStartMarker) {
		return // cheap test before decoding: most events are not new calls
	}
	if gjson.GetBytes(m.Data, "dialog").Exists() {
		return // a channel some instance created: it goes to its owner
	}
	l.take(m, nil)
}

// take decodes a StasisStart and runs the handler for it. finish, when
// not nil, is called with true once the handler returned, or at once with
// false when m is not a call this Listener takes.
func (l *Listener) take(m bus.Msg, finish func(taken bool)) {
	if finish == nil {
		finish = func(bool) {}
	}
	ev, err := ari.DecodeEvent(m.Data)
	if err != nil {
		l.c.core.log.Debug("ignoring undecodable event", "subject", m.Subject, "err", err)
		finish(false)
		return
	}
	ss, ok := ev.(*ari.StasisStart)
	if !ok {
		finish(false)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		finish(false)
		return
	}
	h := l.c.ChannelFromKey(Key{Kind: "channel", ID: ss.Channel.ID, Node: ss.AsteriskID, App: ss.Application})
	l.c.core.locs.event(ev) // its node: a partial key for the call goes there
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.handler(l.hctx, h, ss)
		finish(true)
	}()
}

func (l *Listener) run(ctx context.Context) {
	var err error
	select {
	case <-ctx.Done():
	case <-l.sub.done:
		if l.c.isClosed() {
			err = ErrClosed
		}
	}
	_ = l.sub.Close()
	l.c.core.ret.remove(l)
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
	l.err = err
	close(l.done)
}

// Close stops the Listener: it takes no more calls and the handlers'
// contexts end. It does not wait for the handlers (Wait does), so a
// handler may call it.
func (l *Listener) Close() error {
	l.sub.c.untrack(l.sub)
	return l.sub.close()
}

// Done is closed once the Listener has stopped and its handlers returned.
func (l *Listener) Done() <-chan struct{} { return l.done }

// Wait blocks until the Listener has stopped and every handler returned.
// It returns nil when it stopped by its context or Close, ErrClosed when
// the client closed first.
func (l *Listener) Wait() error {
	<-l.done
	return l.err
}

// ReturnDialog is the dialog of the client's return path: the channels it
// creates while a Listener runs are bound to it (see Listen), so
// DialogEvents(ctx, c.ReturnDialog()) receives every event of them.
func (c *Client) ReturnDialog() string { return c.core.ret.dialog }

// EventDialog is the dialog an event names: the dialog subject it came on,
// or, for the StasisStart of a channel a dialog created, that dialog. It is
// "" for the other events.
func EventDialog(ev ari.Event) string {
	if ev == nil {
		return ""
	}
	return gjson.GetBytes(ev.RawJSON(), "dialog").Str
}

// returnPath is a core's return dialog and the Listeners its calls go to.
type returnPath struct {
	dialog string

	mu        sync.Mutex
	sub       bus.Subscription // on the dialog's subject, from the first Listener on
	listeners map[string][]*Listener
	next      int
}

func newReturnPath() *returnPath {
	return &returnPath{dialog: "rp-" + NewDialogID(), listeners: make(map[string][]*Listener)}
}

// add registers l, subscribing to the return dialog first if need be: the
// subscription is active before any create can carry the dialog.
func (r *returnPath) add(co *core, l *Listener) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sub == nil {
		s, err := co.bus.Subscribe(co.subjects.DialogEvent(r.dialog), func(m bus.Msg) { r.onEvent(co, m) })
		if err != nil {
			return err
		}
		r.sub = s
	}
	r.listeners[l.c.app] = append(r.listeners[l.c.app], l)
	return nil
}

func (r *returnPath) remove(l *Listener) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ls := r.listeners[l.c.app]
	for i, x := range ls {
		if x == l {
			r.listeners[l.c.app] = append(ls[:i:i], ls[i+1:]...)
			break
		}
	}
	if len(r.listeners[l.c.app]) == 0 {
		delete(r.listeners, l.c.app)
	}
}

// active reports whether creates for app take the return path.
func (r *returnPath) active(app string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.listeners[app]) > 0
}

// onEvent hands the StasisStart of a returned channel to a Listener of its
// application (in turn when there are several).
func (r *returnPath) onEvent(co *core, m bus.Msg) {
	if !bytes.Contains(m.Data, stasisStartMarker) {
		return
	}
	app := gjson.GetBytes(m.Data, "application").Str
	typ := gjson.GetBytes(m.Data, "type").Str
	if typ != ari.TypeStasisStart {
		return
	}
	r.mu.Lock()
	ls := r.listeners[app]
	var l *Listener
	if len(ls) > 0 {
		r.next++
		l = ls[r.next%len(ls)]
	}
	r.mu.Unlock()
	if l == nil {
		co.log.Warn("a channel this client created entered the application after its Listeners stopped", "app", app)
		return
	}
	l.take(m, nil)
}

func (r *returnPath) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sub == nil {
		return nil
	}
	err := r.sub.Unsubscribe()
	r.sub = nil
	if errors.Is(err, bus.ErrClosed) {
		return nil
	}
	return err
}

// createsChannel reports whether k creates a channel that enters the
// application: such a request takes the return path.
func createsChannel(k *wire.Kind) bool {
	return k.Class == wire.ClassCreate && k.Result.Kind == "channel"
}
