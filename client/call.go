package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/wire"
)

// unknownServersGrace is how long a request to every server waits for
// more answers after the first one when no server has announced itself,
// so it cannot know how many answers to expect.
const unknownServersGrace = 100 * time.Millisecond

// Do sends the request for the ARI operation op (ari.OpChannelsAnswer...)
// about the entity key names, with the ARI parameters params (spec names;
// the key's id fills the operation's key parameter). It is the core every
// typed method calls, exposed for parameters the typed API does not cover.
//
// An error reply is returned as an error wrapping an *Error, which matches
// one of the Err* sentinels; the Reply is nil then.
func (c *Client) Do(ctx context.Context, op ari.OpID, key Key, params ari.Params) (*Reply, error) {
	if op < 0 || op >= ari.OpCount {
		return nil, fmt.Errorf("client: unknown operation %v: %w", op, ErrBadRequest)
	}
	resp, err := c.call(ctx, op, key, params)
	if err != nil {
		return nil, err
	}
	return newReply(resp, c.fillKey(key)), nil
}

// call sends the request of operation op; see Do.
func (c *Client) call(ctx context.Context, op ari.OpID, key Key, params ari.Params) (*wire.Response, error) {
	k := wire.KindOf(op)
	if k == nil {
		return nil, fmt.Errorf("client: unknown operation %v: %w", op, ErrBadRequest)
	}
	return c.callKind(ctx, k, key, params)
}

// callKind sends a request of kind k. A partial key (no node) for a
// resource whose node the client has learned goes to that node only;
// when that node answers that it has no such resource, or no server
// answers for it there, the request goes to every server as for a
// resource never seen (see locations). For a resource never seen, with
// several servers, the request first goes to every server as a probe
// (wire.Request.Probe): only the servers that have seen the resource ask
// their Asterisk, the others answer unclaimed at once; when no server
// had it, the request goes to every server again, as an ordinary one.
func (c *Client) callKind(ctx context.Context, k *wire.Kind, key Key, params ari.Params) (*wire.Response, error) {
	key = c.fillKey(key)
	co := c.core
	// Kinds that call no ARI (stage, subscribe, unbind) are answered by
	// every server without asking Asterisk: they stay with every server.
	if !aboutOneResource(k, key) {
		return c.callKey(ctx, k, key, params, false)
	}
	ref := wire.Ref{Kind: key.Kind, ID: key.ID}
	if node := co.locs.node(ref); node != "" {
		if co.servers.serves(node, key.App) {
			routed := key
			routed.Node = node
			resp, err := c.callKey(ctx, k, routed, params, false)
			switch {
			case errors.Is(err, bus.ErrNotConnected):
				return resp, err // the bus is away, not the resource
			case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnavailable):
				// Gone from there (hung up, or the id now names a
				// resource elsewhere), or the node is: ask everyone.
				co.locs.forget(ref, node)
			case errors.Is(err, ErrTimeout):
				// No second try: the node may have acted. The next
				// request asks everyone.
				co.locs.forget(ref, node)
				return resp, err
			default:
				return resp, err
			}
		} else {
			co.locs.forget(ref, node)
		}
	}
	if k.Probed(key).ID != "" && co.servers.count(key.App) > 1 {
		// (A create class kind goes to one server; ChannelPlay and the
		// like find their channel's node first, by a get that probes.)
		resp, err := c.callKey(ctx, k, key, params, true)
		switch {
		case errors.Is(err, errUnclaimed):
		case errors.Is(err, errUnclaimedSilent) && k.Op.Method == http.MethodGet:
			// A silent server may have it: asking again is harmless.
		case errors.Is(err, errUnclaimedSilent):
			// A silent server may have had it and acted: no second try.
			return nil, fmt.Errorf("client: %s %s: no answer: %w", k.Name, describe(key), ErrTimeout)
		default:
			return resp, err
		}
	}
	return c.callKey(ctx, k, key, params, false)
}

// aboutOneResource reports whether a request of kind k with the filled
// key is about one existing resource the key names without a node.
func aboutOneResource(k *wire.Kind, key Key) bool {
	return key.Node == "" && key.ID != "" && key.App != "" && key.Kind == k.KeyKind && !k.KeyRef &&
		k.Op != nil && !k.Stage && !k.Unbind
}

