package sharedtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRepoRoot(t *testing.T) {
	dir := RepoRoot(t)
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("RepoRoot() = %s, without go.mod: %v", dir, err)
	}
	wd, _ := os.Getwd()
	if !strings.HasPrefix(wd, dir) {
		t.Errorf("RepoRoot() = %s, not above %s", dir, wd)
	}
}

func TestFindAbsent(t *testing.T) {
	if p := Find("no", "such", "file.jsonl"); p != "" {
		t.Errorf("Find(absent) = %q, want \"\"", p)
	}
}

func TestPathSkipsWhenAbsent(t *testing.T) {
	var skipped bool
	t.Run("absent", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Path(t, "no", "such", "dir")
		t.Error("Path did not skip")
	})
	if !skipped {
		t.Error("Path(absent) did not skip the test")
	}
}

func TestPathPresent(t *testing.T) {
	dir := Path(t)
	if filepath.Base(dir) != "shared" || filepath.Dir(dir) != filepath.Dir(RepoRoot(t)) {
		t.Errorf("Path() = %s, want ../shared beside %s", dir, RepoRoot(t))
	}
}

func TestReadJSONL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.jsonl")
	if err := os.WriteFile(path, []byte("{\"a\":1}\n\n  {\"a\":2}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := ReadJSONL[struct{ A int }](t, path)
	if len(got) != 2 || got[0].A != 1 || got[1].A != 2 {
		t.Errorf("ReadJSONL = %+v", got)
	}
}

func TestCheckSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "doc.md")
	const doc = "intro\n<!-- BEGIN X (generated) -->\nold\n<!-- END X -->\nend\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	CheckSection(t, path, "<!-- BEGIN X", "<!-- END X -->", "old\n", false, "")
	CheckSection(t, path, "<!-- BEGIN X", "<!-- END X -->", "new\n", true, "")
	got, _ := os.ReadFile(path)
	if want := strings.Replace(doc, "old", "new", 1); string(got) != want {
		t.Errorf("after update:\n%s\nwant\n%s", got, want)
	}
}
