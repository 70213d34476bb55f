package arisim

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// The replay test runs every request of every transcript against the
// simulator, in order and with the recorded pauses (capped), and compares
// status codes, normalized bodies and the events each application got.

var normalizers = []struct {
	re  *regexp.Regexp
	rep string
}{
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}`), "TIME"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`), "DATE"},
	{regexp.MustCompile(`-[0-9a-f]{8};`), "-N;"},
	{regexp.MustCompile(`Snoop/([^"]*)-[0-9a-f]{8}`), "Snoop/$1-N"},
	{regexp.MustCompile(`-0x[0-9a-f]+`), "-0xP"},
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "UUID"},
	{regexp.MustCompile(`"UNICASTRTP_LOCAL_PORT":"\d+"`), `"UNICASTRTP_LOCAL_PORT":"PORT"`},
	{regexp.MustCompile(`"value":"\d{5}"`), `"value":"PORT"`},
}

func normalize(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(b, &v) == nil {
		b = jsonOf(v) // canonical: keeps our order? no: maps sort keys
	}
	s := string(b)
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.rep)
	}
	return s
}

// orderedKeys lists the member names of a JSON object, recursively, to
// compare member order.
func orderedKeys(raw []byte) string {
	members, ok := orderedMembers(raw)
	if !ok {
		return ""
	}
	var parts []string
	for _, m := range members {
		sub := orderedKeys(m.v)
		if sub != "" {
			parts = append(parts, m.k+"{"+sub+"}")
		} else {
			parts = append(parts, m.k)
		}
	}
	return strings.Join(parts, ",")
}

type replayResult struct {
	mismatches []string
	ourEvents  []string
	wantEvents []string
}

func replay(t *testing.T, name string) replayResult {
	lines := loadTranscript(t, name)
	// The simulator's clock follows the transcript's (see ManualClock),
	// so a loaded machine cannot move its timed events between requests.
	cs := newClockedSim(t, Config{EntityID: "02:fc:00:00:00:01"})
	s := cs.Sim
	advance := func(ms int) { cs.advance(time.Duration(ms) * time.Millisecond) }
	ws := dialEvents(t, s, "app=demo,other&subscribeAll=false")
	var res replayResult
	lastMs := 0
	var pending *tline
	for i := range lines {
		l := lines[i]
		switch l.Kind {
		case "event":
			var m map[string]any
			_ = json.Unmarshal(l.Body, &m)
			res.wantEvents = append(res.wantEvents, eventKey(m))
		case "request":
			// The transcript's time passes, then the recording client
			// waited for the events it expected: wait until as many have
			// arrived here.
			advance(l.MS)
			deadline := time.Now().Add(2 * time.Second)
			for len(ws.events()) < len(res.wantEvents) && time.Now().Before(deadline) {
				time.Sleep(2 * time.Millisecond)
			}
			lastMs = l.MS
			pending = &lines[i]
		case "response":
			rq := pending
			var body any
			if len(rq.Body) > 0 {
				body = rq.Body
			}
			var status int
			var got []byte
			if strings.Contains(rq.Text, "without credentials") {
				status, got = callAuth(t, s, rq.Method, rq.Path, rq.Query, body, "", "")
			} else {
				status, got = call(t, s, rq.Method, rq.Path, rq.Query, body)
			}
			if status != l.Status {
				res.mismatches = append(res.mismatches, fmt.Sprintf("seq %d %s %s: status %d, want %d (%s)", rq.Seq, rq.Method, rq.Path, status, l.Status, got))
				continue
			}
			if n1, n2 := normalize(got), normalize(l.Body); n1 != n2 {
				res.mismatches = append(res.mismatches, fmt.Sprintf("seq %d %s %s: body\n got %s\nwant %s", rq.Seq, rq.Method, rq.Path, n1, n2))
			} else if k1, k2 := orderedKeys(got), orderedKeys(l.Body); k1 != k2 && !strings.HasPrefix(string(got), "[") {
				res.mismatches = append(res.mismatches, fmt.Sprintf("seq %d %s %s: member order\n got %s\nwant %s", rq.Seq, rq.Method, rq.Path, k1, k2))
			}
		}
	}
	advance(lastMs + 300)
	time.Sleep(300 * time.Millisecond)
	for _, m := range ws.events() {
		res.ourEvents = append(res.ourEvents, eventKey(m))
	}
	// Member order of events with the same members.
	want := map[string]string{}
	for _, l := range lines {
		if l.Kind == "event" {
			want[memberSet(l.Body)] = orderedKeys(l.Body)
		}
	}
	ws.mu.Lock()
	for _, raw := range ws.raw {
		set := memberSet(raw)
		if w, ok := want[set]; ok {
			if got := orderedKeys(raw); got != w {
				res.mismatches = append(res.mismatches, fmt.Sprintf("event member order\n got %s\nwant %s", got, w))
				want[set] = got // report once
			}
		}
	}
	ws.mu.Unlock()
	return res
}

// memberSet is an event's type and sorted member names, recursively.
func memberSet(raw []byte) string {
	members, ok := orderedMembers(raw)
	if !ok {
		return ""
	}
	var parts []string
	typ := ""
	for _, m := range members {
		if m.k == "type" {
			_ = json.Unmarshal(m.v, &typ)
		}
		parts = append(parts, m.k+"{"+memberSet(m.v)+"}")
	}
	sort.Strings(parts)
	return typ + ":" + strings.Join(parts, ",")
}

func eventKey(m map[string]any) string {
	s, _ := m["type"].(string)
	if ch, ok := m["channel"].(map[string]any); ok {
		s += "(" + fmt.Sprint(ch["id"]) + ")"
	}
	if v, ok := m["variable"]; ok {
		s += "[" + fmt.Sprint(v) + "=" + fmt.Sprint(m["value"]) + "]"
	}
	if p, ok := m["playback"].(map[string]any); ok {
		s += "[" + fmt.Sprint(p["state"]) + "]"
	}
	if a, ok := m["application"]; ok && a != "demo" {
		s += "@" + fmt.Sprint(a)
	}
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.rep)
	}
	return s
}

func TestTranscriptReplay(t *testing.T) {
	for _, name := range []string{"channel_lifecycle", "bridge", "create_dial_snoop_media", "inbound_dialplan", "errors", "system"} {
		t.Run(name, func(t *testing.T) {
			res := replay(t, name)
			for _, m := range res.mismatches {
				t.Error(m)
			}
			if os.Getenv("ARISIM_SHOW_EVENTS") != "" {
				t.Logf("events\n got %s\nwant %s", strings.Join(res.ourEvents, " "), strings.Join(res.wantEvents, " "))
			}
			if !sameMultiset(res.ourEvents, res.wantEvents) {
				t.Errorf("events differ\n got %s\nwant %s", strings.Join(res.ourEvents, " "), strings.Join(res.wantEvents, " "))
			}
		})
	}
}

func sameMultiset(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		count[x]--
		if count[x] < 0 {
			return false
		}
	}
	return true
}
