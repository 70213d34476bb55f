package wire

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// corpusMsg is one line of the v5 corpus: a message seen on the bus.
type corpusMsg struct {
	Subject string          `json:"subject"`
	Reply   string          `json:"reply"`
	Payload json.RawMessage `json:"payload"`
}

// exchange is a request of the corpus with the response to it.
type exchange struct {
	line    int
	subject string
	req     json.RawMessage
	resp    json.RawMessage // nil when the corpus has none
}

func loadCorpus(t testing.TB, path string) []corpusMsg {
	t.Helper()
	if path == "" {
		t.Skip("../shared (beside the repository root) not found: full v5 corpus not tested")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs []corpusMsg
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var m corpusMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s:%d: %v", path, len(msgs)+1, err)
		}
		msgs = append(msgs, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// exchanges pairs the request messages (those with a reply subject on a
// request subject) with their responses.
func exchanges(msgs []corpusMsg) []exchange {
	s := NewSubjects("")
	var out []exchange
	for i, m := range msgs {
		if m.Reply == "" {
			continue
		}
		if _, _, _, ok := s.ParseRequest(m.Subject); !ok {
			continue
		}
		x := exchange{line: i + 1, subject: m.Subject, req: m.Payload}
		for _, r := range msgs[i+1:] {
			if r.Subject == m.Reply {
				x.resp = r.Payload
				break
			}
		}
		out = append(out, x)
	}
	return out
}

// sharedDir finds ../shared beside the repository root (the directory
// holding go.mod), or "" when absent.
func sharedDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(filepath.Dir(dir), "shared")
			if st, err := os.Stat(shared); err == nil && st.IsDir() {
				return shared
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// corpora are the corpora tests run over: the sample copied into testdata
// always, the full corpus when ../shared exists.
func corpora(t *testing.T) map[string]string {
	c := map[string]string{"sample": filepath.Join("testdata", "v5-sample.jsonl"), "full": ""}
	if sh := sharedDir(); sh != "" {
		c["full"] = filepath.Join(sh, "wire", "v5-corpus.jsonl")
	}
	return c
}

// jsonPaths lists the field paths of a JSON value ("a.b", "a.list[]"),
// leaving out zero-valued leaves when skipZero (v5 writes unset fields as
// zero values).
func jsonPaths(t testing.TB, raw []byte, skipZero bool) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("jsonPaths: %v in %s", err, raw)
	}
	set := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 && prefix != "" && !skipZero {
				set[prefix] = true
			}
			for k, e := range x {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, e)
			}
		case []any:
			if len(x) == 0 {
				if !skipZero {
					set[prefix+"[]"] = true
				}
				return
			}
			for _, e := range x {
				walk(prefix+"[]", e)
			}
		default:
			if skipZero && isZero(x) {
				return
			}
			set[prefix] = true
		}
	}
	walk("", v)
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// missing lists the paths of want not in have.
func missing(want, have []string) []string {
	var out []string
	for _, p := range want {
		if !slices.Contains(have, p) {
			out = append(out, p)
		}
	}
	return out
}

func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("jsonEqual: %v in %s", err, a)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("jsonEqual: %v in %s", err, b)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return string(ja) == string(jb)
}

func kindOf(raw json.RawMessage) string {
	var m struct {
		Kind string `json:"kind"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.Kind
}

func hasPrefixAny(s string, ps ...string) bool {
	for _, p := range ps {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
