package arisim

import (
	"encoding/json"
	"slices"
	"strings"
)

// The /applications resource (res/ari/resource_applications.c) and the
// applications themselves: registration by a WebSocket, subscriptions and
// event filters (res/stasis/app.c).

// app is a Stasis application: registered while a WebSocket holds it.
type app struct {
	name         string
	conn         *wsConn
	subscribeAll bool
	seq          uint64 // registration order

	chans      map[string]int // channel id -> interest count
	chanOrder  []string
	bridges    map[string]int
	bridgeOrd  []string
	devices    map[string]int
	deviceOrd  []string
	allowed    []json.RawMessage
	disallowed []json.RawMessage
}

func newApp(name string) *app {
	return &app{name: name, chans: map[string]int{}, bridges: map[string]int{}, devices: map[string]int{}}
}

func (a *app) wants(e *event) bool {
	for _, id := range e.chans {
		if a.chans[id] > 0 {
			return true
		}
	}
	for _, id := range e.bridges {
		if a.bridges[id] > 0 {
			return true
		}
	}
	return e.device != "" && a.devices[e.device] > 0
}

// allows applies the application's event filter, by event type only as
// Asterisk does.
func (a *app) allows(typ string) bool {
	match := func(list []json.RawMessage) bool {
		for _, f := range list {
			var m struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(f, &m) == nil && m.Type == typ {
				return true
			}
		}
		return false
	}
	if len(a.disallowed) > 0 && match(a.disallowed) {
		return false
	}
	return len(a.allowed) == 0 || match(a.allowed)
}

func addInterest(m map[string]int, order *[]string, id string) {
	if m[id] == 0 && !slices.Contains(*order, id) {
		*order = append(*order, id)
	}
	m[id]++
}

func dropInterest(m map[string]int, order *[]string, id string, all bool) {
	if m[id] == 0 {
		return
	}
	m[id]--
	if all || m[id] <= 0 {
		delete(m, id)
		*order = slices.DeleteFunc(*order, func(x string) bool { return x == id })
	}
}

// subscribeChannel adds an application's interest in a channel; a no-op
// for an application that does not exist, as in Asterisk.
func (s *Sim) subscribeChannel(appName, id string) {
	if a := s.state.apps[appName]; a != nil {
		addInterest(a.chans, &a.chanOrder, id)
	}
}

func (s *Sim) unsubscribeChannel(appName, id string) {
	if a := s.state.apps[appName]; a != nil {
		dropInterest(a.chans, &a.chanOrder, id, false)
		s.reapApp(a)
	}
}

func (s *Sim) subscribeBridge(appName, id string) {
	if a := s.state.apps[appName]; a != nil {
		addInterest(a.bridges, &a.bridgeOrd, id)
	}
}

func (s *Sim) unsubscribeBridge(appName, id string) {
	if a := s.state.apps[appName]; a != nil {
		dropInterest(a.bridges, &a.bridgeOrd, id, false)
		s.reapApp(a)
	}
}

// forgetChannel drops every subscription to a destroyed channel.
func (s *Sim) forgetChannel(id string) {
	for _, a := range s.state.apps {
		dropInterest(a.chans, &a.chanOrder, id, true)
		s.reapApp(a)
	}
}

func (s *Sim) forgetBridge(id string) {
	for _, a := range s.state.apps {
		dropInterest(a.bridges, &a.bridgeOrd, id, true)
		s.reapApp(a)
	}
}

// reapApp removes an application that no WebSocket holds and nothing
// keeps alive any more (Asterisk's app_is_finished).
func (s *Sim) reapApp(a *app) {
	if a.conn != nil || len(a.chans) > 0 || len(a.bridges) > 0 {
		return
	}
	for _, c := range s.state.channels {
		if c.stasis != nil && c.stasis.app == a.name {
			return
		}
	}
	delete(s.state.apps, a.name)
}

// appsSorted lists the applications in registration order.
func (s *Sim) appsSorted() []*app {
	list := make([]*app, 0, len(s.state.apps))
	for _, a := range s.state.apps {
		list = append(list, a)
	}
	slices.SortFunc(list, func(x, y *app) int {
		if x.seq < y.seq {
			return -1
		}
		if x.seq > y.seq {
			return 1
		}
		return strings.Compare(x.name, y.name)
	})
	return list
}

