package wire

import (
	"slices"
	"strings"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
)

// TestEntityTable: the entity table agrees with the spec (models, their
// id members, the parameters it names, the events) and with the kind
// table (every key kind and result kind is a row).
func TestEntityTable(t *testing.T) {
	inEvents := map[string]bool{} // models events refer to
	endedBy := map[string][]string{}
	for _, typ := range ari.EventTypes() {
		for _, r := range ari.EventRefs(typ) {
			inEvents[r.Model] = true
			endedBy[r.Model] = append(endedBy[r.Model], typ)
		}
	}
	params := map[string]bool{} // every parameter of every operation
	paths := map[string]bool{}  // "a/b" runs of leading path parameters
	for _, op := range ari.Operations {
		var path []string
		for _, p := range op.Params {
			params[p.Name] = true
			if p.In == ari.InPath {
				path = append(path, p.Name)
				paths[strings.Join(path, "/")] = true
			}
		}
	}
	for _, e := range Entities() {
		if EntityOf(e.Kind) != e {
			t.Errorf("%s: not found by kind", e.Kind)
		}
		if e.Model != "" {
			if EntityOfModel(e.Model) != e {
				t.Errorf("%s: not found by model %s", e.Kind, e.Model)
			}
			if e.Events != inEvents[e.Model] {
				t.Errorf("%s: Events %v, but the spec's events refer to %s: %v", e.Kind, e.Events, e.Model, inEvents[e.Model])
			}
			// What the routing of events to dialogs relies on.
			want := slices.Contains([]string{"channel", "bridge", "playback", "liverecording", "endpoint", "devicestate"}, e.Kind)
			if e.Events != want {
				t.Errorf("%s: Events %v, want %v", e.Kind, e.Events, want)
			}
		}
		for _, typ := range e.EndEvents {
			if !slices.Contains(endedBy[e.Model], typ) {
				t.Errorf("%s: end event %s does not carry a %s", e.Kind, typ, e.Model)
			}
		}
		for _, typ := range e.StartEvents {
			if !slices.Contains(endedBy[e.Model], typ) {
				t.Errorf("%s: start event %s does not carry a %s", e.Kind, typ, e.Model)
			}
		}
		if e.Created != (len(e.StartEvents) > 0) {
			t.Errorf("%s: Created %v with start events %v: every created entity has some, no other", e.Kind, e.Created, e.StartEvents)
		}
		for _, p := range e.IDParams {
			if !params[p] {
				t.Errorf("%s: no operation has the id parameter %s", e.Kind, p)
			}
		}
		if e.KeyParam != "" && !paths[e.KeyParam] && !params[e.KeyParam] {
			t.Errorf("%s: no operation has the key parameter %s", e.Kind, e.KeyParam)
		}
		if e.Created && (e.Model == "" || !e.Events) {
			t.Errorf("%s: created entities are models that appear in events", e.Kind)
		}
		if e.IDDoc == "" {
			t.Errorf("%s: no IDDoc", e.Kind)
		}
	}
	for _, k := range Kinds() {
		for _, kind := range []string{k.KeyKind, k.Result.Kind} {
			if kind != "" && EntityOf(kind) == nil {
				t.Errorf("kind %s names key kind %q, which the entity table lacks", k.Name, kind)
			}
		}
		if k.KeyParam != "" && k.KeyKind != "" && !k.KeyRef && k.KeyPrefix == "" && k.KeyKind != "variable" {
			if e := EntityOf(k.KeyKind); e.KeyParam != k.KeyParam {
				t.Errorf("kind %s keys %s by %q, the entity table by %q", k.Name, k.KeyKind, k.KeyParam, e.KeyParam)
			}
		}
		if k.assignsID() && k.CreatedIDParam() == "" {
			t.Errorf("kind %s assigns an id but has no id parameter", k.Name)
		}
	}
}

// TestEventResources: resources named by the spec's members, a media
// operation's target, the resource an end event ends.
func TestEventResources(t *testing.T) {
	refs, ended := EventResources(nil, ari.TypeRecordingFinished,
		[]byte(`{"type":"RecordingFinished","recording":{"name":"r1","target_uri":"bridge:b1"}}`))
	if want := []Ref{{"liverecording", "r1"}, {"bridge", "b1"}}; !slices.Equal(refs, want) || ended != want[0] {
		t.Fatalf("refs %v ended %v", refs, ended)
	}
	refs, ended = EventResources(nil, ari.TypeChannelDtmfReceived, []byte(`{"channel":{"id":"c"},"digit":"1"}`))
	if !slices.Equal(refs, []Ref{{"channel", "c"}}) || ended != (Ref{}) {
		t.Fatalf("refs %v ended %v", refs, ended)
	}
	if refs, _ := EventResources(nil, "NoSuchEvent", []byte(`{"channel":{"id":"c"}}`)); len(refs) != 0 {
		t.Fatalf("unknown type: %v", refs)
	}
}
