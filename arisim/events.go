package arisim

import "encoding/json"

// Events and the /events resource (res/ari/resource_events.c): how each
// event is built and delivered to the applications that want it, and user
// events.

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

// evBridgeChannel builds ChannelEnteredBridge / ChannelLeftBridge. They
// are published on the bridge's topic only (ast_bridge_publish_enter,
// ast_bridge_publish_leave in main/stasis_bridges.c), so only the
// applications subscribed to the bridge get them, not those subscribed to
// the channel alone.
func (s *Sim) evBridgeChannel(typ string, b *bridge, c *channel) *event {
	o := evb(typ).val("bridge", bridgeBody(b)).val("channel", channelBody(c))
	return &event{typ: typ, body: s.finish(o), bridges: []string{b.id}}
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

func (s api) EventsUserEvent(r *req) resp {
	appName := r.str("application")
	if appName == "" {
		return fail(400, "Missing parameter application")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.state.apps[appName]
	if a == nil || a.conn == nil {
		return fail(404, "Application not found")
	}
	// stasis_app_user_event takes channel:, bridge: and endpoint: sources
	// (a deviceState: one is a bad scheme here), one by one.
	var srcs []eventSource
	e := eachSource(r.list("source"), func(src eventSource) *resp {
		if src.scheme == "deviceState" {
			e := fail(400, "Invalid event source URI scheme")
			return &e
		}
		if !s.sourceExists(src) {
			e := fail(422, "Event source was not found")
			return &e
		}
		srcs = append(srcs, src)
		return nil
	})
	if e != nil {
		return *e
	}
	userevent := newObj()
	if raw, ok := r.body["variables"]; ok && string(raw) != "null" {
		members, isObj := orderedMembers(raw)
		if !isObj {
			return fail(400, "Invalid userevnet data")
		}
		for _, m := range members {
			userevent.raw(m.k, compactRaw(m.v))
		}
	}
	name := r.str("eventName")
	userevent.str("eventname", name)
	o := evb("ChannelUserevent").str("eventname", name).raw("userevent", userevent.done())
	for _, src := range srcs {
		switch src.scheme {
		case "channel":
			o.val("channel", channelBody(s.state.channels[src.id]))
		case "bridge":
			o.val("bridge", bridgeBody(s.state.bridges[src.id]))
		}
	}
	s.emit(&event{typ: "ChannelUserevent", body: s.finish(o), app: appName})
	return noContent()
}

func compactRaw(v json.RawMessage) []byte {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return v
	}
	return jsonOf(x)
}

// EventsClaimChannel is ast_ari_events_claim_channel: both parameters are
// required, then stasis_app_claim_channel finds no channel in the
// broadcast state (the simulator never broadcasts a call).
func (s api) EventsClaimChannel(r *req) resp {
	if r.str("channelId") == "" {
		return fail(400, "channelId parameter is required")
	}
	if r.str("application") == "" {
		return fail(400, "application parameter is required")
	}
	return fail(404, "Channel not found or not in broadcast state")
}
