package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/ariproxy/ari-proxy/ari"
)

// DecodeParams (server side) turns a request into the ARI parameters of
// k's operation: Fixed, key.id into KeyParam, key.app into AppParam, v5
// payload values through the bindings (with unit conversion; zero values
// skipped unless the parameter is required), then req.Params on top.
// Numbers come out as int for int/long parameters and float64 otherwise.
//
// Errors wrap ErrBadRequest: a payload value of the wrong type for its
// conversion, a key id that does not split into KeyParam's parts, a
// parameter the operation does not have, a path parameter left empty.
// Kinds without an operation (Subscribe kinds) give empty params.
func (k *Kind) DecodeParams(req *Request) (ari.Params, error) {
	p := ari.Params{}
	op := k.Op
	if op == nil {
		return p, nil
	}
	for n, v := range k.Fixed {
		p[n] = v
	}
	if req == nil {
		req = &Request{}
	}
	if key := req.Key; key != nil {
		if key.ID != "" && k.KeyParam != "" && (!k.KeyRef || key.Kind == k.KeyKind) {
			if err := k.setKeyParams(p, key.ID); err != nil {
				return nil, err
			}
		}
		if key.App != "" && k.AppParam != "" {
			p[k.AppParam] = key.App
		}
	}
	if len(k.Bindings) > 0 {
		if raw := req.Payload[k.Field]; len(raw) > 0 {
			obj, err := decodeObject(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrBadRequest, k.Field, err)
			}
			for _, b := range k.Bindings {
				v, ok := lookupPath(obj, b.Path)
				if !ok || v == nil {
					continue
				}
				prm := op.Param(b.Param)
				v, err := convIn(b.Conv, v)
				if err != nil {
					return nil, fmt.Errorf("%w: %s.%s: %v", ErrBadRequest, k.Field, b.Path, err)
				}
				v = normalize(prm, v)
				if isZero(v) && (prm == nil || !prm.Required) {
					continue
				}
				p[b.Param] = v
			}
		}
	}
	for n, v := range req.Params {
		prm := op.Param(n)
		if prm == nil {
			return nil, fmt.Errorf("%w: %s has no parameter %q", ErrBadRequest, op.ID, n)
		}
		if v == nil {
			delete(p, n)
			continue
		}
		p[n] = normalize(prm, v)
	}
	for _, prm := range op.Params {
		if prm.In != ari.InPath {
			continue
		}
		v := p[prm.Name]
		if s, isStr := v.(string); v == nil || isStr && s == "" {
			return nil, fmt.Errorf("%w: %s: missing %s%s", ErrBadRequest, k.Name, prm.Name, k.keyHint(prm.Name))
		}
	}
	return p, nil
}

// keyHint says where a missing path parameter is expected to come from.
func (k *Kind) keyHint(param string) string {
	if slices.Contains(strings.Split(k.KeyParam, "/"), param) {
		return " (the key's id)"
	}
	return ""
}

// setKeyParams writes key id into KeyParam, split on "/" for composite
// KeyParams, KeyPrefix in front.
func (k *Kind) setKeyParams(p ari.Params, id string) error {
	names := strings.Split(k.KeyParam, "/")
	if len(names) == 1 {
		p[names[0]] = k.KeyPrefix + id
		return nil
	}
	parts := strings.SplitN(id, "/", len(names))
	if len(parts) != len(names) || slices.Contains(parts, "") {
		return fmt.Errorf("%w: %s: key id %q is not %s", ErrBadRequest, k.Name, id, k.KeyParam)
	}
	for i, n := range names {
		p[n] = parts[i]
	}
	return nil
}

// keyID is the key id held by KeyParam in p ("" when absent), the inverse
// of setKeyParams.
func (k *Kind) keyID(p ari.Params) (string, bool) {
	if k.KeyParam == "" {
		return "", false
	}
	names := strings.Split(k.KeyParam, "/")
	parts := make([]string, len(names))
	for i, n := range names {
		s, ok := p[n].(string)
		if !ok || s == "" {
			return "", false
		}
		parts[i] = s
	}
	id := strings.Join(parts, "/")
	if k.KeyPrefix != "" {
		rest, ok := strings.CutPrefix(id, k.KeyPrefix)
		if !ok || rest == "" {
			return "", false
		}
		id = rest
	}
	return id, true
}

