package wire

import (
	"strings"

	"github.com/tidwall/gjson"

	"github.com/ariproxy/ari-proxy/ari"
)

// EventResources appends to dst the resources an ARI event of type typ
// refers to, and returns the one the event ends (zero when none). The
// members come from the spec (ari.EventRefs), the ids from the entity
// table (entities that appear in events, their IDField); a playback's or
// recording's event also counts as an event of the channel or bridge it
// targets, so a dialog that owns a call sees the media operations on it.
// Only those members of raw are read; raw is not decoded. raw must be
// valid JSON (the server checks events before routing them).
func EventResources(dst []Ref, typ string, raw []byte) (_ []Ref, ended Ref) {
	refs := ari.EventRefs(typ)
	if len(refs) == 0 {
		return dst, Ref{}
	}
	// One pass over the top level: the members are few and named plainly.
	gjson.ParseBytes(raw).ForEach(func(k, obj gjson.Result) bool {
		for _, r := range refs {
			if r.Member != k.Str || !obj.IsObject() {
				continue
			}
			e := EntityOfModel(r.Model)
			if e == nil || !e.Events {
				break
			}
			id := e.ID(func(m string) string { return str(obj.Get(m)) })
			if id == "" {
				break
			}
			ref := Ref{e.Kind, id}
			dst = append(dst, ref)
			if ended == (Ref{}) && e.Ends(typ) {
				ended = ref
			}
			if e.TargetField != "" {
				if kind, tid, ok := strings.Cut(str(obj.Get(e.TargetField)), ":"); ok && tid != "" {
					if t := EntityOf(kind); t != nil && t.Events {
						dst = append(dst, Ref{t.Kind, tid})
					}
				}
			}
			break
		}
		return true
	})
	return dst, ended
}

// str is v's value when it is a JSON string, else "".
func str(v gjson.Result) string {
	if v.Type != gjson.String {
		return ""
	}
	return v.Str
}
