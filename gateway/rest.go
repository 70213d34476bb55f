package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/arisim/apidocs"
	"github.com/ariproxy/ari-proxy/client"
	"github.com/ariproxy/ari-proxy/internal/arihttp"
	"github.com/ariproxy/ari-proxy/wire"
)

// serverHeader is what the gateway answers in Server: it is not an
// Asterisk, and says so.
const serverHeader = "ari-proxy-gateway"

// answer is a REST answer.
type answer struct {
	status int
	body   []byte
	ctype  string
	header http.Header
}

// message is Asterisk's error body, {"message": ...}, encoded as jansson
// does (compact, no HTML escaping).
func message(status int, format string, args ...any) answer {
	return answer{status: status, body: compactJSON(map[string]string{"message": fmt.Sprintf(format, args...)})}
}

func compactJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(b.Bytes(), "\n")
}

// ServeHTTP serves /ari/...: REST operations, /ari/api-docs/ and the
// events WebSocket /ari/events.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rel, ok := strings.CutPrefix(r.URL.EscapedPath(), "/ari")
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
		writeHTMLError(w, http.StatusNotFound, "Not Found", "The requested URL was not found on this server.")
		return
	}
	raw, form, bad := readBody(r)
	if bad == nil && !g.authenticated(r, form) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
		a := message(401, "Authentication required")
		bad = &a
	}
	uri := strings.TrimPrefix(rel, "/")
	var res answer
	switch {
	case bad != nil:
		res = *bad
	case r.Method == http.MethodOptions:
		methods := ari.Methods(rel)
		if methods == nil {
			res = message(404, "Resource not found")
			break
		}
		w.Header().Set("Allow", strings.Join(append(methods, "OPTIONS"), ","))
		res = answer{status: http.StatusNoContent}
	case strings.HasSuffix(uri, "/"):
		res = message(404, "ARI URLs do not end with a slash. Try /ari/%s", strings.TrimSuffix(uri, "/"))
	case strings.HasPrefix(uri, "api-docs/"):
		res = message(405, "Unsupported method")
		if r.Method == http.MethodGet {
			if doc, ok := apidocs.Doc(strings.TrimPrefix(uri, "api-docs/"), r.Host); ok {
				res = answer{status: 200, body: doc}
			} else {
				res = message(404, "Resource not found")
			}
		}
	case uri == "events" && r.Method == http.MethodGet:
		g.serveEvents(w, r)
		return
	default:
		res = g.serveREST(r, rel, raw, form)
	}
	writeAnswer(w, res)
}

func writeAnswer(w http.ResponseWriter, a answer) {
	arihttp.Write(w, serverHeader, a.status, a.header, a.ctype, a.body)
}

// readBody reads the request body and, for a form, its fields.
func readBody(r *http.Request) ([]byte, url.Values, *answer) {
	b, form, bad := arihttp.ReadBody(r)
	if bad != nil {
		a := message(bad.Status, "%s", bad.Message)
		return nil, nil, &a
	}
	return b, form, nil
}

// request is a REST request routed to its operation, its parameters in
// ari.Params form.
type request struct {
	op     *ari.Operation
	params ari.Params
	node   string // the node hint, "" for none
}

// nodeHeaderKey is NodeHeader in the canonical form the server stores
// (Header.Get then finds it without a canonicalising copy).
var nodeHeaderKey = http.CanonicalHeaderKey(NodeHeader)

