package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/ariproxy/ari-proxy/wire"
	"github.com/tidwall/gjson"
)

// idRef is any ARI object whose identity is its "id" (Channel, Bridge).
type idRef struct {
	ID string `json:"id"`
}

// targetRef is a Playback or LiveRecording: its own id (or name) and the
// channel or bridge it plays to or records.
type targetRef struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	TargetURI string `json:"target_uri"`
}

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
func (t *eventTop) decode(raw []byte) error {
	if !gjson.ValidBytes(raw) {
		return errors.New("invalid JSON")
	}
	obj := gjson.ParseBytes(raw)
	if !obj.IsObject() {
		return errNotEventObject
	}
	bad := false
	obj.ForEach(func(k, v gjson.Result) bool {
		var dst *string
		switch k.Str {
		case "type":
			dst = &t.Type
		case "application":
			dst = &t.Application
		case "asterisk_id":
			dst = &t.AsteriskID
		default:
			return true
		}
		switch v.Type {
		case gjson.Null:
		case gjson.String:
			*dst = v.Str
			if !utf8.ValidString(v.Str) {
				json.Unmarshal([]byte(v.Raw), dst) // invalid bytes become U+FFFD, as encoding/json does
			}
		default:
			bad = true
			return false
		}
		return true
	})
	if bad {
		return errNotEventObject
	}
	return nil
}

// eventHead is the small part of an ARI event the server needs to route it.
// Decoding into it skips every other member, and the event itself is
// forwarded as the bytes Asterisk sent, never re-encoded.
type eventHead struct {
	eventTop

	// Channels, under every name events use for them.
	Channel                    *idRef `json:"channel"`
	ReplaceChannel             *idRef `json:"replace_channel"`
	Peer                       *idRef `json:"peer"`
	Caller                     *idRef `json:"caller"`
	Forwarded                  *idRef `json:"forwarded"`
	Transferee                 *idRef `json:"transferee"`
	TransferTarget             *idRef `json:"transfer_target"`
	TransfererFirstLeg         *idRef `json:"transferer_first_leg"`
	TransfererSecondLeg        *idRef `json:"transferer_second_leg"`
	DestinationLinkFirstLeg    *idRef `json:"destination_link_first_leg"`
	DestinationLinkSecondLeg   *idRef `json:"destination_link_second_leg"`
	DestinationThreewayChannel *idRef `json:"destination_threeway_channel"`
	DestinationChannel         *idRef `json:"destination_channel"`
	ConnectedChannel           *idRef `json:"connected_channel"`
	SourceChannel              *idRef `json:"source_channel"`

	// Bridges.
	Bridge                    *idRef `json:"bridge"`
	BridgeFrom                *idRef `json:"bridge_from"`
	TransfererFirstLegBridge  *idRef `json:"transferer_first_leg_bridge"`
	TransfererSecondLegBridge *idRef `json:"transferer_second_leg_bridge"`
	DestinationThreewayBridge *idRef `json:"destination_threeway_bridge"`

	Playback  *targetRef `json:"playback"`
	Recording *targetRef `json:"recording"`
	Endpoint  *struct {
		Technology string `json:"technology"`
		Resource   string `json:"resource"`
	} `json:"endpoint"`
	DeviceState *struct {
		Name string `json:"name"`
	} `json:"device_state"`
}

// Key kinds of the resources events carry, as v5 keys name them.
const (
	kindChannel       = "channel"
	kindBridge        = "bridge"
	kindPlayback      = "playback"
	kindLiveRecording = "liverecording"
	kindEndpoint      = "endpoint"
	kindDeviceState   = "devicestate"
)

