package wire

// CONTRACT STUBS: the wire helper replaces this file with real implementations
// (same signatures) spread over request.go, codec.go, subjects.go, errors.go.

import (
	"encoding/json"
	"errors"

	"github.com/ariproxy/ari-proxy/ari"
)

// DefaultPrefix is the subject prefix when none is configured.
const DefaultPrefix = "ari."

// CreateQueue is the queue group v5 servers use for create requests.
const CreateQueue = "ariproxy"

// ListenQueue is the queue group v5 clients use to share StasisStart events.
const ListenQueue = "ARIProxyStasisStartDistributorQueue"

// Subjects builds subjects under one prefix.
type Subjects struct{ Prefix string }

// NewSubjects normalizes prefix ("" -> "ari.", "x" -> "x.").
func NewSubjects(prefix string) Subjects { panic("unimplemented") }

// Ping is where clients ask servers to announce themselves.
func (s Subjects) Ping() string { panic("unimplemented") }

// Announce is where servers announce themselves.
func (s Subjects) Announce() string { panic("unimplemented") }

// Event is where events of app on node are published.
func (s Subjects) Event(app, node string) string { panic("unimplemented") }

// AllEvents is the wildcard subject of every event of app on any node.
func (s Subjects) AllEvents(app string) string { panic("unimplemented") }

// DialogEvent is where events of resources bound to dialog are published.
func (s Subjects) DialogEvent(dialog string) string { panic("unimplemented") }

// Request is the request subject for class at one of three levels: app and
// node both empty (every server), node empty (every server of app), or both.
func (s Subjects) Request(class Class, app, node string) string { panic("unimplemented") }

// Sentinel errors for error replies, usable with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrConflict      = errors.New("conflict")
	ErrBadRequest    = errors.New("bad request")
	ErrUnprocessable = errors.New("unprocessable")
	ErrUnavailable   = errors.New("unavailable")
	ErrTimeout       = errors.New("timeout")
	ErrInternal      = errors.New("internal error")
)

// Error is an error reply from a server.
type Error struct {
	Code    ErrorCode
	Status  int    // ARI status, 0 when no ARI call was made
	Message string // the v5 error text
}

func (e *Error) Error() string { return e.Message }

// Is maps the code onto the sentinel errors.
func (e *Error) Is(target error) bool { panic("unimplemented") }

// Err returns nil for a success and an *Error otherwise; for replies from
// v5 servers, which carry no code, the code is inferred from the text.
func (r *Response) Err() error { panic("unimplemented") }

// NewErrorResponse builds an error reply with both the v5 text and our code.
func NewErrorResponse(code ErrorCode, status int, msg string) *Response { panic("unimplemented") }

// CodeForStatus maps an ARI HTTP status onto an error code.
func CodeForStatus(status int) ErrorCode { panic("unimplemented") }

// DecodeRequest decodes a request envelope; bad input gives an error
// wrapping ErrBadRequest, never a panic.
func DecodeRequest(data []byte) (*Request, error) { panic("unimplemented") }

// MarshalJSON writes the flat envelope.
func (r *Request) MarshalJSON() ([]byte, error) { panic("unimplemented") }

// UnmarshalJSON reads the flat envelope.
func (r *Request) UnmarshalJSON(b []byte) error { panic("unimplemented") }

// LookupKind finds a kind by name (v5 names and our generic names, which
// are ARI operation IDs such as "channels.rtpstatistics").
func LookupKind(name string) (*Kind, bool) { panic("unimplemented") }

// KindForOp is the kind a client sends for an ARI operation: the v5 kind
// when v5 has one, else the generic kind named after the operation.
func KindForOp(opID string) *Kind { panic("unimplemented") }

// Kinds lists every kind, v5 and generic.
func Kinds() []*Kind { panic("unimplemented") }

// Operation is the ARI operation of k, nil when k makes no ARI call.
func (k *Kind) Operation() *ari.Operation { panic("unimplemented") }

// DecodeParams (server side) turns a request into the ARI parameters of
// k's operation: key.id into KeyParam, v5 payload values through the
// bindings (with unit conversion), then req.Params on top.
func (k *Kind) DecodeParams(req *Request) (ari.Params, error) { panic("unimplemented") }

// NewRequest (client side) builds the envelope of k for key and ARI
// params: the inverse of DecodeParams. Params with no v5 binding travel in
// Request.Params.
func NewRequest(k *Kind, key *Key, params ari.Params) (*Request, error) { panic("unimplemented") }

// ResultID is the id of the entity k creates or names, from the ARI params
// (before the call, so a dialog can be bound first) or, failing that, "".
func (k *Kind) ResultID(params ari.Params) string { panic("unimplemented") }

// BuildResponse (server side) turns Asterisk's answer into the reply of
// k. base carries node, app and dialog for the keys it writes.
func BuildResponse(k *Kind, base Key, params ari.Params, status int, body []byte) *Response {
	panic("unimplemented")
}

// Entity returns the entity under data.<field> of a ShapeData reply.
func (r *Response) Entity(field string) (json.RawMessage, bool) { panic("unimplemented") }