// parse routes the request and merges its parameters as Asterisk does:
// query string, then form fields, then members of a JSON body.
func parse(r *http.Request, rel string, raw []byte, form url.Values) (*request, *answer) {
	op, pathParams, found, allowed := ari.Route(r.Method, rel)
	if !found {
		a := message(404, "Resource not found")
		return nil, &a
	}
	if !allowed {
		a := message(405, "Invalid method")
		return nil, &a
	}
	rq := &request{op: op, params: make(ari.Params, len(pathParams)+2), node: r.Header.Get(nodeHeaderKey)}
	for k, v := range pathParams {
		rq.params[k] = v
	}
	var query url.Values
	if r.URL.RawQuery != "" {
		query = r.URL.Query()
	}
	for _, vals := range []url.Values{query, form} {
		for k, v := range vals {
			if len(v) == 0 || k == "api_key" {
				continue
			}
			if k == NodeParam {
				rq.node = v[len(v)-1]
				continue
			}
			if p := op.Param(k); p != nil && p.In != ari.InPath {
				rq.params[k] = v[len(v)-1]
			}
		}
	}
	if len(raw) > 0 && arihttp.MediaType(r) == "application/json" && len(bytes.TrimSpace(raw)) > 0 {
		if !json.Valid(raw) {
			a := message(400, "Error parsing request body")
			return nil, &a
		}
		var body map[string]json.RawMessage
		_ = json.Unmarshal(raw, &body) // nil unless an object
		for i := range op.Params {
			p := &op.Params[i]
			switch {
			case p.In == ari.InPath:
			case p.In == ari.InBody && p.Type == "object":
				rq.params[p.Name] = json.RawMessage(raw)
			default:
				if v, ok := body[p.Name]; ok {
					if string(bytes.TrimSpace(v)) == "null" {
						delete(rq.params, p.Name)
					} else {
						rq.params[p.Name] = v
					}
				}
			}
		}
	}
	return rq, nil
}

// serveREST relays one REST operation.
func (g *Gateway) serveREST(r *http.Request, rel string, raw []byte, form url.Values) answer {
	rq, bad := parse(r, rel, raw, form)
	if bad != nil {
		return *bad
	}
	if rq.op.WebSocket {
		// /events reached without a WebSocket upgrade.
		return answer{status: 426, body: []byte("Upgrade Required"), ctype: "text/plain"}
	}
	return g.relay(r.Context(), rq)
}

// affine are the creates that follow the latest call handed out.
var affine = map[ari.OpID]bool{
	ari.OpBridgesCreate: true, ari.OpBridgesCreateWithId: true,
	ari.OpChannelsOriginate: true, ari.OpChannelsOriginateWithId: true, ari.OpChannelsCreate: true,
}

// perBox are the key kinds of state every Asterisk has its own of: a
// command on them without a hint is applied on every node.
var perBox = map[string]bool{"": true, "asterisk": true, "module": true, "logging": true, "config": true,
	"variable": true, "devicestate": true, "mailbox": true}

// creates reports whether op creates an entity on one node (the create
// class of the bus: originate, bridges.create...).
func creates(op *ari.Operation) bool {
	k, ok := wire.LookupKind(op.ID)
	return ok && k.Class == wire.ClassCreate
}

// isList reports whether op lists entities every node has some of: its
// answer is the concatenation of every node's.
func isList(op *ari.Operation) bool {
	return op.Method == "GET" && strings.HasPrefix(op.ResponseClass, "List[")
}

