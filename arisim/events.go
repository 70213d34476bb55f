package arisim

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// event is one ARI event, built once and delivered to every application
// that should get it.
type event struct {
	typ string
	// body is the event without "application"; Asterisk sets the
	// application last, after asterisk_id.
	body []byte
	// perApp builds the whole event for one application, for the events
	// that carry "application" before asterisk_id (DeviceStateChanged).
	perApp func(app string) []byte

	// Routing. app sends to that application only (StasisStart/End, user
	// events). Otherwise every application subscribed to one of chans,
	// bridges or device gets it, and subscribeAll applications too.
	app     string
	chans   []string
	bridges []string
	device  string
}

// evb starts an event body with "type" and "timestamp".
func evb(typ string) *obj {
	return newObj().str("type", typ).str("timestamp", stamp(now()))
}

// finish appends asterisk_id, which Asterisk adds to every stasis event
// before the application.
func (s *Sim) finish(o *obj) []byte { return o.str("asterisk_id", s.eid).done() }

// chanEvent builds an event about channel c whose members before
// "channel" are written by fill (after type and timestamp).
func (s *Sim) chanEvent(typ string, c *channel, fill func(*obj)) *event {
	o := evb(typ)
	if fill != nil {
		fill(o)
	}
	o.val("channel", channelBody(c))
	return &event{typ: typ, body: s.finish(o), chans: []string{c.id}}
}

func (s *Sim) evChannelCreated(c *channel) *event { return s.chanEvent("ChannelCreated", c, nil) }
func (s *Sim) evChannelStateChange(c *channel) *event {
	return s.chanEvent("ChannelStateChange", c, nil)
}
func (s *Sim) evChannelConnectedLine(c *channel) *event {
	return s.chanEvent("ChannelConnectedLine", c, nil)
}
func (s *Sim) evStasisEndBody(c *channel, app string) *event {
	e := s.chanEvent("StasisEnd", c, nil)
	e.app, e.chans = app, nil
	return e
}

func (s *Sim) evChannelDialplan(c *channel) *event {
	return s.chanEvent("ChannelDialplan", c, func(o *obj) {
		o.str("dialplan_app", c.appName).str("dialplan_app_data", c.appData)
	})
}

func (s *Sim) evChannelCallerID(c *channel) *event {
	return s.chanEvent("ChannelCallerId", c, func(o *obj) {
		o.num("caller_presentation", 0).str("caller_presentation_txt", "Presentation Allowed, Not Screened")
	})
}

// evChannelVarset: Asterisk writes the variable blob first, then type,
// timestamp and channel.
func (s *Sim) evChannelVarset(c *channel, name, value string) *event {
	o := newObj().str("variable", name).str("value", value).
		str("type", "ChannelVarset").str("timestamp", stamp(now())).val("channel", channelBody(c))
	return &event{typ: "ChannelVarset", body: s.finish(o), chans: []string{c.id}}
}

// evHangupRequest: the blob (cause, soft) comes first, like ChannelVarset.
func (s *Sim) evHangupRequest(c *channel, cause int, soft bool) *event {
	o := newObj().num("cause", cause)
	if soft {
		o.boolean("soft", true)
	}
	o.str("type", "ChannelHangupRequest").str("timestamp", stamp(now())).val("channel", channelBody(c))
	return &event{typ: "ChannelHangupRequest", body: s.finish(o), chans: []string{c.id}}
}

func (s *Sim) evChannelDestroyed(c *channel) *event {
	return s.chanEvent("ChannelDestroyed", c, func(o *obj) {
		o.num("cause", c.hangupCause).str("cause_txt", causeText(c.hangupCause))
	})
}

func (s *Sim) evStasisStart(c *channel, app string, args []string) *event {
	if args == nil {
		args = []string{}
	}
	e := s.chanEvent("StasisStart", c, func(o *obj) { o.val("args", args) })
	e.app, e.chans = app, nil
	return e
}