// NewRequest (client side) builds the envelope of k for key and ARI
// params: the inverse of DecodeParams. Params with a v5 binding travel in
// the payload (converted to v5 units); the key's id is taken from KeyParam
// when key has none; params with no v5 binding, and zero values of
// optional ones (which the payload cannot tell from "unset"), travel in
// Request.Params, which v5 servers ignore. The key is never nil and the
// payload field is always present (v5 servers dereference both).
//
// Errors wrap ErrBadRequest: a parameter the operation does not have, or a
// value that does not convert.
func NewRequest(k *Kind, key *Key, params ari.Params) (*Request, error) {
	if k == nil {
		return nil, fmt.Errorf("%w: nil kind", ErrBadRequest)
	}
	req := &Request{Kind: k.Name}
	kk := Key{}
	if key != nil {
		kk = *key
	}
	rest := ari.Params{}
	for n, v := range params {
		if v != nil {
			rest[n] = v
		}
	}
	op := k.Op
	if op != nil {
		var unknown []string
		for n := range rest {
			if op.Param(n) == nil {
				unknown = append(unknown, n)
			}
		}
		if len(unknown) > 0 {
			slices.Sort(unknown)
			return nil, fmt.Errorf("%w: %s has no parameter %s", ErrBadRequest, op.ID, strings.Join(unknown, ", "))
		}
	}
	for n, v := range k.Fixed {
		if w, ok := rest[n]; ok && sameValue(normalize(op.Param(n), w), v) {
			delete(rest, n)
		}
	}

	// A key that already names the entity carries its parameters.
	if kk.ID != "" && (!k.KeyRef || kk.Kind == k.KeyKind) {
		if id, ok := k.keyID(rest); ok && id == kk.ID {
			k.deleteKeyParams(rest)
		}
	}
	if k.Field != "" {
		payload := map[string]any{}
		for _, b := range k.Bindings {
			// Every object on the way exists, even empty: v5 servers
			// dereference e.g. ChannelSendDTMF's options.
			ensurePath(payload, b.Path)
		}
		for _, b := range k.Bindings {
			v, ok := rest[b.Param]
			if !ok {
				continue
			}
			prm := op.Param(b.Param)
			if isZero(v) && (prm == nil || !prm.Required) {
				if s, isStr := v.(string); isStr && s == "" {
					delete(rest, b.Param) // "" is "unset" on both sides
				}
				continue
			}
			cv, err := convOut(b.Conv, normalize(prm, v))
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %s: %v", ErrBadRequest, k.Name, b.Param, err)
			}
			setPath(payload, b.Path, cv)
			delete(rest, b.Param)
		}
		raw, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: payload: %v", ErrBadRequest, k.Name, err)
		}
		req.Payload = map[string]json.RawMessage{k.Field: raw}
	}

	if k.KeyParam != "" {
		if id, ok := k.keyID(rest); ok && kk.ID == "" && (!k.KeyRef || kk.Kind == "" || kk.Kind == k.KeyKind) {
			kk.ID = id
			if kk.Kind == "" {
				kk.Kind = k.KeyKind
			}
			k.deleteKeyParams(rest)
		}
	}
	if k.AppParam != "" {
		if app, ok := rest[k.AppParam].(string); ok {
			switch kk.App {
			case "":
				kk.App = app
				delete(rest, k.AppParam)
			case app:
				delete(rest, k.AppParam)
			}
		}
	}
	if kk.Kind == "" && kk.ID != "" && !k.KeyRef {
		kk.Kind = k.KeyKind
	}
	req.Key = &kk
	if len(rest) > 0 {
		req.Params = map[string]any(rest)
	}
	return req, nil
}

func (k *Kind) deleteKeyParams(p ari.Params) {
	for _, n := range strings.Split(k.KeyParam, "/") {
		delete(p, n)
	}
}

// ResultID is the id of the entity k creates or names, from the ARI params
// (before the call, so a dialog can be bound first) or, failing that, "".
// For creates it is Result.IDParam (the id the client chose; a server that
// needs the id before the call sets that parameter when it is empty); for
// lookups, the key's id.
func (k *Kind) ResultID(params ari.Params) string {
	if k.Result.IDParam != "" {
		if s, ok := params[k.Result.IDParam].(string); ok && s != "" {
			return s
		}
	}
	switch k.Result.Shape {
	case ShapeKey, ShapeData:
		if k.Result.IDParam == "" || k.Result.IDParam == k.KeyParam {
			id, _ := k.keyID(params)
			return id
		}
	}
	return ""
}

// decodeObject decodes a JSON object keeping numbers exact (json.Number).
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("not an object")
	}
	return m, nil
}

// lookupPath finds the value at a dotted path of nested objects.
func lookupPath(obj map[string]any, path string) (any, bool) {
	var cur any = obj
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[part]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// ensurePath creates the objects leading to the leaf of path.
func ensurePath(obj map[string]any, path string) {
	parts := strings.Split(path, ".")
	cur := obj
	for _, part := range parts[:len(parts)-1] {
		next, ok := cur[part].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[part] = next
		}
		cur = next
	}
}

