package client

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/ariproxy/ari-proxy/wire"
)

// servers remembers the servers that announced themselves: one entry per
// (node, application), forgotten ttl after its last announcement.
type servers struct {
	ttl time.Duration

	mu       sync.Mutex
	last     map[serverID]time.Time
	waiters  []waiter
	down     map[string]time.Time // node -> when it answered unavailable
	reported map[string]Member    // members as last reported to watchers
	watchers []*memberWatch
	// onLeft, when set, is told of each node that left, s.mu held.
	onLeft func(node string)
}

type serverID struct{ node, app string }

type waiter struct {
	app string // "" waits for any server
	ch  chan struct{}
}

func newServers(ttl time.Duration) *servers {
	return &servers{ttl: ttl, last: make(map[serverID]time.Time), down: make(map[string]time.Time), reported: make(map[string]Member)}
}

func decodeAnnouncement(data []byte) (wire.Announcement, error) {
	var a wire.Announcement
	if err := json.Unmarshal(data, &a); err != nil {
		return a, err
	}
	if a.Node == "" {
		return a, errors.New("announcement without node")
	}
	return a, nil
}

func (s *servers) seen(node, app string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last[serverID{node, app}] = time.Now()
	s.notifyLocked()
	kept := s.waiters[:0]
	for _, w := range s.waiters {
		if w.app == "" || w.app == app {
			close(w.ch)
			continue
		}
		kept = append(kept, w)
	}
	s.waiters = kept
}

// waitFirst returns a channel closed when a server of app (any server when
// app is "") is known.
func (s *servers) waitFirst(app string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if s.countLocked(app) > 0 {
		close(ch)
		return ch
	}
	s.waiters = append(s.waiters, waiter{app: app, ch: ch})
	return ch
}

func (s *servers) countLocked(app string) int {
	s.expireLocked()
	n := 0
	for id := range s.last {
		if app == "" || id.app == app {
			n++
		}
	}
	return n
}

func (s *servers) expireLocked() {
	now := time.Now()
	for id, t := range s.last {
		if now.Sub(t) > s.ttl {
			delete(s.last, id)
		}
	}
}

// count is how many answers a request to every server of app (every
// server when app is "") should get.
func (s *servers) count(app string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.countLocked(app)
}

// nodes lists the known nodes serving app (every node when app is "").
func (s *servers) nodes(app string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	var out []string
	for id := range s.last {
		if (app == "" || id.app == app) && !slices.Contains(out, id.node) {
			out = append(out, id.node)
		}
	}
	slices.Sort(out)
	return out
}

// forgetSilent forgets the servers of app (every application when app is
// "") whose node is not in answered and that have not announced since
// since: a request sent at since to every server timed out waiting for
// them. A server that announced meanwhile is alive and kept. It returns
// the nodes forgotten.
func (s *servers) forgetSilent(app string, answered map[string]bool, since time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, t := range s.last {
		if (app != "" && id.app != app) || answered[id.node] || t.After(since) {
			continue
		}
		delete(s.last, id)
		if !slices.Contains(out, id.node) {
			out = append(out, id.node)
		}
	}
	slices.Sort(out)
	if len(out) > 0 {
		s.notifyLocked()
	}
	return out
}

// serves reports whether node's server for app is known and available: a
// request for app sent to node alone should be answered.
func (s *servers) serves(node, app string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.last[serverID{node, app}]
	return ok && time.Since(t) <= s.ttl && !s.down[node].After(t)
}

// gone forgets node's server for app: a request to it found nobody
// listening on its subject.
func (s *servers) gone(node, app string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.last[serverID{node, app}]; !ok {
		return
	}
	delete(s.last, serverID{node, app})
	s.notifyLocked()
}
