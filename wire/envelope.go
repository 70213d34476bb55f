package wire

import "encoding/json"

// Key identifies an entity on the bus: its kind, id, and where it lives.
// Every field is optional; a key without node is a partial key.
type Key struct {
	Kind   string `json:"kind,omitempty"`
	ID     string `json:"id,omitempty"`
	Node   string `json:"node,omitempty"`
	Dialog string `json:"dialog,omitempty"`
	App    string `json:"app,omitempty"`
}

// Class is the request class, the second token of a request subject.
type Class string

// Request classes of the v5 protocol.
const (
	ClassGet     Class = "get"
	ClassData    Class = "data"
	ClassCommand Class = "command"
	ClassCreate  Class = "create"
)

// RequestClasses lists the request classes: a server subscribes each at
// every level (Subjects.Request).
var RequestClasses = []Class{ClassGet, ClassData, ClassCommand, ClassCreate}

// Request is a request envelope:
//
//	{"kind": "<Kind>", "key": <Key>, "<payload_field>": {...}, "params": {...}}
//
// Payload holds the v5 kind-specific objects by envelope field name
// (e.g. "channel_originate"). Params is our addition: ARI parameters by
// their spec names, used for operations v5 has no kind for and as an
// override on top of the v5 payload.
//
// Probe, also ours, marks a request with a partial key sent to every
// server as a probe ("probe": {} on the wire: an object, as every
// addition to the envelope, so that a server that does not know it takes
// it for a payload field it does not use): a server that has not seen
// the key's entity answers CodeUnclaimed at once instead of asking its
// Asterisk (see docs/protocol.md, "Probing for a resource's node"). v5
// servers ignore it and answer as to any request.
type Request struct {
	Kind    string
	Key     *Key
	Payload map[string]json.RawMessage
	Params  map[string]any
	Probe   bool
}

// Response is a response envelope. Error is the v5 free text ("" on
// success); Code and Status are our additions so that clients need not
// match strings. Node, also ours, names the server that answered, so that
// a client gathering the answers of every server can tell which stayed
// silent; v5 servers leave it out.
type Response struct {
	Error  string          `json:"error"`
	Code   ErrorCode       `json:"error_code,omitempty"`
	Status int             `json:"ari_status,omitempty"`
	Detail string          `json:"error_detail,omitempty"` // Asterisk's message for a non-2xx answer ("Channel not found")
	Data   json.RawMessage `json:"data,omitempty"`
	Key    *Key            `json:"key,omitempty"`
	Keys   []*Key          `json:"keys,omitempty"`
	Node   string          `json:"node,omitempty"` // node of the answering server

	// dataValid: Data was cut from a reply DecodeResponse validated, so
	// Entity need not validate it again.
	dataValid bool
}

// Announcement is what a server publishes on the announce subject at
// start, periodically and in answer to a ping.
type Announcement struct {
	Node        string `json:"node"`
	Application string `json:"application"`
}

// ErrorCode is the machine-readable class of an error reply.
type ErrorCode string

// Error codes carried in Response.Code.
const (
	CodeNotFound      ErrorCode = "not_found"
	CodeConflict      ErrorCode = "conflict"
	CodeBadRequest    ErrorCode = "bad_request"
	CodeUnprocessable ErrorCode = "unprocessable"
	CodeUnavailable   ErrorCode = "unavailable"
	CodeTimeout       ErrorCode = "timeout"
	CodeInternal      ErrorCode = "internal"
	// CodeUnclaimed answers a probe (Request.Probe) about an entity the
	// server has not seen: it did not ask its Asterisk, so the answer
	// says nothing about whether the entity is there.
	CodeUnclaimed ErrorCode = "unclaimed"
)
