package wire

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// The hot paths of the envelopes: a request is decoded once per request
// by a server and a reply once per answer by a client, so they walk the
// bytes once with gjson after one validation pass, instead of decoding
// into a map of raw members and then each member again (each
// encoding/json call validates its whole input first). Anything unusual
// (escaped or non-UTF-8 member names, non-string key members) takes the
// encoding/json path, whose results are the reference: the fast paths
// give the same answers or step aside (see the differential tests).

// exactName reports whether a member name can be matched as written: no
// escapes and valid UTF-8. encoding/json matches struct fields without
// regard to case, so a name that differs from a field's only by case is
// left to it too.
func exactName(k gjson.Result) bool {
	return len(k.Raw) == len(k.Str)+2 && utf8.ValidString(k.Str)
}

// stringOf is the text of a JSON string member as encoding/json decodes
// it; ok is false when v is not a string.
func stringOf(v gjson.Result) (s string, ok bool) {
	if v.Type != gjson.String {
		return "", false
	}
	if bytes.IndexByte([]byte(v.Raw), '\\') < 0 && utf8.ValidString(v.Str) {
		return v.Str, true
	}
	if json.Unmarshal([]byte(v.Raw), &s) != nil {
		return "", false
	}
	return s, true
}

// decodeKeyFast fills k from a JSON object of string (or null) members
// named exactly as Key's fields; ok is false when raw is anything else,
// for encoding/json to decode.
func decodeKeyFast(raw gjson.Result, k *Key) (ok bool) {
	ok = true
	raw.ForEach(func(name, v gjson.Result) bool {
		dst := k.member(name)
		if dst == nil {
			ok = false // unknown, escaped or differently cased: encoding/json decides
			return false
		}
		if v.Type == gjson.Null {
			return true // null leaves the field alone
		}
		s, isStr := stringOf(v)
		if !isStr {
			ok = false
			return false
		}
		*dst = s
		return true
	})
	return ok
}

// member is the field of k a member name written exactly as its JSON
// name stands for, nil for any other name.
func (k *Key) member(name gjson.Result) *string {
	if !exactName(name) {
		return nil
	}
	switch name.Str {
	case "kind":
		return &k.Kind
	case "id":
		return &k.ID
	case "node":
		return &k.Node
	case "dialog":
		return &k.Dialog
	case "app":
		return &k.App
	}
	return nil
}

// topMembers walks the members of the valid JSON object obj, the last
// duplicate of each name winning as in a decoded map; ok is false when a
// name cannot be matched as written (see exactName).
func topMembers(obj []byte, each func(name string, v gjson.Result)) (ok bool) {
	type member struct {
		name string
		v    gjson.Result
	}
	var buf [8]member
	members := buf[:0]
	ok = true
	gjson.ParseBytes(obj).ForEach(func(k, v gjson.Result) bool {
		if !exactName(k) {
			ok = false
			return false
		}
		for i := range members {
			if members[i].name == k.Str {
				members[i].v = v
				return true
			}
		}
		members = append(members, member{k.Str, v})
		return true
	})
	if !ok {
		return false
	}
	for _, m := range members {
		each(m.name, m.v)
	}
	return true
}

// decodeRequestFast decodes the members of the valid, trimmed JSON object
// t; handled is false when the encoding/json path must decide.
func (r *Request) decodeFast(t []byte) (handled bool, err error) {
	var out Request
	handled = topMembers(t, func(name string, v gjson.Result) {
		if err != nil || v.Type == gjson.Null {
			return
		}
		raw := []byte(v.Raw)
		switch name {
		case fieldKind:
			s, ok := stringOf(v)
			if !ok {
				err = badRequest("kind is not a string")
				return
			}
			out.Kind = s
		case fieldKey:
			if !v.IsObject() {
				err = badRequest("key is not an object")
				return
			}
			k := new(Key)
			if !decodeKeyFast(v, k) {
				*k = Key{}
				if uerr := json.Unmarshal(raw, k); uerr != nil {
					err = badRequest("key: %v", typeErr(uerr))
					return
				}
			}
			out.Key = k
		case fieldParams:
			if !v.IsObject() {
				err = badRequest("params is not an object")
				return
			}
			if uerr := json.Unmarshal(raw, &out.Params); uerr != nil {
				err = badRequest("params: %v", uerr)
			}
		case fieldProbe:
			if !v.IsObject() {
				err = badRequest("probe is not an object")
				return
			}
			out.Probe = true
		default:
			if !v.IsObject() {
				err = badRequest("payload field %q is not an object", name)
				return
			}
			if out.Payload == nil {
				out.Payload = make(map[string]json.RawMessage, 2)
			}
			out.Payload[name] = raw
		}
	})
	if handled && err == nil {
		*r = out
	}
	return handled, err
}

