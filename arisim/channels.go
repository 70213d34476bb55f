package arisim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The /channels resource. Each handler follows the checks of Asterisk's
// res/ari/resource_channels.c in the same order, with the same messages.

// findControl is find_control: 404 for an unknown channel, 409 for one
// that is not in Stasis.
func (s *Sim) findControl(id string) (*channel, *resp) {
	c := s.state.channels[id]
	if c == nil {
		r := fail(404, "Channel not found")
		return nil, &r
	}
	if c.stasis == nil {
		r := fail(409, "Channel not in Stasis application")
		return nil, &r
	}
	return c, nil
}

// stateInvalid is channel_state_invalid: outbound channels not answered
// yet cannot be manipulated.
func stateInvalid(c *channel) *resp {
	switch c.state {
	case "Down", "Rsrvd", "Ringing":
		r := fail(412, "Channel in invalid state")
		return &r
	}
	return nil
}

// channelCheck is how much of a channel an operation needs, weakest
// first: each is a check of resource_channels.c.
type channelCheck int

const (
	anyChannel   channelCheck = iota // ast_channel_get_by_name: 404
	inStasis                         // find_control: 404, 409
	controllable                     // find_control and channel_state_invalid: 404, 409, 412
)

// onChannel is the opening the operations on one channel share: the state
// locked and the request's channel found and checked.
func (s api) onChannel(r *req, check channelCheck, h func(r *req, c *channel) resp) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.str("channelId")
	var c *channel
	var e *resp
	switch check {
	case anyChannel:
		if c = s.state.channels[id]; c == nil {
			return fail(404, "Channel not found")
		}
	case inStasis:
		c, e = s.findControl(id)
	default:
		c, e = s.controlled(id, true)
	}
	if e != nil {
		return *e
	}
	return h(r, c)
}

// controlled finds a channel in Stasis in a valid state.
func (s *Sim) controlled(id string, checkState bool) (*channel, *resp) {
	c, e := s.findControl(id)
	if e != nil {
		return nil, e
	}
	if checkState {
		if e := stateInvalid(c); e != nil {
			return nil, e
		}
	}
	return c, nil
}

func (s api) ChannelsList(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]channelJSON, 0, len(s.state.channels))
	for _, c := range s.sortedChannels() {
		list = append(list, channelBody(c))
	}
	return okJSON(list)
}

func (s api) ChannelsGet(r *req) resp { return s.onChannel(r, anyChannel, s.hChannelGet) }

func (s api) hChannelGet(r *req, c *channel) resp {
	return okJSON(channelBody(c))
}

// jsonVariables reads the "variables" member of a body (an object of
// strings), in order, as ast_json_to_ast_variables does.
func jsonVariables(body map[string]json.RawMessage) ([]kv, *resp) {
	raw, ok := body["variables"]
	if !ok {
		return nil, nil
	}
	members, isObj := orderedMembers(raw)
	if !isObj {
		return nil, nil
	}
	var out []kv
	for _, m := range members {
		var v string
		if err := json.Unmarshal(m.v, &v); err != nil {
			r := fail(400, "Only string values in the 'variables' object allowed")
			return nil, &r
		}
		out = append(out, kv{m.k, v})
	}
	return out, nil
}

type rawMember struct {
	k string
	v json.RawMessage
}

// orderedMembers lists the members of a JSON object in document order.
func orderedMembers(raw json.RawMessage) ([]rawMember, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var out []rawMember
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, false
		}
		k, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out = append(out, rawMember{k, v})
	}
	return out, true
}

// knownFormats are the media formats of the simulated Asterisk.
var knownFormats = map[string]bool{
	"ulaw": true, "alaw": true, "gsm": true, "g722": true, "g723": true, "g726": true,
	"g726aal2": true, "g729": true, "ilbc": true, "lpc10": true, "speex": true,
	"speex16": true, "speex32": true, "opus": true, "siren7": true, "siren14": true,
	"testlaw": true, "adpcm": true, "slin": true, "slin12": true, "slin16": true,
	"slin24": true, "slin32": true, "slin44": true, "slin48": true, "slin96": true,
	"slin192": true, "h261": true, "h263": true, "h263p": true, "h264": true, "h265": true,
	"mpeg4": true, "vp8": true, "vp9": true, "red": true, "t140": true, "jpeg": true, "png": true,
}

// originateArgs are what ari_channels_handle_originate_with_id works on.
type originateArgs struct {
	endpoint, extension, context, label, app, appArgs, callerID string
	priority, timeout                                           int
	vars                                                        []kv
	channelID, otherID, originator, formats                     string
}