// errUnclaimed ends a probe that no server claimed: every server answered,
// those that passed it to Asterisk found nothing, the others had not seen
// the resource.
var errUnclaimed = errors.New("client: no server claimed the resource")

// errUnclaimedSilent ends a probe that no server that answered claimed,
// with some servers silent until the timeout.
var errUnclaimedSilent = errors.New("client: no server that answered claimed the resource")

// callKey sends a request of kind k about key, filled, as it is: to the
// key's node, or to every server when it names none; with probe, as a
// probe (see callKind).
func (c *Client) callKey(ctx context.Context, k *wire.Kind, key Key, params ari.Params, probe bool) (*wire.Response, error) {
	if key.Node == "" && key.ID != "" && actsOnExisting(k, key) {
		// A create class request goes to one server of the application, any
		// of them: find first the node that has the entity it acts on
		// (ch.Play with a partial key).
		if lk := locator(key.Kind); lk != nil {
			resp, err := c.callKind(ctx, lk, key, nil)
			if err != nil {
				return resp, err
			}
			if resp.Key != nil && resp.Key.Node != "" {
				key.Node = resp.Key.Node
			}
		}
	}
	returned := false
	if key.Dialog == "" && createsChannel(k) && c.core.ret.active(key.App) {
		// The return path (see Listen): the channel comes back here.
		key.Dialog, returned = c.core.ret.dialog, true
	}
	req, err := wire.NewRequest(k, &key, params)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", k.Name, err)
	}
	req.Probe = probe
	resp, err := c.send(ctx, k.Class, req, k.Result.Shape == wire.ShapeKeys)
	if err == nil {
		c.core.locs.learnReply(k, key, resp)
	}
	if returned && resp != nil && resp.Key != nil && resp.Key.Dialog == key.Dialog {
		// The handle does not carry the return dialog: its requests would
		// bind what they touch to it for nothing.
		k := *resp.Key
		k.Dialog = ""
		resp.Key = &k
	}
	return resp, err
}

// actsOnExisting reports whether k is a create-class kind whose key names
// an existing entity it acts on (ChannelPlay, ChannelSnoop, BridgeRecord),
// rather than the entity it creates (BridgeCreate with an id).
func actsOnExisting(k *wire.Kind, key Key) bool {
	if k.Class != wire.ClassCreate || k.Stage || k.KeyParam == "" || k.KeyRef || key.Kind != k.KeyKind {
		return false
	}
	r := k.Result
	return r.Kind != k.KeyKind || (r.IDParam != "" && r.IDParam != k.KeyParam)
}

// locators are the kinds that find the node of an entity by key kind: the
// v5 "get" lookups (ChannelGet, BridgeGet...), which answer its key.
var locators = sync.OnceValue(func() map[string]*wire.Kind {
	m := map[string]*wire.Kind{}
	for _, k := range wire.Kinds() {
		if k.Class == wire.ClassGet && k.Result.Shape == wire.ShapeKey && k.Op != nil && !k.Stage && !k.Generic && k.KeyParam != "" && m[k.KeyKind] == nil {
			m[k.KeyKind] = k
		}
	}
	return m
})

func locator(kind string) *wire.Kind { return locators()[kind] }

// fillKey completes key with the client's application, node and dialog.
func (c *Client) fillKey(key Key) Key {
	if key.App == "" {
		key.App = c.app
	}
	if key.Node == "" {
		key.Node = c.node
	}
	if key.Dialog == "" {
		key.Dialog = c.dialog
	}
	return key
}

// send routes req: a full key (node and app) to that node's server only,
// a create to one server of the application, anything else to every
// server of the application, gathering their answers. With merge (lists)
// the keys of every server's answer are merged; otherwise the first
// success wins.
func (c *Client) send(ctx context.Context, class wire.Class, req *wire.Request, merge bool) (*wire.Response, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	return c.sendRaw(ctx, class, req, merge)
}

