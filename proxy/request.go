package proxy

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/wire"
)

// KindDialogUnbind is our additive request kind (class command) that
// releases dialog bindings before the resource is destroyed. Key: dialog
// (required), kind and id of the resource; without id every binding of the
// dialog is released. v5 servers answer it wire.NotImplemented.
const KindDialogUnbind = "DialogUnbind"

// onRequest is the bus handler of every request subscription. It never
// blocks the bus for longer than it takes to get a slot: the work runs in
// its own goroutine, at most MaxConcurrent at once.
func (s *Server) onRequest(r route, m bus.Msg) {
	if m.Reply == "" {
		// Nobody to answer and, without an answer, no reason to act: v5
		// servers crashed here; we drop it.
		s.metrics.badInput.WithLabelValues(reasonNoReply).Inc()
		s.log.Debug("dropping request without reply subject", "subject", m.Subject, "size", len(m.Data))
		return
	}
	select {
	case s.sem <- struct{}{}:
	case <-s.runCtx.Done():
		return
	}
	s.reqMu.Lock()
	if s.closing {
		s.reqMu.Unlock()
		<-s.sem
		return
	}
	s.inflight.Add(1)
	s.reqMu.Unlock()
	go func() {
		defer s.inflight.Done()
		defer func() { <-s.sem }()
		s.serve(r, m)
	}()
}

// serve answers one request; a panic in it is a bug, answered as an
// internal error rather than taking the server down.
func (s *Server) serve(r route, m bus.Msg) {
	start := time.Now()
	label := kindLabelInvalid
	defer func() {
		if p := recover(); p != nil {
			s.metrics.panics.Inc()
			s.log.Error("panic serving request", "panic", p, "subject", m.Subject, "kind", label, "stack", string(debug.Stack()))
			resp := wire.NewErrorResponse(wire.CodeInternal, 0, "internal error")
			s.metrics.requests.WithLabelValues(label, string(resp.Code)).Inc()
			s.reply(m.Reply, []*wire.Response{resp})
		}
	}()
	resps := s.process(r, m.Data, &label)
	code := codeLabelOK
	if len(resps) > 0 && resps[0].Code != "" {
		code = string(resps[0].Code)
	}
	// Counted before replying, so whoever got the reply sees the count.
	s.metrics.requests.WithLabelValues(label, code).Inc()
	s.metrics.latency.WithLabelValues(string(r.class)).Observe(time.Since(start).Seconds())
	s.reply(m.Reply, resps)
}

// reply publishes the answers, each naming this server's node so that a
// client gathering the answers of every server can tell which stayed
// silent. Replies use a context that survives shutdown, so requests in
// flight when Run ends are still answered.
func (s *Server) reply(to string, resps []*wire.Response) {
	ctx := context.WithoutCancel(s.runCtx)
	node := s.Node()
	for _, resp := range resps {
		r := *resp // a copy: replies may be shared values
		r.Node = node
		b, err := json.Marshal(&r)
		if err != nil { // cannot happen with wire.Response; never leave a client waiting
			e := wire.NewErrorResponse(wire.CodeInternal, 0, "encoding reply: "+err.Error())
			e.Node = node
			b, _ = json.Marshal(e)
		}
		if err := s.bus.Publish(ctx, to, "", b); err != nil {
			s.log.Debug("publishing reply", "error", err)
			return
		}
	}
}

// bad counts and logs bad input and returns the error reply for it.
func (s *Server) bad(reason string, resp *wire.Response) []*wire.Response {
	s.metrics.badInput.WithLabelValues(reason).Inc()
	s.log.Debug("bad request", "reason", reason, "error", resp.Error)
	return []*wire.Response{resp}
}

