package proxy_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/bustest"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/internal/sharedtest"
	"github.com/ariproxy/ari-proxy/wire"
)

// corpusLine is one message of the v5 corpus.
type corpusLine = sharedtest.CorpusMessage

// v5Bugs are the kinds whose corpus answer is a v5 defect: v5 decoded
// Asterisk's 404 error body ({"message": ...}) as the list or config it
// expected and answered "failed to decode response". Ours answers what
// Asterisk said: not_found with ari_status 404 and Asterisk's message.
var v5Bugs = map[string]bool{"MailboxList": true, "EndpointListByTech": true, "AsteriskConfigData": true}

// TestV5CorpusSmall replays proxy/testdata/v5-corpus-small.jsonl, a part
// of the v5 corpus kept here so the check always runs.
func TestV5CorpusSmall(t *testing.T) {
	bustest.ForEachTransport(t, func(t *testing.T, tr bustest.Transport) {
		replayCorpus(t, tr, filepath.Join("testdata", "v5-corpus-small.jsonl"))
	})
}

// TestV5Corpus replays the whole v5 corpus from ../shared.
func TestV5Corpus(t *testing.T) {
	path := sharedtest.Find("wire", "v5-corpus.jsonl")
	if path == "" {
		sharedtest.SkipOrFail(t, "../shared/wire/v5-corpus.jsonl not found next to the repo root (the v5 corpus); TestV5CorpusSmall covers part of it")
	}
	bustest.ForEachTransport(t, func(t *testing.T, tr bustest.Transport) { replayCorpus(t, tr, path) })
}

// readCorpus reads a v5 corpus file.
func readCorpus(t *testing.T, path string) []corpusLine {
	t.Helper()
	return sharedtest.ReadJSONL[corpusLine](t, path)
}

// replayCorpus sends every request of the corpus, in order, to our server
// in front of the simulator (whose entity id is the corpus's node), waits
// for the events the corpus shows before going on (so the state matches),
// and checks each reply carries every field path the v5 reply carries and
// every corpus event is seen. Any difference fails, including one where
// the simulator's state differs from the recorded Asterisk's (counted as a
// divergence in the summary line).
func replayCorpus(t *testing.T, tr bustest.Transport, path string) {
	lines := readCorpus(t, path)
	e := newEnvOn(t, tr)
	events := e.sub(e.subj.Event(app, node1))
	mapSubject := func(s string) string { return e.prefix + strings.TrimPrefix(s, "ari.") }

	// The v5 reply of each request, by reply subject.
	v5Replies := map[string][]byte{}
	for _, l := range lines {
		if l.Reply != "" {
			v5Replies[l.Reply] = nil
		}
	}
	for _, l := range lines {
		if _, ok := v5Replies[l.Subject]; ok {
			v5Replies[l.Subject] = l.Payload
		}
	}

	var seen []eventOf // received, not yet matched to a corpus event
	var requests, compared, missingEvents, retried, divergences int
	for i, l := range lines {
		switch {
		case l.Reply != "" && strings.HasPrefix(l.Subject, "ari."): // a request
			var head struct {
				Kind string `json:"kind"`
			}
			json.Unmarshal(l.Payload, &head)
			read := strings.HasPrefix(l.Subject, "ari.get") || strings.HasPrefix(l.Subject, "ari.data")
			v5 := v5Replies[l.Reply]
			// The simulator's timing is not the recorded Asterisk's (a
			// recording stored a little later...): a reply that does not
			// match yet is asked again for a while when asking again is
			// harmless (a read, or a failure, which changed nothing).
			deadline := time.Now().Add(1500 * time.Millisecond)
			for attempt := 0; ; attempt++ {
				raws, err := e.requestRaw(mapSubject(l.Subject), []byte(l.Payload), 1, 10*time.Second)
				if err != nil {
					t.Errorf("line %d %s: %v", i+1, head.Kind, err)
					break
				}
				if attempt == 0 {
					requests++
				}
				if v5 == nil {
					break
				}
				problems, failed, simState := compareReply(t, head.Kind, v5, raws[0])
				if len(problems) > 0 && (read || failed) && time.Now().Before(deadline) {
					if attempt == 0 {
						retried++
					}
					time.Sleep(100 * time.Millisecond)
					continue
				}
				compared++
				if simState && len(problems) > 0 {
					divergences++
				}
				for _, p := range problems {
					t.Errorf("line %d %s: %s\nrequest %s", i+1, head.Kind, p, l.Payload)
				}
				break
			}

		case strings.HasPrefix(l.Subject, "ari.event."):
			var want eventOf
			json.Unmarshal(l.Payload, &want)
			if !waitCorpusEvent(t, events, &seen, want, 2*time.Second) {
				missingEvents++
				t.Errorf("line %d: event %s (channel %v) not seen", i+1, want.Type, want.Channel)
			}
		}
	}
	t.Logf("%s: %d requests replayed (%d asked again while the state settled), %d replies compared, %d simulator divergences, %d corpus events not seen",
		filepath.Base(path), requests, retried, compared, divergences, missingEvents)
	if compared == 0 {
		t.Fatal("nothing compared")
	}
}

