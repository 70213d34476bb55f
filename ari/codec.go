package ari

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
)

// TimeLayout is how Asterisk writes Date values: "2026-11-22T02:39:35.083+0000"
// (not RFC 3339: the zone has no colon).
const TimeLayout = "2006-01-02T15:04:05.000-0700"

// ParseTime parses a Date value of an ARI model or event (Channel.Creationtime,
// EventBase.Timestamp...). It accepts the Asterisk layout with or without
// fractional seconds, and RFC 3339.
func ParseTime(s string) (time.Time, error) {
	// Parsing accepts any fraction after the seconds even if the layout has none.
	t, err := time.Parse("2006-01-02T15:04:05-0700", s)
	if err == nil {
		return t, nil
	}
	if t, err2 := time.Parse(time.RFC3339Nano, s); err2 == nil {
		return t, nil
	}
	return time.Time{}, err
}

// FormatTime writes t the way Asterisk writes Date values (TimeLayout).
func FormatTime(t time.Time) string {
	return t.Format(TimeLayout)
}

// unmarshalKeep decodes data into v, a pointer to the plain (method-less)
// form of a generated type, and keeps a copy of data in *raw, which points
// into the same value. Decoding replaces the whole value.
func unmarshalKeep(data []byte, v any, raw *json.RawMessage) error {
	if string(data) == "null" {
		return nil // the encoding/json convention for Unmarshalers
	}
	reflect.ValueOf(v).Elem().SetZero()
	if err := json.Unmarshal(data, v); err != nil {
		return err
	}
	*raw = bytes.Clone(data) // data belongs to the caller
	return nil
}

// marshalWithExtra encodes known, the plain form of a generated value
// decoded from raw, so that nothing of raw is lost:
//
//   - members of raw the type does not model are written unchanged;
//   - modelled members are written from the struct, so changes are
//     honoured, except that a member whose field is still zero keeps its
//     raw value when that value is a zero too (0, "", false, null, [], {}),
//     which omitempty or a null would otherwise change;
//   - modelled members absent from raw are written only when their field
//     was set (is not zero), so decoding does not invent members.
//
// Members keep raw's order; new ones follow. Without raw (a value built in
// Go), or when raw is not an object, this is plain json.Marshal.
func marshalWithExtra(raw json.RawMessage, known any) ([]byte, error) {
	out, err := json.Marshal(known)
	if err != nil || len(raw) == 0 {
		return out, err
	}
	rawMembers, err := objectMembers(raw)
	if err != nil {
		return out, nil
	}
	outMembers, err := objectMembers(out)
	if err != nil {
		return nil, err
	}
	fromStruct := make(map[string]json.RawMessage, len(outMembers))
	for _, m := range outMembers {
		fromStruct[m.key] = m.value
	}
	rv := reflect.ValueOf(known)
	fields := jsonFields(rv.Type())
	isZero := func(name string) bool { return rv.FieldByIndex(fields[name]).IsZero() }

	var b bytes.Buffer
	b.WriteByte('{')
	write := func(key string, value json.RawMessage) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(value)
	}
	inRaw := make(map[string]bool, len(rawMembers))
	for _, m := range rawMembers {
		if inRaw[m.key] {
			continue // a duplicate member: keep the first
		}
		inRaw[m.key] = true
		if _, modelled := fields[m.key]; !modelled {
			write(m.key, m.value)
			continue
		}
		v, written := fromStruct[m.key]
		switch {
		case !written, isZero(m.key):
			if zeroJSON(m.value) {
				write(m.key, m.value)
			} else if written {
				write(m.key, v)
			}
		default:
			write(m.key, v)
		}
	}
	for _, m := range outMembers {
		if !inRaw[m.key] && !isZero(m.key) {
			write(m.key, m.value)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type objectMember struct {
	key   string
	value json.RawMessage
}

var errNotObject = errors.New("not a JSON object")

// objectMembers splits a JSON object into its members, in order.
func objectMembers(data []byte) ([]objectMember, error) {
	if !gjson.ValidBytes(data) {
		return nil, errNotObject
	}
	obj := gjson.ParseBytes(data)
	if !obj.IsObject() {
		return nil, errNotObject
	}
	var ms []objectMember
	obj.ForEach(func(k, v gjson.Result) bool {
		ms = append(ms, objectMember{k.Str, json.RawMessage(v.Raw)})
		return true
	})
	return ms, nil
}

// zeroJSON reports whether v is a JSON zero value: null, false, "", a
// number equal to 0, [] or {}.
func zeroJSON(v json.RawMessage) bool {
	s := strings.TrimSpace(string(v))
	switch s {
	case "null", "false", `""`:
		return true
	}
	if len(s) >= 2 && (s[0] == '[' || s[0] == '{') {
		return strings.TrimSpace(s[1:len(s)-1]) == ""
	}
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f == 0
}

var fieldCache sync.Map // reflect.Type -> map[string][]int

// jsonFields maps the JSON member names of struct type t to field indexes,
// following embedded structs as encoding/json does (outer fields win).
func jsonFields(t reflect.Type) map[string][]int {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string][]int)
	}
	fields := map[string][]int{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		var embedded []reflect.StructField
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				embedded = append(embedded, f)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, shadowed := fields[name]; !shadowed {
				fields[name] = append(append([]int(nil), prefix...), i)
			}
		}
		for _, f := range embedded {
			walk(f.Type, append(append([]int(nil), prefix...), f.Index...))
		}
	}
	walk(t, nil)
	fieldCache.Store(t, fields)
	return fields
}
