package proxy_test

import (
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/wire"
)

// TestStasisStartNamesOwner: the StasisStart of a channel created by a
// request with a dialog carries that dialog on the event subject too (the
// return path: instances sharing new calls leave it to its owner); a
// channel created without a dialog, or only subscribed to one, does not.
func TestStasisStartNamesOwner(t *testing.T) {
	e := newEnv(t)
	events := e.sub(e.subj.AllEvents(app))
	originate := func(id string, key map[string]any) {
		ok(t, "originate", e.request(e.subj.Request(wire.ClassCreate, "", ""), map[string]any{
			"kind": "ChannelOriginate", "key": key,
			"channel_originate": map[string]any{"originate_request": map[string]any{
				"endpoint": "Local/echo@default", "app": app, "channelId": id,
			}},
		}))
	}
	started := func(id string) eventOf {
		raw := waitEvent(t, events, 5*time.Second, func(ev eventOf, _ []byte) bool {
			return ev.Type == "StasisStart" && ev.Channel != nil && ev.Channel.ID == id
		})
		return decodeEvent(t, raw)
	}

	originate("owned-1", map[string]any{"dialog": "dlg-owner"})
	if ev := started("owned-1"); ev.Dialog != "dlg-owner" {
		t.Errorf("StasisStart of a channel created with a dialog: dialog %q, want dlg-owner", ev.Dialog)
	}
	originate("plain-1", map[string]any{})
	if ev := started("plain-1"); ev.Dialog != "" {
		t.Errorf("StasisStart of a channel created without a dialog: dialog %q", ev.Dialog)
	}
	// Subscribed to a dialog before it exists, but created without one.
	ok(t, "subscribe", e.request(e.subj.Request(wire.ClassCommand, app, node1), map[string]any{
		"kind": "ChannelSubscribe", "key": map[string]any{"kind": "channel", "id": "watched-1", "node": node1, "app": app, "dialog": "dlg-watch"},
	}))
	originate("watched-1", map[string]any{})
	if ev := started("watched-1"); ev.Dialog != "" {
		t.Errorf("StasisStart of a channel only subscribed to a dialog: dialog %q", ev.Dialog)
	}
}
