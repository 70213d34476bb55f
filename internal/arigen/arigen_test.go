package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// repoRoot is the directory holding go.mod, above the package directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package directory")
		}
		dir = parent
	}
}

// TestGeneratedUpToDate regenerates package ari in memory and compares it
// with the committed files: run `go generate ./ari/` when this fails.
func TestGeneratedUpToDate(t *testing.T) {
	root := repoRoot(t)
	specDir := filepath.Join(root, "..", "shared", "ari", "api-docs")
	if _, err := os.Stat(filepath.Join(specDir, "resources.json")); err != nil {
		t.Skipf("api-docs absent (%v): needs ../shared beside the repository", err)
	}
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
