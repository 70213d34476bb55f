package main

import (
	"strings"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/wire"
)

// TestHandlesAgreeWithEntities: the handles are derived from wire's
// entity table, so check the derivation against what it did not use: the
// generated methods, assigned to handles by their paths (handleFor), are
// exactly the operations whose wire kind keys the handle's entity by its
// key parameter (in the path or a required query parameter); where the
// table writes a path prefix, it is the one the operations use; every
// handle has methods and every subscribe kind found its handle.
func TestHandlesAgreeWithEntities(t *testing.T) {
	models, err := modelNames("../../ari")
	if err != nil {
		t.Fatal(err)
	}
	a, err := build(models)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{} // op -> handle kind by path
	perHandle := map[string]int{}
	for _, m := range a.methods {
		if m.Handle != nil {
			got[m.Op.ID] = m.Handle.Kind
			perHandle[m.Handle.Name]++
		}
	}
	for i := range ari.Operations {
		op := &ari.Operations[i]
		k := wire.KindOf(op.Ident)
		if op.WebSocket || k == nil {
			continue
		}
		want := ""
		if e := wire.EntityOf(k.KeyKind); e != nil && e.KeyParam != "" && k.KeyParam == e.KeyParam {
			if p := op.Param(strings.Split(e.KeyParam, "/")[0]); p != nil && (p.In == ari.InPath || p.Required) {
				want = e.Kind
			}
		}
		if got[op.ID] != want {
			t.Errorf("%s: handle of kind %q by its path, %q by its wire kind %s", op.ID, got[op.ID], want, k.Name)
		}
	}
	byKind := map[string]*handleSpec{}
	for _, h := range a.handles {
		byKind[h.Kind] = h
		if perHandle[h.Name] == 0 {
			t.Errorf("%sHandle has no methods", h.Name)
		}
		if e := wire.EntityOf(h.Kind); e.PathPrefix != "" && h.PathPrefix != e.PathPrefix {
			t.Errorf("%sHandle: operations under %q, the entity table says %q", h.Name, h.PathPrefix, e.PathPrefix)
		}
	}
	for _, e := range wire.Entities() {
		if e.KeyParam != "" && byKind[e.Kind] == nil {
			t.Errorf("entity %s has no handle", e.Kind)
		}
	}
	for _, k := range wire.Kinds() {
		if k.Op == nil && !k.Unbind && strings.HasSuffix(k.Name, "Subscribe") {
			if h := byKind[k.KeyKind]; h == nil || a.subs[h.Name] != k.Name {
				t.Errorf("subscribe kind %s gives no handle an event Subscribe", k.Name)
			}
		}
	}
}

// TestHandlesOfRejectsGaps: an entity row the operations do not bear out
// is an error, not a handle that addresses nothing.
func TestHandlesOfRejectsGaps(t *testing.T) {
	for name, e := range map[string]*wire.Entity{
		"no operation": {Kind: "widget", Noun: "widget", KeyParam: "widgetId"},
		"no noun":      {Kind: "channel", KeyParam: "channelId", IDField: "id"},
	} {
		if _, err := handlesOf([]*wire.Entity{e}, ari.Operations[:], wire.Kinds()); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