// process turns a request into its replies: one, or on the generic level
// of a non-create class one per application served (clients expect one
// answer per announcement).
func (s *Server) process(r route, data []byte, label *string) []*wire.Response {
	if len(data) > s.maxBytes {
		return s.bad(reasonTooLarge, wire.NewErrorResponse(wire.CodeBadRequest, 0,
			fmt.Sprintf("request of %d bytes exceeds the limit of %d", len(data), s.maxBytes)))
	}
	req, err := wire.DecodeRequest(data)
	if err != nil {
		return s.bad(reasonInvalid, badRequest(err))
	}
	var key wire.Key
	if req.Key != nil {
		key = *req.Key
	}
	if key.Dialog != "" && !wire.ValidToken(key.Dialog) {
		return s.bad(reasonBadParams, wire.NewErrorResponse(wire.CodeBadRequest, 0,
			fmt.Sprintf("dialog %q cannot be a subject token", key.Dialog)))
	}
	if req.Kind == KindDialogUnbind {
		*label = KindDialogUnbind
		return s.dialogUnbind(r, key)
	}
	k, ok := wire.LookupKind(req.Kind)
	if !ok {
		*label = kindLabelUnknown
		return s.bad(reasonUnknown, wire.NewNotImplementedResponse())
	}
	*label = k.Name
	if k.Class == wire.ClassCreate && !k.Stage && r.class != wire.ClassCreate && !r.node {
		// Every server of the app receives this subject: executing the
		// create here would create once per server.
		return s.bad(reasonWrongClass, wire.NewErrorResponse(wire.CodeBadRequest, 0,
			fmt.Sprintf("%s creates: send it on a create subject or to one node", k.Name)))
	}
	if !s.serving.Load() {
		return []*wire.Response{wire.NewErrorResponse(wire.CodeUnavailable, 0, "Asterisk unavailable: ARI WebSocket down")}
	}
	if k.AppParam != "" && key.App == "" {
		// The operation needs an application (ChannelUserEvent): ours.
		key.App = s.replyApps(r, key)[0]
		req.Key = &key
	}
	params, err := k.DecodeParams(req)
	if err != nil {
		return s.bad(reasonBadParams, badRequest(err))
	}
	if params == nil {
		params = ari.Params{}
	}

	if k.Name == "BridgeUnsubscribe" {
		// v5's only unsubscribe kind: the dialog stops following the bridge.
		if key.Dialog != "" && key.ID != "" {
			s.dialogs.unbind(resKey{kindBridge, key.ID}, key.Dialog)
		}
		return s.emptyReplies(r, key)
	}
	binds := s.bindDialog(k, key, params)

	apps := s.replyApps(r, key)
	build := func(status int, body []byte) []*wire.Response {
		node := s.Node()
		out := make([]*wire.Response, len(apps))
		for i, app := range apps {
			base := key // BuildResponse reads the request key's id where params cannot tell the entity
			base.Node, base.App = node, app
			out[i] = wire.BuildResponse(k, base, params, status, body)
		}
		return out
	}

	op := k.Operation()
	if k.Stage || op == nil {
		// Stage kinds answer the key of what they will create; Subscribe
		// kinds only bind. Neither calls Asterisk (status 0).
		return build(0, nil)
	}

	ctx, cancel := context.WithTimeout(s.runCtx, s.timeout)
	resp, err := s.conn.Do(ctx, op, params)
	cancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			// Asterisk may still have done it: keep the created binding,
			// but let it expire unless an event shows the resource exists.
			binds.doubt(s.dialogs)
		} else {
			binds.rollback(s.dialogs, false)
		}
		return []*wire.Response{s.callError(op, err)}
	}
	if resp.Status/100 != 2 {
		binds.rollback(s.dialogs, resp.Status == 404)
	} else {
		s.afterSuccess(op, params, key)
	}
	return build(resp.Status, resp.Body)
}

// badRequest is the reply to err, with bad_request unless err carries a
// more precise code.
func badRequest(err error) *wire.Response {
	resp := wire.ErrorResponseFor(err)
	if resp.Code == wire.CodeInternal {
		resp.Code = wire.CodeBadRequest
	}
	return resp
}

