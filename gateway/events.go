package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/tidwall/gjson"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/internal/arihttp"
	"github.com/ariproxy/ari-proxy/wire"
)

// The events WebSocket. Every gateway instance receives every event of
// the applications its WebSockets serve (client.Subscribe) and takes a
// share of the new calls (client.Listen: each StasisStart goes to one
// instance). An event goes to the WebSocket that owns a resource it names
// (a channel, bridge, playback or live recording): a call is owned by the
// WebSocket its StasisStart was handed to, an entity created through the
// gateway by a WebSocket of the application, and the resources an owned
// one meets (the bridge it enters, its playbacks) follow it. Events of
// resources nobody here owns wait a little (their StasisStart or create
// reply may come on another path) and are dropped as another instance's.
// Events naming no such resource go to every WebSocket of the
// application.

// queueLimit is how many bytes of events may wait for a WebSocket before
// it is disconnected as stuck, as Asterisk drops a client it cannot write
// to. It is large: a flood outruns a healthy client for a while (the
// writer takes what queued in one batch), and a client that takes nothing
// is caught sooner by the write deadline (writeTimeout). It matches the
// bus client's own default buffer of a subscription (64 MiB).
const queueLimit = 64 << 20

// forgetAfter is how long the node of an ended resource stays known.
const forgetAfter = 10 * time.Second

// pendingLimit bounds the events kept for one resource nobody owns yet.
const pendingLimit = 256

type ownKey struct {
	app string
	ref wire.Ref
}

type pending struct {
	since  time.Time
	events [][]byte
}

// feed is what one application's WebSockets share on this instance.
type feed struct {
	conns    []*wsConn
	sub      bus.Subscription
	listener *client.Listener
	c        *client.Client // the application's
	next     int
}

// stop ends the feed's subscriptions.
func (f *feed) stop(g *Gateway) {
	_ = f.listener.Close()
	_ = f.sub.Unsubscribe()
	g.release(f.c)
}

type eventHub struct {
	g       *Gateway
	timeout time.Duration

	mu      sync.Mutex
	feeds   map[string]*feed
	owner   map[ownKey]*wsConn
	pending map[ownKey]*pending
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newEventHub(g *Gateway, timeout time.Duration) *eventHub {
	h := &eventHub{g: g, timeout: timeout, feeds: map[string]*feed{}, owner: map[ownKey]*wsConn{},
		pending: map[ownKey]*pending{}, stop: make(chan struct{})}
	h.wg.Add(1)
	go h.sweep()
	return h
}

func (h *eventHub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.stop)
	var conns []*wsConn
	var feeds []*feed
	for _, f := range h.feeds {
		conns = append(conns, f.conns...)
		feeds = append(feeds, f)
	}
	h.feeds = map[string]*feed{}
	h.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
	for _, f := range feeds {
		f.stop(h.g)
	}
	h.wg.Wait()
}

// sweep drops the events of resources nobody here took in time.
func (h *eventHub) sweep() {
	defer h.wg.Done()
	t := time.NewTicker(h.timeout / 4)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case now := <-t.C:
			h.mu.Lock()
			for k, p := range h.pending {
				if now.Sub(p.since) > h.timeout {
					delete(h.pending, k)
				}
			}
			h.mu.Unlock()
		}
	}
}

// trackable reports whether events of kind are routed by owner.
func trackable(kind string) bool {
	e := wire.EntityOf(kind)
	return e != nil && e.Created
}

// join registers conn for its applications, starting an application's
// feed (subscription and Listener) with its first WebSocket. It returns
// once the feeds are subscribed, so no call placed after is missed.
func (h *eventHub) join(ctx context.Context, conn *wsConn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return client.ErrClosed
	}
	var started []string
	for _, app := range conn.apps {
		if f := h.feeds[app]; f != nil {
			f.conns = append(f.conns, conn)
			continue
		}
		f, err := h.start(app)
		if err != nil {
			for _, a := range started {
				h.leaveLocked(a, conn)
			}
			return err
		}
		f.conns = []*wsConn{conn}
		h.feeds[app] = f
		started = append(started, app)
	}
	return nil
}

