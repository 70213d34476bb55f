package wire

import (
	"github.com/ariproxy/ari-proxy/ari"
)

// Result constructors keep the table to one line per kind where possible.

// data: "data": {"<field>": <ARI body + "key" of kind, id from idField>}.
func data(field, kind, idField string) Result {
	return Result{Shape: ShapeData, DataField: field, Kind: kind, IDField: idField}
}

// key: "key": the entity found (id from the body's idField) or created (id
// from the ARI parameter idParam, which the client may choose).
func key(kind, idField, idParam string) Result {
	return Result{Shape: ShapeKey, Kind: kind, IDField: idField, IDParam: idParam}
}

// keys: "keys": one key of kind per element of ARI's list, id from idField.
func keys(kind, idField string) Result {
	return Result{Shape: ShapeKeys, Kind: kind, IDField: idField}
}

var (
	none     = Result{Shape: ShapeNone}
	variable = Result{Shape: ShapeVariable}
)

// recordBindings maps v5's record payload (the name and RecordingOptions:
// Go field names, no JSON tags; durations in nanoseconds) onto the record
// operations.
func recordBindings() []Binding {
	return []Binding{
		{Path: "name", Param: "name"},
		{Path: "options.Format", Param: "format"},
		{Path: "options.MaxDuration", Param: "maxDurationSeconds", Conv: ConvNsToSec},
		{Path: "options.MaxSilence", Param: "maxSilenceSeconds", Conv: ConvNsToSec},
		{Path: "options.Exists", Param: "ifExists"},
		{Path: "options.Beep", Param: "beep"},
		{Path: "options.Terminate", Param: "terminateOn"},
	}
}

func playBindings() []Binding {
	return []Binding{
		{Path: "playback_id", Param: "playbackId"},
		{Path: "media_uri", Param: "media"},
	}
}

func originateBindings() []Binding {
	var b []Binding
	// v5's OriginateRequest.Timeout is an int in seconds (corpus: "timeout": 10), not a Duration.
	for _, f := range []string{"endpoint", "timeout", "callerId", "context", "extension", "priority",
		"label", "app", "appArgs", "formats", "channelId", "otherChannelId", "originator", "variables"} {
		b = append(b, Binding{Path: "originate_request." + f, Param: f})
	}
	return b
}

func channelCreateBindings() []Binding {
	var b []Binding
	for _, f := range []string{"endpoint", "app", "appArgs", "channelId", "otherChannelId", "originator", "formats"} {
		b = append(b, Binding{Path: "channel_create_request." + f, Param: f})
	}
	return b
}

func snoopBindings() []Binding {
	return []Binding{
		{Path: "snoop_id", Param: "snoopId"},
		{Path: "options.app", Param: "app"},
		{Path: "options.appArgs", Param: "appArgs"},
		{Path: "options.spy", Param: "spy"},
		{Path: "options.whisper", Param: "whisper"},
	}
}

func externalMediaBindings() []Binding {
	var b []Binding
	for _, f := range []string{"channelId", "app", "external_host", "encapsulation", "transport",
		"connection_type", "format", "direction", "variables"} {
		b = append(b, Binding{Path: "options." + f, Param: f})
	}
	return b
}

