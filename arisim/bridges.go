package arisim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// bridge is a Stasis bridge (stasis_app_bridge_create).
type bridge struct {
	id, name    string
	bridgeType  string // mixing or holding
	sfu         bool
	videoMode   string // talker, single, sfu, none
	videoSource string
	created     time.Time
	seq         uint64

	members []*channel // channels the ARI shows, in join order
	// internal are the Announcer/Recorder channels in the bridge: they
	// count for BRIDGEPEER and the mixing technology but are invisible.
	internal []*channel
	moh      *channel // Announcer/ARI_MOH-...;2 while music plays
	player   *channel // Announcer/ARI-...;2 while playbacks play
	vars     map[string]string
	gone     bool
}

// technology follows smart bridging: two parties mix in simple_bridge,
// more need softmix.
func (b *bridge) technology() string {
	switch {
	case b.bridgeType == "holding":
		return "holding_bridge"
	case b.sfu:
		return "softmix"
	case len(b.members)+len(b.internal) > 2:
		return "softmix"
	}
	return "simple_bridge"
}

// parseBridgeType reads the comma separated type of POST /bridges;
// ok is false for what stasis_app_bridge_create rejects.
func parseBridgeType(t string) (kind string, sfu bool, video string, ok bool) {
	kind, video = "", "talker"
	for _, part := range strings.Split(t, ",") {
		switch strings.TrimSpace(part) {
		case "":
		case "mixing":
			if kind == "holding" {
				return "", false, "", false
			}
			kind = "mixing"
		case "holding":
			if kind == "mixing" {
				return "", false, "", false
			}
			kind = "holding"
		case "dtmf_events", "proxy_media", "sdp_label":
		case "video_sfu":
			sfu, video = true, "sfu"
		case "video_single":
			video = "single"
		default:
			return "", false, "", false
		}
	}
	if kind == "" {
		kind = "mixing"
	}
	return kind, sfu, video, true
}

// onBridge is the opening every operation on one bridge shares: the state
// locked and the request's bridge found (404 "Bridge not found" otherwise).
func (s api) onBridge(r *req, h func(r *req, b *bridge) resp) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, e := s.findBridge(r.str("bridgeId"))
	if e != nil {
		return *e
	}
	return h(r, b)
}

// findBridge is find_bridge.
func (s *Sim) findBridge(id string) (*bridge, *resp) {
	b := s.state.bridges[id]
	if b == nil {
		r := fail(404, "Bridge not found")
		return nil, &r
	}
	return b, nil
}

// findChannelControl is the bridges flavour of find_control: 400 and 422.
func (s *Sim) findChannelControl(id string) (*channel, *resp) {
	c := s.state.channels[id]
	if c == nil {
		r := fail(400, "Channel not found")
		return nil, &r
	}
	if c.stasis == nil {
		r := fail(422, "Channel not in Stasis application")
		return nil, &r
	}
	return c, nil
}

func (s api) BridgesList(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*bridge, 0, len(s.state.bridges))
	for _, b := range s.state.bridges {
		list = append(list, b)
	}
	sortBy(list, func(b *bridge) uint64 { return b.seq })
	out := make([]bridgeJSON, 0, len(list))
	for _, b := range list {
		out = append(out, bridgeBody(b))
	}
	return okJSON(out)
}

func (s api) BridgesGet(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.state.bridges[r.str("bridgeId")]
	if b == nil {
		return fail(404, "Bridge not found")
	}
	return okJSON(bridgeBody(b))
}

func (s api) BridgesCreate(r *req) resp { return s.hBridgeCreate(r) }

func (s api) BridgesCreateWithId(r *req) resp { return s.hBridgeCreate(r) }