func (s api) ChannelsOriginate(r *req) resp { return s.hOriginate(r) }

func (s api) ChannelsOriginateWithId(r *req) resp { return s.hOriginate(r) }

func (s api) hOriginate(r *req) resp {
	vars, e := jsonVariables(r.body)
	if e != nil {
		return *e
	}
	a := originateArgs{
		endpoint: r.str("endpoint"), extension: r.str("extension"), context: r.str("context"),
		label: r.str("label"), app: r.str("app"), appArgs: r.str("appArgs"),
		callerID: r.str("callerId"), priority: r.int("priority", 0), timeout: r.int("timeout", 0),
		vars: vars, channelID: r.str("channelId"), otherID: r.str("otherChannelId"),
		originator: r.str("originator"), formats: r.str("formats"),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	one, res := s.originate(a)
	if one == nil {
		return res
	}
	return res
}

// originate validates and creates the outgoing channel; the dialing
// happens after the answer is written, as in Asterisk's dial thread.
func (s *Sim) originate(a originateArgs) (*channel, resp) {
	if len(a.channelID) > maxUniqueID || len(a.otherID) > maxUniqueID {
		return nil, fail(400, "Uniqueid length exceeds maximum of %d", maxUniqueID)
	}
	if a.endpoint == "" {
		return nil, fail(400, "Endpoint must be specified")
	}
	if a.originator != "" && a.formats != "" {
		return nil, fail(400, "Originator and formats can't both be specified")
	}
	tech, resource, _ := strings.Cut(a.endpoint, "/")
	if tech == "" || resource == "" {
		return nil, fail(400, "Invalid endpoint specified")
	}
	var appdata, dpContext, dpExten string
	dpPriority := 0
	switch {
	case a.app != "":
		appdata = a.app
		if a.appArgs != "" {
			appdata += "," + a.appArgs
		}
	case a.extension != "":
		dpContext, dpExten = a.context, a.extension
		if dpContext == "" {
			dpContext = "default"
		}
		if a.label != "" {
			// A label that does not start with a number is looked up;
			// the simulated dialplan has no labels.
			p, ok := scanInt(a.label)
			if !ok {
				return nil, fail(404, "Requested label can not be found")
			}
			if p == 0 {
				return nil, fail(400, "Requested priority is illegal")
			}
			dpPriority = p
		} else {
			dpPriority = a.priority
			if dpPriority == 0 {
				dpPriority = 1
			}
		}
	default:
		return nil, fail(400, "Application or extension must be specified")
	}
	timeout := 30 * time.Second
	switch {
	case a.timeout > 0:
		timeout = time.Duration(a.timeout) * time.Second
	case a.timeout == -1:
		timeout = 0
	}
	cidName, cidNum := "", ""
	if a.callerID != "" {
		cidName, cidNum = parseCallerID(a.callerID)
	}
	var caller *channel
	if a.originator != "" {
		if caller = s.state.channels[a.originator]; caller == nil {
			return nil, fail(400, "Provided originator channel was not found")
		}
	}
	if a.formats != "" {
		for _, f := range strings.Split(a.formats, ",") {
			if f = strings.TrimSpace(f); !knownFormats[f] {
				return nil, fail(400, "Provided format (%s) was not found", f)
			}
		}
	}
	if !strings.EqualFold(tech, "Local") {
		// ast_dial_prerun finds no such channel technology.
		return nil, allocFailed()
	}
	if (a.channelID != "" && s.idTaken(a.channelID)) || (a.otherID != "" && s.idTaken(a.otherID)) ||
		(a.channelID != "" && a.otherID == "" && s.idTaken(a.channelID+";2")) {
		return nil, fail(409, "Channel with given unique ID already exists")
	}
	one, two := s.newLocalPair(resource, a.channelID, a.otherID)
	one.appName, one.appData = "AppDial2", "(Outgoing Line)"
	if caller != nil {
		one.language = caller.language
	}
	if cidName != "" || cidNum != "" {
		one.callerName, one.callerNum = cidName, cidNum
		one.connName, one.connNum = cidName, cidNum
	}
	for _, v := range a.vars {
		s.setVarOrFunc(one, v.k, v.v)
	}
	if a.app != "" {
		s.subscribeChannel(a.app, one.id)
		s.subscribeChannel(a.app, two.id)
	}
	body := channelBody(one)
	app, appArgs := a.app, splitArgs(a.appArgs)
	res := okJSON(body)
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if one.gone {
			return
		}
		onAnswer := func() {
			if app != "" {
				one.nested = true
				s.pushApp(one, "Stasis", appdata)
				s.runStasis(one, app, appArgs, true)
				return
			}
			s.pbxGoto(one, dpContext, dpExten, dpPriority)
		}
		s.startLocalDial(one, caller, resource, resource, timeout, onAnswer)
	}
	return one, res
}

