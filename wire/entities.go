package wire

import (
	"slices"
	"strings"
	"sync"

	"github.com/ariproxy/ari-proxy/ari"
)

// Entity is one row of the entity table: a kind of thing a bus key names.
// Everything the protocol knows of an entity is here, and the rest of the
// code (the generic kinds, dialog routing, the server's id assignment,
// docs/protocol.md's key table, the client's handles) is derived from it;
// adding an entity is adding a row.
type Entity struct {
	// Kind is the key kind on the wire ("channel").
	Kind string
	// Model is the ARI model class ("Channel"); "" when ARI has none
	// (config tuples, variables).
	Model string
	// IDField is the member of the model holding the id ("id", "name");
	// "a/b" joins two members with "/" (endpoints).
	IDField string
	// IDParams are the ARI parameters that may carry the id in an
	// operation answering the model, preferred first (a snoop's own id
	// is snoopId; channelId there is the channel spied on).
	IDParams []string
	// KeyParam is the path parameter (or "a/b" parameters, split from the
	// key id on "/") by which operations address the entity; "" when none.
	KeyParam string
	// PathPrefix disambiguates KeyParam where two entities share it
	// (recordingName: live or stored recordings).
	PathPrefix string
	// Created: POST operations answering the model create one, so they
	// go to one server, and that server assigns the id (IDParams[0] or
	// the operation's id parameter) when the request carries none.
	Created bool
	// Events: events refer to it, so a dialog can bind it and event
	// filters select it. Not written in the table: set from the spec (a
	// member of some event holds the Model, ari.EventRefs).
	Events bool
	// TargetField is the member naming the channel or bridge the entity
	// works on ("channel:<id>", "bridge:<id>"): its events are events of
	// that target too.
	TargetField string
	// StartEvents are the event types that tell of a new one (Created
	// entities only): a server learns from them which entities its
	// Asterisk has, to answer probes (Request.Probe) without asking it.
	StartEvents []string
	// EndEvents are the event types after which it is gone.
	EndEvents []string
	// IDDoc says what the id is, for docs/protocol.md.
	IDDoc string
	// Noun is what prose calls one ("live recording", "Asterisk module"):
	// the client's generated doc comments use it.
	Noun string
}

// entities is the entity table, in key kind order.
var entities = []Entity{
	{Kind: "application", Noun: "Stasis application", Model: "Application", IDField: "name", IDParams: []string{"applicationName"}, KeyParam: "applicationName",
		IDDoc: "application name"},
	{Kind: "asterisk", Noun: "Asterisk system", IDDoc: "(none: Asterisk-wide requests)"},
	{Kind: "bridge", Noun: "bridge", Model: "Bridge", IDField: "id", IDParams: []string{"bridgeId"}, KeyParam: "bridgeId",
		Created: true, StartEvents: []string{"BridgeCreated"}, EndEvents: []string{"BridgeDestroyed"}, IDDoc: "bridge id"},
	{Kind: "channel", Noun: "channel", Model: "Channel", IDField: "id", IDParams: []string{"snoopId", "channelId"}, KeyParam: "channelId",
		Created: true, StartEvents: []string{"ChannelCreated", "StasisStart"}, EndEvents: []string{"ChannelDestroyed"}, IDDoc: "channel id"},
	{Kind: "config", Noun: "dynamic configuration object", KeyParam: "configClass/objectType/id", IDDoc: "`<configClass>/<objectType>/<id>`"},
	{Kind: "devicestate", Noun: "device state", Model: "DeviceState", IDField: "name", IDParams: []string{"deviceName"}, KeyParam: "deviceName",
		IDDoc: "device name (`Stasis:foo`)"},
	{Kind: "endpoint", Noun: "endpoint", Model: "Endpoint", IDField: "technology/resource", KeyParam: "tech/resource",
		IDDoc: "`<tech>/<resource>`"},
	{Kind: "liverecording", Noun: "live recording", Model: "LiveRecording", IDField: "name", IDParams: []string{"name", "recordingName"}, KeyParam: "recordingName", PathPrefix: "/recordings/live/",
		Created: true, TargetField: "target_uri", StartEvents: []string{"RecordingStarted"}, EndEvents: []string{"RecordingFinished", "RecordingFailed"}, IDDoc: "recording name"},
	{Kind: "logging", Noun: "Asterisk log channel", Model: "LogChannel", IDField: "channel", IDParams: []string{"logChannelName"}, KeyParam: "logChannelName",
		IDDoc: "log channel name"},
	{Kind: "mailbox", Noun: "mailbox", Model: "Mailbox", IDField: "name", IDParams: []string{"mailboxName"}, KeyParam: "mailboxName",
		IDDoc: "mailbox name"},
	{Kind: "module", Noun: "Asterisk module", Model: "Module", IDField: "name", IDParams: []string{"moduleName"}, KeyParam: "moduleName",
		IDDoc: "module name"},
	{Kind: "playback", Noun: "playback", Model: "Playback", IDField: "id", IDParams: []string{"playbackId"}, KeyParam: "playbackId",
		Created: true, TargetField: "target_uri", StartEvents: []string{"PlaybackStarted"}, EndEvents: []string{"PlaybackFinished"}, IDDoc: "playback id"},
	{Kind: "sound", Noun: "sound", Model: "Sound", IDField: "id", IDParams: []string{"soundId"}, KeyParam: "soundId",
		IDDoc: "sound id"},
	{Kind: "storedrecording", Noun: "stored recording", Model: "StoredRecording", IDField: "name", IDParams: []string{"destinationRecordingName", "recordingName"}, KeyParam: "recordingName", PathPrefix: "/recordings/stored/",
		IDDoc: "recording name"},
	{Kind: "variable", Noun: "Asterisk global variable", KeyParam: "variable",
		IDDoc: "variable name (a channel variable's key also names the channel, see the kind table)"},
}

