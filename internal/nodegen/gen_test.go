package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
)

// TestGeneratedUpToDate fails when the committed TypeScript of the Node
// SDK is not what the tables give now: run go generate ./internal/nodegen.
func TestGeneratedUpToDate(t *testing.T) {
	files, err := Generate("../../ari", "../../docs/schema")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("../../sdk/node", filepath.FromSlash(name)))
		if err != nil {
			t.Errorf("%s: %v (run go generate ./internal/nodegen)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("sdk/node/%s is stale: run go generate ./internal/nodegen", name)
		}
	}
}

// TestEveryOperationHasAMethod checks the surface against the operation
// table: one method per operation, each sending the kind KindForOp gives.
func TestEveryOperationHasAMethod(t *testing.T) {
	models, err := parseModels("../../ari")
	if err != nil {
		t.Fatal(err)
	}
	a, err := build(models)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, m := range a.methods {
		ops[m.Op.ID] = true
	}
	n := 0
	for _, op := range ari.Operations {
		if op.WebSocket {
			continue
		}
		n++
		if !ops[op.ID] {
			t.Errorf("%s: no method", op.ID)
		}
	}
	if len(a.methods) != n {
		t.Errorf("%d methods for %d operations", len(a.methods), n)
	}
	src := string(a.render())
	for _, want := range []string{"export class ChannelHandle extends Handle", "async answer(", "async originate(", "subscribe(options?: SubscribeOptions)"} {
		if !strings.Contains(src, want) {
			t.Errorf("api.ts lacks %q", want)
		}
	}
}

// TestSecondsParams: the parameters in whole seconds take seconds or a
// Date in the SDK.
func TestSecondsParams(t *testing.T) {
	want := map[string]bool{"channels.originate timeout": true, "channels.record maxDurationSeconds": true, "bridges.record maxSilenceSeconds": true, "channels.dial timeout": true}
	got := map[string]bool{}
	for _, op := range ari.Operations {
		for _, p := range op.Params {
			if secondsParam(&op, p) {
				got[op.ID+" "+p.Name] = true
			}
			if secondsParam(&op, p) && paramType(&op, p) != "Seconds" {
				t.Errorf("%s %s: type %s", op.ID, p.Name, paramType(&op, p))
			}
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("%s is not a seconds parameter", k)
		}
	}
	for k := range got {
		if strings.Contains(k, "ms") || strings.Contains(k, "between") {
			t.Errorf("%s taken for seconds", k)
		}
	}
}
