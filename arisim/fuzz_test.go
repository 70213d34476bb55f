package arisim_test

// Robustness of the simulator's HTTP surface: whatever the request, it must
// not panic and must answer with a status Asterisk could give for that
// operation, with a well-formed body.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

// baseStatuses are the statuses any ARI operation may answer (413: a body
// over Asterisk's limit, "Request body too large").
var baseStatuses = []int{200, 201, 204, 400, 401, 404, 405, 409, 412, 413, 422}

// status500Ops are the operations whose Asterisk 22 handler
// (res/ari/resource_*.c) answers 500 for some input or state:
// errors.jsonl shows originate with an unknown technology ("Allocation
// failed") and a bridge of an unknown type ("Unable to create bridge");
// the others are the handlers' own 500 paths ("Failed to queue media for
// playback", "Could not %s playback", "Unknown device", ...).
var status500Ops = map[string]bool{
	"channels.originate":          true,
	"channels.originateWithId":    true,
	"channels.create":             true,
	"channels.move":               true,
	"channels.answer":             true,
	"channels.play":               true,
	"channels.playWithId":         true,
	"channels.record":             true,
	"channels.getChannelVar":      true,
	"channels.getChannelVars":     true,
	"channels.snoopChannel":       true,
	"channels.snoopChannelWithId": true,
	"bridges.create":              true,
	"bridges.createWithId":        true,
	"bridges.play":                true,
	"bridges.playWithId":          true,
	"bridges.record":              true,
	"playbacks.stop":              true,
	"playbacks.control":           true,
	"deviceStates.update":         true,
	"deviceStates.delete":         true,
}

// fuzzMethods are the methods the fuzzer picks from: the ARI ones plus
// others Asterisk's HTTP server parses (PATCH gives 405 in errors.jsonl).
var fuzzMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"}

func newTestSim(t testing.TB) *arisim.Sim {
	t.Helper()
	sim := arisim.New(arisim.Config{
		User:     confUser,
		Password: confPassword,
		EntityID: confEntityID,
		Logger:   slog.New(slog.DiscardHandler),
	})
	t.Cleanup(func() { sim.Close() })
	return sim
}

// serve sends one request through the simulator's handler.
func serve(sim *arisim.Sim, method, target string, body []byte, auth bool) (*httptest.ResponseRecorder, error) {
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, "http://127.0.0.1"+target, rd)
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.SetBasicAuth(confUser, confPassword)
	}
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	return rec, nil
}

// checkResponse verifies the status is one Asterisk can give for the
// request and that the body is well formed: empty for 204, a JSON error
// object for errors, JSON otherwise. It returns "" when all is well.
func checkResponse(method, ariPath string, auth bool, status int, body []byte) string {
	op, _, found, methodAllowed := ari.Route(method, ariPath)
	allowed := slices.Clone(baseStatuses)
	if op != nil {
		for _, e := range op.Errors {
			if e.Code == 403 {
				allowed = append(allowed, 403)
			}
		}
		if status500Ops[op.ID] {
			allowed = append(allowed, 500)
		}
		if op.WebSocket {
			// The events WebSocket without an Upgrade header: Asterisk's
			// WebSocket server answers 426 Upgrade Required.
			allowed = append(allowed, http.StatusUpgradeRequired)
		}
	}
	opName := "(no operation)"
	if op != nil {
		opName = op.ID
	}
	if !slices.Contains(allowed, status) {
		return fmt.Sprintf("status %d not allowed for %s (allowed %v); body %s", status, opName, allowed, clip(body))
	}
	// Asterisk authenticates every request before it routes it, OPTIONS
	// included (res_ari.c: ast_ari_callback, then handle_options inside
	// ast_ari_invoke).
	if !auth && status != 401 {
		return fmt.Sprintf("unauthenticated request got %d, want 401; body %s", status, clip(body))
	}
	// The api-docs are served to GET only, anything else is 405
	// "Unsupported method" (res_ari.c).
	if strings.HasPrefix(ariPath, "/api-docs/") && status != 401 {
		switch {
		case method == "GET" && !slices.Contains([]int{200, 403, 404}, status):
			return fmt.Sprintf("GET %s: got %d, want 200, 403 or 404; body %s", ariPath, status, clip(body))
		case method != "GET" && method != "HEAD" && status != 405:
			return fmt.Sprintf("%s %s: got %d, want 405 (api-docs are GET only); body %s", method, ariPath, status, clip(body))
		}
		return ""
	}
	// Routing details of OPTIONS (CORS preflight) and HEAD, and of the
	// root /ari itself, are left out: the transcripts do not show them.
	strict := method != "OPTIONS" && method != "HEAD" && ariPath != "" && ariPath != "/"
	// Asterisk routes before it parses parameters: an unknown path is 404,
	// a known path with another method 405 (errors.jsonl). A malformed
	// JSON body is rejected with 400 before routing. A path ending in "/"
	// is 404 "ARI URLs do not end with a slash" (res_ari.c,
	// remove_trailing_slash).
	if auth && strict {
		slash := len(ariPath) > 1 && strings.HasSuffix(ariPath, "/")
		// The recorded Asterisk has no res_ari_mailboxes: /mailboxes is
		// not in its routing tree at all (system.jsonl: 404).
		unloaded := ariPath == "/mailboxes" || strings.HasPrefix(ariPath, "/mailboxes/")
		switch {
		case slash && status != 404 && status != 400:
			return fmt.Sprintf("path %s ends with a slash: got %d, want 404; body %s", ariPath, status, clip(body))
		case slash:
		case !found && status != 404 && status != 400:
			return fmt.Sprintf("no operation at %s %s: got %d, want 404; body %s", method, ariPath, status, clip(body))
		case found && !methodAllowed && status != 405 && status != 400 && !(unloaded && status == 404):
			return fmt.Sprintf("%s not allowed at %s: got %d, want 405; body %s", method, ariPath, status, clip(body))
		}
	}
	if method == "HEAD" {
		return ""
	}
	if op != nil && op.WebSocket {
		// The events WebSocket's refusals come from Asterisk's HTTP server
		// (ast_http_error): an HTML page, not JSON.
		return ""
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case status == 204:
		if len(trimmed) != 0 {
			return fmt.Sprintf("204 with a body: %s", clip(body))
		}
	case status == http.StatusUpgradeRequired:
		// Asterisk's WebSocket server writes a plain HTTP error page.
	case status >= 400:
		// Error bodies are {"message": "..."} (one 500 is {"error": "..."}).
		var m map[string]any
		if err := json.Unmarshal(trimmed, &m); err != nil {
			return fmt.Sprintf("%d error body is not a JSON object: %v: %s", status, err, clip(body))
		}
		_, hasMsg := m["message"].(string)
		_, hasErr := m["error"].(string)
		if !hasMsg && !hasErr {
			return fmt.Sprintf("%d error body lacks message: %s", status, clip(body))
		}
	default:
		if len(trimmed) > 0 && !json.Valid(trimmed) {
			return fmt.Sprintf("%d body is not JSON: %s", status, clip(body))
		}
	}
	return ""
}