// splitArgs splits Stasis application arguments.
func splitArgs(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func (s api) ChannelsCreate(r *req) resp {
	vars, e := jsonVariables(r.body)
	if e != nil {
		return *e
	}
	if r.str("originator") != "" && r.str("formats") != "" {
		return fail(400, "Originator and formats can't both be specified")
	}
	endpoint := r.str("endpoint")
	if endpoint == "" {
		return fail(400, "Endpoint must be specified")
	}
	app, appArgs := r.str("app"), r.str("appArgs")
	stasisData := app
	if appArgs != "" {
		stasisData += "," + appArgs
	}
	tech, resource, _ := strings.Cut(endpoint, "/")
	if tech == "" || resource == "" {
		return fail(400, "Invalid endpoint specified")
	}
	if f := r.str("formats"); f != "" && r.str("originator") == "" {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); !knownFormats[name] {
				return fail(400, "Provided format (%s) was not found", name)
			}
		}
	}
	id, otherID := r.str("channelId"), r.str("otherChannelId")
	s.mu.Lock()
	defer s.mu.Unlock()
	originator := s.state.channels[r.str("originator")]
	if !strings.EqualFold(tech, "Local") {
		return allocFailed()
	}
	if len(id) > maxUniqueID || len(otherID) > maxUniqueID {
		return allocFailed()
	}
	if (id != "" && s.idTaken(id)) || (otherID != "" && s.idTaken(otherID)) ||
		(id != "" && otherID == "" && s.idTaken(id+";2")) {
		return fail(409, "Channel with given unique ID already exists")
	}
	one, _ := s.newLocalPair(resource, id, otherID)
	if originator != nil {
		one.language = originator.language
		if app != "" {
			s.subscribeChannel(app, originator.id)
		}
	}
	if app != "" {
		s.subscribeChannel(app, one.id)
	}
	for _, v := range vars {
		s.setVarOrFunc(one, v.k, v.v)
	}
	one.dialstring = resource
	res := okJSON(channelBody(one))
	args := splitArgs(appArgs)
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if one.gone {
			return
		}
		// ari_channel_thread: pbx_exec(Stasis) on the new channel.
		one.nested = true
		s.pushApp(one, "Stasis", stasisData)
		s.runStasis(one, app, args, true)
	}
	return res
}

func (s api) ChannelsDial(r *req) resp { return s.onChannel(r, inStasis, s.hDial) }

func (s api) hDial(r *req, c *channel) resp {
	caller := s.state.channels[r.str("caller")]
	if c.state != "Down" && c.state != "Rsrvd" {
		return fail(409, "Channel is not in the 'Down' state")
	}
	if c.dialstring == "" || c.dial != nil {
		return fail(409, "Dialing a channel not created by ARI")
	}
	if caller != nil {
		old := c.snapshot()
		c.connName, c.connNum = caller.callerName, caller.callerNum
		c.language = caller.language
		s.publish(c, old)
	}
	timeout := time.Duration(r.int("timeout", 0)) * time.Second
	dialstring := c.dialstring
	res := noContent()
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.send(c, func() bool {
			if c.peer == nil || c.dial != nil {
				return false
			}
			s.startLocalDial(c, caller, dialstring, "", timeout, nil)
			return false
		})
	}
	return res
}

func (s api) ChannelsHangup(r *req) resp { return s.onChannel(r, anyChannel, s.hHangup) }

func (s api) hHangup(r *req, c *channel) resp {
	reason, code := r.str("reason"), r.str("reason_code")
	var cause int
	switch {
	case reason != "" && code != "":
		return fail(400, "The reason and reason_code can't both be specified")
	case code != "":
		n, ok := scanInt(code)
		if !ok {
			return fail(400, "Invalid reason for hangup reason code provided")
		}
		cause = n
	case reason != "":
		var ok bool
		if cause, ok = hangupReasons[reason]; !ok {
			return fail(400, "Invalid reason for hangup reason provided")
		}
	default:
		cause = causeNormal
	}
	c.hangupCause = cause
	// ast_softhangup(chan, AST_SOFTHANGUP_EXPLICIT): the request carries
	// the soft hangup flag (32), not the cause.
	s.emit(s.evHangupRequest(c, 32, true))
	res := noContent()
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.terminate(c)
	}
	return res
}