// register makes conn the holder of application name. A previous holder
// gets ApplicationReplaced and nothing for that application afterwards.
func (s *Sim) register(name string, conn *wsConn, subscribeAll bool) {
	a := s.state.apps[name]
	if a == nil {
		a = newApp(name)
		s.state.appSeq++
		a.seq = s.state.appSeq
		s.state.apps[name] = a
	}
	if old := a.conn; old != nil && old != conn {
		msg := newObj().str("type", "ApplicationReplaced").str("timestamp", stamp(now())).
			str("application", name).str("asterisk_id", s.eid).done()
		old.enqueue(msg)
		old.removeApp(name)
	}
	a.conn = conn
	a.subscribeAll = subscribeAll
}

// unregister deactivates the applications conn still holds.
func (s *Sim) unregister(conn *wsConn) {
	for _, name := range conn.appNames() {
		if a := s.state.apps[name]; a != nil && a.conn == conn {
			a.conn = nil
			a.subscribeAll = false
			s.reapApp(a)
		}
	}
}

type applicationJSON struct {
	Name             string            `json:"name"`
	ChannelIDs       []string          `json:"channel_ids"`
	BridgeIDs        []string          `json:"bridge_ids"`
	EndpointIDs      []string          `json:"endpoint_ids"`
	DeviceNames      []string          `json:"device_names"`
	EventsAllowed    []json.RawMessage `json:"events_allowed"`
	EventsDisallowed []json.RawMessage `json:"events_disallowed"`
}

func (s *Sim) appBody(a *app) applicationJSON {
	j := applicationJSON{Name: a.name, ChannelIDs: slices.Clone(a.chanOrder), BridgeIDs: slices.Clone(a.bridgeOrd),
		EndpointIDs: []string{}, DeviceNames: slices.Clone(a.deviceOrd),
		EventsAllowed: slices.Clone(a.allowed), EventsDisallowed: slices.Clone(a.disallowed)}
	if j.ChannelIDs == nil {
		j.ChannelIDs = []string{}
	}
	if j.BridgeIDs == nil {
		j.BridgeIDs = []string{}
	}
	if j.DeviceNames == nil {
		j.DeviceNames = []string{}
	}
	if j.EventsAllowed == nil {
		j.EventsAllowed = []json.RawMessage{}
	}
	if j.EventsDisallowed == nil {
		j.EventsDisallowed = []json.RawMessage{}
	}
	return j
}