func (s api) hBridgeCreate(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.str("bridgeId")
	if id != "" && s.state.bridges[id] != nil {
		return fail(409, "Bridge with id '%s' already exists", id)
	}
	withID := r.op.Nickname == "createWithId"
	kind, sfu, video, ok := parseBridgeType(r.str("type"))
	if !ok {
		if withID {
			return fail(500, "Unable to create bridge")
		}
		shown := id
		if shown == "" {
			shown = "(null)"
		}
		return fail(500, "Unable to create bridge. Possible duplicate bridge id '%s'", shown)
	}
	if id == "" {
		id = uuid()
	}
	s.state.bridgeSeq++
	b := &bridge{id: id, name: r.str("name"), bridgeType: kind, sfu: sfu, videoMode: video,
		created: now(), seq: s.state.bridgeSeq, vars: map[string]string{}}
	s.state.bridges[id] = b
	s.emit(s.evBridge("BridgeCreated", b))
	// POST /bridges reads the whole body as the variables (createWithId
	// reads its "variables" member).
	var vars json.RawMessage
	if withID {
		vars = r.body["variables"]
	} else if r.body != nil {
		vars = r.rawObj
	}
	if vars != nil {
		members, isObj := orderedMembers(vars)
		if isObj {
			list, e := variableValues(members)
			if e != nil {
				return *e
			}
			for _, v := range list {
				b.vars[strings.TrimSpace(v.k)] = v.v
			}
		}
	}
	return okJSON(bridgeBody(b))
}

func (s api) BridgesDestroy(r *req) resp { return s.onBridge(r, s.hBridgeDestroy) }

func (s api) hBridgeDestroy(r *req, b *bridge) resp {
	// The channels are pulled out now (BRIDGEPEER cleared); their
	// ChannelLeftBridge reaches the applications after the answer, and
	// BridgeDestroyed only those still subscribed to the bridge.
	members := slices.Clone(b.members)
	for _, c := range members {
		s.setVar(c, "BRIDGEPEER", "")
	}
	s.dropInternal(b)
	delete(s.state.bridges, b.id)
	b.gone = true
	res := noContent()
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range members {
			if c.bridge == b {
				s.bridgeLeave(b, c, false)
			}
		}
		s.emit(s.evBridge("BridgeDestroyed", b))
		s.forgetBridge(b.id)
	}
	return res
}

// dropInternal hangs up a bridge's announcer and recorder channels.
func (s *Sim) dropInternal(b *bridge) {
	for _, c := range slices.Clone(b.internal) {
		if p := c.active; p != nil {
			// The announcer hangs up: its playback fails.
			if p.state != pbStopped {
				p.state = pbFailed
			}
			s.emit(s.evPlayback("PlaybackFinished", p))
			s.endPlayback(p)
		}
		if c.activeRec != nil {
			s.finishRecording(c.activeRec, false)
		}
		s.flushControl(c)
		c.gone = true
	}
	b.internal, b.moh, b.player = nil, nil, nil
}

// bridgeJoin puts c into b: ChannelEnteredBridge, then BRIDGEPEER.
func (s *Sim) bridgeJoin(b *bridge, c *channel, role string) {
	if c.bridge == b {
		return
	}
	if c.bridge != nil {
		s.bridgeLeave(c.bridge, c, true)
	}
	if c.stasis != nil {
		s.subscribeBridge(c.stasis.app, b.id)
	}
	c.bridge, c.role = b, role
	s.state.joinSeq++
	c.joinSeq = s.state.joinSeq
	b.members = append(b.members, c)
	s.emit(s.evBridgeChannel("ChannelEnteredBridge", b, c))
	s.bridgePeers(b)
	if s.bridgePlaying(b) {
		s.mediaTo(c)
	}
}

// bridgePlaying reports whether an internal channel plays into b: music
// on hold or a playback.
func (s *Sim) bridgePlaying(b *bridge) bool {
	return b.moh != nil || (b.player != nil && b.player.active != nil)
}

// bridgeMedia: an internal channel started playing into b, so the mix is
// written to every member (mediaTo).
func (s *Sim) bridgeMedia(b *bridge) {
	for _, c := range slices.Clone(b.members) {
		s.mediaTo(c)
	}
}