// callError is the reply when the ARI call itself failed (no HTTP answer).
func (s *Server) callError(op *ari.Operation, err error) *wire.Response {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return wire.NewErrorResponse(wire.CodeTimeout, 0, fmt.Sprintf("%s: ARI call timed out after %v", op.ID, s.timeout))
	case errors.Is(err, ari.ErrMissingParam), errors.Is(err, ari.ErrUnknownParam), errors.Is(err, ari.ErrInvalidParam):
		// The parameters could not make a request: the client's fault.
		s.metrics.badInput.WithLabelValues(reasonBadParams).Inc()
		return wire.NewErrorResponse(wire.CodeBadRequest, 0, err.Error())
	}
	s.log.Debug("ARI call failed", "op", op.ID, "error", err)
	return wire.NewErrorResponse(wire.CodeUnavailable, 0, fmt.Sprintf("%s: Asterisk unavailable: %v", op.ID, err))
}

// replyApps are the applications a request is answered for.
func (s *Server) replyApps(r route, key wire.Key) []string {
	if r.app != "" {
		return []string{r.app}
	}
	if key.App != "" {
		for _, a := range s.apps {
			if a == key.App {
				return []string{a}
			}
		}
	}
	if r.class == wire.ClassCreate || len(s.apps) == 1 {
		return s.apps[:1]
	}
	return s.apps
}

// afterSuccess releases bindings of resources a successful call removed
// without Asterisk sending the app a destroy event.
func (s *Server) afterSuccess(op *ari.Operation, params ari.Params, key wire.Key) {
	if s.dialogs.empty() {
		return
	}
	switch op.ID {
	case "bridges.destroy":
		id, _ := params["bridgeId"].(string)
		if id == "" {
			return
		}
		k, gen := resKey{kindBridge, id}, s.dialogs.currentGen()
		time.AfterFunc(bridgeDeleteGrace, func() { s.dialogs.releaseGen(k, gen) })
	case "deviceStates.delete":
		if name, _ := params["deviceName"].(string); name != "" {
			s.dialogs.release(resKey{kindDeviceState, name})
		}
	}
}

// eventful reports whether resources of a key kind appear in events, so
// that binding them to a dialog makes sense. Others (modules, variables,
// sounds...) are never bound: no event would ever release them.
func eventful(kind string) bool {
	switch kind {
	case kindChannel, kindBridge, kindPlayback, kindLiveRecording, kindEndpoint, kindDeviceState:
		return true
	}
	return false
}

// newBindings records the bindings a request made, to undo them if the
// call fails.
type newBindings struct {
	dialog  string
	touched *boundRes // key.id of the request
	created *boundRes // the resource the request creates
}

type boundRes struct {
	k   resKey
	gen uint64
}

// rollback removes the fresh bindings of a failed call: the created
// resource does not exist; the touched one is dropped only when Asterisk
// said it does not exist (notFound).
func (b newBindings) rollback(t *dialogTable, notFound bool) {
	if b.created != nil {
		t.unbindGen(b.created.k, b.dialog, b.created.gen)
	}
	if b.touched != nil && notFound {
		t.unbindGen(b.touched.k, b.dialog, b.touched.gen)
	}
}

// doubt marks the created binding of a call that timed out as staged: it
// expires like an unused Stage binding unless an event uses it.
func (b newBindings) doubt(t *dialogTable) {
	if b.created != nil {
		t.markStaged(b.created.k, b.dialog, b.created.gen)
	}
}