func (h *eventHub) start(app string) (*feed, error) {
	c := h.g.app(app)
	// The events' bytes are relayed as they come, undecoded, in the bus
	// subscription's order (one goroutine per subscription).
	sub, err := c.Bus().Subscribe(c.EventsSubject(), func(m bus.Msg) { h.onEvent(app, m.Data) })
	if err != nil {
		h.g.release(c)
		return nil, err
	}
	l, err := c.Listen(context.Background(), func(_ context.Context, _ *client.ChannelHandle, ev *ari.StasisStart) {
		h.claim(app, ev.Channel.ID, ev.AsteriskID)
	})
	if err != nil {
		_ = sub.Unsubscribe()
		h.g.release(c)
		return nil, err
	}
	return &feed{sub: sub, listener: l, c: c}, nil
}

// leave unregisters conn; an application's feed stops with its last
// WebSocket, so this instance takes no more of its calls.
func (h *eventHub) leave(conn *wsConn) {
	h.mu.Lock()
	for _, app := range conn.apps {
		h.leaveLocked(app, conn)
	}
	for k, c := range h.owner {
		if c == conn {
			delete(h.owner, k)
		}
	}
	h.mu.Unlock()
}

func (h *eventHub) leaveLocked(app string, conn *wsConn) {
	f := h.feeds[app]
	if f == nil {
		return
	}
	f.conns = slices.DeleteFunc(f.conns, func(c *wsConn) bool { return c == conn })
	if len(f.conns) == 0 {
		delete(h.feeds, app)
		go f.stop(h.g)
	}
}

// pick chooses the WebSocket of app that gets a new call: in turn.
func (h *eventHub) pickLocked(app string) *wsConn {
	f := h.feeds[app]
	if f == nil || len(f.conns) == 0 {
		return nil
	}
	c := f.conns[f.next%len(f.conns)]
	f.next++
	return c
}

// ownLocked makes conn the owner of ref and sends it what waited for ref.
func (h *eventHub) ownLocked(app string, ref wire.Ref, conn *wsConn) {
	k := ownKey{app, ref}
	h.owner[k] = conn
	if p := h.pending[k]; p != nil {
		delete(h.pending, k)
		for _, e := range p.events {
			h.deliverLocked(app, conn, e)
		}
	}
}

// claim: this instance took the call's StasisStart (client.Listen).
func (h *eventHub) claim(app, channelID, node string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := ownKey{app, wire.Ref{Kind: "channel", ID: channelID}}
	if h.owner[k] != nil {
		return
	}
	if c := h.pickLocked(app); c != nil {
		h.ownLocked(app, k.ref, c)
		h.g.setAffinity(node)
	}
}

// created: a REST request through this instance created or touched an
// entity; its events go to the owner of what the request named, else to a
// WebSocket of the application in turn.
func (h *eventHub) created(app string, op *ari.Operation, key client.Key, params ari.Params, rep *client.Reply) {
	if op.Ident == ari.OpApplicationsSubscribe {
		h.subscribed(key.ID, params)
		return
	}
	if rep == nil || rep.Key == nil || !trackable(rep.Key.Kind) || op.Method != "POST" {
		return
	}
	ref := wire.Ref{Kind: rep.Key.Kind, ID: rep.Key.ID}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.owner[ownKey{app, ref}] != nil {
		return
	}
	conn := h.owner[ownKey{app, wire.Ref{Kind: key.Kind, ID: key.ID}}]
	if conn == nil {
		conn = h.pickLocked(app)
	}
	if conn != nil {
		h.ownLocked(app, ref, conn)
	}
}

