package docs

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ariproxy/ari-proxy/internal/sharedtest"
	"github.com/ariproxy/ari-proxy/wire"
)

var update = flag.Bool("update", false, "rewrite the generated parts of protocol.md")

const schemaBase = "https://github.com/ariproxy/ari-proxy/docs/schema/"

var schemaNames = []string{"request", "response", "announcement", "event"}

// compileSchemas compiles every schema of schema/.
func compileSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	for _, name := range schemaNames {
		f, err := os.Open(filepath.Join("schema", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("schema/%s.json: %v", name, err)
		}
		if err := c.AddResource(schemaBase+name+".json", doc); err != nil {
			t.Fatalf("schema/%s.json: %v", name, err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, name := range schemaNames {
		s, err := c.Compile(schemaBase + name + ".json")
		if err != nil {
			t.Fatalf("schema/%s.json: %v", name, err)
		}
		out[name] = s
	}
	return out
}

func validate(t *testing.T, s *jsonschema.Schema, payload []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

func TestSchemasCompile(t *testing.T) {
	schemas := compileSchemas(t)
	for _, name := range schemaNames {
		raw, err := os.ReadFile(filepath.Join("schema", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Schema string `json:"$schema"`
			ID     string `json:"$id"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s.json: $schema = %q, want draft 2020-12", name, doc.Schema)
		}
		if doc.ID != schemaBase+name+".json" {
			t.Errorf("%s.json: $id = %q", name, doc.ID)
		}
		if schemas[name] == nil {
			t.Errorf("%s.json did not compile", name)
		}
	}
}

// TestKeyDefinitionsAgree: request.json and response.json each carry the
// key definition (so that each file stands alone); they must not drift.
func TestKeyDefinitionsAgree(t *testing.T) {
	defs := map[string]any{}
	for _, name := range []string{"request", "response"} {
		raw, err := os.ReadFile(filepath.Join("schema", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Defs map[string]any `json:"$defs"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		defs[name] = doc.Defs["key"]
	}
	if defs["request"] == nil || !reflect.DeepEqual(defs["request"], defs["response"]) {
		t.Error(`$defs.key differs between request.json and response.json`)
	}
}

// corpusMsg is one message of the v5 corpus.
type corpusMsg = sharedtest.CorpusMessage

// readCorpus reads a v5 corpus file.
func readCorpus(t *testing.T, path string) []corpusMsg {
	t.Helper()
	return sharedtest.ReadJSONL[corpusMsg](t, path)
}

// schemaFor says which envelope a corpus message is, from its subject.
func schemaFor(m corpusMsg, replies map[string]bool) string {
	s := wire.NewSubjects("ari.")
	switch {
	case replies[m.Subject] || !strings.HasPrefix(m.Subject, s.Prefix):
		// Reply subjects are inboxes outside the prefix.
		return "response"
	case m.Subject == s.Ping():
		return "request"
	case m.Subject == s.Announce():
		return "announcement"
	case strings.HasPrefix(m.Subject, "ari.event.") || strings.HasPrefix(m.Subject, "ari.dialogevent."):
		return "event"
	}
	if slices.ContainsFunc(wire.RequestClasses, func(c wire.Class) bool { return strings.HasPrefix(m.Subject+".", s.Request(c, "", "")+".") }) {
		return "request"
	}
	return ""
}

func checkCorpus(t *testing.T, path string) {
	schemas := compileSchemas(t)
	msgs := readCorpus(t, path)
	replies := map[string]bool{}
	for _, m := range msgs {
		if m.Reply != "" {
			replies[m.Reply] = true
		}
	}
	counts := map[string]int{}
	for i, m := range msgs {
		name := schemaFor(m, replies)
		if name == "" {
			t.Errorf("%s line %d: no envelope for subject %q", path, i+1, m.Subject)
			continue
		}
		counts[name]++
		if err := validate(t, schemas[name], m.Payload); err != nil {
			t.Errorf("%s line %d (%s on %s): %v", path, i+1, name, m.Subject, err)
		}
	}
	for _, name := range schemaNames {
		if counts[name] == 0 {
			t.Errorf("%s has no %s message", path, name)
		}
	}
	t.Logf("%s: %v", path, counts)
}

// TestV5SamplesMatchSchemas checks the samples kept in testdata (copied
// from the v5 corpus, so the test always runs).
func TestV5SamplesMatchSchemas(t *testing.T) {
	checkCorpus(t, filepath.Join("testdata", "v5-samples.jsonl"))
}

// TestV5CorpusMatchesSchemas checks every message of the v5 corpus in
// ../shared.
func TestV5CorpusMatchesSchemas(t *testing.T) {
	checkCorpus(t, sharedtest.Path(t, "wire", "v5-corpus.jsonl"))
}

// TestOurEnvelopesMatchSchemas checks what our wire package writes.
func TestOurEnvelopesMatchSchemas(t *testing.T) {
	schemas := compileSchemas(t)
	key := &wire.Key{Kind: "channel", ID: "c1", Node: "02:fc:00:00:00:01", App: "demo", Dialog: "d1"}
	tests := []struct {
		schema string
		value  any
	}{
		{"response", wire.NewErrorResponse(wire.CodeNotFound, 404, wire.StatusText(404))},
		{"response", wire.NewNotImplementedResponse()},
		{"response", &wire.Response{Key: key}},
		{"response", &wire.Response{Key: key, Node: "02:fc:00:00:00:01"}},
		{"response", &wire.Response{Error: "x", Code: wire.CodeNotFound, Status: 404, Node: "02:fc:00:00:00:01"}},
		{"response", &wire.Response{Keys: []*wire.Key{key, key}}},
		{"response", &wire.Response{Data: json.RawMessage(`{"variable":"x"}`)}},
		{"announcement", wire.Announcement{Node: "02:fc:00:00:00:01", Application: "demo"}},
		{"request", &wire.Request{Kind: "ChannelHangup", Key: key, Payload: map[string]json.RawMessage{"channel_hangup": json.RawMessage(`{"reason":"normal"}`)}}},
		{"request", &wire.Request{Kind: "channels.rtpstatistics", Key: key, Params: map[string]any{"channelId": "c1"}}},
		{"request", &wire.Request{Kind: ""}},
	}
	for _, k := range wire.Kinds() {
		if k.Stage {
			continue
		}
		req, err := wire.NewRequest(k, &wire.Key{Kind: k.KeyKind, ID: "x"}, nil)
		if err != nil {
			continue // kinds that need params; the hand-made requests above cover the shape
		}
		tests = append(tests, struct {
			schema string
			value  any
		}{"request", req})
	}
	for i, tt := range tests {
		b, err := json.Marshal(tt.value)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if err := validate(t, schemas[tt.schema], b); err != nil {
			t.Errorf("%d: %s %s: %v", i, tt.schema, b, err)
		}
	}
	// A response without "error" is not one: the schema must say so.
	if err := validate(t, schemas["response"], []byte(`{"data":{}}`)); err == nil {
		t.Error(`response.json accepts a reply without "error"`)
	}
	if err := validate(t, schemas["event"], []byte(`{"type":"StasisStart"}`)); err == nil {
		t.Error("event.json accepts an event without application, asterisk_id and timestamp")
	}
}

// TestErrorCodesDocumented: every code the schema allows is in the doc's
// error table and has a sentinel in wire.
func TestErrorCodesDocumented(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("schema", "response.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct {
			Code struct {
				Enum []string `json:"enum"`
			} `json:"error_code"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile("protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	codes := []wire.ErrorCode{wire.CodeNotFound, wire.CodeConflict, wire.CodeBadRequest, wire.CodeUnprocessable,
		wire.CodeUnavailable, wire.CodeTimeout, wire.CodeInternal, wire.CodeNotImplemented, wire.CodeUnclaimed}
	for _, c := range codes {
		if !slices.Contains(doc.Properties.Code.Enum, string(c)) {
			t.Errorf("response.json error_code lacks %q", c)
		}
		if !bytes.Contains(md, []byte("| `"+string(c)+"` |")) {
			t.Errorf("protocol.md error table lacks %q", c)
		}
		// The code must survive a round trip through the envelope.
		resp := wire.NewErrorResponse(c, 0, "x")
		if e, ok := resp.Err().(*wire.Error); !ok || e.Code != c {
			t.Errorf("code %q: Err() = %v", c, resp.Err())
		}
	}
	if len(doc.Properties.Code.Enum) != len(codes) {
		t.Errorf("response.json lists %d codes, wire has %d", len(doc.Properties.Code.Enum), len(codes))
	}
}

const (
	beginKinds = "<!-- BEGIN KINDS"
	endKinds   = "<!-- END KINDS -->"
)

// kindTable renders wire's kind table as markdown.
func kindTable() string {
	var b strings.Builder
	var v5, generic []*wire.Kind
	for _, k := range wire.Kinds() {
		if k.Generic {
			generic = append(generic, k)
		} else {
			v5 = append(v5, k)
		}
	}
	row := func(k *wire.Kind) {
		op := "(none)"
		if o := k.Operation(); o != nil {
			op = fmt.Sprintf("`%s /ari%s` (%s)", o.Method, o.Path, o.ID)
		}
		field := ""
		if k.Field != "" {
			field = "`" + k.Field + "`"
		}
		keyKind := k.KeyKind
		answer := k.Result.Shape.String()
		switch k.Result.Shape {
		case wire.ShapeKey, wire.ShapeKeys:
			if k.Result.Kind != "" {
				answer += " (" + k.Result.Kind + ")"
			}
		case wire.ShapeData:
			if k.Result.DataField != "" {
				answer += ".`" + k.Result.DataField + "`"
			}
		}
		note := ""
		if k.Stage {
			note = " (stage: no ARI call)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s%s | %s | %s |\n", k.Name, k.Class, keyKind, op, note, field, answer)
	}
	fmt.Fprintf(&b, "\n%d v5 kinds:\n\n", len(v5))
	b.WriteString("| kind | class | key kind | ARI operation | payload field | answer |\n|---|---|---|---|---|---|\n")
	for _, k := range v5 {
		row(k)
	}
	fmt.Fprintf(&b, "\n%d generic kinds (our addition; arguments in `params`):\n\n", len(generic))
	b.WriteString("| kind | class | key kind | ARI operation | payload field | answer |\n|---|---|---|---|---|---|\n")
	for _, k := range generic {
		row(k)
	}
	b.WriteString("\n")
	return b.String()
}

// TestProtocolDocKinds keeps the generated kind list of protocol.md in
// step with wire's table. With -update it rewrites it.
func TestProtocolDocKinds(t *testing.T) {
	sharedtest.CheckSection(t, "protocol.md", beginKinds, endKinds, kindTable(), *update,
		"run go test ./docs -run TestProtocolDoc -update")
}

const (
	beginKeys = "<!-- BEGIN KEYS"
	endKeys   = "<!-- END KEYS -->"
)

// keyTable renders wire's entity table as the key table of protocol.md.
func keyTable() string {
	var b strings.Builder
	b.WriteString("| `kind` | `id` is | ARI model | in events |\n|---|---|---|---|\n")
	for _, e := range wire.Entities() {
		model, events := "", ""
		if e.Model != "" {
			model = "`" + e.Model + "`"
		}
		if e.Events {
			events = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", e.Kind, e.IDDoc, model, events)
	}
	return b.String()
}

// TestProtocolDocKeys keeps the key table of protocol.md in step with
// wire's entity table. With -update it rewrites it.
func TestProtocolDocKeys(t *testing.T) {
	sharedtest.CheckSection(t, "protocol.md", beginKeys, endKeys, keyTable(), *update,
		"run go test ./docs -run TestProtocolDoc -update")
}

// TestProtocolDocNamesEveryV5Kind: the kind table covers what v5 servers
// dispatch (the list in the v5 protocol notes).
func TestProtocolDocNamesEveryV5Kind(t *testing.T) {
	for _, name := range []string{"ChannelOriginate", "ChannelAnswer", "BridgeCreate", "BridgeAddChannel",
		"PlaybackControl", "RecordingStoredCopy", "AsteriskInfo", "ChannelStagePlay", "SoundList", "EndpointListByTech"} {
		if _, ok := wire.LookupKind(name); !ok {
			t.Errorf("wire has no kind %s", name)
		}
	}
}

// TestProtocolDocSubjects: the subjects the doc shows are the ones wire builds.
func TestProtocolDocSubjects(t *testing.T) {
	md, err := os.ReadFile("protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	s := wire.NewSubjects("")
	for _, want := range []string{
		s.Ping(), s.Announce(),
		s.Event("<app>", "<node>"), s.AllEvents("<app>"),
		s.DialogEvent("<dialog>"),
		s.Request("<class>", "", ""), s.Request("<class>", "<app>", ""), s.Request("<class>", "<app>", "<node>"),
		wire.CreateQueue, wire.ListenQueue, wire.NotImplemented,
	} {
		if !bytes.Contains(md, []byte("`"+want+"`")) {
			t.Errorf("protocol.md does not show `%s`", want)
		}
	}
}
