package arisim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim/apidocs"
	"github.com/ariproxy/ari-proxy/internal/arihttp"
)

// asteriskVersion is ast_get_version() of the recorded Asterisk (built
// from a git checkout without a version tag). /asterisk/info reports it
// and main/http.c builds the Server header from it.
const asteriskVersion = "UNKNOWN__and_probably_unsupported"

const serverName = "Asterisk/" + asteriskVersion

// req is one REST request, its parameters merged as Asterisk merges them:
// query string, then form fields, then members of a JSON body.
type req struct {
	ctx    context.Context
	op     *ari.Operation
	path   map[string]string
	vals   map[string]string
	body   map[string]json.RawMessage // the JSON body when it is an object
	rawObj json.RawMessage            // the JSON body as sent
}

// has reports whether a parameter was given.
func (r *req) has(name string) bool {
	if _, ok := r.path[name]; ok {
		return true
	}
	_, ok := r.vals[name]
	return ok
}

// str returns a parameter's value, "" when absent.
func (r *req) str(name string) string {
	if v, ok := r.path[name]; ok {
		return v
	}
	return r.vals[name]
}

// int reads an integer parameter the way Asterisk's generated code does
// (atoi: garbage reads as 0); def when absent.
func (r *req) int(name string, def int) int {
	v, ok := r.vals[name]
	if !ok {
		return def
	}
	return atoi(v)
}

func (r *req) boolean(name string) bool { return astTrue(r.vals[name]) }

// list reads a multi-valued parameter: comma separated, empty items kept
// out.
func (r *req) list(name string) []string {
	v, ok := r.vals[name]
	if !ok {
		return nil
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// atoi is C's atoi: leading spaces, optional sign, digits; 0 otherwise.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<31 {
			break
		}
	}
	if neg {
		return -n
	}
	return n
}

// scanInt is sscanf(s, "%30d", &n) == 1: leading white space, an optional
// sign and at least one digit; what follows the digits is ignored.
func scanInt(s string) (int, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	digits := strings.TrimLeft(t, "+-")
	if len(t)-len(digits) > 1 || digits == "" || digits[0] < '0' || digits[0] > '9' {
		return 0, false
	}
	return atoi(t), true
}

// astTrue is Asterisk's ast_true.
func astTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "y", "t", "1", "on":
		return true
	}
	return false
}

// resp is a REST answer. after runs once the answer is written: Asterisk
// emits much of what an operation causes after answering.
type resp struct {
	status int
	body   []byte
	ctype  string
	header http.Header
	after  func()
}

func okJSON(v any) resp { return resp{status: 200, body: jsonOf(v)} }

func okRaw(b []byte) resp { return resp{status: 200, body: b} }

func createdJSON(v any) resp { return resp{status: 201, body: jsonOf(v)} }

func noContent() resp { return resp{status: 204} }

// fail is an error answer with Asterisk's {"message": ...} body.
func fail(status int, format string, args ...any) resp {
	return resp{status: status, body: jsonOf(messageJSON{fmt.Sprintf(format, args...)})}
}

// allocFailed is ast_ari_response_alloc_failed: the one error body that is
// not {"message": ...}.
func allocFailed() resp {
	return resp{status: 500, body: []byte(`{"error":"Allocation failed"}`)}
}

// ServeHTTP serves the simulator under /ari: REST operations, the API
// documentation and the events WebSocket at /ari/events.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.refusing() {
		dropConnection(w)
		return
	}
	p := r.URL.EscapedPath()
	rel, ok := strings.CutPrefix(p, "/ari")
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
		httpError(w, http.StatusNotFound, "Not Found", "The requested URL was not found on this server.")
		return
	}
	// Form fields join the query parameters (and may carry api_key).
	raw, form, res := readBody(r)
	if res == nil && !s.authenticated(r, form) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
		out := fail(401, "Authentication required")
		res = &out
	}
	uri := strings.TrimPrefix(rel, "/")
	switch {
	case res != nil:
	case r.Method == http.MethodOptions:
		// ast_ari_callback authenticates before ast_ari_invoke answers OPTIONS.
		s.serveOptions(w, rel)
		return
	case strings.HasSuffix(uri, "/"):
		out := fail(404, "ARI URLs do not end with a slash. Try /ari/%s", strings.TrimSuffix(uri, "/"))
		res = &out
	case strings.HasPrefix(uri, "api-docs/"):
		// Only "api-docs/..." is documentation in res_ari.c, and only for GET.
		out := fail(405, "Unsupported method")
		if r.Method == http.MethodGet {
			out = s.apiDocs(r, strings.TrimPrefix(uri, "api-docs/"))
		}
		res = &out
	case uri == "events" && r.Method == http.MethodGet:
		s.serveEvents(w, r)
		return
	}
	if res == nil {
		if d := time.Duration(s.latency.Load()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			case <-s.closedCh:
				t.Stop()
			}
		}
		rq, bad := s.parseRequest(r, rel, raw, form)
		if bad != nil {
			res = bad
		} else {
			out := s.dispatch(rq)
			res = &out
		}
	}
	writeResp(w, *res)
	if res.after != nil {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		res.after()
	}
}

// readBody reads the request body and, for a form, its fields.
func readBody(r *http.Request) ([]byte, url.Values, *resp) {
	b, form, bad := arihttp.ReadBody(r)
	if bad != nil {
		res := fail(bad.Status, "%s", bad.Message)
		return nil, nil, &res
	}
	return b, form, nil
}

