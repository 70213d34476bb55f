package proxy

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/wire"
)

// knownSet is the set of resources the server has seen on its Asterisk:
// channels, bridges, playbacks and live recordings (the Created entities)
// named by a start event (wire.Entity.StartEvents) or by a request that
// succeeded here, until their end event. It answers probes
// (wire.Request.Probe): a request with a partial key, sent to every
// server, which only the servers that know the resource pass to
// Asterisk. The others answer unclaimed at once, so a client looking for
// a resource it has never seen costs one ARI call, not one per server.
//
// The set is a hint, never the truth: a resource missing from it (made
// before the server started, or while its WebSocket was down) is found
// by the client's second, ordinary round, and a stale one costs an ARI
// call answering 404. So it may forget: it is emptied when the WebSocket
// drops (end events may be missed) and when it reaches maxKnown.
type knownSet struct {
	mu   sync.Mutex
	m    map[resKey]struct{}
	peak int // most resources at once since m was made
}

// maxKnown bounds the set: far more than the live channels, bridges,
// playbacks and recordings of one Asterisk.
const maxKnown = 1 << 16

func newKnownSet() *knownSet { return &knownSet{m: make(map[resKey]struct{})} }

func (k *knownSet) add(r resKey) {
	if r.id == "" {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[r]; ok {
		return
	}
	if len(k.m) >= maxKnown {
		k.m, k.peak = make(map[resKey]struct{}), 0
	}
	// A copy: the id may point into an event or request buffer that the
	// set must not keep alive.
	k.m[resKey{r.kind, strings.Clone(r.id)}] = struct{}{}
	k.peak = max(k.peak, len(k.m))
}

func (k *knownSet) remove(r resKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, r)
	if len(k.m) == 0 && k.peak > shrinkAfter {
		k.m, k.peak = make(map[resKey]struct{}), 0 // Go maps never shrink
	}
}

func (k *knownSet) has(r resKey) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.m[r]
	return ok
}

func (k *knownSet) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

func (k *knownSet) clear() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m, k.peak = make(map[resKey]struct{}), 0
}

// knownEffect is what an event type does to the set.
type knownEffect uint8

const (
	knownNone  knownEffect = iota
	knownStart             // its Created resources exist here
	knownEnd               // its ended resource is gone
	knownLeave             // StasisEnd: the channel left the application
)

// knownEffects maps event types onto their effect, from the entity table.
var knownEffects = func() map[string]knownEffect {
	m := map[string]knownEffect{ari.TypeStasisEnd: knownLeave}
	for _, e := range wire.Entities() {
		if !e.Created {
			continue
		}
		for _, t := range e.StartEvents {
			m[t] = knownStart
		}
		for _, t := range e.EndEvents {
			m[t] = knownEnd
		}
	}
	return m
}()

// learnEvent updates the set from the event raw, whose head h has its
// top; resources are read here when h does not have them yet (read
// reports whether it did). Only start, end and StasisEnd events are
// looked into: the others cost a map lookup.
//
// A channel is forgotten at StasisEnd although it may live on in the
// dialplan: Asterisk stops sending the application its events then, so
// its ChannelDestroyed would never come and the entry would stay.
func (s *Server) learnEvent(h *eventHead, raw []byte, read bool) {
	eff := knownEffects[h.Type]
	if eff == knownNone {
		return
	}
	if !read {
		h.readResources(raw)
	}
	switch eff {
	case knownStart:
		for _, r := range h.refs {
			s.learnRef(r)
		}
	case knownEnd:
		if k, ok := h.destroyed(); ok {
			s.known.remove(k)
		}
	case knownLeave:
		for _, r := range h.refs {
			if r.Kind == kindChannel {
				s.known.remove(resKey{r.Kind, r.ID})
			}
		}
	}
}

// learnRef adds r to the set when it is a Created entity.
func (s *Server) learnRef(r wire.Ref) {
	if e := wire.EntityOf(r.Kind); e != nil && e.Created {
		s.known.add(resKey{r.Kind, r.ID})
	}
}

// unclaimed is the answer to req when it is a probe (on a subject every
// server of the application receives) about a resource this server has
// not seen: unclaimed, once per application answered, as any reply. It
// is nil when the request is to be served.
func (s *Server) unclaimed(r route, req *wire.Request, c *wire.Call) []*wire.Response {
	if !req.Probe || r.node || r.class == wire.ClassCreate {
		return nil
	}
	ref := c.Kind.Probed(c.Key)
	p := resKey{ref.Kind, ref.ID}
	if p.id == "" || s.known.has(p) {
		return nil
	}
	out := make([]*wire.Response, len(s.replyApps(r, c.Key)))
	for i := range out {
		out[i] = wire.NewErrorResponse(wire.CodeUnclaimed, 0, "unclaimed: "+p.kind+" "+p.id+" not seen here")
	}
	return out
}

// answerProbe answers m in the bus's delivery goroutine when it is a
// probe this server does not claim, and reports whether it did. Every
// server of the application gets each probe and all but one leave it
// unclaimed: handing those to a worker cost a goroutine wake-up each,
// more than the answer itself. Anything else (or anything unusual: too
// large, not serving, stopping, a bad request) goes the ordinary way,
// which answers it in full.
func (s *Server) answerProbe(r route, m bus.Msg) bool {
	start := time.Now()
	resps, kind := s.probeAnswer(r, m.Data)
	if resps == nil {
		return false
	}
	s.metrics.answered(string(r.class), kind, string(wire.CodeUnclaimed), time.Since(start))
	s.reply(m.Reply, resps)
	return true
}

var probeName = []byte(`"probe"`)

// probeAnswer is answerProbe's decision: the unclaimed answers to data
// and its kind's name, or nil.
func (s *Server) probeAnswer(r route, data []byte) ([]*wire.Response, string) {
	// The look for the member's name is only a filter: the decode decides
	// (a name written with escapes, missed here, is answered by process).
	if r.node || r.class == wire.ClassCreate || len(data) > s.maxBytes || !s.serving.Load() || s.isStopping() ||
		!bytes.Contains(data, probeName) {
		return nil, ""
	}
	req, err := wire.DecodeRequest(data)
	if err != nil {
		return nil, ""
	}
	c, err := wire.Decode(req, s.defaultApp(r))
	if err != nil || c.Kind.Unbind {
		return nil, ""
	}
	return s.unclaimed(r, req, c), c.Kind.Name
}

// learnCall updates the set after an ARI call of c answered status: on
// success the resource it created, and the one a read found, exist here
// (the servers that did not know it learn it from the second round of a
// probe); on 404 the one it acted on does not.
//
// The resource a command acted on is not learned: the command may have
// sent it away (continue, move, hang-up), and its StasisEnd or end event
// may have been handled before this answer came back, which would leave
// a stale entry.
func (s *Server) learnCall(c *wire.Call, status int) {
	switch {
	case status/100 == 2:
		s.learnRef(c.Created)
		if c.Op.Method == http.MethodGet {
			s.learnRef(c.Touched)
		}
	case status == 404:
		// What the key names is not here, whatever the kind (a create
		// class kind acting on a channel included).
		if r := c.Touched; r.ID != "" {
			s.known.remove(resKey{r.Kind, r.ID})
		}
	}
}