// bridgeLeave takes c out of b. clearPeer also clears BRIDGEPEER first,
// which bridge destruction has already done.
func (s *Sim) bridgeLeave(b *bridge, c *channel, clearPeer bool) {
	i := slices.Index(b.members, c)
	if i < 0 {
		return
	}
	if clearPeer {
		s.setVar(c, "BRIDGEPEER", "")
	}
	b.members = slices.Delete(b.members, i, i+1)
	c.bridge, c.role = nil, ""
	if b.videoSource == c.id && b.videoMode == "single" {
		b.videoSource = ""
	}
	s.emit(s.evBridgeChannel("ChannelLeftBridge", b, c))
	if st := c.stasis; st != nil {
		s.unsubscribeBridge(st.app, b.id)
	} else {
		for _, a := range s.state.apps {
			if a.bridges[b.id] > 0 && a.chans[c.id] > 0 {
				s.unsubscribeBridge(a.name, b.id)
			}
		}
	}
	if !b.gone {
		s.bridgePeers(b)
	}
}

// bridgePeers sets BRIDGEPEER on every channel of a bridge with two or
// more parties: the names of the others, comma separated, the last to
// join first (the order of the bridge's channel list).
func (s *Sim) bridgePeers(b *bridge) {
	all := append(slices.Clone(b.members), b.internal...)
	if len(all) < 2 {
		return
	}
	sortBy(all, func(c *channel) uint64 { return -c.joinSeq })
	names := make([]string, 0, len(all))
	for _, c := range all {
		names = append(names, c.name)
	}
	for _, c := range b.members {
		others := make([]string, 0, len(names)-1)
		skipped := false
		for _, n := range names {
			if n == c.name && !skipped {
				skipped = true
				continue
			}
			others = append(others, n)
		}
		s.setVar(c, "BRIDGEPEER", strings.Join(others, ","))
	}
}

// addInternal creates an Announcer or Recorder channel and puts it into b.
func (s *Sim) addInternal(b *bridge, tech, tag string) *channel {
	seq := s.state.unrealSeq
	s.state.unrealSeq++
	c := &channel{id: newUniqueID(), name: fmt.Sprintf("%s/%s-%08x;2", tech, tag, seq), tech: tech,
		state: "Up", language: "en", vars: map[string]string{}, bridge: b}
	s.state.joinSeq++
	c.joinSeq = s.state.joinSeq
	b.internal = append(b.internal, c)
	s.bridgePeers(b)
	return c
}

func (s *Sim) removeInternal(b *bridge, c *channel) {
	i := slices.Index(b.internal, c)
	if i < 0 {
		return
	}
	b.internal = slices.Delete(b.internal, i, i+1)
	c.gone = true
	if b.moh == c {
		b.moh = nil
	}
	if b.player == c {
		b.player = nil
	}
	if !b.gone {
		s.bridgePeers(b)
	}
}

// channelList reads the channel parameter of addChannel/removeChannel
// (control_list_create).
func (s *Sim) channelList(r *req) ([]*channel, *resp) {
	ids := r.list("channel")
	if len(ids) == 0 {
		e := fail(400, "Missing parameter channel")
		return nil, &e
	}
	var list []*channel
	for _, id := range ids {
		c, e := s.findChannelControl(id)
		if e != nil {
			return nil, e
		}
		list = append(list, c)
	}
	return list, nil
}

func (s api) BridgesAddChannel(r *req) resp { return s.onBridge(r, s.hAddChannel) }

func (s api) hAddChannel(r *req, b *bridge) resp {
	list, e := s.channelList(r)
	if e != nil {
		return *e
	}
	role := r.str("role")
	for _, c := range list {
		if c.activeRec != nil || s.queuedRecording(c) {
			return fail(409, "Channel %s currently recording", c.id)
		}
		ok := s.sendSync(r.ctx, c, func() {
			if !b.gone {
				s.bridgeJoin(b, c, role)
			}
		})
		if !ok || b.gone {
			break
		}
	}
	return noContent()
}

func (s *Sim) queuedRecording(c *channel) bool {
	for _, rec := range s.state.liveRecs {
		if rec.ch == c {
			return true
		}
	}
	return false
}

func (s api) BridgesRemoveChannel(r *req) resp { return s.onBridge(r, s.hRemoveChannel) }