// AppendJSON appends r encoded as json.Marshal encodes it, except that
// Data is written as it is instead of compacted and HTML-escaped again:
// Data must be valid JSON (BuildResponse's always is). Replies are
// encoded once each, and re-scanning a channel's bytes was a third of the
// cost of building a reply.
func (r *Response) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"error":`...)
	dst = appendString(dst, r.Error)
	if r.Code != "" {
		dst = append(dst, `,"error_code":`...)
		dst = appendString(dst, string(r.Code))
	}
	if r.Status != 0 {
		dst = append(dst, `,"ari_status":`...)
		dst = strconv.AppendInt(dst, int64(r.Status), 10)
	}
	if r.Detail != "" {
		dst = append(dst, `,"error_detail":`...)
		dst = appendString(dst, r.Detail)
	}
	if len(r.Data) > 0 {
		dst = append(dst, `,"data":`...)
		dst = append(dst, r.Data...)
	}
	if r.Key != nil {
		dst = append(dst, `,"key":`...)
		dst = r.Key.appendJSON(dst)
	}
	if len(r.Keys) > 0 {
		dst = append(dst, `,"keys":[`...)
		for i, k := range r.Keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			if k == nil {
				dst = append(dst, "null"...)
			} else {
				dst = k.appendJSON(dst)
			}
		}
		dst = append(dst, ']')
	}
	if r.Node != "" {
		dst = append(dst, `,"node":`...)
		dst = appendString(dst, r.Node)
	}
	return append(dst, '}')
}

// appendJSON appends k as json.Marshal encodes it.
func (k *Key) appendJSON(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, '{')
	field := func(name, v string) {
		if v == "" {
			return
		}
		if len(dst) > start+1 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, `":`...)
		dst = appendString(dst, v)
	}
	field("kind", k.Kind)
	field("id", k.ID)
	field("node", k.Node)
	field("dialog", k.Dialog)
	field("app", k.App)
	return append(dst, '}')
}

// appendString appends s as a JSON string exactly as json.Marshal writes
// it: plain printable ASCII is copied, anything else goes through
// encoding/json (HTML-escaping, invalid UTF-8 as U+FFFD).
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// decodeFast fills r from the valid, trimmed JSON object t as
// json.Unmarshal would, walking it once; it returns false, leaving r to be
// reset, when t has anything only encoding/json decides (keys, names
// that differ from the fields' but by case, non-string members).
func (r *Response) decodeFast(t []byte) bool {
	var bad bool
	ok := topMembers(t, func(name string, v gjson.Result) {
		switch name {
		case "error", "error_code", "error_detail", "node", "ari_status", "key":
			if v.Type == gjson.Null {
				return // null leaves the field alone
			}
		case "data": // a RawMessage keeps null
		default:
			bad = true // keys, or a name only encoding/json's folding matches
			return
		}
		if bad {
			return
		}
		var dst *string
		switch name {
		case "error":
			dst = &r.Error
		case "error_code":
			dst = (*string)(&r.Code)
		case "error_detail":
			dst = &r.Detail
		case "node":
			dst = &r.Node
		case "ari_status":
			n, err := strconv.Atoi(v.Raw)
			if v.Type != gjson.Number || err != nil {
				bad = true
			}
			r.Status = n
			return
		case "data":
			r.Data = bytes.Clone(t[v.Index : v.Index+len(v.Raw)])
			r.dataValid = true // a member of the validated reply
			return
		case "key":
			k := new(Key)
			if !v.IsObject() || !decodeKeyFast(v, k) {
				bad = true
			}
			r.Key = k
			return
		}
		s, isStr := stringOf(v)
		if !isStr {
			bad = true
		}
		*dst = s
	})
	return ok && !bad
}
