package arisim_test

// The conformance test replays the real Asterisk 22 transcripts in
// ../shared/ari/transcripts against the simulator and compares the shape of
// what comes back. docs/conformance.md explains the method and lists every
// accepted difference; run it with:
//
//	go test -race -run Conformance -v ./arisim/

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

// The Asterisk behind the transcripts (see ../shared/ari/README.md).
const (
	confUser     = "proxy"
	confPassword = "conformance-secret"
	confEntityID = "02:fc:00:00:00:01"

	// minMatchRatio is the share of exchanges that must match.
	minMatchRatio = 0.95
)

// Timing knobs. The simulator answers in microseconds; these only bound
// how long we wait for events the transcript says must come.
const (
	// lastExchangeGrace is how long we listen for events after the last
	// request.
	lastExchangeGrace = 300 * time.Millisecond
	// eventSlackMS: an event the transcript shows within this many ms of
	// a request boundary may arrive on either side of it.
	eventSlackMS = 5
	// eventWaitBase is the minimum wait for expected events.
	eventWaitBase = time.Second
	// maxIdleSleep caps the deliberate pauses the transcript client made
	// (waiting for a recording to capture audio, for a call to settle...).
	maxIdleSleep = time.Second
	// transcriptBudget bounds one transcript's replay so a badly broken
	// simulator fails fast instead of waiting out every event timeout.
	transcriptBudget = 60 * time.Second
)

// record is one line of a transcript.
type record = sharedtest.TranscriptLine

// exchange is one request, its response and the events the transcript
// shows between this request and the next one.
type exchange struct {
	req    record
	resp   *record
	events []record
	// eventSpan is how long after req the last expected event came.
	eventSpan time.Duration
}

type transcript struct {
	name      string // file name without .jsonl
	wsNote    string // the websocket URL the client connected to
	exchanges []exchange
}

// exchangeResult is the outcome of replaying one exchange.
type exchangeResult struct {
	transcript string
	seq        int
	what       string // "GET /channels/chan-1"
	diffs      []string
	notes      []string // informational (interleaving differences, id mappings)
}

func (r exchangeResult) ok() bool { return len(r.diffs) == 0 }

// loadTranscript reads a transcript file into exchanges; reading errors
// fail the test, a transcript out of order is an error.
func loadTranscript(t testing.TB, path string) (transcript, error) {
	t.Helper()
	tr := transcript{name: strings.TrimSuffix(filepath.Base(path), ".jsonl")}
	recs := sharedtest.ReadJSONL[record](t, path)
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Seq < recs[j].Seq })

	var cur *exchange
	for i := range recs {
		r := recs[i]
		switch r.Kind {
		case "note":
			if u, ok := strings.CutPrefix(r.Text, "websocket connect "); ok && tr.wsNote == "" {
				tr.wsNote = strings.TrimSpace(u)
			}
		case "request":
			tr.exchanges = append(tr.exchanges, exchange{req: r})
			cur = &tr.exchanges[len(tr.exchanges)-1]
		case "response":
			if cur == nil || cur.resp != nil {
				return tr, fmt.Errorf("%s seq %d: response without a pending request", path, r.Seq)
			}
			cur.resp = &recs[i]
		case "event":
			if cur == nil {
				return tr, fmt.Errorf("%s seq %d: event before the first request", path, r.Seq)
			}
			cur.events = append(cur.events, r)
			cur.eventSpan = time.Duration(r.MS-cur.req.MS) * time.Millisecond
		default:
			return tr, fmt.Errorf("%s seq %d: unknown kind %q", path, r.Seq, r.Kind)
		}
	}
	for _, ex := range tr.exchanges {
		if ex.resp == nil {
			return tr, fmt.Errorf("%s seq %d: request without response", path, ex.req.Seq)
		}
	}
	return tr, nil
}

// ---- shapes -------------------------------------------------------------

// shapeOf returns the set of "path:type" strings of a JSON document: every
// node, objects by key (a.b), array elements merged under "[]". An empty
// document (no body) has no paths.
func shapeOf(doc []byte) (map[string]bool, error) {
	out := map[string]bool{}
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 {
		return out, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after JSON value")
	}
	addShape(v, "", out)
	return out, nil
}