// subscribed: applications.subscribe made app receive the events of its
// event sources; on this instance they go to a WebSocket of app.
func (h *eventHub) subscribed(app string, params ari.Params) {
	var sources []string
	switch v := params["eventSource"].(type) {
	case string:
		sources = strings.Split(v, ",")
	case json.RawMessage:
		var list []string
		if json.Unmarshal(v, &list) != nil {
			var one string
			_ = json.Unmarshal(v, &one)
			list = strings.Split(one, ",")
		}
		sources = list
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, src := range sources {
		kind, id, ok := strings.Cut(strings.TrimSpace(src), ":")
		if !ok || id == "" || !trackable(kind) || h.owner[ownKey{app, wire.Ref{Kind: kind, ID: id}}] != nil {
			continue
		}
		if c := h.pickLocked(app); c != nil {
			h.ownLocked(app, wire.Ref{Kind: kind, ID: id}, c)
		}
	}
}

// onEvent routes one event of app.
func (h *eventHub) onEvent(app string, raw []byte) {
	typ := gjson.GetBytes(raw, "type").Str
	var buf [8]wire.Ref
	refs, ended := wire.EventResources(buf[:0], typ, raw)
	if len(refs) > 0 {
		h.g.loc.setRefs(refs, gjson.GetBytes(raw, "asterisk_id").Str)
	}
	var tbuf [8]wire.Ref
	tracked := tbuf[:0]
	for _, r := range refs {
		if trackable(r.Kind) {
			tracked = append(tracked, r)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(tracked) == 0 {
		if f := h.feeds[app]; f != nil {
			for _, c := range f.conns {
				h.deliverLocked(app, c, raw)
			}
		}
		return
	}
	var conn *wsConn
	for _, r := range tracked {
		if c := h.owner[ownKey{app, r}]; c != nil {
			conn = c
			break
		}
	}
	if conn == nil {
		k := ownKey{app, tracked[0]}
		p := h.pending[k]
		if p == nil {
			p = &pending{since: time.Now()}
			h.pending[k] = p
		}
		if len(p.events) < pendingLimit {
			p.events = append(p.events, raw)
		}
	} else {
		for _, r := range tracked {
			if h.owner[ownKey{app, r}] == nil {
				h.ownLocked(app, r, conn) // the bridge it entered, its playback...
			}
		}
		h.deliverLocked(app, conn, raw)
	}
	if ended != (wire.Ref{}) {
		delete(h.owner, ownKey{app, ended})
		// The node stays known a little for the last requests (a hangup
		// after ChannelDestroyed gets its 404 from the node at once).
		time.AfterFunc(forgetAfter, func() { h.g.loc.forget(ended.Kind, ended.ID) })
	}
}

func (h *eventHub) deliverLocked(_ string, c *wsConn, raw []byte) {
	c.enqueue(stripDialog(raw))
}

// stripDialog removes the "dialog" member a server splices first into
// the StasisStart of a channel created with a dialog (the return path),
// so the WebSocket gets Asterisk's bytes.
func stripDialog(raw []byte) []byte {
	const head = `{"dialog":`
	if !bytes.HasPrefix(raw, []byte(head)) {
		return raw
	}
	d := gjson.GetBytes(raw, "dialog")
	end := d.Index + len(d.Raw)
	if d.Type != gjson.String || d.Index < len(head) || end >= len(raw) {
		return raw
	}
	rest := bytes.TrimLeft(raw[end:], " \t\r\n")
	if len(rest) > 0 && rest[0] == ',' {
		rest = rest[1:]
	}
	out := make([]byte, 0, len(raw))
	out = append(out, '{')
	return append(out, rest...)
}

// wsConn is one events WebSocket: its applications and its queue, written
// by its own goroutine so that routing never blocks on a client.
type wsConn struct {
	apps []string

	mu     sync.Mutex
	cond   *sync.Cond
	queue  [][]byte
	queued int      // bytes in queue
	spare  [][]byte // the previous batch's slice, for the next queue
	ws     *websocket.Conn
	out    *arihttp.Batch
	closed bool
}

func newWSConn(apps []string) *wsConn {
	c := &wsConn{apps: apps}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *wsConn) enqueue(msg []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.queued+len(msg) > queueLimit {
		c.closed = true
		c.queue, c.queued = nil, 0
		c.cond.Broadcast()
		return
	}
	c.queued += len(msg)
	if c.queue == nil {
		c.queue, c.spare = c.spare, nil
	}
	c.queue = append(c.queue, msg)
	if len(c.queue) == 1 {
		c.cond.Broadcast() // the writer waits for the first
	}
}

func (c *wsConn) attach(ws *websocket.Conn, out *arihttp.Batch) {
	c.mu.Lock()
	c.ws, c.out = ws, out
	c.cond.Broadcast()
	c.mu.Unlock()
}

// writeTimeout is how long a client may take to accept one write of
// events (at most batchBytes): a client that cannot is stuck and is
// disconnected, as Asterisk drops a client whose write times out. A
// variable for the tests.
var writeTimeout = 10 * time.Second

// batchBytes is how many bytes of frames the writer collects before it
// writes them out, within one batch.
const batchBytes = 64 << 10

// writer sends the queue to the WebSocket: everything queued at once is
// one batch, its messages written (each its own WebSocket message, the
// bytes unchanged, in order) into the connection's Batch and sent
// together, so that the cost of a network write is shared by the events
// that came while the previous batch was written.
func (c *wsConn) writer() {
	for {
		c.mu.Lock()
		for (len(c.queue) == 0 || c.ws == nil) && !c.closed {
			c.cond.Wait()
		}
		if c.closed {
			ws := c.ws
			c.mu.Unlock()
			if ws != nil {
				_ = ws.CloseNow()
			}
			return
		}
		batch, ws, out := c.queue, c.ws, c.out
		c.queue, c.queued = nil, 0
		c.mu.Unlock()
		// At most batchBytes a write; each must be taken within writeTimeout.
		if err := out.WriteMessages(ws, batch, batchBytes, writeTimeout); err != nil {
			c.shutdown()
			return
		}
		// The events' bytes are not kept alive by the spare, nor a
		// flood's slice for good.
		clear(batch)
		if cap(batch) <= maxSpare {
			c.mu.Lock()
			c.spare = batch[:0]
			c.mu.Unlock()
		}
	}
}

// maxSpare is the largest batch slice kept for the next queue.
const maxSpare = 1024

func (c *wsConn) shutdown() {
	c.mu.Lock()
	c.closed = true
	ws := c.ws
	c.cond.Broadcast()
	c.mu.Unlock()
	if ws != nil {
		_ = ws.CloseNow()
	}
}

// serveEvents upgrades an authenticated GET /ari/events, refusing what
// Asterisk refuses with its answers, and 503 (JSON) for an application no
// server serves. The applications are registered (subscribed on the bus)
// before the 101, as Asterisk registers them before the handshake
// completes.
func (g *Gateway) serveEvents(w http.ResponseWriter, r *http.Request) {
	apps, proto, refused := arihttp.Events(r)
	if refused != nil {
		arihttp.Refuse(w, serverHeader, refused)
		return
	}
	for _, app := range apps {
		if len(g.app(app).Servers()) == 0 {
			writeAnswer(w, message(503, "%s", noServerMessage(app)))
			return
		}
	}
	conn := newWSConn(apps)
	if err := g.ev.join(r.Context(), conn); err != nil {
		g.log.Warn("events websocket: subscribe", "err", err)
		writeAnswer(w, message(503, "Cannot subscribe on the bus"))
		return
	}
	go conn.writer()
	arihttp.ServeBatchedWebSocket(w, r, proto, conn.attach)
	conn.shutdown()
	g.ev.leave(conn)
}

// writeHTMLError writes the HTML error page of Asterisk's HTTP server.
func writeHTMLError(w http.ResponseWriter, status int, title, text string) {
	writeAnswer(w, answer{status: status, body: arihttp.ErrorPage(status, title, text), ctype: "text/html"})
}