// fuzzSeed is one seed request.
type fuzzSeed struct {
	method      uint8
	path, query string
	body        []byte
	auth        bool
}

func methodIndex(m string) uint8 {
	return uint8(max(slices.Index(fuzzMethods, m), 0))
}

// builtinSeeds are request shapes from the transcripts plus garbage, so
// the fuzz test has a corpus even without ../shared.
func builtinSeeds() []fuzzSeed {
	s := func(m, p, q, b string) fuzzSeed {
		var body []byte
		if b != "" {
			body = []byte(b)
		}
		return fuzzSeed{methodIndex(m), p, q, body, true}
	}
	seeds := []fuzzSeed{
		s("POST", "/channels", "app=demo&appArgs=alpha%2Cbeta&callerId=Alice+%3C1001%3E&channelId=chan-1&endpoint=Local%2Fecho%40default&timeout=10", `{"variables":{"CALLERID(name)":"Alice","MYVAR":"one"}}`),
		s("GET", "/channels/chan-1", "", ""),
		s("GET", "/channels", "", ""),
		s("POST", "/channels/chan-1/answer", "", ""),
		s("POST", "/channels/chan-1/variable", "value=bar&variable=FOO", ""),
		s("GET", "/channels/chan-1/variable", "variable=FOO", ""),
		s("POST", "/channels/chan-1/dtmf", "between=50&dtmf=12%23&duration=80", ""),
		s("POST", "/channels/chan-1/mute", "direction=both", ""),
		s("POST", "/channels/chan-1/play", "lang=en&media=sound%3Ademo-congrats&playbackId=pb-1", ""),
		s("POST", "/playbacks/pb-1/control", "operation=bogus", ""),
		s("POST", "/channels/chan-1/record", "beep=false&format=wav&ifExists=overwrite&maxDurationSeconds=5&name=rec-chan-1", ""),
		s("POST", "/recordings/stored/rec-chan-1/copy", "destinationRecordingName=rec-chan-1-copy", ""),
		s("POST", "/events/user/CallNote", "application=demo&source=channel%3Achan-1", `{"variables":{"note":"hello"}}`),
		s("DELETE", "/channels/chan-1", "reason=normal", ""),
		s("POST", "/bridges", "bridgeId=br-1&name=conf-1&type=mixing%2Cdtmf_events", ""),
		s("POST", "/bridges/br-1/addChannel", "channel=leg-a%2Cleg-b&role=participant", ""),
		s("POST", "/bridges/br-1/videoSource/leg-a", "", ""),
		s("POST", "/channels/create", "app=demo&appArgs=dialed&channelId=dial-1&endpoint=Local%2Fecho%40default", ""),
		s("POST", "/channels/dial-1/snoop", "app=demo&appArgs=snooping&snoopId=snoop-1&spy=in&whisper=none", ""),
		s("POST", "/channels/externalMedia", "app=demo&channelId=em-1&encapsulation=rtp&external_host=127.0.0.1%3A40000&format=ulaw&transport=udp", ""),
		s("POST", "/channels/dial-1/continue", "context=default&extension=echo&priority=1", ""),
		s("POST", "/channels/redir-1/move", "app=other&appArgs=moved", ""),
		s("POST", "/channels", "app=demo&endpoint=Bogus%2F123", ""),
		s("POST", "/bridges", "type=notatype", ""),
		s("PATCH", "/channels", "", ""),
		s("GET", "/no/such/path", "", ""),
		s("GET", "/asterisk/info", "", ""),
		s("POST", "/asterisk/logging/testlog", "configuration=notice%2Cwarning", ""),
		s("GET", "/asterisk/config/dynamic/res_pjsip/endpoint/alice", "", ""),
		s("GET", "/sounds", "format=gsm&lang=en", ""),
		s("PUT", "/deviceStates/Stasis:dev1", "deviceState=BUSY", ""),
		s("PUT", "/applications/demo/eventFilter", "", `{"allowed":[{"type":"StasisStart"},{"type":"StasisEnd"}]}`),
		s("POST", "/applications/demo/subscription", "eventSource=endpoint%3ALocal", ""),
		// Garbage.
		s("POST", "/channels", "%zz=%zz&&&=", "{"),
		s("POST", "/channels/chan-1/variables", "", `{"variables":[1,2,3]}`),
		s("PUT", "/applications/demo/eventFilter", "", `{"allowed":"yes"}`),
		s("POST", "/channels", "timeout=-99999999999999999999&endpoint=Local/x@y&app=demo", `null`),
		s("GET", "//channels//", "", ""),
		s("DELETE", "/channels/%2e%2e", "", ""),
		s("GET", "/recordings", "", ""),
		s("POST", "/events/user/", "application=", "[]"),
		s("GET", "/events", "app=demo", ""),
		{methodIndex("GET"), "/asterisk/info", "", nil, false},
		{methodIndex("OPTIONS"), "/channels", "", nil, false},
		{methodIndex("HEAD"), "/channels", "", nil, false},
		s("GET", "/api-docs/resources.json", "", ""),
		s("GET", "/api-docs/channels.json", "", ""),
		s("PUT", "/api-docs/resources.json", "", ""),
		s("GET", "/api-docs", "", ""),
		{methodIndex("POST"), "/channels", "api_key=proxy:wrong", nil, false},
	}
	return seeds
}

