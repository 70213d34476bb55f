package client

import (
	"context"
	"slices"
	"time"
)

// Member is a proxy server the client knows from its announcements: one
// node (an Asterisk) and the applications it serves there.
type Member struct {
	Node         string    // Asterisk entity id
	Applications []string  // applications the node's server announced, sorted
	LastSeen     time.Time // last announcement
	// Available is false when the server has been silent for two thirds
	// of the server TTL (WithServerTTL; the client pings every third, so
	// it missed at least one answer) or answered that its Asterisk is
	// unavailable: requests to it are likely to fail until it announces
	// again. A member silent for the whole TTL leaves.
	Available bool
}

// MemberEventType says what happened to a member.
type MemberEventType int

// Member event types.
const (
	MemberJoined      MemberEventType = iota + 1 // first announcement (or the member is known when watching starts)
	MemberLeft                                   // silent for the server TTL, or did not answer a request and was forgotten
	MemberUnavailable                            // missed announcements or answered unavailable
	MemberAvailable                              // announced again after being unavailable
	MemberUpdated                                // its set of applications changed
)

// String names the event type ("joined", "left"...).
func (t MemberEventType) String() string {
	switch t {
	case MemberJoined:
		return "joined"
	case MemberLeft:
		return "left"
	case MemberUnavailable:
		return "unavailable"
	case MemberAvailable:
		return "available"
	case MemberUpdated:
		return "updated"
	}
	return "MemberEventType(?)"
}

// MemberEvent is a change of the cluster's membership.
type MemberEvent struct {
	Type   MemberEventType
	Member Member // the member after the change (for MemberLeft: as last known)
}

// memberWatchBuffer is how many membership events a slow watcher may
// fall behind before the client waits for it.
const memberWatchBuffer = 64

// Members lists the servers the client knows, whatever application they
// serve, sorted by node.
func (c *Client) Members() []Member { return c.core.servers.members() }

// WatchMembers delivers the changes of the cluster's membership: first a
// MemberJoined for each member already known, then every join, leave and
// change of availability, until ctx ends or the client closes (then the
// channel is closed). An application uses it to clean up after a node
// that is gone: its calls are lost with its Asterisk.
func (c *Client) WatchMembers(ctx context.Context) <-chan MemberEvent {
	ch := make(chan MemberEvent, memberWatchBuffer)
	w := &memberWatch{ch: ch, done: make(chan struct{})}
	snapshot := c.core.servers.watch(w)
	done := c.Done()
	go func() {
		defer close(ch)
		defer c.core.servers.unwatch(w)
		for _, m := range snapshot {
			select {
			case ch <- MemberEvent{Type: MemberJoined, Member: m}:
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
		for {
			select {
			case <-w.wake:
			case <-ctx.Done():
				return
			case <-done:
				return
			}
			for _, ev := range w.take() {
				select {
				case ch <- ev:
				case <-ctx.Done():
					return
				case <-done:
					return
				}
			}
		}
	}()
	return ch
}

// members builds the member list from the servers' entries; s.mu held.
func (s *servers) membersLocked(now time.Time) map[string]*Member {
	out := map[string]*Member{}
	for id, t := range s.last {
		m := out[id.node]
		if m == nil {
			m = &Member{Node: id.node}
			out[id.node] = m
		}
		m.Applications = append(m.Applications, id.app)
		if t.After(m.LastSeen) {
			m.LastSeen = t
		}
	}
	for node, m := range out {
		slices.Sort(m.Applications)
		m.Available = now.Sub(m.LastSeen) <= s.ttl*2/3 && !s.down[node].After(m.LastSeen)
	}
	return out
}

func (s *servers) members() []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	ms := s.membersLocked(time.Now())
	out := make([]Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.Node < b.Node:
			return -1
		case a.Node > b.Node:
			return 1
		}
		return 0
	})
	return out
}

// memberWatch queues the events of one WatchMembers without blocking the
// announcements' handler.
type memberWatch struct {
	ch   chan MemberEvent
	done chan struct{}
	wake chan struct{}

	queue []MemberEvent // guarded by servers.mu
	s     *servers
}

func (w *memberWatch) take() []MemberEvent {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	q := w.queue
	w.queue = nil
	return q
}

// watch registers w and returns the members known now.
func (s *servers) watch(w *memberWatch) []Member {
	w.s = s
	w.wake = make(chan struct{}, 1)
	s.mu.Lock()
	s.watchers = append(s.watchers, w)
	s.notifyLocked()
	s.mu.Unlock()
	return s.members()
}

func (s *servers) unwatch(w *memberWatch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchers = slices.DeleteFunc(s.watchers, func(x *memberWatch) bool { return x == w })
}

// markDown records that node answered that its Asterisk is unavailable.
func (s *servers) markDown(node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down[node] = time.Now()
	s.notifyLocked()
}

// check expires silent servers and reports the changes; the client runs
// it periodically.
func (s *servers) check() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	s.notifyLocked()
}

// notifyLocked compares the members with those last reported and queues
// the differences for the watchers; s.mu held.
func (s *servers) notifyLocked() {
	now := time.Now()
	cur := s.membersLocked(now)
	var evs []MemberEvent
	for node, m := range cur {
		p, ok := s.reported[node]
		switch {
		case !ok:
			evs = append(evs, MemberEvent{Type: MemberJoined, Member: *m})
			if !m.Available {
				evs = append(evs, MemberEvent{Type: MemberUnavailable, Member: *m})
			}
		case p.Available && !m.Available:
			evs = append(evs, MemberEvent{Type: MemberUnavailable, Member: *m})
		case !p.Available && m.Available:
			evs = append(evs, MemberEvent{Type: MemberAvailable, Member: *m})
		case !slices.Equal(p.Applications, m.Applications):
			evs = append(evs, MemberEvent{Type: MemberUpdated, Member: *m})
		}
	}
	for node, p := range s.reported {
		if _, ok := cur[node]; !ok {
			evs = append(evs, MemberEvent{Type: MemberLeft, Member: p})
			delete(s.down, node)
			if s.onLeft != nil {
				s.onLeft(node)
			}
		}
	}
	s.reported = make(map[string]Member, len(cur))
	for node, m := range cur {
		s.reported[node] = *m
	}
	if len(evs) == 0 {
		return
	}
	slices.SortStableFunc(evs, func(a, b MemberEvent) int {
		switch {
		case a.Member.Node < b.Member.Node:
			return -1
		case a.Member.Node > b.Member.Node:
			return 1
		}
		return 0
	})
	for _, w := range s.watchers {
		w.queue = append(w.queue, evs...)
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}
