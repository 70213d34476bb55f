package arisim

import (
	"net"
	"net/http"
	"time"
)

// DropWebSockets closes every events WebSocket abruptly, without a close
// handshake, as a crashed or restarted Asterisk would. The applications
// stay as they are (channels in Stasis remain) until clients reconnect.
func (s *Sim) DropWebSockets() {
	s.mu.Lock()
	conns := s.takeConnsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
}

// RefuseConnections refuses new HTTP and WebSocket connections for d:
// they are closed as soon as accepted. Idle keep-alive connections are
// closed too, so clients have to reconnect; requests arriving on other
// open connections are dropped without an answer.
func (s *Sim) RefuseConnections(d time.Duration) {
	s.refuseUntil.Store(time.Now().Add(d).UnixNano())
	s.srvMu.Lock()
	for c := range s.netConns {
		_ = c.Close()
	}
	s.srvMu.Unlock()
}

func (s *Sim) refusing() bool {
	return time.Now().UnixNano() < s.refuseUntil.Load()
}

// SetLatency delays every REST answer by d (0 removes the delay).
func (s *Sim) SetLatency(d time.Duration) {
	s.latency.Store(int64(d))
}

// Restart simulates an Asterisk restart: every channel, bridge, playback,
// recording, device state, variable and application is forgotten, every
// WebSocket dropped, and the entity id changes (an empty id keeps it).
func (s *Sim) Restart(newEntityID string) {
	s.mu.Lock()
	s.gen++
	s.stopTimersLocked()
	conns := s.takeConnsLocked()
	for _, c := range s.state.channels {
		for _, cmd := range c.ctl {
			cmd.failed = true
			close(cmd.done)
		}
		c.ctl = nil
		c.gone = true
		for _, f := range c.onGone {
			f()
		}
		c.onGone = nil
	}
	if newEntityID != "" {
		s.eid = newEntityID
	}
	s.state = s.newState()
	t := time.Now()
	s.startTime, s.reloadTime = t, t
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
}

// refusingListener closes connections accepted while refusing.
type refusingListener struct {
	net.Listener
	s *Sim
}

func (l *refusingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.s.refusing() {
			_ = c.Close()
			continue
		}
		return c, nil
	}
}

// trackConn follows the server's connections so RefuseConnections can
// close them.
func (s *Sim) trackConn(c net.Conn, st http.ConnState) {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	switch st {
	case http.StateNew, http.StateActive, http.StateIdle:
		s.netConns[c] = struct{}{}
	case http.StateHijacked, http.StateClosed:
		delete(s.netConns, c)
	}
}