// strParam is the string value of a parameter from the query, a form or
// a JSON body member; "" when absent or not a string.
func strParam(p ari.Params, name string) string {
	switch v := p[name].(type) {
	case string:
		return v
	case json.RawMessage:
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return ""
}

// relay sends rq to the node the routing rules pick and turns the reply
// into Asterisk's answer.
func (g *Gateway) relay(ctx context.Context, rq *request) answer {
	op := rq.op
	var appName string
	if app := strParam(rq.params, "app"); app != "" && op.Param("app") != nil {
		appName, _, _ = strings.Cut(app, ",")
	}
	c := g.app(appName)
	kind, keyParam := client.ExactKey(op.Ident)
	// The key names the application and, once known, the node: DoExact
	// routes by it.
	key := client.Key{Kind: kind, App: c.ApplicationName()}
	if keyParam != "" {
		if !strings.Contains(keyParam, "/") {
			key.ID, _ = rq.params[keyParam].(string)
		} else {
			var parts []string
			for _, p := range strings.Split(keyParam, "/") {
				v, _ := rq.params[p].(string)
				parts = append(parts, v)
			}
			key.ID = strings.Join(parts, "/")
		}
	}
	node := rq.node
	if node == "" && key.ID != "" {
		node = g.loc.node(kind, key.ID)
	}
	if node == "" {
		// A create naming an existing channel goes to its node (originate's
		// originator, snoop's channel are path parameters already).
		for _, p := range []string{"originator", "channelId"} {
			if id := strParam(rq.params, p); id != "" && op.Param(p) != nil && op.Param(p).In != ari.InPath {
				node = g.loc.node("channel", id)
				break
			}
		}
	}
	if node == "" && affine[op.Ident] {
		// A bridge joins channels of its own node only: bridges and
		// channels are made where the latest call this gateway handed to a
		// WebSocket lives, so an application's dial-out and bridge land
		// with its inbound call (docs/gateway.md).
		node = g.affinity()
	}
	if isList(op) && node == "" {
		return g.listAll(ctx, c, op, key, rq.params)
	}
	if node == "" && perBox[kind] && op.Method != "GET" && !creates(op) {
		a := g.commandAll(ctx, c, op, key, rq.params)
		if a.status < 300 {
			g.ev.created(c.ApplicationName(), op, key, rq.params, nil)
		}
		return a
	}
	key.Node = node
	rep, err := c.DoExact(ctx, op.Ident, key, rq.params)
	if err != nil {
		if key.Node != "" && errors.Is(err, client.ErrNotFound) && rq.node == "" {
			// The resource moved or the location was stale: ask everyone.
			g.loc.forget(kind, key.ID)
			key.Node = ""
			rep, err = c.DoExact(ctx, op.Ident, key, rq.params)
		}
		if err != nil && key.Node == "" && key.ID != "" && op.Method == "POST" && errors.Is(err, client.ErrNotFound) {
			// A create acting on a resource no node has (snoop, play...):
			// the client looked it up first; Asterisk checks the other
			// parameters before, so one node answers as Asterisk does.
			if nodes := c.Servers(); len(nodes) > 0 {
				slices.Sort(nodes)
				key.Node = nodes[0]
				if r2, err2 := c.DoExact(ctx, op.Ident, key, rq.params); err2 != nil {
					err = err2
				} else {
					rep, err = r2, nil
				}
			}
		}
		if err != nil {
			return g.errorAnswer(c, err)
		}
	}
	g.learn(kind, key.ID, rep)
	a := g.success(ctx, c, op, rep)
	if a.status < 300 {
		g.ev.created(c.ApplicationName(), op, key, rq.params, rep)
	}
	return a
}

// learn records where the request's entity and the reply's entity live.
func (g *Gateway) learn(kind, id string, rep *client.Reply) {
	if rep == nil || rep.Node == "" {
		return
	}
	g.loc.set(kind, id, rep.Node)
	if rep.Key != nil {
		g.loc.set(rep.Key.Kind, rep.Key.ID, rep.Key.Node)
	}
}

// listAll asks every server of the application for the list and
// concatenates their answers, in the order of the nodes.
func (g *Gateway) listAll(ctx context.Context, c *client.Client, op *ari.Operation, key client.Key, params ari.Params) answer {
	nodes, reps, errs := g.everyNode(ctx, c, op, key, params)
	if len(nodes) == 0 {
		return message(503, "%s", noServerMessage(c.ApplicationName()))
	}
	var out []json.RawMessage
	seen := map[string]bool{}
	answered := 0
	var firstErr error
	for i := range nodes {
		var list []json.RawMessage
		if errs[i] == nil {
			raw, _ := reps[i].Entity(client.ExactResult(op.Ident))
			if err := json.Unmarshal(raw, &list); err != nil {
				errs[i] = fmt.Errorf("%w: %w", client.ErrInternal, err)
			}
		}
		if errs[i] != nil {
			if firstErr == nil {
				firstErr = errs[i]
			}
			g.log.Debug("list: a node did not answer", "op", op.ID, "node", nodes[i], "err", errs[i])
			continue
		}
		answered++
		for _, e := range list {
			// An element byte-identical on several nodes (a sound every box
			// has) is one thing to the client: listed once.
			if !seen[string(e)] {
				seen[string(e)] = true
				out = append(out, e)
			}
		}
	}
	if answered == 0 {
		return g.errorAnswer(c, firstErr)
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range out {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e)
	}
	b.WriteByte(']')
	return answer{status: 200, body: b.Bytes()}
}

// commandAll applies a per-box command on every node of the application
// and answers once all have: with the first node's answer when every one
// succeeded, else with the first failure's (nodes in order).
func (g *Gateway) commandAll(ctx context.Context, c *client.Client, op *ari.Operation, key client.Key, params ari.Params) answer {
	nodes, reps, errs := g.everyNode(ctx, c, op, key, params)
	if len(nodes) == 0 {
		return message(503, "%s", noServerMessage(c.ApplicationName()))
	}
	for _, err := range errs {
		if err != nil {
			return g.errorAnswer(c, err)
		}
	}
	return g.success(ctx, c, op, reps[0])
}

// everyNode sends the request to each server of the application, at
// once, and returns the nodes (sorted) with their replies and errors.
func (g *Gateway) everyNode(ctx context.Context, c *client.Client, op *ari.Operation, key client.Key, params ari.Params) ([]string, []*client.Reply, []error) {
	nodes := c.Servers()
	slices.Sort(nodes)
	reps := make([]*client.Reply, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := key
			k.Node = n
			reps[i], errs[i] = c.DoExact(ctx, op.Ident, k, params)
		}()
	}
	wg.Wait()
	return nodes, reps, errs
}

