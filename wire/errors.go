package wire

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// NotImplemented is the error text of a v5 server for a kind it does not
// dispatch; ours answers unknown kinds the same way (with
// CodeNotImplemented beside it).
const NotImplemented = "Not implemented"

// CodeNotImplemented is the code of a reply to a kind the server does not
// know (v5 text NotImplemented). A client talking to a v5 server gets it for
// our generic kinds.
const CodeNotImplemented ErrorCode = "not_implemented"

// Sentinel errors for error replies, usable with errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrConflict       = errors.New("conflict")
	ErrBadRequest     = errors.New("bad request")
	ErrUnprocessable  = errors.New("unprocessable")
	ErrUnavailable    = errors.New("unavailable")
	ErrTimeout        = errors.New("timeout")
	ErrInternal       = errors.New("internal error")
	ErrNotImplemented = errors.New("not implemented")
	ErrUnclaimed      = errors.New("unclaimed")
)

// sentinel maps a code onto its sentinel error.
func (c ErrorCode) sentinel() error {
	switch c {
	case CodeNotFound:
		return ErrNotFound
	case CodeConflict:
		return ErrConflict
	case CodeBadRequest:
		return ErrBadRequest
	case CodeUnprocessable:
		return ErrUnprocessable
	case CodeUnavailable:
		return ErrUnavailable
	case CodeTimeout:
		return ErrTimeout
	case CodeNotImplemented:
		return ErrNotImplemented
	case CodeUnclaimed:
		return ErrUnclaimed
	}
	return ErrInternal
}

// Error is an error reply from a server.
type Error struct {
	Code    ErrorCode
	Status  int    // ARI status, 0 when no ARI call was made
	Message string // the v5 error text
	Detail  string // Asterisk's own message ("Channel not found"), when the server sent it
}

func (e *Error) Error() string {
	if e.Detail != "" && !strings.Contains(e.Message, e.Detail) {
		return e.Message + " (" + e.Detail + ")"
	}
	return e.Message
}

// Is maps the code onto the sentinel errors: errors.Is(err, ErrNotFound)
// holds for an *Error with CodeNotFound.
func (e *Error) Is(target error) bool {
	return target == e.Code.sentinel()
}

// Err returns nil for a success and an *Error otherwise; for replies from
// v5 servers, which carry no code, the code (and the ARI status, when the
// text names one) is inferred from the text.
func (r *Response) Err() error {
	if r == nil || (r.Error == "" && r.Code == "") {
		return nil
	}
	e := &Error{Code: r.Code, Status: r.Status, Message: r.Error, Detail: r.Detail}
	if e.Status == 0 {
		e.Status = statusFromText(r.Error)
	}
	if e.Code == "" {
		e.Code = codeFromText(r.Error, e.Status)
	}
	if e.Message == "" {
		e.Message = defaultText(e.Code)
	}
	return e
}

// NewErrorResponse builds an error reply with both the v5 text and our
// code. An empty msg is replaced by a text for code, since v5 clients only
// see an error when the text is not empty.
func NewErrorResponse(code ErrorCode, status int, msg string) *Response {
	if code == "" {
		code = CodeInternal
	}
	if msg == "" {
		msg = defaultText(code)
	}
	return &Response{Error: msg, Code: code, Status: status}
}

// NewNotImplementedResponse is the reply to an unknown kind: the v5 text
// NotImplemented with CodeNotImplemented.
func NewNotImplementedResponse() *Response {
	return NewErrorResponse(CodeNotImplemented, 0, NotImplemented)
}

// ErrorResponseFor builds the error reply for err: the code of the sentinel
// err wraps (an *Error keeps its code and status), else CodeInternal; the
// text is err's.
func ErrorResponseFor(err error) *Response {
	var we *Error
	if errors.As(err, &we) {
		r := NewErrorResponse(we.Code, we.Status, we.Message)
		r.Detail = we.Detail
		return r
	}
	code := CodeInternal
	for _, c := range []ErrorCode{CodeNotFound, CodeConflict, CodeBadRequest, CodeUnprocessable,
		CodeUnavailable, CodeTimeout, CodeNotImplemented, CodeUnclaimed} {
		if errors.Is(err, c.sentinel()) {
			code = c
			break
		}
	}
	return NewErrorResponse(code, 0, err.Error())
}

// CodeForStatus maps an ARI HTTP status onto an error code.
func CodeForStatus(status int) ErrorCode {
	switch status {
	case http.StatusBadRequest:
		return CodeBadRequest
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict:
		return CodeConflict
	case http.StatusUnprocessableEntity:
		return CodeUnprocessable
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return CodeUnavailable
	case http.StatusGatewayTimeout, http.StatusRequestTimeout:
		return CodeTimeout
	case http.StatusNotImplemented:
		return CodeNotImplemented
	}
	return CodeInternal
}

// StatusText is v5's text for a non-2xx ARI answer:
// "Non-2XX response: 404 Not Found".
func StatusText(status int) string {
	t := http.StatusText(status)
	if t == "" {
		return fmt.Sprintf("Non-2XX response: %d", status)
	}
	return fmt.Sprintf("Non-2XX response: %d %s", status, t)
}

func defaultText(code ErrorCode) string {
	switch code {
	case CodeNotImplemented:
		return NotImplemented
	case CodeInternal:
		return "internal error"
	}
	return strings.ReplaceAll(string(code), "_", " ")
}

// statusFromText finds the status in v5's "Non-2XX response: 404 Not Found".
func statusFromText(s string) int {
	const marker = "Non-2XX response: "
	i := strings.LastIndex(s, marker)
	if i < 0 {
		return 0
	}
	rest := s[i+len(marker):]
	n := 0
	for n < len(rest) && n < 3 && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	if n != 3 {
		return 0
	}
	st, _ := strconv.Atoi(rest[:n])
	return st
}

// codeFromText infers the code of a v5 error text.
func codeFromText(s string, status int) ErrorCode {
	if status != 0 {
		return CodeForStatus(status)
	}
	l := strings.ToLower(s)
	switch {
	case s == NotImplemented:
		return CodeNotImplemented
	case strings.Contains(l, "not found"):
		return CodeNotFound
	case strings.Contains(l, "conflict"):
		return CodeConflict
	case strings.Contains(l, "unprocessable"):
		return CodeUnprocessable
	case strings.Contains(l, "bad request"):
		return CodeBadRequest
	case strings.Contains(l, "timeout"), strings.Contains(l, "timed out"), strings.Contains(l, "deadline exceeded"):
		return CodeTimeout
	case strings.Contains(l, "unavailable"), strings.Contains(l, "no responders"):
		return CodeUnavailable
	}
	return CodeInternal
}
