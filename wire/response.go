package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/tidwall/gjson"
)

// BuildResponse (server side) turns Asterisk's answer into the reply of
// k. base carries node, app and dialog for the keys it writes; its ID, the
// request key's id, is used where the params cannot tell the entity
// (AsteriskLoggingData/Get pick the log channel by it), so servers pass the
// request key with their node and app filled in.
//
// status 0 means no ARI call was made (Stage and Subscribe kinds): the
// reply is built from params alone. A non-2xx status gives an error reply
// with v5's text ("Non-2XX response: 404 Not Found", prefixed by "failed to
// get data: Error getting data for <entity> '<id>': " for the lookup kinds
// as v5 does), Code = CodeForStatus(status), Status = status and Detail =
// Asterisk's message. A 2xx answer is shaped by k.Result; every key written
// carries base's node, app and dialog. ShapeData splices "key" into ARI's
// object without re-encoding the rest, so the entity stays lossless.
func BuildResponse(k *Kind, base Key, params ari.Params, status int, body []byte) *Response {
	if status != 0 && (status < 200 || status > 299) {
		msg := StatusText(status)
		if k.DataErr != "" {
			msg = fmt.Sprintf("failed to get data: Error getting data for %s '%s': %s", k.DataErr, k.entityID(params, base), msg)
		}
		r := NewErrorResponse(CodeForStatus(status), status, msg)
		r.Detail = ariMessage(body)
		return r
	}
	r, err := k.shape(base, params, status, body)
	if err != nil {
		return NewErrorResponse(CodeInternal, status, "failed to decode response: "+err.Error())
	}
	return r
}

// entityID is the id of the entity a lookup names: its key params, else
// base's id.
func (k *Kind) entityID(params ari.Params, base Key) string {
	if id, ok := k.keyID(params); ok {
		return id
	}
	return base.ID
}

func (k *Kind) resultKey(base Key, id string) *Key {
	return &Key{Kind: k.Result.Kind, ID: id, Node: base.Node, App: base.App, Dialog: base.Dialog}
}

