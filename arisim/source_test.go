package arisim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sourceCase is one branch of an Asterisk 22 handler (res/ari/resource_*.c
// and what it calls): the request and the status and message the branch
// answers. docs/conformance.md lists each under its operation.
type sourceCase struct {
	name         string // operation id / branch
	method, path string
	query        string
	body         string // JSON, "" for none
	status       int
	message      string // the {"message": ...} of an error; "" to skip
}

// sourceFixture is a simulator with application demo, a channel c1 in
// Stasis (Up), a created channel down in Stasis (Down), a channel plain not
// in Stasis, a bridge b1, the device Stasis:dev1 and a stored recording.
func sourceFixture(t *testing.T) (*Sim, *wsClient) {
	t.Helper()
	s := testSim(t, Config{})
	ws := dialEvents(t, s, "app=demo")
	originateInStasis(t, s, ws, "c1")
	if st, body := call(t, s, "POST", "/channels/create", "endpoint=Local/echo@default&app=demo&channelId=down", nil); st != 200 {
		t.Fatalf("create: %d %s", st, body)
	}
	ws.waitType(t, "StasisStart", "down")
	if st, body := call(t, s, "POST", "/channels", "endpoint=Local/echo@default&extension=echo&channelId=plain", nil); st != 200 {
		t.Fatalf("originate plain: %d %s", st, body)
	}
	if st, body := call(t, s, "POST", "/bridges/b1", "type=mixing", nil); st != 200 {
		t.Fatalf("bridge: %d %s", st, body)
	}
	if st, body := call(t, s, "PUT", "/deviceStates/Stasis:dev1", "deviceState=BUSY", nil); st != 204 {
		t.Fatalf("device state: %d %s", st, body)
	}
	s.mu.Lock()
	s.state.storedSeq++
	s.state.storedRecs["rec1"] = &storedRecording{name: "rec1", format: "wav", length: time.Second, seq: s.state.storedSeq}
	s.mu.Unlock()
	return s, ws
}

// TestSourceErrorBranches drives every operation through the error
// branches its Asterisk handler has, in the handler's order, and checks
// status and message. Success paths and events are in the other tests
// named in docs/conformance.md.
func TestSourceErrorBranches(t *testing.T) {
	s, _ := sourceFixture(t)
	long := strings.Repeat("x", 150) // AST_MAX_PUBLIC_UNIQUEID is 149
	for _, tc := range []sourceCase{
		// asterisk (resource_asterisk.c)
		{name: "asterisk.getObject/configClass", method: "GET", path: "/asterisk/config/dynamic/res_pjsip/endpoint/x", status: 404, message: "configClass 'res_pjsip' not found"},
		{name: "asterisk.updateObject/configClass", method: "PUT", path: "/asterisk/config/dynamic/res_pjsip/endpoint/x", status: 404, message: "configClass 'res_pjsip' not found"},
		{name: "asterisk.deleteObject/configClass", method: "DELETE", path: "/asterisk/config/dynamic/res_pjsip/endpoint/x", status: 404, message: "configClass 'res_pjsip' not found"},
		{name: "asterisk.getInfo/unknown-section-ignored", method: "GET", path: "/asterisk/info", query: "only=nope", status: 200},
		{name: "asterisk.ping", method: "GET", path: "/asterisk/ping", status: 200},
		{name: "asterisk.listModules", method: "GET", path: "/asterisk/modules", status: 200},
		{name: "asterisk.getModule/not-running", method: "GET", path: "/asterisk/modules/nope.so", status: 404, message: "Module could not be found in running modules"},
		{name: "asterisk.loadModule/already-loaded", method: "POST", path: "/asterisk/modules/res_ari.so", status: 409, message: "Module is already loaded"},
		{name: "asterisk.loadModule/declined", method: "POST", path: "/asterisk/modules/nope.so", status: 409, message: "Module load declined"},
		{name: "asterisk.unloadModule/not-running", method: "DELETE", path: "/asterisk/modules/nope.so", status: 404, message: "Module not found in running modules"},
		{name: "asterisk.reloadModule/not-running", method: "PUT", path: "/asterisk/modules/nope.so", status: 404, message: "Module not found in running modules"},
		{name: "asterisk.listLogChannels", method: "GET", path: "/asterisk/logging", status: 200},
		{name: "asterisk.addLog/no-levels", method: "POST", path: "/asterisk/logging/newlog", status: 400, message: "Configuration levels are required"},
		{name: "asterisk.addLog/exists", method: "POST", path: "/asterisk/logging/console", query: "configuration=notice", status: 409, message: "Log channel already exists"},
		{name: "asterisk.deleteLog/missing", method: "DELETE", path: "/asterisk/logging/nope", status: 404, message: "Log channel does not exist"},
		{name: "asterisk.rotateLog/missing", method: "PUT", path: "/asterisk/logging/nope/rotate", status: 404, message: "Log channel does not exist"},
		{name: "asterisk.getGlobalVar/no-name", method: "GET", path: "/asterisk/variable", status: 400, message: "Variable name is required"},
		{name: "asterisk.getGlobalVar/unset-is-empty", method: "GET", path: "/asterisk/variable", query: "variable=NOPE", status: 200},
		{name: "asterisk.setGlobalVar/no-name", method: "POST", path: "/asterisk/variable", status: 400, message: "Variable name is required"},

		// endpoints (resource_endpoints.c): no channel driver loaded
		{name: "endpoints.list", method: "GET", path: "/endpoints", status: 200},
		{name: "endpoints.listByTech/unknown", method: "GET", path: "/endpoints/PJSIP", status: 404, message: "No Endpoints found - invalid tech PJSIP"},
		{name: "endpoints.get/unknown", method: "GET", path: "/endpoints/PJSIP/alice", status: 404, message: "Endpoint not found"},
		{name: "endpoints.sendMessage/bad-variables", method: "PUT", path: "/endpoints/sendMessage", query: "to=pjsip:a&from=b", body: `{"variables":{"a":1}}`, status: 400, message: "Only string values in the 'variables' object allowed"},
		{name: "endpoints.sendMessage/no-endpoint", method: "PUT", path: "/endpoints/sendMessage", query: "to=pjsip:a&from=b", status: 404, message: "Endpoint not found"},
		{name: "endpoints.sendMessage/no-to", method: "PUT", path: "/endpoints/sendMessage", query: "from=b", status: 400, message: "To must be specified"},
		{name: "endpoints.sendMessageToEndpoint/no-endpoint", method: "PUT", path: "/endpoints/PJSIP/alice/sendMessage", query: "from=b", status: 404, message: "Endpoint not found"},
		{name: "endpoints.sendMessageToEndpoint/endpoint-before-variables", method: "PUT", path: "/endpoints/PJSIP/alice/sendMessage", query: "from=b", body: `{"variables":{"a":1}}`, status: 404, message: "Endpoint not found"},
		{name: "endpoints.refer/no-endpoint", method: "POST", path: "/endpoints/refer", query: "to=pjsip:a&from=b&refer_to=c", status: 404, message: "Endpoint not found"},
		{name: "endpoints.referToEndpoint/no-endpoint", method: "POST", path: "/endpoints/PJSIP/alice/refer", query: "from=b&refer_to=c", status: 404, message: "Endpoint not found"},

		// channels (resource_channels.c)
		{name: "channels.list", method: "GET", path: "/channels", status: 200},
		{name: "channels.get/unknown", method: "GET", path: "/channels/nope", status: 404, message: "Channel not found"},
		{name: "channels.originate/id-too-long", method: "POST", path: "/channels", query: "endpoint=Local/echo@default&app=demo&channelId=" + long, status: 400, message: "Uniqueid length exceeds maximum of 149"},
		{name: "channels.originate/no-endpoint", method: "POST", path: "/channels", query: "app=demo", status: 400, message: "Endpoint must be specified"},
		{name: "channels.originate/originator-and-formats", method: "POST", path: "/channels", query: "endpoint=Local/echo@default&app=demo&originator=c1&formats=ulaw", status: 400, message: "Originator and formats can't both be specified"},
		{name: "channels.originate/invalid-endpoint", method: "POST", path: "/channels", query: "endpoint=Local&app=demo", status: 400, message: "Invalid endpoint specified"},
		{name: "channels.originate/label-not-found", method: "POST", path: "/channels", query: "endpoint=Local/echo@default&extension=echo&label=nope", status: 404, message: "Requested label can not be found"},
		{name: "channels.originate/label-priority-zero", method: "POST", path: "/channels", query: "endpoint=Local/echo@default&extension=echo&label=0", status: 400, message: "Requested priority is illegal"},
		{name: "channels.originate/no-app-or-extension", method: "POST", path: "/channels", query: "endpoint=Local/echo@default", status: 400, message: "Application or extension must be specified"},
		{name: "channels.originate/unknown-originator", method: "POST", path: "/channels", query: "endpoint=Local/echo@default&app=demo&originator=nope", status: 400, message: "Provided originator channel was not found"},
		{name: "channels.originate/unknown-format", method: "POST", path: "/channels", query: "endpoint=Local/echo@default&app=demo&formats=nope", status: 400, message: "Provided format (nope) was not found"},
		{name: "channels.originate/bad-variables", method: "POST", path: "/channels", query: "endpoint=Local/echo@default&app=demo", body: `{"variables":{"A":1}}`, status: 400, message: "Only string values in the 'variables' object allowed"},
		{name: "channels.originateWithId/id-exists", method: "POST", path: "/channels/c1", query: "endpoint=Local/echo@default&app=demo", status: 409, message: "Channel with given unique ID already exists"},
		{name: "channels.create/originator-and-formats", method: "POST", path: "/channels/create", query: "endpoint=Local/echo@default&app=demo&originator=c1&formats=ulaw", status: 400, message: "Originator and formats can't both be specified"},
		{name: "channels.create/no-endpoint", method: "POST", path: "/channels/create", query: "app=demo", status: 400, message: "Endpoint must be specified"},
		{name: "channels.create/invalid-endpoint", method: "POST", path: "/channels/create", query: "endpoint=Local/&app=demo", status: 400, message: "Invalid endpoint specified"},
		{name: "channels.create/id-exists", method: "POST", path: "/channels/create", query: "endpoint=Local/echo@default&app=demo&channelId=c1", status: 409, message: "Channel with given unique ID already exists"},
		{name: "channels.hangup/unknown", method: "DELETE", path: "/channels/nope", status: 404, message: "Channel not found"},
		{name: "channels.hangup/reason-and-code", method: "DELETE", path: "/channels/c1", query: "reason=busy&reason_code=17", status: 400, message: "The reason and reason_code can't both be specified"},
		{name: "channels.hangup/bad-code", method: "DELETE", path: "/channels/c1", query: "reason_code=x", status: 400, message: "Invalid reason for hangup reason code provided"},
		{name: "channels.hangup/bad-reason", method: "DELETE", path: "/channels/c1", query: "reason=nope", status: 400, message: "Invalid reason for hangup reason provided"},
		{name: "channels.continueInDialplan/not-in-stasis", method: "POST", path: "/channels/plain/continue", status: 409, message: "Channel not in Stasis application"},
		{name: "channels.continueInDialplan/invalid-state", method: "POST", path: "/channels/down/continue", status: 412, message: "Channel in invalid state"},
		{name: "channels.continueInDialplan/label-not-found", method: "POST", path: "/channels/c1/continue", query: "label=nope", status: 404, message: "Requested label can not be found"},
		{name: "channels.continueInDialplan/label-zero", method: "POST", path: "/channels/c1/continue", query: "label=0x", status: 400, message: "Requested priority is illegal"},
		{name: "channels.move/unknown", method: "POST", path: "/channels/nope/move", query: "app=other", status: 404, message: "Channel not found"},
		{name: "channels.move/not-in-stasis", method: "POST", path: "/channels/plain/move", query: "app=other", status: 409, message: "Channel not in Stasis application"},
		{name: "channels.redirect/invalid-state", method: "POST", path: "/channels/down/redirect", query: "endpoint=Local/x", status: 412, message: "Channel in invalid state"},
		{name: "channels.redirect/no-endpoint", method: "POST", path: "/channels/c1/redirect", status: 400, message: "Required parameter 'endpoint' not provided."},
		{name: "channels.redirect/no-tech", method: "POST", path: "/channels/c1/redirect", query: "endpoint=x", status: 422, message: "Endpoint parameter 'x' does not contain tech/resource"},
		{name: "channels.redirect/no-resource", method: "POST", path: "/channels/c1/redirect", query: "endpoint=Local/", status: 422, message: "No resource provided in endpoint parameter 'Local/'"},
		{name: "channels.redirect/tech-mismatch", method: "POST", path: "/channels/c1/redirect", query: "endpoint=PJSIP/x", status: 422, message: "Endpoint technology 'PJSIP' does not match channel technology 'Local'"},
		{name: "channels.answer/unknown", method: "POST", path: "/channels/nope/answer", status: 404, message: "Channel not found"},
		{name: "channels.answer/invalid-state", method: "POST", path: "/channels/down/answer", status: 412, message: "Channel in invalid state"},
		{name: "channels.ring/not-in-stasis", method: "POST", path: "/channels/plain/ring", status: 409, message: "Channel not in Stasis application"},
		{name: "channels.ringStop/invalid-state", method: "DELETE", path: "/channels/down/ring", status: 412, message: "Channel in invalid state"},
		{name: "channels.progress/invalid-state", method: "POST", path: "/channels/down/progress", status: 412, message: "Channel in invalid state"},
		{name: "channels.sendDTMF/no-digits", method: "POST", path: "/channels/c1/dtmf", status: 400, message: "DTMF is required"},
		{name: "channels.sendDTMF/invalid-state", method: "POST", path: "/channels/down/dtmf", query: "dtmf=1", status: 412, message: "Channel in invalid state"},
		{name: "channels.mute/no-direction", method: "POST", path: "/channels/c1/mute", query: "direction=", status: 400, message: "Direction is required"},
		{name: "channels.mute/bad-direction", method: "POST", path: "/channels/c1/mute", query: "direction=up", status: 400, message: "Invalid direction specified"},
		{name: "channels.unmute/bad-direction", method: "DELETE", path: "/channels/c1/mute", query: "direction=up", status: 400, message: "Invalid direction specified"},
		{name: "channels.hold/not-in-stasis", method: "POST", path: "/channels/plain/hold", status: 409, message: "Channel not in Stasis application"},
		{name: "channels.unhold/invalid-state", method: "DELETE", path: "/channels/down/hold", status: 412, message: "Channel in invalid state"},
		{name: "channels.startMoh/invalid-state", method: "POST", path: "/channels/down/moh", status: 412, message: "Channel in invalid state"},
		{name: "channels.stopMoh/unknown", method: "DELETE", path: "/channels/nope/moh", status: 404, message: "Channel not found"},
		{name: "channels.startSilence/invalid-state", method: "POST", path: "/channels/down/silence", status: 412, message: "Channel in invalid state"},
		{name: "channels.stopSilence/not-in-stasis", method: "DELETE", path: "/channels/plain/silence", status: 409, message: "Channel not in Stasis application"},
		{name: "channels.play/invalid-state", method: "POST", path: "/channels/down/play", query: "media=sound:beep", status: 412, message: "Channel in invalid state"},
		{name: "channels.play/negative-skipms", method: "POST", path: "/channels/c1/play", query: "media=sound:beep&skipms=-1", status: 400, message: "skipms cannot be negative"},
		{name: "channels.play/negative-offsetms", method: "POST", path: "/channels/c1/play", query: "media=sound:beep&offsetms=-1", status: 400, message: "offsetms cannot be negative"},
		{name: "channels.playWithId/not-in-stasis", method: "POST", path: "/channels/plain/play/p1", query: "media=sound:beep", status: 409, message: "Channel not in Stasis application"},
		{name: "channels.record/negative-duration", method: "POST", path: "/channels/c1/record", query: "name=r&format=wav&maxDurationSeconds=-1", status: 400, message: "max_duration_seconds cannot be negative"},
		{name: "channels.record/negative-silence", method: "POST", path: "/channels/c1/record", query: "name=r&format=wav&maxSilenceSeconds=-1", status: 400, message: "max_silence_seconds cannot be negative"},
		{name: "channels.record/not-in-stasis", method: "POST", path: "/channels/plain/record", query: "name=r&format=wav", status: 409, message: "Channel not in Stasis application"},
		{name: "channels.record/bad-terminateOn", method: "POST", path: "/channels/c1/record", query: "name=r&format=wav&terminateOn=x", status: 400, message: "terminateOn invalid"},
		{name: "channels.record/bad-ifExists", method: "POST", path: "/channels/c1/record", query: "name=r&format=wav&ifExists=x", status: 400, message: "ifExists invalid"},
		{name: "channels.record/unknown-format", method: "POST", path: "/channels/c1/record", query: "name=r&format=nope", status: 422, message: "specified format is unknown on this system"},
		{name: "channels.record/exists", method: "POST", path: "/channels/c1/record", query: "name=rec1&format=wav&ifExists=fail", status: 409, message: "Recording 'rec1' already exists and can not be overwritten"},
		{name: "channels.getChannelVar/no-name", method: "GET", path: "/channels/c1/variable", status: 400, message: "Variable name is required"},
		{name: "channels.getChannelVar/unknown-channel", method: "GET", path: "/channels/nope/variable", query: "variable=X", status: 404, message: "Provided channel was not found"},
		{name: "channels.getChannelVar/unset", method: "GET", path: "/channels/c1/variable", query: "variable=NOPE", status: 404, message: "Provided variable was not found"},
		{name: "channels.setChannelVar/no-name", method: "POST", path: "/channels/c1/variable", status: 400, message: "Variable name is required"},
		{name: "channels.setChannelVar/not-in-stasis", method: "POST", path: "/channels/plain/variable", query: "variable=X&value=1", status: 409, message: "Channel not in Stasis application"},
		{name: "channels.getChannelVars/none", method: "GET", path: "/channels/c1/variables", status: 400, message: "At least one variable name is required"},
		{name: "channels.getChannelVars/unknown-channel", method: "GET", path: "/channels/nope/variables", query: "variables=A", status: 404, message: "Provided channel was not found"},
		{name: "channels.setChannelVars/no-variables", method: "POST", path: "/channels/c1/variables", body: `{}`, status: 400, message: "The 'variables' field is required"},
		{name: "channels.setChannelVars/not-object", method: "POST", path: "/channels/c1/variables", body: `{"variables":[1]}`, status: 400, message: "The 'variables' field must be a JSON object"},
		{name: "channels.snoopChannel/bad-spy", method: "POST", path: "/channels/c1/snoop", query: "spy=up&app=demo", status: 400, message: "Invalid direction specified for spy"},
		{name: "channels.snoopChannel/bad-whisper", method: "POST", path: "/channels/c1/snoop", query: "whisper=up&app=demo", status: 400, message: "Invalid direction specified for whisper"},
		{name: "channels.snoopChannel/no-direction", method: "POST", path: "/channels/c1/snoop", query: "app=demo", status: 400, message: "Direction must be specified for at least spy or whisper"},
		{name: "channels.snoopChannel/no-app", method: "POST", path: "/channels/c1/snoop", query: "spy=in", status: 400, message: "Application name is required"},
		{name: "channels.snoopChannelWithId/unknown-channel", method: "POST", path: "/channels/nope/snoop/s1", query: "spy=in&app=demo", status: 404, message: "Provided channel was not found"},
		{name: "channels.dial/not-in-stasis", method: "POST", path: "/channels/plain/dial", status: 409, message: "Channel not in Stasis application"},
		{name: "channels.dial/not-down", method: "POST", path: "/channels/c1/dial", status: 409, message: "Channel is not in the 'Down' state"},
		{name: "channels.rtpstatistics/unknown", method: "GET", path: "/channels/nope/rtp_statistics", status: 404, message: "Channel not found"},
		{name: "channels.rtpstatistics/no-rtp-glue", method: "GET", path: "/channels/c1/rtp_statistics", status: 403, message: "Unsupported channel type"},
		{name: "channels.externalMedia/no-app", method: "POST", path: "/channels/externalMedia", query: "external_host=127.0.0.1:9&format=ulaw", status: 400, message: "app cannot be empty"},
		{name: "channels.externalMedia/no-host", method: "POST", path: "/channels/externalMedia", query: "app=demo&format=ulaw", status: 400, message: "external_host cannot be empty"},
		{name: "channels.externalMedia/host-without-port", method: "POST", path: "/channels/externalMedia", query: "app=demo&external_host=127.0.0.1&format=ulaw", status: 400, message: "external_host must be <host>:<port>"},
		{name: "channels.externalMedia/unsupported-transport", method: "POST", path: "/channels/externalMedia", query: "app=demo&external_host=127.0.0.1:9&format=ulaw&encapsulation=rtp&transport=tcp", status: 501, message: "The encapsulation and/or transport is not supported"},
		{name: "channels.externalMedia/no-format", method: "POST", path: "/channels/externalMedia", query: "app=demo&external_host=127.0.0.1:9", status: 400, message: "format cannot be empty"},
		{name: "channels.externalMedia/audiosocket-no-data", method: "POST", path: "/channels/externalMedia", query: "app=demo&external_host=127.0.0.1:9&format=ulaw&encapsulation=audiosocket&transport=tcp", status: 400, message: "data can not be empty"},
		{name: "channels.transfer_progress/invalid-state", method: "POST", path: "/channels/down/transfer_progress", query: "states=channel_answered", status: 412, message: "Channel in invalid state"},
		{name: "channels.transfer_progress/no-states", method: "POST", path: "/channels/c1/transfer_progress", status: 400, message: "States must be specified"},

		// bridges (resource_bridges.c)
		{name: "bridges.list", method: "GET", path: "/bridges", status: 200},
		{name: "bridges.create/bad-type", method: "POST", path: "/bridges", query: "type=nope", status: 500, message: "Unable to create bridge. Possible duplicate bridge id '(null)'"},
		{name: "bridges.createWithId/bad-type", method: "POST", path: "/bridges/b2", query: "type=nope", status: 500, message: "Unable to create bridge"},
		{name: "bridges.createWithId/exists", method: "POST", path: "/bridges/b1", status: 409, message: "Bridge with id 'b1' already exists"},
		{name: "bridges.get/unknown", method: "GET", path: "/bridges/nope", status: 404, message: "Bridge not found"},
		{name: "bridges.destroy/unknown", method: "DELETE", path: "/bridges/nope", status: 404, message: "Bridge not found"},
		{name: "bridges.addChannel/unknown-bridge", method: "POST", path: "/bridges/nope/addChannel", query: "channel=c1", status: 404, message: "Bridge not found"},
		{name: "bridges.addChannel/no-channel", method: "POST", path: "/bridges/b1/addChannel", query: "channel=", status: 400, message: "Missing parameter channel"},
		{name: "bridges.addChannel/unknown-channel", method: "POST", path: "/bridges/b1/addChannel", query: "channel=nope", status: 400, message: "Channel not found"},
		{name: "bridges.addChannel/not-in-stasis", method: "POST", path: "/bridges/b1/addChannel", query: "channel=plain", status: 422, message: "Channel not in Stasis application"},
		{name: "bridges.removeChannel/not-in-bridge", method: "POST", path: "/bridges/b1/removeChannel", query: "channel=c1", status: 422, message: "Channel not in this bridge"},
		{name: "bridges.removeChannel/no-channel", method: "POST", path: "/bridges/b1/removeChannel", status: 400, message: "Missing parameter channel"},
		{name: "bridges.setVideoSource/not-in-bridge", method: "POST", path: "/bridges/b1/videoSource/c1", status: 422, message: "Channel not in this bridge"},
		{name: "bridges.setVideoSource/unknown-channel", method: "POST", path: "/bridges/b1/videoSource/nope", status: 400, message: "Channel not found"},
		{name: "bridges.clearVideoSource/unknown", method: "DELETE", path: "/bridges/nope/videoSource", status: 404, message: "Bridge not found"},
		{name: "bridges.startMoh/unknown", method: "POST", path: "/bridges/nope/moh", status: 404, message: "Bridge not found"},
		{name: "bridges.stopMoh/not-playing", method: "DELETE", path: "/bridges/b1/moh", status: 409, message: "Bridge isn't playing music"},
		{name: "bridges.play/bad-announcer-format", method: "POST", path: "/bridges/b1/play", query: "media=sound:beep&announcer_format=nope", status: 422, message: "specified announcer_format is unknown on this system"},
		{name: "bridges.playWithId/unknown", method: "POST", path: "/bridges/nope/play/p1", query: "media=sound:beep", status: 404, message: "Bridge not found"},
		{name: "bridges.record/unknown-format", method: "POST", path: "/bridges/b1/record", query: "name=r&format=nope", status: 422, message: "specified format is unknown on this system"},
		{name: "bridges.record/bad-recorder-format", method: "POST", path: "/bridges/b1/record", query: "name=r&format=wav&recorder_format=nope", status: 422, message: "specified recorder_format is unknown on this system"},
		{name: "bridges.getBridgeVar/no-name", method: "GET", path: "/bridges/b1/variable", status: 400, message: "Variable name is required"},
		{name: "bridges.getBridgeVar/unset", method: "GET", path: "/bridges/b1/variable", query: "variable=NOPE", status: 404, message: "Provided variable was not found"},
		{name: "bridges.setBridgeVar/no-name", method: "POST", path: "/bridges/b1/variable", status: 400, message: "Variable name is required"},
		{name: "bridges.getBridgeVars/none", method: "GET", path: "/bridges/b1/variables", status: 400, message: "At least one variable name is required"},
		{name: "bridges.getBridgeVars/unknown", method: "GET", path: "/bridges/nope/variables", query: "variables=A", status: 404, message: "Provided bridge was not found"},
		{name: "bridges.setBridgeVars/no-body", method: "POST", path: "/bridges/b1/variables", status: 400, message: "The 'variables' field is required"},
		{name: "bridges.setBridgeVars/no-member", method: "POST", path: "/bridges/b1/variables", body: `{}`, status: 400, message: "The 'variables' field must be a JSON object"},
		{name: "bridges.setBridgeVars/not-object", method: "POST", path: "/bridges/b1/variables", body: `{"variables":"x"}`, status: 400, message: "The 'variables' field must be a JSON object"},

		// recordings (resource_recordings.c)
		{name: "recordings.listStored", method: "GET", path: "/recordings/stored", status: 200},
		{name: "recordings.getStored/unknown", method: "GET", path: "/recordings/stored/nope", status: 404, message: "Recording not found"},
		{name: "recordings.deleteStored/unknown", method: "DELETE", path: "/recordings/stored/nope", status: 404, message: "Recording not found"},
		{name: "recordings.getStoredFile/unknown", method: "GET", path: "/recordings/stored/nope/file", status: 404, message: "Recording not found"},
		{name: "recordings.copyStored/unknown", method: "POST", path: "/recordings/stored/nope/copy", query: "destinationRecordingName=x", status: 404, message: "Recording not found"},
		{name: "recordings.copyStored/exists", method: "POST", path: "/recordings/stored/rec1/copy", query: "destinationRecordingName=rec1", status: 409, message: "A recording with the same name already exists on the system"},
		{name: "recordings.getLive/unknown", method: "GET", path: "/recordings/live/nope", status: 404, message: "Recording not found"},
		{name: "recordings.cancel/unknown", method: "DELETE", path: "/recordings/live/nope", status: 404, message: "Recording not found"},
		{name: "recordings.stop/unknown", method: "POST", path: "/recordings/live/nope/stop", status: 404, message: "Recording not found"},
		{name: "recordings.pause/unknown", method: "POST", path: "/recordings/live/nope/pause", status: 404, message: "Recording not found"},
		{name: "recordings.unpause/unknown", method: "DELETE", path: "/recordings/live/nope/pause", status: 404, message: "Recording not found"},
		{name: "recordings.mute/unknown", method: "POST", path: "/recordings/live/nope/mute", status: 404, message: "Recording not found"},
		{name: "recordings.unmute/unknown", method: "DELETE", path: "/recordings/live/nope/mute", status: 404, message: "Recording not found"},

		// sounds (resource_sounds.c), playbacks (resource_playbacks.c)
		{name: "sounds.list/no-match", method: "GET", path: "/sounds", query: "lang=xx", status: 404, message: "No sounds found that matched the query"},
		{name: "sounds.get/unknown", method: "GET", path: "/sounds/nope", status: 404, message: "Sound not found"},
		{name: "playbacks.get/unknown", method: "GET", path: "/playbacks/nope", status: 404, message: "Playback not found"},
		{name: "playbacks.stop/unknown", method: "DELETE", path: "/playbacks/nope", status: 404, message: "Playback not found"},
		{name: "playbacks.control/missing-operation", method: "POST", path: "/playbacks/nope/control", status: 400, message: "Missing operation"},
		{name: "playbacks.control/bad-operation-before-lookup", method: "POST", path: "/playbacks/nope/control", query: "operation=jump", status: 400, message: "Invalid operation jump"},
		{name: "playbacks.control/unknown", method: "POST", path: "/playbacks/nope/control", query: "operation=pause", status: 404, message: "Playback not found"},

		// deviceStates (resource_device_states.c, res_stasis_device_state.c)
		{name: "deviceStates.list", method: "GET", path: "/deviceStates", status: 200},
		{name: "deviceStates.get/any-name", method: "GET", path: "/deviceStates/SIP:nobody", status: 200},
		{name: "deviceStates.update/uncontrolled", method: "PUT", path: "/deviceStates/SIP:x", query: "deviceState=BUSY", status: 409, message: "Uncontrolled device specified"},
		{name: "deviceStates.update/no-name", method: "PUT", path: "/deviceStates/Stasis:", query: "deviceState=BUSY", status: 404, message: "Device name is missing"},
		{name: "deviceStates.update/unknown-state", method: "PUT", path: "/deviceStates/Stasis:dev1", query: "deviceState=UNKNOWN", status: 500, message: "Unknown device"},
		{name: "deviceStates.delete/uncontrolled", method: "DELETE", path: "/deviceStates/SIP:x", status: 409, message: "Uncontrolled device specified"},
		{name: "deviceStates.delete/no-name", method: "DELETE", path: "/deviceStates/Stasis:", status: 404, message: "Device name is missing"},
		{name: "deviceStates.delete/unknown-is-ok", method: "DELETE", path: "/deviceStates/Stasis:never", status: 204},

		// mailboxes: res_ari_mailboxes.so is not loaded
		{name: "mailboxes.list/module-not-loaded", method: "GET", path: "/mailboxes", status: 404, message: "Resource not found"},
		{name: "mailboxes.get/module-not-loaded", method: "GET", path: "/mailboxes/m1", status: 404, message: "Resource not found"},
		{name: "mailboxes.update/module-not-loaded", method: "PUT", path: "/mailboxes/m1", query: "oldMessages=1&newMessages=2", status: 404, message: "Resource not found"},
		{name: "mailboxes.delete/module-not-loaded", method: "DELETE", path: "/mailboxes/m1", status: 404, message: "Resource not found"},

		// events (resource_events.c, res_stasis.c stasis_app_user_event)
		{name: "events.userEvent/no-application", method: "POST", path: "/events/user/e", status: 400, message: "Missing parameter application"},
		{name: "events.userEvent/unknown-application", method: "POST", path: "/events/user/e", query: "application=nope", status: 404, message: "Application not found"},
		{name: "events.userEvent/bad-scheme", method: "POST", path: "/events/user/e", query: "application=demo&source=foo:1", status: 400, message: "Invalid event source URI scheme"},
		{name: "events.userEvent/deviceState-is-bad-scheme", method: "POST", path: "/events/user/e", query: "application=demo&source=deviceState:Stasis:dev1", status: 400, message: "Invalid event source URI scheme"},
		{name: "events.userEvent/in-order", method: "POST", path: "/events/user/e", query: "application=demo&source=channel:nope,foo:1", status: 422, message: "Event source was not found"},
		{name: "events.userEvent/source-not-found", method: "POST", path: "/events/user/e", query: "application=demo&source=bridge:nope", status: 422, message: "Event source was not found"},
		{name: "events.claimChannel/no-channelId", method: "POST", path: "/events/claim", query: "application=demo", status: 400, message: "channelId parameter is required"},
		{name: "events.claimChannel/no-application", method: "POST", path: "/events/claim", query: "channelId=c1", status: 400, message: "application parameter is required"},
		{name: "events.claimChannel/none-in-broadcast", method: "POST", path: "/events/claim", query: "channelId=c1&application=demo", status: 404, message: "Channel not found or not in broadcast state"},

		// applications (resource_applications.c, res_stasis.c)
		{name: "applications.list", method: "GET", path: "/applications", status: 200},
		{name: "applications.get/unknown", method: "GET", path: "/applications/nope", status: 404, message: "Application not found"},
		{name: "applications.subscribe/no-source", method: "POST", path: "/applications/demo/subscription", status: 400, message: "Missing parameter eventSource"},
		{name: "applications.subscribe/unknown-app", method: "POST", path: "/applications/nope/subscription", query: "eventSource=channel:c1", status: 404, message: "Application not found"},
		{name: "applications.subscribe/bad-scheme", method: "POST", path: "/applications/demo/subscription", query: "eventSource=foo:1", status: 400, message: "Invalid event source URI scheme"},
		{name: "applications.subscribe/not-found", method: "POST", path: "/applications/demo/subscription", query: "eventSource=bridge:nope", status: 422, message: "Event source does not exist"},
		{name: "applications.unsubscribe/no-source", method: "DELETE", path: "/applications/demo/subscription", status: 400, message: "Missing parameter eventSource"},
		{name: "applications.unsubscribe/not-subscribed", method: "DELETE", path: "/applications/demo/subscription", query: "eventSource=bridge:b1", status: 422, message: "Event source was not subscribed to"},
		{name: "applications.filter/unknown-app", method: "PUT", path: "/applications/nope/eventFilter", body: `{}`, status: 404, message: "Application not found"},
		{name: "applications.filter/bad-format", method: "PUT", path: "/applications/demo/eventFilter", body: `{"allowed":[{"nope":1}]}`, status: 400, message: "Invalid format definition"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = json.RawMessage(tc.body)
			}
			st, got := call(t, s, tc.method, tc.path, tc.query, body)
			if st != tc.status {
				t.Fatalf("%s %s?%s: status %d, want %d (%s)", tc.method, tc.path, tc.query, st, tc.status, got)
			}
			if tc.message == "" {
				return
			}
			var m struct{ Message string }
			_ = json.Unmarshal(got, &m)
			if m.Message != tc.message {
				t.Errorf("%s %s?%s: message %q, want %q", tc.method, tc.path, tc.query, m.Message, tc.message)
			}
		})
	}
}