func (s *Sim) evDtmf(c *channel, digit string, durMS int) *event {
	return s.chanEvent("ChannelDtmfReceived", c, func(o *obj) {
		o.str("digit", digit).num("duration_ms", durMS)
	})
}

// evDial: caller (when there is one) comes before peer.
func (s *Sim) evDial(caller, peer *channel, status, dialstring string) *event {
	o := evb("Dial").str("dialstatus", status).str("forward", "").str("dialstring", dialstring)
	chans := []string{peer.id}
	if caller != nil {
		o.val("caller", channelBody(caller))
		chans = append(chans, caller.id)
	}
	o.val("peer", channelBody(peer))
	return &event{typ: "Dial", body: s.finish(o), chans: chans}
}

func (s *Sim) evApplicationMoveFailed(c *channel, app, dest string, args []string) *event {
	if args == nil {
		args = []string{}
	}
	o := evb("ApplicationMoveFailed").val("channel", channelBody(c)).str("destination", dest).val("args", args)
	return &event{typ: "ApplicationMoveFailed", body: s.finish(o), app: app}
}

func (s *Sim) evBridge(typ string, b *bridge) *event {
	o := evb(typ).val("bridge", bridgeBody(b))
	return &event{typ: typ, body: s.finish(o), bridges: []string{b.id}}
}

func (s *Sim) evBridgeChannel(typ string, b *bridge, c *channel) *event {
	o := evb(typ).val("bridge", bridgeBody(b)).val("channel", channelBody(c))
	return &event{typ: typ, body: s.finish(o), bridges: []string{b.id}, chans: []string{c.id}}
}

func (s *Sim) evVideoSourceChanged(b *bridge, old string) *event {
	o := evb("BridgeVideoSourceChanged").val("bridge", bridgeBody(b))
	if old != "" {
		o.str("old_video_source_id", old)
	}
	return &event{typ: "BridgeVideoSourceChanged", body: s.finish(o), bridges: []string{b.id}}
}

// evPlayback builds PlaybackStarted/Continuing/Finished; it reaches the
// applications subscribed to the playback's channel or bridge.
func (s *Sim) evPlayback(typ string, p *playback) *event {
	o := evb(typ).val("playback", playbackBody(p))
	e := &event{typ: typ, body: s.finish(o)}
	p.route(e)
	return e
}

func (s *Sim) evRecording(typ string, r *liveRecording) *event {
	o := evb(typ).raw("recording", liveRecordingBody(r))
	e := &event{typ: typ, body: s.finish(o)}
	r.route(e)
	return e
}

func (s *Sim) evDeviceState(name, state string) *event {
	ts := stamp(now())
	eid := s.eid
	return &event{typ: "DeviceStateChanged", device: name, perApp: func(app string) []byte {
		return newObj().str("type", "DeviceStateChanged").str("application", app).str("timestamp", ts).
			val("device_state", deviceStateJSON{name, state}).str("asterisk_id", eid).done()
	}}
}

// emit delivers e to the applications that should get it. The caller
// holds s.mu; delivery never blocks.
func (s *Sim) emit(e *event) {
	if e == nil {
		return
	}
	if e.app != "" {
		if a := s.state.apps[e.app]; a != nil {
			s.deliver(a, e)
		}
		return
	}
	for _, a := range s.appsSorted() {
		if a.conn == nil {
			continue
		}
		if a.subscribeAll || a.wants(e) {
			s.deliver(a, e)
		}
	}
}

func (s *Sim) deliver(a *app, e *event) {
	if a.conn == nil || !a.allows(e.typ) {
		return
	}
	var msg []byte
	if e.perApp != nil {
		msg = e.perApp(a.name)
	} else {
		msg = make([]byte, 0, len(e.body)+len(a.name)+20)
		msg = append(msg, e.body[:len(e.body)-1]...)
		msg = append(msg, `,"application":`...)
		msg = append(msg, jsonString(a.name)...)
		msg = append(msg, '}')
	}
	a.conn.enqueue(msg)
}

// --- applications and subscriptions ---

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

