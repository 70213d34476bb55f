package arisim

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The JSON bodies below follow the member order of the recorded Asterisk
// (which is not the spec's order), so each resource has one struct or one
// builder, used by every response and event that carries it.

// jsonOf encodes v compactly without HTML escaping, as jansson does.
func jsonOf(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("arisim: encode: " + err.Error()) // only our own types are encoded
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// jsonString encodes s as a JSON string.
func jsonString(s string) []byte { return jsonOf(s) }

// obj builds a JSON object member by member, in order.
type obj struct{ b []byte }

func newObj() *obj { return &obj{b: append(make([]byte, 0, 256), '{')} }

func (o *obj) key(k string) *obj {
	if len(o.b) > 1 {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, jsonString(k)...)
	o.b = append(o.b, ':')
	return o
}

func (o *obj) str(k, v string) *obj {
	o.key(k)
	o.b = append(o.b, jsonString(v)...)
	return o
}

func (o *obj) num(k string, v int) *obj {
	o.key(k)
	o.b = strconv.AppendInt(o.b, int64(v), 10)
	return o
}

func (o *obj) boolean(k string, v bool) *obj {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
	return o
}

func (o *obj) raw(k string, v []byte) *obj {
	o.key(k)
	o.b = append(o.b, v...)
	return o
}

func (o *obj) val(k string, v any) *obj { return o.raw(k, jsonOf(v)) }

func (o *obj) done() []byte { return append(o.b, '}') }

// --- channels ---

type callerJSON struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

type dialplanJSON struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int    `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

type channelJSON struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	State        string       `json:"state"`
	ProtocolID   string       `json:"protocol_id"`
	Caller       callerJSON   `json:"caller"`
	Connected    callerJSON   `json:"connected"`
	Accountcode  string       `json:"accountcode"`
	Dialplan     dialplanJSON `json:"dialplan"`
	Creationtime string       `json:"creationtime"`
	Language     string       `json:"language"`
	Channelvars  orderedVars  `json:"channelvars,omitempty"`
}

// orderedVars is a JSON object of strings that keeps its members' order.
type orderedVars []kv

type kv struct{ k, v string }

func (o orderedVars) MarshalJSON() ([]byte, error) {
	ob := newObj()
	for _, p := range o {
		ob.str(p.k, p.v)
	}
	return ob.done(), nil
}

// channelBody is the Channel model of c as Asterisk writes it.
func channelBody(c *channel) channelJSON {
	return channelJSON{
		ID: c.id, Name: c.name, State: c.state, ProtocolID: c.protocolID,
		Caller:      callerJSON{c.callerName, c.callerNum},
		Connected:   callerJSON{c.connName, c.connNum},
		Accountcode: c.accountcode,
		Dialplan: dialplanJSON{Context: c.context, Exten: c.exten, Priority: c.priority,
			AppName: c.appName, AppData: c.appData},
		Creationtime: stamp(c.created),
		Language:     c.language,
	}
}

// --- bridges ---

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

// --- media ---

type playbackJSON struct {
	ID           string `json:"id"`
	MediaURI     string `json:"media_uri"`
	NextMediaURI string `json:"next_media_uri,omitempty"`
	TargetURI    string `json:"target_uri"`
	Language     string `json:"language"`
	State        string `json:"state"`
}

func playbackBody(p *playback) playbackJSON {
	j := playbackJSON{ID: p.id, MediaURI: p.media[p.index], TargetURI: p.target,
		Language: p.language, State: p.stateString()}
	if p.index < len(p.media)-1 {
		j.NextMediaURI = p.media[p.index+1]
	}
	return j
}

func liveRecordingBody(r *liveRecording) []byte {
	o := newObj().str("name", r.name).str("format", r.format).str("state", r.state).
		str("target_uri", r.target)
	if r.duration >= 0 {
		o.num("duration", r.duration)
	}
	if r.cause != "" {
		o.str("cause", r.cause)
	}
	return o.done()
}

type storedRecordingJSON struct {
	Name   string `json:"name"`
	Format string `json:"format"`
}

// --- system ---

type applicationJSON struct {
	Name             string            `json:"name"`
	ChannelIDs       []string          `json:"channel_ids"`
	BridgeIDs        []string          `json:"bridge_ids"`
	EndpointIDs      []string          `json:"endpoint_ids"`
	DeviceNames      []string          `json:"device_names"`
	EventsAllowed    []json.RawMessage `json:"events_allowed"`
	EventsDisallowed []json.RawMessage `json:"events_disallowed"`
}

type deviceStateJSON struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

type moduleJSON struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	UseCount     int    `json:"use_count"`
	Status       string `json:"status"`
	SupportLevel string `json:"support_level"`
}

type logChannelJSON struct {
	Channel       string `json:"channel"`
	Type          string `json:"type"`
	Status        string `json:"status"`
	Configuration string `json:"configuration"`
}

type variableJSON struct {
	Value string `json:"value"`
}

type mailboxJSON struct {
	Name        string `json:"name"`
	OldMessages int    `json:"old_messages"`
	NewMessages int    `json:"new_messages"`
}

type soundFormatJSON struct {
	Language string `json:"language"`
	Format   string `json:"format"`
}

type soundJSON struct {
	ID      string            `json:"id"`
	Formats []soundFormatJSON `json:"formats"`
}

type messageJSON struct {
	Message string `json:"message"`
}