// success is Asterisk's answer to a successful operation: 204 without a
// body for void ones, 201 with Location for those creating a playback or
// a live recording, 200 and the body otherwise.
func (g *Gateway) success(ctx context.Context, c *client.Client, op *ari.Operation, rep *client.Reply) answer {
	rc := op.ResponseClass
	switch {
	case rc == "" || rc == "void":
		return answer{status: 204}
	case rc == "Variable":
		raw, ok := rep.Entity("variable")
		var v string
		if !ok || json.Unmarshal(raw, &v) != nil {
			return message(500, "Bad reply from the server")
		}
		return answer{status: 200, body: compactJSON(map[string]string{"value": v})}
	case rc == "binary":
		raw, _ := rep.Entity("binary")
		var data []byte
		if err := json.Unmarshal(raw, &data); err != nil {
			return message(500, "Bad reply from the server")
		}
		return answer{status: 200, body: data, ctype: g.storedType(ctx, c, rep)}
	}
	body, ok := rep.Entity(client.ExactResult(op.Ident))
	if !ok {
		return message(500, "Bad reply from the server")
	}
	a := answer{status: 200, body: body}
	if op.Method == "POST" && (rc == "Playback" || rc == "LiveRecording") {
		a.status = 201
		var e struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		_ = json.Unmarshal(body, &e)
		if rc == "Playback" {
			a.header = http.Header{"Location": {"/playbacks/" + e.ID}}
		} else {
			a.header = http.Header{"Location": {"/recordings/live/" + url.PathEscape(e.Name)}}
		}
	}
	return a
}

// storedType is the Content-Type of a stored recording's file: Asterisk
// sends the format's media type, which the bus reply does not carry, so
// the recording is looked up on the node that answered.
func (g *Gateway) storedType(ctx context.Context, c *client.Client, rep *client.Reply) string {
	if rep.Key == nil || rep.Key.ID == "" {
		return "application/octet-stream"
	}
	r, err := c.DoExact(ctx, ari.OpRecordingsGetStored, client.Key{Kind: rep.Key.Kind, ID: rep.Key.ID, App: c.ApplicationName(), Node: rep.Node}, ari.Params{"recordingName": rep.Key.ID})
	if err == nil {
		raw, _ := r.Entity(client.ExactResult(ari.OpRecordingsGetStored))
		var st struct {
			Format string `json:"format"`
		}
		if json.Unmarshal(raw, &st) == nil && st.Format != "" {
			if st.Format == "wav16" || strings.EqualFold(st.Format, "wav") {
				return "audio/wav"
			}
			return "audio/" + st.Format
		}
	}
	return "application/octet-stream"
}

// errorAnswer is Asterisk's answer for a failed request: the status
// Asterisk answered and its message; 503 with a JSON message when no
// server serves the application.
func (g *Gateway) errorAnswer(c *client.Client, err error) answer {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Status >= 400 {
		msg := ce.Detail
		if msg == "" {
			msg = ce.Message
		}
		return message(ce.Status, "%s", msg)
	}
	switch {
	case errors.Is(err, client.ErrUnavailable):
		if len(c.Servers()) == 0 {
			return message(503, "%s", noServerMessage(c.ApplicationName()))
		}
		return message(503, "Asterisk unavailable")
	case errors.Is(err, client.ErrTimeout):
		return message(503, "No answer from the ari-proxy servers")
	case errors.Is(err, client.ErrNotFound):
		return message(404, "Resource not found")
	case errors.Is(err, client.ErrBadRequest):
		return message(400, "%s", err.Error())
	case errors.Is(err, client.ErrNotImplemented):
		return message(501, "Not implemented")
	case errors.Is(err, context.Canceled):
		return message(503, "Request canceled")
	}
	g.log.Warn("request failed", "err", err)
	return message(500, "Internal Server Error")
}
