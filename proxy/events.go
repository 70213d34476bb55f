package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/ariproxy/ari-proxy/ari"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/wire"
	"github.com/tidwall/gjson"
)

// eventTop is all the server needs of an event while no dialog is bound:
// decoding it is cheaper than decoding eventHead.
type eventTop struct {
	Type        string `json:"type"`
	Application string `json:"application"`
	AsteriskID  string `json:"asterisk_id"`
}

var errNotEventObject = errors.New("not a JSON object with string type, application and asterisk_id")

// decode fills t from the event raw: members named exactly as Asterisk
// writes them, the last one wins, null leaves a field alone, any other
// non-string is an error, and invalid JSON is rejected. It walks the top
// level once instead of decoding the event.
//
// The strings of t never point into raw: an event type, one of apps or
// node is that constant, any other value a copy. So the common event
// costs no allocation.
func (t *eventTop) decode(raw []byte, apps []string, node string) error {
	if !gjson.ValidBytes(raw) {
		return errors.New("invalid JSON")
	}
	// raw is only read while decoding, and what is kept is copied (own).
	obj := gjson.Parse(unsafe.String(unsafe.SliceData(raw), len(raw)))
	if !obj.IsObject() {
		return errNotEventObject
	}
	var typ, app, id gjson.Result
	bad := false
	obj.ForEach(func(k, v gjson.Result) bool {
		var dst *gjson.Result
		switch k.Str {
		case "type":
			dst = &typ
		case "application":
			dst = &app
		case "asterisk_id":
			dst = &id
		default:
			return true
		}
		switch v.Type {
		case gjson.Null:
		case gjson.String:
			*dst = v
		default:
			bad = true
			return false
		}
		return true
	})
	if bad {
		return errNotEventObject
	}
	if typ.Type == gjson.String {
		if c, ok := ari.KnownEventType(typ.Str); ok {
			t.Type = c
		} else {
			t.Type = own(typ, nil, "")
		}
	}
	if app.Type == gjson.String {
		t.Application = own(app, apps, "")
	}
	if id.Type == gjson.String {
		t.AsteriskID = own(id, nil, node)
	}
	return nil
}

// own is the string value of r, a JSON string read from memory t must not
// point into: one of common or also when equal, else a copy. Invalid
// UTF-8 becomes U+FFFD, as encoding/json does.
func own(r gjson.Result, common []string, also string) string {
	v := r.Str
	if !utf8.ValidString(v) {
		var fixed string
		json.Unmarshal([]byte(r.Raw), &fixed) //nolint:errcheck // a valid JSON string
		return fixed
	}
	if v == also && also != "" {
		return also
	}
	for _, c := range common {
		if v == c {
			return c
		}
	}
	return strings.Clone(v)
}

// eventHead is what the server needs of an ARI event to route it to
// dialogs: its top (eventTop) and the resources it names, read from the
// members the spec gives its type (wire.EventResources). The event itself
// is forwarded as the bytes Asterisk sent, never re-encoded.
type eventHead struct {
	eventTop
	refs  []wire.Ref
	ended wire.Ref
}

// UnmarshalJSON reads the head of the event raw.
func (h *eventHead) UnmarshalJSON(raw []byte) error {
	if err := h.eventTop.decode(raw, nil, ""); err != nil {
		return err
	}
	h.readResources(raw)
	return nil
}

// readResources reads the resources of the event raw, whose top h has.
func (h *eventHead) readResources(raw []byte) {
	h.refs, h.ended = wire.EventResources(make([]wire.Ref, 0, 8), h.Type, raw)
}

// Key kinds of the resources the server treats specially.
const (
	kindChannel     = "channel"
	kindBridge      = "bridge"
	kindDeviceState = "devicestate"
)

// resources appends the resources the event is about to dst.
func (h *eventHead) resources(dst []resKey) []resKey {
	for _, r := range h.refs {
		dst = append(dst, resKey{r.Kind, r.ID})
	}
	return dst
}

// destroyed is the resource this event reports as gone, whose bindings are
// released once the event has been delivered.
func (h *eventHead) destroyed() (resKey, bool) {
	return resKey{h.ended.Kind, h.ended.ID}, h.ended.ID != ""
}

// localBase is the id of the Local channel pair a half belongs to: "x" for
// "x;1" and "x;2". ok is false for other ids.
func localBase(id string) (string, bool) {
	if n := len(id); n > 2 && id[n-2] == ';' && (id[n-1] == '1' || id[n-1] == '2') {
		return id[:n-2], true
	}
	return "", false
}