func addShape(v any, prefix string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		out[prefix+":object"] = true
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			addShape(e, p, out)
		}
	case []any:
		out[prefix+":array"] = true
		for _, e := range x {
			addShape(e, prefix+"[]", out)
		}
	case string:
		out[prefix+":string"] = true
	case json.Number:
		out[prefix+":number"] = true
	case bool:
		out[prefix+":bool"] = true
	case nil:
		out[prefix+":null"] = true
	}
}

// shapeDiff describes how got differs from want, or "" when equal.
func shapeDiff(want, got map[string]bool) string {
	var missing, extra []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	var b strings.Builder
	if len(missing) > 0 {
		fmt.Fprintf(&b, "missing %v", missing)
	}
	if len(extra) > 0 {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "extra %v", extra)
	}
	return b.String()
}

// event is one WebSocket event reduced to what we compare.
type event struct {
	typ   string
	app   string // the application it was delivered to
	obj   string // the object the event is about (see eventObject)
	ms    int    // transcript events: when Asterisk sent it
	exch  int    // the exchange it belongs to (transcript) or arrived in (simulator)
	shape map[string]bool
	body  map[string]any
	raw   []byte
}

func parseEvent(raw []byte) (event, error) {
	ev := event{raw: raw}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return ev, err
	}
	ev.body = m
	ev.typ, _ = m["type"].(string)
	ev.app, _ = m["application"].(string)
	ev.obj = eventObject(m)
	var err error
	ev.shape, err = shapeOf(raw)
	return ev, err
}

// eventObject names the object an event is about. Asterisk serialises the
// events of one channel (or bridge, playback, recording) in order, but
// events of different objects come from different threads and interleave
// nondeterministically, so we compare order per object.
func eventObject(m map[string]any) string {
	for _, k := range []string{"channel", "peer", "playback", "recording", "bridge", "endpoint"} {
		o, ok := m[k].(map[string]any)
		if !ok {
			continue
		}
		for _, idk := range []string{"id", "name", "resource"} {
			if s, ok := o[idk].(string); ok {
				return k + ":" + s
			}
		}
	}
	return ""
}

func eventTypes(evs []event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.typ
	}
	return out
}

// ---- accepted differences -------------------------------------------------

// acceptedRow matches a row "| transcript | seq | reason |" of the
// accepted-differences table in docs/conformance.md.
var acceptedRow = regexp.MustCompile(`^\|\s*` + "`?" + `([A-Za-z0-9_\-]+?)(?:\.jsonl)?` + "`?" + `\s*\|\s*(\d+)\s*\|\s*(.*?)\s*\|\s*$`)

// loadAccepted reads the accepted-differences table: key "transcript#seq".
func loadAccepted(t testing.TB) map[string]string {
	t.Helper()
	path := filepath.Join(sharedtest.RepoRoot(t), "docs", "conformance.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Logf("no accepted-differences file %s: %v", path, err)
		return map[string]string{}
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(string(data), "\n") {
		m := acceptedRow.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		if strings.TrimSpace(m[3]) == "" {
			t.Errorf("docs/conformance.md: %s seq %s has no reason", m[1], m[2])
		}
		out[m[1]+"#"+m[2]] = m[3]
	}
	return out
}

// ---- replay -------------------------------------------------------------

// replayer drives one simulator through one transcript.
type replayer struct {
	t      *testing.T
	tr     transcript
	base   string // http://127.0.0.1:PORT/ari
	client *http.Client
	events chan event

	// chosen holds every string the transcript's client put in a request:
	// those are the client's ids and must never be remapped.
	chosen map[string]bool
	// idMap maps values Asterisk generated (ids, names with counters) onto
	// the simulator's.
	idMap map[string]string

	// clock is the simulator's clock; it stands at the transcript's time
	// (clock0 plus the record's ms). handling counts REST requests the
	// simulator is still handling: it keeps working after writing an
	// answer (res.after), and what it schedules then must be on the clock
	// before the clock moves on.
	clock    *arisim.ManualClock
	clock0   time.Time
	handling sync.WaitGroup
}

// advanceTo moves the simulator's clock to the transcript's time ms, once
// the simulator has finished handling the requests sent so far.
func (r *replayer) advanceTo(ms int) {
	r.handling.Wait()
	r.clock.AdvanceTo(r.clock0.Add(time.Duration(ms) * time.Millisecond))
}

// handler serves the simulator, counting the REST requests in r.handling.
func (r *replayer) handler(sim http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/ari/events" {
			r.handling.Add(1)
			defer r.handling.Done()
		}
		sim.ServeHTTP(w, req)
	})
}