func (s api) ChannelsContinueInDialplan(r *req) resp {
	return s.onChannel(r, controllable, s.hContinueInDialplan)
}

func (s api) hContinueInDialplan(r *req, c *channel) resp {
	context, exten := r.str("context"), r.str("extension")
	if context == "" {
		context = c.context
		if exten == "" {
			exten = c.exten
		}
	} else if exten == "" {
		exten = "s"
	}
	var prio int
	switch {
	case r.str("label") != "":
		p, ok := scanInt(r.str("label"))
		if !ok {
			return fail(404, "Requested label can not be found")
		}
		if p == 0 {
			return fail(400, "Requested priority is illegal")
		}
		prio = p
	case r.int("priority", 0) != 0:
		prio = r.int("priority", 0)
	case r.str("context") == "" && r.str("extension") == "":
		prio = c.priority + 1
	default:
		prio = 1
	}
	res := noContent()
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.send(c, func() bool {
			s.continueDialplan(c, context, exten, prio)
			return false
		})
	}
	return res
}

// continueDialplan leaves Stasis for the dialplan. A channel with a PBX
// of its own resumes at the requested priority; one that ran Stasis()
// through pbx_exec (originate, create) starts a PBX that, having no
// autoloop, begins one priority later.
func (s *Sim) continueDialplan(c *channel, context, exten string, prio int) {
	st := c.stasis
	if st == nil {
		return
	}
	// A channel in a Stasis bridge departs it before the dialplan.
	if c.bridge != nil {
		s.bridgeLeave(c.bridge, c, true)
	}
	s.leaveStasis(c)
	if c.inPBX {
		if st.viaApp {
			s.setVar(c, "STASISSTATUS", "SUCCESS")
		}
		s.pbxGoto(c, context, exten, prio)
		return
	}
	c.stasisPending = st.viaApp
	s.pbxGoto(c, context, exten, prio+1)
}

func (s api) ChannelsMove(r *req) resp { return s.onChannel(r, inStasis, s.hMove) }

func (s api) hMove(r *req, c *channel) resp {
	dest := r.str("app")
	if dest == "" {
		return fail(500, "Failed to switch Stasis applications")
	}
	args := splitArgs(r.str("appArgs"))
	res := noContent()
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.send(c, func() bool {
			st := c.stasis
			if st == nil {
				return false
			}
			if a := s.state.apps[dest]; a == nil || a.conn == nil {
				s.emit(s.evApplicationMoveFailed(c, st.app, dest, args))
				return false
			}
			s.emit(s.evStasisEndBody(c, st.app))
			s.unsubscribeChannel(st.app, c.id)
			c.stasis = &stasisCtl{app: dest, args: args, viaApp: st.viaApp}
			s.subscribeChannel(dest, c.id)
			s.emit(s.evStasisStart(c, dest, args))
			return false
		})
	}
	return res
}

func (s api) ChannelsRedirect(r *req) resp { return s.onChannel(r, controllable, s.hRedirect) }

func (s api) hRedirect(r *req, c *channel) resp {
	endpoint := r.str("endpoint")
	if endpoint == "" {
		return fail(400, "Required parameter 'endpoint' not provided.")
	}
	tech, resource, ok := strings.Cut(endpoint, "/")
	if !ok || tech == "" {
		return fail(422, "Endpoint parameter '%s' does not contain tech/resource", endpoint)
	}
	if resource == "" {
		return fail(422, "No resource provided in endpoint parameter '%s'", endpoint)
	}
	if len(c.tech) < len(tech) || !strings.EqualFold(c.tech[:len(tech)], tech) {
		return fail(422, "Endpoint technology '%s' does not match channel technology '%s'", tech, c.tech)
	}
	// The transfer is queued; Local channels do not implement transfer,
	// so nothing further happens, as on the recorded Asterisk.
	return noContent()
}

func (s api) ChannelsAnswer(r *req) resp { return s.onChannel(r, controllable, s.hAnswer) }

func (s api) hAnswer(r *req, c *channel) resp {
	if !s.sendSync(r.ctx, c, func() { s.answer(c) }) {
		return fail(500, "Failed to answer channel")
	}
	return noContent()
}

