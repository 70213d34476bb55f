package proxy

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/wire"
)

// onRequest is the bus handler of every request subscription. It never
// blocks the bus for longer than it takes to get a slot: the work runs on
// a worker goroutine, at most MaxConcurrent at once.
func (s *Server) onRequest(r route, m bus.Msg) {
	if m.Reply == "" {
		// Nobody to answer and, without an answer, no reason to act: v5
		// servers crashed here; we drop it.
		s.metrics.badInput.WithLabelValues(reasonNoReply).Inc()
		s.log.Debug("dropping request without reply subject", "subject", m.Subject, "size", len(m.Data))
		return
	}
	if s.answerProbe(r, m) {
		return
	}
	select {
	case s.sem <- struct{}{}:
	case <-s.stopping:
		s.refuse(m) // waiting for a slot when the stop began: answered, not dropped
		return
	}
	s.reqMu.Lock()
	if s.closing {
		s.reqMu.Unlock()
		<-s.sem
		s.refuse(m)
		return
	}
	s.inflight.Add(1)
	s.reqMu.Unlock()
	j := job{r, m}
	select {
	case s.work <- j: // a parked worker takes it
	default:
		go s.worker(j)
	}
}

// job is one request for a worker.
type job struct {
	r route
	m bus.Msg
}

// workerIdle is how long a worker waits for another request before it
// exits, so that the goroutines come back to idle after a burst.
const workerIdle = 2 * time.Second

// worker serves j, then the requests handed to it while it waits parked
// (at most MaxConcurrent workers run: each holds a slot of s.sem). Reusing
// a goroutine keeps the stack it grew: a fresh goroutine per request grew
// its stack on every request (runtime.newstack was 3 to 4 % of the
// server's CPU).
func (s *Server) worker(j job) {
	var idle *time.Timer
	for {
		s.serve(j.r, j.m)
		<-s.sem
		s.inflight.Done()
		if idle == nil {
			idle = time.NewTimer(workerIdle)
		} else {
			idle.Reset(workerIdle)
		}
		select {
		case j = <-s.work:
			idle.Stop()
		case <-idle.C:
			return
		case <-s.stopping:
			return
		}
	}
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
	s.metrics.answered(string(r.class), label, code, time.Since(start))
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
		b := r.AppendJSON(make([]byte, 0, 64+len(r.Data)))
		if err := s.bus.Publish(ctx, to, "", b); err != nil {
			s.log.Debug("publishing reply", "err", err)
			return
		}
	}
}

// bad counts and logs bad input and returns the error reply for it.
func (s *Server) bad(reason string, resp *wire.Response) []*wire.Response {
	s.metrics.badInput.WithLabelValues(reason).Inc()
	s.log.Debug("bad request", "reason", reason, "err", resp.Error)
	return []*wire.Response{resp}
}

