package client

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/ariproxy/ari-proxy/wire"
)

// Errors of requests, usable with errors.Is. An error reply from a server
// matches the one of its code (for v5 servers, which send text only, the
// code is inferred from the text); errors.As with *Error gives the reply's
// details.
var (
	ErrNotFound       = wire.ErrNotFound
	ErrConflict       = wire.ErrConflict
	ErrBadRequest     = wire.ErrBadRequest
	ErrUnprocessable  = wire.ErrUnprocessable
	ErrUnavailable    = wire.ErrUnavailable // also: no server listens
	ErrTimeout        = wire.ErrTimeout     // also: no answer before the deadline
	ErrInternal       = wire.ErrInternal
	ErrNotImplemented = wire.ErrNotImplemented // the server does not know the request kind (a v5 server and one of our generic kinds)
)

// ErrorCode is the machine-readable class of an error reply.
type ErrorCode = wire.ErrorCode

// Error codes of error replies; each matches the Err sentinel of the same
// name with errors.Is.
const (
	CodeNotFound       = wire.CodeNotFound
	CodeConflict       = wire.CodeConflict
	CodeBadRequest     = wire.CodeBadRequest
	CodeUnprocessable  = wire.CodeUnprocessable
	CodeUnavailable    = wire.CodeUnavailable
	CodeTimeout        = wire.CodeTimeout
	CodeInternal       = wire.CodeInternal
	CodeNotImplemented = wire.CodeNotImplemented
)

// Error is an error reply from a server, as returned (wrapped) by every
// request:
//
//	var e *client.Error
//	if errors.As(err, &e) && e.Status == 422 { ... }
//
// errors.Is(err, ErrNotFound) and the other sentinels match its Code.
type Error struct {
	Code    ErrorCode // error class; CodeInternal when the server sent none
	Status  int       // HTTP status Asterisk answered, 0 when no ARI call was made
	Message string    // the server's error text (v5's wording)
	Detail  string    // Asterisk's own message ("Channel not found"), when the server sent it
	Node    string    // node of the server that answered, "" for v5 servers
}

// Error is the server's text, with Asterisk's detail when it adds to it.
func (e *Error) Error() string {
	if e.Detail != "" && !strings.Contains(e.Message, e.Detail) {
		return e.Message + " (" + e.Detail + ")"
	}
	return e.Message
}

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	return (&wire.Error{Code: e.Code}).Is(target)
}

// replyError turns the error of a reply into an *Error; other errors are
// returned as they are.
func replyError(resp *wire.Response, err error) error {
	var we *wire.Error
	if !errors.As(err, &we) {
		return err
	}
	e := &Error{Code: we.Code, Status: we.Status, Message: we.Message, Detail: we.Detail}
	if e.Code == "" {
		e.Code = CodeInternal
	}
	if resp != nil {
		e.Node = resp.Node
	}
	return e
}

// Reply is a server's answer to a request sent with (*Client).Do.
type Reply struct {
	// Key names the entity the request created or found, for operations
	// answering one (node, app and dialog filled in).
	Key *Key
	// Keys names the entities of a list, merged from every server's answer.
	Keys []Key
	// Data holds the entity of operations answering data, under its field
	// name ({"channel": {...}}); see Entity.
	Data json.RawMessage
	// Node is the node of the server that answered.
	Node string
}

// Entity is the member field of Data ("channel", "bridge", "variable"...),
// false when absent.
func (r *Reply) Entity(field string) (json.RawMessage, bool) {
	if r == nil {
		return nil, false
	}
	return (&wire.Response{Data: r.Data}).Entity(field)
}

func newReply(resp *wire.Response, base Key) *Reply {
	if resp == nil {
		return nil
	}
	r := &Reply{Data: resp.Data, Node: resp.Node}
	if resp.Key != nil {
		k := locate(*resp.Key, resp, resp.Key.Kind, base)
		r.Key = &k
	}
	if len(resp.Keys) > 0 {
		r.Keys = resultKeys(resp, "", base)
	}
	return r
}
