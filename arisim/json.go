package arisim

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// JSON helpers. The bodies follow the member order of the recorded
// Asterisk (which is not the spec's order), so each model has one struct
// or one builder, used by every response and event that carries it.

// jsonOf encodes v compactly without HTML escaping, as jansson does.
func jsonOf(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("arisim: encode: " + err.Error()) // only our own types are encoded
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// jsonString encodes s as a JSON string.
func jsonString(s string) []byte { return jsonOf(s) }

// obj builds a JSON object member by member, in order.
type obj struct{ b []byte }

func newObj() *obj { return &obj{b: append(make([]byte, 0, 256), '{')} }

func (o *obj) key(k string) *obj {
	if len(o.b) > 1 {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, jsonString(k)...)
	o.b = append(o.b, ':')
	return o
}

func (o *obj) str(k, v string) *obj {
	o.key(k)
	o.b = append(o.b, jsonString(v)...)
	return o
}

func (o *obj) num(k string, v int) *obj {
	o.key(k)
	o.b = strconv.AppendInt(o.b, int64(v), 10)
	return o
}

func (o *obj) boolean(k string, v bool) *obj {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
	return o
}

func (o *obj) raw(k string, v []byte) *obj {
	o.key(k)
	o.b = append(o.b, v...)
	return o
}

func (o *obj) val(k string, v any) *obj { return o.raw(k, jsonOf(v)) }

func (o *obj) done() []byte { return append(o.b, '}') }

// orderedVars is a JSON object of strings that keeps its members' order.
type orderedVars []kv

type kv struct{ k, v string }

func (o orderedVars) MarshalJSON() ([]byte, error) {
	ob := newObj()
	for _, p := range o {
		ob.str(p.k, p.v)
	}
	return ob.done(), nil
}

type variableJSON struct {
	Value string `json:"value"`
}

type messageJSON struct {
	Message string `json:"message"`
}