// sendRaw is send without the closed check, for the requests a closing
// client still owes the servers.
func (c *Client) sendRaw(ctx context.Context, class wire.Class, req *wire.Request, merge bool) (*wire.Response, error) {
	var key Key
	if req.Key != nil {
		key = *req.Key
	}
	data, err := req.MarshalJSON() // not json.Marshal: it would scan and compact the result again
	if err != nil {
		return nil, fmt.Errorf("client: %s: encode request: %w", req.Kind, err)
	}
	co := c.core
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, co.timeout)
	defer cancel()

	var subject string
	expected := 1
	everyServer := false // sent to every server of the application
	start := time.Now()
	switch {
	case key.Node != "" && key.App != "":
		subject = co.subjects.Request(class, key.App, key.Node)
	case class == wire.ClassCreate:
		// Servers take creates in one queue group: one answers.
		subject = co.subjects.Request(class, key.App, "")
	default:
		subject = co.subjects.Request(class, key.App, "")
		expected = co.servers.count(key.App)
		everyServer = true
	}

	g := gather{expected: expected, merge: merge && expected != 1}
	gctx := ctx
	if expected == 0 {
		// Nobody announced: take what comes shortly after the first answer.
		var gcancel context.CancelFunc
		gctx, gcancel = context.WithCancel(ctx)
		defer gcancel()
		g.onFirst = func() { time.AfterFunc(unknownServersGrace, gcancel) }
	}
	err = co.bus.RequestMany(gctx, subject, data, g.collect)
	if everyServer && expected > 0 && errors.Is(err, context.DeadlineExceeded) {
		co.forgetSilent(key.App, &g, start)
	}
	g.mu.Lock()
	down := g.down
	// A probe nobody claimed: every server answered, and those that asked
	// Asterisk (or could not) had nothing; ask everyone for real.
	unclaimed := req.Probe && g.ok == nil && g.unclaimed > 0 && !g.decisive
	complete := g.answered >= g.expected
	g.mu.Unlock()
	for _, node := range down {
		co.servers.markDown(node)
	}
	switch {
	case unclaimed && complete:
		return nil, errUnclaimed
	case unclaimed && parent.Err() == nil:
		return nil, errUnclaimedSilent
	}
	resp, rerr := g.result()
	switch {
	case resp != nil && rerr == nil:
		if g.merge && err != nil && ctx.Err() != nil {
			co.log.Debug("list answered by some servers only", "kind", req.Kind, "answers", g.answered, "expected", expected)
		}
		return resp, nil
	case resp != nil:
		return resp, fmt.Errorf("client: %s %s: %w", req.Kind, describe(key), replyError(resp, rerr))
	case errors.Is(err, bus.ErrNotConnected):
		// Fail fast: the bus is away, no answer can come before it is back.
		return nil, fmt.Errorf("client: %s %s: bus reconnecting: %w", req.Kind, describe(key), errors.Join(ErrUnavailable, err))
	case errors.Is(err, bus.ErrNoResponders):
		if key.Node != "" && key.App != "" && class != wire.ClassCreate {
			// Nobody listens on the node's subject: its server is gone,
			// whatever its last announcement says.
			co.servers.gone(key.Node, key.App)
		}
		return nil, fmt.Errorf("client: %s %s: no server on %s: %w", req.Kind, describe(key), subject, ErrUnavailable)
	case errors.Is(err, bus.ErrClosed):
		return nil, fmt.Errorf("client: %s: %w", req.Kind, errors.Join(ErrClosed, err))
	case err != nil && ctx.Err() != nil:
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("client: %s %s: no answer: %w (%w)", req.Kind, describe(key), ErrTimeout, ctx.Err())
		}
		return nil, fmt.Errorf("client: %s %s: %w", req.Kind, describe(key), ctx.Err())
	case err != nil:
		return nil, fmt.Errorf("client: %s %s: %w", req.Kind, describe(key), err)
	default:
		// The grace period ended with no usable answer.
		return nil, fmt.Errorf("client: %s %s: no answer: %w", req.Kind, describe(key), ErrTimeout)
	}
}