// transcriptSeeds turns every request of the shared transcripts into a
// seed, when ../shared is present.
func transcriptSeeds(t testing.TB) []fuzzSeed {
	dir := sharedtest.Find("ari", "transcripts")
	if dir == "" {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	var seeds []fuzzSeed
	for _, f := range files {
		tr, err := loadTranscript(t, f)
		if err != nil {
			t.Fatalf("load %s: %v", f, err)
		}
		for _, ex := range tr.exchanges {
			var body []byte
			if len(ex.req.Body) > 0 {
				body = ex.req.Body
			}
			seeds = append(seeds, fuzzSeed{
				methodIndex(ex.req.Method), ex.req.Path, ex.req.Query, body,
				!strings.Contains(ex.req.Text, "without credentials"),
			})
		}
	}
	return seeds
}

// FuzzSimRequest sends arbitrary requests to the simulator's handler: it
// must never panic and must answer as Asterisk could (see checkResponse).
func FuzzSimRequest(f *testing.F) {
	for _, s := range append(builtinSeeds(), transcriptSeeds(f)...) {
		f.Add(s.method, s.path, s.query, s.body, s.auth)
	}
	sim := newTestSim(f)
	f.Fuzz(func(t *testing.T, m uint8, path, query string, body []byte, auth bool) {
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		target := "/ari" + path
		if query != "" {
			target += "?" + query
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Host != "" || u.Fragment != "" || strings.ContainsAny(target, " \t\r\n#") {
			t.Skip("not a request target")
		}
		began := time.Now()
		rec, err := serve(sim, method, target, body, auth)
		if err != nil {
			t.Skip("not a request: ", err)
		}
		if d := time.Since(began); d > 2*time.Second {
			t.Errorf("%s %s: the simulator took %v to answer", method, target, d)
		}
		ariPath := strings.TrimPrefix(u.EscapedPath(), "/ari")
		if msg := checkResponse(method, ariPath, auth, rec.Code, rec.Body.Bytes()); msg != "" {
			t.Errorf("%s %s (auth %v, body %q): %s", method, target, auth, clip(body), msg)
		}
	})
}

// badValues are garbage path-parameter values: none names an existing
// object.
var badValues = []string{
	"no-such-thing",
	"%2e%2e",
	"a%2Fb",
	"%00",
	"%ff%fe",
	"chan-1%3B2",
	"%25zz",
	"%C3%BC%C3%B1%C3%AF",
	strings.Repeat("x", 2048),
}

// badQueries and badBodies are random query strings and bodies.
var badQueries = []string{
	"",
	"%zz=%zz",
	"&&&=&",
	"channelId=&endpoint=&app=",
	"timeout=notanumber&priority=-1&maxDurationSeconds=1e99",
	"direction=sideways&operation=explode&format=nosuchformat&media=bogus%3Athing",
	"variable=&value=",
	"eventSource=nonsense&deviceState=NOTASTATE",
	"channel=no-such-channel&role=" + strings.Repeat("r", 512),
	"app=" + url.QueryEscape("demo\x00other") + "&ifExists=maybe&beep=perhaps&terminateOn=never",
}

var badBodies = []string{
	"",
	"{",
	"[1,2,3]",
	"null",
	`"string"`,
	`{"variables":"not-an-object"}`,
	`{"variables":{"A":{"nested":true}}}`,
	`{"fields":{"attribute":1}}`,
	`{"allowed":7,"disallowed":[{"type":null}]}`,
	"\xff\xfe\x00garbage",
}

// unknownIDMaySucceed lists operations that may answer 2xx even when the
// path names nothing that exists: they create it, or name a free-form
// thing (a device state is INVALID, a user event name is any string).
var unknownIDMaySucceed = map[string]bool{
	"channels.originateWithId": true,
	"bridges.createWithId":     true,
	"asterisk.addLog":          true,
	"deviceStates.get":         true,
	"deviceStates.update":      true,
	"events.userEvent":         true,
	"asterisk.updateObject":    true,
}

// fillPath substitutes value into every {param} of an operation's path.
func fillPath(tmpl, value string) (string, bool) {
	segs := strings.Split(tmpl, "/")
	has := false
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = value
			has = true
		}
	}
	return strings.Join(segs, "/"), has
}