func (s api) ChannelsHold(r *req) resp { return s.onChannel(r, controllable, s.hMediaControl) }

func (s api) ChannelsProgress(r *req) resp { return s.onChannel(r, controllable, s.hSimpleControl) }

func (s api) ChannelsRing(r *req) resp { return s.onChannel(r, controllable, s.hSimpleControl) }

func (s api) ChannelsRingStop(r *req) resp { return s.onChannel(r, controllable, s.hSimpleControl) }

func (s api) ChannelsStartMoh(r *req) resp { return s.onChannel(r, controllable, s.hMediaControl) }

func (s api) ChannelsStartSilence(r *req) resp { return s.onChannel(r, controllable, s.hMediaControl) }

func (s api) ChannelsStopMoh(r *req) resp { return s.onChannel(r, controllable, s.hSimpleControl) }

func (s api) ChannelsStopSilence(r *req) resp { return s.onChannel(r, controllable, s.hSimpleControl) }

func (s api) ChannelsUnhold(r *req) resp { return s.onChannel(r, controllable, s.hSimpleControl) }

// hSimpleControl: ring, ringStop, progress, unhold, stopMoh,
// stopSilence. They queue an indication and emit
// nothing on the recorded Local channels.
func (s api) hSimpleControl(r *req, c *channel) resp {
	return s.queueNothing(c)
}

// hMediaControl: startMoh, startSilence and hold. Like hSimpleControl,
// but once the control runs the command, music or silence frames are
// written to the channel (ast_moh_start,
// ast_channel_start_silence_generator; a Local channel intercepts the
// hold indication and starts music on hold itself, AST_UNREAL_MOH_INTERCEPT
// in ast_unreal_indicate, which every Local channel without the /m option
// has).
func (s api) hMediaControl(r *req, c *channel) resp {
	res := noContent()
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.send(c, func() bool {
			s.mediaTo(c)
			return false
		})
	}
	return res
}

// queueNothing answers 204 and then queues a command that does nothing on
// c: the indication is queued like Asterisk's, and no event follows it on
// the recorded Local channels.
func (s *Sim) queueNothing(c *channel) resp {
	res := noContent()
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.send(c, func() bool { return false })
	}
	return res
}

func (s api) ChannelsMute(r *req) resp { return s.onChannel(r, controllable, s.hMute) }

func (s api) ChannelsUnmute(r *req) resp { return s.onChannel(r, controllable, s.hMute) }

func (s api) hMute(r *req, c *channel) resp {
	switch r.str("direction") {
	case "":
		return fail(400, "Direction is required")
	case "in", "out", "both":
	default:
		return fail(400, "Invalid direction specified")
	}
	return s.queueNothing(c)
}

func (s api) ChannelsSendDTMF(r *req) resp { return s.onChannel(r, controllable, s.hSendDTMF) }

func (s api) hSendDTMF(r *req, c *channel) resp {
	digits := r.str("dtmf")
	if digits == "" {
		return fail(400, "DTMF is required")
	}
	before := time.Duration(r.int("before", 0)) * time.Millisecond
	between := time.Duration(r.int("between", 0)) * time.Millisecond
	duration := time.Duration(r.int("duration", 0)) * time.Millisecond
	after := time.Duration(r.int("after", 0)) * time.Millisecond
	if between <= 0 {
		between = 100 * time.Millisecond
	}
	if duration <= 0 {
		duration = 100 * time.Millisecond
	}
	res := noContent()
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.send(c, func() bool {
			s.playDTMF(c, digits, before, between, duration, after)
			return true
		})
	}
	return res
}

// playDTMF streams digits like ast_dtmf_stream, occupying c's control
// queue: a 100 ms quiet time, then each digit for at least 100 ms
// (AST_DEFAULT_EMULATE_DTMF_DURATION) followed by the pause between
// digits. The far end of a Local pair receives each digit as it ends.
func (s *Sim) playDTMF(c *channel, digits string, before, between, duration, after time.Duration) {
	const quiet = 100 * time.Millisecond
	duration = max(duration, 100*time.Millisecond)
	type step struct {
		wait  time.Duration // from the previous step
		digit string        // "" for a pause or a flash
	}
	steps := []step{{wait: before + quiet}}
	for _, ch := range digits {
		switch {
		case ch == 'w':
			steps = append(steps, step{wait: 500 * time.Millisecond})
		case ch == 'W':
			steps = append(steps, step{wait: time.Second})
		case ch == 'f' || ch == 'F':
			steps = append(steps, step{wait: between})
		case strings.ContainsRune("0123456789*#ABCDabcd", ch):
			steps = append(steps, step{wait: duration, digit: strings.ToUpper(string(ch))}, step{wait: between})
		}
	}
	steps = append(steps, step{wait: after})
	durMS := int(duration / time.Millisecond)
	var next func(i int)
	next = func(i int) {
		if c.gone || c.hangingUp {
			return
		}
		if i == len(steps) {
			c.dtmfTimer = nil
			s.release(c)
			return
		}
		if steps[i].digit != "" {
			s.mediaTo(c) // the digit begins: a DTMF begin frame
		}
		c.dtmfTimer = s.after(s.scaled(steps[i].wait), func() {
			if d := steps[i].digit; d != "" {
				if p := c.peer; p != nil && !p.gone {
					s.emit(s.evDtmf(p, d, durMS))
					s.dtmfReceived(p, d)
				}
			}
			next(i + 1)
		})
	}
	next(0)
}

