package proxy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/internal/sharedtest"
	"github.com/ariproxy/ari-proxy/wire"
)

const node2 = "02:fc:00:00:00:02"

// perNode is how many channels each node originates without an id.
const perNode = 100

// twoNodes is one NATS, two simulators and a server in front of each,
// under one prefix: the set-up where ids only one Asterisk keeps unique
// collide.
func twoNodes(t *testing.T) *env {
	e := newEnv(t)
	e.startServer(localstack.StartSim(t, node2))
	return e
}

// encoder makes the request payload of a kind for key, leaving every id
// to the server.
type encoder func(t *testing.T, kind string, key wire.Key) []byte

// ourRequest encodes with wire.NewRequest, as our client does.
func ourRequest(t *testing.T, kind string, key wire.Key) []byte {
	t.Helper()
	params := map[string]ari.Params{
		"ChannelOriginate":     {"endpoint": "Local/echo@default", "app": app},
		"ChannelCreate":        {"endpoint": "Local/echo@default", "app": app},
		"ChannelExternalMedia": {"app": app, "external_host": "127.0.0.1:40002", "format": "ulaw"},
		"ChannelSnoop":         {"app": app, "spy": "in"},
		"BridgeCreate":         {"type": "mixing"},
		"ChannelPlay":          {"media": []string{"sound:demo-congrats"}},
		"BridgePlay":           {"media": []string{"sound:demo-congrats"}},
		"ChannelRecord":        {"name": "", "format": "wav"},
		"BridgeRecord":         {"format": "wav"},
		"ChannelHangup":        {},
	}[kind]
	k, ok := wire.LookupKind(kind)
	if !ok || params == nil {
		t.Fatalf("no kind or params for %s", kind)
	}
	req, err := wire.NewRequest(k, &key, params)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// v5Requests encodes as a v5 client: the corpus's payload of the kind with
// its ids emptied and key replaced.
func v5Requests(t *testing.T) encoder {
	type line struct {
		Payload map[string]any `json:"payload"`
	}
	// The corpus's requests when ../shared is there, else the in-repo copy
	// of those this test needs (TestV5CreatesCopy keeps it verbatim).
	path := sharedtest.Find("wire", "v5-corpus.jsonl")
	if path == "" {
		path = "testdata/v5-creates.jsonl"
	}
	templates := map[string]map[string]any{}
	for _, l := range sharedtest.ReadJSONL[line](t, path) {
		if k, _ := l.Payload["kind"].(string); k != "" && templates[k] == nil {
			templates[k] = l.Payload
		}
	}
	// The members of the v5 payloads that carry ids the client chose.
	clear := map[string][]string{
		"ChannelOriginate":     {"channel_originate", "originate_request", "channelId"},
		"ChannelCreate":        {"channel_create", "channel_create_request", "channelId"},
		"ChannelExternalMedia": {"channel_external_media", "options", "channelId"},
		"ChannelSnoop":         {"channel_snoop", "snoop_id"},
		"ChannelPlay":          {"channel_play", "playback_id"},
		"BridgePlay":           {"bridge_play", "playback_id"},
		"ChannelRecord":        {"channel_record", "name"},
		"BridgeRecord":         {"bridge_record", "name"},
	}
	return func(t *testing.T, kind string, key wire.Key) []byte {
		t.Helper()
		tmpl, ok := templates[kind]
		if !ok {
			t.Fatalf("the v5 corpus has no %s request", kind)
		}
		var p map[string]any
		b, _ := json.Marshal(tmpl)
		_ = json.Unmarshal(b, &p)
		if path := clear[kind]; path != nil {
			obj := p
			for _, f := range path[:len(path)-1] {
				obj = obj[f].(map[string]any)
			}
			obj[path[len(path)-1]] = "" // v5 sends unset strings as ""
		}
		p["key"] = key
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// TestServerAssignsIDsAcrossNodes: with two Asterisks, creates without an
// id (channels originated, created, snooped and external media; bridges,
// playbacks and recordings without id or name) all get distinct ids from
// the servers, in the reply's key; a partial-key hangup then ends exactly
// the channel it names.
func TestServerAssignsIDsAcrossNodes(t *testing.T) {
	checkAssignedIDs(t, twoNodes(t), ourRequest)
}

// TestServerAssignsIDsV5: the same driven by v5 requests (the corpus's
// payloads without ids); the StasisStart events carry the assigned ids.
func TestServerAssignsIDsV5(t *testing.T) {
	enc := v5Requests(t)
	checkAssignedIDs(t, twoNodes(t), enc)
}

func checkAssignedIDs(t *testing.T, e *env, enc encoder) {
	events := e.sub(e.subj.AllEvents(app))
	nodes := []string{node1, node2}
	var mu sync.Mutex
	all := map[string]string{} // id -> what made it
	channels := map[string][]string{}
	add := func(what string, r *wire.Response, node, kind string) string {
		t.Helper()
		ok(t, what, r)
		if r.Key == nil || r.Key.ID == "" || r.Key.Kind != kind || r.Key.Node != node {
			t.Fatalf("%s: reply key %+v, want a %s id on %s", what, r.Key, kind, node)
		}
		mu.Lock()
		defer mu.Unlock()
		if prev, dup := all[r.Key.ID]; dup {
			t.Errorf("%s: id %s already given to %s", what, r.Key.ID, prev)
		}
		all[r.Key.ID] = what
		return r.Key.ID
	}
	create := func(node string) string { return e.subj.Request(wire.ClassCreate, app, node) }

	for _, node := range nodes {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i := range perNode {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				what := fmt.Sprintf("originate %d on %s", i, node)
				id := add(what, e.request(create(node), enc(t, "ChannelOriginate", wire.Key{})), node, "channel")
				mu.Lock()
				channels[node] = append(channels[node], id)
				mu.Unlock()
			}()
		}
		wg.Wait()

		ch := wire.Key{Kind: "channel", ID: channels[node][0], Node: node, App: app}
		add("create on "+node, e.request(create(node), enc(t, "ChannelCreate", wire.Key{})), node, "channel")
		add("external media on "+node, e.request(create(node), enc(t, "ChannelExternalMedia", wire.Key{})), node, "channel")
		add("snoop on "+node, e.request(create(node), enc(t, "ChannelSnoop", ch)), node, "channel")
		add("play on "+node, e.request(create(node), enc(t, "ChannelPlay", ch)), node, "playback")
		add("record on "+node, e.request(create(node), enc(t, "ChannelRecord", ch)), node, "liverecording")
		bridge := add("bridge on "+node, e.request(create(node), enc(t, "BridgeCreate", wire.Key{})), node, "bridge")
		br := wire.Key{Kind: "bridge", ID: bridge, Node: node, App: app}
		add("bridge play on "+node, e.request(create(node), enc(t, "BridgePlay", br)), node, "playback")
		add("bridge record on "+node, e.request(create(node), enc(t, "BridgeRecord", br)), node, "liverecording")
	}
	if want := len(nodes) * (perNode + 8); len(all) != want {
		t.Fatalf("%d distinct ids, want %d", len(all), want)
	}

	// Every originated channel entered the application with its id.
	started := map[string]string{}
	waitEvent(t, events, 30*time.Second, func(ev eventOf, _ []byte) bool {
		if ev.Type == ari.TypeStasisStart && ev.Channel != nil {
			started[ev.Channel.ID] = ev.AsteriskID
		}
		for _, node := range nodes {
			for _, id := range channels[node] {
				if started[id] != node {
					return false
				}
			}
		}
		return true
	})

	// A partial key (no node) reaches both servers; exactly one channel ends.
	victim := channels[node1][perNode/2]
	raws, err := e.requestRaw(e.subj.Request(wire.ClassCommand, app, ""),
		enc(t, "ChannelHangup", wire.Key{Kind: "channel", ID: victim}), 2, 10*time.Second)
	if err != nil || len(raws) != 2 {
		t.Fatalf("hangup: %d replies (%v)", len(raws), err)
	}
	succeeded := 0
	for _, raw := range raws {
		if r := decodeResponse(t, raw); r.Error == "" {
			succeeded++
		} else if r.Code != wire.CodeNotFound {
			t.Errorf("hangup reply %+v, want success or not found", r)
		}
	}
	if succeeded != 1 {
		t.Fatalf("%d servers hung the channel up, want 1", succeeded)
	}
	// Asterisk ends a channel just after answering the hangup (as the
	// simulator does): the lists may show the victim for a moment.
	var wrong []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		wrong = wrong[:0]
		for _, node := range nodes {
			r := ok(t, "list on "+node, e.request(e.subj.Request(wire.ClassGet, app, node), `{"kind":"ChannelList","key":{}}`))
			live := map[string]bool{}
			for _, k := range r.Keys {
				live[k.ID] = true
			}
			for _, id := range channels[node] {
				if live[id] == (id == victim) {
					wrong = append(wrong, fmt.Sprintf("%s on %s: live %v after hanging up %s", id, node, live[id], victim))
				}
			}
		}
		if len(wrong) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, w := range wrong {
		t.Error(w)
	}
	if !slices.Contains(channels[node1], victim) {
		t.Fatal("victim not on node1")
	}
}

// TestV5CreatesCopy: testdata/v5-creates.jsonl holds lines of the v5
// corpus, unchanged.
func TestV5CreatesCopy(t *testing.T) {
	corpus, err := os.ReadFile(sharedtest.Path(t, "wire", "v5-corpus.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(corpus), "\n")
	copied, err := os.ReadFile("testdata/v5-creates.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(copied)), "\n") {
		if !slices.Contains(lines, l) {
			t.Errorf("not a line of the corpus: %s", l)
		}
	}
}
