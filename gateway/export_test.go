package gateway

import "time"

// SetWriteTimeout sets how long a WebSocket client may take to accept a
// batch of events, and returns the function restoring it.
func SetWriteTimeout(d time.Duration) (restore func()) {
	old := writeTimeout
	writeTimeout = d
	return func() { writeTimeout = old }
}

// WebSockets is how many events WebSockets of app g serves.
func (g *Gateway) WebSockets(app string) int {
	g.ev.mu.Lock()
	defer g.ev.mu.Unlock()
	if f := g.ev.feeds[app]; f != nil {
		return len(f.conns)
	}
	return 0
}