func (s api) hRemoveChannel(r *req, b *bridge) resp {
	list, e := s.channelList(r)
	if e != nil {
		return *e
	}
	for _, c := range list {
		if c.bridge != b {
			return fail(422, "Channel not in this bridge")
		}
	}
	for _, c := range list {
		s.sendSync(r.ctx, c, func() {
			if c.bridge == b {
				s.bridgeLeave(b, c, true)
			}
		})
	}
	return noContent()
}

func (s api) BridgesSetVideoSource(r *req) resp { return s.onBridge(r, s.hSetVideoSource) }

func (s api) hSetVideoSource(r *req, b *bridge) resp {
	c, e := s.findChannelControl(r.str("channelId"))
	if e != nil {
		return *e
	}
	if c.bridge != b {
		return fail(422, "Channel not in this bridge")
	}
	s.sendSync(r.ctx, c, func() {
		if c.bridge != b {
			return
		}
		if b.videoMode == "single" && b.videoSource == c.id {
			return
		}
		b.videoMode, b.videoSource = "single", c.id
		s.emit(s.evVideoSourceChanged(b, ""))
	})
	return noContent()
}

func (s api) BridgesClearVideoSource(r *req) resp { return s.onBridge(r, s.hClearVideoSource) }

func (s api) hClearVideoSource(r *req, b *bridge) resp {
	if b.videoMode == "single" {
		old := b.videoSource
		b.videoMode, b.videoSource = "talker", ""
		s.emit(s.evVideoSourceChanged(b, old))
	} else if !b.sfu {
		b.videoMode = "talker"
	}
	return noContent()
}

func (s api) BridgesStartMoh(r *req) resp { return s.onBridge(r, s.hBridgeStartMoh) }

func (s api) hBridgeStartMoh(r *req, b *bridge) resp {
	if b.moh == nil {
		b.moh = s.addInternal(b, "Announcer", "ARI_MOH")
		s.bridgeMedia(b)
	}
	return noContent()
}

func (s api) BridgesStopMoh(r *req) resp { return s.onBridge(r, s.hBridgeStopMoh) }

func (s api) hBridgeStopMoh(r *req, b *bridge) resp {
	if b.moh == nil {
		return fail(409, "Bridge isn't playing music")
	}
	s.removeInternal(b, b.moh)
	return noContent()
}

func (s api) BridgesPlay(r *req) resp { return s.onBridge(r, s.hBridgePlay) }

func (s api) BridgesPlayWithId(r *req) resp { return s.onBridge(r, s.hBridgePlay) }

func (s api) hBridgePlay(r *req, b *bridge) resp {
	ann := b.player
	if ann == nil {
		if f := r.str("announcer_format"); f != "" && !knownFormats[f] {
			return fail(422, "specified announcer_format is unknown on this system")
		}
	}
	if r.int("skipms", 0) < 0 || r.int("offsetms", 0) < 0 {
		return allocFailed()
	}
	newAnn := ann == nil
	if newAnn {
		ann = s.addInternal(b, "Announcer", "ARI")
		ann.stasis = &stasisCtl{} // it has a control of its own
		b.player = ann
	}
	lang := r.str("lang")
	if lang == "" {
		lang = ann.language
	}
	p := s.newPlayback(r, ann, "bridge:"+b.id, lang)
	if p == nil {
		if newAnn {
			s.removeInternal(b, ann)
		}
		return allocFailed()
	}
	p.bridgeID = b.id
	res := createdJSON(playbackBody(p))
	res.header = locationHeader("/playbacks/" + p.id)
	s.send(ann, func() bool { return s.startPlayback(p) })
	// When the announcer's queue runs dry it hangs up and leaves.
	s.send(ann, func() bool {
		if len(ann.ctl) == 0 && !b.gone {
			s.removeInternal(b, ann)
		}
		return false
	})
	return res
}

func (s api) BridgesRecord(r *req) resp { return s.onBridge(r, s.hBridgeRecord) }

