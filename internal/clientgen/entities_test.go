package main

import (
	"strings"
	"testing"

	"github.com/ariproxy/ari-proxy/wire"
)

// TestHandlesAgreeWithEntities: the client's handles are the entities of
// wire's table that operations address: one handle per entity with a key
// parameter, keyed by the same parameters (and path, where two entities
// share a parameter).
func TestHandlesAgreeWithEntities(t *testing.T) {
	byKind := map[string]*handleSpec{}
	for _, h := range handles {
		e := wire.EntityOf(h.Kind)
		if e == nil {
			t.Errorf("handle %s: key kind %q is not in wire's entity table", h.Name, h.Kind)
			continue
		}
		byKind[h.Kind] = h
		if got := strings.Join(h.Params, "/"); got != e.KeyParam {
			t.Errorf("handle %s: keyed by %q, the entity table says %q", h.Name, got, e.KeyParam)
		}
		if e.PathPrefix != "" && h.PathPrefix != e.PathPrefix {
			t.Errorf("handle %s: path %q, the entity table says %q", h.Name, h.PathPrefix, e.PathPrefix)
		}
	}
	for _, e := range wire.Entities() {
		if e.KeyParam != "" && byKind[e.Kind] == nil {
			t.Errorf("entity %s has no handle", e.Kind)
		}
	}
}
