package proxy_test

import (
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/proxy"
	"github.com/ariproxy/ari-proxy/wire"
)

// TestStasisEndReleases: an inbound call answered with a dialog and hung
// up by the application ends with StasisEnd and no ChannelDestroyed for
// the application (as in the transcripts); its binding goes anyway, soon
// after, once Asterisk no longer lists the channel. A call that left
// Stasis but still exists keeps its binding.
func TestStasisEndReleases(t *testing.T) {
	defer proxy.SetStasisEndCheckDelay(50 * time.Millisecond)()
	e := newEnv(t)
	events := e.sub(e.subj.Event(app, node1))
	var ids [2]string
	for i := range ids {
		id, err := e.sim.InboundCall(app)
		if err != nil {
			t.Fatal(err)
		}
		waitEvent(t, events, 5*time.Second, func(ev eventOf, _ []byte) bool { return ev.Type == "StasisStart" && ev.Channel.ID == id })
		key := chanKey(id)
		key["dialog"] = "dlg-" + string(rune('a'+i))
		ok(t, "answer", e.request(e.subj.Request(wire.ClassCommand, app, node1), map[string]any{"kind": "ChannelAnswer", "key": key}))
		ids[i] = id
	}
	if n := e.srv.DialogBindings(); n != 2 {
		t.Fatalf("DialogBindings = %d, want 2", n)
	}
	// The first goes back to the dialplan (it still exists), the second hangs up.
	ok(t, "continue", e.request(e.subj.Request(wire.ClassCommand, app, node1), map[string]any{
		"kind": "ChannelContinue", "key": chanKey(ids[0]),
		"channel_continue": map[string]any{"context": "default", "extension": "echo", "priority": 1}}))
	ok(t, "hangup", e.request(e.subj.Request(wire.ClassCommand, app, node1), map[string]any{
		"kind": "ChannelHangup", "key": chanKey(ids[1])}))
	for _, id := range ids {
		waitEvent(t, events, 5*time.Second, func(ev eventOf, _ []byte) bool { return ev.Type == "StasisEnd" && ev.Channel.ID == id })
	}
	eventually(t, 5*time.Second, "the hung-up call's binding released", func() bool { return e.srv.DialogBindings() == 1 })
	time.Sleep(200 * time.Millisecond)
	if n := e.srv.DialogBindings(); n != 1 {
		t.Fatalf("DialogBindings = %d after the check, want 1 (the call that still exists)", n)
	}
}