func (k *Kind) shape(base Key, params ari.Params, status int, body []byte) (*Response, error) {
	res := &k.Result
	body = bytes.TrimSpace(body)
	if res.Select && status != 0 {
		want := k.entityID(params, base)
		elem, found, err := selectElem(body, res.IDField, want)
		if err != nil {
			return nil, err
		}
		if !found {
			r := BuildResponse(k, base, params, 404, nil)
			r.Detail = fmt.Sprintf("no %s %q", res.Kind, want)
			return r, nil
		}
		body = elem
	}
	switch res.Shape {
	case ShapeNone:
		return &Response{}, nil

	case ShapeKey:
		id := ""
		if len(body) > 0 && res.IDField != "" {
			var err error
			if id, err = idOf(body, res.IDField); err != nil {
				return nil, err
			}
		}
		if id == "" {
			id = k.ResultID(params)
		}
		if id == "" {
			id = base.ID
		}
		return &Response{Key: k.resultKey(base, id)}, nil

	case ShapeKeys:
		var elems []json.RawMessage
		if err := json.Unmarshal(body, &elems); err != nil {
			return nil, err
		}
		r := &Response{Keys: make([]*Key, 0, len(elems))}
		for _, e := range elems {
			id, err := idOf(e, res.IDField)
			if err != nil {
				return nil, err
			}
			r.Keys = append(r.Keys, k.resultKey(base, id))
		}
		return r, nil

	case ShapeVariable:
		var v struct {
			Value *string `json:"value"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, err
		}
		if v.Value == nil {
			return nil, fmt.Errorf("no value in %s", abbrev(body))
		}
		d, _ := json.Marshal(map[string]string{"variable": *v.Value})
		return &Response{Data: d}, nil

	case ShapeData:
		return k.shapeData(base, params, body)
	}
	return nil, fmt.Errorf("kind %s: unknown shape %d", k.Name, res.Shape)
}

func (k *Kind) shapeData(base Key, params ari.Params, body []byte) (*Response, error) {
	res := &k.Result
	r := &Response{}
	var entity []byte
	switch {
	case res.Binary:
		entity, _ = json.Marshal(body) // []byte -> base64 string
	case res.Wrap != "":
		if !validJSON(body) {
			return nil, fmt.Errorf("invalid JSON: %s", abbrev(body))
		}
		id, _ := k.keyID(params)
		if id == "" {
			id = base.ID
		}
		var b bytes.Buffer
		b.WriteByte('{')
		if res.Kind != "" {
			kb, _ := json.Marshal(k.resultKey(base, id))
			b.WriteString(`"key":`)
			b.Write(kb)
			b.WriteByte(',')
		}
		for _, wp := range res.WrapParams {
			n, _ := json.Marshal(wp.Path)
			v, _ := json.Marshal(params[wp.Param])
			b.Write(n)
			b.WriteByte(':')
			b.Write(v)
			b.WriteByte(',')
		}
		n, _ := json.Marshal(res.Wrap)
		b.Write(n)
		b.WriteByte(':')
		b.Write(body)
		b.WriteByte('}')
		entity = b.Bytes()
	case res.Exact:
		if !validJSON(body) {
			return nil, fmt.Errorf("invalid JSON: %s", abbrev(body))
		}
		entity = body
		if res.Kind != "" && len(body) > 0 && body[0] == '{' {
			id := idOfObject(body, res.IDField) // body is valid
			if id == "" {
				id = k.ResultID(params)
			}
			r.Key = k.resultKey(base, id)
		}
	default:
		if len(body) == 0 || body[0] != '{' || !validJSON(body) {
			return nil, fmt.Errorf("not a JSON object: %s", abbrev(body))
		}
		entity = body
		if res.Kind != "" {
			id := ""
			if res.IDField != "" {
				id = idOfObject(body, res.IDField) // body is a valid object
			}
			if id == "" {
				id = k.entityID(params, base)
			}
			// One allocation for the whole data member: {"<field>":{"key":...,<body members>}}.
			d := make([]byte, 0, len(res.DataField)+len(body)+256)
			d = appendDataOpen(d, res.DataField)
			d = injectKey(d, body, k.resultKey(base, id))
			r.Data = append(d, '}')
			return r, nil
		}
	}
	d := make([]byte, 0, len(res.DataField)+len(entity)+8)
	d = appendDataOpen(d, res.DataField)
	d = append(d, entity...)
	r.Data = append(d, '}')
	return r, nil
}

// appendDataOpen appends `{"<field>":` to dst.
func appendDataOpen(dst []byte, field string) []byte {
	dst = append(dst, '{')
	dst = appendString(dst, field)
	return append(dst, ':')
}

// injectKey writes "key" as the first field of the JSON object obj (valid,
// trimmed), keeping the rest of its bytes as they are.
func injectKey(dst, obj []byte, key *Key) []byte {
	inner := bytes.TrimSpace(obj[1 : len(obj)-1])
	dst = append(dst, `{"key":`...)
	dst = key.appendJSON(dst) // as json.Marshal writes it, without its reflection
	if len(inner) > 0 {
		dst = append(dst, ',')
		dst = append(dst, inner...)
	}
	return append(dst, '}')
}

// idOf reads the id of an entity: the string field idField, or "a/b" for
// two fields joined with "/". A missing field gives "" (the console log
// channel has an empty name). An entity that is not an object is an error.
func idOf(obj []byte, idField string) (string, error) {
	if !gjson.ValidBytes(obj) || !gjson.ParseBytes(obj).IsObject() {
		return idOfDecoded(obj, idField) // for its error
	}
	return idOfObject(obj, idField), nil
}

// idOfObject is idOf for obj already known to be a valid JSON object: it
// walks the top-level members for the id fields instead of decoding every
// member into a map.
func idOfObject(obj []byte, idField string) string {
	if idField == "" {
		return ""
	}
	first, second, joined := strings.Cut(idField, "/")
	if joined && strings.Contains(second, "/") { // more than two fields: rare, decode
		id, _ := idOfDecoded(obj, idField)
		return id
	}
	var v1, v2 gjson.Result
	gjson.ParseBytes(obj).ForEach(func(k, v gjson.Result) bool {
		// The last duplicate wins, as in a decoded map.
		if k.Str == first {
			v1 = v
		}
		if joined && k.Str == second {
			v2 = v
		}
		return true
	})
	if !joined {
		return idText(v1)
	}
	a, b := idText(v1), idText(v2)
	if a == "" && b == "" {
		return ""
	}
	return a + "/" + b
}

// idText is the id a member value gives: a string's text, "" for null or
// a missing member, other values (a number id) as written.
func idText(v gjson.Result) string {
	switch v.Type {
	case gjson.Null:
		return ""
	case gjson.String:
		if s := v.Str; utf8.ValidString(s) {
			return s
		}
		var s string
		json.Unmarshal([]byte(v.Raw), &s) // invalid bytes become U+FFFD, as encoding/json does
		return s
	default:
		return v.Raw
	}
}

// idOfDecoded is idOf by decoding obj; it gives the errors for input that
// is not a valid object.
func idOfDecoded(obj []byte, idField string) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return "", err
	}
	if m == nil {
		return "", fmt.Errorf("not an object: %s", abbrev(obj))
	}
	if idField == "" {
		return "", nil
	}
	var parts []string
	for f := range strings.SplitSeq(idField, "/") {
		var s string
		if raw, ok := m[f]; ok {
			if err := json.Unmarshal(raw, &s); err != nil {
				// Ids are strings; a number id is kept as written.
				s = string(bytes.Trim(raw, `"`))
			}
		}
		parts = append(parts, s)
	}
	if strings.Contains(idField, "/") && strings.Join(parts, "") == "" {
		return "", nil
	}
	return strings.Join(parts, "/"), nil
}

// selectElem finds the element of the JSON array list whose idField is id.
func selectElem(list []byte, idField, id string) ([]byte, bool, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(list, &elems); err != nil {
		return nil, false, err
	}
	for _, e := range elems {
		eid, err := idOf(e, idField)
		if err != nil {
			return nil, false, err
		}
		if eid == id {
			return bytes.TrimSpace(e), true, nil
		}
	}
	return nil, false, nil
}

// ariMessage is Asterisk's error text: {"message": "..."} (or, once,
// {"error": "..."}).
func ariMessage(body []byte) string {
	var m struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	if m.Message != "" {
		return m.Message
	}
	return m.Error
}

func abbrev(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	if len(b) == 0 {
		return "empty body"
	}
	return string(b)
}

// Entity returns the entity under data.<field> of a ShapeData reply.
func (r *Response) Entity(field string) (json.RawMessage, bool) {
	if r == nil || len(r.Data) == 0 {
		return nil, false
	}
	d := bytes.TrimSpace(r.Data)
	if len(d) == 0 || d[0] != '{' || (!r.dataValid && !gjson.ValidBytes(d)) {
		return nil, false
	}
	var v json.RawMessage
	found := false
	if !topMembers(d, func(name string, m gjson.Result) {
		if name == field {
			v, found = d[m.Index:m.Index+len(m.Raw)], m.Type != gjson.Null
		}
	}) {
		// A name only encoding/json's matching rules resolve.
		var m map[string]json.RawMessage
		if json.Unmarshal(r.Data, &m) != nil {
			return nil, false
		}
		v, found = m[field]
		found = found && string(v) != "null"
	}
	if !found {
		return nil, false
	}
	return v, true
}

// Variable returns data.variable of a ShapeVariable reply.
func (r *Response) Variable() (string, bool) {
	raw, ok := r.Entity("variable")
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// DecodeResponse decodes a response envelope; bad input gives an error
// wrapping ErrBadRequest, never a panic.
func DecodeResponse(data []byte) (*Response, error) {
	if len(data) > MaxRequestSize*4 {
		return nil, badRequest("response of %d bytes is too large", len(data))
	}
	switch valid, deep := checkJSON(data, maxFastDepth); {
	case !valid:
		return nil, badRequest("invalid JSON")
	case deep:
		return nil, badRequest("response nested too deeply")
	}
	r := new(Response)
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' && r.decodeFast(t) {
		return r, nil
	}
	*r = Response{}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, badRequest("response: %v", typeErr(err))
	}
	r.dataValid = true // a member of data, validated above
	return r, nil
}
