package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

// TestGeneratedUpToDate regenerates package ari in memory and compares it
// with the committed files: run `go generate ./ari/` when this fails.
func TestGeneratedUpToDate(t *testing.T) {
	root := sharedtest.RepoRoot(t)
	specDir := filepath.Dir(sharedtest.Path(t, "ari", "api-docs", "resources.json"))
	s, err := loadSpec(specDir)
	if err != nil {
		t.Fatal(err)
	}
	files, err := generate(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("generated %d files", len(files))
	}
	for name, want := range files {
		if !bytes.HasPrefix(want, []byte("// Code generated ")) || !bytes.Contains(want, []byte("DO NOT EDIT.\n")) {
			t.Errorf("%s lacks the generated-code header", name)
		}
		got, err := os.ReadFile(filepath.Join(root, "ari", name))
		if err != nil {
			t.Errorf("%v: run go generate ./ari/", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("ari/%s is out of date: run go generate ./ari/", name)
		}
	}
}

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{
		"id": "ID", "channel_ids": "ChannelIDs", "media_uri": "MediaURI", "asterisk_id": "AsteriskID",
		"bridge_from": "BridgeFrom", "txcount": "Txcount", "duration_ms": "DurationMS", "local_ssrc": "LocalSSRC",
		"old_video_source_id": "OldVideoSourceID", "from": "From",
	} {
		if got := goName(in); got != want {
			t.Errorf("goName(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestGoType(t *testing.T) {
	known := map[string]bool{"Channel": true}
	for _, tt := range []struct {
		in       string
		required bool
		want     string
	}{
		{"string", true, "string"}, {"Date", false, "string"}, {"int", true, "int"}, {"long", true, "int64"},
		{"double", false, "float64"}, {"boolean", true, "bool"}, {"object", false, "map[string]any"},
		{"List[string]", true, "[]string"}, {"List[Channel]", false, "[]Channel"},
		{"Channel", true, "Channel"}, {"Channel", false, "*Channel"},
	} {
		if got, err := goType(tt.in, tt.required, known); err != nil || got != tt.want {
			t.Errorf("goType(%s, %v) = %s, %v; want %s", tt.in, tt.required, got, err, tt.want)
		}
	}
	if _, err := goType("Nope", true, known); err == nil {
		t.Error("unknown type accepted")
	}
}

func TestFlexInt(t *testing.T) {
	var v []flexInt
	if err := json.Unmarshal([]byte(`[404, "409"]`), &v); err != nil || v[0] != 404 || v[1] != 409 {
		t.Errorf("got %v, %v", v, err)
	}
	if err := json.Unmarshal([]byte(`"x"`), new(flexInt)); err == nil {
		t.Error("flexInt accepted x")
	}
}

func TestOrderedObject(t *testing.T) {
	var o orderedObject
	if err := json.Unmarshal([]byte(`{"b":1,"a":{"c":2}}`), &o); err != nil {
		t.Fatal(err)
	}
	if len(o) != 2 || o[0].Key != "b" || o[1].Key != "a" || string(o[1].Value) != `{"c":2}` {
		t.Errorf("got %+v", o)
	}
	if err := json.Unmarshal([]byte(`[1]`), &o); err == nil {
		t.Error("a list accepted")
	}
}