func newReplayer(t *testing.T, tr transcript, base string) *replayer {
	r := &replayer{
		t:      t,
		tr:     tr,
		base:   base,
		client: &http.Client{Timeout: 10 * time.Second},
		events: make(chan event, 4096),
		chosen: map[string]bool{},
		idMap:  map[string]string{},
	}
	for _, ex := range tr.exchanges {
		for _, seg := range strings.Split(ex.req.Path, "/") {
			r.chosen[seg] = true
		}
		if q, err := url.ParseQuery(ex.req.Query); err == nil {
			for _, vs := range q {
				for _, v := range vs {
					r.chosen[v] = true
					for _, part := range strings.Split(v, ",") {
						r.chosen[part] = true
					}
				}
			}
		}
		if len(ex.req.Body) > 0 {
			var v any
			if json.Unmarshal(ex.req.Body, &v) == nil {
				collectStrings(v, r.chosen)
			}
		}
	}
	return r
}

func collectStrings(v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out[k] = true
			collectStrings(e, out)
		}
	case []any:
		for _, e := range x {
			collectStrings(e, out)
		}
	case string:
		out[x] = true
	}
}

// connectWS opens the events WebSocket as the transcript's note says and
// pumps events into r.events until ctx ends.
func (r *replayer) connectWS(ctx context.Context) (*websocket.Conn, error) {
	note := r.tr.wsNote
	if note == "" {
		return nil, errors.New("transcript has no websocket note")
	}
	nu, err := url.Parse(note)
	if err != nil {
		return nil, fmt.Errorf("websocket note %q: %w", note, err)
	}
	path := strings.TrimPrefix(nu.Path, "/ari")
	wsURL := "ws" + strings.TrimPrefix(r.base, "http") + path
	if nu.RawQuery != "" {
		wsURL += "?" + nu.RawQuery
	}
	hdr := http.Header{}
	req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	req.SetBasicAuth(confUser, confPassword)
	hdr.Set("Authorization", req.Header.Get("Authorization"))
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: HTTP %d: %w", wsURL, resp.StatusCode, err)
		}
		return nil, fmt.Errorf("dial %s: %w", wsURL, err)
	}
	c.SetReadLimit(16 << 20)
	go func() {
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				close(r.events)
				return
			}
			// A malformed message becomes a pseudo-event so it shows up
			// as a difference in the exchange it arrived in.
			ev, err := parseEvent(data)
			switch {
			case typ != websocket.MessageText:
				ev = event{typ: fmt.Sprintf("<%v message>", typ), raw: data}
			case err != nil:
				ev = event{typ: fmt.Sprintf("<bad JSON: %v>", err), raw: data}
			}
			r.events <- ev
		}
	}()
	return c, nil
}

// rewrite maps the Asterisk-generated values in a request onto the
// simulator's.
func (r *replayer) rewrite(path, query string) (string, string) {
	if len(r.idMap) == 0 {
		return path, query
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if v, ok := r.idMap[s]; ok {
			segs[i] = v
		}
	}
	path = strings.Join(segs, "/")
	if query == "" {
		return path, query
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return path, query
	}
	changed := false
	for k, vs := range q {
		for i, v := range vs {
			parts := strings.Split(v, ",")
			for j, p := range parts {
				if m, ok := r.idMap[p]; ok {
					parts[j] = m
					changed = true
				}
			}
			vs[i] = strings.Join(parts, ",")
		}
		q[k] = vs
	}
	if !changed {
		return path, query
	}
	return path, q.Encode()
}