// app_handle_subscriptions handles the sources in order: those before a
// failing one stay subscribed (or unsubscribed).
func TestSubscriptionIsPartialOnError(t *testing.T) {
	s, _ := sourceFixture(t)
	st, body := call(t, s, "POST", "/applications/demo/subscription", "eventSource=bridge:b1,bridge:nope", nil)
	if st != 422 {
		t.Fatalf("subscribe: %d %s", st, body)
	}
	_, body = call(t, s, "GET", "/applications/demo", "", nil)
	if !strings.Contains(string(body), `"bridge_ids":["b1"]`) {
		t.Fatalf("b1 not subscribed after the failing request: %s", body)
	}
	st, body = call(t, s, "DELETE", "/applications/demo/subscription", "eventSource=bridge:b1,foo:1", nil)
	if st != 400 {
		t.Fatalf("unsubscribe: %d %s", st, body)
	}
	_, body = call(t, s, "GET", "/applications/demo", "", nil)
	if strings.Contains(string(body), `"b1"`) {
		t.Fatalf("b1 still subscribed after the failing request: %s", body)
	}
}

// A numeric label is a priority even with trailing garbage, as
// sscanf("%30d") reads it.
func TestLabelIsScannedLikeSscanf(t *testing.T) {
	s, ws := sourceFixture(t)
	st, body := call(t, s, "POST", "/channels", "endpoint=Local/echo@default&extension=echo&label=1st&channelId=lab", nil)
	if st != 200 {
		t.Fatalf("originate with label 1st: %d %s", st, body)
	}
	if st, body := call(t, s, "POST", "/channels/c1/continue", "label=2nd", nil); st != 204 {
		t.Fatalf("continue with label 2nd: %d %s", st, body)
	}
	ws.waitType(t, "StasisEnd", "c1")
	for _, tc := range []struct {
		in   string
		n    int
		isOK bool
	}{{"12", 12, true}, {" -3x", -3, true}, {"+7", 7, true}, {"x1", 0, false}, {"", 0, false}, {"--1", 0, false}} {
		if n, ok := scanInt(tc.in); n != tc.n || ok != tc.isOK {
			t.Errorf("scanInt(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.n, tc.isOK)
		}
	}
}

// Once res_ari_mailboxes.so is loaded the resource answers with
// resource_mailboxes.c's messages.
func TestMailboxesLoaded(t *testing.T) {
	s := testSim(t, Config{})
	if st, body := call(t, s, "POST", "/asterisk/modules/res_ari_mailboxes.so", "", nil); st != 204 {
		t.Fatalf("load: %d %s", st, body)
	}
	for _, tc := range []sourceCase{
		{name: "mailboxes.get/missing", method: "GET", path: "/mailboxes/m1", status: 404, message: "Mailbox is does not exist"},
		{name: "mailboxes.delete/missing", method: "DELETE", path: "/mailboxes/m1", status: 404, message: "Mailbox does not exist"},
		{name: "mailboxes.update/creates", method: "PUT", path: "/mailboxes/m1", query: "oldMessages=1&newMessages=2", status: 204},
		{name: "mailboxes.get", method: "GET", path: "/mailboxes/m1", status: 200},
		{name: "mailboxes.list", method: "GET", path: "/mailboxes", status: 200},
		{name: "mailboxes.delete", method: "DELETE", path: "/mailboxes/m1", status: 204},
	} {
		st, body := call(t, s, tc.method, tc.path, tc.query, nil)
		var m struct{ Message string }
		_ = json.Unmarshal(body, &m)
		if st != tc.status || (tc.message != "" && m.Message != tc.message) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, st, body, tc.status, tc.message)
		}
	}
}

// The stored file's Content-Type is the format's media type and the file
// extension (ast_ari_recordings_get_stored_file).
func TestStoredFileContentType(t *testing.T) {
	s, _ := sourceFixture(t)
	s.mu.Lock()
	s.state.storedSeq++
	s.state.storedRecs["rec2"] = &storedRecording{name: "rec2", format: "gsm", length: time.Second, seq: s.state.storedSeq}
	s.mu.Unlock()
	for name, want := range map[string]string{"rec1": "audio/wav", "rec2": "audio/gsm"} {
		req, _ := http.NewRequest("GET", s.URL()+"/recordings/stored/"+name+"/file", nil)
		req.SetBasicAuth(s.user, s.password)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != want {
			t.Errorf("%s: %d %q, want 200 %q", name, res.StatusCode, res.Header.Get("Content-Type"), want)
		}
	}
}
