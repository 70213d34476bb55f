package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ariproxy/ari-proxy/ari"
)

func TestExported(t *testing.T) {
	for in, want := range map[string]string{
		"channelId":                "ChannelID",
		"reason_code":              "ReasonCode",
		"sendDTMF":                 "SendDTMF",
		"originateWithId":          "OriginateWithID",
		"mohClass":                 "MOHClass",
		"external_host":            "ExternalHost",
		"appArgs":                  "AppArgs",
		"destinationRecordingName": "DestinationRecordingName",
		"listByTech":               "ListByTech",
		"deviceStates":             "DeviceStates",
		"offsetms":                 "Offsetms",
		"to_self":                  "ToSelf",
	} {
		if got := exported(in); got != want {
			t.Errorf("exported(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHandleFor(t *testing.T) {
	for id, want := range map[string]string{
		"channels.answer":          "Channel",
		"channels.list":            "",
		"channels.originate":       "",
		"channels.originateWithId": "Channel",
		"bridges.setVideoSource":   "Bridge",
		"recordings.getLive":       "LiveRecording",
		"recordings.getStored":     "StoredRecording",
		"recordings.listStored":    "",
		"endpoints.get":            "Endpoint",
		"endpoints.listByTech":     "",
		"asterisk.getGlobalVar":    "Variable",
		"asterisk.getObject":       "Config",
		"asterisk.addLog":          "LogChannel",
		"asterisk.listLogChannels": "",
		"events.userEvent":         "",
		"events.claimChannel":      "",
	} {
		op := ari.Lookup(id)
		if op == nil {
			t.Errorf("no operation %s", id)
			continue
		}
		got := ""
		if h := handleFor(op); h != nil {
			got = h.Name
		}
		if got != want {
			t.Errorf("handleFor(%s) = %q, want %q", id, got, want)
		}
	}
}

// buildAPI builds the client API from package ari's models.
func buildAPI(t *testing.T) *api {
	t.Helper()
	models, err := modelNames("../../ari")
	if err != nil {
		t.Fatal(err)
	}
	a, err := build(models)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestCoversEveryOperation: one method per ARI operation (the events
// WebSocket aside), each with a unique name on its receiver.
func TestCoversEveryOperation(t *testing.T) {
	a := buildAPI(t)
	seen := map[string]bool{}
	names := map[string]bool{}
	for _, m := range a.methods {
		seen[m.Op.ID] = true
		n := m.recvType() + "." + m.Name
		if names[n] {
			t.Errorf("method %s twice", n)
		}
		names[n] = true
	}
	for _, op := range ari.Operations {
		if !op.WebSocket && !seen[op.ID] {
			t.Errorf("operation %s has no method", op.ID)
		}
	}
}

// TestGeneratedUpToDate: the committed client/ops_gen.go and
// client/ops_gen_test.go are what the generator writes now.
func TestGeneratedUpToDate(t *testing.T) {
	a := buildAPI(t)
	src, err := a.render()
	if err != nil {
		t.Fatal(err)
	}
	tsrc, err := a.renderTest()
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]byte{"ops_gen.go": src, "ops_gen_test.go": tsrc} {
		got, err := os.ReadFile(filepath.Join("../../client", file))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("client/%s is stale: run go generate ./client/...", file)
		}
	}
}

// TestNamingRule: every method is its operation's nickname Go-cased,
// except the few listed in methodNames; every create answering an entity
// that has a handle returns that handle.
func TestNamingRule(t *testing.T) {
	a := buildAPI(t)
	for _, m := range a.methods {
		want := exported(m.Op.Nickname)
		if n, ok := methodNames[m.Op.ID]; ok {
			want = n
		}
		if m.Name != want {
			t.Errorf("%s: method %s, want %s", m.Op.ID, m.Name, want)
		}
		if m.Op.Method == "POST" && a.handleOfKind(m.Kind.Result.Kind) != nil && m.Op.ResponseClass == a.handleOfKind(m.Kind.Result.Kind).Name {
			if want := "*" + a.handleOfKind(m.Kind.Result.Kind).Name + "Handle"; m.Ret != want {
				t.Errorf("%s creates a %s but returns %q, want %s", m.Op.ID, m.Op.ResponseClass, m.Ret, want)
			}
		}
	}
}
