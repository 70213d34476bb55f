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

// Conv converts a v5 payload value to the ARI parameter value (and back).
type Conv int

// Conversions between v5 payload values and ARI parameters.
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
	Kind      string // key kind of the result entity ("channel", "playback", ...)
	DataField string // with ShapeData: the field under "data" ("channel", "live_recording", ...)
	IDField   string // JSON field of the ARI body that holds the entity id ("id", "name")
	IDParam   string // or the ARI parameter that holds it (e.g. "playbackId"), when the body has none
}

// Kind is one row of the request-kind table: how a v5 request kind (or one
// of our generic operation kinds) maps onto an ARI operation.
type Kind struct {
	Name     string // "ChannelOriginate"
	Class    Class
	Op       string // ARI operation ID ("channels.originate"); "" when the kind makes no ARI call
	KeyKind  string // kind of the entity the request key names
	KeyParam string // ARI parameter that receives key.id ("channelId"); "" when none
	Field    string // payload field of the envelope ("channel_originate"); "" when none
	Bindings []Binding
	Result   Result
	Stage    bool // a Stage* kind: binds the dialog and answers the key without calling ARI
}

var _ = ari.Params(nil)
