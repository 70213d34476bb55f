package amqpbus

import (
	"net"
	"sync"
)

// corkConn is the connection's socket, able to hold writes back while
// corked and send them as one when uncorked: amqp091 writes every method
// frame at once, and a request's frames (re-arming its reply consumer,
// then the request) would otherwise cost a write, and a read on the
// broker's side, each.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked int
	buf    []byte
	err    error // of a corked write: the connection is closed
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.corked > 0 {
		c.buf = append(c.buf, p...)
		if len(c.buf) >= corkMax {
			// The cork is the socket's: a long corked batch (events)
			// must not hold back for long the frames of others (an
			// answer, an ack) written meanwhile.
			c.flushLocked()
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// corkMax is the most a cork holds back before writing it out anyway.
const corkMax = 64 << 10

// flushLocked writes what is held back; c.mu is held. A failed write
// closes the connection (amqp091 took those writes for done: its reader
// sees the close).
func (c *corkConn) flushLocked() {
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > corkMax {
		c.buf = nil // a burst's buffer is not kept
	} else {
		c.buf = c.buf[:0]
	}
	if err != nil {
		c.err = err
		_ = c.Conn.Close()
	}
}

// cork holds the writes back until uncork.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked++
	c.mu.Unlock()
}

// uncork writes what was held back once the last cork is gone.
func (c *corkConn) uncork() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked--
	if c.corked > 0 || len(c.buf) == 0 || c.err != nil {
		return
	}
	c.flushLocked()
}

// asCork is the *corkConn in v (from Bus.wires), or nil.
func asCork(v any) *corkConn {
	c, _ := v.(*corkConn)
	return c
}