func setPath(obj map[string]any, path string, v any) {
	ensurePath(obj, path)
	parts := strings.Split(path, ".")
	cur := obj
	for _, part := range parts[:len(parts)-1] {
		cur = cur[part].(map[string]any)
	}
	cur[parts[len(parts)-1]] = v
}

// convIn converts a v5 payload value to ARI units.
func convIn(c Conv, v any) (any, error) {
	if c == ConvNone {
		return v, nil
	}
	ns, err := toInt64(v)
	if err != nil {
		return nil, err
	}
	unit := int64(1e9)
	if c == ConvNsToMs {
		unit = 1e6
	}
	return int(divAway(ns, unit)), nil
}

// convOut converts an ARI value back to v5 units (nanoseconds).
func convOut(c Conv, v any) (any, error) {
	if c == ConvNone {
		return v, nil
	}
	unit := 1e9
	if c == ConvNsToMs {
		unit = 1e6
	}
	switch x := v.(type) {
	case int:
		return int64(x) * int64(unit), nil
	case float64:
		if math.IsNaN(x) || math.Abs(x*unit) > math.MaxInt64/2 {
			return nil, fmt.Errorf("duration %v out of range", x)
		}
		return int64(math.Round(x * unit)), nil
	}
	n, err := toInt64(v)
	if err != nil {
		return nil, err
	}
	if n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit) {
		return nil, fmt.Errorf("duration %v out of range", n)
	}
	return n * int64(unit), nil
}

// divAway divides rounding away from zero.
func divAway(n, d int64) int64 {
	q := n / d
	if n%d != 0 {
		if n > 0 {
			q++
		} else {
			q--
		}
	}
	return q
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", x.String())
		}
		return floatToInt64(f)
	case float64:
		return floatToInt64(x)
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	}
	return 0, fmt.Errorf("%T is not a number", v)
}

func floatToInt64(f float64) (int64, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f > math.MaxInt64 || f < math.MinInt64 {
		return 0, fmt.Errorf("%v is out of range", f)
	}
	return int64(math.Round(f)), nil
}

// isIntType says whether an ARI parameter type is an integer.
func isIntType(prm *ari.Param) bool {
	return prm != nil && (prm.Type == "int" || prm.Type == "long")
}

// normalize gives values the types ari.Params documents: json.Number and
// integral float64 become int for int/long parameters; other numbers
// become float64 (int when integral and the parameter type is unknown);
// nested maps and lists are normalized too.
func normalize(prm *ari.Param, v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil && (isIntType(prm) || prm == nil || prm.Type != "double") {
			if n >= math.MinInt && n <= math.MaxInt {
				return int(n)
			}
		}
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return normalize(prm, f)
	case float64:
		if isIntType(prm) && x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int(x)
		}
		return x
	case int64:
		if isIntType(prm) && x >= math.MinInt && x <= math.MaxInt {
			return int(x)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalizeNested(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeNested(e)
		}
		return out
	}
	return v
}

// normalizeNested turns json.Number inside containers into float64 (as
// encoding/json decodes into any), keeping container values comparable
// whichever way they were decoded.
func normalizeNested(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case map[string]any, []any:
		return normalize(nil, x)
	}
	return v
}

// isZero reports the values v5 cannot tell from "unset".
func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case int:
		return x == 0
	case int64:
		return x == 0
	case float64:
		return x == 0
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice:
		return rv.Len() == 0
	}
	return rv.IsZero()
}

// sameValue compares two parameter values.
func sameValue(a, b any) bool {
	return reflect.DeepEqual(a, b)
}

// DefaultApp (server side) gives AppParam the server's application when
// the request did not name one (ChannelUserEvent from a key without app).
func (k *Kind) DefaultApp(params ari.Params, app string) {
	if k.AppParam == "" || app == "" {
		return
	}
	if s, _ := params[k.AppParam].(string); s == "" {
		params[k.AppParam] = app
	}
}

// EnsureResultID (server side) makes sure a create knows the id of what it
// creates before the call, as v5 does, so that the dialog can be bound
// before Asterisk emits the first event and the id is unique across
// servers (Asterisk's own ids are unique on one Asterisk only): when
// Result.IDParam is left empty ("" counts as absent) and is an optional
// parameter, or a required non-path one of a create (a recording's name),
// it is set to newID(). It returns ResultID(params). Stage kinds need it to
// answer a key.
func (k *Kind) EnsureResultID(params ari.Params, newID func() string) string {
	if p := k.Result.IDParam; p != "" && newID != nil {
		if s, _ := params[p].(string); s == "" {
			if op := k.Operation(); op != nil {
				if prm := op.Param(p); prm != nil && (!prm.Required || prm.In != ari.InPath && k.assignsID()) {
					params[p] = newID()
				}
			}
		}
	}
	return k.ResultID(params)
}
