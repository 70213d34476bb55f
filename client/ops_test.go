package client

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/wire"
)

// fixture makes the state the operations need, on one simulator.
type fixture struct {
	t  *testing.T
	c  *Client
	st *stasis

	shared *ChannelHandle
	bridge *BridgeHandle

	lastKey    Key        // the key of the case being run
	lastParams ari.Params // parameters a key function prepared
}

func (f *fixture) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	f.t.Cleanup(cancel)
	return ctx
}

// must fails the test on err; the fixture's own calls must succeed.
func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// channel is a shared channel in Stasis (not hung up by any case).
func (f *fixture) channel() *ChannelHandle {
	if f.shared == nil {
		f.shared = originate(f.t, f.c, f.st, newID("shared"))
	}
	return f.shared
}

// freshChannel is a new channel in Stasis, for cases that consume it.
func (f *fixture) freshChannel() *ChannelHandle {
	return originate(f.t, f.c, f.st, newID("ch"))
}

// freshBridge is a new mixing bridge.
func (f *fixture) freshBridge() *BridgeHandle {
	f.t.Helper()
	b, err := f.c.Bridges().Create(f.ctx(), &BridgesCreateParams{Type: "mixing", BridgeID: newID("br")})
	f.must(err)
	return b
}

// sharedBridge is a bridge with the shared channel in it.
func (f *fixture) sharedBridge() *BridgeHandle {
	if f.bridge == nil {
		f.bridge = f.freshBridge()
		f.must(f.bridge.AddChannel(f.ctx(), &BridgeAddChannelParams{Channel: []string{f.channel().ID()}}))
	}
	return f.bridge
}

// playback is a new playback on a fresh channel, still playing.
func (f *fixture) playback() *PlaybackHandle {
	pb, err := f.freshChannel().Play(f.ctx(), &ChannelPlayParams{Media: []string{"sound:demo-congrats"}, PlaybackID: newID("pb")})
	f.must(err)
	return pb
}

// liveRecording is a new recording of a fresh channel.
func (f *fixture) liveRecording() *LiveRecordingHandle {
	r, err := f.freshChannel().Record(f.ctx(), &ChannelRecordParams{Name: newID("rec"), Format: "wav", IfExists: "overwrite"})
	f.must(err)
	return r
}

// storedRecording is a finished recording.
func (f *fixture) storedRecording() *StoredRecordingHandle {
	r := f.liveRecording()
	f.must(r.Stop(f.ctx()))
	return f.c.StoredRecording(r.ID())
}

func (f *fixture) logChannel() *LogChannelHandle {
	l, err := f.c.LogChannel(newID("log")).AddLog(f.ctx(), &LogChannelAddLogParams{Configuration: "notice"})
	f.must(err)
	return l
}

func (f *fixture) deviceState() *DeviceStateHandle {
	d := f.c.DeviceState("Stasis:" + newID("dev"))
	f.must(d.Update(f.ctx(), &DeviceStateUpdateParams{DeviceState: "INUSE"}))
	return d
}

func (f *fixture) mailbox() *MailboxHandle {
	m := f.c.Mailbox(newID("mb") + "@default")
	f.must(m.Update(f.ctx(), &MailboxUpdateParams{OldMessages: 1, NewMessages: 2}))
	return m
}

// opCase is how to call one operation: the receiver's key (collections
// ignore it), the ARI parameters, and the ARI errors the simulator is
// right to answer (Asterisk answers the same in that state).
type opCase struct {
	key    func(f *fixture) Key
	params func(f *fixture) ari.Params
	allow  []int
}

func noKey(*fixture) Key { return Key{} }

