package ari

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Errors of Operation.Encode, testable with errors.Is.
var (
	// ErrMissingParam: a path parameter has no value, so no path exists.
	ErrMissingParam = errors.New("missing parameter")
	// ErrUnknownParam: a parameter the operation does not declare.
	ErrUnknownParam = errors.New("unknown parameter")
	// ErrInvalidParam: a value that cannot travel where the parameter goes
	// (a map in a query or path, a body that does not encode...).
	ErrInvalidParam = errors.New("invalid parameter value")
)

// byID indexes Operations by ID, built on first use.
var byID = sync.OnceValue(func() map[string]*Operation {
	m := make(map[string]*Operation, len(Operations))
	for i := range Operations {
		m[Operations[i].ID] = &Operations[i]
	}
	return m
})

// Lookup returns the operation with the given ID ("channels.originate"), or
// nil when there is none.
func Lookup(id string) *Operation {
	return byID()[id]
}

// Param returns the parameter of op with the given spec name, or nil.
func (op *Operation) Param(name string) *Param {
	for i := range op.Params {
		if op.Params[i].Name == name {
			return &op.Params[i]
		}
	}
	return nil
}

// routeNode is a node of the path tree: one path segment.
type routeNode struct {
	literal  map[string]*routeNode
	wildcard *routeNode              // a {param} segment
	ops      map[string]*Operation   // by HTTP method
	segments map[*Operation][]string // the template segments of each op
}

var routes = sync.OnceValue(func() *routeNode {
	root := &routeNode{}
	for i := range Operations {
		op := &Operations[i]
		n := root
		segs := splitPath(op.Path)
		for _, seg := range segs {
			if strings.HasPrefix(seg, "{") {
				if n.wildcard == nil {
					n.wildcard = &routeNode{}
				}
				n = n.wildcard
				continue
			}
			if n.literal == nil {
				n.literal = map[string]*routeNode{}
			}
			if n.literal[seg] == nil {
				n.literal[seg] = &routeNode{}
			}
			n = n.literal[seg]
		}
		if n.ops == nil {
			n.ops = map[string]*Operation{}
			n.segments = map[*Operation][]string{}
		}
		n.ops[op.Method] = op
		n.segments[op] = segs
	}
	return root
})

func splitPath(p string) []string {
	return strings.Split(strings.TrimPrefix(p, "/"), "/")
}

// Route finds the operation serving an HTTP request the way Asterisk's ARI
// router does. path is relative to /ari and still percent-encoded (for
// example "/channels/abc/play"); each segment is unescaped after splitting,
// so an escaped "/" stays inside its parameter.
//
// Like Asterisk, a literal segment beats a {param} at the same place
// without backtracking (POST /channels/externalMedia is externalMedia, GET
// /channels/externalMedia is 405), the walk stops at the first empty
// segment (so a trailing "/" is ignored), and a path that ends inside the
// tree on a node without operations (GET /recordings) is 405, not 404.
//
// found is false when no template matches (404). When found but
// methodAllowed is false (405), op and pathParams are nil. Otherwise op is
// the operation and pathParams holds its path parameters by spec name.
func Route(method, path string) (op *Operation, pathParams map[string]string, found bool, methodAllowed bool) {
	n := routes()
	var values []string
	for _, seg := range splitPath(path) {
		if seg == "" {
			break
		}
		seg = asteriskUnescape(seg)
		next := n.literal[seg]
		if next == nil {
			next = n.wildcard
		}
		if next == nil {
			return nil, nil, false, false
		}
		n = next
		values = append(values, seg)
	}
	if n == routes() {
		return nil, nil, false, false
	}
	op = n.ops[method]
	if op == nil {
		return nil, nil, true, false
	}
	for i, seg := range n.segments[op] {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			if pathParams == nil {
				pathParams = map[string]string{}
			}
			pathParams[strings.TrimSuffix(name, "}")] = values[i]
		}
	}
	return op, pathParams, true, true
}

// Methods returns the HTTP methods the path accepts, sorted (for an Allow
// header); nil when Route finds no template.
func Methods(path string) []string {
	var methods []string
	for _, m := range []string{"DELETE", "GET", "POST", "PUT"} {
		if op, _, found, _ := Route(m, path); !found {
			return nil
		} else if op != nil {
			methods = append(methods, m)
		}
	}
	return methods
}

// asteriskUnescape decodes a path segment as Asterisk does: %XX escapes and
// "+" as a space; a malformed escape is kept as written.
func asteriskUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// escapePathSegment escapes s for a path segment; "+" is escaped too since
// Asterisk reads it as a space.
func escapePathSegment(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
}