// v5Kinds is the table of the request kinds a v5 server dispatches, mapped
// onto ARI operations. It is the documentation of the mapping:
//
//   - Name and Class: the kind and the class of subject v5 clients send it
//     on (as observed in the v5 corpus; Stage kinds that work on an existing
//     entity go on "get", as v5 clients send them).
//   - Op: the ARI operation. KeyKind/KeyParam: the request key names the
//     entity whose id fills KeyParam (EndpointData: key.id "PJSIP/alice" ->
//     tech, resource; AsteriskConfigData: "res_pjsip/endpoint/alice" ->
//     configClass, objectType, id).
//   - Field and Bindings: the payload object and how its values become
//     ARI parameters (durations: ns -> s or ms).
//   - Result: how the answer is shaped (see Result).
//   - Anything else of the operation travels in Request.Params (our
//     addition, ignored by v5 servers): e.g. BridgeAddChannel's
//     inhibitConnectedLineUpdates, ChannelHangup's reason_code.
//
// Kinds that v5 answers from data it already has: Stage* kinds (bind the
// dialog, answer the key the later real call will create, no ARI call) and
// *Subscribe/BridgeUnsubscribe (bind the dialog, Op "", ShapeNone).
var v5Kinds = []Kind{
	// Applications.
	{Name: "ApplicationData", Class: ClassData, Op: ari.OpApplicationsGet.Op(), KeyKind: "application", KeyParam: "applicationName", Result: data("application", "application", "name"), DataErr: "application"},
	{Name: "ApplicationGet", Class: ClassGet, Op: ari.OpApplicationsGet.Op(), KeyKind: "application", KeyParam: "applicationName", Result: key("application", "name", ""), DataErr: "application"},
	{Name: "ApplicationList", Class: ClassGet, Op: ari.OpApplicationsList.Op(), KeyKind: "application", Result: keys("application", "name")},
	{Name: "ApplicationSubscribe", Class: ClassCommand, Op: ari.OpApplicationsSubscribe.Op(), KeyKind: "application", KeyParam: "applicationName", Field: "application_subscribe",
		Bindings: []Binding{{Path: "event_source", Param: "eventSource"}}, Result: none},
	// v5 reuses the application_subscribe field for unsubscribe.
	{Name: "ApplicationUnsubscribe", Class: ClassCommand, Op: ari.OpApplicationsUnsubscribe.Op(), KeyKind: "application", KeyParam: "applicationName", Field: "application_subscribe",
		Bindings: []Binding{{Path: "event_source", Param: "eventSource"}}, Result: none},

	// Asterisk: dynamic configuration. The key id is "<configClass>/<objectType>/<id>".
	// ARI answers a list of tuples; v5 failed to decode it. We answer
	// data.config = {"key", "class", "type", "name", "fields": [tuples]}.
	{Name: "AsteriskConfigData", Class: ClassData, Op: ari.OpAsteriskGetObject.Op(), KeyKind: "config", KeyParam: "configClass/objectType/id", DataErr: "config",
		Result: Result{Shape: ShapeData, DataField: "config", Kind: "config", Wrap: "fields",
			WrapParams: []Binding{{Path: "class", Param: "configClass"}, {Path: "type", Param: "objectType"}, {Path: "name", Param: "id"}}}},
	{Name: "AsteriskConfigDelete", Class: ClassCommand, Op: ari.OpAsteriskDeleteObject.Op(), KeyKind: "config", KeyParam: "configClass/objectType/id", Result: none},
	{Name: "AsteriskConfigUpdate", Class: ClassCommand, Op: ari.OpAsteriskUpdateObject.Op(), KeyKind: "config", KeyParam: "configClass/objectType/id", Field: "asterisk_config",
		Bindings: []Binding{{Path: "tuples", Param: "fields"}}, Result: none},

	// Asterisk: log channels. The key id is the log channel name (ARI's
	// "channel"; the console's is ""). ARI has no single-item get: Data and
	// Get pick the item from the list.
	{Name: "AsteriskLoggingCreate", Class: ClassCreate, Op: ari.OpAsteriskAddLog.Op(), KeyKind: "logging", KeyParam: "logChannelName", Field: "asterisk_logging_channel",
		Bindings: []Binding{{Path: "config", Param: "configuration"}}, Result: key("logging", "", "logChannelName")},
	{Name: "AsteriskLoggingData", Class: ClassData, Op: ari.OpAsteriskListLogChannels.Op(), KeyKind: "logging", DataErr: "logging",
		Result: Result{Shape: ShapeData, DataField: "log", Kind: "logging", IDField: "channel", Select: true}},
	{Name: "AsteriskLoggingDelete", Class: ClassCommand, Op: ari.OpAsteriskDeleteLog.Op(), KeyKind: "logging", KeyParam: "logChannelName", Result: none},
	{Name: "AsteriskLoggingGet", Class: ClassGet, Op: ari.OpAsteriskListLogChannels.Op(), KeyKind: "logging", DataErr: "logging",
		Result: Result{Shape: ShapeKey, Kind: "logging", IDField: "channel", Select: true}},
	{Name: "AsteriskLoggingList", Class: ClassGet, Op: ari.OpAsteriskListLogChannels.Op(), KeyKind: "logging", Result: keys("logging", "channel")},
	{Name: "AsteriskLoggingRotate", Class: ClassCommand, Op: ari.OpAsteriskRotateLog.Op(), KeyKind: "logging", KeyParam: "logChannelName", Result: none},

	// Asterisk: modules.
	{Name: "AsteriskModuleData", Class: ClassData, Op: ari.OpAsteriskGetModule.Op(), KeyKind: "module", KeyParam: "moduleName", Result: data("module", "module", "name"), DataErr: "module"},
	{Name: "AsteriskModuleGet", Class: ClassGet, Op: ari.OpAsteriskGetModule.Op(), KeyKind: "module", KeyParam: "moduleName", Result: key("module", "name", ""), DataErr: "module"},
	{Name: "AsteriskModuleLoad", Class: ClassCommand, Op: ari.OpAsteriskLoadModule.Op(), KeyKind: "module", KeyParam: "moduleName", Result: none},
	{Name: "AsteriskModuleList", Class: ClassGet, Op: ari.OpAsteriskListModules.Op(), KeyKind: "module", Result: keys("module", "name")},
	{Name: "AsteriskModuleReload", Class: ClassCommand, Op: ari.OpAsteriskReloadModule.Op(), KeyKind: "module", KeyParam: "moduleName", Result: none},
	{Name: "AsteriskModuleUnload", Class: ClassCommand, Op: ari.OpAsteriskUnloadModule.Op(), KeyKind: "module", KeyParam: "moduleName", Result: none},

	// Asterisk: system information (no key in the entity, as v5) and global variables.
	{Name: "AsteriskInfo", Class: ClassData, Op: ari.OpAsteriskGetInfo.Op(), Result: data("asterisk", "", "")},
	{Name: "AsteriskVariableGet", Class: ClassData, Op: ari.OpAsteriskGetGlobalVar.Op(), KeyKind: "variable", KeyParam: "variable", Result: variable},
	{Name: "AsteriskVariableSet", Class: ClassCommand, Op: ari.OpAsteriskSetGlobalVar.Op(), KeyKind: "variable", KeyParam: "variable", Field: "asterisk_variable_set",
		Bindings: []Binding{{Path: "value", Param: "value"}}, Result: none},

	// Bridges. BridgeCreate's key id is the id of the bridge to create.
	{Name: "BridgeAddChannel", Class: ClassCommand, Op: ari.OpBridgesAddChannel.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Field: "bridge_add_channel",
		Bindings: []Binding{{Path: "channel", Param: "channel"}, {Path: "absorbDTMF", Param: "absorbDTMF"}, {Path: "mute", Param: "mute"}, {Path: "role", Param: "role"}}, Result: none},
	{Name: "BridgeCreate", Class: ClassCreate, Op: ari.OpBridgesCreate.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Field: "bridge_create",
		Bindings: []Binding{{Path: "type", Param: "type"}, {Path: "name", Param: "name"}}, Result: key("bridge", "id", "bridgeId")},
	{Name: "BridgeStageCreate", Class: ClassCreate, Op: ari.OpBridgesCreate.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Field: "bridge_create", Stage: true,
		Bindings: []Binding{{Path: "type", Param: "type"}, {Path: "name", Param: "name"}}, Result: key("bridge", "id", "bridgeId")},
	{Name: "BridgeData", Class: ClassData, Op: ari.OpBridgesGet.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Result: data("bridge", "bridge", "id"), DataErr: "bridge"},
	{Name: "BridgeDelete", Class: ClassCommand, Op: ari.OpBridgesDestroy.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Result: none},
	{Name: "BridgeGet", Class: ClassGet, Op: ari.OpBridgesGet.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Result: key("bridge", "id", ""), DataErr: "bridge"},
	{Name: "BridgeList", Class: ClassGet, Op: ari.OpBridgesList.Op(), KeyKind: "bridge", Result: keys("bridge", "id")},
	{Name: "BridgeMOH", Class: ClassCommand, Op: ari.OpBridgesStartMoh.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Field: "bridge_moh",
		Bindings: []Binding{{Path: "class", Param: "mohClass"}}, Result: none},
	{Name: "BridgeStopMOH", Class: ClassCommand, Op: ari.OpBridgesStopMoh.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Result: none},
	{Name: "BridgePlay", Class: ClassCreate, Op: ari.OpBridgesPlay.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Field: "bridge_play",
		Bindings: playBindings(), Result: key("playback", "id", "playbackId")},
	{Name: "BridgeStagePlay", Class: ClassGet, Op: ari.OpBridgesPlay.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Field: "bridge_play", Stage: true,
		Bindings: playBindings(), Result: key("playback", "id", "playbackId")},
	{Name: "BridgeRecord", Class: ClassCreate, Op: ari.OpBridgesRecord.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Field: "bridge_record",
		Bindings: recordBindings(), Result: key("liverecording", "name", "name")},
	{Name: "BridgeStageRecord", Class: ClassGet, Op: ari.OpBridgesRecord.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Field: "bridge_record", Stage: true,
		Bindings: recordBindings(), Result: key("liverecording", "name", "name")},
	{Name: "BridgeRemoveChannel", Class: ClassCommand, Op: ari.OpBridgesRemoveChannel.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Field: "bridge_remove_channel",
		Bindings: []Binding{{Path: "channel", Param: "channel"}}, Result: none},
	{Name: "BridgeSubscribe", Class: ClassCommand, KeyKind: "bridge", Result: none},
	{Name: "BridgeUnsubscribe", Class: ClassCommand, KeyKind: "bridge", Unbind: true, Result: none},
	{Name: "BridgeVideoSource", Class: ClassCommand, Op: ari.OpBridgesSetVideoSource.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Field: "bridge_video_source",
		Bindings: []Binding{{Path: "channel", Param: "channelId"}}, Result: none},
	{Name: "BridgeVideoSourceDelete", Class: ClassCommand, Op: ari.OpBridgesClearVideoSource.Op(), KeyKind: "bridge", KeyParam: "bridgeId", Result: none},

	// Channels.
	{Name: "ChannelAnswer", Class: ClassCommand, Op: ari.OpChannelsAnswer.Op(), KeyKind: "channel", KeyParam: "channelId", Result: none},
	{Name: "ChannelBusy", Class: ClassCommand, Op: ari.OpChannelsHangup.Op(), KeyKind: "channel", KeyParam: "channelId", Fixed: ari.Params{"reason": "busy"}, Result: none},
	{Name: "ChannelCongestion", Class: ClassCommand, Op: ari.OpChannelsHangup.Op(), KeyKind: "channel", KeyParam: "channelId", Fixed: ari.Params{"reason": "congestion"}, Result: none},
	// ChannelCreate and ChannelOriginate: the key is a reference; a channel key is the originator (as v5).
	{Name: "ChannelCreate", Class: ClassCreate, Op: ari.OpChannelsCreate.Op(), KeyKind: "channel", KeyParam: "originator", KeyRef: true, Field: "channel_create",
		Bindings: channelCreateBindings(), Result: key("channel", "id", "channelId")},
	{Name: "ChannelContinue", Class: ClassCommand, Op: ari.OpChannelsContinueInDialplan.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_continue",
		Bindings: []Binding{{Path: "context", Param: "context"}, {Path: "extension", Param: "extension"}, {Path: "priority", Param: "priority"}}, Result: none},
	{Name: "ChannelData", Class: ClassData, Op: ari.OpChannelsGet.Op(), KeyKind: "channel", KeyParam: "channelId", Result: data("channel", "channel", "id"), DataErr: "channel"},
	{Name: "ChannelDial", Class: ClassCommand, Op: ari.OpChannelsDial.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_dial",
		Bindings: []Binding{{Path: "caller", Param: "caller"}, {Path: "timeout", Param: "timeout", Conv: ConvNsToSec}}, Result: none},
	{Name: "ChannelGet", Class: ClassGet, Op: ari.OpChannelsGet.Op(), KeyKind: "channel", KeyParam: "channelId", Result: key("channel", "id", ""), DataErr: "channel"},
	{Name: "ChannelHangup", Class: ClassCommand, Op: ari.OpChannelsHangup.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_hangup",
		Bindings: []Binding{{Path: "reason", Param: "reason"}}, Result: none},
	{Name: "ChannelHold", Class: ClassCommand, Op: ari.OpChannelsHold.Op(), KeyKind: "channel", KeyParam: "channelId", Result: none},
	{Name: "ChannelList", Class: ClassGet, Op: ari.OpChannelsList.Op(), KeyKind: "channel", Result: keys("channel", "id")},
	{Name: "ChannelMOH", Class: ClassCommand, Op: ari.OpChannelsStartMoh.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_moh",
		Bindings: []Binding{{Path: "music", Param: "mohClass"}}, Result: none},
	{Name: "ChannelMute", Class: ClassCommand, Op: ari.OpChannelsMute.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_mute",
		Bindings: []Binding{{Path: "direction", Param: "direction"}}, Result: none},
	{Name: "ChannelOriginate", Class: ClassCreate, Op: ari.OpChannelsOriginate.Op(), KeyKind: "channel", KeyParam: "originator", KeyRef: true, Field: "channel_originate",
		Bindings: originateBindings(), Result: key("channel", "id", "channelId")},
	{Name: "ChannelStageOriginate", Class: ClassCreate, Op: ari.OpChannelsOriginate.Op(), KeyKind: "channel", KeyParam: "originator", KeyRef: true, Field: "channel_originate", Stage: true,
		Bindings: originateBindings(), Result: key("channel", "id", "channelId")},
	{Name: "ChannelPlay", Class: ClassCreate, Op: ari.OpChannelsPlay.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_play",
		Bindings: playBindings(), Result: key("playback", "id", "playbackId")},
	{Name: "ChannelStagePlay", Class: ClassGet, Op: ari.OpChannelsPlay.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_play", Stage: true,
		Bindings: playBindings(), Result: key("playback", "id", "playbackId")},
	{Name: "ChannelRecord", Class: ClassCreate, Op: ari.OpChannelsRecord.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_record",
		Bindings: recordBindings(), Result: key("liverecording", "name", "name")},
	{Name: "ChannelStageRecord", Class: ClassGet, Op: ari.OpChannelsRecord.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_record", Stage: true,
		Bindings: recordBindings(), Result: key("liverecording", "name", "name")},
	{Name: "ChannelRing", Class: ClassCommand, Op: ari.OpChannelsRing.Op(), KeyKind: "channel", KeyParam: "channelId", Result: none},
	{Name: "ChannelSendDTMF", Class: ClassCommand, Op: ari.OpChannelsSendDTMF.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_send_dtmf",
		Bindings: []Binding{
			{Path: "dtmf", Param: "dtmf"},
			{Path: "options.Before", Param: "before", Conv: ConvNsToMs},
			{Path: "options.Between", Param: "between", Conv: ConvNsToMs},
			{Path: "options.Duration", Param: "duration", Conv: ConvNsToMs},
			{Path: "options.After", Param: "after", Conv: ConvNsToMs},
		}, Result: none},
	{Name: "ChannelSilence", Class: ClassCommand, Op: ari.OpChannelsStartSilence.Op(), KeyKind: "channel", KeyParam: "channelId", Result: none},
	{Name: "ChannelSnoop", Class: ClassCreate, Op: ari.OpChannelsSnoopChannel.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_snoop",
		Bindings: snoopBindings(), Result: key("channel", "id", "snoopId")},
	{Name: "ChannelStageSnoop", Class: ClassGet, Op: ari.OpChannelsSnoopChannel.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_snoop", Stage: true,
		Bindings: snoopBindings(), Result: key("channel", "id", "snoopId")},
	{Name: "ChannelExternalMedia", Class: ClassCreate, Op: ari.OpChannelsExternalMedia.Op(), KeyKind: "channel", Field: "channel_external_media",
		Bindings: externalMediaBindings(), Result: key("channel", "id", "channelId")},
	{Name: "ChannelStageExternalMedia", Class: ClassCreate, Op: ari.OpChannelsExternalMedia.Op(), KeyKind: "channel", Field: "channel_external_media", Stage: true,
		Bindings: externalMediaBindings(), Result: key("channel", "id", "channelId")},
	{Name: "ChannelStopHold", Class: ClassCommand, Op: ari.OpChannelsUnhold.Op(), KeyKind: "channel", KeyParam: "channelId", Result: none},
	{Name: "ChannelStopMOH", Class: ClassCommand, Op: ari.OpChannelsStopMoh.Op(), KeyKind: "channel", KeyParam: "channelId", Result: none},
	{Name: "ChannelStopRing", Class: ClassCommand, Op: ari.OpChannelsRingStop.Op(), KeyKind: "channel", KeyParam: "channelId", Result: none},
	{Name: "ChannelStopSilence", Class: ClassCommand, Op: ari.OpChannelsStopSilence.Op(), KeyKind: "channel", KeyParam: "channelId", Result: none},
	{Name: "ChannelSubscribe", Class: ClassCommand, KeyKind: "channel", Result: none},
	{Name: "ChannelUnmute", Class: ClassCommand, Op: ari.OpChannelsUnmute.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_mute",
		Bindings: []Binding{{Path: "direction", Param: "direction"}}, Result: none},
	{Name: "ChannelVariableGet", Class: ClassData, Op: ari.OpChannelsGetChannelVar.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_variable",
		Bindings: []Binding{{Path: "name", Param: "variable"}}, Result: variable},
	{Name: "ChannelVariableSet", Class: ClassCommand, Op: ari.OpChannelsSetChannelVar.Op(), KeyKind: "channel", KeyParam: "channelId", Field: "channel_variable",
		Bindings: []Binding{{Path: "name", Param: "variable"}, {Path: "value", Param: "value"}}, Result: none},
	// The payload field has no JSON tag in v5: its name is the Go field's.
	// Its content is the ChannelUserevent event: "eventname" and "userevent"
	// (the variables). The event's source is the key's channel, its
	// application the key's app.
	{Name: "ChannelUserEvent", Class: ClassCommand, Op: ari.OpEventsUserEvent.Op(), KeyKind: "channel", KeyParam: "source", KeyPrefix: "channel:", AppParam: "application",
		Field: "ChannelUserevent", Bindings: []Binding{{Path: "eventname", Param: "eventName"}, {Path: "userevent", Param: "variables"}}, Result: none},

	// Device states.
	{Name: "DeviceStateData", Class: ClassData, Op: ari.OpDeviceStatesGet.Op(), KeyKind: "devicestate", KeyParam: "deviceName", Result: data("device_state", "devicestate", "name"), DataErr: "devicestate"},
	{Name: "DeviceStateDelete", Class: ClassCommand, Op: ari.OpDeviceStatesDelete.Op(), KeyKind: "devicestate", KeyParam: "deviceName", Result: none},
	{Name: "DeviceStateGet", Class: ClassGet, Op: ari.OpDeviceStatesGet.Op(), KeyKind: "devicestate", KeyParam: "deviceName", Result: key("devicestate", "name", ""), DataErr: "devicestate"},
	{Name: "DeviceStateList", Class: ClassGet, Op: ari.OpDeviceStatesList.Op(), KeyKind: "devicestate", Result: keys("devicestate", "name")},
	{Name: "DeviceStateUpdate", Class: ClassCommand, Op: ari.OpDeviceStatesUpdate.Op(), KeyKind: "devicestate", KeyParam: "deviceName", Field: "device_state_update",
		Bindings: []Binding{{Path: "state", Param: "deviceState"}}, Result: none},

	// Endpoints. The key id is "<tech>/<resource>". v5 failed to decode
	// EndpointListByTech's answer; we answer its keys.
	{Name: "EndpointData", Class: ClassData, Op: ari.OpEndpointsGet.Op(), KeyKind: "endpoint", KeyParam: "tech/resource", Result: data("endpoint", "endpoint", "technology/resource"), DataErr: "endpoint"},
	{Name: "EndpointGet", Class: ClassGet, Op: ari.OpEndpointsGet.Op(), KeyKind: "endpoint", KeyParam: "tech/resource", Result: key("endpoint", "technology/resource", ""), DataErr: "endpoint"},
	{Name: "EndpointList", Class: ClassGet, Op: ari.OpEndpointsList.Op(), KeyKind: "endpoint", Result: keys("endpoint", "technology/resource")},
	{Name: "EndpointListByTech", Class: ClassGet, Op: ari.OpEndpointsListByTech.Op(), KeyKind: "endpoint", Field: "endpoint_list_by_tech",
		Bindings: []Binding{{Path: "tech", Param: "tech"}}, Result: keys("endpoint", "technology/resource")},

	// Mailboxes (v5 failed to decode MailboxList's answer; we answer its keys).
	{Name: "MailboxData", Class: ClassData, Op: ari.OpMailboxesGet.Op(), KeyKind: "mailbox", KeyParam: "mailboxName", Result: data("mailbox", "mailbox", "name"), DataErr: "mailbox"},
	{Name: "MailboxDelete", Class: ClassCommand, Op: ari.OpMailboxesDelete.Op(), KeyKind: "mailbox", KeyParam: "mailboxName", Result: none},
	{Name: "MailboxGet", Class: ClassGet, Op: ari.OpMailboxesGet.Op(), KeyKind: "mailbox", KeyParam: "mailboxName", Result: key("mailbox", "name", ""), DataErr: "mailbox"},
	{Name: "MailboxList", Class: ClassGet, Op: ari.OpMailboxesList.Op(), KeyKind: "mailbox", Result: keys("mailbox", "name")},
	{Name: "MailboxUpdate", Class: ClassCommand, Op: ari.OpMailboxesUpdate.Op(), KeyKind: "mailbox", KeyParam: "mailboxName", Field: "mailbox_update",
		Bindings: []Binding{{Path: "new", Param: "newMessages"}, {Path: "old", Param: "oldMessages"}}, Result: none},

	// Playbacks.
	{Name: "PlaybackControl", Class: ClassCommand, Op: ari.OpPlaybacksControl.Op(), KeyKind: "playback", KeyParam: "playbackId", Field: "playback_control",
		Bindings: []Binding{{Path: "command", Param: "operation"}}, Result: none},
	{Name: "PlaybackData", Class: ClassData, Op: ari.OpPlaybacksGet.Op(), KeyKind: "playback", KeyParam: "playbackId", Result: data("playback", "playback", "id"), DataErr: "playback"},
	{Name: "PlaybackGet", Class: ClassGet, Op: ari.OpPlaybacksGet.Op(), KeyKind: "playback", KeyParam: "playbackId", Result: key("playback", "id", ""), DataErr: "playback"},
	{Name: "PlaybackStop", Class: ClassCommand, Op: ari.OpPlaybacksStop.Op(), KeyKind: "playback", KeyParam: "playbackId", Result: none},
	{Name: "PlaybackSubscribe", Class: ClassCommand, KeyKind: "playback", Result: none},

	// Stored recordings. Copy answers the key of the copy.
	{Name: "RecordingStoredCopy", Class: ClassCommand, Op: ari.OpRecordingsCopyStored.Op(), KeyKind: "storedrecording", KeyParam: "recordingName", Field: "recording_stored_copy",
		Bindings: []Binding{{Path: "destination", Param: "destinationRecordingName"}}, Result: key("storedrecording", "name", "destinationRecordingName")},
	{Name: "RecordingStoredData", Class: ClassData, Op: ari.OpRecordingsGetStored.Op(), KeyKind: "storedrecording", KeyParam: "recordingName", Result: data("stored_recording", "storedrecording", "name"), DataErr: "storedrecording"},
	{Name: "RecordingStoredDelete", Class: ClassCommand, Op: ari.OpRecordingsDeleteStored.Op(), KeyKind: "storedrecording", KeyParam: "recordingName", Result: none},
	{Name: "RecordingStoredGet", Class: ClassGet, Op: ari.OpRecordingsGetStored.Op(), KeyKind: "storedrecording", KeyParam: "recordingName", Result: key("storedrecording", "name", ""), DataErr: "storedrecording"},
	{Name: "RecordingStoredList", Class: ClassGet, Op: ari.OpRecordingsListStored.Op(), KeyKind: "storedrecording", Result: keys("storedrecording", "name")},

	// Live recordings (Resume is ARI's unpause, Scrap its cancel).
	{Name: "RecordingLiveData", Class: ClassData, Op: ari.OpRecordingsGetLive.Op(), KeyKind: "liverecording", KeyParam: "recordingName", Result: data("live_recording", "liverecording", "name"), DataErr: "liverecording"},
	{Name: "RecordingLiveGet", Class: ClassGet, Op: ari.OpRecordingsGetLive.Op(), KeyKind: "liverecording", KeyParam: "recordingName", Result: key("liverecording", "name", ""), DataErr: "liverecording"},
	{Name: "RecordingLiveMute", Class: ClassCommand, Op: ari.OpRecordingsMute.Op(), KeyKind: "liverecording", KeyParam: "recordingName", Result: none},
	{Name: "RecordingLivePause", Class: ClassCommand, Op: ari.OpRecordingsPause.Op(), KeyKind: "liverecording", KeyParam: "recordingName", Result: none},
	{Name: "RecordingLiveResume", Class: ClassCommand, Op: ari.OpRecordingsUnpause.Op(), KeyKind: "liverecording", KeyParam: "recordingName", Result: none},
	{Name: "RecordingLiveScrap", Class: ClassCommand, Op: ari.OpRecordingsCancel.Op(), KeyKind: "liverecording", KeyParam: "recordingName", Result: none},
	{Name: "RecordingLiveSubscribe", Class: ClassCommand, KeyKind: "liverecording", Result: none},
	{Name: "RecordingLiveStop", Class: ClassCommand, Op: ari.OpRecordingsStop.Op(), KeyKind: "liverecording", KeyParam: "recordingName", Result: none},
	{Name: "RecordingLiveUnmute", Class: ClassCommand, Op: ari.OpRecordingsUnmute.Op(), KeyKind: "liverecording", KeyParam: "recordingName", Result: none},

	// Sounds (v5's keys had no id; ours carry the sound id).
	{Name: "SoundData", Class: ClassData, Op: ari.OpSoundsGet.Op(), KeyKind: "sound", KeyParam: "soundId", Result: data("sound", "sound", "id"), DataErr: "sound"},
	{Name: "SoundList", Class: ClassGet, Op: ari.OpSoundsList.Op(), KeyKind: "sound", Field: "sound_list",
		Bindings: []Binding{{Path: "filters.lang", Param: "lang"}, {Path: "filters.format", Param: "format"}}, Result: keys("sound", "id")},
}

// ourKinds are our additive kinds that are no ARI operation; v5 servers
// answer them NotImplemented.
var ourKinds = []Kind{
	// DialogUnbind releases dialog bindings before the resource is
	// destroyed. Key: dialog (required), kind and id of the resource;
	// without id every binding of the dialog is released.
	{Name: KindDialogUnbind, Class: ClassCommand, Unbind: true, Result: none, Generic: true},
}

// KindDialogUnbind is the name of the kind that releases dialog bindings.
const KindDialogUnbind = "DialogUnbind"
