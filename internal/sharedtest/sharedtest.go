// Package sharedtest holds the test helpers several packages share: it
// finds the reference data tests read from ../shared beside the repository
// root (the directory holding go.mod), reads JSON Lines files, and checks
// the generated parts of documents. It depends on no package of the module,
// so that any package's tests, package ari's included, can import it.
package sharedtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TranscriptLine is one line of an Asterisk transcript,
// ../shared/ari/transcripts/*.jsonl (see ../shared/ari/README.md).
type TranscriptLine struct {
	Seq    int             `json:"seq"`  // orders everything
	MS     int             `json:"ms"`   // since the scenario began
	Kind   string          `json:"kind"` // request, response, event, note
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Query  string          `json:"query"`
	Body   json.RawMessage `json:"body"`
	Status int             `json:"status"`
	Text   string          `json:"text"`
}

// CorpusMessage is one line of the v5 corpus,
// ../shared/wire/v5-corpus.jsonl: a message seen on the bus.
type CorpusMessage struct {
	Subject string          `json:"subject"`
	Reply   string          `json:"reply"`
	Payload json.RawMessage `json:"payload"`
}

// root walks up from the working directory (the package directory under go
// test) to the directory holding go.mod.
func root() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// RepoRoot returns the repository root, the directory holding go.mod above
// the package directory; the test fails when there is none.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, ok := root()
	if !ok {
		tb.Fatal("no go.mod above the package directory")
	}
	return dir
}

// Find returns ../shared/<elem...> beside the repository root, or "" when
// that path (or the repository root) is absent. Tests that have a fallback
// use it; the others use [Path].
func Find(elem ...string) string {
	dir, ok := root()
	if !ok {
		return ""
	}
	p := filepath.Join(append([]string{filepath.Dir(dir), "shared"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Path returns ../shared/<elem...> beside the repository root, skipping
// the test, with a message naming the missing path, when it is absent: the
// reference data is not part of the repository.
func Path(tb testing.TB, elem ...string) string {
	tb.Helper()
	p := Find(elem...)
	if p == "" {
		SkipOrFail(tb, "reference data ../shared/%s is absent (it must be beside the repository root)",
			filepath.ToSlash(filepath.Join(elem...)))
	}
	return p
}

// SkipOrFail skips the test for a missing prerequisite (reference data, a
// broker, npm), with a message that shows without -v, except under CI
// (CI=true), where a missing prerequisite is a failure. go test prints
// nothing but "ok" for a passing package unless -v is given, so the
// message also goes to the terminal, when there is one, and to stderr.
func SkipOrFail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s (CI=true: a skip is a failure)", msg)
	}
	notice(fmt.Sprintf("SKIP %s: %s\n", tb.Name(), msg))
	tb.Skip("skipping: " + msg)
}

// notice shows a skip line on the terminal, when there is one, and on
// stderr. A variable so that this package's own test stays quiet.
var notice = func(line string) {
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		_, _ = tty.WriteString(line)
		_ = tty.Close()
	}
	fmt.Fprint(os.Stderr, line)
}

// ReadJSONL decodes every non-blank line of a JSON Lines file (lines up to
// 16 MiB) into a T; the test fails on any error.
func ReadJSONL[T any](tb testing.TB, path string) []T {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			tb.Fatalf("%s:%d: %v", path, n, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return out
}

// CheckSection keeps the generated part of a document in step with its
// source: the text between the comment that opens with begin (after its
// "-->") and end must be "\n"+content. With update it rewrites the file
// instead; otherwise a difference is an error that says how to update
// (hint).
func CheckSection(tb testing.TB, path, begin, end, content string, update bool, hint string) {
	tb.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		tb.Fatalf("%s lacks the %q ... %q markers", filepath.Base(path), begin, end)
	}
	headEnd := i + strings.Index(s[i:], "-->") + len("-->")
	want := s[:headEnd] + "\n" + content + s[j:]
	if want == s {
		return
	}
	if update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			tb.Fatal(err)
		}
		tb.Logf("%s updated", filepath.Base(path))
		return
	}
	tb.Errorf("the generated part of %s is out of date: %s", filepath.Base(path), hint)
}

// FreeAddr returns a loopback "host:port" nobody listened on a moment
// ago, for a program that must be told its address before it starts.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Buffer is a bytes.Buffer safe for concurrent writers (a command's
// output, goroutines) and a test reading it meanwhile.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
