package wire

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

// corpusMsg is one line of the v5 corpus: a message seen on the bus.
type corpusMsg = sharedtest.CorpusMessage

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
		sharedtest.SkipOrFail(t, "../shared (beside the repository root) not found: full v5 corpus not tested")
	}
	return sharedtest.ReadJSONL[corpusMsg](t, path)
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
		if !slices.ContainsFunc(RequestClasses, func(c Class) bool { return strings.HasPrefix(m.Subject+".", s.Request(c, "", "")+".") }) {
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

// corpora are the corpora tests run over: the sample copied into testdata
// always, the full corpus when ../shared exists.
func corpora(t *testing.T) map[string]string {
	c := map[string]string{"sample": filepath.Join("testdata", "v5-sample.jsonl"), "full": ""}
	if p := sharedtest.Find("wire", "v5-corpus.jsonl"); p != "" {
		c["full"] = p
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