func opCases() map[string]opCase {
	ch := func(f *fixture) Key { return f.channel().Key() }
	freshCh := func(f *fixture) Key { return f.freshChannel().Key() }
	br := func(f *fixture) Key { return f.sharedBridge().Key() }
	freshBr := func(f *fixture) Key { return f.freshBridge().Key() }
	p := func(p ari.Params) func(*fixture) ari.Params { return func(*fixture) ari.Params { return p } }
	newKey := func(kind, prefix string) func(*fixture) Key {
		return func(f *fixture) Key { return f.c.fillKey(Key{Kind: kind, ID: newID(prefix)}) }
	}
	pjsip := func(f *fixture) Key { return f.c.Config("res_pjsip", "endpoint", "alice").Key() }
	return map[string]opCase{
		// asterisk: the recorded Asterisk has no PJSIP, so sorcery objects are 404s.
		"asterisk.getObject":    {key: pjsip, allow: []int{404}},
		"asterisk.updateObject": {key: pjsip, params: p(ari.Params{"fields": []any{map[string]any{"attribute": "allow", "value": "ulaw"}}}), allow: []int{403, 404}},
		"asterisk.deleteObject": {key: pjsip, allow: []int{403, 404}},
		"asterisk.getInfo":      {key: noKey, params: p(ari.Params{"only": []string{"build", "system"}})},
		"asterisk.ping":         {key: noKey},
		"asterisk.listModules":  {key: noKey},
		"asterisk.getModule":    {key: func(f *fixture) Key { return f.c.Module("res_ari.so").Key() }},
		// Loaded at start: Asterisk answers 409 to a second load.
		"asterisk.loadModule":      {key: func(f *fixture) Key { return f.c.Module("res_musiconhold.so").Key() }, allow: []int{409}},
		"asterisk.unloadModule":    {key: func(f *fixture) Key { return f.c.Module("res_adsi.so").Key() }, allow: []int{404, 409}},
		"asterisk.reloadModule":    {key: func(f *fixture) Key { return f.c.Module("res_musiconhold.so").Key() }},
		"asterisk.listLogChannels": {key: noKey},
		"asterisk.addLog":          {key: newKey("logging", "log"), params: p(ari.Params{"configuration": "notice"})},
		// Asterisk 22 answers 404 to deleting a log channel added by the API (see the system transcript).
		"asterisk.deleteLog": {key: func(f *fixture) Key { return f.logChannel().Key() }, allow: []int{404}},
		"asterisk.rotateLog": {key: func(f *fixture) Key { return f.logChannel().Key() }},
		"asterisk.getGlobalVar": {key: func(f *fixture) Key {
			v := f.c.Variable("GV")
			f.must(v.SetGlobalVar(f.ctx(), &VariableSetGlobalVarParams{Value: "7"}))
			return v.Key()
		}},
		"asterisk.setGlobalVar": {key: func(f *fixture) Key { return f.c.Variable("GV2").Key() }, params: p(ari.Params{"value": "x"})},

		// endpoints: no SIP stack, so messages and refers have nowhere to go.
		"endpoints.list":                  {key: noKey},
		"endpoints.sendMessage":           {key: noKey, params: p(ari.Params{"to": "pjsip:alice", "from": "sip:demo", "body": "hi"}), allow: []int{400, 404}},
		"endpoints.refer":                 {key: noKey, params: p(ari.Params{"to": "pjsip:alice", "from": "sip:demo", "refer_to": "sip:bob"}), allow: []int{400, 404}},
		"endpoints.listByTech":            {key: noKey, params: p(ari.Params{"tech": "Local"}), allow: []int{404}},
		"endpoints.get":                   {key: func(f *fixture) Key { return f.c.Endpoint("PJSIP", "alice").Key() }, allow: []int{404}},
		"endpoints.sendMessageToEndpoint": {key: func(f *fixture) Key { return f.c.Endpoint("PJSIP", "alice").Key() }, params: p(ari.Params{"from": "sip:demo", "body": "hi"}), allow: []int{400, 404}},
		"endpoints.referToEndpoint":       {key: func(f *fixture) Key { return f.c.Endpoint("PJSIP", "alice").Key() }, params: p(ari.Params{"from": "sip:demo", "refer_to": "sip:bob"}), allow: []int{400, 404}},

		// channels
		"channels.list": {key: noKey},
		"channels.originate": {key: noKey, params: func(f *fixture) ari.Params {
			return ari.Params{"endpoint": "Local/echo@default", "app": testApp, "channelId": newID("orig")}
		}},
		"channels.create": {key: noKey, params: func(f *fixture) ari.Params {
			return ari.Params{"endpoint": "Local/echo@default", "app": testApp, "channelId": newID("create")}
		}},
		"channels.get":                {key: ch},
		"channels.originateWithId":    {key: newKey("channel", "origid"), params: p(ari.Params{"endpoint": "Local/echo@default", "app": testApp})},
		"channels.hangup":             {key: freshCh, params: p(ari.Params{"reason": "normal"})},
		"channels.continueInDialplan": {key: freshCh, params: p(ari.Params{"context": "default", "extension": "echo", "priority": 1})},
		"channels.move":               {key: freshCh, params: p(ari.Params{"app": "other"})},
		// Local channels cannot be redirected: Asterisk answers 422.
		"channels.redirect":     {key: freshCh, params: p(ari.Params{"endpoint": "Local/echo@default"}), allow: []int{422}},
		"channels.answer":       {key: ch},
		"channels.ring":         {key: ch},
		"channels.ringStop":     {key: ch},
		"channels.progress":     {key: ch},
		"channels.sendDTMF":     {key: ch, params: p(ari.Params{"dtmf": "1#", "between": 50})},
		"channels.mute":         {key: ch, params: p(ari.Params{"direction": "both"})},
		"channels.unmute":       {key: ch, params: p(ari.Params{"direction": "both"})},
		"channels.hold":         {key: ch},
		"channels.unhold":       {key: ch},
		"channels.startMoh":     {key: ch, params: p(ari.Params{"mohClass": "default"})},
		"channels.stopMoh":      {key: ch},
		"channels.startSilence": {key: ch},
		"channels.stopSilence":  {key: ch},
		"channels.play": {key: ch, params: func(*fixture) ari.Params {
			return ari.Params{"media": []string{"sound:beep"}, "playbackId": newID("pb")}
		}},
		"channels.playWithId": {key: ch, params: func(*fixture) ari.Params {
			return ari.Params{"media": []string{"sound:beep"}, "playbackId": newID("pb")}
		}},
		"channels.record": {key: freshCh, params: func(*fixture) ari.Params { return ari.Params{"name": newID("rec"), "format": "wav"} }},
		"channels.getChannelVar": {key: func(f *fixture) Key {
			h := f.channel()
			f.must(h.SetChannelVar(f.ctx(), &ChannelSetChannelVarParams{Variable: "FOO", Value: "bar"}))
			return h.Key()
		}, params: p(ari.Params{"variable": "FOO"})},
		"channels.setChannelVar":  {key: ch, params: p(ari.Params{"variable": "FOO", "value": "bar"})},
		"channels.getChannelVars": {key: ch, params: p(ari.Params{"variables": "FOO"})},
		"channels.setChannelVars": {key: ch, params: p(ari.Params{"variables": map[string]string{"A": "1", "B": "2"}})},
		"channels.snoopChannel": {key: ch, params: func(*fixture) ari.Params {
			return ari.Params{"app": testApp, "spy": "in", "snoopId": newID("snoop")}
		}},
		"channels.snoopChannelWithId": {key: ch, params: func(*fixture) ari.Params {
			return ari.Params{"app": testApp, "spy": "both", "snoopId": newID("snoop")}
		}},
		"channels.dial": {key: func(f *fixture) Key {
			h, err := f.c.Channels().Create(f.ctx(), &ChannelsCreateParams{Endpoint: "Local/echo@default", App: testApp, ChannelID: newID("dial")})
			f.must(err)
			f.st.wait(f.t, h.ID())
			return h.Key()
		}, params: p(ari.Params{"timeout": 10})},
		// Local channels have no RTP instance: 403 Unsupported channel type.
		"channels.rtpstatistics": {key: ch, allow: []int{403, 404}},
		"channels.externalMedia": {key: noKey, params: func(*fixture) ari.Params {
			return ari.Params{"app": testApp, "external_host": "127.0.0.1:40002", "format": "ulaw", "channelId": newID("em")}
		}},
		// Only PJSIP channels in a transfer can report progress.
		"channels.transfer_progress": {key: ch, params: p(ari.Params{"states": "channel_progress"}), allow: []int{400, 404, 409, 422, 501}},

		// bridges
		"bridges.list": {key: noKey},
		"bridges.create": {key: noKey, params: func(*fixture) ari.Params {
			return ari.Params{"type": "mixing", "bridgeId": newID("br"), "name": "conf"}
		}},
		"bridges.createWithId": {key: newKey("bridge", "brid"), params: p(ari.Params{"type": "mixing"})},
		"bridges.get":          {key: br},
		"bridges.destroy":      {key: freshBr},
		"bridges.getBridgeVar": {key: func(f *fixture) Key {
			b := f.sharedBridge()
			f.must(b.SetBridgeVar(f.ctx(), &BridgeSetBridgeVarParams{Variable: "BV", Value: "1"}))
			return b.Key()
		}, params: p(ari.Params{"variable": "BV"})},
		"bridges.setBridgeVar":  {key: br, params: p(ari.Params{"variable": "BV", "value": "1"})},
		"bridges.getBridgeVars": {key: br, params: p(ari.Params{"variables": "BV"})},
		"bridges.setBridgeVars": {key: br, params: p(ari.Params{"variables": map[string]string{"X": "1"}})},
		"bridges.addChannel": {key: freshBr, params: func(f *fixture) ari.Params {
			return ari.Params{"channel": []string{f.freshChannel().ID()}, "role": "participant"}
		}},
		"bridges.removeChannel": {key: func(f *fixture) Key {
			b := f.freshBridge()
			f.must(b.AddChannel(f.ctx(), &BridgeAddChannelParams{Channel: []string{f.freshChannel().ID()}}))
			return b.Key()
		}, params: func(f *fixture) ari.Params {
			bd, err := f.c.BridgeFromKey(f.lastKey).Get(f.ctx())
			f.must(err)
			return ari.Params{"channel": bd.Channels}
		}},
		// Asterisk refuses video sources on bridges with audio-only channels: 422.
		"bridges.setVideoSource":   {key: br, params: func(f *fixture) ari.Params { return ari.Params{"channelId": f.channel().ID()} }, allow: []int{422}},
		"bridges.clearVideoSource": {key: br},
		"bridges.startMoh":         {key: freshBr, params: p(ari.Params{"mohClass": "default"})},
		"bridges.stopMoh": {key: func(f *fixture) Key {
			b := f.freshBridge()
			f.must(b.StartMOH(f.ctx(), nil))
			return b.Key()
		}},
		"bridges.play": {key: br, params: func(*fixture) ari.Params {
			return ari.Params{"media": []string{"sound:beep"}, "playbackId": newID("bpb")}
		}},
		"bridges.playWithId": {key: br, params: func(*fixture) ari.Params {
			return ari.Params{"media": []string{"sound:beep"}, "playbackId": newID("bpb")}
		}},
		"bridges.record": {key: br, params: func(*fixture) ari.Params { return ari.Params{"name": newID("brec"), "format": "wav"} }},

		// recordings
		"recordings.listStored":    {key: noKey},
		"recordings.getStored":     {key: func(f *fixture) Key { return f.storedRecording().Key() }},
		"recordings.deleteStored":  {key: func(f *fixture) Key { return f.storedRecording().Key() }},
		"recordings.getStoredFile": {key: func(f *fixture) Key { return f.storedRecording().Key() }},
		"recordings.copyStored":    {key: func(f *fixture) Key { return f.storedRecording().Key() }, params: func(*fixture) ari.Params { return ari.Params{"destinationRecordingName": newID("copy")} }},
		"recordings.getLive":       {key: func(f *fixture) Key { return f.liveRecording().Key() }},
		"recordings.cancel":        {key: func(f *fixture) Key { return f.liveRecording().Key() }},
		"recordings.stop":          {key: func(f *fixture) Key { return f.liveRecording().Key() }},
		"recordings.pause":         {key: func(f *fixture) Key { return f.liveRecording().Key() }},
		"recordings.unpause": {key: func(f *fixture) Key {
			r := f.liveRecording()
			f.must(r.Pause(f.ctx()))
			return r.Key()
		}},
		"recordings.mute": {key: func(f *fixture) Key { return f.liveRecording().Key() }},
		"recordings.unmute": {key: func(f *fixture) Key {
			r := f.liveRecording()
			f.must(r.Mute(f.ctx()))
			return r.Key()
		}},

		// sounds
		"sounds.list": {key: noKey, params: p(ari.Params{"lang": "en"})},
		"sounds.get":  {key: func(f *fixture) Key { return f.c.Sound("beep").Key() }},

		// playbacks
		"playbacks.get":     {key: func(f *fixture) Key { return f.playback().Key() }},
		"playbacks.stop":    {key: func(f *fixture) Key { return f.playback().Key() }},
		"playbacks.control": {key: func(f *fixture) Key { return f.playback().Key() }, params: p(ari.Params{"operation": "pause"})},

		// device states
		"deviceStates.list":   {key: noKey},
		"deviceStates.get":    {key: func(f *fixture) Key { return f.deviceState().Key() }},
		"deviceStates.update": {key: func(f *fixture) Key { return f.c.DeviceState("Stasis:" + newID("dev")).Key() }, params: p(ari.Params{"deviceState": "BUSY"})},
		"deviceStates.delete": {key: func(f *fixture) Key { return f.deviceState().Key() }},

		// mailboxes
		"mailboxes.list":   {key: noKey},
		"mailboxes.get":    {key: func(f *fixture) Key { return f.mailbox().Key() }},
		"mailboxes.update": {key: func(f *fixture) Key { return f.c.Mailbox(newID("mb") + "@default").Key() }, params: p(ari.Params{"oldMessages": 3, "newMessages": 4})},
		"mailboxes.delete": {key: func(f *fixture) Key { return f.mailbox().Key() }},

		// events
		"events.userEvent": {key: noKey, params: func(f *fixture) ari.Params {
			return ari.Params{"eventName": "custom", "application": testApp, "source": []string{"channel:" + f.channel().ID()}, "variables": map[string]string{"k": "v"}}
		}},
		// The shared channel is already in the application: nothing to claim.
		"events.claimChannel": {key: noKey, params: func(f *fixture) ari.Params {
			return ari.Params{"channelId": f.channel().ID(), "application": testApp}
		}, allow: []int{404, 409, 422}},

		// applications
		"applications.list": {key: noKey},
		"applications.get":  {key: func(f *fixture) Key { return f.c.Application(testApp).Key() }},
		"applications.subscribe": {key: func(f *fixture) Key { return f.c.Application(testApp).Key() }, params: func(f *fixture) ari.Params {
			return ari.Params{"eventSource": []string{"deviceState:" + f.deviceState().ID()}}
		}},
		"applications.unsubscribe": {key: func(f *fixture) Key {
			a := f.c.Application(testApp)
			d := f.deviceState()
			f.lastParams = ari.Params{"eventSource": []string{"deviceState:" + d.ID()}}
			f.must(a.SubscribeEventSource(f.ctx(), &ApplicationSubscribeEventSourceParams{EventSource: []string{"deviceState:" + d.ID()}}))
			return a.Key()
		}, params: func(f *fixture) ari.Params { return f.lastParams }},
		"applications.filter": {key: func(f *fixture) Key { return f.c.Application(testApp).Key() }, params: p(ari.Params{"filter": map[string]any{"allowed": []any{map[string]any{"type": "StasisStart"}}}})},
	}
}