// spliceFields returns obj (a JSON object) with the string members kv
// (name, value, name, value...) inserted first. The rest of obj is copied
// byte for byte. It returns nil when obj is not an object.
func spliceFields(obj []byte, kv ...string) []byte {
	i := 0
	for i < len(obj) && isSpace(obj[i]) {
		i++
	}
	if i == len(obj) || obj[i] != '{' {
		return nil
	}
	rest := obj[i+1:]
	j := 0
	for j < len(rest) && isSpace(rest[j]) {
		j++
	}
	empty := j < len(rest) && rest[j] == '}'

	out := make([]byte, 0, len(obj)+32*len(kv))
	out = append(out, '{')
	for n := 0; n+1 < len(kv); n += 2 {
		if n > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, kv[n])
		out = append(out, ':')
		out = appendJSONString(out, kv[n+1])
	}
	if !empty {
		out = append(out, ',')
	}
	return append(out, rest...)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// handleEvent is called by the WebSocket reader with each event's exact
// bytes, one at a time and in Asterisk's order. It publishes sequentially,
// so the bus sees the events of a call in the order Asterisk sent them.
func (s *Server) handleEvent(raw []byte) {
	s.eventBusy.enter()
	defer s.eventBusy.leave()
	ctx := s.runCtx
	var h eventHead
	var err error
	full := !s.dialogs.empty() // a binding made meanwhile only matters from the next event on
	err = h.eventTop.decode(raw, s.apps, s.Node())
	if err == nil && full {
		h.readResources(raw)
	}
	if err != nil || h.Type == "" {
		s.metrics.badInput.WithLabelValues(reasonBadEvent).Inc()
		s.log.Debug("dropping malformed ARI event", "err", err, "size", len(raw))
		return
	}
	s.metrics.eventReceived(h.Type)
	// Before it is published: a client acting on a StasisStart finds the
	// channel claimed (see knownSet).
	s.learnEvent(&h, raw, full)
	if h.Type == "ApplicationReplaced" {
		// Another client opened a WebSocket for this application: Asterisk
		// sends it the application's events from now on, not us.
		s.log.Warn("another ARI client took over the application; its events no longer reach the proxy", "app", h.Application)
	}
	node := h.AsteriskID
	if node == "" {
		node = s.Node()
	}
	node, raw = s.overrideNode(node, raw)
	if h.Application != "" {
		payload := raw
		if h.AsteriskID == "" {
			payload = spliceFields(raw, "asterisk_id", node)
		}
		s.publishEvent(ctx, &h, full, h.Application, node, payload)
	} else {
		// Asterisk always names the application; if it did not, the event
		// belongs to every application this WebSocket serves.
		for _, app := range s.apps {
			kv := []string{"application", app}
			if h.AsteriskID == "" {
				kv = append(kv, "asterisk_id", node)
			}
			s.publishEvent(ctx, &h, full, app, node, spliceFields(raw, kv...))
		}
	}
	if !full {
		return
	}
	if k, ok := h.destroyed(); ok {
		s.dialogs.release(k)
	}
	s.followStasis(&h, raw)
}

// publishEvent publishes one event on its event subject and, when h was
// fully decoded, on the dialog subject of every dialog bound to a resource
// it carries.
func (s *Server) publishEvent(ctx context.Context, h *eventHead, full bool, app, node string, payload []byte) {
	if !wire.ValidToken(app) || !wire.ValidToken(node) {
		s.metrics.badInput.WithLabelValues(reasonBadEvent).Inc()
		s.log.Debug("dropping ARI event with unusable application or node", "app", app, "node", node)
		return
	}
	appPayload := payload
	if full && h.Type == ari.TypeStasisStart {
		// A channel created by a request with a dialog (the return path)
		// enters the application: the event says whose it is, so that the
		// instances sharing new calls (Listen) leave it to its owner, which
		// gets it on the dialog subject.
		if d := s.dialogs.owner(resKey{kindChannel, gjson.GetBytes(payload, "channel.id").Str}); d != "" {
			appPayload = spliceFields(payload, "dialog", d)
		}
	}
	if err := s.publishSeq(ctx, app, node, appPayload); err == nil {
		s.metrics.eventsEvent.Inc()
	}
	if !full {
		return
	}
	var buf [8]resKey
	dialogs := s.dialogs.lookup(h.resources(buf[:0]))
	for _, d := range dialogs {
		err := s.events.PublishMsg(ctx, bus.Msg{Subject: s.subj.DialogEvent(d), Data: spliceFields(payload, "dialog", d)})
		s.seq.published(s.log, err)
		if err == nil {
			s.metrics.eventsDialog.Inc()
		}
	}
}
