package sharedtest

import (
	"fmt"
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

// stopTB records how SkipOrFail ends a test: Skip and Fatalf stop the
// caller as the testing package's do (here by a panic the test recovers).
type stopTB struct {
	testing.TB
	how, msg string
}

type stopped struct{}

func (s *stopTB) Helper()      {}
func (s *stopTB) Name() string { return "TestFake" }
func (s *stopTB) Skip(args ...any) {
	s.how, s.msg = "skip", fmt.Sprint(args...)
	panic(stopped{})
}
func (s *stopTB) Fatalf(format string, args ...any) {
	s.how, s.msg = "fatal", fmt.Sprintf(format, args...)
	panic(stopped{})
}

// TestPathSkipsWhenAbsent: missing reference data skips the test with a
// message naming the path, except under CI (CI=true), where it fails.
func TestPathSkipsWhenAbsent(t *testing.T) {
	var notices []string
	defer func(n func(string)) { notice = n }(notice)
	notice = func(line string) { notices = append(notices, line) }
	for _, tc := range []struct{ ci, want string }{{"", "skip"}, {"true", "fatal"}} {
		t.Setenv("CI", tc.ci)
		tb := &stopTB{TB: t}
		func() {
			defer func() {
				if r := recover(); r != nil && r != (stopped{}) {
					panic(r)
				}
			}()
			Path(tb, "no", "such", "dir")
		}()
		if tb.how != tc.want || !strings.Contains(tb.msg, "../shared/no/such/dir is absent") {
			t.Errorf("CI=%q: Path(absent) ended the test by %q with %q, want %s naming the path", tc.ci, tb.how, tb.msg, tc.want)
		}
	}
	if len(notices) != 1 || !strings.HasPrefix(notices[0], "SKIP TestFake: ") {
		t.Errorf("skip notices %q, want one for the skip (none for the CI failure)", notices)
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
