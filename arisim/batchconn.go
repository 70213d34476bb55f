package arisim

import (
	"context"
	"io"
	"net"
	"sync"
	"time"
)

// batchConn is a server-side connection that can hold its output while an
// events WebSocket writes a batch of queued events, so that the batch
// leaves in a few large writes instead of one system call per event. The
// bytes on the wire are the same, frame for frame: only the TCP
// segmentation changes, as it does for a busy Asterisk.
//
// The WebSocket library serializes its frame writes, but a pong can be
// written by the reading goroutine while the writer holds: the mutex
// keeps the buffer consistent and the order of writes is kept.
type batchConn struct {
	net.Conn
	mu      sync.Mutex
	events  bool // an events WebSocket writes: every write has a deadline
	holding bool
	buf     []byte
}

// Output held past this many bytes is written at once, even mid-batch.
const maxHeldOutput = 64 << 10

// heldWriteTimeout bounds each write of the underlying connection once an
// events WebSocket uses it: a client that stops reading for that long is
// dropped.
var heldWriteTimeout = 10 * time.Second

// startEvents is called once the connection carries an events WebSocket.
func (c *batchConn) startEvents() {
	c.mu.Lock()
	c.events = true
	c.mu.Unlock()
}

// hold makes the following writes wait in memory (on) or go out together
// with the held ones (off: the next write sends everything).
func (c *batchConn) hold(on bool) {
	c.mu.Lock()
	c.holding = on
	c.mu.Unlock()
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.events {
		return c.Conn.Write(p)
	}
	if c.holding && len(c.buf)+len(p) <= maxHeldOutput {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	out := p
	if len(c.buf) > 0 {
		c.buf = append(c.buf, p...)
		out = c.buf
	}
	// The held bytes go first, with p: an error on them is an error of
	// this write (the WebSocket is then dropped anyway).
	_ = c.Conn.SetWriteDeadline(time.Now().Add(heldWriteTimeout))
	_, err := c.Conn.Write(out)
	if cap(c.buf) > 2*maxHeldOutput {
		c.buf = nil // an unusually large event: do not keep its buffer
	} else {
		c.buf = c.buf[:0]
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// ReadFrom keeps the sendfile path of net/http for responses.
func (c *batchConn) ReadFrom(r io.Reader) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.buf) > 0 { // never while serving HTTP, but keep the order
		if _, err := c.Conn.Write(c.buf); err != nil {
			return 0, err
		}
		c.buf = c.buf[:0]
	}
	return io.Copy(c.Conn, r)
}

// connKey is the request context key of the request's batchConn.
type connKey struct{}

// withConn is http.Server's ConnContext: it makes the batchConn of a
// connection reachable from its requests (serveEvents).
func withConn(ctx context.Context, c net.Conn) context.Context {
	if bc, ok := c.(*batchConn); ok {
		return context.WithValue(ctx, connKey{}, bc)
	}
	return ctx
}

// connOf is the batchConn the request came on, nil when it has none.
func connOf(ctx context.Context) *batchConn {
	bc, _ := ctx.Value(connKey{}).(*batchConn)
	return bc
}