// --- WebSocket connections ---

// wsConn is one events WebSocket. Events wait in an in-memory queue that
// a dedicated goroutine writes, so the simulator never blocks on a client.
type wsConn struct {
	s     *Sim
	ws    *websocket.Conn
	limit int

	mu     sync.Mutex
	cond   *sync.Cond
	queue  [][]byte
	apps   []string
	closed bool
	done   chan struct{}
}

func (c *wsConn) appNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.apps)
}

func (c *wsConn) removeApp(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.apps = slices.DeleteFunc(c.apps, func(x string) bool { return x == name })
}

// enqueue queues msg without blocking. A client that lets more than the
// limit pile up is disconnected, like Asterisk drops a stuck WebSocket.
func (c *wsConn) enqueue(msg []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if len(c.queue) >= c.limit {
		// The writer sees closed and drops the connection.
		c.closed = true
		close(c.done)
		c.queue = nil
		c.cond.Broadcast()
		return
	}
	c.queue = append(c.queue, msg)
	c.cond.Broadcast()
}

// enqueueWait queues msg once fewer than high messages wait, so a
// producer runs at the client's pace. It reports false once the
// connection is closed.
func (c *wsConn) enqueueWait(msg []byte, high int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.closed && len(c.queue) >= high {
		c.cond.Wait()
	}
	if c.closed {
		return false
	}
	c.queue = append(c.queue, msg)
	c.cond.Broadcast()
	return true
}

func (c *wsConn) writer() {
	defer c.s.wg.Done()
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed {
			c.cond.Wait()
		}
		if c.closed {
			c.mu.Unlock()
			_ = c.ws.CloseNow()
			return
		}
		batch := c.queue
		c.queue = nil
		c.cond.Broadcast()
		c.mu.Unlock()
		for _, m := range batch {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := c.ws.Write(ctx, websocket.MessageText, m)
			cancel()
			if err != nil {
				c.shutdown()
				return
			}
		}
	}
}

// shutdown closes the connection abruptly (no close handshake wait).
func (c *wsConn) shutdown() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.done)
		c.cond.Broadcast()
	}
	c.mu.Unlock()
	_ = c.ws.CloseNow()
}

func (s *Sim) takeConnsLocked() []*wsConn {
	list := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		list = append(list, c)
		s.unregister(c)
	}
	clear(s.conns)
	return list
}

// serveEvents upgrades an authenticated GET /ari/events.
func (s *Sim) serveEvents(w http.ResponseWriter, r *http.Request) {
	var names []string
	appParam := r.URL.Query().Get("app")
	if !r.URL.Query().Has("app") {
		appParam = ""
	}
	for _, n := range strings.Split(appParam, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if appParam == "" {
		httpError(w, http.StatusBadRequest, "Bad Request", "HTTP request is missing param: [app]")
		return
	}
	if len(names) == 0 || slices.ContainsFunc(names, func(n string) bool { return len(n) > 80 }) {
		httpError(w, http.StatusBadRequest, "Bad Request", "Invalid application provided in param [app].")
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		httpError(w, http.StatusUpgradeRequired, "Upgrade Required", "")
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	subAll := astTrue(r.URL.Query().Get("subscribeAll"))
	conn := &wsConn{s: s, ws: ws, limit: s.qlimit, done: make(chan struct{})}
	conn.cond = sync.NewCond(&conn.mu)

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.CloseNow()
		return
	}
	s.conns[conn] = struct{}{}
	conn.apps = slices.Compact(slices.Sorted(slices.Values(names)))
	for _, n := range conn.apps {
		s.register(n, conn, subAll)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go conn.writer()

	// Asterisk reads and ignores what the client sends until it closes.
	for {
		if _, _, err := ws.Read(context.Background()); err != nil {
			break
		}
	}
	conn.shutdown()
	s.mu.Lock()
	if _, ok := s.conns[conn]; ok {
		delete(s.conns, conn)
		s.unregister(conn)
	}
	s.mu.Unlock()
}