func (s *Sim) sortedAppNames() []string {
	names := make([]string, 0, len(s.state.apps))
	for n := range s.state.apps {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (s api) ApplicationsList(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []applicationJSON{}
	for _, n := range s.sortedAppNames() {
		out = append(out, s.appBody(s.state.apps[n]))
	}
	return okJSON(out)
}

func (s api) ApplicationsGet(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.state.apps[r.str("applicationName")]
	if a == nil {
		return fail(404, "Application not found")
	}
	return okJSON(s.appBody(a))
}

// eventSource is a parsed event source URI (channel:, bridge:, endpoint:,
// deviceState:).
type eventSource struct{ scheme, id string }

func parseSources(list []string) ([]eventSource, bool) {
	var out []eventSource
	for _, src := range list {
		scheme, id, ok := strings.Cut(src, ":")
		switch {
		case !ok:
			return nil, false
		case scheme == "channel", scheme == "bridge", scheme == "endpoint", scheme == "deviceState":
			out = append(out, eventSource{scheme, id})
		default:
			return nil, false
		}
	}
	return out, true
}

func (s *Sim) sourceExists(src eventSource) bool {
	switch src.scheme {
	case "channel":
		return s.state.channels[src.id] != nil
	case "bridge":
		return s.state.bridges[src.id] != nil
	case "endpoint":
		return false // no endpoints: no SIP stack
	case "deviceState":
		return src.id != ""
	}
	return false
}

// interest is the application's interest counts and their order for the
// sources of one scheme; nil for a scheme it cannot subscribe to.
func (a *app) interest(scheme string) (map[string]int, *[]string) {
	switch scheme {
	case "channel":
		return a.chans, &a.chanOrder
	case "bridge":
		return a.bridges, &a.bridgeOrd
	case "deviceState":
		return a.devices, &a.deviceOrd
	}
	return nil, nil
}

// subscription reads the application of a (un)subscribe request and its
// event sources, or the error Asterisk answers before looking at any
// source. The caller holds s.mu.
func (s *Sim) subscription(r *req) (*app, []string, *resp) {
	list := r.list("eventSource")
	if len(list) == 0 {
		e := fail(400, "Missing parameter eventSource")
		return nil, nil, &e
	}
	a := s.state.apps[r.str("applicationName")]
	if a == nil {
		e := fail(404, "Application not found")
		return nil, nil, &e
	}
	return a, list, nil
}

// eachSource is app_handle_subscriptions: the sources are handled one by
// one, in order, each checked for its scheme (400) and then given to do,
// whose error ends the request. What was done for the sources before the
// failing one stays done, as in Asterisk.
func eachSource(uris []string, do func(src eventSource) *resp) *resp {
	for _, uri := range uris {
		srcs, ok := parseSources([]string{uri})
		if !ok {
			e := fail(400, "Invalid event source URI scheme")
			return &e
		}
		if e := do(srcs[0]); e != nil {
			return e
		}
	}
	return nil
}

func (s api) ApplicationsSubscribe(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, uris, e := s.subscription(r)
	if e != nil {
		return *e
	}
	// app_subscribe: the source must exist, then it is subscribed.
	e = eachSource(uris, func(src eventSource) *resp {
		if !s.sourceExists(src) {
			e := fail(422, "Event source does not exist")
			return &e
		}
		if m, order := a.interest(src.scheme); m != nil {
			addInterest(m, order, src.id)
		}
		return nil
	})
	if e != nil {
		return *e
	}
	return okJSON(s.appBody(a))
}

func (s api) ApplicationsUnsubscribe(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, uris, e := s.subscription(r)
	if e != nil {
		return *e
	}
	// app_unsubscribe: the source must be subscribed, then it is dropped.
	e = eachSource(uris, func(src eventSource) *resp {
		m, order := a.interest(src.scheme)
		if m[src.id] <= 0 {
			e := fail(422, "Event source was not subscribed to")
			return &e
		}
		dropInterest(m, order, src.id, false)
		return nil
	})
	if e != nil {
		return *e
	}
	return okJSON(s.appBody(a))
}

// hFilter is PUT /applications/{app}/eventFilter: the whole body is the
// filter; {} resets both lists, a missing member leaves its list as is.
func (s api) ApplicationsFilter(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.state.apps[r.str("applicationName")]
	if a == nil {
		return fail(404, "Application not found")
	}
	bad := fail(400, "Invalid format definition")
	set := func(member string) ([]json.RawMessage, bool, bool) {
		if r.rawObj == nil || r.body == nil || len(r.body) == 0 {
			if r.rawObj != nil && r.body == nil {
				return nil, false, false // not an object
			}
			return nil, true, true
		}
		raw, ok := r.body[member]
		if !ok {
			return nil, false, true
		}
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return nil, false, false
		}
		for _, f := range list {
			var m map[string]json.RawMessage
			var typ string
			if json.Unmarshal(f, &m) != nil || json.Unmarshal(m["type"], &typ) != nil || typ == "" {
				return nil, false, false
			}
		}
		if list == nil {
			list = []json.RawMessage{}
		}
		return list, true, true
	}
	allowed, setA, okA := set("allowed")
	if !okA {
		return bad
	}
	disallowed, setD, okD := set("disallowed")
	if !okD {
		return bad
	}
	if setA {
		a.allowed = compactAll(allowed)
	}
	if setD {
		a.disallowed = compactAll(disallowed)
	}
	return okJSON(s.appBody(a))
}

func compactAll(list []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(list))
	for _, f := range list {
		var v any
		_ = json.Unmarshal(f, &v)
		out = append(out, jsonOf(v))
	}
	return out
}