// resources appends the resources the event is about to dst. Playbacks and
// recordings also count as events of the channel or bridge they target, so a
// dialog that owns a call sees the media operations on it.
func (h *eventHead) resources(dst []resKey) []resKey {
	addID := func(kind string, r *idRef) {
		if r != nil && r.ID != "" {
			dst = append(dst, resKey{kind, r.ID})
		}
	}
	for _, c := range [...]*idRef{
		h.Channel, h.ReplaceChannel, h.Peer, h.Caller, h.Forwarded, h.Transferee,
		h.TransferTarget, h.TransfererFirstLeg, h.TransfererSecondLeg,
		h.DestinationLinkFirstLeg, h.DestinationLinkSecondLeg,
		h.DestinationThreewayChannel, h.DestinationChannel, h.ConnectedChannel,
		h.SourceChannel,
	} {
		addID(kindChannel, c)
	}
	for _, b := range [...]*idRef{
		h.Bridge, h.BridgeFrom, h.TransfererFirstLegBridge,
		h.TransfererSecondLegBridge, h.DestinationThreewayBridge,
	} {
		addID(kindBridge, b)
	}
	addTarget := func(uri string) {
		if kind, id, ok := strings.Cut(uri, ":"); ok && id != "" {
			switch kind {
			case "channel":
				dst = append(dst, resKey{kindChannel, id})
			case "bridge":
				dst = append(dst, resKey{kindBridge, id})
			}
		}
	}
	if p := h.Playback; p != nil {
		if p.ID != "" {
			dst = append(dst, resKey{kindPlayback, p.ID})
		}
		addTarget(p.TargetURI)
	}
	if r := h.Recording; r != nil {
		if r.Name != "" {
			dst = append(dst, resKey{kindLiveRecording, r.Name})
		}
		addTarget(r.TargetURI)
	}
	if e := h.Endpoint; e != nil && e.Technology != "" {
		dst = append(dst, resKey{kindEndpoint, e.Technology + "/" + e.Resource})
	}
	if d := h.DeviceState; d != nil && d.Name != "" {
		dst = append(dst, resKey{kindDeviceState, d.Name})
	}
	return dst
}

// destroyed is the resource this event reports as gone, whose bindings are
// released once the event has been delivered.
func (h *eventHead) destroyed() (resKey, bool) {
	switch h.Type {
	case "ChannelDestroyed":
		if h.Channel != nil && h.Channel.ID != "" {
			return resKey{kindChannel, h.Channel.ID}, true
		}
	case "BridgeDestroyed":
		if h.Bridge != nil && h.Bridge.ID != "" {
			return resKey{kindBridge, h.Bridge.ID}, true
		}
	case "PlaybackFinished":
		if h.Playback != nil && h.Playback.ID != "" {
			return resKey{kindPlayback, h.Playback.ID}, true
		}
	case "RecordingFinished", "RecordingFailed":
		if h.Recording != nil && h.Recording.Name != "" {
			return resKey{kindLiveRecording, h.Recording.Name}, true
		}
	}
	return resKey{}, false
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
	ctx := s.runCtx
	var h eventHead
	var err error
	full := !s.dialogs.empty() // a binding made meanwhile only matters from the next event on
	if full {
		err = json.Unmarshal(raw, &h)
	} else {
		err = h.eventTop.decode(raw)
	}
	if err != nil || h.Type == "" {
		s.metrics.badInput.WithLabelValues(reasonBadEvent).Inc()
		s.log.Debug("dropping malformed ARI event", "error", err, "size", len(raw))
		return
	}
	s.metrics.eventReceived(h.Type)
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
	if h.Type == "StasisEnd" && h.Channel != nil && h.Channel.ID != "" {
		s.channelLeft(h.Channel.ID)
	}
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
	if err := s.bus.Publish(ctx, s.subj.Event(app, node), "", payload); err != nil {
		s.log.Warn("publishing event", "type", h.Type, "error", err)
	} else {
		s.metrics.eventsEvent.Inc()
	}
	if !full {
		return
	}
	var buf [8]resKey
	dialogs := s.dialogs.lookup(h.resources(buf[:0]))
	for _, d := range dialogs {
		if err := s.bus.Publish(ctx, s.subj.DialogEvent(d), "", spliceFields(payload, "dialog", d)); err != nil {
			s.log.Warn("publishing dialog event", "type", h.Type, "dialog", d, "error", err)
		} else {
			s.metrics.eventsDialog.Inc()
		}
	}
}
