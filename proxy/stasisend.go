package proxy

import (
	"sync"
	"time"

	"github.com/tidwall/gjson"
)

// stasisEndGrace is how long after StasisEnd the bindings of the channel
// are released. A call that entered Stasis from the dialplan leaves the
// application without a ChannelDestroyed (Asterisk unsubscribes the app
// from the channel at StasisEnd), so without this its bindings would
// wait for the sweep, up to a minute and a half. The grace lets the
// events Asterisk still sends (ChannelHangupRequest, ChannelDestroyed of
// a channel the app subscribed to, ChannelLeftBridge) reach the dialog;
// a channel back in Stasis meanwhile (moved between applications) keeps
// its bindings. A variable for tests.
var stasisEndGrace = 500 * time.Millisecond

// stasisEnds are the channels that left Stasis and whose bindings go when
// the grace ends.
type stasisEnds struct {
	mu     sync.Mutex
	timers map[string]*time.Timer
}

// followStasis runs for every fully decoded event (some dialog is bound).
func (s *Server) followStasis(h *eventHead, raw []byte) {
	switch h.Type {
	case "StasisEnd", "StasisStart", "ChannelDestroyed":
	default:
		return
	}
	id := gjson.GetBytes(raw, "channel.id").Str
	if id == "" {
		return
	}
	q := &s.stasisEnds
	switch h.Type {
	case "StasisEnd":
		k, gen := resKey{kindChannel, id}, s.dialogs.currentGen()
		q.mu.Lock()
		if q.timers == nil {
			q.timers = make(map[string]*time.Timer)
		}
		if t := q.timers[id]; t != nil {
			t.Stop()
		}
		q.timers[id] = time.AfterFunc(stasisEndGrace, func() {
			q.mu.Lock()
			q.remove(id)
			q.mu.Unlock()
			s.dialogs.releaseGen(k, gen)
		})
		q.mu.Unlock()
	case "StasisStart", "ChannelDestroyed":
		q.mu.Lock()
		if t := q.timers[id]; t != nil {
			t.Stop()
			q.remove(id)
		}
		q.mu.Unlock()
	}
}

// remove forgets the timer of id; q.mu must be held. The map goes when it
// empties (it is made again on the next StasisEnd): Go maps never shrink,
// and a burst of calls would leave it at its peak size.
func (q *stasisEnds) remove(id string) {
	delete(q.timers, id)
	if len(q.timers) == 0 {
		q.timers = nil
	}
}
