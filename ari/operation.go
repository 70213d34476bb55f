package ari

import "fmt"

// Location says where an operation parameter travels in the HTTP request.
type Location string

// Parameter locations, as the spec's paramType names them.
const (
	InPath  Location = "path"
	InQuery Location = "query"
	InBody  Location = "body"
)

// Params holds the values of an operation's parameters by their spec names
// (channelId, endpoint, variables...). Values are JSON-compatible: string,
// bool, float64 or int, []string, map[string]string, []any, map[string]any.
type Params map[string]any

// Param describes one parameter of an operation, as the spec declares it.
type Param struct {
	Name          string
	Description   string
	In            Location
	Type          string // spec dataType: string, int, long, boolean, double, List[string], containers, ...
	Required      bool
	AllowMultiple bool
	Allowed       []string // allowableValues LIST, empty when unrestricted
	Min, Max      *float64 // allowableValues RANGE bounds, nil when open
	Default       string   // defaultValue as written in the spec, "" when none
}

// ErrorResponse is an error status the spec documents for an operation.
type ErrorResponse struct {
	Code   int
	Reason string
}

// Operation is one ARI operation: a row of the operation table. The proxy
// server, the client and the simulator all read this table; nothing else
// lists ARI operations.
type Operation struct {
	ID            string // "<resource>.<nickname>", e.g. "channels.originate"
	Ident         OpID   // the row's identifier: Operations[op.Ident] is op
	Resource      string // api-docs file name without .json, e.g. "channels", "deviceStates"
	Nickname      string // the spec's nickname, e.g. "originate"
	Method        string // GET, POST, PUT, DELETE
	Path          string // template relative to /ari, e.g. "/channels/{channelId}/play"
	Summary       string
	Params        []Param
	ResponseClass string // spec responseClass: "Channel", "List[Channel]", "void", ...
	Errors        []ErrorResponse
	WebSocket     bool // the events WebSocket (upgrade), not a REST call
}

// OpID identifies an operation of the table at compile time: each row has
// a constant (OpChannelsOriginate, OpBridgesCreate, ...) whose value is
// its index, so code that names an operation by its constant is checked by
// the compiler, and finding the row is an index.
type OpID int

// Op returns the row of id. It panics for an id outside the table, as an
// index out of range does.
func (id OpID) Op() *Operation { return &Operations[id] }

// GoString returns the Go expression of id ("ari.OpChannelsOriginate"),
// what %#v prints: code generators emit it to name an operation.
func (id OpID) GoString() string {
	if id < 0 || id >= OpCount {
		return fmt.Sprintf("ari.OpID(%d)", int(id))
	}
	return "ari." + opNames[id]
}

// String returns the operation ID ("channels.originate").
func (id OpID) String() string {
	if id < 0 || id >= OpCount {
		return fmt.Sprintf("OpID(%d)", int(id))
	}
	return Operations[id].ID
}
