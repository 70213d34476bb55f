package ari

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

// transcriptLine is one line of a transcript file.
type transcriptLine = sharedtest.TranscriptLine

// transcripts reads every line of every transcript, by file name.
func transcripts(t testing.TB) map[string][]transcriptLine {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(sharedtest.Path(t, "ari", "transcripts"), "*.jsonl"))
	if err != nil || len(files) == 0 {
		sharedtest.SkipOrFail(t, "no transcripts found (%v)", err)
	}
	out := map[string][]transcriptLine{}
	for _, f := range files {
		out[filepath.Base(f)] = sharedtest.ReadJSONL[transcriptLine](t, f)
	}
	return out
}

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("invalid JSON %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}
