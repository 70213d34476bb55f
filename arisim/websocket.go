package arisim

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/ariproxy/ari-proxy/internal/arihttp"
)

// The events WebSocket (res/ari/ari_websockets.c): one connection per
// client, its applications and its outgoing queue.

// wsConn is one events WebSocket. Events wait in an in-memory queue that
// a dedicated goroutine writes, so the simulator never blocks on a client.
type wsConn struct {
	s     *Sim
	ws    *websocket.Conn
	bc    *batchConn // the connection under ws; nil when not ours (TLS)
	limit int

	mu     sync.Mutex
	cond   *sync.Cond
	queue  [][]byte
	apps   []string
	closed bool
	done   chan struct{}
}

func (c *wsConn) init() { c.cond = sync.NewCond(&c.mu) }

func (c *wsConn) appNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.apps)
}

func (c *wsConn) removeApp(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.apps = slices.DeleteFunc(c.apps, func(x string) bool { return x == name })
}

// enqueue queues msg without blocking. A client that lets more than the
// limit pile up is disconnected, like Asterisk drops a stuck WebSocket.
func (c *wsConn) enqueue(msg []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if len(c.queue) >= c.limit {
		// The writer sees closed and drops the connection.
		c.closed = true
		close(c.done)
		c.queue = nil
		c.cond.Broadcast()
		return
	}
	c.queue = append(c.queue, msg)
	c.cond.Broadcast()
}

// enqueueWait queues msg once fewer than high messages wait, so a
// producer runs at the client's pace. It reports false once the
// connection is closed.
func (c *wsConn) enqueueWait(msg []byte, high int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.closed && len(c.queue) >= high {
		c.cond.Wait()
	}
	if c.closed {
		return false
	}
	c.queue = append(c.queue, msg)
	c.cond.Broadcast()
	return true
}

func (c *wsConn) writer() {
	defer c.s.wg.Done()
	for {
		c.mu.Lock()
		for (len(c.queue) == 0 || c.ws == nil) && !c.closed {
			c.cond.Wait()
		}
		if c.closed {
			c.mu.Unlock()
			c.closeSocket()
			return
		}
		batch, ws := c.queue, c.ws
		c.queue = nil
		c.cond.Broadcast()
		c.mu.Unlock()
		if err := c.write(ws, batch); err != nil {
			c.shutdown()
			return
		}
	}
}

// write writes a batch of events, in order. On our own connections the
// batch leaves in few system calls (batchConn), each bounded by its
// deadline; else each event has 10 s to be written.
func (c *wsConn) write(ws *websocket.Conn, batch [][]byte) error {
	if c.bc == nil {
		for _, m := range batch {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := ws.Write(ctx, websocket.MessageText, m)
			cancel()
			if err != nil {
				return err
			}
		}
		return nil
	}
	c.bc.hold(true)
	defer c.bc.hold(false)
	for i, m := range batch {
		if i == len(batch)-1 {
			c.bc.hold(false) // the last one sends the batch
		}
		if err := ws.Write(context.Background(), websocket.MessageText, m); err != nil {
			return err
		}
	}
	return nil
}

// shutdown closes the connection abruptly (no close handshake wait).
func (c *wsConn) shutdown() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.done)
		c.cond.Broadcast()
	}
	c.mu.Unlock()
	c.closeSocket()
}

// attach gives the connection its socket once the handshake is done; the
// writer starts on what was queued before.
func (c *wsConn) attach(ws *websocket.Conn) {
	if c.bc != nil {
		c.bc.startEvents()
	}
	c.mu.Lock()
	c.ws = ws
	closed := c.closed
	c.cond.Broadcast()
	c.mu.Unlock()
	if closed {
		_ = ws.CloseNow()
	}
}

func (c *wsConn) closeSocket() {
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws != nil {
		_ = ws.CloseNow()
	}
}

func (s *Sim) takeConnsLocked() []*wsConn {
	list := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		list = append(list, c)
		s.unregister(c)
	}
	clear(s.conns)
	return list
}

// serveEvents upgrades an authenticated GET /ari/events.
func (s *Sim) serveEvents(w http.ResponseWriter, r *http.Request) {
	// ast_websocket_uri_cb refuses a bad handshake (websocket_bad_request)
	// before the ARI session is attempted, so such a request registers
	// nothing and takes no application over. Versions 7 and 8, which
	// Asterisk also speaks, are refused: the WebSocket library speaks 13.
	apps, proto, refused := arihttp.Events(r)
	if refused != nil {
		arihttp.Refuse(w, serverName, refused)
		return
	}
	subAll := astTrue(r.URL.Query().Get("subscribeAll"))
	conn := &wsConn{s: s, bc: connOf(r.Context()), limit: s.qlimit, done: make(chan struct{})}
	conn.init()

	// Register before the handshake, as ari_websockets.c does in
	// session_attempted: a client that originates as soon as it sees the
	// 101 finds its applications, and what they raise meanwhile waits in
	// the queue until the socket exists.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		httpError(w, http.StatusServiceUnavailable, "Service Unavailable", "")
		return
	}
	s.conns[conn] = struct{}{}
	conn.apps = apps
	for _, n := range conn.apps {
		s.register(n, conn, subAll)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go conn.writer()

	arihttp.ServeWebSocket(w, r, proto, conn.attach)
	conn.shutdown()
	s.mu.Lock()
	if _, ok := s.conns[conn]; ok {
		delete(s.conns, conn)
		s.unregister(conn)
	}
	s.mu.Unlock()
}