// process turns a request into its replies: one, or on the generic level
// of a non-create class one per application served (clients expect one
// answer per announcement). wire.Decode does the decoding; what is here is
// policy: limits, serving state, dialog bindings and replies.
func (s *Server) process(r route, data []byte, label *string) []*wire.Response {
	if len(data) > s.maxBytes {
		return s.bad(reasonTooLarge, wire.NewErrorResponse(wire.CodeBadRequest, 0,
			fmt.Sprintf("request of %d bytes exceeds the limit of %d", len(data), s.maxBytes)))
	}
	req, err := wire.DecodeRequest(data)
	if err != nil {
		return s.bad(reasonInvalid, badRequest(err))
	}
	c, err := wire.Decode(req, s.defaultApp(r))
	if c != nil {
		*label = c.Kind.Name
	}
	switch {
	case errors.Is(err, wire.ErrNotImplemented):
		*label = kindLabelUnknown
		return s.bad(reasonUnknown, wire.NewNotImplementedResponse())
	case err != nil:
		return s.bad(reasonBadParams, badRequest(err))
	}
	k, key := c.Kind, c.Key
	if k.Unbind {
		s.unbind(c)
		return s.emptyReplies(r, key)
	}
	if k.Class == wire.ClassCreate && !k.Stage && r.class != wire.ClassCreate && !r.node {
		// Every server of the app receives this subject: executing the
		// create here would create once per server.
		return s.bad(reasonWrongClass, wire.NewErrorResponse(wire.CodeBadRequest, 0,
			fmt.Sprintf("%s creates: send it on a create subject or to one node", k.Name)))
	}
	if !s.serving.Load() {
		return []*wire.Response{wire.NewErrorResponse(wire.CodeUnavailable, 0, "Asterisk unavailable: ARI WebSocket down")}
	}
	if resps := s.unclaimed(r, req, c); resps != nil {
		return resps
	}
	apps := s.replyApps(r, key)
	binds := s.bindDialog(c)

	build := func(status int, body []byte) []*wire.Response {
		node := s.Node()
		out := make([]*wire.Response, len(apps))
		for i, app := range apps {
			base := key // BuildResponse reads the request key's id where params cannot tell the entity
			base.Node, base.App = node, app
			out[i] = wire.BuildResponse(k, base, c.Params, status, body)
		}
		return out
	}
	if c.Op == nil {
		// Stage kinds answer the key of what they will create; Subscribe
		// kinds only bind. Neither calls Asterisk (status 0).
		return build(0, nil)
	}

	ctx, cancel := context.WithTimeout(s.runCtx, s.timeout)
	resp, err := s.conn.Do(ctx, c.Op, c.Params)
	cancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			// Asterisk may still have done it: keep the created binding,
			// but let it expire unless an event shows the resource exists.
			binds.doubt(s.dialogs)
		} else {
			binds.rollback(s.dialogs, false)
		}
		return []*wire.Response{s.callError(c.Op, err)}
	}
	if resp.Status/100 != 2 {
		binds.rollback(s.dialogs, resp.Status == 404)
	} else {
		s.afterSuccess(c.Op, c.Params)
	}
	s.learnCall(c, resp.Status)
	return build(resp.Status, resp.Body)
}

// defaultApp is the application of a request that names none: the
// route's, else the first served.
func (s *Server) defaultApp(r route) string {
	if r.app != "" {
		return r.app
	}
	return s.apps[0]
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
	s.log.Debug("ARI call failed", "op", op.ID, "err", err)
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
func (s *Server) afterSuccess(op *ari.Operation, params ari.Params) {
	if s.dialogs.empty() {
		return
	}
	switch op.Ident {
	case ari.OpBridgesDestroy:
		id, _ := params["bridgeId"].(string)
		if id == "" {
			return
		}
		k, gen := resKey{kindBridge, id}, s.dialogs.currentGen()
		time.AfterFunc(bridgeDeleteGrace, func() { s.dialogs.releaseGen(k, gen) })
	case ari.OpDeviceStatesDelete:
		if name, _ := params["deviceName"].(string); name != "" {
			s.dialogs.release(resKey{kindDeviceState, name})
		}
	}
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
// dialog touches and the one it creates (its id assigned by wire.Decode),
// so that even the first event of a new channel is published on the
// dialog subject.
func (s *Server) bindDialog(c *wire.Call) newBindings {
	b := newBindings{dialog: c.Key.Dialog}
	if b.dialog == "" {
		return b
	}
	now := time.Now()
	if c.Created.ID != "" {
		k := resKey{c.Created.Kind, c.Created.ID}
		if fresh, gen := s.dialogs.bind(k, b.dialog, c.Kind.Stage, now); fresh {
			b.created = &boundRes{k, gen}
		}
		s.dialogs.setOwner(k, b.dialog)
	}
	if c.Touched.ID != "" {
		k := resKey{c.Touched.Kind, c.Touched.ID}
		if fresh, gen := s.dialogs.bind(k, b.dialog, false, now); fresh {
			b.touched = &boundRes{k, gen}
		}
	}
	return b
}

// unbind serves the Unbind kinds (DialogUnbind, BridgeUnsubscribe): the
// dialog stops following the key's resource, or every resource.
func (s *Server) unbind(c *wire.Call) {
	if c.Key.Dialog == "" {
		return
	}
	switch res := c.Unbound(); {
	case res.ID != "":
		s.dialogs.unbind(resKey{strings.ToLower(res.Kind), res.ID}, c.Key.Dialog)
	case c.Kind.KeyKind == "":
		s.dialogs.unbindDialog(c.Key.Dialog)
	}
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
