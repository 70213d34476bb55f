package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/wire"
)

// requestCase is one envelope the Go side builds (wire.NewRequest) for an
// operation called through a typed method: the SDK's port must build the
// same from the same key and parameters.
type requestCase struct {
	Op       string          `json:"op"`
	Key      wire.Key        `json:"key"`
	Params   ari.Params      `json:"params"`
	Expected json.RawMessage `json:"expected"`
}

// sampleValue is a value of an ARI parameter's type.
func sampleValue(p ari.Param) any {
	t := p.Type
	switch {
	case t == "containers" && p.Name == "fields":
		return []any{map[string]any{"attribute": "allow", "value": "ulaw"}}
	case t == "containers":
		return map[string]any{"k": "v"}
	case t == "object":
		return map[string]any{"a": "b"}
	case strings.HasPrefix(t, "List["):
		return []any{"a-" + p.Name, "b-" + p.Name}
	case t == "int" || t == "long":
		return 3
	case t == "double":
		return 1.5
	case t == "boolean":
		return true
	}
	v := "v-" + p.Name
	if len(p.Allowed) > 0 {
		v = p.Allowed[len(p.Allowed)-1]
	}
	if p.AllowMultiple {
		return []any{v}
	}
	return v
}

// renderRequestCases writes, for every operation, the envelope of a call
// with every parameter set (and one with only the required ones).
func renderRequestCases() ([]byte, error) {
	var cases []requestCase
	for i := range ari.Operations {
		op := &ari.Operations[i]
		if op.WebSocket {
			continue
		}
		gk, _ := wire.LookupKind(op.ID)
		k := wire.KindForOp(op.ID)
		keyParams := map[string]bool{}
		key := wire.Key{App: "demo"}
		if gk != nil && gk.KeyKind != "" {
			var parts []string
			for _, n := range strings.Split(gk.KeyParam, "/") {
				keyParams[n] = true
				parts = append(parts, "id-"+n)
			}
			key.Kind, key.ID = gk.KeyKind, strings.Join(parts, "/")
		}
		for _, all := range []bool{true, false} {
			params := ari.Params{}
			for _, p := range op.Params {
				if keyParams[p.Name] || (!all && !p.Required) {
					continue
				}
				params[p.Name] = sampleValue(p)
			}
			kk := key
			req, err := wire.NewRequest(k, &kk, cloneParams(params))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op.ID, err)
			}
			js, err := json.Marshal(req)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", op.ID, err)
			}
			cases = append(cases, requestCase{Op: op.ID, Key: key, Params: params, Expected: js})
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", " ")
	if err := enc.Encode(cases); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func cloneParams(p ari.Params) ari.Params {
	out := make(ari.Params, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}
