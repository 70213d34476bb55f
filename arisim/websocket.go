package arisim

import (
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
	out   *arihttp.Batch // the connection under ws, to write batches at once
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
		batch, ws, out := c.queue, c.ws, c.out
		c.queue = nil
		c.cond.Broadcast()
		c.mu.Unlock()
		// In few writes to the network (arihttp.Batch): one per event
		// would cost a system call and a wake-up of the reader each. The
		// frames are the same.
		if err := out.WriteMessages(ws, batch, maxHeldOutput, writeTimeout); err != nil {
			c.shutdown()
			return
		}
	}
}

// Output held past this many bytes is written at once, even mid-batch.
const maxHeldOutput = 64 << 10

// writeTimeout bounds each write to the network: a client that stops
// reading for that long is dropped.
const writeTimeout = 10 * time.Second

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
func (c *wsConn) attach(ws *websocket.Conn, out *arihttp.Batch) {
	c.mu.Lock()
	c.ws, c.out = ws, out
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
	conn := &wsConn{s: s, limit: s.qlimit, done: make(chan struct{})}
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

	arihttp.ServeBatchedWebSocket(w, r, proto, conn.attach)
	conn.shutdown()
	s.mu.Lock()
	if _, ok := s.conns[conn]; ok {
		delete(s.conns, conn)
		s.unregister(conn)
	}
	s.mu.Unlock()
}
