package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/tidwall/gjson"
)

// Limits of DecodeRequest. A request is a small JSON object; these bound
// the work a hostile or broken publisher can cause.
const (
	// MaxRequestSize is the largest request envelope accepted, in bytes.
	MaxRequestSize = 4 << 20
	// MaxDepth is the deepest nesting of objects and arrays accepted.
	MaxDepth = 64
)

// Envelope field names that are not payload fields.
const (
	fieldKind   = "kind"
	fieldKey    = "key"
	fieldParams = "params"
	fieldProbe  = "probe"
)

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// DecodeRequest decodes a request envelope; bad input gives an error
// wrapping ErrBadRequest, never a panic.
//
// Accepted: a JSON object with "kind" (a string; absent or null is ""),
// "key" (a Key object, null or absent), "params" (an object, null or
// absent), "probe" (an object, null or absent) and payload fields, each
// an object (or null, ignored).
func DecodeRequest(data []byte) (*Request, error) {
	r := new(Request)
	if err := r.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return r, nil
}

// UnmarshalJSON reads the flat envelope (see DecodeRequest).
func (r *Request) UnmarshalJSON(b []byte) error {
	if len(b) > MaxRequestSize {
		return badRequest("request of %d bytes exceeds %d", len(b), MaxRequestSize)
	}
	switch valid, deep := checkJSON(b, MaxDepth); {
	case !valid:
		return badRequest("invalid JSON")
	case deep:
		return badRequest("nesting deeper than %d", MaxDepth)
	}
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return badRequest("request is not a JSON object")
	}
	if handled, err := r.decodeFast(t); handled {
		return err
	}
	return r.decodeMembers(t)
}

// decodeMembers decodes the members of the valid JSON object t with
// encoding/json: the reference for decodeFast, and the path for what it
// leaves aside.
func (r *Request) decodeMembers(t []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(t, &fields); err != nil {
		return badRequest("request: %v", err)
	}
	*r = Request{}
	for name, raw := range fields {
		if string(raw) == "null" {
			continue // null is absent, for every member
		}
		var err error
		switch name {
		case fieldKind:
			err = member(raw, '"', "kind", "a string", &r.Kind)
		case fieldKey:
			r.Key = new(Key)
			err = member(raw, '{', "key", "an object", r.Key)
		case fieldParams:
			err = member(raw, '{', "params", "an object", &r.Params)
		case fieldProbe:
			if raw[0] != '{' {
				err = badRequest("probe is not an object")
			}
			r.Probe = true
		default:
			if raw[0] != '{' {
				return badRequest("payload field %q is not an object", name)
			}
			if r.Payload == nil {
				r.Payload = make(map[string]json.RawMessage, len(fields))
			}
			r.Payload[name] = raw
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// member decodes the envelope member name, whose JSON must start with
// first (what it is not: "is not <what>").
func member(raw json.RawMessage, first byte, name, what string, dst any) error {
	if raw[0] != first {
		return badRequest("%s is not %s", name, what)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return badRequest("%s: %v", name, typeErr(err))
	}
	return nil
}

// typeErr shortens encoding/json's type errors to name the field.
func typeErr(err error) error {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Errorf("field %q: %s is not a %s", te.Field, te.Value, te.Type)
	}
	return err
}

// checkJSON reports whether b is valid JSON and whether it nests deeper
// than maxDepth. gjson's validator is about three times as fast as
// encoding/json's but recurses once per level, so it sees only input
// within maxDepth; deeper input goes to encoding/json, which does not
// recurse.
func checkJSON(b []byte, maxDepth int) (valid, tooDeep bool) {
	if depth(b) > maxDepth {
		return json.Valid(b), true
	}
	return gjson.ValidBytes(b), false
}

// validJSON is checkJSON's validity for input of any depth.
func validJSON(b []byte) bool {
	valid, _ := checkJSON(b, maxFastDepth)
	return valid
}

// maxFastDepth bounds the nesting gjson validates (a few MiB of stack at
// most); anything deeper is validated by encoding/json.
const maxFastDepth = 10000

// depth is the deepest nesting of objects and arrays in valid JSON b.
func depth(b []byte) int {
	d, max := 0, 0
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			d++
			if d > max {
				max = d
			}
		case '}', ']':
			d--
		}
	}
	return max
}

// MarshalJSON writes the flat envelope: "kind", "key" (null when nil, as
// v5's ping), the payload fields in name order, then "params" when not
// empty and "probe" when set.
func (r *Request) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(128)
	buf.WriteString(`{"kind":`)
	buf.Write(appendString(buf.AvailableBuffer(), r.Kind))
	buf.WriteString(`,"key":`)
	if r.Key == nil {
		buf.WriteString("null")
	} else {
		buf.Write(r.Key.appendJSON(buf.AvailableBuffer()))
	}
	names := make([]string, 0, len(r.Payload))
	for name := range r.Payload {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		switch name {
		case fieldKind, fieldKey, fieldParams, fieldProbe, "":
			return nil, fmt.Errorf("wire: payload field name %q is reserved", name)
		}
		raw := r.Payload[name]
		if len(raw) == 0 {
			raw = json.RawMessage("{}")
		} else if !json.Valid(raw) {
			return nil, fmt.Errorf("wire: payload field %q is not valid JSON", name)
		}
		n, _ := json.Marshal(name)
		buf.WriteByte(',')
		buf.Write(n)
		buf.WriteByte(':')
		buf.Write(raw)
	}
	if len(r.Params) > 0 {
		p, err := json.Marshal(r.Params)
		if err != nil {
			return nil, fmt.Errorf("wire: params: %w", err)
		}
		buf.WriteString(`,"params":`)
		buf.Write(p)
	}
	if r.Probe {
		buf.WriteString(`,"probe":{}`)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