// forgetSilent runs when a request to every server of app timed out with
// answers missing: the known servers that did not answer (most likely
// dead without a word) are forgotten, so the next requests do not wait
// for them until their TTL runs out, and a ping makes the live ones
// announce themselves again (a slow one is re-learned at once). When some
// answer had no node (a v5 server), the silent ones cannot be told apart:
// nobody is forgotten.
func (co *core) forgetSilent(app string, g *gather, start time.Time) {
	g.mu.Lock()
	short := g.answered < g.expected
	anonymous := g.anonymous
	answered := maps.Clone(g.nodes)
	g.mu.Unlock()
	if !short || anonymous > 0 {
		return
	}
	dropped := co.servers.forgetSilent(app, answered, start)
	if len(dropped) == 0 {
		return
	}
	for _, node := range dropped {
		co.log.Warn("forgetting a server that did not answer before the deadline", "node", node, "app", app)
	}
	if co.isStopped() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), co.timeout)
	defer cancel()
	if err := co.ping(ctx); err != nil && !errors.Is(err, bus.ErrClosed) {
		co.log.Warn("ping servers", "err", err)
	}
}

func describe(k Key) string {
	if k.ID == "" {
		return k.Kind
	}
	return k.Kind + " " + k.ID
}

// gather collects the answers to one request: the first success wins; an
// error other than "not found" wins over "not found", since it comes from
// the server that has the entity.
type gather struct {
	expected int
	merge    bool // merge the keys of every success (lists)
	onFirst  func()

	mu        sync.Mutex
	answered  int
	nodes     map[string]bool // nodes of the servers that answered
	anonymous int             // answers naming no node (v5 servers, bad replies)
	down      []string        // nodes that answered their Asterisk is unavailable
	unclaimed int             // answers to a probe from servers that had not seen the resource
	decisive  bool            // an error answer other than not found and unavailable
	ok        *wire.Response
	failed    *wire.Response
	failErr   error
	notFound  *wire.Response
	nfErr     error
}

func (g *gather) collect(reply []byte) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answered++
	if g.answered == 1 && g.onFirst != nil {
		g.onFirst()
	}
	rp, err := wire.DecodeResponse(reply)
	if err != nil {
		g.anonymous++
		if g.failed == nil {
			g.failed = &wire.Response{Error: "bad response: " + err.Error(), Code: wire.CodeInternal}
			g.failErr = fmt.Errorf("bad response: %w: %w", err, ErrInternal)
		}
		return g.more()
	}
	r := *rp
	if r.Code == wire.CodeUnavailable && r.Node != "" {
		g.down = append(g.down, r.Node)
	}
	if r.Node == "" {
		g.anonymous++
	} else {
		if g.nodes == nil {
			g.nodes = make(map[string]bool)
		}
		g.nodes[r.Node] = true
	}
	if r.Code == wire.CodeUnclaimed {
		g.unclaimed++
		return g.more()
	}
	err = r.Err()
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnavailable) {
		g.decisive = true
	}
	switch {
	case err == nil && g.merge:
		if g.ok == nil {
			g.ok = &r
		} else {
			g.ok.Keys = append(g.ok.Keys, r.Keys...)
		}
		return g.more()
	case err == nil:
		g.ok = &r
		return false
	case errors.Is(err, ErrNotFound):
		if g.notFound == nil {
			g.notFound, g.nfErr = &r, err
		}
	case g.failed == nil:
		g.failed, g.failErr = &r, err
	}
	return g.more()
}

// more says whether to wait for another answer.
func (g *gather) more() bool {
	return g.expected == 0 || g.answered < g.expected
}

func (g *gather) result() (*wire.Response, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.ok != nil:
		return g.ok, nil
	case g.failed != nil:
		return g.failed, g.failErr
	case g.notFound != nil:
		return g.notFound, g.nfErr
	}
	return nil, nil
}

// resultKey is the key a ShapeKey reply names, completed from the request
// key where the server left fields out.
func resultKey(resp *wire.Response, kind string, base Key) (Key, error) {
	if resp == nil || resp.Key == nil {
		return Key{}, fmt.Errorf("client: reply names no %s: %w", kind, ErrInternal)
	}
	return locate(*resp.Key, resp, kind, base), nil
}