// Encode builds the parts of the HTTP request for op from p: the path
// relative to /ari with the path parameters substituted, the query and the
// JSON body (nil when p has no body parameter).
//
// Query values are formatted as Asterisk reads them: bools as true/false,
// numbers without exponent, lists ([]string, []any...) comma-joined.
// A json.RawMessage value is decoded first, so values straight from a JSON
// message work too. Body parameters are sent as {"<name>": value}
// (originate's variables, updateObject's fields), except a body parameter
// of dataType "object" (applications.filter), whose value is the whole
// body, as Asterisk reads it. Nil values are left out. Required query and
// body parameters are not checked: Asterisk answers 400 for those.
//
// Errors wrap ErrMissingParam (a path parameter without value),
// ErrUnknownParam or ErrInvalidParam.
func (op *Operation) Encode(p Params) (path string, query url.Values, body []byte, err error) {
	var unknown []string
	for name := range p {
		if op.Param(name) == nil {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return "", nil, nil, fmt.Errorf("ari: %s: %w: %s", op.ID, ErrUnknownParam, strings.Join(unknown, ", "))
	}

	path = op.Path
	var bodyObj map[string]any
	var wholeBody any
	for i := range op.Params {
		prm := &op.Params[i]
		v, ok := p[prm.Name]
		if ok && v == nil {
			ok = false
		}
		switch prm.In {
		case InPath:
			var s string
			if ok {
				if s, err = formatScalar(v); err != nil {
					return "", nil, nil, fmt.Errorf("ari: %s: %w: %s: %w", op.ID, ErrInvalidParam, prm.Name, err)
				}
			}
			if s == "" {
				return "", nil, nil, fmt.Errorf("ari: %s: %w: %s", op.ID, ErrMissingParam, prm.Name)
			}
			path = strings.Replace(path, "{"+prm.Name+"}", escapePathSegment(s), 1)
		case InQuery:
			if !ok {
				continue
			}
			s, err := formatQuery(v)
			if err != nil {
				return "", nil, nil, fmt.Errorf("ari: %s: %w: %s: %w", op.ID, ErrInvalidParam, prm.Name, err)
			}
			if query == nil {
				query = url.Values{}
			}
			query.Set(prm.Name, s)
		case InBody:
			if !ok {
				continue
			}
			if prm.Type == "object" {
				wholeBody = v
				continue
			}
			if bodyObj == nil {
				bodyObj = map[string]any{}
			}
			bodyObj[prm.Name] = v
		}
	}
	switch {
	case wholeBody != nil && bodyObj != nil:
		return "", nil, nil, fmt.Errorf("ari: %s: %w: an object body excludes other body parameters", op.ID, ErrInvalidParam)
	case wholeBody != nil:
		body, err = json.Marshal(wholeBody)
	case bodyObj != nil:
		body, err = json.Marshal(bodyObj)
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("ari: %s: %w: body: %w", op.ID, ErrInvalidParam, err)
	}
	return path, query, body, nil
}

// formatQuery formats a query value. A list is comma-joined, which is how
// Asterisk reads multi-valued parameters and also what single-valued ones
// holding lists mean (appArgs "alpha,beta", bridge type "mixing,dtmf_events").
func formatQuery(v any) (string, error) {
	if raw, ok := v.(json.RawMessage); ok {
		d, err := decodeRaw(raw)
		if err != nil {
			return "", err
		}
		return formatQuery(d)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return formatScalar(v)
	}
	parts := make([]string, rv.Len())
	for i := range parts {
		s, err := formatScalar(rv.Index(i).Interface())
		if err != nil {
			return "", err
		}
		parts[i] = s
	}
	return strings.Join(parts, ","), nil
}

// decodeRaw decodes a JSON value, keeping numbers exact.
func decodeRaw(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// formatScalar formats a string, bool or number as Asterisk reads it.
func formatScalar(v any) (string, error) {
	switch x := v.(type) {
	case json.RawMessage:
		d, err := decodeRaw(x)
		if err != nil {
			return "", err
		}
		if _, raw := d.(json.RawMessage); raw {
			return "", errors.New("cannot format JSON")
		}
		return formatScalar(d)
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return "", err
		}
		if _, err := x.Int64(); err == nil {
			return x.String(), nil
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool()), nil
	}
	return "", fmt.Errorf("cannot format %T", v)
}