// TestEveryOperation calls every ARI operation through its generated
// method against a simulator, behind a real server and bus: each must reach
// Asterisk and get its answer, a success or an error Asterisk gives in that
// state.
func TestEveryOperation(t *testing.T) { bustest.ForEachTransport(t, testEveryOperation) }

func testEveryOperation(t *testing.T, tr bustest.Transport) {
	e := newEnvOn(t, tr, 1, arisim.Config{Mailboxes: true})
	c := e.client(t)
	f := &fixture{t: t, c: c, st: watchStasis(t, c)}
	cases := opCases()

	var refused []string
	for _, op := range ari.Operations {
		if op.WebSocket {
			continue
		}
		t.Run(op.ID, func(t *testing.T) {
			call, ok := typedCalls[op.ID]
			if !ok {
				t.Fatalf("no generated method for %s", op.ID)
			}
			tc, ok := cases[op.ID]
			if !ok {
				t.Fatalf("no test case for %s: add one to opCases", op.ID)
			}
			f.t = t
			key := tc.key(f)
			f.lastKey = key
			var params ari.Params
			if tc.params != nil {
				params = tc.params(f)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := call(ctx, c, key, params)
			if err == nil {
				if res == nil && wire.KindForOp(op.ID).Result.Shape != wire.ShapeNone {
					t.Errorf("%s: nil result", op.ID)
				}
				return
			}
			var we *Error
			if !errors.As(err, &we) || we.Status == 0 {
				t.Fatalf("%s: no answer from Asterisk: %v", op.ID, err)
			}
			if !slices.Contains(tc.allow, we.Status) {
				t.Fatalf("%s: ARI %d: %v (detail %q)", op.ID, we.Status, err, we.Detail)
			}
			refused = append(refused, op.ID)
		})
	}
	t.Logf("answered with an allowed ARI error: %v", refused)
	for id := range cases {
		if ari.Lookup(id) == nil {
			t.Errorf("test case for unknown operation %s", id)
		}
	}
}