func (s api) ChannelsPlay(r *req) resp { return s.onChannel(r, controllable, s.hChannelPlay) }

func (s api) ChannelsPlayWithId(r *req) resp { return s.onChannel(r, controllable, s.hChannelPlay) }

func (s api) hChannelPlay(r *req, c *channel) resp {
	if r.int("skipms", 0) < 0 {
		return fail(400, "skipms cannot be negative")
	}
	if r.int("offsetms", 0) < 0 {
		return fail(400, "offsetms cannot be negative")
	}
	lang := r.str("lang")
	if lang == "" {
		lang = c.language
	}
	p := s.newPlayback(r, c, "channel:"+c.id, lang)
	if p == nil {
		return fail(500, "Failed to queue media for playback")
	}
	p.chanID = c.id
	res := createdJSON(playbackBody(p))
	res.header = locationHeader("/playbacks/" + p.id)
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.send(c, func() bool { return s.startPlayback(p) })
	}
	return res
}

func (s api) ChannelsRecord(r *req) resp {
	if r.int("maxDurationSeconds", 0) < 0 {
		return fail(400, "max_duration_seconds cannot be negative")
	}
	if r.int("maxSilenceSeconds", 0) < 0 {
		return fail(400, "max_silence_seconds cannot be negative")
	}
	return s.onChannel(r, inStasis, s.hRecord)
}

func (s api) hRecord(r *req, c *channel) resp {
	rec, e := s.newRecording(r, "channel:"+c.id)
	if e != nil {
		return *e
	}
	rec.ch, rec.chanID = c, c.id
	res := createdJSON(json.RawMessage(liveRecordingBody(rec)))
	res.header = locationHeader("/recordings/live/" + escapeName(rec.name))
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.send(c, func() bool { return s.startChannelRecording(rec) })
	}
	return res
}