func (s api) hBridgeRecord(r *req, b *bridge) resp {
	if !recordingFormats[r.str("format")] {
		return fail(422, "specified format is unknown on this system")
	}
	if f := r.str("recorder_format"); f != "" && !knownFormats[f] {
		return fail(422, "specified recorder_format is unknown on this system")
	}
	recorder := s.addInternal(b, "Recorder", "ARI")
	rec, e := s.newRecording(r, "bridge:"+b.id)
	if e != nil {
		s.removeInternal(b, recorder)
		return *e
	}
	rec.ch, rec.bridgeID = recorder, b.id
	rec.onDone = func() {
		if !b.gone {
			s.removeInternal(b, recorder)
		}
	}
	res := createdJSON(json.RawMessage(liveRecordingBody(rec)))
	res.header = locationHeader("/recordings/live/" + escapeName(rec.name))
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.state.liveRecs[rec.name] != rec || recorder.gone {
			return
		}
		// record_file on the recorder's control: it starts even when
		// stopped or canceled while queued (see startChannelRecording).
		s.beginRecording(rec)
	}
	return res
}

func (s api) BridgesGetBridgeVar(r *req) resp {
	name := r.str("variable")
	if name == "" {
		return fail(400, "Variable name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, e := s.findBridge(r.str("bridgeId"))
	if e != nil {
		return *e
	}
	v, ok := b.vars[name]
	if !ok {
		return fail(404, "Provided variable was not found")
	}
	return okJSON(variableJSON{v})
}

func (s api) BridgesSetBridgeVar(r *req) resp {
	name := strings.TrimSpace(r.str("variable"))
	if name == "" {
		return fail(400, "Variable name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, e := s.findBridge(r.str("bridgeId"))
	if e != nil {
		return *e
	}
	if r.has("value") {
		b.vars[name] = r.str("value")
	} else {
		delete(b.vars, name)
	}
	return noContent()
}

func (s api) BridgesGetBridgeVars(r *req) resp {
	names := r.list("variables")
	if len(names) == 0 {
		return fail(400, "At least one variable name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.state.bridges[r.str("bridgeId")]
	if b == nil {
		return fail(404, "Provided bridge was not found")
	}
	out := orderedVars{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return fail(400, "Variable names are required")
		}
		v, ok := b.vars[n]
		if !ok {
			return fail(404, "Provided variable was not found")
		}
		out = append(out, kv{n, v})
	}
	return okRaw(newObj().val("variables", out).done())
}

func (s api) BridgesSetBridgeVars(r *req) resp {
	if r.rawObj == nil {
		return fail(400, "The 'variables' field is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.state.bridges[r.str("bridgeId")]
	if b == nil {
		return fail(404, "Provided bridge was not found")
	}
	raw, ok := r.body["variables"]
	members, isObj := orderedMembers(raw)
	if !ok || !isObj {
		return fail(400, "The 'variables' field must be a JSON object")
	}
	vars, e := variableValues(members)
	if e != nil {
		return *e
	}
	for _, v := range vars {
		b.vars[strings.TrimSpace(v.k)] = v.v
	}
	return noContent()
}

// sortBy sorts by a sequence number.
func sortBy[T any](list []T, key func(T) uint64) {
	slices.SortFunc(list, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
}

type bridgeJSON struct {
	ID            string   `json:"id"`
	Technology    string   `json:"technology"`
	BridgeType    string   `json:"bridge_type"`
	BridgeClass   string   `json:"bridge_class"`
	Creator       string   `json:"creator"`
	Name          string   `json:"name"`
	Channels      []string `json:"channels"`
	Creationtime  string   `json:"creationtime"`
	VideoMode     string   `json:"video_mode"`
	VideoSourceID string   `json:"video_source_id,omitempty"`
}

func bridgeBody(b *bridge) bridgeJSON {
	ids := make([]string, 0, len(b.members))
	for _, c := range b.members {
		ids = append(ids, c.id)
	}
	j := bridgeJSON{
		ID: b.id, Technology: b.technology(), BridgeType: b.bridgeType, BridgeClass: "stasis",
		Creator: "Stasis", Name: b.name, Channels: ids, Creationtime: stamp(b.created),
		VideoMode: b.videoMode,
	}
	if b.videoMode == "single" && b.videoSource != "" {
		j.VideoSourceID = b.videoSource
	}
	return j
}