// learn records id mappings from a transcript document and the simulator's
// document at the same position: string values under "id"/"name" keys that
// differ and that the client never chose.
func (r *replayer) learn(want, got any) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				continue
			}
			ws, wok := wv.(string)
			gs, gok := gv.(string)
			if wok && gok && (k == "id" || k == "name") {
				if ws != gs && ws != "" && !r.chosen[ws] {
					r.idMap[ws] = gs
				}
				continue
			}
			r.learn(wv, gv)
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return
		}
		for i := range w {
			r.learn(w[i], g[i])
		}
	}
}

func decodeAny(b []byte) any {
	var v any
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	return v
}

// do sends one request to the simulator.
func (r *replayer) do(ctx context.Context, req record) (int, []byte, error) {
	path, query := r.rewrite(req.Path, req.Query)
	u := r.base + path
	if query != "" {
		u += "?" + query
	}
	var body io.Reader
	if len(req.Body) > 0 && string(req.Body) != "null" {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, u, body)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if !strings.Contains(req.Text, "without credentials") {
		hr.SetBasicAuth(confUser, confPassword)
	}
	resp, err := r.client.Do(hr)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// replayedExchange is what the simulator did for one exchange.
type replayedExchange struct {
	res  exchangeResult
	want []event // the transcript's events of this exchange
	got  []event // the simulator's events received while it was current
}

// countTypes counts each event type of want.
func countTypes(want []string) map[string]int {
	need := map[string]int{}
	for _, w := range want {
		need[w]++
	}
	return need
}

// satisfied reports whether every wanted event type is among got or the
// pool of earlier unclaimed events; it claims the pool entries it uses.
func satisfied(want []string, got []event, pool *[]event) bool {
	need := countTypes(want)
	for _, g := range got {
		if need[g.typ] > 0 {
			need[g.typ]--
		}
	}
	var claim []int
	for i, p := range *pool {
		if need[p.typ] > 0 {
			need[p.typ]--
			claim = append(claim, i)
		}
	}
	for _, n := range need {
		if n > 0 {
			return false
		}
	}
	for k := len(claim) - 1; k >= 0; k-- {
		*pool = slices.Delete(*pool, claim[k], claim[k]+1)
	}
	return true
}

// collect gathers the simulator's events while exchange k is current: until
// the next request is due and the expected event types have arrived
// (counting unclaimed earlier arrivals, which the attribution may credit
// to this exchange), or until timeout.
func (r *replayer) collect(want []string, pool *[]event, nextAt time.Time, timeout time.Duration) []event {
	var got []event
	deadline := time.Now().Add(timeout)
	done := satisfied(want, got, pool)
	for {
		var until time.Time
		switch {
		case done:
			until = nextAt
		default:
			until = deadline
		}
		wait := time.Until(until)
		if wait <= 0 {
			break
		}
		timer := time.NewTimer(wait)
		select {
		case ev, ok := <-r.events:
			timer.Stop()
			if !ok {
				return got
			}
			got = append(got, ev)
			if !done {
				done = satisfied(want, got, pool)
			}
		case <-timer.C:
		}
	}
	// Whatever is already queued arrived before the next request is sent.
	for {
		select {
		case ev, ok := <-r.events:
			if !ok {
				return got
			}
			got = append(got, ev)
		default:
			// Unclaimed arrivals may be credited to a later exchange.
			need := countTypes(want)
			for _, g := range got {
				if need[g.typ] > 0 {
					need[g.typ]--
				} else {
					*pool = append(*pool, g)
				}
			}
			return got
		}
	}
}

func (r *replayer) run(ctx context.Context) []exchangeResult {
	var rep []replayedExchange
	var pool []event
	start := time.Now()
	budget := start.Add(transcriptBudget)
	sendAt := start
	for k, ex := range r.tr.exchanges {
		// Pace the replay like the transcript, so events the simulator
		// times (DTMF, playbacks, answer delays) fall between the same
		// requests; the client's long deliberate pauses are capped.
		prevMS := 0
		if k > 0 {
			prevMS = r.tr.exchanges[k-1].req.MS
		}
		gap := min(time.Duration(ex.req.MS-prevMS)*time.Millisecond, maxIdleSleep)
		if k > 0 || gap > 0 {
			sendAt = sendAt.Add(gap)
		}
		if d := time.Until(sendAt); d > 0 {
			time.Sleep(d)
		}
		sendAt = time.Now()
		r.advanceTo(ex.req.MS)

		res := exchangeResult{
			transcript: r.tr.name,
			seq:        ex.req.Seq,
			what:       ex.req.Method + " " + ex.req.Path,
		}
		if ex.req.Query != "" {
			res.what += "?" + ex.req.Query
		}
		status, body, err := r.do(ctx, ex.req)
		if err != nil {
			res.diffs = append(res.diffs, fmt.Sprintf("request failed: %v", err))
		} else {
			if status != ex.resp.Status {
				res.diffs = append(res.diffs, fmt.Sprintf("status: want %d, got %d (body %s)", ex.resp.Status, status, clip(body)))
			}
			wantShape, err := shapeOf(ex.resp.Body)
			if err != nil {
				r.t.Fatalf("%s seq %d: transcript body: %v", r.tr.name, ex.resp.Seq, err)
			}
			if gotShape, err := shapeOf(body); err != nil {
				res.diffs = append(res.diffs, fmt.Sprintf("response body is not JSON: %v: %s", err, clip(body)))
			} else if d := shapeDiff(wantShape, gotShape); d != "" {
				res.diffs = append(res.diffs, "response body: "+d)
			}
			r.learn(decodeAny(ex.resp.Body), decodeAny(body))
		}

		var want []event
		for _, e := range ex.events {
			ev, err := parseEvent(e.Body)
			if err != nil {
				r.t.Fatalf("%s seq %d: transcript event: %v", r.tr.name, e.Seq, err)
			}
			ev.ms = e.MS
			ev.exch = k
			want = append(want, ev)
		}
		nextAt := time.Now()
		if k+1 < len(r.tr.exchanges) {
			next := r.tr.exchanges[k+1].req.MS
			nextAt = sendAt.Add(min(time.Duration(next-ex.req.MS)*time.Millisecond, maxIdleSleep))
			// What the simulator times itself before the next request
			// happens now, while this exchange is current.
			r.advanceTo(next)
		} else {
			nextAt = nextAt.Add(lastExchangeGrace)
			r.advanceTo(ex.req.MS + int(lastExchangeGrace/time.Millisecond))
		}
		timeout := eventWaitBase + 2*ex.eventSpan
		if time.Now().After(budget) {
			timeout = 0
		}
		got := r.collect(eventTypes(want), &pool, nextAt, timeout)
		for i := range got {
			got[i].exch = k
		}
		rep = append(rep, replayedExchange{res: res, want: want, got: got})
	}
	r.attribute(rep)
	out := make([]exchangeResult, len(rep))
	for i := range rep {
		out[i] = rep[i].res
	}
	return out
}

// window reports whether a transcript event that Asterisk sent at ms may
// be received while exchange k is current: between k's request and the
// next one, give or take eventSlackMS. Asterisk sends events
// asynchronously to the HTTP answers, and the transcript's client often
// sent several requests within a millisecond, so an event within the slack
// of a request boundary may fall on either side of it. The replay keeps
// the transcript's pace, so an event the simulator sends clearly too early
// or too late still shows.
func (r *replayer) window(ms, k int) bool {
	exs := r.tr.exchanges
	if ms < exs[k].req.MS-eventSlackMS {
		return false
	}
	if k+1 < len(exs) && ms > exs[k+1].req.MS+eventSlackMS {
		return false
	}
	return true
}

// streamKey names the ordered event stream an event belongs to: one per
// application and object. Each application has its own queue, and events
// of different objects come from different Asterisk threads, so only the
// order within a stream is deterministic.
func streamKey(e event, idMap map[string]string) string {
	obj := e.obj
	if kind, id, ok := strings.Cut(obj, ":"); ok && idMap != nil {
		if m, ok := idMap[id]; ok {
			obj = kind + ":" + m
		}
	}
	return e.app + "|" + obj
}

// attribute compares the events of the whole transcript with the
// simulator's: per stream (streamKey) the types are aligned in order
// (longest common subsequence); an expected event without a partner is
// missing from the exchange the transcript shows it in, a received event
// without one is unexpected in the exchange it arrived in, a pair must
// arrive within the event's window and have the same field paths.
func (r *replayer) attribute(rep []replayedExchange) {
	type ref struct{ k, i int }
	wantStreams := map[string][]ref{}
	gotStreams := map[string][]ref{}
	var keys []string
	for k := range rep {
		for i, e := range rep[k].want {
			key := streamKey(e, r.idMap)
			if _, ok := wantStreams[key]; !ok {
				if _, ok := gotStreams[key]; !ok {
					keys = append(keys, key)
				}
			}
			wantStreams[key] = append(wantStreams[key], ref{k, i})
		}
		for i, e := range rep[k].got {
			key := streamKey(e, nil)
			if _, ok := gotStreams[key]; !ok {
				if _, ok := wantStreams[key]; !ok {
					keys = append(keys, key)
				}
			}
			gotStreams[key] = append(gotStreams[key], ref{k, i})
		}
	}
	add := func(k int, msg string) { rep[k].res.diffs = append(rep[k].res.diffs, msg) }
	seqOf := func(k int) int { return rep[k].res.seq }
	for _, key := range keys {
		ws, gs := wantStreams[key], gotStreams[key]
		wt := make([]string, len(ws))
		for i, x := range ws {
			wt[i] = rep[x.k].want[x.i].typ
		}
		gt := make([]string, len(gs))
		for i, x := range gs {
			gt[i] = rep[x.k].got[x.i].typ
		}
		pairs := lcsPairs(wt, gt)
		wi, gi := 0, 0
		flush := func(wEnd, gEnd int) {
			for ; wi < wEnd; wi++ {
				x := ws[wi]
				e := rep[x.k].want[x.i]
				add(x.k, fmt.Sprintf("missing event %s (%s, transcript seq %d)", e.typ, key, seqOfEvent(r.tr.exchanges[x.k], x.i)))
			}
			for ; gi < gEnd; gi++ {
				x := gs[gi]
				e := rep[x.k].got[x.i]
				add(x.k, fmt.Sprintf("unexpected event %s (%s): %s", e.typ, key, clip(e.raw)))
			}
		}
		for _, p := range pairs {
			flush(p[0], p[1])
			w, g := ws[p[0]], gs[p[1]]
			we, ge := rep[w.k].want[w.i], rep[g.k].got[g.i]
			if w.k != g.k && !r.window(we.ms, g.k) {
				msg := fmt.Sprintf("event %s (%s, transcript seq %d at %d ms) arrived during request seq %d, the transcript shows it during request seq %d",
					we.typ, key, seqOfEvent(r.tr.exchanges[w.k], w.i), we.ms, seqOf(g.k), seqOf(w.k))
				add(w.k, msg)
				if g.k != w.k {
					add(g.k, msg)
				}
			}
			if d := shapeDiff(we.shape, ge.shape); d != "" {
				add(w.k, fmt.Sprintf("event %s (%s): %s", we.typ, key, d))
			}
			wi, gi = p[0]+1, p[1]+1
		}
		flush(len(ws), len(gs))
	}
	for k := range rep {
		if len(rep[k].res.diffs) > 0 && (len(rep[k].want) > 0 || len(rep[k].got) > 0) {
			rep[k].res.notes = append(rep[k].res.notes, fmt.Sprintf("events: transcript %s, simulator %s", describe(rep[k].want), describe(rep[k].got)))
		}
	}
}

func seqOfEvent(ex exchange, i int) int { return ex.events[i].Seq }

// lcsPairs aligns two sequences by a longest common subsequence and
// returns the index pairs.
func lcsPairs(a, b []string) [][2]int {
	n, m := len(a), len(b)
	dp := make([][]int, n+1)
	for i := range dp {
		dp[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	var out [][2]int
	for i, j := 0, 0; i < n && j < m; {
		switch {
		case a[i] == b[j]:
			out = append(out, [2]int{i, j})
			i++
			j++
		case dp[i+1][j] >= dp[i][j+1]:
			i++
		default:
			j++
		}
	}
	return out
}

func describe(evs []event) string {
	parts := make([]string, len(evs))
	for i, e := range evs {
		parts[i] = e.typ
		if e.obj != "" {
			parts[i] += "(" + e.obj + ")"
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func clip(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// replayTranscript runs one transcript against a fresh simulator.
func replayTranscript(t *testing.T, tr transcript) []exchangeResult {
	clock0 := time.Now()
	clock := arisim.NewManualClock(clock0)
	sim := arisim.New(arisim.Config{
		User:     confUser,
		Password: confPassword,
		EntityID: confEntityID,
		Logger:   slog.New(slog.DiscardHandler),
		Clock:    clock,
	})
	r := newReplayer(t, tr, "")
	r.clock, r.clock0 = clock, clock0
	srv := httptest.NewServer(r.handler(sim))
	defer srv.Close()
	defer sim.Close()
	r.base = srv.URL + "/ari"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := r.connectWS(ctx)
	if err != nil {
		t.Fatalf("%s: websocket: %v", tr.name, err)
	}
	defer c.CloseNow()
	results := r.run(ctx)
	if len(r.idMap) > 0 && testing.Verbose() {
		keys := make([]string, 0, len(r.idMap))
		for k := range r.idMap {
			keys = append(keys, k+"→"+r.idMap[k])
		}
		sort.Strings(keys)
		t.Logf("%s: mapped Asterisk-generated values: %s", tr.name, strings.Join(keys, ", "))
	}
	c.Close(websocket.StatusNormalClosure, "")
	return results
}

func TestConformance(t *testing.T) {
	dir := sharedtest.Find("ari", "transcripts")
	if dir == "" {
		sharedtest.SkipOrFail(t, "../shared/ari/transcripts not found next to the repo root (the Asterisk reference transcripts are needed for the conformance test)")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(files) == 0 {
		sharedtest.SkipOrFail(t, "no transcripts in %s", dir)
	}
	sort.Strings(files)
	accepted := loadAccepted(t)

	var (
		mu  sync.Mutex
		all []exchangeResult
	)
	t.Run("replay", func(t *testing.T) {
		for _, f := range files {
			tr, err := loadTranscript(t, f)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			t.Run(tr.name, func(t *testing.T) {
				t.Parallel()
				res := replayTranscript(t, tr)
				for _, r := range res {
					for _, n := range r.notes {
						t.Logf("seq %d %s: note: %s", r.seq, r.what, n)
					}
					if r.ok() {
						continue
					}
					reason, ok := accepted[r.transcript+"#"+fmt.Sprint(r.seq)]
					msg := fmt.Sprintf("seq %d %s:\n\t%s", r.seq, r.what, strings.Join(r.diffs, "\n\t"))
					if ok {
						t.Logf("accepted difference (%s): %s", reason, msg)
					} else {
						t.Errorf("difference not listed in docs/conformance.md: %s", msg)
					}
				}
				mu.Lock()
				all = append(all, res...)
				mu.Unlock()
			})
		}
	})

	matched := 0
	seen := map[string]bool{}
	for _, r := range all {
		key := r.transcript + "#" + fmt.Sprint(r.seq)
		seen[key] = true
		if r.ok() {
			matched++
			if reason, ok := accepted[key]; ok {
				t.Logf("stale entry in docs/conformance.md: %s seq %d now matches (%s)", r.transcript, r.seq, reason)
			}
		}
	}
	for key := range accepted {
		if !seen[key] {
			t.Logf("entry in docs/conformance.md names no exchange: %s", key)
		}
	}
	summary := fmt.Sprintf("transcripts: %d/%d exchanges match", matched, len(all))
	fmt.Println(summary)
	t.Log(summary)
	if len(all) == 0 {
		t.Fatal("no exchanges replayed")
	}
	if ratio := float64(matched) / float64(len(all)); ratio < minMatchRatio {
		t.Errorf("%.1f%% of exchanges match, want at least %.0f%%", 100*ratio, 100*minMatchRatio)
	}
}

// TestConformanceDetectsDifferences guards the comparison itself: it
// replays inbound_dialplan with deliberate corruptions of the transcript and
// checks that each is reported on the right exchange, so a lenient
// comparison cannot pass unnoticed.
func TestConformanceDetectsDifferences(t *testing.T) {
	dir := sharedtest.Find("ari", "transcripts")
	if dir == "" {
		sharedtest.SkipOrFail(t, "../shared/ari/transcripts not found next to the repo root")
	}
	tr, err := loadTranscript(t, filepath.Join(dir, "inbound_dialplan.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	bySeq := map[int]int{}
	for i, ex := range tr.exchanges {
		bySeq[ex.req.Seq] = i
	}
	for _, seq := range []int{2, 5, 7, 11, 14} {
		if _, ok := bySeq[seq]; !ok {
			t.Fatalf("inbound_dialplan changed: no request seq %d", seq)
		}
	}
	addField := func(raw json.RawMessage) json.RawMessage {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		m["not_an_asterisk_field"] = "x"
		b, _ := json.Marshal(m)
		return b
	}
	// A wrong status.
	ex := &tr.exchanges[bySeq[5]]
	statusResp := *ex.resp
	statusResp.Status = 201
	ex.resp = &statusResp
	// A field the simulator does not send in a response.
	ex = &tr.exchanges[bySeq[2]]
	fieldResp := *ex.resp
	fieldResp.Body = addField(fieldResp.Body)
	ex.resp = &fieldResp
	// A field the simulator does not send in an event, and a dropped
	// event (StasisEnd).
	ex = &tr.exchanges[bySeq[7]]
	ex.events = slices.Clone(ex.events)
	ex.events[0].Body = addField(ex.events[0].Body)
	ex.events = ex.events[:1]
	// An event moved 300 ms later, past the next request and the slack.
	from, to := &tr.exchanges[bySeq[11]], &tr.exchanges[bySeq[14]]
	moved := from.events[0]
	moved.MS = to.req.MS + 2*eventSlackMS
	from.events = nil
	to.events = append([]record{moved}, to.events...)

	// Each corruption must be reported on one of the exchanges listed (an
	// event the simulator sends may arrive after the next request went
	// out), and nothing else may differ.
	want := []struct {
		diff string
		seqs []int
	}{
		{"response body: missing [not_an_asterisk_field:string]", []int{2}},
		{"status: want 201, got 200", []int{5}},
		{"event ChannelHangupRequest (demo|channel:out-1): missing [not_an_asterisk_field:string]", []int{7}},
		{"unexpected event StasisEnd (demo|channel:out-1)", []int{7, 11}},
		{"arrived during request seq 11, the transcript shows it during request seq 14", []int{11}},
		{"arrived during request seq 11, the transcript shows it during request seq 14", []int{14}},
	}
	diffs := map[int]string{}
	for _, r := range replayTranscript(t, tr) {
		if len(r.diffs) == 0 {
			continue
		}
		diffs[r.seq] = strings.Join(r.diffs, "\n")
		if !slices.Contains([]int{2, 5, 7, 11, 14}, r.seq) {
			t.Errorf("seq %d: unexpected difference:\n%s", r.seq, diffs[r.seq])
		}
	}
	for _, w := range want {
		found := false
		for _, seq := range w.seqs {
			found = found || strings.Contains(diffs[seq], w.diff)
		}
		if !found {
			t.Errorf("corruption not detected: no difference containing %q at seq %v; differences: %v", w.diff, w.seqs, diffs)
		}
	}
}
