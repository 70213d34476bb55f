package sharedtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// logErrorKey matches a log/slog call that logs an error under a key other
// than "err".
var logErrorKey = regexp.MustCompile(`\.(Debug|Info|Warn|Error|Log)(Context)?\([^\n]*"(error|e|error_message)", *[a-zA-Z_.]*(err|Err|Error)\b`)

// TestLogErrorKey: every log line of the repository names its error "err"
// (one key to search and alert on).
func TestLogErrorKey(t *testing.T) {
	root := RepoRoot(t)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if logErrorKey.MatchString(line) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%d: log the error under \"err\": %s", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
