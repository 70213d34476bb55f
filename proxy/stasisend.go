package proxy

import (
	"sync"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
)

// stasisEndCheckDelay is how long after a bound channel's StasisEnd the
// server asks Asterisk whether it still exists. A channel that hangs up
// in Stasis ends with StasisEnd, and the application gets no
// ChannelDestroyed (the inbound calls of the transcripts): without this
// check its bindings would wait for the janitor's sweep, a minute or more,
// with thousands of calls ending that is thousands of bindings. One list
// call covers every channel that left Stasis meanwhile. A variable for
// tests.
var stasisEndCheckDelay = time.Second

// leftStasis collects the bound channels that left Stasis since the last
// check, each with the binding generation current then: bindings made
// after (the channel re-entered Stasis and a request bound it again) are
// spared.
type leftStasis struct {
	mu      sync.Mutex
	ids     map[string]uint64
	pending bool
}

// channelLeft notes that channel id, bound to a dialog, left Stasis, and
// schedules a check unless one is pending.
func (s *Server) channelLeft(id string) {
	if !s.dialogs.bound(resKey{kindChannel, id}) {
		return
	}
	l := &s.left
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil {
		l.ids = make(map[string]uint64)
	}
	l.ids[id] = s.dialogs.currentGen()
	if !l.pending {
		l.pending = true
		time.AfterFunc(stasisEndCheckDelay, s.checkLeft)
	}
}

// checkLeft releases the bindings of the channels that left Stasis and
// that Asterisk no longer lists.
func (s *Server) checkLeft() {
	l := &s.left
	l.mu.Lock()
	ids := l.ids
	l.ids, l.pending = nil, false
	l.mu.Unlock()
	if len(ids) == 0 || s.runCtx.Err() != nil {
		return
	}
	present, err := s.listIDs(s.runCtx, ari.OpChannelsList.Op())
	if err != nil {
		s.log.Debug("checking channels that left Stasis", "err", err)
		return // the janitor's sweep will
	}
	n := 0
	for id, gen := range ids {
		if !present[id] {
			s.dialogs.releaseGen(resKey{kindChannel, id}, gen)
			n++
		}
	}
	if n > 0 {
		s.log.Debug("released bindings of channels gone after StasisEnd", "count", n)
	}
}

// bound reports whether k has a binding.
func (t *dialogTable) bound(k resKey) bool {
	if t.empty() {
		return false
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byRes[k]) > 0
}