// TestSimBadInput sends random query strings and bodies to every
// operation. With path parameters naming nothing that exists the answer
// must be 4xx; for every request the status must be one Asterisk can give
// (checkResponse) and the simulator must not crash.
func TestSimBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2)) // fixed: failures reproduce
	ops := slices.Clone(ari.Operations[:])
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	for _, op := range ops {
		if op.WebSocket {
			continue
		}
		t.Run(op.ID, func(t *testing.T) {
			// A fresh simulator per operation: another operation's request
			// may have created what this one's garbage names.
			sim := newTestSim(t)
			for i := 0; i < 12; i++ {
				value := badValues[rng.IntN(len(badValues))]
				query := badQueries[rng.IntN(len(badQueries))]
				body := badBodies[rng.IntN(len(badBodies))]
				if i == 0 { // always one plain request
					value, query, body = "no-such-thing", "", ""
				}
				path, hasParams := fillPath(op.Path, value)
				target := "/ari" + path
				if query != "" {
					target += "?" + query
				}
				var b []byte
				if body != "" {
					b = []byte(body)
				}
				rec, err := serve(sim, op.Method, target, b, true)
				if err != nil {
					t.Fatalf("build %s %s: %v", op.Method, target, err)
				}
				desc := fmt.Sprintf("%s %s body %q", op.Method, clip([]byte(target)), clip(b))
				if msg := checkResponse(op.Method, path, true, rec.Code, rec.Body.Bytes()); msg != "" {
					t.Errorf("%s: %s", desc, msg)
				}
				if hasParams && !unknownIDMaySucceed[op.ID] && rec.Code < 400 {
					t.Errorf("%s: got %d for a path naming nothing that exists, want 4xx; body %s", desc, rec.Code, clip(rec.Body.Bytes()))
				}
			}
		})
	}
}

// TestSimRequiresAuth: every operation refuses a request without
// credentials or with a wrong password with 401, as Asterisk does.
func TestSimRequiresAuth(t *testing.T) {
	sim := newTestSim(t)
	for _, op := range ari.Operations {
		path, _ := fillPath(op.Path, "x")
		for _, wrong := range []bool{false, true} {
			req := httptest.NewRequest(op.Method, "/ari"+path, nil)
			if wrong {
				req.SetBasicAuth(confUser, "not-the-password")
			}
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s %s (wrong password %v): got %d, want 401; body %s", op.Method, path, wrong, rec.Code, clip(rec.Body.Bytes()))
			}
		}
	}
}
