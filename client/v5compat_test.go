package client

import (
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/internal/sharedtest"
	"github.com/ariproxy/ari-proxy/wire"
)

// TestV5CompatCorpus checks the requests of the v5 corpus in ../shared.
func TestV5CompatCorpus(t *testing.T) {
	path := sharedtest.Find("wire", "v5-corpus.jsonl")
	if path == "" {
		sharedtest.SkipOrFail(t, "../shared/wire/v5-corpus.jsonl is absent: the v5 corpus cannot be read (TestV5CompatTestdata checks the copy in testdata)")
	}
	bustest.ForEachTransport(t, func(t *testing.T, tr bustest.Transport) { checkV5Compat(t, tr, path) })
}

// TestV5CompatTestdata checks the copy of the corpus's requests kept in
// testdata, so that the check always runs.
func TestV5CompatTestdata(t *testing.T) {
	bustest.ForEachTransport(t, func(t *testing.T, tr bustest.Transport) {
		checkV5Compat(t, tr, filepath.Join("testdata", "v5-requests.jsonl"))
	})
}

// corpusMsg is one line of the v5 corpus: a message seen on the bus.
type corpusMsg = sharedtest.CorpusMessage

type captured struct {
	subject string
	data    []byte
}

// checkV5Compat replays every request of the corpus through the typed API
// (parameters decoded from the v5 request as a server would) and checks
// that what the client publishes has the corpus's kind, class and payload
// field names, and no nested field v5 does not know.
func checkV5Compat(t *testing.T, tr bustest.Transport, path string) {
	var reqs []corpusMsg
	known := map[string]map[string]bool{} // kind -> payload paths v5 sends
	v5 := wire.NewSubjects("ari.")
	for _, m := range sharedtest.ReadJSONL[corpusMsg](t, path) {
		if classOf(v5, m.Subject) == "" {
			continue
		}
		r, err := wire.DecodeRequest(m.Payload)
		if err != nil {
			t.Fatalf("corpus request %s: %v", m.Payload, err)
		}
		if r.Kind == "" {
			continue
		}
		reqs = append(reqs, m)
		if known[r.Kind] == nil {
			known[r.Kind] = map[string]bool{}
		}
		for _, p := range payloadPaths(m.Payload) {
			known[r.Kind][p] = true
		}
	}
	if len(reqs) == 0 {
		t.Fatal("no request in the corpus")
	}

	// A stand-in server: announces itself, captures each request and
	// answers it with an error, so that calls return at once.
	url := tr.URL(t)
	prefix := localstack.Prefix()
	ours := wire.NewSubjects(prefix)
	b := localstack.ConnectBus(t, url)
	capt := make(chan captured, 16)
	ann, _ := json.Marshal(wire.Announcement{Node: "capture", Application: testApp})
	_, err := b.Subscribe(prefix+">", func(m bus.Msg) {
		switch {
		case m.Subject == ours.Ping():
			_ = b.Publish(context.Background(), ours.Announce(), "", ann)
		case m.Reply != "":
			if classOf(ours, m.Subject) != "" {
				capt <- captured{m.Subject, m.Data}
				_ = b.Publish(context.Background(), m.Reply, "", []byte(`{"error":"captured","error_code":"unavailable"}`))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(context.Background(), WithURL(url), WithPrefix(prefix), WithApplication(testApp), WithTimeout(5*time.Second), WithLogger(localstack.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, "stand-in server known", func() bool { return len(c.Servers()) == 1 })

	var checked, other, noOp []string
	for _, m := range reqs {
		r, _ := wire.DecodeRequest(m.Payload)
		k, ok := wire.LookupKind(r.Kind)
		if !ok {
			t.Errorf("v5 kind %s unknown to wire", r.Kind)
			continue
		}
		if k.Op == nil {
			noOp = append(noOp, r.Kind) // Stage* and Subscribe kinds make no ARI call
			continue
		}
		if sent := wire.KindOf(k.Op.Ident); sent.Name != r.Kind {
			other = append(other, r.Kind+"->"+sent.Name) // e.g. ChannelBusy is a hangup with a reason
			continue
		}
		params, err := k.DecodeParams(r)
		if err != nil {
			t.Errorf("%s: decode params: %v", m.Payload, err)
			continue
		}
		var key Key
		if r.Key != nil {
			key = *r.Key
		}
		call := typedCalls[k.Op.ID]
		if call == nil {
			t.Errorf("%s: no typed method for %s", r.Kind, k.Op.ID)
			continue
		}
		cc := c
		if key.Dialog != "" {
			cc = c.WithDialog(key.Dialog) // collections take the dialog from their client
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = call(ctx, cc, key, params)
		cancel()
		if cc != c {
			cc.Close()
		}
		if err == nil {
			t.Errorf("%s: the stand-in answers errors only", r.Kind)
		}
		var got captured
		select {
		case got = <-capt:
		case <-time.After(5 * time.Second):
			t.Errorf("%s: nothing published", r.Kind)
			continue
		}
		checked = append(checked, r.Kind)
		// v5 knows the payload paths the corpus shows and those its kind
		// documents (the bindings): zero values are not in the corpus.
		paths := maps.Clone(known[r.Kind])
		for _, b := range k.Bindings {
			p := k.Field
			for _, part := range strings.Split(b.Path, ".") {
				p += "." + part
				paths[p] = true
			}
		}
		compareRequest(t, m, got, ours, k, paths)
	}
	sort.Strings(other)
	t.Logf("checked %d requests; sent as another v5 kind: %v; no ARI operation: %v", len(checked), slices.Compact(other), slices.Compact(noOp))
	if len(checked) < len(reqs)/2 {
		t.Errorf("checked only %d of %d requests", len(checked), len(reqs))
	}
}

func compareRequest(t *testing.T, want corpusMsg, got captured, ours wire.Subjects, k *wire.Kind, known map[string]bool) {
	t.Helper()
	wr, _ := wire.DecodeRequest(want.Payload)
	gr, err := wire.DecodeRequest(got.data)
	if err != nil {
		t.Errorf("%s: our request does not decode: %v", wr.Kind, err)
		return
	}
	if gr.Kind != wr.Kind {
		t.Errorf("kind %s, corpus %s", gr.Kind, wr.Kind)
	}
	wantClass := classOf(wire.NewSubjects("ari."), want.Subject)
	if gotClass := classOf(ours, got.subject); gotClass != wantClass {
		t.Errorf("%s: class %s, corpus %s", wr.Kind, gotClass, wantClass)
	}
	if wr.Key != nil && wr.Key.Node != "" && !strings.HasSuffix(got.subject, "."+wr.Key.Node) {
		t.Errorf("%s: full key (node %q) went to %s", wr.Kind, wr.Key.Node, got.subject)
	}
	if gr.Key == nil {
		t.Errorf("%s: no key (v5 servers dereference it)", wr.Kind)
		return
	}
	// A reference key (ChannelOriginate's originator) may travel in the
	// payload instead: the typed API takes it as a parameter.
	if wr.Key != nil && wr.Key.ID != "" && !k.KeyRef && (gr.Key.ID != wr.Key.ID || gr.Key.Kind != wr.Key.Kind) {
		t.Errorf("%s: key %+v, corpus %+v", wr.Kind, gr.Key, wr.Key)
	}
	if wr.Key != nil && gr.Key.Dialog != wr.Key.Dialog {
		t.Errorf("%s: dialog %q, corpus %q", wr.Kind, gr.Key.Dialog, wr.Key.Dialog)
	}
	wantFields, gotFields := fieldNames(wr), fieldNames(gr)
	if !slices.Equal(wantFields, gotFields) {
		t.Errorf("%s: payload fields %v, corpus %v", wr.Kind, gotFields, wantFields)
	}
	for _, p := range payloadPaths(got.data) {
		if !known[p] {
			t.Errorf("%s: we send %s, which v5 does not (corpus: %s)", wr.Kind, p, want.Payload)
		}
	}
}

func fieldNames(r *wire.Request) []string {
	var out []string
	for n := range r.Payload {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// payloadPaths lists the dotted paths of every member of the payload
// fields (kind, key and our params aside).
func payloadPaths(data []byte) []string {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return nil
	}
	var out []string
	var walk func(prefix string, raw json.RawMessage)
	walk = func(prefix string, raw json.RawMessage) {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return
		}
		for k, v := range obj {
			p := prefix + "." + k
			out = append(out, p)
			walk(p, v)
		}
	}
	for name, raw := range top {
		switch name {
		case "kind", "key", "params":
			continue
		}
		out = append(out, name)
		if !strings.HasPrefix(string(raw), "null") {
			walk(name, raw)
		}
	}
	return out
}
