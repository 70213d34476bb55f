package wire

import "github.com/ariproxy/ari-proxy/ari"

// Shape says how a response carries the result of a kind.
type Shape int

// Response shapes.
const (
	ShapeNone     Shape = iota // {"error": ""} only
	ShapeKey                   // "key": the entity created or found
	ShapeKeys                  // "keys": one key per element of the ARI list
	ShapeData                  // "data": {"<DataField>": <ARI body with "key" added>}
	ShapeVariable              // "data": {"variable": "<value>"}
)

func (s Shape) String() string {
	switch s {
	case ShapeNone:
		return "none"
	case ShapeKey:
		return "key"
	case ShapeKeys:
		return "keys"
	case ShapeData:
		return "data"
	case ShapeVariable:
		return "variable"
	}
	return "shape?"
}

// Conv converts a v5 payload value to the ARI parameter value (and back).
type Conv int

// Conversions between v5 payload values and ARI parameters. v5 durations
// are Go time.Duration values: integers in nanoseconds. Conversions to
// coarser units round away from zero, so a positive duration never becomes
// 0 (which ARI reads as "no limit").
const (
	ConvNone    Conv = iota
	ConvNsToSec      // v5 nanoseconds -> ARI seconds
	ConvNsToMs       // v5 nanoseconds -> ARI milliseconds
)

// Binding maps one value of a v5 payload onto one ARI parameter.
type Binding struct {
	Path  string // dotted path inside the payload field, e.g. "originate_request.endpoint"
	Param string // ARI parameter name, e.g. "endpoint"
	Conv  Conv
}

// Result describes the response of a kind.
type Result struct {
	Shape     Shape
	Kind      string // key kind of the result entity ("channel", "playback", ...); with ShapeData, "" means no "key" is injected (AsteriskInfo)
	DataField string // with ShapeData: the field under "data" ("channel", "live_recording", ...)
	IDField   string // JSON field of the ARI body that holds the entity id ("id", "name"); "a/b" joins two fields with "/" (endpoints: "technology/resource")
	IDParam   string // or the ARI parameter that holds it (e.g. "playbackId"), when the body has none; for creates, the parameter carrying the id the client chose

	// Select: the operation answers a list and the result is the element
	// whose IDField equals the request key's id (base.ID in BuildResponse);
	// none is a 404. ARI has no single-item get for log channels.
	Select bool
	// Wrap: with ShapeData, ARI's body (an array) goes under this field of
	// a new entity object whose other fields come from WrapParams (entity
	// field <- ARI parameter). AsteriskConfigData: {"key", "class", "type",
	// "name", "fields": [<ConfigTuple>...]}.
	Wrap       string
	WrapParams []Binding
	// Exact: with ShapeData, the entity is ARI's body unchanged (no "key"
	// injected); when Kind is set the key goes in the response's "key".
	// Generic kinds use it.
	Exact bool
	// Binary: ARI answers raw bytes (recordings.getStoredFile): the entity
	// is a JSON string holding them in base64.
	Binary bool
}

// Kind is one row of the request-kind table: how a v5 request kind (or one
// of our generic operation kinds) maps onto an ARI operation.
//
// Server side, DecodeParams builds the ARI parameters of Op in this order
// (later ones win): Fixed; key.id into KeyParam (with KeyPrefix); key.app
// into AppParam; the payload values named by Bindings (zero values skipped
// unless the parameter is required, since v5 encodes unset fields as zero);
// then Request.Params. Client side, NewRequest is the inverse.
type Kind struct {
	Name     string // "ChannelOriginate"
	Class    Class
	Op       *ari.Operation // the ARI operation (ari.OpChannelsOriginate.Op()); nil when the kind makes no ARI call
	KeyKind  string         // kind of the entity the request key names
	KeyParam string         // ARI parameter that receives key.id ("channelId"); "a/b/c" splits key.id on "/" into several; "" when none
	Field    string         // payload field of the envelope ("channel_originate"); "" when none
	Bindings []Binding
	Result   Result
	Stage    bool // a Stage* kind: binds the dialog and answers the key without calling ARI
	Unbind   bool // releases dialog bindings instead of calling ARI: of the key's resource (KeyKind, or key.kind when KeyKind is ""), or every binding of the dialog without id

	KeyPrefix string     // text put before key.id in KeyParam ("channel:" for ChannelUserEvent's source)
	KeyRef    bool       // the key is only a reference: key.id feeds KeyParam only when key.kind is KeyKind (ChannelOriginate: a channel key is the originator, as in v5)
	AppParam  string     // ARI parameter that receives key.app ("application"); a server fills it with its own app when the key has none
	Fixed     ari.Params // ARI parameters the kind always sets (ChannelBusy: reason=busy)
	DataErr   string     // entity named in v5's "failed to get data: Error getting data for <DataErr> '<id>': ..." error text; "" for the plain text
	Generic   bool       // one of our kinds (a generic kind named after its ARI operation, or DialogUnbind); v5 servers answer NotImplemented
}