func (s api) ChannelsGetChannelVar(r *req) resp {
	name := r.str("variable")
	if name == "" {
		return fail(400, "Variable name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.state.channels[r.str("channelId")]
	if c == nil {
		return fail(404, "Provided channel was not found")
	}
	v, found, okFunc := s.readVar(c, name)
	if !okFunc {
		return fail(500, "Unable to read provided function")
	}
	if !found {
		return fail(404, "Provided variable was not found")
	}
	return okJSON(variableJSON{v})
}

func (s api) ChannelsSetChannelVar(r *req) resp {
	name := r.str("variable")
	if name == "" {
		return fail(400, "Variable name is required")
	}
	return s.onChannel(r, inStasis, s.hSetChannelVar)
}

func (s api) hSetChannelVar(r *req, c *channel) resp {
	name := r.str("variable")
	if !s.setVarOrFunc(c, name, r.str("value")) {
		return fail(400, "Failed to execute function")
	}
	return noContent()
}

func (s api) ChannelsGetChannelVars(r *req) resp {
	names := r.list("variables")
	if len(names) == 0 {
		return fail(400, "At least one variable name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.state.channels[r.str("channelId")]
	if c == nil {
		return fail(404, "Provided channel was not found")
	}
	out := orderedVars{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return fail(400, "Variable names are required")
		}
		v, found, okFunc := s.readVar(c, n)
		if !okFunc {
			return fail(500, "Unable to read provided function")
		}
		if !found {
			return fail(404, "Provided variable was not found")
		}
		out = append(out, kv{n, v})
	}
	return okRaw(newObj().val("variables", out).done())
}

func (s api) ChannelsSetChannelVars(r *req) resp {
	if _, ok := r.body["variables"]; !ok {
		return fail(400, "The 'variables' field is required")
	}
	return s.onChannel(r, inStasis, s.hSetChannelVars)
}

func (s api) hSetChannelVars(r *req, c *channel) resp {
	raw := r.body["variables"]
	members, isObj := orderedMembers(raw)
	if !isObj {
		return fail(400, "The 'variables' field must be a JSON object")
	}
	vars, e := variableValues(members)
	if e != nil {
		return *e
	}
	for _, v := range vars {
		if !s.setVarOrFunc(c, strings.TrimSpace(v.k), v.v) {
			return fail(400, "Failed to execute function")
		}
	}
	return noContent()
}

// variableValues reads variables given as strings or as
// {"value": ..., "report_events": ...} objects.
func variableValues(members []rawMember) ([]kv, *resp) {
	var out []kv
	for _, m := range members {
		if m.k == "" {
			continue
		}
		var sv string
		if json.Unmarshal(m.v, &sv) == nil {
			out = append(out, kv{m.k, sv})
			continue
		}
		var o map[string]json.RawMessage
		if json.Unmarshal(m.v, &o) != nil || o == nil {
			r := fail(400, "Each value in 'variables' must be a string or an object with 'value' and optional 'report_events'")
			return nil, &r
		}
		if json.Unmarshal(o["value"], &sv) != nil {
			r := fail(400, "Each object value in 'variables' must include string field 'value'")
			return nil, &r
		}
		if rep, ok := o["report_events"]; ok && string(rep) != "true" && string(rep) != "false" {
			r := fail(400, "Field 'report_events' in 'variables' entries must be boolean")
			return nil, &r
		}
		out = append(out, kv{m.k, sv})
	}
	return out, nil
}

func (s api) ChannelsSnoopChannel(r *req) resp { return s.hSnoop(r) }

func (s api) ChannelsSnoopChannelWithId(r *req) resp { return s.hSnoop(r) }

func (s api) hSnoop(r *req) resp {
	spy, whisper := r.str("spy"), r.str("whisper")
	valid := func(d string) bool { return d == "" || d == "none" || d == "both" || d == "in" || d == "out" }
	if !valid(spy) {
		return fail(400, "Invalid direction specified for spy")
	}
	if !valid(whisper) {
		return fail(400, "Invalid direction specified for whisper")
	}
	if (spy == "" || spy == "none") && (whisper == "" || whisper == "none") {
		return fail(400, "Direction must be specified for at least spy or whisper")
	}
	app := r.str("app")
	if app == "" {
		return fail(400, "Application name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target := s.state.channels[r.str("channelId")]
	if target == nil {
		return fail(404, "Provided channel was not found")
	}
	id := r.str("snoopId")
	if id != "" && s.idTaken(id) || len(id) > maxUniqueID {
		return fail(500, "Snoop channel could not be created")
	}
	if id == "" {
		id = newUniqueID()
	}
	s.state.snoopSeq++
	sn := &channel{id: id, name: fmt.Sprintf("Snoop/%s-%08x", target.id, s.state.snoopSeq),
		tech: "Snoop", state: "Up", context: "default", exten: "s", priority: 1,
		snoopOf: target.id, nested: true}
	s.addChannel(sn)
	args := splitArgs(r.str("appArgs"))
	data := app
	if r.str("appArgs") != "" {
		data += "," + r.str("appArgs")
	}
	// The snoop thread runs stasis_app_exec directly: no Stasis()
	// application, no STASISSTATUS, and the channel is in the application
	// before the answer.
	sn.appName, sn.appData = "Stasis", data
	s.runStasis(sn, app, args, false)
	return okJSON(channelBody(sn))
}

func (s api) ChannelsExternalMedia(r *req) resp {
	vars, e := jsonVariables(r.body)
	if e != nil {
		return *e
	}
	app, host, format := r.str("app"), r.str("external_host"), r.str("format")
	if app == "" {
		return fail(400, "app cannot be empty")
	}
	if host == "" {
		return fail(400, "external_host cannot be empty")
	}
	if h, p, err := net.SplitHostPort(host); err != nil || h == "" || p == "" {
		return fail(400, "external_host must be <host>:<port>")
	}
	if format == "" {
		return fail(400, "format cannot be empty")
	}
	encap, transport := r.str("encapsulation"), r.str("transport")
	if encap == "" {
		encap = "rtp"
	}
	if transport == "" {
		transport = "udp"
	}
	var tech string
	switch {
	case strings.EqualFold(encap, "rtp") && strings.EqualFold(transport, "udp"):
		tech = "UnicastRTP"
	case strings.EqualFold(encap, "audiosocket") && strings.EqualFold(transport, "tcp"):
		if r.str("data") == "" {
			return fail(400, "data can not be empty")
		}
		tech = "AudioSocket"
	default:
		return fail(501, "The encapsulation and/or transport is not supported")
	}
	if !knownFormats[format] {
		return fail(400, "Provided format (%s) was not found", format)
	}
	id := r.str("channelId")
	if len(id) > maxUniqueID {
		return fail(400, "Uniqueid length exceeds maximum of %d", maxUniqueID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != "" && s.idTaken(id) {
		return fail(409, "Channel with given unique ID already exists")
	}
	if id == "" {
		id = newUniqueID()
	}
	s.state.rtpSeq++
	seq := s.state.rtpSeq
	c := &channel{id: id, tech: tech, state: "Down", context: "default", exten: "s", priority: 1,
		appName: "AppDial2", appData: "(Outgoing Line)"}
	var dialstring string
	if tech == "UnicastRTP" {
		c.name = fmt.Sprintf("UnicastRTP/%s-0x7f88d4%06x", host, 0x016c50+seq*0x1000)
		dialstring = host + "/c(" + format + ")"
		port := strconv.Itoa(20000 + int(seq%5000)*2)
		c.vars = map[string]string{"UNICASTRTP_LOCAL_PORT": port, "UNICASTRTP_LOCAL_ADDRESS": "127.0.0.1"}
		c.varOrder = []string{"UNICASTRTP_LOCAL_PORT", "UNICASTRTP_LOCAL_ADDRESS"}
	} else {
		c.name = fmt.Sprintf("AudioSocket/%s-%08x", host, seq)
		dialstring = host + "/" + r.str("data")
	}
	s.addChannel(c)
	for _, v := range vars {
		s.setVarOrFunc(c, v.k, v.v)
	}
	s.subscribeChannel(app, c.id)
	body := channelBody(c)
	for _, k := range c.varOrder {
		body.Channelvars = append(body.Channelvars, kv{k, c.vars[k]})
	}
	appArgs := r.str("data")
	appdata := app
	if appArgs != "" {
		appdata += "," + appArgs
	}
	res := okJSON(body)
	res.after = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if c.gone {
			return
		}
		s.emit(s.evDial(nil, c, "", dialstring))
		old := c.snapshot()
		c.state = "Up"
		s.publish(c, old)
		s.emit(s.evDial(nil, c, "ANSWER", dialstring))
		c.nested = true
		s.pushApp(c, "Stasis", appdata)
		s.runStasis(c, app, splitArgs(appArgs), true)
	}
	return res
}

func (s api) ChannelsRtpstatistics(r *req) resp { return s.onChannel(r, anyChannel, s.hRtpstatistics) }

func (s api) hRtpstatistics(r *req, c *channel) resp {
	if c.tech != "UnicastRTP" {
		return fail(403, "Unsupported channel type")
	}
	o := newObj()
	for _, k := range []string{"txcount", "rxcount", "txjitter", "rxjitter", "remote_maxjitter",
		"remote_minjitter", "remote_normdevjitter", "remote_stdevjitter", "local_maxjitter",
		"local_minjitter", "local_normdevjitter", "local_stdevjitter", "txploss", "rxploss",
		"remote_maxrxploss", "remote_minrxploss", "remote_normdevrxploss", "remote_stdevrxploss",
		"local_maxrxploss", "local_minrxploss", "local_normdevrxploss", "local_stdevrxploss",
		"rtt", "maxrtt", "minrtt", "normdevrtt", "stdevrtt", "local_ssrc", "remote_ssrc",
		"txoctetcount", "rxoctetcount"} {
		o.num(k, 0)
	}
	o.str("channel_uniqueid", c.id)
	return okRaw(o.done())
}

func (s api) ChannelsTransferProgress(r *req) resp {
	return s.onChannel(r, controllable, s.hTransferProgress)
}

func (s api) hTransferProgress(r *req, _ *channel) resp {
	if r.str("states") == "" {
		return fail(400, "States must be specified")
	}
	return noContent()
}

func locationHeader(path string) map[string][]string {
	return map[string][]string{"Location": {path}}
}

// escapeName URI-encodes a recording name for a Location header.
func escapeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		ch := name[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' ||
			strings.IndexByte("-_.!~*'()/", ch) >= 0 {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}