// apiDocs serves one api-docs document with basePath set to this server,
// as ast_ari_get_docs does (package apidocs).
func (s *Sim) apiDocs(r *http.Request, name string) resp {
	doc, ok := apidocs.Doc(name, r.Host)
	if !ok {
		return fail(404, "Resource not found")
	}
	return okRaw(doc)
}

// parseRequest authenticates nothing: it reads the body, routes and merges
// the parameters. A non-nil resp is an error answer.
func (s *Sim) parseRequest(r *http.Request, rel string, raw []byte, form url.Values) (*req, *resp) {
	rq := &req{ctx: r.Context(), vals: map[string]string{}}
	for _, vals := range []url.Values{r.URL.Query(), form} {
		for k, v := range vals {
			if k == "api_key" || len(v) == 0 {
				continue
			}
			rq.vals[k] = v[len(v)-1]
		}
	}
	if arihttp.MediaType(r) == "application/json" {
		if len(strings.TrimSpace(string(raw))) > 0 {
			if !json.Valid(raw) {
				res := fail(400, "Error parsing request body")
				return nil, &res
			}
			rq.rawObj = raw
			_ = json.Unmarshal(raw, &rq.body) // nil unless an object
		}
	}
	if strings.HasPrefix(rel, "/mailboxes") && !s.mailboxesAvailable() {
		// res_ari_mailboxes.so is not loaded: its resource does not exist.
		res := fail(404, "Resource not found")
		return nil, &res
	}
	op, pathParams, found, allowed := ari.Route(r.Method, rel)
	if !found {
		res := fail(404, "Resource not found")
		return nil, &res
	}
	if !allowed {
		res := fail(405, "Invalid method")
		return nil, &res
	}
	rq.op, rq.path = op, pathParams
	// Body members override the query for the operation's parameters, as
	// the generated *_parse_body functions do.
	for i := range op.Params {
		prm := &op.Params[i]
		if prm.In == ari.InPath {
			continue
		}
		v, ok := rq.body[prm.Name]
		if !ok {
			continue
		}
		if sv, set := bodyValue(prm, v); set {
			rq.vals[prm.Name] = sv
		} else {
			delete(rq.vals, prm.Name)
		}
	}
	return rq, nil
}

// bodyValue converts a JSON body member to the string form of a query
// parameter; set is false when Asterisk would read it as NULL.
func bodyValue(prm *ari.Param, v json.RawMessage) (string, bool) {
	var x any
	dec := json.NewDecoder(strings.NewReader(string(v)))
	dec.UseNumber()
	if dec.Decode(&x) != nil || x == nil {
		return "", false
	}
	switch t := x.(type) {
	case string:
		switch prm.Type {
		case "int", "long", "double", "boolean":
			if prm.Type == "boolean" {
				return "false", true
			}
			return "0", true
		}
		return t, true
	case json.Number:
		switch prm.Type {
		case "string":
			return "", false
		case "boolean":
			return "false", true
		}
		if i, err := t.Int64(); err == nil {
			return strconv.FormatInt(i, 10), true
		}
		f, _ := t.Float64()
		return strconv.FormatInt(int64(f), 10), true
	case bool:
		if prm.Type == "boolean" {
			return strconv.FormatBool(t), true
		}
		return "", false
	case []any:
		var parts []string
		for _, e := range t {
			if str, ok := e.(string); ok {
				parts = append(parts, str)
			}
		}
		return strings.Join(parts, ","), true
	}
	return string(v), true
}

// api is the simulator's implementation of ari.Handlers, one method per
// operation, so a missing or misspelt handler does not compile. It is a
// type of its own so that *Sim gains no exported method per operation.
type api struct{ *Sim }

var _ ari.Handlers[*req, resp] = api{}

func (s *Sim) dispatch(rq *req) resp {
	if res, ok := ari.Dispatch[*req, resp](api{s}, rq.op.Ident, rq); ok {
		return res
	}
	if rq.op.Ident == ari.OpEventsEventWebsocket {
		// /events reached without a WebSocket upgrade.
		return resp{status: 426, body: []byte("Upgrade Required"), ctype: "text/plain"}
	}
	return fail(501, "Not implemented")
}

func (s *Sim) authenticated(r *http.Request, form url.Values) bool {
	return arihttp.Authenticated(r, form, s.user, s.password)
}

// serveOptions answers a CORS preflight like Asterisk: the allowed
// methods of a known path.
func (s *Sim) serveOptions(w http.ResponseWriter, rel string) {
	methods := ari.Methods(rel)
	if methods == nil {
		writeResp(w, fail(404, "Resource not found"))
		return
	}
	w.Header().Set("Allow", strings.Join(append(methods, "OPTIONS"), ","))
	w.WriteHeader(http.StatusNoContent)
}

func writeResp(w http.ResponseWriter, res resp) {
	arihttp.Write(w, serverName, res.status, res.header, res.ctype, res.body)
}

// httpError writes Asterisk's HTML error page (ast_http_error).
func httpError(w http.ResponseWriter, status int, title, text string) {
	writeResp(w, resp{status: status, body: arihttp.ErrorPage(status, title, text), ctype: "text/html"})
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