// locate completes a key a reply names so that the handle made from it is
// located: the node is the one of the server that answered when the key
// does not say, and app and dialog those of the request.
func locate(k Key, resp *wire.Response, kind string, base Key) Key {
	if k.Kind == "" {
		k.Kind = kind
	}
	if k.Node == "" {
		k.Node = resp.Node
	}
	if k.App == "" {
		k.App = base.App
	}
	if k.Dialog == "" {
		k.Dialog = base.Dialog
	}
	return k
}

// createdKey is the key of the entity a create answers as data (ShapeData):
// the reply's key, or the key the server put inside the entity.
func createdKey(resp *wire.Response, kind, field string, base Key) (Key, error) {
	if resp != nil && resp.Key != nil {
		return resultKey(resp, kind, base)
	}
	var e struct {
		Key *Key `json:"key"`
	}
	raw, ok := resp.Entity(field)
	if !ok || json.Unmarshal(raw, &e) != nil || e.Key == nil || e.Key.ID == "" {
		return Key{}, fmt.Errorf("client: reply names no %s: %w", kind, ErrInternal)
	}
	return locate(*e.Key, resp, kind, base), nil
}

// resultKeys is the list of keys a ShapeKeys reply names.
func resultKeys(resp *wire.Response, kind string, base Key) []Key {
	out := make([]Key, 0, len(resp.Keys))
	for _, rk := range resp.Keys {
		if rk == nil {
			continue
		}
		k := locate(*rk, resp, kind, base)
		k.Dialog = rk.Dialog // a listed entity is not bound to the request's dialog
		out = append(out, k)
	}
	return out
}

// entity decodes the entity of a ShapeData reply into a T.
func entity[T any](resp *wire.Response, field string) (T, error) {
	var v T
	raw, ok := resp.Entity(field)
	if !ok {
		return v, fmt.Errorf("client: reply has no data.%s: %w", field, ErrInternal)
	}
	if err := decodeEntity(raw, &v); err != nil {
		return v, fmt.Errorf("client: decode data.%s: %w", field, err)
	}
	return v, nil
}

// decodeEntity decodes raw into v. The ARI models decode themselves
// (validating their input as json.Unmarshal does): calling them directly
// spares json.Unmarshal's own validation pass over the same bytes.
func decodeEntity(raw []byte, v any) error {
	if u, ok := v.(json.Unmarshaler); ok {
		return u.UnmarshalJSON(raw)
	}
	return json.Unmarshal(raw, v)
}

// variable is the value of a ShapeVariable reply.
func variable(resp *wire.Response) (string, error) {
	return entity[string](resp, "variable")
}

// entityPtr decodes the entity of a ShapeData reply into a new T.
func entityPtr[T any](resp *wire.Response, field string) (*T, error) {
	v := new(T)
	raw, ok := resp.Entity(field)
	if !ok {
		return nil, fmt.Errorf("client: reply has no data.%s: %w", field, ErrInternal)
	}
	if err := decodeEntity(raw, v); err != nil {
		return nil, fmt.Errorf("client: decode data.%s: %w", field, err)
	}
	return v, nil
}

// wrapped decodes member wrap of the entity of a ShapeData reply (the
// fields of a configuration object) into a T.
func wrapped[T any](resp *wire.Response, field, wrap string) (T, error) {
	var v T
	obj, err := entity[map[string]json.RawMessage](resp, field)
	if err != nil {
		return v, err
	}
	raw, ok := obj[wrap]
	if !ok {
		return v, fmt.Errorf("client: reply has no data.%s.%s: %w", field, wrap, ErrInternal)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("client: decode data.%s.%s: %w", field, wrap, err)
	}
	return v, nil
}

// configTuples is the JSON-compatible form of ConfigTuples for ari.Params.
func configTuples(ts []ari.ConfigTuple) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = map[string]any{"attribute": t.Attribute, "value": t.Value}
	}
	return out
}

// joinKey builds the id of a multi-part key.
func joinKey(parts ...string) string { return strings.Join(parts, "/") }