// bindDialog binds, before any ARI call, the resource a request with a
// dialog touches and the one it creates, so that even the first event of a
// new channel is published on the dialog subject. A create without an id
// gets one generated here and passed to Asterisk.
func (s *Server) bindDialog(k *wire.Kind, key wire.Key, params ari.Params) newBindings {
	b := newBindings{dialog: key.Dialog}
	if key.Dialog == "" {
		return b
	}
	now := time.Now()
	var created resKey
	if creates(k) {
		id := k.ResultID(params)
		if id == "" {
			if param := createdIDParam(k); param != "" {
				id = newID()
				params[param] = id
			}
		}
		if id != "" {
			created = resKey{k.Result.Kind, id}
			if fresh, gen := s.dialogs.bind(created, key.Dialog, k.Stage, now); fresh {
				b.created = &boundRes{created, gen}
			}
			s.dialogs.setOwner(created, key.Dialog)
		}
	}
	if touched, ok := touchedResource(k, key); ok && touched != created {
		if fresh, gen := s.dialogs.bind(touched, key.Dialog, false, now); fresh {
			b.touched = &boundRes{touched, gen}
		}
	}
	return b
}

// touchedResource is the resource the request key names, when binding it
// makes sense: an eventful kind whose key id the request really uses
// (a KeyRef key of another kind is only a reference), or the key of a
// Subscribe kind, which exists to bind it.
func touchedResource(k *wire.Kind, key wire.Key) (resKey, bool) {
	if key.ID == "" || !eventful(k.KeyKind) {
		return resKey{}, false
	}
	if k.KeyParam == "" && k.Op != "" {
		return resKey{}, false // a list: the key kind names what is listed
	}
	if k.KeyRef && key.Kind != k.KeyKind {
		return resKey{}, false
	}
	return resKey{k.KeyKind, key.ID}, true
}

// creates reports whether k creates a resource whose events a dialog wants.
func creates(k *wire.Kind) bool {
	return (k.Class == wire.ClassCreate || k.Stage) && eventful(k.Result.Kind) && k.Result.Kind != "" &&
		(k.Result.Shape == wire.ShapeKey || k.Result.Shape == wire.ShapeData)
}

// createdIDParam is the ARI parameter that names the resource k creates:
// the table's Result.IDParam, else the operation's id parameter for the
// result kind (snoopId before channelId: a snoop is keyed by the channel
// it spies on).
func createdIDParam(k *wire.Kind) string {
	op := ari.Lookup(k.Op)
	if op == nil {
		return ""
	}
	if p := k.Result.IDParam; p != "" && op.Param(p) != nil {
		return p
	}
	has := func(name string) bool { return name != k.KeyParam && op.Param(name) != nil }
	var candidates []string
	switch k.Result.Kind {
	case kindChannel:
		candidates = []string{"snoopId", "channelId"}
	case kindBridge:
		candidates = []string{"bridgeId"}
	case kindPlayback:
		candidates = []string{"playbackId"}
	case kindLiveRecording:
		candidates = []string{"name"}
	}
	for _, c := range candidates {
		if has(c) {
			return c
		}
	}
	return ""
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newID is a fresh resource id: 20 characters of random base32.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return idEncoding.EncodeToString(b[:])
}

// dialogUnbind serves KindDialogUnbind.
func (s *Server) dialogUnbind(r route, key wire.Key) []*wire.Response {
	if key.Dialog == "" {
		return s.bad(reasonBadParams, wire.NewErrorResponse(wire.CodeBadRequest, 0, "DialogUnbind: key.dialog is required"))
	}
	if key.ID == "" {
		s.dialogs.unbindDialog(key.Dialog)
	} else {
		if key.Kind == "" {
			return s.bad(reasonBadParams, wire.NewErrorResponse(wire.CodeBadRequest, 0, "DialogUnbind: key.kind is required with key.id"))
		}
		s.dialogs.unbind(resKey{strings.ToLower(key.Kind), key.ID}, key.Dialog)
	}
	return s.emptyReplies(r, key)
}

// emptyReplies are the success replies of a request that makes no ARI call
// and answers nothing.
func (s *Server) emptyReplies(r route, key wire.Key) []*wire.Response {
	apps := s.replyApps(r, key)
	out := make([]*wire.Response, len(apps))
	for i := range apps {
		out[i] = &wire.Response{}
	}
	return out
}