// waitCorpusEvent consumes events until one of want's type (and channel)
// arrives; events seen while waiting are kept for later corpus events.
func waitCorpusEvent(t *testing.T, ch <-chan []byte, seen *[]eventOf, want eventOf, timeout time.Duration) bool {
	match := func(ev eventOf) bool {
		if ev.Type != want.Type {
			return false
		}
		if want.Channel != nil && want.Channel.ID != "" {
			return ev.Channel != nil && ev.Channel.ID == want.Channel.ID
		}
		return true
	}
	if i := slices.IndexFunc(*seen, match); i >= 0 {
		*seen = slices.Delete(*seen, i, i+1)
		return true
	}
	deadline := time.After(timeout)
	for {
		select {
		case raw := <-ch:
			ev := decodeEvent(t, raw)
			if match(ev) {
				return true
			}
			*seen = append(*seen, ev)
		case <-deadline:
			return false
		}
	}
}

// compareReply checks our reply against v5's and returns what is wrong,
// whether ours is an error reply, and whether the difference is one of
// Asterisk's state (a 404, 409 or 422 answer where v5 succeeded, or an
// empty list where v5 listed entities) rather than of the proxy.
func compareReply(t *testing.T, kind string, v5, ours []byte) (problems []string, failed, simState bool) {
	t.Helper()
	var v5r, our wire.Response
	if err := json.Unmarshal(v5, &v5r); err != nil {
		t.Fatalf("corpus reply %s: %v", v5, err)
	}
	if err := json.Unmarshal(ours, &our); err != nil {
		return []string{fmt.Sprintf("our reply %s: %v", ours, err)}, true, false
	}
	failed = our.Error != ""
	switch {
	case v5Bugs[kind]:
		// v5 could not decode Asterisk's answer; ours must answer what
		// Asterisk said, classified.
		if strings.Contains(our.Error, "decode") || (failed && (our.Code == "" || our.Status == 0)) {
			return []string{fmt.Sprintf("(a v5 decode bug) our reply %s", ours)}, failed, false
		}
		t.Logf("%s: v5 %q; ours %s", kind, v5r.Error, ours)
		return nil, failed, false
	case v5r.Error != "":
		if !failed {
			t.Logf("%s: v5 answered %q, ours succeeded (simulator state): %s", kind, v5r.Error, ours)
			return nil, false, false
		}
		if our.Code == "" {
			problems = append(problems, fmt.Sprintf("error reply without error_code: %s", ours))
		}
		if st := nonTwoXX(v5r.Error); st != 0 && our.Status != st {
			problems = append(problems, fmt.Sprintf("v5 %q, our ari_status %d: %s", v5r.Error, our.Status, ours))
		}
		return problems, true, false
	}
	if failed {
		state := our.Status == 404 || our.Status == 409 || our.Status == 422
		return []string{fmt.Sprintf("v5 succeeded, ours failed: %s", ours)}, true, state
	}
	if len(v5r.Keys) > 0 && len(our.Keys) == 0 {
		return []string{fmt.Sprintf("v5 listed %d, ours none: %s", len(v5r.Keys), ours)}, false, true
	}
	want, got := fieldPaths(t, v5), fieldPaths(t, ours)
	for p, isNull := range want {
		// v5 re-encoded entities and wrote null for members Asterisk had
		// not sent (a channel's "channelvars"); ours forwards Asterisk's
		// body, and a missing member decodes as the null did.
		if _, found := got[p]; !found && !isNull {
			problems = append(problems, fmt.Sprintf("our reply lacks %s\nv5:   %s\nours: %s", p, abbrev(v5), abbrev(ours)))
		}
	}
	slices.Sort(problems)
	return problems, false, false
}

// nonTwoXX reads the status of v5's "Non-2XX response: 404 Not Found".
func nonTwoXX(s string) int {
	_, rest, ok := strings.Cut(s, "Non-2XX response: ")
	if !ok || len(rest) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(rest[:3])
	return n
}

// fieldPaths lists the member paths of a JSON document ("data.channel.id",
// arrays as "[]": "keys[].id"), each with whether its value is null.
func fieldPaths(t *testing.T, raw []byte) map[string]bool {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("paths of %s: %v", raw, err)
	}
	out := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				out[p] = c == nil
				walk(p, c)
			}
		case []any:
			for _, c := range v {
				walk(prefix+"[]", c)
			}
		}
	}
	walk("", v)
	return out
}

func abbrev(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// TestV5BugKindsSucceed: the kinds v5 could not decode work when Asterisk
// has what they ask for (here: res_ari_mailboxes loaded).
func TestV5BugKindsSucceed(t *testing.T) { bustest.ForEachTransport(t, testV5BugKindsSucceed) }

func testV5BugKindsSucceed(t *testing.T, tr bustest.Transport) {
	url := tr.URL(t)
	sim := localstack.StartSimConfig(t, arisim.Config{EntityID: node1, Mailboxes: true})
	prefix := localstack.Prefix()
	localstack.StartServer(t, sim, url, app, prefix)
	e := &env{t: t, busURL: url, sim: sim, cli: localstack.ConnectBus(t, url), prefix: prefix, subj: wire.NewSubjects(prefix)}
	ok(t, "update", e.request(e.subj.Request(wire.ClassCommand, "", ""),
		`{"kind":"MailboxUpdate","key":{"kind":"mailbox","id":"wmb@default"},"mailbox_update":{"new":2,"old":1}}`))
	r := ok(t, "list", e.request(e.subj.Request(wire.ClassGet, "", ""), `{"kind":"MailboxList","key":{}}`))
	want := wire.Key{Kind: "mailbox", ID: "wmb@default", Node: node1, App: app}
	if len(r.Keys) != 1 || *r.Keys[0] != want {
		t.Fatalf("MailboxList keys %v, want [%+v]", r.Keys, want)
	}
}