// entityIndex indexes the table by kind and by model.
type entityIndex struct {
	byKind  map[string]*Entity
	byModel map[string]*Entity
}

var entityIdx = sync.OnceValue(func() *entityIndex {
	x := &entityIndex{byKind: map[string]*Entity{}, byModel: map[string]*Entity{}}
	inEvents := map[string]bool{}
	for _, typ := range ari.EventTypes() {
		for _, r := range ari.EventRefs(typ) {
			inEvents[r.Model] = true
		}
	}
	for i := range entities {
		e := &entities[i]
		e.Events = e.Model != "" && inEvents[e.Model]
		x.byKind[e.Kind] = e
		if e.Model != "" {
			x.byModel[e.Model] = e
		}
	}
	return x
})

// Entities lists the entity table (a copy; the rows are shared and must
// not be modified).
func Entities() []*Entity {
	entityIdx()
	out := make([]*Entity, len(entities))
	for i := range entities {
		out[i] = &entities[i]
	}
	return out
}

// EntityOf is the row of key kind, nil when there is none.
func EntityOf(kind string) *Entity { return entityIdx().byKind[kind] }

// EntityOfModel is the row of ARI model class model, nil when there is
// none.
func EntityOfModel(model string) *Entity { return entityIdx().byModel[model] }

// eventful reports whether entities of a key kind appear in events, so
// that binding them to a dialog makes sense. Others (modules, variables,
// sounds...) are never bound: no event would ever release them.
func eventful(kind string) bool {
	e := EntityOf(kind)
	return e != nil && e.Events
}

// entityOfKeyParam is the entity an operation's path parameters address,
// "" when none.
func entityOfKeyParam(param, path string) *Entity {
	for i := range entities {
		e := &entities[i]
		if e.KeyParam == param && (e.PathPrefix == "" || strings.HasPrefix(path, e.PathPrefix)) {
			return e
		}
	}
	return nil
}

// Ends reports whether an event of type typ ends the entity.
func (e *Entity) Ends(typ string) bool { return slices.Contains(e.EndEvents, typ) }

// ID reads the entity's id from a model object: get returns the string
// member of that name.
func (e *Entity) ID(get func(member string) string) string {
	if e.IDField == "" {
		return ""
	}
	a, b, two := strings.Cut(e.IDField, "/")
	if !two {
		return get(a)
	}
	if x := get(a); x != "" {
		return x + "/" + get(b)
	}
	return ""
}
